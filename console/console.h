/* console.h - `weir console`: the read side of the lake (spec/console.md). An HTTP server
 * (libmicrohttpd) with a JSON API under /api/v1/ authenticated by read keys, and the web
 * page of console/web/ served from the binary. It reads Postgres (registry, curation state,
 * rollups) and the lake (curated Parquet, raw and rejected zones); it never writes either.
 *
 * Threads: the daemon's pool threads answer requests; each request borrows one Postgres
 * connection from a small pool and opens its own lake store. */
#ifndef WEIR_CONSOLE_H
#define WEIR_CONSOLE_H

#include "common/err.h"
#include "lake/lake.h"

#include <stdint.h>

struct wr_tls;

/* Options; zero fields take the default in brackets. Strings are borrowed until
 * con_server_stop (or the end of con_run). */
struct con_config {
    const char *listen;            /* HOST:PORT ["127.0.0.1:8081"]; port 0: any free port */
    const char *lake_url;          /* lake root URL, required */
    const struct lake_s3_opts *s3; /* S3 options (NULL: defaults + AWS variables) */
    const char *database_url;      /* libpq conninfo, required */
    unsigned threads;              /* request threads [2] */
    uint64_t max_scan_bytes;       /* bytes one query may read from the lake [4 GiB] */
    uint64_t max_scan_rows;        /* rows (lines or Parquet rows) one query may look at [50 M] */
    uint64_t max_scan_files;       /* files one query may open [20000] */
    int64_t max_query_ms;          /* wall time of one query [20 s] */
    int64_t key_cache_ms;          /* how long a key lookup is trusted [5 s] */
    uint64_t max_file_bytes;       /* one raw file, inflated [512 MiB] */
    const char *ready_file;        /* con_run writes the bound port here once serving (tests) */
    struct wr_tls *tls;            /* HTTPS with this pair (common/tls.h; borrowed, destroyed by
                                    * the caller after con_server_stop); NULL: plain HTTP */
};

typedef struct con_server con_server;

/* Starts the daemon; returns NULL with err on failure (bad --listen, port taken, no
 * Postgres). The bound port is in con_server_port (for --listen ...:0). */
con_server *con_server_start(const struct con_config *cfg, struct wr_err *err);
unsigned con_server_port(const con_server *s);

/* Stops accepting, lets requests in progress finish, and frees everything. NULL is a
 * no-op. */
void con_server_stop(con_server *s);

/* The `weir console` process: starts, waits for SIGTERM or SIGINT, drains, returns 0 or a
 * negative code with err; SIGHUP re-reads cfg->tls's files (a bad pair keeps the old one).
 * Blocks those signals in the calling thread (and so in the daemon's threads). */
int con_run(const struct con_config *cfg, struct wr_err *err);

/* ---- Times (exposed for tests) --------------------------------------------------------- */

/* Parses a TIME of the API: RFC 3339, "now", or relative "-72h", "-7d", "-30m", "-90s", "-1y"
 * (to now_us). Returns 0 with *us, or WR_EINVAL. */
int con_time_parse(const char *s, int64_t now_us, int64_t *us);

#endif
