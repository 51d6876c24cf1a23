/* segment.c - the segment files of the spool: their names, writes through the test
 * hooks, listing at open, and creating the next one (from the preallocated spare when one
 * is ready). */
#include "common/clock.h"
#include "common/array.h"
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

/* 0xF7 never occurs in UTF-8, so JSON payloads cannot imitate a record start. */
const unsigned char sp__magic[4] = {0xF7, 'w', 's', 'p'};

const double sp_spool_fsync_bucket_le[SP_SPOOL_FSYNC_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 1e300};

void sp__seg_name(char *out, size_t cap, uint64_t start)
{
    snprintf(out, cap, "%016" PRIx64 SP__SEG_SUFFIX, start);
}

double sp__now_seconds(void)
{
    return (double)wr_time_mono_ns() / 1e9;
}

ssize_t sp__io_pwrite(sp_spool *s, int fd, const void *p, size_t len, off_t off)
{
    if (s->io.pwrite_fn) {
        return s->io.pwrite_fn(s->io.arg, fd, p, len, off);
    }
    return pwrite(fd, p, len, off);
}

int sp__io_fdatasync(sp_spool *s, int fd)
{
    if (s->io.fdatasync_fn) {
        return s->io.fdatasync_fn(s->io.arg, fd);
    }
    return fdatasync(fd);
}

int sp__write_all(sp_spool *s, int fd, const char *p, size_t len, uint64_t off, size_t *written)
{
    if (written) {
        *written = 0;
    }
    while (len > 0) {
        ssize_t n = sp__io_pwrite(s, fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
        if (written) {
            *written += (size_t)n;
        }
    }
    return 0;
}

/* ---- growable arrays, all bounded by the caps checked in sp_spool_append ---- */

int sp__grow(void **p, size_t *cap, size_t need, size_t elem)
{
    return wr_array_grow(p, cap, need, elem, 16, 0);
}

void sp__batch_free(struct batch *b)
{
    free(b->data);
    free(b->cuts);
    free(b->w);
    memset(b, 0, sizeof(*b));
}
/* ---- segments ---- */

static int cmp_seg(const void *a, const void *b)
{
    uint64_t x = ((const struct seg *)a)->start, y = ((const struct seg *)b)->start;
    return x < y ? -1 : x > y;
}

static int parse_seg_name(const char *name, uint64_t *start)
{
    if (strlen(name) != 16 + strlen(SP__SEG_SUFFIX) || strcmp(name + 16, SP__SEG_SUFFIX) != 0) {
        return -1;
    }
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else {
            return -1;
        }
        v = (v << 4) | (uint64_t)d;
    }
    *start = v;
    return 0;
}

int sp__list_segments(sp_spool *s, struct wr_err *err)
{
    int fd = dup(s->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) {
            close(fd);
        }
        return wr_err_set(err, WR_EIO, "spool: list %s: %s", s->dir, strerror(errno));
    }
    rewinddir(d);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t start;
        if (parse_seg_name(de->d_name, &start) != 0) {
            continue;
        }
        struct stat sb;
        if (fstatat(s->dir_fd, de->d_name, &sb, 0) != 0 || !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (sp__grow((void **)&s->segs, &s->segcap, s->nsegs + 1, sizeof(*s->segs)) != 0) {
            rc = wr_err_set(err, WR_ENOMEM, "spool: out of memory listing segments");
            break;
        }
        s->segs[s->nsegs].start = start;
        s->segs[s->nsegs].len = (uint64_t)sb.st_size;
        s->nsegs++;
    }
    closedir(d);
    if (rc == 0 && s->nsegs > 1) {
        qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
    }
    return rc;
}

/* Renames a ready spare to name (replacing a file of that name) and returns it open, or
 * -1 when there is none; the preparer is then asked for the next. The caller makes the
 * name durable (fsync of the directory). */
int sp__take_spare(sp_spool *s, const char *name)
{
    pthread_mutex_lock(&s->mu);
    int ready = s->spare_ready;
    s->spare_ready = 0;
    pthread_mutex_unlock(&s->mu);
    if (!ready) {
        return -1;
    }
    int fd = openat(s->dir_fd, SP__SPARE_NAME, O_RDWR | O_CLOEXEC);
    if (fd >= 0 && renameat(s->dir_fd, SP__SPARE_NAME, s->dir_fd, name) != 0) {
        close(fd);
        fd = -1;
    }
    pthread_mutex_lock(&s->mu);
    if (fd >= 0) {
        s->st.prealloc_taken++;
    }
    pthread_cond_signal(&s->prep_cond);
    pthread_mutex_unlock(&s->mu);
    return fd;
}

/* Creates the segment file starting at start (the spare when one is ready) and makes its
 * name durable. */
int sp__create_segment(sp_spool *s, uint64_t start, struct wr_err *err)
{
    char name[32];
    sp__seg_name(name, sizeof(name), start);
    int fd = sp__take_spare(s, name);
    s->active_prealloc = fd >= 0;
    if (fd < 0) {
        fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, SP__FILE_MODE);
    }
    /* errno survives the error path: the writer tells transient errors from the rest. */
    if (fd < 0) {
        int e = errno;
        wr_err_set(err, WR_EIO, "spool: create %s/%s: %s", s->dir, name, strerror(e));
        errno = e;
        return WR_EIO;
    }
    if (fsync(s->dir_fd) != 0) {
        int e = errno;
        close(fd);
        /* Not in the segment list: removed here, or a retry at this position would find
         * the name taken. */
        unlinkat(s->dir_fd, name, 0);
        wr_err_set(err, WR_EIO, "spool: fsync %s: %s", s->dir, strerror(e));
        errno = e;
        return WR_EIO;
    }
    return fd;
}
