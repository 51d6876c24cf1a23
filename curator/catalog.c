/* catalog.c - the catalogue DDL of `weir catalog` (catalog.h). Partition projection follows
 * AWS's documentation (Athena: projection.* table properties; Trino's Hive connector: the
 * same model as partition_projection_* table and column properties), so a new day is
 * visible at once, with no crawler and no MSCK REPAIR. */
#include "curator/catalog.h"
#include "cur_int.h"

#include <stdio.h>
#include <string.h>

/* ---- the first day of a zone --------------------------------------------------------- */

static int first_cb(void *arg, const char *key, uint64_t size)
{
    (void)size;
    char *best = arg;
    const char *p = strstr(key, "/dt=");
    if (!p || strlen(p + 4) < 10) {
        return 0;
    }
    p += 4;
    for (int i = 0; i < 10; i++) {
        char c = p[i];
        if (i == 4 || i == 7 ? c != '-' : (c < '0' || c > '9')) {
            return 0;
        }
    }
    if (!best[0] || memcmp(p, best, 10) < 0) {
        memcpy(best, p, 10);
        best[10] = '\0';
    }
    return 0;
}

int cur_catalog_first_day(lake_store *st, const char *prefix, char out[11], struct wr_err *err)
{
    out[0] = '\0';
    int rc = lake_store_list(st, prefix, first_cb, out, err);
    return rc > 0 ? 0 : rc;
}

/* ---- types ------------------------------------------------------------------------------ */

/* A column's type in the engine. */
static const char *col_type(enum cur_cat_engine e, const struct pq_column *c)
{
    int trino = e == CUR_CAT_TRINO;
    switch (c->type) {
    case PQ_INT64:
        if (c->logical == PQ_LT_TIMESTAMP_US) {
            return trino ? "timestamp(3)" : "timestamp";
        }
        return "bigint";
    case PQ_INT32: return trino ? "integer" : "int";
    case PQ_DOUBLE: return "double";
    case PQ_BOOLEAN: return "boolean";
    default: return trino ? "varchar" : "string";
    }
}

/* A payload property's type inside the raw zone's JSON (timestamps stay text there). */
static const char *raw_type(enum cur_cat_engine e, enum cur_kind k)
{
    if (e == CUR_CAT_DUCKDB) {
        return k == CUR_K_INT      ? "BIGINT"
               : k == CUR_K_DOUBLE ? "DOUBLE"
               : k == CUR_K_BOOL   ? "BOOLEAN"
               : k == CUR_K_STRING ? "VARCHAR"
               : k == CUR_K_TS     ? "TIMESTAMPTZ"
                                   : "JSON";
    }
    int trino = e == CUR_CAT_TRINO;
    return k == CUR_K_INT      ? "bigint"
           : k == CUR_K_DOUBLE ? "double"
           : k == CUR_K_BOOL   ? "boolean"
           : trino             ? "varchar"
                               : "string";
}

/* A name usable unquoted inside a struct/row type. */
static int plain_name(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9')) {
        return 0;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_')) {
            return 0;
        }
    }
    return 1;
}

/* An identifier quoted for the engine: `x` (Athena), "x" (Trino, DuckDB). */
static void ident(struct wr_buf *b, enum cur_cat_engine e, const char *s)
{
    char q = e == CUR_CAT_ATHENA ? '`' : '"';
    wr_buf_putc(b, q);
    for (; *s; s++) {
        if (*s == q) {
            wr_buf_putc(b, q);
        }
        wr_buf_putc(b, *s);
    }
    wr_buf_putc(b, q);
}

/* A string literal. */
static void lit(struct wr_buf *b, const char *s)
{
    wr_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') {
            wr_buf_putc(b, '\'');
        }
        wr_buf_putc(b, *s);
    }
    wr_buf_putc(b, '\'');
}

/* ---- locations ------------------------------------------------------------------------- */

/* The zone folder of an event type, with a trailing '/': an S3 URL (or file:// URL) for
 * Athena and Trino, a path or s3:// URL for DuckDB. */
