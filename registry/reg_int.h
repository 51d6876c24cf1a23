/* reg_int.h - private to registry/: the one place statements are sent and awaited, with
 * a client-side deadline, for every file of the room. Nothing outside registry/ includes
 * it. */
#ifndef WEIR_REG_INT_H
#define WEIR_REG_INT_H

#include "registry/registry.h"

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

/* An integer column's text as Postgres sends it; 0 for anything else (NULL, garbage). */
long long reg__pg_int(const char *s);

#endif
