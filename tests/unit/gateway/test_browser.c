/* test_browser.c - gateway/browser.c and pixel.c, and registry/origins.c: strict
 * percent-decoding of query strings, the pixel's event object, origin patterns, and the
 * per-address rate table (by the caller's clock, no sleeps; bounded under many
 * addresses). */
#include "check.h"

#include "common/buf.h"
#include "gateway/browser.h"
#include "registry/registry.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000000LL

static void test_query_param(void)
{
    const char *q = "a=1&key=weir_pk_x%2By&sp=a+b%20c&empty=&flag&pct=%zz&end=%4";
    char out[128];
    size_t n;
    CHECK_INT(gw_query_param(q, strlen(q), "key", out, sizeof out, &n), GW_Q_FOUND);
    CHECK_STR(out, "weir_pk_x+y");
    CHECK_INT(gw_query_param(q, strlen(q), "sp", out, sizeof out, &n), GW_Q_FOUND);
    CHECK_STR(out, "a b c");
    CHECK_INT(gw_query_param(q, strlen(q), "empty", out, sizeof out, &n), GW_Q_FOUND);
    CHECK_INT(n, 0);
    CHECK_INT(gw_query_param(q, strlen(q), "flag", out, sizeof out, &n), GW_Q_FOUND);
    CHECK_INT(gw_query_param(q, strlen(q), "pct", out, sizeof out, &n), GW_Q_BAD_ESCAPE);
    CHECK_INT(gw_query_param(q, strlen(q), "end", out, sizeof out, &n), GW_Q_BAD_ESCAPE);
    CHECK_INT(gw_query_param(q, strlen(q), "ke", out, sizeof out, &n), GW_Q_ABSENT);
    CHECK_INT(gw_query_param(q, strlen(q), "nope", out, sizeof out, &n), GW_Q_ABSENT);
    /* a value longer than the caller's buffer is refused, never cut */
    CHECK_INT(gw_query_param(q, strlen(q), "key", out, 5, &n), GW_Q_BAD_ESCAPE);
    char w[] = "key=secret&key=again&k=1";
    gw_query_wipe(w, strlen(w), "key");
    CHECK_STR(w, "key=xxxxxx&key=xxxxx&k=1");
}

static void check_pixel(const char *q, enum gw_pixel_code want, const char *body)
{
    struct wr_buf out;
    wr_buf_init(&out, 1 << 20);
    char msg[120] = "";
    enum gw_pixel_code got = gw_pixel_event(q, strlen(q), 16, &out, msg, sizeof msg);
    CHECK_INT(got, want);
    wr_buf_putc(&out, '\0');
    CHECK_STR(out.p, body);
    wr_buf_free(&out);
}

static void test_pixel_event(void)
{
    check_pixel("key=weir_pk_abc&event_type=page_view&payload=%7B%22path%22%3A%22%2Fp%22%7D"
                "&schema_version=2&event_id=e1&occurred_at=2026-11-21T10%3A00%3A00Z",
                GW_PIXEL_OK,
                "{\"event_type\":\"page_view\",\"payload\":{\"path\":\"/p\"},\"schema_version\":2,"
                "\"event_id\":\"e1\",\"occurred_at\":\"2026-11-21T10:00:00Z\"}");
    /* not an integer: a string, which the envelope rules reject */
    check_pixel("schema_version=1e3", GW_PIXEL_OK, "{\"schema_version\":\"1e3\"}");
    /* a repeated parameter: the first counts; quotes are escaped; context passes on (and
     * is rejected by the envelope rules) */
    check_pixel("event_type=a&event_type=b&x=%22&context=1", GW_PIXEL_OK,
                "{\"event_type\":\"a\",\"x\":\"\\\"\",\"context\":\"1\"}");
    check_pixel("", GW_PIXEL_OK, "{}");
    check_pixel("event_type=a&payload=%7Bnope", GW_PIXEL_PAYLOAD_NOT_JSON, "{nope");
    check_pixel("event_type=a&payload=", GW_PIXEL_PAYLOAD_NOT_JSON, "");
    check_pixel("event_type=a&payload=%7B%7D%zz", GW_PIXEL_BAD_ESCAPE, "payload=%7B%7D%zz");
    /* the key is never kept, even when it is the bad parameter */
    check_pixel("key=weir_pk_%zz&event_type=a", GW_PIXEL_BAD_ESCAPE, "");
    /* nesting over the depth limit is no JSON for us */
    char deep[400] = "payload=";
    size_t o = strlen(deep);
    for (int i = 0; i < 40; i++, o += 3) {
        memcpy(deep + o, i < 20 ? "%5B" : "%5D", 3);
    }
    deep[o] = '\0';
    struct wr_buf out;
    wr_buf_init(&out, 1 << 20);
    char msg[120];
    CHECK_INT(gw_pixel_event(deep, strlen(deep), 16, &out, msg, sizeof msg),
              GW_PIXEL_PAYLOAD_NOT_JSON);
    wr_buf_free(&out);
}

