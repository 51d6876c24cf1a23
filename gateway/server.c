/* server.c - the HTTP side of `weir gateway` on libmicrohttpd: routing, auth, limits,
 * body collection and inflation, suspension while the sink makes lines durable, and the
 * responses (every one valid JSON, or text for the operational endpoints). Start-up,
 * signals and drain are run.c; connection admission and deadlines are conns.c. */
#include "server_int.h"

#include "browser.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "common/log.h"
#include "common/text.h"
#include "common/tls.h"
#include "registry/metrics.h"
#include "registry/registry.h"
#include "registry/snapshot_compat.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Per-request arena cap: parse nodes of an 8 MiB body plus lines and errors. */
#define ARENA_CAP_FACTOR 12

enum route {
    R_NOT_FOUND, R_EVENTS, R_SCHEMAS, R_HEALTHZ, R_READYZ, R_METRICS, R_BAD_METHOD,
    R_PIXEL, R_TRACKER, R_PREFLIGHT /* browser.md */
};

enum req_state { S_READING, S_WAITING, S_RESUMED };

struct gw_req {
    struct gw_server *srv;
    struct MHD_Connection *conn;
    enum route route;
    enum req_state state;
    int64_t t0_ns;
    reg_snapshot *snap;
    const struct reg_key_rec *key;
    bool gzip, ndjson;
    int status;           /* decided response status; 0 = none yet */
    const char *error;    /* body {"error": ...} for refusals */
    const char *message;
    struct wr_buf body;
    struct wr_buf resp;
    wr_arena *arena;
    struct gw_rate_verdict rate;
    bool has_rate;
    long long retry_after;
    bool answered;        /* a response was queued before the body ended */
    atomic_int sink_status;
    size_t accepted, rejected;
    bool started;         /* the access handler has seen the request */
    /* browser.md: the raw query string (copied by gw__on_uri, never logged), the page
     * origin, and whether the answer carries the CORS headers. */
    char *query;
    size_t query_len;
    bool query_too_long;
    bool has_origin, cors;
    char origin[256];
    const char *reject_message; /* the rejected-zone reason of a pixel that is no event */
    struct en_request enreq;    /* the request as enrich/ sees it (events and pixels) */
};

/* --- responses ------------------------------------------------------------------ */

/* Replaces each byte that is not part of a well-formed UTF-8 character with '?'. Such a
 * byte is never ASCII, so it can only sit inside a JSON string, and the text stays valid
 * JSON: a last guard for whatever text of a client or a schema reaches a response. */
static void utf8_scrub(char *p, size_t len)
{
    if (wr_utf8_valid(p, len)) {
        return;
    }
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t at = i;
        if (!wr_utf8_next((const unsigned char *)p, len, &i, &cp)) {
            p[at] = '?';
            i = at + 1;
        }
    }
}

static enum gw_pixel_result pixel_result(struct gw_req *r, int status)
{
    switch (status) {
    case 202: return r->accepted ? GW_PX_ACCEPTED : GW_PX_REJECTED;
    case 401: return GW_PX_UNAUTHORIZED;
    case 403: return GW_PX_FORBIDDEN;
    case 413: return GW_PX_TOO_LARGE;
    case 429: return GW_PX_RATE_LIMITED;
    case 503: return GW_PX_UNAVAILABLE;
    default: return GW_PX_REJECTED;
    }
}

/* The pixel's answer, whatever happened: the GIF, and the outcome in Weir-Result. The
 * underlying status stays in r->status for the metrics and the access log. */
