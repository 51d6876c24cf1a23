/* write.c - stage B of a day's hour: deduplicate by event_id in received order (the day's
 * id set), write typed rows into Parquet part files of about the target size (uploaded as
 * each closes, fenced by the lease) and count the rollups; and the deletion of parts. */
#include "common/array.h"
#include "cur_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "json/json.h"
#include "lake/envelope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int part_open(struct cur_day *d)
{
    struct pq_opts o = {0};
    o.exec = d->exec;
    o.codec = d->cfg->codec;
    o.level = d->cfg->level;
    o.row_group_bytes = d->cfg->row_group_bytes;
    o.build = "curator";
    struct pq_schema s = {d->m->cols, d->m->ncols};
    int rc = cur__pqfile_open(&d->part, d->cfg->tmp_dir, "curate", &s, &o, d->err);
    d->rows_in_part = 0;
    return rc;
}

void cur__part_abandon(struct cur_day *d)
{
    cur__pqfile_finish(&d->part, WR_EINVAL, NULL, NULL, NULL);
}

/* Generations are written before the five-digit part number, so a part's name stays
 * part-<n>.parquet with n ordered by (generation, part): part-00003 is part 3 of an
 * unfenced run, part-1200003 part 3 of generation 12. */
#define PART_DIGITS 5
#define PART_MAX 99999u

static int part_key(struct cur_day *d, char *key, size_t cap)
{
    uint64_t gen = d->fence ? d->fence->gen : 0;
    if (gen && d->parts > PART_MAX) {
        return wr_err_set(d->err, WR_ELIMIT, "%s/%s: more than %u parts", d->event_type, d->dt,
                          PART_MAX + 1);
    }
    int rc = lake_path_curated_events(key, cap, d->event_type, d->dt, d->parts);
    if (rc != 0) {
        return wr_err_set(d->err, rc, "no curated path for %s/%s", d->event_type, d->dt);
    }
    if (gen) {
        char *base = strrchr(key, '/') + 1;
        size_t room = cap - (size_t)(base - key);
        int n = snprintf(base, room, "part-%llu%05u.parquet", (unsigned long long)gen, d->parts);
        if (n < 0 || (size_t)n >= room) {
            return wr_err_set(d->err, WR_ELIMIT, "no curated path for %s/%s", d->event_type, d->dt);
        }
    }
    return 0;
}

/* Tests only: the first upload of the process waits for the test (a FIFO opened for
 * writing), having said so with <fifo>.paused, so a test can run another worker meanwhile. */
static void test_pause(const char *fifo)
{
    static atomic_int paused;
    if (atomic_exchange(&paused, 1)) {
        return;
    }
    char marker[1024];
    snprintf(marker, sizeof marker, "%s.paused", fifo);
    int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
    }
    fd = open(fifo, O_RDONLY | O_CLOEXEC); /* blocks until the test opens it for writing */
    if (fd >= 0) {
        char b[64];
        while (read(fd, b, sizeof b) > 0) {
        }
        close(fd);
    }
}

int cur__part_close(struct cur_day *d)
{
    uint64_t bytes = 0;
    int rc = cur__pqfile_seal(&d->part, &bytes, d->err);
    char key[1024];
    if (rc == 0) {
        rc = part_key(d, key, sizeof key);
    }
    if (rc == 0 && d->fence && d->fence->check(d->fence->arg) != 0) {
        /* Checked before every put: a worker past its lease stops writing. */
        rc = wr_err_set(d->err, WR_EAGAIN, "lease lost");
    }
    if (rc == 0 && d->cfg->test_pause_fifo) {
        test_pause(d->cfg->test_pause_fifo);
    }
    rc = cur__pqfile_finish(&d->part, rc, d->st, key, d->err);
    if (rc == 0) {
        d->parts++;
        d->r->stats.files_written++;
        d->r->stats.bytes_written += bytes;
    }
    return rc;
}

static int put_value(struct cur_day *d, size_t col, enum cur_kind k, const struct js_val *v,
                     const char *line)
{
    pq_writer *w = d->part.w;
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
    case CUR_K_JSON: return pq_writer_put_str(w, col, line + v->src_off, v->src_len);
    }
    d->r->stats.type_mismatches++;
    return 0;
}

