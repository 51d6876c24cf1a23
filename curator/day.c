/* day.c - curates one (event_type, dt): reads the day's closed raw hours hour by hour,
 * deduplicates by event_id (earliest received_at wins), sorts each hour by received_at
 * and streams typed rows into Parquet part files of about the target size. */
#include "curator.h"
#include "cur_int.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "json/json.h"
#include "lake/envelope.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#ifdef WEIR_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#define MAX_SOURCE 128
#define PREDICT 64
#define HOUR_US 3600000000LL
/* The envelope strings the reading stage needs from each line; the first two are required. */
#define SCAN_NEED ((1u << LAKE_ENV_EVENT_ID) | (1u << LAKE_ENV_RECEIVED_AT))
#define SCAN_WANT (SCAN_NEED | (1u << LAKE_ENV_SOURCE))

struct rawfile {
    char *key;
    uint64_t size;
    int hr;        /* 0..23 of its dt */
    int lookback;  /* a file of the day before, read for dedup only */
};

struct filelist {
    struct rawfile *v;
    size_t n, cap;
    const char *dt;       /* the day */
    char prev[11];        /* the day before */
    int lookback_from;    /* hours of prev >= this are lookback hours */
    int64_t closed_before_us; /* hours ending at or before this are closed */
    int64_t day_us;       /* 00:00 of dt */
};

/* One valid line of an hour. */
struct rec {
    int64_t ts;
    uint64_t ha, hb;
    uint32_t off, len;      /* the line in the hour buffer */
    uint32_t id_off;        /* the decoded id: hour buffer, or idside when id_side */
    uint16_t id_len;
    uint8_t id_side;
    uint16_t src;           /* index in the hour's source table */
};

struct srcstat {
    char name[MAX_SOURCE + 1];
    uint64_t events, duplicates, distinct, invalid;
};

/* One hour being read (stage A: fetch, inflate, envelope scan, sort) or written (stage B:
 * dedup, rows, rollups). With a pipeline, stage A of the next hour runs on a helper thread
 * while stage B writes this one, so everything stage A touches lives here. */
struct hourbuf {
    size_t i, j;           /* the hour's files in the day's list */
    int lookback;
    lake_store *st;        /* stage A's store (stores are one thread each) */
    wr_arena *arena;       /* stage A's parse arena */
    struct wr_err err;
    struct wr_buf gz;      /* one compressed file */
    struct wr_buf hour;    /* the inflated text of one hour's files */
    struct wr_buf idside;  /* ids that had escapes */
    struct rec *recs;
    size_t nrecs, caprecs;
    size_t *fstart;        /* hour buffer offset where each file of the hour starts */
    size_t nfstart;
    struct srcstat *srcs;
    size_t nsrcs, capsrcs;
    uint64_t hour_bad_files; /* for the rollups (0 for lookback hours) */
    uint64_t invalid;        /* invalid lines found by stage A */
#ifdef WEIR_HAVE_LIBDEFLATE
    struct libdeflate_decompressor *dc;
#endif
};

struct day {
    lake_store *st;
    const cur_model *m;
    const struct cur_config *cfg;
    const char *event_type, *dt;
    struct cur_day_result *r;
    struct wr_err *err;
    struct filelist fl;
    cur_idset *ids;
    wr_arena *arena;       /* stage B's parse arena */
    unsigned examples_a, examples_b;
    int predict[PREDICT];  /* column of the payload member at each position, last seen */
    /* the part being written */
    pq_writer *w;
    FILE *tmp;
    char tmppath[1024];
    unsigned parts;
    size_t rows_in_part;
    size_t rollcap;
    const struct pq_exec *exec; /* the pipeline's helper, or NULL */
};

/* ---- listing ------------------------------------------------------------------- */

static int list_cb(void *arg, const char *key, uint64_t size)
{
    struct filelist *fl = arg;
    struct lake_raw_key k;
    size_t kl = strlen(key);
    if (kl < 9 || strcmp(key + kl - 9, ".jsonl.gz") != 0 || !lake_path_parse_raw(key, &k)) {
        return 0;
    }
    int hr = (k.hr[0] - '0') * 10 + (k.hr[1] - '0');
    if (hr < 0 || hr > 23) {
        return 0;
    }
    int lookback = strcmp(k.dt, fl->dt) != 0;
    if (lookback && hr < fl->lookback_from) {
        return 0;
    }
    int64_t hour_start = fl->day_us + (int64_t)(lookback ? hr - 24 : hr) * HOUR_US;
    if (hour_start + HOUR_US > fl->closed_before_us) {
        return 0; /* not closed yet: a later run takes it */
    }
    if (fl->n == fl->cap) {
        size_t nc = fl->cap ? fl->cap * 2 : 64;
        struct rawfile *nv = realloc(fl->v, nc * sizeof *nv);
        if (!nv) {
            return WR_ENOMEM;
        }
        fl->v = nv;
        fl->cap = nc;
    }
    char *dup = strdup(key);
    if (!dup) {
        return WR_ENOMEM;
    }
    fl->v[fl->n++] = (struct rawfile){dup, size, hr, lookback};
    return 0;
}

static int file_cmp(const void *a, const void *b)
{
    const struct rawfile *x = a, *y = b;
    if (x->lookback != y->lookback) {
        return y->lookback - x->lookback; /* lookback hours first */
    }
    if (x->hr != y->hr) {
        return x->hr - y->hr;
    }
    return strcmp(x->key, y->key);
}

static void filelist_free(struct filelist *fl)
{
    for (size_t i = 0; i < fl->n; i++) {
        free(fl->v[i].key);
    }
    free(fl->v);
    fl->v = NULL;
    fl->n = fl->cap = 0;
}

static int parse_day(const char *dt, int64_t *day_us)
{
    int64_t us;
    char buf[32];
    if (strlen(dt) != 10) {
        return WR_EINVAL;
    }
    snprintf(buf, sizeof buf, "%sT00:00:00Z", dt);
    if (!wr_time_parse_rfc3339(buf, strlen(buf), &us)) {
        return WR_EINVAL;
    }
    *day_us = us;
    return 0;
}

