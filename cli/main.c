/* main.c - the `weir` command: picks the subcommand and hands over. Shared option tables
 * and the Postgres connection helper live here too. */
#include "cli.h"

#include "common/log.h"
#include "lake/lake.h"
#include "registry/registry.h"

#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define OFF(f) offsetof(struct weir_cfg, f)

const struct wr_opt cli_common_opts[] = {
    {"database-url", "WEIR_DATABASE_URL", WR_OPT_STRING, NULL, OFF(database_url),
     "Postgres conninfo or URI; unset: the embedded cluster under --pg-dir"},
    {"pg-dir", "WEIR_PG_DIR", WR_OPT_STRING, "./var/pg", OFF(pg_dir),
     "folder of the embedded Postgres cluster"},
    {"log-level", "WEIR_LOG_LEVEL", WR_OPT_STRING, "info", OFF(log_level),
     "debug, info, warn, error or off"},
    {"umask", "WEIR_UMASK", WR_OPT_STRING, "077", OFF(umask),
     "file mode mask of every file and folder weir creates (octal; 077: owner only)"},
    {"allow-core-dumps", "WEIR_ALLOW_CORE_DUMPS", WR_OPT_BOOL, "false", OFF(allow_core_dumps),
     "let the process dump core (off by default: a dump would hold keys and events)"},
    {0},
};

const struct wr_opt cli_lake_opts[] = {
    {"lake", "WEIR_LAKE", WR_OPT_STRING, "file://./var/lake", OFF(lake),
     "lake root: file://DIR or s3://bucket/prefix"},
    {"s3-endpoint", "WEIR_S3_ENDPOINT", WR_OPT_STRING, NULL, OFF(s3_endpoint),
     "S3-compatible endpoint URL (default: AWS for the region)"},
    {"s3-region", "WEIR_S3_REGION", WR_OPT_STRING, NULL, OFF(s3_region),
     "S3 region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)"},
    {"s3-addressing", "WEIR_S3_ADDRESSING", WR_OPT_STRING, "auto", OFF(s3_addressing),
     "path, virtual, or auto (path when an endpoint is set)"},
    {NULL, "AWS_ACCESS_KEY_ID", WR_OPT_STRING, NULL, OFF(aws_access_key_id), "S3 access key"},
    {NULL, "AWS_SECRET_ACCESS_KEY", WR_OPT_STRING, NULL, OFF(aws_secret_access_key),
     "S3 secret key"},
    {NULL, "AWS_SESSION_TOKEN", WR_OPT_STRING, NULL, OFF(aws_session_token),
     "S3 session token (temporary credentials)"},
    {0},
};

