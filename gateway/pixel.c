/* pixel.c - GET /v1/p.gif (browser.md): the query's parameters become one event object,
 * which then takes the same road as a POSTed one (ingest, spool fsync, the lake). */
#include "browser.h"

#include "common/arena.h"
#include "common/prom.h"
#include "json/json.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GIF89a, 1x1, one transparent colour. */
const unsigned char gw_pixel_gif[43] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

const char *const gw_pixel_result_names[GW_PX_NRESULTS] = {
    "accepted", "rejected", "unauthorized", "forbidden", "rate_limited", "unavailable", "too_large",
};

void gw_pixel_metrics(const _Atomic uint64_t *counts, struct wr_buf *out)
{
    wr_prom_family(out, "weir_pixel_requests_total", WR_PROM_COUNTER,
                   "GET /v1/p.gif answers, by their Weir-Result.");
    for (int i = 0; i < GW_PX_NRESULTS; i++) {
        struct wr_prom_label l[] = {{"result", gw_pixel_result_names[i]}};
        wr_prom_sample(out, "weir_pixel_requests_total", l, 1, atomic_load(&counts[i]));
    }
}

#define SEEN_MAX 32

struct build {
    struct wr_buf *out;
    unsigned max_depth;
    int n;
    bool payload_bad;
    char *bad_payload; /* the payload text that is not JSON (malloc'd) */
    size_t bad_len;
    char seen[SEEN_MAX][24];
    size_t n_seen;
};

static bool all_digits(const char *v, size_t len)
{
    if (len == 0 || len > 9) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return false;
        }
    }
    return true;
}

static bool is_json(const char *v, size_t len, unsigned max_depth)
{
    wr_arena *a = wr_arena_create(4096, len * 8 + 65536);
    if (!a) {
        return false;
    }
    struct js_opts opts = {.max_depth = max_depth};
    struct js_val *doc;
    struct js_error e;
    bool ok = js_parse(a, v, len, &opts, &doc, &e) == 0;
    wr_arena_destroy(a);
    return ok;
}

static void add(void *arg, const char *name, size_t nlen, const char *v, size_t vlen)
{
    struct build *b = arg;
    if (nlen == 3 && memcmp(name, "key", 3) == 0) {
        return;
    }
    /* A repeated parameter: the first one counts (no duplicate member in the object). */
    if (nlen < sizeof b->seen[0]) {
        for (size_t i = 0; i < b->n_seen; i++) {
            if (strlen(b->seen[i]) == nlen && memcmp(b->seen[i], name, nlen) == 0) {
                return;
            }
        }
        if (b->n_seen < SEEN_MAX) {
            memcpy(b->seen[b->n_seen], name, nlen);
            b->seen[b->n_seen++][nlen] = '\0';
        }
    }
    struct wr_buf *o = b->out;
    if (b->n++) {
        wr_buf_putc(o, ',');
    }
    wr_buf_putc(o, '"');
    wr_buf_json_escape(o, name, nlen);
    wr_buf_append(o, "\":", 2);
    if (nlen == 7 && memcmp(name, "payload", 7) == 0) {
        if (!is_json(v, vlen, b->max_depth)) {
            b->payload_bad = true;
            free(b->bad_payload);
            b->bad_payload = malloc(vlen + 1);
            if (b->bad_payload) {
                memcpy(b->bad_payload, v, vlen);
                b->bad_len = vlen;
            }
            wr_buf_append(o, "null", 4);
            return;
        }
        wr_buf_append(o, v, vlen);
    } else if (nlen == 14 && memcmp(name, "schema_version", 14) == 0 && all_digits(v, vlen)) {
        wr_buf_append(o, v, vlen);
    } else {
        wr_buf_putc(o, '"');
        wr_buf_json_escape(o, v, vlen);
        wr_buf_putc(o, '"');
    }
}

enum gw_pixel_code gw_pixel_event(const char *q, size_t qlen, unsigned max_depth,
                                  struct wr_buf *out, char *message, size_t mcap)
{
    char *scratch = malloc(2 * (qlen + 1));
    wr_buf_clear(out);
    if (!scratch) {
        snprintf(message, mcap, "out of memory");
        wr_buf_append(out, "", 0);
        return GW_PIXEL_BAD_ESCAPE;
    }
    struct build b = {.out = out, .max_depth = max_depth};
    wr_buf_putc(out, '{');
    const char *bad = NULL;
    size_t bad_len = 0;
    int rc = gw_query_each(q, qlen, scratch, add, &b, &bad, &bad_len);
    free(scratch);
    enum gw_pixel_code code = GW_PIXEL_OK;
    if (rc == GW_Q_BAD_ESCAPE) {
        wr_buf_clear(out);
        /* The offending parameter as sent; a `key` parameter is never kept. */
        if (!(bad_len >= 4 && memcmp(bad, "key=", 4) == 0)) {
            wr_buf_append(out, bad, bad_len);
        }
        snprintf(message, mcap, "a query parameter has bad percent-encoding");
        code = GW_PIXEL_BAD_ESCAPE;
    } else if (b.payload_bad) {
        wr_buf_clear(out);
        wr_buf_append(out, b.bad_payload ? b.bad_payload : "", b.bad_payload ? b.bad_len : 0);
        snprintf(message, mcap, "the payload parameter is not JSON");
        code = GW_PIXEL_PAYLOAD_NOT_JSON;
    } else {
        wr_buf_putc(out, '}');
    }
    free(b.bad_payload);
    return code;
}
