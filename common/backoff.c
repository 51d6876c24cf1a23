/* backoff.c - exponential backoff with full jitter behind backoff.h. */
#include "backoff.h"

#include "hash.h"

void wr_backoff_init(struct wr_backoff *b, int64_t base_ms, int64_t cap_ms, bool jitter)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
    b->jitter = jitter;
    b->failures = 0;
    b->rng = jitter ? wr_random_u64() | 1 : 1;
}

int64_t wr_backoff_ceiling_ms(const struct wr_backoff *b)
{
    int64_t c = b->base_ms;
    for (unsigned i = 0; i < b->failures && c < b->cap_ms; i++) {
        c *= 2;
    }
    return c > b->cap_ms ? b->cap_ms : c;
}

int64_t wr_backoff_next_ms(struct wr_backoff *b)
{
    int64_t c = wr_backoff_ceiling_ms(b);
    if (b->failures < 64) {
        b->failures++;
    }
    if (!b->jitter) {
        return c;
    }
    /* xorshift64*: the jitter needs spread, not secrecy. */
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    uint64_t r = b->rng * 0x2545F4914F6CDD1DULL;
    return (int64_t)(r % (uint64_t)(c + 1));
}

void wr_backoff_reset(struct wr_backoff *b)
{
    b->failures = 0;
}
