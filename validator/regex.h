/* regex.h - ECMA-262 regular expressions (as JSON Schema's `pattern` needs them) on PCRE2
 * with JIT (private to validator/). A compiled regex is immutable and shared by threads. */
#ifndef WEIR_VAL_REGEX_H
#define WEIR_VAL_REGEX_H

#include "common/err.h"

#include <stdbool.h>
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

/* As val__regex_search for a subject the caller knows is valid UTF-8 (the JSON reader's
 * strings and member names are): no UTF-8 check, JIT matching without pcre2_match's
 * checks, and for anchored ASCII-set patterns (`^/`, `^[A-Z]{2}$`) a byte loop instead of
 * PCRE2, with the same answers. Never pass it anything else: PCRE2's behaviour on
 * invalid UTF-8 without the check is undefined. */
int val__regex_search_utf8(const val__regex *re, const char *s, size_t len);

/* Whether re has the byte-loop program (for tests). */
bool val__regex_has_fast(const val__regex *re);

/* Longest pattern accepted, in bytes (longer ones are refused with WR_ELIMIT). */
#define VAL__REGEX_MAX_PATTERN_BYTES 32768u

/* Checks that pattern is valid ECMA-262 (Unicode mode) without compiling it: 0, or
 * WR_EINVAL / WR_ELIMIT with err filled. This is the `format: "regex"` check; it
 * accepts a few valid patterns PCRE2 cannot compile (variable-length lookbehind). */
int val__regex_check(const char *pattern, size_t len, struct wr_err *err);

/* The PCRE2 pattern text an ECMA-262 pattern translates to (malloc'd, NUL-terminated,
 * length in *out_len; the caller frees), or NULL with err filled. For tests and logs. */
char *val__regex_translate(const char *pattern, size_t len, size_t *out_len, struct wr_err *err);

/* Compiles a pattern already in PCRE2 syntax (UTF mode, same limits and JIT as
 * val__regex_compile); for validator-internal character tests. NULL + err on failure. */
val__regex *val__regex_compile_pcre2(const char *pattern, size_t len, struct wr_err *err);

/* Frees the calling thread's match data now instead of at thread exit (for tests and
 * for the main thread, whose thread-exit destructors do not run). */
void val__regex_thread_cleanup(void);

#endif
