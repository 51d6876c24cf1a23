/* spool.c - the gateway's write-ahead log: framed records in segment files, one writer
 * thread doing group commit, a checkpoint file for the release point, and recovery
 * (torn tail truncation, resync past corrupt records) at open. */
#include "gateway/spool.h"

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

/* Record header, little-endian as the hosts we run on:
 *   0 magic[4]  4 u32 payload length  8 u64 own position  16 u32 crc32c(payload)
 *   20 u32 crc32c(bytes 0..20)
 * The magic starts with 0xF7, a byte that never occurs in UTF-8, so JSON payloads cannot
 * imitate it; the stored position and the header CRC let a scanner that lost the framing
 * find the next true record with no false start. */
static const unsigned char spool_magic[4] = {0xF7, 'w', 's', 'p'};

#define CKPT_NAME "checkpoint"
#define CKPT_TMP "checkpoint.tmp"
#define LOCK_NAME "LOCK"
#define SEG_SUFFIX ".wal"
#define SPARE_NAME "spare.tmp" /* the next segment, being zero-filled or ready */
#define ZERO_CHUNK (1u << 20)

const double gw_spool_fsync_bucket_le[GW_SPOOL_FSYNC_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 1e300};

struct seg {
    uint64_t start; /* position of its first byte, also its file name */
    uint64_t len;   /* bytes in the file */
};

struct waiter {
    gw_spool_ack_fn ack;
    void *arg;
};

/* Bytes appended but not yet written, with the acks they owe. */
struct batch {
    char *data;
    size_t len, cap;
    uint64_t start_lsn;  /* position of data[0] */
    uint64_t *cuts;      /* positions where a new segment file begins */
    size_t ncuts, cutcap;
    struct waiter *w;
    size_t nw, wcap;
    uint64_t records;
};

struct gw_spool {
    char *dir;
    int dir_fd;
    int lock_fd;
    int fd; /* the segment being written; writer thread only after open */
    uint64_t active_start; /* start of that segment; writer thread only after open */
    int active_prealloc;   /* that file is zero-filled ahead; writer thread only after open */
    int prealloc;
    uint64_t segment_bytes, max_bytes, max_pending_bytes;
    uint32_t max_record_bytes;
    struct gw_spool_io io;
    char instance[17];

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t work; /* writer waits for appends or stop */
    pthread_cond_t idle; /* drain waits for the writer */
    struct seg *segs;    /* sorted; the last is being written */
    size_t nsegs, segcap;
    struct batch pending;
    uint64_t end_lsn;       /* after the last appended record */
    uint64_t end_seg_start; /* start of the segment end_lsn falls in */
    uint64_t durable_lsn;
    uint64_t released_lsn;
    int draining, stopping, busy;
    atomic_int failed;
    struct wr_err fail_err; /* why the spool failed */
    struct gw_spool_stats st;

    pthread_mutex_t release_mu; /* one release (checkpoint write) at a time */
    pthread_t thread;
    int thread_started;

