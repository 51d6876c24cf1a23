/* sink_int.h - private to the sink (sink*.c, buffers.c): the state its threads share,
 * who owns which part and under which lock, and the partition buffers.
 *
 * Files and threads:
 *   sink.c         create (spool open + replay), drain, destroy: the caller's thread
 *   sink_submit.c  gw_sink_submit (request threads) and the spool's ack (spool writer)
 *   sink_buffer.c  the buffer thread: acknowledged records -> partition buffers
 *   sink_flush.c   the flusher thread: closed buffers -> lake files, journal, release
 *   sink_metrics.c the metrics text (any thread)
 *   buffers.c      one partition buffer (gzip members), used by the buffer thread
 *
 * Locks. drain_mu (one drain at a time) is taken first; submit_mu (ack_from_memory only:
 * append order = queue order) next; under either of them a thread may take qmu, mu or call
 * the spool (whose release_mu and mu it takes inside). qmu (the ack queue), mu (the buffer
 * table, closed queue, release point) and the spool's locks (its release_mu before its
 * mu) are leaves: no thread holds two of these groups at once. The spool delivers acks with none of its locks held; the ack takes
 * qmu only. Waits: qcond/qdone on qmu, fcond/fidle on mu (CLOCK_MONOTONIC). No lock is
 * held across a disk write or a lake put, except the spool's release_mu (its checkpoint).
 */
#ifndef WEIR_GW_SINK_INT_H
#define WEIR_GW_SINK_INT_H

#include "common/clock.h"
#include "gateway/sink.h"
#include "spool/journal.h"
#include "spool/record.h"
#include "spool/spool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

struct libdeflate_compressor;

#define NBUCKETS 1024u
#define MAX_OPEN_BUFFERS 1024u     /* each holds up to one raw chunk + its compressed bytes */
#define HOUR_GRACE_MS 5000         /* lines of an hour may still arrive this long after it */
#define GZIP_LEVEL 1               /* libdeflate level; see bench_sink for the others */
#define GZIP_CHUNK (256u << 10)    /* raw bytes per gzip member; see bench_sink */
#define DESTROY_DRAIN_MS 10000     /* destroy without an earlier drain waits this long */
#define MAX_INFLIGHT_BYTES (64u << 20) /* submitted, not yet in buffers: then WR_EAGAIN */
/* Past this backlog a submit first waits for the buffer thread (at most THROTTLE_MAX_MS):
 * a sustained load beyond what compression keeps up with gets slower answers, not 503s,
 * and the HTTP threads' waiting leaves the buffer thread the CPU it lacks. */
#define THROTTLE_INFLIGHT_BYTES (MAX_INFLIGHT_BYTES / 4)
#define THROTTLE_MAX_MS 250
/* The buffer thread is woken once this much waits for it, else picks the queue up
 * within QUEUE_LINGER_MS: answers never wait for it (the spool acknowledges), so a
 * wake-up per group commit would only cost context switches. */
#define QUEUE_WAKE_BYTES (256u << 10)
#define QUEUE_LINGER_MS 5
#define RELEASE_EVERY_MS 200      /* at most this long between releases under a backlog */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 5000

/* Lake put latency buckets, seconds (the last is +Inf; sink_flush.c). */
#define PUT_BUCKETS 14
extern const double gw__put_bucket_le[PUT_BUCKETS];

/* One gw_sink_submit: its records (one heap block) on their way to the buffer thread. */
struct gw__req {
    struct gw__req *next;
    gw_sink *s;
    gw_sink_done_fn done;
    void *arg;
    int status;
    size_t n;
    size_t bytes; /* record bytes, for the in-flight cap */
    uint64_t *lsns;
    struct iovec *iov;
};

