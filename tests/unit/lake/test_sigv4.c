/* test_sigv4.c - our SigV4 signer against AWS's published Signature Version 4 test
 * suite (aws-sig-v4-test-suite), the IAM worked example of the AWS docs, and the S3
 * header-auth examples. The expected signatures are AWS's published values. */
#include <string.h>

#include "check.h"
#include "common/hash.h"
#include "lake/lake_int.h"

#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* One vector of the generic suite: host example.amazonaws.com, region us-east-1,
 * service "service", plus up to four extra headers. */
struct vec {
    const char *name;
    const char *method;
    const char *path;
    const char *query;
    struct lake__hdr extra[4];
    size_t nextra;
    const char *body;
    const char *signed_headers;
    const char *signature;
};

static const struct vec suite[] = {
    {"get-vanilla", "GET", "/", NULL, {{0}}, 0, "", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     NULL, {{0}}, 0, "", "host;x-amz-date",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-utf8", "GET", "/\xe1\x88\xb4", NULL, {{0}}, 0, "", "host;x-amz-date",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    /* S3 does not normalise paths, so the "unnormalized" variants are the ones that apply. */
    {"get-space-unnormalized", "GET", "/example space/", NULL, {{0}}, 0, "", "host;x-amz-date",
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"get-slashes-unnormalized", "GET", "//example//", NULL, {{0}}, 0, "", "host;x-amz-date",
     "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"},
    {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", {{0}}, 0, "",
     "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", {{0}}, 0, "",
     "host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
    {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", {{0}}, 0, "", "host;x-amz-date",
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-vanilla-utf8-query", "GET", "/", "\xe1\x88\xb4=bar", {{0}}, 0, "", "host;x-amz-date",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-vanilla-query-order-encoded", "GET", "/", "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
     {{0}}, 0, "", "host;x-amz-date",
     "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
    {"get-header-value-trim", "GET", "/", NULL,
     {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}}, 2, "",
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"get-header-key-duplicate", "GET", "/", NULL,
     {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, 3, "",
     "host;my-header1;x-amz-date",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order", "GET", "/", NULL,
     {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"},
      {"My-Header1", "value2"}},
     4, "", "host;my-header1;x-amz-date",
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"post-vanilla", "POST", "/", NULL, {{0}}, 0, "", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"post-x-www-form-urlencoded", "POST", "/", NULL,
     {{"Content-Type", "application/x-www-form-urlencoded"}}, 1, "Param1=value1",
     "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
};

/* Signs v as the suite does: host and x-amz-date first, then the extra headers. */
static void sign_vec(const struct vec *v, char *auth, size_t cap, struct wr_buf *creq)
{
    struct lake__hdr h[8];
    size_t n = 0;
    h[n++] = (struct lake__hdr){"Host", "example.amazonaws.com"};
    h[n++] = (struct lake__hdr){"X-Amz-Date", SUITE_DATE};
    for (size_t i = 0; i < v->nextra; i++) {
        h[n++] = v->extra[i];
    }
    char ph[65];
    wr_sha256_hex(v->body, strlen(v->body), ph);
    struct lake__sigreq r = {v->method, v->path, v->query, h, n, ph};
    auth[0] = '\0';
    int rc = lake__sigv4_authorization(&r, SUITE_AK, SUITE_SK, "us-east-1", "service", SUITE_DATE,
                                       auth, cap, NULL);
    CHECK_INT(rc, 0);
    if (creq) {
        CHECK_INT(lake__canonical_request(creq, &r, NULL, 0), 0);
    }
}

static void test_suite_vectors(void)
{
    for (size_t i = 0; i < sizeof suite / sizeof suite[0]; i++) {
        const struct vec *v = &suite[i];
        char auth[512], want[512];
        sign_vec(v, auth, sizeof auth, NULL);
        snprintf(want, sizeof want,
                 "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                 "SignedHeaders=%s, Signature=%s",
                 v->signed_headers, v->signature);
        if (strcmp(auth, want) != 0) {
            fprintf(stderr, "vector %s\n", v->name);
        }
        CHECK_STR(auth, want);
    }
}

static void test_canonical_request_get_vanilla(void)
{
    char auth[512];
    struct wr_buf c;
    wr_buf_init(&c, 4096);
    sign_vec(&suite[0], auth, sizeof auth, &c);
    CHECK_STR(c.p, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                   "host;x-amz-date\n" EMPTY_SHA);
    wr_buf_free(&c);
}

static void test_canonical_request_trim_and_utf8(void)
{
    char auth[512];
    struct wr_buf c;
    wr_buf_init(&c, 4096);
    sign_vec(&suite[10], auth, sizeof auth, &c); /* get-header-value-trim */
    CHECK(strstr(c.p, "\nmy-header1:value1\nmy-header2:\"a b c\"\n") != NULL);
    wr_buf_clear(&c);
    sign_vec(&suite[2], auth, sizeof auth, &c); /* get-utf8 */
    CHECK(strncmp(c.p, "GET\n/%E1%88%B4\n\n", 16) == 0);
    wr_buf_clear(&c);
    sign_vec(&suite[12], auth, sizeof auth, &c); /* get-header-value-order */
    CHECK(strstr(c.p, "\nmy-header1:value4,value1,value3,value2\n") != NULL);
    wr_buf_free(&c);
}

/* The worked example of the AWS SigV4 documentation: IAM ListUsers. */
static void test_iam_worked_example(void)
{
    struct lake__hdr h[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"Host", "iam.amazonaws.com"},
        {"X-Amz-Date", SUITE_DATE},
    };
    struct lake__sigreq r = {"GET", "/", "Action=ListUsers&Version=2010-05-08", h, 3, EMPTY_SHA};
    struct wr_buf creq, sts;
    wr_buf_init(&creq, 4096);
    wr_buf_init(&sts, 4096);
    CHECK_INT(lake__canonical_request(&creq, &r, NULL, 0), 0);
    char ch[65];
    wr_sha256_hex(creq.p, creq.len, ch);
    CHECK_STR(ch, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    char auth[512];
    CHECK_INT(lake__sigv4_authorization(&r, SUITE_AK, SUITE_SK, "us-east-1", "iam", SUITE_DATE, auth,
                                        sizeof auth, &sts),
              0);
    CHECK_STR(sts.p, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
                     "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    CHECK_STR(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                    "SignedHeaders=content-type;host;x-amz-date, "
                    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    wr_buf_free(&creq);
    wr_buf_free(&sts);
}

/* The S3 API reference's header-auth examples (examplebucket, 2013-05-24). */
#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DATE "20130524T000000Z"
#define S3_HOST "examplebucket.s3.amazonaws.com"

static const char *s3_sig(const char *method, const char *path, const char *query,
                          const struct lake__hdr *extra, size_t nextra, const char *payload,
                          char *auth, size_t cap)
{
    struct lake__hdr h[8];
    size_t n = 0;
    h[n++] = (struct lake__hdr){"Host", S3_HOST};
    h[n++] = (struct lake__hdr){"x-amz-content-sha256", payload};
    h[n++] = (struct lake__hdr){"x-amz-date", S3_DATE};
    for (size_t i = 0; i < nextra; i++) {
        h[n++] = extra[i];
    }
    struct lake__sigreq r = {method, path, query, h, n, payload};
    CHECK_INT(lake__sigv4_authorization(&r, S3_AK, S3_SK, "us-east-1", "s3", S3_DATE, auth, cap,
                                        NULL),
              0);
    const char *s = strstr(auth, "Signature=");
    return s ? s + 10 : "";
}

static void test_s3_examples(void)
{
    char auth[512];
    struct lake__hdr range[] = {{"Range", "bytes=0-9"}};
    CHECK_STR(s3_sig("GET", "/test.txt", NULL, range, 1, EMPTY_SHA, auth, sizeof auth),
              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK(strstr(auth, "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,") != NULL);

    /* PUT with '$' in the key: the raw key is encoded once (%24). */
    char ph[65];
    wr_sha256_hex("Welcome to Amazon S3.", 21, ph);
    CHECK_STR(ph, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    struct lake__hdr put[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                              {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    CHECK_STR(s3_sig("PUT", "/test$file.text", NULL, put, 2, ph, auth, sizeof auth),
              "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");

    /* A valueless query parameter signs as "lifecycle=". */
    CHECK_STR(s3_sig("GET", "/", "lifecycle", NULL, 0, EMPTY_SHA, auth, sizeof auth),
              "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

    /* Parameters out of order are sorted. */
    CHECK_STR(s3_sig("GET", "/", "prefix=J&max-keys=2", NULL, 0, EMPTY_SHA, auth, sizeof auth),
              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* The suite's get-vanilla-with-session-token: temporary credentials add a signed
 * x-amz-security-token header. */
static void test_session_token_is_signed(void)
{
    struct lake__hdr h[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", SUITE_DATE},
        {"X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}};
    struct lake__sigreq r = {"GET", "/", NULL, h, 3, EMPTY_SHA};
    char auth[512];
    CHECK_INT(lake__sigv4_authorization(&r, SUITE_AK, SUITE_SK, "us-east-1", "service", SUITE_DATE,
                                        auth, sizeof auth, NULL),
              0);
    CHECK(strstr(auth, "SignedHeaders=host;x-amz-date;x-amz-security-token,") != NULL);
    CHECK(strstr(auth, "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8") !=
          NULL);
}

static void enc(const char *in, int keep_slash, const char *want)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    CHECK_INT(lake__uri_encode(&b, in, strlen(in), keep_slash), 0);
    CHECK_STR(b.p ? b.p : "", want);
    wr_buf_free(&b);
}

static void test_uri_encoding(void)
{
    enc("raw/event_type=page_view/dt=2024-01-01/hr=07/a.jsonl.gz", 1,
        "raw/event_type%3Dpage_view/dt%3D2024-01-01/hr%3D07/a.jsonl.gz");
    enc("a b+c", 1, "a%20b%2Bc");
    enc("caf\xc3\xa9/\xe1\x88\xb4", 1, "caf%C3%A9/%E1%88%B4");
    enc("a/b", 0, "a%2Fb");
    enc("-_.~", 0, "-_.~");
    enc("%", 0, "%25");
    enc("*!'()", 0, "%2A%21%27%28%29");
}

static void cq(const char *in, const char *want)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    CHECK_INT(lake__canonical_query(&b, in), 0);
    CHECK_STR(b.p ? b.p : "", want);
    wr_buf_free(&b);
}

static void test_canonical_query(void)
{
    cq(NULL, "");
    cq("", "");
    cq("uploads", "uploads=");
    cq("b&a=1", "a=1&b=");
    cq("q=a+b", "q=a%2Bb");
    cq("a=1=2", "a=1%3D2");
    cq("x=%zz", "x=%25zz");
    cq("x=%4", "x=%254");
    cq("prefix=dt%3d2024/&list-type=2", "list-type=2&prefix=dt%3D2024%2F");
    cq("a=10&a=9", "a=10&a=9");
    cq("&&a=1&&", "a=1");
    cq("uploadId=abc~2E.x&partNumber=3", "partNumber=3&uploadId=abc~2E.x");
}

static void test_refusals(void)
{
    struct lake__hdr h[LAKE__MAX_SIG_HEADERS + 1];
    for (size_t i = 0; i < LAKE__MAX_SIG_HEADERS + 1; i++) {
        h[i] = (struct lake__hdr){"x-a", "b"};
    }
    struct lake__sigreq r = {"GET", "/", NULL, h, LAKE__MAX_SIG_HEADERS + 1, EMPTY_SHA};
    char auth[512];
    CHECK(lake__sigv4_authorization(&r, "a", "b", "r", "s", SUITE_DATE, auth, sizeof auth, NULL) <
          0);
    r.nhdrs = 1;
    CHECK_INT(lake__sigv4_authorization(&r, "a", "b", "r", "s", "2015-08-30", auth, sizeof auth,
                                        NULL),
              WR_EINVAL);
    /* An Authorization that does not fit is refused, not truncated. */
    CHECK(lake__sigv4_authorization(&r, "a", "b", "r", "s", SUITE_DATE, auth, 20, NULL) < 0);
}

int main(void)
{
    CHECK_RUN(test_suite_vectors);
    CHECK_RUN(test_canonical_request_get_vanilla);
    CHECK_RUN(test_canonical_request_trim_and_utf8);
    CHECK_RUN(test_iam_worked_example);
    CHECK_RUN(test_s3_examples);
    CHECK_RUN(test_session_token_is_signed);
    CHECK_RUN(test_uri_encoding);
    CHECK_RUN(test_canonical_query);
    CHECK_RUN(test_refusals);
    return CHECK_DONE();
}
