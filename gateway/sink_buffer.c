/* sink_buffer.c - the sink's buffer thread: takes acknowledged records from the spool's
 * ack queue in position order and sorts them into partition buffers, closing each on
 * size, age, the end of its hour, or drain; places unplaceable records in the rejected zone. */
#include "gateway/sink_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"
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

#define UNPLACEABLE_KEEP (1u << 20) /* bytes of an unplaceable record kept in its line */

static void close_buf(gw_sink *s, struct gw__pbuf *b, atomic_uint_fast64_t *why)
{
    uint64_t raw = b->raw_bytes, gz_before = b->out_len;
    int rc = gw__pbuf_finish(b, s->cz);
    /* Once queued, b belongs to the flusher, which may free it at any moment. */
    uint64_t gz = b->out_len;
    if (rc == 0) {
        gw__add64(&s->queued_gz_bytes, gz);
        gw__add64(why, 1);
    }
    pthread_mutex_lock(&s->mu);
    struct gw__pbuf **pp = &s->table[b->hash % NBUCKETS];
    while (*pp && *pp != b) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = b->next;
        s->nopen--;
    }
    b->next = NULL;
    if (rc == 0) {
        if (s->ctail) {
            s->ctail->next = b;
        } else {
            s->chead = b;
        }
        s->ctail = b;
        s->nclosed++;
        pthread_cond_signal(&s->fcond);
    }
    pthread_mutex_unlock(&s->mu);
    gw__sub64(&s->open_raw_bytes, raw);
    gw__sub64(&s->open_gz_bytes, gz_before);
    if (rc != 0) {
        /* Its lines are in the spool, which is never released past them again. */
        WR_ERROR("sink: cannot finish a buffer (%s); the spool is held from here", wr_err_name(rc));
        atomic_store(&s->failed, 1);
        gw__pbuf_destroy(b);
    }
}

static void close_oldest(gw_sink *s)
{
    struct gw__pbuf *old = NULL;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        for (struct gw__pbuf *b = s->table[i]; b; b = b->next) {
            if (!old || b->opened_ms < old->opened_ms) {
                old = b;
            }
        }
    }
    if (old) {
        close_buf(s, old, &s->closed_evict);
    }
}

/* Adds one record to its partition's buffer, opening the buffer when needed. */
static int add_record(gw_sink *s, uint64_t lsn, const struct sp_rec *r, int64_t now_wall)
{
    struct sp_part k;
    sp_part_of(&k, r);
    uint64_t h = sp_part_hash(&k);
    struct gw__pbuf *b = s->table[h % NBUCKETS];
    while (b && !(b->hash == h && sp_part_eq(&b->key, &k))) {
        b = b->next;
    }
    if (!b) {
        if (s->nopen >= MAX_OPEN_BUFFERS) {
            close_oldest(s);
        }
        b = gw__pbuf_create(&k, lsn, GZIP_CHUNK, s->out_max);
        if (!b) {
            return WR_ENOMEM;
        }
        b->opened_ms = wr_time_mono_ms();
        pthread_mutex_lock(&s->mu);
        b->next = s->table[h % NBUCKETS];
        s->table[h % NBUCKETS] = b;
        s->nopen++;
        pthread_mutex_unlock(&s->mu);
    }
    if (!s->replaying && now_wall >= (k.hour + 1) * 3600000 + HOUR_GRACE_MS) {
        gw__add64(&s->late_lines, 1);
    }
    uint64_t gz_before = b->out_len;
    int rc = gw__pbuf_add(b, s->cz, lsn, r->line, r->line_len);
    if (rc != 0) {
        return rc;
    }
    int z = gw__zone_of(r->kind);
    gw__add64(&s->lines_in[z], 1);
    gw__add64(&s->bytes_in[z], r->line_len + 1);
    gw__add64(&s->open_raw_bytes, r->line_len + 1);
    gw__add64(&s->open_gz_bytes, b->out_len - gz_before);
    if (b->raw_bytes >= s->flush_bytes) {
        close_buf(s, b, &s->closed_size);
    }
    return 0;
}

/* The rejected-zone line for a spool record that cannot go where it says (lake.md:
 * the raw text, source, received_at, errors): its bytes as a JSON string (bytes outside
 * ASCII that are no UTF-8 as \u00XX), cut at UNPLACEABLE_KEEP. */
static int unplaceable_line(struct wr_buf *b, uint64_t lsn, const char *p, size_t len,
                            int64_t received_at_ms, const char *why)
{
    size_t keep = wr_utf8_cut(p, len, UNPLACEABLE_KEEP);
    char received[WR_RFC3339_MS_LEN + 1];
    wr_time_format_ms(received_at_ms, received);
    wr_buf_printf(b, "{\"raw\":\"");
    if (wr_utf8_valid(p, keep)) {
        wr_buf_json_escape(b, p, keep);
    } else {
        for (size_t i = 0; i < keep; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c >= 0x80) {
                wr_buf_printf(b, "\\u%04x", c);
            } else {
                wr_buf_json_escape(b, p + i, 1);
            }
        }
    }
    return wr_buf_printf(b,
                         "\",\"truncated\":%s,\"source\":\"spool\",\"received_at\":\"%s\","
                         "\"errors\":[{\"code\":\"unplaceable\",\"instance_path\":\"\","
                         "\"message\":\"spool record at position %" PRIu64 ": %s\"}]}",
                         keep < len ? "true" : "false", received, lsn, why);
}

