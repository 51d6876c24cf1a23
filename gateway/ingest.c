/* ingest.c - from a request body to stored lines and a response: envelope rules of the
 * HTTP API, key scopes, schema lookup and validation. The payload bytes are copied as
 * sent (never re-serialized), so what was validated is what is stored. */
#include "ingest.h"

#include "common/clock.h"
#include "common/text.h"
#include "lake/envelope.h"
#include "registry/registry.h"
#include "validator/validator.h"

#include <stdio.h>
#include <string.h>

const char *const gw_reason_names[GW_R_COUNT] = {
    "envelope", "unknown_event_type", "unknown_schema_version", "forbidden", "too_large", "schema",
};

/* At most this many reasons are kept per event (the validator caps its own too). */
#define MAX_ERRORS_PER_EVENT 32

struct ev_error {
    enum gw_reason code;
    const char *instance_path;
    const char *schema_path; /* NULL for non-schema errors */
    const char *keyword;
    const char *message;
};

size_t gw_text_utf8_copy(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0, i = 0;
    if (cap == 0) {
        return 0;
    }
    while (i < len) {
        size_t start = i;
        uint32_t cp;
        if (wr_utf8_next((const unsigned char *)src, len, &i, &cp) && cp != 0) {
            if (o + (i - start) >= cap) {
                break;
            }
            memcpy(dst + o, src + start, i - start);
            o += i - start;
        } else {
            if (o + 1 >= cap) {
                break;
            }
            dst[o++] = '?';
            i = start + 1;
        }
    }
    dst[o] = '\0';
    return o;
}

