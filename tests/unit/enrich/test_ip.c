/* test_ip.c - addresses, the trusted-proxies parser, the X-Forwarded-For and Forwarded
 * walks (forged headers from untrusted peers ignored), and --ip-mode truncation. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "enrich/enrich.h"

static struct en_addr A(const char *s) {
    struct en_addr a;
    memset(&a, 0, sizeof a);
    if (en_addr_parse(s, strlen(s), &a) != 0) {
        fprintf(stderr, "bad test address %s\n", s);
    }
    return a;
}

static const char *
fmt(const struct en_addr *a)
{
    static char buf[64];
    en_addr_format(a, buf, sizeof buf);
    return buf;
}

/* The client for a peer and an X-Forwarded-For value under a trusted list. */
static const char *client(const char *trusted, const char *peer, const char *xff)
{
    struct wr_err err = {0};
    en_cidrs *c = en_cidrs_parse(trusted, &err);
    struct en_addr p = A(peer), out;
    en_client_ip(c, EN_FWD_XFF, &p, xff, xff ? strlen(xff) : 0, &out);
    en_cidrs_destroy(c);
    return fmt(&out);
}

static const char *client_fwd(const char *trusted, const char *peer, const char *fwd)
{
    struct wr_err err = {0};
    en_cidrs *c = en_cidrs_parse(trusted, &err);
    struct en_addr p = A(peer), out;
    en_client_ip(c, EN_FWD_FORWARDED, &p, fwd, strlen(fwd), &out);
    en_cidrs_destroy(c);
    return fmt(&out);
}

static void test_addr_parse(void)
{
    struct en_addr a;
    CHECK_INT(en_addr_parse("192.0.2.1", 9, &a), 0);
    CHECK_INT(a.family, 4);
    CHECK_INT(en_addr_parse("2001:db8::1", 11, &a), 0);
    CHECK_INT(a.family, 6);
    CHECK_STR(fmt(&a), "2001:db8::1");
    /* IPv4-mapped IPv6 is the v4 address. */
    CHECK_INT(en_addr_parse("::ffff:198.51.100.7", 19, &a), 0);
    CHECK_INT(a.family, 4);
    CHECK_STR(fmt(&a), "198.51.100.7");
    CHECK_INT(en_addr_parse("::FFFF:c633:6407", 16, &a), 0);
    CHECK_STR(fmt(&a), "198.51.100.7");
    CHECK_INT(en_addr_parse("1.2.3", 5, &a), WR_EINVAL);
    CHECK_INT(en_addr_parse("01.2.3.4", 8, &a), WR_EINVAL);
    CHECK_INT(en_addr_parse("1.2.3.4\0", 8, &a), WR_EINVAL);
    CHECK_INT(en_addr_parse("unknown", 7, &a), WR_EINVAL);
    CHECK_INT(en_addr_parse("", 0, &a), WR_EINVAL);
    CHECK_INT(en_addr_parse("fe80::1%eth0", 12, &a), WR_EINVAL);
}

static void test_sockaddr(void)
{
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    struct en_addr a;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:203.0.113.9", &s6.sin6_addr);
    CHECK_INT(en_addr_from_sockaddr((struct sockaddr *)&s6, &a), 0);
    CHECK_INT(a.family, 4);
    CHECK_STR(fmt(&a), "203.0.113.9");
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    inet_pton(AF_INET, "203.0.113.10", &s4.sin_addr);
    CHECK_INT(en_addr_from_sockaddr((struct sockaddr *)&s4, &a), 0);
    CHECK_STR(fmt(&a), "203.0.113.10");
    s4.sin_family = AF_UNIX;
    CHECK_INT(en_addr_from_sockaddr((struct sockaddr *)&s4, &a), WR_EINVAL);
    CHECK_INT(en_addr_from_sockaddr(NULL, &a), WR_EINVAL);
}

