/* api.c - the console's registry and rollup endpoints: event types, schemas, keys, rollup
 * definitions and values, health. Each reads Postgres only, filtered by the key's scopes. */
#include "console/con_int.h"
#include "console/scan.h"

#include "common/clock.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static enum MHD_Result db_down(struct con_req *r, const struct wr_err *err)
{
    WR_WARN("console: %s", err->msg);
    return con_send_error(r, 503, "unavailable", "the registry is unreachable");
}

/* A text[] value "{a,b}" as a JSON array (NULL or {} as null when empty_null). */
static json_t *pg_text_array(const char *t, bool empty_null)
{
    json_t *a = json_array();
    if (t && t[0] == '{') {
        const char *p = t + 1;
        while (*p && *p != '}') {
            size_t n;
            if (*p == '"') {
                /* Quoted element: backslash escapes. */
                char buf[1024];
                size_t o = 0;
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1]) {
                        p++;
                    }
                    if (o + 1 < sizeof buf) {
                        buf[o++] = *p;
                    }
                    p++;
                }
                if (*p == '"') {
                    p++;
                }
                json_array_append_new(a, json_stringn(buf, o));
            } else {
                n = strcspn(p, ",}");
                json_array_append_new(a, json_stringn(p, n));
                p += n;
            }
            if (*p == ',') {
                p++;
            }
        }
    }
    if (empty_null && json_array_size(a) == 0) {
        json_decref(a);
        return json_null();
    }
    return a;
}

/* The latest raw hour of a type: today's and the previous two days' raw folders, newest
 * first, then the curated rollups (older). NULL when none. */
static json_t *last_received_hour(struct con_req *r, lake_store *st, const char *type)
{
    int64_t day = r->now_us / (86400ll * 1000000);
    for (int back = 0; st && back < 3; back++) {
        int64_t y;
        unsigned m, d;
        wr_civil_from_days(day - back, &y, &m, &d);
        char prefix[LAKE_PATH_MAX];
        snprintf(prefix, sizeof prefix, "raw/event_type=%s/dt=%04d-%02u-%02u/", type, (int)y, m, d);
        struct con_objs o = {0};
        struct wr_err err = {0};
        if (con_objs_list(st, prefix, &o, &err) == 0 && o.n) {
            con_objs_sort_desc(&o);
            struct lake_raw_key k;
            if (lake_path_parse_raw(o.v[0].key, &k)) {
                char t[40];
                snprintf(t, sizeof t, "%sT%s:00:00.000Z", k.dt, k.hr);
                con_objs_free(&o);
                return json_string(t);
            }
        }
        con_objs_free(&o);
    }
    const char *params[] = {type};
    struct wr_err err = {0};
    PGresult *res = con_sql(con_pg(r),
                            "SELECT to_char(max(dt + make_interval(hours => hr)),"
                            " 'YYYY-MM-DD\"T\"HH24:00:00.000\"Z\"') FROM curated_rollups_hourly"
                            " WHERE event_type = $1",
                            1, params, &err);
    json_t *v = res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)
                    ? json_string(PQgetvalue(res, 0, 0))
                    : json_null();
    PQclear(res);
    return v;
}

/* Versions of every type the key may read: {type: {compatibility, transitive, versions}}. */
static json_t *types_json(struct con_req *r, const char *only, bool with_schema, struct wr_err *err)
{
    PGconn *c = con_pg(r);
    if (!c) {
        wr_err_set(err, WR_EDB, "no connection");
        return NULL;
    }
    const char *params[] = {only};
    PGresult *res = con_sql(
        c,
        "SELECT s.event_type, coalesce(t.compatibility, 'backward'), coalesce(t.transitive, false),"
        " s.version, s.active, s.created_at, s.schema::text"
        " FROM event_schemas s LEFT JOIN event_types t USING (event_type)"
        " WHERE $1::text IS NULL OR s.event_type = $1 ORDER BY s.event_type, s.version",
        1, params, err);
    if (!res) {
        return NULL;
    }
    json_t *list = json_array();
    json_t *cur = NULL;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *type = PQgetvalue(res, i, 0);
        if (!con_key_allows(&r->key, type)) {
            continue;
        }
        if (!cur || strcmp(json_string_value(json_object_get(cur, "event_type")), type) != 0) {
            cur = json_pack("{s:s,s:s,s:b,s:[]}", "event_type", type, "compatibility",
                            PQgetvalue(res, i, 1), "transitive",
                            strcmp(PQgetvalue(res, i, 2), "t") == 0, "versions");
            json_array_append_new(list, cur);
        }
        json_t *v = json_pack("{s:i,s:b,s:o}", "version", (int)con_pg_int(res, i, 3), "active",
                              strcmp(PQgetvalue(res, i, 4), "t") == 0, "created_at",
                              con_pg_time(PQgetvalue(res, i, 5)));
        if (with_schema) {
            json_t *doc = json_loads(PQgetvalue(res, i, 6), JSON_DECODE_ANY, NULL);
            json_object_set_new(v, "schema", doc ? doc : json_null());
        }
        json_array_append_new(json_object_get(cur, "versions"), v);
    }
    PQclear(res);
    return list;
}

