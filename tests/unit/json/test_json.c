/* test_json.c - the reader's behaviour: valid documents, every error class with its
 * position, UTF-8 and number edge cases, limits, hostile input, streams, equality. */
#include "json/json.h"
#include "common/err.h"
#include "check.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

static wr_arena *arena;

static struct js_val *parse_ok(const char *s, size_t len)
{
    struct js_val *v = NULL;
    struct js_error e;
    int rc = js_parse(arena, s, len, NULL, &v, &e);
    if (rc != 0) {
        fprintf(stderr, "unexpected failure %d on \"%.*s\": %s at %u:%u\n", rc, (int)len, s,
                e.msg, e.line, e.column);
        return NULL;
    }
    return v;
}

static struct js_val *ok(const char *s)
{
    return parse_ok(s, strlen(s));
}

/* Parses s expecting code at line:column; returns the error for further checks. */
static struct js_error bad_len(const char *s, size_t len, int code, unsigned line, unsigned col,
                               int src_line)
{
    struct js_val *v = NULL;
    struct js_error e;
    memset(&e, 0, sizeof e);
    int rc = js_parse(arena, s, len, NULL, &v, &e);
    if (rc != code || e.line != line || e.column != col) {
        fprintf(stderr, "test line %d: \"%.*s\": got %d at %u:%u (%s), want %d at %u:%u\n",
                src_line, (int)(len > 60 ? 60 : len), s, rc, e.line, e.column, e.msg, code,
                line, col);
        check__failed_asserts++;
    }
    return e;
}

#define BAD(s, code, line, col) bad_len((s), strlen(s), (code), (line), (col), __LINE__)

static void test_scalars(void)
{
    struct js_val *v = ok("null");
    CHECK(v && v->type == JS_NULL);
    v = ok(" true ");
    CHECK(v && v->type == JS_TRUE && v->src_off == 1 && v->src_len == 4);
    v = ok("\t\r\nfalse\n");
    CHECK(v && v->type == JS_FALSE);
    v = ok("42");
    CHECK(v && v->type == JS_INT && v->u.i == 42);
    v = ok("\"hi\"");
    CHECK(v && v->type == JS_STRING && v->n == 2 && !memcmp(v->u.s, "hi", 2));
    CHECK(v && v->src_off == 0 && v->src_len == 4 && v->flags == 0);
    v = ok("\"\"");
    CHECK(v && v->type == JS_STRING && v->n == 0);
}

static void test_containers(void)
{
    const char *s = "{\"a\": [1, 2.5, \"x\", null, {}], \"b\": {\"c\": true}, \"d\": []}";
    struct js_val *v = ok(s);
    CHECK(v && v->type == JS_OBJECT && v->n == 3);
    if (!v) {
        return;
    }
    CHECK_MEM(v->u.members[0].name, v->u.members[0].name_len, "a", 1);
    const struct js_val *a = js_get(v, "a", 1);
    CHECK(a && a->type == JS_ARRAY && a->n == 5);
    CHECK(a && a->u.items[0].type == JS_INT && a->u.items[0].u.i == 1);
    CHECK(a && a->u.items[1].type == JS_REAL && a->u.items[1].u.d == 2.5);
    CHECK(a && a->u.items[2].type == JS_STRING);
    CHECK(a && a->u.items[3].type == JS_NULL);
    CHECK(a && a->u.items[4].type == JS_OBJECT && a->u.items[4].n == 0);
    CHECK_INT(a->src_off, 6);
    CHECK_MEM(s + a->src_off, a->src_len, "[1, 2.5, \"x\", null, {}]", 23);
    const struct js_val *b = js_get(v, "b", 1);
    CHECK(b && js_get(b, "c", 1) && js_get(b, "c", 1)->type == JS_TRUE);
    const struct js_val *d = js_get(v, "d", 1);
    CHECK(d && d->type == JS_ARRAY && d->n == 0);
    CHECK(js_get(v, "e", 1) == NULL);
    CHECK(js_get(v, "", 0) == NULL);
    CHECK(js_get(a, "a", 1) == NULL);
    CHECK(js_get(NULL, "a", 1) == NULL);
    CHECK_INT(v->src_off, 0);
    CHECK_INT(v->src_len, strlen(s));
}

