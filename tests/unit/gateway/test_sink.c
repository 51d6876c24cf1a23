/* test_sink.c - the sink on a file:// lake: routing to partitions and file names, flush by
 * size, age, hour end and drain, gzip files read back, lake failure and recovery through
 * the spool, a full spool, two instances on one lake, refused input, metrics, backpressure
 * from a stalled buffer thread. */
#include "check.h"
#include "sink_testutil.h"

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "gateway/sink_int.h"

#include <inttypes.h>
#include <libdeflate.h>
#include <sys/wait.h>

#define HOUR_MS 3600000LL

/* 2025-11-21T10:00:00Z and an hour later. */
#define T10 1763719200000LL
#define T11 (T10 + HOUR_MS)

/* Reads the "n" of each line of f into counts[n] (n < max); returns lines seen. */
static long count_ns(const struct st_file *f, int *counts, long max)
{
    long lines = 0;
    const char *p = f->data, *end = f->data + f->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            break;
        }
        long n = -1;
        if (sscanf(p, "{\"n\":%ld,", &n) == 1 && n >= 0 && n < max) {
            counts[n]++;
        }
        lines++;
        p = nl + 1;
    }
    return lines;
}

static void test_routing_and_names(void)
{
    struct st_env e;
    st_env_init(&e);
    gw_sink *s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    CHECK(gw_sink_ready(s));
    struct st_done d;
    st_done_init(&d);
    /* 60 lines: types page_view / signup / rejected, hours 10 and 11, in requests of 6. */
    static char bufs[60][128];
    struct gw_line ls[60];
    const char *types[3] = {"page_view", "signup", NULL};
    for (long n = 0; n < 60; n++) {
        int ti = (int)(n % 3);
        int64_t t = (n / 3) % 2 ? T11 + n * 1000 : T10 + 59 * 60000 + n;
        ls[n] = st_mk(ti == 2 ? GW_LINE_REJECTED : GW_LINE_ACCEPTED, types[ti], t, n, 20, bufs[n],
                      sizeof(bufs[n]));
    }
    for (int r = 0; r < 10; r++) {
        CHECK_INT(gw_sink_submit(s, ls + r * 6, 6, st_done_cb, &d), 0);
    }
    CHECK_INT(st_done_wait(&d, 10), 10);
    CHECK_INT(d.ok, 10);
    CHECK_INT(gw_sink_drain(s, 10000), 0);
    CHECK(!gw_sink_ready(s));
    CHECK_INT(gw_sink_submit(s, ls, 1, st_done_cb, &d), WR_EAGAIN);
    CHECK_INT(st_metric(s, "weir_spool_unreleased_bytes"), 0);
    gw_sink_destroy(s);

    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK_INT(L.temps, 0);
    CHECK_INT(L.others, 0);
    CHECK(L.n >= 6);
    int counts[60] = {0};
    long total = 0;
    for (size_t i = 0; i < L.n; i++) {
        struct st_file *f = &L.f[i];
        CHECK(f->gzip_ok);
        int local[60] = {0};
        total += count_ns(f, local, 60);
        for (long n = 0; n < 60; n++) {
            if (!local[n]) {
                continue;
            }
            counts[n] += local[n];
            int ti = (int)(n % 3);
            const char *hr = (n / 3) % 2 ? "11" : "10";
            char want[256];
            if (ti == 2) {
                snprintf(want, sizeof(want), "rejected/dt=2025-11-21/hr=%s/", hr);
            } else {
                snprintf(want, sizeof(want), "raw/event_type=%s/dt=2025-11-21/hr=%s/", types[ti],
                         hr);
            }
            if (strncmp(f->path, want, strlen(want)) != 0) {
                CHECK__FAIL("line %ld in %s, want under %s", n, f->path, want);
            }
        }
        /* <16 hex instance>-<16 hex first lsn>.jsonl.gz */
        const char *base = strrchr(f->path, '/') + 1;
        CHECK_INT(strlen(base), 16 + 1 + 16 + 9);
        CHECK(base[16] == '-');
    }
    CHECK_INT(total, 60);
    for (long n = 0; n < 60; n++) {
        CHECK_INT(counts[n], 1);
    }
    st_lake_free(&L);
    st_env_free(&e);
}