/* Lists the files of the day (and its lookback hours), sorted, closed hours only. */
static int list_day(lake_store *st, const char *event_type, const char *dt,
                    const struct cur_config *cfg, struct filelist *fl, struct wr_err *err)
{
    memset(fl, 0, sizeof *fl);
    fl->dt = dt;
    if (parse_day(dt, &fl->day_us) != 0) {
        return wr_err_set(err, WR_EINVAL, "bad day '%s'", dt);
    }
    int64_t now_ms = cfg->now_ms ? cfg->now_ms : wr_time_now_ms();
    fl->closed_before_us = (now_ms - cfg->grace_ms) * 1000;
    int64_t lb_hours = (cfg->lookback_ms + 3599999) / 3600000;
    fl->lookback_from = lb_hours >= 24 ? 0 : (int)(24 - lb_hours);
    int64_t y;
    unsigned mo, d;
    wr_civil_from_days(fl->day_us / 86400000000LL - 1, &y, &mo, &d);
    snprintf(fl->prev, sizeof fl->prev, "%04d-%02u-%02u", (int)y, mo, d);
    char prefix[512];
    int rc;
    if (lb_hours > 0) {
        snprintf(prefix, sizeof prefix, "raw/event_type=%s/dt=%s/", event_type, fl->prev);
        rc = lake_store_list(st, prefix, list_cb, fl, err);
        if (rc != 0) {
            filelist_free(fl);
            return rc < 0 ? rc : wr_err_set(err, WR_ENOMEM, "out of memory");
        }
    }
    snprintf(prefix, sizeof prefix, "raw/event_type=%s/dt=%s/", event_type, dt);
    rc = lake_store_list(st, prefix, list_cb, fl, err);
    if (rc != 0) {
        filelist_free(fl);
        return rc < 0 ? rc : wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (fl->n) {
        qsort(fl->v, fl->n, sizeof *fl->v, file_cmp);
    }
    return 0;
}

/* ---- reading -------------------------------------------------------------------- */

/* Inflates gz into d->hour (members concatenated). Returns 0, 1 when the data is not
 * valid gzip (what inflated before the fault is kept), WR_ELIMIT past the hour cap. */
static int inflate_into(struct hourbuf *h, const unsigned char *in, size_t len)
{
    if (len == 0) {
        return 0; /* an empty object holds no lines */
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        return WR_ENOMEM;
    }
    z.next_in = (unsigned char *)in;
    size_t left = len;
    int bad = 0;
    for (;;) {
        if (z.avail_in == 0) {
            if (left == 0) {
                bad = 1; /* ended inside a member */
                break;
            }
            z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            left -= z.avail_in;
        }
        if (wr_buf_reserve(&h->hour, 1 << 18) != 0) {
            inflateEnd(&z);
            return WR_ELIMIT;
        }
        size_t room = h->hour.cap - h->hour.len - 1;
        if (room > h->hour.max_len - h->hour.len) {
            room = h->hour.max_len - h->hour.len;
        }
        if (room > (1u << 30)) {
            room = 1u << 30;
        }
        z.next_out = (unsigned char *)h->hour.p + h->hour.len;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        h->hour.len += room - z.avail_out;
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0 && left == 0) {
                break;
            }
            inflateReset(&z); /* the next member */
            continue;
        }
        if (zr == Z_BUF_ERROR && z.avail_out != 0 && z.avail_in == 0 && left == 0) {
            bad = 1; /* truncated */
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            bad = 1;
            break;
        }
    }
    inflateEnd(&z);
    /* An empty file never reserved anything: the terminator needs its byte too. */
    if (wr_buf_reserve(&h->hour, 0) != 0) {
        return WR_ELIMIT;
    }
    h->hour.p[h->hour.len] = '\0';
    return bad;
}


#ifdef WEIR_HAVE_LIBDEFLATE
/* Whole-member inflation with libdeflate (about twice as fast as zlib's stream). Returns 0,
 * 1 when the data is not clean gzip (nothing kept: the caller re-reads it with zlib, which
 * keeps the readable prefix), or WR_ELIMIT past the hour cap. */
static int inflate_fast(struct hourbuf *h, const unsigned char *in, size_t len)
{
    size_t start = h->hour.len, pos = 0;
    while (pos < len) {
        size_t left = len - pos;
        uint32_t isize = 0;
        if (len >= 4) {
            memcpy(&isize, in + len - 4, 4); /* the last member's size: exact for one member */
        }
        size_t guess = left * 4 > (size_t)isize + 64 ? left * 4 : (size_t)isize + 64;
        if (guess > left * 1032 + 64) {
            guess = left * 1032 + 64; /* deflate expands at most ~1032:1 */
        }
        for (;;) {
            size_t cap = h->hour.max_len - h->hour.len;
            if (guess > cap) {
                guess = cap;
            }
            if (guess == 0 || wr_buf_reserve(&h->hour, guess) != 0) {
                h->hour.len = start;
                return WR_ELIMIT;
            }
            size_t used = 0, out = 0;
            enum libdeflate_result r = libdeflate_gzip_decompress_ex(
                h->dc, in + pos, left, h->hour.p + h->hour.len, guess, &used, &out);
            if (r == LIBDEFLATE_SUCCESS) {
                h->hour.len += out;
                pos += used;
                break;
            }
            if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
                if (guess == cap) {
                    h->hour.len = start;
                    return WR_ELIMIT;
                }
                guess *= 2;
                continue;
            }
            h->hour.len = start;
            return 1;
        }
    }
    if (wr_buf_reserve(&h->hour, 0) != 0) {
        h->hour.len = start;
        return WR_ELIMIT;
    }
    h->hour.p[h->hour.len] = '\0';
    return 0;
}
#endif

static void log_bad_file(struct hourbuf *h, const char *key, const char *why)
{
    h->hour_bad_files++;
    struct wr_logline l;
    if (wr_log_enabled(WR_LOG_WARN)) {
        wr_logline_begin(&l, WR_LOG_WARN, "curate: bad raw file (its readable prefix is used)");
        wr_logline_str(&l, "key", key);
        wr_logline_str(&l, "reason", why);
        wr_logline_end(&l);
    }
}

/* Reads files [i, j) into d->hour, each ending with a newline. */
static int read_files(struct day *d, struct hourbuf *h, size_t i, size_t j)
{
    wr_buf_clear(&h->hour);
    free(h->fstart);
    h->fstart = malloc((j - i) * sizeof *h->fstart);
    h->nfstart = 0;
    if (!h->fstart) {
        return wr_err_set(&h->err, WR_ENOMEM, "out of memory");
    }
    for (; i < j; i++) {
        const struct rawfile *f = &d->fl.v[i];
        h->fstart[h->nfstart++] = h->hour.len;
        wr_buf_clear(&h->gz);
        int rc = lake_store_get(h->st, f->key, &h->gz, &h->err);
        if (rc == WR_ENOENT) {
            continue; /* deleted since the listing: the fingerprint changes, a later run redoes it */
        }
        if (rc != 0) {
            return rc;
        }
#ifdef WEIR_HAVE_LIBDEFLATE
        rc = h->dc ? inflate_fast(h, (const unsigned char *)h->gz.p, h->gz.len) : 1;
        if (rc == 1) {
            rc = inflate_into(h, (const unsigned char *)h->gz.p, h->gz.len);
        }
#else
        rc = inflate_into(h, (const unsigned char *)h->gz.p, h->gz.len);
#endif
        if (rc < 0) {
            return wr_err_set(&h->err, rc, "hour %s of %s/%s inflates past --max-hour-bytes",
                              f->lookback ? "(lookback)" : "", d->event_type, d->dt);
        }
        if (rc == 1) {
            log_bad_file(h, f->key, "not valid gzip (corrupt or truncated)");
        }
        if (h->hour.len && h->hour.p[h->hour.len - 1] != '\n' &&
            wr_buf_putc(&h->hour, '\n') != 0) {
            return wr_err_set(&h->err, WR_ELIMIT, "hour too large");
        }
    }
    return 0;
}

