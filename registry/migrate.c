/* migrate.c - applies the embedded migrations in order, once each, under an advisory
 * lock so that any number of `weir migrate` may run at once. */
#include "registry/reg_int.h"

#include "common/embed.h"
#include "common/hash.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct wr_embedded reg__migrations[];

/* Any constant unique to weir: the lock serialises migrators, nothing else. */
#define MIGRATE_LOCK_KEY "7295634101"

static int exec_simple(PGconn *c, const char *sql, struct wr_err *err)
{
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err, sql, 0, NULL);
    if (!r) {
        return WR_EDB;
    }
    PQclear(r);
    return 0;
}

static int apply_one(PGconn *c, const struct wr_embedded *m, const char *version,
                     const char *sum, struct wr_err *err)
{
    int rc = exec_simple(c, "BEGIN", err);
    if (rc) {
        return rc;
    }
    PGresult *r = reg__exec(c, m->data, 0, NULL, true, 0, -1, err);
    if (!r) {
        return WR_EDB; /* the connection is gone with its transaction */
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(r);
        wr_err_set(err, WR_EDB, "migration %s: %.*s", m->name, (int)strcspn(msg, "\n"), msg);
        PQclear(r);
        exec_simple(c, "ROLLBACK", NULL);
        return WR_EDB;
    }
    PQclear(r);
    const char *params[] = {version, m->name, sum};
    r = reg_exec(c, PGRES_COMMAND_OK, err,
                 "INSERT INTO weir_migrations (version, name, sha256) VALUES ($1, $2, $3)", 3,
                 params);
    if (!r) {
        exec_simple(c, "ROLLBACK", NULL);
        return WR_EDB;
    }
    PQclear(r);
    return exec_simple(c, "COMMIT", err);
}

int reg_migrate(PGconn *c, int *applied, struct wr_err *err)
{
    int count = 0, rc;
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
                           0, NULL);
    if (!r) {
        return WR_EDB;
    }
    PQclear(r);
    rc = exec_simple(c,
                     "CREATE TABLE IF NOT EXISTS weir_migrations ("
                     " version integer PRIMARY KEY, name text NOT NULL,"
                     " sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                     err);
    for (const struct wr_embedded *m = reg__migrations; rc == 0 && m->name; m++) {
        char version[16];
        int n = 0;
        while (m->name[n] >= '0' && m->name[n] <= '9' && n < 9) {
            version[n] = m->name[n];
            n++;
        }
        version[n] = '\0';
        if (n == 0) {
            rc = wr_err_set(err, WR_EINVAL, "migration %s: name must start with its number",
                            m->name);
            break;
        }
        char sum[65];
        wr_sha256_hex(m->data, m->len, sum);
        const char *params[] = {version};
        r = reg_exec(c, PGRES_TUPLES_OK, err,
                     "SELECT sha256 FROM weir_migrations WHERE version = $1", 1, params);
        if (!r) {
            rc = WR_EDB;
            break;
        }
        if (PQntuples(r) == 1) {
            if (strcmp(PQgetvalue(r, 0, 0), sum) != 0) {
                rc = wr_err_set(err, WR_EINVAL,
                                "migration %s was changed after it was applied; migrations "
                                "are forward only: add a new file instead", m->name);
            }
            PQclear(r);
            continue;
        }
        PQclear(r);
        rc = apply_one(c, m, version, sum, err);
        if (rc == 0) {
            WR_INFO("applied migration %s", m->name);
            count++;
        }
    }
    r = reg_exec(c, PGRES_TUPLES_OK, NULL, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", 0,
                 NULL);
    PQclear(r);
    if (rc == 0 && applied) {
        *applied = count;
    }
    return rc;
}
