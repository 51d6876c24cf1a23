/* regcache.c - today's registry for `weir replay`: every version of every event type read
 * once per run (event_schemas), each schema compiled on first use, and the version an event
 * resolves to now (evolution.md). Split from replay.c, which owns the run: the walk of the
 * rejected zone, the replay files and the ledger. One run owns its cache (no locking). */
#include "replay.h"

#include "rpl_int.h"

#include "common/log.h"
#include "registry/registry.h"

#include <stdlib.h>
#include <string.h>

/* A non-negative integer column (Postgres's text for integer never fails to parse). */
int rpl__pg_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return end == s || v < 0 || v > 2147483647 ? 0 : (int)v;
}

int rpl__cache_load(PGconn *pg, struct reg_cache *rc, struct wr_err *err)
{
    PGresult *r = reg_exec(pg, PGRES_TUPLES_OK, err,
                           "SELECT event_type, version, active, schema::text FROM event_schemas"
                           " ORDER BY event_type COLLATE \"C\", version",
                           0, NULL);
    if (!r) {
        return WR_EDB;
    }
    int n = PQntuples(r);
    rc->v = calloc((size_t)n + 1, sizeof *rc->v);
    if (!rc->v) {
        PQclear(r);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        struct ver *v = &rc->v[rc->n];
        v->type = strdup(PQgetvalue(r, i, 0));
        v->json = strdup(PQgetvalue(r, i, 3));
        v->version = rpl__pg_int(PQgetvalue(r, i, 1));
        v->active = PQgetvalue(r, i, 2)[0] == 't';
        rc->n++;
        if (!v->type || !v->json) {
            PQclear(r);
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
    }
    PQclear(r);
    return 0;
}

void rpl__cache_free(struct reg_cache *rc)
{
    for (size_t i = 0; i < rc->n; i++) {
        free(rc->v[i].type);
        free(rc->v[i].json);
        val_schema_unref(rc->v[i].s);
    }
    free(rc->v);
}

static const val_schema *ver_schema(struct reg_cache *rc, struct ver *v)
{
    if (!v->tried) {
        v->tried = true;
        json_error_t je;
        json_t *doc = json_loads(v->json, JSON_DECODE_ANY, &je);
        struct val_opts o = {.format_annotate = rc->annotate};
        struct wr_err e = {0};
        v->s = doc ? val_compile(doc, &o, &e) : NULL;
        if (!v->s) {
            WR_WARN("replay: %s version %d does not compile; its events stay rejected: %s", v->type,
                    v->version, doc ? e.msg : je.text);
        }
        json_decref(doc);
    }
    return v->s;
}

/* The versions of type t: [*lo, *hi). */
static void type_range(const struct reg_cache *rc, const char *t, size_t tl, size_t *lo, size_t *hi)
{
    size_t a = 0, b = rc->n;
    while (a < b) {
        size_t m = (a + b) / 2;
        int c = strncmp(rc->v[m].type, t, tl);
        if (c == 0 && rc->v[m].type[tl] != '\0') {
            c = 1;
        }
        if (c < 0) {
            a = m + 1;
        } else {
            b = m;
        }
    }
    *lo = a;
    while (a < rc->n && strlen(rc->v[a].type) == tl && memcmp(rc->v[a].type, t, tl) == 0) {
        a++;
    }
    *hi = a;
}

/* The schema an event asks for today (evolution.md): its version, or the latest active
 * one when it named none (or named a retired one and --latest is given). */
int rpl__resolve(struct reg_cache *rc, const char *t, size_t tl, long long want, bool latest,
                 const val_schema **s, int *resolved)
{
    size_t lo, hi;
    type_range(rc, t, tl, &lo, &hi);
    bool any_active = false;
    for (size_t i = lo; i < hi; i++) {
        any_active |= rc->v[i].active;
    }
    if (!any_active) {
        return RES_UNKNOWN_TYPE;
    }
    if (want > 0) {
        for (size_t i = lo; i < hi; i++) {
            if (rc->v[i].version == want) {
                if (rc->v[i].active) {
                    *s = ver_schema(rc, &rc->v[i]);
                    *resolved = rc->v[i].version;
                    return *s ? RES_OK : RES_UNKNOWN_VERSION;
                }
                if (!latest) {
                    return RES_UNKNOWN_VERSION;
                }
                want = 0;
                break;
            }
        }
        if (want > 0) {
            return RES_UNKNOWN_VERSION;
        }
    }
    for (size_t i = hi; i > lo; i--) {
        if (rc->v[i - 1].active && ver_schema(rc, &rc->v[i - 1])) {
            *s = rc->v[i - 1].s;
            *resolved = rc->v[i - 1].version;
            return RES_OK;
        }
    }
    return RES_UNKNOWN_TYPE;
}
