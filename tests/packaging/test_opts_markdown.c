/* test_opts_markdown.c - the Markdown renderer behind `weir help --markdown`: one
 * section per command with its usage and summary, one table row per option (flag or
 * "environment only", variable, type, default, help), '|' escaped inside cells, and the
 * --help flag rendering Markdown when the process-wide format says so. */
#include "check.h"

#include "common/opts.h"

#include <stdlib.h>
#include <string.h>

struct cfg {
    const char *mode;
    bool dry;
    int64_t wait_ms;
    uint64_t cap;
    struct wr_strlist refs;
    const char *secret;
};

#define OFF(f) offsetof(struct cfg, f)

static const struct wr_opt table[] = {
    {"mode", "T_MODE", WR_OPT_STRING, "a|b", OFF(mode), "one of a | b | c"},
    {"dry-run", NULL, WR_OPT_BOOL, "false", OFF(dry), "only say what would happen"},
    {"wait", "T_WAIT", WR_OPT_DURATION, "5s", OFF(wait_ms), "how long"},
    {"cap", "T_CAP", WR_OPT_SIZE, "", OFF(cap), "a limit"},
    {"ref", NULL, WR_OPT_LIST, NULL, OFF(refs), "repeatable"},
    {NULL, "T_SECRET", WR_OPT_STRING, NULL, OFF(secret), "a secret"},
    {0},
};

static const struct wr_cmd cmd = {"thing do", "NAME [FILE]", "Does the thing.", {table, NULL}, 1,
                                  2};
static const struct wr_cmd bare = {"bare", NULL, "No options at all.", {NULL}, 0, 0};

static char *render(const struct wr_cmd *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    wr_opts_help_markdown(c, f);
    fclose(f);
    return text;
}

static void test_section(void)
{
    char *t = render(&cmd);
    const char *want = "### `weir thing do`\n\n"
                       "`weir thing do [options] NAME [FILE]`\n\n"
                       "Does the thing.\n\n"
                       "| Flag | Environment variable | Type | Default | Description |\n"
                       "|---|---|---|---|---|\n"
                       "| `--mode VALUE` | `T_MODE` | text | `a\\|b` | one of a \\| b \\| c |\n"
                       "| `--dry-run` |  | boolean | `false` | only say what would happen |\n"
                       "| `--wait VALUE` | `T_WAIT` | duration | `5s` | how long |\n"
                       "| `--cap VALUE` | `T_CAP` | size | `\"\"` | a limit |\n"
                       "| `--ref VALUE` |  | text, repeatable | none | repeatable |\n"
                       "| (environment only) | `T_SECRET` | text | none | a secret |\n\n";
    CHECK_STR(t, want);
    free(t);
}

static void test_no_options(void)
{
    char *t = render(&bare);
    CHECK_STR(t,
              "### `weir bare`\n\n`weir bare [options]`\n\nNo options at all.\n\nNo options.\n\n");
    free(t);
}

/* --help renders in the process-wide format; the text format is the default. */
static void test_help_flag(void)
{
    char *text = NULL;
    size_t len = 0;
    char *argv[] = {"--help"};
    char *pos[2];
    int npos;
    struct cfg c = {0};
    struct wr_err err = {0};
    FILE *saved = stdout;
    for (int md = 0; md < 2; md++) {
        wr_opts_help_format = md ? WR_HELP_MARKDOWN : WR_HELP_TEXT;
        stdout = open_memstream(&text, &len);
        int rc = wr_opts_parse(&cmd, 1, argv, &c, pos, &npos, &err);
        fclose(stdout);
        stdout = saved;
        CHECK_INT(rc, WR_OPTS_HELP);
        CHECK(strncmp(text, md ? "### `weir thing do`" : "usage: weir thing do", md ? 19 : 20) ==
              0);
        free(text);
        text = NULL;
    }
    wr_opts_help_format = WR_HELP_TEXT;
}

int main(void)
{
    CHECK_RUN(test_section);
    CHECK_RUN(test_no_options);
    CHECK_RUN(test_help_flag);
    return CHECK_DONE();
}
