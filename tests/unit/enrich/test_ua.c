/* test_ua.c - context.ua: browser and OS versions, the device class and bot flag of
 * browser.md, hostile strings (10 KB, control bytes, invalid UTF-8), the LRU cache,
 * and en_ua_load's errors. Usage: test_enrich_ua REGEXES.yaml */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "enrich/en_int.h" /* PCRE2 too, for the prefilter test */
#include "enrich/enrich.h"

static en_ua_rules *rules;

static struct en_ua parse(const char *s)
{
    struct wr_err err = {0};
    en_ua_parser *p = en_ua_parser_create(rules, 0, &err);
    struct en_ua ua;
    en_ua_parse(p, s, strlen(s), &ua, NULL);
    en_ua_parser_destroy(p);
    return ua;
}

#define CHECK_UA(s, want_browser, want_bver, want_os, want_over, want_device, want_bot)            \
    do {                                                                                           \
        struct en_ua u_ = parse(s);                                                                \
        CHECK_STR(u_.browser, want_browser);                                                       \
        CHECK_STR(u_.browser_version, want_bver);                                                  \
        CHECK_STR(u_.os, want_os);                                                                 \
        CHECK_STR(u_.os_version, want_over);                                                       \
        CHECK_STR(en_device_name(u_.device), want_device);                                         \
        CHECK_INT(u_.bot, want_bot);                                                               \
    } while (0)

static void test_desktops(void)
{
    CHECK_UA("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Safari/537.36",
             "Chrome", "120.0.0", "Windows", "10", "desktop", 0);
    CHECK_UA(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Safari/605.1.15",
        "Safari", "17.1", "Mac OS X", "10.15.7", "desktop", 0);
    CHECK_UA("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox",
             "121.0", "Linux", "", "desktop", 0);
    CHECK_UA("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
             "Firefox", "115.0", "Ubuntu", "", "desktop", 0);
    CHECK_UA(
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36",
        "Chrome", "120.0.0", "Chrome OS", "14541.0.0", "desktop", 0);
    CHECK_UA(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36 Edg/120.0.2210.61",
        "Edge", "120.0.2210", "Windows", "10", "desktop", 0);
    /* Headless Chromium is a browser (the tests drive one), not a bot. */
    CHECK_UA(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 "
        "Safari/537.36",
        "HeadlessChrome", "120.0.6099", "Linux", "", "desktop", 0);
}

static void test_phones_and_tablets(void)
{
    CHECK_UA(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Mobile/15E148 Safari/604.1",
        "Mobile Safari", "17.1", "iOS", "17.1", "mobile", 0);
    CHECK_UA(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Mobile Safari/537.36",
        "Chrome Mobile", "120.0.0", "Android", "14", "mobile", 0);
    CHECK_UA(
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 "
        "Mobile/15E148 Safari/604.1",
        "Mobile Safari", "16.6", "iOS", "16.6", "tablet", 0);
    /* Android tablets leave "Mobile" out. */
    CHECK_UA(
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Safari/537.36",
        "Chrome", "120.0.0", "Android", "13", "tablet", 0);
    CHECK_UA("Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
             "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
             "Samsung Internet", "23.0", "Android", "13", "mobile", 0);
}

static void test_bots(void)
{
    /* uap-core's Spider device. */
    CHECK_UA("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
             "Googlebot", "2.1", "Other", "", "bot", 1);
    CHECK_UA("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot",
             "2.0", "Other", "", "bot", 1);
    /* HTTP libraries and command-line clients. */
    CHECK_UA("curl/8.5.0", "curl", "8.5.0", "Other", "", "bot", 1);
    CHECK_UA("Wget/1.21.3", "Wget", "1.21.3", "Other", "", "bot", 1);
    CHECK_UA("python-requests/2.31.0", "Python Requests", "2.31", "Other", "", "bot", 1);
    CHECK_UA("Go-http-client/1.1", "Go-http-client", "1.1", "Other", "", "bot", 1);
    CHECK_UA("okhttp/4.12.0", "okhttp", "4.12.0", "Other", "", "bot", 1);
    CHECK(parse("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)").bot);
    CHECK(parse("axios/1.6.2").bot);
    CHECK(parse("Java/17.0.9").bot);
    /* Monitors. */
    CHECK(parse("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)").bot);
    CHECK(parse("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)").bot);
    CHECK(parse("Mozilla/5.0 (compatible; StatusCake)").bot);
    CHECK(parse("kube-probe/1.28").bot);
    CHECK(parse("ELB-HealthChecker/2.0").bot);
    CHECK_STR(en_device_name(parse("kube-probe/1.28").device), "bot");
}

static void test_other(void)
{
    CHECK_UA("", "Other", "", "Other", "", "other", 0);
    CHECK_UA("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
             "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
             "Samsung Internet", "4.0", "Tizen", "6.0", "other", 0);
    CHECK_STR(en_device_name(parse("some-app/1.0").device), "other");
    CHECK(!parse("some-app/1.0").bot);
}

