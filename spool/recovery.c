/* recovery.c - the scan at open: drops segments below the release point, replays every
 * intact record at or after it, skips and reports damage, cuts a torn tail, and leaves
 * the writer positioned at the end. */
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

/* ---- recovery ---- */

static void report(const struct sp_spool_opts *o, const char *what, uint64_t lsn, uint64_t bytes)
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
    if (size - off < SP_SPOOL_HEADER_BYTES) {
        return 0;
    }
    const unsigned char *h = p + off;
    if (memcmp(h, sp__magic, 4) != 0 || sp__get_u32(h + 20) != wr_crc32c(0, h, 20) ||
        sp__get_u64(h + 8) != base + off) {
        return 0;
    }
    uint32_t len = sp__get_u32(h + 4);
    if ((uint64_t)len > size - off - SP_SPOOL_HEADER_BYTES) {
        return 0;
    }
    if (sp__get_u32(h + 16) != wr_crc32c(0, h + SP_SPOOL_HEADER_BYTES, len)) {
        return 0;
    }
    *len_out = len;
    return 1;
}

/* Scans segment i (bytes [0, limit) of the file), replays its records at or after the
 * release point, skips damage and, in the last segment, cuts a torn tail. Returns the
 * count of good bytes in the last segment through *valid, and whether all bytes after
 * them are zero (preallocated room, not damage) through *zero_tail; 0 or an error code. */
static int scan_segment(sp_spool *s, const struct sp_spool_opts *o, size_t i, int fd,
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
                    int r = o->replay(o->cb_arg, lsn, (const char *)p + off + SP_SPOOL_HEADER_BYTES,
                                      len);
                    if (r != 0) {
                        rc = wr_err_set(err, r < 0 ? r : WR_EINVAL,
                                        "spool: replay stopped at position %" PRIu64, lsn);
                        break;
                    }
                }
            }
            off += SP_SPOOL_HEADER_BYTES + (uint64_t)len;
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
            const unsigned char *m = memmem(p + q, (size_t)(limit - q), sp__magic, 4);
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

int sp__recover(sp_spool *s, const struct sp_spool_opts *o, struct wr_err *err)
{
    int rc = sp__list_segments(s, err);
    if (rc != 0) {
        return rc;
    }
    uint64_t released = 0;
    int ck = sp__ckpt_read(s, &released);
    if (ck <= 0) {
        if (ck < 0 || s->nsegs > 0) {
            /* Without a trusted release point, replay everything still here: records may
             * reach the lake twice, none is lost. A fresh instance id keeps the names of
             * the new lake files apart from the old ones. */
            report(o, "checkpoint", s->nsegs ? s->segs[0].start : 0, 0);
        }
        released = s->nsegs ? s->segs[0].start : 0;
        if ((rc = sp__make_instance_id(s, err)) != 0 ||
            (rc = sp__ckpt_write(s, released, err)) != 0) {
            return rc;
        }
    }
    s->released_lsn = released;

    /* Segments wholly below the release point: a crash came between the checkpoint and
     * their deletion. */
    size_t drop = 0;
    while (drop + 1 < s->nsegs && s->segs[drop + 1].start <= released) {
        char name[32];
        sp__seg_name(name, sizeof(name), s->segs[drop].start);
        if (unlinkat(s->dir_fd, name, 0) != 0 && errno != ENOENT) {
            return wr_err_set(err, WR_EIO, "spool: delete %s/%s: %s", s->dir, name,
                              strerror(errno));
        }
        drop++;
    }
    if (drop > 0) {
        memmove(s->segs, s->segs + drop, (s->nsegs - drop) * sizeof(*s->segs));
        s->nsegs -= drop;
    }

    for (size_t i = 0; i < s->nsegs; i++) {
        char name[32];
        sp__seg_name(name, sizeof(name), s->segs[i].start);
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
        int fd = sp__create_segment(s, end, err);
        if (fd < 0) {
            return fd;
        }
        if (sp__grow((void **)&s->segs, &s->segcap, s->nsegs + 1, sizeof(*s->segs)) != 0) {
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
