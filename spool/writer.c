/* writer.c - the writer thread (group commit: one fdatasync for every append made
 * meanwhile), appends from any thread, releases from the flusher, the preallocation thread,
 * and the recovery from transient errors (backoff, then a probe write). */
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
#include "common/thread.h"

/* ---- the writer thread ---- */

static unsigned batch_bucket(uint64_t records)
{
    unsigned b = 0;
    while (b + 1 < SP_SPOOL_BATCH_BUCKETS && ((uint64_t)1 << b) < records) {
        b++;
    }
    return b;
}

static unsigned fsync_bucket(double secs)
{
    unsigned b = 0;
    while (b + 1 < SP_SPOOL_FSYNC_BUCKETS && secs > sp_spool_fsync_bucket_le[b]) {
        b++;
    }
    return b;
}

static int timed_sync(sp_spool *s, int fd)
{
    double t0 = sp__now_seconds();
    int r = sp__io_fdatasync(s, fd);
    double dt = sp__now_seconds() - t0;
    pthread_mutex_lock(&s->mu);
    s->st.fsyncs++;
    s->st.fsync_hist[fsync_bucket(dt)]++;
    s->st.fsync_seconds_sum += dt;
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* The segment being written holds no byte yet (a fresh spool, or a cut that found no
 * spare): the spare takes its name and place. */
static int adopt_spare(sp_spool *s, struct wr_err *err)
{
    char name[32];
    sp__seg_name(name, sizeof(name), s->active_start);
    int fd = sp__take_spare(s, name);
    if (fd < 0) {
        return 0;
    }
    close(s->fd);
    s->fd = fd;
    s->active_prealloc = 1;
    if (fsync(s->dir_fd) != 0) {
        return wr_err_set(err, WR_EIO, "spool: fsync %s: %s", s->dir, strerror(errno));
    }
    return 0;
}

/* How a batch failed: what the writer needs to tell a transient error from the rest. */
struct wfail {
    int eno;   /* errno of the failed call */
    int wrote; /* some byte of the batch reached a segment file */
    int sync;  /* an fdatasync failed: the kernel may have dropped dirty pages */
};

static int is_transient(int eno)
{
    return eno == EMFILE || eno == ENFILE || eno == ENOSPC || eno == EIO;
}

/* After a failure cut the active segment's fd loose (s->fd < 0): reopens the last
 * segment for writing. */
static int reopen_active(sp_spool *s, struct wr_err *err)
{
    char name[32];
    pthread_mutex_lock(&s->mu);
    uint64_t start = s->segs[s->nsegs - 1].start;
    pthread_mutex_unlock(&s->mu);
    sp__seg_name(name, sizeof(name), start);
    int fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        wr_err_set(err, WR_EIO, "spool: open %s/%s: %s", s->dir, name, strerror(e));
        errno = e;
        return WR_EIO;
    }
    s->fd = fd;
    s->active_start = start;
    s->active_prealloc = 0;
    return 0;
}