/* ---- lines ---------------------------------------------------------------------- */

static unsigned src_index(struct hourbuf *h, const char *s, size_t n)
{
    for (size_t i = 0; i < h->nsrcs; i++) {
        if (strlen(h->srcs[i].name) == n && memcmp(h->srcs[i].name, s, n) == 0) {
            return (unsigned)i;
        }
    }
    if (h->nsrcs >= 65535) {
        return 0; /* a hostile number of sources: the rest count on the first row */
    }
    if (h->nsrcs == h->capsrcs) {
        size_t nc = h->capsrcs ? h->capsrcs * 2 : 8;
        struct srcstat *ns = realloc(h->srcs, nc * sizeof *ns);
        if (!ns) {
            return 0; /* out of memory: counted on the first row (there is always one) */
        }
        h->srcs = ns;
        h->capsrcs = nc;
    }
    memset(&h->srcs[h->nsrcs], 0, sizeof h->srcs[0]);
    memcpy(h->srcs[h->nsrcs].name, s, n);
    return (unsigned)h->nsrcs++;
}

static void invalid_line(struct day *d, struct hourbuf *h, const char *key, size_t lineno, const char *why,
                         const char *src, size_t srclen, int lookback)
{
    if (lookback) {
        return; /* the day before counts it in its own run */
    }
    h->invalid++;
    h->srcs[src_index(h, src, srclen)].invalid++;
    if (d->examples_a < d->cfg->max_examples && wr_log_enabled(WR_LOG_WARN)) {
        d->examples_a++;
        struct wr_logline l;
        wr_logline_begin(&l, WR_LOG_WARN, "curate: invalid raw line (counted, not curated)");
        wr_logline_str(&l, "key", key);
        wr_logline_int(&l, "line", (int64_t)lineno);
        wr_logline_str(&l, "reason", why);
        wr_logline_end(&l);
    }
}


static int grow_recs(struct hourbuf *h)
{
    size_t nc = h->caprecs ? h->caprecs * 2 : 4096;
    struct rec *nr = realloc(h->recs, nc * sizeof *nr);
    if (!nr) {
        return WR_ENOMEM;
    }
    h->recs = nr;
    h->caprecs = nc;
    return 0;
}

/* Parses every line of d->hour into d->recs; fi is the hour's first file, for naming
 * the file of an invalid line. */
static int scan_hour(struct day *d, struct hourbuf *h, size_t fi, int lookback)
{
    h->nrecs = 0;
    wr_buf_clear(&h->idside);
    const char *p = h->hour.p;
    size_t n = h->hour.len, pos = 0, lineno = 0;
    size_t file = 0;
    while (pos < n) {
        while (file + 1 < h->nfstart && pos >= h->fstart[file + 1]) {
            file++;
            lineno = 0;
        }
        const char *nl = memchr(p + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - p) : n;
        size_t off = pos, len = end - pos;
        pos = end + 1;
        lineno++;
        size_t k = 0;
        while (k < len && (p[off + k] == ' ' || p[off + k] == '\t' || p[off + k] == '\r')) {
            k++;
        }
        if (k == len) {
            continue; /* blank lines are not lines */
        }
        const char *key = d->fl.v[fi + file].key;
        /* The stored line is read through lake/envelope.h: a zero-copy scan of the three
         * envelope strings, the full parser only for lines the scan does not follow. */
        struct lake_env_str q[LAKE_ENV_NFIELDS];
        int64_t qts;
        int qm = lake_env_scan(p + off, len, SCAN_WANT, q);
        if (qm >= 0 && (qm & SCAN_NEED) == SCAN_NEED && q[LAKE_ENV_EVENT_ID].len > 0 &&
            q[LAKE_ENV_EVENT_ID].len <= 1024 && q[LAKE_ENV_SOURCE].len <= MAX_SOURCE &&
            wr_time_parse_rfc3339(q[LAKE_ENV_RECEIVED_AT].p, q[LAKE_ENV_RECEIVED_AT].len, &qts)) {
            if (h->nrecs == h->caprecs && grow_recs(h) != 0) {
                return wr_err_set(&h->err, WR_ENOMEM, "out of memory");
            }
            struct rec *r = &h->recs[h->nrecs++];
            r->ts = qts;
            r->off = (uint32_t)off;
            r->len = (uint32_t)len;
            const struct lake_env_str *qid = &q[LAKE_ENV_EVENT_ID], *qsrc = &q[LAKE_ENV_SOURCE];
            r->id_len = (uint16_t)qid->len;
            r->id_side = 0;
            r->id_off = (uint32_t)(qid->p - p);
            cur__hash128(qid->p, qid->len, &r->ha, &r->hb);
            r->src = lookback ? 0 : (uint16_t)src_index(h, qsrc->p ? qsrc->p : "", qsrc->len);
            continue;
        }
        wr_arena_reset(h->arena);
        struct lake_env_view ev;
        struct js_error je;
        int rc = lake_env_parse(h->arena, p + off, len, &ev, &je);
        if (rc == WR_ENOMEM) {
            invalid_line(d, h, key, lineno, "line too large", "", 0, lookback);
            continue;
        }
        if (rc != 0) {
            invalid_line(d, h, key, lineno, je.msg, "", 0, lookback);
            continue;
        }
        const struct js_val *src = ev.f[LAKE_ENV_SOURCE];
        const char *sp = "";
        size_t sn = 0;
        if (src && src->type == JS_STRING && src->n <= MAX_SOURCE) {
            sp = src->u.s;
            sn = src->n;
        }
        const struct js_val *id = ev.f[LAKE_ENV_EVENT_ID];
        const struct js_val *ra = ev.f[LAKE_ENV_RECEIVED_AT];
        int64_t ts;
        if (!id || id->type != JS_STRING || id->n == 0 || id->n > 1024) {
            invalid_line(d, h, key, lineno, "event_id missing or not a string of 1..1024 bytes",
                         sp, sn, lookback);
            continue;
        }
        if (!ra || ra->type != JS_STRING ||
            !wr_time_parse_rfc3339(ra->u.s, ra->n, &ts)) {
            invalid_line(d, h, key, lineno, "received_at missing or not an RFC 3339 date-time",
                         sp, sn, lookback);
            continue;
        }
        if (src && src->type != JS_NULL && sn == 0 && !(src->type == JS_STRING && src->n == 0)) {
            invalid_line(d, h, key, lineno, "source not a string of at most 128 bytes", "", 0,
                         lookback);
            continue;
        }
        if (h->nrecs == h->caprecs && grow_recs(h) != 0) {
            return wr_err_set(&h->err, WR_ENOMEM, "out of memory");
        }
        struct rec *r = &h->recs[h->nrecs++];
        r->ts = ts;
        r->off = (uint32_t)off;
        r->len = (uint32_t)len;
        r->id_len = (uint16_t)id->n;
        if (id->flags & JS_F_ESCAPED) {
            r->id_side = 1;
            r->id_off = (uint32_t)h->idside.len;
            if (wr_buf_append(&h->idside, id->u.s, id->n) != 0) {
                return wr_err_set(&h->err, WR_ENOMEM, "out of memory");
            }
        } else {
            r->id_side = 0;
            r->id_off = (uint32_t)(id->u.s - p);
        }
        cur__hash128(id->u.s, id->n, &r->ha, &r->hb);
        r->src = lookback ? 0 : (uint16_t)src_index(h, sp, sn);
    }
    return 0;
}

