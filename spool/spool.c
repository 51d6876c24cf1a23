/* spool.c - opening and closing the spool (directory, lock, recovery, threads), its
 * accessors, and its metrics. */
#include "common/clock.h"
#include "spool/spool_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/fsutil.h"
#include "common/prom.h"
#include "common/thread.h"

/* ---- public ---- */

sp_spool *sp_spool_create(const struct sp_spool_opts *opts, struct wr_err *err)
{
    if (!opts || !opts->dir || !opts->dir[0]) {
        wr_err_set(err, WR_EINVAL, "spool: no directory given");
        return NULL;
    }
    sp_spool *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(opts->dir))) {
        free(s);
        wr_err_set(err, WR_ENOMEM, "spool: out of memory");
        return NULL;
    }
    s->dir_fd = -1;
    s->lock_fd = -1;
    s->fd = -1;
    s->segment_bytes = opts->segment_bytes ? opts->segment_bytes : SP_SPOOL_DEFAULT_SEGMENT_BYTES;
    s->max_bytes = opts->max_bytes ? opts->max_bytes : SP_SPOOL_DEFAULT_MAX_BYTES;
    s->max_record_bytes =
        opts->max_record_bytes ? opts->max_record_bytes : SP_SPOOL_DEFAULT_MAX_RECORD_BYTES;
    s->max_pending_bytes =
        opts->max_pending_bytes ? opts->max_pending_bytes : SP_SPOOL_DEFAULT_MAX_PENDING_BYTES;
    /* The segment being written is never deleted, so a segment as large as the limit
     * would keep the spool full for good; an eighth leaves room to release into. */
    if (s->segment_bytes > s->max_bytes / 8) {
        s->segment_bytes = s->max_bytes / 8 > 4096 ? s->max_bytes / 8 : 4096;
    }
    if (opts->io) {
        s->io = *opts->io;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->release_mu, NULL);
    wr_cond_init_mono(&s->work);
    wr_cond_init_mono(&s->idle);
    wr_cond_init_mono(&s->prep_cond);
    s->prealloc = opts->preallocate;

    if (mkdir(s->dir, SP__DIR_MODE) != 0 && errno != EEXIST) {
        wr_err_set(err, WR_EIO, "spool: mkdir %s: %s", s->dir, strerror(errno));
        goto fail;
    }
    s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        wr_err_set(err, WR_EIO, "spool: open %s: %s", s->dir, strerror(errno));
        goto fail;
    }
    s->lock_fd = openat(s->dir_fd, SP__LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, SP__FILE_MODE);
    if (s->lock_fd < 0) {
        wr_err_set(err, WR_EIO, "spool: open %s/%s: %s", s->dir, SP__LOCK_NAME, strerror(errno));
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        wr_err_set(err, errno == EWOULDBLOCK ? WR_EAGAIN : WR_EIO, "spool: lock %s: %s", s->dir,
                   errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
        goto fail;
    }
    unlinkat(s->dir_fd, SP__CKPT_TMP, 0);
    unlinkat(s->dir_fd, SP__SPARE_NAME, 0); /* perhaps half written when the last run ended */
    unlinkat(s->dir_fd, SP__PROBE_NAME, 0);
    if (sp__recover(s, opts, err) != 0) {
        goto fail;
    }
    s->st.limit_bytes = s->max_bytes;
    if (pthread_create(&s->thread, NULL, sp__writer_main, s) != 0) {
        wr_err_set(err, WR_ENOMEM, "spool: cannot start the writer thread");
        goto fail;
    }
    s->thread_started = 1;
    if (s->prealloc) {
        s->prep_started = pthread_create(&s->prep_thread, NULL, sp__prep_main, s) == 0;
    }
    return s;
fail:
    sp_spool_destroy(s);
    return NULL;
}

void sp_spool_drain(sp_spool *s)
{
    if (!s || !s->thread_started) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    while (s->pending.len > 0 || s->pending.nw > 0 || s->busy) {
        pthread_cond_signal(&s->work);
        pthread_cond_wait(&s->idle, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void sp_spool_destroy(sp_spool *s)
{
    if (!s) {
        return;
    }
    if (s->prep_started) {
        pthread_mutex_lock(&s->mu);
        atomic_store(&s->prep_stop, 1);
        pthread_cond_signal(&s->prep_cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->prep_thread, NULL);
    }
    if (s->thread_started) {
        sp_spool_drain(s);
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->lock_fd >= 0) {
        close(s->lock_fd);
    }
    if (s->dir_fd >= 0) {
        close(s->dir_fd);
    }
    sp__batch_free(&s->pending);
    free(s->segs);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->prep_cond);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->release_mu);
    free(s->dir);
    free(s);
}
const char *sp_spool_instance_id(const sp_spool *s)
{
    return s->instance;
}

int sp_spool_failed(const sp_spool *s)
{
    return atomic_load(&s->failed);
}

int sp_spool_writable(const sp_spool *s)
{
    return !atomic_load(&s->failed) && !atomic_load(&s->stalled);
}

void sp_spool_failure(sp_spool *s, struct wr_err *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->fail_err;
    pthread_mutex_unlock(&s->mu);
}

uint64_t sp_spool_durable_lsn(sp_spool *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->durable_lsn;
    pthread_mutex_unlock(&s->mu);
    return v;
}

void sp_spool_stats(sp_spool *s, struct sp_spool_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    uint64_t disk = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        disk += s->segs[i].len;
    }
    out->disk_bytes = disk;
    out->used_bytes = s->end_lsn - s->segs[0].start;
    out->segments = s->nsegs;
    out->end_lsn = s->end_lsn;
    out->durable_lsn = s->durable_lsn;
    out->released_lsn = s->released_lsn;
    out->failed = atomic_load(&s->failed);
    out->stalled = atomic_load(&s->stalled);
    out->spare_ready = s->spare_ready;
    pthread_mutex_unlock(&s->mu);
}

