/* hash.h - SHA-256, secure random bytes and constant-time comparison (OpenSSL). */
#ifndef WEIR_HASH_H
#define WEIR_HASH_H

#include <stdbool.h>
#include <stddef.h>

/* Fills p with n cryptographically secure random bytes; aborts the process if the
 * system cannot provide them (no safe way to go on). Thread-safe. */
void wr_random_bytes(void *p, size_t n);

/* SHA-256 of p[0, len) into out (32 bytes). */
void wr_sha256(const void *p, size_t len, unsigned char out[32]);

/* SHA-256 as 64 lowercase hex characters plus a NUL into out (65 bytes). */
void wr_sha256_hex(const void *p, size_t len, char out[65]);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void wr_hex(const unsigned char *p, size_t n, char *out);

/* Equality of two n-byte strings in time independent of where they differ. */
bool wr_ct_equal(const void *a, const void *b, size_t n);

#endif