static void test_big_containers(void)
{
    /* More slots than the on-stack scratch holds, and big objects (sorted dup check). */
    struct wr_buf_like {
        char *p;
        size_t n;
    } b = {malloc(200000), 0};
    b.p[b.n++] = '[';
    for (int i = 0; i < 20000; i++) {
        b.n += (size_t)snprintf(b.p + b.n, 32, "%s%d", i ? "," : "", i);
    }
    b.p[b.n++] = ']';
    struct js_val *v = parse_ok(b.p, b.n);
    CHECK(v && v->type == JS_ARRAY && v->n == 20000);
    CHECK(v && v->u.items[19999].u.i == 19999);

    b.n = 0;
    b.p[b.n++] = '{';
    for (int i = 0; i < 5000; i++) {
        b.n += (size_t)snprintf(b.p + b.n, 40, "%s\"k%d\":[%d]", i ? "," : "", i, i);
    }
    b.p[b.n++] = '}';
    v = parse_ok(b.p, b.n);
    CHECK(v && v->type == JS_OBJECT && v->n == 5000);
    const struct js_val *k = v ? js_get(v, "k4321", 5) : NULL;
    CHECK(k && k->type == JS_ARRAY && k->u.items[0].u.i == 4321);

    /* The same with one duplicate near the end: position of the second occurrence. */
    b.n--;
    size_t at = b.n + 1;
    b.n += (size_t)snprintf(b.p + b.n, 40, ",\"k17\":0}");
    struct js_error e = bad_len(b.p, b.n, JS_EDUPKEY, 1, (unsigned)at + 1, __LINE__);
    CHECK_INT(e.offset, at);
    CHECK(strstr(e.msg, "k17") != NULL);
    free(b.p);
}

static void test_strings(void)
{
    struct js_val *v = ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
    CHECK(v && v->type == JS_STRING && (v->flags & JS_F_ESCAPED));
    CHECK_MEM(v->u.s, v->n, "a\"b\\c/d\b\f\n\r\t", 12);
    v = ok("\"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\"");
    CHECK(v && (v->flags & JS_F_ESCAPED) && (v->flags & JS_F_NONASCII));
    CHECK_MEM(v->u.s, v->n, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);
    CHECK_INT(js_str_codepoints(v), 4);
    /* A plain string points into the input. */
    const char *s = "[\"plain text that is long enough for the 8-byte loop\"]";
    v = ok(s);
    CHECK(v && v->u.items[0].u.s == s + 2 && v->u.items[0].flags == 0);
    /* Escapes late in a long string: the prefix is copied. */
    v = ok("\"0123456789abcdef\\n0123456789abcdef\"");
    CHECK_MEM(v->u.s, v->n, "0123456789abcdef\n0123456789abcdef", 33);
    CHECK_INT(v->src_len, 36);
}

static void test_nul_in_strings(void)
{
    struct js_val *v = ok("\"a\\u0000b\"");
    CHECK(v && v->n == 3 && v->u.s[1] == '\0');
    /* A raw NUL is a control character and must be escaped. */
    static const char raw[] = "\"a\0b\"";
    bad_len(raw, sizeof raw - 1, JS_ESYNTAX, 1, 3, __LINE__);
    /* A member name with a NUL compares by its bytes. */
    v = ok("{\"a\\u0000\":1,\"a\":2}");
    CHECK(v && v->n == 2 && js_get(v, "a", 1)->u.i == 2);
    CHECK(js_get(v, "a\0", 2)->u.i == 1);
}