static enum gw_parse_code invalid_json(struct gw_parse_error *pe, const char *msg,
                                       const struct js_error *e)
{
    char text[sizeof pe->message];
    int n;
    if (e) {
        n = snprintf(text, sizeof text, "%s at line %u column %u", e->msg, e->line, e->column);
    } else {
        n = snprintf(text, sizeof text, "%s", msg);
    }
    pe->code = GW_PARSE_INVALID_JSON;
    gw_text_utf8_copy(pe->message, sizeof pe->message, text,
                      n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    return pe->code;
}

static enum gw_parse_code too_large(struct gw_parse_error *pe, const char *msg)
{
    pe->code = GW_PARSE_TOO_LARGE;
    snprintf(pe->message, sizeof pe->message, "%s", msg);
    return pe->code;
}

enum gw_parse_code gw_ingest_parse(wr_arena *a, const char *body, size_t len, bool ndjson,
                                   const struct gw_limits *lim, struct gw_batch *b,
                                   struct gw_parse_error *pe)
{
    pe->code = GW_PARSE_OK;
    pe->message[0] = '\0';
    memset(b, 0, sizeof *b);
    b->body = body;
    b->len = len;
    struct js_opts opts = {.max_depth = lim->max_depth};
    struct js_error e;
    if (!ndjson) {
        struct js_val *doc;
        int rc = js_parse(a, body, len, &opts, &doc, &e);
        if (rc == WR_ENOMEM) {
            return too_large(pe, "request too large to parse");
        }
        if (rc != 0) {
            return invalid_json(pe, NULL, &e);
        }
        if (doc->type == JS_OBJECT) {
            const struct js_val **one = wr_arena_alloc(a, sizeof *one);
            if (!one) {
                return too_large(pe, "request too large to parse");
            }
            one[0] = doc;
            b->events = one;
            b->n = 1;
            b->single = true;
            return GW_PARSE_OK;
        }
        if (doc->type != JS_ARRAY) {
            return invalid_json(pe, "the body must be an event object or an array of them", NULL);
        }
        if (doc->n > lim->max_events) {
            return too_large(pe, "more events than the per-request limit");
        }
        if (doc->n == 0) {
            return invalid_json(pe, "the batch is empty", NULL);
        }
        const struct js_val **evs = wr_arena_alloc(a, doc->n * sizeof *evs);
        if (!evs) {
            return too_large(pe, "request too large to parse");
        }
        for (uint32_t i = 0; i < doc->n; i++) {
            if (doc->u.items[i].type != JS_OBJECT) {
                char msg[96];
                snprintf(msg, sizeof msg, "element %u of the batch is not an object", i);
                return invalid_json(pe, msg, NULL);
            }
            evs[i] = &doc->u.items[i];
        }
        b->events = evs;
        b->n = doc->n;
        return GW_PARSE_OK;
    }
    size_t cap = 64, n = 0, pos = 0;
    const struct js_val **evs = wr_arena_alloc(a, cap * sizeof *evs);
    for (;;) {
        if (!evs) {
            return too_large(pe, "request too large to parse");
        }
        struct js_val *v;
        int rc = js_parse_next(a, body, len, &pos, &opts, &v, &e);
        if (rc == 1) {
            break;
        }
        if (rc == WR_ENOMEM) {
            return too_large(pe, "request too large to parse");
        }
        if (rc != 0) {
            return invalid_json(pe, NULL, &e);
        }
        if (v->type != JS_OBJECT) {
            char msg[96];
            snprintf(msg, sizeof msg, "NDJSON value %zu is not an object", n + 1);
            return invalid_json(pe, msg, NULL);
        }
        /* NDJSON: the next value must start on a new line. */
        size_t k = pos;
        while (k < len && (body[k] == ' ' || body[k] == '\t' || body[k] == '\r')) {
            k++;
        }
        if (k < len && body[k] != '\n') {
            struct js_error le = {.offset = k};
            unsigned line = 1, col = 1;
            for (size_t i = 0; i < k; i++) {
                if (body[i] == '\n') {
                    line++;
                    col = 1;
                } else {
                    col++;
                }
            }
            le.line = line;
            le.column = col;
            snprintf(le.msg, sizeof le.msg, "expected a new line after a value");
            return invalid_json(pe, NULL, &le);
        }
        if (n == lim->max_events) {
            return too_large(pe, "more events than the per-request limit");
        }
        if (n == cap) {
            const struct js_val **bigger = wr_arena_alloc(a, 2 * cap * sizeof *bigger);
            if (bigger) {
                memcpy(bigger, evs, n * sizeof *evs);
            }
            evs = bigger;
            cap *= 2;
            if (!evs) {
                continue;
            }
        }
        evs[n++] = v;
    }
    if (n == 0) {
        return invalid_json(pe, "the body holds no events", NULL);
    }
    b->events = evs;
    b->n = n;
    return GW_PARSE_OK;
}

static bool is_name(const struct js_member *m, const char *name)
{
    size_t n = strlen(name);
    return m->name_len == n && memcmp(m->name, name, n) == 0;
}

static bool event_id_ok(const struct js_val *v)
{
    if (v->type != JS_STRING || v->n < 1 || v->n > 128) {
        return false;
    }
    for (uint32_t i = 0; i < v->n; i++) {
        char c = v->u.s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-')) {
            return false;
        }
    }
    return true;
}

static void render_errors(struct wr_buf *b, const struct ev_error *errs, size_t n)
{
    wr_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        const struct ev_error *e = &errs[i];
        wr_buf_printf(b, "%s{\"code\":\"%s\",\"instance_path\":\"", i ? "," : "",
                      gw_reason_names[e->code]);
        wr_buf_json_escape(b, e->instance_path, strlen(e->instance_path));
        wr_buf_putc(b, '"');
        if (e->schema_path) {
            wr_buf_printf(b, ",\"schema_path\":\"");
            wr_buf_json_escape(b, e->schema_path, strlen(e->schema_path));
            wr_buf_printf(b, "\",\"keyword\":\"");
            wr_buf_json_escape(b, e->keyword, strlen(e->keyword));
            wr_buf_putc(b, '"');
        }
        wr_buf_printf(b, ",\"message\":\"");
        wr_buf_json_escape(b, e->message, strlen(e->message));
        wr_buf_printf(b, "\"}");
    }
    wr_buf_putc(b, ']');
}

