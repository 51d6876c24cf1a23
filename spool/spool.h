/* spool.h - spool/, durability in one room: the one owner of every file of the spool
 * directory. The write-ahead log (segments, checkpoint, lock, preallocated spare) is
 * here; the record codec the gateway puts in it is record.h; the journal of ranges
 * already in the lake, which makes replay exactly-once, is journal.h. Modelled on
 * PostgreSQL's transam split: writer.c (xlog.c), recovery.c (xlogreader/xlogrecovery).
 *
 * The spool directory (--spool-dir):
 *
 *   <dir>/
 *     LOCK                     empty; flock(LOCK_EX) by the one process using the spool
 *     checkpoint               release point + instance id (text, below)
 *     checkpoint.tmp           a checkpoint being replaced (deleted at open)
 *     0000000000000000.wal     segment: records from position 0x0 on
 *     0000000004000000.wal     segment: records from position 0x4000000 on (16 hex digits,
 *     ...                        lowercase: the position of its first byte)
 *     spare.tmp                the next segment, zero-filled ahead (deleted at open)
 *     probe.tmp                a write test after a transient error (deleted at once)
 *     sink.journal             journal of flushed ranges (journal.h)
 *     sink.journal.tmp         a journal being compacted (replaced atomically)
 *
 * Byte order: every binary integer on disk is little-endian, whatever the host. Text
 * numbers (checkpoint, journal) are ASCII, decimal or fixed-width lowercase hex.
 *
 * Segment record (24-byte header, then the payload):
 *
 *   offset 0   magic      4 bytes  F7 77 73 70 ("\xF7wsp"; 0xF7 never occurs in UTF-8)
 *          4   len        u32      payload bytes
 *          8   position   u64      this record's own position (LSN)
 *         16   crc        u32      CRC-32C of the payload
 *         20   hcrc       u32      CRC-32C of bytes 0..19
 *         24   payload    len bytes (record.h for the gateway's payload)
 *
 *   Records follow each other with no padding; a preallocated segment ends in zero bytes
 *   (free room, not damage). The stored position and header CRC let a scan that lost the
 *   framing find the next true record with no false start.
 *
 * Checkpoint (whole file, replaced by write-temp/fsync/rename/fsync-dir):
 *
 *   weir-spool 1\n
 *   instance <16 lowercase hex>\n
 *   released <decimal position>\n
 *   crc <8 lowercase hex: CRC-32C of the lines above>\n
 */
#ifndef WEIR_SPOOL_H
#define WEIR_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "common/err.h"

/* Positions (LSNs) are byte offsets in the log as if all segments were one file: 64-bit,
 * strictly increasing across segments and restarts (the positions of records answered
 * WR_EAGAIN, never stored, are given again). A record at lsn with payload len
 * bytes ends at sp_spool_record_end(lsn, len), which is where the next record starts. */
#define SP_SPOOL_HEADER_BYTES 24u
#define sp_spool_record_end(lsn, len) ((uint64_t)(lsn) + SP_SPOOL_HEADER_BYTES + (uint64_t)(len))

#define SP_SPOOL_DEFAULT_SEGMENT_BYTES (64ull << 20)
#define SP_SPOOL_DEFAULT_MAX_BYTES (1ull << 30)
#define SP_SPOOL_DEFAULT_MAX_RECORD_BYTES (16u << 20)
#define SP_SPOOL_DEFAULT_MAX_PENDING_BYTES (64ull << 20)

typedef struct sp_spool sp_spool;

/* Called on the writer thread, exactly once per successful sp_spool_append, in append
 * order: status 0 when every record of that append is fsynced; WR_EAGAIN when a
 * transient error (EMFILE, ENFILE, ENOSPC, EIO on open or write, its bytes cut back)
 * kept them out (not stored: answer 503 + Retry-After; the spool probes with backoff and
 * takes appends again once it can write); WR_EIO when the spool failed for good before
 * they were (not stored: answer 503). Must not block long nor call sp_spool_drain or
 * destroy; may call sp_spool_append. */
typedef void (*sp_spool_ack_fn)(void *arg, int status);

/* Recovery: called at open for every intact record at or after the release point, in
 * position order. p is valid only during the call. Return 0 to go on; anything else
 * aborts sp_spool_create (which then fails with that code if negative, else WR_EINVAL). */
typedef int (*sp_spool_replay_fn)(void *arg, uint64_t lsn, const char *p, size_t len);

/* Recovery: called for damage found at open. what is "corrupt" (bytes skipped in the
 * middle of the log, later records kept), "torn" (a partial or bad tail cut off by
 * truncation), "gap" (positions with no segment bytes, e.g. a short or missing file),
 * or "checkpoint" (missing or damaged checkpoint beside segments: everything still on
 * disk is replayed, under a new instance id). lsn is where the damage starts, bytes how
 * much was skipped or cut. For the caller's log and metrics. */
