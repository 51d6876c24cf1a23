/* clock.h - clocks, RFC 3339 timestamps and UUIDv7 event ids. */
#ifndef WEIR_CLOCK_H
#define WEIR_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_RFC3339_MS_LEN 24 /* "2026-11-21T10:00:00.123Z" */
#define WR_UUID_LEN 36

/* Wall clock, milliseconds / microseconds since the Unix epoch (UTC). */
int64_t wr_time_now_ms(void);
int64_t wr_time_now_us(void);

/* Monotonic clock in nanoseconds, for durations and timeouts. */
int64_t wr_time_mono_ns(void);

/* Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" plus a NUL into out (WR_RFC3339_MS_LEN + 1). */
void wr_time_format_ms(int64_t ms, char *out);

/* Parses an RFC 3339 date-time (any fraction length, Z or +hh:mm offset, 'T' or 't' or
 * ' ') into microseconds since the epoch (UTC). Returns false if s is not one. */
bool wr_time_parse_rfc3339(const char *s, size_t len, int64_t *us);

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
int64_t wr_days_from_civil(int64_t y, unsigned m, unsigned d);
void wr_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* Writes a new UUIDv7 (RFC 9562: 48-bit ms timestamp, random rest; monotonic within a
 * process) as 36 lowercase characters plus a NUL into out. Thread-safe. */
void wr_uuid7(char *out);

#endif
