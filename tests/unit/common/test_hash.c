/* test_hash.c - SHA-256 against published vectors, hex both ways, SipHash against the
 * reference vectors, constant-time equality, wiping, random ids, and that random bytes
 * are random enough to never repeat. */
#include "check.h"

#include "common/hash.h"

#include <stdlib.h>

static void test_sha256_vectors(void)
{
    /* FIPS 180-2 / NIST examples. */
    static const struct {
        const char *in;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"The quick brown fox jumps over the lazy dog",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[65];
        wr_sha256_hex(v[i].in, strlen(v[i].in), out);
        CHECK_STR(out, v[i].hex);
    }
    /* One million 'a'. */
    char *m = malloc(1000000);
    CHECK(m != NULL);
    if (m) {
        memset(m, 'a', 1000000);
        char out[65];
        wr_sha256_hex(m, 1000000, out);
        CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free(m);
    }
    /* Binary input with NUL bytes, and the raw digest agrees with the hex one. */
    unsigned char raw[32];
    char hex[65], hex2[65];
    wr_sha256("\0\0\0", 3, raw);
    wr_hex(raw, 32, hex);
    wr_sha256_hex("\0\0\0", 3, hex2);
    CHECK_STR(hex, hex2);
    CHECK_STR(hex, "709e80c88487a2411e1ee4dfb9f22a861492d20c4765150c0c794abd70f8147c");
}

static void test_hex(void)
{
    unsigned char b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[13];
    wr_hex(b, sizeof b, out);
    CHECK_STR(out, "00017f80abff");
    wr_hex(b, 0, out);
    CHECK_STR(out, "");
    unsigned char back[6];
    CHECK_INT(wr_unhex("00017F80abFF", 6, back), 0);
    CHECK_MEM(back, 6, b, 6);
    CHECK_INT(wr_unhex("0g", 1, back), -1);
    CHECK_INT(wr_unhex("x0", 1, back), -1);
    CHECK_INT(wr_unhex("", 0, back), 0);
}

static void test_utf8_cut(void)
{
    const char *s = "ab\xc3\xa9\xe2\x82\xac"; /* "ab", U+00E9 (2 bytes), U+20AC (3 bytes) */
    CHECK_INT(wr_utf8_cut(s, 7, 100), 7);     /* fits: all of it */
    CHECK_INT(wr_utf8_cut(s, 7, 7), 7);
    CHECK_INT(wr_utf8_cut(s, 7, 6), 4); /* inside the euro sign: before it */
    CHECK_INT(wr_utf8_cut(s, 7, 5), 4);
    CHECK_INT(wr_utf8_cut(s, 7, 3), 2); /* inside the e-acute */
    CHECK_INT(wr_utf8_cut(s, 7, 2), 2);
    CHECK_INT(wr_utf8_cut(s, 7, 0), 0);
    /* A run of continuation bytes is no character: at most 3 bytes back. */
    const char *junk = "a\x80\x80\x80\x80\x80";
    CHECK_INT(wr_utf8_cut(junk, 6, 5), 2);
}

static void test_siphash_vectors(void)
{
    /* The reference implementation's vectors: key 00..0f, message 00..(n-1). */
    unsigned char k[16], m[64];
    for (int i = 0; i < 16; i++) {
        k[i] = (unsigned char)i;
    }
    for (int i = 0; i < 64; i++) {
        m[i] = (unsigned char)i;
    }
    CHECK(wr_siphash(k, m, 0) == 0x726fdb47dd0e0e31ULL);
    CHECK(wr_siphash(k, m, 1) == 0x74f839c593dc67fdULL);
    CHECK(wr_siphash(k, m, 7) == 0xab0200f58b01d137ULL);
    CHECK(wr_siphash(k, m, 8) == 0x93f5f5799a932462ULL);
    CHECK(wr_siphash(k, m, 15) == 0xa129ca6149be45e5ULL);
    CHECK(wr_siphash(k, m, 63) == 0x958a324ceb064572ULL);
    /* Another key, another hash. */
    k[0] ^= 1;
    CHECK(wr_siphash(k, m, 15) != 0xa129ca6149be45e5ULL);
}

static void test_random_ids(void)
{
    char a[33], b[33], big[201];
    wr_random_hex(16, a);
    wr_random_hex(16, b);
    CHECK_INT(strlen(a), 32);
    CHECK(strcmp(a, b) != 0);
    for (int i = 0; i < 32; i++) {
        CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
    }
    wr_random_hex(100, big); /* more than one internal chunk */
    CHECK_INT(strlen(big), 200);
    CHECK(strspn(big + 64, "0") < 100);
    wr_random_hex(0, a);
    CHECK_STR(a, "");
    CHECK(wr_random_u64() != wr_random_u64());
}

static void test_cleanse(void)
{
    unsigned char k[32];
    memset(k, 0xab, sizeof k);
    wr_cleanse(k, sizeof k);
    for (size_t i = 0; i < sizeof k; i++) {
        CHECK_INT(k[i], 0);
    }
    wr_cleanse(NULL, 5);
    char *s = strdup("weir_secret");
    wr_free_secret(s); /* wiped and freed: ASan sees no leak */
    wr_free_secret(NULL);
}

static void test_ct_equal(void)
{
    CHECK(wr_ct_equal("abc", "abc", 3));
    CHECK(!wr_ct_equal("abc", "abd", 3));
    CHECK(!wr_ct_equal("xbc", "abc", 3));
    CHECK(wr_ct_equal("abc", "abd", 2)); /* only n bytes compared */
    CHECK(wr_ct_equal("", "", 0));
    CHECK(wr_ct_equal("a\0b", "a\0b", 3));
    CHECK(!wr_ct_equal("a\0b", "a\0c", 3));
    unsigned char x[64], y[64];
    memset(x, 7, sizeof x);
    memcpy(y, x, sizeof y);
    CHECK(wr_ct_equal(x, y, 64));
    for (int i = 0; i < 64; i++) {
        y[i] ^= 0x80;
        CHECK(!wr_ct_equal(x, y, 64));
        y[i] ^= 0x80;
    }
}

static void test_random(void)
{
    unsigned char a[32], b[32], zero[32] = {0};
    wr_random_bytes(a, sizeof a);
    wr_random_bytes(b, sizeof b);
    CHECK(memcmp(a, b, 32) != 0);
    CHECK(memcmp(a, zero, 32) != 0);
    wr_random_bytes(a, 0); /* nothing to do, no abort */
    /* Roughly half the bits set over 64 KiB (a broken source would be far off). */
    static unsigned char big[65536];
    wr_random_bytes(big, sizeof big);
    long ones = 0;
    for (size_t i = 0; i < sizeof big; i++) {
        ones += __builtin_popcount(big[i]);
    }
    CHECK(ones > 262144 - 3000 && ones < 262144 + 3000);
}

int main(void)
{
    CHECK_RUN(test_sha256_vectors);
    CHECK_RUN(test_hex);
    CHECK_RUN(test_utf8_cut);
    CHECK_RUN(test_siphash_vectors);
    CHECK_RUN(test_random_ids);
    CHECK_RUN(test_cleanse);
    CHECK_RUN(test_ct_equal);
    CHECK_RUN(test_random);
    return CHECK_DONE();
}
