/* bench_format.c - weir-bench-format: the cost of typical format checks, one line per
 * check (ns per call, median of 5 rounds of 200,000). Figures, never a test: this loop
 * used to run inside the unit test test_val_format.
 * Usage: weir-bench-format [iterations per round] */
#include "validator/format.h"
#include "validator/regex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long iters = 200000;
    if (argc > 1) {
        char *end;
        errno = 0;
        iters = strtol(argv[1], &end, 10);
        if (errno || end == argv[1] || *end || iters < 1) {
            fprintf(stderr, "usage: weir-bench-format [iterations per round]\n");
            return 2;
        }
    }
    static const struct {
        enum val__fmt f;
        const char *s;
    } cases[] = {
        {VAL__FMT_DATE_TIME, "2024-05-01T12:34:56.789+02:00"},
        {VAL__FMT_DATE, "2024-05-01"},
        {VAL__FMT_EMAIL, "first.last@mail.example.com"},
        {VAL__FMT_HOSTNAME, "api.eu-west-1.example.com"},
        {VAL__FMT_HOSTNAME, "xn--bcher-kva.example"},
        {VAL__FMT_IDN_HOSTNAME, "b\xc3\xbc"
                                "cher.example"},
        {VAL__FMT_IPV4, "192.168.100.200"},
        {VAL__FMT_IPV6, "2001:db8:85a3::8a2e:370:7334"},
        {VAL__FMT_URI, "https://example.com/a/b/c?x=1&y=2#frag"},
        {VAL__FMT_UUID, "2eb8aa08-aa98-11ea-b4aa-73b441d16380"},
        {VAL__FMT_DURATION, "P1Y2M3DT4H5M6S"},
        {VAL__FMT_REGEX, "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$"},
    };
    int rc = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = strlen(cases[k].s);
        double round_ns[5];
        for (int r = 0; r < 5; r++) {
            long ok = 0;
            double a = now_ns();
            for (long i = 0; i < iters; i++) {
                ok += val__fmt_check(cases[k].f, cases[k].s, n);
            }
            round_ns[r] = (now_ns() - a) / (double)iters;
            if (ok != iters) {
                fprintf(stderr, "%s rejected: %s\n", val__fmt_name(cases[k].f), cases[k].s);
                rc = 1;
            }
        }
        qsort(round_ns, 5, sizeof round_ns[0], cmp_double);
        printf("%-13s %-45s %8.0f ns/check\n", val__fmt_name(cases[k].f), cases[k].s, round_ns[2]);
    }
    val__regex_thread_cleanup();
    return rc;
}
