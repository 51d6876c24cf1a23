/* format.h - the `format` keyword's checks (private to validator/).
 * Pure functions over UTF-8 bytes; no allocation, thread-safe. */
#ifndef WEIR_VAL_FORMAT_H
#define WEIR_VAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

enum val__fmt {
    VAL__FMT_UNKNOWN = 0, /* not a format weir knows: always passes (an annotation) */
    VAL__FMT_DATE_TIME,
    VAL__FMT_DATE,
    VAL__FMT_TIME,
    VAL__FMT_DURATION,
    VAL__FMT_EMAIL,
    VAL__FMT_IDN_EMAIL,
    VAL__FMT_HOSTNAME,
    VAL__FMT_IDN_HOSTNAME,
    VAL__FMT_IPV4,
    VAL__FMT_IPV6,
    VAL__FMT_URI,
    VAL__FMT_URI_REFERENCE,
    VAL__FMT_IRI,
    VAL__FMT_IRI_REFERENCE,
    VAL__FMT_URI_TEMPLATE,
    VAL__FMT_UUID,
    VAL__FMT_REGEX,
    VAL__FMT_JSON_POINTER,
    VAL__FMT_RELATIVE_JSON_POINTER
};

/* The format named by name (len bytes), or VAL__FMT_UNKNOWN. */
enum val__fmt val__fmt_lookup(const char *name, size_t len);

/* The canonical name of f ("date-time", ...); "" for VAL__FMT_UNKNOWN. */
const char *val__fmt_name(enum val__fmt f);

/* True when the string s (len bytes of UTF-8, may contain NUL) is valid for f.
 * VAL__FMT_UNKNOWN is always valid. */
bool val__fmt_check(enum val__fmt f, const char *s, size_t len);

#endif