/* Keeps the first error of a run of appends, so one check at the end suffices. */
static void keep(int *rc, int r)
{
    if (*rc == 0) {
        *rc = r;
    }
}

int sp_spool_metrics(sp_spool *s, struct wr_buf *out)
{
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    int rc = 0;
    keep(&rc, wr_prom_counter(out, "weir_spool_appended_records_total",
                              "Records accepted by the spool since start.", st.appended_records));
    keep(&rc,
         wr_prom_counter(out, "weir_spool_appended_bytes_total",
                         "Payload bytes accepted by the spool since start.", st.appended_bytes));
    keep(&rc,
         wr_prom_counter(out, "weir_spool_written_bytes_total",
                         "Framed bytes written to spool segments since start.", st.written_bytes));
    keep(&rc, wr_prom_counter(out, "weir_spool_fsyncs_total",
                              "fdatasync calls of the spool writer (group commits).", st.fsyncs));
    keep(&rc, wr_prom_family(out, "weir_spool_refused_total", WR_PROM_COUNTER,
                             "Appends refused, by reason."));
    static const char *const reasons[] = {"full", "failed", "unwritable"};
    const uint64_t refused[] = {st.refused_full, st.refused_failed, st.refused_unwritable};
    for (size_t i = 0; i < 3; i++) {
        struct wr_prom_label l = {"reason", reasons[i]};
        keep(&rc, wr_prom_sample(out, "weir_spool_refused_total", &l, 1, refused[i]));
    }
    keep(&rc, wr_prom_counter(out, "weir_spool_transient_errors_total",
                              "Group commits refused by a transient error (EMFILE, ENFILE, ENOSPC, "
                              "EIO), cut back.",
                              st.transient_errors));
    keep(&rc, wr_prom_gauge(out, "weir_spool_disk_bytes",
                            "Record bytes in spool segment files (preallocated room and the spare "
                            "not counted).",
                            st.disk_bytes));
    keep(&rc, wr_prom_gauge(out, "weir_spool_used_bytes",
                            "Bytes counted against the spool limit (segments and pending).",
                            st.used_bytes));
    keep(&rc,
         wr_prom_gauge(out, "weir_spool_limit_bytes", "The spool size limit.", st.limit_bytes));
    keep(&rc,
         wr_prom_gauge(out, "weir_spool_segments", "Spool segment files on disk.", st.segments));
    keep(&rc, wr_prom_gauge(out, "weir_spool_unreleased_bytes",
                            "Bytes appended but not yet released (not yet in the lake).",
                            st.end_lsn - st.released_lsn));
    keep(&rc, wr_prom_counter(out, "weir_spool_replayed_records_total",
                              "Records replayed from the spool at start.", st.replayed_records));
    keep(&rc,
         wr_prom_counter(out, "weir_spool_corrupt_records_total",
                         "Damaged stretches skipped in the spool at start.", st.corrupt_records));
    keep(&rc, wr_prom_counter(out, "weir_spool_corrupt_bytes_total",
                              "Bytes skipped as damaged in the spool at start.", st.corrupt_bytes));
    keep(&rc, wr_prom_counter(out, "weir_spool_truncated_bytes_total",
                              "Bytes of a torn spool tail cut at start.", st.truncated_bytes));
    keep(&rc,
         wr_prom_counter(out, "weir_spool_preallocated_segments_total",
                         "Segments that began as a zero-filled spare file.", st.prealloc_taken));
    keep(&rc, wr_prom_counter(out, "weir_spool_preallocation_failures_total",
                              "Spare segment files that could not be written (e.g. disk full).",
                              st.prealloc_failed));
    keep(&rc, wr_prom_gauge(out, "weir_spool_failed",
                            "1 while the spool cannot write: failed for good, or held by a "
                            "transient error.",
                            (uint64_t)(st.failed || st.stalled)));
    /* Both histograms: the last bucket is +Inf, so n_le is one less than the buckets. */
    keep(&rc, wr_prom_histogram(out, "weir_spool_fsync_seconds",
                                "Latency of the spool's fdatasync.", sp_spool_fsync_bucket_le,
                                st.fsync_hist, SP_SPOOL_FSYNC_BUCKETS - 1, st.fsync_seconds_sum));
    double batch_le[SP_SPOOL_BATCH_BUCKETS - 1];
    for (int b = 0; b + 1 < SP_SPOOL_BATCH_BUCKETS; b++) {
        batch_le[b] = (double)(1u << b);
    }
    keep(&rc, wr_prom_histogram(out, "weir_spool_batch_records",
                                "Records made durable per group commit.", batch_le, st.batch_hist,
                                SP_SPOOL_BATCH_BUCKETS - 1, (double)st.batch_records_sum));
    return rc;
}
