/* parquet.h - weir's streaming Parquet writer: flat schemas, data page v1, PLAIN and
 * RLE_DICTIONARY, ZSTD/GZIP/none, chunk statistics. A pure library: every byte goes to the
 * caller's write callback, in file order, once; there is no file I/O and no seeking. */
#ifndef WEIR_PARQUET_H
#define WEIR_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PQ_WRITER_VERSION "0.1.0"
#define PQ_MAX_COLUMNS 1024     /* create refuses more leaf columns than this */
#define PQ_MAX_NAME_BYTES 255   /* longest column name accepted */

typedef struct pq_writer pq_writer;

/* Physical column types. */
enum pq_type {
    PQ_BOOLEAN = 0,
    PQ_INT32,
    PQ_INT64,
    PQ_DOUBLE,
    PQ_BYTE_ARRAY
};

/* Logical annotations; each is written as a LogicalType and its ConvertedType.
 * PQ_LT_STRING/PQ_LT_JSON need PQ_BYTE_ARRAY; PQ_LT_INT is INTEGER(bits of the physical
 * type, signed) on PQ_INT32/PQ_INT64; PQ_LT_TIMESTAMP_US is TIMESTAMP(isAdjustedToUTC=true,
 * MICROS) on PQ_INT64 (values are microseconds since the Unix epoch). */
enum pq_logical {
    PQ_LT_NONE = 0,
    PQ_LT_STRING,
    PQ_LT_JSON,
    PQ_LT_INT,
    PQ_LT_TIMESTAMP_US
};

/* Value encoding of a column. AUTO = dictionary for PQ_BYTE_ARRAY, PLAIN otherwise.
 * PQ_ENC_DICT is accepted for PQ_BYTE_ARRAY only. */
enum pq_encoding {
    PQ_ENC_AUTO = 0,
    PQ_ENC_PLAIN,
    PQ_ENC_DICT
};

enum pq_codec {
    PQ_CODEC_ZSTD = 0, /* the default */
    PQ_CODEC_GZIP,
    PQ_CODEC_UNCOMPRESSED
};

/* One leaf column. name is copied by pq_writer_create. */
struct pq_column {
    const char *name;
    enum pq_type type;
    enum pq_logical logical;
    int optional;              /* nonzero: OPTIONAL (nulls allowed), else REQUIRED */
    enum pq_encoding encoding;
};

struct pq_schema {
    const struct pq_column *cols;
    size_t ncols;
};

/* One footer key/value pair (FileMetaData.key_value_metadata); both strings copied. */
struct pq_kv {
    const char *key;
    const char *value;
};

/* Writer options. A zeroed struct (or NULL) means all defaults, given in brackets. */
struct pq_opts {
    enum pq_codec codec;          /* [ZSTD] */
    int level;                    /* codec level; 0 = codec default [ZSTD 3, GZIP 6] */
    size_t row_group_bytes;       /* flush a row group when its values' plain-encoded size
                                     reaches this [128 MiB] */
    size_t row_group_rows;        /* ... or when it holds this many rows [1 Mi rows] */
    size_t page_bytes;            /* close a data page at this many value bytes [1 MiB];
                                     at most 256 MiB */
    size_t dict_max_bytes;        /* a chunk's dictionary falls back to PLAIN past this [1 MiB] */
    size_t dict_max_entries;      /* ... or past this many entries [65536] */
    size_t max_value_bytes;       /* longest PQ_BYTE_ARRAY value accepted [16 MiB]; at most
                                     1 GiB and half of max_buffer_bytes */
    size_t stats_max_bytes;       /* string min/max longer than this are truncated (and
                                     flagged inexact) [64] */
    size_t max_buffer_bytes;      /* cap on each of the writer's buffers (a column chunk's
                                     pages, the footer, ...) [1 GiB]; reaching it fails the
                                     writer with WR_ELIMIT */
    int no_page_crc;              /* nonzero: omit page CRC-32s (written by default) */
    const char *build;            /* created_by "weir version 0.1.0 (build <build>)";
                                     copied; NULL = "unknown"; must not contain ')' */
    const struct pq_kv *kv;       /* optional footer key/value metadata, copied */
    size_t nkv;
    const struct pq_exec *exec;   /* optional: ZSTD data pages are compressed through it, off
                                     the calling thread; borrowed, must outlive the writer.
                                     NULL: every page is compressed inside the put that ends it */
};

