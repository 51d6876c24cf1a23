/* rejected.c - GET /api/v1/rejected (the rejected zone's latest events with their errors)
 * and GET /api/v1/overview (per type and hour: accepted from the curated rollups or
 * estimated from raw file sizes, rejected counted from the rejected zone). */
#include "console/con_int.h"
#include "console/scan.h"

#include "common/clock.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define HOUR_US (3600ll * 1000000)

/* Whether an errors value names reason as a code or keyword, at any depth. */
static bool names_reason(const json_t *v, const char *reason, int depth)
{
    if (depth > 8) {
        return false;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            if (names_reason(e, reason, depth + 1)) {
                return true;
            }
        }
    } else if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            if ((strcmp(k, "code") == 0 || strcmp(k, "keyword") == 0) && json_is_string(e) &&
                strcmp(json_string_value(e), reason) == 0) {
                return true;
            }
            if (names_reason(e, reason, depth + 1)) {
                return true;
            }
        }
    }
    return false;
}

/* The event type of a rejected record: its event's, or NULL when it had none. */
static const char *rec_type(const json_t *rec)
{
    return json_string_value(json_object_get(json_object_get(rec, "event"), "event_type"));
}

/* Fills o with the rejected zone's files of the hours [from, to], newest first. */
static int rejected_files(lake_store *st, int64_t from_us, int64_t to_us, struct con_objs *o,
                          struct wr_err *err)
{
    struct con_objs all = {0};
    int rc = con_objs_list(st, "rejected/", &all, err);
    char lo[40], hi[40], t[32];
    con_time_format(from_us - from_us % HOUR_US, t);
    snprintf(lo, sizeof lo, "rejected/dt=%.10s/hr=%.2s/", t, t + 11);
    con_time_format(to_us, t);
    snprintf(hi, sizeof hi, "rejected/dt=%.10s/hr=%.2s/~", t, t + 11);
    /* Keep the matching ones (move, not copy). */
    size_t n = 0;
    for (size_t i = 0; i < all.n; i++) {
        if (rc == 0 && strcmp(all.v[i].key, lo) >= 0 && strcmp(all.v[i].key, hi) <= 0) {
            all.v[n++] = all.v[i];
        } else {
            free(all.v[i].key);
        }
    }
    all.n = n;
    *o = all;
    con_objs_sort_desc(o);
    return rc;
}

struct rej_hit {
    int64_t received_us;
    json_t *row;
};

static int rej_cmp(const void *a, const void *b)
{
    const struct rej_hit *x = a, *y = b;
    return x->received_us == y->received_us ? 0 : x->received_us > y->received_us ? -1 : 1;
}

