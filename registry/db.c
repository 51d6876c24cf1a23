/* db.c - libpq connection and statement helpers shared by the registry's files. */
#include "registry.h"

#include <string.h>

static void notice_quiet(void *arg, const char *msg)
{
    /* Postgres NOTICEs (e.g. "relation already exists, skipping") are not ours to print. */
    (void)arg;
    (void)msg;
}

PGconn *reg_connect(const char *conninfo, struct wr_err *err)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        const char *m = c ? PQerrorMessage(c) : "out of memory";
        size_t n = strcspn(m, "\n");
        wr_err_set(err, WR_EDB, "cannot connect to Postgres: %.*s", (int)n, m);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, notice_quiet, NULL);
    return c;
}

PGresult *reg_exec(PGconn *c, ExecStatusType expect, struct wr_err *err, const char *sql,
                   int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != expect) {
        const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        size_t n = strcspn(m, "\n");
        wr_err_set(err, WR_EDB, "%.*s", (int)n, m);
        PQclear(r);
        return NULL;
    }
    return r;
}
