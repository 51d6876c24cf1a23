/* read_int.h - private to the Parquet reader (reader.c, read_meta.c, read_page.c): the parsed
 * footer, the Thrift compact decoder and the page decoders. Nothing outside parquet/ includes it. */
#ifndef WEIR_PQ_READ_INT_H
#define WEIR_PQ_READ_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "parquet/pq_read.h"

/* Thrift compact decoding over [p, end). Failures are sticky: once err is set every read
 * returns 0 and the caller checks err once per struct. */
struct pqr_tc {
    const uint8_t *p, *end;
    int depth;
    struct wr_err *err;
    int failed;
};

int pqr_tc_fail(struct pqr_tc *t, const char *what);
uint64_t pqr_tc_uvarint(struct pqr_tc *t);
int64_t pqr_tc_zigzag(struct pqr_tc *t);
/* Reads a field header: returns the type (0 = stop) and sets *id; last is the struct's last id. */
int pqr_tc_field(struct pqr_tc *t, int16_t *last, int16_t *id, int *boolval);
void pqr_tc_skip(struct pqr_tc *t, int type, int boolval);

enum {
    PQR_T_TRUE = 1,
    PQR_T_FALSE = 2,
    PQR_T_I8 = 3,
    PQR_T_I16 = 4,
    PQR_T_I32 = 5,
    PQR_T_I64 = 6,
    PQR_T_DOUBLE = 7,
    PQR_T_BINARY = 8,
    PQR_T_LIST = 9,
    PQR_T_SET = 10,
    PQR_T_MAP = 11,
    PQR_T_STRUCT = 12
};

struct pqr_stats {
    const uint8_t *min, *max; /* into the footer copy; NULL when absent */
    uint32_t min_len, max_len;
    const uint8_t *old_min, *old_max; /* deprecated signed-order min/max */
    uint32_t old_min_len, old_max_len;
    int has_null_count;
    int64_t null_count;
};

struct pqr_chunk {
    int type;
    int codec;
    int64_t num_values;
    int64_t data_off;
    int64_t dict_off; /* -1 when absent */
    int64_t total_compressed;
    int has_meta;
    int has_path; /* external file_path: refused when read */
    struct pqr_stats st;
};

struct pqr_group {
    int64_t num_rows;
    struct pqr_chunk *chunks; /* one per leaf */
};

struct pqr_leaf {
    struct pq_rcol c;
    char *name;
    int max_def, max_rep;
};

struct pqr_kv {
    char *key, *value;
};

struct pqr_meta {
    uint8_t *footer; /* the FileMetaData bytes (statistics point into it) */
    size_t footer_len;
    struct pqr_leaf *leaves;
    size_t nleaves;
    struct pqr_group *groups;
    size_t ngroups;
    int64_t num_rows;
    char *created_by;
    struct pqr_kv *kv;
    size_t nkv;
};

/* Parses the FileMetaData in m->footer (owned by m) for a file of file_size bytes whose data
 * ends at data_end. 0 or WR_EINVAL/WR_ENOMEM with err. */
int pqr_meta_parse(struct pqr_meta *m, uint64_t data_end, struct wr_err *err);
void pqr_meta_free(struct pqr_meta *m);

/* ---- page decoding (read_page.c) ---- */

/* Decompression contexts kept across pages. */
struct pqr_codecs {
    void *zstd;
    void *defl;
};
void pqr_codecs_free(struct pqr_codecs *c);

/* Decompresses in[0,n) with codec into out, which must come out exactly outlen bytes.
 * 0, or WR_EINVAL with a message in *why (unsupported codec, corrupt or wrong-size data). */
int pqr_decompress(struct pqr_codecs *cs, int codec, const uint8_t *in, size_t n, uint8_t *out,
                   size_t outlen, const char **why);
int pqr_snappy(const uint8_t *in, size_t n, uint8_t *out, size_t outlen);
/* A page decompressed on demand, for a read that needs only its first bytes: ZSTD pages are
 * decompressed as a stream up to what pqr_lazy_need asks (the rest never), other codecs whole
 * by pqr_lazy_start. out[0, have) is valid; a stream that ends early is an error. The part
 * never decompressed is never checked either (the page CRC, when present, still is). */
struct pqr_lazy {
    void *zstd; /* NULL: decompressed whole */
    const uint8_t *in;
    size_t n, in_pos;
    uint8_t *out;
    size_t outlen, have;
};
int pqr_lazy_start(struct pqr_lazy *z, struct pqr_codecs *cs, int codec, const uint8_t *in,
                   size_t n, uint8_t *out, size_t outlen, const char **why);
