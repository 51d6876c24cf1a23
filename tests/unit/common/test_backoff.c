/* test_backoff.c - the retry policy: doubling to the cap, full jitter inside the
 * ceiling, and reset after a success. */
#include "check.h"

#include "common/backoff.h"

static void test_doubling(void)
{
    struct wr_backoff b;
    wr_backoff_init(&b, 100, 1000, false);
    CHECK_INT(wr_backoff_ceiling_ms(&b), 100);
    CHECK_INT(wr_backoff_next_ms(&b), 100);
    CHECK_INT(wr_backoff_next_ms(&b), 200);
    CHECK_INT(wr_backoff_next_ms(&b), 400);
    CHECK_INT(wr_backoff_next_ms(&b), 800);
    CHECK_INT(wr_backoff_next_ms(&b), 1000);
    for (int i = 0; i < 200; i++) {
        CHECK_INT(wr_backoff_next_ms(&b), 1000); /* no overflow after many failures */
    }
    wr_backoff_reset(&b);
    CHECK_INT(wr_backoff_next_ms(&b), 100);
}

static void test_jitter(void)
{
    struct wr_backoff b;
    wr_backoff_init(&b, 100, 400, true);
    int distinct = 0;
    int64_t last = -1;
    for (int i = 0; i < 100; i++) {
        int64_t ceiling = wr_backoff_ceiling_ms(&b);
        int64_t ms = wr_backoff_next_ms(&b);
        CHECK(ms >= 0 && ms <= ceiling);
        distinct += ms != last;
        last = ms;
    }
    CHECK(distinct > 50); /* spread out, not in step */
}

int main(void)
{
    CHECK_RUN(test_doubling);
    CHECK_RUN(test_jitter);
    return CHECK_DONE();
}
