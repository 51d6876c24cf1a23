/* test_curator.c - the curator's pieces without Postgres: the dedup set, fingerprints, the
 * column model from schemas, and cur_day_curate on a file:// lake with hostile raw input
 * (broken gzip, broken lines, escaped ids, oversized hours). */
#include "curator/curator.h"
#include "curator/cur_int.h"
#include "json/json.h"
#include "common/arena.h"
#include "tests/unit/check.h"
#include "tests/unit/pq_membuf.h"

#include <stdio.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static void test_idset(void)
{
    cur_idset *s = cur_idset_create();
    CHECK(s != NULL);
    CHECK_INT(cur_idset_add(s, "a", 1), 1);
    CHECK_INT(cur_idset_add(s, "a", 1), 0);
    CHECK_INT(cur_idset_add(s, "", 0), 1);
    CHECK_INT(cur_idset_add(s, "", 0), 0);
    char id[32];
    int fresh = 0;
    for (int i = 0; i < 200000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        fresh += cur_idset_add(s, id, strlen(id));
    }
    CHECK_INT(fresh, 200000);
    fresh = 0;
    for (int i = 0; i < 200000; i += 7) {
        snprintf(id, sizeof id, "id-%d", i);
        fresh += cur_idset_add(s, id, strlen(id));
    }
    CHECK_INT(fresh, 0);
    CHECK_INT((long long)cur_idset_count(s), 200002);
    CHECK(cur_idset_bytes(s) <= 200002 * 43); /* 16-byte slots at 37.5..75 % load */
    cur_idset_destroy(s);
    cur_idset_destroy(NULL);
}

static void test_fingerprint(void)
{
    const char *k1[] = {"a", "b"};
    const char *k2[] = {"b", "a"};
    uint64_t sz[] = {1, 2};
    uint64_t sz2[] = {1, 3};
    char f1[65], f2[65], f3[65], f4[65];
    cur_fingerprint(k1, sz, 2, f1);
    cur_fingerprint(k2, sz, 2, f2);
    cur_fingerprint(k1, sz2, 2, f3);
    cur_fingerprint(k1, sz, 2, f4);
    CHECK(strcmp(f1, f2) != 0);
    CHECK(strcmp(f1, f3) != 0);
    CHECK_STR(f1, f4);
    CHECK_INT((long long)strlen(f1), 64);
}

static const struct pq_column *col(const cur_model *m, const char *name)
{
    for (size_t i = 0; i < cur_model_columns(m); i++) {
        if (!strcmp(cur_model_column(m, i)->name, name)) {
            return cur_model_column(m, i);
        }
    }
    return NULL;
}