static const char *rec_id(const struct hourbuf *h, const struct rec *r)
{
    return (r->id_side ? h->idside.p : h->hour.p) + r->id_off;
}

static int rec_cmp(const void *a, const void *b, const struct hourbuf *h)
{
    const struct rec *x = a, *y = b;
    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
    int c = memcmp(rec_id(h, x), rec_id(h, y), n);
    if (c || x->id_len != y->id_len) {
        return c ? c : (x->id_len < y->id_len ? -1 : 1);
    }
    /* same id, same time: the smaller line wins, whatever the file order */
    n = x->len < y->len ? x->len : y->len;
    c = memcmp(h->hour.p + x->off, h->hour.p + y->off, n);
    if (c || x->len != y->len) {
        return c ? c : (x->len < y->len ? -1 : 1);
    }
    return 0;
}

/* ---- writing -------------------------------------------------------------------- */

static int tmp_write(void *arg, const void *p, size_t len)
{
    FILE *f = arg;
    return fwrite(p, 1, len, f) == len ? 0 : WR_EIO;
}

static int part_open(struct day *d)
{
    snprintf(d->tmppath, sizeof d->tmppath, "%s/weir-curate-XXXXXX", d->cfg->tmp_dir);
    int fd = mkstemp(d->tmppath);
    if (fd < 0) {
        return wr_err_set(d->err, WR_EIO, "mkstemp in %s: %s", d->cfg->tmp_dir, strerror(errno));
    }
    d->tmp = fdopen(fd, "w+b");
    if (!d->tmp) {
        close(fd);
        unlink(d->tmppath);
        return wr_err_set(d->err, WR_EIO, "fdopen: %s", strerror(errno));
    }
    setvbuf(d->tmp, NULL, _IOFBF, 1 << 20);
    struct pq_opts o = {0};
    o.exec = d->exec;
    o.codec = d->cfg->codec;
    o.level = d->cfg->level;
    o.row_group_bytes = d->cfg->row_group_bytes;
    o.build = "curator";
    struct pq_schema s = {d->m->cols, d->m->ncols};
    d->w = pq_writer_create(&s, &o, tmp_write, d->tmp, d->err);
    if (!d->w) {
        fclose(d->tmp);
        d->tmp = NULL;
        unlink(d->tmppath);
        return d->err->code ? d->err->code : WR_EINVAL;
    }
    d->rows_in_part = 0;
    return 0;
}

static void part_abandon(struct day *d)
{
    pq_writer_destroy(d->w);
    d->w = NULL;
    if (d->tmp) {
        fclose(d->tmp);
        d->tmp = NULL;
        unlink(d->tmppath);
    }
}

static int part_close(struct day *d)
{
    int rc = pq_writer_close(d->w, d->err);
    uint64_t bytes = pq_writer_bytes_written(d->w);
    pq_writer_destroy(d->w);
    d->w = NULL;
    if (rc == 0 && fflush(d->tmp) != 0) {
        rc = wr_err_set(d->err, WR_EIO, "write %s: %s", d->tmppath, strerror(errno));
    }
    char key[1024];
    if (rc == 0) {
        rc = lake_path_curated_events(key, sizeof key, d->event_type, d->dt, d->parts);
        if (rc != 0) {
            wr_err_set(d->err, rc, "no curated path for %s/%s", d->event_type, d->dt);
        }
    }
    if (rc == 0) {
        rc = lake_store_put_fd(d->st, key, fileno(d->tmp), d->err);
    }
    fclose(d->tmp);
    d->tmp = NULL;
    unlink(d->tmppath);
    if (rc == 0) {
        d->parts++;
        d->r->stats.files_written++;
        d->r->stats.bytes_written += bytes;
    }
    return rc;
}

static int put_value(struct day *d, size_t col, enum cur_kind k, const struct js_val *v,
                     const char *line)
{
    pq_writer *w = d->w;
    if (v->type == JS_NULL) {
        return 0;
    }
    int64_t ts;
    switch (k) {
    case CUR_K_INT:
        if (v->type == JS_INT) {
            return pq_writer_put_int64(w, col, v->u.i);
        }
        if (v->type == JS_REAL && !(v->flags & JS_F_BIGINT) && v->u.d >= -9.2e18 &&
            v->u.d <= 9.2e18 && (double)(int64_t)v->u.d == v->u.d) {
            return pq_writer_put_int64(w, col, (int64_t)v->u.d);
        }
        break;
    case CUR_K_DOUBLE:
        if (v->type == JS_INT) {
            return pq_writer_put_double(w, col, (double)v->u.i);
        }
        if (v->type == JS_REAL) {
            return pq_writer_put_double(w, col, v->u.d);
        }
        break;
    case CUR_K_BOOL:
        if (v->type == JS_TRUE || v->type == JS_FALSE) {
            return pq_writer_put_bool(w, col, v->type == JS_TRUE);
        }
        break;
    case CUR_K_STRING:
        if (v->type == JS_STRING) {
            return pq_writer_put_str(w, col, v->u.s, v->n);
        }
        break;
    case CUR_K_TS:
        if (v->type == JS_STRING && wr_time_parse_rfc3339(v->u.s, v->n, &ts)) {
            return pq_writer_put_int64(w, col, ts);
        }
        break;
    case CUR_K_JSON:
        return pq_writer_put_str(w, col, line + v->src_off, v->src_len);
    }
    d->r->stats.type_mismatches++;
    return 0;
}