/* Writes and fsyncs one batch; 0 or WR_EIO/WR_ENOMEM with err and *f filled. */
static int write_batch(sp_spool *s, struct batch *b, struct wr_err *err, struct wfail *f)
{
    size_t pos = 0, ci = 0;
    int dirty = 0;
    if (s->fd < 0 && reopen_active(s, err) != 0) {
        f->eno = errno;
        return WR_EIO;
    }
    if (s->prealloc && !s->active_prealloc && b->start_lsn == s->active_start) {
        int rc = adopt_spare(s, err);
        if (rc != 0) {
            f->eno = errno;
            return rc;
        }
    }
    while (pos < b->len) {
        uint64_t lsn = b->start_lsn + pos;
        if (ci < b->ncuts && b->cuts[ci] == lsn) {
            /* The old segment is synced before the new one gets a byte, so a crash can
             * leave a torn tail only in the last segment. */
            if (dirty && timed_sync(s, s->fd) != 0) {
                f->eno = errno;
                f->sync = 1;
                return wr_err_set(err, WR_EIO,
                                  "spool: fdatasync %s/%016" PRIx64 SP__SEG_SUFFIX ": %s", s->dir,
                                  s->active_start, strerror(f->eno));
            }
            dirty = 0;
            int fd = sp__create_segment(s, lsn, err);
            if (fd < 0) {
                f->eno = errno;
                return fd;
            }
            close(s->fd);
            s->fd = fd;
            s->active_start = lsn;
            pthread_mutex_lock(&s->mu);
            int g = sp__grow((void **)&s->segs, &s->segcap, s->nsegs + 1, sizeof(*s->segs));
            if (g == 0) {
                s->segs[s->nsegs].start = lsn;
                s->segs[s->nsegs].len = 0;
                s->nsegs++;
            }
            pthread_mutex_unlock(&s->mu);
            if (g != 0) {
                f->eno = ENOMEM;
                return wr_err_set(err, WR_ENOMEM, "spool: out of memory adding a segment");
            }
            ci++;
        }
        size_t stop = ci < b->ncuts ? (size_t)(b->cuts[ci] - b->start_lsn) : b->len;
        uint64_t file_off = lsn - s->active_start;
        size_t written = 0;
        int w = sp__write_all(s, s->fd, b->data + pos, stop - pos, file_off, &written);
        if (written > 0) {
            f->wrote = 1;
        }
        if (w != 0) {
            f->eno = errno;
            return wr_err_set(err, WR_EIO, "spool: write %s/%016" PRIx64 SP__SEG_SUFFIX ": %s",
                              s->dir, s->active_start, strerror(f->eno));
        }
        dirty = 1;
        pthread_mutex_lock(&s->mu);
        s->segs[s->nsegs - 1].len = file_off + (stop - pos);
        s->st.written_bytes += stop - pos;
        pthread_mutex_unlock(&s->mu);
        pos = stop;
    }
    if (dirty && timed_sync(s, s->fd) != 0) {
        f->eno = errno;
        f->sync = 1;
        return wr_err_set(err, WR_EIO, "spool: fdatasync %s/%016" PRIx64 SP__SEG_SUFFIX ": %s",
                          s->dir, s->active_start, strerror(f->eno));
    }
    return 0;
}

/* After a failed batch: every append of it is answered 503, so none of its records may
 * come back at the next start (a client retrying would get duplicates). Segments the
 * batch created are removed, the one it started in is cut back to where the batch began,
 * and the writer's fd is let go when its file is gone. Returns 1 when all of that is
 * durable (the positions may then be used again), 0 when some step failed. */
static int rollback_batch(sp_spool *s, const struct batch *b, int wrote)
{
    char name[64];
    int clean = 1, removed = 0;
    pthread_mutex_lock(&s->mu);
    while (s->nsegs > 1 && s->segs[s->nsegs - 1].start > b->start_lsn) {
        sp__seg_name(name, sizeof name, s->segs[s->nsegs - 1].start);
        if (unlinkat(s->dir_fd, name, 0) != 0 && errno != ENOENT) {
            clean = 0;
        }
        s->nsegs--;
        removed = 1;
    }
    uint64_t seg_start = s->nsegs ? s->segs[s->nsegs - 1].start : b->start_lsn;
    uint64_t keep = b->start_lsn > seg_start ? b->start_lsn - seg_start : 0;
    if (s->nsegs) {
        s->segs[s->nsegs - 1].len = keep;
    }
    pthread_mutex_unlock(&s->mu);
    if (s->fd >= 0 && s->active_start != seg_start) {
        close(s->fd); /* its file was just removed */
        s->fd = -1;
    }
    if (wrote) {
        /* The writer's own fd when it is this file: after EMFILE no other can be opened. */
        sp__seg_name(name, sizeof name, seg_start);
        int own = s->fd >= 0 && s->active_start == seg_start;
        int fd = own ? s->fd : openat(s->dir_fd, name, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)keep) != 0 || fdatasync(fd) != 0) {
            clean = 0;
        }
        if (fd >= 0 && !own) {
            close(fd);
        }
        if (own) {
            s->active_prealloc = 0; /* its zero-filled room went with the cut */
        }
    }
    if ((wrote || removed) && fsync(s->dir_fd) != 0) {
        clean = 0;
    }
    return clean;
}

/* The write test of a stalled spool: the active segment can be opened, a new file
 * created, one segment of room reserved (so writing does not stall again at once on a
 * nearly full disk), and a block written and synced through the I/O hooks. 0 when all
 * of it worked, else errno. */
