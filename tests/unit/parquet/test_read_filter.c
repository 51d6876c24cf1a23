/* test_read_filter.c - the Parquet reader's filter path (pqr_load_filtered): a dictionary tested
 * once per entry (a group whose dictionary holds no match is skipped with its pages undecoded),
 * PLAIN integers compared in place, columns read after the filters materialized only at the
 * selected rows, ZSTD pages decompressed only up to the last selected row. Every filtered read
 * must equal a full read filtered here row by row; hostile dictionary indices are an error on
 * every path, and flipped bytes never a read out of bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parquet/parquet.h"
#include "parquet/pq_read.h"
#include "pq_membuf.h"

enum { C_ID, C_U, C_S32, C_NAME, C_TAG, NC };
static const struct pq_column cols[NC] = {
    {"id", PQ_INT64, PQ_LT_INT, 0, 0},
    {"u", PQ_INT64, PQ_LT_INT, 1, 0},
    {"s32", PQ_INT32, PQ_LT_INT, 0, 0},
    {"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"tag", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_PLAIN},
};
#define ROWS 4000
#define RG 1000

/* Group 1 alone holds name "b"; the others "a" and "c" (so "b" lies inside their min/max). */
static const char *name_of(long i)
{
    if (i % 6 == 0) {
        return NULL;
    }
    if (i / RG == 1 && i % 5 == 0) {
        return "b";
    }
    return i % 2 ? "a" : "c";
}

static struct mbuf make_file(enum pq_codec codec)
{
    struct mbuf b = {NULL, 0, 0};
    struct pq_opts o;
    memset(&o, 0, sizeof o);
    o.codec = codec;
    o.page_bytes = 1024; /* several pages per chunk */
    struct pq_schema s = {cols, NC};
    struct wr_err err;
    pq_writer *w = pq_writer_create(&s, &o, mb_write, &b, &err);
    CHECK(w != NULL);
    for (long i = 0; i < ROWS; i++) {
        char tag[32];
        CHECK_INT(pq_writer_put_int64(w, C_ID, i), 0);
        if (i % 9 == 0) {
            pq_writer_put_null(w, C_U);
        } else {
            pq_writer_put_int64(w, C_U, (i * 7919) % 50 - 20);
        }
        pq_writer_put_int32(w, C_S32, (int32_t)(i % 13) - 6);
        const char *nm = name_of(i);
        if (nm) {
            pq_writer_put_str(w, C_NAME, nm, strlen(nm));
        } else {
            pq_writer_put_null(w, C_NAME);
        }
        if (i % 4 == 1) {
            pq_writer_put_null(w, C_TAG);
        } else {
            snprintf(tag, sizeof tag, "tag-%ld", i * 31 % 1000);
            pq_writer_put_str(w, C_TAG, tag, strlen(tag));
        }
        CHECK_INT(pq_writer_end_row(w), 0);
        if ((i + 1) % RG == 0) {
            CHECK_INT(pq_writer_flush(w), 0);
        }
    }
    CHECK_INT(pq_writer_close(w, &err), 0);
    pq_writer_destroy(w);
    return b;
}

/* The whole file read without filters: the reference. */
static struct pq_value ref[ROWS][NC];
static uint8_t *ref_bytes;

static void read_reference(const struct mbuf *f)
{
    struct wr_err err;
    pq_reader *r = pq_reader_open_mem(f->p, f->len, NULL, &err);
    CHECK(r != NULL);
    size_t n = 0;
    int rc;
    free(ref_bytes);
    ref_bytes = calloc(ROWS * 2, 32);
    while ((rc = pq_reader_next_row(r, &err)) == 1 && n < ROWS) {
        for (size_t k = 0; k < NC; k++) {
            pq_reader_value(r, k, &ref[n][k]);
            if (ref[n][k].p) {
                uint8_t *dst = ref_bytes + (n * 2 + (k == C_TAG)) * 32;
                CHECK(ref[n][k].len < 32);
                memcpy(dst, ref[n][k].p, ref[n][k].len);
                ref[n][k].p = dst;
            }
        }
        n++;
    }
    CHECK_INT(rc, 0);
    CHECK_INT(n, ROWS);
    pq_reader_destroy(r);
}