static int location(enum cur_cat_engine e, const char *lake_url, int raw, const char *type,
                    char *out, size_t cap)
{
    const char *base = lake_url;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    if (e == CUR_CAT_DUCKDB && strncmp(base, "file://", 7) == 0) {
        base += 7;
        n -= 7;
    }
    int w = snprintf(out, cap, "%.*s/%s/event_type=%s/", (int)n, base,
                     raw ? "raw" : "curated/events", type);
    return w > 0 && (size_t)w < cap ? 0 : WR_ELIMIT;
}

/* ---- DuckDB ---------------------------------------------------------------------------- */

static void duck_curated(struct wr_buf *b, const struct cur_cat_table *t, const char *loc)
{
    char glob[4200];
    snprintf(glob, sizeof glob, "%s*/*.parquet", loc);
    wr_buf_printf(b, "CREATE OR REPLACE VIEW ");
    ident(b, CUR_CAT_DUCKDB, t->event_type);
    wr_buf_printf(b, " AS\nSELECT * FROM read_parquet(");
    lit(b, glob);
    wr_buf_printf(b, ", hive_partitioning = true, union_by_name = true);\n\n");
}

static void duck_raw(struct wr_buf *b, const struct cur_cat_table *t, const char *loc)
{
    char glob[4200], name[160];
    snprintf(glob, sizeof glob, "%s*/*/*.jsonl.gz", loc);
    snprintf(name, sizeof name, "%s_raw", t->event_type);
    const cur_model *m = t->m;
    wr_buf_printf(b, "CREATE OR REPLACE VIEW ");
    ident(b, CUR_CAT_DUCKDB, name);
    wr_buf_printf(b, " AS\nSELECT * FROM read_json(");
    lit(b, glob);
    wr_buf_printf(b, ", format = 'newline_delimited', compression = 'gzip', "
                     "hive_partitioning = true,\n  columns = {event_id: 'VARCHAR', "
                     "schema_version: 'BIGINT', occurred_at: 'TIMESTAMPTZ', "
                     "received_at: 'TIMESTAMPTZ',\n             source: 'VARCHAR', "
                     "replayed_at: 'TIMESTAMPTZ', payload: '");
    if (m->whole_payload) {
        wr_buf_printf(b, "JSON");
    } else {
        wr_buf_printf(b, "STRUCT(");
        for (size_t i = 0; i < m->nprops; i++) {
            wr_buf_printf(b, "%s", i ? ", " : "");
            struct wr_buf q;
            wr_buf_init(&q, 4096);
            ident(&q, CUR_CAT_DUCKDB, m->props[i]);
            /* inside the '...' literal a quote doubles */
            for (size_t k = 0; k < q.len; k++) {
                if (q.p[k] == '\'') {
                    wr_buf_putc(b, '\'');
                }
                wr_buf_putc(b, q.p[k]);
            }
            wr_buf_free(&q);
            wr_buf_printf(b, " %s", raw_type(CUR_CAT_DUCKDB, m->kinds[i]));
        }
        wr_buf_printf(b, ")");
    }
    wr_buf_printf(b, "', context: 'JSON'});\n\n");
}

/* ---- Athena and Trino ------------------------------------------------------------------ */

/* The raw zone's context object (browser.md) as a struct/row type. */
static void context_type(struct wr_buf *b, int trino)
{
    const char *s = trino ? "varchar" : "string";
    if (trino) {
        wr_buf_printf(b,
                      "row(ip %s, user_agent %s, origin %s, ua row(browser %s, "
                      "browser_version %s, os %s, os_version %s, device %s, bot boolean), "
                      "geo row(country %s, region %s, city %s, lat double, lon double))",
                      s, s, s, s, s, s, s, s, s, s, s);
    } else {
        wr_buf_printf(b,
                      "struct<ip:%s,user_agent:%s,origin:%s,ua:struct<browser:%s,"
                      "browser_version:%s,os:%s,os_version:%s,device:%s,bot:boolean>,"
                      "geo:struct<country:%s,region:%s,city:%s,lat:double,lon:double>>",
                      s, s, s, s, s, s, s, s, s, s, s);
    }
}

