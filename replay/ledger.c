/* ledger.c - the replay's `replayed_events` writer: a thread of its own with a second
 * Postgres connection, so that Postgres inserts one rejected file's ledger rows, and
 * commits them, while the replay goes on reading, validating and writing the next files.
 *
 * The replay hands over binary COPY rows in chunks (rpl__ledger_rows) and, once a file's replay
 * files are all put, the order to commit it (rpl__ledger_commit); the thread runs one
 * transaction per file: BEGIN, COPY ... FROM STDIN, the chunks, COMMIT. So a file's rows
 * are never committed before its files are durable, which is what makes a replay killed at
 * any point safe to run again (replay.c). Files are committed in the order they are handed
 * over. Queued text is bounded (RPL_LEDGER_BACKLOG): the replay waits when Postgres is
 * behind. The first failure sticks: every later call returns it and nothing more is sent
 * (the open transaction is rolled back). Threads: one producer (the replay), the writer. */
#include "rpl_int.h"

#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RPL_LEDGER_BACKLOG ((size_t)16 << 20) /* COPY bytes queued, not yet sent */

enum msg_kind { M_ROWS, M_COMMIT, M_ABORT, M_STOP };

struct msg {
    struct msg *next;
    enum msg_kind kind;
    char *p; /* M_ROWS: COPY text; M_COMMIT: the rejected file's key (for the log) */
    size_t len;
};

struct rpl_ledger {
    PGconn *pg;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct msg *head, *tail;
    size_t queued; /* bytes of M_ROWS in the queue */
    int rc;        /* the first failure (sticky) */
    struct wr_err err;
    int64_t commit_delay_ms;
    struct msg *stop; /* the M_STOP message, made at start */
    /* the writer's own state */
    bool in_copy;
};

static void msg_free(struct msg *m)
{
    free(m->p);
    free(m);
}

static int fail(struct rpl_ledger *l, const char *what, const char *pgmsg)
{
    pthread_mutex_lock(&l->mu);
    if (!l->rc) {
        l->rc = wr_err_set(&l->err, WR_EDB, "%s: %.*s", what, (int)strcspn(pgmsg, "\n"), pgmsg);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return WR_EDB;
}

static bool exec_ok(PGconn *pg, const char *sql, ExecStatusType want)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = PQresultStatus(res) == want;
    PQclear(res);
    return ok;
}

