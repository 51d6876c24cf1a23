/* record.c - the gateway's spool record codec and its partition key (record.h). */
#include "spool/record.h"

#include "common/err.h"

#include <string.h>

size_t sp_rec_size(const struct sp_rec *r)
{
    size_t et = r->kind == SP_KIND_ACCEPTED ? r->event_type_len : 0;
    return SP_REC_HDR + et + r->line_len;
}

void sp_rec_encode(const struct sp_rec *l, char *out)
{
    size_t et = l->kind == SP_KIND_ACCEPTED ? l->event_type_len : 0;
    uint64_t t = (uint64_t)l->received_at_ms;
    unsigned char *h = (unsigned char *)out;
    h[0] = (unsigned char)l->kind;
    for (int i = 0; i < 8; i++) {
        h[1 + i] = (unsigned char)(t >> (8 * i));
    }
    h[9] = (unsigned char)(et & 0xff);
    h[10] = (unsigned char)(et >> 8);
    if (et > 0) {
        memcpy(out + SP_REC_HDR, l->event_type, et);
    }
    if (l->line_len > 0) {
        memcpy(out + SP_REC_HDR + et, l->line, l->line_len);
    }
}

int sp_rec_decode(const char *p, size_t len, struct sp_rec *out)
{
    const unsigned char *h = (const unsigned char *)p;
    if (len < SP_REC_HDR || (h[0] != SP_KIND_ACCEPTED && h[0] != SP_KIND_REJECTED)) {
        return WR_EINVAL;
    }
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) {
        t |= (uint64_t)h[1 + i] << (8 * i);
    }
    size_t et = (size_t)h[9] | ((size_t)h[10] << 8);
    if (et > SP_ET_MAX || et > len - SP_REC_HDR || (h[0] == SP_KIND_ACCEPTED && et == 0) ||
        (h[0] == SP_KIND_REJECTED && et != 0)) {
        return WR_EINVAL;
    }
    out->kind = h[0];
    out->received_at_ms = (int64_t)t;
    out->event_type = p + SP_REC_HDR;
    out->event_type_len = et;
    out->line = p + SP_REC_HDR + et;
    out->line_len = len - SP_REC_HDR - et;
    return 0;
}

int64_t sp_hour_of_ms(int64_t ms)
{
    int64_t h = ms / 3600000;
    if (ms % 3600000 < 0) {
        h--;
    }
    return h;
}

void sp_part_of(struct sp_part *k, const struct sp_rec *r)
{
    k->kind = r->kind;
    k->hour = sp_hour_of_ms(r->received_at_ms);
    k->et_len = r->event_type_len;
    memcpy(k->event_type, r->event_type, r->event_type_len);
    k->event_type[r->event_type_len] = '\0';
}

uint64_t sp_part_hash(const struct sp_part *k)
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

int sp_part_eq(const struct sp_part *a, const struct sp_part *b)
{
    return a->kind == b->kind && a->hour == b->hour && a->et_len == b->et_len &&
           memcmp(a->event_type, b->event_type, a->et_len) == 0;
}