typedef void (*sp_spool_report_fn)(void *arg, const char *what, uint64_t lsn, uint64_t bytes);

/* Fault injection for tests: replacements for pwrite and fdatasync (NULL members mean
 * the real call). They return like the system calls, setting errno on failure. */
struct sp_spool_io {
    ssize_t (*pwrite_fn)(void *arg, int fd, const void *p, size_t len, off_t off);
    int (*fdatasync_fn)(void *arg, int fd);
    void *arg;
};

struct sp_spool_opts {
    const char *dir;              /* required; created (one level) when missing */
    uint64_t segment_bytes;       /* 0 = 64 MiB, at most max_bytes / 8 (min 4 KiB); a new
                                    segment starts before a record that would make the
                                    current one larger */
    uint64_t max_bytes;           /* 0 = 1 GiB: segments on disk plus pending bytes */
    uint32_t max_record_bytes;    /* 0 = 16 MiB: largest payload of one record */
    uint64_t max_pending_bytes;   /* 0 = 64 MiB: memory for bytes not yet written */
    sp_spool_replay_fn replay;    /* may be NULL (records are then only scanned) */
    sp_spool_report_fn report;    /* may be NULL */
    void *cb_arg;                 /* passed to replay and report */
    const struct sp_spool_io *io; /* NULL in production; kept by pointer for the spool's life */
    int preallocate;              /* 1: a background thread zero-fills the next segment file
                                    ahead of need ("spare.tmp", one segment of disk), so a
                                    group commit's fdatasync writes data blocks only: no
                                    file size change, no file system journal commit */
};

/* Opens (or creates) the spool in opts->dir: takes an exclusive lock on the directory,
 * reads the checkpoint (release point and instance id; both made on first use), deletes
 * segments wholly below the release point, scans the rest (the zero-filled room of a
 * preallocated segment is free space, not damage), truncates a torn tail, skips
 * and reports corrupt records, calls opts->replay for every record at or after the
 * release point, then starts the writer thread. Returns NULL and fills err on failure
 * (WR_EAGAIN: another process holds the spool; WR_EIO: file system). */
sp_spool *sp_spool_create(const struct sp_spool_opts *opts, struct wr_err *err);

/* Stops new appends (they get WR_EAGAIN), writes and fsyncs everything pending, and
 * returns once every ack callback has been delivered. Idempotent. Thread-safe, but not
 * from an ack callback. */
void sp_spool_drain(sp_spool *s);

/* Drains, stops the writer thread, closes files and frees. NULL is a no-op. */
void sp_spool_destroy(sp_spool *s);

/* Copies n records (recs[i] is one record's payload) into the pending batch and returns
 * at once; never waits for the disk. On 0, lsns[i] (when lsns is not NULL) is the
 * position of record i, and ack(arg, status) will be called exactly once on the writer
 * thread when they are all durable (or the spool failed). n may be 0: the ack then
 * comes once everything appended before is durable. On error nothing is appended and
 * ack is never called:
 *   WR_EAGAIN  spool full (max_bytes or max_pending_bytes), draining, or held by a
 *              transient error (sp_spool_writable): 503 + Retry-After
 *   WR_EIO     the spool has failed for good (an fsync error, or a write error it could
 *              not cut back): 503, not ready
 *   WR_ELIMIT  a record is larger than max_record_bytes
 *   WR_EINVAL  bad arguments (NULL ack, NULL record with len > 0)
 * Thread-safe: any number of threads may append at once. */
int sp_spool_append(sp_spool *s, const struct iovec *recs, size_t n, sp_spool_ack_fn ack, void *arg,
                    uint64_t *lsns);

/* The same as sp_spool_append for one record given as (p, len). */
int sp_spool_append1(sp_spool *s, const char *p, size_t len, sp_spool_ack_fn ack, void *arg,
                     uint64_t *lsn);

/* Declares that every record whose position is below lsn is safely in the lake. Records
 * the new release point durably (checkpoint file: temp + fsync + rename + fsync dir),
 * then deletes the segments that lie wholly below it (never the one being written).
 * A restart replays from the release point. lsn at or below the current release point
 * is a no-op returning 0; above the durable end it is WR_EINVAL. A failed checkpoint
 * write returns WR_EIO and changes nothing (retry later); a failed deletion returns
 * WR_EIO after the release took effect (the file is deleted again at the next open).
 * Blocks on the disk: call from the flusher, not a
 * request thread. Thread-safe. Partitions interleave in the log, so the caller passes
 * the smallest position still held by any unflushed buffer (or the durable end when
 * all are flushed). */
