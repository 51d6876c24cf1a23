/* read_column.c - one column chunk of a row group into the reader's arrays: page headers,
 * decompression, definition levels, and the value encodings (PLAIN, dictionary, RLE booleans,
 * DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT), for data pages v1 and v2.
 * With filters, pages holding no selected row are skipped undecoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "parquet/read_int.h"

enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICT = 2, PAGE_DATA_V2 = 3 };
enum {
    ENC_PLAIN = 0,
    ENC_PLAIN_DICT = 2,
    ENC_RLE = 3,
    ENC_BIT_PACKED = 4,
    ENC_DELTA = 5,
    ENC_DELTA_LEN = 6,
    ENC_DELTA_BYTES = 7,
    ENC_RLE_DICT = 8,
    ENC_BSS = 9
};

/* ---- pages ---- */

struct page_hdr {
    int type;
    int32_t usize, csize;
    int has_crc;
    uint32_t crc;
    int32_t nvalues;
    int32_t encoding;
    int32_t def_enc;
    int32_t nnulls, nrows, def_len, rep_len;
    int32_t is_compressed;
    int has_sub;
};

static void rd_page_sub(struct pqr_tc *t, struct page_hdr *h, int which)
{
    /* DataPageHeader (5) and DictionaryPageHeader (7): 1 num_values, 2 encoding, 3 definition
     * level encoding. DataPageHeaderV2 (8): 1 num_values, 2 num_nulls, 3 num_rows, 4 encoding,
     * 5 and 6 level byte lengths, 7 is_compressed (a bool). */
    int32_t *v1[] = {NULL, &h->nvalues, &h->encoding, &h->def_enc};
    int32_t *v2[] = {NULL,         &h->nvalues, &h->nnulls,  &h->nrows,
                     &h->encoding, &h->def_len, &h->rep_len, &h->is_compressed};
    int32_t **map = which == 8 ? v2 : v1;
    int16_t nmap = which == 8 ? 8 : 4;
    int16_t last = 0, id;
    int bv, ft;
    h->has_sub = 1;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        if (id > 0 && id < nmap &&
            (ft == PQR_T_I32 || (ft == PQR_T_TRUE && which == 8 && id == 7))) {
            *map[id] = ft == PQR_T_TRUE ? bv : (int32_t)pqr_tc_zigzag(t);
        } else {
            pqr_tc_skip(t, ft, bv);
        }
    }
}

/* Parses a PageHeader at p (at most avail bytes); returns its length or -1 with err. */
static long rd_page_header(const uint8_t *p, size_t avail, struct page_hdr *h, struct wr_err *err)
{
    struct pqr_tc t = {p, p + avail, 0, err, 0};
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->usize = h->csize = -1;
    h->is_compressed = 1;
    int16_t last = 0, id;
    int bv, ft;
    while ((ft = pqr_tc_field(&t, &last, &id, &bv)) != 0) {
        switch (id) {
        case 1: h->type = (int)pqr_tc_zigzag(&t); break;
        case 2: h->usize = (int32_t)pqr_tc_zigzag(&t); break;
        case 3: h->csize = (int32_t)pqr_tc_zigzag(&t); break;
        case 4:
            h->crc = (uint32_t)pqr_tc_zigzag(&t);
            h->has_crc = 1;
            break;
        case 5:
        case 7:
        case 8:
            if (ft != PQR_T_STRUCT) {
                pqr_tc_fail(&t, "page header field of another type");
            } else {
                rd_page_sub(&t, h, id);
            }
            break;
        default: pqr_tc_skip(&t, ft, bv);
        }
        if (id <= 4 && ft != PQR_T_I32 && !t.failed) {
            pqr_tc_fail(&t, "page header field of another type");
        }
    }
    if (t.failed) {
        return -1;
    }
    return (long)(t.p - p);
}

struct ctx {
    pq_reader *r;
    struct rcol *c;
    size_t g;
    struct wr_err *err;
    const uint8_t *dict; /* dictionary values, vsize each */
    size_t dict_n;
    int keep_pages; /* byte strings point into page buffers: keep them */
    /* A filtered column (pqr_load_filtered): its filters, and what they make of the chunk. */
    const struct rfilter *const *flt;
    size_t nflt;
    uint8_t *dmatch; /* per dictionary entry: 1 when it matches every filter */
    int dict_any;    /* some entry matches */
    int irange;      /* integer column: matches are ilo <= v <= ihi (v ^ iflip, signed) */
    int64_t ilo, ihi;
    uint64_t iflip;
    size_t sk;   /* a column read after the filters: the first selected row of the page */
    int partial; /* the page is decompressed only in part: running out is 2, not an error */
};

static int cfail(struct ctx *x, int code, const char *what)
{
    return wr_err_set(x->err, code, "row group %zu column %s: %s", x->g, x->c->L->name, what);
}

/* A page buffer: kept in the group arena for byte-string columns, else the reused one. */
static uint8_t *page_buffer(struct ctx *x, size_t n)
{
    if (x->keep_pages) {
        return pqr_galloc(x->r, n, 0);
    }
    if (pqr_grow(x->r, &x->r->pagebuf, &x->r->pagebuf_cap, n ? n : 1)) { /* an empty page too */
        return NULL;
    }
    return x->r->pagebuf;
}

