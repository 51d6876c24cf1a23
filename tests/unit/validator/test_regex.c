/* test_regex.c - ECMA-262 to PCRE2 translation, refusals, match semantics, limits on
 * hostile patterns and subjects, allocation-free warm matching, concurrent searches. */
#include "validator/regex.h"

#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Compiles pat and searches s; -100 when the pattern does not compile. */
static int search(const char *pat, const char *s)
{
    struct wr_err err = {0};
    val__regex *re = val__regex_compile(pat, strlen(pat), &err);
    if (!re) {
        fprintf(stderr, "compile /%s/: %s\n", pat, err.msg);
        return -100;
    }
    int rc = val__regex_search(re, s, strlen(s));
    val__regex_free(re);
    return rc;
}

static void test_basic(void)
{
    struct wr_err err = {0};
    val__regex *re = val__regex_compile("^a+$", 4, &err);
    CHECK(re != NULL);
    CHECK_INT(val__regex_search(re, "aaa", 3), 1);
    CHECK_INT(val__regex_search(re, "aab", 3), 0);
    CHECK_INT(val__regex_search(re, "", 0), 0);
    CHECK_INT(val__regex_search(re, NULL, 0), 0);
    CHECK_INT(val__regex_search(NULL, "a", 1), WR_EINVAL);
    val__regex_free(re);
    val__regex_free(NULL);
    /* The empty pattern matches everything; NUL bytes in the subject are data. */
    CHECK_INT(search("", "x"), 1);
    re = val__regex_compile("a\\x00b", 6, &err);
    CHECK(re != NULL);
    CHECK_INT(val__regex_search(re, "a\0b", 3), 1);
    val__regex_free(re);
}

struct tr_case {
    const char *ecma, *pcre2;
};