/* Writes the row of a kept line. Returns 0, 1 when the line turns out not to be valid JSON
 * (nothing written), or a negative error. */
static int write_row(struct day *d, const struct hourbuf *h, const struct rec *r)
{
    if (!d->w) {
        int rc = part_open(d);
        if (rc) {
            return rc;
        }
    }
    const char *line = h->hour.p + r->off;
    wr_arena_reset(d->arena);
    struct lake_env_view ev;
    struct js_error je;
    if (lake_env_parse(d->arena, line, r->len, &ev, &je) != 0) {
        return 1; /* the envelope was readable, the rest is not JSON: an invalid line */
    }
    pq_writer *w = d->w;
    int rc = pq_writer_put_str(w, CUR_C_EVENT_ID, rec_id(h, r), r->id_len);
    const struct js_val *x = ev.f[LAKE_ENV_SCHEMA_VERSION];
    if (rc == 0 && x && x->type == JS_INT) {
        rc = pq_writer_put_int64(w, CUR_C_SCHEMA_VERSION, x->u.i);
    }
    x = ev.f[LAKE_ENV_OCCURRED_AT];
    int64_t ts;
    if (rc == 0 && x && x->type == JS_STRING && wr_time_parse_rfc3339(x->u.s, x->n, &ts)) {
        rc = pq_writer_put_int64(w, CUR_C_OCCURRED_AT, ts);
    } else if (x && x->type != JS_NULL) {
        d->r->stats.type_mismatches++;
    }
    if (rc == 0) {
        rc = pq_writer_put_int64(w, CUR_C_RECEIVED_AT, r->ts);
    }
    x = ev.f[LAKE_ENV_SOURCE];
    if (rc == 0 && x && x->type == JS_STRING) {
        rc = pq_writer_put_str(w, CUR_C_SOURCE, x->u.s, x->n);
    }
    const struct js_val *pl = ev.f[LAKE_ENV_PAYLOAD];
    if (rc == 0 && pl && d->m->whole_payload) {
        if (pl->type != JS_NULL) {
            rc = pq_writer_put_str(w, CUR_NENV, line + pl->src_off, pl->src_len);
        }
    } else if (rc == 0 && pl && pl->type == JS_OBJECT) {
        for (uint32_t i = 0; i < pl->n && rc == 0; i++) {
            const struct js_member *mb = &pl->u.members[i];
            int c = i < PREDICT ? d->predict[i] : -1;
            if (c < 0 || d->m->plens[c - CUR_NENV] != mb->name_len ||
                memcmp(d->m->props[c - CUR_NENV], mb->name, mb->name_len) != 0) {
                /* lines of one type mostly share their member order: remember it */
                c = cur__model_find(d->m, mb->name, mb->name_len);
                if (i < PREDICT) {
                    d->predict[i] = c;
                }
            }
            if (c < 0) {
                d->r->stats.extra_props++;
                continue;
            }
            rc = put_value(d, (size_t)c, d->m->kinds[c - CUR_NENV], &mb->val, line);
        }
    } else if (pl && pl->type != JS_NULL) {
        d->r->stats.type_mismatches++;
    }
    if (rc == WR_ELIMIT) {
        /* one oversized value: the whole row stays, that value is null */
        d->r->stats.type_mismatches++;
        rc = 0;
    }
    if (rc == 0) {
        rc = pq_writer_end_row(w);
    }
    if (rc != 0) {
        return wr_err_set(d->err, rc, "parquet: %s", pq_writer_errmsg(w));
    }
    d->r->stats.rows++;
    if (++d->rows_in_part % 256 == 0 &&
        pq_writer_bytes_written(w) + pq_writer_buffered_bytes(w) >= d->cfg->target_file_bytes) {
        /* pages still compressing count at an upper bound: settle them for the exact size,
         * so parts are cut where a single thread cuts them (the same bytes, any timing) */
        if (d->exec && (rc = pq_writer_settle(w)) != 0) {
            return wr_err_set(d->err, rc, "parquet: %s", pq_writer_errmsg(w));
        }
        if (pq_writer_bytes_written(w) + pq_writer_buffered_bytes(w) >=
            d->cfg->target_file_bytes) {
            return part_close(d);
        }
    }
    return 0;
}

static int add_rollups(struct day *d, const struct hourbuf *h, int hr)
{
    size_t need = d->r->nrollups + h->nsrcs + 1;
    if (need > d->rollcap) {
        size_t nc = need * 2;
        struct cur_rollup *nr = realloc(d->r->rollups, nc * sizeof *nr);
        if (!nr) {
            return wr_err_set(d->err, WR_ENOMEM, "out of memory");
        }
        d->r->rollups = nr;
        d->rollcap = nc;
    }
    int have_empty = 0;
    for (size_t i = 0; i < h->nsrcs; i++) {
        const struct srcstat *s = &h->srcs[i];
        if (!s->events && !s->invalid && (s->name[0] || !h->hour_bad_files)) {
            continue;
        }
        struct cur_rollup *o = &d->r->rollups[d->r->nrollups++];
        memset(o, 0, sizeof *o);
        o->hr = hr;
        memcpy(o->source, s->name, sizeof o->source);
        o->events = s->events;
        o->duplicates = s->duplicates;
        o->distinct_event_ids = s->distinct;
        o->invalid_lines = s->invalid;
        if (!s->name[0]) {
            o->bad_files = h->hour_bad_files;
            have_empty = 1;
        }
    }
    if (!have_empty && h->hour_bad_files) {
        struct cur_rollup *o = &d->r->rollups[d->r->nrollups++];
        memset(o, 0, sizeof *o);
        o->hr = hr;
        o->bad_files = h->hour_bad_files;
    }
    return 0;
}

static int roll_cmp(const void *a, const void *b)
{
    const struct cur_rollup *x = a, *y = b;
    return x->hr != y->hr ? x->hr - y->hr : strcmp(x->source, y->source);
}

static int rec_less(const struct hourbuf *h, const struct rec *x, const struct rec *y)
{
    if (x->ts != y->ts) {
        return x->ts < y->ts;
    }
    return rec_cmp(x, y, h) < 0;
}

/* Sorts the hour's records: a stable natural merge sort, nearly linear on the gateway's
 * files, which are each in received order. */