static void *scratch(struct ctx *x, size_t n)
{
    if (pqr_grow(x->r, &x->r->scratch, &x->r->scratch_cap, n ? n : 1)) {
        return NULL;
    }
    return x->r->scratch;
}

/* PLAIN values: n values of the column's type from [p, end) into dst. Returns bytes used or -1. */
static long plain_decode(struct ctx *x, const uint8_t *p, const uint8_t *end, void *dst, size_t n)
{
    size_t avail = (size_t)(end - p);
    const struct pq_rcol *c = &x->c->L->c;
    switch (c->type) {
    case PQ_PT_BOOLEAN: {
        if ((n + 7) / 8 > avail) {
            return -1;
        }
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++) {
            d[i] = (p[i >> 3] >> (i & 7)) & 1;
        }
        return (long)((n + 7) / 8);
    }
    case PQ_PT_INT32:
    case PQ_PT_FLOAT:
    case PQ_PT_INT64:
    case PQ_PT_DOUBLE: {
        size_t w = x->c->vsize;
        if (n > avail / w) {
            return -1;
        }
        memcpy(dst, p, n * w);
        return (long)(n * w);
    }
    case PQ_PT_INT96:
    case PQ_PT_FLBA: {
        size_t w = (size_t)c->type_length;
        if (n > avail / w) {
            return -1;
        }
        struct pq_bytes *d = dst;
        for (size_t i = 0; i < n; i++) {
            d[i].p = p + i * w;
            d[i].len = w;
        }
        return (long)(n * w);
    }
    default: {
        struct pq_bytes *d = dst;
        const uint8_t *q = p;
        for (size_t i = 0; i < n; i++) {
            if (end - q < 4) {
                return -1;
            }
            uint32_t l =
                (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
            q += 4;
            if (l > (size_t)(end - q)) {
                return -1;
            }
            d[i].p = q;
            d[i].len = l;
            q += l;
        }
        return (long)(q - p);
    }
    }
}

static int load_dict(struct ctx *x, const struct page_hdr *h, const uint8_t *body)
{
    if (h->nvalues < 0) {
        return cfail(x, WR_EINVAL, "dictionary page with a negative count");
    }
    size_t n = (size_t)h->nvalues, vs = x->c->vsize;
    /* Every PLAIN value takes at least one bit, so the page size bounds the count. */
    if (n / 8 > (size_t)h->usize) {
        return cfail(x, WR_EINVAL, "dictionary count larger than its page");
    }
    uint8_t *d = pqr_galloc(x->r, n * vs, 0);
    if (!d) {
        return cfail(x, WR_ELIMIT, "row group over the memory limit (dictionary)");
    }
    if (plain_decode(x, body, body + h->usize, d, n) < 0) {
        return cfail(x, WR_EINVAL, "dictionary page shorter than its values");
    }
    x->dict = d;
    x->dict_n = n;
    if (x->flt) {
        /* Each entry is tested once: the pages then test an index against this bitmap. */
        x->dmatch = pqr_galloc(x->r, n, 0);
        if (!x->dmatch) {
            return cfail(x, WR_ELIMIT, "row group over the memory limit (dictionary)");
        }
        x->dict_any = 0;
        for (size_t i = 0; i < n; i++) {
            int m = 1;
            for (size_t j = 0; j < x->nflt && m; j++) {
                m = pqr_match_slot(x->flt[j], x->c->L->c.type, d + i * vs);
            }
            x->dmatch[i] = (uint8_t)m;
            x->dict_any |= m;
        }
    }
    return 0;
}

/* Dictionary indices of a page: nn of them into *out, each checked against the dictionary's
 * size. */
static int dict_indices(struct ctx *x, const uint8_t *p, const uint8_t *end, size_t nn,
                        const uint32_t **out)
{
    if (!x->dict) {
        return cfail(x, WR_EINVAL, "dictionary-encoded page without a dictionary page");
    }
    if (p >= end) {
        return cfail(x, WR_EINVAL, "dictionary indices missing");
    }
    int w = *p++;
    if (w > 32) {
        return cfail(x, WR_EINVAL, "dictionary index bit width over 32");
    }
    uint32_t *idx = scratch(x, nn * sizeof(uint32_t));
    if (!idx) {
        return cfail(x, WR_ELIMIT, "row group over the memory limit (indices)");
    }
    if (pqr_hybrid(p, end, w, idx, nn) < 0) {
        return x->partial ? 2 : cfail(x, WR_EINVAL, "dictionary indices run past the page");
    }
    uint32_t bad = 0;
    for (size_t i = 0; i < nn; i++) {
        bad |= idx[i] >= x->dict_n;
    }
    if (bad) {
        return cfail(x, WR_EINVAL, "dictionary index out of range");
    }
    *out = idx;
    return 0;
}

