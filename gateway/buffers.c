/* buffers.c - the sink's spool record codec and its partition buffers: each buffer is one
 * gzip member compressed as its lines arrive, so memory stays near the compressed size. */
#include "gateway/sink_int.h"

#include <stdlib.h>
#include <string.h>

size_t gw__rec_size(const struct gw_line *l)
{
    size_t et = l->kind == GW_LINE_ACCEPTED ? l->event_type_len : 0;
    return GW__REC_HDR + et + l->len;
}

void gw__rec_encode(const struct gw_line *l, char *out)
{
    size_t et = l->kind == GW_LINE_ACCEPTED ? l->event_type_len : 0;
    uint64_t t = (uint64_t)l->received_at_ms;
    unsigned char *h = (unsigned char *)out;
    h[0] = (unsigned char)l->kind;
    for (int i = 0; i < 8; i++) {
        h[1 + i] = (unsigned char)(t >> (8 * i));
    }
    h[9] = (unsigned char)(et & 0xff);
    h[10] = (unsigned char)(et >> 8);
    if (et > 0) {
        memcpy(out + GW__REC_HDR, l->event_type, et);
    }
    if (l->len > 0) {
        memcpy(out + GW__REC_HDR + et, l->p, l->len);
    }
}

int gw__rec_decode(const char *p, size_t len, struct gw__rec *out)
{
    const unsigned char *h = (const unsigned char *)p;
    if (len < GW__REC_HDR || (h[0] != GW_LINE_ACCEPTED && h[0] != GW_LINE_REJECTED)) {
        return WR_EINVAL;
    }
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) {
        t |= (uint64_t)h[1 + i] << (8 * i);
    }
    size_t et = (size_t)h[9] | ((size_t)h[10] << 8);
    if (et > GW__ET_MAX || et > len - GW__REC_HDR || (h[0] == GW_LINE_ACCEPTED && et == 0) ||
        (h[0] == GW_LINE_REJECTED && et != 0)) {
        return WR_EINVAL;
    }
    out->kind = h[0];
    out->received_at_ms = (int64_t)t;
    out->event_type = p + GW__REC_HDR;
    out->event_type_len = et;
    out->line = p + GW__REC_HDR + et;
    out->line_len = len - GW__REC_HDR - et;
    return 0;
}

int64_t gw__hour_of_ms(int64_t ms)
{
    int64_t h = ms / 3600000;
    if (ms % 3600000 < 0) {
        h--;
    }
    return h;
}

void gw__pkey_from_rec(struct gw__pkey *k, const struct gw__rec *r)
{
    k->kind = r->kind;
    k->hour = gw__hour_of_ms(r->received_at_ms);
    k->et_len = r->event_type_len;
    memcpy(k->event_type, r->event_type, r->event_type_len);
    k->event_type[r->event_type_len] = '\0';
}

uint64_t gw__pkey_hash(const struct gw__pkey *k)
{
    /* FNV-1a: partitions are few and the input is ours, so no keyed hash is needed. */
    uint64_t h = 1469598103934665603ull;
    unsigned char head[9];
    head[0] = (unsigned char)k->kind;
    for (int i = 0; i < 8; i++) {
        head[1 + i] = (unsigned char)((uint64_t)k->hour >> (8 * i));
    }
    for (size_t i = 0; i < sizeof(head); i++) {
        h = (h ^ head[i]) * 1099511628211ull;
    }
    for (size_t i = 0; i < k->et_len; i++) {
        h = (h ^ (unsigned char)k->event_type[i]) * 1099511628211ull;
    }
    return h;
}

int gw__pkey_eq(const struct gw__pkey *a, const struct gw__pkey *b)
{
    return a->kind == b->kind && a->hour == b->hour && a->et_len == b->et_len &&
           memcmp(a->event_type, b->event_type, a->et_len) == 0;
}

struct gw__pbuf *gw__pbuf_create(const struct gw__pkey *key, uint64_t first_lsn, int level,
                                 size_t out_max)
{
    struct gw__pbuf *b = calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    b->key = *key;
    b->hash = gw__pkey_hash(key);
    b->first_lsn = first_lsn;
    b->last_lsn = first_lsn;
    b->out_max = out_max;
    b->out_cap = out_max < 16384 ? out_max : 16384;
    b->out = malloc(b->out_cap);
    /* windowBits 15 + 16: a gzip wrapper, which is what .jsonl.gz readers expect. */
    if (!b->out || deflateInit2(&b->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(b->out);
        free(b);
        return NULL;
    }
    b->z.next_out = b->out;
    b->z.avail_out = (uInt)b->out_cap;
    return b;
}

/* Doubles the output space (up to out_max) once zlib has filled it. */
static int pbuf_grow(struct gw__pbuf *b)
{
    b->out_len = b->out_cap - b->z.avail_out;
    if (b->out_cap >= b->out_max) {
        return WR_ELIMIT;
    }
    size_t cap = b->out_cap * 2;
    if (cap > b->out_max) {
        cap = b->out_max;
    }
    /* zlib's avail_out is a uInt: never offer more than it can count. */
    if (cap - b->out_len > 0x40000000u) {
        cap = b->out_len + 0x40000000u;
    }
    unsigned char *p = realloc(b->out, cap);
    if (!p) {
        return WR_ENOMEM;
    }
    b->out = p;
    b->out_cap = cap;
    b->z.next_out = p + b->out_len;
    b->z.avail_out = (uInt)(cap - b->out_len);
    return 0;
}

static int pbuf_deflate(struct gw__pbuf *b, const char *p, size_t len, int flush)
{
    while (len > 0 || flush == Z_FINISH) {
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;
        b->z.next_in = (Bytef *)(uintptr_t)p;
        b->z.avail_in = chunk;
        for (;;) {
            if (b->z.avail_out == 0) {
                int rc = pbuf_grow(b);
                if (rc != 0) {
                    return rc;
                }
            }
            int zr = deflate(&b->z, flush);
            if (zr == Z_STREAM_END) {
                b->out_len = b->out_cap - b->z.avail_out;
                return 0;
            }
            if (zr != Z_OK && zr != Z_BUF_ERROR) {
                return WR_ENOMEM;
            }
            /* Done with this input once zlib took it all and had room to spare. */
            if (flush != Z_FINISH && b->z.avail_in == 0 && b->z.avail_out > 0) {
                break;
            }
        }
        p += chunk;
        len -= chunk;
    }
    b->out_len = b->out_cap - b->z.avail_out;
    return 0;
}

int gw__pbuf_add(struct gw__pbuf *b, uint64_t lsn, const char *line, size_t len)
{
    if (b->finished) {
        return WR_EINVAL;
    }
    int rc = pbuf_deflate(b, line, len, Z_NO_FLUSH);
    if (rc == 0) {
        rc = pbuf_deflate(b, "\n", 1, Z_NO_FLUSH);
    }
    if (rc != 0) {
        return rc;
    }
    b->last_lsn = lsn;
    b->lines++;
    b->raw_bytes += len + 1;
    return 0;
}

int gw__pbuf_finish(struct gw__pbuf *b)
{
    if (b->finished) {
        return 0;
    }
    int rc = pbuf_deflate(b, NULL, 0, Z_FINISH);
    deflateEnd(&b->z);
    b->finished = 1;
    return rc;
}

void gw__pbuf_destroy(struct gw__pbuf *b)
{
    if (!b) {
        return;
    }
    if (!b->finished) {
        deflateEnd(&b->z);
    }
    free(b->out);
    free(b);
}
