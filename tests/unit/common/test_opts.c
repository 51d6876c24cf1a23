/* test_opts.c - option tables: units, flag forms, environment fallback, precedence, and
 * the one-line errors that name the option. */
#include "check.h"

#include "common/opts.h"

#include <stdint.h>
#include <stdlib.h>

struct cfg {
    const char *name;
    long long count;
    bool verbose;
    int64_t interval_ms;
    uint64_t size;
    struct wr_strlist refs;
    const char *secret;
    const char *nodefault;
};

#define OFF(f) offsetof(struct cfg, f)

static const struct wr_opt table[] = {
    {"name", "T_NAME", WR_OPT_STRING, "anon", OFF(name), "a name"},
    {"count", "T_COUNT", WR_OPT_INT, "3", OFF(count), "a count"},
    {"verbose", "T_VERBOSE", WR_OPT_BOOL, "false", OFF(verbose), "chatty"},
    {"interval", "T_INTERVAL", WR_OPT_DURATION, "60s", OFF(interval_ms), "an interval"},
    {"size", "T_SIZE", WR_OPT_SIZE, "8MiB", OFF(size), "a size"},
    {"ref", NULL, WR_OPT_LIST, NULL, OFF(refs), "repeatable"},
    {NULL, "T_SECRET", WR_OPT_STRING, NULL, OFF(secret), "environment only"},
    {"nodefault", NULL, WR_OPT_STRING, NULL, OFF(nodefault), "unset by default"},
    {0},
};

static const struct wr_cmd cmd = {"thing", "A [B]", "Does a thing.", {table, NULL}, 1, 2};

static const char *const env_names[] = {"T_NAME", "T_COUNT", "T_VERBOSE", "T_INTERVAL",
                                        "T_SIZE", "T_SECRET"};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++) {
        unsetenv(env_names[i]);
    }
}

/* Parses a NULL-terminated word list; returns the code, fills c, err and npos. */
static int parse(struct cfg *c, struct wr_err *err, int *npos, char **pos, const char **words)
{
    char *argv[128];
    int argc = 0;
    while (words[argc]) {
        argv[argc] = (char *)words[argc];
        argc++;
    }
    memset(c, 0, sizeof *c);
    memset(err, 0, sizeof *err);
    return wr_opts_parse(&cmd, argc, argv, c, pos, npos, err);
}

