/* pq_int.h - private to parquet/: the Thrift compact encoder, RLE/bit-packed
 * hybrid encoder and statistics helpers the writer is built from (unit-tested on their own). */
#ifndef WEIR_PQ_INT_H
#define WEIR_PQ_INT_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Every buffer here is a struct wr_buf (common/buf.h): its first failure sticks, so the
 * encoders append freely and the writer checks b->err once, at the end of a page. */

/* A buffer's bytes as the unsigned bytes the encoders work on. */
static inline uint8_t *pq__bytes(const struct wr_buf *b)
{
    return (uint8_t *)b->p;
}
void pq__put_u32le(struct wr_buf *b, uint32_t v);
void pq__put_uvarint(struct wr_buf *b, uint64_t v);

/* Thrift compact protocol type ids. */
enum {
    PQ__T_TRUE = 1,
    PQ__T_FALSE = 2,
    PQ__T_I8 = 3,
    PQ__T_I16 = 4,
    PQ__T_I32 = 5,
    PQ__T_I64 = 6,
    PQ__T_DOUBLE = 7,
    PQ__T_BINARY = 8,
    PQ__T_LIST = 9,
    PQ__T_STRUCT = 12
};

#define PQ__T_MAX_DEPTH 16

/* Thrift compact writer: fields must come in ascending id order within a struct. */
struct pq__tw {
    struct wr_buf *b;
    int16_t last[PQ__T_MAX_DEPTH];
    int depth;
    int overflow; /* nesting deeper than PQ__T_MAX_DEPTH (a bug, reported by the tests) */
};

void pq__tw_init(struct pq__tw *t, struct wr_buf *b);
void pq__tw_field(struct pq__tw *t, int type, int16_t id);
void pq__tw_i8(struct pq__tw *t, int16_t id, int8_t v);
void pq__tw_i32(struct pq__tw *t, int16_t id, int32_t v);
void pq__tw_i64(struct pq__tw *t, int16_t id, int64_t v);
void pq__tw_double(struct pq__tw *t, int16_t id, double v);
void pq__tw_bool(struct pq__tw *t, int16_t id, int v);
void pq__tw_bin(struct pq__tw *t, int16_t id, const void *p, size_t len);
void pq__tw_str(struct pq__tw *t, int16_t id, const char *s);
/* A struct field (id > 0) or a list element struct (id 0: no field header). */
void pq__tw_struct_begin(struct pq__tw *t, int16_t id);
void pq__tw_struct_end(struct pq__tw *t);
/* A list field header; the n elements follow with the pq__tw_elem_* calls or, for
 * struct elements, pq__tw_struct_begin(t, 0)/pq__tw_struct_end. */
void pq__tw_list_begin(struct pq__tw *t, int16_t id, int elem_type, uint32_t n);
void pq__tw_elem_i32(struct pq__tw *t, int32_t v);
void pq__tw_elem_bin(struct pq__tw *t, const void *p, size_t len);
/* Ends the top-level struct (writes the stop byte). */
void pq__tw_end(struct pq__tw *t);

static inline uint64_t pq__zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* RLE/bit-packed hybrid (Encodings.md) of n values of width bits (0..32), appended to out
 * without a length prefix: RLE runs for repeats of 8 or more, bit-packed groups of 8 else;
 * only the last group is padded. */
void pq__rle_u32(struct wr_buf *out, const uint32_t *v, size_t n, int width);
void pq__rle_u8(struct wr_buf *out, const uint8_t *v, size_t n, int width);

/* Bits needed for values 0..max_value (0 for 0). */
int pq__bit_width(uint32_t max_value);

/* Packs n booleans (one byte each, 0/1) LSB first (PLAIN BOOLEAN). */
void pq__pack_bools(struct wr_buf *out, const uint8_t *v, size_t n);

/* String statistics truncation to at most max bytes, keeping valid UTF-8.
 * Lower bound: the longest prefix ending on a character boundary. Returns its length.
 * Upper bound: that prefix with its last character incremented (dropping characters that
 * cannot be); writes it to out (max bytes of room) and returns its length, or -1 when no
 * shorter upper bound exists (the caller then omits max_value). Only call with len > max. */
size_t pq__trunc_min(const uint8_t *p, size_t len, size_t max);
long pq__trunc_max(const uint8_t *p, size_t len, size_t max, uint8_t *out);

/* A fast, seeded-free hash of a byte string for the dictionary. */
uint32_t pq__hash(const void *p, size_t len);

#endif