static void test_flush_by_size(void)
{
    struct st_env e;
    st_env_init(&e);
    gw_sink *s = st_open_sink(&e, 1000, 600000);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    int64_t now = wr_time_now_ms();
    char buf[256];
    for (long n = 0; n < 100; n++) {
        /* ~100 bytes a line: a file per ~10 lines. */
        CHECK_INT(st_submit1(s, st_mk(GW_LINE_ACCEPTED, "ev", now, n, 80, buf, sizeof(buf)), &d),
                  0);
    }
    /* The files appear without a drain. */
    long long files = 0;
    for (int i = 0; i < 200 && files < 9; i++) {
        files = st_metric(s, "weir_sink_files_total{zone=\"raw\"}");
        st_sleep_ms(10);
    }
    CHECK(files >= 9);
    CHECK(st_metric(s, "weir_sink_buffers_closed_total{reason=\"size\"}") >= 9);
    CHECK_INT(gw_sink_drain(s, 10000), 0);
    gw_sink_destroy(s);
    struct st_lake L;
    st_lake_read(&L, e.lake);
    int counts[100] = {0};
    long total = 0;
    for (size_t i = 0; i < L.n; i++) {
        CHECK(L.f[i].gzip_ok);
        total += count_ns(&L.f[i], counts, 100);
        CHECK(L.f[i].len <= 1000 + 200); /* closed at the line that reached the size */
    }
    CHECK_INT(total, 100);
    for (long n = 0; n < 100; n++) {
        CHECK_INT(counts[n], 1);
    }
    st_lake_free(&L);
    st_env_free(&e);
}

static void test_flush_by_age_and_hour(void)
{
    struct st_env e;
    st_env_init(&e);
    gw_sink *s = st_open_sink(&e, 0, 100);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    char buf[256];
    CHECK_INT(
        st_submit1(s, st_mk(GW_LINE_ACCEPTED, "ev", wr_time_now_ms(), 1, 10, buf, sizeof(buf)), &d),
        0);
    long long files = 0;
    for (int i = 0; i < 300 && files < 1; i++) {
        files = st_metric(s, "weir_sink_files_total{zone=\"raw\"}");
        st_sleep_ms(10);
    }
    CHECK_INT(files, 1);
    CHECK(st_metric(s, "weir_sink_buffers_closed_total{reason=\"age\"}") +
              st_metric(s, "weir_sink_buffers_closed_total{reason=\"hour\"}") >=
          1);
    gw_sink_destroy(s);

    /* A long interval: a line of an hour that has ended is flushed at once anyway. */
    s = st_open_sink(&e, 0, 600000);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    int64_t past = wr_time_now_ms() - 2 * HOUR_MS;
    CHECK_INT(st_submit1(s, st_mk(GW_LINE_REJECTED, NULL, past, 2, 10, buf, sizeof(buf)), &d), 0);
    files = 0;
    for (int i = 0; i < 300 && files < 1; i++) {
        files = st_metric(s, "weir_sink_files_total{zone=\"rejected\"}");
        st_sleep_ms(10);
    }
    CHECK_INT(files, 1);
    CHECK_INT(st_metric(s, "weir_sink_buffers_closed_total{reason=\"hour\"}"), 1);
    CHECK_INT(st_metric(s, "weir_sink_late_lines_total"), 1);
    gw_sink_destroy(s);
    st_env_free(&e);
}

/* A lake that refuses puts: "raw" is a regular file, so no raw/... key can be made. */
static void test_lake_failure_then_recovery(void)
{
    struct st_env e;
    st_env_init(&e);
    char raw[512];
    snprintf(raw, sizeof(raw), "%s/raw", e.lake);
    FILE *f = fopen(raw, "w");
    CHECK(f != NULL);
    if (f) {
        fclose(f);
    }
    gw_sink *s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    static char bufs[50][128];
    struct gw_line ls[50];
    for (long n = 0; n < 50; n++) {
        ls[n] =
            st_mk(GW_LINE_ACCEPTED, n % 2 ? "a" : "b", T10 + n, n, 30, bufs[n], sizeof(bufs[n]));
    }
    for (int r = 0; r < 5; r++) {
        CHECK_INT(gw_sink_submit(s, ls + r * 10, 10, st_done_cb, &d), 0);
    }
    CHECK_INT(st_done_wait(&d, 5), 5);
    CHECK_INT(d.ok, 5); /* durable in the spool even though the lake is down */
    CHECK_INT(gw_sink_drain(s, 300), WR_EAGAIN);
    CHECK(st_metric(s, "weir_sink_flushes_total{result=\"failed\"}") >= 1);
    CHECK(st_metric(s, "weir_spool_unreleased_bytes") > 0);
    gw_sink_destroy(s);

    /* The lake comes back: a new sink on the same spool replays and writes everything. */
    CHECK_INT(unlink(raw), 0);
    s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    CHECK_INT(st_metric(s, "weir_sink_replayed_lines_total"), 50);
    CHECK_INT(gw_sink_drain(s, 10000), 0);
    CHECK_INT(st_metric(s, "weir_spool_unreleased_bytes"), 0);
    gw_sink_destroy(s);
    struct st_lake L;
    st_lake_read(&L, e.lake);
    int counts[50] = {0};
    long total = 0;
    for (size_t i = 0; i < L.n; i++) {
        CHECK(L.f[i].gzip_ok);
        total += count_ns(&L.f[i], counts, 50);
    }
    CHECK_INT(total, 50);
    for (long n = 0; n < 50; n++) {
        CHECK_INT(counts[n], 1);
    }
    st_lake_free(&L);

    /* A third start replays nothing: everything was released. */
    s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(st_metric(s, "weir_sink_replayed_lines_total"), 0);
        gw_sink_destroy(s);
    }
    st_env_free(&e);
}

