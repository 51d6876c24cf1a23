/* writer.c - the streaming Parquet writer: buffers one row group (encoded, compressed pages per
 * column), hands each finished row group to the caller's write callback, and writes the Thrift
 * footer at close. Layout and metadata rules: shared/reference/parquet-writer.md. */
#include "parquet/parquet.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "parquet/pq_int.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the PLAIN encoder copies values in host order: little-endian hosts only"
#endif

int pq__fail(pq_writer *w, int code, const char *msg)
{
    if (!w->fail) {
        w->fail = code;
        size_t n = strlen(msg);
        if (n >= sizeof w->errmsg) {
            n = sizeof w->errmsg - 1;
        }
        memcpy(w->errmsg, msg, n);
        w->errmsg[n] = 0;
    }
    return w->fail;
}

int pq__buf_check(pq_writer *w, const struct wr_buf *b)
{
    if (b->err) {
        return pq__fail(w, b->err, b->err == WR_ELIMIT ? "parquet: buffer cap reached"
                                                      : "parquet: out of memory");
    }
    return 0;
}

/* ---- output ---- */

int pq__emit(pq_writer *w, const void *p, size_t len)
{
    if (w->fail) {
        return w->fail;
    }
    if (len == 0) {
        return 0;
    }
    int rc = w->write(w->arg, p, len);
    if (rc != 0) {
        return pq__fail(w, rc < 0 ? rc : WR_EIO, "parquet: write callback failed");
    }
    w->offset += len;
    return 0;
}

static int start(pq_writer *w)
{
    if (w->started) {
        return 0;
    }
    w->started = 1;
    return pq__emit(w, "PAR1", 4);
}

/* ---- pages ---- */

/* Compresses w->body into w->cbuf (or leaves it for UNCOMPRESSED); returns the bytes to write. */
static int compress_body(pq_writer *w, const uint8_t **out, size_t *outlen)
{
    struct wr_buf *in = &w->body;
    if (w->o.codec == PQ_CODEC_UNCOMPRESSED) {
        *out = pq__bytes(in);
        *outlen = in->len;
        return 0;
    }
    w->cbuf.len = 0;
    if (w->o.codec == PQ_CODEC_ZSTD) {
        size_t bound = ZSTD_compressBound(in->len);
        if (wr_buf_reserve(&w->cbuf, bound) != 0) {
            return pq__buf_check(w, &w->cbuf);
        }
        size_t r = ZSTD_compressCCtx(w->zc, w->cbuf.p, bound, in->p, in->len, w->o.level);
        if (ZSTD_isError(r)) {
            return pq__fail(w, WR_EIO, "parquet: zstd compression failed");
        }
        w->cbuf.len = r;
    } else {
        if (deflateReset(&w->zs) != Z_OK) {
            return pq__fail(w, WR_EIO, "parquet: deflateReset failed");
        }
        size_t bound = deflateBound(&w->zs, (uLong)in->len);
        if (wr_buf_reserve(&w->cbuf, bound) != 0) {
            return pq__buf_check(w, &w->cbuf);
        }
        w->zs.next_in = in->p ? pq__bytes(in) : (Bytef *)"";
        w->zs.avail_in = (uInt)in->len;
        w->zs.next_out = pq__bytes(&w->cbuf);
        w->zs.avail_out = (uInt)bound;
        if (deflate(&w->zs, Z_FINISH) != Z_STREAM_END) {
            return pq__fail(w, WR_EIO, "parquet: gzip compression failed");
        }
        w->cbuf.len = bound - w->zs.avail_out;
    }
    *out = pq__bytes(&w->cbuf);
    *outlen = w->cbuf.len;
    return 0;
}

/* Compresses w->body and appends page header + body to dst. The page bytes as written are
 * checksummed (the spec's CRC covers the compressed page). */
static int finish_page(pq_writer *w, struct wr_buf *dst, int page_type, int32_t num_values,
                       int encoding, int64_t *unc, int64_t *comp)
{
    if (w->body.len > INT32_MAX) {
        return pq__fail(w, WR_ELIMIT, "parquet: page larger than 2 GiB");
    }
    const uint8_t *cp = NULL;
    size_t clen = 0;
    int rc = compress_body(w, &cp, &clen);
    if (rc != 0) {
        return rc;
    }
    if (clen > INT32_MAX) {
        return pq__fail(w, WR_ELIMIT, "parquet: page larger than 2 GiB");
    }
    struct pq__tw t;
    w->hdr.len = 0;
    pq__tw_init(&t, &w->hdr);
    pq__tw_i32(&t, 1, page_type);
    pq__tw_i32(&t, 2, (int32_t)w->body.len);
    pq__tw_i32(&t, 3, (int32_t)clen);
    if (!w->o.no_page_crc) {
        pq__tw_i32(&t, 4, (int32_t)(uint32_t)crc32(0L, cp ? cp : (const Bytef *)"", (uInt)clen));
    }
    if (page_type == PAGE_DATA) {
        pq__tw_struct_begin(&t, 5);
        pq__tw_i32(&t, 1, num_values);
        pq__tw_i32(&t, 2, encoding);
        pq__tw_i32(&t, 3, ENC_RLE);
        pq__tw_i32(&t, 4, ENC_RLE);
        pq__tw_struct_end(&t);
    } else {
        pq__tw_struct_begin(&t, 7);
        pq__tw_i32(&t, 1, num_values);
        pq__tw_i32(&t, 2, encoding);
        pq__tw_struct_end(&t);
    }
    pq__tw_end(&t);
    if ((rc = pq__buf_check(w, &w->hdr)) != 0) {
        return rc;
    }
    wr_buf_append(dst, w->hdr.p, w->hdr.len);
    wr_buf_append(dst, cp, clen);
    if ((rc = pq__buf_check(w, dst)) != 0) {
        return rc;
    }
    *unc += (int64_t)(w->hdr.len + w->body.len);
    *comp += (int64_t)(w->hdr.len + clen);
    return 0;
}

