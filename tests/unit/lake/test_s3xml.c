/* test_s3xml.c - the small XML reader used on S3 answers: element lookup, entity
 * decoding, escaping, and malformed or oversized input. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lake/lake_int.h"

static const char LIST[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<ListBucketResult><Name>b</Name><Prefix>raw/</Prefix><KeyCount>2</KeyCount>"
    "<IsTruncated>true</IsTruncated>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "<Contents><Key>raw/event_type=a/dt=2024-01-01/x&amp;y.gz</Key><Size>12</Size></Contents>"
    "<Contents><Key>raw/&#233;&#x1234;</Key><Size>0</Size></Contents>"
    "</ListBucketResult>";

static void test_find_and_iterate(void)
{
    size_t pos = 0, vl;
    const char *v;
    char out[256];
    int n = 0;
    while (lake__xml_find(LIST, strlen(LIST), &pos, "Contents", &v, &vl)) {
        size_t p2 = 0, kl;
        const char *kv;
        CHECK(lake__xml_find(v, vl, &p2, "Key", &kv, &kl));
        CHECK_INT(lake__xml_text(kv, kl, out, sizeof out), 0);
        if (n == 0) {
            CHECK_STR(out, "raw/event_type=a/dt=2024-01-01/x&y.gz");
        } else {
            CHECK_STR(out, "raw/\xc3\xa9\xe1\x88\xb4");
        }
        n++;
    }
    CHECK_INT(n, 2);
    pos = 0;
    CHECK(lake__xml_find(LIST, strlen(LIST), &pos, "NextContinuationToken", &v, &vl));
    CHECK_INT(lake__xml_text(v, vl, out, sizeof out), 0);
    CHECK_STR(out, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    pos = 0;
    CHECK(!lake__xml_find(LIST, strlen(LIST), &pos, "Missing", &v, &vl));
    pos = strlen(LIST) + 5; /* a position past the end finds nothing */
    CHECK(!lake__xml_find(LIST, strlen(LIST), &pos, "Key", &v, &vl));
}

static void test_error_in_200(void)
{
    const char *doc = "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code>"
                      "<Message>We encountered an internal error. Please try again.</Message></Error>";
    size_t pos = 0, vl;
    const char *v;
    CHECK(lake__xml_find(doc, strlen(doc), &pos, "Error", &v, &vl));
    size_t p2 = 0, cl;
    const char *cv;
    CHECK(lake__xml_find(v, vl, &p2, "Code", &cv, &cl));
    CHECK_MEM(cv, cl, "InternalError", 13);
}

static void test_hostile_text(void)
{
    char out[16];
    CHECK_INT(lake__xml_text("a&bogus;b", 9, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("a&", 2, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("&#0;", 4, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("&#xD800;", 8, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("&#x110000;", 10, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("&#12", 4, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("&#;", 3, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("&#99999999999;", 14, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("a\0b", 3, out, sizeof out), WR_EINVAL);
    CHECK_INT(lake__xml_text("0123456789abcdef", 16, out, sizeof out), WR_ELIMIT);
    CHECK_INT(lake__xml_text("0123456789abcde", 15, out, sizeof out), 0);
    CHECK_INT(lake__xml_text("x", 1, out, 0), WR_ELIMIT);
    /* Unclosed element: not found rather than read past the end. */
    size_t pos = 0, vl;
    const char *v;
    CHECK(!lake__xml_find("<Key>abc", 8, &pos, "Key", &v, &vl));
}

static void test_escape(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 64);
    CHECK_INT(lake__xml_escape(&b, "\"etag\" <&'>"), 0);
    CHECK_STR(b.p, "&quot;etag&quot; &lt;&amp;&apos;&gt;");
    wr_buf_clear(&b);
    /* Capped like every buffer. */
    char big[100];
    memset(big, '&', sizeof big);
    big[sizeof big - 1] = '\0';
    CHECK_INT(lake__xml_escape(&b, big), WR_ELIMIT);
    wr_buf_free(&b);
}

/* Random mutations of a listing: the reader must stay inside the buffer. */
static void test_mutated_documents(void)
{
    static const char alphabet[] = "<>/&;#xKeyContents0a ";
    size_t n = strlen(LIST);
    char *doc = malloc(n + 1);
    unsigned x = 99;
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(doc, LIST, n + 1);
        for (int m = 0; m < 1 + iter % 8; m++) {
            x = x * 1103515245u + 12345u;
            doc[(x >> 8) % n] = alphabet[(x >> 20) % (sizeof alphabet - 1)];
        }
        size_t len = (x >> 4) % (n + 1); /* also truncated documents */
        size_t pos = 0, vl;
        const char *v;
        char out[512];
        while (lake__xml_find(doc, len, &pos, "Contents", &v, &vl)) {
            CHECK(v >= doc && v + vl <= doc + len);
            size_t p2 = 0, kl;
            const char *kv;
            if (lake__xml_find(v, vl, &p2, "Key", &kv, &kl)) {
                (void)lake__xml_text(kv, kl, out, sizeof out);
            }
        }
        struct wr_buf q;
        wr_buf_init(&q, 4096);
        (void)lake__canonical_query(&q, doc + (x % n));
        wr_buf_free(&q);
    }
    free(doc);
}

int main(void)
{
    CHECK_RUN(test_find_and_iterate);
    CHECK_RUN(test_error_in_200);
    CHECK_RUN(test_hostile_text);
    CHECK_RUN(test_escape);
    CHECK_RUN(test_mutated_documents);
    return CHECK_DONE();
}
