/* regex.h - ECMA-262 regular expressions (as JSON Schema's `pattern` needs them) on PCRE2
 * with JIT (private to validator/). A compiled regex is immutable and shared by threads. */
#ifndef WEIR_VAL_REGEX_H
#define WEIR_VAL_REGEX_H

#include "common/err.h"

#include <stddef.h>

typedef struct val__regex val__regex;

/* Compiles an ECMA-262 pattern (len bytes of UTF-8, Unicode mode), translating what
 * differs from PCRE2 (\d \w \s classes, \p{...}, etc.). Returns NULL and fills err with
 * the reason when the pattern is not a valid ECMA-262 regex or out of memory. */
val__regex *val__regex_compile(const char *pattern, size_t len, struct wr_err *err);

/* Frees; NULL is a no-op. */
void val__regex_free(val__regex *re);

/* Searches s (len bytes of UTF-8) for a match anywhere (patterns are not anchored).
 * Returns 1 on a match, 0 on none, negative when the match was abandoned (match or depth
 * limit: a catastrophic pattern) or failed. Thread-safe; after the first call on a
 * thread it allocates nothing (per-thread match data). */
int val__regex_search(const val__regex *re, const char *s, size_t len);

#endif