struct flt {
    const char *col;
    int has_lo, has_hi;
    struct pq_fv lo, hi;
};

static int ref_match(long i, const struct flt *fl, size_t nf)
{
    for (size_t j = 0; j < nf; j++) {
        long k = strcmp(fl[j].col, "u") == 0     ? C_U
                 : strcmp(fl[j].col, "s32") == 0 ? C_S32
                 : strcmp(fl[j].col, "id") == 0  ? C_ID
                 : strcmp(fl[j].col, "tag") == 0 ? C_TAG
                                                 : C_NAME;
        const struct pq_value *v = &ref[i][k];
        if (v->null) {
            return 0;
        }
        if (fl[j].lo.kind == PQ_FV_BYTES) {
            size_t ll = fl[j].lo.len, hl = fl[j].hi.len;
            int cl = memcmp(v->p, fl[j].lo.p, v->len < ll ? v->len : ll);
            int ch = memcmp(v->p, fl[j].hi.p, v->len < hl ? v->len : hl);
            cl = cl ? cl : (v->len > ll) - (v->len < ll);
            ch = ch ? ch : (v->len > hl) - (v->len < hl);
            if ((fl[j].has_lo && cl < 0) || (fl[j].has_hi && ch > 0)) {
                return 0;
            }
        } else if ((fl[j].has_lo && v->i < fl[j].lo.i) || (fl[j].has_hi && v->i > fl[j].hi.i)) {
            return 0;
        }
    }
    return 1;
}

/* Reads f with the filters and checks the rows and every value against the reference. */
static void check_filtered(const struct mbuf *f, const struct flt *fl, size_t nf,
                           struct pq_read_stats *st)
{
    struct wr_err err;
    pq_reader *r = pq_reader_open_mem(f->p, f->len, NULL, &err);
    CHECK(r != NULL);
    for (size_t j = 0; j < nf; j++) {
        CHECK_INT(pq_reader_filter(r, fl[j].col, fl[j].has_lo ? &fl[j].lo : NULL,
                                   fl[j].has_hi ? &fl[j].hi : NULL, &err),
                  0);
    }
    long want = 0;
    while (want < ROWS && !ref_match(want, fl, nf)) {
        want++;
    }
    long got = 0;
    int rc;
    while ((rc = pq_reader_next_group(r, &err)) == 1) {
        size_t ns;
        const uint32_t *sel = pq_reader_selection(r, &ns);
        long base = (long)pq_reader_group_index(r) * RG;
        for (size_t s = 0; s < ns; s++) {
            long i = base + (long)sel[s];
            CHECK_INT(i, want);
            for (size_t k = 0; k < NC; k++) {
                struct pq_batch b;
                CHECK_INT(pq_reader_batch(r, k, &b), 0);
                const struct pq_value *v = &ref[i][k];
                int null = b.valid && !b.valid[sel[s]];
                CHECK_INT(null, v->null);
                if (null) {
                    continue;
                }
                if (k == C_S32) {
                    CHECK_INT(((const int32_t *)b.values)[sel[s]], v->i);
                } else if (k == C_NAME || k == C_TAG) {
                    const struct pq_bytes *x = &((const struct pq_bytes *)b.values)[sel[s]];
                    CHECK_MEM(x->p, x->len, v->p, v->len);
                } else {
                    CHECK_INT(((const int64_t *)b.values)[sel[s]], v->i);
                }
            }
            got++;
            want++;
            while (want < ROWS && !ref_match(want, fl, nf)) {
                want++;
            }
        }
    }
    CHECK_INT(rc, 0);
    CHECK_INT(want, ROWS); /* every matching row was returned */
    CHECK(got > 0);
    pq_reader_stats(r, st);
    pq_reader_destroy(r);
}

