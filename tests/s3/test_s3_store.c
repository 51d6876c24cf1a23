/* test_s3_store.c - the s3:// store against a real S3 server (Ceph radosgw started
 * by ceph-s3.sh through a ctest fixture): round trips with Hive keys, paged listing,
 * multipart, refusals with a clear 403, and an outage with retries then recovery.
 * Usage: test_lake_s3 CEPH_DIR CEPH_SCRIPT [case]. Exits 77 (skip) without radosgw. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lake/lake_int.h"

static const char *cdir, *script;
static char endpoint[256], access_key[128], secret_key[128], region[64];
static char bucket[64];

static int read_env(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/env", cdir);
    FILE *f = fopen(p, "r");
    if (!f) {
        return -1;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq) {
            continue;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "S3_ENDPOINT") == 0) {
            snprintf(endpoint, sizeof endpoint, "%s", v);
        } else if (strcmp(line, "S3_ACCESS_KEY") == 0) {
            snprintf(access_key, sizeof access_key, "%s", v);
        } else if (strcmp(line, "S3_SECRET_KEY") == 0) {
            snprintf(secret_key, sizeof secret_key, "%s", v);
        } else if (strcmp(line, "S3_REGION") == 0) {
            snprintf(region, sizeof region, "%s", v);
        }
    }
    fclose(f);
    return endpoint[0] && access_key[0] && secret_key[0] ? 0 : -1;
}

static struct lake_s3_opts base_opts(void)
{
    struct lake_s3_opts o;
    memset(&o, 0, sizeof o);
    o.endpoint = endpoint;
    o.region = region;
    o.access_key = access_key;
    o.secret_key = secret_key;
    o.retry_base_ms = 50;
    o.retry_cap_ms = 400;
    o.max_attempts = 4;
    return o;
}

static lake_store *open_s3(const char *prefix, const struct lake_s3_opts *o)
{
    char url[256];
    snprintf(url, sizeof url, "s3://%s%s%s", bucket, prefix[0] ? "/" : "", prefix);
    struct wr_err e = {0};
    lake_store *st = lake_store_open(url, o, &e);
    if (!st) {
        fprintf(stderr, "open %s: %s\n", url, e.msg);
    }
    return st;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct seen {
    int n;
    char keys[64][256];
    uint64_t sizes[64];
};

static int collect(void *arg, const char *key, uint64_t size)
{
    struct seen *s = arg;
    if (s->n < 64) {
        snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
        s->sizes[s->n] = size;
    }
    s->n++;
    return 0;
}

static void test_create_bucket(void)
{
    struct lake_s3_opts o = base_opts();
    lake_store *st = open_s3("", &o);
    CHECK(st != NULL);
    if (!st) {
        return;
    }
    struct wr_err e = {0};
    CHECK_INT(lake__s3_create_bucket(st, &e), 0);
    if (e.code) {
        fprintf(stderr, "create bucket: %s\n", e.msg);
    }
    CHECK_INT(lake__s3_create_bucket(st, &e), 0); /* again: already ours */
    CHECK_STR(lake_store_kind(st), "s3");
    lake_store_destroy(st);
}