static void test_translate(void)
{
    static const struct tr_case cases[] = {
        {"\\d", "[0-9]"},
        {"\\w", "[A-Za-z0-9_]"},
        {"a$", "a\\z"},
        {"^a", "^a"},
        {".", "[^\\n\\r\\x{2028}\\x{2029}]"},
        {"\\u{1F600}", "\\x{1f600}"},
        {"\\uD83D\\uDE00", "\\x{1f600}"},
        {"\\u00e9", "\\x{e9}"},
        {"\\cA", "\\x{1}"},
        {"\\x41", "A"},
        {"\\0", "\\x{0}"},
        {"(?<n>a)\\k<n>", "(a)\\g{1}"},
        {"(a)\\1", "(a)\\g{1}"},
        {"[^]", "[\\x{0}-\\x{10ffff}]"},
        {"[]", "(?:(?!))"},
        {"[a-z\\d]", "[a-z0-9]"},
        {"[\\b]", "[\\x{8}]"},
        {"[-a]", "[\\x{2d}a]"},
        {"\\p{Letter}", "\\p{L}"},
        {"\\p{Script=Greek}", "\\p{sc:Greek}"},
        {"\\P{scx=Latn}", "\\P{scx:Latn}"},
        {"\\p{Assigned}", "\\P{Cn}"},
        {"a{2,}?", "a{2,}?"},
        {"(?:a|b)+", "(?:a|b)+"},
        {"(?<=a)b(?!c)", "(?<=a)b(?!c)"},
        {"\\/", "\\x{2f}"},
        {"\xc3\xa9", "\\x{e9}"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct wr_err err = {0};
        size_t n = 0;
        char *out = val__regex_translate(cases[k].ecma, strlen(cases[k].ecma), &n, &err);
        CHECK(out != NULL);
        if (out) {
            CHECK_STR(out, cases[k].pcre2);
            CHECK_INT(n, strlen(out));
        } else {
            fprintf(stderr, "  /%s/: %s\n", cases[k].ecma, err.msg);
        }
        free(out);
    }
}

/* Valid in PCRE2 (or other dialects), not in ECMA-262 with the u flag. */
static void test_refused(void)
{
    static const char *const bad[] = {
        "^(abc]", "(", ")", "a)", "[a", "\\", "\\a", "\\Z", "\\z", "\\A", "\\e", "\\h", "\\R",
        "\\X", "\\Q", "\\-", "\\_", "(?i)abc", "(?ims)abc", "(?i:a)", "a++", "a*+", "a?+",
        "a{1}+", "(?>a)", "(?P<name>x)", "(?P<n>a)(?P=n)", "(?#comment)a", "(?|a)", "(?R)",
        "a{2,1}", "]", "{", "}", "a{", "a{1", "a{1,", "a{,5}", "x{1}{2}", "a**", "*a", "+", "?",
        "\\1", "(a)\\2", "\\k<x>", "(?<n>a)\\k<m>", "\\k", "(?<n>a)(?<n>b)", "(?<1a>x)",
        "(?<>x)", "[b-a]", "[\\d-z]", "[a-\\w]", "\\c1", "\\c", "\\x1", "\\xg0", "\\u12",
        "\\u{}", "\\u{110000}", "\\u{12", "^*", "$+", "\\b+", "\\B{2}", "(?=a)*", "(?!a)+",
        "(?<=a)?", "\\p{Foo}", "\\p{Script=Foo}", "\\p{gc=Foo}", "\\p{L", "\\p", "\\pL",
        "\\P{}", "\\p{Letter=L}", "\\00", "\\01", "[\\1]", "[\\B]", "[\\k<a>]", "[\\c1]",
        "\xff", "a\xc3", "\xc0\x80", "\xed\xa0\x80",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct wr_err err = {0};
        val__regex *re = val__regex_compile(bad[k], strlen(bad[k]), &err);
        if (re) {
            CHECK__FAIL("/%s/ compiled but is not ECMA-262", bad[k]);
            val__regex_free(re);
        } else {
            CHECK_INT(err.code, WR_EINVAL);
            CHECK(err.msg[0] != '\0');
        }
        CHECK(val__regex_check(bad[k], strlen(bad[k]), NULL) < 0);
    }
}

static void test_accepted(void)
{
    static const char *const good[] = {
        "", "a|", "|", "()", "(?:)", "[]", "[^]", "\\cA", "\\cz", "[\\cA]", "\\0", "[\\0]",
        "(?<name>x)", "(?<n>a)\\k<n>", "\\k<n>(?<n>a)", "(?<$_x1>a)", "(a)\\1", "\\1(a)",
        "([abc])+\\s+$", "^[\\w.+-]+@[\\w-]+\\.[\\w.-]+$", "[\\-]", "[a-]", "[-]", "[\\]]",
        "\\^\\$\\\\\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\/", "a{0}", "a{1,}", "a{1,2}?",
        "\\p{L}", "\\p{Lu}", "\\P{Nd}", "\\p{General_Category=Decimal_Number}",
        "\\p{gc=Lu}", "\\p{Script=Latin}", "\\p{sc=Cyrillic}", "\\p{Script_Extensions=Greek}",
        "\\p{ASCII}", "\\p{Any}", "\\p{Alphabetic}", "\\p{Emoji}", "\\p{White_Space}",
        "[\\p{L}\\d_]", "\\u{10FFFF}", "\\uD800", "[\\uD800-\\uDFFF]", "\\t\\n\\v\\f\\r",
        "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "\\bword\\B", "[\\s\\S]", "[\\D\\W]",
        "\xe2\x82\xac+", "x{65535}",
    };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        struct wr_err err = {0};
        val__regex *re = val__regex_compile(good[k], strlen(good[k]), &err);
        if (!re) {
            CHECK__FAIL("/%s/ refused: %s", good[k], err.msg);
        }
        val__regex_free(re);
        CHECK_INT(val__regex_check(good[k], strlen(good[k]), NULL), 0);
    }
    /* Valid ECMA-262 that PCRE2 10.42 cannot compile: the format check accepts it, and
     * compile either works (a newer PCRE2) or refuses with a reason. */
    struct wr_err err = {0};
    CHECK_INT(val__regex_check("(?<=a+)b", 8, &err), 0);
    val__regex *re = val__regex_compile("(?<=a+)b", 8, &err);
    if (re) {
        CHECK_INT(val__regex_search(re, "aab", 3), 1);
        val__regex_free(re);
    } else {
        CHECK(strstr(err.msg, "lookbehind") != NULL);
    }
    CHECK_INT(val__regex_check("a{65536}", 8, NULL), 0);
    CHECK(val__regex_compile("a{65536}", 8, &err) == NULL);
}

