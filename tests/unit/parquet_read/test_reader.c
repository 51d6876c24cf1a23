/* test_reader.c - the Parquet reader's contract on files weir's writer makes in memory: values
 * back as written (row and batch API), projection, filters and statistics pruning, limits,
 * and hostile input (every truncation, flipped bytes, a forged footer) refused with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parquet/parquet.h"
#include "parquet/pq_read.h"
#include "pq_membuf.h"
#include "parquet/read_int.h"

enum { C_ID, C_TS, C_NAME, C_SCORE, C_FLAG, C_N32, NC };
static const struct pq_column cols[NC] = {
    {"id", PQ_INT64, PQ_LT_INT, 0, 0},           {"ts", PQ_INT64, PQ_LT_TIMESTAMP_US, 1, 0},
    {"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0}, {"score", PQ_DOUBLE, PQ_LT_NONE, 1, 0},
    {"flag", PQ_BOOLEAN, PQ_LT_NONE, 1, 0},      {"n32", PQ_INT32, PQ_LT_INT, 0, 0},
};
#define ROWS 3000
#define RG 1000

static void name_of(long i, char *out, size_t n)
{
    snprintf(out, n, "name-%ld", i % 37);
}

/* rows: id = i, ts = 1e15 + i*1000 (null when i % 10 == 3), name (null when i % 7 == 0),
 * score = i / 4.0 (null when i % 5 == 1), flag = i % 3 == 0 (null when i % 11 == 0), n32 = -i.
 * A row group every RG rows. */
static struct mbuf make_file(enum pq_codec codec)
{
    struct mbuf b = {NULL, 0, 0};
    struct pq_opts o;
    memset(&o, 0, sizeof o);
    o.codec = codec;
    o.page_bytes = 2048; /* several pages per chunk */
    struct pq_kv kv = {"weir.event_type", "page_view"};
    o.kv = &kv;
    o.nkv = 1;
    struct pq_schema s = {cols, NC};
    struct wr_err err;
    pq_writer *w = pq_writer_create(&s, &o, mb_write, &b, &err);
    CHECK(w != NULL);
    for (long i = 0; i < ROWS; i++) {
        char nm[32];
        name_of(i, nm, sizeof nm);
        CHECK_INT(pq_writer_put_int64(w, C_ID, i), 0);
        if (i % 10 != 3) {
            pq_writer_put_int64(w, C_TS, 1000000000000000 + i * 1000);
        }
        if (i % 7 != 0) {
            pq_writer_put_str(w, C_NAME, nm, strlen(nm));
        }
        if (i % 5 != 1) {
            pq_writer_put_double(w, C_SCORE, (double)i / 4.0);
        }
        if (i % 11 != 0) {
            pq_writer_put_bool(w, C_FLAG, i % 3 == 0);
        }
        pq_writer_put_int32(w, C_N32, (int32_t)-i);
        CHECK_INT(pq_writer_end_row(w), 0);
        if ((i + 1) % RG == 0) {
            CHECK_INT(pq_writer_flush(w), 0);
        }
    }
    CHECK_INT(pq_writer_close(w, &err), 0);
    pq_writer_destroy(w);
    return b;
}

/* Checks row i's projected values (projection = all columns in file order). */
static void check_row(const pq_reader *r, long i)
{
    struct pq_value v;
    char nm[32];
    pq_reader_value(r, C_ID, &v);
    CHECK_INT(v.i, i);
    pq_reader_value(r, C_TS, &v);
    CHECK_INT(v.null, i % 10 == 3);
    if (!v.null) {
        CHECK_INT(v.i, 1000000000000000 + i * 1000);
    }
    pq_reader_value(r, C_NAME, &v);
    CHECK_INT(v.null, i % 7 == 0);
    if (!v.null) {
        name_of(i, nm, sizeof nm);
        CHECK_MEM(v.p, v.len, nm, strlen(nm));
    }
    pq_reader_value(r, C_SCORE, &v);
    CHECK_INT(v.null, i % 5 == 1);
    if (!v.null) {
        CHECK(v.d == (double)i / 4.0);
    }
    pq_reader_value(r, C_FLAG, &v);
    CHECK_INT(v.null, i % 11 == 0);
    if (!v.null) {
        CHECK_INT(v.i, i % 3 == 0);
    }
    pq_reader_value(r, C_N32, &v);
    CHECK_INT(v.i, -i);
}

