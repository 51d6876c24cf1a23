/* sink.c - the sink's life: create (lake store, journal, spool open with replay, threads),
 * drain and destroy. The threads are in sink_buffer.c and sink_flush.c, the request path
 * in sink_submit.c, the shared state in sink_int.h. */
#include "gateway/sink_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"

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

/* ---- create / replay ------------------------------------------------------------- */

static int replay_cb(void *arg, uint64_t lsn, const char *p, size_t len)
{
    gw_sink *s = arg;
    if (lsn < sp_journal_released(s->journal)) {
        gw__add64(&s->replay_skipped, 1);
        return 0;
    }
    return gw__add_spool_record(s, lsn, p, len, s->journal, wr_time_now_ms());
}

static void report_cb(void *arg, const char *what, uint64_t lsn, uint64_t bytes)
{
    (void)arg;
    WR_WARN("sink: spool recovery: %s at %" PRIu64 ", %" PRIu64 " bytes", what, lsn, bytes);
}

gw_sink *gw_sink_create(const struct gw_sink_opts *opts, struct wr_err *err)
{
    if (!opts || !opts->spool_dir || !opts->spool_dir[0] || !opts->lake_url) {
        wr_err_set(err, WR_EINVAL, "sink: spool_dir and lake_url are required");
        return NULL;
    }
    if (opts->instance_id && (strlen(opts->instance_id) > 64 ||
                              !lake_segment_ok(opts->instance_id, 0))) {
        wr_err_set(err, WR_EINVAL, "sink: instance_id must be 1..64 of [A-Za-z0-9._-]");
        return NULL;
    }
    if (opts->flush_interval_ms < 0) {
        wr_err_set(err, WR_EINVAL, "sink: flush_interval_ms is negative");
        return NULL;
    }
    gw_sink *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(opts->spool_dir))) {
        free(s);
        wr_err_set(err, WR_ENOMEM, "sink: out of memory");
        return NULL;
    }
    s->cz = libdeflate_alloc_compressor(GZIP_LEVEL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->submit_mu, NULL);
    pthread_mutex_init(&s->drain_mu, NULL);
    pthread_mutex_init(&s->room_mu, NULL);
    wr_cond_init_mono(&s->room);
    wr_cond_init_mono(&s->qcond);
    wr_cond_init_mono(&s->qdone);
    wr_cond_init_mono(&s->fcond);
    wr_cond_init_mono(&s->fidle);
    s->flush_bytes = opts->flush_bytes ? opts->flush_bytes : (8u << 20);
    s->interval_ms = opts->flush_interval_ms ? opts->flush_interval_ms : 60000;
    s->tick_ms = s->interval_ms / 4 < 5 ? 5 : s->interval_ms / 4 > 250 ? 250 : s->interval_ms / 4;
    /* Deflate never grows data by more than a few bytes per block, and each member adds 18
     * bytes of header and trailer per chunk. */
    uint64_t out_max = s->flush_bytes + s->flush_bytes / 8 + 2ull * SP_SPOOL_DEFAULT_MAX_RECORD_BYTES +
                       65536;
    s->out_max = out_max > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)out_max;
    s->ack_mem = opts->ack_from_memory;

    if (!s->cz) {
        wr_err_set(err, WR_ENOMEM, "sink: out of memory (compressor)");
        goto fail;
    }
    /* The store first: a bad lake URL should fail before any replay work. */
    s->store = lake_store_open(opts->lake_url, opts->s3, err);
    if (!s->store) {
        goto fail;
    }
    s->journal = sp_journal_open(s->dir, err);
    if (!s->journal) {
        goto fail;
    }
    struct sp_spool_opts so = {
        .dir = s->dir,
        .max_bytes = opts->spool_max_bytes,
        .replay = replay_cb,
        .report = report_cb,
        .cb_arg = s,
        .preallocate = 1,
    };
    s->replaying = 1;
    s->spool = sp_spool_create(&so, err);
    s->replaying = 0;
    if (!s->spool) {
        goto fail;
    }
    snprintf(s->instance, sizeof(s->instance), "%s",
             opts->instance_id ? opts->instance_id : sp_spool_instance_id(s->spool));
    struct sp_spool_stats st;
    sp_spool_stats(s->spool, &st);
    s->processed_end = st.end_lsn;
    s->released = st.released_lsn;
    /* A fresh journal also cuts any torn tail, so later appends start on a clean line. */
    if (sp_journal_start(s->journal, sp_spool_instance_id(s->spool), st.released_lsn) != 0) {
        wr_err_set(err, WR_EIO, "sink: cannot write the journal in %s", s->dir);
        goto fail;
    }
    if (gw__get64(&s->replayed) > 0 || gw__get64(&s->replay_skipped) > 0) {
        WR_INFO("sink: replayed %" PRIu64 " lines from the spool, %" PRIu64
                " skipped as already in the lake",
                (uint64_t)gw__get64(&s->replayed), (uint64_t)gw__get64(&s->replay_skipped));
    }
    /* Replayed lines go out at once, each partition as the file it was (or would have
     * been): the same first line, so the same name. */
    gw__close_due(s, 1, &s->closed_replay);
    if (pthread_create(&s->fthread, NULL, gw__flusher_main, s) != 0) {
        wr_err_set(err, WR_ENOMEM, "sink: cannot start the flusher thread");
        goto fail;
    }
    s->fstarted = 1;
    if (pthread_create(&s->bthread, NULL, gw__buffer_main, s) != 0) {
        wr_err_set(err, WR_ENOMEM, "sink: cannot start the buffer thread");
        goto fail;
    }
    s->bstarted = 1;
    return s;