static int sort_recs(struct hourbuf *h)
{
    size_t n = h->nrecs;
    if (n < 2) {
        return 0;
    }
    size_t *runs = malloc((n + 1) * sizeof *runs);
    struct rec *tmp = malloc(n * sizeof *tmp);
    if (!runs || !tmp) {
        free(runs);
        free(tmp);
        return wr_err_set(&h->err, WR_ENOMEM, "out of memory (sort)");
    }
    size_t nr = 0;
    runs[nr++] = 0;
    for (size_t k = 1; k < n; k++) {
        if (rec_less(h, &h->recs[k], &h->recs[k - 1])) {
            runs[nr++] = k;
        }
    }
    runs[nr] = n;
    struct rec *src = h->recs, *dst = tmp;
    while (nr > 1) {
        size_t out = 0;
        for (size_t r = 0; r < nr; r += 2) {
            size_t a = runs[r], m = r + 1 < nr ? runs[r + 1] : runs[nr], b = r + 1 < nr ? runs[r + 2 > nr ? nr : r + 2] : runs[nr];
            size_t x = a, y = m, o = a;
            while (x < m && y < b) {
                dst[o++] = rec_less(h, &src[y], &src[x]) ? src[y++] : src[x++];
            }
            while (x < m) {
                dst[o++] = src[x++];
            }
            while (y < b) {
                dst[o++] = src[y++];
            }
            runs[out++] = a;
        }
        runs[out] = n;
        nr = out;
        struct rec *t = src;
        src = dst;
        dst = t;
    }
    if (src != h->recs) {
        memcpy(h->recs, src, n * sizeof *src);
    }
    free(runs);
    free(tmp);
    return 0;
}

/* A kept line whose envelope was readable but which is not valid JSON. */
static void invalid_line_at(struct day *d, const char *key, size_t off, struct srcstat *s)
{
    d->r->stats.invalid_lines++;
    s->invalid++;
    if (d->examples_b < d->cfg->max_examples && wr_log_enabled(WR_LOG_WARN)) {
        d->examples_b++;
        struct wr_logline l;
        wr_logline_begin(&l, WR_LOG_WARN, "curate: invalid raw line (counted, not curated)");
        wr_logline_str(&l, "key", key);
        wr_logline_int(&l, "offset", (int64_t)off);
        wr_logline_str(&l, "reason", "not valid JSON past the envelope");
        wr_logline_end(&l);
    }
}

/* Stage A of one hour: fetch, inflate, scan and sort its files into h. Touches only h, the
 * day's read-only parts and d->examples_a, so it may run beside stage B of another hour. */
static int stage_a(struct day *d, struct hourbuf *h)
{
    h->nsrcs = 0;
    h->hour_bad_files = 0;
    h->invalid = 0;
    h->nrecs = 0;
    memset(&h->err, 0, sizeof h->err);
    int rc = read_files(d, h, h->i, h->j);
    if (rc == 0 && h->lookback) {
        h->hour_bad_files = 0; /* a bad file of the day before is that day's to report */
    }
    if (rc == 0) {
        rc = scan_hour(d, h, h->i, h->lookback);
    }
    if (rc == 0) {
        rc = sort_recs(h);
    }
    return rc;
}

/* Stage B of one hour: dedup in received order, rows, rollups. */
static int stage_b(struct day *d, struct hourbuf *h)
{
    d->r->stats.bad_files += h->hour_bad_files;
    d->r->stats.invalid_lines += h->invalid;
    int rc;
    for (size_t k = 0; k < h->nrecs; k++) {
        const struct rec *r = &h->recs[k];
        if (k + 2 < h->nrecs) {
            cur__idset_prefetch(d->ids, h->recs[k + 2].ha);
        }
        if (h->lookback) {
            if (cur__idset_add_hash(d->ids, r->ha, r->hb) < 0) {
                return wr_err_set(d->err, WR_ENOMEM, "out of memory (dedup set)");
            }
            continue;
        }
        struct srcstat *s = &h->srcs[r->src];
        if (cur__idset_has_hash(d->ids, r->ha, r->hb)) {
            s->events++;
            d->r->stats.lines++;
            s->duplicates++;
            d->r->stats.duplicates++;
            continue;
        }
        rc = write_row(d, h, r);
        if (rc < 0) {
            return rc;
        }
        if (rc == 1) {
            size_t f = 0;
            while (f + 1 < h->nfstart && r->off >= h->fstart[f + 1]) {
                f++;
            }
            invalid_line_at(d, d->fl.v[h->i + f].key, r->off - h->fstart[f], s);
            continue;
        }
        if (cur__idset_add_hash(d->ids, r->ha, r->hb) < 0) {
            return wr_err_set(d->err, WR_ENOMEM, "out of memory (dedup set)");
        }
        s->events++;
        d->r->stats.lines++;
        s->distinct++;
    }
    return h->lookback ? 0 : add_rollups(d, h, d->fl.v[h->i].hr);
}

static int hourbuf_init(struct hourbuf *h, lake_store *st, const struct cur_config *cfg)
{
    memset(h, 0, sizeof *h);
    h->st = st;
    h->arena = wr_arena_create(1 << 16, 256u << 20);
    wr_buf_init(&h->gz, cfg->max_file_bytes);
    wr_buf_init(&h->hour, cfg->max_hour_bytes < 0xfff00000u ? cfg->max_hour_bytes : 0xfff00000u);
    wr_buf_init(&h->idside, 0xfff00000u);
    h->srcs = malloc(8 * sizeof *h->srcs);
    h->capsrcs = 8;
#ifdef WEIR_HAVE_LIBDEFLATE
    h->dc = libdeflate_alloc_decompressor(); /* NULL: zlib only */
#endif
    return h->arena && h->srcs ? 0 : WR_ENOMEM;
}

static void hourbuf_free(struct hourbuf *h)
{
#ifdef WEIR_HAVE_LIBDEFLATE
    if (h->dc) {
        libdeflate_free_decompressor(h->dc);
    }
#endif
    wr_arena_destroy(h->arena);
    wr_buf_free(&h->gz);
    wr_buf_free(&h->hour);
    wr_buf_free(&h->idside);
    free(h->recs);
    free(h->srcs);
    free(h->fstart);
}

/* ---- the task pool of pipelined days ------------------------------------------------ */

/* A FIFO of tasks: stage A of a day's next hour and the Parquet writer's page compressions
 * (through pq_exec). Its threads are either its own (cur_day_curate alone: one helper) or
 * cur_run's workers, which run queued tasks between days and whenever they wait. Whoever
 * waits (a day's thread at an hour's end, a writer at a row group's flush) runs queued tasks
 * itself meanwhile, so every thread stays busy whichever stage is the longer. */
struct task {
    void (*fn)(void *);
    void *job;
    struct task *next;
};

static struct task *pool_pop(cur_pool *pl)
{
    struct task *t = pl->head;
    if (t) {
        pl->head = t->next;
        if (!pl->head) {
            pl->tail = NULL;
        }
    }
    return t;
}

