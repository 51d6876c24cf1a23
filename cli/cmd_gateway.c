/* cmd_gateway.c - `weir gateway`: the option table of the gateway, and the run. */
#include "cli.h"

#include "common/log.h"
#include "common/tls.h"
#include "gateway/gateway.h"
#include "registry/registry.h"

#include <stdio.h>
#include <string.h>

#define OFF(f) offsetof(struct weir_cfg, f)

const struct wr_opt cli_gateway_opts[] = {
    {"listen", "WEIR_LISTEN", WR_OPT_STRING, "127.0.0.1:8080", OFF(listen),
     "HOST:PORT to serve HTTP on"},
    {"spool-dir", "WEIR_SPOOL_DIR", WR_OPT_STRING, "./var/spool", OFF(spool_dir),
     "folder of the durable spool (write-ahead log)"},
    {"spool-max", "WEIR_SPOOL_MAX", WR_OPT_SIZE, "1GiB", OFF(spool_max_bytes),
     "spool size at which new events get 503 until the lake catches up"},
    {"flush-bytes", "WEIR_FLUSH_BYTES", WR_OPT_SIZE, "8MiB", OFF(flush_bytes),
     "uncompressed bytes at which a partition buffer becomes a lake file"},
    {"flush-interval", "WEIR_FLUSH_INTERVAL", WR_OPT_DURATION, "60s", OFF(flush_interval_ms),
     "age at which a partition buffer becomes a lake file"},
    {"schema-ttl", "WEIR_SCHEMA_TTL", WR_OPT_DURATION, "30s", OFF(schema_ttl_ms),
     "reload the registry at least this often (NOTIFY reloads at once)"},
    {"format", "WEIR_FORMAT", WR_OPT_STRING, "assert", OFF(format),
     "assert: `format` is checked; annotate: it is only an annotation"},
    {"max-body", "WEIR_MAX_BODY", WR_OPT_SIZE, "1MiB", OFF(max_body_bytes),
     "request body limit, as sent (compressed)"},
    {"max-body-decompressed", "WEIR_MAX_BODY_DECOMPRESSED", WR_OPT_SIZE, "8MiB",
     OFF(max_body_decompressed_bytes), "request body limit after gzip inflation"},
    {"max-events", "WEIR_MAX_EVENTS", WR_OPT_INT, "1000", OFF(max_events),
     "events per request"},
    {"max-event-size", "WEIR_MAX_EVENT_SIZE", WR_OPT_SIZE, "64KiB", OFF(max_event_bytes),
     "one event, serialized"},
    {"max-depth", "WEIR_MAX_DEPTH", WR_OPT_INT, "64", OFF(max_depth), "JSON nesting depth"},
    {"max-connections", "WEIR_MAX_CONNECTIONS", WR_OPT_INT, "1024", OFF(max_connections),
     "concurrent HTTP connections"},
    {"max-connections-per-ip", "WEIR_MAX_CONNECTIONS_PER_IP", WR_OPT_INT, "64",
     OFF(max_connections_per_ip),
     "concurrent connections from one client address (0: no cap; trusted proxies exempt)"},
    {"trusted-proxies", "WEIR_TRUSTED_PROXIES", WR_OPT_STRING, NULL, OFF(trusted_proxies),
     "comma-separated CIDR list of reverse proxies in front of the gateway"},
    {"connection-timeout", "WEIR_CONNECTION_TIMEOUT", WR_OPT_DURATION, "30s",
     OFF(conn_timeout_ms), "idle connections are closed after this"},
    {"cors-origins", "WEIR_CORS_ORIGINS", WR_OPT_STRING, NULL, OFF(cors_origins),
     "extra origins allowed by CORS, beside those of the publishable keys (browser.md)"},
    {"ip-mode", "WEIR_IP_MODE", WR_OPT_STRING, "truncate", OFF(ip_mode),
     "the client address in each event's context: truncate (IPv4 /24, IPv6 /48), keep or drop"},
    /* A value, not a flag: browser.md writes it `--store-user-agent no`. */
    {"store-user-agent", "WEIR_STORE_USER_AGENT", WR_OPT_STRING, "yes", OFF(store_user_agent),
     "keep the User-Agent (512 bytes at most) in each event's context; no: the parsed ua only"},
    {"ua-regexes", "WEIR_UA_REGEXES", WR_OPT_STRING, NULL, OFF(ua_regexes),
     "uap-core regexes.yaml to parse user agents with (default: Debian's uap-core)"},
    {"geoip-db", "WEIR_GEOIP_DB", WR_OPT_STRING, NULL, OFF(geoip_db),
     "a MaxMind DB file (GeoLite2/DB-IP, Country or City) for context.geo"},
    {"header-timeout", "WEIR_HEADER_TIMEOUT", WR_OPT_DURATION, "10s", OFF(header_timeout_ms),
     "deadline for a whole request head (request line and headers)"},
    {"min-body-rate", "WEIR_MIN_BODY_RATE", WR_OPT_SIZE, "1KiB", OFF(min_body_rate),
     "bytes per second a request body must keep up after --header-timeout of grace (0: off)"},
    {"threads", "WEIR_THREADS", WR_OPT_INT, "0", OFF(threads),
     "HTTP threads (0: one per core)"},
    {"event-loop", "WEIR_EVENT_LOOP", WR_OPT_STRING, "epoll", OFF(event_loop),
     "epoll: for thousands of connections (browsers); poll: less CPU per request with a few "
     "dozen, as behind a proxy (docs/production.md)"},
    {"access-log", "WEIR_ACCESS_LOG", WR_OPT_STRING, "debug", OFF(access_log),
     "level of the per-request log lines: debug, info, or off"},
    {"instance-id", "WEIR_INSTANCE_ID", WR_OPT_STRING, NULL, OFF(instance_id),
     "name of this gateway in lake file names (default: generated, kept in the spool)"},
    {"tls-cert", "WEIR_TLS_CERT", WR_OPT_STRING, NULL, OFF(tls_cert),
     "PEM certificate chain (leaf first): serve HTTPS; re-read on SIGHUP (docs/tls-proxy.md)"},
    {"tls-key", "WEIR_TLS_KEY", WR_OPT_STRING, NULL, OFF(tls_key),
     "PEM private key of --tls-cert (unencrypted); re-read on SIGHUP"},
    {"unsafe-ack-from-memory", "WEIR_UNSAFE_ACK_FROM_MEMORY", WR_OPT_BOOL, "false",
     OFF(unsafe_ack_from_memory),
     "BENCHMARKS ONLY: answer 202 before the spool's fsync (a crash loses acknowledged events)"},
    {0},
};