static struct gw_line *push_line(wr_arena *a, struct gw_verdict *v, size_t cap, int kind,
                                 const char *type, size_t type_len, int64_t ms,
                                 const struct wr_buf *text)
{
    if (v->n_lines == cap) {
        return NULL;
    }
    char *p = wr_arena_alloc(a, text->len ? text->len : 1);
    if (!p) {
        return NULL;
    }
    memcpy(p, text->p, text->len);
    struct gw_line *l = &v->lines[v->n_lines++];
    l->kind = kind;
    l->event_type = type;
    l->event_type_len = type_len;
    l->received_at_ms = ms;
    l->p = p;
    l->len = text->len;
    return l;
}

int gw_ingest_events(wr_arena *a, const reg_snapshot *snap, const struct reg_key_rec *key,
                     const struct gw_batch *b, const struct gw_limits *lim,
                     int64_t received_at_ms, struct gw_verdict *v, struct wr_buf *resp,
                     uint64_t reasons[GW_R_COUNT])
{
    memset(v, 0, sizeof *v);
    v->lines = wr_arena_alloc(a, (b->n ? b->n : 1) * sizeof *v->lines);
    if (!v->lines) {
        return WR_ENOMEM;
    }
    char received[WR_RFC3339_MS_LEN + 1];
    wr_time_format_ms(received_at_ms, received);
    struct wr_buf line, errjson;
    wr_buf_init(&line, lim->max_event_bytes * 2 + 65536);
    wr_buf_init(&errjson, 1 << 20);
    struct wr_buf entries; /* the response's errors array, built as we go */
    wr_buf_init(&entries, 8 << 20);
    bool all_forbidden = true;
    int rc = 0;
    size_t source_len = strlen(key->name);
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const struct js_val *ev = b->events[i];
        struct ev_error errs[MAX_ERRORS_PER_EVENT];
        size_t nerr = 0;
#define ADD_ERR(c, ip, sp, kw, msg)                                                      \
    do {                                                                                 \
        if (nerr < MAX_ERRORS_PER_EVENT) {                                               \
            errs[nerr++] = (struct ev_error){(c), (ip), (sp), (kw), (msg)};              \
        }                                                                                \
    } while (0)
        const struct js_val *type = NULL, *version = NULL, *id = NULL, *occurred = NULL,
                            *payload = NULL;
        for (uint32_t m = 0; m < ev->n; m++) {
            const struct js_member *mem = &ev->u.members[m];
            if (is_name(mem, "event_type")) {
                type = &mem->val;
            } else if (is_name(mem, "schema_version")) {
                version = &mem->val;
            } else if (is_name(mem, "event_id")) {
                id = &mem->val;
            } else if (is_name(mem, "occurred_at")) {
                occurred = &mem->val;
            } else if (is_name(mem, "payload")) {
                payload = &mem->val;
            } else {
                struct wr_buf ip;
                wr_buf_init(&ip, 4096);
                wr_buf_putc(&ip, '/');
                for (uint32_t k = 0; k < mem->name_len; k++) {
                    char c = mem->name[k];
                    if (c == '~') {
                        wr_buf_append(&ip, "~0", 2);
                    } else if (c == '/') {
                        wr_buf_append(&ip, "~1", 2);
                    } else {
                        wr_buf_putc(&ip, c);
                    }
                }
                char *path = wr_arena_strndup(a, ip.p ? ip.p : "/", ip.len);
                wr_buf_free(&ip);
                ADD_ERR(GW_R_ENVELOPE, path ? path : "", NULL, NULL,
                        is_name(mem, "context")
                            ? "context is made by the gateway, never sent by a client"
                            : "unknown envelope field (allowed: event_type, schema_version, "
                              "event_id, occurred_at, payload)");
            }
        }
        long long want_version = 0;
        if (!type) {
            ADD_ERR(GW_R_ENVELOPE, "/event_type", NULL, NULL, "event_type is required");
        } else if ((type->type != JS_STRING || !reg_event_type_valid(type->u.s, type->n))) {
            ADD_ERR(GW_R_ENVELOPE, "/event_type", NULL, NULL,
                    "event_type must be a string matching ^[a-z][a-z0-9_]{0,63}$");
        }
        if (version) {
            bool ok = version->type == JS_INT && version->u.i >= 1 && version->u.i <= 2147483647;
            if (!ok && version->type == JS_REAL && !(version->flags & JS_F_BIGINT) &&
                version->u.d >= 1 && version->u.d <= 2147483647 &&
                version->u.d == (double)(long long)version->u.d) {
                ok = true;
            }
            if (ok) {
                want_version = version->type == JS_INT ? version->u.i : (long long)version->u.d;
            } else {
                ADD_ERR(GW_R_ENVELOPE, "/schema_version", NULL, NULL,
                        "schema_version must be an integer >= 1");
            }
        }
        if (id && !event_id_ok(id)) {
            ADD_ERR(GW_R_ENVELOPE, "/event_id", NULL, NULL,
                    "event_id must be 1-128 characters of [A-Za-z0-9._:-]");
        }
        int64_t occurred_us;
        if (occurred && (occurred->type != JS_STRING ||
                         !wr_time_parse_rfc3339(occurred->u.s, occurred->n, &occurred_us))) {
            ADD_ERR(GW_R_ENVELOPE, "/occurred_at", NULL, NULL,
                    "occurred_at must be an RFC 3339 date-time string");
        }
        if (!payload) {
            ADD_ERR(GW_R_ENVELOPE, "/payload", NULL, NULL, "payload is required");
        }
        const val_schema *schema = NULL;
        int resolved = 0;
        if (nerr == 0 && ev->src_len > lim->max_event_bytes) {
            ADD_ERR(GW_R_TOO_LARGE, "", NULL, NULL, "the event is larger than the event size limit");
        }
        if (nerr == 0 && !reg_key_allows(key, type->u.s, type->n)) {
            ADD_ERR(GW_R_FORBIDDEN, "/event_type", NULL, NULL,
                    "this API key may not send this event type");
        }
        if (nerr == 0) {
            enum reg_lookup lk = reg_snapshot_schema(snap, type->u.s, type->n, want_version,
                                                     &schema, &resolved);
            if (lk == REG_UNKNOWN_TYPE) {
                ADD_ERR(GW_R_UNKNOWN_TYPE, "/event_type", NULL, NULL,
                        "no active schema for this event type");
            } else if (lk == REG_UNKNOWN_VERSION) {
                ADD_ERR(GW_R_UNKNOWN_VERSION, "/schema_version", NULL, NULL,
                        "no active schema version with this number");
            }
        }
        if (nerr == 0) {
            int64_t t0 = wr_time_mono_ns();
            if (!val_is_valid(schema, payload)) {
                struct val_result vr;
                if (val_validate(schema, payload, a, MAX_ERRORS_PER_EVENT, &vr) == WR_ENOMEM) {
                    rc = WR_ENOMEM;
                }
                for (size_t k = 0; k < vr.n_errors; k++) {
                    const struct val_error *e = &vr.errors[k];
                    size_t iplen = strlen(e->instance_path);
                    char *ip = wr_arena_alloc(a, iplen + 9);
                    if (!ip) {
                        rc = WR_ENOMEM;
                        break;
                    }
                    memcpy(ip, "/payload", 8);
                    memcpy(ip + 8, e->instance_path, iplen + 1);
                    ADD_ERR(GW_R_SCHEMA, ip, e->schema_path, e->keyword, e->message);
                }
                if (nerr == 0) {
                    ADD_ERR(GW_R_SCHEMA, "/payload", "", "", "the payload is not valid");
                }
            }
            v->validate_ns += (uint64_t)(wr_time_mono_ns() - t0);
        }
#undef ADD_ERR
        wr_buf_clear(&line);
        if (nerr == 0) {
            char uuid[WR_UUID_LEN + 1];
            const char *idp = uuid;
            size_t idlen = WR_UUID_LEN;
            if (id) {
                idp = id->u.s;
                idlen = id->n;
            } else {
                wr_uuid7(uuid);
            }
            /* The stored line has one definition: lake/envelope.h. */
            struct lake_env_rec er;
            memset(&er, 0, sizeof er);
            /* Type and id matched their patterns, received_at is ours: no escaping. */
            lake_env_set_plain(&er, LAKE_ENV_EVENT_TYPE, type->u.s, type->n);
            lake_env_set_int(&er, LAKE_ENV_SCHEMA_VERSION, resolved);
            lake_env_set_plain(&er, LAKE_ENV_EVENT_ID, idp, idlen);
            if (occurred) {
                lake_env_set_str(&er, LAKE_ENV_OCCURRED_AT, occurred->u.s, occurred->n);
            }
            lake_env_set_plain(&er, LAKE_ENV_RECEIVED_AT, received, WR_RFC3339_MS_LEN);
            lake_env_set_str(&er, LAKE_ENV_SOURCE, key->name, source_len);
            lake_env_set_str(&er, LAKE_ENV_PAYLOAD, b->body + payload->src_off, payload->src_len);
            if (b->context) {
                lake_env_set_str(&er, LAKE_ENV_CONTEXT, b->context, b->context_len);
            }
            if (lake_env_write(&line, &er) != 0) {
                rc = WR_ENOMEM;
                break;
            }
            /* The event type stays in the request's memory (the body outlives the lines). */
            if (!push_line(a, v, b->n, GW_LINE_ACCEPTED, type->u.s, type->n, received_at_ms, &line)) {
                rc = WR_ENOMEM;
            }
            v->accepted++;
            continue;
        }
        v->rejected++;
        for (size_t k = 0; k < nerr; k++) {
            all_forbidden &= errs[k].code == GW_R_FORBIDDEN;
        }
        if (reasons) {
            reasons[errs[0].code]++;
        }
        wr_buf_clear(&errjson);
        render_errors(&errjson, errs, nerr);
        /* One entry is appended whole or not at all: a response over the cap lists the
         * first rejected events (the counts stay exact) and stays valid JSON. */
        size_t mark = entries.len;
        int erc = wr_buf_printf(&entries, "%s{\"index\":%zu,\"event_id\":",
                                mark ? "," : "", i);
        if (id && id->type == JS_STRING) {
            erc |= wr_buf_putc(&entries, '"');
            erc |= wr_buf_json_escape(&entries, id->u.s, id->n);
            erc |= wr_buf_putc(&entries, '"');
        } else {
            erc |= wr_buf_append(&entries, "null", 4);
        }
        erc |= wr_buf_append(&entries, ",\"errors\":", 10);
        erc |= errjson.p ? wr_buf_append(&entries, errjson.p, errjson.len) : WR_ENOMEM;
        erc |= wr_buf_putc(&entries, '}');
        if (erc != 0 && entries.p) {
            entries.len = mark;
            entries.p[mark] = '\0';
        }
        /* An event too large to store whole keeps its first bytes (lake/envelope.h). */
        struct lake_env_rec rr;
        memset(&rr, 0, sizeof rr);
        lake_env_set_str(&rr, LAKE_REJ_EVENT, b->body + ev->src_off, ev->src_len);
        lake_env_set_str(&rr, LAKE_REJ_SOURCE, key->name, source_len);
        lake_env_set_str(&rr, LAKE_REJ_RECEIVED_AT, received, WR_RFC3339_MS_LEN);
        lake_env_set_str(&rr, LAKE_REJ_ERRORS, errjson.p, errjson.len);
        if (b->context) { /* replay restores it (evolution.md) */
            lake_env_set_str(&rr, LAKE_REJ_CONTEXT, b->context, b->context_len);
        }
        /* The errors array is JSON only if every append to it went in (the error sticks). */
        int wrc = errjson.err || !errjson.p ? WR_ENOMEM
                                            : lake_rej_write(&line, &rr, lim->max_event_bytes);
        if (wrc == WR_ELIMIT) {
            wrc = lake_rej_write(&line, &rr, 1); /* no room for it whole: its first bytes */
        }
        if (wrc != 0 || !push_line(a, v, b->n, GW_LINE_REJECTED, "", 0, received_at_ms, &line)) {
            rc = WR_ENOMEM;
        }
    }
    wr_buf_clear(resp);
    v->status = v->accepted ? 202 : (all_forbidden ? 403 : 422);
    int rrc = wr_buf_append(resp, "{\"accepted\":", 12);
    rrc |= wr_buf_put_u64(resp, v->accepted);
    rrc |= wr_buf_append(resp, ",\"rejected\":", 12);
    rrc |= wr_buf_put_u64(resp, v->rejected);
    if (v->rejected) {
        rrc |= wr_buf_append(resp, ",\"errors\":[", 11);
        rrc |= wr_buf_append(resp, entries.p ? entries.p : "", entries.len);
        rrc |= wr_buf_putc(resp, ']');
    }
    rrc |= wr_buf_putc(resp, '}');
    if (rrc != 0) {
        rc = WR_ENOMEM;
    }
    wr_buf_free(&line);
    wr_buf_free(&errjson);
    wr_buf_free(&entries);
    return rc;
}