struct sem_case {
    const char *pat, *subject;
    int want;
};

static void test_semantics(void)
{
    static const struct sem_case cases[] = {
        {"^abc$", "abc", 1},
        {"^abc$", "abc\n", 0}, /* $ is the very end */
        {"a$", "a\n", 0},
        {"^\\t$", "\t", 1},
        {"^\\t$", "\\t", 0},
        {"^\\cC$", "\x03", 1},
        {"^\\cc$", "\x03", 1},
        {"^\\d$", "0", 1},
        {"^\\d$", "\xdf\x80", 0},  /* NKO DIGIT ZERO */
        {"^\\D$", "\xdf\x80", 1},
        {"^\\w$", "a", 1},
        {"^\\w$", "\xc3\xa9", 0}, /* e-acute */
        {"^\\W$", "\xc3\xa9", 1},
        {"^\\s$", " ", 1},
        {"^\\s$", "\xef\xbb\xbf", 1}, /* U+FEFF */
        {"^\\s$", "\xe2\x80\xa9", 1}, /* U+2029 */
        {"^\\s$", "\xe2\x80\x83", 1}, /* EM SPACE */
        {"^\\s$", "\x0b", 1},
        {"^\\s$", "\x01", 0},
        {"^\\s$", "\xe2\x80\x93", 0}, /* EN DASH */
        {"^\\S$", "\xe2\x80\x93", 1},
        {"^[\\S]$", "\xc2\xa0", 0},
        {"^[^\\s]$", "x", 1},
        {"^.$", "\n", 0},
        {"^.$", "\r", 0},
        {"^.$", "\xe2\x80\xa8", 0},
        {"^.$", "\xf0\x9f\x98\x80", 1}, /* one code point, not two units */
        {"^[^]$", "\n", 1},
        {"[]", "", 0},
        {"[]", "anything", 0},
        {"^[]*$", "", 1},
        {"^a[]+$", "a", 0},
        {"^a[]{0}$", "a", 1},
        {"\\p{Letter}cole", "l'\xc3\xa9" "cole", 1},
        {"\\p{Letter}cole", "L'\xc3\x89" "COLE", 0},
        {"\\wcole", "l'\xc3\xa9" "cole", 0},
        {"^\\p{digit}+$", "\xe0\xa7\xaa\xe0\xa7\xa8", 1},
        {"^\\d+$", "\xe0\xa7\xaa\xe0\xa7\xa8", 0},
        {"^\\p{Script=Greek}+$", "\xce\xb1\xce\xb2", 1},
        {"^\\p{Script=Greek}+$", "ab", 0},
        {"^\\P{L}$", "1", 1},
        {"^\\p{Assigned}$", "a", 1},
        {"^\\P{Assigned}$", "a", 0},
        {"^\\u{1F600}$", "\xf0\x9f\x98\x80", 1},
        {"^\\uD83D\\uDE00$", "\xf0\x9f\x98\x80", 1},
        {"^[\\u{1F600}-\\u{1F602}]$", "\xf0\x9f\x98\x81", 1},
        {"^[\xf0\x9f\x98\x80-\xf0\x9f\x98\x82]$", "\xf0\x9f\x98\x83", 0},
        {"(?:(a)|b)\\1c", "bc", 1}, /* an unset group matches empty */
        {"\\1(a)", "a", 1},         /* a forward reference matches empty */
        {"(?<year>\\d{4})-\\k<year>", "2020-2020", 1},
        {"(?<year>\\d{4})-\\k<year>", "2020-2021", 0},
        {"(?<!a)b", "cb", 1},
        {"(?<!a)b", "ab", 0},
        {"(?<=\\$)\\d+", "$42", 1},
        {"\\bfoo\\b", "\xc3\xa9" "foo", 1}, /* e-acute is not a word character */
        {"\\Bfoo", "afoo", 1},
        {"a|", "x", 1},
        {"^a{2,3}$", "aaaa", 0},
        {"^a{2,3}?$", "aaa", 1},
        {"^[\\-a]+$", "-a-", 1},
        {"^\\/$", "/", 1},
        {"^\\x41\\u0042$", "AB", 1},
        {"^\\0$", "", 0},
        {"[a-z]cole", "l'\xc3\xa9" "cole", 0},
        {"ab", "xxabxx", 1}, /* not anchored */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int got = search(cases[k].pat, cases[k].subject);
        if (got != cases[k].want) {
            CHECK__FAIL("/%s/ on \"%s\": %d, want %d", cases[k].pat, cases[k].subject, got,
                        cases[k].want);
        }
    }
    struct wr_err err = {0};
    val__regex *re = val__regex_compile("^\\0$", 4, &err);
    CHECK(re != NULL);
    CHECK_INT(val__regex_search(re, "\0", 1), 1);
    val__regex_free(re);
}

