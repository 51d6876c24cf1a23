/* fuzz_cost.h - the fuzzers' cost check: an input whose processing takes more thread CPU
 * than a fixed allowance plus a share per byte is a finding (quadratic or exponential
 * behaviour a client could steer), reported and aborted like a crash. The allowance is
 * generous for sanitizer builds; WEIR_FUZZ_COST_SCALE (a positive number, default 1)
 * multiplies it on slow machines. */
#ifndef WEIR_FUZZ_COST_H
#define WEIR_FUZZ_COST_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double fuzz_cost_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Aborts when t0_ms (from fuzz_cost_now_ms) to now passed base_ms + per_kib_ms per KiB
 * of an input of size bytes. what names the step in the report. */
static inline void fuzz_cost_check(const char *what, double t0_ms, size_t size, double base_ms,
                                   double per_kib_ms)
{
    static double scale = 0;
    if (scale == 0) {
        const char *e = getenv("WEIR_FUZZ_COST_SCALE");
        char *end = NULL;
        scale = e ? strtod(e, &end) : 1.0;
        if (!e || !end || *end || !(scale > 0)) {
            scale = 1.0;
        }
    }
    double took = fuzz_cost_now_ms() - t0_ms;
    double allowed = (base_ms + per_kib_ms * (double)size / 1024.0) * scale;
    if (took > allowed) {
        fprintf(stderr,
                "cost finding: %s took %.1f ms of CPU for a %zu-byte input (allowed %.1f)\n", what,
                took, size, allowed);
        abort();
    }
}

#endif
