/* text.h - small byte-level text helpers every parser needs: UTF-8 decoding that refuses
 * what RFC 3629 forbids, and hex in both directions (the one hex codec of weir: ids,
 * digests, percent-escapes). Pure functions, thread-safe. */
#ifndef WEIR_TEXT_H
#define WEIR_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s[*i] (len bytes in all) into *cp and advances *i past it.
 * Returns false, leaving *i, for overlongs, surrogates, values above U+10FFFF, stray
 * continuation bytes and truncated sequences. *i must be below len. */
bool wr_utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp);

/* True when p[0, len) is well-formed UTF-8. */
bool wr_utf8_valid(const void *p, size_t len);

/* How many of the len bytes at s to keep to stay within max bytes without cutting a
 * character in two: min(len, max), moved back over at most 3 continuation bytes when it
 * falls inside a sequence (a longer run of them is no character). */
size_t wr_utf8_cut(const char *s, size_t len, size_t max);

/* The value of a hex digit (either case), or -1. */
int wr_hexval(int c);

/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void wr_hex(const unsigned char *p, size_t n, char *out);

/* Decodes exactly 2n hex digits (either case) from s into out (n bytes). Returns 0, or
 * -1 when s has a non-hex character (out is then partly written). */
int wr_unhex(const char *s, size_t n, unsigned char *out);

#endif
