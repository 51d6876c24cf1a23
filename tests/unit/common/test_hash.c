/* test_hash.c - SHA-256 against published vectors, hex, constant-time equality, and
 * that random bytes are random enough to never repeat. */
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
    CHECK_RUN(test_ct_equal);
    CHECK_RUN(test_random);
    return CHECK_DONE();
}