struct gw_line *gw_ingest_raw_rejection(wr_arena *a, const char *body, size_t len,
                                        const char *source, int64_t received_at_ms,
                                        const char *message, const char *context,
                                        size_t context_len)
{
    char received[WR_RFC3339_MS_LEN + 1];
    wr_time_format_ms(received_at_ms, received);
    struct wr_buf errs, b;
    wr_buf_init(&errs, 4096);
    wr_buf_init(&b, 6 * LAKE_REJ_RAW_MAX_BYTES + 8192);
    wr_buf_printf(&errs, "[{\"code\":\"invalid_json\",\"instance_path\":\"\",\"message\":\"");
    wr_buf_json_escape(&errs, message, strlen(message));
    int rc = wr_buf_append(&errs, "\"}]", 3);
    if (rc == 0) {
        /* The text as sent, cut to LAKE_REJ_RAW_MAX_BYTES: enough to see what went wrong. */
        struct lake_env_rec rr;
        memset(&rr, 0, sizeof rr);
        lake_env_set_str(&rr, LAKE_REJ_RAW, body, len);
        lake_env_set_str(&rr, LAKE_REJ_SOURCE, source, strlen(source));
        lake_env_set_str(&rr, LAKE_REJ_RECEIVED_AT, received, WR_RFC3339_MS_LEN);
        lake_env_set_str(&rr, LAKE_REJ_ERRORS, errs.p, errs.len);
        if (context) {
            lake_env_set_str(&rr, LAKE_REJ_CONTEXT, context, context_len);
        }
        rc = lake_rej_write(&b, &rr, 0);
    }
    struct gw_line *l = rc == 0 ? wr_arena_alloc(a, sizeof *l) : NULL;
    char *p = l ? wr_arena_alloc(a, b.len) : NULL;
    if (!p) {
        wr_buf_free(&errs);
        wr_buf_free(&b);
        return NULL;
    }
    memcpy(p, b.p, b.len);
    *l = (struct gw_line){.kind = GW_LINE_REJECTED, .event_type = "", .received_at_ms = received_at_ms,
                          .p = p, .len = b.len};
    wr_buf_free(&errs);
    wr_buf_free(&b);
    return l;
}
