/* hash.h - SHA-256, secure random bytes and ids, a keyed hash for hash tables fed by
 * clients, constant-time comparison and wiping of secrets (OpenSSL underneath).
 * Everything here is thread-safe. */
#ifndef WEIR_HASH_H
#define WEIR_HASH_H

#include "text.h" /* wr_hex, wr_unhex */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fills p with n cryptographically secure random bytes; aborts the process if the
 * system cannot provide them (no safe way to go on). Thread-safe. */
void wr_random_bytes(void *p, size_t n);

/* SHA-256 of p[0, len) into out (32 bytes). */
void wr_sha256(const void *p, size_t len, unsigned char out[32]);

/* SHA-256 as 64 lowercase hex characters plus a NUL into out (65 bytes). */
void wr_sha256_hex(const void *p, size_t len, char out[65]);

/* A random id: n random bytes as 2n lowercase hex characters plus a NUL into out
 * (2n + 1 bytes). */
void wr_random_hex(size_t n, char *out);

/* A random 64-bit value (seeds, jitter). */
uint64_t wr_random_u64(void);

/* SipHash-2-4 of p[0, len) under the 128-bit key k. For hash tables whose keys a client
 * chooses: with a key drawn at random per process (wr_random_bytes), nobody outside can
 * craft inputs that collide, so lookups stay O(1) on hostile input. Not a MAC for
 * stored data. */
uint64_t wr_siphash(const unsigned char k[16], const void *p, size_t len);

/* Equality of two n-byte strings in time independent of where they differ. */
bool wr_ct_equal(const void *a, const void *b, size_t n);

/* Overwrites n bytes at p with zeros in a way the compiler may not drop: for keys,
 * passwords and API key plaintext before their memory is freed or reused. NULL is a
 * no-op. */
void wr_cleanse(void *p, size_t n);

/* Wipes the NUL-terminated string s (when not NULL) and frees it. */
void wr_free_secret(char *s);

#endif
