/* test_encode.c - the Parquet writer's byte-level encoders against hand-computed bytes: Thrift
 * compact protocol, RLE/bit-packed hybrid, boolean packing, statistics truncation. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "common/err.h"
#include "parquet/pq_int.h"

/* Compares the test buffer b with the listed bytes. */
#define EXPECT_BYTES(...)                                     \
    do {                                                      \
        static const uint8_t expect_[] = {__VA_ARGS__};       \
        CHECK_MEM(b.p, b.len, expect_, sizeof expect_);       \
    } while (0)

static struct wr_buf b;
static struct pq__tw t;

static void reset(void)
{
    wr_buf_free(&b);
    wr_buf_init(&b, 1 << 20);
    pq__tw_init(&t, &b);
}

static void test_varint_zigzag(void)
{
    reset();
    pq__put_uvarint(&b, 0);
    pq__put_uvarint(&b, 127);
    pq__put_uvarint(&b, 128);
    pq__put_uvarint(&b, 300);
    EXPECT_BYTES(0x00, 0x7F, 0x80, 0x01, 0xAC, 0x02);
    reset();
    pq__put_uvarint(&b, UINT64_MAX);
    EXPECT_BYTES(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01);
    CHECK(pq__zigzag64(0) == 0);
    CHECK(pq__zigzag64(-1) == 1);
    CHECK(pq__zigzag64(1) == 2);
    CHECK(pq__zigzag64(-2) == 3);
    CHECK(pq__zigzag64(INT64_MAX) == UINT64_MAX - 1);
    CHECK(pq__zigzag64(INT64_MIN) == UINT64_MAX);
}

static void test_fields_and_deltas(void)
{
    reset();
    pq__tw_i32(&t, 1, 1);      /* delta 1, i32: 0x15, zigzag 2 */
    pq__tw_i32(&t, 2, -1);     /* 0x15, zigzag 1 */
    pq__tw_i64(&t, 4, 300);    /* delta 2, i64: 0x26, zigzag 600 = D8 04 */
    pq__tw_i32(&t, 20, 5);     /* delta 16: long form 0x05 + zigzag(20)=40 */
    pq__tw_bool(&t, 21, 1);    /* 0x11 */
    pq__tw_bool(&t, 22, 0);    /* 0x12 */
    pq__tw_bin(&t, 23, "ab", 2);
    pq__tw_end(&t);
    EXPECT_BYTES(0x15, 0x02, 0x15, 0x01, 0x26, 0xD8, 0x04, 0x05, 0x28, 0x0A, 0x11,
                                0x12, 0x18, 0x02, 'a', 'b', 0x00);
    CHECK(!b.err);
}

static void test_i8_double(void)
{
    reset();
    pq__tw_i8(&t, 1, 64);
    pq__tw_double(&t, 2, 1.0);
    pq__tw_i8(&t, 3, -1);
    EXPECT_BYTES(0x13, 0x40, 0x17, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x13, 0xFF);
}

static void test_nested_structs(void)
{
    reset();
    pq__tw_struct_begin(&t, 1);
    pq__tw_i32(&t, 5, 7);       /* inner ids restart at 0: delta 5 */
    pq__tw_struct_begin(&t, 6); /* empty nested struct */
    pq__tw_struct_end(&t);
    pq__tw_struct_end(&t);
    pq__tw_i32(&t, 2, 1);       /* outer last id is still 1: delta 1 */
    pq__tw_end(&t);
    EXPECT_BYTES(0x1C, 0x55, 0x0E, 0x1C, 0x00, 0x00, 0x15, 0x02, 0x00);
    CHECK_INT(t.depth, 0);
}

static void test_lists(void)
{
    reset();
    pq__tw_list_begin(&t, 1, PQ__T_I32, 3);
    pq__tw_elem_i32(&t, 1);
    pq__tw_elem_i32(&t, 2);
    pq__tw_elem_i32(&t, 3);
    pq__tw_list_begin(&t, 4, PQ__T_STRUCT, 2); /* list<struct>: elements have no header */
    for (int i = 0; i < 2; i++) {
        pq__tw_struct_begin(&t, 0);
        pq__tw_i32(&t, 1, 0);
        pq__tw_struct_end(&t);
    }
    pq__tw_list_begin(&t, 5, PQ__T_BINARY, 1);
    pq__tw_elem_bin(&t, "x", 1);
    pq__tw_end(&t);
    EXPECT_BYTES(0x19, 0x35, 0x02, 0x04, 0x06, 0x39, 0x2C, 0x15, 0x00, 0x00, 0x15,
                                0x00, 0x00, 0x19, 0x18, 0x01, 'x', 0x00);
    reset();
    pq__tw_list_begin(&t, 1, PQ__T_I32, 20); /* 15 or more: 0xF5 then varint count */
    EXPECT_BYTES(0x19, 0xF5, 0x14);
    reset();
    pq__tw_list_begin(&t, 1, PQ__T_STRUCT, 0);
    EXPECT_BYTES(0x19, 0x0C);
}

