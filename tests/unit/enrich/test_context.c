/* test_context.c - the rendered `context` object: the spec's fields and order, --ip-mode
 * (the full address never in the output when truncating or dropping), trusted proxies,
 * --store-user-agent, hostile user agents and origins (always valid JSON), geo on the
 * full address, checked appends into small buffers, a worker's repeat of its last context,
 * bad configurations, and workers on several threads.
 * Usage: test_enrich_context REGEXES.yaml [TEST.mmdb] */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "enrich/enrich.h"

static const char *regexes, *mmdb;

static const char *chrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36";

struct peer {
    struct sockaddr_storage ss;
};

static const struct sockaddr *peer(struct peer *p, const char *ip)
{
    memset(p, 0, sizeof *p);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&p->ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
    }
    return (const struct sockaddr *)&p->ss;
}

static struct en_config config(void)
{
    struct en_config c;
    en_config_init(&c);
    c.ua_regexes = regexes;
    return c;
}

/* Renders one request under c into a static buffer; NULL when en_create fails. */
static const char *render(const struct en_config *c, const struct en_request *req)
{
    static char buf[EN_CONTEXT_MAX + 1];
    struct wr_err err = {0};
    en_enricher *e = en_create(c, &err);
    en_worker *w;
    int n;
    json_error_t jerr;
    json_t *j;
    if (!e) {
        fprintf(stderr, "en_create: %s\n", err.msg);
        return NULL;
    }
    w = en_worker_create(e, &err);
    n = en_context_render(w, req, buf, EN_CONTEXT_MAX);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    /* Always valid JSON, always an object. */
    j = json_loadb(buf, n > 0 ? (size_t)n : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        CHECK__FAIL("not a JSON object: %s: %s", jerr.text, buf);
    }
    json_decref(j);
    en_worker_destroy(w);
    en_destroy(e);
    return buf;
}

static struct en_request req_ua(const struct sockaddr *sa, const char *ua)
{
    struct en_request r;
    memset(&r, 0, sizeof r);
    r.peer = sa;
    r.user_agent = ua;
    r.user_agent_len = ua ? strlen(ua) : 0;
    return r;
}

static void test_default_object(void)
{
    struct peer p;
    struct en_config c = config();
    struct en_request r = req_ua(peer(&p, "203.0.113.77"), chrome);
    r.origin = "https://shop.example.com";
    r.origin_len = strlen(r.origin);
    CHECK_STR(
        render(&c, &r),
        "{\"ip\":\"203.0.113.0\",\"user_agent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\",\"ua\":{\"browser\":\"Chrome\","
        "\"browser_version\":\"120.0.0\",\"os\":\"Windows\",\"os_version\":\"10\",\"device\":\"desktop\","
        "\"bot\":false},\"origin\":\"https://shop.example.com\"}");
}

static void test_ip_modes(void)
{
    struct peer p;
    struct en_config c = config();
    struct en_request r = req_ua(peer(&p, "2001:db8:abcd:12:3456:789a:bcde:f012"), NULL);
    const char *out = render(&c, &r);
    CHECK_STR(out, "{\"ip\":\"2001:db8:abcd::\"}");
    CHECK(!strstr(out, "3456"));
    c.ip_mode = EN_IP_KEEP;
    CHECK_STR(render(&c, &r), "{\"ip\":\"2001:db8:abcd:12:3456:789a:bcde:f012\"}");
    c.ip_mode = EN_IP_DROP;
    CHECK_STR(render(&c, &r), "{}");
    /* IPv4-mapped peers are v4 addresses. */
    c.ip_mode = EN_IP_TRUNCATE;
    r.peer = peer(&p, "::ffff:198.51.100.201");
    out = render(&c, &r);
    CHECK_STR(out, "{\"ip\":\"198.51.100.0\"}");
    CHECK(!strstr(out, "201"));
    /* No peer (a UNIX socket): no ip. */
    r.peer = NULL;
    CHECK_STR(render(&c, &r), "{}");
}

