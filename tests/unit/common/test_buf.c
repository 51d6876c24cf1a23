/* test_buf.c - the capped buffer (appends, printf, JSON escaping, the cap) and the
 * arena (alignment, blocks, cap, reset, hostile sizes). */
#include "check.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

static void test_buf_basic(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 1024);
    CHECK(b.p == NULL);
    CHECK_INT(wr_buf_append(&b, "", 0), 0); /* an empty append still gives a string */
    CHECK(b.p != NULL);
    CHECK_STR(b.p, "");
    CHECK_INT(wr_buf_append(&b, "abc", 3), 0);
    CHECK_INT(wr_buf_putc(&b, 'd'), 0);
    CHECK_INT(wr_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    CHECK_STR(b.p, "abcd-42-x");
    CHECK_INT(b.len, 9);
    wr_buf_clear(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(b.p, "");
    CHECK_INT(wr_buf_append(&b, "z", 1), 0);
    size_t len = 0;
    char *p = wr_buf_take(&b, &len);
    CHECK_STR(p, "z");
    CHECK_INT(len, 1);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
    free(p);
    wr_buf_free(&b);
    wr_buf_free(&b); /* twice is harmless */
    wr_buf_clear(&b); /* on an empty buffer too */
}

/* wr_buf_put_u64 against printf's %llu, at the edges and around every power of ten. */
static void test_buf_put_u64(void)
{
    uint64_t vals[64] = {0, 1, 9, UINT64_MAX, UINT64_MAX - 1};
    size_t n = 5;
    for (uint64_t p = 10; n + 2 < sizeof vals / sizeof vals[0]; p *= 10) {
        vals[n++] = p - 1;
        vals[n++] = p;
        if (p > UINT64_MAX / 10) {
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct wr_buf b;
        wr_buf_init(&b, 64);
        CHECK_INT(wr_buf_put_u64(&b, vals[i]), 0);
        char want[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)vals[i]);
        CHECK_STR(b.p, want);
        CHECK_INT(b.len, strlen(want));
        wr_buf_free(&b);
    }
    struct wr_buf b; /* over the cap: the sticky error, nothing appended */
    wr_buf_init(&b, 4);
    CHECK(wr_buf_put_u64(&b, 12345) != 0);
    CHECK_INT(b.len, 0);
    wr_buf_free(&b);
}

static void test_buf_cap(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 10);
    CHECK_INT(wr_buf_append(&b, "0123456789", 10), 0);
    CHECK_INT(wr_buf_putc(&b, 'x'), WR_ELIMIT);
    CHECK_INT(b.len, 10); /* nothing appended on refusal */
    CHECK_STR(b.p, "0123456789");
    /* The refusal sticks: later appends fail too, so one check at the end sees it. */
    CHECK_INT(b.err, WR_ELIMIT);
    CHECK_INT(wr_buf_append(&b, "", 0), WR_ELIMIT);
    CHECK_INT(wr_buf_printf(&b, "%d", 1), WR_ELIMIT);
    CHECK_INT(wr_buf_json_escape(&b, "a", 1), WR_ELIMIT);
    CHECK_STR(b.p, "0123456789");
    /* Truncating puts the buffer back as it was at that length, error cleared. */
    wr_buf_truncate(&b, 4);
    CHECK_INT(b.err, 0);
    CHECK_STR(b.p, "0123");
    CHECK_INT(wr_buf_putc(&b, '4'), 0);
    CHECK_STR(b.p, "01234");
    wr_buf_clear(&b);
    CHECK_INT(wr_buf_append(&b, "01234567890", 11), WR_ELIMIT);
    CHECK_INT(b.len, 0);
    CHECK_INT(wr_buf_printf(&b, "%s", "0123456789a"), WR_ELIMIT);
    CHECK_INT(b.len, 0);
    wr_buf_clear(&b);
    CHECK_INT(wr_buf_printf(&b, "%010d", 7), 0);
    CHECK_STR(b.p, "0000000007");
    /* Sizes that would overflow the arithmetic are refused, not wrapped. */
    CHECK_INT(wr_buf_reserve(&b, SIZE_MAX), WR_ELIMIT);
    wr_buf_truncate(&b, b.len);
    CHECK_INT(wr_buf_reserve(&b, SIZE_MAX - 5), WR_ELIMIT);
    wr_buf_truncate(&b, b.len);
    CHECK_INT(wr_buf_append(&b, "x", SIZE_MAX), WR_ELIMIT);
    wr_buf_free(&b);

    /* Growth across many appends keeps the content intact. */
    wr_buf_init(&b, 1 << 20);
    for (int i = 0; i < 100000; i++) {
        if (wr_buf_putc(&b, (char)('a' + i % 26)) != 0) {
            CHECK(0);
            break;
        }
    }
    CHECK_INT(b.len, 100000);
    CHECK(b.cap > b.len);
    CHECK(b.p[26] == 'a' && b.p[99999] == (char)('a' + 99999 % 26) && b.p[100000] == '\0');
    wr_buf_free(&b);

    /* A zero cap takes nothing but the empty string. */
    wr_buf_init(&b, 0);
    CHECK_INT(wr_buf_append(&b, "", 0), 0);
    CHECK_INT(wr_buf_putc(&b, 'a'), WR_ELIMIT);
    wr_buf_free(&b);

    /* The allocation never passes the cap (plus the NUL). */
    wr_buf_init(&b, 100);
    CHECK_INT(wr_buf_append(&b, "0123456789012345678901234567890123456789012345678901234567890123456789", 70), 0);
    CHECK(b.cap <= 101);
    wr_buf_free(&b);
}