static void test_too_deep(void)
{
    reset();
    for (int i = 0; i < PQ__T_MAX_DEPTH + 2; i++) {
        pq__tw_struct_begin(&t, 1);
    }
    CHECK(t.overflow);
}

static void test_buf_cap(void)
{
    struct wr_buf c;
    wr_buf_init(&c, 10);
    wr_buf_append(&c, "0123456789", 10);
    CHECK(!c.err);
    wr_buf_putc(&c, 'x');
    CHECK_INT(c.err, WR_ELIMIT);
    CHECK_INT(c.len, 10);
    wr_buf_append(&c, "y", 1); /* sticky */
    CHECK_INT(c.len, 10);
    wr_buf_free(&c);
}

static void test_bit_width(void)
{
    CHECK_INT(pq__bit_width(0), 0);
    CHECK_INT(pq__bit_width(1), 1);
    CHECK_INT(pq__bit_width(2), 2);
    CHECK_INT(pq__bit_width(255), 8);
    CHECK_INT(pq__bit_width(256), 9);
    CHECK_INT(pq__bit_width(UINT32_MAX), 32);
}

static void test_rle_run(void)
{
    uint8_t ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    reset();
    pq__rle_u8(&b, ones, 8, 1);
    EXPECT_BYTES(0x10, 0x01);
    /* 300 x 257 at width 9: varint(600) and a 2-byte value */
    uint32_t v[300];
    for (int i = 0; i < 300; i++) {
        v[i] = 257;
    }
    reset();
    pq__rle_u32(&b, v, 300, 9);
    EXPECT_BYTES(0xD8, 0x04, 0x01, 0x01);
}

static void test_rle_bitpacked(void)
{
    /* Encodings.md's example: 0..7 at width 3 */
    uint32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    reset();
    pq__rle_u32(&b, v, 8, 3);
    EXPECT_BYTES(0x03, 0x88, 0xC6, 0xFA);
    /* a short tail is padded to a group of 8 */
    uint8_t l[3] = {1, 0, 1};
    reset();
    pq__rle_u8(&b, l, 3, 1);
    EXPECT_BYTES(0x03, 0x05);
}

static void test_rle_mixed(void)
{
    /* 1,2 then twelve 3s then 0: the run is too short after completing the literal group,
     * so everything is bit-packed in two groups (the last padded). */
    uint32_t a[15] = {1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0};
    reset();
    pq__rle_u32(&b, a, 15, 2);
    EXPECT_BYTES(0x05, 0xF9, 0xFF, 0xFF, 0x0F);
    /* 1,2 then twenty 3s: one literal group (completed with six 3s), then an RLE run of 14 */
    uint32_t c[22] = {1, 2};
    for (int i = 2; i < 22; i++) {
        c[i] = 3;
    }
    reset();
    pq__rle_u32(&b, c, 22, 2);
    EXPECT_BYTES(0x03, 0xF9, 0xFF, 0x1C, 0x03);
    /* a run first, then literals */
    uint8_t d[10] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    reset();
    pq__rle_u8(&b, d, 10, 1);
    EXPECT_BYTES(0x10, 0x00, 0x03, 0x01);
}

/* Decodes the hybrid back (test-only reference decoder) to check long random inputs. */
static size_t rle_decode(const uint8_t *p, size_t len, int width, uint32_t *out, size_t max)
{
    size_t i = 0, n = 0;
    while (i < len && n < max) {
        uint64_t h = 0;
        int shift = 0;
        while (p[i] & 0x80) {
            h |= (uint64_t)(p[i++] & 0x7F) << shift;
            shift += 7;
        }
        h |= (uint64_t)p[i++] << shift;
        if (h & 1) {
            size_t cnt = (size_t)(h >> 1) * 8;
            uint64_t acc = 0;
            int bits = 0;
            for (size_t k = 0; k < cnt; k++) {
                while (bits < width) {
                    acc |= (uint64_t)p[i++] << bits;
                    bits += 8;
                }
                uint32_t x = (uint32_t)(acc & ((1ull << width) - 1));
                acc >>= width;
                bits -= width;
                if (n < max) {
                    out[n++] = x;
                }
            }
        } else {
            uint32_t x = 0;
            for (int k = 0; k < (width + 7) / 8; k++) {
                x |= (uint32_t)p[i++] << (8 * k);
            }
            for (size_t k = 0; k < (size_t)(h >> 1) && n < max; k++) {
                out[n++] = x;
            }
        }
    }
    return n;
}