static void test_catastrophic(void)
{
    static const char *const pats[] = {"^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "(x+x+)+y",
                                       "^(\\w+\\s?)*$"};
    const char *subject = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!";
    char xs[64];
    memset(xs, 'x', sizeof xs - 1);
    xs[sizeof xs - 1] = '\0';
    char words[80];
    memset(words, 'w', sizeof words - 2);
    words[sizeof words - 2] = '!';
    words[sizeof words - 1] = '\0';
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        struct wr_err err = {0};
        val__regex *re = val__regex_compile(pats[k], strlen(pats[k]), &err);
        CHECK(re != NULL);
        if (!re) {
            continue;
        }
        const char *s = k == 3 ? xs : k == 4 ? words : subject;
        double t0 = now_s();
        int rc = val__regex_search(re, s, strlen(s));
        double dt = now_s() - t0;
        printf("  /%s/ on %zu bytes: rc %d in %.1f ms\n", pats[k], strlen(s), rc, dt * 1000);
        /* PCRE2 sees at once that (x+x+)+y needs a 'y'; the others hit the match limit. */
        if (k == 3) {
            CHECK_INT(rc, 0);
        } else {
            CHECK_INT(rc, WR_ELIMIT);
        }
        CHECK(dt < 2.0);
        /* The same regex still answers ordinary subjects afterwards. */
        CHECK_INT(val__regex_search(re, k == 3 ? "xxy" : "aa", k == 3 ? 3 : 2), 1);
        val__regex_free(re);
    }
}

static void test_hostile_subjects(void)
{
    struct wr_err err = {0};
    val__regex *re = val__regex_compile("a", 1, &err);
    CHECK(re != NULL);
    /* Invalid UTF-8 is refused (negative), never read past or matched. */
    CHECK(val__regex_search(re, "a\xff", 2) < 0);
    CHECK(val__regex_search(re, "a\xc3", 2) < 0);
    CHECK(val__regex_search(re, "\xc0\x80" "a", 3) < 0);
    CHECK(val__regex_search(re, "\xed\xa0\x80" "a", 4) < 0);
    CHECK(val__regex_search(re, "\xf4\x90\x80\x80" "a", 5) < 0);
    val__regex_free(re);

    /* A 4 MiB subject: linear patterns stay linear. */
    size_t big = 4u << 20;
    char *s = malloc(big);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    memset(s, 'a', big);
    s[big - 1] = 'b';
    re = val__regex_compile("a*b$", 4, &err);
    CHECK(re != NULL);
    double t0 = now_s();
    CHECK_INT(val__regex_search(re, s, big), 1);
    printf("  /a*b$/ on 4 MiB: %.1f ms\n", (now_s() - t0) * 1000);
    val__regex_free(re);
    re = val__regex_compile("^[a-z]+$", 8, &err);
    CHECK(re != NULL);
    CHECK_INT(val__regex_search(re, s, big), 1);
    val__regex_free(re);
    /* A repeated group keeps a backtrack frame per iteration: 100 KB fits the per-thread
     * JIT stack; far bigger subjects are abandoned (negative), not crashed. */
    for (size_t k = 0; k < big; k++) {
        s[k] = "ab"[k % 2];
    }
    re = val__regex_compile("^(a|b)*$", 8, &err);
    CHECK(re != NULL);
    CHECK_INT(val__regex_search(re, s, 100000), 1);
    CHECK_INT(val__regex_search(re, s, big), WR_ELIMIT);
    val__regex_free(re);
    free(s);
}

