/* test_envelope.c - the stored line (lake/envelope.h): the writer's exact bytes, its
 * refusals and caps, hostile strings and bodies (every line it writes must parse as JSON),
 * the zero-copy scan against the full parse, and a write/read round trip. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/text.h"
#include "json/json.h"
#include "lake/envelope.h"

static const char RA[] = "2026-11-21T10:00:00.123Z";

static struct lake_env_rec sample(void)
{
    struct lake_env_rec r;
    memset(&r, 0, sizeof r);
    lake_env_set_str(&r, LAKE_ENV_EVENT_TYPE, "page_view", 9);
    lake_env_set_int(&r, LAKE_ENV_SCHEMA_VERSION, 2);
    lake_env_set_str(&r, LAKE_ENV_EVENT_ID, "e-1", 3);
    lake_env_set_str(&r, LAKE_ENV_RECEIVED_AT, RA, strlen(RA));
    lake_env_set_str(&r, LAKE_ENV_SOURCE, "web", 3);
    lake_env_set_str(&r, LAKE_ENV_PAYLOAD, "{\"a\":1}", 7);
    return r;
}

/* Parses text as one JSON value: every stored line must. */
static int is_json(const char *p, size_t len)
{
    wr_arena *a = wr_arena_create(4096, 64u << 20);
    struct js_val *v;
    struct js_error je;
    int rc = js_parse(a, p, len, NULL, &v, &je);
    wr_arena_destroy(a);
    return rc == 0 && memchr(p, '\n', len) == NULL;
}

static void test_exact_bytes(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    struct lake_env_rec r = sample();
    CHECK_INT(lake_env_write(&b, &r), 0);
    CHECK_STR(b.p, "{\"event_type\":\"page_view\",\"schema_version\":2,\"event_id\":\"e-1\","
                   "\"received_at\":\"2026-11-21T10:00:00.123Z\",\"source\":\"web\","
                   "\"payload\":{\"a\":1}}");
    wr_buf_clear(&b);
    lake_env_set_str(&r, LAKE_ENV_OCCURRED_AT, "2026-11-21T09:59:59Z", 20);
    lake_env_set_int(&r, LAKE_ENV_SCHEMA_VERSION, 2147483647);
    CHECK_INT(lake_env_write(&b, &r), 0);
    CHECK_STR(b.p,
              "{\"event_type\":\"page_view\",\"schema_version\":2147483647,\"event_id\":\"e-1\","
              "\"occurred_at\":\"2026-11-21T09:59:59Z\","
              "\"received_at\":\"2026-11-21T10:00:00.123Z\",\"source\":\"web\","
              "\"payload\":{\"a\":1}}");
    /* Appends: a second line goes after the first. */
    size_t first = b.len;
    CHECK_INT(lake_env_write(&b, &r), 0);
    CHECK_INT(b.len, 2 * first);
    wr_buf_free(&b);
}

static void test_required_fields(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    CHECK_INT(wr_buf_append(&b, "keep", 4), 0);
    for (int f = 0; f < LAKE_ENV_NFIELDS; f++) {
        struct lake_env_rec r = sample();
        r.f[f].set = false;
        int rc = lake_env_write(&b, &r);
        if (lake_env_fields[f].required) {
            CHECK_INT(rc, WR_EINVAL);
            CHECK_STR(b.p, "keep"); /* nothing half-written */
        } else {
            CHECK_INT(rc, 0);
            b.len = 4;
        }
    }
    wr_buf_free(&b);
}

static void test_cap_leaves_buffer_whole(void)
{
    struct lake_env_rec r = sample();
    lake_env_set_str(&r, LAKE_ENV_SOURCE, "we\"b", 4); /* one escape on the way */
    struct wr_buf b, want;
    wr_buf_init(&want, 1 << 20);
    CHECK_INT(lake_env_write(&want, &r), 0);
    size_t need = want.len;
    /* Every cap below the line's size fails and leaves what was there before; at and
     * above it the bytes are the same whichever path (room for the fast copies or not). */
    for (size_t cap = 3; cap < need + 40; cap++) {
        wr_buf_init(&b, cap);
        CHECK_INT(wr_buf_append(&b, "ab\n", 3), 0);
        int rc = lake_env_write(&b, &r);
        if (cap - 3 < need) {
            CHECK_INT(rc, WR_ELIMIT);
            CHECK_INT(b.len, 3);
            CHECK_STR(b.p, "ab\n");
            CHECK_INT(b.err, 0);
        } else {
            CHECK_INT(rc, 0);
            CHECK_MEM(b.p + 3, b.len - 3, want.p, want.len);
        }
        wr_buf_free(&b);
    }
    wr_buf_free(&want);
}

