/* run.c - the worker loop: discovery of days with closed raw hours, leases in Postgres
 * (FOR UPDATE SKIP LOCKED, expiring, renewed while working), per-day curation, rollups
 * upserted into Postgres and rewritten as Parquet, N threads per process. */
#include "common/array.h"
#include "curator.h"
#include "cur_int.h"
#include "rollup_user.h"

#include "common/clock.h"
#include "common/log.h"
#include "registry/registry.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cur_config_defaults(struct cur_config *c)
{
    if (!c->grace_ms) {
        c->grace_ms = 10 * 60 * 1000;
    }
    if (!c->lease_ms) {
        c->lease_ms = 5 * 60 * 1000;
    }
    if (!c->lookback_ms) {
        c->lookback_ms = 2 * 3600 * 1000;
    }
    if (c->lookback_ms < 0) {
        c->lookback_ms = 0;
    }
    if (!c->target_file_bytes) {
        c->target_file_bytes = 128u << 20;
    }
    if (!c->row_group_bytes) {
        c->row_group_bytes = 64u << 20;
    }
    if (!c->max_hour_bytes) {
        c->max_hour_bytes = (uint64_t)2 << 30;
    }
    if (!c->max_file_bytes) {
        c->max_file_bytes = (uint64_t)1 << 30;
    }
    if (c->threads <= 0) {
        c->threads = 1;
    }
    if (c->level == 0 && c->codec == PQ_CODEC_ZSTD) {
        /* On ~1 MiB pages of event columns level 1 writes files no larger than level 3's
         * (1M-event bench: 77.7 vs 78.5 MB) for about 40 % less compression time. */
        c->level = 1;
    }
    if (!c->tmp_dir) {
        c->tmp_dir = "/tmp";
    }
    if (!c->max_examples) {
        c->max_examples = 5;
    }
}

/* A non-negative integer column value of Postgres' text format: 1, or 0 when it is not. */
static int pg_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9') {
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        return 0;
    }
    *out = v;
    return 1;
}

/* ---- discovery -------------------------------------------------------------------- */

struct unit {
    char type[201];
    char dt[11];
};

struct units {
    struct unit *v;
    size_t n, cap;
    const char *dt_filter;
};

static int disc_cb(void *arg, const char *key, uint64_t size)
{
    (void)size;
    struct units *u = arg;
    struct lake_raw_key k;
    if (!lake_path_parse_raw(key, &k)) {
        return 0;
    }
    if (u->dt_filter && strcmp(u->dt_filter, k.dt) != 0) {
        return 0;
    }
    if (u->n && !strcmp(u->v[u->n - 1].type, k.event_type) && !strcmp(u->v[u->n - 1].dt, k.dt)) {
        return 0;
    }
    for (size_t i = u->n; i-- > 0 && i + 64 > u->n;) {
        if (!strcmp(u->v[i].type, k.event_type) && !strcmp(u->v[i].dt, k.dt)) {
            return 0;
        }
    }
    if (wr_array_grow(&u->v, &u->cap, u->n + 1,
                      sizeof *u->v, 64, 0) != 0) {
        return WR_ENOMEM;
    }
    memcpy(u->v[u->n].type, k.event_type, sizeof k.event_type);
    memcpy(u->v[u->n].dt, k.dt, sizeof k.dt);
    u->n++;
    return 0;
}

static int unit_cmp(const void *a, const void *b)
{
    const struct unit *x = a, *y = b;
    int c = strcmp(x->dt, y->dt);
    return c ? c : strcmp(x->type, y->type);
}

