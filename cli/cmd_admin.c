/* cmd_admin.c - `weir migrate`, `weir key ...` and `weir schema ...`: the registry's
 * administration from the command line. */
#include "cli.h"

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "registry/registry.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define OFF(f) offsetof(struct weir_cfg, f)

static const struct wr_cmd migrate_cmd = {
    "migrate", NULL, "Applies the SQL migrations in order, each once (safe to run concurrently).",
    {cli_common_opts, NULL}, 0, 0};

int cmd_migrate(int argc, char **argv)
{
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&migrate_cmd, argc - 1, argv + 1, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    bool started;
    PGconn *c = cli_connect(&cfg, &started);
    if (!c) {
        return EXIT_FAIL;
    }
    struct wr_err err = {0};
    int applied = 0;
    rc = reg_migrate(c, &applied, &err) == 0 ? EXIT_OK : cli_fail(EXIT_FAIL, "%s", err.msg);
    if (rc == EXIT_OK) {
        printf("%d migration%s applied\n", applied, applied == 1 ? "" : "s");
    }
    cli_disconnect(&cfg, c, started);
    return rc;
}

/* The index of argv[1] among a group's n verbs; or -(exit status + 1) after printing
 * the usage (to stdout for --help, as an error otherwise). */
static int pick_verb(int argc, char **argv, const char *group, const char *const *verbs, int n,
                     const char *all)
{
    for (int i = 0; argc > 1 && i < n; i++) {
        if (strcmp(argv[1], verbs[i]) == 0) {
            return i;
        }
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: weir %s %s [options]  (weir %s VERB --help)\n", group, all, group);
        return -(EXIT_OK + 1);
    }
    cli_fail(EXIT_USAGE, "usage: weir %s %s (see weir %s VERB --help)", group, all, group);
    return -(EXIT_USAGE + 1);
}

/* --- keys ---------------------------------------------------------------------- */

static const struct wr_opt key_create_opts[] = {
    {"name", NULL, WR_OPT_STRING, NULL, OFF(name), "the key's name (its source), required"},
    {"event-types", NULL, WR_OPT_STRING, "", OFF(event_types),
     "comma-separated event types it may send (empty: all)"},
    {"rate", NULL, WR_OPT_INT, "0", OFF(rate), "events per second (0: unlimited)"},
    {"publishable", NULL, WR_OPT_BOOL, "false", OFF(publishable),
     "a browser key (weir_pk_...): may travel in the `key` query parameter"},
    {"read", NULL, WR_OPT_BOOL, "false", OFF(read_key),
     "a read key (weir_rk_...) for weir console; --event-types limits what it may read"},
    {"origins", NULL, WR_OPT_STRING, NULL, OFF(origins),
     "publishable: comma-separated page origins, scheme://host[:port] or scheme://*.domain"},
    {"require-origin", NULL, WR_OPT_BOOL, "false", OFF(require_origin),
     "publishable: refuse requests with neither Origin nor Referer"},
    {"ip-rate", NULL, WR_OPT_INT, "20", OFF(ip_rate),
     "publishable: events per second per client address (0: no limit)"},
    {"expires", NULL, WR_OPT_STRING, NULL, OFF(expires),
     "refused from then on: an RFC 3339 time (2027-01-01T00:00:00Z) or a span from now "
     "(30d, 12h); default never"},
    {0},
};

static const struct wr_opt key_rotate_opts[] = {
    {"grace", NULL, WR_OPT_STRING, "24h", OFF(grace),
     "how long the previous secret keeps working (0: not at all; 90m, 24h, 7d; at most 366d)"},
    {0},
};

/* Every option is "unchanged" unless given (rate and ip-rate are preset to LLONG_MIN). */
static const struct wr_opt key_update_opts[] = {
    {"event-types", NULL, WR_OPT_STRING, NULL, OFF(event_types),
     "comma-separated event types it may send (\"\": all)"},
    {"rate", NULL, WR_OPT_INT, NULL, OFF(rate), "events per second (0: unlimited)"},
    {"origins", NULL, WR_OPT_STRING, NULL, OFF(origins), "publishable: the page origins"},
    {"ip-rate", NULL, WR_OPT_INT, NULL, OFF(ip_rate),
     "publishable: events per second per client address (0: no limit)"},
    {"expires", NULL, WR_OPT_STRING, NULL, OFF(expires),
     "an RFC 3339 time or a span from now (30d), or `never`"},
    {0},
};