/* Makes at least want bytes (at most outlen) valid: 0, or WR_EINVAL with *why. */
int pqr_lazy_need(struct pqr_lazy *z, size_t want, const char **why);

/* RLE/bit-packed hybrid: n values of width bits (0..32) from [p, end) into out. Returns the
 * bytes consumed or -1 when the data runs out or is malformed. */
long pqr_hybrid(const uint8_t *p, const uint8_t *end, int width, uint32_t *out, size_t n);

/* Definition levels of a flat optional column (bit width 1) straight into out (0/1 bytes);
 * *ones = how many are 1. Bytes consumed, or -1 (truncated, or a level above 1). */
long pqr_levels(const uint8_t *p, const uint8_t *end, uint8_t *out, size_t n, size_t *ones);

/* DELTA_BINARY_PACKED: up to n values (exactly n required) into out (int64 wrapped to bits).
 * Returns the bytes consumed or -1 with *why. */
long pqr_delta(const uint8_t *p, const uint8_t *end, int bits, int64_t *out, size_t n,
               const char **why);

/* ---- the reader's state (reader.c), shared with read_column.c ---- */

struct rfilter {
    size_t rc; /* index into r->cols */
    int has_lo, has_hi;
    struct pq_fv lo, hi;
    int uns; /* compare integers unsigned */
};

struct blk {
    uint8_t *p;
    size_t cap, used;
};

#define BLK_BYTES ((size_t)4 << 20)

struct rcol {
    size_t leaf;
    const struct pqr_leaf *L;
    size_t vsize;   /* bytes per value slot */
    uint8_t *valid; /* NULL: no nulls in this group */
    void *values;
    int loaded;
    uint8_t *vbuf, *mbuf; /* values and validity, reused from group to group */
    size_t vcap, mcap;
};

struct pq_reader {
    struct pq_source src;
    int fd;
    const uint8_t *mem;
    struct pq_read_opts o;
    struct pqr_meta m;
    struct rcol *cols; /* projection first (nproj), then filter-only columns */
    size_t ncols, nproj;
    struct rfilter *filters;
    size_t nfilters;
    int started, failed;
    struct wr_err fail_err;
    /* the loaded group */
    size_t next_g, cur_g;
    int have_group;
    size_t group_rows;
    uint32_t *sel;
    size_t nsel, cur_row;
    int row_ready;
    struct blk *blks; /* the group's allocations: blocks reused from group to group */
    size_t nblks, blks_cap, cur_blk;
    uint64_t group_bytes; /* bytes of the blocks */
    /* reused across groups, counted against the budget too */
    uint8_t *io;
    size_t io_cap;
    uint8_t *scratch;
    size_t scratch_cap;
    uint8_t *pagebuf;
    size_t pagebuf_cap;
    uint64_t colbuf_bytes; /* the columns' vbuf + mbuf */
    uint8_t *match;        /* per row of the loaded group: 1 while every filter read so far
                              matches (NULL without filters) */
    struct pqr_codecs codecs;
    struct pq_read_stats stats;
};

/* Reads len bytes at off from the source (counted in the stats). 0 or a negative code. */
int pqr_src_read(pq_reader *r, void *buf, size_t len, uint64_t off);
/* n bytes (zeroed when zero) for the loaded row group, freed with it; NULL past the budget. */
void *pqr_galloc(pq_reader *r, size_t n, int zero);
/* Grows a reused buffer (*p, *cap) to n bytes within the budget; 0, WR_ELIMIT or WR_ENOMEM. */
int pqr_grow(pq_reader *r, uint8_t **p, size_t *cap, size_t n);
/* The same for a column's value and validity buffers (counted in colbuf_bytes). */
int pqr_grow_col(pq_reader *r, uint8_t **p, size_t *cap, size_t n);
/* Reads and decodes column c of row group g into c->values/c->valid (r->group_rows rows).
 * 0, or a negative code with err naming the group, column and cause. */
int pqr_load_column(pq_reader *r, struct rcol *c, size_t g, struct wr_err *err);
/* The same for a filtered column, with the nf filters f[] on it: clears r->match[i] for every
 * row i whose value is null or fails a filter. Values are materialized only for the rows that
 * match (the others read as zero, or null on pages skipped): a dictionary is tested once per
 * entry and its pages are skipped undecoded when no entry matches; PLAIN integers are compared
 * in place; pages where r->match holds no row any more are skipped undecoded. */
int pqr_load_filtered(pq_reader *r, struct rcol *c, size_t g, const struct rfilter *const *f,
                      size_t nf, struct wr_err *err);
/* Whether one value slot of column type t matches f (reader.c). */
int pqr_match_slot(const struct rfilter *f, enum pq_ptype t, const void *slot);

#endif