static void test_hive_keys_roundtrip(void)
{
    struct lake_s3_opts o = base_opts();
    lake_store *st = open_s3("lake/prod", &o);
    if (!st) {
        CHECK(0);
        return;
    }
    struct wr_err e = {0};
    const char *keys[] = {
        "raw/event_type=page_view/dt=2024-01-01/hr=07/gw1-1-9.jsonl.gz",
        "rejected/dt=2024-01-01/hr=07/with space+plus&amp.jsonl.gz",
        "curated/events/event_type=order/dt=2024-01-01/part-00000.parquet",
        "unicode/caf\xc3\xa9/\xe1\x88\xb4~x.bin",
        "odd/chars/a:b,c;d@e$f'g(h)i!j*k.bin",
    };
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "body %zu of %s", i, "x");
        int rc = lake_store_put(st, keys[i], body, (size_t)n, &e);
        if (rc) {
            fprintf(stderr, "put %s: %s\n", keys[i], e.msg);
        }
        CHECK_INT(rc, 0);
        wr_buf_clear(&b);
        CHECK_INT(lake_store_get(st, keys[i], &b, &e), 0);
        CHECK_MEM(b.p, b.len, body, (size_t)n);
    }
    /* Listing returns the keys relative to the prefix, in byte order, with sizes. */
    struct seen s = {0};
    CHECK_INT(lake_store_list(st, "", collect, &s, &e), 0);
    CHECK_INT(s.n, 5);
    CHECK_STR(s.keys[0], keys[2]);
    CHECK_STR(s.keys[1], keys[4]);
    CHECK_STR(s.keys[2], keys[0]);
    CHECK_STR(s.keys[3], keys[1]);
    CHECK_STR(s.keys[4], keys[3]);
    CHECK_INT(s.sizes[2], strlen("body 0 of x"));
    memset(&s, 0, sizeof s);
    CHECK_INT(lake_store_list(st, "raw/event_type=page_view/dt=2024-01-01/", collect, &s, &e), 0);
    CHECK_INT(s.n, 1);
    CHECK_STR(s.keys[0], keys[0]);
    /* Not found, too big, delete. */
    wr_buf_clear(&b);
    CHECK_INT(lake_store_get(st, "raw/none", &b, &e), WR_ENOENT);
    struct wr_buf small;
    wr_buf_init(&small, 4);
    CHECK_INT(lake_store_get(st, keys[0], &small, &e), WR_ELIMIT);
    wr_buf_free(&small);
    CHECK_INT(lake_store_delete(st, keys[1], &e), 0);
    CHECK_INT(lake_store_get(st, keys[1], &b, &e), WR_ENOENT);
    CHECK_INT(lake_store_delete(st, keys[1], &e), 0); /* already gone: fine */
    /* An empty object. */
    CHECK_INT(lake_store_put(st, "empty/obj", "", 0, &e), 0);
    wr_buf_clear(&b);
    CHECK_INT(lake_store_get(st, "empty/obj", &b, &e), 0);
    CHECK_INT(b.len, 0);
    wr_buf_free(&b);
    struct lake_store_stats stats;
    lake_store_stats(st, &stats);
    CHECK_INT(stats.retries, 0);
    lake_store_destroy(st);
}

static void test_list_pages(void)
{
    struct lake_s3_opts o = base_opts();
    o.list_max_keys = 7;
    lake_store *st = open_s3("paged", &o);
    if (!st) {
        CHECK(0);
        return;
    }
    struct wr_err e = {0};
    for (int i = 0; i < 25; i++) {
        char k[128];
        snprintf(k, sizeof k, "raw/event_type=t/dt=2024-01-01/hr=00/f-%03d.jsonl.gz", i);
        CHECK_INT(lake_store_put(st, k, k, strlen(k), &e), 0);
    }
    struct lake_store_stats a, b;
    lake_store_stats(st, &a);
    struct seen s = {0};
    CHECK_INT(lake_store_list(st, "raw/", collect, &s, &e), 0);
    lake_store_stats(st, &b);
    CHECK_INT(s.n, 25);
    CHECK_INT(b.requests - a.requests, 4); /* 7 + 7 + 7 + 4 */
    for (int i = 0; i < 25 && i < s.n; i++) {
        char k[128];
        snprintf(k, sizeof k, "raw/event_type=t/dt=2024-01-01/hr=00/f-%03d.jsonl.gz", i);
        CHECK_STR(s.keys[i], k);
    }
    lake_store_destroy(st);
}

static void fill(char *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)x;
    }
}

static void test_multipart(void)
{
    struct lake_s3_opts o = base_opts();
    o.multipart_threshold = 5 * 1024 * 1024;
    o.part_size = 5 * 1024 * 1024;
    lake_store *st = open_s3("mp", &o);
    if (!st) {
        CHECK(0);
        return;
    }
    struct wr_err e = {0};
    size_t n = 12 * 1024 * 1024 + 123;
    char *data = malloc(n);
    fill(data, n, 7);
    double t0 = now_s();
    int rc = lake_store_put(st, "curated/events/event_type=big/dt=2024-01-01/part-00000.parquet",
                            data, n, &e);
    double t1 = now_s();
    if (rc) {
        fprintf(stderr, "multipart put: %s\n", e.msg);
    }
    CHECK_INT(rc, 0);
    printf("multipart put of %zu bytes (3 parts): %.3f s\n", n, t1 - t0);
    struct wr_buf b;
    wr_buf_init(&b, 64 * 1024 * 1024);
    CHECK_INT(lake_store_get(st, "curated/events/event_type=big/dt=2024-01-01/part-00000.parquet",
                             &b, &e),
              0);
    CHECK(b.len == n && memcmp(b.p, data, n) == 0);

    /* The same through a file descriptor: streamed part by part. */
    char path[] = "/tmp/weir-s3-mp-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    fill(data, n, 9);
    CHECK_INT(write(fd, data, n), n);
    unlink(path);
    CHECK_INT(lake_store_put_fd(st, "from/fd.bin", fd, &e), 0);
    close(fd);
    wr_buf_clear(&b);
    CHECK_INT(lake_store_get(st, "from/fd.bin", &b, &e), 0);
    CHECK(b.len == n && memcmp(b.p, data, n) == 0);

    /* Just under the threshold: a single PUT. */
    struct lake_store_stats s0, s1;
    lake_store_stats(st, &s0);
    CHECK_INT(lake_store_put(st, "single/5mib.bin", data, 5 * 1024 * 1024, &e), 0);
    lake_store_stats(st, &s1);
    CHECK_INT(s1.multipart_uploads, 2);
    CHECK_INT(s1.requests - s0.requests, 1);
    struct seen s = {0};
    CHECK_INT(lake_store_list(st, "from/", collect, &s, &e), 0);
    CHECK_INT(s.n, 1);
    CHECK_INT(s.sizes[0], n);
    wr_buf_free(&b);
    free(data);
    lake_store_destroy(st);
}