/* Runs queued tasks until stop is set and the queue is empty (pl->mu held on entry/exit). */
static void pool_serve(cur_pool *pl, const int *until_zero)
{
    for (;;) {
        struct task *t = pool_pop(pl);
        if (!t) {
            if (until_zero ? *until_zero == 0 : pl->stop) {
                break;
            }
            pthread_cond_wait(&pl->cv, &pl->mu);
            continue;
        }
        pthread_mutex_unlock(&pl->mu);
        t->fn(t->job);
        free(t);
        pthread_mutex_lock(&pl->mu);
    }
}

static void *pool_main(void *arg)
{
    cur_pool *pl = arg;
    pthread_mutex_lock(&pl->mu);
    pool_serve(pl, NULL);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static int pool_submit(void *arg, void (*fn)(void *), void *job)
{
    cur_pool *pl = arg;
    struct task *t = malloc(sizeof *t);
    if (!t) {
        return WR_ENOMEM;
    }
    t->fn = fn;
    t->job = job;
    t->next = NULL;
    pthread_mutex_lock(&pl->mu);
    if (pl->tail) {
        pl->tail->next = t;
    } else {
        pl->head = t;
    }
    pl->tail = t;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    return 0;
}

static int pool_help(void *arg)
{
    cur_pool *pl = arg;
    pthread_mutex_lock(&pl->mu);
    struct task *t = pool_pop(pl);
    pthread_mutex_unlock(&pl->mu);
    if (!t) {
        return 0;
    }
    t->fn(t->job);
    free(t);
    return 1;
}

int cur__pool_init(cur_pool *pl, int own_thread, int workers)
{
    memset(pl, 0, sizeof *pl);
    if (pthread_mutex_init(&pl->mu, NULL) != 0) {
        return WR_ENOMEM;
    }
    if (pthread_cond_init(&pl->cv, NULL) != 0) {
        pthread_mutex_destroy(&pl->mu);
        return WR_ENOMEM;
    }
    if (own_thread && pthread_create(&pl->th, NULL, pool_main, pl) != 0) {
        pthread_cond_destroy(&pl->cv);
        pthread_mutex_destroy(&pl->mu);
        return WR_ENOMEM;
    }
    pl->own_thread = own_thread;
    pl->busy = workers;
    pl->exec = (struct pq_exec){pl, pool_submit, pool_help};
    return 0;
}

void cur__pool_worker_done(cur_pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->busy--;
    pthread_cond_broadcast(&pl->cv);
    pool_serve(pl, &pl->busy);
    pthread_mutex_unlock(&pl->mu);
}

void cur__pool_help_all(cur_pool *pl)
{
    while (pool_help(pl)) {
    }
}

void cur__pool_fini(cur_pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->stop = 1;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    if (pl->own_thread) {
        pthread_join(pl->th, NULL);
    }
    cur__pool_help_all(pl);
    pthread_cond_destroy(&pl->cv);
    pthread_mutex_destroy(&pl->mu);
}

struct prefetch {
    struct day *d;
    struct hourbuf *h;
    cur_pool *hp;
    int rc;
    int done;
};

static void prefetch_run(void *arg)
{
    struct prefetch *p = arg;
    int rc = stage_a(p->d, p->h);
    pthread_mutex_lock(&p->hp->mu);
    p->rc = rc;
    p->done = 1;
    pthread_cond_broadcast(&p->hp->cv);
    pthread_mutex_unlock(&p->hp->mu);
}

/* Waits for a prefetch, running queued tasks (maybe the prefetch itself) meanwhile. */
static void prefetch_wait(struct prefetch *p)
{
    cur_pool *hp = p->hp;
    pthread_mutex_lock(&hp->mu);
    while (!p->done) {
        struct task *t = pool_pop(hp);
        if (t) {
            pthread_mutex_unlock(&hp->mu);
            t->fn(t->job);
            free(t);
            pthread_mutex_lock(&hp->mu);
        } else {
            pthread_cond_wait(&hp->cv, &hp->mu);
        }
    }
    pthread_mutex_unlock(&hp->mu);
}

struct delctx {
    unsigned parts;
    char **keys;
    size_t n, cap;
};

static int stale_cb(void *arg, const char *key, uint64_t size)
{
    (void)size;
    struct delctx *c = arg;
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    unsigned num = 0;
    if (strncmp(base, "part-", 5) != 0 || strlen(base) != 18 ||
        strcmp(base + 10, ".parquet") != 0) {
        return 0;
    }
    for (int i = 5; i < 10; i++) {
        if (base[i] < '0' || base[i] > '9') {
            return 0;
        }
        num = num * 10 + (unsigned)(base[i] - '0');
    }
    if (num < c->parts) {
        return 0;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8;
        char **nk = realloc(c->keys, nc * sizeof *nk);
        if (!nk) {
            return WR_ENOMEM;
        }
        c->keys = nk;
        c->cap = nc;
    }
    c->keys[c->n] = strdup(key);
    if (!c->keys[c->n]) {
        return WR_ENOMEM;
    }
    c->n++;
    return 0;
}

/* Deletes part files numbered >= parts (left by an earlier run that wrote more). */
static int delete_stale(struct day *d)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "curated/events/event_type=%s/dt=%s/", d->event_type, d->dt);
    struct delctx c = {d->parts, NULL, 0, 0};
    int rc = lake_store_list(d->st, prefix, stale_cb, &c, d->err);
    if (rc > 0) {
        rc = wr_err_set(d->err, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c.n; i++) {
        if (rc == 0) {
            rc = lake_store_delete(d->st, c.keys[i], d->err);
        }
        free(c.keys[i]);
    }
    free(c.keys);
    return rc;
}

void cur_day_result_free(struct cur_day_result *r)
{
    if (r) {
        free(r->rollups);
        r->rollups = NULL;
        r->nrollups = 0;
    }
}

int cur_day_curate(lake_store *st, const cur_model *m, const char *event_type, const char *dt,
                   const struct cur_config *cfg, cur_renew_fn renew, void *renew_arg,
                   struct cur_day_result *r, struct wr_err *err)
{
    return cur__day_curate(st, m, event_type, dt, cfg, NULL, renew, renew_arg, r, err);
}