/* Records every day with closed raw hours and its fingerprint. */
static int discover(PGconn *c, lake_store *st, const struct cur_config *cfg, struct wr_err *err)
{
    struct units u = {NULL, 0, 0, cfg->dt};
    char prefix[512];
    if (cfg->event_type) {
        snprintf(prefix, sizeof prefix, "raw/event_type=%s/", cfg->event_type);
    } else {
        snprintf(prefix, sizeof prefix, "raw/");
    }
    int rc = lake_store_list(st, prefix, disc_cb, &u, err);
    if (rc > 0) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (rc == 0 && u.n > 1) {
        qsort(u.v, u.n, sizeof *u.v, unit_cmp);
    }
    size_t found = 0;
    for (size_t i = 0; rc == 0 && i < u.n; i++) {
        if (i && !unit_cmp(&u.v[i], &u.v[i - 1])) {
            continue;
        }
        char fp[65];
        size_t nfiles;
        uint64_t bytes;
        rc = cur__day_fingerprint(st, u.v[i].type, u.v[i].dt, cfg, fp, &nfiles, &bytes, err);
        if (rc || nfiles == 0) {
            continue;
        }
        char b[24];
        snprintf(b, sizeof b, "%llu", (unsigned long long)bytes);
        const char *p[4] = {u.v[i].type, u.v[i].dt, fp, b};
        PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err,
            "INSERT INTO curation_state (event_type, dt, fingerprint, raw_bytes) "
            "VALUES ($1, $2, $3, $4::bigint) "
            "ON CONFLICT (event_type, dt) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
            "raw_bytes = EXCLUDED.raw_bytes, updated_at = now() "
            "WHERE curation_state.fingerprint IS DISTINCT FROM EXCLUDED.fingerprint", 4, p);
        if (!r) {
            rc = WR_EDB;
        }
        PQclear(r);
        found++;
    }
    free(u.v);
    if (rc == 0) {
        WR_DEBUG("curate: %zu days with closed hours", found);
    }
    return rc;
}

/* ---- one worker thread -------------------------------------------------------------- */

struct worker {
    const struct cur_config *cfg;
    char owner[256];
    PGconn *c;
    lake_store *st;
    struct cur_stats stats;
    int rc;
    pthread_t th;
    /* the claimed day */
    char type[201];
    char dt[11];
    char claimed_fp[65];
    uint64_t gen;        /* the claim's lease generation: fences the day's writes */
    char gen_s[24];
    int64_t renewed_ms;
    struct wr_err err;
    cur_pool *pool; /* shared by the workers (threads >= 2), else NULL */
};

static void add_stats(struct cur_stats *a, const struct cur_stats *b)
{
    a->units_done += b->units_done;
    a->units_failed += b->units_failed;
    a->units_lost += b->units_lost;
    a->lines += b->lines;
    a->rows += b->rows;
    a->duplicates += b->duplicates;
    a->invalid_lines += b->invalid_lines;
    a->bad_files += b->bad_files;
    a->type_mismatches += b->type_mismatches;
    a->extra_props += b->extra_props;
    a->files_written += b->files_written;
    a->bytes_written += b->bytes_written;
}

/* Claims one day; returns 1 with w->type/dt set, 0 when nothing is left, <0 on error. */
static int claim(struct worker *w)
{
    char lease[32];
    snprintf(lease, sizeof lease, "%lld", (long long)w->cfg->lease_ms);
    const char *p[4] = {w->owner, lease, w->cfg->event_type, w->cfg->dt};
    PGresult *r = reg_exec(w->c, PGRES_TUPLES_OK, &w->err,
        "UPDATE curation_state s SET lease_owner = $1, "
        "lease_until = now() + $2::bigint * interval '1 millisecond', "
        "attempts = s.attempts + 1, generation = s.generation + 1, updated_at = now() "
        "FROM (SELECT event_type, dt FROM curation_state "
        "      WHERE fingerprint IS DISTINCT FROM curated_fingerprint "
        "        AND (lease_until IS NULL OR lease_until < now()) "
        "        AND ($3::text IS NULL OR event_type = $3) "
        "        AND ($4::date IS NULL OR dt = $4::date) "
        "      ORDER BY raw_bytes DESC, dt, event_type LIMIT 1 FOR UPDATE SKIP LOCKED) x "
        "WHERE s.event_type = x.event_type AND s.dt = x.dt "
        "RETURNING s.event_type, s.dt::text, s.fingerprint, s.generation::text", 4, p);
    if (!r) {
        return WR_EDB;
    }
    int got = PQntuples(r) == 1;
    if (got) {
        snprintf(w->type, sizeof w->type, "%s", PQgetvalue(r, 0, 0));
        snprintf(w->dt, sizeof w->dt, "%s", PQgetvalue(r, 0, 1));
        snprintf(w->claimed_fp, sizeof w->claimed_fp, "%s", PQgetvalue(r, 0, 2));
        snprintf(w->gen_s, sizeof w->gen_s, "%s", PQgetvalue(r, 0, 3));
        uint64_t g;
        if (!pg_u64(w->gen_s, &g) || g == 0) {
            PQclear(r);
            return wr_err_set(&w->err, WR_EDB, "bad lease generation '%s'", w->gen_s);
        }
        w->gen = g;
        w->renewed_ms = wr_time_now_ms();
    }
    PQclear(r);
    return got;
}