static void test_cidrs_parse(void)
{
    struct wr_err err = {0};
    en_cidrs *c =
        en_cidrs_parse(" 10.0.0.0/8, 192.168.1.1 2001:db8::/32,::1/128\t172.16.0.0/12,", &err);
    struct en_addr a;
    CHECK(c != NULL);
    CHECK_INT(en_cidrs_count(c), 5);
    a = A("10.200.1.1");
    CHECK(en_cidrs_contains(c, &a));
    a = A("11.0.0.1");
    CHECK(!en_cidrs_contains(c, &a));
    a = A("192.168.1.1");
    CHECK(en_cidrs_contains(c, &a));
    a = A("192.168.1.2");
    CHECK(!en_cidrs_contains(c, &a));
    a = A("2001:db8:ffff::1");
    CHECK(en_cidrs_contains(c, &a));
    a = A("2001:db9::1");
    CHECK(!en_cidrs_contains(c, &a));
    a = A("172.31.255.255");
    CHECK(en_cidrs_contains(c, &a));
    a = A("172.32.0.0");
    CHECK(!en_cidrs_contains(c, &a));
    /* A mapped peer is matched by v4 ranges. */
    a = A("::ffff:10.1.1.1");
    CHECK(en_cidrs_contains(c, &a));
    en_cidrs_destroy(c);

    c = en_cidrs_parse("", &err);
    CHECK(c != NULL);
    CHECK_INT(en_cidrs_count(c), 0);
    en_cidrs_destroy(c);
    c = en_cidrs_parse(NULL, &err);
    CHECK(c != NULL);
    en_cidrs_destroy(c);
    c = en_cidrs_parse("0.0.0.0/0 ::/0", &err);
    CHECK_INT(en_cidrs_count(c), 2);
    en_cidrs_destroy(c);
    c = en_cidrs_parse("::ffff:10.0.0.0/104", &err);
    CHECK(c != NULL);
    a = A("10.9.9.9");
    CHECK(en_cidrs_contains(c, &a));
    en_cidrs_destroy(c);
}

static void test_cidrs_errors(void)
{
    struct wr_err err = {0};
    CHECK(en_cidrs_parse("10.0.0.0/33", &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    CHECK(strstr(err.msg, "--trusted-proxies") && strstr(err.msg, "10.0.0.0/33") &&
          strstr(err.msg, "0-32"));
    CHECK(en_cidrs_parse("2001:db8::/129", &err) == NULL);
    CHECK(strstr(err.msg, "0-128"));
    CHECK(en_cidrs_parse("10.0.0.0/", &err) == NULL);
    CHECK(strstr(err.msg, "must be a number"));
    CHECK(en_cidrs_parse("10.0.0.0/x", &err) == NULL);
    CHECK(en_cidrs_parse("10.0.0.0/-1", &err) == NULL);
    CHECK(en_cidrs_parse("10.0.0.0/0008", &err) == NULL);
    CHECK(en_cidrs_parse("10.0.0.0/8,example.com", &err) == NULL);
    CHECK(strstr(err.msg, "example.com") && strstr(err.msg, "not an IPv4 or IPv6 address"));
    CHECK(en_cidrs_parse("10.1.2.3/8", &err) == NULL);
    CHECK(strstr(err.msg, "bits set after the prefix") && strstr(err.msg, "10.0.0.0/8"));
    CHECK(en_cidrs_parse("2001:db8::1/32", &err) == NULL);
    CHECK(strstr(err.msg, "2001:db8::/32"));
    CHECK(en_cidrs_parse("::ffff:10.0.0.0/90", &err) == NULL);
    CHECK(strstr(err.msg, "96-128"));
}

static void test_untrusted_peer_ignores_xff(void)
{
    /* Forged X-Forwarded-For from a peer that is not a trusted proxy. */
    CHECK_STR(client("", "203.0.113.5", "1.1.1.1"), "203.0.113.5");
    CHECK_STR(client("10.0.0.0/8", "203.0.113.5", "1.1.1.1, 10.0.0.2"), "203.0.113.5");
    CHECK_STR(client("10.0.0.0/8", "203.0.113.5", NULL), "203.0.113.5");
}

static void test_trusted_peer_walks_right_to_left(void)
{
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "198.51.100.7"), "198.51.100.7");
    /* A forged left part: the right-most untrusted hop wins. */
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.9"), "198.51.100.7");
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "6.6.6.6,198.51.100.7,10.0.0.9 ,  10.3.3.3"),
              "198.51.100.7");
    /* Every hop trusted: the left-most. */
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "10.0.0.7, 10.0.0.9"), "10.0.0.7");
    /* Garbage stops the walk at the hop on its right. */
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "198.51.100.7, unknown, 10.0.0.9"), "10.0.0.9");
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "garbage"), "10.0.0.1");
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", ""), "10.0.0.1");
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", " , ,"), "10.0.0.1");
    /* Ports and brackets as some proxies write them. */
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "198.51.100.7:5123"), "198.51.100.7");
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "[2001:db8::7]:443"), "2001:db8::7");
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", "2001:db8::7"), "2001:db8::7");
    /* IPv6 proxies, and a mapped client. */
    CHECK_STR(client("2001:db8:1::/48", "2001:db8:1::5", "::ffff:198.51.100.8, 2001:db8:1::6"),
              "198.51.100.8");
    /* A mapped peer is matched by the v4 list. */
    CHECK_STR(client("10.0.0.0/8", "::ffff:10.0.0.1", "198.51.100.9"), "198.51.100.9");
}