static void test_utf8_valid(void)
{
    /* 2-, 3-, 4-byte sequences at their boundaries. */
    struct js_val *v = ok("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf "
                          "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"");
    CHECK(v && (v->flags & JS_F_NONASCII) && !(v->flags & JS_F_ESCAPED));
    CHECK_INT(js_str_codepoints(v), 15);
    /* 120 CJK characters: 360 bytes, 120 code points. */
    char buf[400];
    size_t n = 0;
    buf[n++] = '"';
    for (int i = 0; i < 120; i++) {
        memcpy(buf + n, "\xe4\xb8\xad", 3);
        n += 3;
    }
    buf[n++] = '"';
    v = parse_ok(buf, n);
    CHECK(v && v->n == 360 && js_str_codepoints(v) == 120);
}

static void test_utf8_invalid(void)
{
    BAD("\"\x80\"", JS_EUTF8, 1, 2);             /* lone continuation */
    BAD("\"ab\xc0\xaf\"", JS_EUTF8, 1, 4);       /* overlong '/' */
    BAD("\"\xc1\xbf\"", JS_EUTF8, 1, 2);         /* overlong */
    BAD("\"\xe0\x9f\xbf\"", JS_EUTF8, 1, 2);     /* overlong 3-byte */
    BAD("\"\xf0\x8f\xbf\xbf\"", JS_EUTF8, 1, 2); /* overlong 4-byte */
    BAD("\"\xed\xa0\x80\"", JS_EUTF8, 1, 2);     /* UTF-8 encoded surrogate D800 */
    BAD("\"\xed\xbf\xbf\"", JS_EUTF8, 1, 2);     /* DFFF */
    BAD("\"\xf4\x90\x80\x80\"", JS_EUTF8, 1, 2); /* U+110000 */
    BAD("\"\xf5\x80\x80\x80\"", JS_EUTF8, 1, 2);
    BAD("\"\xff\"", JS_EUTF8, 1, 2);
    BAD("\"\xc3\"", JS_EUTF8, 1, 2);             /* truncated before the quote */
    BAD("\"\xe4\xb8\"", JS_EUTF8, 1, 2);
    BAD("\"x\\n\xc3(\"", JS_EUTF8, 1, 5);        /* in the escaped path too */
    /* Lone surrogate escapes. */
    BAD("\"\\uD800\"", JS_EUTF8, 1, 2);
    BAD("\"ab\\uDC00\"", JS_EUTF8, 1, 4);
    BAD("\"\\uD83D\\u0041\"", JS_EUTF8, 1, 2);
    BAD("\"\\uD83Dx\"", JS_EUTF8, 1, 2);
    BAD("\"\\uD83D\\uD83D\"", JS_EUTF8, 1, 2);
    /* Outside strings a non-ASCII byte is a syntax error; a BOM is refused. */
    BAD("\xef\xbb\xbf{}", JS_ESYNTAX, 1, 1);
    BAD("[1,\xc3\xa9]", JS_ESYNTAX, 1, 4);
}

static void test_syntax_errors(void)
{
    struct js_error e = BAD("", JS_ESYNTAX, 1, 1);
    CHECK(strstr(e.msg, "end of input") != NULL);
    BAD("   ", JS_ESYNTAX, 1, 4);
    BAD("{", JS_ESYNTAX, 1, 2);
    BAD("[1,2", JS_ESYNTAX, 1, 5);
    BAD("[1,]", JS_ESYNTAX, 1, 4);
    BAD("{\"a\":1,}", JS_ESYNTAX, 1, 8);
    BAD("{\"a\" 1}", JS_ESYNTAX, 1, 6);
    BAD("{\"a\":}", JS_ESYNTAX, 1, 6);
    BAD("{a:1}", JS_ESYNTAX, 1, 2);
    BAD("{'a':1}", JS_ESYNTAX, 1, 2);
    BAD("[1 2]", JS_ESYNTAX, 1, 4);
    BAD("{\"a\":1 \"b\":2}", JS_ESYNTAX, 1, 8);
    BAD("[1}", JS_ESYNTAX, 1, 3);
    BAD("{\"a\":1]", JS_ESYNTAX, 1, 7);
    BAD("tru", JS_ESYNTAX, 1, 1);
    BAD("nul", JS_ESYNTAX, 1, 1);
    BAD("True", JS_ESYNTAX, 1, 1);
    BAD("[falsy]", JS_ESYNTAX, 1, 2);
    BAD("[falsey]", JS_ESYNTAX, 1, 7);
    BAD("NaN", JS_ESYNTAX, 1, 1);
    BAD("Infinity", JS_ESYNTAX, 1, 1);
    BAD("1 2", JS_ESYNTAX, 1, 3);
    e = BAD("{} x", JS_ESYNTAX, 1, 4);
    CHECK(strstr(e.msg, "after the JSON value") != NULL);
    BAD("\"abc", JS_ESYNTAX, 1, 5);
    BAD("\"abc\\", JS_ESYNTAX, 1, 6);
    BAD("\"\\x\"", JS_ESYNTAX, 1, 2);
    BAD("\"\\u12G4\"", JS_ESYNTAX, 1, 2);
    BAD("\"\\u12\"", JS_ESYNTAX, 1, 2);
    BAD("\"tab\there\"", JS_ESYNTAX, 1, 5);
    BAD("\"line\nbreak\"", JS_ESYNTAX, 1, 6);
    BAD("/* comment */ 1", JS_ESYNTAX, 1, 1);
    BAD("[1,\f2]", JS_ESYNTAX, 1, 4); /* form feed is not JSON whitespace */
    /* Line and column count bytes after the last newline. */
    e = BAD("{\n  \"a\": 1,\n  \"b\": x\n}", JS_ESYNTAX, 3, 8);
    CHECK_INT(e.offset, 19);
    BAD("[\r\n1,\r\n?]", JS_ESYNTAX, 3, 1);
    BAD("\n\n\n", JS_ESYNTAX, 4, 1);
}

static void test_numbers(void)
{
    struct js_val *v = ok("9223372036854775807");
    CHECK(v && v->type == JS_INT && v->u.i == INT64_MAX);
    v = ok("-9223372036854775808");
    CHECK(v && v->type == JS_INT && v->u.i == INT64_MIN);
    v = ok("9223372036854775808");
    CHECK(v && v->type == JS_REAL && (v->flags & JS_F_BIGINT) && v->u.d == 9223372036854775808.0);
    v = ok("-9223372036854775809");
    CHECK(v && v->type == JS_REAL && (v->flags & JS_F_BIGINT));
    v = ok("12345678901234567890123456789012345678901234567890");
    CHECK(v && v->type == JS_REAL && (v->flags & JS_F_BIGINT) && v->u.d == 12345678901234567890123456789012345678901234567890.0);
    v = ok("1000000000000000000");
    CHECK(v && v->type == JS_INT && v->u.i == 1000000000000000000);
    v = ok("0");
    CHECK(v && v->type == JS_INT && v->u.i == 0);
    v = ok("-0");
    CHECK(v && v->type == JS_INT && v->u.i == 0);
    v = ok("-0.0");
    CHECK(v && v->type == JS_REAL && v->u.d == 0 && signbit(v->u.d));
    v = ok("1.0");
    CHECK(v && v->type == JS_REAL && v->u.d == 1.0 && !(v->flags & JS_F_BIGINT));
    v = ok("1e2");
    CHECK(v && v->type == JS_REAL && v->u.d == 100.0);
    v = ok("1E+2");
    CHECK(v && v->type == JS_REAL && v->u.d == 100.0);
    v = ok("-2.5e-3");
    CHECK(v && v->type == JS_REAL && v->u.d == -2.5e-3);
    v = ok("0.1");
    CHECK(v && v->u.d == 0.1);
    v = ok("830.35");
    CHECK(v && v->u.d == 830.35);
    v = ok("1.7976931348623157e308");
    CHECK(v && v->u.d == 1.7976931348623157e308);
    v = ok("4.9406564584124654e-324");
    CHECK(v && v->u.d == 4.9406564584124654e-324);
    v = ok("1e-400");
    CHECK(v && v->type == JS_REAL && v->u.d == 0.0);
    v = ok("0.30000000000000004441");
    CHECK(v && v->u.d == 0.30000000000000004441);
    v = ok("123456789012345678.5");
    CHECK(v && v->u.d == 123456789012345678.5);
    v = ok("9007199254740993.0"); /* 2^53 + 1: must round to even, not via a product */
    CHECK(v && v->u.d == 9007199254740992.0);
    v = ok("[1.5,-7]");
    CHECK(v && v->u.items[0].src_off == 1 && v->u.items[0].src_len == 3);
    CHECK(v && v->u.items[1].src_off == 5 && v->u.items[1].src_len == 2 && v->u.items[1].u.i == -7);

    struct js_error e = BAD("01", JS_ESYNTAX, 1, 1);
    CHECK(strstr(e.msg, "leading zero") != NULL);
    BAD("-01", JS_ESYNTAX, 1, 2);
    BAD("1.", JS_ESYNTAX, 1, 3);
    BAD("[1.]", JS_ESYNTAX, 1, 4);
    BAD(".5", JS_ESYNTAX, 1, 1);
    BAD("-", JS_ESYNTAX, 1, 2);
    BAD("-a", JS_ESYNTAX, 1, 2);
    BAD("+1", JS_ESYNTAX, 1, 1);
    BAD("1e", JS_ESYNTAX, 1, 3);
    BAD("1e+", JS_ESYNTAX, 1, 4);
    BAD("1.e5", JS_ESYNTAX, 1, 3);
    BAD("0x10", JS_ESYNTAX, 1, 2);
    e = BAD("[1, 1e400]", JS_ESYNTAX, 1, 5);
    CHECK(strstr(e.msg, "out of range") != NULL);
    BAD("-1e99999999999999", JS_ESYNTAX, 1, 1);
}

/* Its own ctest (test_json_locale: `test_json locale`), which builds de_DE.UTF-8 into
 * LOCPATH first; where the locale cannot be had, a skip, never a pass. */
static void test_numbers_locale(void)
{
    /* strtod's decimal point follows LC_NUMERIC (the thread's, set by uselocale); the
     * reader must not. */
    locale_t de = newlocale(LC_NUMERIC_MASK, "de_DE.UTF-8", (locale_t)0);
    if (!de) {
        de = newlocale(LC_NUMERIC_MASK, "fr_FR.UTF-8", (locale_t)0);
    }
    if (!de) {
        CHECK_SKIP("neither de_DE.UTF-8 nor fr_FR.UTF-8 is available (Debian package "
                   "locales; the ctest builds one with localedef into LOCPATH)");
    }
    locale_t before = uselocale(de);
    char probe[32];
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    CHECK(strcmp(probe, "1,5") == 0); /* the locale is in force */
    struct js_val *v = ok("3.14159265358979323846");
    CHECK(v && v->u.d == 3.14159265358979323846);
    uselocale(before);
    freelocale(de);
}

static void test_depth(void)
{
    char buf[200];
    for (int i = 0; i < 64; i++) {
        buf[i] = '[';
        buf[64 + i] = ']';
    }
    struct js_val *v = parse_ok(buf, 128);
    CHECK(v && v->type == JS_ARRAY);
    for (int i = 0; i < 65; i++) {
        buf[i] = '[';
        buf[65 + i] = ']';
    }
    struct js_error e = bad_len(buf, 130, JS_EDEPTH, 1, 65, __LINE__);
    CHECK(strstr(e.msg, "deeper") != NULL);

    struct js_opts o = {.max_depth = 2};
    struct js_val *out;
    CHECK_INT(js_parse(arena, "{\"a\":[1]}", 9, &o, &out, &e), 0);
    CHECK_INT(js_parse(arena, "{\"a\":[{}]}", 10, &o, &out, &e), JS_EDEPTH);
    CHECK_INT(e.column, 7);
    o.max_depth = 1;
    CHECK_INT(js_parse(arena, "[[]]", 4, &o, &out, &e), JS_EDEPTH);
    CHECK_INT(js_parse(arena, "[]", 2, &o, &out, &e), 0);
}

static void test_hostile(void)
{
    /* A million '[' is refused by depth, iteratively, without touching the C stack. */
    size_t n = 1000000;
    char *p = malloc(n);
    memset(p, '[', n);
    struct js_val *v;
    struct js_error e;
    CHECK_INT(js_parse(arena, p, n, NULL, &v, &e), JS_EDEPTH);
    CHECK_INT(e.offset, 64);
    struct js_opts o = {.max_depth = 2000000};
    CHECK_INT(js_parse(arena, p, n, &o, &v, &e), JS_ESYNTAX); /* truncated, not a crash */
    CHECK_INT(e.offset, n);
    /* Deep but legal with a raised limit, and js_equal on it. */
    for (size_t i = 0; i < 5000; i++) {
        p[i] = '[';
        p[10000 - 1 - i] = ']';
    }
    o.max_depth = 5000;
    CHECK_INT(js_parse(arena, p, 10000, &o, &v, &e), 0);
    CHECK(js_equal(v, v));
    /* A long string of backslash escapes and many members with equal hashes. */
    memset(p, 0, n);
    p[0] = '"';
    for (size_t i = 1; i + 2 < n; i += 2) {
        p[i] = '\\';
        p[i + 1] = 'n';
    }
    p[n - 1] = '"';
    CHECK_INT(js_parse(arena, p, n, NULL, &v, &e), 0);
    CHECK_INT(v->n, (n - 2) / 2);
    free(p);
}

static void test_arena_cap(void)
{
    wr_arena *small = wr_arena_create(256, 256);
    struct js_val *v;
    struct js_error e;
    char doc[2048];
    size_t n = 0;
    doc[n++] = '[';
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(doc + n, 8, "%s%d", i ? "," : "", i);
    }
    doc[n++] = ']';
    CHECK_INT(js_parse(small, doc, n, NULL, &v, &e), WR_ENOMEM);
    CHECK(strstr(e.msg, "memory") != NULL);
    wr_arena_destroy(small);
}

