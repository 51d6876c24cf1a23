/* cur_int.h - private declarations shared by the curator's files. */
#ifndef WEIR_CUR_INT_H
#define WEIR_CUR_INT_H

#include "curator.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/gzip.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

/* How a payload value is turned into its column. */
enum cur_kind { CUR_K_INT, CUR_K_DOUBLE, CUR_K_BOOL, CUR_K_STRING, CUR_K_TS, CUR_K_JSON };

/* Envelope columns come first, in this order; then the gateway's `context` flattened
 * (browser.md "Enrichment"), null where a line has no context or the context lacks the
 * field; then the payload's. */
enum { CUR_C_EVENT_ID, CUR_C_SCHEMA_VERSION, CUR_C_OCCURRED_AT, CUR_C_RECEIVED_AT, CUR_C_SOURCE,
       CUR_C_CTX_IP, CUR_C_CTX_BROWSER, CUR_C_CTX_OS, CUR_C_CTX_DEVICE, CUR_C_CTX_BOT,
       CUR_C_CTX_COUNTRY, CUR_C_CTX_CITY, CUR_NENV };

struct cur_model {
    struct pq_column *cols;  /* ncols; envelope then payload properties */
    char **props;            /* payload property name of column CUR_NENV + i */
    size_t *plens;           /* their lengths */
    enum cur_kind *kinds;    /* kind of column CUR_NENV + i */
    size_t ncols;
    size_t nprops;
    int whole_payload;       /* no schema: one JSON column "payload" */
    /* property name -> column index: open addressing over nprops*4 slots (-1 empty) */
    int32_t *map;
    size_t map_mask;
};

/* Sets the type, logical type and encoding of an optional column of kind k. */
void cur__kind_column(enum cur_kind k, struct pq_column *c);

/* The payload column of property name[0, len), or -1. */
int cur__model_find(const cur_model *m, const char *name, size_t len);

void cur__hash128(const void *p, size_t len, uint64_t *a, uint64_t *b);
int cur__idset_add_hash(cur_idset *s, uint64_t a, uint64_t b);
/* A hint: the slot of hash a will be looked at soon (it is mostly a cache miss). */
void cur__idset_prefetch(const cur_idset *s, uint64_t a);
/* Empties the set, keeping its table (a set refilled to about the same size grows no more). */
void cur__idset_clear(cur_idset *s);
/* 1 when the hash is in the set, else 0. */
int cur__idset_has_hash(const cur_idset *s, uint64_t a, uint64_t b);

/* ---- the task pool (pool.c) ---------------------------------------------------------- */

/* A FIFO of tasks run by its own helper thread or by cur_run's workers: the next hour's
 * reading of pipelined days and the Parquet writers' page compressions. Whoever waits (a
 * day at an hour's end, a writer at a row group's flush) runs queued tasks meanwhile. */
typedef struct cur_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cur_task *head, *tail;
    int stop;
    int own_thread;
    int busy;              /* workers still curating days (cur_run) */
    pthread_t th;
    struct pq_exec exec;   /* what the Parquet writers submit page compressions through */
} cur_pool;

/* Starts pl: with own_thread, one helper thread serves it; workers is how many cur_run
 * workers will call cur__pool_worker_done. Returns 0 or WR_ENOMEM. */
int cur__pool_init(cur_pool *pl, int own_thread, int workers);
/* Runs whatever is queued on the calling thread. */
void cur__pool_help_all(cur_pool *pl);
/* A worker has no more days: it serves the queue until every worker is done. */
void cur__pool_worker_done(cur_pool *pl);
/* Stops the pool's own thread (after the queue runs empty) and frees it. */
void cur__pool_fini(cur_pool *pl);

/* A task whose end can be waited for. */
struct cur_job {
    void (*fn)(void *arg);
    void *arg;
    cur_pool *pl;
    int done;
};
/* Queues job (fn, arg set by the caller). Returns 0 or WR_ENOMEM (nothing queued). */
int cur__job_start(cur_pool *pl, struct cur_job *job);
/* Waits for a started job, running queued tasks (maybe the job itself) meanwhile. */
void cur__job_wait(struct cur_job *job);

