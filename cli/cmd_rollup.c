/* cmd_rollup.c - `weir rollup add|list|remove`: user-defined rollup definitions in the
 * registry (console.md "Rollup definitions"); `weir curate` computes them. Wiring only: the
 * rules are curator/rollup_user.c's. */
#include "cli.h"

#include "curator/rollup_user.h"
#include "registry/registry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct wr_cmd rollup_cmds[] = {
    {"rollup add",
     "FILE",
     "Adds (or replaces) the rollup definitions of a JSON file: one object or an array of "
     "them, {\"name\", \"event_type\", \"grain\": \"hour\"|\"day\", \"dimensions\": [FIELD...], "
     "\"metrics\": [{\"count\": \"*\"}, {\"count_distinct\": FIELD}, {\"sum\"|\"min\"|\"max\": "
     "FIELD}]}; FIELD is payload.NAME, context.NAME or an envelope field. `weir curate` "
     "computes them for each day it curates.",
     {cli_common_opts, NULL},
     1,
     1},
    {"rollup list", NULL, "Lists the rollup definitions.", {cli_common_opts, NULL}, 0, 0},
    {"rollup remove",
     "NAME",
     "Removes a rollup definition and its values.",
     {cli_common_opts, NULL},
     1,
     1},
};

int cli_rollup_store(PGconn *c, const json_t *def, bool replace, int *added, struct wr_err *err)
{
    *added = 0;
    size_t nversions = 0;
    const char *type = json_string_value(json_object_get(def, "event_type"));
    cur_model *m = cur_model_load(c, type, &nversions, err);
    if (!m) {
        return err->code ? err->code : WR_EDB;
    }
    int rc = nversions ? 0
                       : wr_err_set(err, WR_EINVAL, "event type '%s' has no schema in the registry",
                                    type);
    rc = rc ? rc : cur_rudef_check(def, m, err);
    cur_model_destroy(m);
    if (rc) {
        return rc;
    }
    char *dims = json_dumps(json_object_get(def, "dimensions"), JSON_COMPACT);
    char *mets = json_dumps(json_object_get(def, "metrics"), JSON_COMPACT);
    const json_t *act = json_object_get(def, "active");
    const char *p[6] = {json_string_value(json_object_get(def, "name")),
                        type,
                        json_string_value(json_object_get(def, "grain")),
                        dims,
                        mets,
                        act && json_is_false(act) ? "false" : "true"};
    if (!dims || !mets) {
        free(dims);
        free(mets);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err, "BEGIN", 0, NULL);
    rc = r ? 0 : WR_EDB;
    PQclear(r);
    if (rc == 0 && replace) {
        /* a changed definition's old values mean something else: they go */
        r = reg_exec(c, PGRES_COMMAND_OK, err, "DELETE FROM rollup_values WHERE name = $1", 1, p);
        rc = r ? 0 : WR_EDB;
        PQclear(r);
    }
    if (rc == 0) {
        r = reg_exec(
            c, PGRES_TUPLES_OK, err,
            replace ? "INSERT INTO rollups (name, event_type, grain, dimensions, metrics, active) "
                      "VALUES ($1, $2, $3, ARRAY(SELECT json_array_elements_text($4::json)), "
                      "$5::jsonb, $6::boolean) ON CONFLICT (name) DO UPDATE SET "
                      "event_type = EXCLUDED.event_type, grain = EXCLUDED.grain, "
                      "dimensions = EXCLUDED.dimensions, metrics = EXCLUDED.metrics, "
                      "active = EXCLUDED.active RETURNING (xmax = 0)::text"
                    : "INSERT INTO rollups (name, event_type, grain, dimensions, metrics, active) "
                      "VALUES ($1, $2, $3, ARRAY(SELECT json_array_elements_text($4::json)), "
                      "$5::jsonb, $6::boolean) ON CONFLICT (name) DO NOTHING RETURNING 'true'",
            6, p);
        if (!r) {
            rc = WR_EDB;
        } else {
            *added = PQntuples(r) == 1 ? (strcmp(PQgetvalue(r, 0, 0), "true") == 0 ? 1 : 2) : 0;
        }
        PQclear(r);
    }
    struct wr_err e2 = {0};
    r = reg_exec(c, PGRES_COMMAND_OK, rc ? &e2 : err, rc ? "ROLLBACK" : "COMMIT", 0, NULL);
    if (!r && rc == 0) {
        rc = WR_EDB;
    }
    PQclear(r);
    free(dims);
    free(mets);
    return rc;
}