#define FI(c, a, b)                                                                                \
    {                                                                                              \
        c, 1, 1, {PQ_FV_INT, a, 0, NULL, 0},                                                       \
        {                                                                                          \
            PQ_FV_INT, b, 0, NULL, 0                                                               \
        }                                                                                          \
    }
#define FS(c, a, b)                                                                                \
    {                                                                                              \
        c, 1, 1, {PQ_FV_BYTES, 0, 0, a, sizeof a - 1},                                             \
        {                                                                                          \
            PQ_FV_BYTES, 0, 0, b, sizeof b - 1                                                     \
        }                                                                                          \
    }

static void test_matches_equal_full_decode(void)
{
    enum pq_codec codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_ZSTD, PQ_CODEC_GZIP};
    for (size_t c = 0; c < 3; c++) {
        struct mbuf f = make_file(codecs[c]);
        read_reference(&f);
        struct pq_read_stats st;
        struct flt a[] = {FI("u", 7, 7)};
        check_filtered(&f, a, 1, &st);
        struct flt b[] = {FI("u", -3, 4), FI("s32", -2, 3)};
        check_filtered(&f, b, 2, &st);
        struct flt d[] = {FS("name", "a", "b"), FI("u", 0, 0)};
        check_filtered(&f, d, 2, &st);
        struct flt e[] = {FI("s32", -6, -6), FI("u", -20, 29), FS("name", "c", "c")};
        check_filtered(&f, e, 3, &st);
        struct flt g[] = {FS("tag", "tag-1", "tag-3"), FI("u", 2, 2)}; /* PLAIN strings */
        check_filtered(&f, g, 2, &st);
        struct flt h[] = {FI("id", 1234, 1234)};
        check_filtered(&f, h, 1, &st);
        /* One filter without a low bound, two on one column (their intersection). */
        struct flt k[] = {{"u", 0, 1, {PQ_FV_INT, 0, 0, NULL, 0}, {PQ_FV_INT, -18, 0, NULL, 0}},
                          FI("u", -19, 100)};
        check_filtered(&f, k, 2, &st);
        free(f.p);
    }
}

static void test_dictionary_without_match(void)
{
    struct mbuf f = make_file(PQ_CODEC_ZSTD);
    read_reference(&f);
    struct pq_read_stats st;
    struct flt a[] = {FS("name", "b", "b")};
    check_filtered(&f, a, 1, &st);
    /* Groups 0, 2 and 3: "b" is inside their min/max, so only their dictionary rules them out,
     * and their data pages are skipped undecoded: 3 dictionary pages decoded for them. */
    CHECK_INT(st.groups_skipped_stats, 0);
    CHECK_INT(st.groups_skipped_rows, 3);
    CHECK_INT(st.groups_read, 1);
    CHECK(st.pages_skipped >= 3);
    /* The same with a second filter read after: never read in the groups the first emptied. */
    struct flt b[] = {FS("name", "b", "b"), FI("u", -20, 29)};
    struct pq_read_stats st2;
    check_filtered(&f, b, 2, &st2);
    CHECK_INT(st2.groups_skipped_rows, 3);
    CHECK_INT(st2.bytes_read, st.bytes_read);
    free(f.p);
}

/* A file whose only data page of column "name" (dictionary of one entry, "a") holds indices 1:
 * out of the dictionary. */