static const struct wr_cmd gateway_cmd = {
    "gateway", NULL,
    "Runs the HTTP ingest gateway until SIGTERM/SIGINT, then drains: stops accepting,\n"
    "flushes every buffer, exits 0. SIGHUP re-reads --tls-cert/--tls-key.",
    {cli_common_opts, cli_lake_opts, cli_gateway_opts, NULL}, 0, 0};

int cli_tls_load(const struct weir_cfg *cfg, struct wr_tls **out)
{
    *out = NULL;
    bool cert = cfg->tls_cert && *cfg->tls_cert, key = cfg->tls_key && *cfg->tls_key;
    if (!cert && !key) {
        return -1;
    }
    if (!cert || !key) {
        return cli_fail(EXIT_USAGE, "--tls-cert and --tls-key go together: %s is missing",
                        cert ? "--tls-key" : "--tls-cert");
    }
    struct wr_err err = {0};
    *out = wr_tls_create(cfg->tls_cert, cfg->tls_key, &err);
    return *out ? -1 : cli_fail(EXIT_USAGE, "%s", err.msg);
}

int cli_gateway_config(const struct weir_cfg *cfg, const char *database_url,
                       struct gw_config *g)
{
    memset(g, 0, sizeof *g);
    if (strcmp(cfg->format, "annotate") != 0 && strcmp(cfg->format, "assert") != 0) {
        return cli_fail(EXIT_USAGE, "--format: '%s' is not assert or annotate", cfg->format);
    }
    int access = wr_log_level_parse(cfg->access_log);
    if (access < 0) {
        return cli_fail(EXIT_USAGE, "--access-log: '%s' is not debug, info or off",
                        cfg->access_log);
    }
    struct {
        const char *name;
        long long v, lo, hi;
    } ranges[] = {
        {"max-events", cfg->max_events, 1, 1000000},
        {"max-depth", cfg->max_depth, 2, 10000},
        {"max-connections", cfg->max_connections, 1, 1000000},
        {"max-connections-per-ip", cfg->max_connections_per_ip, 0, 1000000},
        {"threads", cfg->threads, 0, 1024},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        if (ranges[i].v < ranges[i].lo || ranges[i].v > ranges[i].hi) {
            return cli_fail(EXIT_USAGE, "--%s: %lld is not between %lld and %lld",
                            ranges[i].name, ranges[i].v, ranges[i].lo, ranges[i].hi);
        }
    }
    if (cfg->header_timeout_ms < 0 || cfg->header_timeout_ms > 3600000) {
        return cli_fail(EXIT_USAGE, "--header-timeout: must be between 0 and 1h");
    }
    struct wr_err err = {0};
    if (cfg->trusted_proxies && gw_trusted_proxies_check(cfg->trusted_proxies, &err) != 0) {
        return cli_fail(EXIT_USAGE, "%s", err.msg);
    }
    if (cfg->cors_origins && gw_cors_origins_check(cfg->cors_origins, &err) != 0) {
        return cli_fail(EXIT_USAGE, "%s", err.msg);
    }
    if (strcmp(cfg->ip_mode, "truncate") == 0) {
        g->ip_mode = EN_IP_TRUNCATE;
    } else if (strcmp(cfg->ip_mode, "keep") == 0) {
        g->ip_mode = EN_IP_KEEP;
    } else if (strcmp(cfg->ip_mode, "drop") == 0) {
        g->ip_mode = EN_IP_DROP;
    } else {
        return cli_fail(EXIT_USAGE, "--ip-mode: '%s' is not truncate, keep or drop", cfg->ip_mode);
    }
    if (strcmp(cfg->store_user_agent, "yes") == 0) {
        g->store_user_agent = true;
    } else if (strcmp(cfg->store_user_agent, "no") == 0) {
        g->store_user_agent = false;
    } else {
        return cli_fail(EXIT_USAGE, "--store-user-agent: '%s' is not yes or no", cfg->store_user_agent);
    }
    if (strcmp(cfg->event_loop, "epoll") == 0 || strcmp(cfg->event_loop, "poll") == 0) {
        g->poll_loop = cfg->event_loop[0] == 'p';
    } else {
        return cli_fail(EXIT_USAGE, "--event-loop: '%s' is not epoll or poll", cfg->event_loop);
    }
    int s3rc = cli_s3_opts(cfg, &g->s3);
    if (s3rc >= 0) {
        return s3rc;
    }
    if (cfg->flush_interval_ms <= 0 || cfg->schema_ttl_ms <= 0 || cfg->conn_timeout_ms < 1000) {
        return cli_fail(EXIT_USAGE, "--flush-interval and --schema-ttl must be positive, "
                        "--connection-timeout at least 1s");
    }
    if (cfg->max_body_bytes == 0 || cfg->max_body_decompressed_bytes == 0 ||
        cfg->max_event_bytes == 0 || cfg->flush_bytes == 0 || cfg->spool_max_bytes == 0) {
        return cli_fail(EXIT_USAGE, "sizes must be positive");
    }
    g->database_url = database_url;
    g->listen = cfg->listen;
    g->lake = cfg->lake;
    g->spool_dir = cfg->spool_dir;
    g->instance_id = cfg->instance_id;
    g->spool_max_bytes = cfg->spool_max_bytes;
    g->flush_bytes = cfg->flush_bytes;
    g->flush_interval_ms = cfg->flush_interval_ms;
    g->schema_ttl_ms = cfg->schema_ttl_ms;
    g->format_annotate = strcmp(cfg->format, "annotate") == 0;
    g->max_body_bytes = cfg->max_body_bytes;
    g->max_body_decompressed_bytes = cfg->max_body_decompressed_bytes;
    g->max_events = (unsigned)cfg->max_events;
    g->max_event_bytes = cfg->max_event_bytes;
    g->max_depth = (unsigned)cfg->max_depth;
    g->max_connections = (unsigned)cfg->max_connections;
    g->conn_timeout_ms = cfg->conn_timeout_ms;
    g->max_connections_per_ip = (unsigned)cfg->max_connections_per_ip;
    g->trusted_proxies = cfg->trusted_proxies;
    g->cors_origins = cfg->cors_origins;
    g->ua_regexes = cfg->ua_regexes && *cfg->ua_regexes ? cfg->ua_regexes : NULL;
    g->geoip_db = cfg->geoip_db && *cfg->geoip_db ? cfg->geoip_db : NULL;
    g->header_timeout_ms = cfg->header_timeout_ms;
    g->min_body_rate = cfg->min_body_rate;
    g->threads = (unsigned)cfg->threads;
    g->access_log_level = access;
    g->ready_file = wr_env("WEIR_READY_FILE");
    g->ack_from_memory = cfg->unsafe_ack_from_memory;
    /* Last: nothing after it may fail and leave the pair loaded. */
    return cli_tls_load(cfg, &g->tls);
}

int cmd_gateway(int argc, char **argv)
{
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&gateway_cmd, argc - 1, argv + 1, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    char conninfo[640];
    if (!cfg.database_url) {
        reg_pgserver_conninfo(cfg.pg_dir, conninfo, sizeof conninfo);
    }
    struct gw_config g;
    rc = cli_gateway_config(&cfg, cfg.database_url ? cfg.database_url : conninfo, &g);
    if (rc >= 0) {
        return rc;
    }
    struct wr_err err = {0};
    rc = gw_run(&g, &err) != 0 ? cli_fail(EXIT_FAIL, "%s", err.msg) : EXIT_OK;
    wr_tls_destroy(g.tls);
    return rc;
}