int cli_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("weir: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

int cli_parse(const struct wr_cmd *cmd, int argc, char **argv, struct weir_cfg *cfg,
              char **pos, int *npos)
{
    struct wr_err err = {0};
    if (argc >= CLI_MAX_ARGS) {
        return cli_fail(EXIT_USAGE, "too many arguments (%d at most)", CLI_MAX_ARGS - 1);
    }
    int rc = wr_opts_parse(cmd, argc, argv, cfg, pos, npos, &err);
    if (rc == WR_OPTS_HELP) {
        return EXIT_OK;
    }
    if (rc) {
        return cli_fail(EXIT_USAGE, "%s", err.msg);
    }
    if (cfg->log_level) {
        int level = wr_log_level_parse(cfg->log_level);
        if (level < 0) {
            return cli_fail(EXIT_USAGE, "--log-level: '%s' is not debug, info, warn, error "
                            "or off", cfg->log_level);
        }
        wr_log_level = level;
    }
    if (cfg->umask && (rc = cli_process_setup(cfg->umask, cfg->allow_core_dumps)) >= 0) {
        return rc;
    }
    /* Every subcommand with S3 options refuses a bad one, whether it reaches S3 or not. */
    if (cfg->s3_addressing) {
        struct lake_s3_opts s3;
        if ((rc = cli_s3_opts(cfg, &s3)) >= 0) {
            return rc;
        }
    }
    return -1;
}

int cli_process_setup(const char *mask, bool allow_core_dumps)
{
    if (mask) {
        unsigned long v = 0;
        size_t n = strlen(mask);
        bool ok = n >= 1 && n <= 4;
        for (size_t i = 0; ok && i < n; i++) {
            ok = mask[i] >= '0' && mask[i] <= '7';
            v = v * 8 + (unsigned long)(mask[i] - '0');
        }
        if (!ok || v > 0777) {
            return cli_fail(EXIT_USAGE, "--umask: '%s' is not an octal mode such as 077", mask);
        }
        umask((mode_t)v);
    }
    /* A core dump would hold API key secrets, S3 credentials and events in clear. Both
     * switches: RLIMIT_CORE for the dump itself, PR_SET_DUMPABLE also for ptrace and
     * /proc/PID/mem of other users' processes. */
    struct rlimit rl = {0, 0};
    if (allow_core_dumps) {
        getrlimit(RLIMIT_CORE, &rl);
        rl.rlim_cur = rl.rlim_max;
    }
    if (setrlimit(RLIMIT_CORE, &rl) != 0) {
        WR_WARN("could not set RLIMIT_CORE");
    }
    prctl(PR_SET_DUMPABLE, allow_core_dumps ? 1 : 0, 0, 0, 0);
    return -1;
}

int cli_s3_opts(const struct weir_cfg *cfg, struct lake_s3_opts *o)
{
    struct lake_s3_args a = {cfg->s3_endpoint, cfg->s3_region, cfg->s3_addressing,
                             cfg->aws_access_key_id, cfg->aws_secret_access_key,
                             cfg->aws_session_token};
    struct wr_err err = {0};
    if (lake_s3_opts_parse(&a, o, &err) != 0) {
        return cli_fail(EXIT_USAGE, "%s", err.msg);
    }
    return -1;
}

PGconn *cli_connect(const struct weir_cfg *cfg, bool *started)
{
    struct wr_err err = {0};
    *started = false;
    const char *ci = cfg->database_url;
    struct reg_pgserver s;
    if (!ci) {
        if (reg_pgserver_up(cfg->pg_dir, false, &s, &err) != 0) {
            cli_fail(EXIT_FAIL, "%s", err.msg);
            return NULL;
        }
        *started = s.started;
        ci = s.conninfo;
    }
    PGconn *c = reg_connect(ci, &err);
    if (!c) {
        cli_fail(EXIT_FAIL, "%s", err.msg);
        if (*started) {
            reg_pgserver_stop(s.dir, NULL);
            *started = false;
        }
    }
    return c;
}

void cli_disconnect(const struct weir_cfg *cfg, PGconn *c, bool started)
{
    PQfinish(c);
    if (started) {
        struct wr_err err = {0};
        if (reg_pgserver_stop(cfg->pg_dir, &err) != 0) {
            cli_fail(EXIT_FAIL, "%s", err.msg);
        }
    }
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"up", cmd_up, "the embedded default: private Postgres, example schemas, a demo key, the gateway"},
    {"migrate", cmd_migrate, "apply the SQL migrations, each once"},
    {"gateway", cmd_gateway, "run the HTTP ingest gateway until SIGTERM/SIGINT"},
    {"schema", cmd_schema, "add, list, check, compare event schemas (add | list | check | compat | diff)"},
    {"validate", cmd_validate, "validate JSON values against a schema, offline"},
    {"key", cmd_key, "create, list or revoke API keys (create | list | revoke)"},
    {"curate", cmd_curate, "curate closed raw hours into Parquet (curated zone) and rollups"},
    {"replay", cmd_replay, "put rejected events that now pass back into the raw zone, once"},
    {"console", cmd_console, "serve the lake's read side: web page and JSON API, for read keys"},
    {"rollup", cmd_rollup, "add, list or remove rollup definitions (add | list | remove)"},
    {"catalog", cmd_catalog, "print the DDL that makes the lake a table per event type (DuckDB, Athena, Trino)"},
};