int sp_spool_release(sp_spool *s, uint64_t lsn);

/* sp_spool_release, with the reason of a failure in *err (which may be NULL). */
int sp_spool_release_err(sp_spool *s, uint64_t lsn, struct wr_err *err);

/* 16 lowercase hex characters made at random when the spool directory was first used and
 * kept in its checkpoint: with record positions it names lake files uniquely. Valid for
 * the spool's life. */
const char *sp_spool_instance_id(const sp_spool *s);

/* 1 once a write or fsync error has put the spool in the failed state for good, else 0.
 * Lock-free. */
int sp_spool_failed(const sp_spool *s);

/* 1 while appends can succeed: not failed, and not held by a transient error (EMFILE,
 * ENFILE, ENOSPC, EIO). After a transient error the writer probes the directory with
 * backoff (50 ms doubling to 5 s) and clears the hold once a probe write succeeds.
 * Lock-free. */
int sp_spool_writable(const sp_spool *s);

/* Copies why the spool failed, or why it is held by a transient error, into *out (code
 * WR_EIO or WR_ENOMEM and a message naming the file and the system error; the last one
 * seen); code 0 and an empty message while it never has. For
 * the one log line of the caller. Thread-safe. */
void sp_spool_failure(sp_spool *s, struct wr_err *out);

/* Every record whose position is below the returned one is fsynced (acknowledged).
 * A flusher must put only such records into lake files: positions past it can be cut
 * by a crash and then reused by new records. Thread-safe. */
uint64_t sp_spool_durable_lsn(sp_spool *s);

/* Upper bounds of the histogram buckets below (the last is +Inf). */
#define SP_SPOOL_BATCH_BUCKETS 12 /* records per fsync: 1 2 4 ... 1024 +Inf */
#define SP_SPOOL_FSYNC_BUCKETS 12 /* seconds: see sp_spool_fsync_bucket_le */
extern const double sp_spool_fsync_bucket_le[SP_SPOOL_FSYNC_BUCKETS];

/* A snapshot of counters for /metrics. Histogram buckets are not cumulative. */
struct sp_spool_stats {
    uint64_t appended_records;                   /* accepted by sp_spool_append since open */
    uint64_t appended_bytes;                     /* their payload bytes */
    uint64_t written_bytes;                      /* framed bytes written to segments */
    uint64_t fsyncs;                             /* fdatasync calls of the writer (group commits) */
    uint64_t batch_hist[SP_SPOOL_BATCH_BUCKETS]; /* records per group commit */
    uint64_t batch_records_max;
    uint64_t batch_records_sum;                  /* records made durable by group commits */
    uint64_t fsync_hist[SP_SPOOL_FSYNC_BUCKETS]; /* fdatasync latency */
    double fsync_seconds_sum;
    uint64_t refused_full;       /* appends refused with WR_EAGAIN */
    uint64_t refused_failed;     /* appends refused with WR_EIO */
    uint64_t refused_unwritable; /* appends refused with WR_EAGAIN during a transient error */
    uint64_t transient_errors;   /* batches answered WR_EAGAIN by a transient error */
    uint64_t disk_bytes;         /* record bytes in segment files (not their zero-filled room) */
    uint64_t used_bytes;         /* what counts against max_bytes (disk + pending) */
    uint64_t limit_bytes;        /* max_bytes */
    uint64_t segments;           /* segment files on disk */
    uint64_t end_lsn;            /* position after the last appended record */
    uint64_t durable_lsn;        /* everything below is fsynced */
    uint64_t released_lsn;       /* everything below is in the lake */
    uint64_t replayed_records;   /* at open */
    uint64_t corrupt_records;    /* damaged stretches skipped at open */
    uint64_t corrupt_bytes;
    uint64_t truncated_bytes; /* torn tail cut at open */
    uint64_t prealloc_taken;  /* segments that started as a zero-filled spare */
    uint64_t prealloc_failed; /* spares that could not be made (e.g. disk full) */
    int spare_ready;          /* a zero-filled spare waits for the next segment */
    int failed;               /* for good */
    int stalled;              /* held by a transient error until a probe writes */
};

/* Fills *out with the current counters. Thread-safe. */
void sp_spool_stats(sp_spool *s, struct sp_spool_stats *out);

/* Appends the spool's metrics to out in the Prometheus text exposition format (families
 * weir_spool_*, each with # HELP and # TYPE; histograms cumulative with _sum and _count).
 * Returns 0 or the wr_buf error (WR_ELIMIT when out's cap is reached). Thread-safe. */
int sp_spool_metrics(sp_spool *s, struct wr_buf *out);

#endif
