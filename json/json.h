/* json.h - weir's strict RFC 8259 reader for the event stream (gateway, curator).
 * One pass into a caller's arena, no malloc per node; strings and numbers keep their
 * span in the input so accepted payloads are copied, never re-serialized.
 * jansson stays for small, rare documents (schemas, config, responses). */
#ifndef WEIR_JSON_H
#define WEIR_JSON_H

#include "../common/arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum js_type {
    JS_NULL,
    JS_FALSE,
    JS_TRUE,
    JS_INT,    /* an integer literal (no fraction, no exponent) that fits int64: u.i */
    JS_REAL,   /* any other number: u.d; the literal is input[src_off, +src_len) */
    JS_STRING, /* u.s, n bytes of UTF-8, not NUL-terminated, may contain U+0000 */
    JS_ARRAY,  /* u.items[0..n) */
    JS_OBJECT  /* u.members[0..n), in input order, names unique */
};

enum {
    JS_F_ESCAPED = 1,  /* string: had escapes, so u.s points into the arena, not the input */
    JS_F_NONASCII = 2, /* string: has bytes >= 0x80, so n is not the code point count */
    JS_F_BIGINT = 4    /* JS_REAL whose literal is an integer too large for int64 */
};

struct js_member;

struct js_val {
    uint8_t type;     /* enum js_type */
    uint8_t flags;    /* JS_F_* */
    uint32_t n;       /* string bytes, array items, object members */
    uint32_t src_off; /* the value's literal in the input: offset ... */
    uint32_t src_len; /* ... and length (strings include their quotes) */
    union {
        int64_t i;
        double d;
        const char *s;
        struct js_val *items;
        struct js_member *members;
    } u;
};

struct js_member {
    const char *name; /* n bytes, not NUL-terminated; decoded (escapes resolved) */
    uint32_t name_len;
    struct js_val val;
};

struct js_opts {
    unsigned max_depth; /* arrays/objects nested deeper are refused; 0 = 64 */
};

enum {
    JS_ESYNTAX = -100, /* not JSON: err says where and why */
    JS_EDEPTH = -101,  /* nested deeper than max_depth */
    JS_EUTF8 = -102,   /* invalid UTF-8 (or a lone surrogate escape) */
    JS_EDUPKEY = -103  /* an object names a member twice */
};

struct js_error {
    size_t offset;     /* byte offset of the fault in the input */
    unsigned line;     /* 1-based */
    unsigned column;   /* 1-based, in bytes */
    char msg[96];
};

/* Parses exactly one JSON value filling p[0, len) (whitespace around it allowed).
 * Nodes and decoded strings go into arena a; unescaped strings point into p, so p must
 * outlive the result. Returns 0 and sets *out, or a negative JS_E* code (or WR_ENOMEM
 * when the arena's cap is reached) and fills err. Thread-safe for distinct arenas.
 * Inputs of 4 GiB or more are refused (offsets are 32-bit).
 * Details: empty arrays/objects have n == 0 and a NULL items/members pointer; a number
 * whose magnitude overflows a double (1e400) is refused (JS_ESYNTAX), one that underflows
 * becomes 0 or a subnormal; "-0" is JS_INT 0, "-0.0" a JS_REAL -0.0; a byte order mark
 * is refused; the parser never recurses and its scratch memory beyond ~5 KiB of stack is
 * bounded by the input (one slot per value open at once, freed before returning).
 * Duplicate member names are compared decoded ("a" and "\u0061" clash) and detected when
 * their object closes, so an earlier syntax error inside that object wins. */
int js_parse(wr_arena *a, const char *p, size_t len, const struct js_opts *opts,
             struct js_val **out, struct js_error *err);

/* As js_parse, for a stream of values (NDJSON, concatenated JSON): parses the value that
 * starts at or after *pos, and leaves *pos just past it. At end of input (only
 * whitespace left) returns 1 with *out NULL. Offsets in the result and err are relative
 * to p, lines and columns count from p. On error *pos is left unchanged (a caller that
 * wants to resynchronise skips to the next newline itself). Values need no separator:
 * "{}{}" and "1 2" are two values each, "12" is one. */
int js_parse_next(wr_arena *a, const char *p, size_t len, size_t *pos,
                  const struct js_opts *opts, struct js_val **out, struct js_error *err);

/* The member named name (len bytes) of an object, or NULL (also for non-objects). */
const struct js_val *js_get(const struct js_val *obj, const char *name, size_t len);

/* Number of Unicode code points of a JS_STRING. */
size_t js_str_codepoints(const struct js_val *s);

/* JSON equality as JSON Schema defines it: numbers by value (1 == 1.0), objects
 * regardless of member order, strings bytewise. An int64 equals a double only when the
 * double is integral and exactly that integer (no rounding through double); two
 * JS_F_BIGINT values compare by their double (integers beyond 2^53 that round alike
 * compare equal). NULL equals only NULL. Recursion depth is the values' nesting. */
bool js_equal(const struct js_val *a, const struct js_val *b);

#endif
