/* sink.c - the path from validated lines to the lake: spool append, one buffer thread that
 * sorts acknowledged lines into partition buffers, one flusher thread that writes them as
 * lake files, and a journal of flushed ranges that makes replay after a crash exactly-once. */
#include "gateway/sink.h"

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/thread.h"
#include "gateway/sink_int.h"
#include "gateway/spool.h"
#include "common/fsutil.h"

#include <errno.h>
#include <libdeflate.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define NBUCKETS 1024u
#define MAX_OPEN_BUFFERS 1024u     /* each holds up to one raw chunk + its compressed bytes */
#define HOUR_GRACE_MS 5000         /* lines of an hour may still arrive this long after it */
#define GZIP_LEVEL 1               /* libdeflate level; see bench_sink for the others */
#define GZIP_CHUNK (256u << 10)    /* raw bytes per gzip member; see bench_sink */
#define DESTROY_DRAIN_MS 10000     /* destroy without an earlier drain waits this long */
#define JOURNAL_NAME "sink.journal"
#define JOURNAL_TMP "sink.journal.tmp"
#define JOURNAL_MAX_BYTES (64u << 20)
#define JOURNAL_COMPACT_DEAD 64    /* rewrite once this many ranges are below the release */
#define MAX_INFLIGHT_BYTES (64u << 20) /* submitted, not yet in buffers: then WR_EAGAIN */
/* The buffer thread is woken once this much waits for it, else picks the queue up
 * within QUEUE_LINGER_MS: answers never wait for it (the spool acknowledges), so a
 * wake-up per group commit would only cost context switches. */
#define QUEUE_WAKE_BYTES (256u << 10)
#define QUEUE_LINGER_MS 5
#define RELEASE_EVERY_MS 200      /* at most this long between releases under a backlog */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 5000

/* Lake put latency buckets, seconds (the last is +Inf). */
#define PUT_BUCKETS 14
static const double put_bucket_le[PUT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 1e300};

/* One gw_sink_submit: its records (one heap block) on their way to the buffer thread. */
struct req {
    struct req *next;
    gw_sink *s;
    gw_sink_done_fn done;
    void *arg;
    int status;
    size_t n;
    size_t bytes; /* record bytes, for the in-flight cap */
    uint64_t *lsns;
    struct iovec *iov;
};

/* A flushed range in the journal: the partition's lines with first <= lsn <= last. */
struct jent {
    struct gw__pkey key;
    uint64_t first, last;
};

/* At replay: the journaled ranges of one partition, sorted by first. */
struct jpart {
    struct jpart *next;
    struct gw__pkey key;
    uint64_t hash;
    struct jent *r; /* pointers into the journal's entries are not stable: copies */
    size_t n, cap;
};

struct gw_sink {
    gw_spool *spool;
    atomic_bool spool_failure_logged; /* the spool's failure is logged once, with its cause */
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
    struct req *qhead, *qtail;
    size_t qbytes;  /* record bytes in the queue */
    int qsleeping;  /* the buffer thread waits on qcond: only then is a signal needed */
    uint64_t drain_req, drain_done;
    int qstop;
    pthread_mutex_t submit_mu; /* ack_from_memory: keeps append order = queue order */

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

    /* Journal: flusher thread (and create) only. */
    int jfd;
    uint64_t jrel;     /* release point written in the journal */
    char jinst[17];    /* the spool instance the journal's positions belong to */
    uint64_t jbytes;
    struct jent *jl;   /* live ranges, for compaction */
    size_t jn, jcap;
    struct jpart *jmap[NBUCKETS]; /* create only */

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
    atomic_uint_fast64_t replayed, replay_skipped, replay_bad, late_lines;
    atomic_uint_fast64_t open_raw_bytes, open_gz_bytes, queued_gz_bytes;
    atomic_uint_fast64_t inflight_bytes, refused_busy;
    atomic_uint_fast64_t closed_size, closed_age, closed_hour, closed_drain, closed_evict, closed_replay;
    atomic_uint_fast64_t put_hist[PUT_BUCKETS];
    _Atomic double put_sum; /* flusher only writes */
};

static int zone_of(int kind)
{
    return kind == GW_LINE_ACCEPTED ? 0 : 1;
}

static void add64(atomic_uint_fast64_t *a, uint64_t v)
{
    atomic_fetch_add_explicit(a, v, memory_order_relaxed);
}

static void sub64(atomic_uint_fast64_t *a, uint64_t v)
{
    atomic_fetch_sub_explicit(a, v, memory_order_relaxed);
}