/* One string member of obj (NULL: absent) into column col; anything but a string is null. */
static int put_ctx_str(pq_writer *w, size_t col, const struct js_val *obj, const char *name)
{
    const struct js_val *v = obj ? js_get(obj, name, strlen(name)) : NULL;
    return v && v->type == JS_STRING ? pq_writer_put_str(w, col, v->u.s, v->n) : 0;
}

/* The context_* columns from the line's `context` (the gateway's, browser.md): ip,
 * ua.browser, ua.os, ua.device, ua.bot, geo.country, geo.city. A line without one (older
 * lines, other writers) or a member of another shape leaves the column null. */
static int put_context(struct cur_day *d, const struct js_val *ctx)
{
    if (!ctx || ctx->type != JS_OBJECT) {
        return 0;
    }
    pq_writer *w = d->part.w;
    const struct js_val *ua = js_get(ctx, "ua", 2);
    const struct js_val *geo = js_get(ctx, "geo", 3);
    if (ua && ua->type != JS_OBJECT) {
        ua = NULL;
    }
    if (geo && geo->type != JS_OBJECT) {
        geo = NULL;
    }
    int rc = put_ctx_str(w, CUR_C_CTX_IP, ctx, "ip");
    if (rc == 0) {
        rc = put_ctx_str(w, CUR_C_CTX_BROWSER, ua, "browser");
    }
    if (rc == 0) {
        rc = put_ctx_str(w, CUR_C_CTX_OS, ua, "os");
    }
    if (rc == 0) {
        rc = put_ctx_str(w, CUR_C_CTX_DEVICE, ua, "device");
    }
    const struct js_val *bot = ua ? js_get(ua, "bot", 3) : NULL;
    if (rc == 0 && bot && (bot->type == JS_TRUE || bot->type == JS_FALSE)) {
        rc = pq_writer_put_bool(w, CUR_C_CTX_BOT, bot->type == JS_TRUE);
    }
    if (rc == 0) {
        rc = put_ctx_str(w, CUR_C_CTX_COUNTRY, geo, "country");
    }
    if (rc == 0) {
        rc = put_ctx_str(w, CUR_C_CTX_CITY, geo, "city");
    }
    return rc;
}

/* Writes the row of a kept line. Returns 0, 1 when the line turns out not to be valid JSON
 * (nothing written), or a negative error. */
