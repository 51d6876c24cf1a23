/* read.c - stage A of a day's hour: fetch its raw files, inflate them (a damaged file's
 * readable prefix is kept), find each line's envelope (lake/envelope.h: a zero-copy scan,
 * the full parser only where the scan defers), and sort the lines by received_at. */
#include "cur_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "json/json.h"
#include "lake/envelope.h"

#include <stdlib.h>
#include <string.h>

/* The envelope strings the reading stage needs from each line; the first two are required. */
#define SCAN_NEED ((1u << LAKE_ENV_EVENT_ID) | (1u << LAKE_ENV_RECEIVED_AT))
#define SCAN_WANT (SCAN_NEED | (1u << LAKE_ENV_SOURCE))

int cur__hour_init(struct cur_hour *h, lake_store *st, const struct cur_config *cfg)
{
    memset(h, 0, sizeof *h);
    h->st = st;
    h->arena = wr_arena_create(1 << 16, 256u << 20);
    wr_buf_init(&h->gz, cfg->max_file_bytes);
    wr_buf_init(&h->hour, cfg->max_hour_bytes < 0xfff00000u ? cfg->max_hour_bytes : 0xfff00000u);
    wr_buf_init(&h->idside, 0xfff00000u);
    h->srcs = malloc(8 * sizeof *h->srcs);
    h->capsrcs = 8;
    h->inflater = wr_inflater_create();
    return h->arena && h->srcs && h->inflater ? 0 : WR_ENOMEM;
}

void cur__hour_free(struct cur_hour *h)
{
    wr_inflater_destroy(h->inflater);
    wr_arena_destroy(h->arena);
    wr_buf_free(&h->gz);
    wr_buf_free(&h->hour);
    wr_buf_free(&h->idside);
    free(h->recs);
    free(h->srcs);
    free(h->fstart);
}

static void log_bad_file(struct cur_hour *h, const char *key, const char *why)
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
static int read_files(struct cur_day *d, struct cur_hour *h, size_t i, size_t j)
{
    wr_buf_clear(&h->hour);
    free(h->fstart);
    h->fstart = malloc((j - i) * sizeof *h->fstart);
    h->nfstart = 0;
    if (!h->fstart) {
        return wr_err_set(&h->err, WR_ENOMEM, "out of memory");
    }
    for (; i < j; i++) {
        const struct cur_rawfile *f = &d->fl.v[i];
        h->fstart[h->nfstart++] = h->hour.len;
        wr_buf_clear(&h->gz);
        int rc = lake_store_get(h->st, f->key, &h->gz, &h->err);
        if (rc == WR_ENOENT) {
            continue; /* deleted since the listing: the fingerprint changes, a later run redoes it */
        }
        if (rc != 0) {
            return rc;
        }
        /* A damaged file still gives what was readable before the damage. */
        rc = wr_inflate_gzip(h->inflater, h->gz.p, h->gz.len, WR_INFLATE_KEEP_PREFIX, &h->hour);
        if (rc == WR_EINVAL) {
            log_bad_file(h, f->key, "not valid gzip (corrupt or truncated)");
            rc = 0;
        }
        if (rc == WR_ENOMEM) {
            return wr_err_set(&h->err, rc, "out of memory (inflating %s)", f->key);
        }
        if (rc != 0) {
            return wr_err_set(&h->err, rc, "hour %s of %s/%s inflates past --max-hour-bytes",
                              f->lookback ? "(lookback)" : "", d->event_type, d->dt);
        }
        if (h->hour.len && h->hour.p[h->hour.len - 1] != '\n' && wr_buf_putc(&h->hour, '\n') != 0) {
            return wr_err_set(&h->err, WR_ELIMIT, "hour too large");
        }
    }
    return 0;
}

static unsigned src_index(struct cur_hour *h, const char *s, size_t n)
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
        struct cur_srcstat *ns = realloc(h->srcs, nc * sizeof *ns);
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

static void invalid_line(struct cur_day *d, struct cur_hour *h, const char *key, size_t lineno,
                         const char *why, const char *src, size_t srclen, int lookback)
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

static int grow_recs(struct cur_hour *h)
{
    size_t nc = h->caprecs ? h->caprecs * 2 : 4096;
    struct cur_rec *nr = realloc(h->recs, nc * sizeof *nr);
    if (!nr) {
        return WR_ENOMEM;
    }
    h->recs = nr;
    h->caprecs = nc;
    return 0;
}

/* Parses every line of d->hour into d->recs; fi is the hour's first file, for naming
 * the file of an invalid line. */
static int scan_hour(struct cur_day *d, struct cur_hour *h, size_t fi, int lookback)
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
            q[LAKE_ENV_EVENT_ID].len <= 1024 && q[LAKE_ENV_SOURCE].len <= CUR_MAX_SOURCE &&
            wr_time_parse_rfc3339(q[LAKE_ENV_RECEIVED_AT].p, q[LAKE_ENV_RECEIVED_AT].len, &qts)) {
            if (h->nrecs == h->caprecs && grow_recs(h) != 0) {
                return wr_err_set(&h->err, WR_ENOMEM, "out of memory");
            }
            struct cur_rec *r = &h->recs[h->nrecs++];
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
        if (src && src->type == JS_STRING && src->n <= CUR_MAX_SOURCE) {
            sp = src->u.s;
            sn = src->n;
        }
        const struct js_val *id = ev.f[LAKE_ENV_EVENT_ID];
        const struct js_val *ra = ev.f[LAKE_ENV_RECEIVED_AT];
        int64_t ts;
        if (!id || id->type != JS_STRING || id->n == 0 || id->n > 1024) {
            invalid_line(d, h, key, lineno, "event_id missing or not a string of 1..1024 bytes", sp,
                         sn, lookback);
            continue;
        }
        if (!ra || ra->type != JS_STRING || !wr_time_parse_rfc3339(ra->u.s, ra->n, &ts)) {
            invalid_line(d, h, key, lineno, "received_at missing or not an RFC 3339 date-time", sp,
                         sn, lookback);
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
        struct cur_rec *r = &h->recs[h->nrecs++];
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

static int rec_cmp(const void *a, const void *b, const struct cur_hour *h)
{
    const struct cur_rec *x = a, *y = b;
    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
    int c = memcmp(cur__rec_id(h, x), cur__rec_id(h, y), n);
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

static int rec_less(const struct cur_hour *h, const struct cur_rec *x, const struct cur_rec *y)
{
    if (x->ts != y->ts) {
        return x->ts < y->ts;
    }
    return rec_cmp(x, y, h) < 0;
}

/* Sorts the hour's records: a stable natural merge sort, nearly linear on the gateway's
 * files, which are each in received order. */
static int sort_recs(struct cur_hour *h)
{
    size_t n = h->nrecs;
    if (n < 2) {
        return 0;
    }
    size_t *runs = malloc((n + 1) * sizeof *runs);
    struct cur_rec *tmp = malloc(n * sizeof *tmp);
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
    struct cur_rec *src = h->recs, *dst = tmp;
    while (nr > 1) {
        size_t out = 0;
        for (size_t r = 0; r < nr; r += 2) {
            size_t a = runs[r], m = r + 1 < nr ? runs[r + 1] : runs[nr],
                   b = r + 1 < nr ? runs[r + 2 > nr ? nr : r + 2] : runs[nr];
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
        struct cur_rec *t = src;
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

int cur__stage_a(struct cur_day *d, struct cur_hour *h)
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
