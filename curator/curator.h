/* curator.h - the curation worker: turns closed hours of the raw zone into deduplicated,
 * typed Parquet (curated/events) and hourly rollups (curated/rollups/hourly + Postgres),
 * coordinating many workers through leases in Postgres. */
#ifndef WEIR_CURATOR_H
#define WEIR_CURATOR_H

#include "common/err.h"
#include "lake/lake.h"
#include "parquet/parquet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Configuration ----------------------------------------------------------- */

/* Options of a run. Zero fields take the default in brackets. Strings are borrowed for
 * the duration of the call that receives the struct. */
struct cur_config {
    const char *lake_url;              /* lake root URL, required */
    const struct lake_s3_opts *s3;     /* S3 options (NULL: defaults + AWS variables) */
    const char *conninfo;              /* libpq conninfo, required by cur_run */
    const char *dt;                    /* only this day "YYYY-MM-DD" [every day] */
    const char *event_type;            /* only this event type [every type] */
    int64_t grace_ms;                  /* an hour is closed at its end + grace [10 min] */
    int64_t lease_ms;                  /* lease length, renewed while working [5 min] */
    int64_t lookback_ms;               /* raw hours before the day read for dedup only [2 h] */
    uint64_t target_file_bytes;        /* start a new part file past this [128 MiB] */
    uint64_t row_group_bytes;          /* plain-encoded bytes per row group [64 MiB] */
    uint64_t max_hour_bytes;           /* cap on one (type, hour)'s inflated text [2 GiB] */
    uint64_t max_file_bytes;           /* cap on one raw file, compressed [1 GiB] */
    enum pq_codec codec;               /* [ZSTD] */
    int level;                         /* codec level [ZSTD: 1; others: the codec's default] */
    int threads;                       /* threads in this process [1]: with 2 or more,
                                          `threads` days at once, and every thread also
                                          serves one shared queue of the days' next-hour
                                          reading and Parquet page compression */
    bool pipeline;                     /* cur_day_curate: read the next hour and compress
                                          pages on a helper thread (cur_run sets it from
                                          threads) */
    bool force;                        /* re-curate even when the raw files did not change */
    const char *tmp_dir;               /* local folder for part files being written [/tmp] */
    const char *worker_id;             /* lease owner name [host:pid] */
    int64_t now_ms;                    /* tests: the clock for "closed" (0 = wall clock) */
    unsigned max_examples;             /* bad lines named in the log per unit [5] */
    int64_t test_hour_delay_ms;        /* tests only: sleep before each hour (kill mid-run) */
    const char *test_pause_fifo;       /* tests only: before the process's first part upload,
                                          create <this>.paused and block until the FIFO at
                                          this path is opened for writing */
};

/* Counters of a run (summed over its units). */
struct cur_stats {
    uint64_t units_done;       /* (event_type, dt) days curated */
    uint64_t units_failed;     /* days whose curation failed (logged; retried by a later run) */
    uint64_t units_lost;       /* days abandoned because another worker took the lease */
    uint64_t lines;            /* raw lines read (valid envelopes) */
    uint64_t rows;             /* rows written */
    uint64_t duplicates;       /* lines dropped by dedup */
    uint64_t invalid_lines;    /* lines that are not a usable envelope */
    uint64_t bad_files;        /* raw files that are not valid gzip (their good prefix is used) */
    uint64_t type_mismatches;  /* payload values that did not fit their column (written null) */
    uint64_t extra_props;      /* payload properties not in any schema version (dropped) */
    uint64_t files_written;    /* Parquet part files put (events and rollups) */
    uint64_t bytes_written;
};

/* Fills the defaults of every zero field of c. */
void cur_config_defaults(struct cur_config *c);

/* ---- The whole worker ---------------------------------------------------------- */

/* One pass: applies migrations, lists the raw zone, records each (event_type, dt) with
 * closed hours and the fingerprint of their files in curation_state, then claims
 * (FOR UPDATE SKIP LOCKED) and curates every day whose fingerprint differs from the
 * curated one (or every matching day with force), with cfg->threads threads, each with
 * its own Postgres connection and lake store. Returns when nothing is left to claim.
 * Returns 0 when every claimed day was curated, WR_EAGAIN when some failed (stats say
 * how many; they are retried by a later run), or another negative code when the run
 * could not start (Postgres, lake). stats may be NULL. Thread-safe for distinct calls. */