/* ---- one day's curation: day.c runs it, list.c lists, read.c reads, write.c writes ----- */

#define CUR_MAX_SOURCE 128 /* bytes of a source name kept (longer: an invalid line) */
#define CUR_PREDICT 64     /* payload member positions whose column is remembered */

struct cur_rawfile {
    char *key;
    uint64_t size;
    int hr;        /* 0..23 of its dt */
    int lookback;  /* a file of the day before, read for dedup only */
};

/* The day's closed raw files, sorted: lookback hours first, then by hour and key. */
struct cur_filelist {
    struct cur_rawfile *v;
    size_t n, cap;
    const char *dt;           /* the day */
    char prev[11];            /* the day before */
    int lookback_from;        /* hours of prev >= this are lookback hours */
    int64_t closed_before_us; /* hours ending at or before this are closed */
    int64_t day_us;           /* 00:00 of dt */
};

/* One valid line of an hour. */
struct cur_rec {
    int64_t ts;
    uint64_t ha, hb;
    uint32_t off, len;      /* the line in the hour buffer */
    uint32_t id_off;        /* the decoded id: hour buffer, or idside when id_side */
    uint16_t id_len;
    uint8_t id_side;
    uint16_t src;           /* index in the hour's source table */
};

struct cur_srcstat {
    char name[CUR_MAX_SOURCE + 1];
    uint64_t events, duplicates, distinct, invalid;
};

/* One hour being read (stage A, read.c: fetch, inflate, envelope scan, sort) or written
 * (stage B, write.c: dedup, rows, rollups). With a pipeline, stage A of the next hour runs
 * on another thread while stage B writes this one, so everything stage A touches is here. */
struct cur_hour {
    size_t i, j;           /* the hour's files in the day's list */
    int lookback;
    lake_store *st;        /* stage A's store (stores are one thread each) */
    wr_arena *arena;       /* stage A's parse arena */
    struct wr_err err;
    struct wr_buf gz;      /* one compressed file */
    struct wr_buf hour;    /* the inflated text of one hour's files */
    struct wr_buf idside;  /* ids that had escapes */
    struct cur_rec *recs;
    size_t nrecs, caprecs;
    size_t *fstart;        /* hour buffer offset where each file of the hour starts */
    size_t nfstart;
    struct cur_srcstat *srcs;
    size_t nsrcs, capsrcs;
    uint64_t hour_bad_files; /* for the rollups (0 for lookback hours) */
    uint64_t invalid;        /* invalid lines found by stage A */
    wr_inflater *inflater;
};

/* pqfile.c: a Parquet file written into a temporary file under --tmp-dir, then put in the
 * lake. open creates "weir-WHAT-XXXXXX" and the writer (0, or an error with nothing left
 * behind); seal writes the footer and flushes (the writer is gone after it; bytes: the
 * file's size, may be NULL); finish puts the file at key when rc is 0, removes it either
 * way (a writer still open is dropped: finish with rc != 0 abandons) and returns rc or the
 * put's error. */
struct cur_pqfile {
    pq_writer *w; /* NULL: sealed, or none open */
    FILE *f;
    char path[1024];
};
int cur__pqfile_open(struct cur_pqfile *pf, const char *tmp_dir, const char *what,
                     const struct pq_schema *s, const struct pq_opts *o, struct wr_err *err);
int cur__pqfile_seal(struct cur_pqfile *pf, uint64_t *bytes, struct wr_err *err);
int cur__pqfile_finish(struct cur_pqfile *pf, int rc, lake_store *st, const char *key,
                       struct wr_err *err);

/* One day being curated: stage B's state and the part being written. */
struct cur_day {
    lake_store *st;
    const cur_model *m;
    const struct cur_config *cfg;
    const char *event_type, *dt;
    struct cur_day_result *r;
    struct wr_err *err;
    struct cur_filelist fl;
    cur_idset *ids;
    wr_arena *arena;       /* stage B's parse arena */
    unsigned examples_a, examples_b;
    int predict[CUR_PREDICT]; /* column of the payload member at each position, last seen */
    struct cur_pqfile part; /* the part being written (part.w NULL: none) */
    unsigned parts;
    size_t rows_in_part;
    size_t rollcap;
    const struct pq_exec *exec; /* the pipeline's pool, or NULL */
    const struct cur_fence *fence; /* NULL: unfenced */
    struct cur_ru *ru;             /* user-defined rollups of the type (rollup_user.c), or NULL */
};

