/* sink_flush.c - the sink's flusher thread: puts closed buffers into the lake (retrying
 * with backoff), records each file's range in the journal, and releases the spool. */
#include "common/backoff.h"
#include "gateway/sink_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"

#include <errno.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const double gw__put_bucket_le[PUT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 1e300};

uint64_t gw__release_point_locked(gw_sink *s)
{
    uint64_t rel = s->processed_end;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        for (struct gw__pbuf *b = s->table[i]; b; b = b->next) {
            if (b->first_lsn < rel) {
                rel = b->first_lsn;
            }
        }
    }
    for (struct gw__pbuf *b = s->chead; b; b = b->next) {
        if (b->first_lsn < rel) {
            rel = b->first_lsn;
        }
    }
    if (s->inflight && s->inflight->first_lsn < rel) {
        rel = s->inflight->first_lsn;
    }
    return rel;
}

void gw__do_release(gw_sink *s, uint64_t rel)
{
    if (atomic_load(&s->failed)) {
        return;
    }
    uint64_t durable = sp_spool_durable_lsn(s->spool);
    if (rel > durable) {
        rel = durable; /* ack_from_memory: buffered lines may not be durable yet */
    }
    if (rel <= s->released) {
        return;
    }
    struct wr_err e = {0};
    int rc = sp_spool_release_err(s->spool, rel, &e);
    if (rc != 0) {
        gw__add64(&s->release_failed, 1);
        WR_WARN("sink: spool release to %" PRIu64 " failed: %s", rel, e.msg);
        if (sp_spool_durable_lsn(s->spool) < rel || e.code == WR_EINVAL) {
            return;
        }
        /* A failed segment deletion: the release itself took effect. */
    }
    pthread_mutex_lock(&s->mu);
    s->released = rel;
    pthread_mutex_unlock(&s->mu);
    if (sp_journal_release(s->journal, rel) != 0) {
        gw__add64(&s->journal_failed, 1);
        WR_WARN("sink: journal compaction in %s failed", s->dir);
    }
}

static int file_key(gw_sink *s, const struct gw__pbuf *b, char *key, size_t cap)
{
    char name[200];
    int n = snprintf(name, sizeof(name), "%s-%016" PRIx64 ".jsonl.gz", s->instance, b->first_lsn);
    if (n < 0 || (size_t)n >= sizeof(name)) {
        return WR_EINVAL;
    }
    int64_t t = b->key.hour * 3600;
    if (b->key.kind == SP_KIND_ACCEPTED) {
        return lake_path_raw(key, cap, b->key.event_type, t, name);
    }
    return lake_path_rejected(key, cap, t, name);
}

/* Waits out the next backoff delay unless the sink stops meanwhile; true when it stops. */
static bool backoff_wait(gw_sink *s, struct wr_backoff *b)
{
    pthread_mutex_lock(&s->mu);
    if (!s->fstop) {
        wr_cond_wait_ms(&s->fcond, &s->mu, wr_backoff_next_ms(b));
    }
    bool stop = s->fstop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Puts one closed buffer, retrying with backoff until it is in the lake (0) or the
 * flusher is told to stop (WR_EAGAIN). */
static int flush_one(gw_sink *s, struct gw__pbuf *b)
{
    char key[LAKE_PATH_MAX];
    int rc = file_key(s, b, key, sizeof(key));
    if (rc != 0) {
        /* Cannot happen for lines that passed gw_sink_submit's checks. */
        WR_ERROR("sink: no lake key for a buffer (%s); the spool is held from here",
                 wr_err_name(rc));
        atomic_store(&s->failed, 1);
        return rc;
    }
    struct wr_backoff backoff;
    wr_backoff_init(&backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, false);
    for (unsigned attempt = 0;; attempt++) {
        struct wr_err e = {0};
        int64_t t0 = wr_time_mono_ns();
        rc = lake_store_put(s->store, key, b->out, b->out_len, &e);
        double secs = (double)(wr_time_mono_ns() - t0) / 1e9;
        unsigned k = 0;
        while (k + 1 < PUT_BUCKETS && secs > gw__put_bucket_le[k]) {
            k++;
        }
        gw__add64(&s->put_hist[k], 1);
        atomic_store(&s->put_sum, atomic_load(&s->put_sum) + secs);
        if (rc == 0) {
            return 0;
        }
        gw__add64(&s->flush_failed, 1);
        if (attempt == 0 || attempt % 20 == 0) {
            WR_WARN("sink: lake put %s failed (%s: %s), attempt %u; retrying", key, wr_err_name(rc),
                    e.msg, attempt + 1);
        }
        if (backoff_wait(s, &backoff)) {
            return WR_EAGAIN;
        }
    }
}

/* The next put of this partition must not happen before this range is durable in the
 * journal: a replay would otherwise rebuild a buffer spanning both files. So retry (the
 * file stays in flight, holding the release point) until it is, or the sink stops. */
static void journal_until_ok(gw_sink *s, const struct gw__pbuf *b)
{
    struct wr_backoff backoff;
    wr_backoff_init(&backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, false);
    for (unsigned attempt = 0;; attempt++) {
        if (sp_journal_append(s->journal, &b->key, b->first_lsn, b->last_lsn) == 0) {
            return;
        }
        gw__add64(&s->journal_failed, 1);
        if (attempt % 20 == 0) {
            WR_WARN("sink: journal append in %s failed: %s; retrying", s->dir, strerror(errno));
        }
        if (backoff_wait(s, &backoff)) {
            return;
        }
    }
}

void *gw__flusher_main(void *arg)
{
    gw_sink *s = arg;
    wr_thread_background("weir-flusher");
    int64_t last_release = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->chead && !s->fstop) {
            pthread_cond_wait(&s->fcond, &s->mu);
        }
        if (s->fstop) {
            break;
        }
        struct gw__pbuf *b = s->chead;
        s->chead = b->next;
        if (!s->chead) {
            s->ctail = NULL;
        }
        s->nclosed--;
        b->next = NULL;
        s->inflight = b;
        pthread_mutex_unlock(&s->mu);

        int rc = flush_one(s, b);
        if (rc == 0) {
            int z = gw__zone_of(b->key.kind);
            gw__add64(&s->flush_ok, 1);
            gw__add64(&s->files[z], 1);
            gw__add64(&s->file_bytes[z], b->out_len);
            gw__add64(&s->file_lines[z], b->lines);
            journal_until_ok(s, b);
        }
        gw__sub64(&s->queued_gz_bytes, b->out_len);

        pthread_mutex_lock(&s->mu);
        if (rc != 0) {
            /* Stopping (or a key that cannot be built): the lines stay in the spool. */
            s->inflight = NULL;
            gw__pbuf_destroy(b);
            pthread_cond_broadcast(&s->fidle);
            if (s->fstop) {
                break;
            }
            continue;
        }
        s->inflight = NULL;
        gw__pbuf_destroy(b);
        /* A release costs a checkpoint (two fsyncs): with a backlog, one per interval. */
        int64_t now = wr_time_mono_ms();
        if (!s->chead || now - last_release >= RELEASE_EVERY_MS) {
            uint64_t rel = gw__release_point_locked(s);
            s->fbusy = 1;
            pthread_mutex_unlock(&s->mu);
            gw__do_release(s, rel);
            last_release = now;
            pthread_mutex_lock(&s->mu);
            s->fbusy = 0;
        }
        pthread_cond_broadcast(&s->fidle);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
