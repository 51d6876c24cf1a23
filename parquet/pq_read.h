/* pq_read.h - weir's Parquet reader: the flat files weir's writer and DuckDB write (PLAIN,
 * dictionary, RLE/bit-packed levels, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY,
 * BYTE_STREAM_SPLIT; data page v1 and v2; ZSTD, GZIP, SNAPPY, uncompressed). Streaming: the
 * file is read with pread, one row group of the projected (and filtered) columns at a time,
 * so memory is bounded by one row group of those columns. Row groups are skipped by their
 * min/max statistics under range filters. A hostile file is an error with a message, never a
 * crash: every length is checked against the file size and the limits of pq_read_opts.
 * One thread per reader; distinct readers are independent. */
#ifndef WEIR_PQ_READ_H
#define WEIR_PQ_READ_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct pq_reader pq_reader;

/* Physical types, numbered as in parquet.thrift. */
enum pq_ptype {
    PQ_PT_BOOLEAN = 0,
    PQ_PT_INT32 = 1,
    PQ_PT_INT64 = 2,
    PQ_PT_INT96 = 3, /* 12 raw bytes (legacy timestamps), read as a byte string */
    PQ_PT_FLOAT = 4,
    PQ_PT_DOUBLE = 5,
    PQ_PT_BYTE_ARRAY = 6,
    PQ_PT_FLBA = 7 /* FIXED_LEN_BYTE_ARRAY */
};

/* Logical annotation (from LogicalType, else from the legacy ConvertedType). */
enum pq_rlogical {
    PQ_RL_NONE = 0,
    PQ_RL_STRING,
    PQ_RL_JSON,
    PQ_RL_ENUM,
    PQ_RL_UUID,
    PQ_RL_INT,       /* int_bits, int_signed */
    PQ_RL_DECIMAL,   /* scale, precision; the value is the unscaled integer */
    PQ_RL_DATE,      /* days since 1970-01-01 */
    PQ_RL_TIME,      /* unit, utc; since midnight */
    PQ_RL_TIMESTAMP, /* unit, utc; since the Unix epoch */
    PQ_RL_INTERVAL,
    PQ_RL_BSON,
    PQ_RL_FLOAT16,
    PQ_RL_OTHER /* known to Parquet, not interpreted here (the physical value is given) */
};

enum pq_time_unit { PQ_UNIT_MILLIS = 0, PQ_UNIT_MICROS, PQ_UNIT_NANOS };

/* One leaf column of the file. Strings are owned by the reader. */
struct pq_rcol {
    const char *name; /* the leaf's path, dot-joined for nested leaves */
    enum pq_ptype type;
    int type_length; /* bytes of a FLBA value */
    int optional;    /* nonzero: may hold nulls */
    enum pq_rlogical logical;
    int int_bits, int_signed; /* PQ_RL_INT */
    int scale, precision;     /* PQ_RL_DECIMAL */
    enum pq_time_unit unit;   /* PQ_RL_TIME / PQ_RL_TIMESTAMP */
    int utc;                  /* isAdjustedToUTC */
    const char *unsupported;  /* NULL when readable, else why not (nested, repeated, ...) */
};

/* Limits; a zeroed struct (or NULL) means the defaults in brackets. */
struct pq_read_opts {
    uint64_t max_footer_bytes; /* [64 MiB] */
    uint64_t max_page_bytes;   /* an uncompressed page [256 MiB] */
    uint64_t max_group_bytes;  /* memory for one row group of the read columns: pages,
                                     values, dictionaries [1 GiB] */
    uint64_t max_group_rows;   /* [64 Mi rows] */
    int no_crc;                /* nonzero: do not verify page CRC-32s (verified when present) */
};

/* Where the bytes come from: pread semantics (0 or a negative WR_ code; short reads are
 * errors). size is the file size. */
struct pq_source {
    void *arg;
    int (*pread)(void *arg, void *buf, size_t len, uint64_t off);
    uint64_t size;
};

/* Opens a file by path (kept open until destroy), a caller's source (borrowed: must outlive
 * the reader), or bytes in memory (borrowed). Reads and checks the footer: magic, length,
 * schema, row groups (each column chunk inside the file). NULL with err on failure:
 * WR_EIO (the file), WR_EINVAL (not a Parquet file we can read; msg says why), WR_ELIMIT,
 * WR_ENOMEM. Encrypted files and external column chunks are refused. */
pq_reader *pq_reader_open(const char *path, const struct pq_read_opts *opts, struct wr_err *err);
pq_reader *pq_reader_open_source(const struct pq_source *src, const struct pq_read_opts *opts,
                                 struct wr_err *err);
pq_reader *pq_reader_open_mem(const void *p, size_t len, const struct pq_read_opts *opts,
                              struct wr_err *err);
void pq_reader_destroy(pq_reader *r); /* NULL is a no-op */

