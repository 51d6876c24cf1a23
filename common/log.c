/* log.c - JSON-lines logging behind log.h. */
#include "log.h"

#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int wr_log_level = WR_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int wr_log_level_parse(const char *name)
{
    for (int i = 0; i <= WR_LOG_OFF; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void wr_logline_begin(struct wr_logline *l, int level, const char *msg)
{
    char ts[WR_RFC3339_MS_LEN + 1];
    wr_time_format_ms(wr_time_now_ms(), ts);
    wr_buf_init(&l->b, 64 * 1024);
    wr_buf_printf(&l->b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
                  level_names[level < 0 || level > WR_LOG_ERROR ? WR_LOG_ERROR : level]);
    wr_buf_json_escape(&l->b, msg, strlen(msg));
    wr_buf_putc(&l->b, '"');
}

void wr_logline_strn(struct wr_logline *l, const char *key, const char *val, size_t len)
{
    wr_buf_printf(&l->b, ",\"%s\":\"", key);
    wr_buf_json_escape(&l->b, val, len);
    wr_buf_putc(&l->b, '"');
}

void wr_logline_str(struct wr_logline *l, const char *key, const char *val)
{
    wr_logline_strn(l, key, val ? val : "", val ? strlen(val) : 0);
}

void wr_logline_int(struct wr_logline *l, const char *key, int64_t val)
{
    wr_buf_printf(&l->b, ",\"%s\":%lld", key, (long long)val);
}

void wr_logline_double(struct wr_logline *l, const char *key, double val)
{
    wr_buf_printf(&l->b, ",\"%s\":%.6g", key, val);
}

void wr_logline_end(struct wr_logline *l)
{
    if (wr_buf_append(&l->b, "}\n", 2) == 0) {
        /* One write per line keeps lines whole when threads log at once. */
        ssize_t n = write(STDERR_FILENO, l->b.p, l->b.len);
        (void)n;
    }
    wr_buf_free(&l->b);
}

void wr_log__printf(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct wr_logline l;
    wr_logline_begin(&l, level, msg);
    wr_logline_end(&l);
}
