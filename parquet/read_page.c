/* read_page.c - the reader's byte-level decoders: page decompression (ZSTD, GZIP with
 * concatenated members, our own SNAPPY block decoder, none), the RLE/bit-packed hybrid and
 * DELTA_BINARY_PACKED. Each works on a bounded input and a caller-sized output and reports
 * malformed data instead of reading or writing past either. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#ifdef WEIR_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "parquet/read_int.h"

enum { CODEC_NONE = 0, CODEC_SNAPPY = 1, CODEC_GZIP = 2, CODEC_ZSTD = 6 };

void pqr_codecs_free(struct pqr_codecs *c)
{
    ZSTD_freeDCtx(c->zstd);
#ifdef WEIR_HAVE_LIBDEFLATE
    if (c->defl) {
        libdeflate_free_decompressor(c->defl);
    }
#endif
    c->zstd = c->defl = NULL;
}

/* Snappy's block format (format_description.txt of google/snappy): a varint length, then
 * literals and back-references. Written here rather than linked: 50 lines, fuzzed with the rest. */
int pqr_snappy(const uint8_t *in, size_t n, uint8_t *out, size_t outlen)
{
    const uint8_t *p = in, *end = in + n;
    uint64_t len = 0;
    int shift = 0;
    for (;;) {
        if (p >= end || shift > 35) {
            return -1;
        }
        uint8_t b = *p++;
        len |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            break;
        }
    }
    if (len != outlen) {
        return -1;
    }
    size_t o = 0;
    while (p < end) {
        uint8_t tag = *p++;
        size_t l, off;
        switch (tag & 3) {
        case 0:
            l = tag >> 2;
            if (l >= 60) {
                size_t nb = l - 59;
                if ((size_t)(end - p) < nb) {
                    return -1;
                }
                l = 0;
                for (size_t i = 0; i < nb; i++) {
                    l |= (size_t)p[i] << (8 * i);
                }
                p += nb;
            }
            l += 1;
            if ((size_t)(end - p) < l || outlen - o < l) {
                return -1;
            }
            memcpy(out + o, p, l);
            p += l;
            o += l;
            continue;
        case 1:
            if (p >= end) {
                return -1;
            }
            l = 4 + ((tag >> 2) & 7);
            off = ((size_t)(tag >> 5) << 8) | *p++;
            break;
        case 2:
            if (end - p < 2) {
                return -1;
            }
            l = 1 + (tag >> 2);
            off = (size_t)p[0] | (size_t)p[1] << 8;
            p += 2;
            break;
        default:
            if (end - p < 4) {
                return -1;
            }
            l = 1 + (tag >> 2);
            off = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
            p += 4;
            break;
        }
        if (off == 0 || off > o || outlen - o < l) {
            return -1;
        }
        if (off >= l) {
            memcpy(out + o, out + o - off, l);
        } else {
            for (size_t i = 0; i < l; i++) { /* overlapping copy repeats the pattern */
                out[o + i] = out[o - off + i];
            }
        }
        o += l;
    }
    return o == outlen ? 0 : -1;
}

static int gunzip(struct pqr_codecs *cs, const uint8_t *in, size_t n, uint8_t *out, size_t outlen)
{
    size_t o = 0;
#ifdef WEIR_HAVE_LIBDEFLATE
    if (!cs->defl) {
        cs->defl = libdeflate_alloc_decompressor();
        if (!cs->defl) {
            return -1;
        }
    }
    /* Members one after another (Compression.md lets a page hold several). */
    while (n > 0) {
        size_t in_used = 0, got = 0;
        enum libdeflate_result r =
            libdeflate_gzip_decompress_ex(cs->defl, in, n, out + o, outlen - o, &in_used, &got);
        if (r != LIBDEFLATE_SUCCESS || in_used == 0) {
            return -1;
        }
        in += in_used;
        n -= in_used;
        o += got;
    }
#else
    (void)cs;
    while (n > 0) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 16) != Z_OK) {
            return -1;
        }
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
        z.next_out = out + o;
        z.avail_out = (uInt)(outlen - o);
        int rc = inflate(&z, Z_FINISH);
        size_t used = (size_t)(z.next_in - in);
        o += (size_t)(z.next_out - (out + o));
        inflateEnd(&z);
        if (rc != Z_STREAM_END || used == 0) {
            return -1;
        }
        in += used;
        n -= used;
    }
#endif
    return o == outlen ? 0 : -1;
}