static int renew(void *arg)
{
    struct worker *w = arg;
    int64_t now = wr_time_now_ms();
    if (now - w->renewed_ms < w->cfg->lease_ms / 3) {
        return 0;
    }
    char lease[32];
    snprintf(lease, sizeof lease, "%lld", (long long)w->cfg->lease_ms);
    const char *p[5] = {w->type, w->dt, w->owner, lease, w->gen_s};
    struct wr_err e = {0};
    PGresult *r = reg_exec(w->c, PGRES_TUPLES_OK, &e,
        "UPDATE curation_state SET lease_until = now() + $4::bigint * interval '1 millisecond' "
        "WHERE event_type = $1 AND dt = $2::date AND lease_owner = $3 "
        "AND generation = $5::bigint RETURNING 1", 5, p);
    if (!r) {
        WR_WARN("curate: lease renewal of %s/%s failed: %s", w->type, w->dt, e.msg);
        return 0; /* Postgres hiccup: keep working, the finish checks the lease */
    }
    int held = PQntuples(r) == 1;
    PQclear(r);
    w->renewed_ms = now;
    return !held;
}

/* The fence: asked before each part is put. Renews the lease if it is still this claim's
 * (the generation: nobody claimed the day since, even if the lease ran out meanwhile);
 * nonzero when it is not, or when Postgres can't say (no write without knowing). */
static int fence_check(void *arg)
{
    struct worker *w = arg;
    char lease[32];
    snprintf(lease, sizeof lease, "%lld", (long long)w->cfg->lease_ms);
    const char *p[5] = {w->type, w->dt, w->owner, w->gen_s, lease};
    struct wr_err e = {0};
    PGresult *r = reg_exec(w->c, PGRES_TUPLES_OK, &e,
        "UPDATE curation_state SET lease_until = now() + $5::bigint * interval '1 millisecond' "
        "WHERE event_type = $1 AND dt = $2::date AND lease_owner = $3 "
        "AND generation = $4::bigint RETURNING 1", 5, p);
    if (!r) {
        WR_WARN("curate: lease check of %s/%s failed: %s", w->type, w->dt, e.msg);
        return 1;
    }
    int held = PQntuples(r) == 1;
    PQclear(r);
    if (held) {
        w->renewed_ms = wr_time_now_ms();
    }
    return !held;
}

/* Deletes this claim's own parts: after a failure or a lost lease they are nobody's. */
static void drop_own_parts(struct worker *w)
{
    struct wr_err e = {0};
    if (cur__parts_delete(w->st, w->type, w->dt, UINT_MAX, 0, w->gen, &e) != 0) {
        WR_WARN("curate: deleting the parts of %s/%s generation %s failed (a later run "
                "deletes them): %s", w->type, w->dt, w->gen_s, e.msg);
    }
}

