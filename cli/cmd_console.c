/* cmd_console.c - `weir console`: the read side of the lake (spec/console.md), a process
 * apart from the gateway: the web page and the JSON API under /api/v1/, read keys only. */
#include "cli.h"

#include "common/log.h"
#include "common/tls.h"
#include "console/console.h"
#include "lake/lake.h"
#include "registry/registry.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct console_cfg {
    struct weir_cfg base; /* first: the shared tables' offsets apply to it */
    const char *listen;
    long long threads;
    uint64_t max_scan_bytes;
    long long max_scan_rows;
    long long max_scan_files;
    int64_t max_query_ms;
    int64_t key_cache_ms;
};

#define OFF(f) offsetof(struct console_cfg, f)

static const struct wr_opt console_opts[] = {
    {"listen", "WEIR_CONSOLE_LISTEN", WR_OPT_STRING, "127.0.0.1:8081", OFF(listen),
     "address and port of the console (page and API)"},
    {"threads", "WEIR_CONSOLE_THREADS", WR_OPT_INT, "2", OFF(threads),
     "request threads (queries run on them)"},
    {"max-scan-bytes", "WEIR_CONSOLE_MAX_SCAN_BYTES", WR_OPT_SIZE, "4GiB", OFF(max_scan_bytes),
     "lake bytes one query may read before it answers what it has (truncated)"},
    {"max-scan-rows", "WEIR_CONSOLE_MAX_SCAN_ROWS", WR_OPT_INT, "50000000", OFF(max_scan_rows),
     "rows one query may look at before it answers what it has (truncated)"},
    {"max-scan-files", "WEIR_CONSOLE_MAX_SCAN_FILES", WR_OPT_INT, "20000", OFF(max_scan_files),
     "lake files one query may open before it answers what it has (truncated)"},
    {"max-query-time", "WEIR_CONSOLE_MAX_QUERY_TIME", WR_OPT_DURATION, "20s", OFF(max_query_ms),
     "wall time of one query before it answers what it has (truncated)"},
    {"tls-cert", "WEIR_CONSOLE_TLS_CERT", WR_OPT_STRING, NULL, OFF(base.tls_cert),
     "PEM certificate chain (leaf first): serve HTTPS; re-read on SIGHUP (docs/console.md)"},
    {"tls-key", "WEIR_CONSOLE_TLS_KEY", WR_OPT_STRING, NULL, OFF(base.tls_key),
     "PEM private key of --tls-cert (unencrypted); re-read on SIGHUP"},
    {"key-cache", "WEIR_CONSOLE_KEY_CACHE", WR_OPT_DURATION, "5s", OFF(key_cache_ms),
     "how long a key lookup is trusted (a revoked key is refused after at most this)"},
    {0},
};

static const struct wr_cmd console_cmd = {
    "console",
    NULL,
    "The read side of the lake: a web page at / and a JSON API under /api/v1/ (events of a\n"
    "type by time and field, rejected events, schemas, keys, rollups), for read keys\n"
    "(weir key create --name NAME --read). A separate process from the gateway; SIGTERM or\n"
    "Ctrl-C stops it once the queries in flight are answered. SIGHUP re-reads\n"
    "--tls-cert/--tls-key.",
    {cli_common_opts, cli_lake_opts, console_opts},
    0,
    0};

int cmd_console(int argc, char **argv)
{
    struct console_cfg cc;
    memset(&cc, 0, sizeof cc);
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&console_cmd, argc - 1, argv + 1, &cc.base, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    struct weir_cfg *cfg = &cc.base;
    if (cc.threads < 1 || cc.threads > 64) {
        return cli_fail(EXIT_USAGE, "--threads must be 1..64");
    }
    if (cc.max_scan_rows < 1 || cc.max_scan_files < 1 || cc.max_scan_bytes < 1 ||
        cc.max_query_ms < 1) {
        return cli_fail(EXIT_USAGE, "--max-scan-* and --max-query-time must be positive");
    }
    struct lake_s3_opts s3;
    int src = cli_s3_opts(cfg, &s3);
    if (src >= 0) {
        return src;
    }
    struct wr_tls *tls = NULL;
    int trc = cli_tls_load(cfg, &tls);
    if (trc >= 0) {
        return trc;
    }
    bool started;
    PGconn *pg = cli_connect(cfg, &started);
    if (!pg) {
        wr_tls_destroy(tls);
        return EXIT_FAIL;
    }
    char conninfo[640];
    if (cfg->database_url) {
        snprintf(conninfo, sizeof conninfo, "%s", cfg->database_url);
    } else {
        reg_pgserver_conninfo(cfg->pg_dir, conninfo, sizeof conninfo);
    }
    struct con_config c = {
        .listen = cc.listen,
        .lake_url = cfg->lake,
        .s3 = &s3,
        .database_url = conninfo,
        .threads = (unsigned)cc.threads,
        .max_scan_bytes = cc.max_scan_bytes,
        .max_scan_rows = (uint64_t)cc.max_scan_rows,
        .max_scan_files = (uint64_t)cc.max_scan_files,
        .max_query_ms = cc.max_query_ms,
        .key_cache_ms = cc.key_cache_ms > 0 ? cc.key_cache_ms : 1,
        .ready_file = wr_env("WEIR_READY_FILE"),
        .tls = tls,
    };
    struct wr_err err = {0};
    int status = con_run(&c, &err) == 0 ? EXIT_OK : cli_fail(EXIT_FAIL, "%s", err.msg);
    cli_disconnect(cfg, pg, started);
    wr_tls_destroy(tls); /* the daemon has stopped */
    return status;
}
