/* gzip.c - capped inflation behind gzip.h. */
#include "gzip.h"

#include "err.h"

#include <zlib.h>

int wr_gunzip(const void *in, size_t len, struct wr_buf *out)
{
    z_stream z = {0};
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
        size_t chunk = room < 65536 ? room : 65536;
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