static uint64_t get64(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* ---- journal ------------------------------------------------------------------------ */

/* Lines: "<crc32c of the rest, 8 hex> <body>\n" with body one of
 *   F <kind char> <hour> <first 16 hex> <last 16 hex> <event type, may be empty>
 *   R <release point 16 hex>
 *   I <spool instance id>
 * A line whose CRC does not match (a torn append) is skipped; a failed append is cut
 * back before the next one, so a torn line never swallows a later one. */

static int jline(char *out, size_t cap, const char *body)
{
    size_t bl = strlen(body);
    uint32_t crc = wr_crc32c(0, body, bl);
    int n = snprintf(out, cap, "%08" PRIx32 " %s\n", crc, body);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int jbody_range(char *out, size_t cap, const struct jent *e)
{
    int n = snprintf(out, cap, "F %c %" PRId64 " %016" PRIx64 " %016" PRIx64 " %s", e->key.kind,
                     e->key.hour, e->first, e->last, e->key.event_type);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int jl_push(gw_sink *s, const struct jent *e)
{
    if (s->jn == s->jcap) {
        size_t cap = s->jcap ? s->jcap * 2 : 64;
        struct jent *p = realloc(s->jl, cap * sizeof(*p));
        if (!p) {
            return WR_ENOMEM;
        }
        s->jl = p;
        s->jcap = cap;
    }
    s->jl[s->jn++] = *e;
    return 0;
}

static int parse_hex64(const char *p, size_t len, uint64_t *out)
{
    if (len != 16) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return -1;
        }
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* Parses one journal body; returns 'F' (range in *e), 'R' (release in *rel) or -1. */
static int jparse(const char *b, size_t len, struct jent *e, uint64_t *rel)
{
    if (len == 18 && b[0] == 'R' && b[1] == ' ') {
        return parse_hex64(b + 2, 16, rel) == 0 ? 'R' : -1;
    }
    if (len == 18 && b[0] == 'I' && b[1] == ' ') {
        memcpy(e->key.event_type, b + 2, 16);
        e->key.event_type[16] = '\0';
        return 'I';
    }
    if (len < 4 || b[0] != 'F' || b[1] != ' ' || (b[2] != 'a' && b[2] != 'r') || b[3] != ' ') {
        return -1;
    }
    memset(e, 0, sizeof(*e));
    e->key.kind = b[2];
    size_t i = 4;
    int neg = 0;
    if (i < len && b[i] == '-') {
        neg = 1;
        i++;
    }
    int64_t h = 0;
    size_t digits = 0;
    while (i < len && b[i] >= '0' && b[i] <= '9' && digits < 15) {
        h = h * 10 + (b[i] - '0');
        i++;
        digits++;
    }
    if (digits == 0 || i + 35 > len || b[i] != ' ' || b[i + 17] != ' ' || b[i + 34] != ' ') {
        return -1;
    }
    e->key.hour = neg ? -h : h;
    if (parse_hex64(b + i + 1, 16, &e->first) != 0 || parse_hex64(b + i + 18, 16, &e->last) != 0) {
        return -1;
    }
    i += 35;
    size_t et = len - i;
    if (et > GW__ET_MAX || (e->key.kind == GW_LINE_ACCEPTED) != (et > 0)) {
        return -1;
    }
    memcpy(e->key.event_type, b + i, et);
    e->key.event_type[et] = '\0';
    e->key.et_len = et;
    return 'F';
}

/* Writes the live ranges (those not wholly below release) and the release point to a
 * new journal: temp + fsync + rename + fsync dir, then reopens it for appending. */
static int journal_rewrite(gw_sink *s, uint64_t release)
{
    size_t keep = 0;
    for (size_t i = 0; i < s->jn; i++) {
        if (s->jl[i].last >= release) {
            s->jl[keep++] = s->jl[i];
        }
    }
    s->jn = keep;
    char path[4096], tmp[4096];
    snprintf(path, sizeof(path), "%s/%s", s->dir, JOURNAL_NAME);
    snprintf(tmp, sizeof(tmp), "%s/%s", s->dir, JOURNAL_TMP);
    struct wr_buf b;
    wr_buf_init(&b, JOURNAL_MAX_BYTES);
    char body[400], line[420];
    int rc = 0;
    snprintf(body, sizeof(body), "R %016" PRIx64, release);
    if (jline(line, sizeof(line), body) < 0 || wr_buf_append(&b, line, strlen(line)) != 0) {
        rc = -1;
    }
    if (strlen(s->jinst) == 16) {
        snprintf(body, sizeof(body), "I %s", s->jinst);
        if (jline(line, sizeof(line), body) < 0 || wr_buf_append(&b, line, strlen(line)) != 0) {
            rc = -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < s->jn; i++) {
        if (jbody_range(body, sizeof(body), &s->jl[i]) < 0 ||
            jline(line, sizeof(line), body) < 0 || wr_buf_append(&b, line, strlen(line)) != 0) {
            rc = -1;
        }
    }
    int fd = -1;
    if (rc == 0) {
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || wr_write_all(fd, b.p ? b.p : "", b.len) != 0 || fsync(fd) != 0) {
            rc = -1;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if (rc == 0 && (rename(tmp, path) != 0 || wr_fsync_dir(s->dir) != 0)) {
        rc = -1;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    uint64_t len = b.len;
    wr_buf_free(&b);
    if (rc != 0) {
        return WR_EIO;
    }
    if (s->jfd >= 0) {
        close(s->jfd);
    }
    s->jfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (s->jfd < 0) {
        return WR_EIO;
    }
    s->jrel = release;
    s->jbytes = len;
    return 0;
}

static struct jpart *jmap_find(gw_sink *s, const struct gw__pkey *k, uint64_t h)
{
    for (struct jpart *p = s->jmap[h % NBUCKETS]; p; p = p->next) {
        if (p->hash == h && gw__pkey_eq(&p->key, k)) {
            return p;
        }
    }
    return NULL;
}

static int jent_cmp(const void *a, const void *b)
{
    const struct jent *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Reads the journal (if any) into the live list and the replay map. A damaged line ends
 * it: everything before was fsynced before its lines were released, so is whole. */
static int journal_load(gw_sink *s, struct wr_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", s->dir, JOURNAL_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 0;
        }
        return wr_err_set(err, WR_EIO, "sink: open %s: %s", path, strerror(errno));
    }
    struct wr_buf b;
    wr_buf_init(&b, JOURNAL_MAX_BYTES);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = wr_err_set(err, WR_EIO, "sink: read %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) {
            break;
        }
        if (wr_buf_append(&b, chunk, (size_t)r) != 0) {
            rc = wr_err_set(err, WR_ELIMIT, "sink: %s is larger than %u bytes", path,
                            JOURNAL_MAX_BYTES);
            break;
        }
    }
    close(fd);
    size_t pos = 0;
    while (rc == 0 && pos < b.len) {
        const char *nl = memchr(b.p + pos, '\n', b.len - pos);
        if (!nl) {
            break;
        }
        const char *l = b.p + pos;
        size_t ll = (size_t)(nl - l);
        pos += ll + 1;
        uint32_t want = 0;
        if (ll < 10 || l[8] != ' ') {
            break;
        }
        int bad = 0;
        for (int i = 0; i < 8; i++) {
            char c = l[i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) {
                bad = 1;
                break;
            }
            want = (want << 4) | (uint32_t)d;
        }
        if (bad || wr_crc32c(0, l + 9, ll - 9) != want) {
            /* A torn append (cut back before any later append) or a damaged line: each
             * line stands alone, so the others still count. */
            WR_WARN("sink: journal %s: damaged line at byte %zu skipped", path, pos - ll - 1);
            continue;
        }
        struct jent e;
        uint64_t rel = 0;
        int t = jparse(l + 9, ll - 9, &e, &rel);
        if (t == 'R') {
            if (rel > s->jrel) {
                s->jrel = rel;
            }
        } else if (t == 'I') {
            memcpy(s->jinst, e.key.event_type, sizeof(s->jinst));
        } else if (t == 'F') {
            if (jl_push(s, &e) != 0) {
                rc = wr_err_set(err, WR_ENOMEM, "sink: out of memory");
            }
        } else {
            WR_WARN("sink: journal %s: unknown line at byte %zu skipped", path, pos - ll - 1);
        }
    }
    wr_buf_free(&b);
    for (size_t i = 0; rc == 0 && i < s->jn; i++) {
        const struct jent *e = &s->jl[i];
        uint64_t h = gw__pkey_hash(&e->key);
        struct jpart *p = jmap_find(s, &e->key, h);
        if (!p) {
            p = calloc(1, sizeof(*p));
            if (!p) {
                rc = wr_err_set(err, WR_ENOMEM, "sink: out of memory");
                break;
            }
            p->key = e->key;
            p->hash = h;
            p->next = s->jmap[h % NBUCKETS];
            s->jmap[h % NBUCKETS] = p;
        }
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 8;
            struct jent *r = realloc(p->r, cap * sizeof(*r));
            if (!r) {
                rc = wr_err_set(err, WR_ENOMEM, "sink: out of memory");
                break;
            }
            p->r = r;
            p->cap = cap;
        }
        p->r[p->n++] = *e;
    }
    for (unsigned i = 0; i < NBUCKETS; i++) {
        for (struct jpart *p = s->jmap[i]; p; p = p->next) {
            qsort(p->r, p->n, sizeof(*p->r), jent_cmp);
        }
    }
    return rc;
}

static void jmap_free(gw_sink *s)
{
    for (unsigned i = 0; i < NBUCKETS; i++) {
        struct jpart *p = s->jmap[i];
        while (p) {
            struct jpart *next = p->next;
            free(p->r);
            free(p);
            p = next;
        }
        s->jmap[i] = NULL;
    }
}

/* True when the journal says the line at lsn of partition k is in the lake already. */
static int journal_covers(gw_sink *s, const struct gw__pkey *k, uint64_t lsn)
{
    struct jpart *p = jmap_find(s, k, gw__pkey_hash(k));
    if (!p || p->n == 0) {
        return 0;
    }
    size_t lo = 0, hi = p->n; /* the last range with first <= lsn */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->r[mid].first <= lsn) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return p->r[lo].first <= lsn && lsn <= p->r[lo].last;
}

/* Appends one flushed range, durably. Flusher thread. */
static int journal_append(gw_sink *s, const struct gw__pbuf *b)
{
    struct jent e = {.key = b->key, .first = b->first_lsn, .last = b->last_lsn};
    char body[400], line[420];
    int n;
    if (jbody_range(body, sizeof(body), &e) < 0 || (n = jline(line, sizeof(line), body)) < 0) {
        return WR_EINVAL;
    }
    /* Room in the live list first: a durable range missing from it would be dropped by
     * the next compaction while still needed. */
    if (jl_push(s, &e) != 0) {
        return WR_ENOMEM;
    }
    s->jn--;
    if (s->jfd < 0 || wr_write_all(s->jfd, line, (size_t)n) != 0 || fdatasync(s->jfd) != 0) {
        if (s->jfd >= 0 && ftruncate(s->jfd, (off_t)s->jbytes) != 0) {
            /* Reopening rewrites the file whole. */
            close(s->jfd);
            s->jfd = -1;
        }
        return WR_EIO;
    }
    s->jn++;
    s->jbytes += (uint64_t)n;
    return 0;
}

/* ---- buffers (buffer thread; create during replay) ---------------------------------- */

static void close_buf(gw_sink *s, struct gw__pbuf *b, atomic_uint_fast64_t *why)
{
    uint64_t raw = b->raw_bytes, gz_before = b->out_len;
    int rc = gw__pbuf_finish(b, s->cz);
    /* Once queued, b belongs to the flusher, which may free it at any moment. */
    uint64_t gz = b->out_len;
    if (rc == 0) {
        add64(&s->queued_gz_bytes, gz);
        add64(why, 1);
    }
    pthread_mutex_lock(&s->mu);
    struct gw__pbuf **pp = &s->table[b->hash % NBUCKETS];
    while (*pp && *pp != b) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = b->next;
        s->nopen--;
    }
    b->next = NULL;
    if (rc == 0) {
        if (s->ctail) {
            s->ctail->next = b;
        } else {
            s->chead = b;
        }
        s->ctail = b;
        s->nclosed++;
        pthread_cond_signal(&s->fcond);
    }
    pthread_mutex_unlock(&s->mu);
    sub64(&s->open_raw_bytes, raw);
    sub64(&s->open_gz_bytes, gz_before);
    if (rc != 0) {
        /* Its lines are in the spool, which is never released past them again. */
        WR_ERROR("sink: cannot finish a buffer (%s); the spool is held from here", wr_err_name(rc));
        atomic_store(&s->failed, 1);
        gw__pbuf_destroy(b);
    }
}

static void close_oldest(gw_sink *s)
{
    struct gw__pbuf *old = NULL;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        for (struct gw__pbuf *b = s->table[i]; b; b = b->next) {
            if (!old || b->opened_ms < old->opened_ms) {
                old = b;
            }
        }
    }
    if (old) {
        close_buf(s, old, &s->closed_evict);
    }
}