static void test_trusted_proxies(void)
{
    struct peer p;
    struct en_config c = config();
    struct en_request r = req_ua(peer(&p, "10.1.2.3"), NULL);
    c.ip_mode = EN_IP_KEEP;
    r.xff = "6.6.6.6, 198.51.100.23, 10.0.0.9";
    r.xff_len = strlen(r.xff);
    /* No trusted proxies: the forged header is ignored. */
    CHECK_STR(render(&c, &r), "{\"ip\":\"10.1.2.3\"}");
    c.trusted_proxies = "10.0.0.0/8";
    CHECK_STR(render(&c, &r), "{\"ip\":\"198.51.100.23\"}");
    /* An untrusted peer's header is ignored. */
    r.peer = peer(&p, "203.0.113.4");
    CHECK_STR(render(&c, &r), "{\"ip\":\"203.0.113.4\"}");
    /* With Forwarded configured, X-Forwarded-For is not read. */
    r.peer = peer(&p, "10.1.2.3");
    c.fwd_header = EN_FWD_FORWARDED;
    CHECK_STR(render(&c, &r), "{\"ip\":\"10.1.2.3\"}");
    r.forwarded = "for=192.0.2.9;proto=https, for=10.0.0.2";
    r.forwarded_len = strlen(r.forwarded);
    CHECK_STR(render(&c, &r), "{\"ip\":\"192.0.2.9\"}");
}

static void test_store_user_agent_no(void)
{
    struct peer p;
    struct en_config c = config();
    struct en_request r = req_ua(peer(&p, "203.0.113.77"), "curl/8.5.0");
    c.store_user_agent = false;
    c.ip_mode = EN_IP_DROP;
    CHECK_STR(render(&c, &r),
              "{\"ua\":{\"browser\":\"curl\",\"browser_version\":\"8.5.0\",\"os\":\"Other\","
              "\"os_version\":null,\"device\":\"bot\",\"bot\":true}}");
}

static void test_hostile_user_agents(void)
{
    struct peer p;
    struct en_config c = config();
    char ua[10 * 1024];
    struct en_request r;
    const char *out;
    json_t *j;
    /* Control bytes, quotes, backslashes, DEL, invalid UTF-8, a valid multi-byte one. */
    const char odd[] = "Mozilla/5.0 \x01\x1f\"\\\x7f \xff\xfe \xc3\xa9 \xe2\x82 \xed\xa0\x80 end";
    r = req_ua(peer(&p, "203.0.113.77"), odd);
    out = render(&c, &r);
    CHECK(strstr(
        out, "\"user_agent\":\"Mozilla/5.0 \\u0001\\u001f\\\"\\\\\\u007f \xef\xbf\xbd\xef\xbf\xbd "
             "\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end\""));
    /* 10 KB: stored cut at 512 bytes, parsed on its head. */
    memset(ua, 'x', sizeof ua);
    memcpy(ua, chrome, strlen(chrome));
    r.user_agent = ua;
    r.user_agent_len = sizeof ua;
    out = render(&c, &r);
    j = json_loads(out, 0, NULL);
    CHECK_INT(strlen(json_string_value(json_object_get(j, "user_agent"))), EN_USER_AGENT_MAX);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "ua"), "browser")), "Chrome");
    json_decref(j);
    /* Cut before a character, not inside it. */
    memset(ua, 'x', sizeof ua);
    for (size_t i = 500; i + 2 <= sizeof ua; i += 2) {
        ua[i] = '\xc3';
        ua[i + 1] = '\xa9';
    }
    ua[EN_USER_AGENT_MAX - 1] = 'y';
    ua[EN_USER_AGENT_MAX] = '\xc3';
    ua[EN_USER_AGENT_MAX + 1] = '\xa9';
    ua[EN_USER_AGENT_MAX - 2] = '\xc3';
    ua[EN_USER_AGENT_MAX - 3] = 'x';
    out = render(&c, &r);
    j = json_loads(out, 0, NULL);
    CHECK(j != NULL);
    json_decref(j);
    /* An empty header is no header. */
    r.user_agent_len = 0;
    CHECK_STR(render(&c, &r), "{\"ip\":\"203.0.113.0\"}");
}