struct gw_sink {
    sp_spool *spool;
    atomic_bool spool_failure_logged; /* the spool's failure is logged once, with its cause */
    atomic_bool spool_stall_logged;   /* a transient spool error is logged once per episode */
    lake_store *store;
    char *dir;
    char instance[128];
    uint64_t flush_bytes;
    int64_t interval_ms;
    int64_t tick_ms;
    size_t out_max;
    bool ack_mem;
    /* The buffers' compressor: used by create's replay, then by the buffer thread only. */
    struct libdeflate_compressor *cz;

    /* Spool acks -> buffer thread, in LSN order. */
    pthread_mutex_t qmu;
    pthread_cond_t qcond; /* buffer thread waits for work */
    pthread_cond_t qdone; /* drain waits for the buffer thread */
    struct gw__req *qhead, *qtail;
    size_t qbytes;  /* record bytes in the queue */
    int qsleeping;  /* the buffer thread waits on qcond: only then is a signal needed */
    uint64_t drain_req, drain_done;
    int qstop;
    pthread_mutex_t submit_mu; /* ack_from_memory: keeps append order = queue order */
    /* Submits waiting for the backlog to fall under THROTTLE_INFLIGHT_BYTES. */
    pthread_mutex_t room_mu;
    pthread_cond_t room;
    atomic_int room_waiters; /* the buffer thread signals only when someone waits */

    /* Buffers. The buffer thread alone changes them, under mu; the flusher reads them
     * under mu to compute the release point. */
    pthread_mutex_t mu;
    pthread_cond_t fcond; /* flusher waits for closed buffers or stop */
    pthread_cond_t fidle; /* drain waits for the flusher */
    struct gw__pbuf *table[NBUCKETS];
    size_t nopen;
    struct gw__pbuf *chead, *ctail;
    size_t nclosed;
    struct gw__pbuf *inflight;
    int fbusy;
    uint64_t processed_end; /* every record below is in a buffer, in the lake or skipped */
    uint64_t released;
    int fstop;

    /* The journal of flushed ranges: create, then the flusher thread only. */
    sp_journal *journal;

    pthread_mutex_t drain_mu;
    atomic_int draining;
    int drain_tried, drained;
    atomic_int failed; /* a buffer could not be built: release frozen, not ready */
    int replaying;

    pthread_t bthread, fthread;
    int bstarted, fstarted;

    /* Metrics (relaxed atomics: each is written by one thread). */
    atomic_uint_fast64_t lines_in[2], bytes_in[2];
    atomic_uint_fast64_t files[2], file_bytes[2], file_lines[2];
    atomic_uint_fast64_t flush_ok, flush_failed, release_failed, journal_failed;
    atomic_uint_fast64_t replayed, replay_skipped, unplaceable, late_lines;
    atomic_uint_fast64_t open_raw_bytes, open_gz_bytes, queued_gz_bytes;
    atomic_uint_fast64_t inflight_bytes, refused_busy, throttled, throttled_ns;
    atomic_uint_fast64_t closed_size, closed_age, closed_hour, closed_drain, closed_evict, closed_replay;
    atomic_uint_fast64_t put_hist[PUT_BUCKETS];
    _Atomic double put_sum; /* flusher only writes */
};

static inline int gw__zone_of(int kind)
{
    return kind == SP_KIND_ACCEPTED ? 0 : 1;
}

static inline void gw__add64(atomic_uint_fast64_t *a, uint64_t v)
{
    atomic_fetch_add_explicit(a, v, memory_order_relaxed);
}

static inline void gw__sub64(atomic_uint_fast64_t *a, uint64_t v)
{
    atomic_fetch_sub_explicit(a, v, memory_order_relaxed);
}

