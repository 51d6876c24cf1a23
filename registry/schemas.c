/* schemas.c - the schema store: adding checked versions and listing them. */
#include "registry/reg_int.h"

#include "validator/validator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool reg_event_type_valid(const char *s, size_t len)
{
    if (len < 1 || len > 64 || s[0] < 'a' || s[0] > 'z') {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

int reg_schema_check_doc(const json_t *doc, struct wr_err *err)
{
    if (!json_is_object(doc) && !json_is_boolean(doc)) {
        return wr_err_set(err, WR_EINVAL, "a JSON Schema is an object or a boolean");
    }
    /* Compiling checks the document against its meta-schema, resolves every $ref and
     * compiles every pattern: what compiles here is what the gateway will use. */
    val_schema *s = val_compile(doc, NULL, err);
    if (!s) {
        return err ? err->code : WR_EINVAL;
    }
    val_schema_unref(s);
    return 0;
}

int reg_schema_add(PGconn *c, const char *event_type, const json_t *doc, int version,
                   int *version_out, struct wr_err *err)
{
    if (!reg_event_type_valid(event_type, strlen(event_type))) {
        return wr_err_set(err, WR_EINVAL, "'%s' is not an event type (^[a-z][a-z0-9_]{0,63}$)",
                          event_type);
    }
    if (version < 0) {
        return wr_err_set(err, WR_EINVAL, "--version: must be 1 or more");
    }
    int rc = reg_schema_check_doc(doc, err);
    if (rc) {
        return rc;
    }
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    char vbuf[16];
    snprintf(vbuf, sizeof vbuf, "%d", version);
    const char *params[] = {event_type, text, version ? vbuf : NULL};
    /* "Next version" races with another writer; the primary key catches that and we retry.
     * Every lost race is another writer's success, so the bound only needs to exceed the
     * number of concurrent writers (5 failed with 12 parallel `weir schema add`). */
    for (int attempt = 0; attempt < 100; attempt++) {
        PGresult *r = reg__exec(
            c,
            "INSERT INTO event_schemas (event_type, version, schema)"
            " SELECT $1, coalesce($3::integer,"
            "   (SELECT coalesce(max(version), 0) + 1 FROM event_schemas WHERE event_type = $1)),"
            "   $2::jsonb RETURNING version",
            3, params, false, 0, -1, err);
        if (!r) {
            rc = WR_EDB;
            break;
        }
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            if (version_out) {
                *version_out = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
            }
            PQclear(r);
            rc = 0;
            break;
        }
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        bool dup = state && strcmp(state, "23505") == 0;
        const char *m = PQresultErrorMessage(r);
        rc = dup && version ? wr_err_set(err, WR_EINVAL, "%s version %d exists already",
                                         event_type, version)
                            : wr_err_set(err, WR_EDB, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        if (!dup || version) {
            break;
        }
    }
    free(text);
    return rc;
}

int reg_schema_list(PGconn *c, const char *event_type,
                    void (*fn)(const struct reg_schema_row *, void *), void *arg,
                    struct wr_err *err)
{
    const char *params[] = {event_type};
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "SELECT event_type, version, active,"
                           " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                           " schema::text FROM event_schemas"
                           " WHERE $1::text IS NULL OR event_type = $1"
                           " ORDER BY event_type, version",
                           1, params);
    if (!r) {
        return WR_EDB;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        struct reg_schema_row row = {
            .event_type = PQgetvalue(r, i, 0),
            .version = (int)strtol(PQgetvalue(r, i, 1), NULL, 10),
            .active = PQgetvalue(r, i, 2)[0] == 't',
            .created_at = PQgetvalue(r, i, 3),
            .schema = PQgetvalue(r, i, 4),
        };
        fn(&row, arg);
    }
    PQclear(r);
    return 0;
}
