/* gateways.h - the running gateways of one database (migration 0008's `gateways` table),
 * so that a key's rate can be shared among them (docs/keys.md).
 *
 * A member is one row: a random instance id drawn per process, the host name, the pid,
 * when it started and when it was last seen. Its thread (with its own connection, the
 * limits of registry.h) inserts the row, moves last_seen every heartbeat, LISTENs on
 * `weir_gateways` to recount at once when a gateway arrives or leaves, and deletes the
 * row on reg_gateways_leave. A gateway counts as live while its last_seen is within three
 * heartbeats of the database's clock; a crashed one stops counting after that, and its
 * row is removed by whoever heartbeats a minute later.
 *
 * Failures: while Postgres cannot be reached the last count stays (every gateway keeps
 * its share rather than letting each take the whole rate or none); the outage is logged
 * once, then every 30 s, and the thread reconnects with backoff. Never fatal. */
#ifndef WEIR_REG_GATEWAYS_H
#define WEIR_REG_GATEWAYS_H

#include "common/err.h"

#include <stdint.h>

typedef struct reg_gateways reg_gateways;

#define REG_GATEWAY_HEARTBEAT_MS 2000

struct reg_gateways_opts {
    const char *conninfo;
    int64_t heartbeat_ms; /* 0: REG_GATEWAY_HEARTBEAT_MS */
    /* Called on the member's thread with the live count (>= 1, this gateway included)
     * each time it changes, the first count included. May be NULL. */
    void (*on_live)(void *arg, unsigned live);
    void *arg;
};

/* Starts the member thread and waits up to wait_ms for the first count (so that a
 * gateway joining a running fleet does not serve a moment with the whole rate). NULL
 * with err filled when out of memory or no thread can start. */
reg_gateways *reg_gateways_join(const struct reg_gateways_opts *o, int64_t wait_ms,
                                struct wr_err *err);

/* The last live count (>= 1). Thread-safe. */
unsigned reg_gateways_live(reg_gateways *g);

/* Deletes this gateway's row (at most ~2 s), stops the thread and frees. NULL is a
 * no-op. */
void reg_gateways_leave(reg_gateways *g);

#endif
