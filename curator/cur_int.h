/* cur_int.h - private declarations shared by the curator's files. */
#ifndef WEIR_CUR_INT_H
#define WEIR_CUR_INT_H

#include "curator.h"

#include <pthread.h>
#include <stdint.h>

/* How a payload value is turned into its column. */
enum cur_kind { CUR_K_INT, CUR_K_DOUBLE, CUR_K_BOOL, CUR_K_STRING, CUR_K_TS, CUR_K_JSON };

/* Envelope columns come first, in this order. */
enum { CUR_C_EVENT_ID, CUR_C_SCHEMA_VERSION, CUR_C_OCCURRED_AT, CUR_C_RECEIVED_AT, CUR_C_SOURCE,
       CUR_NENV };

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

/* The payload column of property name[0, len), or -1. */
int cur__model_find(const cur_model *m, const char *name, size_t len);

void cur__hash128(const void *p, size_t len, uint64_t *a, uint64_t *b);
int cur__idset_add_hash(cur_idset *s, uint64_t a, uint64_t b);
/* A hint: the slot of hash a will be looked at soon (it is mostly a cache miss). */
void cur__idset_prefetch(const cur_idset *s, uint64_t a);
/* 1 when the hash is in the set, else 0. */
int cur__idset_has_hash(const cur_idset *s, uint64_t a, uint64_t b);

/* A FIFO of tasks run by its own helper thread or by cur_run's workers (day.c). */
typedef struct cur_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *head, *tail;
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

/* cur_day_curate with a shared pool (NULL: its own helper thread when cfg->pipeline). */
int cur__day_curate(lake_store *st, const cur_model *m, const char *event_type, const char *dt,
                    const struct cur_config *cfg, cur_pool *pool, cur_renew_fn renew,
                    void *renew_arg, struct cur_day_result *r, struct wr_err *err);

/* The fingerprint cur_day_curate would compute for the day now, how many of the day's own
 * closed raw files there are (0: nothing to curate yet) and their bytes. */
int cur__day_fingerprint(lake_store *st, const char *event_type, const char *dt,
                         const struct cur_config *cfg, char out[65], size_t *nfiles,
                         uint64_t *bytes, struct wr_err *err);

#endif
