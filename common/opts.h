/* opts.h - option tables: each subcommand declares its flags once (flag, environment
 * variable, type, default, help) and gets parsing, environment fallback, unit-checked
 * values and a generated --help from the same table. The flag wins over the variable,
 * the variable over the default. getenv() lives here and nowhere else. */
#ifndef WEIR_OPTS_H
#define WEIR_OPTS_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum wr_opt_type {
    WR_OPT_STRING,   /* const char * */
    WR_OPT_INT,      /* long long; decimal */
    WR_OPT_BOOL,     /* bool; "--flag" alone means true */
    WR_OPT_DURATION, /* int64_t milliseconds; "250ms", "30s", "5m", "1h", bare = seconds */
    WR_OPT_SIZE,     /* uint64_t bytes; "512", "64KiB", "8MiB", "1GiB" */
    WR_OPT_LIST      /* struct wr_strlist; the flag may be repeated */
};

struct wr_opt {
    const char *name; /* long flag without the dashes; NULL: environment only (secrets) */
    const char *env;  /* environment variable, or NULL; name and env both NULL end a table */
    enum wr_opt_type type;
    const char *def;  /* default, in the syntax a user would type; NULL = unset */
    size_t offset;    /* offsetof() the value in the caller's config struct */
    const char *help;
};

struct wr_strlist {
    const char *v[32];
    size_t n;
};

struct wr_cmd {
    const char *name;    /* "gateway", "key create" */
    const char *args;    /* positional arguments for the usage line, e.g. "EVENT_TYPE FILE" */
    const char *summary; /* one line */
    const struct wr_opt *tables[4]; /* option tables, NULL-terminated list */
    unsigned min_args, max_args;
};

enum { WR_OPTS_HELP = 1 };

/* Parses argv[0, argc) (the words after the subcommand) into cfg by the tables of cmd,
 * then fills every option not given from its environment variable, then its default.
 * Positional words are stored in pos (room for argc pointers) and counted in *npos.
 * Returns 0, WR_OPTS_HELP after printing help to stdout, or WR_EINVAL with err->msg one
 * line naming the option and what was wrong (the caller exits 2). */
int wr_opts_parse(const struct wr_cmd *cmd, int argc, char **argv, void *cfg,
                  char **pos, int *npos, struct wr_err *err);

/* How --help renders. Process-wide; set once by main before any parsing (`weir help
 * --markdown` sets MARKDOWN and then asks every command for its --help). */
enum wr_help_format { WR_HELP_TEXT, WR_HELP_MARKDOWN };
extern enum wr_help_format wr_opts_help_format;

/* Prints the generated help of cmd to f, in wr_opts_help_format. */
void wr_opts_help(const struct wr_cmd *cmd, FILE *f);

/* Prints the help of cmd as one Markdown section (a "###" heading, the usage line, the
 * summary, a table of flag, environment variable, type, default and description), the
 * source of docs/configuration.md. Table cells have '|' escaped. */
void wr_opts_help_markdown(const struct wr_cmd *cmd, FILE *f);

/* The unit parsers behind the table, for tests and other callers. Return false when s
 * is not a valid value. */
bool wr_parse_duration_ms(const char *s, int64_t *ms);
bool wr_parse_size(const char *s, uint64_t *bytes);

/* The value of an environment variable, or NULL (the only getenv() in weir). */
const char *wr_env(const char *name);

#endif
