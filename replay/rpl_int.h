/* rpl_int.h - replay/'s internals: a line reader over one gzip object held compressed in
 * memory, inflating a window at a time (the inflated text is never held whole). */
#ifndef WEIR_RPL_INT_H
#define WEIR_RPL_INT_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <zlib.h>

#define RPL_WINDOW (1u << 20)

struct rpl_lines {
    z_stream zs;
    bool zs_open;
    bool end;    /* input exhausted */
    bool broken; /* the gzip stream is not valid (truncated, bad CRC, garbage) */
    char *win;   /* RPL_WINDOW bytes of inflated text */
    size_t win_pos, win_len;
    struct wr_buf line; /* a line that spans windows */
    size_t max_line;
    bool skipping;   /* inside a line longer than max_line */
    size_t line_no;  /* 1-based number of the line last returned */
    size_t too_long; /* lines skipped for length */
};

/* Starts reading the gzip stream(s) in in[0, len) (borrowed until rpl_lines_close).
 * Lines longer than max_line are skipped and counted. Returns 0 or WR_ENOMEM. */
int rpl_lines_open(struct rpl_lines *l, const void *in, size_t len, size_t max_line);

/* The next line (without its newline) in *p, *n, valid until the next call; *p points
 * into the reader. Returns 1, 0 at the end, or -1 when the stream turned out broken
 * (l->broken; the lines before were returned) or WR_ENOMEM (-1 too, l->broken unset). */
int rpl_lines_next(struct rpl_lines *l, const char **p, size_t *n);

void rpl_lines_close(struct rpl_lines *l);

#endif