static void test_read_back(void)
{
    enum pq_codec codecs[] = {PQ_CODEC_ZSTD, PQ_CODEC_GZIP, PQ_CODEC_UNCOMPRESSED};
    for (size_t c = 0; c < 3; c++) {
        struct mbuf b = make_file(codecs[c]);
        struct wr_err err = {0, ""};
        pq_reader *r = pq_reader_open_mem(b.p, b.len, NULL, &err);
        CHECK(r != NULL);
        if (!r) {
            fprintf(stderr, "%s\n", err.msg);
            free(b.p);
            continue;
        }
        CHECK_INT(pq_reader_num_rows(r), ROWS);
        CHECK_INT(pq_reader_num_row_groups(r), ROWS / RG);
        CHECK_INT(pq_reader_num_columns(r), NC);
        CHECK_STR(pq_reader_kv(r, "weir.event_type"), "page_view");
        CHECK(pq_reader_kv(r, "nope") == NULL);
        CHECK(strncmp(pq_reader_created_by(r), "weir version", 12) == 0);
        const struct pq_rcol *ts = pq_reader_column(r, C_TS);
        CHECK_INT(ts->logical, PQ_RL_TIMESTAMP);
        CHECK_INT(ts->unit, PQ_UNIT_MICROS);
        CHECK_INT(ts->utc, 1);
        CHECK_INT(ts->optional, 1);
        CHECK_INT(pq_reader_column(r, C_ID)->optional, 0);
        CHECK_INT(pq_reader_column(r, C_NAME)->logical, PQ_RL_STRING);
        CHECK(pq_reader_column(r, NC) == NULL);
        CHECK_INT(pq_reader_find_column(r, "score"), C_SCORE);
        CHECK_INT(pq_reader_find_column(r, "nope"), -1);
        long i = 0;
        int rc;
        while ((rc = pq_reader_next_row(r, &err)) == 1) {
            check_row(r, i++);
        }
        CHECK_INT(rc, 0);
        CHECK_INT(i, ROWS);
        struct pq_read_stats st;
        pq_reader_stats(r, &st);
        CHECK_INT(st.groups_read, ROWS / RG);
        CHECK(st.pages > (uint64_t)NC * (ROWS / RG)); /* more than one page per chunk */
        CHECK_INT(pq_reader_next_row(r, &err), 0);    /* stays at the end */
        pq_reader_destroy(r);
        free(b.p);
    }
}

static void test_batch_and_projection(void)
{
    struct mbuf b = make_file(PQ_CODEC_ZSTD);
    struct wr_err err = {0, ""};
    pq_reader *r = pq_reader_open_mem(b.p, b.len, NULL, &err);
    const char *names[] = {"name", "id"};
    CHECK_INT(pq_reader_project(r, names, 2, &err), 0);
    const char *bad[] = {"id", "nope"};
    CHECK_INT(pq_reader_project(r, bad, 2, &err), WR_ENOENT);
    CHECK(strstr(err.msg, "nope") != NULL);
    CHECK_INT(pq_reader_project(r, names, 2, &err), 0);
    long row = 0;
    while (pq_reader_next_group(r, &err) == 1) {
        struct pq_batch nb, ib;
        CHECK_INT(pq_reader_batch(r, 0, &nb), 0);
        CHECK_INT(pq_reader_batch(r, 1, &ib), 0);
        CHECK_INT(pq_reader_batch(r, 2, &ib), WR_EINVAL);
        CHECK_INT(pq_reader_batch(r, 1, &ib), 0);
        CHECK_INT(nb.nrows, RG);
        CHECK(nb.valid != NULL);
        CHECK(ib.valid == NULL);
        const int64_t *ids = ib.values;
        const struct pq_bytes *ns = nb.values;
        for (size_t k = 0; k < nb.nrows; k++, row++) {
            CHECK_INT(ids[k], row);
            CHECK_INT(nb.valid[k], row % 7 != 0);
            if (row % 7) {
                char nm[32];
                name_of(row, nm, sizeof nm);
                CHECK_MEM(ns[k].p, ns[k].len, nm, strlen(nm));
            } else {
                CHECK_INT(ns[k].len, 0);
            }
        }
        size_t nsel;
        pq_reader_selection(r, &nsel);
        CHECK_INT(nsel, RG);
    }
    CHECK_INT(row, ROWS);
    CHECK_INT(pq_reader_project(r, names, 2, &err), WR_EINVAL); /* reading began */
    pq_reader_destroy(r);
    free(b.p);
}