int cur_run(const struct cur_config *cfg, struct cur_stats *stats, struct wr_err *err);

/* ---- One day, without Postgres (also for tests and benchmarks) ------------------------ */

/* The column model of one event type: envelope columns, then one typed column per
 * top-level payload property of the union of the given schema versions. */
typedef struct cur_model cur_model;

/* Builds the model from n JSON Schema documents (JSON text) of event_type. A property
 * whose versions disagree on its type becomes a JSON-text column; a document that is
 * not JSON is refused (NULL, WR_EINVAL). n may be 0: the payload is then one JSON
 * column "payload". */
cur_model *cur_model_create(const char *const *schemas, size_t n, struct wr_err *err);
void cur_model_destroy(cur_model *m);

/* Number of columns, and the name/type of column i (for tests and logs). */
size_t cur_model_columns(const cur_model *m);
const struct pq_column *cur_model_column(const cur_model *m, size_t i);

/* One rollup row: (event_type, dt, hr, source). events = valid lines of that hour and
 * source; duplicates = those dropped by dedup; distinct_event_ids = those kept
 * (events = duplicates + distinct_event_ids); invalid_lines = lines that are not a
 * usable envelope (source "" when none could be read); bad_files = raw files of the hour
 * that are not valid gzip (counted on the "" row). */
struct cur_rollup {
    int hr;
    char source[129];
    uint64_t events, duplicates, distinct_event_ids, invalid_lines, bad_files;
};

/* Result of one day. */
struct cur_day_result {
    char fingerprint[65];       /* SHA-256 hex of the raw files read (keys and sizes) */
    unsigned parts;             /* part files written */
    struct cur_rollup *rollups; /* sorted by hr, source; free with cur_day_result_free */
    size_t nrollups;
    struct cur_stats stats;
};

void cur_day_result_free(struct cur_day_result *r);

/* Called between hours; return nonzero to abandon the day (lease lost). */
typedef int (*cur_renew_fn)(void *arg);

/* Lists the closed raw hours of (event_type, dt) (plus the lookback hours of the day
 * before, read for dedup only), curates them into
 * curated/events/event_type=<t>/dt=<dt>/part-<nnnnn>.parquet (replacing earlier parts and
 * deleting every other part of the day; no lease: cur_run fences its writes instead) and
 * fills r. Does not write rollups. Returns 0;
 * WR_EAGAIN when renew asked to stop; a negative code with err on failure (lake, limits,
 * local disk). Bad input (broken gzip, broken lines, values of the wrong type) is counted
 * and logged, never an error. */
int cur_day_curate(lake_store *st, const cur_model *m, const char *event_type, const char *dt,
                   const struct cur_config *cfg, cur_renew_fn renew, void *renew_arg,
                   struct cur_day_result *r, struct wr_err *err);

/* Writes the rollup rows of one day (every event type; rows sorted by event_type, hr,
 * source; types[i] is the event type of rows[i]) as
 * curated/rollups/hourly/dt=<dt>/part-00000.parquet. */
int cur_rollups_write(lake_store *st, const char *dt, const char *const *types,
                      const struct cur_rollup *rows, size_t n, const struct cur_config *cfg,
                      struct wr_err *err);

/* ---- Small pieces, public for tests ------------------------------------------------ */

/* A set of 128-bit hashes of event ids: 16-byte slots, grown at 3/4 load, so 21..43 bytes
 * per id (two ids collide with probability about n^2 / 2^129). */
typedef struct cur_idset cur_idset;
cur_idset *cur_idset_create(void);
void cur_idset_destroy(cur_idset *s);
/* Inserts the id; returns 1 when it was new, 0 when already present, WR_ENOMEM. */
int cur_idset_add(cur_idset *s, const void *id, size_t len);
size_t cur_idset_count(const cur_idset *s);
/* Bytes of memory held. */
size_t cur_idset_bytes(const cur_idset *s);

/* The fingerprint of a raw file list: SHA-256 hex over "key\tsize\n" lines in the given
 * order (callers sort keys first). */
void cur_fingerprint(const char *const *keys, const uint64_t *sizes, size_t n, char out[65]);

#endif