static void test_many_hops(void)
{
    char big[8192];
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(big + n, sizeof big - n, "10.0.%d.%d, ", i / 250, i % 250 + 1);
    }
    snprintf(big + n, sizeof big - n, "198.51.100.7, 10.9.9.9");
    CHECK_STR(client("10.0.0.0/8", "10.0.0.1", big), "198.51.100.7");
}

static void test_forwarded(void)
{
    CHECK_STR(client_fwd("10.0.0.0/8", "10.0.0.1", "for=198.51.100.17"), "198.51.100.17");
    CHECK_STR(client_fwd("10.0.0.0/8", "10.0.0.1",
                         "for=6.6.6.6, For=\"[2001:db8:cafe::17]:4711\";proto=https"),
              "2001:db8:cafe::17");
    CHECK_STR(client_fwd("10.0.0.0/8", "10.0.0.1",
                         "for=192.0.2.43;proto=http;by=203.0.113.43, for=10.0.0.3"),
              "192.0.2.43");
    CHECK_STR(client_fwd("10.0.0.0/8", "10.0.0.1", "for=192.0.2.43, for=unknown"), "10.0.0.1");
    CHECK_STR(client_fwd("10.0.0.0/8", "10.0.0.1", "for=\"192.0.2.60:8080\""), "192.0.2.60");
    CHECK_STR(client_fwd("10.0.0.0/8", "10.0.0.1", "proto=https;host=\"a,b\""), "10.0.0.1");
    CHECK_STR(client_fwd("10.0.0.0/8", "10.0.0.1", "for=\"unterminated"), "10.0.0.1");
    CHECK_STR(client_fwd("", "203.0.113.5", "for=1.1.1.1"), "203.0.113.5");
}

static void test_truncate(void)
{
    struct en_addr a = A("198.51.100.237");
    en_addr_truncate(&a);
    CHECK_STR(fmt(&a), "198.51.100.0");
    a = A("2001:db8:abcd:1234:5678::9");
    en_addr_truncate(&a);
    CHECK_STR(fmt(&a), "2001:db8:abcd::");
    a = A("::ffff:203.0.113.99");
    en_addr_truncate(&a);
    CHECK_STR(fmt(&a), "203.0.113.0");
}