static void test_json_escape(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    const char in[] = "a\"b\\c\nd\re\tf\bg\fh\x01i\x1fj\x7fk/l\xc3\xa9m";
    CHECK_INT(wr_buf_json_escape(&b, in, sizeof in - 1), 0);
    CHECK_STR(b.p, "a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh\\u0001i\\u001fj\x7fk/l\xc3\xa9m");
    /* Embedded NUL bytes are escaped, not truncated. */
    wr_buf_clear(&b);
    CHECK_INT(wr_buf_json_escape(&b, "x\0y", 3), 0);
    CHECK_MEM(b.p, b.len, "x\\u0000y", 8);
    wr_buf_clear(&b);
    CHECK_INT(wr_buf_json_escape(&b, "", 0), 0);
    CHECK_INT(b.len, 0);
    /* Every control byte becomes a valid escape. */
    wr_buf_clear(&b);
    char ctl[32];
    for (int i = 0; i < 32; i++) {
        ctl[i] = (char)i;
    }
    CHECK_INT(wr_buf_json_escape(&b, ctl, 32), 0);
    size_t backslashes = 0;
    for (size_t i = 0; i < b.len; i++) {
        CHECK((unsigned char)b.p[i] >= 0x20);
        backslashes += b.p[i] == '\\';
    }
    CHECK_INT(backslashes, 32);
    wr_buf_free(&b);

    /* Bytes that are not UTF-8 become U+FFFD; whole characters pass (2, 3 and 4 bytes). */
    wr_buf_clear(&b);
    CHECK_INT(wr_buf_json_escape(&b, "a\xff" "b\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3", 13), 0);
    CHECK_STR(b.p, "a\\ufffdb\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\\ufffd");
    wr_buf_clear(&b);
    CHECK_INT(wr_buf_json_escape(&b, "\xed\xa0\x80\xc0\xaf", 5), 0); /* surrogate, overlong */
    CHECK_STR(b.p, "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
    wr_buf_free(&b);
    wr_buf_init(&b, 4096);

    /* The cap holds for escapes: 6 bytes per control byte. */
    wr_buf_init(&b, 11);
    CHECK_INT(wr_buf_json_escape(&b, "\x01\x02", 2), WR_ELIMIT);
    CHECK(b.len <= 11);
    wr_buf_free(&b);
    wr_buf_init(&b, 12);
    CHECK_INT(wr_buf_json_escape(&b, "\x01\x02", 2), 0);
    CHECK_STR(b.p, "\\u0001\\u0002");
    wr_buf_free(&b);
}

static void test_arena_basic(void)
{
    wr_arena *a = wr_arena_create(256, 0);
    CHECK(a != NULL);
    if (!a) {
        return;
    }
    CHECK_INT(wr_arena_used(a), 0);
    void *p1 = wr_arena_alloc(a, 1);
    void *p2 = wr_arena_alloc(a, 3);
    void *p0 = wr_arena_alloc(a, 0);
    CHECK(p1 && p2 && p0 && p1 != p2 && p2 != p0);
    CHECK((uintptr_t)p1 % alignof(max_align_t) == 0);
    CHECK((uintptr_t)p2 % alignof(max_align_t) == 0);
    CHECK((uintptr_t)p0 % alignof(max_align_t) == 0);
    memset(p1, 0xaa, 1);
    memset(p2, 0xbb, 3);
    CHECK(wr_arena_used(a) >= 4);
    /* Bigger than a block: gets its own block. */
    unsigned char *big = wr_arena_alloc(a, 10000);
    CHECK(big != NULL);
    if (big) {
        memset(big, 0xcc, 10000);
    }
    CHECK(*(unsigned char *)p1 == 0xaa);
    char *s = wr_arena_strndup(a, "hello world", 5);
    CHECK_STR(s, "hello");
    char *e = wr_arena_strndup(a, NULL, 0);
    CHECK_STR(e, "");
    /* Many small allocations across blocks stay distinct and writable. */
    for (int i = 0; i < 5000; i++) {
        int *x = wr_arena_alloc(a, sizeof *x);
        if (!x) {
            CHECK(0);
            break;
        }
        *x = i;
    }
    size_t used = wr_arena_used(a);
    CHECK(used >= 10000 + 5000 * sizeof(int));
    wr_arena_reset(a);
    CHECK_INT(wr_arena_used(a), 0);
    /* After a reset the first block is reused. */
    void *q = wr_arena_alloc(a, 1);
    CHECK(q != NULL);
    wr_arena_reset(a);
    wr_arena_reset(a);
    wr_arena_destroy(a);
    wr_arena_destroy(NULL);
}

static void test_arena_cap(void)
{
    wr_arena *a = wr_arena_create(1024, 4096);
    CHECK(a != NULL);
    if (!a) {
        return;
    }
    size_t got = 0;
    for (int i = 0; i < 100; i++) {
        void *p = wr_arena_alloc(a, 512);
        if (!p) {
            break;
        }
        got += 512;
    }
    CHECK(got <= 4096);
    CHECK(got >= 2048);
    CHECK(wr_arena_alloc(a, 512) == NULL); /* stays refused */
    CHECK(wr_arena_alloc(a, 5000) == NULL);
    wr_arena_reset(a);
    /* The cap counts again from the kept block after a reset. */
    CHECK(wr_arena_alloc(a, 512) != NULL);
    CHECK(wr_arena_alloc(a, 2048) != NULL);
    wr_arena_destroy(a);

    /* Hostile sizes: refused, never wrapped into a small allocation. */
    a = wr_arena_create(0, 1 << 20);
    CHECK(a != NULL);
    if (!a) {
        return;
    }
    CHECK(wr_arena_alloc(a, SIZE_MAX) == NULL);
    CHECK(wr_arena_alloc(a, SIZE_MAX - 8) == NULL);
    CHECK(wr_arena_alloc(a, SIZE_MAX - 64) == NULL);
    CHECK(wr_arena_alloc(a, SIZE_MAX / 2) == NULL);
    CHECK(wr_arena_alloc(a, (1 << 20) + 1) == NULL);
    CHECK(wr_arena_strndup(a, "x", SIZE_MAX) == NULL);
    CHECK(wr_arena_alloc(a, 100) != NULL);
    wr_arena_destroy(a);
}

static void test_arena_uncapped_wrap(void)
{
    /* Without a cap, a request near SIZE_MAX must fail before malloc, not wrap the
     * block header arithmetic into a tiny block. */
    wr_arena *a = wr_arena_create(64, 0);
    CHECK(a != NULL);
    if (!a) {
        return;
    }
    CHECK(wr_arena_alloc(a, SIZE_MAX - 64) == NULL);
    CHECK(wr_arena_alloc(a, SIZE_MAX - 1024) == NULL);
    CHECK(wr_arena_alloc(a, SIZE_MAX - 16) == NULL);
    CHECK(wr_arena_alloc(a, SIZE_MAX - 20) == NULL);
    CHECK(wr_arena_alloc(a, SIZE_MAX - 40) == NULL);
    wr_arena_destroy(a);
}

int main(void)
{
    CHECK_RUN(test_buf_basic);
    CHECK_RUN(test_buf_put_u64);
    CHECK_RUN(test_buf_cap);
    CHECK_RUN(test_json_escape);
    CHECK_RUN(test_arena_basic);
    CHECK_RUN(test_arena_cap);
    CHECK_RUN(test_arena_uncapped_wrap);
    return CHECK_DONE();
}