/* S3 at a closed port: puts fail, lines stay in the spool; a file lake later takes them. */
static void test_s3_unreachable(void)
{
    struct st_env e;
    st_env_init(&e);
    struct lake_s3_opts s3 = {
        .endpoint = "http://127.0.0.1:9",
        .access_key = "test",
        .secret_key = "test",
        .max_attempts = 1,
        .connect_timeout_ms = 200,
    };
    struct gw_sink_opts o = {
        .spool_dir = e.spool, .lake_url = "s3://weir-test-bucket/x", .s3 = &s3};
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    char buf[128];
    CHECK_INT(st_submit1(s, st_mk(GW_LINE_ACCEPTED, "ev", T10, 7, 10, buf, sizeof(buf)), &d), 0);
    CHECK_INT(gw_sink_drain(s, 300), WR_EAGAIN);
    gw_sink_destroy(s);
    s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(gw_sink_drain(s, 10000), 0);
        gw_sink_destroy(s);
    }
    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK_INT(st_lake_lines(&L), 1);
    st_lake_free(&L);
    st_env_free(&e);
}

static void test_spool_full(void)
{
    struct st_env e;
    st_env_init(&e);
    char raw[512];
    snprintf(raw, sizeof(raw), "%s/raw", e.lake);
    FILE *f = fopen(raw, "w");
    if (f) {
        fclose(f);
    }
    struct gw_sink_opts o = {.spool_dir = e.spool, .lake_url = e.url, .spool_max_bytes = 64 << 10};
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    char buf[1200];
    int rc = 0;
    long sent = 0;
    for (long n = 0; n < 1000 && rc == 0; n++) {
        rc = gw_sink_submit(
            s, (struct gw_line[]){st_mk(GW_LINE_ACCEPTED, "ev", T10, n, 1000, buf, sizeof(buf))}, 1,
            st_done_cb, &d);
        sent += rc == 0;
    }
    CHECK_INT(rc, WR_EAGAIN);
    CHECK(sent > 10 && sent < 70);
    CHECK_INT(st_done_wait(&d, sent), sent);
    CHECK(gw_sink_ready(s)); /* full is not failed */
    CHECK_INT(gw_sink_drain(s, 200), WR_EAGAIN);
    gw_sink_destroy(s);
    unlink(raw);
    s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(gw_sink_drain(s, 10000), 0);
        gw_sink_destroy(s);
    }
    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK_INT(st_lake_lines(&L), sent);
    st_lake_free(&L);
    st_env_free(&e);
}

struct inst_arg {
    gw_sink *s;
    long base;
};

static void *inst_main(void *arg)
{
    struct inst_arg *a = arg;
    struct st_done d;
    st_done_init(&d);
    char buf[128];
    for (long n = 0; n < 200; n++) {
        struct gw_line l =
            st_mk(GW_LINE_ACCEPTED, "shared", T10, a->base + n, 10, buf, sizeof(buf));
        if (gw_sink_submit(a->s, &l, 1, st_done_cb, &d) != 0) {
            break;
        }
    }
    st_done_wait(&d, 200);
    return NULL;
}

