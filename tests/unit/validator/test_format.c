/* test_format.c - val__fmt_lookup/name/check driven by tables of valid and invalid
 * strings per format, plus malformed and oversized input. */
#include "validator/format.h"
#include "validator/regex.h"

#include "check.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <time.h>

/* Valid answers among the seeded random strings' 950,000 checks (test_random_strings). */
enum { RANDOM_STRINGS_VALID = 42419 };

struct fmt_case {
    const char *s;
    bool valid;
};

static void check_table(enum val__fmt f, const struct fmt_case *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        bool got = val__fmt_check(f, c[k].s, strlen(c[k].s));
        if (got != c[k].valid) {
            CHECK__FAIL("%s \"%s\": got %s", val__fmt_name(f), c[k].s, got ? "valid" : "invalid");
        }
    }
}

#define TABLE(f, ...)                                                                    \
    do {                                                                                 \
        static const struct fmt_case cases_[] = {__VA_ARGS__};                          \
        check_table((f), cases_, sizeof cases_ / sizeof cases_[0]);                     \
    } while (0)

static void test_lookup(void)
{
    CHECK_INT(val__fmt_lookup("date-time", 9), VAL__FMT_DATE_TIME);
    CHECK_INT(val__fmt_lookup("relative-json-pointer", 21), VAL__FMT_RELATIVE_JSON_POINTER);
    CHECK_INT(val__fmt_lookup("Date-Time", 9), VAL__FMT_UNKNOWN);
    CHECK_INT(val__fmt_lookup("date", 3), VAL__FMT_UNKNOWN);
    CHECK_INT(val__fmt_lookup("", 0), VAL__FMT_UNKNOWN);
    CHECK_INT(val__fmt_lookup(NULL, 0), VAL__FMT_UNKNOWN);
    CHECK_STR(val__fmt_name(VAL__FMT_IPV6), "ipv6");
    CHECK_STR(val__fmt_name(VAL__FMT_UNKNOWN), "");
    for (int f = 1; f <= VAL__FMT_RELATIVE_JSON_POINTER; f++) {
        const char *n = val__fmt_name((enum val__fmt)f);
        CHECK_INT(val__fmt_lookup(n, strlen(n)), f);
    }
    CHECK(val__fmt_check(VAL__FMT_UNKNOWN, "anything", 8));
}

static void test_date(void)
{
    TABLE(VAL__FMT_DATE, {"2020-02-29", true}, {"2021-02-29", false}, {"2000-02-29", true},
          {"1900-02-29", false}, {"2020-13-01", false}, {"2020-1-01", false}, {"", false},
          {"0000-01-01", true}, {"9999-12-31", true}, {"2020-04-31", false},
          {"2020-01-01T00:00:00Z", false}, {"2020-01-01 ", false}, {"2020/01/01", false});
}

static void test_date_time(void)
{
    TABLE(VAL__FMT_DATE_TIME, {"1985-04-12T23:20:50.52Z", true},
          {"1996-12-19T16:39:57-08:00", true}, {"1990-12-31T23:59:60Z", true},
          {"1990-12-31T15:59:60-08:00", true}, {"1937-01-01T12:00:27.87+00:20", true},
          {"1985-04-12t23:20:50z", true}, {"1985-04-12 23:20:50Z", false},
          {"1985-04-12T23:20:50", false}, {"1985-04-12T23:20:50.Z", false},
          {"1985-04-12T23:20:50,5Z", false}, {"1985-04-12T23:20:61Z", false},
          {"1985-04-12T23:20:60Z", false}, {"1985-04-12T24:00:00Z", false},
          {"1985-04-12T23:20:50+24:00", false}, {"1985-04-12T23:20:50+0100", false},
          {"1985-02-30T23:20:50Z", false}, {"1985-04-12T23:20:50ZZ", false},
          {"1985-04-12T", false}, {"T23:20:50Z", false});
}