static long count_rows(pq_reader *r, struct pq_read_stats *st)
{
    struct wr_err err = {0, ""};
    long n = 0;
    while (pq_reader_next_row(r, &err) == 1) {
        n++;
    }
    pq_reader_stats(r, st);
    return n;
}

static void test_filters(void)
{
    struct mbuf b = make_file(PQ_CODEC_ZSTD);
    struct wr_err err = {0, ""};
    struct pq_read_stats st;

    /* id in [1500, 1509]: one group read, two skipped by statistics */
    pq_reader *r = pq_reader_open_mem(b.p, b.len, NULL, &err);
    struct pq_fv lo = {PQ_FV_INT, 1500, 0, NULL, 0}, hi = {PQ_FV_INT, 1509, 0, NULL, 0};
    CHECK_INT(pq_reader_filter(r, "id", &lo, &hi, &err), 0);
    long first = -1, n = 0;
    while (pq_reader_next_row(r, &err) == 1) {
        struct pq_value v;
        pq_reader_value(r, C_ID, &v);
        if (first < 0) {
            first = v.i;
        }
        check_row(r, v.i);
        n++;
    }
    pq_reader_stats(r, &st);
    CHECK_INT(n, 10);
    CHECK_INT(first, 1500);
    CHECK_INT(st.groups_read, 1);
    CHECK_INT(st.groups_skipped_stats, 2);
    CHECK(st.pages_skipped >= 5); /* the other columns' pages without row 1500..1509 (7) */
    pq_reader_destroy(r);

    /* ts beyond every value: all groups skipped, nothing read */
    r = pq_reader_open_mem(b.p, b.len, NULL, &err);
    lo.i = 2000000000000000;
    CHECK_INT(pq_reader_filter(r, "ts", &lo, NULL, &err), 0);
    CHECK_INT(count_rows(r, &st), 0);
    CHECK_INT(st.groups_skipped_stats, 3);
    CHECK_INT(st.pages, 0);
    pq_reader_destroy(r);

    /* name = "name-5" and score <= 100: rows checked against the generator */
    r = pq_reader_open_mem(b.p, b.len, NULL, &err);
    struct pq_fv s = {PQ_FV_BYTES, 0, 0, "name-5", 6};
    struct pq_fv d = {PQ_FV_DOUBLE, 0, 100.0, NULL, 0};
    CHECK_INT(pq_reader_filter(r, "name", &s, &s, &err), 0);
    CHECK_INT(pq_reader_filter(r, "score", NULL, &d, &err), 0);
    long want = 0;
    for (long i = 0; i < ROWS; i++) {
        want += i % 7 != 0 && i % 37 == 5 && i % 5 != 1 && (double)i / 4.0 <= 100.0;
    }
    CHECK_INT(count_rows(r, &st), want);
    CHECK_INT(st.groups_skipped_stats, 2); /* score (i / 4) of groups 1 and 2 starts at 250 */
    pq_reader_destroy(r);

    /* a name no group holds: skipped after reading only the filtered column */
    r = pq_reader_open_mem(b.p, b.len, NULL, &err);
    struct pq_fv z = {PQ_FV_BYTES, 0, 0, "name-5x", 7};
    CHECK_INT(pq_reader_filter(r, "name", &z, &z, &err), 0);
    CHECK_INT(count_rows(r, &st), 0);
    CHECK_INT(st.groups_skipped_rows, 3);
    pq_reader_destroy(r);

    /* refusals */
    r = pq_reader_open_mem(b.p, b.len, NULL, &err);
    CHECK_INT(pq_reader_filter(r, "id", &d, NULL, &err), WR_EINVAL);
    CHECK_INT(pq_reader_filter(r, "name", &lo, NULL, &err), WR_EINVAL);
    CHECK_INT(pq_reader_filter(r, "nope", &lo, NULL, &err), WR_ENOENT);
    CHECK(strstr(err.msg, "nope") != NULL);
    CHECK_INT(count_rows(r, &st), ROWS);
    CHECK_INT(pq_reader_filter(r, "id", &lo, NULL, &err), WR_EINVAL); /* reading began */
    pq_reader_destroy(r);
    free(b.p);
}