static int write_row(struct cur_day *d, const struct cur_hour *h, const struct cur_rec *r)
{
    if (!d->part.w) {
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
    pq_writer *w = d->part.w;
    int rc = pq_writer_put_str(w, CUR_C_EVENT_ID, cur__rec_id(h, r), r->id_len);
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
    if (rc == 0) {
        rc = put_context(d, ev.f[LAKE_ENV_CONTEXT]);
    }
    const struct js_val *pl = ev.f[LAKE_ENV_PAYLOAD];
    if (rc == 0 && pl && d->m->whole_payload) {
        if (pl->type != JS_NULL) {
            rc = pq_writer_put_str(w, CUR_NENV, line + pl->src_off, pl->src_len);
        }
    } else if (rc == 0 && pl && pl->type == JS_OBJECT) {
        for (uint32_t i = 0; i < pl->n && rc == 0; i++) {
            const struct js_member *mb = &pl->u.members[i];
            int c = i < CUR_PREDICT ? d->predict[i] : -1;
            if (c < 0 || d->m->plens[c - CUR_NENV] != mb->name_len ||
                memcmp(d->m->props[c - CUR_NENV], mb->name, mb->name_len) != 0) {
                /* lines of one type mostly share their member order: remember it */
                c = cur__model_find(d->m, mb->name, mb->name_len);
                if (i < CUR_PREDICT) {
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
    if (d->ru && (rc = cur__ru_row(d->ru, &ev, line, r->ts, d->err)) != 0) {
        return rc;
    }
    d->r->stats.rows++;
    if (++d->rows_in_part % 256 == 0 &&
        pq_writer_bytes_written(w) + pq_writer_buffered_bytes(w) >= d->cfg->target_file_bytes) {
        /* pages still compressing count at an upper bound: settle them for the exact size,
         * so parts are cut where a single thread cuts them (the same bytes, any timing) */
        if (d->exec && (rc = pq_writer_settle(w)) != 0) {
            return wr_err_set(d->err, rc, "parquet: %s", pq_writer_errmsg(w));
        }
        if (pq_writer_bytes_written(w) + pq_writer_buffered_bytes(w) >= d->cfg->target_file_bytes) {
            return cur__part_close(d);
        }
    }
    return 0;
}

static int add_rollups(struct cur_day *d, const struct cur_hour *h, int hr)
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
        const struct cur_srcstat *s = &h->srcs[i];
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

void cur__rollups_sort(struct cur_day_result *r)
{
    if (r->nrollups > 1) {
        qsort(r->rollups, r->nrollups, sizeof *r->rollups, roll_cmp);
    }
}

/* A kept line whose envelope was readable but which is not valid JSON. */
static void invalid_line_at(struct cur_day *d, const char *key, size_t off, struct cur_srcstat *s)
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

/* Stage B of one hour: dedup in received order, rows, rollups. */
int cur__stage_b(struct cur_day *d, struct cur_hour *h)
{
    d->r->stats.bad_files += h->hour_bad_files;
    d->r->stats.invalid_lines += h->invalid;
    int rc;
    for (size_t k = 0; k < h->nrecs; k++) {
        const struct cur_rec *r = &h->recs[k];
        if (k + 2 < h->nrecs) {
            cur__idset_prefetch(d->ids, h->recs[k + 2].ha);
        }
        if (h->lookback) {
            if (cur__idset_add_hash(d->ids, r->ha, r->hb) < 0) {
                return wr_err_set(d->err, WR_ENOMEM, "out of memory (dedup set)");
            }
            continue;
        }
        struct cur_srcstat *s = &h->srcs[r->src];
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

struct delctx {
    unsigned legacy_from;
    uint64_t gen_below, gen_eq;
    char **keys;
    size_t n, cap;
};

/* Reads part-<g><nnnnn>.parquet: 1 with the generation and part number, else 0. */
static int parse_part(const char *base, uint64_t *gen, unsigned *num)
{
    size_t len = strlen(base);
    if (strncmp(base, "part-", 5) != 0 || len < 5 + PART_DIGITS + 8 ||
        strcmp(base + len - 8, ".parquet") != 0) {
        return 0;
    }
    size_t digits = len - 5 - 8;
    if (digits > PART_DIGITS + 19) {
        return 0;
    }
    uint64_t g = 0;
    unsigned n = 0;
    for (size_t i = 0; i < digits; i++) {
        char c = base[5 + i];
        if (c < '0' || c > '9') {
            return 0;
        }
        if (i < digits - PART_DIGITS) {
            if (g > (UINT64_MAX - 9) / 10) {
                return 0;
            }
            g = g * 10 + (uint64_t)(c - '0');
        } else {
            n = n * 10 + (unsigned)(c - '0');
        }
    }
    if (digits > PART_DIGITS && base[5] == '0') {
        return 0; /* a generation with a leading zero: not a name this module writes */
    }
    *gen = g;
    *num = n;
    return 1;
}

static int parts_cb(void *arg, const char *key, uint64_t size)
{
    (void)size;
    struct delctx *c = arg;
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    uint64_t gen;
    unsigned num;
    if (!parse_part(base, &gen, &num)) {
        return 0;
    }
    int del = gen == 0 ? num >= c->legacy_from : (gen < c->gen_below || gen == c->gen_eq);
    if (!del) {
        return 0;
    }
    if (wr_array_grow(&c->keys, &c->cap, c->n + 1, sizeof *c->keys, 8, 0) != 0) {
        return WR_ENOMEM;
    }
    c->keys[c->n] = strdup(key);
    if (!c->keys[c->n]) {
        return WR_ENOMEM;
    }
    c->n++;
    return 0;
}

int cur__parts_delete(lake_store *st, const char *event_type, const char *dt, unsigned legacy_from,
                      uint64_t gen_below, uint64_t gen_eq, struct wr_err *err)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "curated/events/event_type=%s/dt=%s/", event_type, dt);
    struct delctx c = {legacy_from, gen_below, gen_eq, NULL, 0, 0};
    int rc = lake_store_list(st, prefix, parts_cb, &c, err);
    if (rc > 0) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c.n; i++) {
        if (rc == 0) {
            rc = lake_store_delete(st, c.keys[i], err);
        }
        free(c.keys[i]);
    }
    free(c.keys);
    return rc;
}
