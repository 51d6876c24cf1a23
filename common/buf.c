/* buf.c - capped growable byte buffer behind buf.h. */
#include "buf.h"

#include "err.h"
#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wr_buf_init(struct wr_buf *b, size_t max_len)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len;
    b->err = 0;
}

void wr_buf_free(struct wr_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = 0;
}

int wr_buf__grow(struct wr_buf *b, size_t n)
{
    if (b->err) {
        return b->err;
    }
    if (n > b->max_len || b->len > b->max_len - n) {
        b->err = WR_ELIMIT;
        return b->err;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    }
    /* Never more than the cap allows (plus the NUL). */
    if (cap > b->max_len + 1 && need <= b->max_len + 1) {
        cap = b->max_len + 1;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->err = WR_ENOMEM;
        return b->err;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int wr_buf_put_u64(struct wr_buf *b, uint64_t v)
{
    char d[20];
    size_t n = sizeof d;
    do {
        d[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return wr_buf_append(b, d + n, sizeof d - n);
}

int wr_buf_printf(struct wr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return WR_EINVAL;
    }
    int rc = wr_buf_reserve(b, (size_t)n);
    if (rc) {
        return rc;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII but " and \. */
static const unsigned char json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Nonzero when one of the 8 bytes of v is not plain: below 0x20, '"', '\\' or 0x80 and up
 * (the classic SWAR zero-byte tests; a flag may be false only above a true one). */
static inline uint64_t word_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = v ^ (ones * '"'), bs = v ^ (ones * '\\');
    return (((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | v) & highs;
}

int wr_buf_json_escape(struct wr_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0, i = 0;
    for (;;) {
        /* The common case, plain ASCII: eight bytes a step, then one table lookup a byte up
         * to the next byte that needs care. */
        while (len - i >= 8) {
            uint64_t v;
            memcpy(&v, u + i, 8);
            if (word_special(v)) {
                break;
            }
            i += 8;
        }
        while (i < len && json_plain[u[i]]) {
            i++;
        }
        if (i == len) {
            break;
        }
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t j = i;
            uint32_t cp;
            if (wr_utf8_next(u, len, &j, &cp)) {
                i = j; /* a whole character: kept as is */
                continue;
            }
        }
        int rc = wr_buf_append(b, s + start, i - start);
        if (rc) {
            return rc;
        }
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            if (c >= 0x80) {
                /* Not UTF-8: the output must stay valid JSON text, so the byte becomes
                 * U+FFFD REPLACEMENT CHARACTER. */
                memcpy(esc, "\\ufffd", 6);
            } else {
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
            }
            n = 6;
        }
        rc = wr_buf_append(b, esc, n);
        if (rc) {
            return rc;
        }
        start = ++i;
    }
    return wr_buf_append(b, s + start, len - start);
}

void wr_buf_clear(struct wr_buf *b)
{
    wr_buf_truncate(b, 0);
}

void wr_buf_truncate(struct wr_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
    }
    if (b->p) {
        b->p[b->len] = '\0';
    }
    b->err = 0;
}

char *wr_buf_take(struct wr_buf *b, size_t *len)
{
    char *p = b->p;
    if (len) {
        *len = b->len;
    }
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = 0;
    return p;
}