fail:
    s->drain_tried = 1;
    gw_sink_destroy(s);
    return NULL;
}

/* ---- drain / destroy ------------------------------------------------------------- */

int gw_sink_drain(gw_sink *s, int64_t timeout_ms)
{
    if (!s || !s->bstarted) {
        return 0;
    }
    pthread_mutex_lock(&s->drain_mu);
    if (s->drained) {
        pthread_mutex_unlock(&s->drain_mu);
        return 0;
    }
    s->drain_tried = 1;
    atomic_store(&s->draining, 1);
    int64_t deadline = timeout_ms > 0 ? wr_time_mono_ms() + timeout_ms : 0;
    /* Every ack reaches the queue, then the buffer thread empties it (answering every
     * request) and closes every buffer. */
    sp_spool_drain(s->spool);
    pthread_mutex_lock(&s->submit_mu);
    pthread_mutex_unlock(&s->submit_mu);
    pthread_mutex_lock(&s->qmu);
    uint64_t my = ++s->drain_req;
    pthread_cond_signal(&s->qcond);
    while (s->drain_done < my) {
        pthread_cond_wait(&s->qdone, &s->qmu);
    }
    pthread_mutex_unlock(&s->qmu);

    int rc = 0;
    size_t pending = 0;
    pthread_mutex_lock(&s->mu);
    while (s->chead || s->inflight || s->fbusy) {
        int64_t wait = 100;
        if (deadline) {
            int64_t left = deadline - wr_time_mono_ms();
            if (left <= 0) {
                rc = WR_EAGAIN;
                pending = s->nclosed + (s->inflight ? 1 : 0);
                break;
            }
            wait = left < wait ? left : wait;
        }
        wr_cond_wait_ms(&s->fidle, &s->mu, wait);
    }
    if (rc == 0 && !s->fbusy) {
        /* Lines skipped at replay move the release point without any flush. */
        uint64_t rel = gw__release_point_locked(s);
        s->fbusy = 1;
        pthread_mutex_unlock(&s->mu);
        gw__do_release(s, rel);
        pthread_mutex_lock(&s->mu);
        s->fbusy = 0;
        pthread_cond_broadcast(&s->fidle);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && atomic_load(&s->failed)) {
        /* Some lines never reached a buffer: they wait in the spool for the next start. */
        rc = WR_EAGAIN;
        WR_WARN("sink: drained with the spool held after a buffer failure; restart to replay");
    } else if (rc == 0) {
        s->drained = 1;
    } else {
        WR_WARN("sink: drain timed out with %zu files not yet in the lake; they stay in the spool",
                pending);
    }
    pthread_mutex_unlock(&s->drain_mu);
    return rc;
}

void gw_sink_destroy(gw_sink *s)
{
    if (!s) {
        return;
    }
    if (s->bstarted && !s->drain_tried) {
        gw_sink_drain(s, DESTROY_DRAIN_MS);
    }
    if (s->fstarted) {
        pthread_mutex_lock(&s->mu);
        s->fstop = 1;
        pthread_cond_broadcast(&s->fcond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->fthread, NULL);
    }
    if (s->bstarted) {
        pthread_mutex_lock(&s->qmu);
        s->qstop = 1;
        pthread_cond_signal(&s->qcond);
        pthread_mutex_unlock(&s->qmu);
        pthread_join(s->bthread, NULL);
    }
    for (unsigned i = 0; i < NBUCKETS; i++) {
        struct gw__pbuf *b = s->table[i];
        while (b) {
            struct gw__pbuf *next = b->next;
            gw__pbuf_destroy(b);
            b = next;
        }
    }
    while (s->chead) {
        struct gw__pbuf *next = s->chead->next;
        gw__pbuf_destroy(s->chead);
        s->chead = next;
    }
    /* Requests still queued exist only when create failed before the threads ran. */
    while (s->qhead) {
        struct gw__req *next = s->qhead->next;
        free(s->qhead);
        s->qhead = next;
    }
    sp_spool_destroy(s->spool);
    lake_store_destroy(s->store);
    sp_journal_destroy(s->journal);
    libdeflate_free_compressor(s->cz);
    pthread_cond_destroy(&s->qcond);
    pthread_cond_destroy(&s->qdone);
    pthread_cond_destroy(&s->fcond);
    pthread_cond_destroy(&s->fidle);
    pthread_cond_destroy(&s->room);
    pthread_mutex_destroy(&s->room_mu);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->submit_mu);
    pthread_mutex_destroy(&s->drain_mu);
    free(s->dir);
    free(s);
}