/* A hostile header: 10 KB, control bytes, invalid UTF-8; bounded and safe. */
static void test_hostile(void)
{
    size_t n = 10 * 1024;
    char *big = malloc(n + 1);
    const char *chrome =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 ";
    struct wr_err err = {0};
    en_ua_parser *p = en_ua_parser_create(rules, 4, &err);
    struct en_ua ua;
    struct timespec t0, t1;
    double ms;
    memcpy(big, chrome, strlen(chrome));
    memset(big + strlen(chrome), 'A', n - strlen(chrome));
    big[n] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    en_ua_parse(p, big, n, &ua, NULL);
    CHECK_STR(ua.browser, "Chrome");
    /* Only the first EN_UA_MATCH_MAX bytes count, so two strings that share them are one. */
    big[n - 1] = 'B';
    {
        bool hit = false;
        en_ua_parse(p, big, n, &ua, &hit);
        CHECK(hit);
    }
    /* All control bytes, all invalid UTF-8, all NULs, and regex food. */
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)(i % 32);
    }
    en_ua_parse(p, big, n, &ua, NULL);
    CHECK_STR(ua.browser, "Other");
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)(0x80 + i % 128);
    }
    en_ua_parse(p, big, n, &ua, NULL);
    memset(big, '\0', n);
    en_ua_parse(p, big, n, &ua, NULL);
    CHECK_STR(ua.browser, "Other");
    for (size_t i = 0; i < n; i++) {
        big[i] =
            "Mozilla/5.0 (Linux; Android ; Build/) CFNetwork/ Darwin/ (iPhone; CPU OS_"[i % 73];
    }
    en_ua_parse(p, big, n, &ua, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    /* Generous for ASan on a shared machine: the point is "not seconds". */
    CHECK(ms < 5000);
    /* A NULL string with length 0 is an empty header. */
    en_ua_parse(p, NULL, 0, &ua, NULL);
    CHECK_STR(ua.browser, "Other");
    en_ua_parser_destroy(p);
    free(big);
}

static void test_cache_lru(void)
{
    struct wr_err err = {0};
    en_ua_parser *p = en_ua_parser_create(rules, 2, &err);
    const char *a = "curl/8.5.0", *b = "Wget/1.21.3", *c = "Go-http-client/1.1";
    struct en_ua ua;
    bool hit;
    uint64_t hits, misses;
    en_ua_parse(p, a, strlen(a), &ua, &hit);
    CHECK(!hit);
    en_ua_parse(p, b, strlen(b), &ua, &hit);
    CHECK(!hit);
    en_ua_parse(p, a, strlen(a), &ua, &hit);
    CHECK(hit);
    CHECK_STR(ua.browser, "curl");
    en_ua_parse(p, c, strlen(c), &ua, &hit); /* evicts b, the least recently used */
    CHECK(!hit);
    en_ua_parse(p, a, strlen(a), &ua, &hit);
    CHECK(hit);
    en_ua_parse(p, b, strlen(b), &ua, &hit);
    CHECK(!hit);
    CHECK_STR(ua.browser, "Wget");
    en_ua_parse(p, c, strlen(c), &ua, &hit); /* evicted by b */
    CHECK(!hit);
    CHECK_STR(ua.browser, "Go-http-client");
    en_ua_parser_stats(p, &hits, &misses);
    CHECK_INT(hits, 2);
    CHECK_INT(misses, 5);
    /* A prefix of a cached string is another string. */
    en_ua_parse(p, a, strlen(a) - 1, &ua, &hit);
    CHECK(!hit);
    en_ua_parser_destroy(p);
}

