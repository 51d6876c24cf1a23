/* gzip.h - gzip inflation into a capped buffer, the one mechanism for request bodies
 * (strict: all or nothing) and raw-zone files (keep-prefix: a damaged file still yields
 * what was readable before the damage). Stops as soon as the cap is passed, so a gzip bomb
 * costs at most the cap. An inflater (libdeflate, whole members, about twice zlib's speed)
 * is owned by one thread at a time; wr_gunzip needs none and is thread-safe. */
#ifndef WEIR_GZIP_H
#define WEIR_GZIP_H

#include "buf.h"

#include <stddef.h>

enum wr_inflate_mode {
    WR_INFLATE_STRICT,     /* damaged input appends nothing; empty input is damaged */
    WR_INFLATE_KEEP_PREFIX /* damaged input appends what inflated before the damage;
                              empty input is no data (0, nothing appended) */
};

typedef struct wr_inflater wr_inflater;

/* A reusable inflater (its libdeflate state). NULL when out of memory. */
wr_inflater *wr_inflater_create(void);
void wr_inflater_destroy(wr_inflater *z);

/* Inflates the gzip member(s) in in[0, len) (concatenated members allowed) and appends the
 * result to out, whose max_len is the cap. z may be NULL (zlib's stream alone). Returns 0;
 * WR_ELIMIT when the output would pass the cap (nothing appended); WR_EINVAL when the data
 * is not valid gzip (truncated, bad CRC, trailing garbage: see mode for what is appended);
 * WR_ENOMEM. out stays NUL-terminated. */
int wr_inflate_gzip(wr_inflater *z, const void *in, size_t len, enum wr_inflate_mode mode,
                    struct wr_buf *out);

/* wr_inflate_gzip(NULL, in, len, WR_INFLATE_STRICT, out). */
int wr_gunzip(const void *in, size_t len, struct wr_buf *out);

#endif