/* ---- deferred compression (with an executor) ---- */

/* One data page to compress: fn input and output, nothing shared but the writer's lock. */
struct pq__pjob {
    struct pq__pjob *next;
    pq_writer *w;
    uint8_t *plain;
    size_t plen;
    uint8_t *out;
    size_t olen;
    uint32_t crc;
    int32_t num_values;
    int encoding;
    int err;
};

/* At least the page header plus compressed size of a page of plen plain bytes. */
static size_t job_bound(size_t plen)
{
    return ZSTD_compressBound(plen) + 64;
}

static void pjob_run(void *arg)
{
    struct pq__pjob *j = arg;
    pq_writer *w = j->w;
    ZSTD_CCtx *cc = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->nccs > 0) {
        cc = w->ccs[--w->nccs];
    }
    int level = w->o.level, crc = !w->o.no_page_crc;
    pthread_mutex_unlock(&w->mu);
    if (!cc) {
        cc = ZSTD_createCCtx();
    }
    size_t bound = ZSTD_compressBound(j->plen);
    j->out = cc ? malloc(bound ? bound : 1) : NULL;
    if (!j->out) {
        j->err = WR_ENOMEM;
    } else {
        size_t r = ZSTD_compressCCtx(cc, j->out, bound, j->plain, j->plen, level);
        if (ZSTD_isError(r)) {
            j->err = WR_EIO;
        } else {
            j->olen = r;
            if (crc) {
                j->crc = (uint32_t)crc32(0L, j->out, (uInt)r);
            }
        }
    }
    free(j->plain);
    j->plain = NULL;
    pthread_mutex_lock(&w->mu);
    if (cc && w->nccs < (int)(sizeof w->ccs / sizeof w->ccs[0])) {
        w->ccs[w->nccs++] = cc;
        cc = NULL;
    }
    w->outstanding--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    ZSTD_freeCCtx(cc);
}

