/* err.h - the error record every weir constructor and system call path fills.
 * Invalid input is a result, not an error: this is for the system failing
 * (out of memory, I/O, Postgres gone) and for refusals with a message. */
#ifndef WEIR_ERR_H
#define WEIR_ERR_H

#include <stddef.h>

enum {
    WR_OK = 0,
    WR_ENOMEM = -1,  /* allocation failed or a cap was reached */
    WR_EINVAL = -2,  /* the caller's input was refused; msg says why */
    WR_EIO = -3,     /* an operating system or network call failed */
    WR_EDB = -4,     /* PostgreSQL failed */
    WR_ELIMIT = -5,  /* a configured limit was exceeded */
    WR_ENOENT = -6,  /* the named thing does not exist */
    WR_EAGAIN = -7   /* try again later (busy, full, draining) */
};

struct wr_err {
    int code;
    char msg[160];
};

/* Fills err (when not NULL) with code and a printf-formatted message; returns code,
 * so callers can write `return wr_err_set(err, WR_EIO, "open %s: %s", ...)`. */
int wr_err_set(struct wr_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short constant name for a code ("nomem", "io", ...). */
const char *wr_err_name(int code);

#endif