static void test_origin_patterns(void)
{
    char out[512];
    struct wr_err err = {0};
    CHECK_INT(reg_origins_normalize(
                  " https://Shop.Example.com/ , https://*.example.net,http://127.0.0.1:8080", out,
                  sizeof out, &err),
              0);
    CHECK_STR(out, "{https://shop.example.com,https://*.example.net,http://127.0.0.1:8080}");
    const char *bad[] = {"",
                         ",",
                         "shop.example.com",
                         "https://",
                         "https://a.com/path",
                         "https://a.com:",
                         "https://a.com:123456",
                         "https://*.com",
                         "https://a..com",
                         "https://a b.com",
                         "https://*.",
                         "https://*",
                         "https://[::1",
                         "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(reg_origins_normalize(bad[i], out, sizeof out, &err) == WR_EINVAL);
    }
    CHECK(strstr(err.msg, "--origins") != NULL);
    CHECK(reg_origins_normalize("https://[::1]:8443", out, sizeof out, &err) == 0);
    struct {
        const char *pattern, *origin;
        bool match;
    } cases[] = {
        {"https://shop.example.com", "https://shop.example.com", true},
        {"https://shop.example.com", "https://SHOP.example.com", true},
        {"https://shop.example.com", "http://shop.example.com", false},
        {"https://shop.example.com", "https://shop.example.com:443", false},
        {"https://shop.example.com", "https://shop.example.com.evil.org", false},
        {"https://*.example.net", "https://a.example.net", true},
        {"https://*.example.net", "https://a.b.example.net", true},
        {"https://*.example.net", "https://example.net", false},
        {"https://*.example.net", "https://.example.net", false},
        {"https://*.example.net", "https://evilexample.net", false},
        {"https://*.example.net", "https://a.example.net:8443", false},
        {"https://*.example.net", "https://a:b@x.example.net", false},
        {"https://*.example.net:8443", "https://a.example.net:8443", true},
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
        {"http://127.0.0.1:8080", "null", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool got = reg_origin_match(cases[i].pattern, cases[i].origin, strlen(cases[i].origin));
        if (got != cases[i].match) {
            fprintf(stderr, "%s ~ %s\n", cases[i].pattern, cases[i].origin);
        }
        CHECK(got == cases[i].match);
    }
}

static void test_iprate(void)
{
    gw_iprate *r = gw_iprate_create();
    unsigned char a[16] = {0}, b[16] = {0};
    a[15] = 1;
    b[15] = 2;
    long long retry = 0;
    int64_t t = 10 * SEC;
    for (int i = 0; i < 3; i++) {
        CHECK(gw_iprate_take(r, "k", a, 16, 3, 1, t, &retry));
    }
    CHECK(!gw_iprate_take(r, "k", a, 16, 3, 1, t, &retry));
    CHECK_INT(retry, 1);
    CHECK(gw_iprate_take(r, "k", b, 16, 3, 1, t, &retry));                  /* another address */
    CHECK(gw_iprate_take(r, "other", a, 16, 3, 1, t, &retry));              /* another key */
    CHECK(gw_iprate_take(r, "k", a, 16, 3, 1, t + SEC / 3 + 1000, &retry)); /* one refilled */
    CHECK(gw_iprate_take(r, "k", a, 16, 0, 1000, t, &retry));               /* no limit */
    /* a batch may leave a debt, waited out */
    CHECK(gw_iprate_take(r, "k", b, 16, 3, 10, t + 5 * SEC, &retry));
    CHECK(!gw_iprate_take(r, "k", b, 16, 3, 1, t + 6 * SEC, &retry));
    CHECK(gw_iprate_take(r, "k", b, 16, 3, 1, t + 9 * SEC, &retry));
    /* a million addresses in one second: the table does not grow, and the address that
     * stays busy keeps its bucket most of the time (least recently used goes first) */
    unsigned char c[16] = {0};
    int64_t u = 100 * SEC;
    for (uint32_t i = 0; i < 1000000; i++) {
        memcpy(c + 12, &i, 4);
        gw_iprate_take(r, "k", c, 16, 1, 1, u + i, &retry);
    }
    gw_iprate_destroy(r);
}

int main(void)
{
    CHECK_RUN(test_query_param);
    CHECK_RUN(test_pixel_event);
    CHECK_RUN(test_origin_patterns);
    CHECK_RUN(test_iprate);
    return CHECK_DONE();
}