/* Decodes nn dense values with encoding enc from [p, end) into dst. */
static int decode_values(struct ctx *x, int enc, const uint8_t *p, const uint8_t *end, uint8_t *dst,
                         size_t nn, int v2)
{
    const struct pq_rcol *c = &x->c->L->c;
    size_t vs = x->c->vsize;
    (void)v2;
    if (nn == 0) {
        return 0;
    }
    switch (enc) {
    case ENC_PLAIN:
        if (plain_decode(x, p, end, dst, nn) < 0) {
            return cfail(x, WR_EINVAL, "PLAIN values run past the page");
        }
        return 0;
    case ENC_PLAIN_DICT:
    case ENC_RLE_DICT: {
        const uint32_t *idx = NULL;
        int rc = dict_indices(x, p, end, nn, &idx);
        if (rc) {
            return rc;
        }
        switch (vs) {
        case 1:
            for (size_t i = 0; i < nn; i++) {
                dst[i] = x->dict[idx[i]];
            }
            break;
        case 4:
            for (size_t i = 0; i < nn; i++) {
                memcpy(dst + i * 4, x->dict + (size_t)idx[i] * 4, 4);
            }
            break;
        case 8:
            for (size_t i = 0; i < nn; i++) {
                memcpy(dst + i * 8, x->dict + (size_t)idx[i] * 8, 8);
            }
            break;
        default: {
            struct pq_bytes *d = (struct pq_bytes *)(void *)dst;
            const struct pq_bytes *dict = (const struct pq_bytes *)(const void *)x->dict;
            for (size_t i = 0; i < nn; i++) {
                d[i] = dict[idx[i]];
            }
        }
        }
        return 0;
    }
    case ENC_RLE: {
        if (c->type != PQ_PT_BOOLEAN) {
            return cfail(x, WR_EINVAL, "RLE values on a non-boolean column");
        }
        if (end - p < 4) {
            return cfail(x, WR_EINVAL, "RLE booleans without their length");
        }
        uint32_t l =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
        if (l > (size_t)(end - p)) {
            return cfail(x, WR_EINVAL, "RLE booleans longer than the page");
        }
        uint32_t *tmp = scratch(x, nn * sizeof(uint32_t));
        if (!tmp) {
            return cfail(x, WR_ELIMIT, "row group over the memory limit");
        }
        if (pqr_hybrid(p, p + l, 1, tmp, nn) < 0) {
            return cfail(x, WR_EINVAL, "RLE booleans run past their length");
        }
        for (size_t i = 0; i < nn; i++) {
            dst[i] = (uint8_t)tmp[i];
        }
        return 0;
    }
    case ENC_DELTA: {
        if (c->type != PQ_PT_INT32 && c->type != PQ_PT_INT64) {
            return cfail(x, WR_EINVAL, "DELTA_BINARY_PACKED on a non-integer column");
        }
        int64_t *tmp = scratch(x, nn * sizeof(int64_t));
        const char *why = NULL;
        if (!tmp) {
            return cfail(x, WR_ELIMIT, "row group over the memory limit");
        }
        if (pqr_delta(p, end, c->type == PQ_PT_INT32 ? 32 : 64, tmp, nn, &why) < 0) {
            return cfail(x, WR_EINVAL, why);
        }
        if (c->type == PQ_PT_INT64) {
            memcpy(dst, tmp, nn * 8);
        } else {
            for (size_t i = 0; i < nn; i++) {
                int32_t v = (int32_t)tmp[i];
                memcpy(dst + i * 4, &v, 4);
            }
        }
        return 0;
    }
    case ENC_DELTA_LEN: {
        if (c->type != PQ_PT_BYTE_ARRAY) {
            return cfail(x, WR_EINVAL, "DELTA_LENGTH_BYTE_ARRAY on a non-BYTE_ARRAY column");
        }
        int64_t *len = scratch(x, nn * sizeof(int64_t));
        const char *why = NULL;
        if (!len) {
            return cfail(x, WR_ELIMIT, "row group over the memory limit");
        }
        long used = pqr_delta(p, end, 32, len, nn, &why);
        if (used < 0) {
            return cfail(x, WR_EINVAL, why);
        }
        const uint8_t *q = p + used;
        struct pq_bytes *d = (struct pq_bytes *)dst;
        for (size_t i = 0; i < nn; i++) {
            if (len[i] < 0 || (uint64_t)len[i] > (uint64_t)(end - q)) {
                return cfail(x, WR_EINVAL, "DELTA_LENGTH_BYTE_ARRAY lengths run past the page");
            }
            d[i].p = q;
            d[i].len = (size_t)len[i];
            q += len[i];
        }
        return 0;
    }
    case ENC_BSS: {
        size_t w = c->type == PQ_PT_FLBA ? (size_t)c->type_length : vs;
        if (c->type == PQ_PT_BOOLEAN || c->type == PQ_PT_BYTE_ARRAY || c->type == PQ_PT_INT96) {
            return cfail(x, WR_EINVAL, "BYTE_STREAM_SPLIT on an unsupported type");
        }
        if (nn > (size_t)(end - p) / w) {
            return cfail(x, WR_EINVAL, "BYTE_STREAM_SPLIT values run past the page");
        }
        uint8_t *out = dst;
        if (c->type == PQ_PT_FLBA) {
            out = pqr_galloc(x->r, nn * w, 0);
            if (!out) {
                return cfail(x, WR_ELIMIT, "row group over the memory limit");
            }
        }
        for (size_t k = 0; k < w; k++) {
            const uint8_t *s = p + k * nn;
            for (size_t i = 0; i < nn; i++) {
                out[i * w + k] = s[i];
            }
        }
        if (c->type == PQ_PT_FLBA) {
            struct pq_bytes *d = (struct pq_bytes *)dst;
            for (size_t i = nn; i-- > 0;) {
                d[i].p = out + i * w;
                d[i].len = w;
            }
        }
        return 0;
    }
    case ENC_DELTA_BYTES: return cfail(x, WR_EINVAL, "encoding DELTA_BYTE_ARRAY is not supported");
    default: return cfail(x, WR_EINVAL, "unsupported value encoding");
    }
}