/* Adds one record to its partition's buffer, opening the buffer when needed. */
static int add_record(gw_sink *s, uint64_t lsn, const struct gw__rec *r, int64_t now_wall)
{
    struct gw__pkey k;
    gw__pkey_from_rec(&k, r);
    uint64_t h = gw__pkey_hash(&k);
    struct gw__pbuf *b = s->table[h % NBUCKETS];
    while (b && !(b->hash == h && gw__pkey_eq(&b->key, &k))) {
        b = b->next;
    }
    if (!b) {
        if (s->nopen >= MAX_OPEN_BUFFERS) {
            close_oldest(s);
        }
        b = gw__pbuf_create(&k, lsn, GZIP_CHUNK, s->out_max);
        if (!b) {
            return WR_ENOMEM;
        }
        b->opened_ms = mono_ms();
        pthread_mutex_lock(&s->mu);
        b->next = s->table[h % NBUCKETS];
        s->table[h % NBUCKETS] = b;
        s->nopen++;
        pthread_mutex_unlock(&s->mu);
    }
    if (!s->replaying && now_wall >= (k.hour + 1) * 3600000 + HOUR_GRACE_MS) {
        add64(&s->late_lines, 1);
    }
    uint64_t gz_before = b->out_len;
    int rc = gw__pbuf_add(b, s->cz, lsn, r->line, r->line_len);
    if (rc != 0) {
        return rc;
    }
    int z = zone_of(r->kind);
    add64(&s->lines_in[z], 1);
    add64(&s->bytes_in[z], r->line_len + 1);
    add64(&s->open_raw_bytes, r->line_len + 1);
    add64(&s->open_gz_bytes, b->out_len - gz_before);
    if (b->raw_bytes >= s->flush_bytes) {
        close_buf(s, b, &s->closed_size);
    }
    return 0;
}