static inline uint64_t gw__get64(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

/* sink_submit.c: NULL when a line of this kind, event type and time can be placed in the
 * lake (zone by kind, event type a lake key segment, time in years 0..9999), else why
 * not (a static string). */
const char *gw__unplaceable(int kind, const char *event_type, size_t event_type_len,
                            int64_t received_at_ms);
int gw__time_ok(int64_t ms);

/* The spool record of a line (kind mapped to the format's kind byte) and its size. */
size_t gw__rec_size(const struct gw_line *l);
void gw__rec_encode(const struct gw_line *l, char *out);

/* sink_buffer.c: the buffer thread, and what create's replay shares with it. */
void *gw__buffer_main(void *arg);
/* Places one record of the spool (lsn, its bytes) into its partition's buffer; a record
 * that cannot be placed in the lake as it is goes to the rejected zone with the reason
 * (never wedging the sink). With journal (replay), records the journal covers are
 * skipped. 0 or the buffer's error (WR_ENOMEM, WR_ELIMIT). */
int gw__add_spool_record(gw_sink *s, uint64_t lsn, const char *p, size_t len,
                         const sp_journal *journal, int64_t now_wall);
void gw__close_due(gw_sink *s, int all, atomic_uint_fast64_t *why);
void gw__enqueue(gw_sink *s, struct gw__req *q);

/* sink_flush.c: the flusher thread and the release. */
void *gw__flusher_main(void *arg);
/* The release point: nothing at or above the first line of any buffer not yet in the
 * lake, nor anything the buffer thread has not handled. Caller holds mu. */
uint64_t gw__release_point_locked(gw_sink *s);
/* Releases the spool to rel (bounded by its durable end) and compacts the journal.
 * Flusher thread, or drain while the flusher is idle (fbusy). */
void gw__do_release(gw_sink *s, uint64_t rel);

/* One partition buffer: every line of its partition since the previous flush. The newest
 * lines stay raw in a chunk (chunk bytes, memcpy only); a full chunk is compressed whole by
 * libdeflate into one complete gzip member appended to out, and finish seals the last
 * partial chunk. The file is out: concatenated members, which is one valid gzip stream
 * (RFC 1952) that gunzip, zlib, Python's gzip and DuckDB read whole. libdeflate has no
 * streaming API, and whole-chunk compression is 2-3x faster than zlib's streaming deflate.
 * first_lsn names the file; last_lsn bounds the journal range. */
struct gw__pbuf {
    struct gw__pbuf *next; /* hash chain while open, queue link once closed */
    struct sp_part key;
    uint64_t hash;
    uint64_t first_lsn, last_lsn;
    uint64_t lines;
    uint64_t raw_bytes;   /* uncompressed, newlines included */
    int64_t opened_ms;    /* monotonic */
    int finished;         /* the last member is written and the raw chunk freed */
    char *raw;            /* lines not yet compressed, newlines included */
    size_t raw_len, raw_cap, chunk;
    unsigned members;
    unsigned char *out;   /* complete gzip members */
    size_t out_len, out_cap, out_max;
};

/* A new, empty buffer for key whose first line will be at first_lsn; chunk is the raw
 * bytes compressed per gzip member, out_max caps the compressed bytes. NULL when out of
 * memory. */
struct gw__pbuf *gw__pbuf_create(const struct sp_part *key, uint64_t first_lsn, size_t chunk,
                                 size_t out_max);

/* Adds line plus a newline to b, compressing the chunk with cz once full (cz: one per
 * thread; its level is the files' level). Returns 0, WR_ENOMEM, WR_ELIMIT (out_max), or
 * WR_EINVAL once finished. */
int gw__pbuf_add(struct gw__pbuf *b, struct libdeflate_compressor *cz, uint64_t lsn,
                 const char *line, size_t len);

/* Compresses the last partial chunk and frees it; b->out[0, out_len) is then the file
 * (one empty member when b holds no line). Returns 0, WR_ENOMEM or WR_ELIMIT; again: 0. */
int gw__pbuf_finish(struct gw__pbuf *b, struct libdeflate_compressor *cz);

/* Frees b; NULL is a no-op. */
void gw__pbuf_destroy(struct gw__pbuf *b);

#endif
