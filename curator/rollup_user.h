/* rollup_user.h - user-defined rollups (shared/spec/console.md "Rollup definitions"): the
 * definitions' rules (shared by `weir rollup add` and the curator), and their computation by
 * `weir curate` for each day it curates, into Postgres `rollup_values` and
 * curated/rollups/<name>/dt=<dt>/part-0.parquet.
 *
 * A definition is a JSON object:
 *   {"name": "page_views_by_country", "event_type": "page_view", "grain": "hour",
 *    "dimensions": ["context.country"],
 *    "metrics": [{"count": "*"}, {"count_distinct": "payload.anonymous_id"}]}
 * A field is "payload.NAME" (a top-level payload property), "context.NAME" (ip, user_agent,
 * origin, browser, browser_version, os, os_version, device, bot, country, region, city: the
 * curated context columns of browser.md) or an envelope field (event_id, source,
 * schema_version, occurred_at, received_at).
 *
 * Threads: a cur_rudefs and a cur_ru belong to one thread. Failures: a negative WR_* code with
 * err filled; bad definitions are WR_EINVAL with a message naming the fault. */
#ifndef WEIR_CUR_ROLLUP_USER_H
#define WEIR_CUR_ROLLUP_USER_H

#include "curator/curator.h"

#include <jansson.h>
#include <libpq-fe.h>

/* The folder name of the built-in hourly rollup: refused as a definition's name. */
#define CUR_RU_RESERVED "hourly"

/* Checks one definition (a parsed JSON object). With m (the event type's column model), a
 * payload field must be one of its properties and sum/min/max need a numeric one. Returns 0
 * or WR_EINVAL with err naming the member at fault. */
int cur_rudef_check(const json_t *def, const cur_model *m, struct wr_err *err);

/* The model of an event type from the registry's schema versions (as curation builds it);
 * *nversions says how many versions there were (0: the payload is one JSON column). */
cur_model *cur_model_load(PGconn *c, const char *event_type, size_t *nversions, struct wr_err *err);

/* The active definitions of one event type, bound to its model for one day of curation. */
typedef struct cur_ru cur_ru;

/* Loads the active definitions of event_type (none: *out NULL, returns 0). Definitions that
 * no longer check against m are skipped with a warning. */
int cur_ru_load(PGconn *c, const char *event_type, const cur_model *m, const char *dt, cur_ru **out,
                struct wr_err *err);
/* As cur_ru_load from definitions given as JSON objects (tests, benchmarks). */
int cur_ru_create(const json_t *const *defs, size_t n, const cur_model *m, const char *dt,
                  cur_ru **out, struct wr_err *err);
void cur_ru_destroy(cur_ru *ru);

/* Inside the caller's transaction: replaces the day's rows of every loaded definition in
 * rollup_values. */
int cur_ru_store(cur_ru *ru, PGconn *c, struct wr_err *err);
/* Writes curated/rollups/<name>/dt=<dt>/part-0.parquet of every loaded definition. */
int cur_ru_write(cur_ru *ru, lake_store *st, const struct cur_config *cfg, uint64_t *files,
                 struct wr_err *err);
/* Rows (groups) computed so far, all definitions. */
size_t cur_ru_rows(const cur_ru *ru);

#endif