enum MHD_Result con_api_rejected(struct con_req *r)
{
    int64_t t0 = wr_time_mono_ns();
    enum MHD_Result ret;
    int64_t from_us, to_us;
    long limit;
    if (!con_range(r, "-24h", "now", &from_us, &to_us, &ret) || !con_limit(r, &limit, &ret)) {
        return ret;
    }
    const char *type = con_arg(r, "event_type");
    const char *reason = con_arg(r, "reason");
    if (type && *type && !con_key_allows(&r->key, type)) {
        return con_send_error(r, 403, "forbidden", "this key may not read %.64s events", type);
    }
    struct wr_err err = {0};
    struct con_budget b;
    con_budget_init(&b, &r->srv->cfg);
    lake_store *st = lake_store_open(r->srv->cfg.lake_url, r->srv->cfg.s3, &err);
    wr_inflater *z = wr_inflater_create();
    struct wr_buf raw, text;
    wr_buf_init(&raw, 1u << 30);
    wr_buf_init(&text, (size_t)r->srv->cfg.max_file_bytes);
    struct con_objs files = {0};
    int rc = st && z ? rejected_files(st, from_us, to_us, &files, &err) : WR_ENOMEM;
    json_t *bad = json_array();
    struct rej_hit *hits = NULL;
    size_t nhits = 0, cap = 0;
    uint64_t scanned = 0;
    char cur_hour[40] = "";
    for (size_t i = 0; rc == 0 && i < files.n; i++) {
        /* Stop at an hour boundary once limit rows are held: older hours hold older rows. */
        const char *hr = strstr(files.v[i].key, "/hr=");
        size_t hl = hr ? (size_t)(hr - files.v[i].key) + 6 : 0;
        if (hl && hl < sizeof cur_hour && strncmp(cur_hour, files.v[i].key, hl) != 0) {
            if (nhits >= (size_t)limit) {
                break;
            }
            memcpy(cur_hour, files.v[i].key, hl);
            cur_hour[hl] = '\0';
        }
        if (!con_budget_file(&b, files.v[i].size)) {
            break;
        }
        struct wr_err ferr = {0};
        int g = con_read_gz(st, z, files.v[i].key, r->srv->cfg.max_file_bytes, &raw, &text, &ferr);
        scanned++;
        if (g != 0) {
            con_bad_file(bad, files.v[i].key, ferr.msg);
            if (g < 0) {
                continue;
            }
        }
        const char *p = text.p, *end = text.p + text.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            json_t *rec = le > p ? json_loadb(p, (size_t)(le - p), 0, NULL) : NULL;
            p = le + 1;
            if (!json_is_object(rec)) {
                json_decref(rec);
                continue;
            }
            const char *rt = rec_type(rec);
            const char *ra = json_string_value(json_object_get(rec, "received_at"));
            int64_t rus;
            bool ok =
                ra && wr_time_parse_rfc3339(ra, strlen(ra), &rus) && rus >= from_us && rus <= to_us;
            ok = ok && (!type || !*type || (rt && strcmp(rt, type) == 0));
            /* A scoped key sees only rejections of its types. */
            ok = ok && (r->key.nscopes == 0 || (rt && con_key_allows(&r->key, rt)));
            ok = ok &&
                 (!reason || !*reason || names_reason(json_object_get(rec, "errors"), reason, 0));
            if (ok && nhits == cap) {
                size_t nc = cap ? cap * 2 : 64;
                struct rej_hit *v = realloc(hits, nc * sizeof *v);
                ok = v != NULL;
                if (v) {
                    hits = v;
                    cap = nc;
                }
            }
            if (!ok) {
                json_decref(rec);
                continue;
            }
            json_t *errors = json_object_get(rec, "errors");
            json_t *row =
                json_pack("{s:o,s:s,s:o,s:O,s:o}", "event_type", rt ? json_string(rt) : json_null(),
                          "received_at", ra, "source", json_copy(json_object_get(rec, "source")),
                          "errors", errors ? errors : json_null(), "line", rec);
            if (row) {
                hits[nhits++] = (struct rej_hit){rus, row};
            } else {
                json_decref(rec);
            }
        }
        con_budget_rows(&b, 1);
    }
    if (nhits > 1) {
        qsort(hits, nhits, sizeof hits[0], rej_cmp);
    }
    json_t *events = json_array();
    for (size_t i = 0; i < nhits; i++) {
        if (i < (size_t)limit) {
            json_array_append_new(events, hits[i].row);
        } else {
            json_decref(hits[i].row);
        }
    }
    free(hits);
    con_objs_free(&files);
    wr_buf_free(&raw);
    wr_buf_free(&text);
    wr_inflater_destroy(z);
    lake_store_destroy(st);
    if (rc != 0) {
        json_decref(events);
        json_decref(bad);
        return con_send_error(r, 503, "unavailable", "the lake could not be read: %s", err.msg);
    }
    json_t *out = json_pack("{s:o,s:I,s:I,s:I,s:o}", "events", events, "scanned_files",
                            (json_int_t)scanned, "scanned_bytes", (json_int_t)b.bytes, "elapsed_ms",
                            (json_int_t)((wr_time_mono_ns() - t0) / 1000000), "bad_files", bad);
    if (out && b.stopped) {
        json_object_set_new(out, "truncated", json_true());
        json_object_set_new(out, "stopped_reason", json_string(b.stopped));
    }
    return con_send_json(r, 200, out);
}

/* ---- overview ------------------------------------------------------------------------ */

struct ov_type {
    char name[65];
    double *accepted; /* per hour */
    double *rejected;
    bool *estimated;
    bool *curated_day; /* per hour: covered by a curation (counts are exact) */
};

static long hour_index(const char *dt, const char *hr, int64_t from_h, long hours)
{
    char t[32];
    snprintf(t, sizeof t, "%.10sT%.2s:00:00Z", dt, hr);
    int64_t us;
    if (!wr_time_parse_rfc3339(t, strlen(t), &us)) {
        return -1;
    }
    long i = (long)(us / HOUR_US - from_h);
    return i >= 0 && i < hours ? i : -1;
}