enum MHD_Result con_api_event_types(struct con_req *r)
{
    struct wr_err err = {0};
    json_t *list = types_json(r, NULL, false, &err);
    if (!list) {
        return db_down(r, &err);
    }
    lake_store *st = lake_store_open(r->srv->cfg.lake_url, r->srv->cfg.s3, &err);
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        json_object_set_new(
            t, "last_received_hour",
            last_received_hour(r, st, json_string_value(json_object_get(t, "event_type"))));
    }
    lake_store_destroy(st);
    return con_send_json(r, 200, json_pack("{s:o}", "event_types", list));
}

enum MHD_Result con_api_schemas(struct con_req *r, const char *type)
{
    if (!con_key_allows(&r->key, type)) {
        return con_send_error(r, 403, "forbidden", "this key may not read %.64s", type);
    }
    struct wr_err err = {0};
    json_t *list = types_json(r, type, true, &err);
    if (!list) {
        return db_down(r, &err);
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        return con_send_error(r, 404, "not_found", "no event type '%.64s'", type);
    }
    json_t *one = json_incref(json_array_get(list, 0));
    json_decref(list);
    return con_send_json(r, 200, one);
}

enum MHD_Result con_api_keys(struct con_req *r)
{
    PGconn *c = con_pg(r);
    struct wr_err err = {0};
    PGresult *res = c ? con_sql(c,
                                "SELECT name, kind, event_types, rate_limit, origins, created_at,"
                                " CASE WHEN revoked OR revoked_at IS NOT NULL THEN"
                                " coalesce(revoked_at, created_at) END"
                                " FROM api_keys ORDER BY created_at, name",
                                0, NULL, &err)
                      : NULL;
    if (!res) {
        return db_down(r, &err);
    }
    json_t *keys = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *rate = PQgetisnull(res, i, 3) ? json_null() : json_integer(con_pg_int(res, i, 3));
        json_array_append_new(
            keys,
            json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "name", PQgetvalue(res, i, 0), "kind",
                      PQgetvalue(res, i, 1), "event_types",
                      pg_text_array(PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2), true),
                      "rate", rate, "origins", pg_text_array(PQgetvalue(res, i, 4), false),
                      "created_at", con_pg_time(PQgetvalue(res, i, 5)), "revoked_at",
                      PQgetisnull(res, i, 6) ? json_null() : con_pg_time(PQgetvalue(res, i, 6))));
    }
    PQclear(res);
    return con_send_json(r, 200, json_pack("{s:o}", "keys", keys));
}

/* Whether the rollup tables exist (migration 0007 may not be applied yet). */
static int rollups_exist(PGconn *c)
{
    struct wr_err err = {0};
    PGresult *res = con_sql(c,
                            "SELECT to_regclass('rollups') IS NOT NULL AND"
                            " to_regclass('rollup_values') IS NOT NULL",
                            0, NULL, &err);
    if (!res) {
        return -1;
    }
    int ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return ok;
}

