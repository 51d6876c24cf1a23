/* test_url_path.c - lake URL parsing (good, malformed, hostile) and the partition
 * key builders and parser; also the key rules shared by both stores. */
#include <string.h>

#include "check.h"
#include "lake/lake.h"

static void test_file_urls(void)
{
    struct lake_url u;
    struct wr_err e = {0};
    CHECK_INT(lake_url_parse("file:///var/lib/weir/lake", &u, &e), 0);
    CHECK_INT(u.scheme, LAKE_FILE);
    CHECK_STR(u.path, "/var/lib/weir/lake");
    CHECK_INT(lake_url_parse("file:///tmp/x/", &u, &e), 0);
    CHECK_STR(u.path, "/tmp/x");
    CHECK_INT(lake_url_parse(LAKE_DEFAULT_URL, &u, &e), 0);
    CHECK_STR(u.path, "./var/lake");
    CHECK_INT(lake_url_parse("file://./", &u, &e), 0);
    CHECK_STR(u.path, ".");
    CHECK_INT(lake_url_parse("file://../up/lake", &u, &e), 0);
    CHECK_STR(u.path, "../up/lake");
}

static void test_s3_urls(void)
{
    struct lake_url u;
    struct wr_err e = {0};
    CHECK_INT(lake_url_parse("s3://my-bucket", &u, &e), 0);
    CHECK_INT(u.scheme, LAKE_S3);
    CHECK_STR(u.bucket, "my-bucket");
    CHECK_STR(u.prefix, "");
    CHECK_INT(lake_url_parse("s3://my.bucket.1/lakes/prod/", &u, &e), 0);
    CHECK_STR(u.bucket, "my.bucket.1");
    CHECK_STR(u.prefix, "lakes/prod");
    CHECK_INT(lake_url_parse("s3://abc/", &u, &e), 0);
    CHECK_STR(u.prefix, "");
}

static void refused(const char *url, const char *why)
{
    struct lake_url u;
    memset(&u, 0x5a, sizeof u);
    struct wr_err e = {0};
    int rc = lake_url_parse(url, &u, &e);
    if (rc != WR_EINVAL) {
        fprintf(stderr, "accepted: %s\n", url);
    }
    CHECK_INT(rc, WR_EINVAL);
    CHECK(strstr(e.msg, why) != NULL);
    if (!strstr(e.msg, why)) {
        fprintf(stderr, "  %s -> %s\n", url, e.msg);
    }
    CHECK_INT(u.scheme, 0x5a5a5a5a); /* untouched on failure */
}

static void test_malformed_urls(void)
{
    refused("", "empty");
    refused("/var/lake", "expected file:///dir");
    refused("http://bucket/x", "expected file:///dir");
    refused("S3://bucket", "expected");
    refused("file://var/lake", "file:///absolute");
    refused("file://localhost/var/lake", "file:///absolute");
    refused("file:///", "root directory");
    refused("file:///a//b", "empty path segment");
    refused("file:///a/../b", "'..'");
    refused("file:///a/./b", "'.'");
    refused("file:///a/b\nc", "control character");
    refused("s3://", "missing bucket");
    refused("s3:///prefix", "missing bucket");
    refused("s3://ab", "bad bucket name");
    refused("s3://Upper", "bad bucket name");
    refused("s3://-bucket", "bad bucket name");
    refused("s3://bucket-", "bad bucket name");
    refused("s3://a..b", "bad bucket name");
    refused("s3://under_score", "bad bucket name");
    refused("s3://bucket/a//b", "empty path segment");
    refused("s3://bucket/../x", "'..'");
    refused("s3://bucket/x\x01", "control character");
    char longb[120];
    memset(longb, 'a', sizeof longb);
    memcpy(longb, "s3://", 5);
    longb[sizeof longb - 1] = '\0';
    refused(longb, "bad bucket name");
    static char longp[LAKE_PATH_MAX + 100];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, "file:///", 8);
    for (size_t i = 20; i < sizeof longp - 1; i += 50) {
        longp[i] = '/';
    }
    longp[sizeof longp - 1] = '\0';
    refused(longp, "longer than");
}