static void test_origin(void)
{
    struct peer p;
    struct en_config c = config();
    struct en_request r = req_ua(peer(&p, "203.0.113.77"), NULL);
    char big[EN_ORIGIN_MAX + 2];
    c.ip_mode = EN_IP_DROP;
    r.origin = "https://a\"b.example";
    r.origin_len = strlen(r.origin);
    CHECK_STR(render(&c, &r), "{\"origin\":\"https://a\\\"b.example\"}");
    memset(big, 'o', sizeof big);
    r.origin = big;
    r.origin_len = EN_ORIGIN_MAX + 1;
    CHECK_STR(render(&c, &r), "{}");
    r.origin_len = EN_ORIGIN_MAX;
    CHECK(strlen(render(&c, &r)) == EN_ORIGIN_MAX + 13);
}

/* The largest object there can be still fits EN_CONTEXT_MAX. */
static void test_worst_case_fits(void)
{
    struct peer p;
    struct en_config c = config();
    char ua[EN_UA_MATCH_MAX], origin[EN_ORIGIN_MAX];
    struct en_request r = req_ua(peer(&p, "2001:db8:abcd:12:3456:789a:bcde:f012"), NULL);
    memset(ua, 1, sizeof ua);
    memset(origin, 2, sizeof origin);
    c.ip_mode = EN_IP_KEEP;
    r.user_agent = ua;
    r.user_agent_len = sizeof ua;
    r.origin = origin;
    r.origin_len = sizeof origin;
    CHECK(render(&c, &r) != NULL);
}

