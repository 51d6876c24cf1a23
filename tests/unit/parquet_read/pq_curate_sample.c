/* pq_curate_sample.c - curates every (event_type, dt) of a file:// lake's raw zone with the
 * curation worker's own day function (cur_day_curate, no Postgres), plus each day's hourly
 * rollups, so that pq_read_check.mjs can read the curator's real output with weir's reader
 * and with DuckDB. Small row groups (1 MiB) so that files hold several.
 *   pq_curate_sample LAKE_DIR SCHEMAS_DIR      (SCHEMAS_DIR/<event_type>.json) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "curator/curator.h"
#include "lake/lake.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *p = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 65536;
            char *np = realloc(p, cap + 1);
            if (!np) {
                free(p);
                fclose(f);
                return NULL;
            }
            p = np;
        }
        size_t n = fread(p + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    fclose(f);
    p[len] = 0;
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pq_curate_sample LAKE_DIR SCHEMAS_DIR\n");
        return 2;
    }
    wr_log_level = WR_LOG_OFF;
    char url[4200], path[4200];
    snprintf(url, sizeof url, "file://%s", argv[1]);
    struct wr_err err = {0, ""};
    lake_store *st = lake_store_open(url, NULL, &err);
    if (!st) {
        fprintf(stderr, "pq_curate_sample: %s\n", err.msg);
        return 1;
    }
    struct cur_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.lake_url = url;
    cfg.now_ms = INT64_C(4102444800000); /* 2100-01-01: every hour is closed */
    cfg.row_group_bytes = 1u << 20;
    cfg.force = true;
    cur_config_defaults(&cfg);
    snprintf(path, sizeof path, "%s/raw", argv[1]);
    DIR *types = opendir(path);
    if (!types) {
        fprintf(stderr, "pq_curate_sample: no %s\n", path);
        return 1;
    }
    int rc = 0, days = 0;
    struct dirent *te;
    while (rc == 0 && (te = readdir(types)) != NULL) {
        if (strncmp(te->d_name, "event_type=", 11) != 0) {
            continue;
        }
        const char *type = te->d_name + 11;
        snprintf(path, sizeof path, "%s/%s.json", argv[2], type);
        char *schema = slurp(path);
        const char *schemas[] = {schema};
        cur_model *m = schema ? cur_model_create(schemas, 1, &err) : NULL;
        if (!m) {
            fprintf(stderr, "pq_curate_sample: schema %s: %s\n", path,
                    schema ? err.msg : "unreadable");
            free(schema);
            rc = 1;
            break;
        }
        snprintf(path, sizeof path, "%s/raw/%s", argv[1], te->d_name);
        DIR *dts = opendir(path);
        struct dirent *de;
        while (dts && rc == 0 && (de = readdir(dts)) != NULL) {
            if (strncmp(de->d_name, "dt=", 3) != 0) {
                continue;
            }
            struct cur_day_result res;
            memset(&res, 0, sizeof res);
            if (cur_day_curate(st, m, type, de->d_name + 3, &cfg, NULL, NULL, &res, &err)) {
                fprintf(stderr, "pq_curate_sample: %s %s: %s\n", type, de->d_name, err.msg);
                rc = 1;
            } else {
                const char **tv = calloc(res.nrollups ? res.nrollups : 1, sizeof *tv);
                for (size_t i = 0; tv && i < res.nrollups; i++) {
                    tv[i] = type;
                }
                /* one rollup file per (type, day) here; the worker writes one per day */
                if (!tv || cur_rollups_write(st, de->d_name + 3, tv, res.rollups, res.nrollups,
                                             &cfg, &err)) {
                    fprintf(stderr, "pq_curate_sample: rollups %s: %s\n", de->d_name, err.msg);
                    rc = 1;
                }
                free(tv);
                days++;
            }
            cur_day_result_free(&res);
        }
        if (dts) {
            closedir(dts);
        }
        cur_model_destroy(m);
        free(schema);
    }
    closedir(types);
    lake_store_destroy(st);
    printf("curated %d days\n", days);
    return rc;
}