    /* Preallocation (opts.preallocate): a spare segment file zero-filled by its own
     * thread, so the writer never waits for it. spare_ready is guarded by mu. */
    pthread_cond_t prep_cond; /* the spare was taken, or stop */
    int spare_ready;
    atomic_int prep_stop;
    pthread_t prep_thread;
    int prep_started;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void seg_name(char *out, size_t cap, uint64_t start)
{
    snprintf(out, cap, "%016" PRIx64 SEG_SUFFIX, start);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ssize_t io_pwrite(gw_spool *s, int fd, const void *p, size_t len, off_t off)
{
    if (s->io.pwrite_fn) {
        return s->io.pwrite_fn(s->io.arg, fd, p, len, off);
    }
    return pwrite(fd, p, len, off);
}

static int io_fdatasync(gw_spool *s, int fd)
{
    if (s->io.fdatasync_fn) {
        return s->io.fdatasync_fn(s->io.arg, fd);
    }
    return fdatasync(fd);
}

static int write_all(gw_spool *s, int fd, const char *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = io_pwrite(s, fd, p, len, (off_t)off);
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
    }
    return 0;
}

/* ---- growable arrays, all bounded by the caps checked in gw_spool_append ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *np = realloc(*p, ncap * elem);
    if (!np) {
        return WR_ENOMEM;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

static void batch_free(struct batch *b)
{
    free(b->data);
    free(b->cuts);
    free(b->w);
    memset(b, 0, sizeof(*b));
}

/* ---- checkpoint: release point and instance id, replaced atomically ---- */

static int ckpt_write(gw_spool *s, uint64_t released, struct wr_err *err)
{
    char body[160];
    int n = snprintf(body, sizeof(body), "weir-spool 1\ninstance %s\nreleased %" PRIu64 "\n",
                     s->instance, released);
    uint32_t crc = wr_crc32c(0, body, (size_t)n);
    n += snprintf(body + n, sizeof(body) - (size_t)n, "crc %08" PRIx32 "\n", crc);

    int fd = openat(s->dir_fd, CKPT_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return wr_err_set(err, WR_EIO, "spool: create %s/%s: %s", s->dir, CKPT_TMP, strerror(errno));
    }
    if (write_all(s, fd, body, (size_t)n, 0) != 0 || io_fdatasync(s, fd) != 0) {
        int e = errno;
        close(fd);
        return wr_err_set(err, WR_EIO, "spool: write %s/%s: %s", s->dir, CKPT_TMP, strerror(e));
    }
    close(fd);
    if (renameat(s->dir_fd, CKPT_TMP, s->dir_fd, CKPT_NAME) != 0 || fsync(s->dir_fd) != 0) {
        return wr_err_set(err, WR_EIO, "spool: rename %s/%s: %s", s->dir, CKPT_NAME, strerror(errno));
    }
    return 0;
}

/* Returns 1 and fills instance/released when a valid checkpoint exists, 0 when it is
 * missing, -1 when it is present but damaged. */
static int ckpt_read(gw_spool *s, uint64_t *released)
{
    int fd = openat(s->dir_fd, CKPT_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    char *crc_line = strstr(buf, "crc ");
    if (!crc_line || strncmp(buf, "weir-spool 1\ninstance ", 22) != 0) {
        return -1;
    }
    uint32_t want = wr_crc32c(0, buf, (size_t)(crc_line - buf));
    char *end = NULL;
    errno = 0;
    unsigned long long got = strtoull(crc_line + 4, &end, 16);
    if (errno != 0 || end == crc_line + 4 || got != want) {
        return -1;
    }
    const char *inst = buf + 22;
    for (int i = 0; i < 16; i++) {
        char c = inst[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return -1;
        }
    }
    if (strncmp(inst + 16, "\nreleased ", 10) != 0) {
        return -1;
    }
    errno = 0;
    unsigned long long rel = strtoull(inst + 26, &end, 10);
    if (errno != 0 || end == inst + 26 || *end != '\n') {
        return -1;
    }
    memcpy(s->instance, inst, 16);
    s->instance[16] = '\0';
    *released = rel;
    return 1;
}

static int make_instance_id(gw_spool *s, struct wr_err *err)
{
    unsigned char r[8];
    size_t got = 0;
    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return wr_err_set(err, WR_EIO, "spool: getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        s->instance[2 * i] = hex[r[i] >> 4];
        s->instance[2 * i + 1] = hex[r[i] & 15];
    }
    s->instance[16] = '\0';
    return 0;
}

/* ---- segments ---- */

static int cmp_seg(const void *a, const void *b)
{
    uint64_t x = ((const struct seg *)a)->start, y = ((const struct seg *)b)->start;
    return x < y ? -1 : x > y;
}

static int parse_seg_name(const char *name, uint64_t *start)
{
    if (strlen(name) != 16 + strlen(SEG_SUFFIX) || strcmp(name + 16, SEG_SUFFIX) != 0) {
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

static int list_segments(gw_spool *s, struct wr_err *err)
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
        if (grow((void **)&s->segs, &s->segcap, s->nsegs + 1, sizeof(*s->segs)) != 0) {
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
static int take_spare(gw_spool *s, const char *name)
{
    pthread_mutex_lock(&s->mu);
    int ready = s->spare_ready;
    s->spare_ready = 0;
    pthread_mutex_unlock(&s->mu);
    if (!ready) {
        return -1;
    }
    int fd = openat(s->dir_fd, SPARE_NAME, O_RDWR | O_CLOEXEC);
    if (fd >= 0 && renameat(s->dir_fd, SPARE_NAME, s->dir_fd, name) != 0) {
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
static int create_segment(gw_spool *s, uint64_t start, struct wr_err *err)
{
    char name[32];
    seg_name(name, sizeof(name), start);
    int fd = take_spare(s, name);
    s->active_prealloc = fd >= 0;
    if (fd < 0) {
        fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        return wr_err_set(err, WR_EIO, "spool: create %s/%s: %s", s->dir, name, strerror(errno));
    }
    if (fsync(s->dir_fd) != 0) {
        int e = errno;
        close(fd);
        return wr_err_set(err, WR_EIO, "spool: fsync %s: %s", s->dir, strerror(e));
    }
    return fd;
}

/* ---- recovery ---- */

static void report(const struct gw_spool_opts *o, const char *what, uint64_t lsn, uint64_t bytes)
{
    if (o->report) {
        o->report(o->cb_arg, what, lsn, bytes);
    }
}

/* 1 when p[0, n) holds only zero bytes (a byte equal to its successor all along, and the
 * first one zero: memcmp's vector loop does the work). */
static int all_zero(const unsigned char *p, uint64_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, (size_t)n - 1) == 0);
}

/* 1 when bytes [from, to) of the file are all zero: the unused room of a preallocated
 * segment. 0 otherwise or when they cannot be read. */
static int file_zero(int fd, uint64_t from, uint64_t to)
{
    if (to <= from) {
        return 1;
    }
    void *map = mmap(NULL, (size_t)to, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        return 0;
    }
    int z = all_zero((const unsigned char *)map + from, to - from);
    munmap(map, (size_t)to);
    return z;
}

/* 1 when a whole, intact record for position base+off starts at p[off]. */
static int record_at(const unsigned char *p, uint64_t size, uint64_t off, uint64_t base,
                     uint32_t *len_out)
{
    if (size - off < GW_SPOOL_HEADER_BYTES) {
        return 0;
    }
    const unsigned char *h = p + off;
    if (memcmp(h, spool_magic, 4) != 0 || get_u32(h + 20) != wr_crc32c(0, h, 20) ||
        get_u64(h + 8) != base + off) {
        return 0;
    }
    uint32_t len = get_u32(h + 4);
    if ((uint64_t)len > size - off - GW_SPOOL_HEADER_BYTES) {
        return 0;
    }
    if (get_u32(h + 16) != wr_crc32c(0, h + GW_SPOOL_HEADER_BYTES, len)) {
        return 0;
    }
    *len_out = len;
    return 1;
}

/* Scans segment i (bytes [0, limit) of the file), replays its records at or after the
 * release point, skips damage and, in the last segment, cuts a torn tail. Returns the
 * count of good bytes in the last segment through *valid, and whether all bytes after
 * them are zero (preallocated room, not damage) through *zero_tail; 0 or an error code. */
static int scan_segment(gw_spool *s, const struct gw_spool_opts *o, size_t i, int fd,
                        uint64_t limit, uint64_t *valid, int *zero_tail, struct wr_err *err)
{
    uint64_t base = s->segs[i].start;
    int last = i + 1 == s->nsegs;
    *valid = 0;
    *zero_tail = 0;
    if (limit == 0) {
        return 0;
    }
    void *map = mmap(NULL, (size_t)limit, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        return wr_err_set(err, WR_EIO, "spool: mmap segment %016" PRIx64 ": %s", base,
                          strerror(errno));
    }
    const unsigned char *p = map;
    uint64_t off = 0;
    int rc = 0;
    while (off < limit) {
        uint32_t len;
        if (record_at(p, limit, off, base, &len)) {
            uint64_t lsn = base + off;
            if (lsn >= s->released_lsn) {
                s->st.replayed_records++;
                if (o->replay) {
                    int r = o->replay(o->cb_arg, lsn, (const char *)p + off + GW_SPOOL_HEADER_BYTES,
                                      len);
                    if (r != 0) {
                        rc = wr_err_set(err, r < 0 ? r : WR_EINVAL,
                                        "spool: replay stopped at position %" PRIu64, lsn);
                        break;
                    }
                }
            }
            off += GW_SPOOL_HEADER_BYTES + (uint64_t)len;
            *valid = off;
            continue;
        }
        if (last && all_zero(p + off, limit - off)) {
            *zero_tail = 1;
            break;
        }
        /* Lost framing: look for the next intact record. */
        uint64_t q = off + 1;
        int found = 0;
        while (q < limit) {
            const unsigned char *m = memmem(p + q, (size_t)(limit - q), spool_magic, 4);
            if (!m) {
                break;
            }
            q = (uint64_t)(m - p);
            uint32_t l2;
            if (record_at(p, limit, q, base, &l2)) {
                found = 1;
                break;
            }
            q++;
        }
        if (found) {
            report(o, "corrupt", base + off, q - off);
            s->st.corrupt_records++;
            s->st.corrupt_bytes += q - off;
            off = q;
            continue;
        }
        if (last) {
            /* What follows the torn bytes may be preallocated zeros: not counted. */
            uint64_t end = limit;
            while (s->prealloc && end > off && p[end - 1] == 0) {
                end--;
            }
            report(o, "torn", base + off, end - off);
            s->st.truncated_bytes += end - off;
        } else {
            report(o, "corrupt", base + off, limit - off);
            s->st.corrupt_records++;
            s->st.corrupt_bytes += limit - off;
        }
        break;
    }
    munmap(map, (size_t)limit);
    return rc;
}

static int recover(gw_spool *s, const struct gw_spool_opts *o, struct wr_err *err)
{
    int rc = list_segments(s, err);
    if (rc != 0) {
        return rc;
    }
    uint64_t released = 0;
    int ck = ckpt_read(s, &released);
    if (ck <= 0) {
        if (ck < 0 || s->nsegs > 0) {
            /* Without a trusted release point, replay everything still here: records may
             * reach the lake twice, none is lost. A fresh instance id keeps the names of
             * the new lake files apart from the old ones. */
            report(o, "checkpoint", s->nsegs ? s->segs[0].start : 0, 0);
        }
        released = s->nsegs ? s->segs[0].start : 0;
        if ((rc = make_instance_id(s, err)) != 0 || (rc = ckpt_write(s, released, err)) != 0) {
            return rc;
        }
    }
    s->released_lsn = released;

    /* Segments wholly below the release point: a crash came between the checkpoint and
     * their deletion. */
    size_t drop = 0;
    while (drop + 1 < s->nsegs && s->segs[drop + 1].start <= released) {
        char name[32];
        seg_name(name, sizeof(name), s->segs[drop].start);
        if (unlinkat(s->dir_fd, name, 0) != 0 && errno != ENOENT) {
            return wr_err_set(err, WR_EIO, "spool: delete %s/%s: %s", s->dir, name, strerror(errno));
        }
        drop++;
    }
    if (drop > 0) {
        memmove(s->segs, s->segs + drop, (s->nsegs - drop) * sizeof(*s->segs));
        s->nsegs -= drop;
    }

    for (size_t i = 0; i < s->nsegs; i++) {
        char name[32];
        seg_name(name, sizeof(name), s->segs[i].start);
        int last = i + 1 == s->nsegs;
        int fd = openat(s->dir_fd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            return wr_err_set(err, WR_EIO, "spool: open %s/%s: %s", s->dir, name, strerror(errno));
        }
        uint64_t limit = s->segs[i].len;
        if (!last) {
            uint64_t span = s->segs[i + 1].start - s->segs[i].start;
            if (limit < span) {
                report(o, "gap", s->segs[i].start + limit, span - limit);
            } else if (limit > span && file_zero(fd, span, limit)) {
                limit = span; /* preallocated room the segment did not use */
            } else if (limit > span) {
                report(o, "corrupt", s->segs[i + 1].start, limit - span);
                s->st.corrupt_records++;
                s->st.corrupt_bytes += limit - span;
                limit = span;
            }
        }
        uint64_t valid;
        int zero_tail;
        rc = scan_segment(s, o, i, fd, limit, &valid, &zero_tail, err);
        if (rc != 0) {
            close(fd);
            return rc;
        }
        if (!last) {
            close(fd);
            continue;
        }
        s->active_prealloc = zero_tail;
        if (zero_tail) {
            /* Writing goes on into the zero-filled room: nothing to cut. */
            s->segs[i].len = valid;
        } else if (valid < s->segs[i].len) {
            if (ftruncate(fd, (off_t)valid) != 0 || fdatasync(fd) != 0) {
                int e = errno;
                close(fd);
                return wr_err_set(err, WR_EIO, "spool: truncate %s/%s: %s", s->dir, name,
                                  strerror(e));
            }
            s->segs[i].len = valid;
        }
        s->fd = fd;
    }

    uint64_t end = s->nsegs ? s->segs[s->nsegs - 1].start + s->segs[s->nsegs - 1].len : 0;
    if (s->nsegs == 0 || end < released) {
        /* Positions must never be reused: lake files are named after them. */
        if (s->nsegs > 0) {
            report(o, "gap", end, released - end);
            close(s->fd);
            s->fd = -1;
        }
        end = released;
        int fd = create_segment(s, end, err);
        if (fd < 0) {
            return fd;
        }
        if (grow((void **)&s->segs, &s->segcap, s->nsegs + 1, sizeof(*s->segs)) != 0) {
            close(fd);
            return wr_err_set(err, WR_ENOMEM, "spool: out of memory");
        }
        s->segs[s->nsegs].start = end;
        s->segs[s->nsegs].len = 0;
        s->nsegs++;
        s->fd = fd;
    }
    s->end_lsn = end;
    s->durable_lsn = end;
    s->end_seg_start = s->segs[s->nsegs - 1].start;
    s->active_start = s->end_seg_start;
    s->pending.start_lsn = end;
    return 0;
}

/* ---- the writer thread ---- */

static unsigned batch_bucket(uint64_t records)
{
    unsigned b = 0;
    while (b + 1 < GW_SPOOL_BATCH_BUCKETS && ((uint64_t)1 << b) < records) {
        b++;
    }
    return b;
}

static unsigned fsync_bucket(double secs)
{
    unsigned b = 0;
    while (b + 1 < GW_SPOOL_FSYNC_BUCKETS && secs > gw_spool_fsync_bucket_le[b]) {
        b++;
    }
    return b;
}

static int timed_sync(gw_spool *s, int fd)
{
    double t0 = now_seconds();
    int r = io_fdatasync(s, fd);
    double dt = now_seconds() - t0;
    pthread_mutex_lock(&s->mu);
    s->st.fsyncs++;
    s->st.fsync_hist[fsync_bucket(dt)]++;
    s->st.fsync_seconds_sum += dt;
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* The segment being written holds no byte yet (a fresh spool, or a cut that found no
 * spare): the spare takes its name and place. */
static int adopt_spare(gw_spool *s, struct wr_err *err)
{
    char name[32];
    seg_name(name, sizeof(name), s->active_start);
    int fd = take_spare(s, name);
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

/* Writes and fsyncs one batch; 0 or WR_EIO/WR_ENOMEM with err filled. */
static int write_batch(gw_spool *s, struct batch *b, struct wr_err *err)
{
    size_t pos = 0, ci = 0;
    int dirty = 0;
    if (s->prealloc && !s->active_prealloc && b->start_lsn == s->active_start) {
        int rc = adopt_spare(s, err);
        if (rc != 0) {
            return rc;
        }
    }
    while (pos < b->len) {
        uint64_t lsn = b->start_lsn + pos;
        if (ci < b->ncuts && b->cuts[ci] == lsn) {
            /* The old segment is synced before the new one gets a byte, so a crash can
             * leave a torn tail only in the last segment. */
            if (dirty && timed_sync(s, s->fd) != 0) {
                return wr_err_set(err, WR_EIO, "spool: fdatasync %s/%016" PRIx64 SEG_SUFFIX ": %s",
                                  s->dir, s->active_start, strerror(errno));
            }
            dirty = 0;
            int fd = create_segment(s, lsn, err);
            if (fd < 0) {
                return fd;
            }
            close(s->fd);
            s->fd = fd;
            s->active_start = lsn;
            pthread_mutex_lock(&s->mu);
            int g = grow((void **)&s->segs, &s->segcap, s->nsegs + 1, sizeof(*s->segs));
            if (g == 0) {
                s->segs[s->nsegs].start = lsn;
                s->segs[s->nsegs].len = 0;
                s->nsegs++;
            }
            pthread_mutex_unlock(&s->mu);
            if (g != 0) {
                return wr_err_set(err, WR_ENOMEM, "spool: out of memory adding a segment");
            }
            ci++;
        }
        size_t stop = ci < b->ncuts ? (size_t)(b->cuts[ci] - b->start_lsn) : b->len;
        uint64_t file_off = lsn - s->active_start;
        if (write_all(s, s->fd, b->data + pos, stop - pos, file_off) != 0) {
            return wr_err_set(err, WR_EIO, "spool: write %s/%016" PRIx64 SEG_SUFFIX ": %s", s->dir,
                              s->active_start, strerror(errno));
        }
        dirty = 1;
        pthread_mutex_lock(&s->mu);
        s->segs[s->nsegs - 1].len = file_off + (stop - pos);
        s->st.written_bytes += stop - pos;
        pthread_mutex_unlock(&s->mu);
        pos = stop;
    }
    if (dirty && timed_sync(s, s->fd) != 0) {
        return wr_err_set(err, WR_EIO, "spool: fdatasync %s/%016" PRIx64 SEG_SUFFIX ": %s", s->dir,
                          s->active_start, strerror(errno));
    }
    return 0;
}

/* Best effort after a failed batch: every append of it is answered 503, so none of its
 * records may come back at the next start (a client retrying would get duplicates).
 * Segments the batch created are removed, the one it started in is cut back to where
 * the batch began. Nothing here can fail louder than the spool already has. */
static void rollback_batch(gw_spool *s, const struct batch *b)
{
    char name[64];
    pthread_mutex_lock(&s->mu);
    while (s->nsegs > 1 && s->segs[s->nsegs - 1].start > b->start_lsn) {
        seg_name(name, sizeof name, s->segs[s->nsegs - 1].start);
        unlinkat(s->dir_fd, name, 0);
        s->nsegs--;
    }
    uint64_t seg_start = s->nsegs ? s->segs[s->nsegs - 1].start : b->start_lsn;
    uint64_t keep = b->start_lsn > seg_start ? b->start_lsn - seg_start : 0;
    if (s->nsegs) {
        s->segs[s->nsegs - 1].len = keep;
    }
    pthread_mutex_unlock(&s->mu);
    seg_name(name, sizeof name, seg_start);
    int fd = openat(s->dir_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (ftruncate(fd, (off_t)keep) == 0) {
            fdatasync(fd);
        }
        close(fd);
    }
    fsync(s->dir_fd);
}

static void *writer_main(void *arg)
{
    gw_spool *s = arg;
    wr_thread_name("weir-spool");
    struct batch b;
    memset(&b, 0, sizeof(b));
    pthread_mutex_lock(&s->mu);
    for (;;) {
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
        if (failed) {
            status = WR_EIO;
        } else if (write_batch(s, &b, &werr) != 0) {
            /* A failed write or fsync is not retried: after an fsync error Linux may
             * have dropped the dirty pages, so nothing here can be promised again. */
            status = WR_EIO;
        }

        if (status != 0 && !failed) {
            rollback_batch(s, &b);
        }
        pthread_mutex_lock(&s->mu);
        if (status != 0 && !failed) {
            s->fail_err = werr;
            atomic_store(&s->failed, 1);
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
    batch_free(&b);
    return NULL;
}

/* ---- preallocation ---- */

/* Writes SPARE_NAME: size zero bytes, fdatasynced. 0 when done, 1 when stopped, -1 on
 * failure (the partial file is removed: a full disk must not stay fuller for it). Plain
 * writes, not the injectable ones: fault tests count the writer's calls. */
static int make_spare(gw_spool *s, const char *zero, uint64_t size)
{
    int fd = openat(s->dir_fd, SPARE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    int rc = 0;
    for (uint64_t off = 0; off < size && rc == 0; off += ZERO_CHUNK) {
        if (atomic_load(&s->prep_stop)) {
            rc = 1;
            break;
        }
        size_t n = size - off < ZERO_CHUNK ? (size_t)(size - off) : ZERO_CHUNK;
        /* Chunk by chunk to the disk: one fsync of the whole file would put tens of MiB
         * in the device queue at once, ahead of the group commits waiting behind it. */
        if (wr_write_all(fd, zero, n) != 0 || wr_sync_range(fd, (long long)off, (long long)n) != 0) {
            rc = -1;
        }
    }
    if (rc == 0 && fdatasync(fd) != 0) {
        rc = -1;
    }
    close(fd);
    if (rc != 0) {
        unlinkat(s->dir_fd, SPARE_NAME, 0);
    }
    return rc;
}

/* Keeps one spare ready; after a failure waits 10 s before the next try. */
static void *prep_main(void *arg)
{
    gw_spool *s = arg;
    wr_thread_background("weir-prealloc");
    char *zero = calloc(1, ZERO_CHUNK);
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
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 10;
            if (!atomic_load(&s->prep_stop)) {
                pthread_cond_timedwait(&s->prep_cond, &s->mu, &ts);
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(zero);
    return NULL;
}

/* ---- public ---- */

gw_spool *gw_spool_create(const struct gw_spool_opts *opts, struct wr_err *err)
{
    if (!opts || !opts->dir || !opts->dir[0]) {
        wr_err_set(err, WR_EINVAL, "spool: no directory given");
        return NULL;
    }
    gw_spool *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(opts->dir))) {
        free(s);
        wr_err_set(err, WR_ENOMEM, "spool: out of memory");
        return NULL;
    }
    s->dir_fd = -1;
    s->lock_fd = -1;
    s->fd = -1;
    s->segment_bytes = opts->segment_bytes ? opts->segment_bytes : GW_SPOOL_DEFAULT_SEGMENT_BYTES;
    s->max_bytes = opts->max_bytes ? opts->max_bytes : GW_SPOOL_DEFAULT_MAX_BYTES;
    s->max_record_bytes =
        opts->max_record_bytes ? opts->max_record_bytes : GW_SPOOL_DEFAULT_MAX_RECORD_BYTES;
    s->max_pending_bytes =
        opts->max_pending_bytes ? opts->max_pending_bytes : GW_SPOOL_DEFAULT_MAX_PENDING_BYTES;
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
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_cond_init(&s->prep_cond, NULL);
    s->prealloc = opts->preallocate;

    if (mkdir(s->dir, 0755) != 0 && errno != EEXIST) {
        wr_err_set(err, WR_EIO, "spool: mkdir %s: %s", s->dir, strerror(errno));
        goto fail;
    }
    s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        wr_err_set(err, WR_EIO, "spool: open %s: %s", s->dir, strerror(errno));
        goto fail;
    }
    s->lock_fd = openat(s->dir_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        wr_err_set(err, WR_EIO, "spool: open %s/%s: %s", s->dir, LOCK_NAME, strerror(errno));
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        wr_err_set(err, errno == EWOULDBLOCK ? WR_EAGAIN : WR_EIO, "spool: lock %s: %s", s->dir,
                   errno == EWOULDBLOCK ? "in use by another process" : strerror(errno));
        goto fail;
    }
    unlinkat(s->dir_fd, CKPT_TMP, 0);
    unlinkat(s->dir_fd, SPARE_NAME, 0); /* perhaps half written when the last run ended */
    if (recover(s, opts, err) != 0) {
        goto fail;
    }
    s->st.limit_bytes = s->max_bytes;
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        wr_err_set(err, WR_ENOMEM, "spool: cannot start the writer thread");
        goto fail;
    }
    s->thread_started = 1;
    if (s->prealloc) {
        s->prep_started = pthread_create(&s->prep_thread, NULL, prep_main, s) == 0;
    }
    return s;
fail:
    gw_spool_destroy(s);
    return NULL;
}

void gw_spool_drain(gw_spool *s)
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

void gw_spool_destroy(gw_spool *s)
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
        gw_spool_drain(s);
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
    batch_free(&s->pending);
    free(s->segs);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->prep_cond);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->release_mu);
    free(s->dir);
    free(s);
}

int gw_spool_append(gw_spool *s, const struct iovec *recs, size_t n, gw_spool_ack_fn ack,
                    void *arg, uint64_t *lsns)
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
        total += GW_SPOOL_HEADER_BYTES + (uint64_t)recs[i].iov_len;
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
    uint64_t used = s->end_lsn - s->segs[0].start;
    if (s->draining || s->stopping || used + total > s->max_bytes ||
        b->len + total > s->max_pending_bytes) {
        s->st.refused_full++;
        rc = WR_EAGAIN;
        goto out;
    }
    /* Reserve everything first, so a failure leaves no half-appended request. */
    if (grow((void **)&b->data, &b->cap, b->len + (size_t)total, 1) != 0 ||
        grow((void **)&b->cuts, &b->cutcap, b->ncuts + n, sizeof(*b->cuts)) != 0 ||
        grow((void **)&b->w, &b->wcap, b->nw + 1, sizeof(*b->w)) != 0) {
        rc = WR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t size = GW_SPOOL_HEADER_BYTES + (uint64_t)recs[i].iov_len;
        uint64_t in_seg = s->end_lsn - s->end_seg_start;
        if (in_seg > 0 && in_seg + size > s->segment_bytes) {
            b->cuts[b->ncuts++] = s->end_lsn;
            s->end_seg_start = s->end_lsn;
        }
        unsigned char *h = (unsigned char *)b->data + b->len;
        memcpy(h, spool_magic, 4);
        put_u32(h + 4, (uint32_t)recs[i].iov_len);
        put_u64(h + 8, s->end_lsn);
        put_u32(h + 16, crcs[i]);
        put_u32(h + 20, wr_crc32c(0, h, 20));
        if (recs[i].iov_len > 0) {
            memcpy(h + GW_SPOOL_HEADER_BYTES, recs[i].iov_base, recs[i].iov_len);
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

int gw_spool_append1(gw_spool *s, const char *p, size_t len, gw_spool_ack_fn ack, void *arg,
                     uint64_t *lsn)
{
    struct iovec v = {.iov_base = (void *)p, .iov_len = len};
    return gw_spool_append(s, &v, 1, ack, arg, lsn);
}

int gw_spool_release(gw_spool *s, uint64_t lsn)
{
    return gw_spool_release_err(s, lsn, NULL);
}

int gw_spool_release_err(gw_spool *s, uint64_t lsn, struct wr_err *err)
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
    int rc = ckpt_write(s, lsn, err);
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
        seg_name(name, sizeof(name), doomed);
        /* A segment left behind by a failed unlink is deleted again at the next open. */
        if (unlinkat(s->dir_fd, name, 0) != 0 && errno != ENOENT && rc == 0) {
            rc = wr_err_set(err, WR_EIO, "spool: delete %s/%s: %s", s->dir, name, strerror(errno));
        }
    }
    pthread_mutex_unlock(&s->release_mu);
    return rc;
}

const char *gw_spool_instance_id(const gw_spool *s)
{
    return s->instance;
}

int gw_spool_failed(const gw_spool *s)
{
    return atomic_load(&s->failed);
}

void gw_spool_failure(gw_spool *s, struct wr_err *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->fail_err;
    pthread_mutex_unlock(&s->mu);
}

uint64_t gw_spool_durable_lsn(gw_spool *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->durable_lsn;
    pthread_mutex_unlock(&s->mu);
    return v;
}

void gw_spool_stats(gw_spool *s, struct gw_spool_stats *out)
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

static int metric(struct wr_buf *out, const char *name, const char *type, const char *help,
                  uint64_t v)
{
    return wr_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name,
                         type, name, v);
}

int gw_spool_metrics(gw_spool *s, struct wr_buf *out)
{
    struct gw_spool_stats st;
    gw_spool_stats(s, &st);
    int rc = 0;
    keep(&rc, metric(out, "weir_spool_appended_records_total", "counter",
                 "Records accepted by the spool since start.", st.appended_records));
    keep(&rc, metric(out, "weir_spool_appended_bytes_total", "counter",
                 "Payload bytes accepted by the spool since start.", st.appended_bytes));
    keep(&rc, metric(out, "weir_spool_written_bytes_total", "counter",
                 "Framed bytes written to spool segments since start.", st.written_bytes));
    keep(&rc, metric(out, "weir_spool_fsyncs_total", "counter",
                 "fdatasync calls of the spool writer (group commits).", st.fsyncs));
    keep(&rc, wr_buf_printf(out, "# HELP weir_spool_refused_total Appends refused, by reason.\n"
                             "# TYPE weir_spool_refused_total counter\n"
                             "weir_spool_refused_total{reason=\"full\"} %" PRIu64 "\n"
                             "weir_spool_refused_total{reason=\"failed\"} %" PRIu64 "\n",
                        st.refused_full, st.refused_failed));
    keep(&rc, metric(out, "weir_spool_disk_bytes", "gauge",
                 "Record bytes in spool segment files (preallocated room and the spare not counted).",
                 st.disk_bytes));
    keep(&rc, metric(out, "weir_spool_used_bytes", "gauge",
                 "Bytes counted against the spool limit (segments and pending).", st.used_bytes));
    keep(&rc, metric(out, "weir_spool_limit_bytes", "gauge", "The spool size limit.", st.limit_bytes));
    keep(&rc, metric(out, "weir_spool_segments", "gauge", "Spool segment files on disk.", st.segments));
    keep(&rc, metric(out, "weir_spool_unreleased_bytes", "gauge",
                 "Bytes appended but not yet released (not yet in the lake).",
                 st.end_lsn - st.released_lsn));
    keep(&rc, metric(out, "weir_spool_replayed_records_total", "counter",
                 "Records replayed from the spool at start.", st.replayed_records));
    keep(&rc, metric(out, "weir_spool_corrupt_records_total", "counter",
                 "Damaged stretches skipped in the spool at start.", st.corrupt_records));
    keep(&rc, metric(out, "weir_spool_corrupt_bytes_total", "counter",
                 "Bytes skipped as damaged in the spool at start.", st.corrupt_bytes));
    keep(&rc, metric(out, "weir_spool_truncated_bytes_total", "counter",
                 "Bytes of a torn spool tail cut at start.", st.truncated_bytes));
    keep(&rc, metric(out, "weir_spool_preallocated_segments_total", "counter",
                 "Segments that began as a zero-filled spare file.", st.prealloc_taken));
    keep(&rc, metric(out, "weir_spool_preallocation_failures_total", "counter",
                 "Spare segment files that could not be written (e.g. disk full).",
                 st.prealloc_failed));
    keep(&rc, metric(out, "weir_spool_failed", "gauge",
                 "1 when a write or fsync error stopped the spool.", (uint64_t)st.failed));

    keep(&rc, wr_buf_printf(out, "# HELP weir_spool_fsync_seconds Latency of the spool's fdatasync.\n"
                             "# TYPE weir_spool_fsync_seconds histogram\n"));
    uint64_t cum = 0;
    for (int b = 0; b < GW_SPOOL_FSYNC_BUCKETS; b++) {
        cum += st.fsync_hist[b];
        if (b + 1 < GW_SPOOL_FSYNC_BUCKETS) {
            keep(&rc, wr_buf_printf(out, "weir_spool_fsync_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                                gw_spool_fsync_bucket_le[b], cum));
        } else {
            keep(&rc, wr_buf_printf(out, "weir_spool_fsync_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                                cum));
        }
    }
    keep(&rc, wr_buf_printf(out, "weir_spool_fsync_seconds_sum %.6f\nweir_spool_fsync_seconds_count %"
                             PRIu64 "\n", st.fsync_seconds_sum, cum));

    keep(&rc, wr_buf_printf(out, "# HELP weir_spool_batch_records Records made durable per group "
                             "commit.\n# TYPE weir_spool_batch_records histogram\n"));
    cum = 0;
    for (int b = 0; b < GW_SPOOL_BATCH_BUCKETS; b++) {
        cum += st.batch_hist[b];
        if (b + 1 < GW_SPOOL_BATCH_BUCKETS) {
            keep(&rc, wr_buf_printf(out, "weir_spool_batch_records_bucket{le=\"%u\"} %" PRIu64 "\n",
                                1u << b, cum));
        } else {
            keep(&rc, wr_buf_printf(out, "weir_spool_batch_records_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                                cum));
        }
    }
    keep(&rc, wr_buf_printf(out, "weir_spool_batch_records_sum %" PRIu64
                             "\nweir_spool_batch_records_count %" PRIu64 "\n",
                        st.batch_records_sum, cum));
    return rc;
}