static void test_duration(void)
{
    int64_t ms = -1;
    CHECK(wr_parse_duration_ms("250ms", &ms));
    CHECK_INT(ms, 250);
    CHECK(wr_parse_duration_ms("30s", &ms));
    CHECK_INT(ms, 30000);
    CHECK(wr_parse_duration_ms("5m", &ms));
    CHECK_INT(ms, 300000);
    CHECK(wr_parse_duration_ms("1h", &ms));
    CHECK_INT(ms, 3600000);
    CHECK(wr_parse_duration_ms("7", &ms)); /* a bare number is seconds */
    CHECK_INT(ms, 7000);
    CHECK(wr_parse_duration_ms("0", &ms));
    CHECK_INT(ms, 0);
    CHECK(wr_parse_duration_ms("0ms", &ms));
    CHECK_INT(ms, 0);
    /* The largest values that fit, and one past them. */
    CHECK(wr_parse_duration_ms("9223372036854775807ms", &ms));
    CHECK_INT(ms, INT64_MAX);
    CHECK(!wr_parse_duration_ms("9223372036854775808ms", &ms));
    CHECK(wr_parse_duration_ms("9223372036854775s", &ms));
    CHECK_INT(ms, 9223372036854775000LL);
    CHECK(!wr_parse_duration_ms("9223372036854776s", &ms));
    CHECK(!wr_parse_duration_ms("2562047788016h", &ms));
    CHECK(!wr_parse_duration_ms("99999999999999999999ms", &ms)); /* 20 digits */
    CHECK(!wr_parse_duration_ms("99999999999999999999999999999999", &ms));
    /* Garbage, and what a user might plausibly type but we do not accept. */
    ms = 42;
    const char *bad[] = {"", "soon", "s", "ms", "-1s", "+1s", " 1s", "1s ", "1 s", "1.5s",
                         "1S", "1sec", "1d", "1hh", "1m30s", "0x10", "1e3", "10MB", "5µs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (wr_parse_duration_ms(bad[i], &ms)) {
            fprintf(stderr, "accepted duration '%s'\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_INT(ms, 42); /* untouched on failure */
}

static void test_size(void)
{
    uint64_t b = 1;
    CHECK(wr_parse_size("512", &b));
    CHECK_INT(b, 512);
    CHECK(wr_parse_size("512B", &b));
    CHECK_INT(b, 512);
    CHECK(wr_parse_size("64KiB", &b));
    CHECK_INT(b, 65536);
    CHECK(wr_parse_size("8MiB", &b));
    CHECK_INT(b, 8u << 20);
    CHECK(wr_parse_size("1GiB", &b));
    CHECK_INT(b, 1u << 30);
    CHECK(wr_parse_size("0", &b));
    CHECK_INT(b, 0);
    CHECK(wr_parse_size("9999999999999999999", &b));
    CHECK(b == 9999999999999999999ull);
    /* GiB overflow: 2^34 GiB = 2^64 does not fit; 2^34 - 1 does. */
    CHECK(wr_parse_size("17179869183GiB", &b));
    CHECK(b == 17179869183ull << 30);
    CHECK(!wr_parse_size("17179869184GiB", &b));
    CHECK(!wr_parse_size("18014398509481984KiB", &b));
    CHECK(!wr_parse_size("99999999999999999999", &b)); /* over 2^64 */
    b = 7;
    const char *bad[] = {"", "MiB", "10MB", "10mb", "10M", "10K", "10KB", "10kib", "1.5MiB",
                         "-1", "+1", " 1", "1 MiB", "1MiB ", "0x10", "1e6", "1TiB", "ten"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (wr_parse_size(bad[i], &b)) {
            fprintf(stderr, "accepted size '%s'\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_INT(b, 7);
}

static void test_defaults(void)
{
    clear_env();
    struct cfg c;
    struct wr_err err;
    char *pos[16];
    int npos;
    const char *w[] = {"a", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w), 0);
    CHECK_STR(c.name, "anon");
    CHECK_INT(c.count, 3);
    CHECK(!c.verbose);
    CHECK_INT(c.interval_ms, 60000);
    CHECK_INT(c.size, 8u << 20);
    CHECK_INT(c.refs.n, 0);
    CHECK(c.secret == NULL);
    CHECK(c.nodefault == NULL);
    CHECK_INT(npos, 1);
    CHECK_STR(pos[0], "a");
}

static void test_flag_forms(void)
{
    clear_env();
    struct cfg c;
    struct wr_err err;
    char *pos[16];
    int npos;
    const char *w[] = {"--name", "bob", "first", "--count=12", "--verbose", "--interval",
                       "250ms", "--size=64KiB", "second", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w), 0);
    CHECK_STR(c.name, "bob");
    CHECK_INT(c.count, 12);
    CHECK(c.verbose);
    CHECK_INT(c.interval_ms, 250);
    CHECK_INT(c.size, 65536);
    CHECK_INT(npos, 2);
    CHECK_STR(pos[0], "first");
    CHECK_STR(pos[1], "second");

    /* A bool flag alone does not swallow the next word; --flag=false turns it off. */
    const char *w2[] = {"--verbose", "word", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w2), 0);
    CHECK(c.verbose);
    CHECK_INT(npos, 1);
    CHECK_STR(pos[0], "word");
    const char *w3[] = {"--verbose=false", "x", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w3), 0);
    CHECK(!c.verbose);
    const char *w4[] = {"--verbose=yes", "x", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w4), 0);
    CHECK(c.verbose);

    /* "--name=" sets an empty string; "-" alone and words after "--" are positional. */
    const char *w5[] = {"--name=", "-", "--", "--count", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w5), 0);
    CHECK_STR(c.name, "");
    CHECK_INT(c.count, 3);
    CHECK_INT(npos, 2);
    CHECK_STR(pos[0], "-");
    CHECK_STR(pos[1], "--count");

    /* A value may itself start with dashes when given as the next word. */
    const char *w6[] = {"--name", "--weird", "x", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w6), 0);
    CHECK_STR(c.name, "--weird");

    /* The last of a repeated flag wins. */
    const char *w7[] = {"--count", "1", "--count", "2", "x", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w7), 0);
    CHECK_INT(c.count, 2);
}

