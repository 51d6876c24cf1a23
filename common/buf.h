/* buf.h - a growable byte buffer with a hard cap set at init (bodies, lines, SQL).
 * The contents are always NUL-terminated for convenience; len excludes the NUL. */
#ifndef WEIR_BUF_H
#define WEIR_BUF_H

#include <stddef.h>

struct wr_buf {
    char *p;
    size_t len;
    size_t cap;     /* allocated bytes */
    size_t max_len; /* hard cap on len */
};

/* Initialises an empty buffer that refuses to grow past max_len bytes. Allocates
 * nothing until the first append. */
void wr_buf_init(struct wr_buf *b, size_t max_len);

/* Frees the memory and returns the buffer to empty. */
void wr_buf_free(struct wr_buf *b);

/* Appends; returns 0, or WR_ELIMIT when max_len would be passed (nothing appended),
 * or WR_ENOMEM. */
int wr_buf_append(struct wr_buf *b, const void *p, size_t len);
int wr_buf_putc(struct wr_buf *b, char c);
int wr_buf_printf(struct wr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as the inside of a JSON string (quotes not included), escaping per RFC 8259.
 * Bytes that are not well-formed UTF-8 become \ufffd, so the result is always valid JSON
 * text whatever s holds. */
int wr_buf_json_escape(struct wr_buf *b, const char *s, size_t len);

/* Makes room for n more bytes; returns 0 or an error as wr_buf_append. */
int wr_buf_reserve(struct wr_buf *b, size_t n);

/* Empties without freeing. */
void wr_buf_clear(struct wr_buf *b);

/* Hands the memory to the caller (who frees it) and leaves the buffer empty. */
char *wr_buf_take(struct wr_buf *b, size_t *len);

#endif
