/* log.h - JSON-lines logs on stderr: {"ts":...,"level":...,"msg":...,<fields>}.
 * The macros test the level first, so arguments below it are never evaluated.
 * Never log payloads or secrets. Thread-safe: one write(2) per line. */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include "buf.h"

#include <stdint.h>

enum wr_log_level { WR_LOG_DEBUG = 0, WR_LOG_INFO, WR_LOG_WARN, WR_LOG_ERROR, WR_LOG_OFF };

/* The lowest level written; set once at start-up (default WR_LOG_INFO). */
extern int wr_log_level;

/* Parses "debug", "info", "warn", "error" or "off"; returns the level or -1. */
int wr_log_level_parse(const char *name);

/* WR_LOG_OFF as a line's level (e.g. --access-log off) means never, whatever the threshold. */
#define wr_log_enabled(level) ((level) >= wr_log_level && (level) < WR_LOG_OFF)
#define WR_LOG(level, ...)                                                           \
    do {                                                                             \
        if (wr_log_enabled(level)) {                                                 \
            wr_log__printf(level, __VA_ARGS__);                                      \
        }                                                                            \
    } while (0)
#define WR_DEBUG(...) WR_LOG(WR_LOG_DEBUG, __VA_ARGS__)
#define WR_INFO(...) WR_LOG(WR_LOG_INFO, __VA_ARGS__)
#define WR_WARN(...) WR_LOG(WR_LOG_WARN, __VA_ARGS__)
#define WR_ERROR(...) WR_LOG(WR_LOG_ERROR, __VA_ARGS__)

/* Writes one line whose msg is the formatted text. Use the macros. */
void wr_log__printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line with fields: begin, add fields, end (which writes it). For structured lines
 * such as the access log; check wr_log_enabled() before building one. */
struct wr_logline {
    struct wr_buf b;
};
void wr_logline_begin(struct wr_logline *l, int level, const char *msg);
void wr_logline_str(struct wr_logline *l, const char *key, const char *val);
void wr_logline_strn(struct wr_logline *l, const char *key, const char *val, size_t len);
void wr_logline_int(struct wr_logline *l, const char *key, int64_t val);
void wr_logline_double(struct wr_logline *l, const char *key, double val);
void wr_logline_end(struct wr_logline *l);

#endif
