/* encode.c - the byte-level encoders under the Parquet writer: Thrift compact
 * protocol, RLE/bit-packed hybrid, boolean packing, statistics truncation and the dictionary hash.
 * Pure functions on buffers; see pq_int.h for the contracts. */
#include "parquet/pq_int.h"

#include <stdlib.h>

#include "common/err.h"

void pq__put_u32le(struct wr_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    wr_buf_append(b, x, 4);
}

void pq__put_uvarint(struct wr_buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    while (v >= 0x80) {
        x[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    x[n++] = (uint8_t)v;
    wr_buf_append(b, x, n);
}

/* ---- Thrift compact protocol ---- */

void pq__tw_init(struct pq__tw *t, struct wr_buf *b)
{
    t->b = b;
    t->depth = 0;
    t->last[0] = 0;
    t->overflow = 0;
}

void pq__tw_field(struct pq__tw *t, int type, int16_t id)
{
    int16_t last = t->last[t->depth];
    int delta = (int)id - (int)last;
    if (delta > 0 && delta <= 15) {
        wr_buf_putc(t->b, (char)((delta << 4) | type));
    } else {
        wr_buf_putc(t->b, (char)type);
        pq__put_uvarint(t->b, pq__zigzag64(id));
    }
    t->last[t->depth] = id;
}

void pq__tw_i8(struct pq__tw *t, int16_t id, int8_t v)
{
    pq__tw_field(t, PQ__T_I8, id);
    wr_buf_putc(t->b, (char)v);
}

void pq__tw_i32(struct pq__tw *t, int16_t id, int32_t v)
{
    pq__tw_field(t, PQ__T_I32, id);
    pq__put_uvarint(t->b, pq__zigzag64(v));
}

void pq__tw_i64(struct pq__tw *t, int16_t id, int64_t v)
{
    pq__tw_field(t, PQ__T_I64, id);
    pq__put_uvarint(t->b, pq__zigzag64(v));
}

void pq__tw_double(struct pq__tw *t, int16_t id, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    uint8_t x[8];
    for (int i = 0; i < 8; i++) {
        x[i] = (uint8_t)(u >> (8 * i));
    }
    pq__tw_field(t, PQ__T_DOUBLE, id);
    wr_buf_append(t->b, x, 8);
}

void pq__tw_bool(struct pq__tw *t, int16_t id, int v)
{
    pq__tw_field(t, v ? PQ__T_TRUE : PQ__T_FALSE, id);
}

void pq__tw_bin(struct pq__tw *t, int16_t id, const void *p, size_t len)
{
    pq__tw_field(t, PQ__T_BINARY, id);
    pq__tw_elem_bin(t, p, len);
}

void pq__tw_str(struct pq__tw *t, int16_t id, const char *s)
{
    pq__tw_bin(t, id, s, strlen(s));
}

void pq__tw_struct_begin(struct pq__tw *t, int16_t id)
{
    if (id > 0) {
        pq__tw_field(t, PQ__T_STRUCT, id);
    }
    if (t->depth + 1 >= PQ__T_MAX_DEPTH) {
        t->overflow = 1;
        return;
    }
    t->depth++;
    t->last[t->depth] = 0;
}

void pq__tw_struct_end(struct pq__tw *t)
{
    wr_buf_putc(t->b, 0);
    if (t->depth > 0) {
        t->depth--;
    }
}

void pq__tw_list_begin(struct pq__tw *t, int16_t id, int elem_type, uint32_t n)
{
    pq__tw_field(t, PQ__T_LIST, id);
    if (n < 15) {
        wr_buf_putc(t->b, (char)((n << 4) | (uint32_t)elem_type));
    } else {
        wr_buf_putc(t->b, (char)(0xF0 | elem_type));
        pq__put_uvarint(t->b, n);
    }
}

void pq__tw_elem_i32(struct pq__tw *t, int32_t v)
{
    pq__put_uvarint(t->b, pq__zigzag64(v));
}

void pq__tw_elem_bin(struct pq__tw *t, const void *p, size_t len)
{
    pq__put_uvarint(t->b, len);
    wr_buf_append(t->b, p, len);
}

void pq__tw_end(struct pq__tw *t)
{
    wr_buf_putc(t->b, 0);
}

/* ---- RLE / bit-packed hybrid ---- */

int pq__bit_width(uint32_t max_value)
{
    int w = 0;
    while (max_value) {
        w++;
        max_value >>= 1;
    }
    return w;
}

static void rle_run(struct wr_buf *out, uint32_t value, size_t count, int width)
{
    pq__put_uvarint(out, (uint64_t)count << 1);
    for (int i = 0; i < (width + 7) / 8; i++) {
        wr_buf_putc(out, (char)(value >> (8 * i)));
    }
}

/* Packs groups*8 values (the tail past n zero-padded) LSB first. */
#define PQ__DEFINE_BITPACK(name, T)                                                       \
    static void name(struct wr_buf *out, const T *v, size_t n, size_t groups, int width) \
    {                                                                                     \
        pq__put_uvarint(out, ((uint64_t)groups << 1) | 1);                                \
        size_t nbytes = groups * (size_t)width;                                           \
        if (wr_buf_reserve(out, nbytes) != 0) {                                          \
            return;                                                                       \
        }                                                                                 \
        uint8_t *o = pq__bytes(out) + out->len;                                                   \
        uint64_t acc = 0;                                                                 \
        int bits = 0;                                                                     \
        size_t total = groups * 8;                                                        \
        for (size_t i = 0; i < total; i++) {                                              \
            uint64_t x = i < n ? (uint64_t)v[i] : 0;                                      \
            acc |= x << bits;                                                             \
            bits += width;                                                                \
            while (bits >= 8) {                                                           \
                *o++ = (uint8_t)acc;                                                      \
                acc >>= 8;                                                                \
                bits -= 8;                                                                \
            }                                                                             \
        }                                                                                 \
        out->len += nbytes;                                                               \
    }

#define PQ__DEFINE_RLE(name, T, bitpack)                                                   \
    void name(struct wr_buf *out, const T *v, size_t n, int width)                        \
    {                                                                                      \
        size_t i = 0, lit = 0; /* literals are v[i - lit .. i) */                          \
        while (i < n) {                                                                    \
            size_t r = 1;                                                                  \
            while (i + r < n && v[i + r] == v[i]) {                                        \
                r++;                                                                       \
            }                                                                              \
            if (r >= 8) {                                                                  \
                /* Complete the pending literals' last group from this run first. */       \
                size_t pad = (8 - lit % 8) % 8;                                            \
                lit += pad;                                                                \
                i += pad;                                                                  \
                r -= pad;                                                                  \
                if (r >= 8) {                                                              \
                    if (lit > 0) {                                                         \
                        bitpack(out, v + i - lit, lit, lit / 8, width);                    \
                        lit = 0;                                                           \
                    }                                                                      \
                    rle_run(out, (uint32_t)v[i], r, width);                                \
                    i += r;                                                                \
                    continue;                                                              \
                }                                                                          \
            }                                                                              \
            lit += r;                                                                      \
            i += r;                                                                        \
        }                                                                                  \
        if (lit > 0) {                                                                     \
            bitpack(out, v + n - lit, lit, (lit + 7) / 8, width);                          \
        }                                                                                  \
    }

PQ__DEFINE_BITPACK(bitpack_u32, uint32_t)
PQ__DEFINE_BITPACK(bitpack_u8, uint8_t)
PQ__DEFINE_RLE(pq__rle_u32, uint32_t, bitpack_u32)
PQ__DEFINE_RLE(pq__rle_u8, uint8_t, bitpack_u8)

void pq__pack_bools(struct wr_buf *out, const uint8_t *v, size_t n)
{
    size_t nbytes = (n + 7) / 8;
    if (wr_buf_reserve(out, nbytes) != 0) {
        return;
    }
    uint8_t *o = pq__bytes(out) + out->len;
    memset(o, 0, nbytes);
    for (size_t i = 0; i < n; i++) {
        o[i >> 3] |= (uint8_t)((v[i] & 1) << (i & 7));
    }
    out->len += nbytes;
}

/* ---- statistics truncation ---- */

size_t pq__trunc_min(const uint8_t *p, size_t len, size_t max)
{
    (void)len;
    size_t cut = max;
    /* p[cut] is the first byte left out: if it continues a character, that character would be
     * cut in half, so back up to its lead byte. */
    while (cut > 0 && (p[cut] & 0xC0) == 0x80) {
        cut--;
    }
    return cut;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

long pq__trunc_max(const uint8_t *p, size_t len, size_t max, uint8_t *out)
{
    size_t cut = pq__trunc_min(p, len, max);
    memcpy(out, p, cut);
    while (cut > 0) {
        size_t s = cut - 1;
        while (s > 0 && (out[s] & 0xC0) == 0x80) {
            s--;
        }
        size_t clen = cut - s;
        uint8_t lead = out[s];
        uint32_t cp;
        size_t want = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 0;
        if (want == 0 || want != clen) {
            /* Not valid UTF-8 (the gateway should never let it through): drop it. */
            cut = s;
            continue;
        }
        cp = want == 1 ? lead : want == 2 ? (lead & 0x1Fu) : want == 3 ? (lead & 0x0Fu) : (lead & 0x07u);
        for (size_t k = 1; k < clen; k++) {
            cp = (cp << 6) | (out[s + k] & 0x3Fu);
        }
        cp++;
        if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xE000;
        }
        uint8_t enc[4];
        size_t elen = cp <= 0x10FFFF ? utf8_put(enc, cp) : 0;
        if (elen == 0 || s + elen > max) {
            cut = s; /* cannot grow this character in place: increment the previous one */
            continue;
        }
        memcpy(out + s, enc, elen);
        return (long)(s + elen);
    }
    return -1;
}

/* ---- dictionary hash ---- */

uint32_t pq__hash(const void *p, size_t len)
{
    const uint8_t *s = p;
    size_t total = len;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (len * 0xC2B2AE3D27D4EB4Full);
    while (len > 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        h = (h ^ (k * 0xFF51AFD7ED558CCDull)) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    /* 0..8 bytes left: the last 8 bytes of a longer string (overlapping is fine for a hash),
     * else two possibly overlapping 4-byte or a few single loads, without a byte loop. */
    uint64_t k = 0;
    if (total >= 8) {
        memcpy(&k, s + len - 8, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        k = (uint64_t)a << 32 | b;
    } else if (len > 0) {
        k = (uint64_t)s[0] << 16 | (uint64_t)s[len / 2] << 8 | s[len - 1];
    }
    h ^= k * 0xFF51AFD7ED558CCDull;
    /* The table uses the low bits: finish with a full avalanche so every input bit reaches them. */
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return (uint32_t)h;
}
