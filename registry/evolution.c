/* evolution.c - event_types rows and the versions a new one is compared with. */
#include "evolution.h"

#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool reg_compat_mode_valid(const char *m)
{
    return m && (strcmp(m, "none") == 0 || strcmp(m, "backward") == 0 ||
                 strcmp(m, "forward") == 0 || strcmp(m, "full") == 0);
}

int reg_type_info_get(PGconn *c, const char *event_type, struct reg_type_info *out,
                      struct wr_err *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->compatibility, sizeof out->compatibility, "backward");
    const char *params[] = {event_type};
    PGresult *r = reg_exec(
        c, PGRES_TUPLES_OK, err,
        "SELECT compatibility, transitive FROM event_types WHERE event_type = $1", 1, params);
    if (!r) {
        return WR_EDB;
    }
    if (PQntuples(r) == 1) {
        out->exists = true;
        snprintf(out->compatibility, sizeof out->compatibility, "%s", PQgetvalue(r, 0, 0));
        out->transitive = PQgetvalue(r, 0, 1)[0] == 't';
    }
    PQclear(r);
    return 0;
}

int reg_type_ensure(PGconn *c, const char *event_type, struct wr_err *err)
{
    const char *params[] = {event_type};
    PGresult *r = reg_exec(
        c, PGRES_COMMAND_OK, err,
        "INSERT INTO event_types (event_type) VALUES ($1) ON CONFLICT DO NOTHING", 1, params);
    if (!r) {
        return WR_EDB;
    }
    PQclear(r);
    return 0;
}

int reg_type_set_compat(PGconn *c, const char *event_type, const char *mode, bool set_transitive,
                        bool transitive, struct wr_err *err)
{
    if (!reg_event_type_valid(event_type, strlen(event_type))) {
        return wr_err_set(err, WR_EINVAL, "'%s' is not an event type (^[a-z][a-z0-9_]{0,63}$)",
                          event_type);
    }
    if (mode && !reg_compat_mode_valid(mode)) {
        return wr_err_set(err, WR_EINVAL, "'%s' is not none, backward, forward or full", mode);
    }
    const char *params[] = {event_type, mode, set_transitive ? (transitive ? "t" : "f") : NULL};
    /* event_types has no NOTIFY trigger: the statement tells the gateways itself, so a
     * new mode shows within a second (a change by plain SQL waits for the TTL). */
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "WITH u AS (INSERT INTO event_types"
                           " (event_type, compatibility, transitive)"
                           " VALUES ($1, coalesce($2, 'backward'), coalesce($3::boolean, false))"
                           " ON CONFLICT (event_type) DO UPDATE SET"
                           "  compatibility = coalesce($2, event_types.compatibility),"
                           "  transitive = coalesce($3::boolean, event_types.transitive)"
                           " RETURNING 1)"
                           " SELECT pg_notify('weir_registry', 'event_types') FROM u",
                           3, params);
    if (!r) {
        return WR_EDB;
    }
    PQclear(r);
    return 0;
}

/* An integer column as Postgres prints it (a version is >= 1 by its CHECK). */
static int version_of(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return end == s || *end || v < 1 || v > 2147483646 ? 1 : (int)v;
}

int reg_active_versions(PGconn *c, const char *event_type,
                        int (*fn)(void *arg, int version, const char *json), void *arg,
                        int *next_version, struct wr_err *err)
{
    const char *params[] = {event_type};
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "SELECT version, active, schema::text FROM event_schemas"
                           " WHERE event_type = $1 ORDER BY version DESC",
                           1, params);
    if (!r) {
        return WR_EDB;
    }
    int next = 1;
    for (int i = 0; i < PQntuples(r); i++) {
        int v = version_of(PQgetvalue(r, i, 0));
        if (v + 1 > next) {
            next = v + 1;
        }
    }
    for (int i = 0; fn && i < PQntuples(r); i++) {
        int v = version_of(PQgetvalue(r, i, 0));
        if (PQgetvalue(r, i, 1)[0] == 't' && fn(arg, v, PQgetvalue(r, i, 2)) != 0) {
            break;
        }
    }
    if (next_version) {
        *next_version = next;
    }
    PQclear(r);
    return 0;
}
