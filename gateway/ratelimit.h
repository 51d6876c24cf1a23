/* ratelimit.h - a token bucket per API key, counted in events. A request may take more
 * tokens than the bucket holds (a large batch), leaving a debt that later requests wait
 * out: the average stays at the key's rate while any batch size can get through. */
#ifndef WEIR_GW_RATELIMIT_H
#define WEIR_GW_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gw_ratelimit gw_ratelimit;

struct gw_rate_verdict {
    bool allowed;
    long long limit;      /* events per second (RateLimit-Limit) */
    long long remaining;  /* whole tokens left after this request (RateLimit-Remaining) */
    long long reset_s;    /* seconds until the bucket is full again (RateLimit-Reset) */
    long long retry_s;    /* when refused: seconds until a request can pass (Retry-After) */
};

/* NULL when out of memory. Thread-safe (one internal lock). */
gw_ratelimit *gw_ratelimit_create(void);
void gw_ratelimit_destroy(gw_ratelimit *r);

/* Takes n tokens from the bucket of key `name` with `rate` events/s (capacity: one
 * second's worth). Refused while the bucket is empty or in debt. now_ns: monotonic. */
void gw_ratelimit_take(gw_ratelimit *r, const char *name, long long rate, uint64_t n,
                       int64_t now_ns, struct gw_rate_verdict *v);

#endif
