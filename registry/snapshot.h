/* snapshot.h - the gateway's view of the registry: one immutable, ref-counted snapshot of
 * compiled schemas and API keys, rebuilt by a loader thread (with its own connection) on
 * NOTIFY and on the TTL, and swapped in atomically. Request threads take a reference,
 * read without locks and drop it. */
#ifndef WEIR_REG_SNAPSHOT_H
#define WEIR_REG_SNAPSHOT_H

#include "common/err.h"
#include "validator/validator.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct reg_snapshot reg_snapshot;
typedef struct reg_loader reg_loader;

struct reg_key_rec {
    unsigned char sha256[32];
    const char *name;
    const char *const *event_types; /* n_event_types names; none = every type */
    size_t n_event_types;
    long long rate; /* events per second, 0 = unlimited */
    bool revoked;
    /* Publishable keys (browser.md); a secret key has publishable false, no origins. */
    bool publishable;
    bool read; /* a read key (console.md): the ingest endpoints refuse it with 403 */
    bool require_origin;
    long long ip_rate;                /* events/s per client address, 0 = none */
    const char *const *origins;       /* n_origins patterns (reg_origin_match) */
    size_t n_origins;
    /* Wall-clock ms from which this secret is refused (the key's expiry, or the end of a
     * rotated secret's grace); 0 = never. A rotated key has two records of one name. */
    int64_t valid_until_ms;
};

enum reg_lookup {
    REG_FOUND = 0,
    REG_UNKNOWN_TYPE,    /* no active version of the event type (or it is broken) */
    REG_UNKNOWN_VERSION  /* the version does not exist, is retired, or did not compile */
};

/* The key whose secret hashes to sha256, or NULL (also once the secret's valid_until_ms
 * has passed: expired, or a rotated secret after its grace). Compares in constant time. */
const struct reg_key_rec *reg_snapshot_key(const reg_snapshot *s, const unsigned char sha256[32]);

/* Every key of the snapshot (revoked ones included), *n of them; for scans such as
 * "does any active publishable key allow this origin". */
const struct reg_key_rec *reg_snapshot_keys(const reg_snapshot *s, size_t *n);

/* True when k is an active publishable key whose origins allow origin[0, len). */
bool reg_key_origin_allowed(const struct reg_key_rec *k, const char *origin, size_t len);

/* True when the key may send event type t (len bytes). */
bool reg_key_allows(const struct reg_key_rec *k, const char *t, size_t len);

/* Finds the compiled schema of (t, version); version 0 means the highest active version
 * that compiled. Sets *schema and *resolved on REG_FOUND. The schema lives as long as
 * the snapshot reference. */
enum reg_lookup reg_snapshot_schema(const reg_snapshot *s, const char *t, size_t len,
                                    long long version, const val_schema **schema,
                                    int *resolved);

/* Calls fn for each active version of event type t that compiled, in version order,
 * with its JSON text. Returns false when the type is unknown. */
bool reg_snapshot_versions(const reg_snapshot *s, const char *t, size_t len,
                           void (*fn)(void *arg, int version, const char *json), void *arg);

struct reg_snapshot_info {
    uint64_t generation;    /* 1 for the first snapshot, +1 per reload */
    int64_t loaded_at_ms;   /* wall clock of the load */
    size_t event_types, versions, keys;
    size_t broken;          /* stored versions that did not compile */
};
void reg_snapshot_info(const reg_snapshot *s, struct reg_snapshot_info *out);

/* Drops a reference taken with reg_loader_acquire. NULL is a no-op. */
void reg_snapshot_release(reg_snapshot *s);

struct reg_loader_opts {
    const char *conninfo;
    int64_t ttl_ms;          /* reload at least this often; 0: 30 s */
    int64_t heartbeat_ms;    /* prove an idle connection alive this often; 0: 5 s */
    bool format_annotate;    /* compile `format` as annotation only */
};

/* Starts the loader thread, which connects, LISTENs for changes, loads the first
 * snapshot and keeps it current. Every statement has a deadline (registry.h), and an
 * idle connection answers a heartbeat every heartbeat_ms (3 s at most), so a hung,
 * stopped or unreachable Postgres is noticed within seconds: the failure is counted
 * (reload_failures), logged with its reason (once, then every 30 s while it lasts), the
 * last snapshot keeps serving, and the loader reconnects (at least every second) and
 * reloads in full as soon as Postgres answers: a change made meanwhile (a revoked key)
 * applies within a second of Postgres coming back. Does not wait for Postgres. NULL
 * with err filled when out of memory. */
reg_loader *reg_loader_create(const struct reg_loader_opts *opts, struct wr_err *err);

/* Stops the thread and frees; snapshots still referenced stay valid until released.
 * NULL is a no-op. */
void reg_loader_destroy(reg_loader *l);

/* A new reference to the current snapshot, or NULL before the first load. Thread-safe. */
reg_snapshot *reg_loader_acquire(reg_loader *l);

/* Waits up to timeout_ms for the first snapshot; true once there is one. */
bool reg_loader_wait_ready(reg_loader *l, int64_t timeout_ms);

struct reg_loader_stats {
    uint64_t reloads;
    uint64_t reload_failures; /* failed connects, loads and heartbeats */
    bool connected;
    int64_t last_ok_ms;       /* wall clock of the last successful load, 0 = never */
    int64_t current_at_ms;    /* wall clock when the snapshot was last known current (a
                                 load, or an answered heartbeat with no change pending);
                                 0 = never. Its age is weir_registry_age_seconds */
    int64_t down_since_ms;    /* wall clock of the current outage's first failure; 0 = up */
    char last_error[160];     /* why the last attempt failed; "" once a load succeeds */
};
void reg_loader_stats(reg_loader *l, struct reg_loader_stats *out);

#endif