static void test_hostile_strings(void)
{
    /* Quotes, backslashes, controls, NUL, invalid UTF-8 and a cut character in every string
     * field: the line stays one line of valid JSON and UTF-8. */
    static const char evil[] =
        "a\"b\\c\nd\r\x01\x00\xff\xfe\xc3(\xe2\x82\xed\xa0\x80\xf4\x90\x80\x80z\xc3";
    struct lake_env_rec r = sample();
    lake_env_set_str(&r, LAKE_ENV_EVENT_TYPE, evil, sizeof evil - 1);
    lake_env_set_str(&r, LAKE_ENV_EVENT_ID, evil, sizeof evil - 1);
    lake_env_set_str(&r, LAKE_ENV_OCCURRED_AT, evil, sizeof evil - 1);
    lake_env_set_str(&r, LAKE_ENV_SOURCE, evil, sizeof evil - 1);
    lake_env_set_int(&r, LAKE_ENV_SCHEMA_VERSION, INT64_MIN);
    /* A payload spread over lines (CR LF, LF, CR) is stored on one line. */
    lake_env_set_str(&r, LAKE_ENV_PAYLOAD, "{\r\n\"a\":\n[1,\r2]\n}", 16);
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    CHECK_INT(lake_env_write(&b, &r), 0);
    CHECK(is_json(b.p, b.len));
    CHECK(wr_utf8_valid(b.p, b.len));
    CHECK(strstr(b.p, "\"schema_version\":-9223372036854775808,") != NULL);
    CHECK(strstr(b.p, "\"payload\":{  \"a\": [1, 2] }}") != NULL);
    /* The replacement character stands for each bad byte. */
    CHECK(strstr(b.p, "\\u0000\\ufffd\\ufffd") != NULL);
    wr_buf_free(&b);
}

/* lake_env_set_plain copies as given (the caller validated it); set_str checks. */
static void test_plain_strings(void)
{
    struct lake_env_rec r = sample();
    lake_env_set_plain(&r, LAKE_ENV_EVENT_TYPE, "page_view", 9);
    lake_env_set_plain(&r, LAKE_ENV_RECEIVED_AT, RA, strlen(RA));
    struct wr_buf a, b;
    wr_buf_init(&a, 4096);
    wr_buf_init(&b, 4096);
    CHECK_INT(lake_env_write(&a, &r), 0);
    struct lake_env_rec q = sample();
    CHECK_INT(lake_env_write(&b, &q), 0);
    CHECK_MEM(a.p, a.len, b.p, b.len);
    /* Long plain and nearly plain strings (every byte class at every word position). */
    char s[40];
    for (int pos = 0; pos < 40; pos++) {
        static const char bad[] = {'"', '\\', '\x1f', '\x7f', '\x80', '\xff'};
        for (size_t k = 0; k < sizeof bad; k++) {
            memset(s, 'a', sizeof s);
            s[pos] = bad[k];
            lake_env_set_str(&q, LAKE_ENV_SOURCE, s, sizeof s);
            wr_buf_clear(&b);
            CHECK_INT(lake_env_write(&b, &q), 0);
            CHECK(is_json(b.p, b.len));
            CHECK(wr_utf8_valid(b.p, b.len));
            CHECK(bad[k] == '\x7f' ? strstr(b.p, "\x7f") != NULL : strstr(b.p, "\\") != NULL);
        }
    }
    wr_buf_free(&a);
    wr_buf_free(&b);
}