static void test_hostile_patterns(void)
{
    struct wr_err err = {0};
    size_t cap = VAL__REGEX_MAX_PATTERN_BYTES;
    char *p = malloc(cap + 2);
    CHECK(p != NULL);
    if (!p) {
        return;
    }
    memset(p, 'a', cap + 1);
    p[cap + 1] = '\0';
    CHECK(val__regex_compile(p, cap + 1, &err) == NULL);
    CHECK_INT(err.code, WR_ELIMIT);
    CHECK(val__regex_check(p, cap + 1, NULL) < 0);
    val__regex *re = val__regex_compile(p, cap / 2, &err);
    CHECK(re != NULL);
    val__regex_free(re);
    /* At the cap the compiled program may pass PCRE2's own size limit: refused, not hung. */
    re = val__regex_compile(p, cap, &err);
    if (!re) {
        CHECK_INT(err.code, WR_ELIMIT);
    }
    val__regex_free(re);

    /* Deep nesting: refused past our limit, without recursing the stack away. */
    size_t depth = 5000;
    for (size_t k = 0; k < depth; k++) {
        p[k] = '(';
        p[depth * 2 - 1 - k] = ')';
    }
    CHECK(val__regex_compile(p, depth * 2, &err) == NULL);
    CHECK(val__regex_check(p, depth * 2, NULL) < 0);
    for (size_t k = 0; k < 100; k++) {
        p[k] = '(';
        p[199 - k] = ')';
    }
    re = val__regex_compile(p, 200, &err);
    CHECK(re != NULL);
    val__regex_free(re);

    /* Many alternatives and nested counted repeats: compile or refuse, quickly. */
    size_t n = 0;
    while (n + 2 < cap) {
        p[n++] = 'a';
        p[n++] = '|';
    }
    p[n++] = 'b';
    double t0 = now_s();
    re = val__regex_compile(p, n, &err);
    if (re) {
        CHECK_INT(val__regex_search(re, "b", 1), 1);
    } else {
        CHECK_INT(err.code, WR_ELIMIT);
    }
    val__regex_free(re);
    const char *nest = "((a{1000}){1000}){1000}";
    re = val__regex_compile(nest, strlen(nest), &err);
    CHECK(re == NULL);
    CHECK_INT(err.code, WR_ELIMIT);
    val__regex_free(re);
    printf("  big patterns compiled/refused in %.1f ms\n", (now_s() - t0) * 1000);
    CHECK(now_s() - t0 < 5.0);
    free(p);
}

/* A warm thread matches without touching the heap (glibc's counters; under a sanitizer
 * they read zero and the check is vacuous). */
static void test_no_alloc_when_warm(void)
{
    struct wr_err err = {0};
    const char *pat = "^(\\w+)@(\\w+)\\.com$";
    val__regex *re = val__regex_compile(pat, strlen(pat), &err);
    CHECK(re != NULL);
    CHECK_INT(val__regex_search(re, "joe@example.com", 15), 1);
    struct mallinfo2 before = mallinfo2();
    for (int k = 0; k < 1000; k++) {
        CHECK_INT(val__regex_search(re, "joe@example.com", 15), 1);
        CHECK_INT(val__regex_search(re, "joe@example.org", 15), 0);
    }
    struct mallinfo2 after = mallinfo2();
    CHECK_INT(after.uordblks, before.uordblks);
    CHECK_INT(after.hblkhd, before.hblkhd);
    val__regex_free(re);
}

/* Random short patterns over the syntax characters: no crash, and what the checker
 * accepts PCRE2 compiles (except variable-length lookbehind, a PCRE2 10.42 gap). */