static const struct wr_cmd key_cmds[] = {
    {"key create", NULL, "Creates an API key and prints it once; only its hash is stored.",
     {cli_common_opts, key_create_opts, NULL}, 0, 0},
    {"key list", NULL, "Lists the keys (never their secrets).", {cli_common_opts, NULL}, 0, 0},
    {"key revoke", "NAME", "Revokes a key.", {cli_common_opts, NULL}, 1, 1},
    {"key rotate", "NAME",
     "Prints a new secret for the key (same name, scopes, rates); the previous one works "
     "until the grace ends.",
     {cli_common_opts, key_rotate_opts, NULL}, 1, 1},
    {"key update", "NAME",
     "Changes a key's scopes, rates, origins or expiry; running gateways apply it at once.",
     {cli_common_opts, key_update_opts, NULL}, 1, 1},
};

static void print_key_row(const struct reg_key_info *k, void *arg)
{
    (void)arg;
    char rate[32];
    if (k->rate) {
        snprintf(rate, sizeof rate, "%lld/s", k->rate);
    } else {
        snprintf(rate, sizeof rate, "unlimited");
    }
    char rotation[48] = "-";
    if (*k->prev_valid_until) {
        snprintf(rotation, sizeof rotation, "old-until:%s", k->prev_valid_until);
    } else if (*k->rotated_at) {
        snprintf(rotation, sizeof rotation, "rotated:%s", k->rotated_at);
    }
    printf("%-20s %-15s %-11s %-24s %-10s %-8s %-20s %-20s %-30s %s\n", k->name, k->prefix,
           k->publishable ? "publishable" : k->read ? "read" : "secret",
           *k->event_types ? k->event_types : "*",
           rate, k->revoked ? "revoked" : k->expired ? "expired" : "active", k->created_at,
           *k->expires_at ? k->expires_at : "never", rotation, k->publishable ? k->origins : "-");
}

/* key rotate / key update: a missing, revoked or refused key is the caller's mistake. */
static int key_fail(const struct wr_err *err)
{
    bool usage = err->code == WR_EINVAL || err->code == WR_ENOENT;
    return cli_fail(usage ? EXIT_USAGE : EXIT_FAIL, "%s", err->msg);
}

/* Prints a secret alone on stdout, straight to the descriptor (not through stdio: no copy
 * stays in a buffer we cannot wipe), and wipes it. */
static int print_secret(char *secret, size_t size)
{
    int rc = EXIT_OK;
    size_t n = strlen(secret);
    secret[n] = '\n';
    fflush(stdout);
    if (wr_write_all(STDOUT_FILENO, secret, n + 1) != 0) {
        rc = cli_fail(EXIT_FAIL, "writing the key failed: %s", strerror(errno));
    }
    wr_cleanse(secret, size);
    return rc;
}

/* --expires (and `never` when allowed) into ch; -1 to go on, or the exit status. */
static int parse_expires(const char *v, bool never_ok, struct reg_key_change *ch)
{
    if (!v) {
        return -1;
    }
    if (never_ok && strcmp(v, "never") == 0) {
        ch->expires = 2;
        return -1;
    }
    int64_t now_s = wr_time_now_ms() / 1000;
    if (!reg_expiry_parse(v, now_s, &ch->expires_s)) {
        return cli_fail(EXIT_USAGE, "--expires: '%s' is neither an RFC 3339 time "
                        "(2027-01-01T00:00:00Z) nor a span (30d, 12h, 90m)%s", v,
                        never_ok ? " nor 'never'" : "");
    }
    if (ch->expires_s <= now_s) {
        return cli_fail(EXIT_USAGE, "--expires: '%s' has passed (to stop a key now, revoke it)", v);
    }
    ch->expires = 1;
    return -1;
}