static void payload_type(struct wr_buf *b, enum cur_cat_engine e, const cur_model *m)
{
    int trino = e == CUR_CAT_TRINO;
    if (m->whole_payload) {
        wr_buf_printf(b, "%s", trino ? "varchar" : "string");
        return;
    }
    wr_buf_printf(b, "%s", trino ? "row(" : "struct<");
    int first = 1;
    for (size_t i = 0; i < m->nprops; i++) {
        if (!plain_name(m->props[i])) {
            continue; /* not expressible as a field name: read it from the curated zone */
        }
        wr_buf_printf(b, "%s%s%s%s",
                      first   ? ""
                      : trino ? ", "
                              : ",",
                      m->props[i], trino ? " " : ":", raw_type(e, m->kinds[i]));
        first = 0;
    }
    wr_buf_printf(b, "%s", trino ? ")" : ">");
}

static void columns(struct wr_buf *b, enum cur_cat_engine e, const struct cur_cat_table *t, int raw)
{
    int trino = e == CUR_CAT_TRINO;
    const char *str = trino ? "varchar" : "string";
    if (!raw) {
        for (size_t i = 0; i < t->m->ncols; i++) {
            wr_buf_printf(b, "  ");
            ident(b, e, t->m->cols[i].name);
            wr_buf_printf(b, " %s,\n", col_type(e, &t->m->cols[i]));
        }
        return;
    }
    static const char *const env[] = {"event_type",  "event_id", "occurred_at",
                                      "received_at", "source",   "replayed_at"};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        wr_buf_printf(b, "  ");
        ident(b, e, env[i]);
        wr_buf_printf(b, " %s,\n", str);
        if (i == 0) {
            wr_buf_printf(b, "  ");
            ident(b, e, "schema_version");
            wr_buf_printf(b, " bigint,\n");
        }
    }
    wr_buf_printf(b, "  ");
    ident(b, e, "payload");
    wr_buf_putc(b, ' ');
    payload_type(b, e, t->m);
    wr_buf_printf(b, ",\n  ");
    ident(b, e, "context");
    wr_buf_putc(b, ' ');
    context_type(b, trino);
    wr_buf_printf(b, ",\n");
}

static void athena_table(struct wr_buf *b, const struct cur_cat_table *t, const char *loc, int raw,
                         const char *from)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s", t->event_type, raw ? "_raw" : "");
    wr_buf_printf(b, "CREATE EXTERNAL TABLE IF NOT EXISTS ");
    ident(b, CUR_CAT_ATHENA, name);
    wr_buf_printf(b, " (\n");
    columns(b, CUR_CAT_ATHENA, t, raw);
    b->len -= 2; /* the last ",\n" */
    wr_buf_printf(b, "\n)\nPARTITIONED BY (`dt` string%s)\n", raw ? ", `hr` string" : "");
    if (raw) {
        wr_buf_printf(
            b, "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\n"
               "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n"
               "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n");
    } else {
        wr_buf_printf(b, "STORED AS PARQUET\n");
    }
    wr_buf_printf(b, "LOCATION ");
    lit(b, loc);
    wr_buf_printf(b,
                  "\nTBLPROPERTIES (\n  'projection.enabled' = 'true',\n"
                  "  'projection.dt.type' = 'date',\n"
                  "  'projection.dt.format' = 'yyyy-MM-dd',\n"
                  "  'projection.dt.range' = '%s,NOW',\n"
                  "  'projection.dt.interval' = '1',\n"
                  "  'projection.dt.interval.unit' = 'DAYS',\n",
                  from);
    if (raw) {
        wr_buf_printf(b, "  'projection.hr.type' = 'integer',\n"
                         "  'projection.hr.range' = '0,23',\n"
                         "  'projection.hr.digits' = '2',\n");
    }
    char tmpl[4400];
    snprintf(tmpl, sizeof tmpl, "%sdt=${dt}/%s", loc, raw ? "hr=${hr}/" : "");
    wr_buf_printf(b, "  'storage.location.template' = ");
    lit(b, tmpl);
    wr_buf_printf(b, "\n);\n\n");
}