static void test_limits(void)
{
    struct mbuf b = make_file(PQ_CODEC_ZSTD);
    struct wr_err err = {0, ""};
    struct pq_read_opts o;
    memset(&o, 0, sizeof o);
    o.max_group_bytes = 4096;
    pq_reader *r = pq_reader_open_mem(b.p, b.len, &o, &err);
    CHECK(r != NULL);
    CHECK_INT(pq_reader_next_group(r, &err), WR_ELIMIT);
    CHECK(strstr(err.msg, "memory limit") != NULL);
    CHECK_INT(pq_reader_next_group(r, &err), WR_ELIMIT); /* sticky */
    pq_reader_destroy(r);

    memset(&o, 0, sizeof o);
    o.max_group_rows = 999;
    r = pq_reader_open_mem(b.p, b.len, &o, &err);
    CHECK_INT(pq_reader_next_group(r, &err), WR_ELIMIT);
    CHECK(strstr(err.msg, "rows") != NULL);
    pq_reader_destroy(r);

    memset(&o, 0, sizeof o);
    o.max_footer_bytes = 64;
    CHECK(pq_reader_open_mem(b.p, b.len, &o, &err) == NULL);
    CHECK_INT(err.code, WR_ELIMIT);
    free(b.p);
}

/* Reads everything; returns 0 or the failure, never crashes (ASan watches). */
static int read_all(const uint8_t *p, size_t n, struct wr_err *err)
{
    pq_reader *r = pq_reader_open_mem(p, n, NULL, err);
    if (!r) {
        return err->code;
    }
    int rc;
    while ((rc = pq_reader_next_row(r, err)) == 1) {
        struct pq_value v;
        for (size_t k = 0; k < NC; k++) {
            pq_reader_value(r, k, &v);
        }
    }
    pq_reader_destroy(r);
    return rc;
}