static void test_rejected_lines(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    struct lake_env_rec r;
    memset(&r, 0, sizeof r);
    lake_env_set_str(&r, LAKE_REJ_EVENT, "{\"x\":\n1}", 8);
    lake_env_set_str(&r, LAKE_REJ_SOURCE, "web", 3);
    lake_env_set_str(&r, LAKE_REJ_RECEIVED_AT, RA, strlen(RA));
    lake_env_set_str(&r, LAKE_REJ_ERRORS, "[]", 2);
    CHECK_INT(lake_rej_write(&b, &r, 0), 0);
    CHECK_STR(b.p, "{\"event\":{\"x\": 1},\"source\":\"web\","
                   "\"received_at\":\"2026-11-21T10:00:00.123Z\",\"errors\":[]}");
    /* An event over the size limit is kept as its first bytes, as text (the old writer
     * wrote `{"event":,` here: no event at all, and not JSON). */
    wr_buf_clear(&b);
    CHECK_INT(lake_rej_write(&b, &r, 4), 0);
    CHECK_STR(b.p, "{\"raw\":\"{\\\"x\\\":\\n1}\",\"truncated\":false,\"source\":\"web\","
                   "\"received_at\":\"2026-11-21T10:00:00.123Z\",\"errors\":[]}");
    CHECK(is_json(b.p, b.len));
    /* A body that is not JSON: at most LAKE_REJ_RAW_MAX_BYTES of it, cut between
     * characters, invalid bytes replaced. */
    size_t n = 3 * LAKE_REJ_RAW_MAX_BYTES;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i += 3) {
        memcpy(big + i, "\xe2\x82\xac", 3); /* U+20AC: 8192 is not a multiple of 3 */
    }
    big[5] = '\xff';
    memset(&r.f[LAKE_REJ_EVENT], 0, sizeof r.f[LAKE_REJ_EVENT]);
    lake_env_set_str(&r, LAKE_REJ_RAW, big, n);
    wr_buf_clear(&b);
    CHECK_INT(lake_rej_write(&b, &r, 0), 0);
    CHECK(is_json(b.p, b.len));
    CHECK(wr_utf8_valid(b.p, b.len));
    CHECK(strstr(b.p, "\"truncated\":true") != NULL);
    wr_arena *a = wr_arena_create(4096, 64u << 20);
    struct js_val *v;
    struct js_error je;
    CHECK_INT(js_parse(a, b.p, b.len, NULL, &v, &je), 0);
    const struct js_val *raw = js_get(v, "raw", 3);
    CHECK(raw && raw->type == JS_STRING);
    /* 8192 bytes cut to 8190 (a whole number of characters), the bad byte and the two
     * bytes of its broken character each replaced by U+FFFD (3 bytes). */
    CHECK(raw && raw->n <= LAKE_REJ_RAW_MAX_BYTES + 6);
    CHECK(raw && raw->n % 3 == 0);
    wr_arena_destroy(a);
    /* A short body: truncated false, all of it. */
    lake_env_set_str(&r, LAKE_REJ_RAW, "nope", 4);
    wr_buf_clear(&b);
    CHECK_INT(lake_rej_write(&b, &r, 0), 0);
    CHECK(strstr(b.p, "{\"raw\":\"nope\",\"truncated\":false,") == b.p);
    free(big);
    wr_buf_free(&b);
}