/* Waits until every job of w has run, running queued work of the executor meanwhile. */
static void drain(pq_writer *w)
{
    if (!w->sync_ready) {
        return;
    }
    const struct pq_exec *x = w->o.exec;
    pthread_mutex_lock(&w->mu);
    while (w->outstanding > 0) {
        pthread_mutex_unlock(&w->mu);
        int ran = x->help ? x->help(x->arg) : 0;
        pthread_mutex_lock(&w->mu);
        if (!ran && w->outstanding > 0) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
}

/* Hands w->body (a data page of c) to the executor; its header and bytes reach c->data at
 * the chunk's flush (assemble). */
static int defer_page(pq_writer *w, struct pq__col *c, int32_t num_values, int encoding)
{
    if (w->body.len > INT32_MAX) {
        return pq__fail(w, WR_ELIMIT, "parquet: page larger than 2 GiB");
    }
    struct pq__pjob *j = calloc(1, sizeof *j);
    if (!j) {
        return pq__fail(w, WR_ENOMEM, "parquet: out of memory (page job)");
    }
    j->plain = malloc(w->body.len ? w->body.len : 1);
    if (!j->plain) {
        free(j);
        return pq__fail(w, WR_ENOMEM, "parquet: out of memory (page job)");
    }
    if (w->body.len) {
        memcpy(j->plain, w->body.p, w->body.len);
    }
    j->w = w;
    j->plen = w->body.len;
    j->num_values = num_values;
    j->encoding = encoding;
    if (c->jtail) {
        c->jtail->next = j;
    } else {
        c->jhead = j;
    }
    c->jtail = j;
    w->pend_bytes += job_bound(j->plen);
    pthread_mutex_lock(&w->mu);
    w->outstanding++;
    pthread_mutex_unlock(&w->mu);
    if (w->o.exec->submit(w->o.exec->arg, pjob_run, j) != 0) {
        pjob_run(j);
    }
    return 0;
}

/* Moves c's compressed pages (all jobs have run: drain first) into c->data, in order. */
static int assemble(pq_writer *w, struct pq__col *c)
{
    int rc = w->fail;
    while (c->jhead) {
        struct pq__pjob *j = c->jhead;
        c->jhead = j->next;
        if (rc == 0 && j->err) {
            rc = pq__fail(w, j->err, j->err == WR_ENOMEM ? "parquet: out of memory (compression)"
                                                     : "parquet: zstd compression failed");
        }
        if (rc == 0 && j->olen > INT32_MAX) {
            rc = pq__fail(w, WR_ELIMIT, "parquet: page larger than 2 GiB");
        }
        if (rc == 0) {
            struct pq__tw t;
            w->hdr.len = 0;
            pq__tw_init(&t, &w->hdr);
            pq__tw_i32(&t, 1, PAGE_DATA);
            pq__tw_i32(&t, 2, (int32_t)j->plen);
            pq__tw_i32(&t, 3, (int32_t)j->olen);
            if (!w->o.no_page_crc) {
                pq__tw_i32(&t, 4, (int32_t)j->crc);
            }
            pq__tw_struct_begin(&t, 5);
            pq__tw_i32(&t, 1, j->num_values);
            pq__tw_i32(&t, 2, j->encoding);
            pq__tw_i32(&t, 3, ENC_RLE);
            pq__tw_i32(&t, 4, ENC_RLE);
            pq__tw_struct_end(&t);
            pq__tw_end(&t);
            rc = pq__buf_check(w, &w->hdr);
            if (rc == 0) {
                wr_buf_append(&c->data, w->hdr.p, w->hdr.len);
                wr_buf_append(&c->data, j->out, j->olen);
                rc = pq__buf_check(w, &c->data);
            }
            c->chunk_unc += (int64_t)(w->hdr.len + j->plen);
            c->chunk_comp += (int64_t)(w->hdr.len + j->olen);
        }
        w->pend_bytes -= job_bound(j->plen);
        free(j->plain);
        free(j->out);
        free(j);
    }
    c->jtail = NULL;
    return rc;
}

static void reset_page(struct pq__col *c)
{
    c->vals.len = 0;
    c->idx.len = 0;
    c->defs.len = 0;
    c->page_n = 0;
    c->page_nonnull = 0;
}

static int close_page(pq_writer *w, struct pq__col *c)
{
    if (c->page_n == 0) {
        return 0;
    }
    struct wr_buf *b = &w->body;
    b->len = 0;
    if (c->optional) {
        pq__put_u32le(b, 0);
        size_t at = b->len;
        if (c->page_nonnull == c->page_n || c->page_nonnull == 0) {
            pq__put_uvarint(b, (uint64_t)c->page_n << 1);
            wr_buf_putc(b, c->page_nonnull ? 1 : 0);
        } else {
            pq__rle_u8(b, pq__bytes(&c->defs), c->page_n, 1);
        }
        if (!b->err) {
            uint32_t n = (uint32_t)(b->len - at);
            uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
            memcpy(b->p + at - 4, le, 4);
        }
    }
    int enc = ENC_PLAIN;
    size_t nidx = c->idx.len / 4;
    if (c->dict_mode && nidx > 0) {
        int bw = pq__bit_width(c->nents - 1);
        if (bw == 0) {
            bw = 1; /* width 0 is rejected by some readers even for a 1-entry dictionary */
        }
        wr_buf_putc(b, (char)bw);
        pq__rle_u32(b, (const uint32_t *)(void *)c->idx.p, nidx, bw);
        enc = ENC_RLE_DICTIONARY;
        c->n_dict_data_pages++;
    } else {
        if (c->type == PQ_BOOLEAN) {
            pq__pack_bools(b, pq__bytes(&c->vals), c->vals.len);
        } else {
            wr_buf_append(b, c->vals.p, c->vals.len);
        }
        c->n_plain_pages++;
    }
    int rc = pq__buf_check(w, b);
    if (rc == 0 && w->sync_ready) {
        rc = defer_page(w, c, (int32_t)c->page_n, enc);
    } else if (rc == 0) {
        rc = finish_page(w, &c->data, PAGE_DATA, (int32_t)c->page_n, enc, &c->chunk_unc,
                         &c->chunk_comp);
    }
    /* A dictionary that holds nearly every value of the first page saves nothing. */
    if (rc == 0 && enc == ENC_RLE_DICTIONARY && c->n_dict_data_pages == 1 &&
        c->nents > c->page_nonnull / 2 + 16) {
        c->dict_mode = 0;
    }
    reset_page(c);
    return rc;
}

static inline int page_full(const pq_writer *w, const struct pq__col *c)
{
    return c->vals.len + c->idx.len / 4 >= w->o.page_bytes || c->page_n >= PAGE_MAX_VALUES;
}

/* ---- statistics ---- */

/* The first up to 8 bytes as a big-endian number, zero-padded: comparing two of these orders
 * strings like memcmp does on that prefix, without a call. */
static inline uint64_t prefix8(const uint8_t *p, size_t len)
{
    uint64_t v = 0;
    if (len >= 8) {
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    }
    for (size_t i = 0; i < len; i++) {
        v |= (uint64_t)p[i] << (56 - 8 * i);
    }
    return v;
}

static int str_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint64_t pa = prefix8(a, alen), pb = prefix8(b, blen);
    if (pa != pb) {
        return pa < pb;
    }
    size_t n = alen < blen ? alen : blen;
    int r = n > 8 ? memcmp(a + 8, b + 8, n - 8) : 0;
    return r < 0 || (r == 0 && alen < blen);
}

static void stats_str(struct pq__col *c, const void *p, size_t len)
{
    if (!c->has_stats) {
        c->has_stats = 1;
        c->smin.len = 0;
        c->smax.len = 0;
        wr_buf_append(&c->smin, p, len);
        wr_buf_append(&c->smax, p, len);
        return;
    }
    if (str_less(p, len, pq__bytes(&c->smin), c->smin.len)) {
        c->smin.len = 0;
        wr_buf_append(&c->smin, p, len);
    } else if (str_less(pq__bytes(&c->smax), c->smax.len, p, len)) {
        c->smax.len = 0;
        wr_buf_append(&c->smax, p, len);
    }
}

/* ---- dictionary ---- */

static void dict_clear(struct pq__col *c)
{
    c->nents = 0;
    c->dbytes.len = 0;
    c->dict_plain_bytes = 0;
    if (c->slots) {
        memset(c->slots, 0, (size_t)c->nslots * sizeof *c->slots);
    }
}

static int dict_rehash(struct pq__col *c, uint32_t nslots)
{
    struct pq__slot *ns = calloc(nslots, sizeof *ns);
    if (!ns) {
        return WR_ENOMEM;
    }
    for (uint32_t i = 0; i < c->nents; i++) {
        uint32_t s = c->ents[i].hash & (nslots - 1);
        while (ns[s].idx) {
            s = (s + 1) & (nslots - 1);
        }
        ns[s].hash = c->ents[i].hash;
        ns[s].idx = i + 1;
        ns[s].off = c->ents[i].off;
        ns[s].len = c->ents[i].len;
    }
    free(c->slots);
    c->slots = ns;
    c->nslots = nslots;
    return 0;
}

/* Equality of two byte strings of length len; short ones without a library call (most
 * dictionary values are short, and a lookup compares once per hit). */
