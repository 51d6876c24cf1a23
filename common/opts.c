/* opts.c - table-driven parsing of flags and environment variables behind opts.h. */
#include "opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *wr_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static size_t digits_prefix(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        n++;
    }
    return n;
}

bool wr_parse_duration_ms(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    size_t n = digits_prefix(s);
    uint64_t v;
    if (!parse_u64(s, n, &v)) {
        return false;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s + n, units[i].unit) == 0) {
            if (v > (uint64_t)INT64_MAX / units[i].ms) {
                return false;
            }
            *ms = (int64_t)(v * units[i].ms);
            return true;
        }
    }
    return false;
}

bool wr_parse_size(const char *s, uint64_t *bytes)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}};
    size_t n = digits_prefix(s);
    uint64_t v;
    if (!parse_u64(s, n, &v)) {
        return false;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s + n, units[i].unit) == 0) {
            if (v > UINT64_MAX / units[i].mult) {
                return false;
            }
            *bytes = v * units[i].mult;
            return true;
        }
    }
    return false;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static const char *type_hint(enum wr_opt_type t)
{
    switch (t) {
    case WR_OPT_INT: return "an integer";
    case WR_OPT_BOOL: return "true or false";
    case WR_OPT_DURATION: return "a duration such as 250ms, 30s, 5m, 1h";
    case WR_OPT_SIZE: return "a size such as 65536, 64KiB, 8MiB, 1GiB";
    default: return "a value";
    }
}

/* Stores the text value v into cfg; `origin` says where it came from for the message. */
static int set_value(const struct wr_opt *o, const char *v, void *cfg, const char *origin,
                     struct wr_err *err)
{
    char *field = (char *)cfg + o->offset;
    bool ok = true;
    switch (o->type) {
    case WR_OPT_STRING:
        *(const char **)field = v;
        break;
    case WR_OPT_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        ok = *v && !*end && errno == 0;
        if (ok) {
            *(long long *)field = x;
        }
        break;
    }
    case WR_OPT_BOOL:
        ok = parse_bool(v, (bool *)field);
        break;
    case WR_OPT_DURATION:
        ok = wr_parse_duration_ms(v, (int64_t *)field);
        break;
    case WR_OPT_SIZE:
        ok = wr_parse_size(v, (uint64_t *)field);
        break;
    case WR_OPT_LIST: {
        struct wr_strlist *l = (struct wr_strlist *)field;
        if (l->n == sizeof l->v / sizeof l->v[0]) {
            return wr_err_set(err, WR_EINVAL, "--%s: given more than %zu times", o->name,
                              sizeof l->v / sizeof l->v[0]);
        }
        l->v[l->n++] = v;
        break;
    }
    }
    if (!ok) {
        if (!o->name) {
            return wr_err_set(err, WR_EINVAL, "%s: '%s' is not %s", o->env, v,
                              type_hint(o->type));
        }
        return wr_err_set(err, WR_EINVAL, "--%s%s: '%s' is not %s", o->name, origin, v,
                          type_hint(o->type));
    }
    return 0;
}

static const struct wr_opt *find_opt(const struct wr_cmd *cmd, const char *name, size_t len)
{
    for (size_t t = 0; t < 4 && cmd->tables[t]; t++) {
        for (const struct wr_opt *o = cmd->tables[t]; o->name || o->env; o++) {
            if (o->name && strlen(o->name) == len && memcmp(o->name, name, len) == 0) {
                return o;
            }
        }
    }
    return NULL;
}

