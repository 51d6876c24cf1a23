/* test_spool_crc32c.c - CRC-32C of the spool framing (common/crc32c): the standard check
 * value, known vectors, chaining, and the hardware path equal to the table path. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "common/crc32c.h"

static void test_check_value(void)
{
    CHECK_INT(wr_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_INT(wr_crc32c_portable(0, "123456789", 9), 0xE3069283u);
}

/* RFC 3720 (iSCSI) appendix B.4 vectors. */
static void test_rfc3720_vectors(void)
{
    unsigned char buf[48];
    memset(buf, 0, 32);
    CHECK_INT(wr_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    CHECK_INT(wr_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) {
        buf[i] = (unsigned char)i;
    }
    CHECK_INT(wr_crc32c(0, buf, 32), 0x46DD794Eu);
    CHECK_INT(wr_crc32c_portable(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) {
        buf[i] = (unsigned char)(31 - i);
    }
    CHECK_INT(wr_crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_empty_and_null(void)
{
    CHECK_INT(wr_crc32c(0, NULL, 0), 0);
    CHECK_INT(wr_crc32c(0x1234, NULL, 0), 0x1234);
}

static void test_chaining(void)
{
    const char *s = "The quick brown fox jumps over the lazy dog, twice over.";
    size_t n = strlen(s);
    uint32_t whole = wr_crc32c(0, s, n);
    for (size_t cut = 0; cut <= n; cut++) {
        CHECK_INT(wr_crc32c(wr_crc32c(0, s, cut), s + cut, n - cut), whole);
        CHECK_INT(wr_crc32c_portable(wr_crc32c_portable(0, s, cut), s + cut, n - cut), whole);
    }
}

/* Every alignment and every short length, plus long buffers: hardware == table. */
static void test_hw_matches_portable(void)
{
    size_t cap = 70000;
    unsigned char *buf = malloc(cap);
    uint32_t x = 12345;
    for (size_t i = 0; i < cap; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    int mismatches = 0;
    for (size_t align = 0; align < 8; align++) {
        for (size_t len = 0; len < 300; len++) {
            if (wr_crc32c(0, buf + align, len) != wr_crc32c_portable(0, buf + align, len)) {
                mismatches++;
            }
        }
        size_t big = cap - 8;
        if (wr_crc32c(7, buf + align, big) != wr_crc32c_portable(7, buf + align, big)) {
            mismatches++;
        }
    }
    CHECK_INT(mismatches, 0);
    printf("crc32c hardware path: %s\n", wr_crc32c_hw() ? "yes" : "no");
    free(buf);
}

int main(void)
{
    CHECK_RUN(test_check_value);
    CHECK_RUN(test_rfc3720_vectors);
    CHECK_RUN(test_empty_and_null);
    CHECK_RUN(test_chaining);
    CHECK_RUN(test_hw_matches_portable);
    return CHECK_DONE();
}