static void test_hostile(void)
{
    struct mbuf b = make_file(PQ_CODEC_GZIP);
    struct wr_err err;
    /* every truncation: refused with a message (the footer moves, so none opens) */
    for (size_t n = 0; n < b.len; n += n < 64 || b.len - n < 600 ? 1 : 97) {
        err.code = 0;
        err.msg[0] = 0;
        int rc = read_all(b.p, n, &err);
        CHECK(rc < 0);
        CHECK(err.msg[0] != 0);
    }
    /* flipped bytes everywhere: a result (read or refused with a message), never a crash */
    uint8_t *c = malloc(b.len);
    uint64_t s = 0x9e3779b97f4a7c15u;
    int refused = 0;
    for (int i = 0; i < 400; i++) {
        memcpy(c, b.p, b.len);
        for (int k = 0; k < 1 + i % 4; k++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            size_t pos = i % 2 ? s % b.len : b.len - 8 - s % 600;
            c[pos] ^= (uint8_t)(1 + (s >> 32) % 255);
        }
        err.code = 0;
        err.msg[0] = 0;
        int rc = read_all(c, b.len, &err);
        if (rc < 0) {
            refused++;
            CHECK(err.msg[0] != 0);
        }
    }
    CHECK(refused > 100); /* page CRCs catch flips in the data */
    free(c);
    free(b.p);

    /* a forged footer: schema list claiming 2^31 elements in 4 bytes */
    static const uint8_t forged[] = {'P',  'A',  'R', '1', 0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff,
                                     0x07, 0x00, 9,   0,   0,    0,    'P',  'A',  'R',  '1'};
    CHECK_INT(read_all(forged, sizeof forged, &err), WR_EINVAL);
    CHECK(strstr(err.msg, "footer") != NULL);
    static const uint8_t notpq[] = "hello, this is not a parquet file at all";
    CHECK_INT(read_all(notpq, sizeof notpq, &err), WR_EINVAL);
    CHECK(pq_reader_open("/nonexistent/x.parquet", NULL, &err) == NULL);
    CHECK_INT(err.code, WR_ENOENT);
}

static void test_snappy(void)
{
    /* "abcabcabcabcX": literal "abc", copy (offset 3, length 9, overlapping), literal "X" */
    static const uint8_t in[] = {13, 0x08, 'a', 'b', 'c', 0x15, 0x03, 0x00, 'X'};
    uint8_t out[13];
    CHECK_INT(pqr_snappy(in, sizeof in, out, sizeof out), 0);
    CHECK_MEM(out, 13, "abcabcabcabcX", 13);
    CHECK_INT(pqr_snappy(in, sizeof in, out, 12), -1);          /* wrong size */
    static const uint8_t badoff[] = {6, 0x00, 'a', 0x05, 0x09}; /* offset 9 > 1 byte written */
    CHECK_INT(pqr_snappy(badoff, sizeof badoff, out, 6), -1);
    static const uint8_t shortlit[] = {5, 0x10, 'a', 'b'}; /* literal of 5, 2 present */
    CHECK_INT(pqr_snappy(shortlit, sizeof shortlit, out, 5), -1);
}

static void test_hybrid_and_delta(void)
{
    /* RLE run of 5 x 3 (width 2), then a bit-packed group of 8 values 0..3,0..3 */
    static const uint8_t h[] = {0x0a, 0x03, 0x03, 0xe4, 0xe4};
    uint32_t v[13];
    CHECK_INT(pqr_hybrid(h, h + sizeof h, 2, v, 13), (long)sizeof h);
    CHECK_INT(v[0], 3);
    CHECK_INT(v[4], 3);
    CHECK_INT(v[5], 0);
    CHECK_INT(v[8], 3);
    CHECK_INT(v[12], 3);
    CHECK_INT(pqr_hybrid(h, h + 4, 2, v, 13), -1); /* the group's last byte is missing */
    /* DELTA_BINARY_PACKED: block 128, 4 miniblocks, 3 values, first 7, min delta -2, widths 0 */
    static const uint8_t d[] = {0x80, 0x01, 0x04, 0x03, 0x0e, 0x03, 0, 0, 0, 0};
    int64_t o[3];
    const char *why = NULL;
    CHECK(pqr_delta(d, d + sizeof d, 64, o, 3, &why) > 0);
    CHECK_INT(o[0], 7);
    CHECK_INT(o[1], 5);
    CHECK_INT(o[2], 3);
    CHECK_INT(pqr_delta(d, d + sizeof d, 64, o, 2, &why), -1); /* count differs */
    CHECK(why != NULL);
}

int main(void)
{
    CHECK_RUN(test_read_back);
    CHECK_RUN(test_batch_and_projection);
    CHECK_RUN(test_filters);
    CHECK_RUN(test_limits);
    CHECK_RUN(test_hostile);
    CHECK_RUN(test_snappy);
    CHECK_RUN(test_hybrid_and_delta);
    return CHECK_DONE();
}