static void release_failed(struct worker *w, const char *msg)
{
    const char *p[5] = {w->type, w->dt, w->owner, msg, w->gen_s};
    struct wr_err e = {0};
    /* back off so this run does not claim it again at once; a later run retries */
    PQclear(reg_exec(w->c, PGRES_COMMAND_OK, &e,
        "UPDATE curation_state SET lease_owner = NULL, last_error = $4, updated_at = now(), "
        "lease_until = now() + least(attempts, 10) * interval '30 seconds' "
        "WHERE event_type = $1 AND dt = $2::date AND lease_owner = $3 "
        "AND generation = $5::bigint", 5, p));
}

static int exec_ok(PGconn *c, const char *sql, struct wr_err *err)
{
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err, sql, 0, NULL);
    PQclear(r);
    return r ? 0 : WR_EDB;
}

/* Loads the schema versions of the event type and builds its model. */
static cur_model *load_model(struct worker *w)
{
    size_t n = 0;
    cur_model *m = cur_model_load(w->c, w->type, &n, &w->err);
    if (m && n == 0) {
        WR_WARN("curate: no schema for event type %s: its payload is one JSON column", w->type);
    }
    return m;
}

/* Upserts the day's rollups, rewrites the day's rollup Parquet from the table and marks
 * the day curated, in one transaction serialised per day by an advisory lock. Returns 0,
 * 1 when the lease was lost, or <0. */
