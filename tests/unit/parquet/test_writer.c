/* test_writer.c - the Parquet writer's contract on hostile and mistaken use: refused schemas,
 * misuse of the row protocol, oversized values, buffer caps, and write callback failures that
 * must propagate. File contents are checked by readers in pq_fixtures + pq_check.mjs. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "parquet/parquet.h"

struct sink {
    unsigned char *p;
    size_t len, cap;
    size_t fail_after; /* fail once this many bytes were accepted (0 = never) */
    int calls;
};

static int sink_write(void *arg, const void *p, size_t len)
{
    struct sink *s = arg;
    s->calls++;
    if (s->fail_after && s->len + len > s->fail_after) {
        return WR_EIO;
    }
    if (s->len + len > s->cap) {
        size_t nc = (s->len + len) * 2;
        unsigned char *np = realloc(s->p, nc);
        if (!np) {
            return WR_ENOMEM;
        }
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->len, p, len);
    s->len += len;
    return 0;
}

static const struct pq_column basic_cols[] = {
    {"id", PQ_INT64, PQ_LT_INT, 0, PQ_ENC_AUTO},
    {"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
    {"x", PQ_DOUBLE, PQ_LT_NONE, 1, PQ_ENC_AUTO},
};
static const struct pq_schema basic = {basic_cols, 3};

/* A valid file: PAR1 at both ends and a footer length that fits. */
static int looks_valid(const struct sink *s)
{
    if (s->len < 12 || memcmp(s->p, "PAR1", 4) != 0 || memcmp(s->p + s->len - 4, "PAR1", 4) != 0) {
        return 0;
    }
    const unsigned char *l = s->p + s->len - 8;
    size_t flen = (size_t)l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16 | (size_t)l[3] << 24;
    return flen > 0 && flen <= s->len - 12;
}

static int contains(const struct sink *s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s->len; i++) {
        if (memcmp(s->p + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_refused_schemas(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    struct pq_schema zero = {basic_cols, 0};
    CHECK(pq_writer_create(&zero, NULL, sink_write, &s, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    CHECK(pq_writer_create(NULL, NULL, sink_write, &s, &err) == NULL);
    CHECK(pq_writer_create(&basic, NULL, NULL, &s, &err) == NULL);

    struct pq_column bad[2] = {{"a", PQ_INT64, PQ_LT_STRING, 0, 0}, {"b", PQ_INT64, 0, 0, 0}};
    struct pq_schema one = {bad, 1};
    err.code = 0;
    CHECK(pq_writer_create(&one, NULL, sink_write, &s, &err) == NULL); /* STRING on INT64 */
    CHECK_INT(err.code, WR_EINVAL);
    bad[0].logical = PQ_LT_NONE;
    bad[0].encoding = PQ_ENC_DICT; /* dictionary only for byte arrays */
    CHECK(pq_writer_create(&one, NULL, sink_write, &s, &err) == NULL);
    bad[0].encoding = PQ_ENC_AUTO;
    bad[0].type = (enum pq_type)99;
    CHECK(pq_writer_create(&one, NULL, sink_write, &s, &err) == NULL);
    bad[0].type = PQ_INT32;
    bad[0].logical = PQ_LT_TIMESTAMP_US; /* timestamps are INT64 */
    CHECK(pq_writer_create(&one, NULL, sink_write, &s, &err) == NULL);
    bad[0].logical = PQ_LT_NONE;
    bad[0].name = "";
    CHECK(pq_writer_create(&one, NULL, sink_write, &s, &err) == NULL);
    bad[0].name = NULL;
    CHECK(pq_writer_create(&one, NULL, sink_write, &s, &err) == NULL);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    bad[0].name = longname;
    CHECK(pq_writer_create(&one, NULL, sink_write, &s, &err) == NULL);
    bad[0].name = "b"; /* duplicate of bad[1] */
    struct pq_schema two = {bad, 2};
    CHECK(pq_writer_create(&two, NULL, sink_write, &s, &err) == NULL);
    CHECK(strstr(err.msg, "duplicate") != NULL);

    struct pq_opts o = {0};
    o.build = "abc)";
    CHECK(pq_writer_create(&basic, &o, sink_write, &s, &err) == NULL);
    o.build = NULL;
    o.codec = (enum pq_codec)7;
    CHECK(pq_writer_create(&basic, &o, sink_write, &s, &err) == NULL);
    CHECK_INT(s.calls, 0);
}

static void test_max_columns(void)
{
    static struct pq_column cols[PQ_MAX_COLUMNS + 1];
    static char names[PQ_MAX_COLUMNS + 1][16];
    for (int i = 0; i <= PQ_MAX_COLUMNS; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        cols[i] = (struct pq_column){names[i], i % 2 ? PQ_BYTE_ARRAY : PQ_INT64, PQ_LT_NONE, 1, 0};
    }
    struct sink s = {0};
    struct wr_err err = {0};
    struct pq_schema too_many = {cols, PQ_MAX_COLUMNS + 1};
    CHECK(pq_writer_create(&too_many, NULL, sink_write, &s, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    struct pq_schema max = {cols, PQ_MAX_COLUMNS};
    pq_writer *w = pq_writer_create(&max, NULL, sink_write, &s, &err);
    CHECK(w != NULL);
    for (int r = 0; r < 3; r++) {
        CHECK_INT(pq_writer_put_int64(w, 0, r), 0);
        CHECK_INT(pq_writer_put_str(w, 1023, "z", 1), 0);
        CHECK_INT(pq_writer_end_row(w), 0); /* the 1022 others become null */
    }
    CHECK_INT(pq_writer_close(w, &err), 0);
    CHECK(looks_valid(&s));
    CHECK(contains(&s, "c1023"));
    pq_writer_destroy(w);
    free(s.p);
}

static void test_row_protocol(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&basic, NULL, sink_write, &s, &err);
    CHECK(w != NULL);
    CHECK_INT(pq_writer_put_double(w, 0, 1.0), WR_EINVAL); /* wrong type */
    CHECK_INT(pq_writer_put_int64(w, 3, 1), WR_EINVAL);    /* no such column */
    CHECK_INT(pq_writer_put_null(w, 0), WR_EINVAL);        /* required */
    CHECK_INT(pq_writer_put_str(w, 1, NULL, 3), WR_EINVAL);
    CHECK_INT(pq_writer_put_int64(w, 0, 1), 0);
    CHECK_INT(pq_writer_put_int64(w, 0, 2), WR_EINVAL);    /* set twice in one row */
    CHECK_INT(pq_writer_put_str(w, 1, NULL, 0), 0);        /* empty string, not null */
    CHECK_INT(pq_writer_end_row(w), 0);
    CHECK_INT(pq_writer_rows(w), 1);
    CHECK_INT(pq_writer_put_str(w, 1, "x", 1), 0);
    CHECK_INT(pq_writer_end_row(w), WR_EINVAL);           /* required id missing: sticky */
    CHECK_INT(pq_writer_put_int64(w, 0, 1), WR_EINVAL);
    CHECK_INT(pq_writer_close(w, &err), WR_EINVAL);
    CHECK(strstr(err.msg, "id") != NULL);
    pq_writer_destroy(w);
    free(s.p);
}

static void test_close_with_open_row(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&basic, NULL, sink_write, &s, &err);
    CHECK_INT(pq_writer_put_int64(w, 0, 1), 0);
    CHECK_INT(pq_writer_close(w, &err), WR_EINVAL);
    CHECK_INT(pq_writer_close(w, &err), WR_EINVAL);
    pq_writer_destroy(w);
    pq_writer_destroy(NULL);
    free(s.p);
}

static void test_empty_file(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&basic, NULL, sink_write, &s, &err);
    CHECK_INT(s.calls, 0); /* nothing before the first flush */
    CHECK_INT(pq_writer_close(w, &err), 0);
    CHECK(looks_valid(&s));
    CHECK(contains(&s, "weir version 0.1.0 (build unknown)"));
    CHECK_INT(pq_writer_bytes_written(w), s.len);
    CHECK_INT(pq_writer_put_int64(w, 0, 1), WR_EINVAL); /* closed */
    pq_writer_destroy(w);
    free(s.p);
}

static void test_huge_strings(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    struct pq_opts o = {0};
    o.max_value_bytes = 1 << 20;
    o.codec = PQ_CODEC_UNCOMPRESSED;
    pq_writer *w = pq_writer_create(&basic, &o, sink_write, &s, &err);
    size_t big = (1 << 20) + 1;
    char *p = malloc(big);
    memset(p, 'q', big);
    CHECK_INT(pq_writer_put_int64(w, 0, 1), 0);
    CHECK_INT(pq_writer_put_str(w, 1, p, big), WR_ELIMIT); /* refused, writer still usable */
    CHECK_INT(pq_writer_put_null(w, 1), 0);
    CHECK_INT(pq_writer_end_row(w), 0);
    for (int r = 0; r < 5; r++) { /* exactly the limit: accepted, one page each */
        CHECK_INT(pq_writer_put_int64(w, 0, r), 0);
        p[0] = (char)('a' + r);
        CHECK_INT(pq_writer_put_str(w, 1, p, big - 1), 0);
        CHECK_INT(pq_writer_end_row(w), 0);
    }
    CHECK_INT(pq_writer_close(w, &err), 0);
    CHECK(looks_valid(&s));
    CHECK(s.len > 5 * (1 << 20));
    /* statistics are truncated to 64 bytes: the 1 MiB value is not in the footer twice */
    const unsigned char *l = s.p + s.len - 8;
    size_t flen = (size_t)l[0] | (size_t)l[1] << 8 | (size_t)l[2] << 16 | (size_t)l[3] << 24;
    CHECK(flen < 4096);
    pq_writer_destroy(w);
    free(p);
    free(s.p);
}

static void test_buffer_cap(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    struct pq_opts o = {0};
    o.max_buffer_bytes = 64 << 10;
    o.codec = PQ_CODEC_UNCOMPRESSED;
    o.row_group_bytes = (size_t)1 << 30;
    pq_writer *w = pq_writer_create(&basic, &o, sink_write, &s, &err);
    CHECK(w != NULL);
    int rc = 0;
    for (int r = 0; r < 300000 && rc == 0; r++) { /* 2.4 MB: pages close past the cap */
        rc = pq_writer_put_int64(w, 0, r);
        if (rc == 0) {
            rc = pq_writer_end_row(w);
        }
    }
    CHECK_INT(rc, WR_ELIMIT);
    CHECK(strstr(pq_writer_errmsg(w), "cap") != NULL);
    CHECK_INT(pq_writer_close(w, &err), WR_ELIMIT);
    pq_writer_destroy(w);
    free(s.p);
}

static void test_write_failure_propagates(void)
{
    for (int codec = 0; codec < 3; codec++) {
        struct sink s = {0};
        s.fail_after = 3000;
        struct wr_err err = {0};
        struct pq_opts o = {0};
        o.codec = (enum pq_codec)codec;
        o.row_group_rows = 100;
        pq_writer *w = pq_writer_create(&basic, &o, sink_write, &s, &err);
        int rc = 0, r;
        for (r = 0; r < 100000 && rc == 0; r++) {
            char name[32];
            int n = snprintf(name, sizeof name, "row-%d", r);
            pq_writer_put_int64(w, 0, r);
            pq_writer_put_str(w, 1, name, (size_t)n);
            rc = pq_writer_end_row(w);
        }
        CHECK_INT(rc, WR_EIO);
        CHECK(r < 100000);
        /* every later call reports the same failure; close does not write */
        int calls = s.calls;
        CHECK_INT(pq_writer_put_int64(w, 0, 1), WR_EIO);
        CHECK_INT(pq_writer_put_null(w, 1), WR_EIO);
        CHECK_INT(pq_writer_end_row(w), WR_EIO);
        CHECK_INT(pq_writer_close(w, &err), WR_EIO);
        CHECK_INT(err.code, WR_EIO);
        CHECK(strstr(err.msg, "write") != NULL);
        CHECK_INT(s.calls, calls);
        pq_writer_destroy(w);
        free(s.p);
    }
    /* a failure on the footer itself */
    struct sink s = {0};
    s.fail_after = 5;
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&basic, NULL, sink_write, &s, &err);
    CHECK_INT(pq_writer_close(w, &err), WR_EIO);
    pq_writer_destroy(w);
    free(s.p);
}

static int write_positive(void *arg, const void *p, size_t len)
{
    (void)arg;
    (void)p;
    (void)len;
    return 1;
}

static void test_positive_return(void)
{
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&basic, NULL, write_positive, NULL, &err);
    CHECK_INT(pq_writer_close(w, &err), WR_EIO);
    pq_writer_destroy(w);
}

static void test_kv_and_build(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    struct pq_kv kv[2] = {{"weir.event_type", "page_view"}, {"weir.schema_version", "3"}};
    struct pq_opts o = {0};
    o.build = "1a2b3c4";
    o.kv = kv;
    o.nkv = 2;
    pq_writer *w = pq_writer_create(&basic, &o, sink_write, &s, &err);
    CHECK_INT(pq_writer_put_int64(w, 0, 7), 0);
    CHECK_INT(pq_writer_end_row(w), 0);
    CHECK_INT(pq_writer_close(w, &err), 0);
    CHECK(contains(&s, "weir version 0.1.0 (build 1a2b3c4)"));
    CHECK(contains(&s, "page_view"));
    CHECK(contains(&s, "weir.schema_version"));
    pq_writer_destroy(w);
    free(s.p);
    o.kv = NULL; /* nkv without kv */
    CHECK(pq_writer_create(&basic, &o, sink_write, &s, &err) == NULL);
}

/* Random schemas, values and tiny limits (pages, dictionaries, row groups, stats) under the
 * sanitizers: every boundary of the buffering code is crossed many times. */
static void test_random_shapes(void)
{
    uint64_t x = 0x2545F4914F6CDD1Dull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    static char strbuf[600];
    for (int round = 0; round < 40; round++) {
        struct pq_column cols[12];
        char names[12][8];
        size_t ncols = 1 + RND() % 12;
        for (size_t i = 0; i < ncols; i++) {
            snprintf(names[i], sizeof names[i], "c%zu", i);
            enum pq_type t = (enum pq_type)(RND() % 5);
            cols[i] = (struct pq_column){names[i], t, PQ_LT_NONE, (int)(RND() % 2),
                                         t == PQ_BYTE_ARRAY ? (enum pq_encoding)(RND() % 3) : PQ_ENC_AUTO};
        }
        struct pq_schema sc = {cols, ncols};
        struct pq_opts o = {0};
        o.codec = (enum pq_codec)(RND() % 3);
        o.page_bytes = 1 + RND() % 3000;
        o.dict_max_entries = 1 + RND() % 50;
        o.dict_max_bytes = 1 + RND() % 2000;
        o.row_group_rows = 1 + RND() % 700;
        o.row_group_bytes = 1 + RND() % 100000;
        o.stats_max_bytes = 1 + RND() % 20;
        struct sink s = {0};
        struct wr_err err = {0};
        pq_writer *w = pq_writer_create(&sc, &o, sink_write, &s, &err);
        CHECK(w != NULL);
        int rc = 0;
        long rows = (long)(RND() % 2500);
        for (long r = 0; r < rows && rc == 0; r++) {
            for (size_t i = 0; i < ncols && rc == 0; i++) {
                uint64_t v = RND();
                if (cols[i].optional && v % 5 == 0) {
                    continue; /* left unset: end_row makes it null */
                }
                switch (cols[i].type) {
                case PQ_BOOLEAN:
                    rc = pq_writer_put_bool(w, i, (int)(v >> 9) & 1);
                    break;
                case PQ_INT32:
                    rc = pq_writer_put_int32(w, i, (int32_t)(v >> 7));
                    break;
                case PQ_INT64:
                    rc = pq_writer_put_int64(w, i, (int64_t)v);
                    break;
                case PQ_DOUBLE:
                    rc = pq_writer_put_double(w, i, (double)(int64_t)v / 3.0);
                    break;
                case PQ_BYTE_ARRAY: {
                    size_t len = (v >> 8) % (v % 3 ? 8 : sizeof strbuf);
                    for (size_t k = 0; k < len; k++) {
                        strbuf[k] = (char)(0x20 + (RND() % 90));
                    }
                    if (len && v % 7 == 0) {
                        strbuf[len - 1] = (char)0xC3; /* truncation must cope with any bytes */
                    }
                    rc = pq_writer_put_str(w, i, strbuf, len);
                    break;
                }
                }
            }
            if (rc == 0) {
                rc = pq_writer_end_row(w);
            }
        }
        CHECK_INT(rc, 0);
        CHECK_INT(pq_writer_close(w, &err), 0);
        CHECK(looks_valid(&s));
        CHECK_INT(pq_writer_rows(w), rows);
        pq_writer_destroy(w);
        free(s.p);
    }
#undef RND
}

static void test_flush_and_buffered(void)
{
    struct sink s = {0};
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&basic, NULL, sink_write, &s, &err);
    CHECK_INT(pq_writer_flush(w), 0); /* nothing to flush: writes nothing */
    CHECK_INT(s.calls, 0);
    CHECK_INT(pq_writer_buffered_bytes(w), 0);
    for (int r = 0; r < 1000; r++) {
        CHECK_INT(pq_writer_put_int64(w, 0, r), 0);
        CHECK_INT(pq_writer_put_str(w, 1, "abc", 3), 0);
        CHECK_INT(pq_writer_end_row(w), 0);
    }
    CHECK(pq_writer_buffered_bytes(w) >= 8000);
    CHECK_INT(pq_writer_put_int64(w, 0, 1), 0);
    CHECK_INT(pq_writer_flush(w), WR_EINVAL); /* inside a row: refused, not sticky */
    CHECK_INT(pq_writer_end_row(w), 0);
    CHECK_INT(pq_writer_flush(w), 0);
    CHECK(s.len > 4);
    CHECK(pq_writer_buffered_bytes(w) < 8000);
    size_t after_first = s.len;
    CHECK_INT(pq_writer_put_int64(w, 0, 2), 0);
    CHECK_INT(pq_writer_end_row(w), 0);
    CHECK_INT(pq_writer_close(w, &err), 0);
    CHECK(s.len > after_first);
    CHECK(looks_valid(&s));
    CHECK_INT(pq_writer_rows(w), 1002);
    pq_writer_destroy(w);
    free(s.p);
}

int main(void)
{
    CHECK_RUN(test_refused_schemas);
    CHECK_RUN(test_max_columns);
    CHECK_RUN(test_row_protocol);
    CHECK_RUN(test_close_with_open_row);
    CHECK_RUN(test_empty_file);
    CHECK_RUN(test_huge_strings);
    CHECK_RUN(test_buffer_cap);
    CHECK_RUN(test_write_failure_propagates);
    CHECK_RUN(test_positive_return);
    CHECK_RUN(test_kv_and_build);
    CHECK_RUN(test_random_shapes);
    CHECK_RUN(test_flush_and_buffered);
    return CHECK_DONE();
}
