/* spool_int.h - private to spool/: the writer's state shared by the files of the module
 * (spool.c open/close and accessors, segment.c files, checkpoint.c, recovery.c,
 * writer.c), and the byte-level helpers of the formats spool.h draws. Nothing outside
 * spool/ includes it. */
#ifndef WEIR_SPOOL_INT_H
#define WEIR_SPOOL_INT_H

#include "spool/spool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/* File names in the spool directory (the layout is drawn in spool.h). */
#define SP__CKPT_NAME "checkpoint"
#define SP__CKPT_TMP "checkpoint.tmp"
#define SP__LOCK_NAME "LOCK"
#define SP__SEG_SUFFIX ".wal"
#define SP__SPARE_NAME "spare.tmp" /* the next segment, being zero-filled or ready */
#define SP__PROBE_NAME "probe.tmp" /* the writer's write test after a transient error */
#define SP__ZERO_CHUNK (1u << 20)

/* Mode of every file and directory the spool creates: the process umask decides (weir
 * sets 077 at start, so they end 0600/0700); nothing here widens it afterwards. */
#define SP__FILE_MODE 0666
#define SP__DIR_MODE 0777

/* Backoff of the writer after a transient error (EMFILE, ENFILE, ENOSPC, EIO). */
#define SP__STALL_MIN_MS 50
#define SP__STALL_MAX_MS 5000

extern const unsigned char sp__magic[4];

struct seg {
    uint64_t start; /* position of its first byte, also its file name */
    uint64_t len;   /* bytes in the file */
};

struct waiter {
    sp_spool_ack_fn ack;
    void *arg;
};

/* Bytes appended but not yet written, with the acks they owe. */
struct batch {
    char *data;
    size_t len, cap;
    uint64_t start_lsn; /* position of data[0] */
    uint64_t *cuts;     /* positions where a new segment file begins */
    size_t ncuts, cutcap;
    struct waiter *w;
    size_t nw, wcap;
    uint64_t records;
};

struct sp_spool {
    char *dir;
    int dir_fd;
    int lock_fd;
    int fd;                /* the segment being written; writer thread only after open */
    uint64_t active_start; /* start of that segment; writer thread only after open */
    int active_prealloc;   /* that file is zero-filled ahead; writer thread only after open */
    int prealloc;
    uint64_t segment_bytes, max_bytes, max_pending_bytes;
    uint32_t max_record_bytes;
    struct sp_spool_io io;
    char instance[17];

    pthread_mutex_t mu;  /* guards everything below */
    pthread_cond_t work; /* writer waits for appends, the end of a stall, or stop */
    pthread_cond_t idle; /* drain waits for the writer */
    struct seg *segs;    /* sorted; the last is being written */
    size_t nsegs, segcap;
    struct batch pending;
    uint64_t end_lsn;       /* after the last appended record */
    uint64_t end_seg_start; /* start of the segment end_lsn falls in */
    uint64_t durable_lsn;
    uint64_t released_lsn;
    int draining, stopping, busy;
    atomic_int failed;      /* for good: a write or fsync error that cannot be undone */
    atomic_int stalled;     /* a transient error: appends refused until a probe writes */
    int64_t stall_ms;       /* the current backoff; writer thread */
    struct wr_err fail_err; /* why the spool failed or stalled */
    struct sp_spool_stats st;

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

/* Little-endian, whatever the host (spool.h: one byte order for every binary integer). */
static inline void sp__put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static inline void sp__put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static inline uint32_t sp__get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static inline uint64_t sp__get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

/* segment.c: names, I/O through the test hooks, growable arrays, segment files. */
void sp__seg_name(char *out, size_t cap, uint64_t start);
double sp__now_seconds(void);
ssize_t sp__io_pwrite(sp_spool *s, int fd, const void *p, size_t len, off_t off);
int sp__io_fdatasync(sp_spool *s, int fd);
/* pwrite all len bytes at off through the hooks; *written (when not NULL) counts the
 * bytes that reached the file, also on failure. 0, or -1 with errno set. */
int sp__write_all(sp_spool *s, int fd, const char *p, size_t len, uint64_t off, size_t *written);
int sp__grow(void **p, size_t *cap, size_t need, size_t elem);
void sp__batch_free(struct batch *b);
int sp__list_segments(sp_spool *s, struct wr_err *err);
int sp__take_spare(sp_spool *s, const char *name);
/* Opens a new segment file at start (the spare when ready) and makes its name durable:
 * the fd, or WR_EIO with err filled and errno kept from the failed call. */
int sp__create_segment(sp_spool *s, uint64_t start, struct wr_err *err);

/* checkpoint.c: the release point and instance id, replaced atomically. */
int sp__ckpt_write(sp_spool *s, uint64_t released, struct wr_err *err);
int sp__ckpt_read(sp_spool *s, uint64_t *released);
int sp__make_instance_id(sp_spool *s, struct wr_err *err);

/* recovery.c: the scan at open. */
int sp__recover(sp_spool *s, const struct sp_spool_opts *o, struct wr_err *err);

/* writer.c: the writer and preallocation threads. */
void *sp__writer_main(void *arg);
void *sp__prep_main(void *arg);

#endif