/* key rotate NAME / key update NAME. */
static int key_change(int which, struct weir_cfg *cfg, const char *name)
{
    /* LLONG_MIN: not given (key_update_opts have no default). */
    struct reg_key_change ch = {.event_types = cfg->event_types,
                                .rate = cfg->rate == LLONG_MIN ? -1 : cfg->rate,
                                .origins = cfg->origins,
                                .ip_rate = cfg->ip_rate == LLONG_MIN ? -1 : cfg->ip_rate};
    int64_t grace_ms = 0;
    if (which == 3 && !reg_span_parse_ms(cfg->grace, &grace_ms)) {
        return cli_fail(EXIT_USAGE, "--grace: '%s' is not a span of at most 366 days "
                        "(0, 90m, 24h, 7d)", cfg->grace);
    }
    if (which == 4) {
        int rc = parse_expires(cfg->expires, true, &ch);
        if (rc >= 0) {
            return rc;
        }
        bool bad_rate = cfg->rate != LLONG_MIN && cfg->rate < 0;
        if (bad_rate || (cfg->ip_rate != LLONG_MIN && cfg->ip_rate < 0)) {
            return cli_fail(EXIT_USAGE, "--%s: %lld is below 0", bad_rate ? "rate" : "ip-rate",
                            bad_rate ? cfg->rate : cfg->ip_rate);
        }
        if (!ch.event_types && ch.rate < 0 && !ch.origins && ch.ip_rate < 0 && !ch.expires) {
            return cli_fail(EXIT_USAGE, "key update: nothing to change (--event-types, --rate, "
                            "--origins, --ip-rate, --expires)");
        }
    }
    bool started;
    PGconn *c = cli_connect(cfg, &started);
    if (!c) {
        return EXIT_FAIL;
    }
    struct wr_err err = {0};
    int rc = EXIT_OK;
    if (which == 3) {
        char secret[REG_SECRET_MAX + 1];
        if (reg_key_rotate(c, name, grace_ms, secret, &err) != 0) {
            rc = key_fail(&err);
        } else {
            rc = print_secret(secret, sizeof secret);
        }
        wr_cleanse(secret, sizeof secret);
    } else if (reg_key_update(c, name, &ch, &err) != 0) {
        rc = key_fail(&err);
    } else {
        printf("updated %s\n", name);
    }
    cli_disconnect(cfg, c, started);
    return rc;
}

static int simple(PGconn *c, const char *sql, struct wr_err *err)
{
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err, sql, 0, NULL);
    PQclear(r);
    return r ? 0 : WR_EDB;
}

static int begin(PGconn *c, struct wr_err *err)
{
    return simple(c, "BEGIN", err);
}

static int commit(PGconn *c, struct wr_err *err)
{
    return simple(c, "COMMIT", err);
}

