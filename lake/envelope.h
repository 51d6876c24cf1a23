/* envelope.h - the stored line: one JSON object per line of the lake's raw/ and rejected/
 * files. This module alone knows the field names, their order and how each value is
 * written and read back; the gateway writes lines with it, the curator and replay read
 * them with it. To add a field to the stored envelope, add one row to LAKE_ENV_FIELDS
 * below (name, kind, required), then set it where the gateway builds the record.
 *
 * Every line this module writes is valid JSON and UTF-8: strings are escaped and invalid
 * UTF-8 is replaced with U+FFFD; JSON values are copied as given (the caller guarantees
 * they are JSON, e.g. because its parser accepted them) with raw line breaks made spaces.
 * Pure functions over caller memory; thread-safe. */
#ifndef WEIR_LAKE_ENVELOPE_H
#define WEIR_LAKE_ENVELOPE_H

#include "common/arena.h"
#include "common/buf.h"
#include "json/json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- The accepted event's line (raw/ zone) ---------------------------------------- */

enum lake_env_kind {
    LAKE_ENV_STR,  /* a JSON string (escaped on write) */
    LAKE_ENV_INT,  /* a JSON integer */
    LAKE_ENV_JSON, /* any JSON value, copied as sent */
    LAKE_ENV_BOOL  /* true or false */
};

/* The fields in written order: X(ID, "name", kind, required). */
#define LAKE_ENV_FIELDS(X)                                                                         \
    X(EVENT_TYPE, "event_type", LAKE_ENV_STR, 1)                                                   \
    X(SCHEMA_VERSION, "schema_version", LAKE_ENV_INT, 1)                                           \
    X(EVENT_ID, "event_id", LAKE_ENV_STR, 1)                                                       \
    X(OCCURRED_AT, "occurred_at", LAKE_ENV_STR, 0)                                                 \
    X(RECEIVED_AT, "received_at", LAKE_ENV_STR, 1)                                                 \
    X(SOURCE, "source", LAKE_ENV_STR, 1)                                                           \
    X(REPLAYED_AT, "replayed_at", LAKE_ENV_STR, 0)                                                 \
    X(PAYLOAD, "payload", LAKE_ENV_JSON, 1)                                                        \
    X(CONTEXT, "context", LAKE_ENV_JSON, 0)

enum lake_env_field {
#define LAKE_ENV__ENUM(id, name, kind, req) LAKE_ENV_##id,
    LAKE_ENV_FIELDS(LAKE_ENV__ENUM)
#undef LAKE_ENV__ENUM
        LAKE_ENV_NFIELDS
};

/* The rejected zone's line, in written order. An event that was JSON is kept whole as
 * `event`; a body that was not JSON (or an event too large to keep) is kept as the string
 * `raw`, cut to LAKE_REJ_RAW_MAX_BYTES, with `truncated`. `context` is the one the gateway
 * made for the request (as on an accepted line), so a replayed event gets it back. */
#define LAKE_REJ_FIELDS(X)                                                                         \
    X(EVENT, "event", LAKE_ENV_JSON, 0)                                                            \
    X(RAW, "raw", LAKE_ENV_STR, 0)                                                                 \
    X(TRUNCATED, "truncated", LAKE_ENV_BOOL, 0)                                                    \
    X(SOURCE, "source", LAKE_ENV_STR, 1)                                                           \
    X(RECEIVED_AT, "received_at", LAKE_ENV_STR, 1)                                                 \
    X(ERRORS, "errors", LAKE_ENV_JSON, 1)                                                          \
    X(CONTEXT, "context", LAKE_ENV_JSON, 0)

enum lake_rej_field {
#define LAKE_REJ__ENUM(id, name, kind, req) LAKE_REJ_##id,
    LAKE_REJ_FIELDS(LAKE_REJ__ENUM)
#undef LAKE_REJ__ENUM
        LAKE_REJ_NFIELDS
};

/* At most this many bytes of a body that is not JSON are kept in `raw` (cut at a UTF-8
 * character boundary). */
#define LAKE_REJ_RAW_MAX_BYTES 8192