static inline int bytes_eq(const uint8_t *a, const void *bv, size_t len)
{
    const uint8_t *b = bv;
    if (len >= 8 && len <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + len - 8, 8);
        memcpy(&b1, b + len - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (len >= 4 && len < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + len - 4, 4);
        memcpy(&b1, b + len - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (len < 4) {
        for (size_t i = 0; i < len; i++) {
            if (a[i] != b[i]) {
                return 0;
            }
        }
        return 1;
    }
    return memcmp(a, b, len) == 0;
}

/* Finds or adds p; returns the index, -1 when the dictionary is full (caller falls back), or
 * -2 on allocation failure. */
static long dict_index(pq_writer *w, struct pq__col *c, const void *p, size_t len)
{
    uint32_t h = pq__hash(p, len);
    uint32_t mask = c->nslots - 1;
    uint32_t s = h & mask;
    for (;;) {
        uint32_t e = c->slots[s].idx;
        if (e == 0) {
            break;
        }
        const struct pq__slot *sl = &c->slots[s];
        if (sl->hash == h && sl->len == len && bytes_eq(pq__bytes(&c->dbytes) + sl->off, p, len)) {
            return (long)(e - 1);
        }
        s = (s + 1) & mask;
    }
    if (c->nents >= w->o.dict_max_entries || c->dict_plain_bytes + 4 + len > w->o.dict_max_bytes) {
        return -1;
    }
    if (c->nents == c->ents_cap) {
        uint32_t ncap = c->ents_cap ? c->ents_cap * 2 : 256;
        struct pq__dent *ne = realloc(c->ents, (size_t)ncap * sizeof *ne);
        if (!ne) {
            return -2;
        }
        c->ents = ne;
        c->ents_cap = ncap;
    }
    size_t off = c->dbytes.len;
    wr_buf_append(&c->dbytes, p, len);
    if (c->dbytes.err) {
        return -2;
    }
    c->ents[c->nents] = (struct pq__dent){(uint32_t)off, (uint32_t)len, h};
    c->slots[s] = (struct pq__slot){h, c->nents + 1, (uint32_t)off, (uint32_t)len};
    c->nents++;
    c->dict_plain_bytes += 4 + len;
    stats_str(c, p, len);
    if ((uint64_t)c->nents * 2 > c->nslots && dict_rehash(c, c->nslots * 2) != 0) {
        return -2;
    }
    return (long)(c->nents - 1);
}

/* ---- putting values ---- */

static struct pq__col *col_for_put(pq_writer *w, size_t col, enum pq_type type, int *rc)
{
    if (w->fail) {
        *rc = w->fail;
        return NULL;
    }
    if (w->closed || col >= w->ncols) {
        *rc = WR_EINVAL;
        return NULL;
    }
    struct pq__col *c = &w->cols[col];
    if (c->type != type || c->nvals != w->rg_rows) {
        *rc = WR_EINVAL;
        return NULL;
    }
    return c;
}

/* The rare ends of a put, kept out of line so the common path stays small. */
static __attribute__((noinline)) int put_failed(pq_writer *w, struct pq__col *c)
{
    pq__buf_check(w, &c->vals);
    pq__buf_check(w, &c->defs);
    pq__buf_check(w, &c->idx);
    pq__buf_check(w, &c->smin);
    return pq__buf_check(w, &c->smax);
}

static __attribute__((noinline)) int put_page_full(pq_writer *w, struct pq__col *c)
{
    return close_page(w, c);
}

/* Common tail of a non-null put: level, counters, page and buffer checks. */
static inline __attribute__((always_inline)) int after_put(pq_writer *w, struct pq__col *c, size_t est)
{
    if (c->optional) {
        wr_buf_putc(&c->defs, 1);
    }
    c->page_n++;
    c->page_nonnull++;
    c->nvals++;
    w->row_puts++;
    w->rg_est += est;
    int failed = c->vals.err | c->defs.err | c->idx.err | c->smin.err | c->smax.err;
    if (__builtin_expect(failed != 0, 0)) {
        return put_failed(w, c);
    }
    if (__builtin_expect(page_full(w, c), 0)) {
        return put_page_full(w, c);
    }
    return 0;
}

int pq_writer_put_bool(pq_writer *w, size_t col, int v)
{
    int rc = 0;
    struct pq__col *c = col_for_put(w, col, PQ_BOOLEAN, &rc);
    if (!c) {
        return rc;
    }
    int64_t b = v ? 1 : 0;
    wr_buf_putc(&c->vals, (char)b);
    if (!c->has_stats) {
        c->has_stats = 1;
        c->imin = c->imax = b;
    } else if (b < c->imin) {
        c->imin = b;
    } else if (b > c->imax) {
        c->imax = b;
    }
    /* one byte buffered per boolean, so the page limit counts 8x the packed size */
    return after_put(w, c, 1);
}

static inline void stats_int(struct pq__col *c, int64_t v)
{
    if (!c->has_stats) {
        c->has_stats = 1;
        c->imin = c->imax = v;
    } else if (v < c->imin) {
        c->imin = v;
    } else if (v > c->imax) {
        c->imax = v;
    }
}

int pq_writer_put_int32(pq_writer *w, size_t col, int32_t v)
{
    int rc = 0;
    struct pq__col *c = col_for_put(w, col, PQ_INT32, &rc);
    if (!c) {
        return rc;
    }
    wr_buf_append(&c->vals, &v, 4);
    stats_int(c, v);
    return after_put(w, c, 4);
}

int pq_writer_put_int64(pq_writer *w, size_t col, int64_t v)
{
    int rc = 0;
    struct pq__col *c = col_for_put(w, col, PQ_INT64, &rc);
    if (!c) {
        return rc;
    }
    wr_buf_append(&c->vals, &v, 8);
    stats_int(c, v);
    return after_put(w, c, 8);
}

int pq_writer_put_double(pq_writer *w, size_t col, double v)
{
    int rc = 0;
    struct pq__col *c = col_for_put(w, col, PQ_DOUBLE, &rc);
    if (!c) {
        return rc;
    }
    wr_buf_append(&c->vals, &v, 8);
    if (isnan(v)) {
        c->nan_count++;
    } else { /* NaN has no place in the order: min/max describe the other values */
        if (!c->has_stats) {
            c->has_stats = 1;
            c->dmin = c->dmax = v;
        } else if (v < c->dmin) {
            c->dmin = v;
        } else if (v > c->dmax) {
            c->dmax = v;
        }
    }
    return after_put(w, c, 8);
}

int pq_writer_put_str(pq_writer *w, size_t col, const void *p, size_t len)
{
    int rc = 0;
    struct pq__col *c = col_for_put(w, col, PQ_BYTE_ARRAY, &rc);
    if (!c) {
        return rc;
    }
    if (!p && len > 0) {
        return WR_EINVAL;
    }
    if (len > w->o.max_value_bytes) {
        return WR_ELIMIT;
    }
    if (!p) {
        p = "";
    }
    if (c->dict_mode) {
        long i = dict_index(w, c, p, len);
        if (i >= 0) {
            uint32_t u = (uint32_t)i;
            wr_buf_append(&c->idx, &u, 4);
            return after_put(w, c, 4 + len);
        }
        if (i == -2) {
            return pq__fail(w, WR_ENOMEM, "parquet: out of memory (dictionary)");
        }
        /* Dictionary full: this chunk continues in PLAIN from a new page. */
        if ((rc = close_page(w, c)) != 0) {
            return rc;
        }
        c->dict_mode = 0;
    }
    uint32_t l32 = (uint32_t)len;
    wr_buf_append(&c->vals, &l32, 4);
    wr_buf_append(&c->vals, p, len);
    stats_str(c, p, len);
    return after_put(w, c, 4 + len);
}

static int put_null(pq_writer *w, struct pq__col *c)
{
    wr_buf_putc(&c->defs, 0);
    c->page_n++;
    c->nvals++;
    c->null_count++;
    if (c->defs.err) {
        return pq__buf_check(w, &c->defs);
    }
    if (page_full(w, c)) {
        return close_page(w, c);
    }
    return 0;
}

int pq_writer_put_null(pq_writer *w, size_t col)
{
    if (w->fail) {
        return w->fail;
    }
    if (w->closed || col >= w->ncols) {
        return WR_EINVAL;
    }
    struct pq__col *c = &w->cols[col];
    if (!c->optional || c->nvals != w->rg_rows) {
        return WR_EINVAL;
    }
    w->row_puts++;
    return put_null(w, c);
}

/* ---- row groups ---- */

static uint32_t stat_put(pq_writer *w, const void *p, size_t len)
{
    uint32_t off = (uint32_t)w->statbytes.len;
    wr_buf_append(&w->statbytes, p, len);
    return off;
}

static void chunk_stats(pq_writer *w, struct pq__col *c, struct pq__cmeta *m)
{
    m->null_count = c->null_count;
    m->nan_count = c->type == PQ_DOUBLE ? c->nan_count : -1;
    if (!c->has_stats) {
        return;
    }
    m->has_min = m->has_max = 1;
    m->min_exact = m->max_exact = 1;
    switch (c->type) {
    case PQ_BOOLEAN: {
        uint8_t lo = (uint8_t)c->imin, hi = (uint8_t)c->imax;
        m->min_off = stat_put(w, &lo, 1);
        m->max_off = stat_put(w, &hi, 1);
        m->min_len = m->max_len = 1;
        break;
    }
    case PQ_INT32: {
        int32_t lo = (int32_t)c->imin, hi = (int32_t)c->imax;
        m->min_off = stat_put(w, &lo, 4);
        m->max_off = stat_put(w, &hi, 4);
        m->min_len = m->max_len = 4;
        break;
    }
    case PQ_INT64:
        m->min_off = stat_put(w, &c->imin, 8);
        m->max_off = stat_put(w, &c->imax, 8);
        m->min_len = m->max_len = 8;
        break;
    case PQ_DOUBLE: {
        /* Zero's sign is unordered, so the bounds must cover both: -0.0 below, +0.0 above. */
        double lo = c->dmin == 0.0 ? -0.0 : c->dmin;
        double hi = c->dmax == 0.0 ? 0.0 : c->dmax;
        m->min_off = stat_put(w, &lo, 8);
        m->max_off = stat_put(w, &hi, 8);
        m->min_len = m->max_len = 8;
        break;
    }
    case PQ_BYTE_ARRAY: {
        size_t lim = w->o.stats_max_bytes;
        if (c->smin.len > lim) {
            size_t n = pq__trunc_min(pq__bytes(&c->smin), c->smin.len, lim);
            m->min_off = stat_put(w, c->smin.p, n);
            m->min_len = (uint32_t)n;
            m->min_exact = 0;
        } else {
            m->min_off = stat_put(w, c->smin.p, c->smin.len);
            m->min_len = (uint32_t)c->smin.len;
        }
        if (c->smax.len > lim) {
            uint8_t tmp[256];
            long n = pq__trunc_max(pq__bytes(&c->smax), c->smax.len, lim, tmp);
            if (n < 0) {
                m->has_max = 0;
            } else {
                m->max_off = stat_put(w, tmp, (size_t)n);
                m->max_len = (uint32_t)n;
                m->max_exact = 0;
            }
        } else {
            m->max_off = stat_put(w, c->smax.p, c->smax.len);
            m->max_len = (uint32_t)c->smax.len;
        }
        break;
    }
    }
}

static int write_dict_page(pq_writer *w, struct pq__col *c, int64_t *unc, int64_t *comp)
{
    struct wr_buf *b = &w->body;
    b->len = 0;
    if (wr_buf_reserve(b, c->dict_plain_bytes) == 0) {
        for (uint32_t i = 0; i < c->nents; i++) {
            const struct pq__dent *d = &c->ents[i];
            uint8_t le[4] = {(uint8_t)d->len, (uint8_t)(d->len >> 8), (uint8_t)(d->len >> 16),
                             (uint8_t)(d->len >> 24)};
            memcpy(b->p + b->len, le, 4);
            if (d->len > 0) {
                memcpy(b->p + b->len + 4, c->dbytes.p + d->off, d->len);
            }
            b->len += 4 + (size_t)d->len;
        }
    }
    int rc = pq__buf_check(w, b);
    if (rc != 0) {
        return rc;
    }
    w->dpage.len = 0;
    return finish_page(w, &w->dpage, PAGE_DICTIONARY, (int32_t)c->nents, ENC_PLAIN, unc, comp);
}

static int flush_row_group(pq_writer *w)
{
    if (w->fail) {
        return w->fail;
    }
    if (w->rg_rows == 0) {
        return 0;
    }
    int rc = start(w);
    if (rc != 0) {
        return rc;
    }
    struct pq__rgmeta rg = {(int64_t)w->rg_rows, 0, 0, (int64_t)w->offset};
    if (w->sync_ready) {
        /* the last pages of every column first, so they compress side by side */
        for (size_t i = 0; i < w->ncols && rc == 0; i++) {
            rc = close_page(w, &w->cols[i]);
        }
        drain(w);
        for (size_t i = 0; i < w->ncols; i++) {
            int r2 = assemble(w, &w->cols[i]);
            rc = rc ? rc : r2;
        }
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < w->ncols; i++) {
        struct pq__col *c = &w->cols[i];
        if ((rc = close_page(w, c)) != 0) {
            return rc;
        }
        struct pq__cmeta m;
        memset(&m, 0, sizeof m);
        m.dict_off = -1;
        int64_t dunc = 0, dcomp = 0;
        w->dpage.len = 0;
        if (c->n_dict_data_pages > 0) {
            if ((rc = write_dict_page(w, c, &dunc, &dcomp)) != 0) {
                return rc;
            }
            m.has_dict = 1;
            m.dict_off = (int64_t)w->offset;
        }
        m.data_off = (int64_t)w->offset + (int64_t)w->dpage.len;
        m.num_values = (int64_t)c->nvals;
        m.unc = dunc + c->chunk_unc;
        m.comp = dcomp + c->chunk_comp;
        m.n_dict_data_pages = c->n_dict_data_pages;
        m.n_plain_pages = c->n_plain_pages;
        chunk_stats(w, c, &m);
        wr_buf_append(&w->cmetas, &m, sizeof m);
        if ((rc = pq__buf_check(w, &w->statbytes)) != 0 || (rc = pq__buf_check(w, &w->cmetas)) != 0) {
            return rc;
        }
        if ((rc = pq__emit(w, w->dpage.p, w->dpage.len)) != 0 ||
            (rc = pq__emit(w, c->data.p, c->data.len)) != 0) {
            return rc;
        }
        rg.total_unc += m.unc;
        rg.total_comp += m.comp;

        /* reset the chunk, keeping every buffer's memory for the next row group */
        c->nvals = 0;
        c->data.len = 0;
        c->chunk_unc = c->chunk_comp = 0;
        c->n_dict_data_pages = c->n_plain_pages = 0;
        c->null_count = 0;
        c->nan_count = 0;
        c->has_stats = 0;
        c->dict_mode = c->dict_enabled;
        dict_clear(c);
    }
    wr_buf_append(&w->rgmetas, &rg, sizeof rg);
    if ((rc = pq__buf_check(w, &w->rgmetas)) != 0) {
        return rc;
    }
    w->rg_rows = 0;
    w->rg_est = 0;
    return 0;
}

int pq_writer_end_row(pq_writer *w)
{
    if (w->fail) {
        return w->fail;
    }
    if (w->closed) {
        return WR_EINVAL;
    }
    for (size_t i = 0; i < w->ncols; i++) {
        struct pq__col *c = &w->cols[i];
        if (c->nvals == w->rg_rows) {
            if (!c->optional) {
                char msg[160];
                snprintf(msg, sizeof msg, "parquet: required column %.100s not set in row %llu",
                         c->name, (unsigned long long)w->total_rows);
                return pq__fail(w, WR_EINVAL, msg);
            }
            int rc = put_null(w, c);
            if (rc != 0) {
                return rc;
            }
        }
    }
    w->rg_rows++;
    w->total_rows++;
    w->row_puts = 0;
    if (w->rg_est >= w->o.row_group_bytes || w->rg_rows >= w->o.row_group_rows) {
        return flush_row_group(w);
    }
    return 0;
}

int pq_writer_flush(pq_writer *w)
{
    if (w->fail) {
        return w->fail;
    }
    if (w->closed || w->row_puts > 0) {
        return WR_EINVAL;
    }
    return flush_row_group(w);
}

size_t pq_writer_buffered_bytes(const pq_writer *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        const struct pq__col *c = &w->cols[i];
        n += c->data.len + c->vals.len + c->idx.len + c->defs.len + c->dbytes.len +
             (size_t)c->nents * (sizeof(struct pq__dent) + 4);
    }
    return n + w->pend_bytes;
}

int pq_writer_settle(pq_writer *w)
{
    if (w->sync_ready) {
        drain(w);
        for (size_t i = 0; i < w->ncols; i++) {
            int rc = assemble(w, &w->cols[i]);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return w->fail;
}

int pq_writer_close(pq_writer *w, struct wr_err *err)
{
    int rc = w->fail;
    if (rc == 0 && w->closed) {
        rc = WR_EINVAL;
        wr_err_set(err, rc, "parquet: writer already closed");
        return rc;
    }
    if (rc == 0 && w->row_puts > 0) {
        rc = pq__fail(w, WR_EINVAL, "parquet: close with a row not ended");
    }
    if (rc == 0) {
        rc = flush_row_group(w);
    }
    if (rc == 0) {
        rc = start(w);
    }
    if (rc == 0) {
        rc = pq__write_footer(w);
    }
    w->closed = 1;
    if (rc != 0) {
        wr_err_set(err, rc, "%s", w->errmsg[0] ? w->errmsg : "parquet: close failed");
    }
    return rc;
}

/* ---- lifecycle ---- */

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n + 1);
    }
    return d;
}

