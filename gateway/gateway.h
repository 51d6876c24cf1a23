/* gateway.h - `weir gateway`: the HTTP ingest server (libmicrohttpd). Takes its registry
 * snapshot from Postgres, validates events, makes accepted ones durable in the spool and
 * hands them to the lake writers. */
#ifndef WEIR_GATEWAY_H
#define WEIR_GATEWAY_H

#include "common/err.h"
#include "enrich/enrich.h"
#include "lake/lake.h"

#include <stdbool.h>
#include <stdint.h>

struct gw_config {
    const char *database_url; /* libpq conninfo */
    const char *listen;       /* "HOST:PORT"; port 0 picks a free one */
    const char *lake;         /* lake URL */
    struct lake_s3_opts s3;   /* parsed once by lake_s3_opts_parse */
    const char *spool_dir;
    const char *instance_id; /* NULL: generated and kept in the spool folder */
    uint64_t spool_max_bytes;
    uint64_t flush_bytes;
    int64_t flush_interval_ms;
    int64_t schema_ttl_ms;
    bool format_annotate;
    uint64_t max_body_bytes;
    uint64_t max_body_decompressed_bytes;
    unsigned max_events;
    uint64_t max_event_bytes;
    unsigned max_depth;
    unsigned max_connections;        /* capped at start by the descriptors left */
    unsigned max_connections_per_ip; /* 0: no cap; peers in trusted_proxies are exempt */
    const char *trusted_proxies;     /* comma-separated CIDR list (browser.md); NULL: none */
    const char *cors_origins;        /* extra CORS origins (browser.md); NULL: none */
    /* The `context` of stored events (browser.md, enrich/). */
    enum en_ip_mode ip_mode;         /* --ip-mode */
    bool store_user_agent;           /* --store-user-agent */
    const char *ua_regexes;          /* --ua-regexes; NULL: Debian's uap-core */
    const char *geoip_db;            /* --geoip-db; NULL: no geo */
    int64_t conn_timeout_ms;         /* idle connection timeout */
    int64_t header_timeout_ms;       /* deadline of a whole request head; 0: none */
    uint64_t min_body_rate;          /* bytes/s a body must keep up after a grace of
                                      * header_timeout_ms; 0: none */
    unsigned threads;     /* 0: one per core */
    /* --event-loop poll: libmicrohttpd polls every connection of a thread on each pass
     * instead of keeping an epoll set. Suspending and resuming a connection (every
     * durable answer) then costs no epoll_ctl, but a pass costs O(connections): the
     * better choice with a few dozen connections, the worse with thousands. */
    bool poll_loop;
    int access_log_level; /* wr_log level of the access log lines */
    const char *ready_file; /* when set, "HOST:PORT\n" is written there once serving */
    bool ack_from_memory;   /* benchmark only: 202 before fsync */
    struct wr_tls *tls;     /* --tls-cert/--tls-key (common/tls.h); NULL: plain HTTP.
                             * Owned by the caller; SIGHUP reloads it. */
};

/* Checks a --trusted-proxies value (comma-separated IPv4/IPv6 addresses or CIDR blocks).
 * Returns 0, or WR_EINVAL with err naming the bad entry. */
int gw_trusted_proxies_check(const char *list, struct wr_err *err);

/* Checks a --cors-origins value (comma-separated origins, exact scheme://host[:port] or
 * a "*.domain" wildcard after the scheme). Returns 0, or WR_EINVAL naming the entry. */
int gw_cors_origins_check(const char *list, struct wr_err *err);

/* Runs the gateway until SIGTERM or SIGINT, then drains (stops accepting, flushes every
 * buffer) and returns 0; returns an error code (with err filled) when it cannot start
 * or cannot drain. Installs its own signal handling for those two signals, and for
 * SIGHUP, which reloads cfg->tls (wr_tls_sighup) and goes on serving. */
int gw_run(const struct gw_config *cfg, struct wr_err *err);

#endif