/* The scan finds what the full parse finds, or defers to it. */
static void test_scan_matches_parse(void)
{
    static const char *const lines[] = {
        "{\"event_type\":\"t\",\"schema_version\":1,\"event_id\":\"a\",\"received_at\":\""
        "2026-01-01T00:00:00Z"
        "\",\"source\":\"s\",\"payload\":{\"x\":\"}\"}}",
        " { \"event_id\" : \"a\" , \"received_at\" : \"r\" } ",
        "{\"payload\":{\"event_id\":\"inner\"},\"event_id\":\"outer\",\"received_at\":\"r\"}",
        "{\"event_id\":\"a\\u0062\",\"received_at\":\"r\"}",
        "{\"event_id\":1,\"received_at\":\"r\"}",
        "{\"event_id\":\"a\",\"event_id\":\"b\",\"received_at\":\"r\"}",
        "{\"ev\\u0065nt_id\":\"a\",\"received_at\":\"r\"}",
        "{\"event_id\":\"a\",\"received_at\":\"r\",\"source\":\"s\",\"payload\":{\"unclosed\":[}",
        "[\"event_id\",\"a\"]",
        "{\"event_id\":\"a\\\\\",\"received_at\":\"r\"}",
        "{\"event_id\":\"a",
        "",
        "{",
        "{\"other\":true,\"n\":-1.5e3,\"event_id\":\"a\",\"received_at\":\"r\",\"x\":null}",
    };
    unsigned want =
        (1u << LAKE_ENV_EVENT_ID) | (1u << LAKE_ENV_RECEIVED_AT) | (1u << LAKE_ENV_SOURCE);
    wr_arena *a = wr_arena_create(4096, 1u << 20);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        const char *l = lines[i];
        struct lake_env_str s[LAKE_ENV_NFIELDS];
        int m = lake_env_scan(l, strlen(l), want, s);
        if (m < 0) {
            continue; /* deferred to the parser: always allowed */
        }
        struct lake_env_view v;
        struct js_error je;
        wr_arena_reset(a);
        int rc = lake_env_parse(a, l, strlen(l), &v, &je);
        for (int f = 0; f < LAKE_ENV_NFIELDS; f++) {
            if (!(m & (1 << f))) {
                continue;
            }
            /* What the scan found, the parser agrees on (where the line parses at all:
             * the scan validates only what it reads). */
            if (rc == 0) {
                CHECK(v.f[f] && v.f[f]->type == JS_STRING);
                CHECK(v.f[f] && v.f[f]->n == s[f].len &&
                      memcmp(v.f[f]->u.s, s[f].p, s[f].len) == 0);
            }
        }
    }
    /* The cases the scan must defer. */
    struct lake_env_str s[LAKE_ENV_NFIELDS];
    for (size_t i = 3; i <= 6; i++) {
        CHECK_INT(lake_env_scan(lines[i], strlen(lines[i]), want, s), -1);
    }
    CHECK_INT(lake_env_scan(lines[8], strlen(lines[8]), want, s), -1);
    CHECK_INT(lake_env_scan(lines[10], strlen(lines[10]), want, s), -1);
    CHECK_INT(lake_env_scan("", 0, want, s), -1);
    /* The payload's own event_id is not the envelope's. */
    CHECK_INT(lake_env_scan(lines[2], strlen(lines[2]), want, s),
              (1 << LAKE_ENV_EVENT_ID) | (1 << LAKE_ENV_RECEIVED_AT));
    CHECK_MEM(s[LAKE_ENV_EVENT_ID].p, s[LAKE_ENV_EVENT_ID].len, "outer", 5);
    /* An escaped backslash before the closing quote ends the string. */
    CHECK_INT(lake_env_scan(lines[9], strlen(lines[9]), 1u << LAKE_ENV_RECEIVED_AT, s),
              1 << LAKE_ENV_RECEIVED_AT);
    wr_arena_destroy(a);
}

static void test_parse_refusals(void)
{
    wr_arena *a = wr_arena_create(4096, 1u << 20);
    struct lake_env_view v;
    struct js_error je;
    CHECK_INT(lake_env_parse(a, "[1]", 3, &v, &je), WR_EINVAL);
    CHECK_STR(je.msg, "not a JSON object");
    CHECK(lake_env_parse(a, "{\"a\":", 5, &v, &je) < 0);
    CHECK(lake_env_parse(a, "{\"a\":1,\"a\":2}", 13, &v, &je) < 0);
    wr_arena_destroy(a);
}

