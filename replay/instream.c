/* instream.c - the gzip line reader of rpl_int.h: zlib's streaming inflate, one window at
 * a time, concatenated members allowed (a gateway may append members). */
#include "rpl_int.h"

#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int rpl_lines_open(struct rpl_lines *l, const void *in, size_t len, size_t max_line)
{
    memset(l, 0, sizeof *l);
    l->win = malloc(RPL_WINDOW);
    if (!l->win) {
        return WR_ENOMEM;
    }
    l->max_line = max_line;
    wr_buf_init(&l->line, max_line + 1);
    if (inflateInit2(&l->zs, 15 + 16) != Z_OK) {
        free(l->win);
        l->win = NULL;
        return WR_ENOMEM;
    }
    l->zs_open = true;
    l->zs.next_in = (Bytef *)(uintptr_t)in;
    l->zs.avail_in = (uInt)(len > 0xffffffffu ? 0xffffffffu : len);
    if (len > 0xffffffffu) {
        l->broken = true; /* 4 GiB of compressed bytes in one object: refused by the caller's cap */
    }
    if (len == 0) {
        l->end = true; /* an empty object holds no lines (and no gzip error) */
    }
    return 0;
}

/* Inflates the next window. Returns 1 when text came, 0 at the end, -1 when broken. */
static int fill(struct rpl_lines *l)
{
    while (!l->end && !l->broken) {
        l->zs.next_out = (Bytef *)l->win;
        l->zs.avail_out = RPL_WINDOW;
        int zr = inflate(&l->zs, Z_NO_FLUSH);
        l->win_pos = 0;
        l->win_len = RPL_WINDOW - l->zs.avail_out;
        if (zr == Z_STREAM_END) {
            if (l->zs.avail_in == 0) {
                l->end = true;
            } else if (inflateReset(&l->zs) != Z_OK) {
                l->broken = true;
            }
        } else if (zr == Z_BUF_ERROR && l->zs.avail_in == 0 && l->win_len == 0) {
            l->broken = true; /* truncated: input gone before the member's end */
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            l->broken = true;
        }
        if (l->win_len) {
            return 1;
        }
    }
    return l->broken ? -1 : 0;
}

int rpl_lines_next(struct rpl_lines *l, const char **p, size_t *n)
{
    wr_buf_clear(&l->line);
    for (;;) {
        if (l->win_pos == l->win_len) {
            int fr = fill(l);
            if (fr <= 0) {
                if (fr < 0) {
                    return -1; /* a partial last line of a broken stream is not a line */
                }
                if (l->line.len && !l->skipping) {
                    l->line_no++;
                    *p = l->line.p;
                    *n = l->line.len;
                    return 1;
                }
                if (l->skipping) {
                    l->line_no++;
                    l->skipping = false;
                }
                return 0;
            }
        }
        const char *s = l->win + l->win_pos;
        size_t avail = l->win_len - l->win_pos;
        const char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        l->win_pos += take + (nl ? 1 : 0);
        if (l->skipping) {
            if (nl) {
                l->skipping = false;
                l->line_no++;
            }
            continue;
        }
        if (nl && l->line.len == 0) {
            if (take > l->max_line) {
                l->line_no++;
                l->too_long++;
                continue;
            }
            l->line_no++;
            *p = s; /* the common case: the whole line inside the window */
            *n = take;
            return 1;
        }
        if (l->line.len + take > l->max_line) {
            l->too_long++;
            wr_buf_clear(&l->line);
            if (nl) {
                l->line_no++;
            } else {
                l->skipping = true;
            }
            continue;
        }
        if (wr_buf_append(&l->line, s, take) != 0) {
            return -1;
        }
        if (nl) {
            l->line_no++;
            *p = l->line.p;
            *n = l->line.len;
            return 1;
        }
    }
}

void rpl_lines_close(struct rpl_lines *l)
{
    if (l->zs_open) {
        inflateEnd(&l->zs);
    }
    free(l->win);
    wr_buf_free(&l->line);
    memset(l, 0, sizeof *l);
}