int pqr_decompress(struct pqr_codecs *cs, int codec, const uint8_t *in, size_t n, uint8_t *out,
                   size_t outlen, const char **why)
{
    switch (codec) {
    case CODEC_NONE:
        if (n != outlen) {
            *why = "uncompressed page whose sizes differ";
            return WR_EINVAL;
        }
        if (n) {
            memcpy(out, in, n);
        }
        return 0;
    case CODEC_SNAPPY:
        if (pqr_snappy(in, n, out, outlen)) {
            *why = "corrupt SNAPPY page (or not its uncompressed size)";
            return WR_EINVAL;
        }
        return 0;
    case CODEC_GZIP:
        if (gunzip(cs, in, n, out, outlen)) {
            *why = "corrupt GZIP page (or not its uncompressed size)";
            return WR_EINVAL;
        }
        return 0;
    case CODEC_ZSTD: {
        if (!cs->zstd) {
            cs->zstd = ZSTD_createDCtx();
            if (!cs->zstd) {
                *why = "out of memory";
                return WR_ENOMEM;
            }
        }
        size_t r = ZSTD_decompressDCtx(cs->zstd, out, outlen, in, n);
        if (ZSTD_isError(r) || r != outlen) {
            *why = "corrupt ZSTD page (or not its uncompressed size)";
            return WR_EINVAL;
        }
        return 0;
    }
    default:
        *why = codec == 3   ? "codec LZO is not supported"
               : codec == 4 ? "codec BROTLI is not supported"
               : codec == 5 ? "codec LZ4 (Hadoop) is not supported"
               : codec == 7 ? "codec LZ4_RAW is not supported"
                            : "unknown codec";
        return WR_EINVAL;
    }
}

int pqr_lazy_start(struct pqr_lazy *z, struct pqr_codecs *cs, int codec, const uint8_t *in,
                   size_t n, uint8_t *out, size_t outlen, const char **why)
{
    memset(z, 0, sizeof *z);
    z->in = in;
    z->n = n;
    z->out = out;
    z->outlen = outlen;
    if (codec != CODEC_ZSTD) {
        int rc = pqr_decompress(cs, codec, in, n, out, outlen, why);
        z->have = rc ? 0 : outlen;
        return rc;
    }
    if (!cs->zstd) {
        cs->zstd = ZSTD_createDCtx();
        if (!cs->zstd) {
            *why = "out of memory";
            return WR_ENOMEM;
        }
    }
    ZSTD_DCtx_reset(cs->zstd, ZSTD_reset_session_only);
    z->zstd = cs->zstd;
    return 0;
}

int pqr_lazy_need(struct pqr_lazy *z, size_t want, const char **why)
{
    if (want > z->outlen) {
        want = z->outlen;
    }
    while (z->have < want) {
        /* In steps of at least 64 KiB: each call costs a little setup. */
        size_t target = want - z->have < ((size_t)64 << 10) ? z->have + ((size_t)64 << 10) : want;
        ZSTD_outBuffer ob = {z->out, target < z->outlen ? target : z->outlen, z->have};
        ZSTD_inBuffer ib = {z->in, z->n, z->in_pos};
        size_t r = ZSTD_decompressStream(z->zstd, &ob, &ib);
        if (ZSTD_isError(r) || (ob.pos == z->have && ib.pos == z->in_pos) ||
            (r == 0 && ob.pos != z->outlen)) {
            *why = "corrupt ZSTD page (or not its uncompressed size)";
            return WR_EINVAL;
        }
        z->have = ob.pos;
        z->in_pos = ib.pos;
    }
    return 0;
}

static int uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end) {
            return -1;
        }
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Bits [bitpos, bitpos + w) of p, LSB first; the caller guarantees those bytes exist. */
static inline uint64_t getbits(const uint8_t *p, size_t nbytes, size_t bitpos, int w)
{
    size_t byte = bitpos >> 3;
    int off = (int)(bitpos & 7);
    if (w == 0) {
        return 0;
    }
    if (w + off <= 64 && byte + 8 <= nbytes) {
        uint64_t v;
        memcpy(&v, p + byte, 8);
        v >>= off;
        return w == 64 ? v : v & ((UINT64_C(1) << w) - 1);
    }
    uint64_t v = 0;
    int got = 0;
    while (got < w) {
        int o = (int)(bitpos & 7), take = 8 - o;
        if (take > w - got) {
            take = w - got;
        }
        v |= (uint64_t)((p[bitpos >> 3] >> o) & ((1u << take) - 1)) << got;
        got += take;
        bitpos += (size_t)take;
    }
    return v;
}

