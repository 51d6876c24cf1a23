/* hash.c - OpenSSL-backed hashing and randomness behind hash.h. */
#include "hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

void wr_random_bytes(void *p, size_t n)
{
    if (n > (size_t)0x7fffffff || RAND_bytes(p, (int)n) != 1) {
        fputs("weir: no secure random bytes available\n", stderr);
        abort();
    }
}

void wr_sha256(const void *p, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    if (EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) != 1) {
        fputs("weir: SHA-256 failed\n", stderr);
        abort();
    }
}

void wr_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void wr_sha256_hex(const void *p, size_t len, char out[65])
{
    unsigned char d[32];
    wr_sha256(p, len, d);
    wr_hex(d, 32, out);
}

bool wr_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
