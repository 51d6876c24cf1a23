/* sink_int.h - private to the sink: the spool record codec (one line and its partition)
 * and the partition buffers (raw chunks compressed into concatenated gzip members). */
#ifndef WEIR_GW_SINK_INT_H
#define WEIR_GW_SINK_INT_H

#include "gateway/sink.h"

#include <stddef.h>
#include <stdint.h>

struct libdeflate_compressor;

/* A spool record: kind (1 byte), received_at_ms (int64 LE), event type length (uint16 LE),
 * the event type (accepted lines only), then the line. */
#define GW__REC_HDR 11u
#define GW__ET_MAX 200u /* longest event type: a lake key segment */

/* One decoded record; the pointers refer into the record's bytes. */
struct gw__rec {
    int kind;
    int64_t received_at_ms;
    const char *event_type;
    size_t event_type_len;
    const char *line;
    size_t line_len;
};

/* Bytes that gw__rec_encode writes for l. */
size_t gw__rec_size(const struct gw_line *l);

/* Encodes l into out (gw__rec_size(l) bytes). l must have passed the sink's checks. */
void gw__rec_encode(const struct gw_line *l, char *out);

/* Decodes a record; returns 0, or WR_EINVAL when the bytes are not a sink record. */
int gw__rec_decode(const char *p, size_t len, struct gw__rec *out);

/* UTC hour number (floor of ms / 3600000) of a unix time in milliseconds. */
int64_t gw__hour_of_ms(int64_t ms);

/* A partition: zone, event type (empty for rejected lines) and UTC hour. */
struct gw__pkey {
    int kind;
    int64_t hour;
    size_t et_len;
    char event_type[GW__ET_MAX + 1];
};

/* Fills k from a decoded record. */
void gw__pkey_from_rec(struct gw__pkey *k, const struct gw__rec *r);
uint64_t gw__pkey_hash(const struct gw__pkey *k);
int gw__pkey_eq(const struct gw__pkey *a, const struct gw__pkey *b);

/* One partition buffer: every line of its partition since the previous flush. The newest
 * lines stay raw in a chunk (chunk bytes, memcpy only); a full chunk is compressed whole by
 * libdeflate into one complete gzip member appended to out, and finish seals the last
 * partial chunk. The file is out: concatenated members, which is one valid gzip stream
 * (RFC 1952) that gunzip, zlib, Python's gzip and DuckDB read whole. libdeflate has no
 * streaming API, and whole-chunk compression is 2-3x faster than zlib's streaming deflate.
 * first_lsn names the file; last_lsn bounds the journal range. */
struct gw__pbuf {
    struct gw__pbuf *next; /* hash chain while open, queue link once closed */
    struct gw__pkey key;
    uint64_t hash;
    uint64_t first_lsn, last_lsn;
    uint64_t lines;
    uint64_t raw_bytes;   /* uncompressed, newlines included */
    int64_t opened_ms;    /* monotonic */
    int finished;         /* the last member is written and the raw chunk freed */
    char *raw;            /* lines not yet compressed, newlines included */
    size_t raw_len, raw_cap, chunk;
    unsigned members;
    unsigned char *out;   /* complete gzip members */
    size_t out_len, out_cap, out_max;
};

/* A new, empty buffer for key whose first line will be at first_lsn; chunk is the raw
 * bytes compressed per gzip member, out_max caps the compressed bytes. NULL when out of
 * memory. */
struct gw__pbuf *gw__pbuf_create(const struct gw__pkey *key, uint64_t first_lsn, size_t chunk,
                                 size_t out_max);

/* Adds line plus a newline to b, compressing the chunk with cz once full (cz: one per
 * thread; its level is the files' level). Returns 0, WR_ENOMEM, WR_ELIMIT (out_max), or
 * WR_EINVAL once finished. */
int gw__pbuf_add(struct gw__pbuf *b, struct libdeflate_compressor *cz, uint64_t lsn,
                 const char *line, size_t len);

/* Compresses the last partial chunk and frees it; b->out[0, out_len) is then the file
 * (one empty member when b holds no line). Returns 0, WR_ENOMEM or WR_ELIMIT; again: 0. */
int gw__pbuf_finish(struct gw__pbuf *b, struct libdeflate_compressor *cz);

/* Frees b; NULL is a no-op. */
void gw__pbuf_destroy(struct gw__pbuf *b);

#endif