static void test_two_instances(void)
{
    struct st_env e1, e2;
    st_env_init(&e1);
    st_env_init(&e2);
    snprintf(e2.url, sizeof(e2.url), "%s", e1.url); /* one lake */
    gw_sink *s1 = st_open_sink(&e1, 500, 0), *s2 = st_open_sink(&e2, 500, 0);
    CHECK(s1 && s2);
    if (s1 && s2) {
        pthread_t t1, t2;
        struct inst_arg a1 = {s1, 0}, a2 = {s2, 200};
        pthread_create(&t1, NULL, inst_main, &a1);
        pthread_create(&t2, NULL, inst_main, &a2);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        CHECK_INT(gw_sink_drain(s1, 10000), 0);
        CHECK_INT(gw_sink_drain(s2, 10000), 0);
        long long f1 = st_metric(s1, "weir_sink_files_total{zone=\"raw\"}");
        long long f2 = st_metric(s2, "weir_sink_files_total{zone=\"raw\"}");
        struct st_lake L;
        st_lake_read(&L, e1.lake);
        CHECK_INT((long long)L.n, f1 + f2); /* no name written twice */
        int counts[400] = {0};
        long total = 0;
        for (size_t i = 0; i < L.n; i++) {
            total += count_ns(&L.f[i], counts, 400);
        }
        CHECK_INT(total, 400);
        for (long n = 0; n < 400; n++) {
            CHECK_INT(counts[n], 1);
        }
        st_lake_free(&L);
    }
    gw_sink_destroy(s1);
    gw_sink_destroy(s2);
    st_env_free(&e1);
    st_rmrf(e2.spool);
}

static void test_refused_input(void)
{
    struct st_env e;
    st_env_init(&e);
    gw_sink *s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    char buf[128];
    struct gw_line l = st_mk(GW_LINE_ACCEPTED, "ev", T10, 1, 10, buf, sizeof(buf));
    struct gw_line bad = l;
    bad.kind = 'x';
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad = l;
    bad.event_type = "../etc";
    bad.event_type_len = 6;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad.event_type = "a/b";
    bad.event_type_len = 3;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad.event_type = "ev\0x";
    bad.event_type_len = 4;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad.event_type = NULL;
    bad.event_type_len = 0;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    char long_et[300];
    memset(long_et, 'e', sizeof(long_et));
    bad.event_type = long_et;
    bad.event_type_len = sizeof(long_et);
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad = l;
    bad.p = "{\"a\":1}\n{\"b\":2}";
    bad.len = strlen(bad.p);
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad.len = 0;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad = l;
    bad.received_at_ms = INT64_MAX;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    bad.received_at_ms = -62167219200001LL;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_EINVAL);
    /* A rejected line's event type is ignored. */
    bad = l;
    bad.kind = GW_LINE_REJECTED;
    bad.event_type = "../whatever";
    bad.event_type_len = 11;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), 0);
    /* A line over the spool's record limit. */
    size_t big = (16u << 20) + 1;
    char *huge = malloc(big);
    memset(huge, 'x', big);
    bad = l;
    bad.p = huge;
    bad.len = big;
    CHECK_INT(gw_sink_submit(s, &bad, 1, st_done_cb, &d), WR_ELIMIT);
    free(huge);
    CHECK_INT(gw_sink_submit(s, &l, 1, NULL, NULL), WR_EINVAL);
    CHECK_INT(gw_sink_submit(NULL, &l, 1, st_done_cb, &d), WR_EINVAL);
    /* n == 0: done still comes. */
    CHECK_INT(gw_sink_submit(s, NULL, 0, st_done_cb, &d), 0);
    CHECK_INT(st_done_wait(&d, 2), 2);
    CHECK_INT(d.ok, 2);
    gw_sink_destroy(s);
    gw_sink_destroy(NULL);

    /* Bad options. */
    struct wr_err err = {0};
    struct gw_sink_opts o = {.spool_dir = e.spool, .lake_url = "ftp://x"};
    CHECK(gw_sink_create(&o, &err) == NULL);
    o.lake_url = e.url;
    o.instance_id = "bad/id";
    CHECK(gw_sink_create(&o, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    CHECK(gw_sink_create(NULL, &err) == NULL);
    /* The spool is locked by another sink. */
    o.instance_id = NULL;
    gw_sink *a = gw_sink_create(&o, &err);
    CHECK(a != NULL);
    CHECK(gw_sink_create(&o, &err) == NULL);
    CHECK_INT(err.code, WR_EAGAIN);
    gw_sink_destroy(a);
    st_env_free(&e);
}

/* A crash while one partition's buffer is open and another's were flushed (and the spool
 * released past the open one's neighbours): the child exits without draining. */
static void test_crash_with_open_buffer(void)
{
    struct st_env e;
    st_env_init(&e);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        gw_sink *s = st_open_sink(&e, 500, 600000);
        if (!s) {
            _exit(3);
        }
        struct st_done d;
        st_done_init(&d);
        char buf[256];
        int64_t now = wr_time_now_ms();
        st_submit1(s, st_mk(GW_LINE_ACCEPTED, "open", now, 0, 10, buf, sizeof(buf)), &d);
        for (long n = 1; n < 200; n++) {
            st_submit1(s, st_mk(GW_LINE_ACCEPTED, "busy", now, n, 50, buf, sizeof(buf)), &d);
        }
        st_submit1(s, st_mk(GW_LINE_ACCEPTED, "open", now, 200, 10, buf, sizeof(buf)), &d);
        /* Wait for the busy partition's files (and the releases after them). */
        for (int i = 0; i < 500 && st_metric(s, "weir_sink_queued_files") != 0; i++) {
            st_sleep_ms(10);
        }
        st_sleep_ms(300);
        _exit(d.ok == 201 ? 0 : 4);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gw_sink *s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK(st_metric(s, "weir_sink_replayed_lines_total") >= 2);
        /* The busy partition's flushed lines above the release point: the journal knows. */
        CHECK(st_metric(s, "weir_sink_replay_skipped_lines_total") > 0);
        CHECK_INT(gw_sink_drain(s, 10000), 0);
        gw_sink_destroy(s);
    }
    struct st_lake L;
    st_lake_read(&L, e.lake);
    int counts[201] = {0};
    long total = 0;
    for (size_t i = 0; i < L.n; i++) {
        total += count_ns(&L.f[i], counts, 201);
    }
    CHECK_INT(total, 201);
    for (long n = 0; n < 201; n++) {
        CHECK_INT(counts[n], 1);
    }
    st_lake_free(&L);
    st_env_free(&e);
}