static void test_refusals(void)
{
    struct lake_s3_opts o = base_opts();
    o.secret_key = "not-the-secret";
    lake_store *st = open_s3("x", &o);
    if (!st) {
        CHECK(0);
        return;
    }
    struct wr_err e = {0};
    double t0 = now_s();
    int rc = lake_store_put(st, "dt=2024-01-01/a", "x", 1, &e);
    CHECK_INT(rc, WR_EIO);
    CHECK(strstr(e.msg, "HTTP 403") != NULL);
    CHECK(strstr(e.msg, "SignatureDoesNotMatch") != NULL);
    printf("wrong secret: %s\n", e.msg);
    struct lake_store_stats s;
    lake_store_stats(st, &s);
    CHECK_INT(s.retries, 0); /* a refusal is not retried */
    CHECK(now_s() - t0 < 2.0);
    lake_store_destroy(st);

    o = base_opts();
    o.access_key = "NOSUCHACCESSKEY";
    st = open_s3("x", &o);
    memset(&e, 0, sizeof e);
    CHECK_INT(lake_store_put(st, "a", "x", 1, &e), WR_EIO);
    CHECK(strstr(e.msg, "403") != NULL);
    printf("unknown key: %s\n", e.msg);
    lake_store_destroy(st);

    /* A bucket that does not exist is an error, not "no such key". */
    o = base_opts();
    struct wr_err e2 = {0};
    st = lake_store_open("s3://weir-no-such-bucket", &o, &e2);
    struct wr_buf b;
    wr_buf_init(&b, 1024);
    CHECK_INT(lake_store_get(st, "a", &b, &e2), WR_EIO);
    CHECK(strstr(e2.msg, "NoSuchBucket") != NULL);
    wr_buf_free(&b);
    lake_store_destroy(st);

    /* Refused at open: missing credentials, bad endpoint, tiny parts. */
    o = base_opts();
    o.secret_key = NULL;
    unsetenv("AWS_SECRET_ACCESS_KEY"); /* else the environment would supply it */
    memset(&e, 0, sizeof e);
    CHECK(lake_store_open("s3://abc", &o, &e) == NULL);
    CHECK(strstr(e.msg, "AWS_SECRET_ACCESS_KEY") != NULL);
    o = base_opts();
    o.endpoint = "ftp://127.0.0.1";
    CHECK(lake_store_open("s3://abc", &o, &e) == NULL);
    CHECK(strstr(e.msg, "http://") != NULL);
    o.endpoint = "http://127.0.0.1:1/path";
    CHECK(lake_store_open("s3://abc", &o, &e) == NULL);
    o = base_opts();
    o.part_size = 1024;
    CHECK(lake_store_open("s3://abc", &o, &e) == NULL);
    CHECK(strstr(e.msg, "5 MiB") != NULL);
}

static void test_virtual_host_style(void)
{
    /* radosgw is configured with "rgw dns name = localhost", and curl resolves
     * *.localhost to the loopback address itself. */
    char ep[256];
    const char *port = strrchr(endpoint, ':');
    snprintf(ep, sizeof ep, "http://localhost%s", port ? port : "");
    struct lake_s3_opts o = base_opts();
    o.endpoint = ep;
    o.addressing = LAKE_S3_ADDR_VHOST;
    lake_store *st = open_s3("vhost", &o);
    if (!st) {
        CHECK(0);
        return;
    }
    struct wr_err e = {0};
    int rc = lake_store_put(st, "dt=2024-01-01/v.txt", "vhost", 5, &e);
    if (rc) {
        fprintf(stderr, "vhost put: %s\n", e.msg);
    }
    CHECK_INT(rc, 0);
    lake_store_destroy(st);
    /* Read it back path-style: the same object. */
    o = base_opts();
    st = open_s3("vhost", &o);
    struct wr_buf b;
    wr_buf_init(&b, 64);
    CHECK_INT(lake_store_get(st, "dt=2024-01-01/v.txt", &b, &e), 0);
    CHECK_MEM(b.p, b.len, "vhost", 5);
    wr_buf_free(&b);
    lake_store_destroy(st);
}