static struct mbuf hostile_file(void)
{
    static const struct pq_column hc[2] = {{"id", PQ_INT64, PQ_LT_INT, 0, 0},
                                           {"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, 0}};
    struct mbuf b = {NULL, 0, 0};
    struct pq_opts o;
    memset(&o, 0, sizeof o);
    o.codec = PQ_CODEC_UNCOMPRESSED;
    struct pq_schema s = {hc, 2};
    struct wr_err err;
    pq_writer *w = pq_writer_create(&s, &o, mb_write, &b, &err);
    CHECK(w != NULL);
    for (long i = 0; i < 100; i++) {
        pq_writer_put_int64(w, 0, i);
        pq_writer_put_str(w, 1, "a", 1);
        CHECK_INT(pq_writer_end_row(w), 0);
    }
    CHECK_INT(pq_writer_close(w, &err), 0);
    pq_writer_destroy(w);
    /* The page: bit width 1, one RLE run of 100 (varint 200) of value 0. */
    static const uint8_t run[] = {0x01, 0xC8, 0x01, 0x00};
    size_t at = 0, hits = 0;
    for (size_t i = 0; i + sizeof run <= b.len; i++) {
        if (memcmp(b.p + i, run, sizeof run) == 0) {
            at = i;
            hits++;
        }
    }
    CHECK_INT(hits, 1);
    if (hits == 1) {
        b.p[at + 3] = 0x01;
    }
    return b;
}

static void expect_index_error(const struct mbuf *f, const char *col, const char *val)
{
    struct pq_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.no_crc = 1;
    struct wr_err err;
    pq_reader *r = pq_reader_open_mem(f->p, f->len, &ro, &err);
    CHECK(r != NULL);
    if (col) {
        struct pq_fv v = {PQ_FV_BYTES, 0, 0, val, val ? strlen(val) : 0};
        struct pq_fv n = {PQ_FV_INT, 5, 0, NULL, 0};
        int bytes = strcmp(col, "name") == 0;
        CHECK_INT(pq_reader_filter(r, col, bytes ? &v : &n, bytes ? &v : &n, &err), 0);
    }
    int rc = pq_reader_next_group(r, &err);
    CHECK_INT(rc, WR_EINVAL);
    CHECK(strstr(err.msg, "dictionary index out of range") != NULL);
    pq_reader_destroy(r);
}

static void test_hostile_indices(void)
{
    struct mbuf f = hostile_file();
    expect_index_error(&f, NULL, NULL);  /* full decode */
    expect_index_error(&f, "name", "a"); /* the filtered dictionary path */
    expect_index_error(&f, "id", NULL);  /* read after the filter, one selected row */
    free(f.p);
}

/* Flipped bytes all over a ZSTD file, read with CRCs off through the filtered, sparse and
 * partly-decompressed paths: each read ends (rows, or an error with a message), under the
 * sanitizers without a bad access. */
static void test_flipped_bytes(void)
{
    struct mbuf f = make_file(PQ_CODEC_ZSTD);
    struct pq_read_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.no_crc = 1;
    long errors = 0;
    for (size_t at = 4; at + 8 < f.len; at += 3) {
        uint8_t keep = f.p[at];
        f.p[at] ^= (uint8_t)(0x5a + at);
        for (int mode = 0; mode < 2; mode++) {
            struct wr_err err;
            pq_reader *r = pq_reader_open_mem(f.p, f.len, &ro, &err);
            if (!r) {
                CHECK(err.msg[0] != 0);
                break;
            }
            struct pq_fv v = {PQ_FV_INT, mode ? 1234 : 7, 0, NULL, 0};
            struct pq_fv nm = {PQ_FV_BYTES, 0, 0, "b", 1};
            if (pq_reader_filter(r, mode ? "id" : "u", &v, &v, &err) == 0 && mode == 0) {
                pq_reader_filter(r, "name", &nm, &nm, &err);
            }
            int rc;
            while ((rc = pq_reader_next_row(r, &err)) == 1) {
                struct pq_value pv;
                for (size_t k = 0; k < NC; k++) {
                    pq_reader_value(r, k, &pv);
                }
            }
            if (rc < 0) {
                CHECK(err.msg[0] != 0);
                errors++;
            }
            pq_reader_destroy(r);
        }
        f.p[at] = keep;
    }
    CHECK(errors > 0);
    free(f.p);
}

int main(void)
{
    CHECK_RUN(test_matches_equal_full_decode);
    CHECK_RUN(test_dictionary_without_match);
    CHECK_RUN(test_hostile_indices);
    CHECK_RUN(test_flipped_bytes);
    free(ref_bytes);
    return CHECK_DONE();
}