static int finish(struct worker *w, const struct cur_day_result *res, cur_ru *ru)
{
    struct wr_err *err = &w->err;
    const char *key[4] = {w->type, w->dt, w->owner, w->gen_s};
    if (exec_ok(w->c, "BEGIN", err) != 0) {
        return WR_EDB;
    }
    int rc = 0;
    PGresult *r = reg_exec(w->c, PGRES_TUPLES_OK, err,
        "SELECT pg_advisory_xact_lock(hashtext('weir.curate.rollups'), hashtext($1))", 1,
        &key[1]);
    PQclear(r);
    if (!r) {
        rc = WR_EDB;
    }
    if (rc == 0) {
        r = reg_exec(w->c, PGRES_TUPLES_OK, err,
            "SELECT 1 FROM curation_state WHERE event_type = $1 AND dt = $2::date "
            "AND lease_owner = $3 AND generation = $4::bigint FOR UPDATE", 4, key);
        if (!r) {
            rc = WR_EDB;
        } else if (PQntuples(r) != 1) {
            rc = 1;
        }
        PQclear(r);
    }
    if (rc == 0) {
        r = reg_exec(w->c, PGRES_COMMAND_OK, err,
            "DELETE FROM curated_rollups_hourly WHERE event_type = $1 AND dt = $2::date", 2, key);
        rc = r ? 0 : WR_EDB;
        PQclear(r);
    }
    for (size_t i = 0; rc == 0 && i < res->nrollups; i++) {
        const struct cur_rollup *x = &res->rollups[i];
        char hr[8], ev[24], du[24], di[24], in[24], bf[24];
        snprintf(hr, sizeof hr, "%d", x->hr);
        snprintf(ev, sizeof ev, "%llu", (unsigned long long)x->events);
        snprintf(du, sizeof du, "%llu", (unsigned long long)x->duplicates);
        snprintf(di, sizeof di, "%llu", (unsigned long long)x->distinct_event_ids);
        snprintf(in, sizeof in, "%llu", (unsigned long long)x->invalid_lines);
        snprintf(bf, sizeof bf, "%llu", (unsigned long long)x->bad_files);
        const char *p[9] = {w->type, w->dt, hr, x->source, ev, du, di, in, bf};
        r = reg_exec(w->c, PGRES_COMMAND_OK, err,
            "INSERT INTO curated_rollups_hourly (event_type, dt, hr, source, events, duplicates, "
            "distinct_event_ids, invalid_lines, bad_files) "
            "VALUES ($1, $2::date, $3::smallint, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (event_type, dt, hr, source) DO UPDATE SET events = EXCLUDED.events, "
            "duplicates = EXCLUDED.duplicates, distinct_event_ids = EXCLUDED.distinct_event_ids, "
            "invalid_lines = EXCLUDED.invalid_lines, bad_files = EXCLUDED.bad_files, "
            "updated_at = now()", 9, p);
        rc = r ? 0 : WR_EDB;
        PQclear(r);
    }
    if (rc == 0) {
        r = reg_exec(w->c, PGRES_TUPLES_OK, err,
            "SELECT event_type, hr, source, events, duplicates, distinct_event_ids, "
            "invalid_lines, bad_files FROM curated_rollups_hourly WHERE dt = $1::date "
            "ORDER BY event_type COLLATE \"C\", hr, source COLLATE \"C\"", 1, &key[1]);
        if (!r) {
            rc = WR_EDB;
        } else {
            size_t n = (size_t)PQntuples(r);
            struct cur_rollup *rows = calloc(n + 1, sizeof *rows);
            const char **types = calloc(n + 1, sizeof *types);
            if (!rows || !types) {
                rc = wr_err_set(err, WR_ENOMEM, "out of memory");
            }
            for (size_t i = 0; rc == 0 && i < n; i++) {
                types[i] = PQgetvalue(r, (int)i, 0);
                snprintf(rows[i].source, sizeof rows[i].source, "%s", PQgetvalue(r, (int)i, 2));
                uint64_t v[6];
                for (int k = 0; k < 6 && rc == 0; k++) {
                    const char *f = PQgetvalue(r, (int)i, k == 0 ? 1 : k + 2);
                    if (!pg_u64(f, &v[k])) {
                        rc = wr_err_set(err, WR_EDB, "rollups: bad number '%.40s' from Postgres", f);
                    }
                }
                if (rc == 0) {
                    rows[i].hr = v[0] < 24 ? (int)v[0] : 0;
                    rows[i].events = v[1];
                    rows[i].duplicates = v[2];
                    rows[i].distinct_event_ids = v[3];
                    rows[i].invalid_lines = v[4];
                    rows[i].bad_files = v[5];
                }
            }
            if (rc == 0) {
                rc = cur_rollups_write(w->st, w->dt, types, rows, n, w->cfg, err);
                if (rc == 0) {
                    w->stats.files_written++;
                }
            }
            free(rows);
            free(types);
            PQclear(r);
        }
    }
    if (rc == 0 && ru) {
        /* the user rollups of the day: rows replaced, then their Parquet, still fenced */
        rc = cur_ru_store(ru, w->c, err);
        rc = rc ? rc : cur_ru_write(ru, w->st, w->cfg, &w->stats.files_written, err);
    }
    if (rc == 0) {
        char parts[16], rows[24];
        snprintf(parts, sizeof parts, "%u", res->parts);
        snprintf(rows, sizeof rows, "%llu", (unsigned long long)res->stats.rows);
        const char *p[8] = {w->type, w->dt, w->owner, res->fingerprint, w->claimed_fp, parts, rows,
                            w->gen_s};
        r = reg_exec(w->c, PGRES_COMMAND_OK, err,
            "UPDATE curation_state SET curated_fingerprint = $4, "
            "fingerprint = CASE WHEN fingerprint = $5 THEN $4 ELSE fingerprint END, "
            "lease_owner = NULL, lease_until = NULL, last_error = NULL, attempts = 0, "
            "parts = $6::integer, rows_written = $7::bigint, curated_generation = $8::bigint, "
            "curated_at = now(), updated_at = now() "
            "WHERE event_type = $1 AND dt = $2::date AND lease_owner = $3 "
            "AND generation = $8::bigint", 8, p);
        rc = r ? 0 : WR_EDB;
        PQclear(r);
    }
    if (rc == 0) {
        return exec_ok(w->c, "COMMIT", err);
    }
    struct wr_err e2 = {0};
    exec_ok(w->c, "ROLLBACK", &e2);
    return rc;
}