static void trino_table(struct wr_buf *b, const struct cur_cat_table *t, const char *loc, int raw,
                        const char *from)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s", t->event_type, raw ? "_raw" : "");
    wr_buf_printf(b, "CREATE TABLE IF NOT EXISTS ");
    ident(b, CUR_CAT_TRINO, name);
    wr_buf_printf(b, " (\n");
    columns(b, CUR_CAT_TRINO, t, raw);
    wr_buf_printf(b,
                  "  \"dt\" varchar WITH (partition_projection_type = 'DATE', "
                  "partition_projection_format = 'yyyy-MM-dd',\n"
                  "    partition_projection_range = ARRAY['%s', 'NOW'], "
                  "partition_projection_interval = 1,\n"
                  "    partition_projection_interval_unit = 'DAYS')",
                  from);
    if (raw) {
        wr_buf_printf(b, ",\n  \"hr\" varchar WITH (partition_projection_type = 'INTEGER', "
                         "partition_projection_range = ARRAY['0', '23'],\n"
                         "    partition_projection_digits = 2)");
    }
    char tmpl[4400];
    snprintf(tmpl, sizeof tmpl, "%sdt=${dt}/%s", loc, raw ? "hr=${hr}/" : "");
    wr_buf_printf(b,
                  "\n) WITH (\n  format = '%s',\n  external_location = ", raw ? "JSON" : "PARQUET");
    lit(b, loc);
    wr_buf_printf(b,
                  ",\n  partitioned_by = ARRAY[%s],\n"
                  "  partition_projection_enabled = true,\n"
                  "  partition_projection_location_template = ",
                  raw ? "'dt', 'hr'" : "'dt'");
    lit(b, tmpl);
    wr_buf_printf(b, "\n);\n\n");
}

int cur_catalog_ddl(enum cur_cat_engine engine, int zones, const char *lake_url,
                    const struct cur_cat_table *t, size_t n, const char *today, struct wr_buf *out,
                    struct wr_err *err)
{
    if (strncmp(lake_url, "file://", 7) != 0 && strncmp(lake_url, "s3://", 5) != 0) {
        return wr_err_set(err, WR_EINVAL, "lake '%s': not file:// or s3://", lake_url);
    }
    static const char *const names[] = {"DuckDB", "Athena", "Trino"};
    wr_buf_printf(out,
                  "-- weir catalog --engine %s: one %s per event type and zone; new days "
                  "are visible at once.\n",
                  engine == CUR_CAT_DUCKDB   ? "duckdb"
                  : engine == CUR_CAT_ATHENA ? "athena"
                                             : "trino",
                  engine == CUR_CAT_DUCKDB ? "view" : "table");
    if (engine == CUR_CAT_TRINO) {
        wr_buf_printf(out, "-- Run in a schema of a Hive connector catalog "
                           "(hive.partition-projection-enabled=true).\n");
    } else if (engine == CUR_CAT_ATHENA && strncmp(lake_url, "s3://", 5) != 0) {
        wr_buf_printf(out, "-- Note: %s reads S3 only; this lake is local.\n", names[engine]);
    }
    wr_buf_putc(out, '\n');
    for (size_t i = 0; i < n; i++) {
        for (int raw = 0; raw <= 1; raw++) {
            if (!(zones & (raw ? CUR_CAT_RAW : CUR_CAT_CURATED))) {
                continue;
            }
            char loc[4096];
            if (location(engine, lake_url, raw, t[i].event_type, loc, sizeof loc) != 0) {
                return wr_err_set(err, WR_EINVAL, "lake URL too long");
            }
            const char *from = raw ? t[i].first_raw : t[i].first_curated;
            from = from[0] ? from : today;
            if (engine == CUR_CAT_DUCKDB && !(raw ? t[i].first_raw : t[i].first_curated)[0]) {
                /* DuckDB binds a view when it is created: a glob with no file is an error */
                wr_buf_printf(out, "-- %s: no %s files yet (run weir catalog again later)\n\n",
                              t[i].event_type, raw ? "raw" : "curated");
            } else if (engine == CUR_CAT_DUCKDB) {
                if (raw) {
                    duck_raw(out, &t[i], loc);
                } else {
                    duck_curated(out, &t[i], loc);
                }
            } else if (engine == CUR_CAT_ATHENA) {
                athena_table(out, &t[i], loc, raw, from);
            } else {
                trino_table(out, &t[i], loc, raw, from);
            }
        }
    }
    return out->err ? wr_err_set(err, out->err, "out of memory") : 0;
}