static void test_env(void)
{
    clear_env();
    struct cfg c;
    struct wr_err err;
    char *pos[16];
    int npos;
    setenv("T_NAME", "envname", 1);
    setenv("T_COUNT", "44", 1);
    setenv("T_VERBOSE", "on", 1);
    setenv("T_INTERVAL", "5m", 1);
    setenv("T_SIZE", "1GiB", 1);
    setenv("T_SECRET", "hunter2", 1);
    const char *w[] = {"x", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w), 0);
    CHECK_STR(c.name, "envname");
    CHECK_INT(c.count, 44);
    CHECK(c.verbose);
    CHECK_INT(c.interval_ms, 300000);
    CHECK_INT(c.size, 1u << 30);
    CHECK_STR(c.secret, "hunter2");

    /* The flag beats the environment. */
    const char *w2[] = {"--name", "flag", "--count=1", "--verbose=false", "--interval", "1s",
                        "--size", "1", "x", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w2), 0);
    CHECK_STR(c.name, "flag");
    CHECK_INT(c.count, 1);
    CHECK(!c.verbose);
    CHECK_INT(c.interval_ms, 1000);
    CHECK_INT(c.size, 1);

    /* An empty variable counts as unset: the default applies. */
    setenv("T_NAME", "", 1);
    CHECK_INT(parse(&c, &err, &npos, pos, w), 0);
    CHECK_STR(c.name, "anon");

    /* A bad variable is an error naming the flag and the variable, never a default. */
    setenv("T_INTERVAL", "soon", 1);
    CHECK_INT(parse(&c, &err, &npos, pos, w), WR_EINVAL);
    CHECK(strstr(err.msg, "--interval") != NULL);
    CHECK(strstr(err.msg, "T_INTERVAL") != NULL);
    CHECK(strstr(err.msg, "soon") != NULL);
    /* ... unless the flag overrides it. */
    const char *w3[] = {"--interval=2s", "x", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w3), 0);
    CHECK_INT(c.interval_ms, 2000);
    unsetenv("T_INTERVAL");

    /* An environment-only option names its variable. */
    setenv("T_COUNT", "many", 1);
    CHECK_INT(parse(&c, &err, &npos, pos, w), WR_EINVAL);
    CHECK(strstr(err.msg, "T_COUNT") != NULL);
    clear_env();
}

static void expect_error(const char **words, const char *needle)
{
    struct cfg c;
    struct wr_err err;
    char *pos[16];
    int npos;
    int rc = parse(&c, &err, &npos, pos, words);
    CHECK_INT(rc, WR_EINVAL);
    CHECK_INT(err.code, WR_EINVAL);
    if (!strstr(err.msg, needle)) {
        fprintf(stderr, "error '%s' does not name '%s'\n", err.msg, needle);
        CHECK(0);
    }
    CHECK(strchr(err.msg, '\n') == NULL); /* one line */
}

static void test_errors(void)
{
    clear_env();
    const char *unknown[] = {"--nope", "x", NULL};
    expect_error(unknown, "--nope");
    const char *unknown_eq[] = {"--nope=3", "x", NULL};
    expect_error(unknown_eq, "--nope");
    const char *short_opt[] = {"-n", "x", NULL};
    expect_error(short_opt, "-n");
    const char *prefix[] = {"--nam", "bob", "x", NULL}; /* no prefix matching */
    expect_error(prefix, "--nam");
    const char *missing[] = {"x", "--name", NULL};
    expect_error(missing, "--name");
    const char *missing_int[] = {"x", "--count", NULL};
    expect_error(missing_int, "--count");
    const char *bad_int[] = {"--count", "3x", "x", NULL};
    expect_error(bad_int, "--count");
    const char *empty_int[] = {"--count=", "x", NULL};
    expect_error(empty_int, "--count");
    const char *huge_int[] = {"--count", "99999999999999999999999", "x", NULL};
    expect_error(huge_int, "--count");
    const char *bad_bool[] = {"--verbose=maybe", "x", NULL};
    expect_error(bad_bool, "--verbose");
    const char *bad_dur[] = {"--interval", "soon", "x", NULL};
    expect_error(bad_dur, "--interval");
    const char *bad_size[] = {"--size", "10MB", "x", NULL};
    expect_error(bad_size, "--size");
    const char *too_few[] = {NULL};
    expect_error(too_few, "usage: weir thing A [B]");
    const char *too_many[] = {"a", "b", "c", NULL};
    expect_error(too_many, "usage: weir thing");
}