static int rollup_add(const struct weir_cfg *cfg, const char *path)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        return cli_fail(EXIT_USAGE, "%s: line %d: %s", path, je.line, je.text);
    }
    size_t n = json_is_array(doc) ? json_array_size(doc) : 1;
    struct wr_err err = {0};
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_is_array(doc) ? json_array_get(doc, i) : doc;
        if (cur_rudef_check(d, NULL, &err) != 0) {
            int rc = json_is_array(doc) ? cli_fail(EXIT_USAGE, "%s: [%zu]: %s", path, i, err.msg)
                                        : cli_fail(EXIT_USAGE, "%s: %s", path, err.msg);
            json_decref(doc);
            return rc;
        }
    }
    bool started;
    PGconn *c = cli_connect(cfg, &started);
    if (!c) {
        json_decref(doc);
        return EXIT_FAIL;
    }
    int rc = reg_migrate(c, NULL, &err) == 0 ? EXIT_OK : cli_fail(EXIT_FAIL, "%s", err.msg);
    for (size_t i = 0; rc == EXIT_OK && i < n; i++) {
        const json_t *d = json_is_array(doc) ? json_array_get(doc, i) : doc;
        int added;
        memset(&err, 0, sizeof err);
        int r = cli_rollup_store(c, d, true, &added, &err);
        const char *name = json_string_value(json_object_get(d, "name"));
        if (r == WR_EINVAL) {
            rc = cli_fail(EXIT_USAGE, "%s: rollup '%s': %s", path, name, err.msg);
        } else if (r != 0) {
            rc = cli_fail(EXIT_FAIL, "rollup '%s': %s", name, err.msg);
        } else {
            printf("rollup %s %s (computed by weir curate from the next day it curates; "
                   "--force recomputes curated days)\n",
                   name, added == 2 ? "replaced" : "added");
        }
    }
    cli_disconnect(cfg, c, started);
    json_decref(doc);
    return rc;
}

static int rollup_list(PGconn *c)
{
    struct wr_err err = {0};
    PGresult *r = reg_exec(
        c, PGRES_TUPLES_OK, &err,
        "SELECT name, event_type, grain, CASE WHEN active THEN 'active' ELSE 'inactive' END, "
        "array_to_string(dimensions, ','), metrics::text, "
        "(SELECT count(*) FROM rollup_values v WHERE v.name = r.name)::text "
        "FROM rollups r ORDER BY name",
        0, NULL);
    if (!r) {
        return cli_fail(EXIT_FAIL, "%s", err.msg);
    }
    printf("%-32s %-20s %-5s %-8s %-9s %-40s %s\n", "NAME", "EVENT_TYPE", "GRAIN", "STATE", "ROWS",
           "DIMENSIONS", "METRICS");
    for (int i = 0; i < PQntuples(r); i++) {
        printf("%-32s %-20s %-5s %-8s %-9s %-40s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 6),
               *PQgetvalue(r, i, 4) ? PQgetvalue(r, i, 4) : "-", PQgetvalue(r, i, 5));
    }
    PQclear(r);
    return EXIT_OK;
}

static int rollup_remove(PGconn *c, const char *name)
{
    struct wr_err err = {0};
    const char *p[1] = {name};
    PGresult *r =
        reg_exec(c, PGRES_TUPLES_OK, &err, "DELETE FROM rollups WHERE name = $1 RETURNING 1", 1, p);
    if (!r) {
        return cli_fail(EXIT_FAIL, "%s", err.msg);
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0) {
        return cli_fail(EXIT_FAIL, "no rollup named '%s'", name);
    }
    printf("rollup %s removed (with its values in Postgres; its Parquet stays in the lake)\n",
           name);
    return EXIT_OK;
}

int cmd_rollup(int argc, char **argv)
{
    static const char *const verbs[] = {"add", "list", "remove"};
    int which = -1;
    for (int i = 0; argc > 1 && i < 3; i++) {
        if (strcmp(argv[1], verbs[i]) == 0) {
            which = i;
        }
    }
    if (which < 0) {
        if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("usage: weir rollup add|list|remove [options]  (weir rollup VERB --help)\n");
            return EXIT_OK;
        }
        return cli_fail(EXIT_USAGE, "usage: weir rollup add|list|remove (see weir rollup VERB "
                                    "--help)");
    }
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&rollup_cmds[which], argc - 2, argv + 2, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    if (which == 0) {
        return rollup_add(&cfg, pos[0]);
    }
    bool started;
    PGconn *c = cli_connect(&cfg, &started);
    if (!c) {
        return EXIT_FAIL;
    }
    struct wr_err err = {0};
    rc = reg_migrate(c, NULL, &err) == 0 ? -1 : cli_fail(EXIT_FAIL, "%s", err.msg);
    if (rc < 0) {
        rc = which == 1 ? rollup_list(c) : rollup_remove(c, pos[0]);
    }
    cli_disconnect(&cfg, c, started);
    return rc;
}