static enum MHD_Result send_gif(struct gw_req *r, int status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof gw_pixel_gif, (void *)gw_pixel_gif, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "image/gif");
    MHD_add_response_header(resp, "Cache-Control", "no-store, max-age=0");
    enum gw_pixel_result res = pixel_result(r, status);
    atomic_fetch_add(&r->srv->pixel_results[res], 1);
    MHD_add_response_header(resp, "Weir-Result", gw_pixel_result_names[res]);
    if (r->cors) {
        gw_cors_headers(resp, r->origin, false);
    }
    r->status = status;
    enum MHD_Result ok = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_json(struct gw_req *r, int status, char *body, size_t len)
{
    if (r->route == R_PIXEL) {
        return send_gif(r, status);
    }
    utf8_scrub(body, len);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r->has_rate && r->rate.limit > 0) {
        char v[32];
        snprintf(v, sizeof v, "%lld", r->rate.limit);
        MHD_add_response_header(resp, "RateLimit-Limit", v);
        snprintf(v, sizeof v, "%lld", r->rate.remaining);
        MHD_add_response_header(resp, "RateLimit-Remaining", v);
        snprintf(v, sizeof v, "%lld", r->rate.reset_s);
        MHD_add_response_header(resp, "RateLimit-Reset", v);
    }
    if (status == 401) {
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    }
    if (r->cors) {
        gw_cors_headers(resp, r->origin, false);
    }
    if (r->retry_after > 0) {
        char v[32];
        snprintf(v, sizeof v, "%lld", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    r->status = status;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_error(struct gw_req *r, int status, const char *error,
                                  const char *message)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    wr_buf_printf(&b, "{\"error\":\"%s\"", error);
    if (message) {
        /* Cut at a character boundary and free of malformed bytes before escaping. */
        char text[512];
        size_t n = gw_text_utf8_copy(text, sizeof text, message, strlen(message));
        wr_buf_printf(&b, ",\"message\":\"");
        wr_buf_json_escape(&b, text, n);
        wr_buf_putc(&b, '"');
    }
    int rc = wr_buf_putc(&b, '}');
    char fallback[] = "{\"error\":\"unavailable\"}";
    enum MHD_Result ok = rc == 0 ? send_json(r, status, b.p, b.len)
                                 : send_json(r, status, fallback, sizeof fallback - 1);
    wr_buf_free(&b);
    return ok;
}

static enum MHD_Result send_text(struct gw_req *r, int status, const char *type,
                                 const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    if (r->cors) {
        gw_cors_headers(resp, r->origin, false);
    }
    r->status = status;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* --- auth -------------------------------------------------------------------------- */

/* The key of the `key` query parameter (browser.md): only a publishable key may travel
 * in a URL. A secret one is refused with its own message, and every copy of it this
 * process holds (ours, libmicrohttpd's parsed argument) is wiped. */
static const struct reg_key_rec *query_key(struct gw_req *r)
{
    char buf[256];
    size_t n = 0;
    if (!r->query || gw_query_param(r->query, r->query_len, "key", buf, sizeof buf, &n) != GW_Q_FOUND) {
        return NULL;
    }
    const char *arg = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "key");
    if (arg) {
        explicit_bzero((char *)arg, strlen(arg));
    }
    const struct reg_key_rec *k = NULL;
    if (n > 8 && strncmp(buf, REG_PK_PREFIX, 8) == 0) {
        unsigned char sha[32];
        reg_key_hash(buf, n, sha);
        k = reg_snapshot_key(r->snap, sha);
        k = k && !k->revoked && k->publishable ? k : NULL;
    } else {
        r->message = "secret keys go in the Authorization or X-Api-Key header, never in a URL; "
                     "the key query parameter takes publishable keys (weir_pk_...)";
    }
    explicit_bzero(buf, sizeof buf);
    gw_query_wipe(r->query, r->query_len, "key");
    return k;
}

/* The key of the request, or NULL. Call once per request: it wipes the secret. */
static const struct reg_key_rec *authenticate(struct gw_req *r)
{
    const char *secret = NULL;
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        secret = auth + 7;
        while (*secret == ' ') {
            secret++;
        }
    } else {
        secret = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Api-Key");
    }
    if (!r->snap) {
        return NULL;
    }
    if (!secret || !*secret) {
        return query_key(r);
    }
    unsigned char sha[32];
    size_t n = strlen(secret);
    reg_key_hash(secret, n, sha);
    /* The secret is used once: wipe it from libmicrohttpd's connection memory, so no
     * later read of that pool (a dump, a bug) finds it. */
    explicit_bzero((char *)secret, n);
    const struct reg_key_rec *k = reg_snapshot_key(r->snap, sha);
    return k && !k->revoked ? k : NULL;
}

/* Authenticates the request and, for a publishable key, checks its page origin
 * (browser.md). Returns 0 with r->key set, or the refusal status with r->error set. */
static int auth_check(struct gw_req *r)
{
    r->key = authenticate(r);
    if (!r->key) {
        r->error = "unauthorized";
        return 401;
    }
    if (r->key->read) {
        r->error = "forbidden";
        r->message = "a read key (weir_rk_...) is for weir console; events take a secret or "
                     "publishable key";
        return 403;
    }
    if (r->key->publishable) {
        if (r->has_origin ? !reg_key_origin_allowed(r->key, r->origin, strlen(r->origin))
                          : r->key->require_origin) {
            r->error = "origin_not_allowed";
            r->message = r->has_origin ? "this key may not be used from this origin"
                                       : "this key needs an Origin or Referer";
            return 403;
        }
    }
    return 0;
}

