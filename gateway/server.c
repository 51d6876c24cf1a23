/* server.c - the HTTP side of `weir gateway` on libmicrohttpd: routing, auth, limits,
 * body collection and inflation, suspension while the sink makes lines durable, the
 * operational endpoints, and the drain on SIGTERM/SIGINT. */
#include "gateway.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/gzip.h"
#include "common/log.h"
#include "gateway/ingest.h"
#include "gateway/metrics.h"
#include "gateway/ratelimit.h"
#include "gateway/sink.h"
#include "registry/metrics.h"
#include "registry/registry.h"
#include "registry/snapshot.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per-request arena cap: parse nodes of an 8 MiB body plus lines and errors. */
#define ARENA_CAP_FACTOR 12

struct gw_server {
    const struct gw_config *cfg;
    struct MHD_Daemon *mhd;
    reg_loader *loader;
    gw_sink *sink;
    gw_ratelimit *rl;
    struct gw_metrics metrics;
    struct gw_limits limits;
    atomic_int active;     /* requests between first call and completion */
    atomic_bool draining;
    int64_t started_ms;
};

enum route { R_NOT_FOUND, R_EVENTS, R_SCHEMAS, R_HEALTHZ, R_READYZ, R_METRICS, R_BAD_METHOD };

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
    atomic_int sink_status;
    size_t accepted, rejected;
};

/* --- responses ------------------------------------------------------------------ */