int cmd_key(int argc, char **argv)
{
    static const char *const verbs[] = {"create", "list", "revoke", "rotate", "update"};
    int which = pick_verb(argc, argv, "key", verbs, 5, "create|list|revoke|rotate|update");
    if (which < 0) {
        return -which - 1;
    }
    struct weir_cfg cfg = {.rate = LLONG_MIN, .ip_rate = LLONG_MIN};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&key_cmds[which], argc - 2, argv + 2, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    if (which >= 3) {
        return key_change(which, &cfg, pos[0]);
    }
    struct reg_key_change expiry = {0};
    if (which == 0 && (rc = parse_expires(cfg.expires, false, &expiry)) >= 0) {
        return rc;
    }
    if (which == 0 && !cfg.name) {
        return cli_fail(EXIT_USAGE, "--name: required (the key's source name)");
    }
    if (which == 0 && !reg_key_name_valid(cfg.name)) {
        return cli_fail(EXIT_USAGE, "--name: '%s' is not a key name (letters, digits, '.', "
                        "'_', '-'; at most 128)", cfg.name);
    }
    if (which == 0 && cfg.read_key && (cfg.publishable || cfg.rate)) {
        return cli_fail(EXIT_USAGE, "--read: a read key is neither --publishable nor rated (--rate)");
    }
    if (which == 0 && !cfg.publishable && (cfg.origins || cfg.require_origin)) {
        return cli_fail(EXIT_USAGE, "--origins and --require-origin are for --publishable keys");
    }
    if (which == 0 && cfg.publishable) {
        char norm[4096];
        struct wr_err oerr = {0};
        if (cfg.ip_rate < 0) {
            return cli_fail(EXIT_USAGE, "--ip-rate: %lld is below 0", cfg.ip_rate);
        }
        if (reg_origins_normalize(cfg.origins, norm, sizeof norm, &oerr) != 0) {
            return cli_fail(EXIT_USAGE, "%s", oerr.msg);
        }
    }
    bool started;
    PGconn *c = cli_connect(&cfg, &started);
    if (!c) {
        return EXIT_FAIL;
    }
    struct wr_err err = {0};
    rc = EXIT_OK;
    if (which == 0) {
        /* A publishable key is no secret (it sits in web pages), but shown the same way. */
        char secret[REG_PK_LEN + 2];
        struct reg_pub_opts pub = {cfg.origins, cfg.require_origin, cfg.ip_rate};
        /* With --expires, the key and its expiry are one transaction: never a key that
         * outlives what was asked. */
        int crc = expiry.expires ? begin(c, &err) : 0;
        if (crc == 0) {
            crc = cfg.publishable ? reg_key_create_publishable(c, cfg.name, cfg.event_types, cfg.rate,
                                                               &pub, secret, &err)
                  : cfg.read_key  ? reg_key_create_read(c, cfg.name, cfg.event_types, secret, &err)
                                  : reg_key_create(c, cfg.name, cfg.event_types, cfg.rate, secret, &err);
        }
        if (crc == 0 && expiry.expires) {
            expiry.rate = expiry.ip_rate = -1;
            crc = reg_key_update(c, cfg.name, &expiry, &err);
            crc = crc ? crc : commit(c, &err);
        }
        if (crc == 0) {
            rc = print_secret(secret, sizeof secret);
        } else {
            rc = cli_fail(err.code == WR_EINVAL ? EXIT_USAGE : EXIT_FAIL, "%s", err.msg);
        }
        wr_cleanse(secret, sizeof secret);
    } else if (which == 1) {
        printf("%-20s %-15s %-11s %-24s %-10s %-8s %-20s %-20s %-30s %s\n", "NAME", "PREFIX",
               "KIND", "EVENT_TYPES", "RATE", "STATUS", "CREATED_AT", "EXPIRES", "ROTATION",
               "ORIGINS");
        if (reg_key_list(c, print_key_row, NULL, &err) != 0) {
            rc = cli_fail(EXIT_FAIL, "%s", err.msg);
        }
    } else if (reg_key_revoke(c, pos[0], &err) != 0) {
        rc = cli_fail(EXIT_FAIL, "%s", err.msg);
    } else {
        printf("revoked %s\n", pos[0]);
    }
    cli_disconnect(&cfg, c, started);
    return rc;
}

/* --- schemas ------------------------------------------------------------------- */

static const struct wr_opt schema_add_opts[] = {
    {"version", NULL, WR_OPT_INT, "0", OFF(version), "version to insert (0: the next one)"},
    {"dry-run", NULL, WR_OPT_BOOL, "false", OFF(dry_run), "check and report only; insert nothing"},
    {"force", NULL, WR_OPT_BOOL, "false", OFF(force), "insert even when not compatible"},
    {"sample-hours", NULL, WR_OPT_INT, "24", OFF(sample_hours), "hours of raw traffic dry-run"},
    {"sample", NULL, WR_OPT_INT, "100000", OFF(sample), "at most this many events, newest first"},
    {0},
};

static const struct wr_cmd schema_cmds[] = {
    {"schema add", "EVENT_TYPE FILE", "Checks FILE is a valid JSON Schema, then inserts it.",
     {cli_common_opts, cli_lake_opts, schema_add_opts, NULL}, 2, 2},
    {"schema list", "[EVENT_TYPE]", "Lists the stored versions.", {cli_common_opts, NULL}, 0, 1},
    {"schema check", NULL, "Checks the stored schemas; exit 1 if any is invalid or incompatible.",
     {cli_common_opts, NULL}, 0, 0},
};

static void print_schema_row(const struct reg_schema_row *r, void *arg)
{
    (void)arg;
    printf("%-24s %7d %-8s %s\n", r->event_type, r->version, r->active ? "active" : "retired",
           r->created_at);
}

struct check_state {
    int checked, bad;
};

