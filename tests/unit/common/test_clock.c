/* test_clock.c - RFC 3339 formatting and parsing, civil-date arithmetic and UUIDv7 ids:
 * known values, round trips, and hostile timestamps. */
#include "check.h"

#include "common/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

static void test_format(void)
{
    char out[WR_RFC3339_MS_LEN + 1];
    wr_time_format_ms(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    wr_time_format_ms(1795255200123LL, out);
    CHECK_STR(out, "2026-11-21T10:00:00.123Z");
    wr_time_format_ms(951782400000LL, out); /* leap day of a /400 year */
    CHECK_STR(out, "2000-02-29T00:00:00.000Z");
    wr_time_format_ms(-1, out); /* before the epoch: floor, not truncation */
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
    wr_time_format_ms(-86400000LL, out);
    CHECK_STR(out, "1969-12-31T00:00:00.000Z");
    wr_time_format_ms(-62167219200000LL, out);
    CHECK_STR(out, "0000-01-01T00:00:00.000Z");
    wr_time_format_ms(253402300799999LL, out);
    CHECK_STR(out, "9999-12-31T23:59:59.999Z");
    CHECK_INT(strlen(out), WR_RFC3339_MS_LEN);
}

static void test_parse_valid(void)
{
    static const struct {
        const char *s;
        int64_t us;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01t00:00:00z", 0},
        {"1970-01-01 00:00:00Z", 0},
        {"2026-11-21T10:00:00.123Z", 1795255200123000LL},
        {"2026-11-21T10:00:00.1Z", 1795255200100000LL},
        {"2026-11-21T10:00:00.123456Z", 1795255200123456LL},
        /* Digits past microseconds are accepted and dropped. */
        {"2026-11-21T10:00:00.123456789Z", 1795255200123456LL},
        {"2026-11-21T11:30:00+01:30", 1795255200000000LL},
        {"2026-11-21T05:00:00-05:00", 1795255200000000LL},
        {"2026-11-21T10:00:00.5+00:00", 1795255200500000LL},
        {"2026-11-21T10:00:00-00:00", 1795255200000000LL},
        {"2000-02-29T00:00:00Z", 951782400000000LL},
        {"1969-12-31T23:59:59.999999Z", -1},
        {"0000-01-01T00:00:00Z", -62167219200000000LL},
        {"9999-12-31T23:59:59Z", 253402300799000000LL},
        /* A leap second stays within its minute. */
        {"2016-12-31T23:59:60Z", 1483228799000000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t us = 42;
        bool ok = wr_time_parse_rfc3339(cases[i].s, strlen(cases[i].s), &us);
        if (!ok || us != cases[i].us) {
            fprintf(stderr, "'%s': ok=%d us=%lld want %lld\n", cases[i].s, ok, (long long)us,
                    (long long)cases[i].us);
            CHECK(0);
        }
    }
    /* The length bounds the parse: trailing bytes outside len are not looked at. */
    const char *s = "2026-11-21T10:00:00Zgarbage";
    int64_t us;
    CHECK(wr_time_parse_rfc3339(s, 20, &us));
    CHECK_INT(us, 1795255200000000LL);
    CHECK(!wr_time_parse_rfc3339(s, strlen(s), &us));
}

static void test_parse_invalid(void)
{
    const char *bad[] = {
        "",
        "2026",
        "2026-11-21",
        "2026-11-21T10:00:00",      /* no offset */
        "2026-11-21T10:00Z",        /* no seconds */
        "2026-11-21T10:00:00.Z",    /* empty fraction */
        "2026-11-21T10:00:00,5Z",   /* comma fraction */
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-02-29T00:00:00Z",     /* not a leap year */
        "1900-02-29T00:00:00Z",     /* /100 */
        "2026-11-21T24:00:00Z",
        "2026-11-21T23:60:00Z",
        "2026-11-21T23:59:61Z",
        "2026-11-21X10:00:00Z",
        "2026/11/21T10:00:00Z",
        "26-11-21T10:00:00Z",
        "+2026-11-21T10:00:00Z",
        "2026-11-21T10:00:00+1:00",
        "2026-11-21T10:00:00+01",
        "2026-11-21T10:00:00+0100",
        "2026-11-21T10:00:00+24:00",
        "2026-11-21T10:00:00+01:60",
        "2026-11-21T10:00:00+01:00Z",
        "2026-11-21T10:00:00ZZ",
        "2026-11-21T10:00:00Z ",
        " 2026-11-21T10:00:00Z",
        "2026-1a-21T10:00:00Z",
        "2026-11-21T10:0a:00Z",
        "2026-11-21T10:00:00.12a4Z",
        "２０２６-11-21T10:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        if (wr_time_parse_rfc3339(bad[i], strlen(bad[i]), &us)) {
            fprintf(stderr, "accepted '%s'\n", bad[i]);
            CHECK(0);
        }
    }
    /* A valid prefix cut short by len. */
    const char *s = "2026-11-21T10:00:00+01:00";
    int64_t us;
    for (size_t len = 0; len < strlen(s); len++) {
        if (len == 19) {
            continue;
        }
        CHECK(!wr_time_parse_rfc3339(s, len, &us));
    }
    /* A very long fraction neither overflows nor is refused. */
    char longfrac[4096];
    memcpy(longfrac, "2026-11-21T10:00:00.", 20);
    memset(longfrac + 20, '9', sizeof longfrac - 22);
    longfrac[sizeof longfrac - 2] = 'Z';
    longfrac[sizeof longfrac - 1] = '\0';
    CHECK(wr_time_parse_rfc3339(longfrac, strlen(longfrac), &us));
    CHECK_INT(us, 1795255200999999LL);
}

static void test_format_parse_roundtrip(void)
{
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Any millisecond in years 0..9999. */
        int64_t ms = (int64_t)(x % 315537897600000ull) - 62167219200000LL;
        char out[WR_RFC3339_MS_LEN + 1];
        wr_time_format_ms(ms, out);
        int64_t us;
        if (!wr_time_parse_rfc3339(out, strlen(out), &us) || us != ms * 1000) {
            fprintf(stderr, "round trip of %lld via %s failed\n", (long long)ms, out);
            CHECK(0);
            return;
        }
    }
}