static void test_small_buffers(void)
{
    struct peer p;
    struct en_config c = config();
    struct en_request r = req_ua(peer(&p, "203.0.113.77"), chrome);
    struct wr_err err = {0};
    en_enricher *e = en_create(&c, &err);
    en_worker *w = en_worker_create(e, &err);
    char full[EN_CONTEXT_MAX], small[EN_CONTEXT_MAX];
    int n = en_context_render(w, &r, full, sizeof full), bad = 0;
    CHECK(n > 100);
    for (int cap = 0; cap < n; cap++) {
        if (en_context_render(w, &r, small, (size_t)cap) != WR_ELIMIT) {
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(en_context_render(w, &r, small, (size_t)n), n);
    CHECK(memcmp(small, full, (size_t)n) == 0);
    en_worker_destroy(w);
    en_destroy(e);
}

static void test_geo(void)
{
    struct peer p;
    struct en_config c = config();
    struct en_request r = req_ua(peer(&p, "192.0.2.200"), NULL);
    const char *out;
    if (!mmdb) {
        fprintf(stderr, "test_geo: no test database, part skipped\n");
        return;
    }
    c.geoip_db = mmdb;
    /* Looked up on the full address (the upper half is Gothenburg), stored truncated. */
    out = render(&c, &r);
    CHECK_STR(
        out,
        "{\"ip\":\"192.0.2.0\",\"geo\":{\"country\":\"SE\",\"region\":\"V\xc3\xa4stra G\xc3\xb6taland "
        "County\",\"city\":\"Gothenburg\",\"lat\":57.7089,\"lon\":11.9746}}");
    c.ip_mode = EN_IP_DROP;
    r.peer = peer(&p, "198.51.100.3");
    CHECK_STR(render(&c, &r), "{\"geo\":{\"country\":\"NZ\"}}");
    r.peer = peer(&p, "2001:db8:1:9::1");
    CHECK_STR(render(&c, &r),
              "{\"geo\":{\"country\":\"DE\",\"region\":\"Bavaria \\\"Bayern\\\"\",\"city\":"
              "\"M\xc3\xbcnchen\",\"lat\":48.1374,\"lon\":11.5755}}");
    r.peer = peer(&p, "203.0.113.1");
    CHECK_STR(render(&c, &r), "{}");
}

static void test_client_addr_and_stats(void)
{
    struct peer p;
    struct en_config c = config();
    struct wr_err err = {0};
    struct en_request r = req_ua(peer(&p, "10.0.0.5"), chrome);
    struct en_addr a;
    char text[64], out[EN_CONTEXT_MAX];
    en_enricher *e;
    en_worker *w;
    uint64_t hits, misses;
    int n;
    c.trusted_proxies = "10.0.0.0/8";
    e = en_create(&c, &err);
    w = en_worker_create(e, &err);
    r.xff = "198.51.100.99";
    r.xff_len = strlen(r.xff);
    CHECK_INT(en_client_addr(e, &r, &a), 0);
    en_addr_format(&a, text, sizeof text);
    /* The full address, for the per-IP limit; context.ip is still truncated. */
    CHECK_STR(text, "198.51.100.99");
    n = en_context_render(w, &r, out, sizeof out);
    CHECK(n > 0 && memmem(out, (size_t)n, "\"ip\":\"198.51.100.0\"", 19) != NULL);
    CHECK(en_context_render(w, &r, out, sizeof out) > 0);
    CHECK(en_context_render(w, &r, out, sizeof out) > 0);
    en_worker_stats(w, &hits, &misses);
    CHECK_INT(hits, 2);
    CHECK_INT(misses, 1);
    r.peer = NULL;
    CHECK_INT(en_client_addr(e, &r, &a), WR_EINVAL);
    en_worker_destroy(w);
    en_destroy(e);
}

/* A worker's next request from the same client is answered from its last context; any
 * change of address (past --ip-mode), User-Agent or Origin renders anew. */
static void test_repeat_cache(void)
{
    struct peer p, q;
    struct en_config c = config();
    struct wr_err err = {0};
    struct en_request r = req_ua(peer(&p, "203.0.113.77"), chrome);
    const char *firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    char a[EN_CONTEXT_MAX], b[EN_CONTEXT_MAX];
    uint64_t hits, misses;
    for (int mode = EN_IP_TRUNCATE; mode <= EN_IP_DROP; mode++) {
        c.ip_mode = (enum en_ip_mode)mode;
        en_enricher *e = en_create(&c, &err);
        en_worker *w = en_worker_create(e, &err);
        /* a sequence of requests: each answer equals a fresh worker's */
        struct en_request seq[8];
        seq[0] = r;
        seq[1] = r;
        seq[2] = req_ua(peer(&q, "203.0.113.78"), chrome); /* same /24 */
        seq[3] = req_ua(r.peer, firefox);
        seq[4] = req_ua(r.peer, NULL);
        seq[5] = r;
        seq[5].origin = "https://shop.example.com";
        seq[5].origin_len = strlen(seq[5].origin);
        seq[6] = seq[5];
        seq[6].origin = "https://other.example.com";
        seq[6].origin_len = strlen(seq[6].origin);
        seq[7] = req_ua(NULL, chrome);
        int bad = 0;
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < 8; i++) {
                int n = en_context_render(w, &seq[i], a, sizeof a);
                en_worker *f = en_worker_create(e, &err);
                int m = en_context_render(f, &seq[i], b, sizeof b);
                en_worker_destroy(f);
                if (n <= 0 || n != m || memcmp(a, b, (size_t)n) != 0) {
                    bad++;
                    fprintf(stderr, "mode %d request %d: %.*s vs %.*s\n", mode, i, n > 0 ? n : 0, a,
                            m > 0 ? m : 0, b);
                }
            }
        }
        CHECK_INT(bad, 0);
        /* a repeat fits or fails like a fresh render */
        int n = en_context_render(w, &r, a, sizeof a);
        CHECK_INT(en_context_render(w, &r, b, (size_t)n - 1), WR_ELIMIT);
        CHECK_INT(en_context_render(w, &r, b, (size_t)n), n);
        /* the truncated address only: never the full one, repeated or not */
        if (mode == EN_IP_TRUNCATE) {
            CHECK(memmem(b, (size_t)n, "203.0.113.77", 12) == NULL);
        }
        en_worker_stats(w, &hits, &misses);
        CHECK(misses >= 2 && hits >= 8);
        en_worker_destroy(w);
        en_destroy(e);
    }
}