/* A damaged journal: a torn last line and a line with a bad CRC are skipped, the rest
 * still counts, and the sink starts. */
static void test_damaged_journal(void)
{
    struct st_env e;
    st_env_init(&e);
    gw_sink *s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    char buf[128];
    CHECK_INT(st_submit1(s, st_mk(GW_LINE_ACCEPTED, "j", T10, 1, 10, buf, sizeof(buf)), &d), 0);
    gw_sink_destroy(s);
    char path[512];
    snprintf(path, sizeof(path), "%s/sink.journal", e.spool);
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fputs("00000000 F a 1 0000000000000000 0000000000000010 j\n", f); /* bad CRC */
        fputs("garbage\n", f);
        fputs("1234abcd F a 12 00000000", f); /* torn */
        fclose(f);
    }
    s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(st_metric(s, "weir_sink_replayed_lines_total"), 0);
        CHECK_INT(st_submit1(s, st_mk(GW_LINE_ACCEPTED, "j", T10, 2, 10, buf, sizeof(buf)), &d), 0);
        CHECK_INT(gw_sink_drain(s, 10000), 0);
        gw_sink_destroy(s);
    }
    /* The journal was rewritten clean at start. */
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f)) {
            CHECK(strstr(line, "garbage") == NULL && strstr(line, "00000000 F") == NULL);
            CHECK(line[strlen(line) - 1] == '\n');
        }
        fclose(f);
    }
    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK_INT(st_lake_lines(&L), 2);
    st_lake_free(&L);
    st_env_free(&e);
}

static void put_jline(FILE *f, const char *body)
{
    fprintf(f, "%08" PRIx32 " %s\n", wr_crc32c(0, body, strlen(body)), body);
}

/* A journal left from another spool epoch (the spool's segments and checkpoint are gone):
 * its ranges must not hide the new epoch's lines from a replay. */
static void test_journal_of_another_epoch(void)
{
    struct st_env e;
    st_env_init(&e);
    char path[512];
    snprintf(path, sizeof(path), "%s/sink.journal", e.spool);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) {
        st_env_free(&e);
        return;
    }
    int64_t now = wr_time_now_ms();
    char body[200];
    put_jline(f, "R 0000000000000000");
    put_jline(f, "I 0123456789abcdef");
    snprintf(body, sizeof(body), "F a %" PRId64 " 0000000000000000 00000000ffffffff epoch",
             sp_hour_of_ms(now));
    put_jline(f, body);
    fclose(f);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        gw_sink *s = st_open_sink(&e, 0, 600000);
        if (!s) {
            _exit(3);
        }
        struct st_done d;
        st_done_init(&d);
        char buf[128];
        for (long n = 0; n < 20; n++) {
            st_submit1(s, st_mk(GW_LINE_ACCEPTED, "epoch", now, n, 10, buf, sizeof(buf)), &d);
        }
        _exit(d.ok == 20 ? 0 : 4); /* a crash: nothing flushed */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    gw_sink *s = st_open_sink(&e, 0, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(st_metric(s, "weir_sink_replayed_lines_total"), 20);
        CHECK_INT(gw_sink_drain(s, 10000), 0);
        gw_sink_destroy(s);
    }
    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK_INT(st_lake_lines(&L), 20);
    st_lake_free(&L);
    st_env_free(&e);
}