/* Written, then read back by both readers: every field as it went in. */
static void test_round_trip(void)
{
    struct lake_env_rec r = sample();
    lake_env_set_str(&r, LAKE_ENV_REPLAYED_AT, RA, strlen(RA)); /* every field set */
    static const char src[] = "k\xc3\xa9y \"q\" \\";
    lake_env_set_str(&r, LAKE_ENV_SOURCE, src, sizeof src - 1);
    lake_env_set_str(&r, LAKE_ENV_OCCURRED_AT, "2026-11-21T09:59:59Z", 20);
    lake_env_set_str(&r, LAKE_ENV_PAYLOAD, "{\"n\":[1,{\"s\":\"x\\ny\"}],\"b\":true}", 31);
    static const char ctx[] = "{\"ip\":\"192.0.2.0\",\"ua\":{\"bot\":false}}";
    lake_env_set_str(&r, LAKE_ENV_CONTEXT, ctx, sizeof ctx - 1);
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    CHECK_INT(lake_env_write(&b, &r), 0);
    wr_arena *a = wr_arena_create(4096, 1u << 20);
    struct lake_env_view v;
    struct js_error je;
    CHECK_INT(lake_env_parse(a, b.p, b.len, &v, &je), 0);
    for (int f = 0; f < LAKE_ENV_NFIELDS; f++) {
        const struct js_val *x = v.f[f];
        CHECK(x != NULL);
        if (!x) {
            continue;
        }
        switch (lake_env_fields[f].kind) {
        case LAKE_ENV_STR:
            CHECK(x->type == JS_STRING);
            CHECK_MEM(x->u.s, x->n, r.f[f].p, r.f[f].len);
            break;
        case LAKE_ENV_INT:
            CHECK(x->type == JS_INT);
            CHECK_INT(x->u.i, r.f[f].i);
            break;
        default: CHECK_MEM(b.p + x->src_off, x->src_len, r.f[f].p, r.f[f].len);
        }
    }
    unsigned all = (1u << LAKE_ENV_NFIELDS) - 1;
    all &= ~(1u << LAKE_ENV_PAYLOAD) & ~(1u << LAKE_ENV_SCHEMA_VERSION) & ~(1u << LAKE_ENV_CONTEXT);
    all &= ~(1u << LAKE_ENV_SOURCE); /* it has escapes: the scan defers */
    struct lake_env_str s[LAKE_ENV_NFIELDS];
    CHECK_INT(lake_env_scan(b.p, b.len, all, s), (int)all);
    CHECK_MEM(s[LAKE_ENV_EVENT_ID].p, s[LAKE_ENV_EVENT_ID].len, "e-1", 3);
    CHECK_INT(lake_env_scan(b.p, b.len, all | (1u << LAKE_ENV_SOURCE), s), -1);
    CHECK_INT(lake_env_field_find("payload", 7), LAKE_ENV_PAYLOAD);
    CHECK_INT(lake_env_field_find("payloads", 8), -1);
    wr_arena_destroy(a);
    wr_buf_free(&b);
}

/* Random bytes in every field: whatever goes in, one line of valid JSON comes out. */
static void test_random_fields(void)
{
    unsigned seed = 12345;
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    char junk[5][64];
    for (int round = 0; round < 2000; round++) {
        struct lake_env_rec r = sample();
        for (int k = 0; k < 5; k++) {
            size_t n = (seed = seed * 1103515245u + 12345u) >> 26;
            for (size_t i = 0; i < n; i++) {
                junk[k][i] = (char)((seed = seed * 1103515245u + 12345u) >> 16);
            }
            int fields[5] = {LAKE_ENV_EVENT_TYPE, LAKE_ENV_EVENT_ID, LAKE_ENV_OCCURRED_AT,
                             LAKE_ENV_RECEIVED_AT, LAKE_ENV_SOURCE};
            lake_env_set_str(&r, fields[k], junk[k], n);
        }
        wr_buf_clear(&b);
        CHECK_INT(lake_env_write(&b, &r), 0);
        CHECK(is_json(b.p, b.len));
        CHECK(wr_utf8_valid(b.p, b.len));
        struct lake_env_rec q;
        memset(&q, 0, sizeof q);
        lake_env_set_str(&q, LAKE_REJ_RAW, junk[0], r.f[LAKE_ENV_EVENT_TYPE].len);
        lake_env_set_str(&q, LAKE_REJ_SOURCE, junk[1], r.f[LAKE_ENV_EVENT_ID].len);
        lake_env_set_str(&q, LAKE_REJ_RECEIVED_AT, RA, strlen(RA));
        lake_env_set_str(&q, LAKE_REJ_ERRORS, "[]", 2);
        wr_buf_clear(&b);
        CHECK_INT(lake_rej_write(&b, &q, 0), 0);
        CHECK(is_json(b.p, b.len));
    }
    wr_buf_free(&b);
}

int main(void)
{
    CHECK_RUN(test_exact_bytes);
    CHECK_RUN(test_required_fields);
    CHECK_RUN(test_cap_leaves_buffer_whole);
    CHECK_RUN(test_hostile_strings);
    CHECK_RUN(test_plain_strings);
    CHECK_RUN(test_rejected_lines);
    CHECK_RUN(test_scan_matches_parse);
    CHECK_RUN(test_parse_refusals);
    CHECK_RUN(test_round_trip);
    CHECK_RUN(test_random_fields);
    return CHECK_DONE();
}