static void log_unit(const struct worker *w, const char *msg, const struct cur_day_result *res,
                     double secs)
{
    if (!wr_log_enabled(WR_LOG_INFO)) {
        return;
    }
    struct wr_logline l;
    wr_logline_begin(&l, WR_LOG_INFO, msg);
    wr_logline_str(&l, "event_type", w->type);
    wr_logline_str(&l, "dt", w->dt);
    wr_logline_str(&l, "worker", w->owner);
    if (res) {
        wr_logline_int(&l, "lines", (int64_t)res->stats.lines);
        wr_logline_int(&l, "rows", (int64_t)res->stats.rows);
        wr_logline_int(&l, "duplicates", (int64_t)res->stats.duplicates);
        wr_logline_int(&l, "invalid_lines", (int64_t)res->stats.invalid_lines);
        wr_logline_int(&l, "bad_files", (int64_t)res->stats.bad_files);
        wr_logline_int(&l, "type_mismatches", (int64_t)res->stats.type_mismatches);
        wr_logline_int(&l, "extra_props", (int64_t)res->stats.extra_props);
        wr_logline_int(&l, "parts", res->parts);
        wr_logline_int(&l, "bytes", (int64_t)res->stats.bytes_written);
        wr_logline_double(&l, "seconds", secs);
        wr_logline_double(&l, "rows_per_s", secs > 0 ? (double)res->stats.lines / secs : 0);
    }
    wr_logline_end(&l);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        if (w->pool) {
            cur__pool_help_all(w->pool); /* other days' queued work first */
        }
        int got = claim(w);
        if (got < 0) {
            w->rc = got;
            WR_ERROR("curate: claim failed: %s", w->err.msg);
            break;
        }
        if (got == 0) {
            break;
        }
        log_unit(w, "curate: day claimed", NULL, 0);
        int64_t t0 = wr_time_mono_ns();
        cur_model *m = load_model(w);
        struct cur_day_result res;
        memset(&res, 0, sizeof res);
        struct cur_fence fence = {w->gen, fence_check, w};
        cur_ru *ru = NULL;
        int rc = m ? cur_ru_load(w->c, w->type, m, w->dt, &ru, &w->err)
                   : (w->err.code ? w->err.code : WR_EINVAL);
        if (rc == 0) {
            rc = cur__day_curate(w->st, m, w->type, w->dt, w->cfg, w->pool, &fence, ru, renew, w,
                                 &res, &w->err);
        }
        cur_model_destroy(m);
        if (rc == 0) {
            rc = finish(w, &res, ru);
        }
        cur_ru_destroy(ru);
        double secs = (double)(wr_time_mono_ns() - t0) / 1e9;
        if (rc == 0) {
            res.stats.units_done = 1;
            add_stats(&w->stats, &res.stats);
            log_unit(w, "curate: day done", &res, secs);
            /* Committed: the day is this generation's parts; older ones go. A failure here
             * leaves them to the next commit of the day, which deletes them too. */
            struct wr_err e = {0};
            if (cur__parts_delete(w->st, w->type, w->dt, 0, w->gen, 0, &e) != 0) {
                WR_WARN("curate: deleting older parts of %s/%s failed: %s", w->type, w->dt,
                        e.msg);
            }
        } else if (rc == 1 || rc == WR_EAGAIN) {
            w->stats.units_lost++;
            WR_WARN("curate: lost the lease of %s/%s to another worker", w->type, w->dt);
            drop_own_parts(w);
        } else {
            w->stats.units_failed++;
            WR_ERROR("curate: %s/%s failed: %s", w->type, w->dt, w->err.msg);
            drop_own_parts(w);
            release_failed(w, w->err.msg);
        }
        cur_day_result_free(&res);
        memset(&w->err, 0, sizeof w->err);
    }
    if (w->pool) {
        cur__pool_worker_done(w->pool); /* help the days still running */
    }
    return NULL;
}