/* Many distinct strings through a small cache: every answer equals an uncached parse. */
static void test_cache_churn(void)
{
    struct wr_err err = {0};
    en_ua_parser *p = en_ua_parser_create(rules, 8, &err);
    static const char *const base[] = {
        "curl/%u.%u", "Mozilla/5.0 (Windows NT 10.0) Chrome/%u.%u Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS %u_%u like Mac OS X) Mobile/15E148", "Wget/%u.%u"};
    unsigned seed = 7;
    int bad = 0;
    for (int i = 0; i < 600; i++) {
        char s[200];
        struct en_ua got, want;
        seed = seed * 1103515245u + 12345u;
        snprintf(s, sizeof s, base[(seed >> 8) % 4], (seed >> 12) % 5, (seed >> 16) % 4);
        en_ua_parse(p, s, strlen(s), &got, NULL);
        want = parse(s);
        if (memcmp(&got, &want, sizeof got) != 0) {
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    en_ua_parser_destroy(p);
}

/* The prefilter's requirement of a pattern as text: groups joined by " & ", runs of a
 * group by "|"; "" when nothing is required. */
static const char *req(const char *re)
{
    static char out[4096];
    struct en__req r;
    size_t n = 0, i = 0;
    en__required(re, strlen(re), &r);
    out[0] = '\0';
    for (size_t g = 0; g < r.ngroups; g++) {
        n += (size_t)snprintf(out + n, sizeof out - n, "%s", g ? " & " : "");
        for (; i < r.gend[g]; i++) {
            n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s",
                                  i > (g ? r.gend[g - 1] : 0) ? "|" : "", (int)r.len[i], r.lit[i]);
        }
    }
    return out;
}

static void test_prefilter_requirements(void)
{
    CHECK_STR(req("(Chrome)/(\\d+)\\.(\\d+)"), "chrome/");
    CHECK_STR(req("Foo|Bar"), "foo|bar");
    CHECK_STR(req("^(bPod|Pocket Casts|Player FM)$"), "bpod|pocket casts|player fm");
    CHECK_STR(req("(?:Mail |)Outlook"), "outlook");
    CHECK_STR(req("a?bcd"), "bcd");
    CHECK_STR(req("abc(def)?ghij"), "ghij");
    CHECK_STR(req("x(?i)YZ"), "xyz");
    CHECK_STR(req("(ab)+cde"), "cde");
    CHECK_STR(req("(abc)+d"), "abc");
    CHECK_STR(req("a{2}bb"), "bb");
    CHECK_STR(req("a{0,2}bb"), "bb");
    CHECK_STR(req("[abc]def\\.g"), "def.g");
    CHECK_STR(req("(?<=x)abc"), "abc");
    CHECK_STR(req("{notquant"), "{notquant");
    CHECK_STR(req("; {0,2}(Acer |ACER )([^;/]{1,100}?)(?: Build|\\) AppleWebKit)"),
              "; & acer |acer  &  build|) applewebkit");
    /* Nothing required: an empty alternative, or syntax the scan does not know. */
    CHECK_STR(req("(a|)b"), "b");
    CHECK_STR(req("a|"), "");
    CHECK_STR(req("\\x41BC"), "");
    CHECK_STR(req("\\QABC\\E"), "");
    CHECK_STR(req(".*"), "");
    CHECK_STR(req("(unclosed"), "");
    CHECK_STR(req("*a"), "");
    CHECK_STR(req("(?x) a b c"), "");
    CHECK_STR(req("(?ix:a b) cde"), "");
    CHECK_STR(req("(*UTF)abc"), "");
    CHECK_STR(req("(?>ab)cde"), "cde");
}

/* True when every group of r has a run in s (lowercased): the prefilter's promise. */
static bool req_holds(const struct en__req *r, const char *s, size_t len)
{
    char lc[64];
    for (size_t i = 0; i < len; i++) {
        lc[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    }
    for (size_t g = 0, i = 0; g < r->ngroups; g++) {
        bool any = false;
        for (; i < r->gend[g]; i++) {
            any = any || memmem(lc, len, r->lit[i], r->len[i]) != NULL;
        }
        if (!any) {
            return false;
        }
    }
    return true;
}

/* Random patterns from a regex alphabet: the scan never reads past its input (ASan),
 * and whenever PCRE2 matches a random string, the string holds what the scan claims. */
static void test_prefilter_random(void)
{
    static const char alpha[] = "abcab()[]|?*+{}01,\\.^$-:!<=dAB ";
    static const char subj_alpha[] = "abcABC01 -:.!<=";
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    unsigned seed = 3;
    int bad = 0, compiled = 0, matched = 0;
    for (int i = 0; i < 30000; i++) {
        char *re;
        size_t n;
        struct en__req r;
        pcre2_code *code;
        int ecode;
        PCRE2_SIZE eoff;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 16;
        re = malloc(n ? n : 1); /* exactly n bytes, so a read past the end is caught */
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            re[k] = alpha[(seed >> 16) % (sizeof alpha - 1)];
        }
        en__required(re, n, &r);
        if (r.ngroups > EN_REQ_GROUPS || r.n > EN_REQ_MAX) {
            bad++;
        }
        code = pcre2_compile((PCRE2_SPTR)re, n, i % 2 ? PCRE2_CASELESS : 0, &ecode, &eoff, NULL);
        if (code) {
            compiled++;
            for (int t = 0; t < 40; t++) {
                char subj[24];
                size_t sl;
                seed = seed * 1103515245u + 12345u;
                sl = (seed >> 16) % sizeof subj;
                for (size_t k = 0; k < sl; k++) {
                    seed = seed * 1103515245u + 12345u;
                    subj[k] = subj_alpha[(seed >> 16) % (sizeof subj_alpha - 1)];
                }
                if (pcre2_match(code, (PCRE2_SPTR)subj, sl, 0, 0, md, NULL) >= 0) {
                    matched++;
                    if (!req_holds(&r, subj, sl)) {
                        bad++;
                        fprintf(stderr, "prefilter unsound: /%.*s/ on \"%.*s\"\n", (int)n, re,
                                (int)sl, subj);
                    }
                }
            }
            pcre2_code_free(code);
        }
        free(re);
    }
    CHECK_INT(bad, 0);
    CHECK(compiled > 1000);
    CHECK(matched > 1000);
    pcre2_match_data_free(md);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    int fd;
    snprintf(path, sizeof path, "/tmp/weir-enrich-ua-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0) {
        return NULL;
    }
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return NULL;
    }
    close(fd);
    return path;
}

