/* db.c - libpq connections and statements for every file of the registry: the fault
 * limits of registry.h on each connection, and statements awaited against a deadline. */
#include "registry/reg_int.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void notice_quiet(void *arg, const char *msg)
{
    /* Postgres NOTICEs (e.g. "relation already exists, skipping") are not ours to print. */
    (void)arg;
    (void)msg;
}

/* Waits until fd is ready for events, the deadline passes or wake_fd is readable.
 * Returns 1 ready, 0 timed out, -1 woken, -2 poll failed. */
static int wait_fd(int fd, short events, int64_t deadline, int wake_fd)
{
    for (;;) {
        int64_t left = wr_deadline_left_ms(deadline);
        if (left <= 0) {
            return 0;
        }
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = wake_fd, .events = POLLIN}};
        int n = poll(p, wake_fd >= 0 ? 2 : 1, left > 1000 ? 1000 : (int)left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -2;
        }
        if (wake_fd >= 0 && (p[1].revents & POLLIN)) {
            return -1;
        }
        if (n > 0 && p[0].revents) {
            return 1;
        }
    }
}

static int first_line_err(struct wr_err *err, int code, const char *prefix, const char *m)
{
    size_t n = strcspn(m, "\n");
    return wr_err_set(err, code, "%s%.*s", prefix, (int)n, m);
}

PGconn *reg__connect(const char *conninfo, int64_t timeout_ms, int wake_fd, struct wr_err *err)
{
    if (timeout_ms <= 0) {
        timeout_ms = REG_CONNECT_TIMEOUT_S * 1000;
    }
    char ct[24], idle[16], intvl[16], cnt[16], user_to[24], opts[64];
    snprintf(ct, sizeof ct, "%lld", (long long)((timeout_ms + 999) / 1000));
    snprintf(idle, sizeof idle, "%d", REG_KEEPALIVE_IDLE_S);
    snprintf(intvl, sizeof intvl, "%d", REG_KEEPALIVE_INTERVAL_S);
    snprintf(cnt, sizeof cnt, "%d", REG_KEEPALIVE_COUNT);
    snprintf(user_to, sizeof user_to, "%d",
             (REG_KEEPALIVE_IDLE_S + REG_KEEPALIVE_INTERVAL_S * REG_KEEPALIVE_COUNT) * 1000);
    snprintf(opts, sizeof opts, "-c statement_timeout=%d", REG_STATEMENT_TIMEOUT_MS);
    /* Our defaults first: libpq keeps the last value of a repeated key word, so whatever
     * the caller's conninfo (expanded from dbname) says wins. */
    const char *const keys[] = {"connect_timeout",
                                "keepalives",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "tcp_user_timeout",
                                "options",
                                "dbname",
                                NULL};
    const char *const vals[] = {ct, "1", idle, intvl, cnt, user_to, opts, conninfo, NULL};
    int64_t deadline = wr_deadline_in_ms(timeout_ms);
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (!c) {
        wr_err_set(err, WR_ENOMEM, "cannot connect to Postgres: out of memory");
        return NULL;
    }
    PostgresPollingStatusType st =
        PQstatus(c) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            first_line_err(err, WR_EDB, "cannot connect to Postgres: ", PQerrorMessage(c));
            PQfinish(c);
            return NULL;
        }
        int w =
            wait_fd(PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, wake_fd);
        if (w <= 0) {
            if (w == -1) {
                wr_err_set(err, WR_EAGAIN, "connecting to Postgres: stopped");
            } else {
                wr_err_set(err, WR_EDB,
                           "cannot connect to Postgres: no answer within %lld ms "
                           "(server hung, stopped or unreachable)",
                           (long long)timeout_ms);
            }
            PQfinish(c);
            return NULL;
        }
        st = PQconnectPoll(c);
    }
    PQsetNoticeProcessor(c, notice_quiet, NULL);
    /* Sends never block on a peer that stopped reading; reg__exec waits with a deadline. */
    PQsetnonblocking(c, 1);
    return c;
}

PGconn *reg_connect(const char *conninfo, struct wr_err *err)
{
    return reg__connect(conninfo, 0, -1, err);
}

PGresult *reg__exec(PGconn *c, const char *sql, int nparams, const char *const *params, bool script,
                    int64_t timeout_ms, int wake_fd, struct wr_err *err)
{
    if (timeout_ms <= 0) {
        timeout_ms = REG_CLIENT_TIMEOUT_MS;
    }
    int64_t deadline = wr_deadline_in_ms(timeout_ms);
    int sent = script ? PQsendQuery(c, sql)
                      : PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!sent) {
        first_line_err(err, WR_EDB, "", PQerrorMessage(c));
        return NULL;
    }
    int f;
    while ((f = PQflush(c)) == 1) {
        int w = wait_fd(PQsocket(c), POLLOUT, deadline, wake_fd);
        if (w <= 0) {
            f = w;
            goto waited;
        }
    }
    if (f < 0) {
        first_line_err(err, WR_EDB, "", PQerrorMessage(c));
        return NULL;
    }
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(c)) {
            int w = wait_fd(PQsocket(c), POLLIN, deadline, wake_fd);
            if (w <= 0) {
                PQclear(last);
                f = w;
                goto waited;
            }
            if (!PQconsumeInput(c)) {
                PQclear(last);
                first_line_err(err, WR_EDB, "connection lost: ", PQerrorMessage(c));
                return NULL;
            }
        }
        PGresult *r = PQgetResult(c);
        if (!r) {
            break;
        }
        ExecStatusType s = PQresultStatus(r);
        /* Like PQexec: the last result, but an error is never hidden by a later one. */
        if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(last);
            last = r;
        }
        if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH) {
            break; /* not used by weir; the caller gets the result as it is */
        }
    }
    if (!last) {
        first_line_err(err, WR_EDB, "no result: ", PQerrorMessage(c));
    }
    return last;
waited:
    if (f == -1) {
        wr_err_set(err, WR_EAGAIN, "waiting for Postgres: stopped");
    } else {
        wr_err_set(err, WR_EDB, "Postgres did not answer within %lld ms (server hung or stopped)",
                   (long long)timeout_ms);
    }
    return NULL;
}

PGresult *reg_exec(PGconn *c, ExecStatusType expect, struct wr_err *err, const char *sql,
                   int nparams, const char *const *params)
{
    PGresult *r = reg__exec(c, sql, nparams, params, false, 0, -1, err);
    if (!r) {
        return NULL;
    }
    if (PQresultStatus(r) != expect) {
        first_line_err(err, WR_EDB, "", PQresultErrorMessage(r));
        PQclear(r);
        return NULL;
    }
    return r;
}

bool reg__notified(PGconn *c)
{
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

int reg__thread_start(pthread_t *t, int wake[2], void *(*fn)(void *), void *arg, const char *what,
                      struct wr_err *err)
{
    if (pipe2(wake, O_CLOEXEC) != 0) {
        return wr_err_set(err, WR_EIO, "%s: %s", what, strerror(errno));
    }
    if (pthread_create(t, NULL, fn, arg) != 0) {
        close(wake[0]);
        close(wake[1]);
        return wr_err_set(err, WR_EIO, "%s: cannot start its thread", what);
    }
    return 0;
}

void reg__thread_stop(pthread_t t, int wake[2])
{
    ssize_t n = write(wake[1], "x", 1);
    (void)n;
    pthread_join(t, NULL);
    close(wake[0]);
    close(wake[1]);
}