static void test_duplicates(void)
{
    struct js_error e = BAD("{\"a\":1,\"b\":2,\"a\":3}", JS_EDUPKEY, 1, 14);
    CHECK(strstr(e.msg, "\"a\"") != NULL);
    BAD("{\"a\":1,\"\\u0061\":2}", JS_EDUPKEY, 1, 8); /* equal once decoded */
    BAD("{\"\":1,\"\":2}", JS_EDUPKEY, 1, 7);
    BAD("[{\"x\":{\"y\":1,\"y\":1}}]", JS_EDUPKEY, 1, 14);
    /* The same name in different objects is fine. */
    struct js_val *v = ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
    CHECK(v && v->n == 2);
    /* 17+ members: the first repeated name in input order is reported. */
    char doc[512];
    size_t n = 0;
    doc[n++] = '{';
    for (int i = 0; i < 20; i++) {
        n += (size_t)snprintf(doc + n, 16, "%s\"m%02d\":0", i ? "," : "", i);
    }
    size_t at1 = n + 1;
    n += (size_t)snprintf(doc + n, 32, ",\"m05\":1,\"m03\":1}");
    e = bad_len(doc, n, JS_EDUPKEY, 1, (unsigned)at1 + 1, __LINE__);
    CHECK(strstr(e.msg, "m05") != NULL);
}