/* Closes the buffers that are due; all: every one, counted under *why. */
static void close_due(gw_sink *s, int all, atomic_uint_fast64_t *why)
{
    int64_t now = mono_ms(), wall = wall_ms();
    for (unsigned i = 0; i < NBUCKETS; i++) {
        struct gw__pbuf *b = s->table[i];
        while (b) {
            struct gw__pbuf *next = b->next;
            if (all) {
                close_buf(s, b, why);
            } else if (wall >= (b->key.hour + 1) * 3600000 + HOUR_GRACE_MS) {
                close_buf(s, b, &s->closed_hour);
            } else if (now - b->opened_ms >= s->interval_ms) {
                close_buf(s, b, &s->closed_age);
            }
            b = next;
        }
    }
}

static void process_req(gw_sink *s, struct req *q)
{
    int status = q->status;
    if (status == 0 && !atomic_load(&s->failed)) {
        int64_t wall = wall_ms();
        uint64_t end = 0;
        int rc = 0;
        for (size_t i = 0; i < q->n && rc == 0; i++) {
            struct gw__rec r;
            rc = gw__rec_decode(q->iov[i].iov_base, q->iov[i].iov_len, &r);
            if (rc == 0) {
                rc = add_record(s, q->lsns[i], &r, wall);
            }
            end = gw_spool_record_end(q->lsns[i], q->iov[i].iov_len);
        }
        if (rc != 0) {
            /* The lines are durable in the spool; holding the release point here keeps
             * them for the next start, which replays them. */
            WR_ERROR("sink: cannot buffer a line (%s); the spool is held from here",
                     wr_err_name(rc));
            atomic_store(&s->failed, 1);
        } else if (q->n > 0) {
            pthread_mutex_lock(&s->mu);
            s->processed_end = end;
            pthread_mutex_unlock(&s->mu);
        }
    }
    sub64(&s->inflight_bytes, q->bytes);
    if (q->done) {
        q->done(q->arg, status == 0 ? 0 : WR_EIO);
    }
    free(q);
}

