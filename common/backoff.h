/* backoff.h - retry with exponential backoff, the one policy every retry loop of weir
 * uses (S3 requests, lake uploads, the registry loader, the spool): the delay doubles
 * from base_ms per failure up to cap_ms and, with jitter, is drawn uniformly from
 * [0, that ceiling] ("full jitter"), so many writers that hit one outage come back spread
 * out instead of in step. A value owned by one retry loop; not thread-safe. */
#ifndef WEIR_BACKOFF_H
#define WEIR_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct wr_backoff {
    int64_t base_ms;
    int64_t cap_ms;
    bool jitter;
    unsigned failures; /* since the last success */
    uint64_t rng;
};

/* Sets b up (base_ms, cap_ms > 0; cap_ms >= base_ms). */
void wr_backoff_init(struct wr_backoff *b, int64_t base_ms, int64_t cap_ms, bool jitter);

/* Counts one failure and returns how long to wait before the next attempt. */
int64_t wr_backoff_next_ms(struct wr_backoff *b);

/* The ceiling of the next delay without counting a failure (for log lines). */
int64_t wr_backoff_ceiling_ms(const struct wr_backoff *b);

/* Forgets the failures after a success. */
void wr_backoff_reset(struct wr_backoff *b);

#endif
