/* day.c - curates one (event_type, dt): lists its closed raw hours (list.c), then hour by
 * hour reads them (read.c: stage A) and writes deduplicated, sorted, typed rows into Parquet
 * part files (write.c: stage B). With a pipeline, stage A of the next hour runs as a task of
 * the pool (pool.c) while stage B writes this one. */
#include "curator.h"
#include "cur_int.h"

#include "common/clock.h"
#include "common/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Stage A of the next hour, run as a pool job. */
struct prefetch {
    struct cur_day *d;
    struct cur_hour *h;
    int rc;
};

static void prefetch_run(void *arg)
{
    struct prefetch *p = arg;
    p->rc = cur__stage_a(p->d, p->h);
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
    return cur__day_curate(st, m, event_type, dt, cfg, NULL, NULL, NULL, renew, renew_arg, r,
                           err);
}

int cur__day_curate(lake_store *st, const cur_model *m, const char *event_type, const char *dt,
                    const struct cur_config *cfg, cur_pool *pool, const struct cur_fence *fence,
                    struct cur_ru *ru, cur_renew_fn renew, void *renew_arg,
                    struct cur_day_result *r, struct wr_err *err)
{
    memset(r, 0, sizeof *r);
    struct cur_day d;
    memset(&d, 0, sizeof d);
    d.st = st;
    d.m = m;
    d.cfg = cfg;
    d.event_type = event_type;
    d.dt = dt;
    d.r = r;
    d.err = err;
    d.fence = fence;
    d.ru = ru;
    int rc = cur__list_day(st, event_type, dt, cfg, &d.fl, err);
    if (rc) {
        return rc;
    }
    {
        const char **keys = malloc((d.fl.n + 1) * sizeof *keys);
        uint64_t *sizes = malloc((d.fl.n + 1) * sizeof *sizes);
        if (!keys || !sizes) {
            free(keys);
            free(sizes);
            cur__filelist_free(&d.fl);
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
    struct cur_hour hb[2];
    int hbok = cur__hour_init(&hb[0], st2 ? st2 : st, cfg) == 0;
    hbok = (cur__hour_init(&hb[1], st2 ? st2 : st, cfg) == 0) && hbok;
    if (!d.ids || !d.arena || !gstart || !hbok) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (rc == 0 && ngroups) {
        hb[0].i = gstart[0];
        hb[0].j = gstart[1];
        hb[0].lookback = d.fl.v[gstart[0]].lookback;
        rc = cur__stage_a(&d, &hb[0]);
        if (rc) {
            *err = hb[0].err;
        }
    }
    int64_t last_progress = wr_time_mono_ns();
    for (size_t g = 0; rc == 0 && g < ngroups; g++) {
        /* without a pipeline one buffer serves every hour, so only one hour is held */
        struct cur_hour *cur = pipeline ? &hb[g % 2] : &hb[0];
        struct cur_hour *next = pipeline ? &hb[(g + 1) % 2] : &hb[0];
        if (renew && renew(renew_arg) != 0) {
            rc = wr_err_set(err, WR_EAGAIN, "lease lost");
            break;
        }
        if (cfg->test_hour_delay_ms > 0) {
            struct timespec ts = {cfg->test_hour_delay_ms / 1000,
                                  (long)(cfg->test_hour_delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        struct prefetch pf = {&d, next, 0};
        struct cur_job job = {prefetch_run, &pf, NULL, 0};
        int have_next = g + 1 < ngroups, started = 0;
        if (have_next && pipeline) {
            next->i = gstart[g + 1];
            next->j = gstart[g + 2];
            next->lookback = d.fl.v[next->i].lookback;
            started = cur__job_start(hp, &job) == 0;
        }
        rc = cur__stage_b(&d, cur);
        if (rc == 0 && ru && !cur->lookback) {
            cur__ru_hour_end(ru);
        }
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
            cur__job_wait(&job);
        } else if (have_next && rc == 0) {
            /* next may be cur: its fields change only now that cur is written */
            next->i = gstart[g + 1];
            next->j = gstart[g + 2];
            next->lookback = d.fl.v[next->i].lookback;
            pf.rc = cur__stage_a(&d, next);
        }
        if (rc == 0 && pf.rc != 0) {
            rc = pf.rc;
            *err = next->err;
        }
    }
    if (rc == 0 && d.part.w) {
        rc = cur__part_close(&d);
    }
    if (rc == 0 && !fence) {
        /* Unfenced: this run's parts replace every other part of the day now. */
        rc = cur__parts_delete(st, event_type, dt, d.parts, UINT64_MAX, 0, err);
    }
    if (d.part.w) {
        cur__part_abandon(&d);
    }
    if (pipeline && hp == &own) {
        cur__pool_fini(&own);
    }
    r->parts = d.parts;
    cur__rollups_sort(r);
    if (rc != 0) {
        cur_day_result_free(r);
    }
    cur_idset_destroy(d.ids);
    wr_arena_destroy(d.arena);
    cur__hour_free(&hb[0]);
    cur__hour_free(&hb[1]);
    lake_store_destroy(st2);
    free(gstart);
    cur__filelist_free(&d.fl);
    return rc;
}