int gw__add_spool_record(gw_sink *s, uint64_t lsn, const char *p, size_t len,
                         const sp_journal *journal, int64_t now_wall)
{
    struct sp_rec r;
    int decoded = sp_rec_decode(p, len, &r) == 0;
    const char *why =
        decoded ? gw__unplaceable(r.kind, r.event_type, r.event_type_len, r.received_at_ms)
                : "not a gateway record (kind or event type length damaged)";
    struct wr_buf line;
    wr_buf_init(&line, 8u * UNPLACEABLE_KEEP + 4096);
    if (why) {
        /* Hostile or damaged bytes with good CRCs: kept where a person can look at them,
         * and the sink goes on. The place is a function of the record alone (a bad time
         * goes to the hour of time 0), so a replay puts it in the same file again. */
        int64_t at = decoded && gw__time_ok(r.received_at_ms) ? r.received_at_ms : 0;
        if (unplaceable_line(&line, lsn, decoded ? r.line : p, decoded ? r.line_len : len, at,
                             why) != 0) {
            wr_buf_free(&line);
            return WR_ENOMEM;
        }
        gw__add64(&s->unplaceable, 1);
        WR_WARN("sink: spool record at %" PRIu64 " cannot be placed (%s); written to rejected/",
                lsn, why);
        r = (struct sp_rec){.kind = SP_KIND_REJECTED,
                            .received_at_ms = at,
                            .event_type = "",
                            .line = line.p,
                            .line_len = line.len};
    }
    int rc = 0;
    if (journal) {
        struct sp_part k;
        sp_part_of(&k, &r);
        if (sp_journal_covers(journal, &k, lsn)) {
            gw__add64(&s->replay_skipped, 1);
            goto out;
        }
    }
    rc = add_record(s, lsn, &r, now_wall);
    if (rc == 0 && journal) {
        gw__add64(&s->replayed, 1);
    }
out:
    wr_buf_free(&line);
    return rc;
}

/* Closes the buffers that are due; all: every one, counted under *why. */
void gw__close_due(gw_sink *s, int all, atomic_uint_fast64_t *why)
{
    int64_t now = wr_time_mono_ms(), wall = wr_time_now_ms();
    for (unsigned i = 0; i < NBUCKETS; i++) {
        struct gw__pbuf *b = s->table[i];
        while (b) {
            struct gw__pbuf *next = b->next;
            if (all) {
                close_buf(s, b, why);
            } else if (wall >= (b->key.hour + 1) * 3600000 + HOUR_GRACE_MS) {
                close_buf(s, b, &s->closed_hour);
            } else if (now - b->opened_ms >= s->interval_ms) {
                close_buf(s, b, &s->closed_age);
            }
            b = next;
        }
    }
}

static void process_req(gw_sink *s, struct gw__req *q)
{
    int status = q->status;
    if (status == 0 && !atomic_load(&s->failed)) {
        int64_t wall = wr_time_now_ms();
        uint64_t end = 0;
        int rc = 0;
        for (size_t i = 0; i < q->n && rc == 0; i++) {
            rc = gw__add_spool_record(s, q->lsns[i], q->iov[i].iov_base, q->iov[i].iov_len, NULL,
                                      wall);
            end = sp_spool_record_end(q->lsns[i], q->iov[i].iov_len);
        }
        if (rc != 0) {
            /* The lines are durable in the spool; holding the release point here keeps
             * them for the next start, which replays them. */
            WR_ERROR("sink: cannot buffer a line (%s); the spool is held from here",
                     wr_err_name(rc));
            atomic_store(&s->failed, 1);
        } else if (q->n > 0) {
            pthread_mutex_lock(&s->mu);
            s->processed_end = end;
            pthread_mutex_unlock(&s->mu);
        }
    }
    gw__sub64(&s->inflight_bytes, q->bytes);
    if (atomic_load(&s->room_waiters) > 0 &&
        gw__get64(&s->inflight_bytes) <= THROTTLE_INFLIGHT_BYTES) {
        pthread_mutex_lock(&s->room_mu);
        pthread_cond_broadcast(&s->room);
        pthread_mutex_unlock(&s->room_mu);
    }
    if (q->done) {
        q->done(q->arg, status == 0 ? 0 : WR_EIO);
    }
    free(q);
}

void *gw__buffer_main(void *arg)
{
    gw_sink *s = arg;
    wr_thread_background("weir-buffers");
    uint64_t drained = 0;
    int64_t last_scan = 0;
    pthread_mutex_lock(&s->qmu);
    for (;;) {
        int lingering = s->qhead && !s->ack_mem && s->qbytes < QUEUE_WAKE_BYTES;
        if ((!s->qhead || lingering) && !s->qstop && s->drain_req == drained) {
            int64_t wait_ms =
                lingering && QUEUE_LINGER_MS < s->tick_ms ? QUEUE_LINGER_MS : s->tick_ms;
            s->qsleeping = 1;
            wr_cond_wait_ms(&s->qcond, &s->qmu, wait_ms);
            s->qsleeping = 0;
        }
        struct gw__req *list = s->qhead;
        s->qhead = s->qtail = NULL;
        s->qbytes = 0;
        uint64_t dreq = s->drain_req;
        int stop = s->qstop;
        pthread_mutex_unlock(&s->qmu);

        while (list) {
            struct gw__req *next = list->next;
            process_req(s, list);
            list = next;
        }
        int64_t now = wr_time_mono_ms();
        if (dreq != drained || now - last_scan >= s->tick_ms) {
            gw__close_due(s, dreq != drained, &s->closed_drain);
            last_scan = now;
        }

        pthread_mutex_lock(&s->qmu);
        if (dreq != drained) {
            drained = dreq;
            s->drain_done = dreq;
            pthread_cond_broadcast(&s->qdone);
        }
        if (stop && !s->qhead) {
            break;
        }
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}