int wr_opts_parse(const struct wr_cmd *cmd, int argc, char **argv, void *cfg,
                  char **pos, int *npos, struct wr_err *err)
{
    /* Which options the command line set, so the environment does not override them. */
    const struct wr_opt *given[128];
    size_t ngiven = 0;
    *npos = 0;
    bool only_args = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            wr_opts_help(cmd, stdout);
            return WR_OPTS_HELP;
        }
        if (a[1] != '-') {
            return wr_err_set(err, WR_EINVAL, "%s: unknown option (see weir %s --help)", a,
                              cmd->name);
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct wr_opt *o = find_opt(cmd, name, nlen);
        if (!o) {
            return wr_err_set(err, WR_EINVAL, "--%.*s: unknown option (see weir %s --help)",
                              (int)nlen, name, cmd->name);
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (o->type == WR_OPT_BOOL) {
            v = "true";
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            return wr_err_set(err, WR_EINVAL, "--%s: needs %s", o->name, type_hint(o->type));
        }
        int rc = set_value(o, v, cfg, "", err);
        if (rc) {
            return rc;
        }
        if (ngiven < sizeof given / sizeof given[0]) {
            given[ngiven++] = o;
        }
    }
    for (size_t t = 0; t < 4 && cmd->tables[t]; t++) {
        for (const struct wr_opt *o = cmd->tables[t]; o->name || o->env; o++) {
            bool set = false;
            for (size_t g = 0; g < ngiven && !set; g++) {
                set = given[g] == o;
            }
            if (set) {
                continue;
            }
            const char *v = o->env ? wr_env(o->env) : NULL;
            char origin[80] = "";
            if (v) {
                snprintf(origin, sizeof origin, " (from %s)", o->env);
            } else {
                v = o->def;
            }
            if (v) {
                int rc = set_value(o, v, cfg, origin, err);
                if (rc) {
                    return rc;
                }
            }
        }
    }
    if ((unsigned)*npos < cmd->min_args || (unsigned)*npos > cmd->max_args) {
        return wr_err_set(err, WR_EINVAL, "usage: weir %s%s%s (see weir %s --help)",
                          cmd->name, cmd->args ? " " : "", cmd->args ? cmd->args : "",
                          cmd->name);
    }
    return 0;
}

enum wr_help_format wr_opts_help_format = WR_HELP_TEXT;

/* Text in a Markdown table cell: '|' would end the cell, a newline the row. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') {
            fputs("\\|", f);
        } else if (*s == '\n') {
            fputc(' ', f);
        } else {
            fputc(*s, f);
        }
    }
}

static const char *type_name(enum wr_opt_type t)
{
    switch (t) {
    case WR_OPT_INT: return "integer";
    case WR_OPT_BOOL: return "boolean";
    case WR_OPT_DURATION: return "duration";
    case WR_OPT_SIZE: return "size";
    case WR_OPT_LIST: return "text, repeatable";
    default: return "text";
    }
}

void wr_opts_help_markdown(const struct wr_cmd *cmd, FILE *f)
{
    fprintf(f, "### `weir %s`\n\n`weir %s [options]%s%s`\n\n%s\n\n", cmd->name, cmd->name,
            cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
    bool any = false;
    for (size_t t = 0; t < 4 && cmd->tables[t]; t++) {
        for (const struct wr_opt *o = cmd->tables[t]; o->name || o->env; o++) {
            if (!any) {
                fputs("| Flag | Environment variable | Type | Default | Description |\n"
                      "|---|---|---|---|---|\n",
                      f);
                any = true;
            }
            if (o->name) {
                fprintf(f, "| `--%s%s` | ", o->name, o->type == WR_OPT_BOOL ? "" : " VALUE");
            } else {
                fputs("| (environment only) | ", f);
            }
            if (o->env) {
                fprintf(f, "`%s`", o->env);
            }
            fprintf(f, " | %s | ", type_name(o->type));
            if (o->def) {
                fputc('`', f);
                md_cell(f, *o->def ? o->def : "\"\"");
                fputc('`', f);
            } else {
                fputs("none", f);
            }
            fputs(" | ", f);
            md_cell(f, o->help);
            fputs(" |\n", f);
        }
    }
    if (!any) {
        fputs("No options.\n", f);
    }
    fputc('\n', f);
}

void wr_opts_help(const struct wr_cmd *cmd, FILE *f)
{
    if (wr_opts_help_format == WR_HELP_MARKDOWN) {
        wr_opts_help_markdown(cmd, f);
        return;
    }
    fprintf(f, "usage: weir %s [options]%s%s\n\n%s\n", cmd->name, cmd->args ? " " : "",
            cmd->args ? cmd->args : "", cmd->summary);
    bool any = false;
    for (size_t t = 0; t < 4 && cmd->tables[t]; t++) {
        for (const struct wr_opt *o = cmd->tables[t]; o->name || o->env; o++) {
            if (!any) {
                fputs("\noptions (flag, environment variable, default):\n", f);
                any = true;
            }
            char flag[64];
            if (o->name) {
                snprintf(flag, sizeof flag, "--%s%s", o->name,
                         o->type == WR_OPT_BOOL ? "" : " VALUE");
            } else {
                snprintf(flag, sizeof flag, "(environment only)");
            }
            fprintf(f, "  %-26s %s\n", flag, o->help);
            fprintf(f, "  %-26s   env %s, default %s\n", "", o->env ? o->env : "-",
                    o->def ? (*o->def ? o->def : "\"\"") : "none");
        }
    }
}
