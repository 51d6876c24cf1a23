/* cur_int.h - private declarations shared by the curator's files. */
#ifndef WEIR_CUR_INT_H
#define WEIR_CUR_INT_H

#include "curator.h"

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
/* 1 when the hash is in the set, else 0. */
int cur__idset_has_hash(const cur_idset *s, uint64_t a, uint64_t b);

/* The fingerprint cur_day_curate would compute for the day now, how many of the day's own
 * closed raw files there are (0: nothing to curate yet) and their bytes. */
int cur__day_fingerprint(lake_store *st, const char *event_type, const char *dt,
                         const struct cur_config *cfg, char out[65], size_t *nfiles,
                         uint64_t *bytes, struct wr_err *err);

#endif
