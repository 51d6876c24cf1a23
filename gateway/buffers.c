/* buffers.c - the sink's partition buffers: each buffer keeps
 * its newest lines raw up to a chunk size and compresses every full chunk into a complete
 * gzip member (libdeflate), so memory stays near one chunk plus the compressed size. */
#include "gateway/sink_int.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

struct gw__pbuf *gw__pbuf_create(const struct sp_part *key, uint64_t first_lsn, size_t chunk,
                                 size_t out_max)
{
    struct gw__pbuf *b = calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    b->key = *key;
    b->hash = sp_part_hash(key);
    b->first_lsn = first_lsn;
    b->last_lsn = first_lsn;
    b->chunk = chunk > 0 ? chunk : 1;
    b->out_max = out_max;
    /* The raw chunk is allocated by the first line: a buffer costs nothing before. */
    return b;
}

/* Makes room for need more compressed bytes, doubling (up to out_max). */
static int pbuf_out_room(struct gw__pbuf *b, size_t need)
{
    if (b->out_cap - b->out_len >= need) {
        return 0;
    }
    if (need > b->out_max - b->out_len) {
        need = b->out_max - b->out_len; /* try what is left: the bound is pessimistic */
    }
    size_t cap = b->out_cap ? b->out_cap : 16384;
    while (cap - b->out_len < need && cap < b->out_max) {
        cap = cap > b->out_max / 2 ? b->out_max : cap * 2;
    }
    if (cap > b->out_max) {
        cap = b->out_max;
    }
    if (cap <= b->out_cap) {
        return 0;
    }
    unsigned char *p = realloc(b->out, cap);
    if (!p) {
        return WR_ENOMEM;
    }
    b->out = p;
    b->out_cap = cap;
    return 0;
}

/* Compresses the raw chunk into one complete gzip member appended to out. Concatenated
 * members are one valid gzip file (RFC 1952 2.2), and gunzip, zlib, Python and DuckDB
 * read them all. An empty chunk still makes a member when force (an empty file must
 * still be gzip). */
static int pbuf_seal(struct gw__pbuf *b, struct libdeflate_compressor *cz, int force)
{
    if (b->raw_len == 0 && !force) {
        return 0;
    }
    size_t bound = libdeflate_gzip_compress_bound(cz, b->raw_len);
    int rc = pbuf_out_room(b, bound);
    if (rc != 0) {
        return rc;
    }
    size_t n = libdeflate_gzip_compress(cz, b->raw ? b->raw : "", b->raw_len, b->out + b->out_len,
                                        b->out_cap - b->out_len);
    if (n == 0) {
        return WR_ELIMIT; /* did not fit in what out_max leaves */
    }
    b->out_len += n;
    b->members++;
    b->raw_len = 0;
    if (b->raw_cap > b->chunk) {
        /* An oversized line grew the chunk: give that memory back. */
        free(b->raw);
        b->raw = NULL;
        b->raw_cap = 0;
    }
    return 0;
}

int gw__pbuf_add(struct gw__pbuf *b, struct libdeflate_compressor *cz, uint64_t lsn,
                 const char *line, size_t len)
{
    if (b->finished) {
        return WR_EINVAL;
    }
    if (len >= b->out_max) {
        return WR_ELIMIT;
    }
    if (b->raw_len > 0 && len + 1 > b->chunk - b->raw_len) {
        int rc = pbuf_seal(b, cz, 0);
        if (rc != 0) {
            return rc;
        }
    }
    if (len + 1 > b->raw_cap - b->raw_len) {
        /* Only an empty chunk gets here (sealed above): size it for this line. */
        size_t cap = len + 1 > b->chunk ? len + 1 : b->chunk;
        char *p = malloc(cap);
        if (!p) {
            return WR_ENOMEM;
        }
        free(b->raw);
        b->raw = p;
        b->raw_cap = cap;
    }
    memcpy(b->raw + b->raw_len, line, len);
    b->raw[b->raw_len + len] = '\n';
    b->raw_len += len + 1;
    b->last_lsn = lsn;
    b->lines++;
    b->raw_bytes += len + 1;
    if (b->raw_len >= b->chunk) {
        return pbuf_seal(b, cz, 0);
    }
    return 0;
}

int gw__pbuf_finish(struct gw__pbuf *b, struct libdeflate_compressor *cz)
{
    if (b->finished) {
        return 0;
    }
    int rc = pbuf_seal(b, cz, b->members == 0);
    free(b->raw);
    b->raw = NULL;
    b->raw_cap = 0;
    b->raw_len = 0;
    b->finished = 1;
    return rc;
}

void gw__pbuf_destroy(struct gw__pbuf *b)
{
    if (!b) {
        return;
    }
    free(b->raw);
    free(b->out);
    free(b);
}
