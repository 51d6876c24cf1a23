/* clock.c - clocks, deadlines, timed waits, RFC 3339 formatting/parsing and UUIDv7. */
#include "clock.h"

#include "hash.h"
#include "text.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

int64_t wr_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wr_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wr_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t wr_time_mono_ms(void)
{
    return wr_time_mono_ns() / 1000000;
}

int64_t wr_deadline_in_ms(int64_t ms)
{
    int64_t now = wr_time_mono_ns();
    if (ms <= 0) {
        return now;
    }
    /* Far-away deadlines saturate instead of wrapping (about 292 years of ns fit). */
    if (ms > (INT64_MAX - now) / 1000000) {
        return INT64_MAX;
    }
    return now + ms * 1000000;
}

int64_t wr_deadline_left_ms(int64_t deadline)
{
    int64_t left = deadline - wr_time_mono_ns();
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

bool wr_deadline_passed(int64_t deadline)
{
    return wr_time_mono_ns() >= deadline;
}

void wr_sleep_ms(int64_t ms)
{
    if (ms <= 0) {
        return;
    }
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int wr_cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc) {
        return rc;
    }
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (!rc) {
        rc = pthread_cond_init(c, &a);
    }
    pthread_condattr_destroy(&a);
    return rc;
}

int wr_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
    int rc = pthread_cond_timedwait(c, m, &ts);
    return rc == ETIMEDOUT ? ETIMEDOUT : 0;
}

int wr_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms)
{
    return wr_cond_wait_until(c, m, wr_deadline_in_ms(ms));
}

/* Howard Hinnant's civil-date algorithms: exact for every proleptic Gregorian date. */
int64_t wr_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void wr_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static void put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void wr_time_format_ms(int64_t ms, char *out)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    unsigned milli = (unsigned)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    unsigned sod = (unsigned)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    wr_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        y = y < 0 ? 0 : 9999;
    }
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, sod / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, sod / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, sod % 60, 2);
    out[19] = '.';
    put_digits(out + 20, milli, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

static bool digits(const char *s, int n, unsigned *v)
{
    unsigned x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    *v = x;
    return true;
}

bool wr_time_parse_rfc3339(const char *s, size_t len, int64_t *us)
{
    unsigned y, mo, d, h, mi, se;
    if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se)) {
        return false;
    }
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 60) {
        return false;
    }
    size_t i = 19;
    int64_t frac_us = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac_us += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start) {
            return false;
        }
    }
    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (!digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || !digits(s + i + 4, 2, &om) ||
            oh > 23 || om > 59) {
            return false;
        }
        offset_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return false;
    }
    if (i != len) {
        return false;
    }
    if (se == 60) {
        se = 59; /* a leap second is kept inside its minute */
    }
    int64_t secs = wr_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
    *us = secs * 1000000 + frac_us;
    return true;
}

void wr_uuid7(char *out)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t last_ms;
    static uint16_t seq;
    unsigned char b[16];
    wr_random_bytes(b, sizeof b);
    int64_t ms = wr_time_now_ms();
    /* Within one millisecond a 12-bit counter (seeded at random) keeps ids ordered. */
    pthread_mutex_lock(&lock);
    if (ms <= last_ms) {
        ms = last_ms;
        seq++;
        if (seq > 0xfff) {
            ms++;
            seq = 0;
        }
    } else {
        seq = (uint16_t)(((b[6] & 0x07) << 8) | b[7]);
    }
    last_ms = ms;
    uint16_t s = seq;
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 6; i++) {
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    }
    b[6] = (unsigned char)(0x70 | (s >> 8));
    b[7] = (unsigned char)(s & 0xff);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    /* 8-4-4-4-12 groups of hex digits. */
    wr_hex(b, 4, out);
    out[8] = '-';
    wr_hex(b + 4, 2, out + 9);
    out[13] = '-';
    wr_hex(b + 6, 2, out + 14);
    out[18] = '-';
    wr_hex(b + 8, 2, out + 19);
    out[23] = '-';
    wr_hex(b + 10, 6, out + 24);
}
