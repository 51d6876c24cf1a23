/* time.c - the API's TIME: RFC 3339, "now", or a time relative to now: -N followed by s,
 * m, h, d, w or y (365 days), e.g. "-72h". */
#include "console/console.h"

#include "common/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int con_time_parse(const char *s, int64_t now_us, int64_t *us)
{
    if (!s || !*s) {
        return WR_EINVAL;
    }
    if (strcmp(s, "now") == 0) {
        *us = now_us;
        return 0;
    }
    if (s[0] == '-' || s[0] == '+') {
        char *end;
        errno = 0;
        long long n = strtoll(s + 1, &end, 10);
        if (errno || end == s + 1 || n < 0 || n > 1000000000LL || end[0] == '\0' || end[1]) {
            return WR_EINVAL;
        }
        int64_t unit;
        switch (end[0]) {
        case 's': unit = 1000000; break;
        case 'm': unit = 60ll * 1000000; break;
        case 'h': unit = 3600ll * 1000000; break;
        case 'd': unit = 86400ll * 1000000; break;
        case 'w': unit = 7 * 86400ll * 1000000; break;
        case 'y': unit = 365ll * 86400 * 1000000; break;
        default: return WR_EINVAL;
        }
        if (n > INT64_MAX / unit / 2) {
            return WR_EINVAL;
        }
        *us = s[0] == '-' ? now_us - n * unit : now_us + n * unit;
        return 0;
    }
    int64_t v;
    if (!wr_time_parse_rfc3339(s, strlen(s), &v)) {
        return WR_EINVAL;
    }
    *us = v;
    return 0;
}