static void test_bad_config(void)
{
    struct wr_err err = {0};
    struct en_config c = config();
    c.trusted_proxies = "10.0.0.0/8,10.0.0.1/8";
    CHECK(en_create(&c, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    CHECK(strstr(err.msg, "--trusted-proxies"));
    c = config();
    c.geoip_db = "/nonexistent/GeoLite2-City.mmdb";
    CHECK(en_create(&c, &err) == NULL);
    CHECK_INT(err.code, WR_EIO);
    CHECK(strstr(err.msg, "--geoip-db"));
    c = config();
    c.ua_regexes = "/nonexistent/regexes.yaml";
    CHECK(en_create(&c, &err) == NULL);
    CHECK(strstr(err.msg, "--ua-regexes"));
    en_destroy(NULL);
    en_worker_destroy(NULL);
}

/* Workers on several threads share one enricher; each answer is the single-thread one. */
struct job {
    en_enricher *e;
    int bad;
};

static const char *const agents[] = {
    "curl/8.5.0", "Wget/1.21.3",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"};
static char expected[4][EN_CONTEXT_MAX];

static void *run_job(void *arg)
{
    struct job *job = arg;
    struct wr_err err = {0};
    en_worker *w = en_worker_create(job->e, &err);
    struct peer p;
    char out[EN_CONTEXT_MAX];
    for (int i = 0; i < 400; i++) {
        struct en_request r = req_ua(peer(&p, "203.0.113.77"), agents[i % 4]);
        int n = en_context_render(w, &r, out, sizeof out - 1);
        if (n < 0) {
            job->bad++;
            continue;
        }
        out[n] = '\0';
        job->bad += strcmp(out, expected[i % 4]) != 0;
    }
    en_worker_destroy(w);
    return NULL;
}

static void test_threads(void)
{
    struct en_config c = config();
    struct wr_err err = {0};
    en_enricher *e = en_create(&c, &err);
    struct job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        struct peer p;
        struct en_request r = req_ua(peer(&p, "203.0.113.77"), agents[i]);
        snprintf(expected[i], sizeof expected[i], "%s", render(&c, &r));
    }
    for (int i = 0; i < 4; i++) {
        jobs[i].e = e;
        jobs[i].bad = 0;
        CHECK_INT(pthread_create(&t[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(jobs[i].bad, 0);
    }
    en_destroy(e);
}

int main(int argc, char **argv)
{
    regexes = argc > 1 ? argv[1] : EN_UA_DEFAULT_REGEXES;
    mmdb = argc > 2 && access(argv[2], R_OK) == 0 ? argv[2] : NULL;
    if (access(regexes, R_OK) != 0) {
        fprintf(stderr, "skip: %s is not there (install Debian's uap-core)\n", regexes);
        return 77;
    }
    CHECK_RUN(test_default_object);
    CHECK_RUN(test_ip_modes);
    CHECK_RUN(test_trusted_proxies);
    CHECK_RUN(test_store_user_agent_no);
    CHECK_RUN(test_hostile_user_agents);
    CHECK_RUN(test_origin);
    CHECK_RUN(test_worst_case_fits);
    CHECK_RUN(test_small_buffers);
    CHECK_RUN(test_geo);
    CHECK_RUN(test_client_addr_and_stats);
    CHECK_RUN(test_repeat_cache);
    CHECK_RUN(test_bad_config);
    CHECK_RUN(test_threads);
    return CHECK_DONE();
}