enum MHD_Result con_api_overview(struct con_req *r)
{
    const char *hs = con_arg(r, "hours");
    long hours = 48;
    if (hs) {
        char *end;
        hours = strtol(hs, &end, 10);
        if (end == hs || *end || hours < 1 || hours > 24 * 31) {
            return con_send_error(r, 400, "bad_request", "hours: '%.32s' is not 1 to 744", hs);
        }
    }
    int64_t to_h = r->now_us / HOUR_US + 1; /* the current hour is the last */
    int64_t from_h = to_h - hours;
    PGconn *c = con_pg(r);
    struct wr_err err = {0};
    if (!c) {
        return con_send_error(r, 503, "unavailable", "the registry is unreachable");
    }
    char from_t[32], to_t[32];
    con_time_format(from_h * HOUR_US, from_t);
    con_time_format(to_h * HOUR_US, to_t);
    PGresult *types =
        con_sql(c, "SELECT DISTINCT event_type FROM event_schemas ORDER BY 1", 0, NULL, &err);
    if (!types) {
        return con_send_error(r, 503, "unavailable", "the registry is unreachable");
    }
    size_t nt = 0;
    struct ov_type *tv = calloc((size_t)PQntuples(types) + 1, sizeof *tv);
    for (int i = 0; tv && i < PQntuples(types); i++) {
        const char *t = PQgetvalue(types, i, 0);
        if (!con_key_allows(&r->key, t) || strlen(t) >= sizeof tv[0].name) {
            continue;
        }
        struct ov_type *o = &tv[nt++];
        snprintf(o->name, sizeof o->name, "%s", t);
        o->accepted = calloc((size_t)hours, sizeof(double));
        o->rejected = calloc((size_t)hours, sizeof(double));
        o->estimated = calloc((size_t)hours, sizeof(bool));
        o->curated_day = calloc((size_t)hours, sizeof(bool));
    }
    PQclear(types);
    const char *params[] = {from_t, to_t};
    /* Curated hours: exact counts of kept events. A curation covers the hours it wrote
     * counts for (those closed when it ran); the others, the open hour included, are
     * estimated from the raw zone below. */
    PGresult *cur = con_sql(
        c,
        "SELECT h.event_type, to_char(h.dt, 'YYYY-MM-DD'), to_char(h.hr, 'FM00'),"
        " sum(h.distinct_event_ids)"
        " FROM curated_rollups_hourly h JOIN curation_state s USING (event_type, dt)"
        " WHERE s.curated_fingerprint = s.fingerprint AND h.dt BETWEEN $1::timestamptz::date AND"
        " $2::timestamptz::date GROUP BY 1, 2, 3",
        2, params, &err);
    PGresult *ratio = con_sql(c,
                              "SELECT event_type, sum(raw_bytes)::float8 / sum(rows_written)"
                              " FROM curation_state WHERE rows_written > 0 GROUP BY 1",
                              0, NULL, &err);
    lake_store *st = lake_store_open(r->srv->cfg.lake_url, r->srv->cfg.s3, &err);
    for (size_t k = 0; k < nt; k++) {
        struct ov_type *o = &tv[k];
        if (!o->accepted || !o->rejected || !o->estimated || !o->curated_day) {
            continue;
        }
        double bytes_per_event = 120; /* gzip'd envelope, until curation measured the type */
        for (int i = 0; ratio && i < PQntuples(ratio); i++) {
            if (strcmp(PQgetvalue(ratio, i, 0), o->name) == 0) {
                double v = strtod(PQgetvalue(ratio, i, 1), NULL);
                bytes_per_event = v > 1 ? v : bytes_per_event;
            }
        }
        for (int i = 0; cur && i < PQntuples(cur); i++) {
            if (strcmp(PQgetvalue(cur, i, 0), o->name) != 0) {
                continue;
            }
            long x = hour_index(PQgetvalue(cur, i, 1), PQgetvalue(cur, i, 2), from_h, hours);
            if (x >= 0) {
                o->accepted[x] += strtod(PQgetvalue(cur, i, 3), NULL);
                o->curated_day[x] = true;
            }
        }
        /* Hours not curated: the raw zone's file sizes over the bytes an event takes. */
        for (int64_t d = from_h / 24; st && d <= (to_h - 1) / 24; d++) {
            int64_t y;
            unsigned m, dd;
            wr_civil_from_days(d, &y, &m, &dd);
            char prefix[LAKE_PATH_MAX];
            snprintf(prefix, sizeof prefix, "raw/event_type=%s/dt=%04d-%02u-%02u/", o->name, (int)y,
                     m, dd);
            struct con_objs objs = {0};
            if (con_objs_list(st, prefix, &objs, &err) == 0) {
                for (size_t j = 0; j < objs.n; j++) {
                    struct lake_raw_key rk;
                    if (!lake_path_parse_raw(objs.v[j].key, &rk)) {
                        continue;
                    }
                    long x = hour_index(rk.dt, rk.hr, from_h, hours);
                    if (x >= 0 && !o->curated_day[x]) {
                        o->accepted[x] += (double)objs.v[j].size / bytes_per_event;
                        o->estimated[x] = true;
                    }
                }
            }
            con_objs_free(&objs);
        }
    }
    /* Rejections: counted line by line in the window's rejected files (bounded). */
    struct con_objs rej = {0};
    wr_inflater *z = wr_inflater_create();
    struct wr_buf raw, text;
    wr_buf_init(&raw, 64u << 20);
    wr_buf_init(&text, 256u << 20);
    if (st && z && rejected_files(st, from_h * HOUR_US, to_h * HOUR_US, &rej, &err) == 0) {
        uint64_t budget = 256u << 20;
        for (size_t j = 0; j < rej.n && rej.v[j].size <= budget; j++) {
            budget -= rej.v[j].size;
            struct wr_err ferr = {0};
            if (con_read_gz(st, z, rej.v[j].key, 256u << 20, &raw, &text, &ferr) < 0) {
                continue;
            }
            const char *dtp = strstr(rej.v[j].key, "dt="), *hrp = strstr(rej.v[j].key, "hr=");
            long x = dtp && hrp ? hour_index(dtp + 3, hrp + 3, from_h, hours) : -1;
            const char *p = text.p, *end = text.p + text.len;
            while (x >= 0 && p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                json_t *rec = le > p ? json_loadb(p, (size_t)(le - p), 0, NULL) : NULL;
                const char *rt = rec_type(rec);
                for (size_t k = 0; rt && k < nt; k++) {
                    if (strcmp(tv[k].name, rt) == 0 && tv[k].rejected) {
                        tv[k].rejected[x] += 1;
                    }
                }
                json_decref(rec);
                p = le + 1;
            }
        }
    }
    con_objs_free(&rej);
    wr_buf_free(&raw);
    wr_buf_free(&text);
    wr_inflater_destroy(z);
    json_t *list = json_array();
    for (size_t k = 0; k < nt; k++) {
        struct ov_type *o = &tv[k];
        if (o->accepted && o->rejected && o->estimated) {
            json_t *series = json_array();
            for (long x = 0; x < hours; x++) {
                char t[32];
                con_time_format((from_h + x) * HOUR_US, t);
                json_array_append_new(series, json_pack("{s:s,s:I,s:I,s:b}", "hour", t, "accepted",
                                                        (json_int_t)(o->accepted[x] + 0.5),
                                                        "rejected", (json_int_t)o->rejected[x],
                                                        "estimated", o->estimated[x]));
            }
            json_t *last = json_null();
            for (long x = hours - 1; x >= 0; x--) {
                if (o->accepted[x] > 0) {
                    char t[32];
                    con_time_format((from_h + x) * HOUR_US, t);
                    json_decref(last);
                    last = json_string(t);
                    break;
                }
            }
            json_array_append_new(list, json_pack("{s:s,s:o,s:o}", "event_type", o->name,
                                                  "last_received", last, "series", series));
        }
        free(o->accepted);
        free(o->rejected);
        free(o->estimated);
        free(o->curated_day);
    }
    free(tv);
    PQclear(cur);
    PQclear(ratio);
    lake_store_destroy(st);
    return con_send_json(
        r, 200, json_pack("{s:s,s:s,s:o}", "from", from_t, "to", to_t, "event_types", list));
}
