/* cli.h - the `weir` command: one configuration struct filled from option tables, and
 * the subcommands' entry points. Wiring only: the logic lives in the libraries. */
#ifndef WEIR_CLI_H
#define WEIR_CLI_H

#include "common/opts.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses of cli.md. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Room for the words of one subcommand; more is a usage error. */
#define CLI_MAX_ARGS 256

struct weir_cfg {
    /* common */
    const char *database_url;
    const char *log_level;
    const char *pg_dir;
    const char *umask;
    bool allow_core_dumps;
    /* lake */
    const char *lake;
    const char *s3_endpoint;
    const char *s3_region;
    const char *s3_addressing;
    const char *aws_access_key_id;
    const char *aws_secret_access_key;
    const char *aws_session_token;
    /* gateway */
    const char *listen;
    const char *spool_dir;
    uint64_t spool_max_bytes;
    uint64_t flush_bytes;
    int64_t flush_interval_ms;
    int64_t schema_ttl_ms;
    const char *format;
    uint64_t max_body_bytes;
    uint64_t max_body_decompressed_bytes;
    long long max_events;
    uint64_t max_event_bytes;
    long long max_depth;
    long long max_connections;
    long long max_connections_per_ip;
    const char *trusted_proxies;
    int64_t header_timeout_ms;
    uint64_t min_body_rate;
    int64_t conn_timeout_ms;
    long long threads;
    const char *event_loop;
    const char *access_log;
    const char *instance_id;
    bool unsafe_ack_from_memory;
    const char *cors_origins;
    const char *ip_mode;
    const char *store_user_agent;
    const char *ua_regexes;
    const char *geoip_db;
    const char *tls_cert, *tls_key; /* also the console's (cli_tls_load) */
    /* up */
    const char *schemas_dir;
    bool no_gateway;
    const char *console_listen; /* up: the console's address, "off": none */
    /* key */
    const char *name;
    const char *event_types;
    long long rate;
    bool publishable;
    bool read_key;
    const char *origins;
    bool require_origin;
    long long ip_rate;
    const char *expires; /* key create/update --expires */
    const char *grace;   /* key rotate --grace */
    /* schema */
    long long version;
    bool dry_run, force;        /* schema add (evolution.md) */
    long long sample_hours, sample;
    bool transitive;            /* schema compat --transitive[=false] */
    /* validate */
    const char *schema_file;
    const char *draft;
    struct wr_strlist refs;
    struct wr_strlist ref_dirs;
    /* curate */
    const char *dt;
    const char *event_type;
    bool watch;
    int64_t watch_interval_ms;
};

extern const struct wr_opt cli_common_opts[];
extern const struct wr_opt cli_lake_opts[];
extern const struct wr_opt cli_gateway_opts[];

/* Parses the subcommand's words into cfg and applies the log level. Returns -1 to go on,
 * or the exit status to return now (help printed: 0; usage error printed: 2).
 * pos has room for CLI_MAX_ARGS words. */
int cli_parse(const struct wr_cmd *cmd, int argc, char **argv, struct weir_cfg *cfg,
              char **pos, int *npos);

/* Prints "weir: <msg>" on stderr; returns status, for `return cli_fail(...)`. */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connects to cfg->database_url, or to the embedded cluster under cfg->pg_dir (starting
 * it when it exists but is stopped; *started_dir is then set so cli_disconnect stops it).
 * Prints the error and returns NULL on failure. */
PGconn *cli_connect(const struct weir_cfg *cfg, bool *started);
void cli_disconnect(const struct weir_cfg *cfg, PGconn *c, bool started);

struct lake_s3_opts;
/* Fills o from the S3 options of cfg (lake_s3_opts_parse). Returns -1 to go on, or the
 * exit status after printing the error (2: a bad value). */
int cli_s3_opts(const struct weir_cfg *cfg, struct lake_s3_opts *o);

/* The process settings every subcommand gets before it does anything: the umask
 * (WEIR_UMASK, default 077) and core dumps off unless WEIR_ALLOW_CORE_DUMPS. main() calls
 * it with the environment's values; cli_parse again with the flags. Returns -1 or 2. */
int cli_process_setup(const char *umask, bool allow_core_dumps);

struct wr_tls;
/* --tls-cert and --tls-key of cfg (both or neither): *out is the loaded pair
 * (common/tls.h; the caller's to wr_tls_destroy after its daemon stopped) or NULL when
 * neither is given. Returns -1 to go on, or 2 after printing one line (one option
 * without the other, an unreadable file, not PEM, a key that does not match). */
int cli_tls_load(const struct weir_cfg *cfg, struct wr_tls **out);

struct gw_config;
/* Checks the gateway options of cfg and fills g (pointing into cfg; g->tls is loaded by
 * cli_tls_load and the caller's to wr_tls_destroy). Returns -1 to go on, or the exit
 * status after printing the error. */
int cli_gateway_config(const struct weir_cfg *cfg, const char *database_url,
                       struct gw_config *g);

int cmd_migrate(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_gateway(int argc, char **argv);
int cmd_curate(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_schema_compat(int argc, char **argv);
int cmd_schema_diff(int argc, char **argv);
int cmd_rollup(int argc, char **argv);
int cmd_catalog(int argc, char **argv);

/* Stores one rollup definition after checking it against its event type's schemas
 * (replace: an existing one of that name is replaced and its values dropped; else kept).
 * *added: 1 added, 2 replaced, 0 kept. Returns 0, WR_EINVAL (a bad definition: err says
 * why) or another error. */
int cli_rollup_store(PGconn *c, const json_t *def, bool replace, int *added, struct wr_err *err);

/* Verdicts of a structural compatibility check, worst last. */
enum { CLI_COMPAT_COMPATIBLE = 0, CLI_COMPAT_UNKNOWN = 1, CLI_COMPAT_INCOMPATIBLE = 2 };


/* The checks `weir schema add` runs before it inserts doc (evolution.md steps 2-5):
 * prints the report; returns -1 to go on inserting, or the exit status (dry run,
 * refusal, failure). */
int cli_schema_add_check(const struct weir_cfg *cfg, PGconn *c, const char *event_type,
                         const json_t *doc, int version);

/* `weir schema check`'s second pass: every active version compared structurally with the
 * earlier ones under its type's mode (versions inserted with plain SQL skip `weir schema
 * add`); prints one line per incompatible or undecided version and counts them in
 * *incompatible. Returns 0, or an error code with err filled. */
int cli_schema_check_compat(PGconn *c, int *incompatible, struct wr_err *err);

#endif