/* --- the events endpoint -------------------------------------------------------------- */

/* "application/json; charset=utf-8" -> matches "application/json". */
static bool media_is(const char *v, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(v, type, n) != 0) {
        return false;
    }
    v += n;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    return *v == '\0' || *v == ';';
}

/* Checks what can be checked from the headers alone. Returns 0 or a refusal status. */
static int events_headers(struct gw_req *r)
{
    struct gw_server *s = r->srv;
    if (!r->snap) {
        r->retry_after = 1;
        r->error = "unavailable";
        r->message = "the registry is not loaded yet";
        return 503;
    }
    if (r->query_too_long) {
        r->error = "too_large";
        r->message = "the query string is over 8 KiB";
        return 413;
    }
    int st = auth_check(r);
    if (st) {
        return st;
    }
    if (r->route == R_PIXEL) {
        /* No body: only the drain can still refuse it. */
        if (atomic_load(&s->draining)) {
            r->retry_after = 5;
            r->error = "unavailable";
            return 503;
        }
        return 0;
    }
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    /* text/plain is what sendBeacon sends for a string, and what spares a page the
     * preflight: read as JSON (browser.md). */
    if (ct && (media_is(ct, "application/json") || media_is(ct, "text/plain"))) {
        r->ndjson = false;
    } else if (ct && (media_is(ct, "application/x-ndjson") || media_is(ct, "application/jsonl"))) {
        r->ndjson = true;
    } else {
        r->error = "unsupported_media_type";
        r->message = "Content-Type must be application/json, text/plain or application/x-ndjson";
        return 415;
    }
    const char *ce = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Encoding");
    if (ce && strcasecmp(ce, "gzip") == 0) {
        r->gzip = true;
    } else if (ce && *ce && strcasecmp(ce, "identity") != 0) {
        r->error = "unsupported_media_type";
        r->message = "Content-Encoding must be gzip or identity";
        return 415;
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && *end == '\0' && n > s->cfg->max_body_bytes) {
            r->error = "too_large";
            return 413;
        }
    }
    if (atomic_load(&s->draining)) {
        r->retry_after = 5;
        r->error = "unavailable";
        r->message = "the gateway is shutting down";
        return 503;
    }
    return 0;
}

static void sink_done(void *arg, int status)
{
    struct gw_req *r = arg;
    atomic_store(&r->sink_status, status);
    MHD_resume_connection(r->conn);
}

/* Takes n events from the key's rate limit; false (with the 429 decided) when refused. */
static bool rate_take(struct gw_req *r, uint64_t n)
{
    struct gw_server *s = r->srv;
    if (r->key->publishable && r->key->ip_rate > 0) {
        /* The address context.ip is made from (trusted proxies honoured); only its hash
         * is kept in the table. */
        struct en_addr addr;
        long long retry = 1;
        if (en_client_addr(s->enricher, &r->enreq, &addr) == 0 &&
            !gw_iprate_take(s->iprate, r->key->name, addr.b, sizeof addr.b, r->key->ip_rate, n,
                            wr_time_mono_ns(), &retry)) {
            atomic_fetch_add(&s->metrics.rate_limited_events, n);
            r->retry_after = retry;
            return false;
        }
    }
    r->has_rate = r->key->rate > 0;
    if (!r->has_rate) {
        return true;
    }
    gw_ratelimit_take(s->rl, r->key->name, r->key->rate, n, wr_time_mono_ns(), &r->rate);
    if (!r->rate.allowed) {
        atomic_fetch_add(&s->metrics.rate_limited_events, n);
        r->retry_after = r->rate.retry_s;
    }
    return r->rate.allowed;
}

static void render_parse_error(struct wr_buf *out, const struct gw_parse_error *pe)
{
    wr_buf_clear(out);
    wr_buf_printf(out, "{\"error\":\"%s\",\"message\":\"",
                  pe->code == GW_PARSE_TOO_LARGE ? "too_large" : "invalid_json");
    wr_buf_json_escape(out, pe->message, strlen(pe->message));
    wr_buf_append(out, "\"}", 2);
}