static void test_time_partition(void)
{
    char dt[11], hr[3];
    CHECK_INT(lake_time_partition(0, dt, hr), 0);
    CHECK_STR(dt, "1970-01-01");
    CHECK_STR(hr, "00");
    CHECK_INT(lake_time_partition(1704113999, dt, hr), 0); /* 2024-01-01T12:59:59Z */
    CHECK_STR(dt, "2024-01-01");
    CHECK_STR(hr, "12");
    CHECK_INT(lake_time_partition(1709251199, dt, hr), 0); /* 2024-02-29T23:59:59Z */
    CHECK_STR(dt, "2024-02-29");
    CHECK_STR(hr, "23");
    CHECK_INT(lake_time_partition(253402300800LL, dt, hr), WR_EINVAL); /* year 10000 */
    CHECK_INT(lake_time_partition(-62167219201LL, dt, hr), WR_EINVAL);
}

static void test_path_builders(void)
{
    char k[256];
    CHECK_INT(lake_path_raw(k, sizeof k, "page_view", 1704113999, "gw1-0000000001-0000000009.jsonl.gz"),
              0);
    CHECK_STR(k, "raw/event_type=page_view/dt=2024-01-01/hr=12/gw1-0000000001-0000000009.jsonl.gz");
    CHECK_INT(lake_path_rejected(k, sizeof k, 1704067200, "a.jsonl.gz"), 0);
    CHECK_STR(k, "rejected/dt=2024-01-01/hr=00/a.jsonl.gz");
    CHECK_INT(lake_path_curated_events(k, sizeof k, "order", "2024-01-01", 3), 0);
    CHECK_STR(k, "curated/events/event_type=order/dt=2024-01-01/part-00003.parquet");
    CHECK_INT(lake_path_curated_rollup(k, sizeof k, "2024-12-31", 0), 0);
    CHECK_STR(k, "curated/rollups/hourly/dt=2024-12-31/part-00000.parquet");

    /* Refusals: parts that would break the layout or escape it. */
    CHECK_INT(lake_path_raw(k, sizeof k, "a/b", 0, "f"), WR_EINVAL);
    CHECK_INT(lake_path_raw(k, sizeof k, "a=b", 0, "f"), WR_EINVAL);
    CHECK_INT(lake_path_raw(k, sizeof k, "", 0, "f"), WR_EINVAL);
    CHECK_INT(lake_path_raw(k, sizeof k, "..", 0, "f"), WR_EINVAL);
    CHECK_INT(lake_path_raw(k, sizeof k, "t", 0, ".hidden"), WR_EINVAL);
    CHECK_INT(lake_path_raw(k, sizeof k, "t", 0, "a b"), WR_EINVAL);
    CHECK_INT(lake_path_raw(k, sizeof k, "t", 0, NULL), WR_EINVAL);
    CHECK_INT(lake_path_curated_events(k, sizeof k, "t", "2024-1-01", 0), WR_EINVAL);
    CHECK_INT(lake_path_curated_events(k, sizeof k, "t", "2024-13-01", 0), WR_EINVAL);
    CHECK_INT(lake_path_curated_rollup(k, sizeof k, "2024-01-01/..", 0), WR_EINVAL);
    /* Too small a buffer is a limit, and leaves an empty string. */
    CHECK_INT(lake_path_raw(k, 20, "page_view", 0, "f"), WR_ELIMIT);
    CHECK_STR(k, "");
    char longname[300];
    memset(longname, 'a', sizeof longname);
    longname[sizeof longname - 1] = '\0';
    CHECK_INT(lake_path_raw(k, sizeof k, longname, 0, "f"), WR_EINVAL);
}

static void test_parse_raw(void)
{
    struct lake_raw_key r;
    CHECK_INT(lake_path_parse_raw("raw/event_type=page_view/dt=2024-01-01/hr=12/x.jsonl.gz", &r), 1);
    CHECK_STR(r.event_type, "page_view");
    CHECK_STR(r.dt, "2024-01-01");
    CHECK_STR(r.hr, "12");
    CHECK_STR(r.file, "x.jsonl.gz");
    /* Round trip with the builder. */
    char k[256];
    CHECK_INT(lake_path_raw(k, sizeof k, "t1", 1704113999, "f-1.jsonl.gz"), 0);
    CHECK_INT(lake_path_parse_raw(k, &r), 1);
    CHECK_STR(r.file, "f-1.jsonl.gz");

    static const char *bad[] = {
        "",
        "raw/",
        "rejected/dt=2024-01-01/hr=00/x",
        "raw/event_type=t/dt=2024-01-01/hr=24/x",
        "raw/event_type=t/dt=2024-01-01/hr=1/x",
        "raw/event_type=t/dt=2024-01-01/x",
        "raw/event_type=/dt=2024-01-01/hr=00/x",
        "raw/event_type=t/dt=2024-01-01/hr=00/",
        "raw/event_type=t/dt=2024-01-01/hr=00/a/b",
        "raw/event_type=t/dt=2024-01-01/hr=00/.tmp-1-2",
        "raw/event_type=t/dt=20240101/hr=00/x",
        "raw/type=t/dt=2024-01-01/hr=00/x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (lake_path_parse_raw(bad[i], &r) != 0) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
        }
        CHECK_INT(lake_path_parse_raw(bad[i], &r), 0);
    }
    CHECK_INT(lake_path_parse_raw(NULL, &r), 0);
}