/* Ends the open COPY (errmsg NULL: normally) and collects its result. */
static int copy_end(struct rpl_ledger *l, const char *errmsg)
{
    l->in_copy = false;
    int rc = 0;
    if (PQputCopyEnd(l->pg, errmsg) != 1) {
        rc = fail(l, "replay ledger", PQerrorMessage(l->pg));
    }
    PGresult *res;
    while ((res = PQgetResult(l->pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && !errmsg && rc == 0) {
            rc = fail(l, "replay ledger", PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    return rc;
}

/* One message, on the writer thread. Returns nonzero once the ledger failed. */
static int handle(struct rpl_ledger *l, struct msg *m)
{
    switch (m->kind) {
    case M_ROWS:
        if (!l->in_copy) {
            /* binary: the signature, no flags, no header extension */
            static const char head[19] = "PGCOPY\n\377\r\n";
            if (!exec_ok(l->pg, "BEGIN", PGRES_COMMAND_OK) ||
                !exec_ok(l->pg,
                         "COPY replayed_events (rejected_file, line, event_id, batch) FROM STDIN"
                         " (FORMAT binary)",
                         PGRES_COPY_IN) ||
                PQputCopyData(l->pg, head, sizeof head) != 1) {
                return fail(l, "replay ledger", PQerrorMessage(l->pg));
            }
            l->in_copy = true;
        }
        if (PQputCopyData(l->pg, m->p, (int)m->len) != 1) {
            return fail(l, "replay ledger", PQerrorMessage(l->pg));
        }
        return 0;
    case M_COMMIT:
        if (!l->in_copy) {
            return 0; /* nothing of this file to record */
        }
        if (PQputCopyData(l->pg, "\377\377", 2) != 1) { /* the trailer: field count -1 */
            return fail(l, "replay ledger", PQerrorMessage(l->pg));
        }
        if (copy_end(l, NULL) != 0) {
            return WR_EDB;
        }
        if (l->commit_delay_ms > 0) {
            WR_INFO("replay: files written, ledger not yet committed: %s", m->p);
            struct timespec ts = {(time_t)(l->commit_delay_ms / 1000),
                                  (long)(l->commit_delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (!exec_ok(l->pg, "COMMIT", PGRES_COMMAND_OK)) {
            return fail(l, "replay ledger commit", PQerrorMessage(l->pg));
        }
        WR_DEBUG("replay: ledger of %s committed", m->p);
        return 0;
    case M_ABORT:
        if (l->in_copy) {
            copy_end(l, "replay failed");
            exec_ok(l->pg, "ROLLBACK", PGRES_COMMAND_OK);
        }
        return 0;
    case M_STOP: break;
    }
    return 0;
}

static void *writer(void *arg)
{
    struct rpl_ledger *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (!l->head) {
            pthread_cond_wait(&l->cv, &l->mu);
        }
        struct msg *m = l->head;
        l->head = m->next;
        if (!l->head) {
            l->tail = NULL;
        }
        if (m->kind == M_ROWS) {
            l->queued -= m->len;
        }
        bool failed = l->rc != 0;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        enum msg_kind k = m->kind;
        if (!failed) {
            handle(l, m);
        }
        msg_free(m);
        if (k == M_STOP) {
            return NULL;
        }
    }
}

rpl_ledger *rpl__ledger_start(PGconn *like, int64_t commit_delay_ms, struct wr_err *err)
{
    rpl_ledger *l = calloc(1, sizeof *l);
    if (!l) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    /* The same server, database and user as the replay's own connection. */
    PQconninfoOption *opts = PQconninfo(like);
    size_t n = 0;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        n++;
    }
    const char **keys = calloc(n + 1, sizeof *keys), **vals = calloc(n + 1, sizeof *vals);
    if (!opts || !keys || !vals) {
        PQconninfoFree(opts);
        free(keys);
        free(vals);
        free(l);
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    size_t k = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val) {
            keys[k] = o->keyword;
            vals[k++] = o->val;
        }
    }
    l->pg = PQconnectdbParams(keys, vals, 0);
    PQconninfoFree(opts);
    free(keys);
    free(vals);
    if (!l->pg || PQstatus(l->pg) != CONNECTION_OK) {
        const char *m = l->pg ? PQerrorMessage(l->pg) : "out of memory";
        wr_err_set(err, WR_EDB, "replay ledger connection: %.*s", (int)strcspn(m, "\n"), m);
        PQfinish(l->pg);
        free(l);
        return NULL;
    }
    l->commit_delay_ms = commit_delay_ms;
    l->stop = calloc(1, sizeof *l->stop);
    if (!l->stop) {
        PQfinish(l->pg);
        free(l);
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    l->stop->kind = M_STOP;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->th, NULL, writer, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        free(l->stop);
        PQfinish(l->pg);
        free(l);
        wr_err_set(err, WR_ENOMEM, "replay ledger: no thread");
        return NULL;
    }
    return l;
}

/* Queues m; waits while more than the backlog of rows is queued. Returns 0 or the
 * ledger's failure (err filled; m freed). */
static int push_msg(rpl_ledger *l, struct msg *m, struct wr_err *err)
{
    pthread_mutex_lock(&l->mu);
    while (m->kind == M_ROWS && l->queued > RPL_LEDGER_BACKLOG && !l->rc) {
        pthread_cond_wait(&l->cv, &l->mu);
    }
    int rc = l->rc;
    if (rc && m->kind != M_STOP && m->kind != M_ABORT) {
        *err = l->err;
        pthread_mutex_unlock(&l->mu);
        msg_free(m);
        return rc;
    }
    if (m->kind == M_ROWS) {
        l->queued += m->len;
    }
    if (l->tail) {
        l->tail->next = m;
    } else {
        l->head = m;
    }
    l->tail = m;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* Queues a message of kind with a copy of p[0, len) (when p is set). */
static int push(rpl_ledger *l, enum msg_kind kind, const char *p, size_t len, struct wr_err *err)
{
    struct msg *m = calloc(1, sizeof *m);
    if (m && p) {
        m->p = malloc(len + 1);
        if (m->p) {
            memcpy(m->p, p, len);
            m->p[len] = '\0';
        }
    }
    if (!m || (p && !m->p)) {
        free(m);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    m->kind = kind;
    m->len = len;
    return push_msg(l, m, err);
}

int rpl__ledger_rows(rpl_ledger *l, const char *p, size_t len, struct wr_err *err)
{
    return len ? push(l, M_ROWS, p, len, err) : 0;
}

int rpl__ledger_commit(rpl_ledger *l, const char *key, struct wr_err *err)
{
    return push(l, M_COMMIT, key, strlen(key), err);
}

int rpl__ledger_abort(rpl_ledger *l, struct wr_err *err)
{
    return push(l, M_ABORT, NULL, 0, err);
}

int rpl__ledger_finish(rpl_ledger *l, struct wr_err *err)
{
    if (!l) {
        return 0;
    }
    struct wr_err ignore = {0};
    push_msg(l, l->stop, &ignore); /* made at start: stopping needs no memory */
    pthread_join(l->th, NULL);
    for (struct msg *m = l->head; m;) {
        struct msg *next = m->next;
        msg_free(m);
        m = next;
    }
    int rc = l->rc;
    if (rc && err) {
        *err = l->err;
    }
    if (l->in_copy) {
        PQputCopyEnd(l->pg, "replay failed");
    }
    PQfinish(l->pg); /* an open transaction is rolled back by the server */
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
    return rc;
}