static void check_schema_row(const struct reg_schema_row *r, void *arg)
{
    struct check_state *st = arg;
    st->checked++;
    json_error_t jerr;
    json_t *doc = json_loads(r->schema, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    struct wr_err err = {0};
    if (!doc) {
        wr_err_set(&err, WR_EINVAL, "not JSON: %s", jerr.text);
    } else {
        reg_schema_check_doc(doc, &err);
    }
    if (err.code) {
        st->bad++;
        printf("%s version %d%s: INVALID: %s\n", r->event_type, r->version,
               r->active ? "" : " (retired)", err.msg);
    }
    json_decref(doc);
}

int cmd_schema(int argc, char **argv)
{
    static const char *const verbs[] = {"add", "list", "check"};
    if (argc > 1 && strcmp(argv[1], "compat") == 0) {
        return cmd_schema_compat(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "diff") == 0) {
        return cmd_schema_diff(argc - 1, argv + 1);
    }
    int which = pick_verb(argc, argv, "schema", verbs, 3, "add|list|check|compat|diff");
    if (which < 0) {
        return -which - 1;
    }
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&schema_cmds[which], argc - 2, argv + 2, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    struct wr_err err = {0};
    json_t *doc = NULL;
    if (which == 0) {
        if (!reg_event_type_valid(pos[0], strlen(pos[0]))) {
            return cli_fail(EXIT_USAGE, "EVENT_TYPE: '%s' does not match ^[a-z][a-z0-9_]{0,63}$",
                            pos[0]);
        }
        if (cfg.version < 0 || cfg.version > 2147483647) {
            return cli_fail(EXIT_USAGE, "--version: must be between 1 and 2147483647");
        }
        json_error_t jerr;
        doc = json_load_file(pos[1], JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            return cli_fail(EXIT_USAGE, "%s: line %d column %d: %s", pos[1], jerr.line,
                            jerr.column, jerr.text);
        }
        if (reg_schema_check_doc(doc, &err) != 0) {
            json_decref(doc);
            /* Like `weir validate --schema`: a schema that is not one is a usage error. */
            return cli_fail(err.code == WR_ENOMEM ? EXIT_FAIL : EXIT_USAGE,
                            "%s: not a valid JSON Schema: %s", pos[1], err.msg);
        }
    } else if (which == 1 && npos == 1 && !reg_event_type_valid(pos[0], strlen(pos[0]))) {
        return cli_fail(EXIT_USAGE, "EVENT_TYPE: '%s' does not match ^[a-z][a-z0-9_]{0,63}$",
                        pos[0]);
    }
    bool started;
    PGconn *c = cli_connect(&cfg, &started);
    if (!c) {
        json_decref(doc);
        return EXIT_FAIL;
    }
    rc = EXIT_OK;
    if (which == 0) {
        int version = 0, crc = cli_schema_add_check(&cfg, c, pos[0], doc, (int)cfg.version);
        if (crc >= 0) {
            rc = crc;
        } else if (reg_schema_add(c, pos[0], doc, (int)cfg.version, &version, &err) == 0) {
            printf("%s version %d added\n", pos[0], version);
        } else {
            rc = cli_fail(EXIT_FAIL, "%s", err.msg);
        }
    } else if (which == 1) {
        printf("%-24s %7s %-8s %s\n", "EVENT_TYPE", "VERSION", "STATUS", "CREATED_AT");
        if (reg_schema_list(c, npos ? pos[0] : NULL, print_schema_row, NULL, &err) != 0) {
            rc = cli_fail(EXIT_FAIL, "%s", err.msg);
        }
    } else {
        struct check_state st = {0};
        int incompatible = 0;
        if (reg_schema_list(c, NULL, check_schema_row, &st, &err) != 0 ||
            cli_schema_check_compat(c, &incompatible, &err) != 0) {
            rc = cli_fail(EXIT_FAIL, "%s", err.msg);
        } else {
            printf("%d schema%s checked, %d invalid\n", st.checked, st.checked == 1 ? "" : "s",
                   st.bad);
            if (incompatible) {
                printf("%d version%s incompatible with earlier versions (see weir schema diff)\n",
                       incompatible, incompatible == 1 ? "" : "s");
            }
            rc = st.bad || incompatible ? EXIT_FAIL : EXIT_OK;
        }
    }
    json_decref(doc);
    cli_disconnect(&cfg, c, started);
    return rc;
}
