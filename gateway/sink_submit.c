/* sink_submit.c - the request path: lines checked, encoded as spool records, appended;
 * the spool writer's ack answers the request and hands the records to the buffer thread. */
#include "gateway/sink_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"
#include "lake/lake.h"

#include <errno.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void gw__enqueue(gw_sink *s, struct gw__req *q)
{
    q->next = NULL;
    pthread_mutex_lock(&s->qmu);
    if (s->qtail) {
        s->qtail->next = q;
    } else {
        s->qhead = q;
    }
    s->qtail = q;
    s->qbytes += q->bytes;
    /* A busy buffer thread takes the queue before it sleeps again; a sleeping one is
     * woken by volume (or, acknowledging from memory, at once: the answer waits). */
    if (s->qsleeping && (s->ack_mem || s->qbytes >= QUEUE_WAKE_BYTES)) {
        pthread_cond_signal(&s->qcond);
    }
    pthread_mutex_unlock(&s->qmu);
}

/* Spool writer thread: the lines are durable (or failed), so the request is answered
 * here, at once, rather than after the buffer thread has copied them: one thread hop
 * less per request, and an answer is never held behind a chunk being compressed. Then
 * the request goes on to the buffer thread, in ack order (which is LSN order). */
static void on_spool_ack(void *arg, int status)
{
    struct gw__req *q = arg;
    gw_sink *s = q->s;
    if (status == WR_EAGAIN) {
        /* A transient error (EMFILE, ENFILE, ENOSPC, EIO before anything stuck): the
         * spool refuses appends and retries with backoff; logged once per episode. */
        if (!atomic_exchange(&s->spool_stall_logged, true)) {
            struct wr_err why = {0};
            sp_spool_failure(s->spool, &why);
            WR_WARN("spool cannot write, answering 503 until it can again: %s", why.msg);
        }
    } else if (status != 0 && !atomic_exchange(&s->spool_failure_logged, true)) {
        struct wr_err why = {0};
        sp_spool_failure(s->spool, &why);
        WR_ERROR("spool failed, answering 503 until restarted: %s", why.msg);
    } else if (status == 0 && atomic_load_explicit(&s->spool_stall_logged, memory_order_relaxed)) {
        atomic_store(&s->spool_stall_logged, false);
        WR_INFO("spool writes again");
    }
    q->status = status;
    q->done(q->arg, status == 0 ? 0 : status == WR_EAGAIN ? WR_EAGAIN : WR_EIO);
    q->done = NULL;
    gw__enqueue(q->s, q);
}

static void on_spool_ack_mem(void *arg, int status)
{
    gw_sink *s = arg;
    if (status != 0) {
        WR_ERROR("sink: spool write failed after lines were acknowledged from memory");
        (void)s;
    }
}

/* ---- submit ------------------------------------------------------------------------ */

/* Years 0..9999, as lake_time_partition takes them. */
int gw__time_ok(int64_t ms)
{
    return ms >= -62167219200000LL && ms <= 253402300799999LL;
}

const char *gw__unplaceable(int kind, const char *event_type, size_t event_type_len,
                            int64_t received_at_ms)
{
    if (kind != SP_KIND_ACCEPTED && kind != SP_KIND_REJECTED) {
        return "unknown kind";
    }
    if (kind == SP_KIND_ACCEPTED) {
        char et[SP_ET_MAX + 1];
        if (!event_type || event_type_len == 0 || event_type_len > SP_ET_MAX) {
            return "event type empty or too long";
        }
        memcpy(et, event_type, event_type_len);
        et[event_type_len] = '\0';
        if (strlen(et) != event_type_len || !lake_segment_ok(et, 0)) {
            return "event type is not a lake key segment";
        }
    }
    if (!gw__time_ok(received_at_ms)) {
        return "received_at_ms is outside years 0..9999";
    }
    return NULL;
}

/* The spool format's kind byte of a line (record.h); 0 for an unknown kind. */
static int kind_byte(int kind)
{
    return kind == GW_LINE_ACCEPTED   ? SP_KIND_ACCEPTED
           : kind == GW_LINE_REJECTED ? SP_KIND_REJECTED
                                      : 0;
}

static struct sp_rec rec_of(const struct gw_line *l)
{
    return (struct sp_rec){.kind = kind_byte(l->kind),
                           .received_at_ms = l->received_at_ms,
                           .event_type = l->event_type,
                           .event_type_len = l->event_type_len,
                           .line = l->p,
                           .line_len = l->len};
}

size_t gw__rec_size(const struct gw_line *l)
{
    struct sp_rec r = rec_of(l);
    return sp_rec_size(&r);
}

void gw__rec_encode(const struct gw_line *l, char *out)
{
    struct sp_rec r = rec_of(l);
    sp_rec_encode(&r, out);
}