static int run_script(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s'", script, verb, cdir);
    return system(cmd);
}

static void test_outage_and_recovery(void)
{
    struct lake_s3_opts o = base_opts();
    o.max_attempts = 3;
    o.retry_base_ms = 100;
    o.connect_timeout_ms = 1000;
    lake_store *st = open_s3("outage", &o);
    if (!st) {
        CHECK(0);
        return;
    }
    struct wr_err e = {0};
    const char *k = "raw/event_type=t/dt=2024-01-01/hr=00/keep.jsonl.gz";
    CHECK_INT(lake_store_put(st, k, "before", 6, &e), 0); /* a live keep-alive connection */
    CHECK_INT(run_script("stop-rgw"), 0);

    struct lake_store_stats s0, s1;
    lake_store_stats(st, &s0);
    double t0 = now_s();
    int rc = lake_store_put(st, k, "during", 6, &e);
    double t1 = now_s();
    lake_store_stats(st, &s1);
    CHECK_INT(rc, WR_EAGAIN);
    CHECK(strstr(e.msg, "gave up after 3 attempts") != NULL);
    CHECK_INT(s1.retries - s0.retries, 2);
    CHECK(t1 - t0 < 5.0);
    printf("server down: %s (%.2f s)\n", e.msg, t1 - t0);

    struct wr_buf b;
    wr_buf_init(&b, 64);
    CHECK_INT(lake_store_get(st, k, &b, &e), WR_EAGAIN);
    struct seen s = {0};
    CHECK_INT(lake_store_list(st, "", collect, &s, &e), WR_EAGAIN);

    double r0 = now_s();
    CHECK_INT(run_script("start-rgw"), 0);
    printf("radosgw restart: %.2f s\n", now_s() - r0);
    /* The same store object works again: curl reconnects. */
    memset(&e, 0, sizeof e);
    rc = lake_store_put(st, k, "after", 5, &e);
    if (rc) {
        fprintf(stderr, "put after restart: %s\n", e.msg);
    }
    CHECK_INT(rc, 0);
    wr_buf_clear(&b);
    CHECK_INT(lake_store_get(st, k, &b, &e), 0);
    CHECK_MEM(b.p, b.len, "after", 5);
    wr_buf_free(&b);
    lake_store_destroy(st);
}

static void test_from_env(void)
{
    struct lake_s3_opts o;
    memset(&o, 0, sizeof o);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    lake_s3_opts_from_env(&o);
    CHECK_STR(o.access_key, "AKIDENV");
    CHECK_STR(o.secret_key, "secretenv");
    CHECK_STR(o.session_token, "tok");
    CHECK_STR(o.region, "eu-west-3");
    setenv("AWS_REGION", "ap-south-1", 1);
    o.region = NULL;
    lake_s3_opts_from_env(&o);
    CHECK_STR(o.region, "ap-south-1");
    /* Explicit values win over the environment. */
    o.access_key = "explicit";
    lake_s3_opts_from_env(&o);
    CHECK_STR(o.access_key, "explicit");
    /* lake_store_open takes credentials and region from the environment by itself. */
    setenv("AWS_ACCESS_KEY_ID", access_key, 1);
    setenv("AWS_SECRET_ACCESS_KEY", secret_key, 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    struct lake_s3_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.endpoint = endpoint;
    lake_store *st = open_s3("envcreds", &eo);
    struct wr_err e = {0};
    CHECK(st != NULL);
    if (st) {
        CHECK_INT(lake_store_put(st, "dt=2024-01-01/e", "env", 3, &e), 0);
        lake_store_destroy(st);
    }
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
}

static int count_cb(void *arg, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    (*(int *)arg)++;
    return 0;
}

/* Prints put/get/list figures for one store (not a test: run by hand, see README). */
static void bench_store(lake_store *st, const char *label)
{
    enum { N = 200, SMALL = 4096 };
    static char small[SMALL];
    fill(small, sizeof small, 3);
    struct wr_err e = {0};
    char k[128];
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "bench/event_type=b/dt=2024-01-01/hr=00/f-%04d.jsonl.gz", i);
        if (lake_store_put(st, k, small, sizeof small, &e) != 0) {
            printf("%s: put failed: %s\n", label, e.msg);
            return;
        }
    }
    double t1 = now_s();
    struct wr_buf b;
    wr_buf_init(&b, 128 * 1024 * 1024);
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "bench/event_type=b/dt=2024-01-01/hr=00/f-%04d.jsonl.gz", i);
        wr_buf_clear(&b);
        lake_store_get(st, k, &b, &e);
    }
    double t2 = now_s();
    int n = 0;
    lake_store_list(st, "bench/", count_cb, &n, &e);
    double t3 = now_s();
    size_t big = 64u * 1024 * 1024;
    char *data = malloc(big);
    fill(data, big, 5);
    double t4 = now_s();
    int rc = lake_store_put(st, "bench/big/64mib.bin", data, big, &e);
    double t5 = now_s();
    wr_buf_clear(&b);
    int rc2 = lake_store_get(st, "bench/big/64mib.bin", &b, &e);
    double t6 = now_s();
    printf("| %s | %.0f | %.0f | %.1f (%d keys) | %.0f%s | %.0f%s |\n", label, N / (t1 - t0),
           N / (t2 - t1), (t3 - t2) * 1000, n, 64 / (t5 - t4), rc ? " (failed)" : "",
           64 / (t6 - t5), rc2 ? " (failed)" : "");
    free(data);
    wr_buf_free(&b);
}