enum MHD_Result con_api_rollups(struct con_req *r)
{
    PGconn *c = con_pg(r);
    struct wr_err err = {0};
    int have = c ? rollups_exist(c) : -1;
    if (have < 0) {
        return db_down(r, &(struct wr_err){.msg = "rollups"});
    }
    json_t *list = json_array();
    if (have) {
        PGresult *res = con_sql(c,
                                "SELECT name, event_type, grain, dimensions, metrics::text, active"
                                " FROM rollups ORDER BY name",
                                0, NULL, &err);
        if (!res) {
            json_decref(list);
            return db_down(r, &err);
        }
        for (int i = 0; i < PQntuples(res); i++) {
            if (!con_key_allows(&r->key, PQgetvalue(res, i, 1))) {
                continue;
            }
            json_t *m = json_loads(PQgetvalue(res, i, 4), JSON_DECODE_ANY, NULL);
            json_array_append_new(
                list,
                json_pack("{s:s,s:s,s:s,s:o,s:o,s:b}", "name", PQgetvalue(res, i, 0), "event_type",
                          PQgetvalue(res, i, 1), "grain", PQgetvalue(res, i, 2), "dimensions",
                          pg_text_array(PQgetvalue(res, i, 3), false), "metrics",
                          m ? m : json_array(), "active", strcmp(PQgetvalue(res, i, 5), "t") == 0));
        }
        PQclear(res);
    }
    return con_send_json(r, 200, json_pack("{s:o}", "rollups", list));
}

enum MHD_Result con_api_rollup(struct con_req *r, const char *name)
{
    enum MHD_Result ret;
    int64_t from_us, to_us;
    if (!con_range(r, "-7d", "now", &from_us, &to_us, &ret)) {
        return ret;
    }
    PGconn *c = con_pg(r);
    struct wr_err err = {0};
    int have = c ? rollups_exist(c) : -1;
    if (have < 0) {
        return db_down(r, &(struct wr_err){.msg = "rollups"});
    }
    PGresult *def = NULL;
    if (have) {
        const char *p1[] = {name};
        def = con_sql(c, "SELECT event_type, grain FROM rollups WHERE name = $1", 1, p1, &err);
        if (!def) {
            return db_down(r, &err);
        }
    }
    if (!def || PQntuples(def) != 1) {
        PQclear(def);
        return con_send_error(r, 404, "not_found", "rollup not found: '%.64s'", name);
    }
    if (!con_key_allows(&r->key, PQgetvalue(def, 0, 0))) {
        PQclear(def);
        return con_send_error(r, 403, "forbidden", "this key may not read this rollup's type");
    }
    char f[32], t[32];
    con_time_format(from_us, f);
    con_time_format(to_us, t);
    const char *params[] = {name, f, t};
    PGresult *res = con_sql(c,
                            "SELECT bucket, dimensions::text, metrics::text FROM rollup_values"
                            " WHERE name = $1 AND bucket >= $2::timestamptz AND bucket <="
                            " $3::timestamptz ORDER BY bucket, dimensions::text LIMIT 100000",
                            3, params, &err);
    if (!res) {
        PQclear(def);
        return db_down(r, &err);
    }
    json_t *rows = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *d = json_loads(PQgetvalue(res, i, 1), JSON_DECODE_ANY, NULL);
        json_t *m = json_loads(PQgetvalue(res, i, 2), JSON_DECODE_ANY, NULL);
        json_array_append_new(
            rows, json_pack("{s:o,s:o,s:o}", "bucket", con_pg_time(PQgetvalue(res, i, 0)),
                            "dimensions", d ? d : json_object(), "metrics", m ? m : json_object()));
    }
    json_t *out = json_pack("{s:s,s:s,s:s,s:o}", "name", name, "event_type", PQgetvalue(def, 0, 0),
                            "grain", PQgetvalue(def, 0, 1), "rows", rows);
    PQclear(res);
    PQclear(def);
    return con_send_json(r, 200, out);
}

enum MHD_Result con_api_health(struct con_req *r)
{
    struct wr_err err = {0};
    PGconn *c = con_pg(r);
    PGresult *res = c ? con_sql(c, "SELECT 1", 0, NULL, &err) : NULL;
    bool reg = res != NULL;
    PQclear(res);
    lake_store *st = lake_store_open(r->srv->cfg.lake_url, r->srv->cfg.s3, &err);
    struct con_objs o = {0};
    bool lake = st && con_objs_list(st, "curated/events/event_type=none_/", &o, &err) == 0;
    con_objs_free(&o);
    lake_store_destroy(st);
    json_t *out = json_pack("{s:s,s:b,s:b,s:s}", "status", reg && lake ? "ok" : "degraded",
                            "registry", reg, "lake", lake, "key", r->key.name);
    return con_send_json(r, reg && lake ? 200 : 503, out);
}
