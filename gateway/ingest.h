/* ingest.h - one POST /v1/events body turned into a verdict: parsed events, envelope
 * checks, scopes, schema validation, the stored lines (accepted and rejected) and the
 * response body. No I/O; everything lives in the caller's arena. */
#ifndef WEIR_GW_INGEST_H
#define WEIR_GW_INGEST_H

#include "common/arena.h"
#include "common/buf.h"
#include "gateway/line.h"
#include "json/json.h"
#include "registry/snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_limits {
    unsigned max_events;
    unsigned max_depth;
    uint64_t max_event_bytes;
};

/* The events of a body: a parsed document and the event values in it. */
struct gw_batch {
    const char *body;
    size_t len;
    const struct js_val *const *events; /* n entries (objects or not: checked later) */
    size_t n;
    bool single; /* one object sent alone (403/422 rules of a single event) */
    /* The `context` object the gateway made for this request (browser.md), stored with
     * each accepted event; NULL: none. Set by the caller after gw_ingest_parse. */
    const char *context;
    size_t context_len;
};

/* Why a body could not become a batch. */
enum gw_parse_code {
    GW_PARSE_OK = 0,
    GW_PARSE_INVALID_JSON, /* not JSON / NDJSON, nested too deep, not objects, empty */
    GW_PARSE_TOO_LARGE     /* more events than the limit, or too large to parse */
};

/* The message is plain text for a person (never holds a byte of the body that is not
 * well-formed UTF-8, and is cut at a character boundary), e.g.
 * "unexpected character at line 1 column 7". */
struct gw_parse_error {
    enum gw_parse_code code;
    char message[200];
};

/* Parses body as JSON (object or array) or NDJSON (one value per line). Returns
 * GW_PARSE_OK and fills b, or the code of a refused body with pe filled. Rendering the
 * response is the caller's. */
enum gw_parse_code gw_ingest_parse(wr_arena *a, const char *body, size_t len, bool ndjson,
                                   const struct gw_limits *lim, struct gw_batch *b,
                                   struct gw_parse_error *pe);

/* Copies src into dst (cap bytes, NUL included) as well-formed UTF-8: each byte that
 * does not start a well-formed character becomes '?', and the text is cut at a character
 * boundary. Returns the length written. */
size_t gw_text_utf8_copy(char *dst, size_t cap, const char *src, size_t len);

/* Per-reason counts for metrics: index by enum gw_reason. */
enum gw_reason {
    GW_R_ENVELOPE,
    GW_R_UNKNOWN_TYPE,
    GW_R_UNKNOWN_VERSION,
    GW_R_FORBIDDEN,
    GW_R_TOO_LARGE,
    GW_R_SCHEMA,
    GW_R_COUNT
};
extern const char *const gw_reason_names[GW_R_COUNT];

struct gw_verdict {
    int status;              /* 202, 422 or 403 */
    size_t accepted, rejected;
    struct gw_line *lines;   /* accepted and rejected lines, in the arena */
    size_t n_lines;
    uint64_t validate_ns;    /* time spent in the validator */
};

/* Checks and validates every event of b for the key `key` (its name is the source),
 * builds the stored lines (envelope + received_at + source + resolved schema_version
 * and event_id, the payload bytes copied as sent) and the response body in resp.
 * reasons[] (may be NULL) counts rejections; accepted_by_type may be NULL. Returns 0, or
 * WR_ENOMEM when the arena cap is reached. */
int gw_ingest_events(wr_arena *a, const reg_snapshot *snap, const struct reg_key_rec *key,
                     const struct gw_batch *b, const struct gw_limits *lim,
                     int64_t received_at_ms, struct gw_verdict *v, struct wr_buf *resp,
                     uint64_t reasons[GW_R_COUNT]);

/* The rejected-zone line of a body that is not JSON: the raw text (capped), source,
 * received_at, the error and the request's context (NULL: none). In the arena; NULL when
 * out of memory. */
struct gw_line *gw_ingest_raw_rejection(wr_arena *a, const char *body, size_t len,
                                        const char *source, int64_t received_at_ms,
                                        const char *message, const char *context,
                                        size_t context_len);

#endif
