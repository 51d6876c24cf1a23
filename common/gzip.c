/* gzip.c - capped inflation behind gzip.h: libdeflate's whole-member decoder first (when an
 * inflater is given), zlib's stream for the rest and for damaged input, whose readable
 * prefix only a stream decoder can give. */
#include "gzip.h"

#include "err.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct wr_inflater {
    struct libdeflate_decompressor *dc;
};

wr_inflater *wr_inflater_create(void)
{
    wr_inflater *z = calloc(1, sizeof *z);
    if (z) {
        z->dc = libdeflate_alloc_decompressor();
        if (!z->dc) {
            free(z);
            z = NULL;
        }
    }
    return z;
}

void wr_inflater_destroy(wr_inflater *z)
{
    if (z) {
        libdeflate_free_decompressor(z->dc);
        free(z);
    }
}

static void cut_back(struct wr_buf *out, size_t len)
{
    wr_buf_truncate(out, len);
}

/* Whole members with libdeflate. Returns 0, WR_ELIMIT, WR_ENOMEM, or 1 when the data is
 * not clean gzip (nothing kept: the stream decoder says what is readable). */
static int inflate_fast(wr_inflater *z, const unsigned char *in, size_t len, struct wr_buf *out)
{
    size_t start = out->len, pos = 0;
    uint32_t isize = 0;
    if (len >= 4) {
        memcpy(&isize, in + len - 4, 4); /* the last member's size: exact for one member */
    }
    while (pos < len) {
        size_t left = len - pos;
        size_t guess = left * 4 > (size_t)isize + 64 ? left * 4 : (size_t)isize + 64;
        if (guess > left * 1032 + 64) {
            guess = left * 1032 + 64; /* deflate expands at most ~1032:1 */
        }
        for (;;) {
            size_t cap = out->max_len - out->len;
            if (guess > cap) {
                guess = cap;
            }
            if (guess == 0) {
                cut_back(out, start);
                return WR_ELIMIT;
            }
            int rc = wr_buf_reserve(out, guess);
            if (rc != 0) {
                cut_back(out, start);
                return rc;
            }
            size_t used = 0, n = 0;
            enum libdeflate_result r = libdeflate_gzip_decompress_ex(
                z->dc, in + pos, left, out->p + out->len, guess, &used, &n);
            if (r == LIBDEFLATE_SUCCESS) {
                out->len += n;
                pos += used;
                break;
            }
            if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
                if (guess == cap) {
                    cut_back(out, start);
                    return WR_ELIMIT;
                }
                guess *= 2;
                continue;
            }
            cut_back(out, start);
            return 1;
        }
    }
    cut_back(out, out->len);
    return 0;
}

/* The stream decoder. Returns 0, WR_ELIMIT, WR_ENOMEM or WR_EINVAL (what inflated before the
 * fault stays in out). */
static int inflate_stream(const unsigned char *in, size_t len, struct wr_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        return WR_ENOMEM;
    }
    const unsigned char *p = in;
    size_t left = len;
    int rc = 0;
    while (rc == 0) {
        if (z.avail_in == 0 && left > 0) {
            size_t n = left > (1u << 30) ? (1u << 30) : left;
            z.next_in = (unsigned char *)p;
            z.avail_in = (uInt)n;
            p += n;
            left -= n;
        }
        size_t room = out->max_len - out->len;
        if (room == 0) {
            /* Full: legal only if the stream has ended exactly here. */
            unsigned char probe;
            z.next_out = &probe;
            z.avail_out = 1;
            int zr = inflate(&z, Z_NO_FLUSH);
            if (zr == Z_STREAM_END && z.avail_out == 1) {
                goto member_end;
            }
            rc = z.avail_out == 0 ? WR_ELIMIT : WR_EINVAL;
            break;
        }
        size_t chunk = room < (1u << 18) ? room : (1u << 18);
        if (wr_buf_reserve(out, chunk) != 0) {
            rc = WR_ENOMEM;
            break;
        }
        z.next_out = (unsigned char *)out->p + out->len;
        z.avail_out = (uInt)chunk;
        int zr = inflate(&z, Z_NO_FLUSH);
        out->len += chunk - z.avail_out;
        out->p[out->len] = '\0';
        if (zr == Z_STREAM_END) {
        member_end:
            if (z.avail_in == 0 && left == 0) {
                break;
            }
            /* Another member follows (concatenated gzip is legal). */
            if (inflateReset(&z) != Z_OK) {
                rc = WR_EINVAL;
            }
            continue;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
            rc = WR_EINVAL; /* truncated */
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = zr == Z_MEM_ERROR ? WR_ENOMEM : WR_EINVAL;
        }
    }
    inflateEnd(&z);
    return rc;
}

int wr_inflate_gzip(wr_inflater *z, const void *in, size_t len, enum wr_inflate_mode mode,
                    struct wr_buf *out)
{
    size_t start = out->len;
    if (len == 0) {
        if (mode == WR_INFLATE_STRICT) {
            return WR_EINVAL;
        }
        int rc = wr_buf_reserve(out, 0); /* the terminator needs its byte too */
        if (rc == 0) {
            cut_back(out, start);
        }
        return rc;
    }
    if (z) {
        int rc = inflate_fast(z, in, len, out);
        if (rc <= 0) {
            return rc;
        }
    }
    int rc = inflate_stream(in, len, out);
    if (rc != 0 && !(rc == WR_EINVAL && mode == WR_INFLATE_KEEP_PREFIX)) {
        cut_back(out, start);
    }
    return rc;
}

int wr_gunzip(const void *in, size_t len, struct wr_buf *out)
{
    return wr_inflate_gzip(NULL, in, len, WR_INFLATE_STRICT, out);
}