static int check_line(const struct gw_line *l)
{
    if (gw__unplaceable(kind_byte(l->kind), l->event_type, l->event_type_len, l->received_at_ms) !=
        NULL) {
        return WR_EINVAL;
    }
    if (l->len == 0 || !l->p || memchr(l->p, '\n', l->len)) {
        return WR_EINVAL;
    }
    return 0;
}

/* Waits until the buffer thread has brought the backlog under THROTTLE_INFLIGHT_BYTES (or
 * THROTTLE_MAX_MS pass, or the sink drains or fails). The caller is an HTTP thread: its
 * other connections wait too, which is the point under a sustained overload, and the
 * bound keeps /readyz and /metrics answering within it. */
static void throttle(gw_sink *s, size_t total)
{
    int64_t t0 = wr_time_mono_ns(), deadline = wr_deadline_in_ms(THROTTLE_MAX_MS);
    atomic_fetch_add(&s->room_waiters, 1);
    pthread_mutex_lock(&s->room_mu);
    while (gw__get64(&s->inflight_bytes) + total > THROTTLE_INFLIGHT_BYTES &&
           !atomic_load(&s->draining) && !atomic_load(&s->failed)) {
        int64_t left = wr_deadline_left_ms(deadline);
        if (left == 0) {
            break;
        }
        /* Short slices: a wake-up lost between the check and the wait costs 10 ms at most. */
        wr_cond_wait_ms(&s->room, &s->room_mu, left < 10 ? left : 10);
    }
    pthread_mutex_unlock(&s->room_mu);
    atomic_fetch_sub(&s->room_waiters, 1);
    gw__add64(&s->throttled, 1);
    gw__add64(&s->throttled_ns, (uint64_t)(wr_time_mono_ns() - t0));
}

int gw_sink_submit(gw_sink *s, const struct gw_line *lines, size_t n, gw_sink_done_fn done,
                   void *arg)
{
    if (!s || !done || (n > 0 && !lines)) {
        return WR_EINVAL;
    }
    if (atomic_load(&s->draining)) {
        return WR_EAGAIN;
    }
    if (atomic_load(&s->failed)) {
        return WR_EIO;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_line(&lines[i]);
        if (rc != 0) {
            return rc;
        }
        if (lines[i].len > SP_SPOOL_DEFAULT_MAX_RECORD_BYTES) {
            return WR_ELIMIT;
        }
        total += gw__rec_size(&lines[i]);
    }
    if (n > (SIZE_MAX / 2 - sizeof(struct gw__req)) / (sizeof(uint64_t) + sizeof(struct iovec))) {
        return WR_ELIMIT;
    }
    /* Backpressure when the buffer thread falls behind the spool: first a bounded wait,
     * then, past the hard cap, a refusal; the memory between them stays bounded. */
    if (total > 0 && gw__get64(&s->inflight_bytes) + total > THROTTLE_INFLIGHT_BYTES) {
        throttle(s, total);
    }
    if (gw__get64(&s->inflight_bytes) + total > MAX_INFLIGHT_BYTES && total > 0) {
        gw__add64(&s->refused_busy, 1);
        return WR_EAGAIN;
    }
    size_t head = sizeof(struct gw__req) + n * sizeof(uint64_t) + n * sizeof(struct iovec);
    struct gw__req *q = malloc(head + total);
    if (!q) {
        return WR_EAGAIN;
    }
    q->next = NULL;
    q->s = s;
    q->done = done;
    q->arg = arg;
    q->status = 0;
    q->n = n;
    q->bytes = total;
    q->lsns = (uint64_t *)(void *)(q + 1);
    q->iov = (struct iovec *)(void *)(q->lsns + n);
    char *data = (char *)(q->iov + n);
    for (size_t i = 0; i < n; i++) {
        size_t sz = gw__rec_size(&lines[i]);
        gw__rec_encode(&lines[i], data);
        q->iov[i].iov_base = data;
        q->iov[i].iov_len = sz;
        data += sz;
    }
    /* Counted before the append: the done may come (and subtract) before it returns. */
    gw__add64(&s->inflight_bytes, total);
    int rc;
    if (s->ack_mem) {
        pthread_mutex_lock(&s->submit_mu);
        rc = sp_spool_append(s->spool, q->iov, n, on_spool_ack_mem, s, q->lsns);
        if (rc == 0) {
            gw__enqueue(s, q);
        }
        pthread_mutex_unlock(&s->submit_mu);
    } else {
        /* From here q belongs to the spool's ack, which may run before this returns. */
        rc = sp_spool_append(s->spool, q->iov, n, on_spool_ack, q, q->lsns);
    }
    if (rc != 0) {
        gw__sub64(&s->inflight_bytes, total);
        free(q);
        if (rc != WR_EIO && rc != WR_ELIMIT) {
            rc = WR_EAGAIN;
        }
    }
    return rc;
}

bool gw_sink_ready(gw_sink *s)
{
    return s && !atomic_load(&s->draining) && !atomic_load(&s->failed) &&
           sp_spool_writable(s->spool);
}