static void test_ack_from_memory_and_metrics(void)
{
    struct st_env e;
    st_env_init(&e);
    struct gw_sink_opts o = {
        .spool_dir = e.spool, .lake_url = e.url, .ack_from_memory = true, .instance_id = "bench-1"};
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    static char bufs[100][128];
    struct gw_line ls[100];
    int64_t now = wr_time_now_ms();
    for (long n = 0; n < 100; n++) {
        /* This hour: a closed one would be flushed between requests. */
        ls[n] = st_mk(GW_LINE_ACCEPTED, "m", now, n, 10, bufs[n], sizeof(bufs[n]));
    }
    for (int r = 0; r < 10; r++) {
        CHECK_INT(gw_sink_submit(s, ls + r * 10, 10, st_done_cb, &d), 0);
    }
    CHECK_INT(st_done_wait(&d, 10), 10);
    CHECK_INT(gw_sink_drain(s, 10000), 0);
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    gw_sink_metrics(s, &b);
    const char *fams[] = {"weir_spool_",
                          "weir_sink_open_buffers",
                          "weir_sink_buffered_bytes",
                          "weir_sink_flushes_total",
                          "weir_sink_lake_put_seconds_bucket",
                          "weir_sink_replayed_lines_total 0",
                          "weir_sink_lines_total{zone=\"raw\"} 100"};
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        if (!strstr(b.p, fams[i])) {
            CHECK__FAIL("metrics lack %s", fams[i]);
        }
    }
    /* Every family has HELP and TYPE. */
    int types = 0, helps = 0;
    for (const char *p = b.p; (p = strstr(p, "\n# TYPE ")) != NULL; p++) {
        types++;
    }
    for (const char *p = b.p; (p = strstr(p, "# HELP ")) != NULL; p++) {
        helps++;
    }
    CHECK(types >= 20);
    CHECK(helps >= types);
    wr_buf_free(&b);
    gw_sink_destroy(s);
    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK(L.n >= 1); /* one file, or two when the hour ended meanwhile */
    for (size_t i = 0; i < L.n; i++) {
        CHECK(strstr(L.f[i].path, "/bench-1-") != NULL);
    }
    CHECK_INT(st_lake_lines(&L), 100);
    st_lake_free(&L);
    st_env_free(&e);
}

