/* con_int.h - private to console/: the server state, one request, the answers, and the
 * endpoint handlers each file owns. Nothing outside console/ includes it.
 *
 * server.c: daemon, routing, auth, static files, answers; api.c: the registry and rollup
 * endpoints; events.c: the events query; scan.c: reading the lake for it (curated Parquet
 * and the raw zone); rejected.c: the rejected zone; overview.c: per-hour counts. */
#ifndef WEIR_CON_INT_H
#define WEIR_CON_INT_H

#include "console/console.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CON_MAX_SCOPES 64

/* The authenticated read key of a request. */
struct con_key {
    char name[129];
    size_t nscopes; /* 0: every event type */
    char scopes[CON_MAX_SCOPES][65];
};

struct con_server {
    struct con_config cfg;
    struct lake_url lake;
    struct MHD_Daemon *mhd;
    unsigned port;
    /* Postgres connections not in use (guarded by pool_mu). */
    pthread_mutex_t pool_mu;
    PGconn *pool[16];
    size_t npool;
    /* Recent key lookups (guarded by keys_mu). */
    pthread_mutex_t keys_mu;
    struct con_key_entry *keys;
    size_t nkeys;
};

/* One API request. Handlers return through con_send_*; the connection is valid for the
 * request, pg is borrowed from the pool until the request ends. */
struct con_req {
    con_server *srv;
    struct MHD_Connection *conn;
    const char *path; /* after /api/v1/ */
    PGconn *pg;
    struct con_key key;
    int64_t now_us;
};

/* ---- server.c ------------------------------------------------------------------------ */

/* Answers JSON (takes the reference of body). */
enum MHD_Result con_send_json(struct con_req *r, unsigned status, json_t *body);
/* Answers {"error": code, "message": msg} (printf-style). */
enum MHD_Result con_send_error(struct con_req *r, unsigned status, const char *code,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The query parameter, or NULL. */
const char *con_arg(struct con_req *r, const char *name);
/* Whether the key may read this event type. */
bool con_key_allows(const struct con_key *k, const char *event_type);
/* The request's Postgres connection (connected on first use); NULL with a 503 sent. */
PGconn *con_pg(struct con_req *r);
/* Parses the from/to parameters (defaults given as TIME strings); on a bad one sends 400
 * and returns false. */
bool con_range(struct con_req *r, const char *dfrom, const char *dto, int64_t *from_us,
               int64_t *to_us, enum MHD_Result *ret);
/* Parses the limit parameter: default 100, at most 1000 (more: 400). */
bool con_limit(struct con_req *r, long *limit, enum MHD_Result *ret);
/* Runs SQL; NULL with err filled. */
PGresult *con_sql(PGconn *c, const char *sql, int n, const char *const *params, struct wr_err *err);
/* An integer column of a row (Postgres text); 0 when NULL or not an integer. */
long long con_pg_int(const PGresult *res, int row, int col);
/* RFC 3339 with milliseconds of a microsecond time, into out (32 bytes). */
void con_time_format(int64_t us, char out[32]);
/* The registry's timestamptz text ("2026-12-02 04:00:00.123+00") as RFC 3339. */
json_t *con_pg_time(const char *pgtext);

/* ---- the endpoints ------------------------------------------------------------------- */

enum MHD_Result con_api_event_types(struct con_req *r);
enum MHD_Result con_api_schemas(struct con_req *r, const char *type);
enum MHD_Result con_api_keys(struct con_req *r);
enum MHD_Result con_api_rollups(struct con_req *r);
enum MHD_Result con_api_rollup(struct con_req *r, const char *name);
enum MHD_Result con_api_health(struct con_req *r);
enum MHD_Result con_api_overview(struct con_req *r);
enum MHD_Result con_api_events(struct con_req *r);
enum MHD_Result con_api_rejected(struct con_req *r);

#endif