struct lake_env_field_def {
    const char *name;
    uint8_t name_len;
    uint8_t kind;     /* enum lake_env_kind */
    uint8_t required; /* the writer refuses a record without it */
    uint8_t head_len; /* of head */
    char head[32];    /* what precedes the value: `,"name":` (and `"` for a string) */
};
extern const struct lake_env_field_def lake_env_fields[LAKE_ENV_NFIELDS];
extern const struct lake_env_field_def lake_rej_fields[LAKE_REJ_NFIELDS];

/* The field of an accepted line named name[0, len), or -1. */
int lake_env_field_find(const char *name, size_t len);

/* One value to write: text p[0, len) for STR and JSON, i for INT and BOOL. Unset fields
 * are left out (a required one makes the write fail). Pointers are borrowed. */
struct lake_env_val {
    const char *p;
    size_t len;
    int64_t i;
    bool set;
    bool plain; /* STR: the caller vouches the bytes need no escaping (lake_env_set_plain) */
};

/* A line to write: f[] indexed by enum lake_env_field (or lake_rej_field). Zero it, then
 * set fields with the helpers below. */
#define LAKE_ENV__MAXF                                                                             \
    ((int)LAKE_ENV_NFIELDS > (int)LAKE_REJ_NFIELDS ? (int)LAKE_ENV_NFIELDS : (int)LAKE_REJ_NFIELDS)
struct lake_env_rec {
    struct lake_env_val f[LAKE_ENV__MAXF];
};

static inline void lake_env_set_str(struct lake_env_rec *r, int field, const char *p, size_t len)
{
    r->f[field] = (struct lake_env_val){p, len, 0, true, false};
}

/* A string the caller has validated to be printable ASCII without '"' or '\\' (an event
 * type or id that matched its pattern, a time it formatted): copied without the check
 * (the gateway's hot path). Anything else must go through lake_env_set_str. */
static inline void lake_env_set_plain(struct lake_env_rec *r, int field, const char *p, size_t len)
{
    r->f[field] = (struct lake_env_val){p, len, 0, true, true};
}

static inline void lake_env_set_int(struct lake_env_rec *r, int field, int64_t i)
{
    r->f[field] = (struct lake_env_val){NULL, 0, i, true, false};
}

/* Appends the accepted line of r (no trailing newline) to out. Returns 0; WR_EINVAL when
 * a required field is unset; WR_ELIMIT or WR_ENOMEM when out is full, in which case out
 * is left as it was before the call (never half a line). */
int lake_env_write(struct wr_buf *out, const struct lake_env_rec *r);

/* Appends the rejected-zone line of r (fields by enum lake_rej_field; RAW is cut to
 * LAKE_REJ_RAW_MAX_BYTES and TRUNCATED is then set by the writer). An EVENT longer than
 * max_event_bytes (0: no limit) is kept as RAW instead. Returns as lake_env_write. */
int lake_rej_write(struct wr_buf *out, const struct lake_env_rec *r, size_t max_event_bytes);

/* ---- Reading ------------------------------------------------------------------------ */

/* A string value found by the scan: p points into the line (no escapes in it). */
struct lake_env_str {
    const char *p;
    size_t len;
};

/* Zero-copy scan of an accepted line's top-level string members, without building a tree
 * (the curator's hot path). want is a mask of (1u << LAKE_ENV_x) bits; out[x] is filled
 * for the fields found (others zeroed). Stops at the first object or array value once every
 * wanted field is found (the payload comes last, so it is never walked). Returns the mask
 * of wanted fields found, or -1 when the line needs lake_env_parse: not an object, a key
 * with an escape, a wanted field twice, not a string or holding an escape, or a shape the
 * scan does not follow. The scan validates only what it reads: a caller that needs the
 * rest parses the line too. */
int lake_env_scan(const char *p, size_t n, unsigned want,
                  struct lake_env_str out[LAKE_ENV_NFIELDS]);

/* A parsed accepted line: the tree, and each field's value in it (NULL when absent). */
struct lake_env_view {
    const struct js_val *root;
    const struct js_val *f[LAKE_ENV_NFIELDS];
};

/* Parses line[0, len) into arena a (see js_parse: the view points into the line and the
 * arena). Returns 0; a js_parse code (JS_E* or WR_ENOMEM) with je filled; or WR_EINVAL
 * with je->msg "not a JSON object" when the line is JSON but no object (v->root is set
 * then). Type checks of the fields are the caller's. */
int lake_env_parse(wr_arena *a, const char *line, size_t len, struct lake_env_view *v,
                   struct js_error *je);

#endif