int cur__day_curate(lake_store *st, const cur_model *m, const char *event_type, const char *dt,
                    const struct cur_config *cfg, cur_pool *pool, cur_renew_fn renew,
                    void *renew_arg, struct cur_day_result *r, struct wr_err *err)
{
    memset(r, 0, sizeof *r);
    struct day d;
    memset(&d, 0, sizeof d);
    d.st = st;
    d.m = m;
    d.cfg = cfg;
    d.event_type = event_type;
    d.dt = dt;
    d.r = r;
    d.err = err;
    int rc = list_day(st, event_type, dt, cfg, &d.fl, err);
    if (rc) {
        return rc;
    }
    {
        const char **keys = malloc((d.fl.n + 1) * sizeof *keys);
        uint64_t *sizes = malloc((d.fl.n + 1) * sizeof *sizes);
        if (!keys || !sizes) {
            free(keys);
            free(sizes);
            filelist_free(&d.fl);
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < d.fl.n; i++) {
            keys[i] = d.fl.v[i].key;
            sizes[i] = d.fl.v[i].size;
        }
        cur_fingerprint(keys, sizes, d.fl.n, r->fingerprint);
        free(keys);
        free(sizes);
    }
    d.ids = cur_idset_create();
    d.arena = wr_arena_create(1 << 16, 256u << 20);
    memset(d.predict, 0xff, sizeof d.predict);
    /* the hours: runs of files with the same (lookback, hr) */
    size_t ngroups = 0;
    size_t *gstart = malloc((d.fl.n + 1) * sizeof *gstart);
    for (size_t i = 0; gstart && i < d.fl.n; i++) {
        if (i == 0 || d.fl.v[i].hr != d.fl.v[i - 1].hr ||
            d.fl.v[i].lookback != d.fl.v[i - 1].lookback) {
            gstart[ngroups++] = i;
        }
    }
    if (gstart) {
        gstart[ngroups] = d.fl.n;
    }
    int pipeline = cfg->pipeline && ngroups > 1;
    lake_store *st2 = NULL;
    if (pipeline) {
        st2 = lake_store_open(cfg->lake_url, cfg->s3, err);
        if (!st2) {
            pipeline = 0; /* a second store could not be opened: read on this thread */
        }
    }
    cur_pool own, *hp = pool;
    if (pipeline && !hp) {
        hp = cur__pool_init(&own, 1, 0) == 0 ? &own : NULL;
    }
    if (!hp) {
        pipeline = 0; /* no helper thread: read on this thread */
    }
    if (pipeline) {
        d.exec = &hp->exec;
    }
    struct hourbuf hb[2];
    int hbok = hourbuf_init(&hb[0], st2 ? st2 : st, cfg) == 0;
    hbok = (hourbuf_init(&hb[1], st2 ? st2 : st, cfg) == 0) && hbok;
    if (!d.ids || !d.arena || !gstart || !hbok) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (rc == 0 && ngroups) {
        hb[0].i = gstart[0];
        hb[0].j = gstart[1];
        hb[0].lookback = d.fl.v[gstart[0]].lookback;
        rc = stage_a(&d, &hb[0]);
        if (rc) {
            *err = hb[0].err;
        }
    }
    int64_t last_progress = wr_time_mono_ns();
    for (size_t g = 0; rc == 0 && g < ngroups; g++) {
        /* without a pipeline one buffer serves every hour, so only one hour is held */
        struct hourbuf *cur = pipeline ? &hb[g % 2] : &hb[0];
        struct hourbuf *next = pipeline ? &hb[(g + 1) % 2] : &hb[0];
        if (renew && renew(renew_arg) != 0) {
            rc = wr_err_set(err, WR_EAGAIN, "lease lost");
            break;
        }
        if (cfg->test_hour_delay_ms > 0) {
            struct timespec ts = {cfg->test_hour_delay_ms / 1000,
                                  (long)(cfg->test_hour_delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        struct prefetch pf = {&d, next, pipeline ? hp : NULL, 0, 0};
        int have_next = g + 1 < ngroups, started = 0;
        if (have_next && pipeline) {
            next->i = gstart[g + 1];
            next->j = gstart[g + 2];
            next->lookback = d.fl.v[next->i].lookback;
            started = pool_submit(hp, prefetch_run, &pf) == 0;
        }
        rc = stage_b(&d, cur);
        if (rc == 0 && !cur->lookback && wr_log_enabled(WR_LOG_INFO) &&
            wr_time_mono_ns() - last_progress > 10 * 1000000000LL) {
            /* long days say how far they are, about every 10 s */
            last_progress = wr_time_mono_ns();
            struct wr_logline l;
            wr_logline_begin(&l, WR_LOG_INFO, "curate: progress");
            wr_logline_str(&l, "event_type", event_type);
            wr_logline_str(&l, "dt", dt);
            wr_logline_int(&l, "hr", d.fl.v[cur->i].hr);
            wr_logline_int(&l, "lines", (int64_t)r->stats.lines);
            wr_logline_int(&l, "rows", (int64_t)r->stats.rows);
            wr_logline_end(&l);
        }
        if (started) {
            prefetch_wait(&pf);
        } else if (have_next && rc == 0) {
            /* next may be cur: its fields change only now that cur is written */
            next->i = gstart[g + 1];
            next->j = gstart[g + 2];
            next->lookback = d.fl.v[next->i].lookback;
            pf.rc = stage_a(&d, next);
        }
        if (rc == 0 && pf.rc != 0) {
            rc = pf.rc;
            *err = next->err;
        }
    }
    if (rc == 0 && d.w) {
        rc = part_close(&d);
    }
    if (rc == 0) {
        rc = delete_stale(&d);
    }
    if (d.w) {
        part_abandon(&d);
    }
    if (pipeline && hp == &own) {
        cur__pool_fini(&own);
    }
    r->parts = d.parts;
    if (r->nrollups > 1) {
        qsort(r->rollups, r->nrollups, sizeof *r->rollups, roll_cmp);
    }
    if (rc != 0) {
        cur_day_result_free(r);
    }
    cur_idset_destroy(d.ids);
    wr_arena_destroy(d.arena);
    hourbuf_free(&hb[0]);
    hourbuf_free(&hb[1]);
    lake_store_destroy(st2);
    free(gstart);
    filelist_free(&d.fl);
    return rc;
}

int cur__day_fingerprint(lake_store *st, const char *event_type, const char *dt,
                         const struct cur_config *cfg, char out[65], size_t *nfiles,
                         uint64_t *bytes, struct wr_err *err)
{
    *bytes = 0;
    struct filelist fl;
    int rc = list_day(st, event_type, dt, cfg, &fl, err);
    if (rc) {
        return rc;
    }
    const char **keys = malloc((fl.n + 1) * sizeof *keys);
    uint64_t *sizes = malloc((fl.n + 1) * sizeof *sizes);
    size_t own = 0;
    if (!keys || !sizes) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < fl.n; i++) {
            keys[i] = fl.v[i].key;
            sizes[i] = fl.v[i].size;
            own += !fl.v[i].lookback;
            *bytes += fl.v[i].lookback ? 0 : fl.v[i].size;
        }
        cur_fingerprint(keys, sizes, fl.n, out);
    }
    *nfiles = own;
    free(keys);
    free(sizes);
    filelist_free(&fl);
    return rc;
}