static void test_model(void)
{
    const char *v1 =
        "{\"type\":\"object\",\"properties\":{"
        "\"i\":{\"type\":\"integer\"},\"n\":{\"type\":[\"number\",\"null\"]},"
        "\"b\":{\"type\":\"boolean\"},\"s\":{\"type\":\"string\"},"
        "\"t\":{\"type\":\"string\",\"format\":\"date-time\"},\"o\":{\"type\":\"object\"},"
        "\"a\":{\"type\":\"array\"},\"mixed\":{\"type\":[\"string\",\"integer\"]},"
        "\"any\":{},\"widen\":{\"type\":\"integer\"},\"clash\":{\"type\":\"string\"},"
        "\"source\":{\"type\":\"string\"}}}";
    const char *v2 = "{\"properties\":{\"widen\":{\"type\":\"number\"},\"clash\":{\"type\":\"boolean\"},"
                     "\"new\":{\"type\":\"integer\"}}}";
    const char *docs[] = {v1, v2};
    struct wr_err err = {0};
    cur_model *m = cur_model_create(docs, 2, &err);
    CHECK(m != NULL);
    if (!m) {
        return;
    }
    CHECK_INT((long long)cur_model_columns(m), 5 + 7 + 13);
    CHECK_STR(cur_model_column(m, 0)->name, "event_id");
    CHECK_STR(cur_model_column(m, 3)->name, "received_at");
    CHECK_INT(cur_model_column(m, 3)->logical, PQ_LT_TIMESTAMP_US);
    CHECK_INT(col(m, "i")->type, PQ_INT64);
    CHECK_INT(col(m, "n")->type, PQ_DOUBLE);
    CHECK_INT(col(m, "b")->type, PQ_BOOLEAN);
    CHECK_INT(col(m, "s")->logical, PQ_LT_STRING);
    CHECK_INT(col(m, "t")->logical, PQ_LT_TIMESTAMP_US);
    CHECK_INT(col(m, "o")->logical, PQ_LT_JSON);
    CHECK_INT(col(m, "a")->logical, PQ_LT_JSON);
    CHECK_INT(col(m, "mixed")->logical, PQ_LT_JSON);
    CHECK_INT(col(m, "any")->logical, PQ_LT_JSON);
    CHECK_INT(col(m, "widen")->type, PQ_DOUBLE);
    CHECK_INT(col(m, "clash")->logical, PQ_LT_JSON);
    CHECK_INT(col(m, "new")->type, PQ_INT64);
    CHECK(col(m, "payload_source") != NULL);
    CHECK(col(m, "i")->optional);
    cur_model_destroy(m);

    const char *bad[] = {"{\"properties\": "};
    CHECK(cur_model_create(bad, 1, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    m = cur_model_create(NULL, 0, &err);
    CHECK(m != NULL);
    CHECK(m && col(m, "payload") && col(m, "payload")->logical == PQ_LT_JSON);
    cur_model_destroy(m);
    cur_model_destroy(NULL);
}

/* ---- one day on a local lake ------------------------------------------------------ */

static char lake[256];

static void put_file(const char *rel, const void *p, size_t n)
{
    char path[1024], cmd[1200];
    snprintf(path, sizeof path, "%s/%s", lake, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    CHECK_INT(system(cmd), 0);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_INT((long long)fwrite(p, 1, n, f), (long long)n);
        fclose(f);
    }
}

static void put_gz(const char *rel, const char *text)
{
    size_t n = strlen(text);
    uLongf cap = compressBound(n) + 64;
    unsigned char *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    CHECK_INT(deflate(&z, Z_FINISH), Z_STREAM_END);
    put_file(rel, out, z.total_out);
    deflateEnd(&z);
    free(out);
}

#define ENV(id, ts, src, payload)                                                         \
    "{\"event_type\":\"t\",\"schema_version\":1,\"event_id\":\"" id "\",\"received_at\":\"" \
    ts "\",\"source\":\"" src "\",\"payload\":" payload "}\n"

static size_t count_parts(const char *dt)
{
    size_t n = 0;
    for (unsigned i = 0; i < 100; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/curated/events/event_type=t/dt=%s/part-%05u.parquet", lake,
                 dt, i);
        struct stat stt;
        if (stat(path, &stt) == 0) {
            n++;
        }
    }
    return n;
}

static const struct cur_rollup *roll(const struct cur_day_result *r, int hr, const char *src)
{
    for (size_t i = 0; i < r->nrollups; i++) {
        if (r->rollups[i].hr == hr && !strcmp(r->rollups[i].source, src)) {
            return &r->rollups[i];
        }
    }
    return NULL;
}

static void test_day(void)
{
    snprintf(lake, sizeof lake, "/tmp/weir-test-curator-%ld", (long)getpid());
    char url[300];
    snprintf(url, sizeof url, "file://%s", lake);
    struct wr_err err = {0};
    lake_store *st = lake_store_open(url, NULL, &err);
    CHECK(st != NULL);
    if (!st) {
        return;
    }
    const char *schema = "{\"properties\":{\"n\":{\"type\":\"integer\"},\"s\":{\"type\":\"string\"}}}";
    cur_model *m = cur_model_create(&schema, 1, &err);
    CHECK(m != NULL);

    /* day before, hr 23: an id that reappears the next day (lookback dedup) */
    put_gz("raw/event_type=t/dt=2026-01-01/hr=23/a.jsonl.gz",
           ENV("early", "2026-01-01T23:59:00.000Z", "w", "{\"n\":1}"));
    /* hr 00: two gateways, a replay, a retry, an escaped id equal to a plain one, broken
     * lines of every kind, a wrongly typed value */
    put_gz("raw/event_type=t/dt=2026-01-02/hr=00/a.jsonl.gz",
           ENV("e1", "2026-01-02T00:00:02.000Z", "w", "{\"n\":2,\"s\":\"x\"}")
           ENV("early", "2026-01-02T00:00:03.000Z", "w", "{\"n\":1}")
           ENV("ab", "2026-01-02T00:00:04.000Z", "w", "{\"n\":\"not a number\"}")
           "{not json}\n"
           "[1,2]\n"
           "\n"
           "{\"event_id\":\"noreceived\",\"source\":\"w\"}\n"
           "{\"event_id\":\"brokenpayload\",\"received_at\":\"2026-01-02T00:00:05.000Z\","
           "\"source\":\"w\",\"payload\":{\"n\":}\n");
    put_gz("raw/event_type=t/dt=2026-01-02/hr=00/b.jsonl.gz",
           ENV("e1", "2026-01-02T00:00:02.000Z", "w", "{\"n\":2,\"s\":\"x\"}")
           ENV("a\\u0062", "2026-01-02T00:00:01.000Z", "i", "{\"n\":3}")
           ENV("e2", "2026-01-02T00:00:01.500Z", "i", "{\"n\":4,\"extra\":true}"));
    /* hr 01: a retry of e2 an hour later, an empty file, a file that is not gzip, a
     * truncated file (its first member is read), and a file without a final newline */
    put_gz("raw/event_type=t/dt=2026-01-02/hr=01/a.jsonl.gz",
           ENV("e2", "2026-01-02T01:00:01.500Z", "i", "{\"n\":4}")
           ENV("e3", "2026-01-02T01:10:00Z", "i", "{\"n\":5,\"s\":7}"));
    put_gz("raw/event_type=t/dt=2026-01-02/hr=01/empty.jsonl.gz", "");
    put_file("raw/event_type=t/dt=2026-01-02/hr=01/notgz.jsonl.gz", "hello\n", 6);
    put_gz("raw/event_type=t/dt=2026-01-02/hr=01/nonl.jsonl.gz",
           "{\"event_id\":\"e4\",\"received_at\":\"2026-01-02T01:20:00Z\",\"source\":\"i\"}");
    {
        /* a complete member then 7 bytes of a second one */
        const char *t1 = ENV("e5", "2026-01-02T01:30:00Z", "i", "{}");
        uLongf cap = 1024;
        unsigned char out[1024];
        z_stream z;
        memset(&z, 0, sizeof z);
        deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        z.next_in = (unsigned char *)t1;
        z.avail_in = (uInt)strlen(t1);
        z.next_out = out;
        z.avail_out = (uInt)cap;
        deflate(&z, Z_FINISH);
        size_t n = z.total_out;
        deflateEnd(&z);
        memcpy(out + n, out, 7);
        put_file("raw/event_type=t/dt=2026-01-02/hr=01/trunc.jsonl.gz", out, n + 7);
    }
    /* a foreign file name is ignored */
    put_file("raw/event_type=t/dt=2026-01-02/hr=01/README.txt", "x", 1);

    struct cur_config cfg = {0};
    cfg.lake_url = url;
    cfg.now_ms = 1767398400000LL + 3 * 86400000LL; /* days later: every hour closed */
    cur_config_defaults(&cfg);
    struct cur_day_result r;
    int rc = cur_day_curate(st, m, "t", "2026-01-02", &cfg, NULL, NULL, &r, &err);
    CHECK_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    /* kept: ab (escaped copy earlier wins), e2, e1, e3, e4, e5 */
    CHECK_INT((long long)r.stats.rows, 6);
    /* duplicates: e1 replay, ab plain copy, early (lookback), e2 retry */
    CHECK_INT((long long)r.stats.duplicates, 4);
    /* invalid: {not json}, [1,2], noreceived, brokenpayload */
    CHECK_INT((long long)r.stats.invalid_lines, 4);
    CHECK_INT((long long)r.stats.bad_files, 2);
    CHECK_INT((long long)r.stats.type_mismatches, 1);
    CHECK_INT((long long)r.stats.extra_props, 1);
    CHECK_INT(r.parts, 1);
    CHECK_INT((long long)count_parts("2026-01-02"), 1);
    const struct cur_rollup *x = roll(&r, 0, "w");
    CHECK(x && x->events == 4 && x->duplicates == 3 && x->distinct_event_ids == 1 &&
          x->invalid_lines == 2);
    x = roll(&r, 0, "i");
    CHECK(x && x->events == 2 && x->duplicates == 0 && x->distinct_event_ids == 2);
    x = roll(&r, 0, "");
    CHECK(x && x->invalid_lines == 2 && x->bad_files == 0);
    x = roll(&r, 1, "i");
    CHECK(x && x->events == 4 && x->duplicates == 1 && x->distinct_event_ids == 3);
    x = roll(&r, 1, "");
    CHECK(x && x->bad_files == 2 && x->events == 0);
    char fp[65];
    memcpy(fp, r.fingerprint, sizeof fp);
    struct cur_stats one = r.stats;
    size_t nroll = r.nrollups;
    cur_day_result_free(&r);

    /* the same with the next hour read on a helper thread */
    cfg.pipeline = true;
    rc = cur_day_curate(st, m, "t", "2026-01-02", &cfg, NULL, NULL, &r, &err);
    CHECK_INT(rc, 0);
    CHECK(memcmp(&one, &r.stats, sizeof one) == 0);
    CHECK_INT((long long)r.nrollups, (long long)nroll);
    cur_day_result_free(&r);
    cfg.pipeline = false;

    /* same input: same fingerprint (tiny sizes are accepted) */
    cfg.target_file_bytes = 1;
    cfg.row_group_bytes = 1;
    rc = cur_day_curate(st, m, "t", "2026-01-02", &cfg, NULL, NULL, &r, &err);
    CHECK_INT(rc, 0);
    CHECK_STR(r.fingerprint, fp);
    cur_day_result_free(&r);

    /* hours not closed yet are left for later */
    cfg.target_file_bytes = 128u << 20;
    cfg.now_ms = 1767225600000LL + 86400000LL + 3600000LL + 600000LL + 1000; /* 01-02 01:10:01 */
    rc = cur_day_curate(st, m, "t", "2026-01-02", &cfg, NULL, NULL, &r, &err);
    CHECK_INT(rc, 0);
    CHECK_INT((long long)r.stats.rows, 3); /* hr 00 only */
    CHECK(strcmp(r.fingerprint, fp) != 0);
    cur_day_result_free(&r);

    /* an hour larger than the cap fails the day with WR_ELIMIT, not a crash */
    cfg.now_ms = 1767398400000LL + 3 * 86400000LL;
    cfg.max_hour_bytes = 64;
    rc = cur_day_curate(st, m, "t", "2026-01-02", &cfg, NULL, NULL, &r, &err);
    CHECK_INT(rc, WR_ELIMIT);
    cur_day_result_free(&r);
    cfg.max_hour_bytes = 0;
    cur_config_defaults(&cfg);

    /* a day with no files writes nothing and deletes what was there */
    rc = cur_day_curate(st, m, "t", "2026-01-05", &cfg, NULL, NULL, &r, &err);
    CHECK_INT(rc, 0);
    CHECK_INT(r.parts, 0);
    cur_day_result_free(&r);

    /* the rollup file */
    struct cur_rollup rows[2] = {{.hr = 0, .source = "w", .events = 3}, {.hr = 1, .source = ""}};
    const char *types[2] = {"t", "t"};
    CHECK_INT(cur_rollups_write(st, "2026-01-02", types, rows, 2, &cfg, &err), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/curated/rollups/hourly/dt=2026-01-02/part-00000.parquet", lake);
    struct stat stt;
    CHECK_INT(stat(path, &stt), 0);
    CHECK_INT(cur_rollups_write(st, "bad/day", types, rows, 2, &cfg, &err), WR_EINVAL);

    cur_model_destroy(m);
    lake_store_destroy(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", lake);
    CHECK_INT(system(cmd), 0);
}

static int stop_now(void *arg)
{
    (void)arg;
    return 1;
}

static void test_renew_stop(void)
{
    snprintf(lake, sizeof lake, "/tmp/weir-test-curator-r%ld", (long)getpid());
    char url[300];
    snprintf(url, sizeof url, "file://%s", lake);
    struct wr_err err = {0};
    lake_store *st = lake_store_open(url, NULL, &err);
    cur_model *m = cur_model_create(NULL, 0, &err);
    put_gz("raw/event_type=t/dt=2026-01-02/hr=00/a.jsonl.gz",
           ENV("e1", "2026-01-02T00:00:02.000Z", "w", "{\"n\":2}"));
    struct cur_config cfg = {0};
    cfg.lake_url = url;
    cfg.now_ms = 1767398400000LL + 3 * 86400000LL;
    cur_config_defaults(&cfg);
    struct cur_day_result r;
    CHECK_INT(cur_day_curate(st, m, "t", "2026-01-02", &cfg, stop_now, NULL, &r, &err), WR_EAGAIN);
    CHECK_INT((long long)count_parts("2026-01-02"), 0);
    cur_day_result_free(&r);
    CHECK_INT(cur_day_curate(st, m, "t", "2026-01-02", &cfg, NULL, NULL, &r, &err), 0);
    CHECK_INT((long long)r.stats.rows, 1);
    cur_day_result_free(&r);
    CHECK_INT(cur_day_curate(st, m, "t", "2026-1-2", &cfg, NULL, NULL, &r, &err), WR_EINVAL);
    cur_model_destroy(m);
    lake_store_destroy(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", lake);
    CHECK_INT(system(cmd), 0);
}

/* ---- page compression through the task pool ------------------------------------- */

static int refuse_submit(void *arg, void (*fn)(void *), void *job)
{
    (void)arg;
    (void)fn;
    (void)job;
    return -1;
}

static size_t settled_bytes; /* pq_writer_buffered_bytes after a settle mid-way */

/* Writes the same rows with exec (NULL: inline) into out; small pages and row groups so
 * that many jobs are in flight, a dictionary that falls back to PLAIN mid-chunk, nulls. */
static int write_rows(const struct pq_exec *exec, struct mbuf *out)
{
    struct pq_column cols[3] = {
        {.name = "s", .type = PQ_BYTE_ARRAY, .logical = PQ_LT_STRING, .optional = 1},
        {.name = "i", .type = PQ_INT64, .optional = 1},
        {.name = "u", .type = PQ_BYTE_ARRAY, .logical = PQ_LT_STRING, .optional = 1},
    };
    struct pq_schema sc = {cols, 3};
    struct pq_opts o = {0};
    o.exec = exec;
    o.page_bytes = 4096;
    o.row_group_bytes = 200000;
    o.dict_max_entries = 300;
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&sc, &o, mb_write, out, &err);
    if (!w) {
        return -1;
    }
    int rc = 0;
    char v[64];
    for (int r = 0; r < 40000 && rc == 0; r++) {
        snprintf(v, sizeof v, "value-%d", r % 500);
        rc = pq_writer_put_str(w, 0, v, strlen(v));
        if (rc == 0 && r % 7) {
            rc = pq_writer_put_int64(w, 1, (int64_t)r * 7919 % 100003);
        }
        snprintf(v, sizeof v, "unique-%d-%d", r, r * 31);
        if (rc == 0 && r % 3) {
            rc = pq_writer_put_str(w, 2, v, strlen(v));
        }
        if (rc == 0) {
            rc = pq_writer_end_row(w);
        }
        if (rc == 0 && r == 20000) {
            rc = pq_writer_settle(w);
            settled_bytes = pq_writer_buffered_bytes(w);
        }
    }
    if (rc == 0) {
        rc = pq_writer_close(w, &err);
    }
    pq_writer_destroy(w);
    return rc;
}

static void test_exec_identity(void)
{
    struct mbuf a = {0}, b = {0}, c = {0};
    CHECK_INT(write_rows(NULL, &a), 0);
    size_t inline_bytes = settled_bytes;
    CHECK(inline_bytes > 0);
    cur_pool pl;
    CHECK_INT(cur__pool_init(&pl, 1, 0), 0);
    CHECK_INT(write_rows(&pl.exec, &b), 0);
    cur__pool_fini(&pl);
    /* settled, the size estimate is the inline writer's (parts are cut at the same row) */
    CHECK_INT((long long)settled_bytes, (long long)inline_bytes);
    /* an executor that refuses every job: the writer compresses inline, same bytes */
    struct pq_exec refuse = {NULL, refuse_submit, NULL};
    CHECK_INT(write_rows(&refuse, &c), 0);
    CHECK(a.len > 10000);
    CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
    CHECK(a.len == c.len && memcmp(a.p, c.p, a.len) == 0);
    /* a writer destroyed with jobs in flight (no close) waits for them */
    CHECK_INT(cur__pool_init(&pl, 1, 0), 0);
    struct pq_column col = {.name = "s", .type = PQ_BYTE_ARRAY, .logical = PQ_LT_STRING};
    struct pq_schema sc = {&col, 1};
    struct pq_opts o = {0};
    o.exec = &pl.exec;
    o.page_bytes = 1024;
    struct mbuf d = {0};
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&sc, &o, mb_write, &d, &err);
    CHECK(w != NULL);
    char v[64];
    for (int r = 0; w && r < 5000; r++) {
        snprintf(v, sizeof v, "row-%d", r);
        pq_writer_put_str(w, 0, v, strlen(v));
        pq_writer_end_row(w);
    }
    pq_writer_destroy(w);
    cur__pool_fini(&pl);
    free(a.p);
    free(b.p);
    free(c.p);
    free(d.p);
}

/* The JSON reader's duplicate-name check on payload-sized objects (hashed for 17..256
 * members, sorted above), which every kept line goes through. */
static int parse_members(int n, int dup_at, int dup_of, int long_names)
{
    char *doc = malloc((size_t)n * 80 + 16);
    size_t len = 0;
    doc[len++] = '{';
    for (int i = 0; i < n; i++) {
        int k = i == dup_at ? dup_of : i;
        len += (size_t)snprintf(doc + len, 80, "%s\"%s%d\":%d", i ? "," : "",
                                long_names ? "a_rather_long_shared_prefix_" : "", k, i);
    }
    doc[len++] = '}';
    wr_arena *a = wr_arena_create(1 << 16, 64u << 20);
    struct js_val *v;
    struct js_error je;
    int rc = js_parse(a, doc, len, NULL, &v, &je);
    if (rc == 0 && (v->type != JS_OBJECT || v->n != (uint32_t)n)) {
        rc = -100;
    }
    wr_arena_destroy(a);
    free(doc);
    return rc;
}

static void test_json_dups(void)
{
    CHECK_INT(parse_members(40, -1, 0, 0), 0);
    CHECK_INT(parse_members(40, 39, 0, 0), JS_EDUPKEY);
    CHECK_INT(parse_members(40, 20, 19, 1), JS_EDUPKEY);
    CHECK_INT(parse_members(17, 16, 15, 0), JS_EDUPKEY);
    CHECK_INT(parse_members(256, -1, 0, 1), 0);
    CHECK_INT(parse_members(256, 255, 3, 1), JS_EDUPKEY);
    CHECK_INT(parse_members(300, -1, 0, 0), 0);
    CHECK_INT(parse_members(300, 299, 1, 0), JS_EDUPKEY);
    /* the empty name twice, and once */
    wr_arena *a = wr_arena_create(1 << 16, 1u << 20);
    struct js_val *v;
    struct js_error je;
    char doc[512] = "{\"\":1";
    for (int i = 0; i < 20; i++) {
        size_t l = strlen(doc);
        snprintf(doc + l, sizeof doc - l, ",\"k%d\":%d", i, i);
    }
    size_t l = strlen(doc);
    snprintf(doc + l, sizeof doc - l, "}");
    CHECK_INT(js_parse(a, doc, strlen(doc), NULL, &v, &je), 0);
    snprintf(doc + l, sizeof doc - l, ",\"\":2}");
    CHECK_INT(js_parse(a, doc, strlen(doc), NULL, &v, &je), JS_EDUPKEY);
    wr_arena_destroy(a);
}

static int exists(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", lake, rel);
    struct stat stt;
    return stat(path, &stt) == 0;
}

/* The fenced names part-<gen><nnnnn>: which parts each cleanup deletes. */
static void test_parts_delete(void)
{
    snprintf(lake, sizeof lake, "/tmp/weir-test-curator-f%ld", (long)getpid());
    char url[300];
    snprintf(url, sizeof url, "file://%s", lake);
    struct wr_err err = {0};
    lake_store *st = lake_store_open(url, NULL, &err);
    CHECK(st != NULL);
    static const char *const names[] = {
        "part-00000.parquet", "part-00001.parquet",     /* unfenced 0, 1 */
        "part-300000.parquet", "part-300001.parquet",   /* generation 3 */
        "part-1200000.parquet",                         /* generation 12 */
        "part-01200000.parquet", "part-12.parquet",     /* not names this module writes */
        "other.parquet", "part-00000.parquet.tmp",
    };
    enum { N = sizeof names / sizeof names[0] };
    char rel[N][256];
    for (size_t i = 0; i < N; i++) {
        snprintf(rel[i], sizeof rel[i], "curated/events/event_type=t/dt=2026-01-05/%s", names[i]);
        put_file(rel[i], "x", 1);
    }
    /* A lost run of generation 3 deletes its own parts only. */
    CHECK_INT(cur__parts_delete(st, "t", "2026-01-05", UINT_MAX, 0, 3, &err), 0);
    int want1[N] = {1, 1, 0, 0, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < N; i++) {
        CHECK_INT(exists(rel[i]), want1[i]);
    }
    put_file(rel[2], "x", 1);
    /* Generation 12 committed: every older generation and every unfenced part goes. */
    CHECK_INT(cur__parts_delete(st, "t", "2026-01-05", 0, 12, 0, &err), 0);
    int want2[N] = {0, 0, 0, 0, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < N; i++) {
        CHECK_INT(exists(rel[i]), want2[i]);
    }
    /* An unfenced run that wrote one part: its higher numbers and every generation go. */
    put_file(rel[0], "x", 1);
    put_file(rel[1], "x", 1);
    CHECK_INT(cur__parts_delete(st, "t", "2026-01-05", 1, UINT64_MAX, 0, &err), 0);
    int want3[N] = {1, 0, 0, 0, 0, 1, 1, 1, 1};
    for (size_t i = 0; i < N; i++) {
        CHECK_INT(exists(rel[i]), want3[i]);
    }
    lake_store_destroy(st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", lake);
    CHECK_INT(system(cmd), 0);
}

int main(void)
{
    CHECK_RUN(test_idset);
    CHECK_RUN(test_fingerprint);
    CHECK_RUN(test_model);
    CHECK_RUN(test_json_dups);
    CHECK_RUN(test_exec_identity);
    CHECK_RUN(test_day);
    CHECK_RUN(test_renew_stop);
    CHECK_RUN(test_parts_delete);
    return CHECK_DONE();
}
