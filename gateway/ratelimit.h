/* ratelimit.h - a token bucket per API key, counted in events. A request may take more
 * tokens than the bucket holds (a large batch), leaving a debt that later requests wait
 * out: the average stays at the key's rate while any batch size can get through.
 *
 * Many gateways share a key's rate (docs/keys.md): after gw_ratelimit_join, this
 * gateway counts the live gateways of its database (registry/gateways.h) and each key's
 * bucket refills at rate / live, with one second of that share as its burst (at least
 * one event). So N gateways behind an even load balancer hold the key to its rate in
 * total; an uneven balancer lets through less, never more. */
#ifndef WEIR_GW_RATELIMIT_H
#define WEIR_GW_RATELIMIT_H

#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct gw_ratelimit gw_ratelimit;

struct gw_rate_verdict {
    bool allowed;
    long long limit;     /* events per second (RateLimit-Limit) */
    long long remaining; /* whole tokens left after this request (RateLimit-Remaining) */
    long long reset_s;   /* seconds until the bucket is full again (RateLimit-Reset) */
    long long retry_s;   /* when refused: seconds until a request can pass (Retry-After) */
};

/* One token bucket of `rate` tokens per second with one second's worth of capacity: the
 * arithmetic every limit of the gateway shares (per key here, per client address in
 * browser.c). The caller owns the storage and its lock. */
struct gw_bucket {
    double tokens;
    int64_t last_ns; /* monotonic time of the last refill */
};

/* The tokens b holds at now_ns (refilled, capped at one second's worth), taking none. */
double gw_bucket_level(const struct gw_bucket *b, long long rate, int64_t now_ns);

/* Refills b to now_ns, then takes n tokens when at least one whole token is there (a
 * batch may leave the bucket in debt). True when taken; else *retry_s (when not NULL) is
 * the wait in whole seconds until one token is back. rate > 0. */
bool gw_bucket_take(struct gw_bucket *b, long long rate, uint64_t n, int64_t now_ns,
                    long long *retry_s);

/* NULL when out of memory. Thread-safe (one internal lock). */
gw_ratelimit *gw_ratelimit_create(void);
void gw_ratelimit_destroy(gw_ratelimit *r);

/* Takes n tokens from the bucket of key `name` with `rate` events/s shared among the
 * live gateways (capacity: one second of the share). Refused while the bucket is empty
 * or in debt. now_ns: monotonic. v->limit is this gateway's share, rounded up. */
void gw_ratelimit_take(gw_ratelimit *r, const char *name, long long rate, uint64_t n,
                       int64_t now_ns, struct gw_rate_verdict *v);

/* How many gateways share each key's rate (>= 1; 1 until joined). Thread-safe. */
void gw_ratelimit_set_live(gw_ratelimit *r, unsigned live);
unsigned gw_ratelimit_live(gw_ratelimit *r);

/* Registers this gateway in the `gateways` table of conninfo's database and keeps the
 * live count current (heartbeat 2 s, NOTIFY on arrivals and departures); waits up to 2 s
 * for the first count. Postgres being down is no error here (the count stays 1 until it
 * answers). WR_ENOMEM / WR_EIO when the member thread cannot start. */
int gw_ratelimit_join(gw_ratelimit *r, const char *conninfo, struct wr_err *err);

/* Removes this gateway's row (call when draining: the others take its share at once).
 * gw_ratelimit_destroy does it too. */
void gw_ratelimit_leave(gw_ratelimit *r);

struct wr_buf;
/* weir_gateways_live, for /metrics. */
void gw_ratelimit_metrics(gw_ratelimit *r, struct wr_buf *out);

#endif
