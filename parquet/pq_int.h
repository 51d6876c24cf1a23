/* pq_int.h - private to parquet/: the Thrift compact encoder, RLE/bit-packed
 * hybrid encoder and statistics helpers the writer is built from (unit-tested on their own). */
#ifndef WEIR_PQ_INT_H
#define WEIR_PQ_INT_H

#include "common/buf.h"
#include "parquet/parquet.h"

#include <pthread.h>
#include <zlib.h>
#include <zstd.h>

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

/* ---- the writer's state (writer.c, footer.c) ----------------------------------------- */

/* Parquet enum values (parquet.thrift). */
enum {
    T_BOOLEAN = 0,
    T_INT32 = 1,
    T_INT64 = 2,
    T_DOUBLE = 5,
    T_BYTE_ARRAY = 6,
    CT_UTF8 = 0,
    CT_TIMESTAMP_MICROS = 10,
    CT_INT_32 = 17,
    CT_INT_64 = 18,
    CT_JSON = 19,
    REP_REQUIRED = 0,
    REP_OPTIONAL = 1,
    ENC_PLAIN = 0,
    ENC_RLE = 3,
    ENC_RLE_DICTIONARY = 8,
    CODEC_UNCOMPRESSED = 0,
    CODEC_GZIP = 2,
    CODEC_ZSTD = 6,
    PAGE_DATA = 0,
    PAGE_DICTIONARY = 2
};

#define PAGE_MAX_VALUES (1u << 20) /* bounds a page's index/level arrays whatever the sizes */

struct pq__dent {
    uint32_t off;
    uint32_t len;
    uint32_t hash;
};

struct pq__slot {
    uint32_t hash;
    uint32_t idx; /* entry index + 1, 0 = empty */
    uint32_t off; /* copies of the entry's, so a lookup touches only the slot and the bytes */
    uint32_t len;
};

/* Footer facts of one written column chunk. */
struct pq__cmeta {
    int64_t num_values, unc, comp, data_off, dict_off, null_count, nan_count;
    uint32_t min_off, max_off, min_len, max_len;
    int32_t n_dict_data_pages, n_plain_pages;
    uint8_t has_min, has_max, min_exact, max_exact, has_dict;
};

struct pq__rgmeta {
    int64_t num_rows, total_unc, total_comp, file_offset;
};

struct pq__col {
    char *name;
    enum pq_type type;
    enum pq_logical logical;
    int optional;
    int dict_enabled;

    uint64_t nvals; /* values (incl. nulls) in the current row group */

    /* current page */
    struct wr_buf vals; /* PLAIN values, or one byte per boolean */
    struct wr_buf idx;  /* uint32 dictionary indices */
    struct wr_buf defs; /* one definition level byte per value */
    size_t page_n, page_nonnull;

    /* current chunk */
    int dict_mode;
    struct wr_buf data;             /* finished data pages: header + (compressed) body */
    struct pq__pjob *jhead, *jtail; /* with an executor: this chunk's data pages, in order, whose
                                   header + body go to data once compressed */
    int64_t chunk_unc, chunk_comp;
    int32_t n_dict_data_pages, n_plain_pages;
    int64_t null_count;

    /* statistics of the current chunk */
    int has_stats;
    int64_t imin, imax;
    double dmin, dmax;
    int64_t nan_count;
    struct wr_buf smin, smax;

    /* dictionary of the current chunk */
    struct wr_buf dbytes;
    struct pq__dent *ents;
    uint32_t nents, ents_cap;
    struct pq__slot *slots; /* open addressing, linear probing; the hash is kept beside the index so
                           a probe touches the entry only on a probable match */
    uint32_t nslots;
    size_t dict_plain_bytes;
};

struct pq_writer {
    pq_write_fn write;
    void *arg;
    struct pq_opts o;
    char created_by[128];
    char **kv; /* 2 * nkv strings */
    size_t nkv;

    struct pq__col *cols;
    size_t ncols;

    uint64_t rg_rows, total_rows, row_puts;
    size_t rg_est;
    uint64_t offset;
    int started, closed;
    int fail;
    char errmsg[160];

    struct wr_buf body, cbuf, hdr, dpage;
    ZSTD_CCtx *zc;

    /* with an executor: jobs in flight and their compression contexts */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int sync_ready;
    size_t outstanding; /* jobs submitted, not yet finished */
    size_t pend_bytes;  /* an upper bound of the header + compressed bytes of the jobs not
                               yet moved into their chunk, whether they ran or not: the same
                               whatever the timing (pq_writer_buffered_bytes); this thread's */
    ZSTD_CCtx *ccs[8];  /* idle contexts for jobs */
    int nccs;
    z_stream zs;
    int zs_ready;

    struct wr_buf cmetas;  /* struct pq__cmeta[] */
    struct wr_buf rgmetas; /* struct pq__rgmeta[] */
    struct wr_buf statbytes;
};

/* Records the first failure (sticky; msg is kept for pq_writer_errmsg) and returns its code. */
int pq__fail(pq_writer *w, int code, const char *msg);
/* pq__fail with the buffer's sticky error, or 0. */
int pq__buf_check(pq_writer *w, const struct wr_buf *b);
/* Hands bytes to the write callback and advances the file offset. */
int pq__emit(pq_writer *w, const void *p, size_t len);
/* Writes the footer (FileMetaData, its length, PAR1). */
int pq__write_footer(pq_writer *w);

#endif
