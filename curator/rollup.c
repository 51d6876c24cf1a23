/* rollup.c - the hourly rollups of one day as Parquet:
 * curated/rollups/hourly/dt=<dt>/part-00000.parquet, one row per (event_type, hr, source). */
#include "cur_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct pq_column rollup_cols[] = {
    {"event_type", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, PQ_ENC_AUTO},
    {"hr", PQ_INT32, PQ_LT_INT, 0, PQ_ENC_AUTO},
    {"source", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, PQ_ENC_AUTO},
    {"events", PQ_INT64, PQ_LT_INT, 0, PQ_ENC_AUTO},
    {"duplicates", PQ_INT64, PQ_LT_INT, 0, PQ_ENC_AUTO},
    {"distinct_event_ids", PQ_INT64, PQ_LT_INT, 0, PQ_ENC_AUTO},
    {"invalid_lines", PQ_INT64, PQ_LT_INT, 0, PQ_ENC_AUTO},
    {"bad_files", PQ_INT64, PQ_LT_INT, 0, PQ_ENC_AUTO},
};

int cur_rollups_write(lake_store *st, const char *dt, const char *const *types,
                      const struct cur_rollup *rows, size_t n, const struct cur_config *cfg,
                      struct wr_err *err)
{
    char key[512];
    int rc = lake_path_curated_rollup(key, sizeof key, dt, 0);
    if (rc != 0) {
        return wr_err_set(err, rc, "no rollup path for day '%s'", dt);
    }
    struct pq_opts o = {0};
    o.codec = cfg->codec;
    o.level = cfg->level;
    o.build = "curator";
    struct pq_schema s = {rollup_cols, sizeof rollup_cols / sizeof rollup_cols[0]};
    struct cur_pqfile pf;
    rc = cur__pqfile_open(&pf, cfg->tmp_dir, "rollup", &s, &o, err);
    if (rc != 0) {
        return rc;
    }
    pq_writer *w = pf.w;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct cur_rollup *r = &rows[i];
        rc = pq_writer_put_str(w, 0, types[i], strlen(types[i]));
        rc = rc ? rc : pq_writer_put_int32(w, 1, r->hr);
        rc = rc ? rc : pq_writer_put_str(w, 2, r->source, strlen(r->source));
        rc = rc ? rc : pq_writer_put_int64(w, 3, (int64_t)r->events);
        rc = rc ? rc : pq_writer_put_int64(w, 4, (int64_t)r->duplicates);
        rc = rc ? rc : pq_writer_put_int64(w, 5, (int64_t)r->distinct_event_ids);
        rc = rc ? rc : pq_writer_put_int64(w, 6, (int64_t)r->invalid_lines);
        rc = rc ? rc : pq_writer_put_int64(w, 7, (int64_t)r->bad_files);
        rc = rc ? rc : pq_writer_end_row(w);
        if (rc) {
            wr_err_set(err, rc, "rollup parquet: %s", pq_writer_errmsg(w));
        }
    }
    if (rc == 0) {
        rc = cur__pqfile_seal(&pf, NULL, err);
    }
    return cur__pqfile_finish(&pf, rc, st, key, err);
}
