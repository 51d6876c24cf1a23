/* clock.h - clocks, monotonic deadlines and timed waits, RFC 3339 timestamps and UUIDv7
 * event ids. The one place weir reads a clock or computes a timeout: every wait on a
 * condition variable uses the monotonic clock, so a wall-clock step (NTP, an admin's
 * `date -s`) neither fires timeouts early nor holds them for hours. */
#ifndef WEIR_CLOCK_H
#define WEIR_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_RFC3339_MS_LEN 24 /* "2026-11-21T10:00:00.123Z" */
#define WR_UUID_LEN 36

/* Wall clock, milliseconds / microseconds since the Unix epoch (UTC). */
int64_t wr_time_now_ms(void);
int64_t wr_time_now_us(void);

/* Monotonic clock in nanoseconds / milliseconds, for durations and timeouts. */
int64_t wr_time_mono_ns(void);
int64_t wr_time_mono_ms(void);

/* --- deadlines and timed waits ---------------------------------------------------
 * A deadline is a point on the monotonic clock in nanoseconds (wr_time_mono_ns()). */

/* The deadline ms milliseconds from now (ms <= 0: now). */
int64_t wr_deadline_in_ms(int64_t ms);

/* Milliseconds left until deadline, rounded up, 0 once it has passed. */
int64_t wr_deadline_left_ms(int64_t deadline);

/* True once the deadline has passed. */
bool wr_deadline_passed(int64_t deadline);

/* Sleeps ms milliseconds (through EINTR); ms <= 0 returns at once. */
void wr_sleep_ms(int64_t ms);

/* Initialises a condition variable whose timed waits use the monotonic clock.
 * Returns 0 or the pthread error. Destroy it with pthread_cond_destroy. */
int wr_cond_init_mono(pthread_cond_t *c);

/* Waits on c (initialised by wr_cond_init_mono, m held) until it is signalled or the
 * deadline passes. Returns 0 when woken (maybe spuriously: recheck the predicate) or
 * ETIMEDOUT. */
int wr_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline);

/* wr_cond_wait_until(c, m, wr_deadline_in_ms(ms)). */
int wr_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms);

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
