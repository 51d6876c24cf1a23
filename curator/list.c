/* list.c - which raw files make a day: the closed hours of (event_type, dt) and the
 * lookback hours of the day before (read for dedup only), sorted, and their fingerprint. */
#include "common/array.h"
#include "cur_int.h"

#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_US 3600000000LL

static int list_cb(void *arg, const char *key, uint64_t size)
{
    struct cur_filelist *fl = arg;
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
    if (wr_array_grow(&fl->v, &fl->cap, fl->n + 1, sizeof *fl->v, 64, 0) != 0) {
        return WR_ENOMEM;
    }
    char *dup = strdup(key);
    if (!dup) {
        return WR_ENOMEM;
    }
    fl->v[fl->n++] = (struct cur_rawfile){dup, size, hr, lookback};
    return 0;
}

static int file_cmp(const void *a, const void *b)
{
    const struct cur_rawfile *x = a, *y = b;
    if (x->lookback != y->lookback) {
        return y->lookback - x->lookback; /* lookback hours first */
    }
    if (x->hr != y->hr) {
        return x->hr - y->hr;
    }
    return strcmp(x->key, y->key);
}

void cur__filelist_free(struct cur_filelist *fl)
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
int cur__list_day(lake_store *st, const char *event_type, const char *dt,
                  const struct cur_config *cfg, struct cur_filelist *fl, struct wr_err *err)
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
            cur__filelist_free(fl);
            return rc < 0 ? rc : wr_err_set(err, WR_ENOMEM, "out of memory");
        }
    }
    snprintf(prefix, sizeof prefix, "raw/event_type=%s/dt=%s/", event_type, dt);
    rc = lake_store_list(st, prefix, list_cb, fl, err);
    if (rc != 0) {
        cur__filelist_free(fl);
        return rc < 0 ? rc : wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (fl->n) {
        qsort(fl->v, fl->n, sizeof *fl->v, file_cmp);
    }
    return 0;
}

int cur__day_fingerprint(lake_store *st, const char *event_type, const char *dt,
                         const struct cur_config *cfg, char out[65], size_t *nfiles,
                         uint64_t *bytes, struct wr_err *err)
{
    *bytes = 0;
    struct cur_filelist fl;
    int rc = cur__list_day(st, event_type, dt, cfg, &fl, err);
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
    cur__filelist_free(&fl);
    return rc;
}