/* Unlocks the sink's buffer mutex after a pause: the stalled buffer thread goes on. */
static void *release_later(void *arg)
{
    gw_sink *s = arg;
    st_sleep_ms(100);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Backpressure: with the buffer thread stalled (its mutex held), submits past 16 MiB of
 * backlog wait about THROTTLE_MAX_MS and are taken, past 64 MiB they are refused
 * (WR_EAGAIN); once the thread goes on, a waiting submit is taken; nothing taken is lost. */
static void test_backpressure(void)
{
    struct st_env e;
    st_env_init(&e);
    gw_sink *s = st_open_sink(&e, 8u << 20, 60000);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    size_t cap = 4u << 20;
    char *big = malloc(cap);
    static char small[128];
    CHECK(big != NULL);
    if (!big) {
        gw_sink_destroy(s);
        st_env_free(&e);
        return;
    }
    int64_t now = wr_time_now_ms();
    struct gw_line line = st_mk(GW_LINE_ACCEPTED, "bp", now, 0, cap - 64, big, cap);
    pthread_mutex_lock(&s->mu); /* the buffer thread stops before it counts a request done */
    long taken = 0;
    int rc = 0;
    for (int i = 0; i < 4; i++) { /* 16 MiB: no wait yet */
        int64_t t0 = wr_time_mono_ns();
        CHECK_INT(gw_sink_submit(s, &line, 1, st_done_cb, &d), 0);
        CHECK((wr_time_mono_ns() - t0) / 1000000 < THROTTLE_MAX_MS);
        taken++;
    }
    CHECK_INT(gw__get64(&s->throttled), 0);
    for (int i = 0; i < 32 && rc == 0; i++) {
        int64_t t0 = wr_time_mono_ns();
        rc = gw_sink_submit(s, &line, 1, st_done_cb, &d);
        int64_t ms = (wr_time_mono_ns() - t0) / 1000000;
        CHECK(ms >= THROTTLE_MAX_MS - 5); /* nobody drains the backlog: the whole wait */
        taken += rc == 0;
    }
    CHECK_INT(rc, WR_EAGAIN);
    CHECK_INT(taken, 16); /* 64 MiB (and the records' framing) is the hard cap */
    CHECK_INT(gw__get64(&s->refused_busy), 1);
    CHECK(gw__get64(&s->throttled) >= 13);
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, release_later, s), 0);
    struct gw_line tiny = st_mk(GW_LINE_ACCEPTED, "bp", now, 1, 16, small, sizeof small);
    CHECK_INT(gw_sink_submit(s, &tiny, 1, st_done_cb, &d), 0); /* waits, then is taken */
    pthread_join(th, NULL);
    CHECK_INT(st_done_wait(&d, taken + 1), taken + 1);
    CHECK_INT(d.ok, taken + 1);
    CHECK_INT(gw_sink_drain(s, 30000), 0);
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    gw_sink_metrics(s, &b);
    CHECK(b.p && strstr(b.p, "weir_sink_throttle_seconds_total ") != NULL);
    CHECK(b.p && strstr(b.p, "weir_sink_refused_busy_total 1\n") != NULL);
    wr_buf_free(&b);
    gw_sink_destroy(s);
    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK_INT(st_lake_lines(&L), taken + 1);
    st_lake_free(&L);
    free(big);
    st_env_free(&e);
}