static void test_time(void)
{
    TABLE(VAL__FMT_TIME, {"08:30:06Z", true}, {"23:59:60Z", true}, {"00:29:60-23:30", true},
          {"08:30:06.283185+01:30", true}, {"08:30:06", false}, {"8:30:06Z", false},
          {"08:30Z", false}, {"22:59:60Z", false}, {"08:30:06 Z", false},
          {"08:30:06+1:00", false}, {"24:00:00Z", false}, {"", false});
}

static void test_duration(void)
{
    TABLE(VAL__FMT_DURATION, {"P1Y2M3DT4H5M6S", true}, {"P4W", true}, {"PT0S", true},
          {"P0D", true}, {"PT36H", true}, {"P1M", true}, {"PT1M", true}, {"P1Y2M", true},
          {"P", false}, {"PT", false}, {"P1YT", false}, {"P1Y2D", false}, {"PT1H2S", false},
          {"P2D1Y", false}, {"P1W2D", false}, {"P1WT1H", false}, {"PT1.5S", false},
          {"P1D2H", false}, {"-P1D", false}, {"p1d", false}, {"P1", false}, {"", false});
}

static void test_email(void)
{
    TABLE(VAL__FMT_EMAIL, {"joe.bloggs@example.com", true}, {"a@b", true},
          {"\"joe bloggs\"@example.com", true}, {"\"a\\\"b\"@example.com", true},
          {"joe@[127.0.0.1]", true}, {"joe@[IPv6:::1]", true}, {"!#$%&'*+-/=?^_`{|}~@x.org", true},
          {"joe@[127.0.0.300]", false}, {"joe@[::1]", false}, {".joe@x.org", false},
          {"joe.@x.org", false}, {"jo..e@x.org", false}, {"joe@", false}, {"@x.org", false},
          {"joe", false}, {"joe@x_y.org", false}, {"j oe@x.org", false}, {"joe@x.org.", false},
          {"\"unterminated@x.org", false}, {"j\xc3\xb6" "e@x.org", false},
          {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.org", false});
    TABLE(VAL__FMT_IDN_EMAIL, {"j\xc3\xb6" "e@x.org", true},
          {"\xec\x8b\xa4\xeb\xa1\x80@\xec\x8b\xa4\xeb\xa1\x80."
           "\xed\x85\x8c\xec\x8a\xa4\xed\x8a\xb8", true},
          {"joe@example.com", true}, {"j\xff@x.org", false}, {"2962", false});
}

static void test_hostname(void)
{
    TABLE(VAL__FMT_HOSTNAME, {"www.example.com", true}, {"a", true}, {"1host", true},
          {"a--b.com", true}, {"EXAMPLE.COM", true}, {"xn--nw2a.xn--j6w193g", true},
          {"XN--NW2A", true}, {"", false}, {".", false}, {"a..b", false}, {"-a.com", false},
          {"a-.com", false}, {"a_b.com", false}, {"example.com.", false}, {"a b", false},
          {"xn--X", false}, {"xn--example-", false}, {"xn---9uc", false}, {"xn--7a", false},
          {"xn--hello-zed", false}, {"xn--ll-0ea", true}, {"xn--al-0ea", false},
          {"h\xc3\xa9llo.com", false});
    TABLE(VAL__FMT_IDN_HOSTNAME, {"\xc3\xa9xample.com", true}, {"b\xc3\xbc" "cher.de", true},
          {"a\xe3\x80\x82" "b", true}, {"\xe3\x80\x82", false}, {"-a", false},
          {"\xcc\x80hello", false}, {"l\xc2\xb7l", true}, {"a\xc2\xb7l", false},
          {"a\xd7\x90", false}, {"\xd7\x90\xd7\x91", true}, {"0a.\xd7\x90", false},
          {"\xe3\x83\xbb\xe3\x81\x81", true}, {"\xe3\x83\xbb", false},
          {"\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8d\xe0\xa4\xb7", true},
          {"\xe0\xa4\x95\xe2\x80\x8d\xe0\xa4\xb7", false}, {"a\xff", false}, {"", false},
          /* compatibility forms that NFKC would change are DISALLOWED in IDNA2008 */
          {"\xef\xbd\x81" "bc", false}, {"\xef\xac\x81" "x", false}, {"\xc2\xb5" "x", false},
          {"\xe3\x84\xb1", false}, {"\xe2\x84\x93" "x", false}, {"x\xef\xb8\x8f", false},
          {"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80", true},
          {"\xe4\xb8\xad\xe6\x96\x87", true});
    /* Length limits: 63 per label, 253 in all. */
    char buf[300];
    memset(buf, 'a', 63);
    CHECK(val__fmt_check(VAL__FMT_HOSTNAME, buf, 63));
    memset(buf, 'a', 64);
    CHECK(!val__fmt_check(VAL__FMT_HOSTNAME, buf, 64));
    for (size_t k = 0; k < sizeof buf; k++) {
        buf[k] = (k % 50 == 49) ? '.' : 'a';
    }
    CHECK(val__fmt_check(VAL__FMT_HOSTNAME, buf, 253));
    CHECK(!val__fmt_check(VAL__FMT_HOSTNAME, buf, 254 + 1));
    CHECK(val__fmt_check(VAL__FMT_IDN_HOSTNAME, buf, 253));
    CHECK(!val__fmt_check(VAL__FMT_IDN_HOSTNAME, buf, 255));
}

static void test_ip(void)
{
    TABLE(VAL__FMT_IPV4, {"0.0.0.0", true}, {"255.255.255.255", true}, {"1.2.3.4", true},
          {"01.2.3.4", false}, {"1.2.3", false}, {"1.2.3.4.5", false}, {"256.1.1.1", false},
          {"1.2.3.04", false}, {"1.2.3.4 ", false}, {"1..3.4", false}, {"1.2.3.1000", false},
          {"", false});
    TABLE(VAL__FMT_IPV6, {"::", true}, {"::1", true}, {"1::", true}, {"1:2:3:4:5:6:7:8", true},
          {"1:2:3:4:5:6:7::", true}, {"::2:3:4:5:6:7:8", true}, {"::ffff:1.2.3.4", true},
          {"1:2:3:4:5:6:1.2.3.4", true}, {"FE80::ABCD", true}, {"1:2:3:4:5:6:7:8:9", false},
          {"1:2:3:4:5:6:7:8::", false}, {"1::2::3", false}, {":1::", false}, {"1:::2", false},
          {"12345::", false}, {"::g", false}, {"1:2:3:4:5:6:7:1.2.3.4", false},
          {"::1.2.3", false}, {"::01.2.3.4", false}, {"fe80::1%eth0", false}, {"[::1]", false},
          {":", false}, {"", false});
}

static void test_uri(void)
{
    TABLE(VAL__FMT_URI, {"http://example.com", true}, {"a:", true}, {"urn:isbn:0451450523", true},
          {"http://u:p@h:8080/p/a/t/h?q=1&r#frag", true}, {"http://[::1]:80/", true},
          {"http://[v7.x:y]/", true}, {"foo://h/%41%zz", false}, {"http://h/a b", false},
          {"//h/p", false}, {"/p", false}, {"1a:b", false}, {"http://[::1/", false},
          {"http://h:8o/", false}, {"http://a@b@c/", false}, {"http://h/#a#b", false},
          {"http://h/\xc3\xa9", false}, {"", false});
    TABLE(VAL__FMT_URI_REFERENCE, {"", true}, {"#", true}, {"?", true}, {"a/b:c", true},
          {"//h", true}, {"../x", true}, {"a:b", true}, {":a", false}, {"a b", false},
          {"%", false});
    TABLE(VAL__FMT_IRI, {"http://\xc3\xa9xample.com/\xc3\xa9?\xc3\xa9#\xc3\xa9", true},
          {"http://h/?\xee\x80\x80", true}, {"http://h/\xee\x80\x80", false},
          {"http://h/\xef\xbf\xbe", false}, {"http://h/\xff", false}, {"\xc3\xa9", false});
    TABLE(VAL__FMT_IRI_REFERENCE, {"\xc3\xa9", true}, {"#\xc3\xa9", true}, {"\\x", false});
}

static void test_uri_template(void)
{
    TABLE(VAL__FMT_URI_TEMPLATE, {"", true}, {"http://x/{a}", true}, {"{+a,b*,c:3}", true},
          {"{#x}{.y}{/z}{;w}{?q}{&r}", true}, {"{a.b_c%41}", true}, {"{}", false},
          {"{a", false}, {"a}", false}, {"{=a}", false}, {"{a:0}", false}, {"{a:10000}", false},
          {"{a b}", false}, {"{.a.}", false}, {"{a,}", false}, {"<x>", false}, {"%4", false});
}

static void test_uuid(void)
{
    TABLE(VAL__FMT_UUID, {"2eb8aa08-aa98-11ea-b4aa-73b441d16380", true},
          {"2EB8AA08-AA98-11EA-B4AA-73B441D16380", true},
          {"2eb8aa08aa9811eab4aa73b441d16380", false},
          {"{2eb8aa08-aa98-11ea-b4aa-73b441d16380}", false},
          {"2eb8aa08-aa98-11ea-b4aa-73b441d1638g", false}, {"", false});
}

static void test_pointers(void)
{
    TABLE(VAL__FMT_JSON_POINTER, {"", true}, {"/", true}, {"/a~0b~1c", true}, {"//", true},
          {"a", false}, {"/~", false}, {"/~2", false}, {"#/a", false});
    TABLE(VAL__FMT_RELATIVE_JSON_POINTER, {"0", true}, {"1/a", true}, {"10#", true},
          {"0/", true}, {"", false}, {"01", false}, {"-1", false}, {"#", false}, {"1#/a", false},
          {"1~", false});
}

static void test_regex_format(void)
{
    TABLE(VAL__FMT_REGEX, {"^[a-z]+$", true}, {"(?<n>x)\\k<n>", true}, {"(?<=a+)b", true},
          {"^(abc]", false}, {"\\a", false}, {"(?i)x", false}, {"a++", false}, {"", true});
}

/* NUL bytes are data, never terminators; invalid UTF-8 is never valid. */
static void test_embedded_nul_and_bad_utf8(void)
{
    CHECK(!val__fmt_check(VAL__FMT_IPV4, "1.2.3.4\0", 8));
    CHECK(!val__fmt_check(VAL__FMT_DATE, "2020-01-01\0", 11));
    CHECK(!val__fmt_check(VAL__FMT_HOSTNAME, "a\0b", 3));
    CHECK(val__fmt_check(VAL__FMT_JSON_POINTER, "/a\0b", 4));
    CHECK(!val__fmt_check(VAL__FMT_IDN_HOSTNAME, "\xc3", 1));
    CHECK(!val__fmt_check(VAL__FMT_IDN_HOSTNAME, "\xc0\xae", 2));
    CHECK(!val__fmt_check(VAL__FMT_IRI, "http://h/\xed\xa0\x80", 12));
    CHECK(!val__fmt_check(VAL__FMT_URI_TEMPLATE, "\xf8", 1));
    CHECK(!val__fmt_check(VAL__FMT_IDN_EMAIL, "\xc3@x.org", 7));
    CHECK(val__fmt_check(VAL__FMT_DATE, NULL, 0) == false);
    CHECK(val__fmt_check(VAL__FMT_JSON_POINTER, NULL, 0));
}

/* Every format over long hostile inputs: each answers (linear time), none crashes. */
static void test_oversized(void)
{
    size_t n = 1u << 20;
    char *s = malloc(n);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    static const char fills[] = {'a', '1', ':', '.', '/', '~', '{', '%', '-', '\xc3'};
    for (size_t fi = 0; fi < sizeof fills; fi++) {
        memset(s, fills[fi], n);
        for (int f = 1; f <= VAL__FMT_RELATIVE_JSON_POINTER; f++) {
            bool v = val__fmt_check((enum val__fmt)f, s, n);
            /* A megabyte of one character is valid only for these. */
            bool may = (f == VAL__FMT_JSON_POINTER && fills[fi] == '/') ||
                       (f == VAL__FMT_URI_REFERENCE || f == VAL__FMT_IRI_REFERENCE ||
                        f == VAL__FMT_URI_TEMPLATE || f == VAL__FMT_REGEX ||
                        f == VAL__FMT_RELATIVE_JSON_POINTER || f == VAL__FMT_IPV6);
            if (v && !may) {
                CHECK__FAIL("%s valid on 1 MiB of '%c'", val__fmt_name((enum val__fmt)f),
                            fills[fi]);
            }
        }
    }
    free(s);
}

/* Independent oracles for the formats whose grammar another implementation states in a
 * line: libc's inet_pton for ipv4/ipv6, POSIX regular expressions for uuid and the two
 * pointers, timegm's calendar for date. s must not contain NUL (the oracles read C
 * strings); returns -1 for a format without an oracle. */
static regex_t oracle_re[3];
enum { ORE_UUID, ORE_JSON_POINTER, ORE_REL_POINTER };

static void oracles_init(void)
{
    static const char *const pats[] = {
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        "^(/([^~]|~[01])*)*$",
        "^(0|[1-9][0-9]*)(#|(/([^~]|~[01])*)*)$",
    };
    for (int k = 0; k < 3; k++) {
        CHECK_INT(regcomp(&oracle_re[k], pats[k], REG_EXTENDED | REG_NOSUB), 0);
    }
}

static void oracles_free(void)
{
    for (int k = 0; k < 3; k++) {
        regfree(&oracle_re[k]);
    }
}

static bool oracle_date(const char *s)
{
    /* Only the exact shape YYYY-MM-DD, then the calendar: a day that timegm moves to
     * another day does not exist. */
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int k = 0; k < 10; k++) {
        if (k != 4 && k != 7 && (s[k] < '0' || s[k] > '9')) {
            return false;
        }
    }
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1 || d > 31) {
        return false;
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm back;
    return gmtime_r(&t, &back) && back.tm_mday == d && back.tm_mon == m - 1;
}

static int oracle(enum val__fmt f, const char *s)
{
    unsigned char addr[16];
    switch (f) {
    case VAL__FMT_IPV4:
        return inet_pton(AF_INET, s, addr) == 1;
    case VAL__FMT_IPV6:
        return inet_pton(AF_INET6, s, addr) == 1;
    case VAL__FMT_UUID:
        return regexec(&oracle_re[ORE_UUID], s, 0, NULL, 0) == 0;
    case VAL__FMT_JSON_POINTER:
        return regexec(&oracle_re[ORE_JSON_POINTER], s, 0, NULL, 0) == 0;
    case VAL__FMT_RELATIVE_JSON_POINTER:
        return regexec(&oracle_re[ORE_REL_POINTER], s, 0, NULL, 0) == 0;
    case VAL__FMT_DATE:
        return oracle_date(s);
    default:
        return -1;
    }
}

/* One check of s (n bytes) against f, from an exact-size heap copy so a read past the end
 * is caught under ASan; asked twice, from two copies, it must answer the same. */
static bool check_twice(enum val__fmt f, const char *s, size_t n, int *unstable)
{
    bool r[2] = {false, false};
    for (int k = 0; k < 2; k++) {
        char *h = malloc(n ? n : 1);
        if (!h) {
            CHECK__FAIL("%s", "out of memory");
            return false;
        }
        memcpy(h, s, n);
        r[k] = val__fmt_check(f, h, n);
        free(h);
    }
    if (r[0] != r[1]) {
        (*unstable)++;
    }
    return r[0];
}

/* Where an oracle exists, weir and the oracle must agree on s (no NUL inside). */
static void compare_oracle(enum val__fmt f, const char *s, bool got, int *disagree,
                           int counts[2])
{
    int want = oracle(f, s);
    if (want < 0) {
        return;
    }
    counts[want]++;
    if (want != (int)got && (*disagree)++ < 10) {
        CHECK__FAIL("%s \"%s\": weir says %s, the oracle %s", val__fmt_name(f), s,
                    got ? "valid" : "invalid", want ? "valid" : "invalid");
    }
}

/* Random strings over the characters the parsers care about, for every format (50,000 x
 * 19 checks): no out-of-bounds read (the sanitizers watch), the same answer twice, the
 * oracle's answer where there is one, and the recorded number of valid answers (the
 * generator is seeded, so a changed count is a changed verdict somewhere). */
static void test_random_strings(void)
{
    static const char *const atoms[] = {
        "a", "Z", "0", "9", "-", ".", ":", "/", "?", "#", "[", "]", "@", "%", "%4", "%41",
        "{", "}", ",", "+", "*", "T", "Z", "P", "W", "xn--", "\"", "\\", "~", "~0", "\xc3\xa9",
        "\xe3\x80\x82", "\xd7\x90", "\xc2\xb7", "\xe2\x80\x8c", "\xf0\x9f\x98\x80",
        "\xff", "\xc3", "\xed\xa0\x80", " ", "\0", "l", "(", ")", "^", "$"};
    unsigned seed = 42;
    int valid = 0, unstable = 0, disagree = 0, counts[2] = {0, 0};
    for (int it = 0; it < 50000; it++) {
        char buf[97];
        size_t n = 0;
        seed = seed * 1103515245u + 12345u;
        size_t parts = 1 + (seed >> 16) % 12;
        for (size_t k = 0; k < parts; k++) {
            seed = seed * 1103515245u + 12345u;
            const char *a = atoms[(seed >> 16) % (sizeof atoms / sizeof atoms[0])];
            size_t al = a[0] ? strlen(a) : 1; /* "\0" stands for a NUL byte */
            memcpy(buf + n, a, al);
            n += al;
        }
        buf[n] = '\0';
        bool has_nul = memchr(buf, '\0', n) != NULL;
        for (int f = 1; f <= VAL__FMT_RELATIVE_JSON_POINTER; f++) {
            bool got = check_twice((enum val__fmt)f, buf, n, &unstable);
            valid += got;
            if (!has_nul) {
                compare_oracle((enum val__fmt)f, buf, got, &disagree, counts);
            }
        }
    }
    printf("  random strings: %d of %d format checks valid; oracle: %d valid, %d invalid\n",
           valid, 50000 * 19, counts[1], counts[0]);
    CHECK_INT(unstable, 0);
    CHECK_INT(disagree, 0);
    CHECK_INT(valid, RANDOM_STRINGS_VALID);
}

/* Valid strings of the formats with an oracle, mutated by one to three random edits
 * (replace, insert, delete a byte, or repeat a piece): weir and the oracle must agree on
 * every result, and both verdicts must be well represented. */
static void test_mutations_against_oracles(void)
{
    static const struct {
        enum val__fmt f;
        const char *seed;
    } seeds[] = {
        {VAL__FMT_IPV4, "192.168.0.1"},
        {VAL__FMT_IPV4, "255.255.255.255"},
        {VAL__FMT_IPV4, "10.0.20.9"},
        {VAL__FMT_IPV6, "2001:db8::1"},
        {VAL__FMT_IPV6, "::ffff:1.2.3.4"},
        {VAL__FMT_IPV6, "1:2:3:4:5:6:7:8"},
        {VAL__FMT_IPV6, "fe80::a:b:0:1"},
        {VAL__FMT_UUID, "2eb8aa08-aa98-11ea-b4aa-73b441d16380"},
        {VAL__FMT_DATE, "2024-02-29"},
        {VAL__FMT_DATE, "2023-12-31"},
        {VAL__FMT_DATE, "1900-02-28"},
        {VAL__FMT_JSON_POINTER, "/a~1b/~0c"},
        {VAL__FMT_JSON_POINTER, "/0/x"},
        {VAL__FMT_RELATIVE_JSON_POINTER, "12/a~0"},
        {VAL__FMT_RELATIVE_JSON_POINTER, "0#"},
    };
    static const char alphabet[] = "0123456789abcdefABCDEFxZ:.-/~#% \xff";
    unsigned seed = 7;
    int unstable = 0, disagree = 0, counts[2] = {0, 0};
    for (int it = 0; it < 200000; it++) {
        seed = seed * 1103515245u + 12345u;
        size_t si = (seed >> 16) % (sizeof seeds / sizeof seeds[0]);
        char buf[128];
        size_t n = strlen(seeds[si].seed);
        memcpy(buf, seeds[si].seed, n);
        seed = seed * 1103515245u + 12345u;
        int edits = 1 + (int)((seed >> 16) % 3);
        for (int e = 0; e < edits; e++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            size_t at = n ? (r >> 2) % n : 0;
            char c = alphabet[(r >> 8) % (sizeof alphabet - 1)];
            switch (r % 4) {
            case 0: /* replace */
                if (n) {
                    buf[at] = c;
                }
                break;
            case 1: /* insert */
                if (n < 60) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                }
                break;
            case 2: /* delete */
                if (n) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                }
                break;
            default: { /* repeat the tail from at (up to 8 bytes) */
                size_t len = n - at < 8 ? n - at : 8;
                if (n + len < 60) {
                    memmove(buf + at + len, buf + at, n - at);
                    n += len;
                }
                break;
            }
            }
        }
        buf[n] = '\0';
        bool got = check_twice(seeds[si].f, buf, n, &unstable);
        compare_oracle(seeds[si].f, buf, got, &disagree, counts);
    }
    printf("  mutations: 200000 checks, oracle: %d valid, %d invalid\n", counts[1], counts[0]);
    CHECK_INT(unstable, 0);
    CHECK_INT(disagree, 0);
    CHECK(counts[1] > 10000 && counts[0] > 10000);
}