static int probe(sp_spool *s, struct wr_err *err)
{
    if (s->fd < 0 && reopen_active(s, err) != 0) {
        return errno;
    }
    int fd =
        openat(s->dir_fd, SP__PROBE_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, SP__FILE_MODE);
    if (fd < 0) {
        int e = errno;
        wr_err_set(err, WR_EIO, "spool: create %s/%s: %s", s->dir, SP__PROBE_NAME, strerror(e));
        return e;
    }
    static const char block[4096];
    const char *what = "reserve a segment in";
    int e = posix_fallocate(fd, 0, (off_t)s->segment_bytes);
    if (e == EOPNOTSUPP || e == EINVAL) {
        e = 0; /* a file system without fallocate: the block write decides alone */
    }
    if (e == 0) {
        what = "write";
        size_t written;
        if (sp__write_all(s, fd, block, sizeof(block), 0, &written) != 0 ||
            sp__io_fdatasync(s, fd) != 0) {
            e = errno ? errno : EIO;
        }
    }
    close(fd);
    unlinkat(s->dir_fd, SP__PROBE_NAME, 0);
    if (e != 0) {
        wr_err_set(err, WR_EIO, "spool: probe: %s %s/%s: %s", what, s->dir, SP__PROBE_NAME,
                   strerror(e));
    }
    return e;
}

/* The failed batch and everything appended after it are answered WR_EAGAIN, and their
 * positions are taken back: the next record goes where the failed batch began. Caller
 * holds mu; the waiters to answer are moved to *late. */
static void take_back(sp_spool *s, const struct batch *b, struct batch *late)
{
    *late = s->pending;
    memset(&s->pending, 0, sizeof(s->pending));
    s->end_lsn = b->start_lsn;
    s->end_seg_start = s->segs[s->nsegs - 1].start;
    s->pending.start_lsn = b->start_lsn;
}

void *sp__writer_main(void *arg)
{
    sp_spool *s = arg;
    wr_thread_name("weir-spool");
    struct batch b;
    memset(&b, 0, sizeof(b));
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (atomic_load(&s->stalled) && !s->stopping) {
            /* Appends are refused meanwhile; probe after each backoff. */
            if (wr_cond_wait_ms(&s->work, &s->mu, s->stall_ms) != ETIMEDOUT || s->stopping) {
                continue;
            }
            pthread_mutex_unlock(&s->mu);
            struct wr_err perr = {0};
            int e = probe(s, &perr);
            pthread_mutex_lock(&s->mu);
            if (e == 0) {
                s->stall_ms = 0;
                atomic_store(&s->stalled, 0);
            } else {
                s->fail_err = perr;
                s->stall_ms =
                    s->stall_ms * 2 > SP__STALL_MAX_MS ? SP__STALL_MAX_MS : s->stall_ms * 2;
            }
        }
        while (s->pending.len == 0 && s->pending.nw == 0 && !s->stopping) {
            pthread_cond_wait(&s->work, &s->mu);
        }
        if (s->pending.len == 0 && s->pending.nw == 0) {
            break;
        }
        struct batch t = s->pending;
        s->pending = b;
        b = t;
        s->pending.len = 0;
        s->pending.ncuts = 0;
        s->pending.nw = 0;
        s->pending.records = 0;
        s->pending.start_lsn = s->end_lsn;
        s->busy = 1;
        int failed = atomic_load(&s->failed);
        pthread_mutex_unlock(&s->mu);

        int status = 0;
        struct wr_err werr = {0};
        struct wfail wf = {0, 0, 0};
        if (failed) {
            status = WR_EIO;
        } else if (write_batch(s, &b, &werr, &wf) != 0) {
            /* After an fsync error Linux may have dropped the dirty pages, so nothing
             * written before can be promised again: failed for good. A write or open
             * that ran out of a resource (descriptors, space) or hit an I/O error is
             * transient once its bytes are cut back durably: answer 503, probe, go on. */
            int clean = rollback_batch(s, &b, wf.wrote);
            status = !wf.sync && clean && is_transient(wf.eno) ? WR_EAGAIN : WR_EIO;
        }

        struct batch late;
        memset(&late, 0, sizeof(late));
        pthread_mutex_lock(&s->mu);
        if (status == WR_EIO && !failed) {
            s->fail_err = werr;
            atomic_store(&s->failed, 1);
        } else if (status == WR_EAGAIN) {
            s->fail_err = werr;
            s->st.transient_errors++;
            s->stall_ms = SP__STALL_MIN_MS;
            atomic_store(&s->stalled, 1);
            take_back(s, &b, &late);
        }
        if (status == 0) {
            s->durable_lsn = b.start_lsn + b.len;
            if (b.records > 0) {
                s->st.batch_hist[batch_bucket(b.records)]++;
                s->st.batch_records_sum += b.records;
                if (b.records > s->st.batch_records_max) {
                    s->st.batch_records_max = b.records;
                }
            }
        }
        pthread_mutex_unlock(&s->mu);

        for (size_t i = 0; i < b.nw; i++) {
            b.w[i].ack(b.w[i].arg, status);
        }
        for (size_t i = 0; i < late.nw; i++) {
            late.w[i].ack(late.w[i].arg, WR_EAGAIN);
        }
        sp__batch_free(&late);

        /* Keep the spent buffer for the next swap unless a burst made it large. */
        if (b.cap > (8u << 20)) {
            free(b.data);
            b.data = NULL;
            b.cap = 0;
        }
        b.len = 0;
        b.ncuts = 0;
        b.nw = 0;
        b.records = 0;

        pthread_mutex_lock(&s->mu);
        s->busy = 0;
        pthread_cond_broadcast(&s->idle);
    }
    pthread_mutex_unlock(&s->mu);
    sp__batch_free(&b);
    return NULL;
}