static void test_civil(void)
{
    CHECK_INT(wr_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(wr_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT(wr_days_from_civil(1969, 12, 31), -1);
    CHECK_INT(wr_days_from_civil(0, 1, 1), -719528);
    CHECK_INT(wr_days_from_civil(-1, 12, 31), -719529);
    /* Every day from year -1000 to 12000 maps back to itself, in order. */
    int64_t first = wr_days_from_civil(-1000, 1, 1), last = wr_days_from_civil(12000, 12, 31);
    int64_t py = -1001;
    unsigned pm = 12, pd = 31;
    for (int64_t z = first; z <= last; z++) {
        int64_t y;
        unsigned m, d;
        wr_civil_from_days(z, &y, &m, &d);
        bool next = (y == py && m == pm && d == pd + 1) || (y == py && m == pm + 1 && d == 1) ||
                    (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31);
        if (!next || wr_days_from_civil(y, m, d) != z || m < 1 || m > 12 || d < 1 || d > 31) {
            fprintf(stderr, "day %lld -> %lld-%u-%u after %lld-%u-%u\n", (long long)z,
                    (long long)y, m, d, (long long)py, pm, pd);
            CHECK(0);
            return;
        }
        py = y;
        pm = m;
        pd = d;
    }
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_uuid7(void)
{
    enum { N = 20000 };
    char (*ids)[WR_UUID_LEN + 1] = malloc(N * sizeof *ids);
    CHECK(ids != NULL);
    if (!ids) {
        return;
    }
    int64_t before = wr_time_now_ms();
    for (int i = 0; i < N; i++) {
        wr_uuid7(ids[i]);
    }
    int64_t after = wr_time_now_ms();
    for (int i = 0; i < N; i++) {
        const char *u = ids[i];
        CHECK_INT(strlen(u), WR_UUID_LEN);
        for (int j = 0; j < WR_UUID_LEN; j++) {
            bool dash = j == 8 || j == 13 || j == 18 || j == 23;
            if (dash ? u[j] != '-' : !is_hex(u[j])) {
                fprintf(stderr, "bad uuid %s\n", u);
                CHECK(0);
                break;
            }
        }
        CHECK(u[14] == '7');                                          /* version */
        CHECK(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b'); /* variant 10 */
        if (i > 0 && strcmp(ids[i - 1], u) >= 0) {
            fprintf(stderr, "not increasing: %s then %s\n", ids[i - 1], u);
            CHECK(0);
        }
    }
    /* The first 48 bits are the Unix time in ms (a burst may run ahead by a few ms). */
    char hex[13];
    memcpy(hex, ids[0], 8);
    memcpy(hex + 8, ids[0] + 9, 4);
    hex[12] = '\0';
    int64_t ts = (int64_t)strtoll(hex, NULL, 16);
    CHECK(ts >= before && ts <= after + 5);
    free(ids);
}

static void test_deadlines(void)
{
    int64_t d = wr_deadline_in_ms(200);
    CHECK(!wr_deadline_passed(d));
    int64_t left = wr_deadline_left_ms(d);
    CHECK(left > 150 && left <= 200);
    CHECK(wr_deadline_passed(wr_deadline_in_ms(0)));
    CHECK_INT(wr_deadline_left_ms(wr_deadline_in_ms(-5)), 0);
    CHECK(wr_deadline_in_ms(INT64_MAX) == INT64_MAX);
    int64_t t0 = wr_time_mono_ms();
    wr_sleep_ms(30);
    CHECK(wr_time_mono_ms() - t0 >= 30);
    wr_sleep_ms(0);
    wr_sleep_ms(-1);
}

struct waiter {
    pthread_mutex_t m;
    pthread_cond_t c;
    int flag;
};

static void *signal_later(void *arg)
{
    struct waiter *w = arg;
    wr_sleep_ms(20);
    pthread_mutex_lock(&w->m);
    w->flag = 1;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
    return NULL;
}

static void test_timed_waits(void)
{
    struct waiter w = {.flag = 0};
    pthread_mutex_init(&w.m, NULL);
    CHECK_INT(wr_cond_init_mono(&w.c), 0);
    /* Nobody signals: the wait times out near the deadline, not before it. */
    int64_t t0 = wr_time_mono_ms();
    pthread_mutex_lock(&w.m);
    int rc = 0;
    int64_t d = wr_deadline_in_ms(50);
    while (!w.flag && rc != ETIMEDOUT) {
        rc = wr_cond_wait_until(&w.c, &w.m, d);
    }
    pthread_mutex_unlock(&w.m);
    int64_t took = wr_time_mono_ms() - t0;
    CHECK_INT(rc, ETIMEDOUT);
    CHECK(took >= 49 && took < 2000);
    /* A signal ends the wait well before a long deadline. */
    pthread_t th;
    pthread_create(&th, NULL, signal_later, &w);
    t0 = wr_time_mono_ms();
    pthread_mutex_lock(&w.m);
    rc = 0;
    while (!w.flag && rc != ETIMEDOUT) {
        rc = wr_cond_wait_ms(&w.c, &w.m, 10000);
    }
    pthread_mutex_unlock(&w.m);
    pthread_join(th, NULL);
    CHECK_INT(rc, 0);
    CHECK_INT(w.flag, 1);
    CHECK(wr_time_mono_ms() - t0 < 5000);
    pthread_cond_destroy(&w.c);
    pthread_mutex_destroy(&w.m);
}

int main(void)
{
    CHECK_RUN(test_format);
    CHECK_RUN(test_parse_valid);
    CHECK_RUN(test_parse_invalid);
    CHECK_RUN(test_format_parse_roundtrip);
    CHECK_RUN(test_civil);
    CHECK_RUN(test_uuid7);
    CHECK_RUN(test_deadlines);
    CHECK_RUN(test_timed_waits);
    return CHECK_DONE();
}