/* list.c: lists the closed files of (event_type, dt) and its lookback hours into fl. */
int cur__list_day(lake_store *st, const char *event_type, const char *dt,
                  const struct cur_config *cfg, struct cur_filelist *fl, struct wr_err *err);
void cur__filelist_free(struct cur_filelist *fl);

/* read.c: an hour's buffers (st is the store stage A reads with). */
int cur__hour_init(struct cur_hour *h, lake_store *st, const struct cur_config *cfg);
void cur__hour_free(struct cur_hour *h);
/* Stage A of hour h (h->i, h->j, h->lookback set): fetch, inflate, scan and sort. Touches
 * only h, the day's read-only parts and d->examples_a, so it may run beside stage B of
 * another hour. Errors are in h->err. */
int cur__stage_a(struct cur_day *d, struct cur_hour *h);

/* The decoded event id of a record. */
static inline const char *cur__rec_id(const struct cur_hour *h, const struct cur_rec *r)
{
    return (r->id_side ? h->idside.p : h->hour.p) + r->id_off;
}

/* write.c: stage B of hour h: dedup in received order, rows, rollups. */
int cur__stage_b(struct cur_day *d, struct cur_hour *h);
/* Closes and uploads the part being written. */
int cur__part_close(struct cur_day *d);
/* Drops the part being written (a failed day). */
void cur__part_abandon(struct cur_day *d);
/* Sorts the day's rollups by hr, source. */
void cur__rollups_sort(struct cur_day_result *r);

/* rollup_user.c: adds a kept row (its parsed envelope) to every definition's groups; ends an
 * hour (hour-grain distinct sets are emptied). */
struct lake_env_view;
int cur__ru_row(struct cur_ru *ru, const struct lake_env_view *ev, const char *line,
                int64_t received_us, struct wr_err *err);
void cur__ru_hour_end(struct cur_ru *ru);

/* The lease a day's writes are fenced by (cur_run). The parts of generation gen are named
 * part-<gen><nnnnn>.parquet, so they never overwrite another run's; check is asked before
 * each part is put (nonzero: the lease is no longer ours, the day stops with WR_EAGAIN).
 * Deleting other generations' parts is the caller's, after it commits (cur__parts_delete). */
struct cur_fence {
    uint64_t gen;
    int (*check)(void *arg);
    void *arg;
};

/* cur_day_curate with a shared pool (NULL: its own helper thread when cfg->pipeline), a
 * fence (NULL: unfenced, legacy part names, other parts deleted at the end) and the user
 * rollups to feed (NULL: none). */
int cur__day_curate(lake_store *st, const cur_model *m, const char *event_type, const char *dt,
                    const struct cur_config *cfg, cur_pool *pool, const struct cur_fence *fence,
                    struct cur_ru *ru, cur_renew_fn renew, void *renew_arg,
                    struct cur_day_result *r, struct wr_err *err);

/* Deletes part files of the day's curated/events folder: unfenced parts (generation 0)
 * numbered >= legacy_from (UINT_MAX: none), and fenced parts whose generation is below
 * gen_below or equal to gen_eq (0: none). Returns 0 or the store's error. */
int cur__parts_delete(lake_store *st, const char *event_type, const char *dt, unsigned legacy_from,
                      uint64_t gen_below, uint64_t gen_eq, struct wr_err *err);

/* The fingerprint cur_day_curate would compute for the day now, how many of the day's own
 * closed raw files there are (0: nothing to curate yet) and their bytes. */
int cur__day_fingerprint(lake_store *st, const char *event_type, const char *dt,
                         const struct cur_config *cfg, char out[65], size_t *nfiles,
                         uint64_t *bytes, struct wr_err *err);

#endif