static void test_random_patterns(void)
{
    static const char alphabet[] = "()[]{}^$.|*+?\\-,:=!<>abkpcdwsuDWSxP0129{}L\xc3\xa9";
    unsigned seed = 12345;
    int accepted = 0, gaps = 0;
    for (int it = 0; it < 100000; it++) {
        char pat[24];
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 16;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            pat[k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        pat[n] = '\0';
        struct wr_err err = {0};
        int chk = val__regex_check(pat, n, &err);
        val__regex *re = val__regex_compile(pat, n, &err);
        if (re) {
            accepted++;
            if (chk != 0) {
                CHECK__FAIL("/%s/ compiles but the checker refuses it", pat);
            }
            int rc = val__regex_search(re, "ab(c)\xc3\xa9 1-2", 12);
            CHECK(rc == 0 || rc == 1);
            val__regex_free(re);
        } else if (chk == 0) {
            if (strstr(err.msg, "lookbehind") || strstr(err.msg, "65535")) {
                gaps++;
            } else {
                CHECK__FAIL("/%s/ passes the checker but not PCRE2: %s", pat, err.msg);
            }
        }
    }
    printf("  random patterns: %d of 100000 valid, %d valid but beyond PCRE2\n", accepted,
           gaps);
}

/* Appends s to the NUL-terminated dst of capacity cap (truncating). */
static void append(char *dst, size_t cap, const char *s)
{
    size_t have = strlen(dst), n = strlen(s);
    if (n > cap - 1 - have) {
        n = cap - 1 - have;
    }
    memcpy(dst + have, s, n);
    dst[have + n] = '\0';
}

/* Whether the two search paths (checked PCRE2, and the trusted-UTF-8 one with JIT match
 * and the byte-loop program) agree on pat over every subject; counts the disagreements. */
static int fast_disagreements(const char *pat, const char *const *subjects, size_t n_subjects,
                              bool *has_fast)
{
    struct wr_err err = {0};
    val__regex *re = val__regex_compile(pat, strlen(pat), &err);
    if (!re) {
        return -1;
    }
    *has_fast = val__regex_has_fast(re);
    int bad = 0;
    for (size_t k = 0; k < n_subjects; k++) {
        int a = val__regex_search(re, subjects[k], strlen(subjects[k]));
        int b = val__regex_search_utf8(re, subjects[k], strlen(subjects[k]));
        if (a != b) {
            fprintf(stderr, "  /%s/ on \"%s\": PCRE2 %d, trusted path %d\n", pat, subjects[k], a,
                    b);
            bad++;
        }
    }
    val__regex_free(re);
    return bad;
}

/* The byte-loop programs answer as PCRE2 does: the schemas' patterns, edge cases of the
 * shape (which patterns get a program and which not), then random patterns of the shape. */
static void test_fast_path(void)
{
    static const char *const subjects[] = {
        "", "/", "//", "/x", "x/", "a", "ab", "abc", "aab", "ba", "DE", "D", "DEU", "de",
        "REF1A2B3C", "REF1A2", "REF", "1.2.3", "1.2.3-rc.1", "10.20.30+b", "1.2", "check-api",
        "checkout-api", "Checkout", "a-", "-a", "a_b", "a.b", "a\\b", "$", "^", "{1}", "-",
        "\xc3\xa9", "a\xc3\xa9", "/\xc3\xa9", "\xc3\xa9/", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "0",
        "09", "a0", "_", "]", "x-y", "--", "a--", "a]", "b]", "123456", "1234567890123"};
    const size_t ns = sizeof subjects / sizeof subjects[0];
    static const struct {
        const char *pat;
        bool fast;
    } cases[] = {
        {"^/", true},
        {"^[a-z][a-z0-9-]{0,62}$", true},
        {"^[A-Z0-9]{6,12}$", true},
        {"^[A-Z]{2}$", true},
        {"^REF[0-9A-Z]+$", true},
        {"^", true},
        {"^$", true},
        {"^a*$", true},
        {"^a+b?$", true},
        {"^a{2,}", true},
        {"^a{0}b", true},
        {"^\\d+\\.", true},
        {"^\\d+\\.\\d", false},
        {"^\\w+$", true},
        {"^\\/\\$", true},
        {"^[-a]", true},
        {"^[a-]+$", true},
        {"^[a\\-z]+$", true},
        {"^[\\d_]{1,3}$", true},
        {"^[]", true},
        {"^[--0]+$", true},
        {"^[a-z-0]+$", true},
        /* Not the shape, or not provably the same: PCRE2 answers. */
        {"^[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?$", false},
        {"^a*a$", false},
        {"^[a-z]*[0-9]?[a-z]$", false},
        {"^a+?", false},
        {"^[^a]", false},
        {"^.", false},
        {"^\xc3\xa9", false},
        {"/", false},
        {"a$", false},
        {"^a|b", false},
        {"^(a)", false},
        {"^\\s", false},
        {"^\\D", false},
        {"^[\\.-z]", false},
        {"^a$b", false},
        {"^\\u0041", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool has_fast = false;
        int bad = fast_disagreements(cases[i].pat, subjects, ns, &has_fast);
        if (bad != 0) {
            CHECK__FAIL("/%s/: %d disagreements", cases[i].pat, bad);
        }
        if (has_fast != cases[i].fast) {
            CHECK__FAIL("/%s/: byte-loop program %s", cases[i].pat,
                        has_fast ? "built, not expected" : "expected, not built");
        }
    }
    /* Random patterns of the shape over a small alphabet, where overlaps between atoms
     * (the backtracking the program must not need) are frequent. */
    static const char *const atoms[] = {"a", "b", "/", "[ab]", "[a-c]", "[b-d]", "\\d", "[0-9a]",
                                        "\\w", "[-a]", "\\."};
    static const char *const quants[] = {"", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "{2,3}"};
    static const char alphabet[] = "ab/c0d1-._\xc3";
    unsigned seed = 777;
    int built = 0, compared = 0;
    for (int it = 0; it < 20000; it++) {
        char pat[128] = "^";
        seed = seed * 1103515245u + 12345u;
        int natoms = 1 + (int)((seed >> 16) % 4);
        for (int k = 0; k < natoms; k++) {
            seed = seed * 1103515245u + 12345u;
            append(pat, sizeof pat, atoms[(seed >> 16) % (sizeof atoms / sizeof atoms[0])]);
            seed = seed * 1103515245u + 12345u;
            append(pat, sizeof pat, quants[(seed >> 16) % (sizeof quants / sizeof quants[0])]);
        }
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 2) {
            append(pat, sizeof pat, "$");
        }
        const char *subj[24];
        char buf[24][12];
        for (int k = 0; k < 24; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t n = (seed >> 16) % 9;
            size_t m = 0;
            for (size_t j = 0; j < n; j++) {
                seed = seed * 1103515245u + 12345u;
                char ch = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
                if (ch == '\xc3') { /* a whole é, never a broken sequence */
                    buf[k][m++] = '\xc3';
                    buf[k][m++] = '\xa9';
                    j++;
                } else {
                    buf[k][m++] = ch;
                }
            }
            buf[k][m] = '\0';
            subj[k] = buf[k];
        }
        bool has_fast = false;
        int bad = fast_disagreements(pat, subj, 24, &has_fast);
        if (bad != 0) {
            CHECK__FAIL("/%s/: %d disagreements", pat, bad);
        }
        built += has_fast;
        compared++;
    }
    printf("  byte-loop programs: %d of %d random patterns of the shape\n", built, compared);
    CHECK(built > compared / 4);
}

/* Prints compile and search costs (figures for the report, not timed assertions). */
static void test_figures(void)
{
    static const struct {
        const char *pat, *subject;
    } cases[] = {
        {"^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$", "first.last@mail.example.com"},
        {"^\\d{4}-\\d{2}-\\d{2}$", "2024-05-01"},
        {"^\\p{L}[\\p{L}\\p{Nd} ]*$", "Caf\xc3\xa9 Fran\xc3\xa7" "ais 2"},
        {"^(?<user>[\\w.]+)@(?<host>[\\w.]+)$", "joe@example.com"},
        {"error|warn", "2024-05-01T12:00:00Z info service started on port 8080, no warnings"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct wr_err err = {0};
        size_t pl = strlen(cases[k].pat), sl = strlen(cases[k].subject);
        double t0 = now_s();
        int iters = 2000;
        for (int i = 0; i < iters; i++) {
            val__regex_free(val__regex_compile(cases[k].pat, pl, &err));
        }
        double compile_us = (now_s() - t0) / iters * 1e6;
        val__regex *re = val__regex_compile(cases[k].pat, pl, &err);
        CHECK(re != NULL);
        if (!re) {
            continue;
        }
        iters = 200000;
        int hits = 0;
        t0 = now_s();
        for (int i = 0; i < iters; i++) {
            hits += val__regex_search(re, cases[k].subject, sl);
        }
        double search_ns = (now_s() - t0) / iters * 1e9;
        CHECK(hits == 0 || hits == iters);
        printf("  figure: /%s/ compile %.1f us, search %.0f ns (%zu-byte subject)\n",
               cases[k].pat, compile_us, search_ns, sl);
        val__regex_free(re);
    }
}

struct mt_arg {
    const val__regex *re[3];
    int id, errors;
};

static void *mt_worker(void *p)
{
    struct mt_arg *a = p;
    char buf[64];
    for (int k = 0; k < 20000; k++) {
        int n = snprintf(buf, sizeof buf, "user%d.%d@example.com", a->id, k);
        if (val__regex_search(a->re[0], buf, (size_t)n) != 1 ||
            val__regex_search(a->re[1], buf, (size_t)n) != 0 ||
            (k % 1000 == 0 && val__regex_search(a->re[2], "aaaaaaaaaaaaaaaaaaaaaaaaa!", 26) >= 0)) {
            a->errors++;
        }
    }
    /* Half the threads free their match data explicitly, half leave it to the
     * thread-exit destructor. */
    if (a->id % 2) {
        val__regex_thread_cleanup();
    }
    return NULL;
}

static void test_threads(void)
{
    struct wr_err err = {0};
    const char *p0 = "^[\\w.]+@\\w+\\.com$", *p1 = "\\.org$", *p2 = "^(a|a)*$";
    val__regex *re[3] = {val__regex_compile(p0, strlen(p0), &err),
                         val__regex_compile(p1, strlen(p1), &err),
                         val__regex_compile(p2, strlen(p2), &err)};
    CHECK(re[0] && re[1] && re[2]);
    if (!(re[0] && re[1] && re[2])) {
        return;
    }
    enum { N = 4 };
    pthread_t th[N];
    struct mt_arg args[N];
    double t0 = now_s();
    for (int k = 0; k < N; k++) {
        args[k] = (struct mt_arg){{re[0], re[1], re[2]}, k, 0};
        CHECK_INT(pthread_create(&th[k], NULL, mt_worker, &args[k]), 0);
    }
    for (int k = 0; k < N; k++) {
        pthread_join(th[k], NULL);
        CHECK_INT(args[k].errors, 0);
    }
    printf("  %d threads x 20000 x 3 searches: %.0f ms\n", N, (now_s() - t0) * 1000);
    for (int k = 0; k < 3; k++) {
        val__regex_free(re[k]);
    }
}

int main(void)
{
    CHECK_RUN(test_basic);
    CHECK_RUN(test_translate);
    CHECK_RUN(test_refused);
    CHECK_RUN(test_accepted);
    CHECK_RUN(test_semantics);
    CHECK_RUN(test_catastrophic);
    CHECK_RUN(test_hostile_subjects);
    CHECK_RUN(test_hostile_patterns);
    CHECK_RUN(test_no_alloc_when_warm);
    CHECK_RUN(test_threads);
    CHECK_RUN(test_random_patterns);
    CHECK_RUN(test_fast_path);
    CHECK_RUN(test_figures);
    val__regex_thread_cleanup();
    return CHECK_DONE();
}