/* The verbs of the commands that have them, for `weir help --markdown` (a command not
 * listed here is asked for its own --help). A new verb goes here too; the docs test
 * checks that every verb of `weir GROUP --help` is documented. */
static const struct {
    const char *group;
    const char *verbs[8];
} verb_groups[] = {
    {"schema", {"add", "list", "check", "compat", "diff", NULL}},
    {"key", {"create", "list", "revoke", "rotate", "update", NULL}},
    {"rollup", {"add", "list", "remove", NULL}},
};

/* docs/configuration.md: a preamble, then each command's --help rendered as Markdown. */
static int help_markdown(void)
{
    fputs("# Configuration reference\n\n"
          "<!-- Generated from the option tables by `weir help --markdown`; do not edit by "
          "hand.\n     Regenerate: build/cli/weir help --markdown > docs/configuration.md "
          "-->\n\n"
          "Every option of every `weir` subcommand. An option is given as a flag or by its "
          "environment\nvariable; the flag wins over the variable, the variable over the "
          "default. Options marked\n\"environment only\" are secrets that have no flag, so "
          "they never show in a process list.\n\n"
          "- Durations: `250ms`, `30s`, `5m`, `1h`; a bare number is seconds.\n"
          "- Sizes: `65536`, `64KiB`, `8MiB`, `1GiB`.\n"
          "- Booleans: `--flag` alone means true; `--flag=false`, or the variable set to "
          "`true`/`false`.\n"
          "- Exit statuses: 0 ok, 1 failure, 2 usage error.\n\n"
          "## Subcommands\n\n",
          stdout);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        printf("- `weir %s`: %s\n", commands[i].name, commands[i].summary);
    }
    fputs("\n## Options\n\n", stdout);
    wr_opts_help_format = WR_HELP_MARKDOWN;
    int status = EXIT_OK;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *const *verbs = NULL;
        for (size_t g = 0; g < sizeof verb_groups / sizeof verb_groups[0]; g++) {
            if (strcmp(verb_groups[g].group, commands[i].name) == 0) {
                verbs = verb_groups[g].verbs;
            }
        }
        char name[32];
        snprintf(name, sizeof name, "%s", commands[i].name);
        if (!verbs) {
            char help[] = "--help";
            char *argv[] = {name, help, NULL};
            status |= commands[i].run(2, argv);
            continue;
        }
        for (size_t v = 0; verbs[v]; v++) {
            char verb[32], help[] = "--help";
            snprintf(verb, sizeof verb, "%s", verbs[v]);
            char *argv[] = {name, verb, help, NULL};
            status |= commands[i].run(3, argv);
        }
    }
    fflush(stdout);
    return status ? EXIT_FAIL : EXIT_OK;
}

static void usage(FILE *f)
{
    fputs("usage: weir SUBCOMMAND [options] [arguments]\n\nsubcommands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    fputs("\n`weir SUBCOMMAND --help` lists its options; every option can also be set by\n"
          "the environment variable it names (a flag wins). Exit: 0 ok, 1 failure, 2 usage.\n"
          "`weir help --markdown` prints every option of every subcommand as Markdown.\n"
          "`weir --version` prints the version and the licence (" WEIR_LICENSE ").\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *allow = wr_env("WEIR_ALLOW_CORE_DUMPS");
    int rc = cli_process_setup(wr_env("WEIR_UMASK") ? wr_env("WEIR_UMASK") : "077",
                               allow && (strcmp(allow, "1") == 0 || strcmp(allow, "true") == 0 ||
                                         strcmp(allow, "yes") == 0));
    if (rc >= 0) {
        return rc;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        if (argc == 3 && strcmp(argv[2], "--markdown") == 0) {
            return help_markdown();
        }
        if (argc > 2) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *help[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, help);
                }
            }
        }
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(sub, "version") == 0 || strcmp(sub, "--version") == 0) {
        printf("weir %s (%s)\n", WEIR_VERSION, WEIR_LICENSE);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(sub, commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    return cli_fail(EXIT_USAGE, "'%s' is not a subcommand (see weir help)", sub);
}