static int check_schema(const struct pq_schema *s, struct wr_err *err)
{
    if (!s || s->ncols == 0 || !s->cols) {
        return wr_err_set(err, WR_EINVAL, "parquet: a schema needs at least one column");
    }
    if (s->ncols > PQ_MAX_COLUMNS) {
        return wr_err_set(err, WR_EINVAL, "parquet: %zu columns, at most %d", s->ncols,
                          PQ_MAX_COLUMNS);
    }
    for (size_t i = 0; i < s->ncols; i++) {
        const struct pq_column *c = &s->cols[i];
        size_t n = c->name ? strlen(c->name) : 0;
        if (n == 0 || n > PQ_MAX_NAME_BYTES) {
            return wr_err_set(err, WR_EINVAL, "parquet: column %zu: empty or overlong name", i);
        }
        if ((unsigned)c->type > PQ_BYTE_ARRAY || (unsigned)c->logical > PQ_LT_TIMESTAMP_US ||
            (unsigned)c->encoding > PQ_ENC_DICT) {
            return wr_err_set(err, WR_EINVAL, "parquet: column %.100s: unknown type", c->name);
        }
        int ok = 1;
        switch (c->logical) {
        case PQ_LT_NONE:
            break;
        case PQ_LT_STRING:
        case PQ_LT_JSON:
            ok = c->type == PQ_BYTE_ARRAY;
            break;
        case PQ_LT_INT:
            ok = c->type == PQ_INT32 || c->type == PQ_INT64;
            break;
        case PQ_LT_TIMESTAMP_US:
            ok = c->type == PQ_INT64;
            break;
        }
        if (c->encoding == PQ_ENC_DICT && c->type != PQ_BYTE_ARRAY) {
            ok = 0;
        }
        if (!ok) {
            return wr_err_set(err, WR_EINVAL, "parquet: column %.100s: type and annotation or "
                                              "encoding do not match", c->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->cols[j].name, c->name) == 0) {
                return wr_err_set(err, WR_EINVAL, "parquet: duplicate column %.100s", c->name);
            }
        }
    }
    return 0;
}

