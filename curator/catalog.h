/* catalog.h - `weir catalog`: the DDL that makes the lake queryable in DuckDB, Athena or
 * Trino with no crawler (console.md "Catalogue"): one table or view per event type and zone,
 * columns typed from the registry's schemas by curation's rule (cur_model), dt (and hr for
 * raw) as partition columns, partition projection for Athena and Trino.
 * Pure text generation over caller data plus one lake listing per table; no threads. */
#ifndef WEIR_CUR_CATALOG_H
#define WEIR_CUR_CATALOG_H

#include "common/buf.h"
#include "curator/curator.h"

enum cur_cat_engine { CUR_CAT_DUCKDB, CUR_CAT_ATHENA, CUR_CAT_TRINO };
enum { CUR_CAT_CURATED = 1, CUR_CAT_RAW = 2 };

/* One event type: its model and the first day found in each zone ("" when none). */
struct cur_cat_table {
    const char *event_type;
    const cur_model *m;
    char first_curated[11];
    char first_raw[11];
};

/* The earliest dt=YYYY-MM-DD under prefix (a zone's event_type=T/ folder) into out ("" when
 * the folder is empty). Returns 0 or the store's error. */
int cur_catalog_first_day(lake_store *st, const char *prefix, char out[11], struct wr_err *err);

/* Appends the DDL of every table (zones: CUR_CAT_CURATED | CUR_CAT_RAW) for the lake at
 * lake_url; today ("YYYY-MM-DD") closes a range when a zone holds no day yet. Returns 0, or
 * WR_EINVAL for a lake URL it cannot locate, WR_ENOMEM. */
int cur_catalog_ddl(enum cur_cat_engine engine, int zones, const char *lake_url,
                    const struct cur_cat_table *t, size_t n, const char *today, struct wr_buf *out,
                    struct wr_err *err);

#endif