static void test_key_rules(void)
{
    CHECK(lake_key_ok("a"));
    CHECK(lake_key_ok("raw/event_type=x/dt=2024-01-01/hr=00/f.jsonl.gz"));
    CHECK(lake_key_ok("with space/and+plus/caf\xc3\xa9"));
    CHECK(!lake_key_ok(""));
    CHECK(!lake_key_ok(NULL));
    CHECK(!lake_key_ok("/abs"));
    CHECK(!lake_key_ok("a/"));
    CHECK(!lake_key_ok("a//b"));
    CHECK(!lake_key_ok("a/../b"));
    CHECK(!lake_key_ok("a/./b"));
    CHECK(!lake_key_ok(".hidden"));
    CHECK(!lake_key_ok("a/.tmp-1"));
    CHECK(!lake_key_ok("a\nb"));
    CHECK(!lake_key_ok("a\\b"));
    char big[1000];
    memset(big, 'k', sizeof big);
    big[sizeof big - 1] = '\0';
    CHECK(!lake_key_ok(big));
}

/* Random bytes and mutations of good inputs: nothing may crash or read out of
 * bounds (the sanitizer build watches), and whatever is accepted must be sane. */
static void test_hostile_inputs(void)
{
    static const char *seeds[] = {"file:///var/lake", "file://./var/lake", "s3://bkt/p/q",
                                  "raw/event_type=a/dt=2024-01-01/hr=00/f.gz"};
    static const char alphabet[] = "/.=:%s3filea-_\x01\xff ";
    unsigned x = 12345;
    char in[96];
    for (int iter = 0; iter < 20000; iter++) {
        const char *seed = seeds[iter % 4];
        size_t n = strlen(seed);
        memcpy(in, seed, n + 1);
        for (int m = 0; m < 1 + iter % 4; m++) {
            x = x * 1103515245u + 12345u;
            size_t at = (x >> 8) % (n + 1);
            char c = alphabet[(x >> 20) % (sizeof alphabet - 1)];
            if (at < n) {
                in[at] = c;
            } else if (n + 1 < sizeof in) {
                in[n++] = c;
                in[n] = '\0';
            }
        }
        struct lake_url u;
        struct wr_err e = {0};
        if (lake_url_parse(in, &u, &e) == 0) {
            CHECK(u.scheme == LAKE_FILE || u.scheme == LAKE_S3);
            CHECK(strstr(u.path, "//") == NULL && strstr(u.prefix, "//") == NULL);
            size_t pl = strlen(u.prefix);
            CHECK(strcmp(u.prefix, "..") != 0 && strncmp(u.prefix, "../", 3) != 0 &&
                  strstr(u.prefix, "/../") == NULL &&
                  !(pl >= 3 && strcmp(u.prefix + pl - 3, "/..") == 0));
        } else {
            CHECK(e.msg[0] != '\0');
        }
        struct lake_raw_key r;
        if (lake_path_parse_raw(in, &r)) {
            CHECK(lake_segment_ok(r.event_type, 0) && lake_segment_ok(r.file, 1));
        }
        (void)lake_key_ok(in);
    }
}

int main(void)
{
    CHECK_RUN(test_file_urls);
    CHECK_RUN(test_s3_urls);
    CHECK_RUN(test_malformed_urls);
    CHECK_RUN(test_time_partition);
    CHECK_RUN(test_path_builders);
    CHECK_RUN(test_parse_raw);
    CHECK_RUN(test_key_rules);
    CHECK_RUN(test_hostile_inputs);
    return CHECK_DONE();
}
