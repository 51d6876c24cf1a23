/* gzip.h - whole-buffer gzip inflation with a hard output cap (request bodies, raw-zone
 * files). Stops as soon as the cap is passed, so a gzip bomb costs at most the cap. */
#ifndef WEIR_GZIP_H
#define WEIR_GZIP_H

#include "buf.h"

#include <stddef.h>

/* Inflates the gzip stream(s) in in[0, len) (concatenated members allowed) and appends
 * the result to out, whose max_len is the cap. Returns 0; WR_ELIMIT when the output
 * would pass the cap; WR_EINVAL when the data is not valid gzip (truncated, bad CRC,
 * trailing garbage); WR_ENOMEM. */
int wr_gunzip(const void *in, size_t len, struct wr_buf *out);

#endif
