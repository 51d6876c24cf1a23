/* path.c - the lake's Hive-style partition keys (raw, rejected, curated), built and
 * split in one place so the gateway, the curator and the tests agree on the layout. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lake/lake.h"

#define SEG_MAX 200

int lake_segment_ok(const char *s, int file_name)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > SEG_MAX || s[0] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-') {
            continue;
        }
        if (file_name && (c == ':' || c == '+')) {
            continue;
        }
        return 0;
    }
    return 1;
}

int lake_time_partition(int64_t t, char dt[11], char hr[3])
{
    /* Years 0..9999 keep dt at exactly ten characters. */
    if (t < -62167219200LL || t > 253402300799LL) {
        return WR_EINVAL;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        return WR_EINVAL;
    }
    /* Digits written by hand: the ranges are known, and snprintf's truncation
     * warnings cannot see that. */
    unsigned y = (unsigned)(tm.tm_year + 1900), m = (unsigned)tm.tm_mon + 1u,
             d = (unsigned)tm.tm_mday, h = (unsigned)tm.tm_hour;
    dt[0] = (char)('0' + y / 1000 % 10);
    dt[1] = (char)('0' + y / 100 % 10);
    dt[2] = (char)('0' + y / 10 % 10);
    dt[3] = (char)('0' + y % 10);
    dt[4] = '-';
    dt[5] = (char)('0' + m / 10 % 10);
    dt[6] = (char)('0' + m % 10);
    dt[7] = '-';
    dt[8] = (char)('0' + d / 10 % 10);
    dt[9] = (char)('0' + d % 10);
    dt[10] = '\0';
    hr[0] = (char)('0' + h / 10 % 10);
    hr[1] = (char)('0' + h % 10);
    hr[2] = '\0';
    return 0;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* Accepts "YYYY-MM-DD" with a plausible month and day (not a full calendar check:
 * the worker only ever passes days it formatted or listed). */
static int dt_ok(const char *d)
{
    if (!d || strlen(d) != 10 || d[4] != '-' || d[7] != '-' || !digits(d, 4) ||
        !digits(d + 5, 2) || !digits(d + 8, 2)) {
        return 0;
    }
    int mon = (d[5] - '0') * 10 + (d[6] - '0');
    int day = (d[8] - '0') * 10 + (d[9] - '0');
    return mon >= 1 && mon <= 12 && day >= 1 && day <= 31;
}

static int hr_ok(const char *h)
{
    return h && strlen(h) == 2 && digits(h, 2) && (h[0] - '0') * 10 + (h[1] - '0') < 24;
}

static int emit(char *out, size_t cap, int n)
{
    if (n < 0) {
        return WR_EINVAL;
    }
    if ((size_t)n >= cap) {
        if (cap) {
            out[0] = '\0';
        }
        return WR_ELIMIT;
    }
    return 0;
}

int lake_path_raw(char *out, size_t cap, const char *event_type, int64_t received_at,
                  const char *file)
{
    char dt[11], hr[3];
    if (!lake_segment_ok(event_type, 0) || !lake_segment_ok(file, 1) ||
        lake_time_partition(received_at, dt, hr) != 0) {
        return WR_EINVAL;
    }
    return emit(out, cap,
                snprintf(out, cap, "raw/event_type=%s/dt=%s/hr=%s/%s", event_type, dt, hr, file));
}

int lake_path_rejected(char *out, size_t cap, int64_t received_at, const char *file)
{
    char dt[11], hr[3];
    if (!lake_segment_ok(file, 1) || lake_time_partition(received_at, dt, hr) != 0) {
        return WR_EINVAL;
    }
    return emit(out, cap, snprintf(out, cap, "rejected/dt=%s/hr=%s/%s", dt, hr, file));
}

int lake_path_curated_events(char *out, size_t cap, const char *event_type, const char *dt,
                             unsigned part)
{
    if (!lake_segment_ok(event_type, 0) || !dt_ok(dt)) {
        return WR_EINVAL;
    }
    return emit(out, cap,
                snprintf(out, cap, "curated/events/event_type=%s/dt=%s/part-%05u.parquet",
                         event_type, dt, part));
}

int lake_path_curated_rollup(char *out, size_t cap, const char *dt, unsigned part)
{
    if (!dt_ok(dt)) {
        return WR_EINVAL;
    }
    return emit(out, cap,
                snprintf(out, cap, "curated/rollups/hourly/dt=%s/part-%05u.parquet", dt, part));
}

/* Copies the segment [s, end) that must start with name (e.g. "dt=") into out. */
static const char *take(const char *s, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (strncmp(s, name, nl) != 0) {
        return NULL;
    }
    s += nl;
    const char *end = strchr(s, '/');
    if (!end) {
        return NULL;
    }
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= cap) {
        return NULL;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return end + 1;
}

int lake_path_parse_raw(const char *key, struct lake_raw_key *out)
{
    struct lake_raw_key k;
    const char *s = key;
    if (!s || strncmp(s, "raw/", 4) != 0) {
        return 0;
    }
    s += 4;
    if (!(s = take(s, "event_type=", k.event_type, sizeof k.event_type)) ||
        !(s = take(s, "dt=", k.dt, sizeof k.dt)) || !(s = take(s, "hr=", k.hr, sizeof k.hr))) {
        return 0;
    }
    size_t n = strlen(s);
    if (n >= sizeof k.file || strchr(s, '/')) {
        return 0;
    }
    memcpy(k.file, s, n + 1);
    if (!lake_segment_ok(k.event_type, 0) || !dt_ok(k.dt) || !hr_ok(k.hr) ||
        !lake_segment_ok(k.file, 1)) {
        return 0;
    }
    *out = k;
    return 1;
}