static enum MHD_Result events_complete(struct gw_req *r)
{
    struct gw_server *s = r->srv;
    const struct gw_config *cfg = s->cfg;
    int64_t now_ms = wr_time_now_ms();
    const char *body = r->body.p ? r->body.p : "";
    size_t len = r->body.len;
    if (r->gzip) {
        struct wr_buf inflated;
        wr_buf_init(&inflated, cfg->max_body_decompressed_bytes);
        int rc = wr_gunzip(body, len, &inflated);
        if (rc == WR_ELIMIT) {
            wr_buf_free(&inflated);
            return send_error(r, 413, "too_large", "the decompressed body is over the limit");
        }
        if (rc != 0) {
            wr_buf_free(&inflated);
            return send_error(r, 400, "invalid_json", "the body is not valid gzip");
        }
        /* The inflated text must outlive the lines that point into it. */
        wr_buf_free(&r->body);
        r->body = inflated;
        body = r->body.p ? r->body.p : "";
        len = r->body.len;
    } else if (len > cfg->max_body_decompressed_bytes) {
        return send_error(r, 413, "too_large", NULL);
    }
    /* Sized by the text to parse (after inflation, so at most the decompressed limit),
     * not by what came over the wire. */
    r->arena = wr_arena_create(64 * 1024, (len + 65536) * ARENA_CAP_FACTOR + (16 << 20));
    if (!r->arena) {
        r->retry_after = 1;
        return send_error(r, 503, "unavailable", "out of memory");
    }
    struct gw_batch batch;
    struct gw_parse_error pe;
    gw_en_request(r->conn, r->arena, r->key->publishable, &r->enreq);
    wr_buf_init(&r->resp, 64 << 20);
    enum gw_parse_code pc = GW_PARSE_INVALID_JSON;
    if (r->reject_message) {
        /* A pixel whose parameters make no event: rejected as a body that is not JSON. */
        pe.code = GW_PARSE_INVALID_JSON;
        snprintf(pe.message, sizeof pe.message, "%s", r->reject_message);
    } else {
        pc = gw_ingest_parse(r->arena, body, len, r->ndjson, &s->limits, &batch, &pe);
    }
    struct gw_line *lines = NULL;
    size_t n_lines = 0;
    if (pc == GW_PARSE_TOO_LARGE) {
        return send_error(r, 413, "too_large", pe.message);
    }
    if (pc == GW_PARSE_INVALID_JSON) {
        atomic_fetch_add(&s->metrics.invalid_json, 1);
        /* The rejected zone keeps what was sent, for inspection; that line is stored, so it
         * is paid for like an event: a flood of garbage cannot outrun the key's limit. */
        if (!rate_take(r, 1)) {
            return send_error(r, 429, "rate_limited", NULL);
        }
        render_parse_error(&r->resp, &pe);
        char *ctx = wr_arena_alloc(r->arena, EN_CONTEXT_MAX); /* as on every stored line */
        en_worker *w = ctx ? gw__en_worker(s) : NULL;
        int clen = w ? en_context_render(w, &r->enreq, ctx, EN_CONTEXT_MAX) : -1;
        lines = gw_ingest_raw_rejection(r->arena, body, len, r->key->name, now_ms, pe.message,
                                        clen > 0 ? ctx : NULL, clen > 0 ? (size_t)clen : 0);
        if (!lines) {
            return send_json(r, 400, r->resp.p, r->resp.len);
        }
        n_lines = 1;
        r->status = 400;
    } else {
        if (!rate_take(r, batch.n)) {
            return send_error(r, 429, "rate_limited", NULL);
        }
        /* The context of every accepted event of the request (browser.md): made once. */
        char *ctx = wr_arena_alloc(r->arena, EN_CONTEXT_MAX);
        en_worker *w = ctx ? gw__en_worker(s) : NULL;
        int clen = w ? en_context_render(w, &r->enreq, ctx, EN_CONTEXT_MAX) : -1;
        if (clen <= 0) {
            r->retry_after = 1;
            return send_error(r, 503, "unavailable", "out of memory for this request");
        }
        batch.context = ctx;
        batch.context_len = (size_t)clen;
        struct gw_verdict v;
        uint64_t reasons[GW_R_COUNT] = {0};
        if (gw_ingest_events(r->arena, r->snap, r->key, &batch, &s->limits, now_ms, &v,
                             &r->resp, reasons) != 0) {
            r->retry_after = 1;
            return send_error(r, 503, "unavailable", "out of memory for this request");
        }
        gw_metrics_observe(&s->metrics.validation_latency, (int64_t)v.validate_ns);
        /* Accepted events are counted by type; rejections by the first line's type is not
         * known for every event, so they go by reason under the batch's first type. */
        for (size_t i = 0; i < v.n_lines; i++) {
            if (v.lines[i].kind == GW_LINE_ACCEPTED) {
                gw_metrics_events(&s->metrics, v.lines[i].event_type, v.lines[i].event_type_len, 1,
                                  NULL);
            }
        }
        if (v.rejected) {
            gw_metrics_events(&s->metrics, "", 0, 0, reasons);
        }
        r->accepted = v.accepted;
        r->rejected = v.rejected;
        r->status = v.status;
        lines = v.lines;
        n_lines = v.n_lines;
    }
    r->state = S_WAITING;
    MHD_suspend_connection(r->conn);
    int rc = gw_sink_submit(s->sink, lines, n_lines, sink_done, r);
    if (rc != 0) {
        atomic_store(&r->sink_status, rc);
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

static enum MHD_Result events_resumed(struct gw_req *r)
{
    int st = atomic_load(&r->sink_status);
    if (st != 0) {
        r->retry_after = st == WR_EAGAIN ? 1 : 5;
        return send_error(r, 503, "unavailable",
                          st == WR_ELIMIT ? "an event is too large for the spool"
                                          : "the gateway cannot store events durably now");
    }
    return send_json(r, r->status, r->resp.p, r->resp.len);
}

/* --- other endpoints ---------------------------------------------------------------- */

struct versions_out {
    struct wr_buf *b;
    int n;
};

static void add_version(void *arg, int version, const char *json)
{
    struct versions_out *o = arg;
    wr_buf_printf(o->b, "%s{\"version\":%d,\"schema\":%s}", o->n++ ? "," : "", version, json);
}

static enum MHD_Result schemas_get(struct gw_req *r, const char *type)
{
    if (!r->snap) {
        r->retry_after = 1;
        return send_error(r, 503, "unavailable", "the registry is not loaded yet");
    }
    int st = auth_check(r);
    if (st) {
        return send_error(r, st, r->error, r->message);
    }
    /* A key sees the schemas of the event types it may send, no others. */
    if (!reg_key_allows(r->key, type, strlen(type))) {
        return send_error(r, 403, "forbidden", "this API key may not send this event type");
    }
    struct wr_buf b;
    wr_buf_init(&b, 64 << 20);
    wr_buf_printf(&b, "{\"event_type\":\"");
    wr_buf_json_escape(&b, type, strlen(type));
    wr_buf_printf(&b, "\",\"versions\":[");
    struct versions_out o = {&b, 0};
    bool found = reg_snapshot_versions(r->snap, type, strlen(type), add_version, &o);
    const char *mode = "backward";
    bool transitive = false;
    reg_snapshot_type_compat(r->snap, type, strlen(type), &mode, &transitive);
    int rc = wr_buf_printf(&b, "],\"compatibility\":\"%s\",\"transitive\":%s}", mode,
                           transitive ? "true" : "false");
    enum MHD_Result ok;
    if (!found) {
        ok = send_error(r, 404, "not_found", "no active schema for this event type");
    } else if (rc != 0) {
        r->retry_after = 1;
        ok = send_error(r, 503, "unavailable", "out of memory for this response");
    } else {
        ok = send_json(r, 200, b.p, b.len);
    }
    wr_buf_free(&b);
    return ok;
}

static enum MHD_Result metrics_get(struct gw_req *r)
{
    struct gw_server *s = r->srv;
    struct wr_buf b;
    wr_buf_init(&b, 16 << 20);
    gw_metrics_render(&s->metrics, &b);
    gw__conns_metrics(s->conns, &b);
    gw_pixel_metrics(s->pixel_results, &b);
    reg_metrics_render(s->loader, r->snap, wr_time_now_ms(), &b);
    gw_sink_metrics(s->sink, &b);
    wr_tls_metrics(s->cfg->tls, &b);
    enum MHD_Result ok =
        send_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
    wr_buf_free(&b);
    return ok;
}

/* --- browser endpoints (browser.md) ----------------------------------------------------- */

/* GET /v1/p.gif once the head is in: the query becomes the body of one event, which then
 * takes events_complete's road (validation, the spool's fsync, suspension). */
static enum MHD_Result pixel_complete(struct gw_req *r)
{
    char message[120];
    enum gw_pixel_code pc = gw_pixel_event(r->query ? r->query : "", r->query_len,
                                           r->srv->limits.max_depth, &r->body, message,
                                           sizeof message);
    if (pc != GW_PIXEL_OK) {
        /* Not an event: the offending text goes to the rejected zone as a body that is not
         * JSON would (an empty text still fails the parse). */
        r->reject_message = pc == GW_PIXEL_BAD_ESCAPE ? "a query parameter has bad "
                                                        "percent-encoding"
                                                      : "the payload parameter is not JSON";
    }
    r->ndjson = false;
    r->gzip = false;
    return events_complete(r);
}

/* OPTIONS: the CORS preflight, answered from the live keys and --cors-origins. */
static enum MHD_Result preflight(struct gw_req *r)
{
    if (!r->cors) {
        return send_error(r, 403, "origin_not_allowed", "this origin may not send events here");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return MHD_NO;
    }
    gw_cors_headers(resp, r->origin, true);
    r->status = 204;
    enum MHD_Result ok = MHD_queue_response(r->conn, 204, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* GET /v1/weir.js: the embedded tracker, 304 when the client has this version. */
static enum MHD_Result tracker_get(struct gw_req *r)
{
    const char *js, *etag;
    size_t len;
    gw_tracker(&js, &len, &etag);
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = inm && (strstr(inm, etag) || strcmp(inm, "*") == 0);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(fresh ? 0 : len, (void *)js, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return MHD_NO;
    }
    if (!fresh) {
        MHD_add_response_header(resp, "Content-Type", "text/javascript; charset=utf-8");
    }
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Cache-Control", "public, max-age=3600");
    /* A page on any origin may load the script (it holds nothing secret). */
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    r->status = fresh ? 304 : 200;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* MHD_OPTION_URI_LOG_CALLBACK (cls = server): the first look at a request, with its raw
 * URI. The request object starts here so that the query string is seen as sent (its
 * length, its percent-encoding); libmicrohttpd frees nothing of it (gw__on_completed
 * does). */
void *gw__on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    struct gw_req *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->srv = cls;
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (q) {
        size_t n = strlen(q + 1);
        if (n > GW_QUERY_MAX) {
            r->query_too_long = true;
        } else {
            r->query = malloc(n + 1);
            if (r->query) {
                memcpy(r->query, q + 1, n + 1);
                r->query_len = n;
            }
        }
    }
    return r;
}

/* --- the access handler -------------------------------------------------------------- */

static enum route route_of(const char *method, const char *url, const char **tail)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    bool options = strcmp(method, "OPTIONS") == 0;
    if (options && strncmp(url, "/v1/", 4) == 0) {
        return R_PREFLIGHT;
    }
    if (strcmp(url, "/v1/events") == 0) {
        return post ? R_EVENTS : R_BAD_METHOD;
    }
    if (strcmp(url, "/v1/p.gif") == 0) {
        /* GET only: a HEAD (a link checker) stores nothing. */
        return strcmp(method, "GET") == 0 ? R_PIXEL : R_BAD_METHOD;
    }
    if (strcmp(url, "/v1/weir.js") == 0) {
        return get ? R_TRACKER : R_BAD_METHOD;
    }
    if (strncmp(url, "/v1/schemas/", 12) == 0 && url[12]) {
        *tail = url + 12;
        return get ? R_SCHEMAS : R_BAD_METHOD;
    }
    static const struct {
        const char *path;
        enum route r;
    } fixed[] = {{"/healthz", R_HEALTHZ}, {"/readyz", R_READYZ}, {"/metrics", R_METRICS}};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(url, fixed[i].path) == 0) {
            return get ? fixed[i].r : R_BAD_METHOD;
        }
    }
    return R_NOT_FOUND;
}

enum MHD_Result gw__on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    (void)version;
    struct gw_server *s = cls;
    struct gw_req *r = *con_cls;
    const char *tail = NULL;
    if (!r || !r->started) {
        if (!r) {
            r = calloc(1, sizeof *r);
            if (!r) {
                return MHD_NO;
            }
            *con_cls = r;
        }
        r->started = true;
        atomic_fetch_add(&s->active, 1);
        r->srv = s;
        r->conn = conn;
        r->t0_ns = wr_time_mono_ns();
        r->snap = reg_loader_acquire(s->loader);
        r->route = route_of(method, url, &tail);
        wr_buf_init(&r->body, s->cfg->max_body_bytes);
        gw__conns_head_done(conn);
        /* Every answer to an allowed origin says so, errors included (browser.md). */
        r->has_origin = gw_request_origin(conn, r->origin, sizeof r->origin);
        r->cors = r->has_origin &&
                  MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin") != NULL &&
                  gw_cors_allowed(s->cors, r->snap, r->origin);
        if ((r->route == R_EVENTS || r->route == R_PIXEL) &&
            (r->status = events_headers(r)) != 0) {
            /* Refused from the headers alone: answered now, before any byte of the body
             * is read. Queued on this first call, the answer also stops libmicrohttpd
             * from sending "100 Continue", and it closes the connection after it. */
            gw__conns_busy(conn);
            return send_error(r, r->status, r->error, r->message);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        gw__conns_body(conn, *upload_data_size);
        if (r->route == R_EVENTS && r->status == 0 &&
            wr_buf_append(&r->body, upload_data, *upload_data_size) != 0) {
            /* A body without Content-Length ran over the limit: nothing more of it is
             * wanted. Answered now when libmicrohttpd takes an answer mid-body, else the
             * connection ends here. */
            r->answered = send_error(r, 413, "too_large", NULL) == MHD_YES;
            r->status = 413;
            return r->answered ? MHD_YES : MHD_NO;
        }
        /* Bodies of bodiless requests are read and dropped (bounded by the body rate). */
        *upload_data_size = 0;
        return MHD_YES;
    }
    gw__conns_busy(conn);
    if (r->answered) {
        return MHD_YES;
    }
    switch (r->route) {
    case R_EVENTS:
    case R_PIXEL:
        if (r->state == S_WAITING) {
            r->state = S_RESUMED;
            return events_resumed(r);
        }
        return r->route == R_PIXEL ? pixel_complete(r) : events_complete(r);
    case R_PREFLIGHT:
        return preflight(r);
    case R_TRACKER:
        return tracker_get(r);
    case R_SCHEMAS:
        route_of(method, url, &tail);
        return schemas_get(r, tail);
    case R_HEALTHZ:
        return send_text(r, 200, "text/plain", "ok\n", 3);
    case R_READYZ: {
        bool ready = r->snap && gw_sink_ready(s->sink) && !atomic_load(&s->draining);
        return ready ? send_text(r, 200, "text/plain", "ready\n", 6)
                     : send_text(r, 503, "text/plain", "not ready\n", 10);
    }
    case R_METRICS:
        return metrics_get(r);
    case R_BAD_METHOD:
        return send_error(r, 405, "method_not_allowed", NULL);
    default:
        return send_error(r, 404, "not_found", NULL);
    }
}

void gw__on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct gw_server *s = cls;
    gw__conns_idle(conn);
    struct gw_req *r = *con_cls;
    if (!r) {
        return;
    }
    if (!r->started) {
        /* Seen by gw__on_uri only (the head never completed). */
        free(r->query);
        free(r);
        *con_cls = NULL;
        return;
    }
    int64_t dur = wr_time_mono_ns() - r->t0_ns;
    gw_metrics_request(&s->metrics, r->status ? r->status : 499, dur);
    if ((r->route == R_EVENTS || r->route == R_PIXEL) && wr_log_enabled(s->cfg->access_log_level)) {
        /* Never the query string: it may hold a key. */
        struct wr_logline l;
        wr_logline_begin(&l, s->cfg->access_log_level, "request");
        wr_logline_str(&l, "path", r->route == R_PIXEL ? "/v1/p.gif" : "/v1/events");
        wr_logline_int(&l, "status", r->status);
        wr_logline_int(&l, "accepted", (int64_t)r->accepted);
        wr_logline_int(&l, "rejected", (int64_t)r->rejected);
        wr_logline_int(&l, "bytes", (int64_t)r->body.len);
        wr_logline_double(&l, "ms", (double)dur / 1e6);
        if (r->key) {
            wr_logline_str(&l, "source", r->key->name);
        }
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
            wr_logline_str(&l, "ended", "connection closed before the response was sent");
        }
        wr_logline_end(&l);
    }
    reg_snapshot_release(r->snap);
    wr_arena_destroy(r->arena);
    wr_buf_free(&r->body);
    wr_buf_free(&r->resp);
    if (r->query) {
        explicit_bzero(r->query, r->query_len);
        free(r->query);
    }
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}
