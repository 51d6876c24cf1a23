/* browser.h - private to gateway/: what a browser needs beyond the HTTP API
 * (shared/spec/browser.md), kept out of server.c's routing:
 *  - the raw query string of a request and its parameters, strictly percent-decoded;
 *  - the page origin of a request (Origin, else Referer) and CORS: which origins are
 *    allowed (active publishable keys of the live snapshot, plus --cors-origins) and the
 *    headers that say so;
 *  - the per-client-address rate limit of publishable keys (--ip-rate), and what enrich/
 *    needs of a request (the client address and the context of browser.md);
 *  - the pixel: GET /v1/p.gif's parameters turned into one event object (pixel.c);
 *  - the tracker script /v1/weir.js, embedded in the binary (tracker.c).
 *
 * Threads: gw_cors and gw_iprate are built at start and shared by the pool threads
 * (gw_cors read-only, gw_iprate behind its own lock); the rest are pure functions over
 * the caller's memory. */
#ifndef WEIR_GW_BROWSER_H
#define WEIR_GW_BROWSER_H

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "enrich/enrich.h"
#include "registry/snapshot.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A query string over this many bytes is refused (too_large). */
#define GW_QUERY_MAX 8192

/* ---- query strings ------------------------------------------------------------------ */

enum { GW_Q_ABSENT = 0, GW_Q_FOUND = 1, GW_Q_BAD_ESCAPE = -1 };

/* Finds the first parameter `name` in the raw query q[0, qlen) (no leading '?') and
 * decodes its value into out (cap bytes, NUL-terminated; qlen + 1 always suffices):
 * '+' is a space, %XX a byte. GW_Q_FOUND with *outlen set, GW_Q_ABSENT, or
 * GW_Q_BAD_ESCAPE for a '%' not followed by two hex digits (or a value over cap). */
int gw_query_param(const char *q, size_t qlen, const char *name, char *out, size_t cap,
                   size_t *outlen);

/* Overwrites the raw value of every parameter `name` of q with 'x' (a key is used once,
 * then no copy of it stays in memory). */
void gw_query_wipe(char *q, size_t qlen, const char *name);

/* Decodes every parameter of q in order and calls fn(arg, name, name_len, value,
 * value_len). Stops at the first bad escape: returns GW_Q_BAD_ESCAPE with *bad set to
 * the raw (undecoded) parameter, else 0. scratch holds 2 * (qlen + 1) bytes. */
int gw_query_each(const char *q, size_t qlen, char *scratch,
                  void (*fn)(void *arg, const char *name, size_t nlen, const char *v, size_t vlen),
                  void *arg, const char **bad, size_t *bad_len);

/* ---- origins and CORS --------------------------------------------------------------- */

/* The page origin of a request: its Origin header, else the origin part of its Referer
 * (scheme://host[:port]). Writes it into out (cap bytes) and returns true; false when
 * neither header is there (or the Referer has no origin). "null" is returned as is; an
 * origin that does not fit is returned empty, which matches no pattern. */
bool gw_request_origin(struct MHD_Connection *conn, char *out, size_t cap);

typedef struct gw_cors gw_cors;

/* Parses --cors-origins (comma-separated origin patterns, may be NULL or empty). NULL
 * with err (WR_EINVAL naming the entry) when an entry is not an origin. */
gw_cors *gw_cors_create(const char *list, struct wr_err *err);
void gw_cors_destroy(gw_cors *c);

/* True when origin (NUL-terminated) is allowed: listed in --cors-origins, or allowed by
 * an active publishable key of snap (may be NULL). "null" never is. */
bool gw_cors_allowed(const gw_cors *c, const reg_snapshot *snap, const char *origin);

/* Adds Access-Control-Allow-Origin: origin and Vary: Origin, and for a preflight the
 * methods, headers and max age of the spec. Never Access-Control-Allow-Credentials. */
void gw_cors_headers(struct MHD_Response *resp, const char *origin, bool preflight);

/* ---- per-client-address rate of publishable keys ------------------------------------ */

typedef struct gw_iprate gw_iprate;

/* A fixed table of buckets (memory does not grow with the number of addresses): a
 * bucket that is full again is as good as none, so it is the one reused; under more
 * active addresses than slots the least recently used bucket is reused. NULL when out
 * of memory. */
gw_iprate *gw_iprate_create(void);
void gw_iprate_destroy(gw_iprate *r);

/* Takes n events from the bucket of (key name, client address addr[0, alen)) at rate
 * events/s (capacity one second's worth; a request may leave a debt, as in
 * ratelimit.h). True when allowed; else *retry_s says when to come back. */
bool gw_iprate_take(gw_iprate *r, const char *key, const unsigned char *addr, size_t alen,
                    long long rate, uint64_t n, int64_t now_ns, long long *retry_s);

/* ---- what enrich/ needs of a request --------------------------------------------------- */

/* Fills req (enrich.h) from the connection: the socket peer, X-Forwarded-For and
 * Forwarded (several lines of one name joined with "," in the arena), User-Agent, and
 * Origin when with_origin (publishable keys). Pointers into libmicrohttpd's memory or a;
 * valid for the request. */
void gw_en_request(struct MHD_Connection *conn, wr_arena *a, bool with_origin,
                   struct en_request *req);

/* ---- the pixel (pixel.c) ------------------------------------------------------------- */

enum gw_pixel_code {
    GW_PIXEL_OK = 0,
    GW_PIXEL_BAD_ESCAPE,      /* a parameter with bad percent-encoding */
    GW_PIXEL_PAYLOAD_NOT_JSON /* `payload` is not JSON text */
};

/* Builds the event object of a pixel's query q[0, qlen) into out: event_type, event_id,
 * occurred_at and any other parameter as strings, schema_version as an integer when it
 * is one (else a string, which the envelope rules reject), payload as the JSON text it
 * decodes to; `key` is left out. On GW_PIXEL_BAD_ESCAPE or GW_PIXEL_PAYLOAD_NOT_JSON,
 * out holds the offending text instead (for the rejected zone) and message says why. */
enum gw_pixel_code gw_pixel_event(const char *q, size_t qlen, unsigned max_depth,
                                  struct wr_buf *out, char *message, size_t mcap);

/* The outcomes of Weir-Result, counted in weir_pixel_requests_total{result}. */
enum gw_pixel_result {
    GW_PX_ACCEPTED,
    GW_PX_REJECTED,
    GW_PX_UNAUTHORIZED,
    GW_PX_FORBIDDEN,
    GW_PX_RATE_LIMITED,
    GW_PX_UNAVAILABLE,
    GW_PX_TOO_LARGE,
    GW_PX_NRESULTS
};
extern const char *const gw_pixel_result_names[GW_PX_NRESULTS];
/* Renders weir_pixel_requests_total from counts[GW_PX_NRESULTS]. */
void gw_pixel_metrics(const _Atomic uint64_t *counts, struct wr_buf *out);

/* The 43-byte transparent 1x1 GIF. */
extern const unsigned char gw_pixel_gif[43];

/* ---- the tracker (tracker.c) ----------------------------------------------------------- */

/* The embedded /v1/weir.js, its length and its ETag (a quoted hash of the text). */
void gw_tracker(const char **js, size_t *len, const char **etag);

#endif