static int worker_open(struct worker *w, const struct cur_config *cfg, int i, struct wr_err *err)
{
    w->cfg = cfg;
    char host[128] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    if (cfg->worker_id) {
        snprintf(w->owner, sizeof w->owner, "%s/%d", cfg->worker_id, i);
    } else {
        snprintf(w->owner, sizeof w->owner, "%s:%ld/%d", host, (long)getpid(), i);
    }
    w->c = reg_connect(cfg->conninfo, err);
    if (!w->c) {
        return WR_EDB;
    }
    w->st = lake_store_open(cfg->lake_url, cfg->s3, err);
    if (!w->st) {
        PQfinish(w->c);
        w->c = NULL;
        return err->code ? err->code : WR_EIO;
    }
    return 0;
}

static void worker_close(struct worker *w)
{
    lake_store_destroy(w->st);
    if (w->c) {
        PQfinish(w->c);
    }
}

int cur_run(const struct cur_config *in, struct cur_stats *stats, struct wr_err *err)
{
    struct cur_config cfg = *in;
    cur_config_defaults(&cfg);
    if (!cfg.lake_url || !cfg.conninfo) {
        return wr_err_set(err, WR_EINVAL, "a lake and a database are required");
    }
    /* With two or more threads, each curates days and every day is pipelined through one
     * shared task pool (the next hour's reading, page compressions), which the threads serve
     * between days and whenever they wait: N threads in all, all busy while work is left. */
    cfg.pipeline = cfg.threads >= 2;
    int nth = cfg.threads > 32 ? 32 : cfg.threads;
    struct worker *ws = calloc((size_t)nth, sizeof *ws);
    if (!ws) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    cur_pool pool;
    int have_pool = 0;
    if (nth >= 2) {
        if (cur__pool_init(&pool, 0, nth) != 0) {
            free(ws);
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        have_pool = 1;
        for (int i = 0; i < nth; i++) {
            ws[i].pool = &pool;
        }
    }
    int rc = 0, opened = 0;
    for (; rc == 0 && opened < nth; opened++) {
        rc = worker_open(&ws[opened], &cfg, opened, err);
        if (rc) {
            break;
        }
    }
    if (rc == 0) {
        rc = reg_migrate(ws[0].c, NULL, err);
    }
    if (rc == 0 && cfg.force) {
        const char *p[2] = {cfg.event_type, cfg.dt};
        PGresult *r = reg_exec(ws[0].c, PGRES_COMMAND_OK, err,
            "UPDATE curation_state SET curated_fingerprint = NULL "
            "WHERE ($1::text IS NULL OR event_type = $1) AND ($2::date IS NULL OR dt = $2::date)",
            2, p);
        rc = r ? 0 : WR_EDB;
        PQclear(r);
    }
    if (rc == 0) {
        rc = discover(ws[0].c, ws[0].st, &cfg, err);
    }
    if (rc == 0) {
        int started = 0;
        for (int i = 1; i < nth; i++) {
            if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) == 0) {
                started = i;
            } else {
                break;
            }
        }
        if (have_pool) {
            /* workers that never started count as done */
            pthread_mutex_lock(&pool.mu);
            pool.busy -= nth - 1 - started;
            pthread_mutex_unlock(&pool.mu);
        }
        worker_main(&ws[0]);
        for (int i = 1; i <= started; i++) {
            pthread_join(ws[i].th, NULL);
        }
    } else if (have_pool) {
        pool.busy = 0;
    }
    if (have_pool) {
        cur__pool_fini(&pool);
    }
    struct cur_stats total = {0};
    for (int i = 0; i < opened; i++) {
        add_stats(&total, &ws[i].stats);
        if (rc == 0 && ws[i].rc) {
            rc = ws[i].rc;
            wr_err_set(err, rc, "%s", ws[i].err.msg);
        }
        worker_close(&ws[i]);
    }
    free(ws);
    if (stats) {
        *stats = total;
    }
    if (rc == 0 && total.units_failed) {
        rc = wr_err_set(err, WR_EAGAIN, "%llu day(s) failed (see the log); a later run retries",
                        (unsigned long long)total.units_failed);
    }
    return rc;
}