/* The footer. */
uint64_t pq_reader_num_rows(const pq_reader *r);
size_t pq_reader_num_row_groups(const pq_reader *r);
uint64_t pq_reader_row_group_rows(const pq_reader *r, size_t g);
size_t pq_reader_num_columns(const pq_reader *r);
const struct pq_rcol *pq_reader_column(const pq_reader *r, size_t i); /* NULL out of range */
long pq_reader_find_column(const pq_reader *r, const char *name);     /* index or -1 */
const char *pq_reader_created_by(const pq_reader *r);                 /* "" when absent */
/* A key_value_metadata value (NUL-terminated copy), NULL when absent. */
const char *pq_reader_kv(const pq_reader *r, const char *key);

/* Chooses the columns to read, in this order (default: every readable column). Refused with
 * WR_ENOENT naming an unknown column, WR_EINVAL for an unsupported one or once reading began. */
int pq_reader_project(pq_reader *r, const char *const *names, size_t n, struct wr_err *err);

/* A filter bound; kind must fit the column: INT for BOOLEAN/INT32/INT64 (compared unsigned
 * for unsigned INT logical types), DOUBLE for FLOAT/DOUBLE, BYTES for BYTE_ARRAY/FLBA
 * (unsigned byte-wise). Values are in the column's stored form: timestamps in its unit,
 * dates in days, INT32/INT64 decimals unscaled. */
enum pq_fv_kind { PQ_FV_INT = 0, PQ_FV_DOUBLE, PQ_FV_BYTES };
struct pq_fv {
    enum pq_fv_kind kind;
    int64_t i;
    double d;
    const void *p;
    size_t len;
};

/* Adds "column in [lo, hi]" (NULL = unbounded; lo == hi for equality); bytes are copied.
 * Filters are ANDed. A row group whose statistics prove no value can match is skipped
 * without reading it; a group whose filtered columns hold no match is skipped after reading
 * only those columns, in the order of their first filter (add the most selective first: a
 * later one is read only on the pages where rows are left; a dictionary without a matching
 * entry spares its pages); pq_reader_next_row returns matching rows only and pq_reader_selection
 * lists them. Nulls never match. Refused (WR_EINVAL) for a kind that does not fit, a decimal
 * stored as bytes, or once reading began; WR_ENOENT for an unknown column. */
int pq_reader_filter(pq_reader *r, const char *column, const struct pq_fv *lo,
                     const struct pq_fv *hi, struct wr_err *err);

/* Loads the next row group not skipped: 1 loaded, 0 no more, negative on failure (err says
 * which row group and column; the reader is then failed). Frees the previous group. */
int pq_reader_next_group(pq_reader *r, struct wr_err *err);
size_t pq_reader_group_index(const pq_reader *r); /* of the loaded group */
size_t pq_reader_group_rows(const pq_reader *r);

struct pq_bytes {
    const uint8_t *p;
    size_t len;
};

/* Column k of the projection in the loaded group: nrows values indexed by row; a null row's
 * value slot is zero. With filters, only the selected rows (pq_reader_selection) are sure to
 * hold their values: pages without a selected row are skipped, their rows read as null/zero;
 * on the other pages a row not selected may hold zero or a value of an earlier row group
 * (never uninitialized memory). values is int32_t (INT32), int64_t (INT64), float, double,
 * uint8_t 0/1 (BOOLEAN) or struct pq_bytes (BYTE_ARRAY, FLBA, INT96). Valid until the next
 * group. */
struct pq_batch {
    const struct pq_rcol *col;
    size_t nrows;
    const uint8_t *valid; /* NULL: no nulls; else 1 = value, 0 = null */
    const void *values;
};
int pq_reader_batch(const pq_reader *r, size_t k, struct pq_batch *b); /* 0 or WR_EINVAL */

/* The rows of the loaded group that match every filter (ascending); all rows without filters. */
const uint32_t *pq_reader_selection(const pq_reader *r, size_t *n);

/* Advances to the next matching row, loading groups as needed: 1, 0 at the end, negative on
 * failure. Then pq_reader_value gives projected column k of that row. */
int pq_reader_next_row(pq_reader *r, struct wr_err *err);
struct pq_value {
    int null;
    int64_t i;        /* BOOLEAN, INT32, INT64 */
    double d;         /* FLOAT, DOUBLE */
    const uint8_t *p; /* BYTE_ARRAY, FLBA, INT96 */
    size_t len;
};
void pq_reader_value(const pq_reader *r, size_t k, struct pq_value *v);

struct pq_read_stats {
    uint64_t groups_read;          /* row groups whose columns were read */
    uint64_t groups_skipped_stats; /* skipped by statistics */
    uint64_t groups_skipped_rows;  /* filtered columns read, no row matched */
    uint64_t pages;                /* data + dictionary pages decoded */
    uint64_t pages_skipped;        /* data pages not decoded: no selected row in them */
    uint64_t bytes_read;           /* bytes read from the source (footer included) */
    uint64_t rows_scanned;         /* rows of the groups read */
};
void pq_reader_stats(const pq_reader *r, struct pq_read_stats *s);

#endif
