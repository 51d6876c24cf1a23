/* hash.c - OpenSSL-backed hashing and randomness, and SipHash, behind hash.h. */
#include "hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wr_random_bytes(void *p, size_t n)
{
    if (n > (size_t)0x7fffffff || RAND_bytes(p, (int)n) != 1) {
        fputs("weir: no secure random bytes available\n", stderr);
        abort();
    }
}

/* EVP_sha256() makes OpenSSL 3 look the algorithm up in its providers on every digest:
 * 300 of the 500 ns that hashing a presented API key took on each request. Fetched once,
 * it is not looked up again (kept for the life of the process). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void wr_sha256(const void *p, size_t len, unsigned char out[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    unsigned int n = 32;
    if (EVP_Digest(p, len, out, &n, sha256_md ? sha256_md : EVP_sha256(), NULL) != 1) {
        fputs("weir: SHA-256 failed\n", stderr);
        abort();
    }
}

void wr_random_hex(size_t n, char *out)
{
    unsigned char raw[32];
    size_t done = 0;
    do {
        size_t k = n - done < sizeof raw ? n - done : sizeof raw;
        wr_random_bytes(raw, k);
        wr_hex(raw, k, out + 2 * done);
        done += k;
    } while (done < n);
    OPENSSL_cleanse(raw, sizeof raw);
}

uint64_t wr_random_u64(void)
{
    uint64_t v;
    wr_random_bytes(&v, sizeof v);
    return v;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

/* SipHash-2-4 as Aumasson and Bernstein define it (2 compression rounds per 8-byte word,
 * 4 finalisation rounds, the length in the top byte of the last word). */
uint64_t wr_siphash(const unsigned char k[16], const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t k0 = le64(k), k1 = le64(k + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = le64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++) {
        b |= (uint64_t)p[whole + i] << (8 * i);
    }
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
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

void wr_cleanse(void *p, size_t n)
{
    if (p && n) {
        OPENSSL_cleanse(p, n);
    }
}

void wr_free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}