/* Spreads the nn dense values at dst over n row slots by valid (backwards, in place). */
#define EXPAND(T)                                                                                  \
    do {                                                                                           \
        T *d = (T *)(void *)dst;                                                                   \
        T zero;                                                                                    \
        memset(&zero, 0, sizeof zero);                                                             \
        for (size_t i = n; i-- > 0;) {                                                             \
            d[i] = valid[i] ? d[--k] : zero;                                                       \
        }                                                                                          \
    } while (0)

static void expand(uint8_t *dst, size_t vs, const uint8_t *valid, size_t n, size_t nn)
{
    size_t k = nn;
    switch (vs) {
    case 1: EXPAND(uint8_t); break;
    case 4: EXPAND(uint32_t); break;
    case 8: EXPAND(uint64_t); break;
    default: EXPAND(struct pq_bytes); break;
    }
}

/* ---- filtered and sparse pages ---- */

static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* little-endian hosts only (reader.c) */
    return v;
}

static inline uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* PLAIN integers compared in place: m[i] &= ilo <= v <= ihi, and only a match's value copied
 * to its slot. valid is NULL when the page holds no null (then dense index == row). */
#define INT_FILTER(W, LOAD, CONV)                                                                  \
    do {                                                                                           \
        size_t j = 0;                                                                              \
        for (size_t i = 0; i < nv; i++) {                                                          \
            if (valid && !valid[i]) {                                                              \
                m[i] = 0;                                                                          \
                continue;                                                                          \
            }                                                                                      \
            const uint8_t *q = p + (j++) * (W);                                                    \
            int64_t v = CONV(LOAD(q));                                                             \
            int64_t sv = (int64_t)((uint64_t)v ^ x->iflip);                                        \
            uint8_t k = (uint8_t)((sv >= x->ilo) & (sv <= x->ihi));                                \
            m[i] &= k;                                                                             \
            if (k) {                                                                               \
                memcpy(dst + i * (W), q, (W));                                                     \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define CONV_I64(u) ((int64_t)(u))
#define CONV_I32(u) ((int64_t)(int32_t)(u))
#define CONV_U32(u) ((int64_t)(u))

/* A page of a filtered column: clears r->match for the rows that do not match and
 * materializes only the rows that do (the others' slots keep what they held: zero, or a value
 * of an earlier group; never uninitialized, see pqr_grow_col). */
static int filter_page(struct ctx *x, int enc, const uint8_t *p, const uint8_t *end, uint8_t *dst,
                       size_t row0, size_t nv, size_t nn, int v2)
{
    struct rcol *c = x->c;
    size_t vs = c->vsize;
    uint8_t *m = x->r->match + row0;
    const uint8_t *valid = nn < nv ? c->valid + row0 : NULL;
    enum pq_ptype t = c->L->c.type;
    if ((enc == ENC_PLAIN_DICT || enc == ENC_RLE_DICT) && x->dict) {
        if (nn == 0) {
            memset(m, 0, nv);
            return 0;
        }
        const uint32_t *idx = NULL;
        int rc = dict_indices(x, p, end, nn, &idx);
        if (rc) {
            return rc;
        }
        const uint8_t *dm = x->dmatch;
        for (size_t i = 0, j = 0; i < nv; i++) {
            if (valid && !valid[i]) {
                m[i] = 0;
                continue;
            }
            uint32_t e = idx[j++];
            uint8_t k = dm[e];
            m[i] &= k;
            if (k) {
                memcpy(dst + i * vs, x->dict + (size_t)e * vs, vs);
            }
        }
        return 0;
    }
    if (enc == ENC_PLAIN && x->irange && (t == PQ_PT_INT64 || t == PQ_PT_INT32)) {
        if (nn > (size_t)(end - p) / vs) {
            return cfail(x, WR_EINVAL, "PLAIN values run past the page");
        }
        if (t == PQ_PT_INT64) {
            INT_FILTER(8, le64, CONV_I64);
        } else if (x->flt[0]->uns) {
            INT_FILTER(4, le32, CONV_U32);
        } else {
            INT_FILTER(4, le32, CONV_I32);
        }
        return 0;
    }
    /* Any other encoding: decoded in full, then tested row by row. */
    int rc = decode_values(x, enc, p, end, dst, nn, v2);
    if (rc) {
        return rc;
    }
    if (nn < nv) {
        expand(dst, vs, c->valid + row0, nv, nn);
    }
    for (size_t i = 0; i < nv; i++) {
        if (!m[i]) {
            continue;
        }
        if (valid && !valid[i]) {
            m[i] = 0;
            continue;
        }
        uint8_t k = 1;
        for (size_t f = 0; f < x->nflt && k; f++) {
            k = (uint8_t)pqr_match_slot(x->flt[f], t, dst + i * vs);
        }
        m[i] = k;
    }
    return 0;
}

/* A page of a column read after the filters, holding few selected rows: only those rows are
 * materialized (the others' slots keep what they held, as in filter_page). 1 when done, 0
 * when the page needs the full decode (another encoding, or many selected rows), 2 when a
 * partly decompressed page (x->partial) ran out, negative on failure. */
static int sparse_page(struct ctx *x, int enc, const uint8_t *p, const uint8_t *end, uint8_t *dst,
                       size_t row0, size_t nv, size_t nn, const uint8_t *valid)
{
    pq_reader *r = x->r;
    struct rcol *c = x->c;
    size_t vs = c->vsize;
    enum pq_ptype t = c->L->c.type;
    size_t s0 = x->sk, s1 = s0;
    while (s1 < r->nsel && r->sel[s1] < row0 + nv) {
        s1++;
    }
    if ((s1 - s0) * 8 > nv) {
        return 0;
    }
    int dict = enc == ENC_PLAIN_DICT || enc == ENC_RLE_DICT;
    int fixed = enc == ENC_PLAIN &&
                (t == PQ_PT_INT32 || t == PQ_PT_INT64 || t == PQ_PT_FLOAT || t == PQ_PT_DOUBLE);
    int strs = enc == ENC_PLAIN && t == PQ_PT_BYTE_ARRAY;
    if (!dict && !fixed && !strs) {
        return 0;
    }
    const uint32_t *idx = NULL;
    if (dict && nn > 0) {
        int rc = dict_indices(x, p, end, nn, &idx);
        if (rc) {
            return rc;
        }
    }
    if (fixed && nn > (size_t)(end - p) / vs) {
        return x->partial ? 2 : cfail(x, WR_EINVAL, "PLAIN values run past the page");
    }
    const uint8_t *q = p;               /* strs: the next value's length */
    size_t dense = 0, at = 0, seen = 0; /* dense: values before row at; seen: strings walked */
    for (size_t s = s0; s < s1; s++) {
        size_t i = r->sel[s] - row0;
        if (valid) {
            for (; at < i; at++) {
                dense += valid[at];
            }
            if (!valid[i]) {
                continue;
            }
        } else {
            dense = i;
        }
        if (dict) {
            memcpy(dst + i * vs, x->dict + (size_t)idx[dense] * vs, vs);
        } else if (fixed) {
            memcpy(dst + i * vs, p + dense * vs, vs);
        } else {
            /* Lengths are walked up to the row: the values before it are not copied. */
            struct pq_bytes *d = (struct pq_bytes *)(void *)dst;
            for (; seen <= dense; seen++) {
                if (end - q < 4 || le32(q) > (size_t)(end - q - 4)) {
                    return x->partial ? 2 : cfail(x, WR_EINVAL, "PLAIN values run past the page");
                }
                uint32_t l = le32(q);
                q += 4;
                d[i].p = q;
                d[i].len = l;
                q += l;
            }
        }
    }
    return 1;
}

/* A v1 page of a column read after the filters with few selected rows, compressed with ZSTD:
 * decompressed only up to the last selected row's value (on average half the page for one
 * row). 1 done, 0 when the page needs the full path, negative on failure. */
static int sparse_lazy_page(struct ctx *x, const struct page_hdr *h, const uint8_t *raw,
                            size_t row0, int codec)
{
    pq_reader *r = x->r;
    struct rcol *c = x->c;
    size_t nv = (size_t)h->nvalues, s1 = x->sk;
    int enc = h->encoding;
    enum pq_ptype t = c->L->c.type;
    while (s1 < r->nsel && r->sel[s1] < row0 + nv) {
        s1++;
    }
    int fits = enc == ENC_PLAIN_DICT || enc == ENC_RLE_DICT ||
               (enc == ENC_PLAIN && t != PQ_PT_BOOLEAN && t != PQ_PT_INT96 && t != PQ_PT_FLBA);
    if (codec != 6 /* ZSTD */ || s1 == x->sk || (s1 - x->sk) * 8 > nv || !fits) {
        return 0;
    }
    uint8_t *buf = page_buffer(x, (size_t)h->usize);
    const char *why = NULL;
    if (!buf) {
        return cfail(x, WR_ELIMIT, "row group over the memory limit (page)");
    }
    struct pqr_lazy z;
    if (pqr_lazy_start(&z, &r->codecs, codec, raw, (size_t)h->csize, buf, (size_t)h->usize, &why)) {
        return cfail(x, WR_EINVAL, why);
    }
    size_t off = 0, nn = nv;
    const uint8_t *valid = NULL;
    if (c->L->max_def > 0) {
        if (h->def_enc != ENC_RLE) {
            return cfail(x, WR_EINVAL,
                         "definition levels not RLE-encoded (BIT_PACKED is not supported)");
        }
        if (pqr_lazy_need(&z, 4, &why)) {
            return cfail(x, WR_EINVAL, why);
        }
        if (z.have < 4) {
            return cfail(x, WR_EINVAL, "definition levels without their length");
        }
        uint32_t l = le32(buf);
        if (l > z.outlen - 4) {
            return cfail(x, WR_EINVAL, "definition levels longer than the page");
        }
        if (pqr_lazy_need(&z, 4 + (size_t)l, &why)) {
            return cfail(x, WR_EINVAL, why);
        }
        if (!c->valid) {
            if (pqr_grow_col(r, &c->mbuf, &c->mcap, r->group_rows ? r->group_rows : 1)) {
                return cfail(x, WR_ELIMIT, "row group over the memory limit (validity)");
            }
            c->valid = c->mbuf;
            memset(c->valid, 1, row0);
        }
        if (pqr_levels(buf + 4, buf + 4 + l, c->valid + row0, nv, &nn) < 0) {
            return cfail(x, WR_EINVAL, "definition levels run past their bytes or above 1");
        }
        off = 4 + (size_t)l;
        valid = nn < nv ? c->valid + row0 : NULL;
    } else if (c->valid) {
        memset(c->valid + row0, 1, nv);
    }
    /* Values up to the last selected row's. */
    size_t last = r->sel[s1 - 1] - row0, d = last + 1;
    if (valid) {
        d = 0;
        for (size_t i = 0; i <= last; i++) {
            d += valid[i];
        }
    }
    uint8_t *dst = (uint8_t *)c->values + row0 * c->vsize;
    size_t want = off + d * (t == PQ_PT_BYTE_ARRAY ? 16 : c->vsize);
    if (enc != ENC_PLAIN) {
        /* Indices: d of the page's bit width, plus room for run headers. */
        if (pqr_lazy_need(&z, off + 1, &why)) {
            return cfail(x, WR_EINVAL, why);
        }
        size_t bw = z.have > off ? buf[off] : 32;
        want = off + 1 + (d * (bw > 32 ? 32 : bw) + 7) / 8 + d / 32 + 16;
    }
    for (;;) {
        if (pqr_lazy_need(&z, want, &why)) {
            x->partial = 0;
            return cfail(x, WR_EINVAL, why);
        }
        x->partial = z.have < z.outlen;
        int rc = sparse_page(x, enc, buf + off, buf + z.have, dst, row0, nv, d, valid);
        x->partial = 0;
        if (rc == 0) {
            return cfail(x, WR_EINVAL, "page refused by the sparse decoder"); /* not reached */
        }
        if (rc != 2) {
            return rc < 0 ? rc : 1;
        }
        if (z.have >= z.outlen) {
            return cfail(x, WR_EINVAL, "values run past the page");
        }
        want = want * 2 > z.outlen ? z.outlen : want * 2;
    }
}

static int data_page(struct ctx *x, const struct page_hdr *h, const uint8_t *raw, size_t row0,
                     int codec)
{
    pq_reader *r = x->r;
    struct rcol *c = x->c;
    size_t rows = r->group_rows;
    int v2 = h->type == PAGE_DATA_V2;
    if (!h->has_sub || h->nvalues < 0 || (size_t)h->nvalues > rows - row0) {
        return cfail(x, WR_EINVAL, "data page with a bad value count");
    }
    size_t nv = (size_t)h->nvalues;
    const uint8_t *body, *end;
    size_t lev_len = 0;
    if (v2) {
        if (h->def_len < 0 || h->rep_len != 0 || h->def_len > h->csize || h->def_len > h->usize ||
            h->nrows != h->nvalues) {
            return cfail(x, WR_EINVAL, "data page v2 with bad level lengths or counts");
        }
        lev_len = (size_t)h->def_len;
        size_t cval = (size_t)h->csize - lev_len, uval = (size_t)h->usize - lev_len;
        if (h->is_compressed && codec != 0) {
            uint8_t *buf = page_buffer(x, uval);
            const char *why = NULL;
            if (!buf) {
                return cfail(x, WR_ELIMIT, "row group over the memory limit (page)");
            }
            if (pqr_decompress(&r->codecs, codec, raw + lev_len, cval, buf, uval, &why)) {
                return cfail(x, WR_EINVAL, why);
            }
            body = buf;
            end = buf + uval;
        } else {
            if (cval != uval) {
                return cfail(x, WR_EINVAL, "uncompressed v2 page whose sizes differ");
            }
            body = raw + lev_len;
            end = body + uval;
            if (x->keep_pages) { /* raw lives in the reused chunk buffer: copy what we point into */
                uint8_t *buf = pqr_galloc(r, uval, 0);
                if (!buf) {
                    return cfail(x, WR_ELIMIT, "row group over the memory limit (page)");
                }
                if (uval) {
                    memcpy(buf, body, uval);
                }
                body = buf;
                end = buf + uval;
            }
        }
    } else {
        if (!x->flt && r->nfilters > 0 && r->sel) {
            int rc = sparse_lazy_page(x, h, raw, row0, codec);
            if (rc) {
                return rc < 0 ? rc : 0;
            }
        }
        uint8_t *buf = page_buffer(x, (size_t)h->usize);
        const char *why = NULL;
        if (!buf) {
            return cfail(x, WR_ELIMIT, "row group over the memory limit (page)");
        }
        if (pqr_decompress(&r->codecs, codec, raw, (size_t)h->csize, buf, (size_t)h->usize, &why)) {
            return cfail(x, WR_EINVAL, why);
        }
        body = buf;
        end = buf + h->usize;
    }
    size_t nn = nv;
    if (c->L->max_def > 0) {
        const uint8_t *lp, *le;
        if (v2) {
            lp = raw;
            le = raw + lev_len;
        } else {
            if (h->def_enc != ENC_RLE) {
                return cfail(x, WR_EINVAL,
                             "definition levels not RLE-encoded (BIT_PACKED is not supported)");
            }
            if (end - body < 4) {
                return cfail(x, WR_EINVAL, "definition levels without their length");
            }
            uint32_t l = (uint32_t)body[0] | (uint32_t)body[1] << 8 | (uint32_t)body[2] << 16 |
                         (uint32_t)body[3] << 24;
            body += 4;
            if (l > (size_t)(end - body)) {
                return cfail(x, WR_EINVAL, "definition levels longer than the page");
            }
            lp = body;
            le = body + l;
            body = le;
        }
        if (!c->valid) {
            if (pqr_grow_col(r, &c->mbuf, &c->mcap, rows ? rows : 1)) {
                return cfail(x, WR_ELIMIT, "row group over the memory limit (validity)");
            }
            c->valid = c->mbuf;
            memset(c->valid, 1, row0);
        }
        if (pqr_levels(lp, le, c->valid + row0, nv, &nn) < 0) {
            return cfail(x, WR_EINVAL, "definition levels run past their bytes or above 1");
        }
        if (v2 && (size_t)h->nnulls != nv - nn) {
            return cfail(x, WR_EINVAL, "data page v2 num_nulls differs from its levels");
        }
    } else if (v2 && h->def_len != 0) {
        return cfail(x, WR_EINVAL, "levels on a REQUIRED column");
    } else if (c->valid) {
        memset(c->valid + row0, 1, nv);
    }
    uint8_t *dst = (uint8_t *)c->values + row0 * c->vsize;
    if (x->flt) {
        return filter_page(x, h->encoding, body, end, dst, row0, nv, nn, v2);
    }
    if (r->nfilters > 0 && r->sel) {
        int sp = sparse_page(x, h->encoding, body, end, dst, row0, nv, nn,
                             nn < nv ? c->valid + row0 : NULL);
        if (sp) {
            return sp < 0 ? sp : 0;
        }
    }
    int rc = decode_values(x, h->encoding, body, end, dst, nn, v2);
    if (rc) {
        return rc;
    }
    if (nn < nv) {
        expand(dst, c->vsize, c->valid + row0, nv, nn);
    }
    return 0;
}

/* Rows of a skipped page: null (optional column) or zero, never left undefined. */
static int skip_rows(pq_reader *r, struct rcol *c, size_t row0, size_t n)
{
    memset((uint8_t *)c->values + row0 * c->vsize, 0, n * c->vsize);
    if (c->L->max_def > 0) {
        if (!c->valid) {
            if (pqr_grow_col(r, &c->mbuf, &c->mcap, r->group_rows ? r->group_rows : 1)) {
                return WR_ELIMIT;
            }
            c->valid = c->mbuf;
            memset(c->valid, 1, row0);
        }
        memset(c->valid + row0, 0, n);
    }
    return 0;
}

static int load_chunk(struct ctx *xp)
{
    struct ctx x = *xp;
    pq_reader *r = x.r;
    struct rcol *c = x.c;
    size_t g = x.g;
    struct wr_err *err = x.err;
    const struct pqr_chunk *ch = &r->m.groups[g].chunks[c->leaf];
    size_t rows = r->group_rows;
    x.keep_pages = c->L->c.type == PQ_PT_BYTE_ARRAY || c->L->c.type == PQ_PT_FLBA ||
                   c->L->c.type == PQ_PT_INT96;
    if (ch->has_path) {
        return cfail(&x, WR_EINVAL, "column chunk in another file (file_path) is not supported");
    }
    if ((uint64_t)ch->num_values != rows) {
        return cfail(&x, WR_EINVAL, "num_values differs from the row group's num_rows");
    }
    /* Not zeroed: every slot is written (nulls by expand) before a group is handed out. */
    if (pqr_grow_col(r, &c->vbuf, &c->vcap, rows ? rows * c->vsize : 1)) {
        return cfail(&x, WR_ELIMIT, "row group over the memory limit (values)");
    }
    c->values = c->vbuf;
    int64_t start = ch->data_off;
    if (ch->dict_off > 0 && ch->dict_off < start) {
        start = ch->dict_off;
    }
    size_t len = (size_t)ch->total_compressed;
    int rc = pqr_grow(r, &r->io, &r->io_cap, len);
    if (rc) {
        return cfail(&x, rc, "row group over the memory limit (column chunk)");
    }
    if (pqr_src_read(r, r->io, len, (uint64_t)start)) {
        return cfail(&x, WR_EIO, "read failed");
    }
    size_t pos = 0, done = 0, sk = 0;
    /* After the filtered columns: pages without a selected row may be skipped. */
    int skip_ok = r->nfilters > 0 && r->sel != NULL && !x.flt;
    while (done < rows) {
        struct page_hdr h;
        if (pos >= len) {
            return cfail(&x, WR_EINVAL, "chunk ends before its values do");
        }
        long hl = rd_page_header(r->io + pos, len - pos, &h, err);
        if (hl < 0) {
            char m[sizeof err->msg + 16];
            snprintf(m, sizeof m, "page header: %s", err->msg);
            return cfail(&x, WR_EINVAL, m);
        }
        pos += (size_t)hl;
        if (h.csize < 0 || h.usize < 0 || (size_t)h.csize > len - pos) {
            return cfail(&x, WR_EINVAL, "page sizes missing or past the chunk");
        }
        if ((uint64_t)h.usize > r->o.max_page_bytes) {
            return cfail(&x, WR_ELIMIT, "page larger than max_page_bytes");
        }
        const uint8_t *raw = r->io + pos;
        pos += (size_t)h.csize;
        if (skip_ok && (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) && h.has_sub &&
            h.nvalues >= 0 && (size_t)h.nvalues <= rows - done) {
            /* A page holding no selected row is not decompressed nor decoded (filters: the
             * other columns of a selective query cost little more than their I/O). */
            size_t nv = (size_t)h.nvalues;
            while (sk < r->nsel && r->sel[sk] < done) {
                sk++;
            }
            x.sk = sk;
            if (sk == r->nsel || r->sel[sk] >= done + nv) {
                rc = skip_rows(r, c, done, nv);
                if (rc) {
                    return cfail(&x, rc, "row group over the memory limit (validity)");
                }
                done += nv;
                r->stats.pages_skipped++;
                continue;
            }
        }
        if (x.flt && (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) && h.has_sub &&
            h.nvalues >= 0 && (size_t)h.nvalues <= rows - done) {
            /* A filtered column's page is not decompressed when no row of it can match: the
             * earlier filters left none, or its dictionary holds no matching entry. */
            size_t nv = (size_t)h.nvalues;
            int dict_page = h.encoding == ENC_PLAIN_DICT || h.encoding == ENC_RLE_DICT;
            if ((dict_page && x.dict && !x.dict_any) ||
                (nv > 0 && !memchr(r->match + done, 1, nv))) {
                rc = skip_rows(r, c, done, nv);
                if (rc) {
                    return cfail(&x, rc, "row group over the memory limit (validity)");
                }
                memset(r->match + done, 0, nv);
                done += nv;
                r->stats.pages_skipped++;
                continue;
            }
        }
        if (h.has_crc && !r->o.no_crc && (uint32_t)crc32(0, raw, (uInt)h.csize) != h.crc) {
            return cfail(&x, WR_EINVAL, "page CRC mismatch");
        }
        if (h.type == PAGE_DICT) {
            if (x.dict || done > 0 || !h.has_sub) {
                return cfail(&x, WR_EINVAL, "dictionary page not first or repeated");
            }
            /* Kept for the whole chunk: the data pages index into it. */
            uint8_t *buf = pqr_galloc(r, (size_t)h.usize, 0);
            const char *why = NULL;
            if (!buf) {
                return cfail(&x, WR_ELIMIT, "row group over the memory limit (dictionary)");
            }
            if (pqr_decompress(&r->codecs, ch->codec, raw, (size_t)h.csize, buf, (size_t)h.usize,
                               &why)) {
                return cfail(&x, WR_EINVAL, why);
            }
            rc = load_dict(&x, &h, buf);
            if (rc) {
                return rc;
            }
            r->stats.pages++;
        } else if (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) {
            rc = data_page(&x, &h, raw, done, ch->codec);
            if (rc) {
                return rc;
            }
            done += (size_t)h.nvalues;
            r->stats.pages++;
        } else if (h.type != PAGE_INDEX) {
            return cfail(&x, WR_EINVAL, "unknown page type");
        }
    }
    c->loaded = 1;
    return 0;
}

int pqr_load_filtered(pq_reader *r, struct rcol *c, size_t g, const struct rfilter *const *f,
                      size_t nf, struct wr_err *err)
{
    struct ctx x;
    memset(&x, 0, sizeof x);
    x.r = r;
    x.c = c;
    x.g = g;
    x.err = err;
    x.flt = nf > 0 ? f : NULL;
    x.nflt = nf;
    enum pq_ptype t = c->L->c.type;
    if (nf > 0 && (t == PQ_PT_INT64 || t == PQ_PT_INT32)) {
        /* The filters' intersection as one signed range; unsigned INT64 compares with the
         * sign bit flipped (unsigned INT32 values are widened, so they compare signed). */
        x.irange = 1;
        x.iflip = t == PQ_PT_INT64 && f[0]->uns ? (uint64_t)1 << 63 : 0;
        x.ilo = INT64_MIN;
        x.ihi = INT64_MAX;
        for (size_t i = 0; i < nf; i++) {
            if (f[i]->has_lo) {
                int64_t v = (int64_t)((uint64_t)f[i]->lo.i ^ x.iflip);
                x.ilo = v > x.ilo ? v : x.ilo;
            }
            if (f[i]->has_hi) {
                int64_t v = (int64_t)((uint64_t)f[i]->hi.i ^ x.iflip);
                x.ihi = v < x.ihi ? v : x.ihi;
            }
        }
    }
    return load_chunk(&x);
}

int pqr_load_column(pq_reader *r, struct rcol *c, size_t g, struct wr_err *err)
{
    return pqr_load_filtered(r, c, g, NULL, 0, err);
}