/* The formatter agrees with inet_ntop on every shape of zero runs. */
static void test_format(void)
{
    static const char *const v6[] = {"::",
                                     "::1",
                                     "1::",
                                     "2001:db8::",
                                     "2001:db8:0:1:1:1:1:1",
                                     "2001:0:0:1::1",
                                     "1:0:0:2:0:0:0:3",
                                     "fe80::1:2:3:4",
                                     "1:2:3:4:5:6:7:8",
                                     "0:1:0:1:0:1:0:1",
                                     "::2:3:4:5:6:7:8",
                                     "1:2:3:4:5:6:7::",
                                     "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
                                     "1:0:0:2::3"};
    int bad = 0;
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        struct en_addr a = A(v6[i]);
        char want[64];
        inet_ntop(AF_INET6, a.b, want, sizeof want);
        CHECK_STR(fmt(&a), want);
    }
    /* Every address of a few random /64s and v4s, against inet_ntop. */
    for (unsigned i = 0, seed = 1; i < 20000; i++) {
        struct en_addr a;
        char want[64], got[64];
        memset(&a, 0, sizeof a);
        a.family = i % 2 ? 6 : 4;
        for (int k = 0; k < 16; k++) {
            seed = seed * 1103515245u + 12345u;
            /* Mostly zero bytes, so runs of zero groups of every length appear. */
            a.b[k] = (seed >> 16) % 3 == 0 ? (uint8_t)(seed >> 8) : 0;
        }
        if (a.family == 4) {
            memset(a.b + 4, 0, 12);
            inet_ntop(AF_INET, a.b, want, sizeof want);
        } else {
            if (a.b[0] == 0 && a.b[1] == 0 && a.b[2] == 0 && a.b[3] == 0 && a.b[4] == 0 &&
                a.b[5] == 0 && a.b[6] == 0 && a.b[7] == 0 && a.b[8] == 0 && a.b[9] == 0) {
                a.b[0] = 1; /* glibc writes ::a.b.c.d forms there; weir never stores them */
            }
            inet_ntop(AF_INET6, a.b, want, sizeof want);
        }
        en_addr_format(&a, got, sizeof got);
        bad += strcmp(got, want) != 0;
    }
    CHECK_INT(bad, 0);
    {
        struct en_addr a = A("2001:db8::1");
        char small[4];
        CHECK_INT(en_addr_format(&a, small, sizeof small), 0);
        CHECK_STR(small, "");
    }
}

/* Random bytes from a header alphabet: never a crash (ASan watches), and the answer is
 * the peer or an address the header really holds. */
static void test_random_headers(void)
{
    static const char alpha[] = "0123456789abcdef.:[], ;=\"forFOR-x\t";
    struct wr_err err = {0};
    en_cidrs *c = en_cidrs_parse("10.0.0.0/8 ::/0", &err);
    struct en_addr peer = A("10.0.0.1"), out;
    unsigned seed = 99;
    int odd = 0;
    for (int i = 0; i < 20000; i++) {
        char h[96];
        size_t n;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % sizeof h;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            h[k] = alpha[(seed >> 16) % (sizeof alpha - 1)];
        }
        en_client_ip(c, i % 2 ? EN_FWD_FORWARDED : EN_FWD_XFF, &peer, h, n, &out);
        if (!(out.family == 4 || out.family == 6)) {
            odd++;
        }
    }
    CHECK_INT(odd, 0);
    en_cidrs_destroy(c);
}

int main(void)
{
    CHECK_RUN(test_addr_parse);
    CHECK_RUN(test_sockaddr);
    CHECK_RUN(test_cidrs_parse);
    CHECK_RUN(test_cidrs_errors);
    CHECK_RUN(test_untrusted_peer_ignores_xff);
    CHECK_RUN(test_trusted_peer_walks_right_to_left);
    CHECK_RUN(test_many_hops);
    CHECK_RUN(test_forwarded);
    CHECK_RUN(test_truncate);
    CHECK_RUN(test_format);
    CHECK_RUN(test_random_headers);
    return CHECK_DONE();
}