/* An executor the writer hands page compressions to. The output bytes are the same as without
 * one; only where the CPU time is spent changes. fn touches nothing but its job, so it may run on
 * any thread. Every call into the writer (put, end_row, flush, close, destroy) stays on one
 * thread; flush/close/destroy wait for the writer's outstanding jobs, calling help meanwhile. */
struct pq_exec {
    void *arg;
    /* Queues fn(job) to run exactly once, on any thread. Returns 0, or nonzero when it cannot
     * (the writer then runs fn itself). */
    int (*submit)(void *arg, void (*fn)(void *job), void *job);
    /* Runs one queued fn (any submitter's) on the calling thread: 1, or 0 when none is queued.
     * May be NULL (the writer then only waits). */
    int (*help)(void *arg);
};

/* Receives the file bytes in order. Returns 0, or a negative code which the writer returns
 * from the call that triggered the write and from every later call (the file is lost). */
typedef int (*pq_write_fn)(void *arg, const void *p, size_t len);

/* Creates a writer for schema with opts (NULL = defaults). Nothing is written until the first
 * row group is flushed or pq_writer_close. Refuses (NULL, err WR_EINVAL) zero columns, more than
 * PQ_MAX_COLUMNS, empty/duplicate/overlong names, unknown types and mismatched logical types.
 * NULL with WR_ENOMEM when allocation fails. write/arg are kept until destroy. Not thread-safe:
 * one thread per writer; distinct writers are independent. */
pq_writer *pq_writer_create(const struct pq_schema *schema, const struct pq_opts *opts,
                            pq_write_fn write, void *arg, struct wr_err *err);

/* Sets column col of the current row. Returns 0, or:
 * - WR_EINVAL (nothing recorded, writer still usable): col out of range, type mismatch
 *   (put_int64 on a PQ_INT64 column only, etc.), column already set in this row, NULL p with
 *   len > 0, or put_null on a REQUIRED column;
 * - WR_ELIMIT (nothing recorded, still usable): a byte array longer than max_value_bytes;
 * - any other negative code: the writer failed (allocation, buffer cap, codec, callback) and
 *   every later call returns that code.
 * put_str copies the bytes; STRING/JSON values must be valid UTF-8 (not checked). */
int pq_writer_put_bool(pq_writer *w, size_t col, int v);
int pq_writer_put_int32(pq_writer *w, size_t col, int32_t v);
int pq_writer_put_int64(pq_writer *w, size_t col, int64_t v);
int pq_writer_put_double(pq_writer *w, size_t col, double v);
int pq_writer_put_str(pq_writer *w, size_t col, const void *p, size_t len);
int pq_writer_put_null(pq_writer *w, size_t col);

/* Ends the current row: OPTIONAL columns not set in it become null. Returns 0; WR_EINVAL when a
 * REQUIRED column was not set (sticky: the writer is failed); or a failure of a row group flush
 * (which calls the write callback). */
int pq_writer_end_row(pq_writer *w);

/* Ends the current row group now, writing it through the callback (a no-op when it holds no
 * rows): for callers that cut row groups by time or by memory across many writers. Refused with
 * WR_EINVAL (writer still usable) between puts of an unfinished row. Returns 0 or the failure. */
int pq_writer_flush(pq_writer *w);

/* Bytes buffered for the current row group: finished (compressed) pages, open pages and
 * dictionaries. Costs one pass over the columns. */
size_t pq_writer_buffered_bytes(const pq_writer *w);

/* With an executor: waits for the pages still being compressed and counts them as finished, so
 * that pq_writer_buffered_bytes is exactly what it would be without one (until then it counts
 * each such page at an upper bound of its compressed size, the same whatever the timing).
 * Without one, a no-op. Returns 0 or the writer's failure. */
int pq_writer_settle(pq_writer *w);

/* Flushes the last row group and writes the footer. A row that was started but not ended is
 * refused (WR_EINVAL). Returns 0 or a negative code (err filled when not NULL); after close
 * only pq_writer_destroy is allowed. A file with 0 rows is valid (schema, no row groups). */
int pq_writer_close(pq_writer *w, struct wr_err *err);

/* Rows ended so far, and bytes handed to the write callback so far. */
uint64_t pq_writer_rows(const pq_writer *w);
uint64_t pq_writer_bytes_written(const pq_writer *w);

/* The message of the writer's sticky failure ("" when none). Valid until destroy. */
const char *pq_writer_errmsg(const pq_writer *w);

/* Frees the writer (without writing anything); NULL is a no-op. */
void pq_writer_destroy(pq_writer *w);

#endif