long pqr_hybrid(const uint8_t *p, const uint8_t *end, int width, uint32_t *out, size_t n)
{
    const uint8_t *start = p;
    size_t i = 0;
    if (width < 0 || width > 32) {
        return -1;
    }
    size_t vbytes = (size_t)(width + 7) / 8;
    while (i < n) {
        uint64_t h;
        if (uvarint(&p, end, &h)) {
            return -1;
        }
        if (h & 1) {
            uint64_t groups = h >> 1;
            if (groups > ((uint64_t)1 << 40)) {
                return -1;
            }
            size_t cnt = (size_t)groups * 8, take = cnt < n - i ? cnt : n - i;
            size_t run_bytes = (size_t)groups * (size_t)width;
            size_t need = (take * (size_t)width + 7) / 8, avail = (size_t)(end - p);
            if (need > avail) {
                return -1;
            }
            size_t have = run_bytes < avail ? run_bytes : avail;
            if (width == 1) {
                for (size_t j = 0; j < take; j++) {
                    out[i + j] = (p[j >> 3] >> (j & 7)) & 1;
                }
            } else if (width <= 8) {
                /* 8 values of up to 8 bits are one 64-bit load while 8 bytes remain */
                uint64_t mask = (UINT64_C(1) << width) - 1;
                size_t j = 0;
                for (; j + 8 <= take && (j / 8) * (size_t)width + 8 <= have; j += 8) {
                    uint64_t x;
                    memcpy(&x, p + (j / 8) * (size_t)width, 8);
                    for (int k = 0; k < 8; k++) {
                        out[i + j + (size_t)k] = (uint32_t)((x >> (k * width)) & mask);
                    }
                }
                for (; j < take; j++) {
                    out[i + j] = (uint32_t)getbits(p, have, j * (size_t)width, width);
                }
            } else {
                for (size_t j = 0; j < take; j++) {
                    out[i + j] = (uint32_t)getbits(p, have, j * (size_t)width, width);
                }
            }
            i += take;
            p += have;
        } else {
            uint64_t cnt = h >> 1;
            if ((size_t)(end - p) < vbytes) {
                return -1;
            }
            uint32_t v = 0;
            for (size_t b = 0; b < vbytes; b++) {
                v |= (uint32_t)p[b] << (8 * b);
            }
            p += vbytes;
            size_t take = cnt < (uint64_t)(n - i) ? (size_t)cnt : n - i;
            for (size_t j = 0; j < take; j++) {
                out[i + j] = v;
            }
            i += take;
        }
    }
    return (long)(p - start);
}

long pqr_levels(const uint8_t *p, const uint8_t *end, uint8_t *out, size_t n, size_t *ones)
{
    const uint8_t *start = p;
    size_t i = 0, cnt1 = 0;
    while (i < n) {
        uint64_t h;
        if (uvarint(&p, end, &h)) {
            return -1;
        }
        if (h & 1) {
            uint64_t groups = h >> 1;
            if (groups > ((uint64_t)1 << 40)) {
                return -1;
            }
            size_t cnt = (size_t)groups * 8, take = cnt < n - i ? cnt : n - i;
            size_t need = (take + 7) / 8, avail = (size_t)(end - p);
            if (need > avail) {
                return -1;
            }
            for (size_t j = 0; j < take; j++) {
                uint8_t b = (p[j >> 3] >> (j & 7)) & 1;
                out[i + j] = b;
                cnt1 += b;
            }
            i += take;
            p += (size_t)groups < avail ? (size_t)groups : avail;
        } else {
            uint64_t cnt = h >> 1;
            if (p >= end || *p > 1) {
                return -1; /* a level above 1 on a flat optional column */
            }
            uint8_t v = *p++;
            size_t take = cnt < (uint64_t)(n - i) ? (size_t)cnt : n - i;
            memset(out + i, v, take);
            cnt1 += v ? take : 0;
            i += take;
        }
    }
    *ones = cnt1;
    return (long)(p - start);
}

long pqr_delta(const uint8_t *p, const uint8_t *end, int bits, int64_t *out, size_t n,
               const char **why)
{
    const uint8_t *start = p;
    uint64_t block, nmini, total, zz;
    if (uvarint(&p, end, &block) || uvarint(&p, end, &nmini) || uvarint(&p, end, &total) ||
        uvarint(&p, end, &zz)) {
        *why = "truncated DELTA_BINARY_PACKED header";
        return -1;
    }
    if (block == 0 || block % 128 || block > (1u << 20) || nmini == 0 || block % nmini ||
        (block / nmini) % 32) {
        *why = "bad DELTA_BINARY_PACKED block sizes";
        return -1;
    }
    if (total != n) {
        *why = "DELTA_BINARY_PACKED value count differs from the page's";
        return -1;
    }
    size_t per = (size_t)(block / nmini);
    uint64_t prev = (zz >> 1) ^ -(zz & 1);
    size_t i = 0;
    if (n > 0) {
        out[i++] = bits == 32 ? (int64_t)(int32_t)(uint32_t)prev : (int64_t)prev;
    }
    while (i < n) {
        uint64_t mz;
        if (uvarint(&p, end, &mz)) {
            *why = "truncated DELTA_BINARY_PACKED block";
            return -1;
        }
        uint64_t min_delta = (mz >> 1) ^ -(mz & 1);
        if ((uint64_t)(end - p) < nmini) {
            *why = "truncated DELTA_BINARY_PACKED bit widths";
            return -1;
        }
        const uint8_t *widths = p;
        p += nmini;
        for (size_t m = 0; m < nmini && i < n; m++) {
            int w = widths[m];
            if (w > bits) {
                *why = "DELTA_BINARY_PACKED bit width wider than the type";
                return -1;
            }
            size_t mbytes = per * (size_t)w / 8;
            if ((size_t)(end - p) < mbytes) {
                *why = "truncated DELTA_BINARY_PACKED miniblock";
                return -1;
            }
            size_t take = per < n - i ? per : n - i;
            for (size_t j = 0; j < take; j++) {
                prev += min_delta + getbits(p, mbytes, j * (size_t)w, w);
                out[i++] = bits == 32 ? (int64_t)(int32_t)(uint32_t)prev : (int64_t)prev;
            }
            p += mbytes;
        }
    }
    return (long)(p - start);
}
