/* err.c - filling struct wr_err. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int wr_err_set(struct wr_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

const char *wr_err_name(int code)
{
    switch (code) {
    case WR_OK: return "ok";
    case WR_ENOMEM: return "nomem";
    case WR_EINVAL: return "invalid";
    case WR_EIO: return "io";
    case WR_EDB: return "db";
    case WR_ELIMIT: return "limit";
    case WR_ENOENT: return "noent";
    case WR_EAGAIN: return "again";
    default: return "unknown";
    }
}