static void test_stream(void)
{
    const char *s = "\n{\"a\":1}\n\n   \n[2]\r\n\"x\" 3 {}{}\n\n";
    size_t len = strlen(s), pos = 0;
    struct js_val *v;
    struct js_error e;
    int types[8], k = 0, rc;
    uint32_t first_off = 0;
    while ((rc = js_parse_next(arena, s, len, &pos, NULL, &v, &e)) == 0 && k < 8) {
        if (k == 0) {
            first_off = v->src_off;
        }
        types[k++] = v->type;
    }
    CHECK_INT(rc, 1);
    CHECK(v == NULL);
    CHECK_INT(pos, len);
    CHECK_INT(k, 6);
    CHECK_INT(first_off, 1);
    CHECK(types[0] == JS_OBJECT && types[1] == JS_ARRAY && types[2] == JS_STRING &&
          types[3] == JS_INT && types[4] == JS_OBJECT && types[5] == JS_OBJECT);
    /* Errors report positions from the start of the buffer; pos stays put. */
    const char *t = "{\"a\":1}\n{\"b\":}\n";
    pos = 0;
    CHECK_INT(js_parse_next(arena, t, strlen(t), &pos, NULL, &v, &e), 0);
    size_t before = pos;
    CHECK_INT(js_parse_next(arena, t, strlen(t), &pos, NULL, &v, &e), JS_ESYNTAX);
    CHECK_INT(pos, before);
    CHECK_INT(e.line, 2);
    CHECK_INT(e.column, 6);
    CHECK_INT(e.offset, 13);
    /* Empty buffer and whitespace only. */
    pos = 0;
    CHECK_INT(js_parse_next(arena, "", 0, &pos, NULL, &v, &e), 1);
    pos = 0;
    CHECK_INT(js_parse_next(arena, " \n\t", 3, &pos, NULL, &v, &e), 1);
    CHECK_INT(pos, 3);
    /* A truncated last line. */
    pos = 0;
    CHECK_INT(js_parse_next(arena, "{\"a\":[1,2", 9, &pos, NULL, &v, &e), JS_ESYNTAX);
    CHECK_INT(e.offset, 9);
}

