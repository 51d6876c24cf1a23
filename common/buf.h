/* buf.h - a growable byte buffer with a hard cap set at init (bodies, lines, SQL, Parquet
 * pages). The contents are NUL-terminated after every call of this API; len excludes the
 * NUL. The first failure sticks: once an append is refused (cap or memory), every later
 * append returns the same error until wr_buf_clear or wr_buf_truncate, so a writer of many
 * small pieces checks once, at the end. One thread at a time. */
#ifndef WEIR_BUF_H
#define WEIR_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wr_buf {
    char *p;
    size_t len;
    size_t cap;     /* allocated bytes */
    size_t max_len; /* hard cap on len */
    int err;        /* the first refusal (WR_ELIMIT or WR_ENOMEM), 0 while none */
};

/* Initialises an empty buffer that refuses to grow past max_len bytes. Allocates
 * nothing until the first append. */
void wr_buf_init(struct wr_buf *b, size_t max_len);

/* Frees the memory and returns the buffer to empty (error cleared). */
void wr_buf_free(struct wr_buf *b);

/* The slow path of wr_buf_reserve: grows the allocation, or sets b->err. */
int wr_buf__grow(struct wr_buf *b, size_t n);

/* Makes room for n more bytes (and the NUL); returns 0, or the sticky error: WR_ELIMIT
 * when max_len would be passed, WR_ENOMEM. */
static inline int wr_buf_reserve(struct wr_buf *b, size_t n)
{
    if (b->err) {
        return b->err;
    }
    if (b->cap - b->len > n) { /* cap > len always holds once allocated (the NUL) */
        return 0;
    }
    return wr_buf__grow(b, n);
}

/* Appends; returns 0, or the sticky error as wr_buf_reserve (nothing appended). */
static inline int wr_buf_append(struct wr_buf *b, const void *p, size_t len)
{
    int rc = wr_buf_reserve(b, len);
    if (rc) {
        return rc;
    }
    if (len) {
        memcpy(b->p + b->len, p, len);
    }
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

static inline int wr_buf_putc(struct wr_buf *b, char c)
{
    int rc = wr_buf_reserve(b, 1);
    if (rc) {
        return rc;
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
    return 0;
}

int wr_buf_printf(struct wr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends v in decimal; returns 0 or the sticky error. For hot paths: vsnprintf costs
 * ~1,000 instructions per call, this a few dozen. */
int wr_buf_put_u64(struct wr_buf *b, uint64_t v);

/* Appends s as the inside of a JSON string (quotes not included), escaping per RFC 8259.
 * Bytes that are not well-formed UTF-8 become \ufffd, so the result is always valid JSON
 * text whatever s holds. */
int wr_buf_json_escape(struct wr_buf *b, const char *s, size_t len);

/* Empties without freeing, and clears the error. */
void wr_buf_clear(struct wr_buf *b);

/* Cuts the contents back to their first len bytes (len <= b->len) and clears the error:
 * a writer that failed part-way puts the buffer back as it was before it began. */
void wr_buf_truncate(struct wr_buf *b, size_t len);

/* Hands the memory to the caller (who frees it) and leaves the buffer empty (error
 * cleared). */
char *wr_buf_take(struct wr_buf *b, size_t *len);

#endif