static int bench(const char *file_url)
{
    printf("| store | 4 KiB puts/s | 4 KiB gets/s | list ms | 64 MiB put MiB/s | 64 MiB get MiB/s |\n"
           "|---|---|---|---|---|---|\n");
    struct wr_err e = {0};
    lake_store *st = lake_store_open(file_url, NULL, &e);
    if (st) {
        bench_store(st, "file:// (fsync each)");
        lake_store_destroy(st);
    } else {
        printf("open %s: %s\n", file_url, e.msg);
    }
    struct lake_s3_opts o = base_opts();
    st = open_s3("", &o);
    if (st && lake__s3_create_bucket(st, &e) == 0) {
        bench_store(st, "s3:// radosgw, 16 MiB threshold, 8 MiB parts");
    }
    lake_store_destroy(st);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CEPH_DIR CEPH_SCRIPT [case]\n", argv[0]);
        return 2;
    }
    cdir = argv[1];
    script = argv[2];
    const char *only = argc > 3 ? argv[3] : "all";
    if (read_env() != 0) {
        char p[512], why[256] = "the fixture did not start a server";
        snprintf(p, sizeof p, "%s/unavailable", cdir);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(why, sizeof why, f)) {
                why[strcspn(why, "\n")] = '\0';
            }
            fclose(f);
            fprintf(stderr, "SKIP: no S3 server: %s\n", why);
            return 77;
        }
        fprintf(stderr, "no %s/env: %s\n", cdir, why);
        return 1;
    }
    snprintf(bucket, sizeof bucket, "weir-test-%ld-%s", (long)getpid(), only);
    for (char *q = bucket; *q; q++) {
        if (*q == '_') {
            *q = '-';
        }
    }
    if (strcmp(only, "bench") == 0) {
        return bench(argc > 4 ? argv[4] : "file:///tmp/weir-lake-bench");
    }
    if (strcmp(only, "all") != 0 && strcmp(only, "basic") != 0 &&
        strcmp(only, "multipart") != 0 && strcmp(only, "outage") != 0) {
        /* an unknown case would otherwise run only the bucket test and pass */
        fprintf(stderr, "unknown case %s: all, basic, multipart, outage or bench\n", only);
        return 2;
    }
    CHECK_RUN(test_create_bucket);
    if (strcmp(only, "all") == 0 || strcmp(only, "basic") == 0) {
        CHECK_RUN(test_hive_keys_roundtrip);
        CHECK_RUN(test_list_pages);
        CHECK_RUN(test_refusals);
        CHECK_RUN(test_virtual_host_style);
        CHECK_RUN(test_from_env);
    }
    if (strcmp(only, "all") == 0 || strcmp(only, "multipart") == 0) {
        CHECK_RUN(test_multipart);
    }
    if (strcmp(only, "all") == 0 || strcmp(only, "outage") == 0) {
        CHECK_RUN(test_outage_and_recovery);
    }
    return CHECK_DONE();
}