static void test_list(void)
{
    clear_env();
    struct cfg c;
    struct wr_err err;
    char *pos[64];
    int npos;
    const char *w[] = {"--ref", "a=1", "x", "--ref=b=2", NULL};
    CHECK_INT(parse(&c, &err, &npos, pos, w), 0);
    CHECK_INT(c.refs.n, 2);
    CHECK_STR(c.refs.v[0], "a=1");
    CHECK_STR(c.refs.v[1], "b=2");
    /* 32 fit, the 33rd is refused with a message. */
    const char *many[70];
    size_t n = 0;
    for (int i = 0; i < 33; i++) {
        many[n++] = "--ref";
        many[n++] = "u=f";
    }
    many[n++] = "x";
    many[n] = NULL;
    CHECK_INT(parse(&c, &err, &npos, pos, many), WR_EINVAL);
    CHECK(strstr(err.msg, "--ref") != NULL);
    many[64] = "x";
    many[65] = NULL;
    CHECK_INT(parse(&c, &err, &npos, pos, many), 0);
    CHECK_INT(c.refs.n, 32);
}

static void test_help(void)
{
    clear_env();
    struct cfg c;
    struct wr_err err;
    char *pos[16];
    int npos;
    /* --help wins even where the rest would be an error; output goes to stdout. */
    FILE *saved = stdout;
    FILE *sink = tmpfile();
    CHECK(sink != NULL);
    if (!sink) {
        return;
    }
    stdout = sink;
    const char *w[] = {"--count", "bad", "--help", NULL};
    int rc = parse(&c, &err, &npos, pos, w);
    const char *w2[] = {"-h", NULL};
    int rc2 = parse(&c, &err, &npos, pos, w2);
    stdout = saved;
    CHECK_INT(rc, WR_EINVAL); /* the bad --count comes first */
    CHECK_INT(rc2, WR_OPTS_HELP);
    fclose(sink);

    sink = tmpfile();
    wr_opts_help(&cmd, sink);
    rewind(sink);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, sink);
    text[n] = '\0';
    fclose(sink);
    CHECK(strstr(text, "usage: weir thing [options] A [B]") != NULL);
    CHECK(strstr(text, "--interval VALUE") != NULL);
    CHECK(strstr(text, "env T_INTERVAL, default 60s") != NULL);
    CHECK(strstr(text, "--verbose ") != NULL);
    CHECK(strstr(text, "--verbose VALUE") == NULL);
    CHECK(strstr(text, "(environment only)") != NULL);
    CHECK(strstr(text, "env T_SECRET, default none") != NULL);
}

static void test_env_helper(void)
{
    setenv("T_NAME", "v", 1);
    CHECK_STR(wr_env("T_NAME"), "v");
    setenv("T_NAME", "", 1);
    CHECK(wr_env("T_NAME") == NULL);
    unsetenv("T_NAME");
    CHECK(wr_env("T_NAME") == NULL);
}

int main(void)
{
    CHECK_RUN(test_duration);
    CHECK_RUN(test_size);
    CHECK_RUN(test_defaults);
    CHECK_RUN(test_flag_forms);
    CHECK_RUN(test_env);
    CHECK_RUN(test_errors);
    CHECK_RUN(test_list);
    CHECK_RUN(test_help);
    CHECK_RUN(test_env_helper);
    return CHECK_DONE();
}
