/* gateway.h - `weir gateway`: the HTTP ingest server (libmicrohttpd). Takes its registry
 * snapshot from Postgres, validates events, makes accepted ones durable in the spool and
 * hands them to the lake writers. */
#ifndef WEIR_GATEWAY_H
#define WEIR_GATEWAY_H

#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

struct gw_config {
    const char *database_url; /* libpq conninfo */
    const char *listen;       /* "HOST:PORT"; port 0 picks a free one */
    const char *lake;         /* lake URL */
    const char *s3_endpoint, *s3_region, *s3_addressing;
    const char *aws_access_key_id, *aws_secret_access_key, *aws_session_token;
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
    unsigned max_connections;
    int64_t conn_timeout_ms;
    unsigned threads;     /* 0: one per core */
    int access_log_level; /* wr_log level of the access log lines */
    const char *ready_file; /* when set, "HOST:PORT\n" is written there once serving */
    bool ack_from_memory;   /* benchmark only: 202 before fsync */
};

/* Runs the gateway until SIGTERM or SIGINT, then drains (stops accepting, flushes every
 * buffer) and returns 0; returns an error code (with err filled) when it cannot start
 * or cannot drain. Installs its own signal handling for those two signals. */
int gw_run(const struct gw_config *cfg, struct wr_err *err);

#endif
