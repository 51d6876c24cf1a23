/* test_gzip.c - the one inflation mechanism (common/gzip.h): strict and keep-prefix modes,
 * with and without the libdeflate inflater (same bytes either way), concatenated members,
 * damage of every kind, empty input and the exact cap. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "common/err.h"
#include "common/gzip.h"

/* gzip of p[0, n) into out (caller frees); returns its length. */
static size_t gz(const char *p, size_t n, unsigned char **out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    *out = malloc(cap);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static char *text(size_t n)
{
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        t[i] = (i % 61 == 60) ? '\n' : (char)('a' + (i * 7 + i / 13) % 26);
    }
    t[n] = 0;
    return t;
}

/* Inflates with both decoders and checks they agree; returns the rc. */
static int both(wr_inflater *z, const unsigned char *in, size_t len, enum wr_inflate_mode m,
                size_t cap, struct wr_buf *out)
{
    struct wr_buf a, b;
    wr_buf_init(&a, cap);
    wr_buf_init(&b, cap);
    wr_buf_append(&a, "x", 1);
    wr_buf_append(&b, "x", 1);
    int ra = wr_inflate_gzip(z, in, len, m, &a);
    int rb = wr_inflate_gzip(NULL, in, len, m, &b);
    CHECK_INT(ra, rb);
    CHECK_MEM(a.p, a.len, b.p, b.len);
    CHECK(a.p[a.len] == '\0');
    wr_buf_free(&b);
    *out = a;
    return ra;
}

static void test_clean_and_concatenated(void)
{
    wr_inflater *z = wr_inflater_create();
    CHECK(z != NULL);
    size_t n = 300000;
    char *t = text(n);
    unsigned char *g1, *g2;
    size_t l1 = gz(t, n, &g1), l2 = gz(t, 1000, &g2);
    unsigned char *cat = malloc(l1 + l2);
    memcpy(cat, g1, l1);
    memcpy(cat + l1, g2, l2);
    struct wr_buf o;
    for (int m = 0; m < 2; m++) {
        CHECK_INT(both(z, g1, l1, (enum wr_inflate_mode)m, 1 << 20, &o), 0);
        CHECK_INT(o.len, n + 1);
        CHECK_MEM(o.p + 1, n, t, n);
        wr_buf_free(&o);
        CHECK_INT(both(z, cat, l1 + l2, (enum wr_inflate_mode)m, 1 << 20, &o), 0);
        CHECK_INT(o.len, n + 1001);
        CHECK_MEM(o.p + 1 + n, 1000, t, 1000);
        wr_buf_free(&o);
    }
    /* The cap: exactly the output fits; one byte less does not (nothing appended). */
    CHECK_INT(both(z, g1, l1, WR_INFLATE_STRICT, n + 1, &o), 0);
    wr_buf_free(&o);
    CHECK_INT(both(z, g1, l1, WR_INFLATE_KEEP_PREFIX, n, &o), WR_ELIMIT);
    CHECK_INT(o.len, 1);
    wr_buf_free(&o);
    free(cat);
    free(g1);
    free(g2);
    free(t);
    wr_inflater_destroy(z);
}

static void test_damage(void)
{
    wr_inflater *z = wr_inflater_create();
    size_t n = 200000;
    char *t = text(n);
    unsigned char *g;
    size_t l = gz(t, n, &g);
    struct wr_buf o;
    /* Truncated: strict appends nothing, keep-prefix a true prefix of the text. */
    CHECK_INT(both(z, g, l / 2, WR_INFLATE_STRICT, 1 << 20, &o), WR_EINVAL);
    CHECK_INT(o.len, 1);
    wr_buf_free(&o);
    CHECK_INT(both(z, g, l / 2, WR_INFLATE_KEEP_PREFIX, 1 << 20, &o), WR_EINVAL);
    CHECK(o.len > 1 && o.len < n + 1);
    CHECK_MEM(o.p + 1, o.len - 1, t, o.len - 1);
    wr_buf_free(&o);
    /* A bad CRC: every byte came out, the check fails. */
    g[l - 6] ^= 0x55;
    CHECK_INT(both(z, g, l, WR_INFLATE_KEEP_PREFIX, 1 << 20, &o), WR_EINVAL);
    CHECK_MEM(o.p + 1, o.len - 1, t, o.len - 1);
    wr_buf_free(&o);
    g[l - 6] ^= 0x55;
    /* Trailing garbage after a good member. */
    unsigned char *tg = malloc(l + 5);
    memcpy(tg, g, l);
    memcpy(tg + l, "junk!", 5);
    CHECK_INT(both(z, tg, l + 5, WR_INFLATE_STRICT, 1 << 20, &o), WR_EINVAL);
    wr_buf_free(&o);
    CHECK_INT(both(z, tg, l + 5, WR_INFLATE_KEEP_PREFIX, 1 << 20, &o), WR_EINVAL);
    CHECK_INT(o.len, n + 1);
    wr_buf_free(&o);
    /* Not gzip at all, and empty input. */
    CHECK_INT(both(z, (const unsigned char *)"hello", 5, WR_INFLATE_KEEP_PREFIX, 1 << 20, &o),
              WR_EINVAL);
    CHECK_INT(o.len, 1);
    wr_buf_free(&o);
    CHECK_INT(both(z, g, 0, WR_INFLATE_STRICT, 1 << 20, &o), WR_EINVAL);
    wr_buf_free(&o);
    CHECK_INT(both(z, g, 0, WR_INFLATE_KEEP_PREFIX, 1 << 20, &o), 0);
    CHECK_INT(o.len, 1);
    wr_buf_free(&o);
    /* wr_gunzip is the strict mode. */
    struct wr_buf s;
    wr_buf_init(&s, 1 << 20);
    CHECK_INT(wr_gunzip(g, l, &s), 0);
    CHECK_MEM(s.p, s.len, t, n);
    wr_buf_free(&s);
    free(tg);
    free(g);
    free(t);
    wr_inflater_destroy(z);
}

static void test_bomb_stops_at_cap(void)
{
    size_t n = 64u << 20;
    char *zeros = calloc(1, n);
    unsigned char *g;
    size_t l = gz(zeros, n, &g);
    free(zeros);
    wr_inflater *z = wr_inflater_create();
    struct wr_buf o;
    CHECK_INT(both(z, g, l, WR_INFLATE_KEEP_PREFIX, 1 << 20, &o), WR_ELIMIT);
    CHECK_INT(o.len, 1);
    wr_buf_free(&o);
    wr_inflater_destroy(z);
    free(g);
}

int main(void)
{
    CHECK_RUN(test_clean_and_concatenated);
    CHECK_RUN(test_damage);
    CHECK_RUN(test_bomb_stops_at_cap);
    return CHECK_DONE();
}