pq_writer *pq_writer_create(const struct pq_schema *schema, const struct pq_opts *opts,
                            pq_write_fn write, void *arg, struct wr_err *err)
{
    if (!write) {
        wr_err_set(err, WR_EINVAL, "parquet: no write callback");
        return NULL;
    }
    if (check_schema(schema, err) != 0) {
        return NULL;
    }
    struct pq_opts o;
    if (opts) {
        o = *opts;
    } else {
        memset(&o, 0, sizeof o);
    }
    if ((unsigned)o.codec > PQ_CODEC_UNCOMPRESSED) {
        wr_err_set(err, WR_EINVAL, "parquet: unknown codec");
        return NULL;
    }
    const char *build = o.build ? o.build : "unknown";
    if (strlen(build) > 64 || strpbrk(build, "()") || build[0] == 0) {
        wr_err_set(err, WR_EINVAL, "parquet: build id must be 1-64 bytes without parentheses");
        return NULL;
    }
    if (o.level == 0) {
        o.level = o.codec == PQ_CODEC_GZIP ? 6 : 3;
    }
    if (o.row_group_bytes == 0) {
        o.row_group_bytes = (size_t)128 << 20;
    }
    if (o.row_group_rows == 0) {
        o.row_group_rows = (size_t)1 << 20;
    }
    if (o.page_bytes == 0) {
        o.page_bytes = (size_t)1 << 20;
    }
    if (o.dict_max_bytes == 0) {
        o.dict_max_bytes = (size_t)1 << 20;
    }
    if (o.dict_max_bytes > ((size_t)1 << 30)) {
        o.dict_max_bytes = (size_t)1 << 30; /* offsets are 32-bit */
    }
    if (o.dict_max_entries == 0) {
        o.dict_max_entries = 65536;
    }
    if (o.dict_max_entries > ((size_t)1 << 30)) {
        o.dict_max_entries = (size_t)1 << 30;
    }
    if (o.max_value_bytes == 0) {
        o.max_value_bytes = (size_t)16 << 20;
    }
    if (o.stats_max_bytes == 0) {
        o.stats_max_bytes = 64;
    }
    if (o.stats_max_bytes > 256) {
        o.stats_max_bytes = 256;
    }
    if (o.max_buffer_bytes == 0) {
        o.max_buffer_bytes = (size_t)1 << 30;
    }
    if (o.max_value_bytes > o.max_buffer_bytes / 2) {
        o.max_value_bytes = o.max_buffer_bytes / 2;
    }
    /* Page sizes are Thrift i32 and lengths in PLAIN byte arrays are 32-bit: keep a page of
     * page_bytes plus one maximal value well below 2 GiB. */
    if (o.max_value_bytes > ((size_t)1 << 30)) {
        o.max_value_bytes = (size_t)1 << 30;
    }
    if (o.page_bytes > ((size_t)256 << 20)) {
        o.page_bytes = (size_t)256 << 20;
    }
    pq_writer *w = calloc(1, sizeof *w);
    if (!w) {
        wr_err_set(err, WR_ENOMEM, "parquet: out of memory");
        return NULL;
    }
    w->write = write;
    w->arg = arg;
    w->o = o;
    w->o.build = NULL;
    w->o.kv = NULL;
    snprintf(w->created_by, sizeof w->created_by, "weir version %s (build %s)", PQ_WRITER_VERSION,
             build);
    size_t cap = o.max_buffer_bytes;
    wr_buf_init(&w->body, cap);
    wr_buf_init(&w->cbuf, cap);
    wr_buf_init(&w->hdr, 4096);
    wr_buf_init(&w->dpage, cap);
    wr_buf_init(&w->cmetas, cap);
    wr_buf_init(&w->rgmetas, cap);
    wr_buf_init(&w->statbytes, UINT32_MAX / 2 < cap ? UINT32_MAX / 2 : cap);
    w->cols = calloc(schema->ncols, sizeof *w->cols);
    int ok = w->cols != NULL;
    w->ncols = ok ? schema->ncols : 0;
    for (size_t i = 0; ok && i < w->ncols; i++) {
        const struct pq_column *s = &schema->cols[i];
        struct pq__col *c = &w->cols[i];
        c->name = dupstr(s->name);
        c->type = s->type;
        c->logical = s->logical;
        c->optional = s->optional != 0;
        c->dict_enabled = s->type == PQ_BYTE_ARRAY && s->encoding != PQ_ENC_PLAIN;
        c->dict_mode = c->dict_enabled;
        wr_buf_init(&c->vals, o.page_bytes + o.max_value_bytes + 64);
        wr_buf_init(&c->idx, (size_t)PAGE_MAX_VALUES * 4 + 64);
        wr_buf_init(&c->defs, (size_t)PAGE_MAX_VALUES + 64);
        wr_buf_init(&c->data, cap);
        wr_buf_init(&c->smin, o.max_value_bytes);
        wr_buf_init(&c->smax, o.max_value_bytes);
        wr_buf_init(&c->dbytes, o.dict_max_bytes);
        ok = c->name != NULL;
        if (ok && c->dict_enabled) {
            ok = dict_rehash(c, 1024) == 0;
        }
    }
    if (ok && o.nkv > 0) {
        if (!opts->kv || o.nkv > 4096) {
            wr_err_set(err, WR_EINVAL, "parquet: bad key/value metadata");
            pq_writer_destroy(w);
            return NULL;
        }
        w->kv = calloc(2 * o.nkv, sizeof *w->kv);
        ok = w->kv != NULL;
        for (size_t i = 0; ok && i < o.nkv; i++) {
            if (!opts->kv[i].key || !opts->kv[i].value) {
                wr_err_set(err, WR_EINVAL, "parquet: key/value metadata %zu is NULL", i);
                pq_writer_destroy(w);
                return NULL;
            }
            w->kv[2 * i] = dupstr(opts->kv[i].key);
            w->kv[2 * i + 1] = dupstr(opts->kv[i].value);
            w->nkv = i + 1;
            ok = w->kv[2 * i] && w->kv[2 * i + 1];
        }
    }
    if (ok && o.codec == PQ_CODEC_ZSTD) {
        w->zc = ZSTD_createCCtx();
        ok = w->zc != NULL;
    }
    if (ok && o.codec == PQ_CODEC_ZSTD && o.exec && o.exec->submit) {
        ok = pthread_mutex_init(&w->mu, NULL) == 0;
        if (ok && pthread_cond_init(&w->cv, NULL) != 0) {
            pthread_mutex_destroy(&w->mu);
            ok = 0;
        }
        w->sync_ready = ok;
    }
    if (ok && o.codec == PQ_CODEC_GZIP) {
        /* windowBits 15 + 16: gzip (RFC 1952) framing, which is what Parquet's GZIP means */
        ok = deflateInit2(&w->zs, o.level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        w->zs_ready = ok;
    }
    if (!ok) {
        wr_err_set(err, WR_ENOMEM, "parquet: out of memory");
        pq_writer_destroy(w);
        return NULL;
    }
    return w;
}

uint64_t pq_writer_rows(const pq_writer *w)
{
    return w->total_rows;
}

uint64_t pq_writer_bytes_written(const pq_writer *w)
{
    return w->offset;
}

const char *pq_writer_errmsg(const pq_writer *w)
{
    return w->errmsg;
}

void pq_writer_destroy(pq_writer *w)
{
    if (!w) {
        return;
    }
    drain(w); /* jobs in flight point into w */
    for (size_t i = 0; i < w->ncols; i++) {
        struct pq__col *c = &w->cols[i];
        while (c->jhead) {
            struct pq__pjob *j = c->jhead;
            c->jhead = j->next;
            free(j->plain);
            free(j->out);
            free(j);
        }
        free(c->name);
        wr_buf_free(&c->vals);
        wr_buf_free(&c->idx);
        wr_buf_free(&c->defs);
        wr_buf_free(&c->data);
        wr_buf_free(&c->smin);
        wr_buf_free(&c->smax);
        wr_buf_free(&c->dbytes);
        free(c->ents);
        free(c->slots);
    }
    free(w->cols);
    for (size_t i = 0; i < 2 * w->nkv; i++) {
        free(w->kv[i]);
    }
    free(w->kv);
    wr_buf_free(&w->body);
    wr_buf_free(&w->cbuf);
    wr_buf_free(&w->hdr);
    wr_buf_free(&w->dpage);
    wr_buf_free(&w->cmetas);
    wr_buf_free(&w->rgmetas);
    wr_buf_free(&w->statbytes);
    ZSTD_freeCCtx(w->zc);
    if (w->sync_ready) {
        for (int i = 0; i < w->nccs; i++) {
            ZSTD_freeCCtx(w->ccs[i]);
        }
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    }
    if (w->zs_ready) {
        deflateEnd(&w->zs);
    }
    free(w);
}