static void test_load_errors(void)
{
    struct wr_err err = {0};
    char *path;
    CHECK(en_ua_load("/nonexistent/regexes.yaml", &err) == NULL);
    CHECK_INT(err.code, WR_EIO);
    CHECK(strstr(err.msg, "--ua-regexes") && strstr(err.msg, "/nonexistent/regexes.yaml"));

    path = write_tmp("user_agent_parsers:\n  - regex: 'a\n");
    CHECK(en_ua_load(path, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    CHECK(strstr(err.msg, "YAML error"));
    unlink(path);

    path = write_tmp("user_agent_parsers:\n  - regex: '(Good)/(\\d+)'\n  - regex: '(Bad'\n"
                     "os_parsers: []\ndevice_parsers: []\n");
    CHECK(en_ua_load(path, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    CHECK(strstr(err.msg, "--ua-regexes") && strstr(err.msg, "user_agent_parsers rule 2") &&
          strstr(err.msg, "line 3"));
    unlink(path);

    path = write_tmp("user_agent_parsers: []\nos_parsers: []\n");
    CHECK(en_ua_load(path, &err) == NULL);
    CHECK(strstr(err.msg, "device_parsers"));
    unlink(path);

    path = write_tmp("- just\n- a list\n");
    CHECK(en_ua_load(path, &err) == NULL);
    CHECK(strstr(err.msg, "not a uap-core regexes file"));
    unlink(path);

    /* A newer copy with a rule of its own: $1..$9 anywhere in a replacement. */
    path = write_tmp("user_agent_parsers:\n"
                     "  - regex: '(Weir)Browser/(\\d+)\\.(\\d+) \\((\\w+)\\)'\n"
                     "    family_replacement: '$1 $4 '\n"
                     "    v1_replacement: '$2$3'\n"
                     "os_parsers:\n  - regex: 'OS-(\\w+)'\n    os_replacement: 'Weir OS'\n"
                     "    os_v1_replacement: '$1'\n"
                     "device_parsers:\n  - regex: 'weirdevice'\n    regex_flag: 'i'\n"
                     "    device_replacement: 'Spider'\n");
    {
        en_ua_rules *r = en_ua_load(path, &err);
        en_ua_parser *p;
        struct en_uap u;
        size_t nu, no, nd;
        CHECK(r != NULL);
        if (r) {
            en_ua_rules_counts(r, &nu, &no, &nd);
            CHECK_INT(nu, 1);
            CHECK_INT(no, 1);
            CHECK_INT(nd, 1);
            p = en_ua_parser_create(r, 0, &err);
            en_ua_parse_raw(p, "WeirBrowser/3.4 (beta) OS-kite WEIRDEVICE", 41, &u);
            CHECK_STR(u.ua_family, "Weir beta");
            CHECK_STR(u.ua_major, "34");
            CHECK_STR(u.ua_minor, "4");
            CHECK_STR(u.os_family, "Weir OS");
            CHECK_STR(u.os_major, "kite");
            CHECK_STR(u.dev_family, "Spider");
            CHECK_STR(u.dev_model, "");
            en_ua_parser_destroy(p);
            en_ua_rules_destroy(r);
        }
    }
    unlink(path);
}

int main(int argc, char **argv)
{
    struct wr_err err = {0};
    const char *path = argc > 1 ? argv[1] : EN_UA_DEFAULT_REGEXES;
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "skip: %s is not there (install Debian's uap-core)\n", path);
        return 77;
    }
    rules = en_ua_load(path, &err);
    if (!rules) {
        fprintf(stderr, "en_ua_load: %s\n", err.msg);
        return 1;
    }
    CHECK_RUN(test_desktops);
    CHECK_RUN(test_phones_and_tablets);
    CHECK_RUN(test_bots);
    CHECK_RUN(test_other);
    CHECK_RUN(test_hostile);
    CHECK_RUN(test_cache_lru);
    CHECK_RUN(test_cache_churn);
    CHECK_RUN(test_load_errors);
    CHECK_RUN(test_prefilter_requirements);
    CHECK_RUN(test_prefilter_random);
    en_ua_rules_destroy(rules);
    return CHECK_DONE();
}