static void *buffer_main(void *arg)
{
    gw_sink *s = arg;
    wr_thread_background("weir-buffers");
    uint64_t drained = 0;
    int64_t last_scan = 0;
    pthread_mutex_lock(&s->qmu);
    for (;;) {
        int lingering = s->qhead && !s->ack_mem && s->qbytes < QUEUE_WAKE_BYTES;
        if ((!s->qhead || lingering) && !s->qstop && s->drain_req == drained) {
            struct timespec ts;
            deadline_after(&ts, lingering && QUEUE_LINGER_MS < s->tick_ms ? QUEUE_LINGER_MS
                                                                           : s->tick_ms);
            s->qsleeping = 1;
            pthread_cond_timedwait(&s->qcond, &s->qmu, &ts);
            s->qsleeping = 0;
        }
        struct req *list = s->qhead;
        s->qhead = s->qtail = NULL;
        s->qbytes = 0;
        uint64_t dreq = s->drain_req;
        int stop = s->qstop;
        pthread_mutex_unlock(&s->qmu);

        while (list) {
            struct req *next = list->next;
            process_req(s, list);
            list = next;
        }
        int64_t now = mono_ms();
        if (dreq != drained || now - last_scan >= s->tick_ms) {
            close_due(s, dreq != drained, &s->closed_drain);
            last_scan = now;
        }

        pthread_mutex_lock(&s->qmu);
        if (dreq != drained) {
            drained = dreq;
            s->drain_done = dreq;
            pthread_cond_broadcast(&s->qdone);
        }
        if (stop && !s->qhead) {
            break;
        }
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}

static void enqueue(gw_sink *s, struct req *q)
{
    q->next = NULL;
    pthread_mutex_lock(&s->qmu);
    if (s->qtail) {
        s->qtail->next = q;
    } else {
        s->qhead = q;
    }
    s->qtail = q;
    s->qbytes += q->bytes;
    /* A busy buffer thread takes the queue before it sleeps again; a sleeping one is
     * woken by volume (or, acknowledging from memory, at once: the answer waits). */
    if (s->qsleeping && (s->ack_mem || s->qbytes >= QUEUE_WAKE_BYTES)) {
        pthread_cond_signal(&s->qcond);
    }
    pthread_mutex_unlock(&s->qmu);
}

/* Spool writer thread: the lines are durable (or failed), so the request is answered
 * here, at once, rather than after the buffer thread has copied them: one thread hop
 * less per request, and an answer is never held behind a chunk being compressed. Then
 * the request goes on to the buffer thread, in ack order (which is LSN order). */
static void on_spool_ack(void *arg, int status)
{
    struct req *q = arg;
    if (status != 0 && !atomic_exchange(&q->s->spool_failure_logged, true)) {
        struct wr_err why = {0};
        gw_spool_failure(q->s->spool, &why);
        WR_ERROR("spool failed, answering 503 until restarted: %s", why.msg);
    }
    q->status = status;
    q->done(q->arg, status == 0 ? 0 : WR_EIO);
    q->done = NULL;
    enqueue(q->s, q);
}

static void on_spool_ack_mem(void *arg, int status)
{
    gw_sink *s = arg;
    if (status != 0) {
        WR_ERROR("sink: spool write failed after lines were acknowledged from memory");
        (void)s;
    }
}

/* ---- flusher ---------------------------------------------------------------------- */

/* The release point: nothing at or above the first line of any buffer not yet in the
 * lake, nor anything the buffer thread has not handled. Caller holds mu. */
static uint64_t release_point_locked(gw_sink *s)
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

static void do_release(gw_sink *s, uint64_t rel)
{
    if (atomic_load(&s->failed)) {
        return;
    }
    uint64_t durable = gw_spool_durable_lsn(s->spool);
    if (rel > durable) {
        rel = durable; /* ack_from_memory: buffered lines may not be durable yet */
    }
    if (rel <= s->released) {
        return;
    }
    struct wr_err e = {0};
    int rc = gw_spool_release_err(s->spool, rel, &e);
    if (rc != 0) {
        add64(&s->release_failed, 1);
        WR_WARN("sink: spool release to %" PRIu64 " failed: %s", rel, e.msg);
        if (gw_spool_durable_lsn(s->spool) < rel || e.code == WR_EINVAL) {
            return;
        }
        /* A failed segment deletion: the release itself took effect. */
    }
    pthread_mutex_lock(&s->mu);
    s->released = rel;
    pthread_mutex_unlock(&s->mu);
    size_t dead = 0;
    for (size_t i = 0; i < s->jn; i++) {
        dead += s->jl[i].last < rel;
    }
    if (dead >= JOURNAL_COMPACT_DEAD || s->jbytes > JOURNAL_MAX_BYTES / 2) {
        if (journal_rewrite(s, rel) != 0) {
            add64(&s->journal_failed, 1);
            WR_WARN("sink: journal compaction in %s failed", s->dir);
        }
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
    if (b->key.kind == GW_LINE_ACCEPTED) {
        return lake_path_raw(key, cap, b->key.event_type, t, name);
    }
    return lake_path_rejected(key, cap, t, name);
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
    int64_t backoff = BACKOFF_MIN_MS;
    for (unsigned attempt = 0;; attempt++) {
        struct wr_err e = {0};
        int64_t t0 = wr_time_mono_ns();
        rc = lake_store_put(s->store, key, b->out, b->out_len, &e);
        double secs = (double)(wr_time_mono_ns() - t0) / 1e9;
        unsigned k = 0;
        while (k + 1 < PUT_BUCKETS && secs > put_bucket_le[k]) {
            k++;
        }
        add64(&s->put_hist[k], 1);
        atomic_store(&s->put_sum, atomic_load(&s->put_sum) + secs);
        if (rc == 0) {
            return 0;
        }
        add64(&s->flush_failed, 1);
        if (attempt == 0 || attempt % 20 == 0) {
            WR_WARN("sink: lake put %s failed (%s: %s), attempt %u; retrying", key,
                    wr_err_name(rc), e.msg, attempt + 1);
        }
        pthread_mutex_lock(&s->mu);
        if (!s->fstop) {
            struct timespec ts;
            deadline_after(&ts, backoff);
            pthread_cond_timedwait(&s->fcond, &s->mu, &ts);
        }
        int stop = s->fstop;
        pthread_mutex_unlock(&s->mu);
        if (stop) {
            return WR_EAGAIN;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

/* The next put of this partition must not happen before this range is durable in the
 * journal: a replay would otherwise rebuild a buffer spanning both files. So retry (the
 * file stays in flight, holding the release point) until it is, or the sink stops. */
static void journal_until_ok(gw_sink *s, const struct gw__pbuf *b)
{
    int64_t backoff = BACKOFF_MIN_MS;
    for (unsigned attempt = 0;; attempt++) {
        if (s->jfd < 0 && journal_rewrite(s, s->jrel) != 0) {
            errno = EIO;
        } else if (journal_append(s, b) == 0) {
            return;
        }
        add64(&s->journal_failed, 1);
        if (attempt % 20 == 0) {
            WR_WARN("sink: journal append in %s failed: %s; retrying", s->dir, strerror(errno));
        }
        pthread_mutex_lock(&s->mu);
        if (!s->fstop) {
            struct timespec ts;
            deadline_after(&ts, backoff);
            pthread_cond_timedwait(&s->fcond, &s->mu, &ts);
        }
        int stop = s->fstop;
        pthread_mutex_unlock(&s->mu);
        if (stop) {
            return;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

static void *flusher_main(void *arg)
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
            int z = zone_of(b->key.kind);
            add64(&s->flush_ok, 1);
            add64(&s->files[z], 1);
            add64(&s->file_bytes[z], b->out_len);
            add64(&s->file_lines[z], b->lines);
            journal_until_ok(s, b);
        }
        sub64(&s->queued_gz_bytes, b->out_len);

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
        int64_t now = mono_ms();
        if (!s->chead || now - last_release >= RELEASE_EVERY_MS) {
            uint64_t rel = release_point_locked(s);
            s->fbusy = 1;
            pthread_mutex_unlock(&s->mu);
            do_release(s, rel);
            last_release = now;
            pthread_mutex_lock(&s->mu);
            s->fbusy = 0;
        }
        pthread_cond_broadcast(&s->fidle);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- create / replay ------------------------------------------------------------- */

static int replay_cb(void *arg, uint64_t lsn, const char *p, size_t len)
{
    gw_sink *s = arg;
    struct gw__rec r;
    if (gw__rec_decode(p, len, &r) != 0) {
        add64(&s->replay_bad, 1);
        WR_ERROR("sink: spool record at %" PRIu64 " is not a sink record; skipped", lsn);
        return 0;
    }
    if (lsn < s->jrel) {
        add64(&s->replay_skipped, 1);
        return 0;
    }
    struct gw__pkey k;
    gw__pkey_from_rec(&k, &r);
    if (journal_covers(s, &k, lsn)) {
        add64(&s->replay_skipped, 1);
        return 0;
    }
    int rc = add_record(s, lsn, &r, wall_ms());
    if (rc != 0) {
        return rc;
    }
    add64(&s->replayed, 1);
    return 0;
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
    s->jfd = -1;
    s->cz = libdeflate_alloc_compressor(GZIP_LEVEL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->submit_mu, NULL);
    pthread_mutex_init(&s->drain_mu, NULL);
    cond_init_mono(&s->qcond);
    cond_init_mono(&s->qdone);
    cond_init_mono(&s->fcond);
    cond_init_mono(&s->fidle);
    s->flush_bytes = opts->flush_bytes ? opts->flush_bytes : (8u << 20);
    s->interval_ms = opts->flush_interval_ms ? opts->flush_interval_ms : 60000;
    s->tick_ms = s->interval_ms / 4 < 5 ? 5 : s->interval_ms / 4 > 250 ? 250 : s->interval_ms / 4;
    /* Deflate never grows data by more than a few bytes per block, and each member adds 18
     * bytes of header and trailer per chunk. */
    uint64_t out_max = s->flush_bytes + s->flush_bytes / 8 + 2ull * GW_SPOOL_DEFAULT_MAX_RECORD_BYTES +
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
    if (mkdir(s->dir, 0755) != 0 && errno != EEXIST) {
        wr_err_set(err, WR_EIO, "sink: mkdir %s: %s", s->dir, strerror(errno));
        goto fail;
    }
    if (journal_load(s, err) != 0) {
        goto fail;
    }
    struct gw_spool_opts so = {
        .dir = s->dir,
        .max_bytes = opts->spool_max_bytes,
        .replay = replay_cb,
        .report = report_cb,
        .cb_arg = s,
        .preallocate = 1,
    };
    s->replaying = 1;
    s->spool = gw_spool_create(&so, err);
    s->replaying = 0;
    jmap_free(s);
    if (!s->spool) {
        goto fail;
    }
    snprintf(s->instance, sizeof(s->instance), "%s",
             opts->instance_id ? opts->instance_id : gw_spool_instance_id(s->spool));
    struct gw_spool_stats st;
    gw_spool_stats(s->spool, &st);
    s->processed_end = st.end_lsn;
    s->released = st.released_lsn;
    const char *sid = gw_spool_instance_id(s->spool);
    if (s->jinst[0] && strcmp(s->jinst, sid) != 0) {
        /* A new spool epoch (its checkpoint was lost or the directory reset): positions
         * may start again from anywhere, so the old ranges could match new lines. They
         * served the replay above (same segments, same positions) and go now: a crash
         * before the next release may then duplicate lines, never lose them. */
        WR_WARN("sink: spool instance changed (%s -> %s); journal of flushed ranges reset",
                s->jinst, sid);
        s->jn = 0;
        s->jrel = 0;
    }
    snprintf(s->jinst, sizeof(s->jinst), "%s", sid);
    /* A fresh journal also cuts any torn tail, so later appends start on a clean line. */
    if (journal_rewrite(s, st.released_lsn > s->jrel ? st.released_lsn : s->jrel) != 0) {
        wr_err_set(err, WR_EIO, "sink: cannot write the journal in %s", s->dir);
        goto fail;
    }
    if (get64(&s->replayed) > 0 || get64(&s->replay_skipped) > 0) {
        WR_INFO("sink: replayed %" PRIu64 " lines from the spool, %" PRIu64
                " skipped as already in the lake",
                (uint64_t)get64(&s->replayed), (uint64_t)get64(&s->replay_skipped));
    }
    /* Replayed lines go out at once, each partition as the file it was (or would have
     * been): the same first line, so the same name. */
    close_due(s, 1, &s->closed_replay);
    if (pthread_create(&s->fthread, NULL, flusher_main, s) != 0) {
        wr_err_set(err, WR_ENOMEM, "sink: cannot start the flusher thread");
        goto fail;
    }
    s->fstarted = 1;
    if (pthread_create(&s->bthread, NULL, buffer_main, s) != 0) {
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

/* ---- submit ------------------------------------------------------------------------ */

static int check_line(const struct gw_line *l)
{
    if (l->kind != GW_LINE_ACCEPTED && l->kind != GW_LINE_REJECTED) {
        return WR_EINVAL;
    }
    if (l->kind == GW_LINE_ACCEPTED) {
        char et[GW__ET_MAX + 1];
        if (!l->event_type || l->event_type_len == 0 || l->event_type_len > GW__ET_MAX) {
            return WR_EINVAL;
        }
        memcpy(et, l->event_type, l->event_type_len);
        et[l->event_type_len] = '\0';
        if (strlen(et) != l->event_type_len || !lake_segment_ok(et, 0)) {
            return WR_EINVAL;
        }
    }
    /* Years 0..9999, as lake_time_partition takes them. */
    if (l->received_at_ms < -62167219200000LL || l->received_at_ms > 253402300799999LL) {
        return WR_EINVAL;
    }
    if (l->len == 0 || !l->p || memchr(l->p, '\n', l->len)) {
        return WR_EINVAL;
    }
    return 0;
}

int gw_sink_submit(gw_sink *s, const struct gw_line *lines, size_t n, gw_sink_done_fn done,
                   void *arg)
{
    if (!s || !done || (n > 0 && !lines)) {
        return WR_EINVAL;
    }
    if (atomic_load(&s->draining)) {
        return WR_EAGAIN;
    }
    if (atomic_load(&s->failed)) {
        return WR_EIO;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_line(&lines[i]);
        if (rc != 0) {
            return rc;
        }
        if (lines[i].len > GW_SPOOL_DEFAULT_MAX_RECORD_BYTES) {
            return WR_ELIMIT;
        }
        total += gw__rec_size(&lines[i]);
    }
    if (n > (SIZE_MAX / 2 - sizeof(struct req)) / (sizeof(uint64_t) + sizeof(struct iovec))) {
        return WR_ELIMIT;
    }
    /* Backpressure when the buffer thread falls behind the spool: the memory between
     * them stays bounded. */
    if (get64(&s->inflight_bytes) + total > MAX_INFLIGHT_BYTES && total > 0) {
        add64(&s->refused_busy, 1);
        return WR_EAGAIN;
    }
    size_t head = sizeof(struct req) + n * sizeof(uint64_t) + n * sizeof(struct iovec);
    struct req *q = malloc(head + total);
    if (!q) {
        return WR_EAGAIN;
    }
    q->next = NULL;
    q->s = s;
    q->done = done;
    q->arg = arg;
    q->status = 0;
    q->n = n;
    q->bytes = total;
    q->lsns = (uint64_t *)(void *)(q + 1);
    q->iov = (struct iovec *)(void *)(q->lsns + n);
    char *data = (char *)(q->iov + n);
    for (size_t i = 0; i < n; i++) {
        size_t sz = gw__rec_size(&lines[i]);
        gw__rec_encode(&lines[i], data);
        q->iov[i].iov_base = data;
        q->iov[i].iov_len = sz;
        data += sz;
    }
    /* Counted before the append: the done may come (and subtract) before it returns. */
    add64(&s->inflight_bytes, total);
    int rc;
    if (s->ack_mem) {
        pthread_mutex_lock(&s->submit_mu);
        rc = gw_spool_append(s->spool, q->iov, n, on_spool_ack_mem, s, q->lsns);
        if (rc == 0) {
            enqueue(s, q);
        }
        pthread_mutex_unlock(&s->submit_mu);
    } else {
        /* From here q belongs to the spool's ack, which may run before this returns. */
        rc = gw_spool_append(s->spool, q->iov, n, on_spool_ack, q, q->lsns);
    }
    if (rc != 0) {
        sub64(&s->inflight_bytes, total);
        free(q);
        if (rc != WR_EIO && rc != WR_ELIMIT) {
            rc = WR_EAGAIN;
        }
    }
    return rc;
}

bool gw_sink_ready(gw_sink *s)
{
    return s && !atomic_load(&s->draining) && !atomic_load(&s->failed) &&
           !gw_spool_failed(s->spool);
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
    int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
    /* Every ack reaches the queue, then the buffer thread empties it (answering every
     * request) and closes every buffer. */
    gw_spool_drain(s->spool);
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
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                rc = WR_EAGAIN;
                pending = s->nclosed + (s->inflight ? 1 : 0);
                break;
            }
            wait = left < wait ? left : wait;
        }
        struct timespec ts;
        deadline_after(&ts, wait);
        pthread_cond_timedwait(&s->fidle, &s->mu, &ts);
    }
    if (rc == 0 && !s->fbusy) {
        /* Lines skipped at replay move the release point without any flush. */
        uint64_t rel = release_point_locked(s);
        s->fbusy = 1;
        pthread_mutex_unlock(&s->mu);
        do_release(s, rel);
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
        struct req *next = s->qhead->next;
        free(s->qhead);
        s->qhead = next;
    }
    gw_spool_destroy(s->spool);
    lake_store_destroy(s->store);
    if (s->jfd >= 0) {
        close(s->jfd);
    }
    free(s->jl);
    jmap_free(s);
    libdeflate_free_compressor(s->cz);
    pthread_cond_destroy(&s->qcond);
    pthread_cond_destroy(&s->qdone);
    pthread_cond_destroy(&s->fcond);
    pthread_cond_destroy(&s->fidle);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->submit_mu);
    pthread_mutex_destroy(&s->drain_mu);
    free(s->dir);
    free(s);
}

/* ---- metrics --------------------------------------------------------------------- */

static void m_head(struct wr_buf *o, const char *name, const char *type, const char *help)
{
    wr_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void m_one(struct wr_buf *o, const char *name, const char *type, const char *help,
                  uint64_t v)
{
    m_head(o, name, type, help);
    wr_buf_printf(o, "%s %" PRIu64 "\n", name, v);
}

static void m_zones(struct wr_buf *o, const char *name, const char *help,
                    atomic_uint_fast64_t v[2])
{
    m_head(o, name, "counter", help);
    wr_buf_printf(o, "%s{zone=\"raw\"} %" PRIu64 "\n%s{zone=\"rejected\"} %" PRIu64 "\n", name,
                  (uint64_t)get64(&v[0]), name, (uint64_t)get64(&v[1]));
}

static void m_hist(struct wr_buf *o, const char *name, const char *help, const double *le,
                   const uint64_t *counts, size_t nb, double sum)
{
    m_head(o, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += counts[i];
        if (i + 1 < nb) {
            wr_buf_printf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, le[i], cum);
        } else {
            wr_buf_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
        }
    }
    wr_buf_printf(o, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, sum, name, cum);
}

void gw_sink_metrics(gw_sink *s, struct wr_buf *out)
{
    if (!s || !out) {
        return;
    }
    gw_spool_metrics(s->spool, out);
    struct gw_spool_stats st;
    gw_spool_stats(s->spool, &st);
    m_one(out, "weir_sink_unreleased_bytes", "gauge",
          "Spool bytes not yet known to be in the lake.", st.end_lsn - st.released_lsn);
    pthread_mutex_lock(&s->mu);
    uint64_t nopen = s->nopen, nclosed = s->nclosed + (s->inflight ? 1 : 0);
    pthread_mutex_unlock(&s->mu);
    m_one(out, "weir_sink_open_buffers", "gauge", "Partition buffers taking lines.", nopen);
    m_one(out, "weir_sink_queued_files", "gauge", "Closed buffers waiting for the lake.", nclosed);
    m_head(out, "weir_sink_buffered_bytes", "gauge", "Bytes held in partition buffers.");
    wr_buf_printf(out,
                  "weir_sink_buffered_bytes{state=\"open_uncompressed\"} %" PRIu64
                  "\nweir_sink_buffered_bytes{state=\"open_compressed\"} %" PRIu64
                  "\nweir_sink_buffered_bytes{state=\"queued_compressed\"} %" PRIu64 "\n",
                  (uint64_t)get64(&s->open_raw_bytes), (uint64_t)get64(&s->open_gz_bytes),
                  (uint64_t)get64(&s->queued_gz_bytes));
    m_zones(out, "weir_sink_lines_total", "Lines handed to partition buffers.", s->lines_in);
    m_zones(out, "weir_sink_line_bytes_total", "Uncompressed bytes handed to buffers.", s->bytes_in);
    m_zones(out, "weir_sink_files_total", "Files written to the lake.", s->files);
    m_zones(out, "weir_sink_file_bytes_total", "Compressed bytes written to the lake.",
            s->file_bytes);
    m_zones(out, "weir_sink_file_lines_total", "Lines in files written to the lake.", s->file_lines);
    m_head(out, "weir_sink_buffers_closed_total", "counter", "Buffers closed, by reason.");
    wr_buf_printf(out,
                  "weir_sink_buffers_closed_total{reason=\"size\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"age\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"hour\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"drain\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"evict\"} %" PRIu64
                  "\nweir_sink_buffers_closed_total{reason=\"replay\"} %" PRIu64 "\n",
                  (uint64_t)get64(&s->closed_size), (uint64_t)get64(&s->closed_age),
                  (uint64_t)get64(&s->closed_hour), (uint64_t)get64(&s->closed_drain),
                  (uint64_t)get64(&s->closed_evict), (uint64_t)get64(&s->closed_replay));
    m_head(out, "weir_sink_flushes_total", "counter", "Lake puts of buffer files, by result.");
    wr_buf_printf(out,
                  "weir_sink_flushes_total{result=\"ok\"} %" PRIu64
                  "\nweir_sink_flushes_total{result=\"failed\"} %" PRIu64 "\n",
                  (uint64_t)get64(&s->flush_ok), (uint64_t)get64(&s->flush_failed));
    uint64_t ph[PUT_BUCKETS];
    for (int i = 0; i < PUT_BUCKETS; i++) {
        ph[i] = get64(&s->put_hist[i]);
    }
    m_hist(out, "weir_sink_lake_put_seconds", "Latency of lake puts (each attempt).", put_bucket_le,
           ph, PUT_BUCKETS, atomic_load(&s->put_sum));
    m_one(out, "weir_sink_replayed_lines_total", "counter",
          "Lines replayed from the spool at start into buffers.", get64(&s->replayed));
    m_one(out, "weir_sink_replay_skipped_lines_total", "counter",
          "Lines found in the spool at start that the lake already had.",
          get64(&s->replay_skipped));
    m_one(out, "weir_sink_late_lines_total", "counter",
          "Lines buffered after their hour had closed (a new file in a closed hour).",
          get64(&s->late_lines));
    m_one(out, "weir_sink_refused_busy_total", "counter",
          "Submits refused because the buffer thread was behind (WR_EAGAIN).",
          get64(&s->refused_busy));
    m_one(out, "weir_sink_release_failures_total", "counter", "Failed spool releases.",
          get64(&s->release_failed));
    m_one(out, "weir_sink_journal_failures_total", "counter", "Failed journal writes.",
          get64(&s->journal_failed));
    m_one(out, "weir_sink_failed", "gauge",
          "1 when a buffer could not be built: the spool is held, restart to replay.",
          (uint64_t)atomic_load(&s->failed));
}