static enum MHD_Result send_json(struct gw_req *r, int status, const char *body, size_t len)
{
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
        wr_buf_printf(&b, ",\"message\":\"");
        wr_buf_json_escape(&b, message, strlen(message));
        wr_buf_putc(&b, '"');
    }
    wr_buf_putc(&b, '}');
    enum MHD_Result ok = send_json(r, status, b.p ? b.p : "{}", b.len);
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
    r->status = status;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* --- auth -------------------------------------------------------------------------- */

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
    if (!secret || !*secret || !r->snap) {
        return NULL;
    }
    unsigned char sha[32];
    reg_key_hash(secret, strlen(secret), sha);
    const struct reg_key_rec *k = reg_snapshot_key(r->snap, sha);
    return k && !k->revoked ? k : NULL;
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
    r->key = authenticate(r);
    if (!r->key) {
        r->error = "unauthorized";
        return 401;
    }
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (ct && media_is(ct, "application/json")) {
        r->ndjson = false;
    } else if (ct && (media_is(ct, "application/x-ndjson") || media_is(ct, "application/jsonl"))) {
        r->ndjson = true;
    } else {
        r->error = "unsupported_media_type";
        r->message = "Content-Type must be application/json or application/x-ndjson";
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

static enum MHD_Result events_complete(struct gw_req *r)
{
    struct gw_server *s = r->srv;
    const struct gw_config *cfg = s->cfg;
    int64_t now_ms = wr_time_now_ms();
    r->arena = wr_arena_create(64 * 1024, (r->body.len + 65536) * ARENA_CAP_FACTOR + (16 << 20));
    if (!r->arena) {
        r->retry_after = 1;
        return send_error(r, 503, "unavailable", "out of memory");
    }
    const char *body = r->body.p ? r->body.p : "";
    size_t len = r->body.len;
    struct wr_buf inflated;
    wr_buf_init(&inflated, cfg->max_body_decompressed_bytes);
    if (r->gzip) {
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
    struct gw_batch batch;
    wr_buf_init(&r->resp, 64 << 20);
    int st = gw_ingest_parse(r->arena, body, len, r->ndjson, &s->limits, &batch, &r->resp);
    struct gw_line *lines = NULL;
    size_t n_lines = 0;
    if (st != 200) {
        if (st == 400) {
            atomic_fetch_add(&s->metrics.invalid_json, 1);
            /* The rejected zone keeps what was sent, for inspection. */
            char msg[256] = "invalid JSON";
            const char *m = strstr(r->resp.p, "\"message\":\"");
            if (m) {
                snprintf(msg, sizeof msg, "%.*s", (int)strcspn(m + 11, "\""), m + 11);
            }
            lines = gw_ingest_raw_rejection(r->arena, body, len, r->key->name, now_ms, msg);
            n_lines = lines ? 1 : 0;
        }
        if (!n_lines) {
            return send_json(r, st, r->resp.p, r->resp.len);
        }
        r->status = st;
    } else {
        r->has_rate = r->key->rate > 0;
        if (r->has_rate) {
            gw_ratelimit_take(s->rl, r->key->name, r->key->rate, batch.n, wr_time_mono_ns(),
                              &r->rate);
            if (!r->rate.allowed) {
                atomic_fetch_add(&s->metrics.rate_limited_events, batch.n);
                r->retry_after = r->rate.retry_s;
                return send_error(r, 429, "rate_limited", NULL);
            }
        }
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
    if (!authenticate(r)) {
        return send_error(r, 401, "unauthorized", NULL);
    }
    struct wr_buf b;
    wr_buf_init(&b, 64 << 20);
    wr_buf_printf(&b, "{\"event_type\":\"");
    wr_buf_json_escape(&b, type, strlen(type));
    wr_buf_printf(&b, "\",\"versions\":[");
    struct versions_out o = {&b, 0};
    bool found = reg_snapshot_versions(r->snap, type, strlen(type), add_version, &o);
    wr_buf_printf(&b, "]}");
    enum MHD_Result ok = found ? send_json(r, 200, b.p, b.len)
                               : send_error(r, 404, "not_found", "no active schema for this event type");
    wr_buf_free(&b);
    return ok;
}

static enum MHD_Result metrics_get(struct gw_req *r)
{
    struct gw_server *s = r->srv;
    struct wr_buf b;
    wr_buf_init(&b, 16 << 20);
    gw_metrics_render(&s->metrics, &b);
    reg_metrics_render(s->loader, r->snap, wr_time_now_ms(), &b);
    gw_sink_metrics(s->sink, &b);
    enum MHD_Result ok =
        send_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
    wr_buf_free(&b);
    return ok;
}

/* --- the access handler -------------------------------------------------------------- */

static enum route route_of(const char *method, const char *url, const char **tail)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/v1/events") == 0) {
        return post ? R_EVENTS : R_BAD_METHOD;
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct gw_server *s = cls;
    struct gw_req *r = *con_cls;
    const char *tail = NULL;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) {
            return MHD_NO;
        }
        *con_cls = r;
        atomic_fetch_add(&s->active, 1);
        r->srv = s;
        r->conn = conn;
        r->t0_ns = wr_time_mono_ns();
        r->snap = reg_loader_acquire(s->loader);
        r->route = route_of(method, url, &tail);
        wr_buf_init(&r->body, s->cfg->max_body_bytes);
        if (r->route == R_EVENTS) {
            r->status = events_headers(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->route == R_EVENTS && r->status == 0 &&
            wr_buf_append(&r->body, upload_data, *upload_data_size) != 0) {
            r->status = 413;
            r->error = "too_large";
        }
        /* Bodies of refused or bodiless requests are read and dropped. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (r->route) {
    case R_EVENTS:
        if (r->state == S_WAITING) {
            r->state = S_RESUMED;
            return events_resumed(r);
        }
        if (r->status) {
            return send_error(r, r->status, r->error, r->message);
        }
        return events_complete(r);
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

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct gw_server *s = cls;
    struct gw_req *r = *con_cls;
    if (!r) {
        return;
    }
    int64_t dur = wr_time_mono_ns() - r->t0_ns;
    gw_metrics_request(&s->metrics, r->status ? r->status : 499, dur);
    if (r->route == R_EVENTS && wr_log_enabled(s->cfg->access_log_level)) {
        struct wr_logline l;
        wr_logline_begin(&l, s->cfg->access_log_level, "request");
        wr_logline_str(&l, "path", "/v1/events");
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
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

/* --- start, serve, drain ---------------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                        struct wr_err *err)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            return wr_err_set(err, WR_EINVAL, "--listen: '%s' is not [HOST]:PORT", listen);
        }
        snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon) {
            return wr_err_set(err, WR_EINVAL, "--listen: '%s' is not HOST:PORT", listen);
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
    if (rc != 0 || !ai) {
        return wr_err_set(err, WR_EINVAL, "--listen: '%s': %s", listen, gai_strerror(rc));
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int gw_run(const struct gw_config *cfg, struct wr_err *err)
{
    struct gw_server *s = calloc(1, sizeof *s);
    if (!s) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->started_ms = wr_time_now_ms();
    gw_metrics_init(&s->metrics);
    s->limits = (struct gw_limits){cfg->max_events, cfg->max_depth, cfg->max_event_bytes};
    int rc = 0;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if ((rc = parse_listen(cfg->listen, &ss, &sslen, err)) != 0) {
        free(s);
        return rc;
    }
    /* Signals are taken by sigwait below; every thread started from here inherits the mask. */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN);

    struct lake_s3_opts s3 = {
        .endpoint = cfg->s3_endpoint,
        .region = cfg->s3_region,
        .access_key = cfg->aws_access_key_id,
        .secret_key = cfg->aws_secret_access_key,
        .session_token = cfg->aws_session_token,
        .addressing = cfg->s3_addressing && strcmp(cfg->s3_addressing, "path") == 0 ? LAKE_S3_ADDR_PATH
                      : cfg->s3_addressing && strcmp(cfg->s3_addressing, "virtual") == 0
                          ? LAKE_S3_ADDR_VHOST
                          : LAKE_S3_ADDR_AUTO,
    };
    struct gw_sink_opts so = {
        .spool_dir = cfg->spool_dir,
        .spool_max_bytes = cfg->spool_max_bytes,
        .lake_url = cfg->lake,
        .s3 = &s3,
        .flush_bytes = cfg->flush_bytes,
        .flush_interval_ms = cfg->flush_interval_ms,
        .instance_id = cfg->instance_id,
        .ack_from_memory = cfg->ack_from_memory,
    };
    struct reg_loader_opts lo = {.conninfo = cfg->database_url, .ttl_ms = cfg->schema_ttl_ms,
                                 .format_annotate = cfg->format_annotate};
    s->rl = gw_ratelimit_create();
    s->sink = s->rl ? gw_sink_create(&so, err) : NULL;
    s->loader = s->sink ? reg_loader_create(&lo, err) : NULL;
    if (!s->loader) {
        if (!s->rl) {
            wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        rc = err->code ? err->code : WR_EIO;
        goto out;
    }
    /* Serve as soon as the registry answers; /readyz says 503 until then. */
    reg_loader_wait_ready(s->loader, 5000);
    unsigned threads = cfg->threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    unsigned timeout_s = (unsigned)((cfg->conn_timeout_ms + 999) / 1000);
    s->mhd = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
            (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        0, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        /* Headers and the read buffer live here: a request with larger headers gets 431.
         * libmicrohttpd clears this pool between requests, so its size is paid per
         * request (64 KiB cost ~3% of the CPU of a single-event request); 16 KiB still
         * holds about 15 KiB of headers, and bodies stream through it in chunks. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_END);
    if (!s->mhd) {
        rc = wr_err_set(err, WR_EIO, "cannot listen on %s (in use, or not an address of this "
                        "machine?)", cfg->listen);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    WR_INFO("gateway listening on %s (port %u, %u threads)", cfg->listen, port, threads);
    if (cfg->ack_from_memory) {
        WR_WARN("--unsafe-ack-from-memory: 202 is sent before the spool's fsync; a crash "
                "loses acknowledged events (benchmarks only)");
    }
    if (cfg->ready_file) {
        FILE *f = fopen(cfg->ready_file, "w");
        if (f) {
            fprintf(f, "%u\n", port);
            fclose(f);
        }
    }
    int sig = 0;
    sigwait(&sigs, &sig);
    WR_INFO("signal %d: draining", sig);
    atomic_store(&s->draining, true);
    MHD_socket lsock = MHD_quiesce_daemon(s->mhd);
    if (lsock != MHD_INVALID_SOCKET) {
        close(lsock);
    }
    /* Requests in flight get their answers; new ones on open connections get 503. */
    int64_t deadline = wr_time_mono_ns() + 30 * 1000000000LL;
    while (atomic_load(&s->active) > 0 && wr_time_mono_ns() < deadline) {
        usleep(10000);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    rc = gw_sink_drain(s->sink, 60000);
    if (rc) {
        wr_err_set(err, rc, "drain: the lake did not take every buffer in time; the events "
                   "stay in the spool and are written at the next start");
    } else {
        WR_INFO("drained: every buffer is in the lake");
    }
out:
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
    }
    reg_loader_destroy(s->loader);
    gw_sink_destroy(s->sink);
    gw_ratelimit_destroy(s->rl);
    free(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