/* ---- preallocation ---- */

/* Writes SP__SPARE_NAME: size zero bytes, fdatasynced. 0 when done, 1 when stopped, -1 on
 * failure (the partial file is removed: a full disk must not stay fuller for it). Plain
 * writes, not the injectable ones: fault tests count the writer's calls. */
static int make_spare(sp_spool *s, const char *zero, uint64_t size)
{
    int fd =
        openat(s->dir_fd, SP__SPARE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SP__FILE_MODE);
    if (fd < 0) {
        return -1;
    }
    int rc = 0;
    for (uint64_t off = 0; off < size && rc == 0; off += SP__ZERO_CHUNK) {
        if (atomic_load(&s->prep_stop)) {
            rc = 1;
            break;
        }
        size_t n = size - off < SP__ZERO_CHUNK ? (size_t)(size - off) : SP__ZERO_CHUNK;
        /* Chunk by chunk to the disk: one fsync of the whole file would put tens of MiB
         * in the device queue at once, ahead of the group commits waiting behind it. */
        if (wr_write_all(fd, zero, n) != 0 ||
            wr_sync_range(fd, (long long)off, (long long)n) != 0) {
            rc = -1;
        }
    }
    if (rc == 0 && fdatasync(fd) != 0) {
        rc = -1;
    }
    close(fd);
    if (rc != 0) {
        unlinkat(s->dir_fd, SP__SPARE_NAME, 0);
    }
    return rc;
}