/* Host name checks build their Unicode tables on first use: several threads start
 * cold at once and all must get the same answers. Runs first, before any IDN check. */
static void *cold_worker(void *p)
{
    int *errors = p;
    for (int k = 0; k < 2000; k++) {
        if (!val__fmt_check(VAL__FMT_IDN_HOSTNAME, "b\xc3\xbc" "cher.example", 14) ||
            val__fmt_check(VAL__FMT_IDN_HOSTNAME, "\xcc\x80x", 3) ||
            !val__fmt_check(VAL__FMT_HOSTNAME, "xn--bcher-kva.example", 21) ||
            val__fmt_check(VAL__FMT_HOSTNAME, "xn--7a", 6)) {
            (*errors)++;
        }
    }
    val__regex_thread_cleanup();
    return NULL;
}

static void test_threads_cold_start(void)
{
    enum { N = 4 };
    pthread_t th[N];
    int errors[N] = {0};
    for (int k = 0; k < N; k++) {
        CHECK_INT(pthread_create(&th[k], NULL, cold_worker, &errors[k]), 0);
    }
    for (int k = 0; k < N; k++) {
        pthread_join(th[k], NULL);
        CHECK_INT(errors[k], 0);
    }
}

int main(void)
{
    CHECK_RUN(test_threads_cold_start);
    CHECK_RUN(test_lookup);
    CHECK_RUN(test_date);
    CHECK_RUN(test_date_time);
    CHECK_RUN(test_time);
    CHECK_RUN(test_duration);
    CHECK_RUN(test_email);
    CHECK_RUN(test_hostname);
    CHECK_RUN(test_ip);
    CHECK_RUN(test_uri);
    CHECK_RUN(test_uri_template);
    CHECK_RUN(test_uuid);
    CHECK_RUN(test_pointers);
    CHECK_RUN(test_regex_format);
    CHECK_RUN(test_embedded_nul_and_bad_utf8);
    CHECK_RUN(test_oversized);
    oracles_init();
    CHECK_RUN(test_random_strings);
    CHECK_RUN(test_mutations_against_oracles);
    oracles_free();
    val__regex_thread_cleanup();
    return CHECK_DONE();
}
