/* test_sink_spool.c - the sink over a spool that misbehaves: hostile or damaged records
 * (good CRCs, but no place in the lake) go to rejected/ with their reason and ingest goes
 * on; descriptors running out (a real RLIMIT_NOFILE) answer 503-class and the sink takes
 * lines again, with no restart, once they are back; nothing refused reaches the lake. */
#include "check.h"
#include "sink_testutil.h"

#include "common/arena.h"
#include "common/clock.h"
#include "json/json.h"
#include "spool/record.h"
#include "spool/spool.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define HOUR_MS 3600000LL
#define T10 1763719200000LL /* 2025-11-21T10:00:00Z */

static void count_ack(void *arg, int status)
{
    struct st_done *d = arg;
    st_done_cb(d, status);
}

/* Writes records straight into a spool directory, as a damaged disk or a hostile
 * process with write access could leave them (their CRCs are right). */
static void write_spool(const char *dir, const struct sp_rec *recs, size_t n,
                        const char *const *raw, size_t nraw)
{
    struct sp_spool_opts o = {.dir = dir};
    struct wr_err err = {0};
    sp_spool *sp = sp_spool_create(&o, &err);
    CHECK(sp != NULL);
    if (!sp) {
        fprintf(stderr, "sp_spool_create: %s\n", err.msg);
        return;
    }
    struct st_done d;
    st_done_init(&d);
    char buf[4096];
    for (size_t i = 0; i < n; i++) {
        size_t len = sp_rec_size(&recs[i]);
        CHECK(len <= sizeof(buf));
        sp_rec_encode(&recs[i], buf);
        CHECK_INT(sp_spool_append1(sp, buf, len, count_ack, &d, NULL), 0);
    }
    for (size_t i = 0; i < nraw; i++) {
        CHECK_INT(sp_spool_append1(sp, raw[i], strlen(raw[i]), count_ack, &d, NULL), 0);
    }
    CHECK_INT(st_done_wait(&d, (long)(n + nraw)), (long)(n + nraw));
    CHECK_INT(d.ok, (long)(n + nraw));
    sp_spool_destroy(sp);
}

/* 1 when every line of f is one JSON value. */
static int lines_are_json(const struct st_file *f)
{
    wr_arena *a = wr_arena_create(64 * 1024, 64u << 20);
    int ok = a != NULL;
    const char *p = f->data, *end = f->data + f->len;
    while (ok && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            ok = 0;
            break;
        }
        struct js_val *v = NULL;
        struct js_error e;
        ok = js_parse(a, p, (size_t)(nl - p), NULL, &v, &e) == 0 && v && v->type == JS_OBJECT;
        p = nl + 1;
    }
    wr_arena_destroy(a);
    return ok;
}

/* f's data is not NUL-terminated. */
static int has(const struct st_file *f, const char *s)
{
    return memmem(f->data, f->len, s, strlen(s)) != NULL;
}

static size_t count_of(const struct st_file *f, const char *s)
{
    size_t n = 0, sl = strlen(s);
    for (const char *p = f->data, *end = f->data + f->len;
         (p = memmem(p, (size_t)(end - p), s, sl)) != NULL; p += sl) {
        n++;
    }
    return n;
}

static const struct st_file *find_file(const struct st_lake *L, const char *prefix, int nth)
{
    for (size_t i = 0; i < L->n; i++) {
        if (strncmp(L->f[i].path, prefix, strlen(prefix)) == 0 && nth-- == 0) {
            return &L->f[i];
        }
    }
    return NULL;
}