static void test_rle_roundtrip(void)
{
    enum { N = 5000 };
    static uint32_t v[N], got[N + 8];
    uint32_t seed = 12345;
    for (int width = 1; width <= 32; width += 3) {
        for (int i = 0; i < N; i++) {
            seed = seed * 1103515245u + 12345u;
            /* runs of random length and value, so both run kinds and all paddings occur */
            if (i == 0 || (seed >> 16) % 5 == 0) {
                v[i] = (seed >> 3) & (width == 32 ? 0xFFFFFFFFu : ((1u << width) - 1));
            } else {
                v[i] = v[i - 1];
            }
        }
        reset();
        pq__rle_u32(&b, v, N, width);
        size_t n = rle_decode(pq__bytes(&b), b.len, width, got, N);
        CHECK_INT(n, N);
        CHECK(memcmp(v, got, sizeof v) == 0);
    }
}

static void test_pack_bools(void)
{
    uint8_t v[10] = {1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    reset();
    pq__pack_bools(&b, v, 10);
    EXPECT_BYTES(0x81, 0x03);
}

static void test_trunc(void)
{
    const uint8_t *s = (const uint8_t *)"abcdef";
    uint8_t out[16];
    CHECK_INT(pq__trunc_min(s, 6, 3), 3);
    CHECK_INT(pq__trunc_max(s, 6, 3, out), 3);
    CHECK_MEM(out, 3, "abd", 3);
    /* "aé..." cut at 2 would split é: back to 1 */
    const uint8_t *e = (const uint8_t *)"a\xC3\xA9zz";
    CHECK_INT(pq__trunc_min(e, 5, 2), 1);
    CHECK_INT(pq__trunc_max(e, 5, 2, out), 1);
    CHECK_MEM(out, 1, "b", 1);
    /* U+007F + 1 needs two bytes that do not fit: increment the previous character */
    const uint8_t *d = (const uint8_t *)"a\x7Fzz";
    CHECK_INT(pq__trunc_max(d, 4, 2, out), 1);
    CHECK_MEM(out, 1, "b", 1);
    /* U+D7FF + 1 skips the surrogates to U+E000 */
    const uint8_t *h = (const uint8_t *)"a\xED\x9F\xBFxx";
    CHECK_INT(pq__trunc_max(h, 6, 4, out), 4);
    CHECK_MEM(out, 4, "a\xEE\x80\x80", 4);
    /* U+10FFFF cannot be incremented and nothing precedes it: no upper bound */
    const uint8_t *m = (const uint8_t *)"\xF4\x8F\xBF\xBFx";
    CHECK_INT(pq__trunc_max(m, 5, 4, out), -1);
    /* 0xFF is not UTF-8: dropped, the previous character incremented */
    const uint8_t *f = (const uint8_t *)"ab\xFF\xFFzz";
    CHECK_INT(pq__trunc_max(f, 6, 4, out), 2);
    CHECK_MEM(out, 2, "ac", 2);
}

static void test_hash_spread(void)
{
    CHECK(pq__hash("a", 1) != pq__hash("b", 1));
    CHECK(pq__hash("", 0) != pq__hash("\0", 1));
    CHECK(pq__hash("abcdefgh1", 9) != pq__hash("abcdefgh2", 9));
    CHECK(pq__hash("abcdefgh", 8) == pq__hash("abcdefgh", 8));
}

int main(void)
{
    CHECK_RUN(test_varint_zigzag);
    CHECK_RUN(test_fields_and_deltas);
    CHECK_RUN(test_i8_double);
    CHECK_RUN(test_nested_structs);
    CHECK_RUN(test_lists);
    CHECK_RUN(test_too_deep);
    CHECK_RUN(test_buf_cap);
    CHECK_RUN(test_bit_width);
    CHECK_RUN(test_rle_run);
    CHECK_RUN(test_rle_bitpacked);
    CHECK_RUN(test_rle_mixed);
    CHECK_RUN(test_rle_roundtrip);
    CHECK_RUN(test_pack_bools);
    CHECK_RUN(test_trunc);
    CHECK_RUN(test_hash_spread);
    wr_buf_free(&b);
    return CHECK_DONE();
}
