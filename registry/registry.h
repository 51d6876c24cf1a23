/* registry.h - weir's PostgreSQL room: connections, migrations, API keys and the
 * schema store. One PGconn per caller; nothing here is shared between threads.
 * (The gateway's live snapshot of compiled schemas and keys is in snapshot.h.) */
#ifndef WEIR_REGISTRY_H
#define WEIR_REGISTRY_H

#include "common/err.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* --- connections -------------------------------------------------------------
 * Every connection weir opens gets the same fault limits, so a hung, stopped or
 * unreachable Postgres is an error within seconds instead of a thread blocked forever:
 *  - connecting gives up after REG_CONNECT_TIMEOUT_S (libpq connect_timeout, and our own
 *    deadline around the whole handshake, which also covers a Unix socket whose server
 *    is stopped);
 *  - TCP keepalives (idle REG_KEEPALIVE_IDLE_S, then every REG_KEEPALIVE_INTERVAL_S,
 *    REG_KEEPALIVE_COUNT probes) and tcp_user_timeout notice a peer that went away;
 *  - statement_timeout (REG_STATEMENT_TIMEOUT_MS) makes the server cancel a statement
 *    that runs too long;
 *  - a client-side deadline (REG_CLIENT_TIMEOUT_MS) ends the wait for a server that does
 *    not answer at all (SIGSTOPped, partitioned), which statement_timeout cannot catch.
 * A value in the caller's conninfo (connect_timeout=..., keepalives_idle=..., options=...)
 * wins over these defaults. */
#define REG_CONNECT_TIMEOUT_S 5
#define REG_KEEPALIVE_IDLE_S 10
#define REG_KEEPALIVE_INTERVAL_S 5
#define REG_KEEPALIVE_COUNT 3
#define REG_STATEMENT_TIMEOUT_MS 15000
#define REG_CLIENT_TIMEOUT_MS (REG_STATEMENT_TIMEOUT_MS + 5000)

/* Connects with a libpq conninfo string or URI and the limits above; returns NULL and
 * fills err (without the password) when Postgres cannot be reached in time. */
PGconn *reg_connect(const char *conninfo, struct wr_err *err);

/* Runs a statement with text parameters and expects `expect` (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK). Returns the result (caller PQclear()s it) or NULL with err filled;
 * waits at most REG_CLIENT_TIMEOUT_MS (then the connection is unusable: PQfinish it). */
PGresult *reg_exec(PGconn *c, ExecStatusType expect, struct wr_err *err, const char *sql,
                   int nparams, const char *const *params);

/* --- migrations -------------------------------------------------------------- */

/* Applies every embedded migration (migrations/NNNN_name.sql) not yet recorded in
 * weir_migrations, in order, each in its own transaction, under an advisory lock so that
 * concurrent runs wait for each other. *applied (may be NULL) counts what this call
 * applied. A recorded migration whose text changed since is refused. */
int reg_migrate(PGconn *c, int *applied, struct wr_err *err);

/* --- API keys ---------------------------------------------------------------- */

#define REG_KEY_PREFIX "weir_"
#define REG_KEY_LEN 48 /* "weir_" + 43 base64url characters of 32 random bytes */
/* Publishable (browser) keys, shared/spec/browser.md: a secret key never starts so. */
#define REG_PK_PREFIX "weir_pk_"
#define REG_PK_LEN 51 /* "weir_pk_" + 43 base64url characters of 32 random bytes */
/* Read keys, shared/spec/console.md: for `weir console` only; ingest refuses them. */
#define REG_RK_PREFIX "weir_rk_"
#define REG_RK_LEN 51 /* "weir_rk_" + 43 base64url characters of 32 random bytes */

struct reg_key_info {
    const char *name;
    const char *prefix;      /* the first characters of the secret, to recognise it */
    const char *event_types; /* comma-separated; "" = every type */
    long long rate;          /* events per second; 0 = unlimited */
    bool revoked;
    const char *created_at;
    bool publishable;
    bool read;           /* a read key (weir_rk_), for the console */
    const char *origins; /* comma-separated; "" for a secret key */
    bool require_origin;
    long long ip_rate; /* events per second per client address; 0 = none */
    /* Expiry and rotation (docs/keys.md); timestamps as "YYYY-MM-DDTHH:MM:SSZ". */
    const char *expires_at;       /* "" = never */
    bool expired;                 /* expires_at has passed */
    const char *rotated_at;       /* the last rotation, "" = never rotated */
    const char *prev_valid_until; /* the previous secret works until then; "" = none */
};

/* True when s is a valid key name: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ */
bool reg_key_name_valid(const char *s);

/* Creates a key named name, allowed to send the comma-separated event_types ("" or
 * NULL = all) at rate events/s (0 = unlimited). Writes the secret (REG_KEY_LEN chars +
 * NUL) into secret; only its SHA-256 is stored. WR_EINVAL for a bad or taken name. */
int reg_key_create(PGconn *c, const char *name, const char *event_types, long long rate,
                   char secret[REG_KEY_LEN + 1], struct wr_err *err);

/* What a publishable key adds (browser.md). */
struct reg_pub_opts {
    const char *origins; /* comma-separated origin patterns, at least one */
    bool require_origin; /* refuse requests that carry neither Origin nor Referer */
    long long ip_rate;   /* events/s per client address; 0 = none */
};

/* Like reg_key_create, for a publishable key: the secret is REG_PK_LEN characters
 * starting with REG_PK_PREFIX. WR_EINVAL (err names the option) for a bad or empty
 * origin list or ip_rate. */
int reg_key_create_publishable(PGconn *c, const char *name, const char *event_types, long long rate,
                               const struct reg_pub_opts *pub, char secret[REG_PK_LEN + 1],
                               struct wr_err *err);

