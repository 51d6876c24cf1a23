/* reg_int.h - private to registry/: the one place statements are sent and awaited, with
 * a client-side deadline, for every file of the room. Nothing outside registry/ includes
 * it. */
#ifndef WEIR_REG_INT_H
#define WEIR_REG_INT_H

#include "registry/registry.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Sends sql (one statement with nparams text parameters, or, when script is true, a
 * parameterless script of several statements) and waits for every result, at most
 * timeout_ms (<= 0: REG_CLIENT_TIMEOUT_MS) and, when wake_fd >= 0, until wake_fd becomes
 * readable. Returns the last result whatever its status (caller PQclear()s it), or NULL
 * with err filled (WR_EDB) when the statement could not be sent, the connection broke, or
 * Postgres did not answer in time ("did not answer within N ms": a hung or stopped
 * server, which statement_timeout cannot catch), or WR_EAGAIN when woken. After NULL the
 * connection is unusable: PQfinish it. */
PGresult *reg__exec(PGconn *c, const char *sql, int nparams, const char *const *params, bool script,
                    int64_t timeout_ms, int wake_fd, struct wr_err *err);

/* reg_connect with a deadline of timeout_ms (<= 0: REG_CONNECT_TIMEOUT_S) that also
 * gives up (WR_EAGAIN) when wake_fd (>= 0) becomes readable. */
PGconn *reg__connect(const char *conninfo, int64_t timeout_ms, int wake_fd, struct wr_err *err);

/* True when the connection delivered a NOTIFY; consumes every one queued (a LISTENing
 * thread's "something changed"). */
bool reg__notified(PGconn *c);

/* The thread of a room's background worker (the snapshot loader, the gateways member):
 * makes the wake-up pipe (wake[0] is what the thread polls) and starts fn(arg); on
 * failure nothing is left open and err says why, naming what. reg__thread_stop writes
 * the wake-up byte, joins the thread (which must see its stop flag, set before) and
 * closes the pipe. */
int reg__thread_start(pthread_t *t, int wake[2], void *(*fn)(void *), void *arg, const char *what,
                      struct wr_err *err);
void reg__thread_stop(pthread_t t, int wake[2]);

/* An integer column's text as Postgres sends it; 0 for anything else (NULL, garbage). */
long long reg__pg_int(const char *s);

#endif