static void test_unplaceable_records_to_rejected(void)
{
    struct st_env e;
    st_env_init(&e);
    static const char good[] = "{\"n\":1}", bad_type[] = "{\"n\":2}", bad_time[] = "{\"n\":3}",
                      rej[] = "{\"n\":4}", bad_utf8[] = "{\"n\":5,\"x\":\"\xff\xfe\"}";
    const struct sp_rec recs[] = {
        {SP_KIND_ACCEPTED, T10, "ev", 2, good, sizeof(good) - 1},
        {SP_KIND_ACCEPTED, T10, "../etc", 6, bad_type, sizeof(bad_type) - 1},
        {SP_KIND_ACCEPTED, INT64_MAX / 2, "ev", 2, bad_time, sizeof(bad_time) - 1},
        {SP_KIND_REJECTED, T10, "", 0, rej, sizeof(rej) - 1},
        {SP_KIND_ACCEPTED, T10, "e v", 3, bad_utf8, sizeof(bad_utf8) - 1},
    };
    /* Not a gateway record at all: an unknown kind byte. */
    const char *raw[] = {"z\001\002garbage that is no record"};
    write_spool(e.spool, recs, sizeof(recs) / sizeof(recs[0]), raw, 1);

    gw_sink *s = st_open_sink(&e, 0, 600000);
    CHECK(s != NULL);
    if (!s) {
        st_env_free(&e);
        return;
    }
    /* Ingest goes on: a line submitted after the replay is taken and stored. */
    CHECK(gw_sink_ready(s));
    struct st_done d;
    st_done_init(&d);
    char buf[256];
    CHECK_INT(st_submit1(s, st_mk(GW_LINE_ACCEPTED, "ev", T10, 10, 5, buf, sizeof(buf)), &d), 0);
    CHECK_INT(d.ok, 1);
    CHECK_INT(st_metric(s, "weir_sink_unplaceable_records_total"), 4);
    CHECK_INT(st_metric(s, "weir_sink_failed"), 0);
    CHECK_INT(gw_sink_drain(s, 10000), 0);
    gw_sink_destroy(s);

    struct st_lake L;
    st_lake_read(&L, e.lake);
    CHECK_INT(L.temps, 0);
    long raw_lines = 0, rej_lines = 0, unplaceable = 0;
    for (size_t i = 0; i < L.n; i++) {
        const struct st_file *f = &L.f[i];
        CHECK(f->gzip_ok);
        CHECK(lines_are_json(f));
        long lines = 0;
        for (size_t k = 0; k < f->len; k++) {
            lines += f->data[k] == '\n';
        }
        if (strncmp(f->path, "raw/", 4) == 0) {
            CHECK(strncmp(f->path, "raw/event_type=ev/dt=2025-11-21/hr=10/", 38) == 0);
            raw_lines += lines;
        } else {
            CHECK(strncmp(f->path, "rejected/", 9) == 0);
            rej_lines += lines;
            unplaceable += (long)count_of(f, "\"code\":\"unplaceable\"");
        }
    }
    CHECK_INT(raw_lines, 2); /* n=1 from the spool, n=10 submitted */
    CHECK_INT(rej_lines, 5); /* n=4 as it was, and the four unplaceable records */
    CHECK_INT(unplaceable, 4);
    /* The bad event type keeps its hour; the bad time goes to the hour of time 0. */
    const struct st_file *f10 = find_file(&L, "rejected/dt=2025-11-21/hr=10/", 0);
    const struct st_file *f70 = find_file(&L, "rejected/dt=1970-01-01/hr=00/", 0);
    CHECK(f10 != NULL && f70 != NULL);
    if (f10 && f70) {
        CHECK(has(f10, "event type is not a lake key segment"));
        CHECK(has(f10, "\"raw\":\"{\\\"n\\\":2}\""));
        CHECK(has(f10, "\\u00ff\\u00fe")); /* bytes that are no UTF-8 */
        CHECK(has(f10, "{\"n\":4}"));
        CHECK(has(f70, "received_at_ms is outside years 0..9999"));
        CHECK(has(f70, "\"received_at\":\"1970-01-01T00:00:00.000Z\""));
        CHECK(has(f70, "not a gateway record"));
    }
    st_lake_free(&L);

    /* Released: a restart replays nothing and writes nothing twice. */
    s = st_open_sink(&e, 0, 600000);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(st_metric(s, "weir_sink_replayed_lines_total"), 0);
        gw_sink_destroy(s);
    }
    st_lake_read(&L, e.lake);
    CHECK_INT(st_lake_lines(&L), 7);
    st_lake_free(&L);
    st_env_free(&e);
}

/* Opens /dev/null until the descriptor limit is reached; returns how many it holds. */
static int hold_fds(int *held, int n, int cap)
{
    while (n < cap) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            break;
        }
        held[n++] = fd;
    }
    return n;
}

/* Waits up to 10 s until the spool's preallocated spare is whole (its thread then idles
 * and opens or closes nothing until the spare is taken). */
static int wait_spare(const char *spool, off_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/spare.tmp", spool);
    for (int i = 0; i < 1000; i++) {
        struct stat sb;
        if (stat(path, &sb) == 0 && sb.st_size == size) {
            st_sleep_ms(20); /* its close follows the last write */
            return 1;
        }
        st_sleep_ms(10);
    }
    return 0;
}

/* Waits up to 10 s for gw_sink_ready(s) == want. */
static int wait_ready(gw_sink *s, int want)
{
    for (int i = 0; i < 1000; i++) {
        if ((int)gw_sink_ready(s) == want) {
            return 1;
        }
        st_sleep_ms(10);
    }
    return 0;
}

