/* cmd_catalog.c - `weir catalog`: prints the DDL that makes the lake queryable in DuckDB,
 * Athena or Trino (curator/catalog.c). Wiring only. */
#include "cli.h"

#include "common/buf.h"
#include "common/clock.h"
#include "curator/catalog.h"
#include "curator/rollup_user.h"
#include "registry/registry.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct catalog_cfg {
    struct weir_cfg base; /* first: the shared tables' offsets apply to it */
    const char *engine;
    const char *zone;
};

#define OFF(f) offsetof(struct catalog_cfg, f)

static const struct wr_opt catalog_opts[] = {
    {"engine", NULL, WR_OPT_STRING, NULL, OFF(engine), "duckdb, athena or trino (required)"},
    {"zone", NULL, WR_OPT_STRING, "curated", OFF(zone),
     "curated, raw or both (raw tables are named EVENT_TYPE_raw)"},
    {0},
};

static const struct wr_cmd catalog_cmd = {
    "catalog",
    NULL,
    "Prints the DDL that makes the lake queryable in DuckDB, Athena or Trino with no crawler: "
    "one view or table per event type, columns typed from the registry's schemas, dt (and hr "
    "for raw) as partition columns, partition projection for Athena and Trino.",
    {cli_common_opts, cli_lake_opts, catalog_opts, NULL},
    0,
    0};

int cmd_catalog(int argc, char **argv)
{
    struct catalog_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&catalog_cmd, argc - 1, argv + 1, &cfg.base, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    enum cur_cat_engine engine;
    if (!cfg.engine) {
        return cli_fail(EXIT_USAGE, "--engine: required (duckdb, athena or trino)");
    } else if (strcmp(cfg.engine, "duckdb") == 0) {
        engine = CUR_CAT_DUCKDB;
    } else if (strcmp(cfg.engine, "athena") == 0) {
        engine = CUR_CAT_ATHENA;
    } else if (strcmp(cfg.engine, "trino") == 0) {
        engine = CUR_CAT_TRINO;
    } else {
        return cli_fail(EXIT_USAGE, "--engine: '%s' is not duckdb, athena or trino", cfg.engine);
    }
    int zones = strcmp(cfg.zone, "curated") == 0 ? CUR_CAT_CURATED
                : strcmp(cfg.zone, "raw") == 0   ? CUR_CAT_RAW
                : strcmp(cfg.zone, "both") == 0  ? CUR_CAT_CURATED | CUR_CAT_RAW
                                                 : 0;
    if (!zones) {
        return cli_fail(EXIT_USAGE, "--zone: '%s' is not curated, raw or both", cfg.zone);
    }
    /* a relative file:// lake is made absolute: the DDL is run from elsewhere */
    char lake[PATH_MAX + 16];
    snprintf(lake, sizeof lake, "%s", cfg.base.lake);
    if (strncmp(cfg.base.lake, "file://", 7) == 0 && cfg.base.lake[7] != '/') {
        char abs[PATH_MAX];
        if (!realpath(cfg.base.lake + 7, abs)) {
            return cli_fail(EXIT_FAIL, "--lake %s: no such folder", cfg.base.lake);
        }
        snprintf(lake, sizeof lake, "file://%s", abs);
    }
    struct lake_s3_opts s3;
    if ((rc = cli_s3_opts(&cfg.base, &s3)) >= 0) {
        return rc;
    }
    struct wr_err err = {0};
    lake_store *st = lake_store_open(lake, &s3, &err);
    if (!st) {
        return cli_fail(EXIT_FAIL, "%s", err.msg);
    }
    bool started;
    PGconn *c = cli_connect(&cfg.base, &started);
    if (!c) {
        lake_store_destroy(st);
        return EXIT_FAIL;
    }
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, &err,
                           "SELECT DISTINCT event_type FROM event_schemas ORDER BY 1", 0, NULL);
    size_t n = r ? (size_t)PQntuples(r) : 0;
    struct cur_cat_table *t = calloc(n + 1, sizeof *t);
    rc = !r   ? cli_fail(EXIT_FAIL, "%s", err.msg)
         : !t ? cli_fail(EXIT_FAIL, "out of memory")
              : EXIT_OK;
    for (size_t i = 0; rc == EXIT_OK && i < n; i++) {
        t[i].event_type = PQgetvalue(r, (int)i, 0);
        t[i].m = cur_model_load(c, t[i].event_type, NULL, &err);
        char prefix[512];
        snprintf(prefix, sizeof prefix, "curated/events/event_type=%s/", t[i].event_type);
        if (!t[i].m || cur_catalog_first_day(st, prefix, t[i].first_curated, &err) != 0) {
            rc = cli_fail(EXIT_FAIL, "%s: %s", t[i].event_type, err.msg);
            break;
        }
        snprintf(prefix, sizeof prefix, "raw/event_type=%s/", t[i].event_type);
        if (cur_catalog_first_day(st, prefix, t[i].first_raw, &err) != 0) {
            rc = cli_fail(EXIT_FAIL, "%s: %s", t[i].event_type, err.msg);
        }
    }
    if (rc == EXIT_OK) {
        char today[32];
        wr_time_format_ms(wr_time_now_ms(), today);
        today[10] = '\0';
        struct wr_buf out;
        wr_buf_init(&out, (size_t)1 << 30);
        if (cur_catalog_ddl(engine, zones, lake, t, n, today, &out, &err) != 0) {
            rc = cli_fail(EXIT_USAGE, "%s", err.msg);
        } else {
            fwrite(out.p, 1, out.len, stdout);
        }
        wr_buf_free(&out);
    }
    for (size_t i = 0; t && i < n; i++) {
        cur_model_destroy((cur_model *)t[i].m);
    }
    free(t);
    PQclear(r);
    cli_disconnect(&cfg.base, c, started);
    lake_store_destroy(st);
    return rc;
}