/* Keeps one spare ready; after a failure waits 10 s before the next try. */
void *sp__prep_main(void *arg)
{
    sp_spool *s = arg;
    wr_thread_background("weir-prealloc");
    char *zero = calloc(1, SP__ZERO_CHUNK);
    pthread_mutex_lock(&s->mu);
    while (zero && !atomic_load(&s->prep_stop)) {
        if (s->spare_ready) {
            pthread_cond_wait(&s->prep_cond, &s->mu);
            continue;
        }
        uint64_t size = s->segment_bytes;
        pthread_mutex_unlock(&s->mu);
        int rc = make_spare(s, zero, size);
        pthread_mutex_lock(&s->mu);
        if (rc == 0) {
            s->spare_ready = 1;
        } else if (rc < 0) {
            s->st.prealloc_failed++;
            if (!atomic_load(&s->prep_stop)) {
                wr_cond_wait_ms(&s->prep_cond, &s->mu, 10000);
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(zero);
    return NULL;
}
int sp_spool_append(sp_spool *s, const struct iovec *recs, size_t n, sp_spool_ack_fn ack, void *arg,
                    uint64_t *lsns)
{
    if (!s || !ack || (n > 0 && !recs)) {
        return WR_EINVAL;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].iov_len > 0 && !recs[i].iov_base) {
            return WR_EINVAL;
        }
        if (recs[i].iov_len > s->max_record_bytes) {
            return WR_ELIMIT;
        }
        total += SP_SPOOL_HEADER_BYTES + (uint64_t)recs[i].iov_len;
    }
    /* Payload checksums do not depend on the position, so they are computed before the
     * lock is taken: appenders then hold it only for the copy. */
    uint32_t crc_stack[128];
    uint32_t *crcs = crc_stack;
    if (n > sizeof(crc_stack) / sizeof(crc_stack[0])) {
        crcs = malloc(n * sizeof(*crcs));
        if (!crcs) {
            return WR_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        crcs[i] = wr_crc32c(0, recs[i].iov_base, recs[i].iov_len);
    }

    pthread_mutex_lock(&s->mu);
    int rc = 0;
    struct batch *b = &s->pending;
    if (atomic_load(&s->failed)) {
        s->st.refused_failed++;
        rc = WR_EIO;
        goto out;
    }
    if (atomic_load(&s->stalled)) {
        s->st.refused_unwritable++;
        rc = WR_EAGAIN;
        goto out;
    }
    uint64_t used = s->end_lsn - s->segs[0].start;
    if (s->draining || s->stopping || used + total > s->max_bytes ||
        b->len + total > s->max_pending_bytes) {
        s->st.refused_full++;
        rc = WR_EAGAIN;
        goto out;
    }
    /* Reserve everything first, so a failure leaves no half-appended request. */
    if (sp__grow((void **)&b->data, &b->cap, b->len + (size_t)total, 1) != 0 ||
        sp__grow((void **)&b->cuts, &b->cutcap, b->ncuts + n, sizeof(*b->cuts)) != 0 ||
        sp__grow((void **)&b->w, &b->wcap, b->nw + 1, sizeof(*b->w)) != 0) {
        rc = WR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t size = SP_SPOOL_HEADER_BYTES + (uint64_t)recs[i].iov_len;
        uint64_t in_seg = s->end_lsn - s->end_seg_start;
        if (in_seg > 0 && in_seg + size > s->segment_bytes) {
            b->cuts[b->ncuts++] = s->end_lsn;
            s->end_seg_start = s->end_lsn;
        }
        unsigned char *h = (unsigned char *)b->data + b->len;
        memcpy(h, sp__magic, 4);
        sp__put_u32(h + 4, (uint32_t)recs[i].iov_len);
        sp__put_u64(h + 8, s->end_lsn);
        sp__put_u32(h + 16, crcs[i]);
        sp__put_u32(h + 20, wr_crc32c(0, h, 20));
        if (recs[i].iov_len > 0) {
            memcpy(h + SP_SPOOL_HEADER_BYTES, recs[i].iov_base, recs[i].iov_len);
        }
        if (lsns) {
            lsns[i] = s->end_lsn;
        }
        b->len += (size_t)size;
        s->end_lsn += size;
        s->st.appended_bytes += recs[i].iov_len;
    }
    b->records += n;
    b->w[b->nw].ack = ack;
    b->w[b->nw].arg = arg;
    b->nw++;
    s->st.appended_records += n;
    if (!s->busy) {
        pthread_cond_signal(&s->work);
    }
out:
    pthread_mutex_unlock(&s->mu);
    if (crcs != crc_stack) {
        free(crcs);
    }
    return rc;
}

int sp_spool_append1(sp_spool *s, const char *p, size_t len, sp_spool_ack_fn ack, void *arg,
                     uint64_t *lsn)
{
    struct iovec v = {.iov_base = (void *)p, .iov_len = len};
    return sp_spool_append(s, &v, 1, ack, arg, lsn);
}

int sp_spool_release(sp_spool *s, uint64_t lsn)
{
    return sp_spool_release_err(s, lsn, NULL);
}

int sp_spool_release_err(sp_spool *s, uint64_t lsn, struct wr_err *err)
{
    if (!s) {
        return wr_err_set(err, WR_EINVAL, "spool: no spool");
    }
    pthread_mutex_lock(&s->release_mu);
    pthread_mutex_lock(&s->mu);
    uint64_t durable = s->durable_lsn, released = s->released_lsn;
    pthread_mutex_unlock(&s->mu);
    if (lsn > durable) {
        pthread_mutex_unlock(&s->release_mu);
        return wr_err_set(err, WR_EINVAL,
                          "spool: release to %" PRIu64 " past the durable end %" PRIu64, lsn,
                          durable);
    }
    if (lsn <= released) {
        pthread_mutex_unlock(&s->release_mu);
        return 0;
    }
    /* The checkpoint goes first: a segment deleted before its release point is durable
     * would leave a restart looking for records that are gone. */
    int rc = sp__ckpt_write(s, lsn, err);
    if (rc != 0) {
        pthread_mutex_unlock(&s->release_mu);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    s->released_lsn = lsn;
    pthread_mutex_unlock(&s->mu);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->nsegs < 2 || s->segs[1].start > lsn) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        uint64_t doomed = s->segs[0].start;
        memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof(*s->segs));
        s->nsegs--;
        pthread_mutex_unlock(&s->mu);
        char name[32];
        sp__seg_name(name, sizeof(name), doomed);
        /* A segment left behind by a failed unlink is deleted again at the next open. */
        if (unlinkat(s->dir_fd, name, 0) != 0 && errno != ENOENT && rc == 0) {
            rc = wr_err_set(err, WR_EIO, "spool: delete %s/%s: %s", s->dir, name, strerror(errno));
        }
    }
    pthread_mutex_unlock(&s->release_mu);
    return rc;
}