/* The record codec and the buffers alone. */
static void test_codec_and_buffer(void)
{
    char out[256];
    struct gw_line l = {.kind = GW_LINE_ACCEPTED,
                        .event_type = "t",
                        .event_type_len = 1,
                        .received_at_ms = -1,
                        .p = "{}",
                        .len = 2};
    size_t n = gw__rec_size(&l);
    CHECK_INT(n, SP_REC_HDR + 3);
    gw__rec_encode(&l, out);
    struct sp_rec r;
    CHECK_INT(sp_rec_decode(out, n, &r), 0);
    CHECK_INT(r.received_at_ms, -1);
    CHECK_INT(sp_hour_of_ms(-1), -1);
    CHECK_INT(sp_hour_of_ms(0), 0);
    CHECK_INT(sp_hour_of_ms(HOUR_MS), 1);
    CHECK_MEM(r.line, r.line_len, "{}", 2);
    CHECK_INT(sp_rec_decode(out, 5, &r), WR_EINVAL);
    out[0] = 'z';
    CHECK_INT(sp_rec_decode(out, n, &r), WR_EINVAL);
    out[0] = 'r'; /* rejected with an event type: not ours */
    CHECK_INT(sp_rec_decode(out, n, &r), WR_EINVAL);
    out[0] = 'a';
    out[9] = (char)0xff; /* event type longer than the record */
    CHECK_INT(sp_rec_decode(out, n, &r), WR_EINVAL);

    /* A buffer whose output cap is tiny refuses, and one with room round-trips. */
    struct sp_part k = {.kind = 'a', .hour = 1, .et_len = 1, .event_type = "t"};
    struct libdeflate_compressor *cz = libdeflate_alloc_compressor(1);
    CHECK(cz != NULL);
    struct gw__pbuf *b = gw__pbuf_create(&k, 24, 1024, 3000);
    CHECK(b != NULL);
    int rc = 0;
    char line[1000];
    unsigned seed = 7;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        for (size_t j = 0; j < sizeof(line); j++) {
            line[j] = (char)('!' + rand_r(&seed) % 90); /* incompressible enough */
        }
        rc = gw__pbuf_add(b, cz, 24, line, sizeof(line));
    }
    CHECK_INT(rc, WR_ELIMIT);
    gw__pbuf_destroy(b);
    b = gw__pbuf_create(&k, 24, 256u << 10, 1 << 20);
    for (int i = 0; i < 100; i++) {
        CHECK_INT(gw__pbuf_add(b, cz, 24 + (uint64_t)i, "{\"x\":1}", 7), 0);
    }
    CHECK_INT(b->out_len, 0); /* still raw: the chunk is not full */
    CHECK_INT(gw__pbuf_finish(b, cz), 0);
    CHECK_INT(gw__pbuf_finish(b, cz), 0);
    CHECK_INT(gw__pbuf_add(b, cz, 1, "x", 1), WR_EINVAL);
    char *plain = NULL;
    size_t plen = 0;
    CHECK_INT(st_gunzip(b->out, b->out_len, &plain, &plen), 0);
    CHECK_INT(plen, 800);
    CHECK_INT(st_gzip_members(b->out, b->out_len), 1);
    CHECK_INT(b->first_lsn, 24);
    CHECK_INT(b->last_lsn, 123);
    free(plain);
    gw__pbuf_destroy(b);

    /* Small chunks: one member per full chunk, lines never split across members, a line
     * larger than the chunk is a member of its own, and the whole reads back in order. */
    b = gw__pbuf_create(&k, 1, 100, 1 << 20);
    struct wr_buf want;
    wr_buf_init(&want, 1 << 20);
    char big[350];
    memset(big, 'b', sizeof(big));
    for (int i = 0; i < 50; i++) {
        char ln[64];
        int w = snprintf(ln, sizeof(ln), "{\"i\":%d,\"pad\":\"%.*s\"}", i, i % 40, big);
        size_t len = i % 10 == 9 ? sizeof(big) : (size_t)w;
        const char *src = i % 10 == 9 ? big : ln;
        CHECK_INT(gw__pbuf_add(b, cz, (uint64_t)i + 1, src, len), 0);
        wr_buf_append(&want, src, len);
        wr_buf_append(&want, "\n", 1);
        CHECK(b->raw_len <= (len + 1 > 100 ? len + 1 : 100));
    }
    CHECK_INT(b->lines, 50);
    CHECK_INT(b->raw_bytes, want.len);
    CHECK_INT(gw__pbuf_finish(b, cz), 0);
    int members = st_gzip_members(b->out, b->out_len);
    CHECK(members >= 10);
    CHECK_INT(members, (int)b->members);
    CHECK_INT(st_gunzip(b->out, b->out_len, &plain, &plen), 0);
    CHECK_MEM(plain, plen, want.p, want.len);
    free(plain);
    /* Each member holds whole lines: every member's text ends with a newline. */
    const unsigned char *m = b->out;
    size_t left = b->out_len;
    while (left > 0) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        inflateInit2(&z, 15 + 16);
        char tmp[4096];
        z.next_in = (Bytef *)(uintptr_t)m;
        z.avail_in = (uInt)left;
        z.next_out = (Bytef *)tmp;
        z.avail_out = sizeof(tmp);
        CHECK_INT(inflate(&z, Z_FINISH), Z_STREAM_END);
        size_t got = sizeof(tmp) - z.avail_out;
        CHECK(got > 0 && tmp[got - 1] == '\n');
        m += left - z.avail_in;
        left = z.avail_in;
        inflateEnd(&z);
    }
    /* A damaged or truncated file is refused by the reader the tests use. */
    CHECK(st_gunzip(b->out, b->out_len - 3, &plain, &plen) != 0);
    free(plain);
    wr_buf_free(&want);
    gw__pbuf_destroy(b);

    /* A buffer finished with no line is still a gzip file (one empty member). */
    b = gw__pbuf_create(&k, 5, 1024, 1024);
    CHECK_INT(gw__pbuf_finish(b, cz), 0);
    CHECK_INT(st_gzip_members(b->out, b->out_len), 1);
    CHECK_INT(st_gunzip(b->out, b->out_len, &plain, &plen), 0);
    CHECK_INT(plen, 0);
    free(plain);
    gw__pbuf_destroy(b);
    gw__pbuf_destroy(NULL);
    libdeflate_free_compressor(cz);
}

int main(void)
{
    wr_log_level = WR_LOG_ERROR + 1; /* the failure paths log on purpose */
    CHECK_RUN(test_codec_and_buffer);
    CHECK_RUN(test_routing_and_names);
    CHECK_RUN(test_flush_by_size);
    CHECK_RUN(test_flush_by_age_and_hour);
    CHECK_RUN(test_crash_with_open_buffer);
    CHECK_RUN(test_damaged_journal);
    CHECK_RUN(test_journal_of_another_epoch);
    CHECK_RUN(test_lake_failure_then_recovery);
    CHECK_RUN(test_s3_unreachable);
    CHECK_RUN(test_spool_full);
    CHECK_RUN(test_two_instances);
    CHECK_RUN(test_refused_input);
    CHECK_RUN(test_ack_from_memory_and_metrics);
    CHECK_RUN(test_backpressure);
    return CHECK_DONE();
}