/* Like reg_key_create, for a read key (console.md): REG_RK_LEN characters starting with
 * REG_RK_PREFIX, allowed to read the comma-separated event_types ("" or NULL = all). */
int reg_key_create_read(PGconn *c, const char *name, const char *event_types,
                        char secret[REG_RK_LEN + 1], struct wr_err *err);

/* Origin patterns (origins.c): exact "scheme://host[:port]" or "scheme://" + "*.domain[:port]"
 * (any subdomain, never the bare domain). reg_origins_normalize checks a comma-separated
 * list and writes it lower-cased as a Postgres array literal into out; WR_EINVAL naming
 * the bad entry, or an empty list. */
int reg_origins_normalize(const char *csv, char *out, size_t outlen, struct wr_err *err);
/* True when origin[0, len) (as a browser sends it in Origin) matches pattern. */
bool reg_origin_match(const char *pattern, const char *origin, size_t len);

/* Calls fn for every key, ordered by name; never exposes a secret. */
int reg_key_list(PGconn *c, void (*fn)(const struct reg_key_info *, void *), void *arg,
                 struct wr_err *err);

/* Revokes a key; WR_ENOENT when there is no such key. */
int reg_key_revoke(PGconn *c, const char *name, struct wr_err *err);

/* --- rotation, updates and expiry (docs/keys.md) --------------------------------- */

/* Room for the secret of any kind of key, with its NUL. */
#define REG_SECRET_MAX 64

/* Gives key `name` a new secret of its kind, written into secret (REG_SECRET_MAX bytes);
 * name, scopes, rates, origins and expiry stay. The previous secret keeps working for
 * grace_ms (0: refused at once) and is then refused; a secret from an earlier rotation
 * still in its grace is refused at once (one previous secret at a time). WR_ENOENT for
 * no such key, WR_EINVAL for a revoked one. */
int reg_key_rotate(PGconn *c, const char *name, int64_t grace_ms, char secret[REG_SECRET_MAX],
                   struct wr_err *err);

/* What reg_key_update changes; each field has an "unchanged" value. */
struct reg_key_change {
    const char *event_types; /* NULL: unchanged; "": every type */
    long long rate;          /* < 0: unchanged; 0: unlimited */
    const char *origins;     /* NULL: unchanged (publishable keys only) */
    long long ip_rate;       /* < 0: unchanged (publishable keys only) */
    int expires;             /* 0: unchanged; 1: at expires_s; 2: never */
    int64_t expires_s;       /* Unix seconds, in the future */
};

/* Changes a key in place; gateways apply it on the NOTIFY (within a second). WR_ENOENT
 * for no such key; WR_EINVAL (naming the option) for a bad value, an expiry in the
 * past, or origins / ip-rate on a key that is not publishable. */
int reg_key_update(PGconn *c, const char *name, const struct reg_key_change *ch,
                   struct wr_err *err);

/* --expires: an RFC 3339 time ("2027-01-01T00:00:00Z", "...+02:00") or a span from
 * now_s ("30d", "12h", "90m", "45s", bare = seconds). *at_s: Unix seconds. */
bool reg_expiry_parse(const char *s, int64_t now_s, int64_t *at_s);

/* --grace: a span ("24h", "7d", "90m", "3s", "500ms", bare = seconds) in ms, at most
 * 366 days. */
bool reg_span_parse_ms(const char *s, int64_t *ms);

/* SHA-256 of a presented secret, as stored. */
void reg_key_hash(const char *secret, size_t len, unsigned char out[32]);

/* --- schema store ------------------------------------------------------------ */

/* True when s matches ^[a-z][a-z0-9_]{0,63}$ */
bool reg_event_type_valid(const char *s, size_t len);

/* Checks that doc is a usable JSON Schema (valid against its meta-schema, compilable).
 * Returns 0 or WR_EINVAL with err->msg naming the place and reason. */
int reg_schema_check_doc(const json_t *doc, struct wr_err *err);

/* Inserts doc as a version of event_type: `version` > 0 names it, 0 takes the next.
 * The document is checked first. *version_out (may be NULL) gets the version.
 * WR_EINVAL for an invalid schema or a version that exists. */
int reg_schema_add(PGconn *c, const char *event_type, const json_t *doc, int version,
                   int *version_out, struct wr_err *err);

struct reg_schema_row {
    const char *event_type;
    int version;
    bool active;
    const char *created_at;
    const char *schema; /* JSON text */
};

/* Calls fn for every stored version (of event_type, or all when NULL), ordered. */
int reg_schema_list(PGconn *c, const char *event_type,
                    void (*fn)(const struct reg_schema_row *, void *), void *arg,
                    struct wr_err *err);

/* --- the embedded cluster ---------------------------------------------------- */

/* A private PostgreSQL cluster under dir (data in dir/data, socket in dir/run, log in
 * dir/log), listening only on its Unix socket. As root, the server runs as the
 * unprivileged `postgres` user (initdb refuses root). */
struct reg_pgserver {
    char dir[512];
    char conninfo[640]; /* "host=DIR/run user=weir dbname=weir" */
    bool started;       /* this process started it (so it should stop it) */
};

/* Creates the cluster if create is true and it does not exist, starts it if it is not
 * running, creates the `weir` database, and fills s. WR_ENOENT when the cluster does not
 * exist and create is false. Logs what it does. */
int reg_pgserver_up(const char *dir, bool create, struct reg_pgserver *s, struct wr_err *err);

/* Stops the server (fast shutdown) and waits for it. */
int reg_pgserver_stop(const char *dir, struct wr_err *err);

/* The conninfo of the embedded cluster under dir, whether or not it runs. */
void reg_pgserver_conninfo(const char *dir, char *out, size_t outlen);

#endif