static void test_emfile_then_recovery(void)
{
    struct st_env e;
    st_env_init(&e);
    /* A 64 KiB spool: 8 KiB segments, so a few lines need a new segment file. */
    struct gw_sink_opts o = {.spool_dir = e.spool,
                             .spool_max_bytes = 64 << 10,
                             .lake_url = e.url,
                             .flush_interval_ms = 600000,
                             .flush_bytes = 64 << 20};
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "gw_sink_create: %s\n", err.msg);
        st_env_free(&e);
        return;
    }
    /* Lines of the current hour and a long interval: no buffer is flushed during the
     * test, so no other thread opens or closes a descriptor while the limit is low. */
    int64_t now = wr_time_now_ms();
    enum { MAXN = 200 };
    static int status_of[MAXN];
    struct st_done d;
    st_done_init(&d);
    char buf[1200];
    long n = 0;
    CHECK_INT(st_submit1(s, st_mk(GW_LINE_ACCEPTED, "ev", now, n++, 1000, buf, sizeof(buf)), &d),
              0);
    status_of[0] = 1;

    CHECK(wait_spare(e.spool, 8192));
    struct rlimit old;
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = dup(0);
    CHECK(lowest >= 0);
    close(lowest);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)lowest + 16;
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* Every free slot held (again before each line, should another thread have closed
     * one): no new descriptor can be opened. */
    int held[64], nheld = hold_fds(held, 0, 64);
    CHECK(nheld > 0);
    /* Lines until one is refused: the segment after the first 8 KiB cannot be opened. */
    int refused_submit = 0;
    while (n < MAXN) {
        nheld = hold_fds(held, nheld, 64);
        long before = d.ok + d.eio + d.other;
        int rc = st_submit1(s, st_mk(GW_LINE_ACCEPTED, "ev", now, n, 1000, buf, sizeof(buf)), &d);
        if (rc != 0) {
            refused_submit = rc;
            n++;
            break;
        }
        status_of[n++] = d.ok > before ? 1 : -1;
        if (d.other > 0) {
            break;
        }
    }
    CHECK_INT(d.other, 1); /* the refused line's done said WR_EAGAIN (503 + Retry-After) */
    CHECK_INT(d.eio, 0);
    CHECK_INT(refused_submit, 0);
    CHECK(!gw_sink_ready(s)); /* /readyz: 503 while the spool cannot write */
    CHECK_INT(
        gw_sink_submit(
            s, (struct gw_line[]){st_mk(GW_LINE_ACCEPTED, "ev", now, MAXN, 10, buf, sizeof(buf))},
            1, st_done_cb, &d),
        WR_EAGAIN);
    CHECK_INT(st_metric(s, "weir_spool_failed"), 1);
    CHECK_INT(st_metric(s, "weir_sink_failed"), 0);

    while (nheld > 0) {
        close(held[--nheld]);
    }
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK(wait_ready(s, 1)); /* no restart */
    long ok_before = d.ok;
    for (int k = 0; k < 20 && n < MAXN; k++) {
        CHECK_INT(st_submit1(s, st_mk(GW_LINE_ACCEPTED, "ev", now, n, 1000, buf, sizeof(buf)), &d),
                  0);
        status_of[n++] = 1;
    }
    CHECK_INT(d.ok - ok_before, 20);
    CHECK(st_metric(s, "weir_spool_transient_errors_total") >= 1);
    CHECK_INT(st_metric(s, "weir_spool_failed"), 0);
    CHECK_INT(gw_sink_drain(s, 10000), 0);
    gw_sink_destroy(s);

    /* Every acknowledged line once, no refused one. */
    struct st_lake L;
    st_lake_read(&L, e.lake);
    static int counts[MAXN + 1];
    memset(counts, 0, sizeof(counts));
    for (size_t i = 0; i < L.n; i++) {
        const char *p = L.f[i].data, *end = p + L.f[i].len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            long k = -1;
            if (sscanf(p, "{\"n\":%ld,", &k) == 1 && k >= 0 && k <= MAXN) {
                counts[k]++;
            }
            p = nl ? nl + 1 : end;
        }
    }
    int bad = 0;
    for (long k = 0; k < n; k++) {
        bad += counts[k] != (status_of[k] == 1 ? 1 : 0);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(counts[MAXN], 0);
    st_lake_free(&L);
    st_env_free(&e);
}

int main(void)
{
    CHECK_RUN(test_unplaceable_records_to_rejected);
    CHECK_RUN(test_emfile_then_recovery);
    return CHECK_DONE();
}