static void test_truncated(void)
{
    const char *doc = "{\"k\":[1,-2.5e3,\"s\\u00e9\",true,false,null,{\"x\":\"y\"}]}";
    size_t len = strlen(doc);
    CHECK(ok(doc) != NULL);
    for (size_t i = 0; i < len; i++) {
        struct js_val *v;
        struct js_error e;
        int rc = js_parse(arena, doc, i, NULL, &v, &e);
        if (rc == 0) {
            /* Only a prefix that is a complete value may parse: none here. */
            CHECK(rc != 0);
        }
        CHECK(e.offset <= i);
        CHECK(e.line == 1 && e.column == e.offset + 1);
    }
}

static void test_equal(void)
{
    const char *pairs[][3] = {
        {"1", "1.0", "1"},
        {"1", "1e0", "1"},
        {"-0", "0.0", "1"},
        {"1", "2", "0"},
        {"1", "\"1\"", "0"},
        {"0", "false", "0"},
        {"null", "null", "1"},
        {"true", "false", "0"},
        {"\"a\"", "\"\\u0061\"", "1"},
        {"\"a\"", "\"A\"", "0"},
        {"[1,2]", "[1,2.0]", "1"},
        {"[1,2]", "[2,1]", "0"},
        {"[1]", "[1,1]", "0"},
        {"{\"a\":1,\"b\":[true]}", "{\"b\":[true],\"a\":1.0}", "1"},
        {"{\"a\":1}", "{\"a\":1,\"b\":1}", "0"},
        {"{\"a\":1}", "{\"b\":1}", "0"},
        {"{}", "[]", "0"},
        {"9007199254740993", "9007199254740992.0", "0"},
        {"9007199254740992", "9007199254740992.0", "1"},
        {"9223372036854775807", "9223372036854775808", "0"},
        {"-9223372036854775808", "-9223372036854775808.0", "1"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        struct js_val *a = ok(pairs[i][0]), *b = ok(pairs[i][1]);
        bool want = pairs[i][2][0] == '1';
        if (!a || !b || js_equal(a, b) != want || js_equal(b, a) != want) {
            fprintf(stderr, "js_equal(%s, %s) != %d\n", pairs[i][0], pairs[i][1], want);
            check__failed_asserts++;
        }
    }
    CHECK(js_equal(NULL, NULL));
    CHECK(!js_equal(ok("1"), NULL));

    /* Big objects (sorted comparison) in reversed order. */
    char x[4096], y[4096];
    size_t nx = 0, ny = 0;
    x[nx++] = '{';
    y[ny++] = '{';
    for (int i = 0; i < 40; i++) {
        nx += (size_t)snprintf(x + nx, 32, "%s\"k%d\":%d", i ? "," : "", i, i);
        ny += (size_t)snprintf(y + ny, 32, "%s\"k%d\":%d.0", i ? "," : "", 39 - i, 39 - i);
    }
    x[nx++] = '}';
    y[ny++] = '}';
    struct js_val *a = parse_ok(x, nx), *b = parse_ok(y, ny);
    CHECK(a && b && js_equal(a, b));
    y[ny - 2] = '5'; /* k0: 0.5 */
    b = parse_ok(y, ny);
    CHECK(a && b && !js_equal(a, b));
}

static void test_codepoints(void)
{
    CHECK_INT(js_str_codepoints(ok("\"abc\"")), 3);
    CHECK_INT(js_str_codepoints(ok("\"\xf0\x9f\x98\x80x\"")), 2);
    CHECK_INT(js_str_codepoints(ok("1")), 0);
}

static void test_null_input(void)
{
    struct js_val *v;
    struct js_error e;
    CHECK_INT(js_parse(arena, NULL, 0, NULL, &v, &e), JS_ESYNTAX);
    CHECK_INT(e.line, 1);
    CHECK_INT(e.column, 1);
}

static void test_out_untouched_on_error(void)
{
    struct js_val *sentinel = (struct js_val *)&arena, *v = sentinel;
    struct js_error e;
    CHECK(js_parse(arena, "[1,", 3, NULL, &v, &e) == JS_ESYNTAX);
    CHECK(v == sentinel);
    size_t pos = 0;
    CHECK(js_parse_next(arena, "{\"a\":1,\"a\":2}", 15, &pos, NULL, &v, &e) == JS_EDUPKEY);
    CHECK(v == sentinel && pos == 0);
}

/* Threads with their own arenas parse concurrently, slow number path included (its
 * locale object is created once). */
static void *thread_main(void *arg)
{
    long *bad = arg;
    wr_arena *a = wr_arena_create(4096, 0);
    const char *doc = "[3.141592653589793238462643383279, 1e-310, 123456789012345678901234, "
                      "\"\\u00e9t\xc3\xa9\", {\"k\": 0.1}]";
    for (int i = 0; i < 2000; i++) {
        struct js_val *v;
        struct js_error e;
        wr_arena_reset(a);
        if (js_parse(a, doc, strlen(doc), NULL, &v, &e) != 0 || v->n != 5 ||
            v->u.items[0].u.d != 3.141592653589793 || v->u.items[1].u.d != 1e-310 ||
            !(v->u.items[2].flags & JS_F_BIGINT)) {
            (*bad)++;
        }
    }
    wr_arena_destroy(a);
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    long bad[4] = {0};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(pthread_create(&t[i], NULL, thread_main, &bad[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(bad[i], 0);
    }
}

int main(int argc, char **argv)
{
    arena = wr_arena_create(1 << 16, 0);
    if (argc > 1 && strcmp(argv[1], "locale") == 0) {
        CHECK_RUN(test_numbers_locale);
        wr_arena_destroy(arena);
        return CHECK_DONE();
    }
    CHECK_RUN(test_scalars);
    CHECK_RUN(test_containers);
    CHECK_RUN(test_big_containers);
    CHECK_RUN(test_strings);
    CHECK_RUN(test_nul_in_strings);
    CHECK_RUN(test_utf8_valid);
    CHECK_RUN(test_utf8_invalid);
    CHECK_RUN(test_syntax_errors);
    CHECK_RUN(test_numbers);
    CHECK_RUN(test_depth);
    CHECK_RUN(test_hostile);
    CHECK_RUN(test_arena_cap);
    CHECK_RUN(test_duplicates);
    CHECK_RUN(test_stream);
    CHECK_RUN(test_truncated);
    CHECK_RUN(test_equal);
    CHECK_RUN(test_codepoints);
    CHECK_RUN(test_null_input);
    CHECK_RUN(test_out_untouched_on_error);
    CHECK_RUN(test_threads);
    wr_arena_destroy(arena);
    return CHECK_DONE();
}
