/* test_ratelimit.c - gateway/ratelimit.c: token buckets per key, refill by the clock the
 * caller passes (no sleeps), debt after a large batch, the RateLimit-* figures. */
#include "check.h"

#include "gateway/ratelimit.h"

#include <stdio.h>

#define SEC 1000000000LL

static void test_unlimited(void)
{
    gw_ratelimit *r = gw_ratelimit_create();
    struct gw_rate_verdict v;
    gw_ratelimit_take(r, "k", 0, 1000000, 0, &v);
    CHECK(v.allowed);
    gw_ratelimit_destroy(r);
}

static void test_burst_then_refill(void)
{
    gw_ratelimit *r = gw_ratelimit_create();
    struct gw_rate_verdict v;
    int64_t t = 5 * SEC;
    for (int i = 0; i < 10; i++) {
        gw_ratelimit_take(r, "k", 10, 1, t, &v);
        CHECK(v.allowed);
    }
    CHECK_INT(v.remaining, 0);
    CHECK_INT(v.limit, 10);
    gw_ratelimit_take(r, "k", 10, 1, t, &v);
    CHECK(!v.allowed);
    CHECK_INT(v.retry_s, 1);
    /* 0.1 s later one token is back. */
    gw_ratelimit_take(r, "k", 10, 1, t + SEC / 10 + 1000, &v);
    CHECK(v.allowed);
    /* Another key has its own bucket. */
    gw_ratelimit_take(r, "other", 10, 1, t, &v);
    CHECK(v.allowed);
    CHECK_INT(v.remaining, 9);
    gw_ratelimit_destroy(r);
}

static void test_one_per_second_flood(void)
{
    /* The hostile test's figure: at 1 event/s, 100 requests within one second pass at
     * most twice (the full bucket, then one refill). */
    gw_ratelimit *r = gw_ratelimit_create();
    struct gw_rate_verdict v;
    int passed = 0;
    for (int i = 0; i < 100; i++) {
        gw_ratelimit_take(r, "k", 1, 1, (int64_t)i * (SEC / 100), &v);
        passed += v.allowed;
    }
    CHECK(passed >= 1 && passed <= 2);
    gw_ratelimit_destroy(r);
}

static void test_large_batch_leaves_debt(void)
{
    gw_ratelimit *r = gw_ratelimit_create();
    struct gw_rate_verdict v;
    gw_ratelimit_take(r, "k", 10, 50, 0, &v);
    CHECK(v.allowed); /* a full bucket lets any batch through */
    CHECK_INT(v.remaining, 0);
    CHECK_INT(v.reset_s, 5);
    gw_ratelimit_take(r, "k", 10, 1, 3 * SEC, &v);
    CHECK(!v.allowed); /* still 10 tokens in debt */
    CHECK_INT(v.retry_s, 2);
    gw_ratelimit_take(r, "k", 10, 1, 5 * SEC + SEC / 10, &v);
    CHECK(v.allowed);
    gw_ratelimit_destroy(r);
}

static void test_many_keys(void)
{
    gw_ratelimit *r = gw_ratelimit_create();
    struct gw_rate_verdict v;
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "key%d", i);
        gw_ratelimit_take(r, name, 1, 1, 0, &v);
        CHECK(v.allowed);
    }
    for (int i = 0; i < 5000; i += 499) {
        snprintf(name, sizeof name, "key%d", i);
        gw_ratelimit_take(r, name, 1, 1, 0, &v);
        CHECK(!v.allowed);
    }
    gw_ratelimit_destroy(r);
}

/* Three live gateways: the bucket refills at a third of the rate, with a third as burst;
 * a share under one event/s still lets one event through (capacity of one token). */
static void test_share_among_gateways(void)
{
    gw_ratelimit *r = gw_ratelimit_create();
    struct gw_rate_verdict v;
    gw_ratelimit_set_live(r, 3);
    CHECK(gw_ratelimit_live(r) == 3);
    gw_ratelimit_take(r, "k", 300, 100, 0, &v);
    CHECK(v.allowed && v.limit == 100 && v.remaining == 0);
    gw_ratelimit_take(r, "k", 300, 1, SEC / 200, &v); /* 0.5 token back */
    CHECK(!v.allowed);
    uint64_t taken = 0;
    for (int64_t t = SEC; t < 11 * SEC; t += SEC / 100) {
        gw_ratelimit_take(r, "k", 300, 1, t, &v);
        taken += v.allowed;
    }
    CHECK(taken >= 995 && taken <= 1005); /* 100/s for 10 s */
    gw_ratelimit_set_live(r, 1);          /* the others left: the whole rate */
    gw_ratelimit_take(r, "k", 300, 1, 12 * SEC, &v);
    CHECK(v.allowed && v.limit == 300 && v.remaining >= 298);
    gw_ratelimit_set_live(r, 0); /* never below one */
    CHECK(gw_ratelimit_live(r) == 1);
    gw_ratelimit_set_live(r, 4);
    gw_ratelimit_take(r, "small", 2, 1, 0, &v); /* 0.5/s each */
    CHECK(v.allowed && v.limit == 1);
    gw_ratelimit_take(r, "small", 2, 1, SEC, &v);
    CHECK(!v.allowed);
    gw_ratelimit_take(r, "small", 2, 1, 2 * SEC + 1000, &v);
    CHECK(v.allowed);
    gw_ratelimit_destroy(r);
}

int main(void)
{
    CHECK_RUN(test_unlimited);
    CHECK_RUN(test_burst_then_refill);
    CHECK_RUN(test_one_per_second_flood);
    CHECK_RUN(test_large_batch_leaves_debt);
    CHECK_RUN(test_many_keys);
    CHECK_RUN(test_share_among_gateways);
    return CHECK_DONE();
}
