/* bench_pq_read.c - throughput of the Parquet reader (pq_read.h) on one file, for comparison
 * with DuckDB on the same file (duck_read.mjs). Prints one JSON line per query, median of --runs:
 *   scan     every column of every row through the batch API: max of numbers, sum of string
 *            lengths, count of true booleans (the work of duck_read.mjs's scan query)
 *   rows     the same columns through the row API (pq_reader_next_row + pq_reader_value)
 *   user     rows WHERE user_id = --user, projecting event_id, received_at, path
 *   recent   rows WHERE received_at >= the file's last --recent-s seconds (statistics pruning)
 * file_rows_per_s is the file's rows over the median wall time (the rate at which the file is
 * answered), also for the filtered queries.
 *   bench_pq_read FILE [--runs 5] [--query scan|rows|user|recent] [--user user-00000042]
 *                 [--recent-s 3600] [--label TEXT (copied into the output)] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "parquet/pq_read.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, const struct wr_err *err)
{
    fprintf(stderr, "bench_pq_read: %s: %s\n", what, err->msg);
    exit(1);
}

static volatile uint64_t sink;

static uint64_t q_scan(const char *path)
{
    struct wr_err err;
    pq_reader *r = pq_reader_open(path, NULL, &err);
    if (!r) {
        die(path, &err);
    }
    uint64_t rows = 0, acc = 0;
    int rc;
    while ((rc = pq_reader_next_group(r, &err)) == 1) {
        for (size_t k = 0;; k++) {
            struct pq_batch b;
            if (pq_reader_batch(r, k, &b)) {
                break;
            }
            const uint8_t *v = b.valid;
            switch (b.col->type) {
            case PQ_PT_BOOLEAN: {
                const uint8_t *x = b.values;
                for (size_t i = 0; i < b.nrows; i++) {
                    acc += (!v || v[i]) && x[i];
                }
                break;
            }
            case PQ_PT_INT32: {
                const int32_t *x = b.values;
                int32_t m = INT32_MIN;
                for (size_t i = 0; i < b.nrows; i++) {
                    if ((!v || v[i]) && x[i] > m) {
                        m = x[i];
                    }
                }
                acc += (uint64_t)m;
                break;
            }
            case PQ_PT_INT64: {
                const int64_t *x = b.values;
                int64_t m = INT64_MIN;
                for (size_t i = 0; i < b.nrows; i++) {
                    if ((!v || v[i]) && x[i] > m) {
                        m = x[i];
                    }
                }
                acc += (uint64_t)m;
                break;
            }
            case PQ_PT_DOUBLE: {
                const double *x = b.values;
                double m = -1e308;
                for (size_t i = 0; i < b.nrows; i++) {
                    if ((!v || v[i]) && x[i] > m) {
                        m = x[i];
                    }
                }
                acc += (uint64_t)m;
                break;
            }
            default: {
                const struct pq_bytes *x = b.values;
                for (size_t i = 0; i < b.nrows; i++) {
                    if (!v || v[i]) {
                        acc += x[i].len;
                    }
                }
            }
            }
        }
        rows += pq_reader_group_rows(r);
    }
    if (rc < 0) {
        die(path, &err);
    }
    sink += acc;
    pq_reader_destroy(r);
    return rows;
}

static uint64_t q_rows(const char *path, const char *user, int64_t ts_from)
{
    struct wr_err err;
    pq_reader *r = pq_reader_open(path, NULL, &err);
    if (!r) {
        die(path, &err);
    }
    size_t ncols = pq_reader_num_columns(r);
    if (user || ts_from) {
        const char *names[] = {"event_id", "received_at", "path"};
        if (pq_reader_project(r, names, 3, &err)) {
            die("project", &err);
        }
        ncols = 3;
    }
    if (user) {
        struct pq_fv f = {PQ_FV_BYTES, 0, 0, user, strlen(user)};
        if (pq_reader_filter(r, "user_id", &f, &f, &err)) {
            die("filter", &err);
        }
    }
    if (ts_from) {
        struct pq_fv f = {PQ_FV_INT, ts_from, 0, NULL, 0};
        if (pq_reader_filter(r, "received_at", &f, NULL, &err)) {
            die("filter", &err);
        }
    }
    uint64_t rows = 0, acc = 0;
    int rc;
    while ((rc = pq_reader_next_row(r, &err)) == 1) {
        for (size_t k = 0; k < ncols; k++) {
            struct pq_value v;
            pq_reader_value(r, k, &v);
            acc += (uint64_t)v.i + v.len + (uint64_t)v.null;
        }
        rows++;
    }
    if (rc < 0) {
        die(path, &err);
    }
    sink += acc;
    pq_reader_destroy(r);
    return rows;
}

/* The largest received_at in the file (from a scan of that column alone). */
static int64_t max_received(const char *path)
{
    struct wr_err err;
    pq_reader *r = pq_reader_open(path, NULL, &err);
    const char *names[] = {"received_at"};
    if (!r || pq_reader_project(r, names, 1, &err)) {
        die(path, &err);
    }
    int64_t m = INT64_MIN;
    while (pq_reader_next_group(r, &err) == 1) {
        struct pq_batch b;
        pq_reader_batch(r, 0, &b);
        for (size_t i = 0; i < b.nrows; i++) {
            int64_t x = ((const int64_t *)b.values)[i];
            m = x > m ? x : m;
        }
    }
    pq_reader_destroy(r);
    return m;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *user = "user-00000042", *only = NULL, *label = "default";
    int runs = 5;
    long recent_s = 3600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000) {
                fprintf(stderr, "--runs: '%s' is not 1..1000\n", argv[i]);
                return 2;
            }
            runs = (int)v;
        } else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
            label = argv[++i];
        } else if (strcmp(argv[i], "--query") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
            user = argv[++i];
        } else if (strcmp(argv[i], "--recent-s") == 0 && i + 1 < argc) {
            char *end;
            recent_s = strtol(argv[++i], &end, 10);
            if (*end || recent_s < 1) {
                fprintf(stderr, "--recent-s: '%s' is not a positive number\n", argv[i]);
                return 2;
            }
        } else if (!path) {
            path = argv[i];
        }
    }
    if (!path || runs < 1 || runs > 100 || recent_s < 1) {
        fprintf(stderr,
                "usage: bench_pq_read FILE [--runs 5] [--query Q] [--user ID] [--recent-s 3600]\n");
        return 2;
    }
    int64_t from = max_received(path) - (int64_t)recent_s * 1000000;
    struct wr_err err;
    pq_reader *r0 = pq_reader_open(path, NULL, &err);
    if (!r0) {
        die(path, &err);
    }
    uint64_t file_rows = pq_reader_num_rows(r0);
    pq_reader_destroy(r0);
    const char *qs[] = {"scan", "rows", "user", "recent"};
    for (int q = 0; q < 4; q++) {
        if (only && strcmp(only, qs[q]) != 0) {
            continue;
        }
        double wall[100], cpu[100];
        uint64_t rows = 0;
        for (int k = 0; k < runs; k++) {
            double t0 = now_s(), c0 = cpu_s();
            rows = q == 0   ? q_scan(path)
                   : q == 1 ? q_rows(path, NULL, 0)
                   : q == 2 ? q_rows(path, user, 0)
                            : q_rows(path, NULL, from);
            wall[k] = now_s() - t0;
            cpu[k] = cpu_s() - c0;
        }
        double w[100];
        memcpy(w, wall, sizeof(double) * (size_t)runs);
        qsort(w, (size_t)runs, sizeof(double), cmp_d);
        qsort(cpu, (size_t)runs, sizeof(double), cmp_d);
        double med = w[runs / 2];
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("{\"reader\":\"weir\",\"label\":\"%s\",\"query\":\"%s\",\"rows\":%" PRIu64
               ",\"seconds\":%.4f,\"all_seconds\":[",
               label, qs[q], rows, med);
        for (int k = 0; k < runs; k++) {
            printf("%s%.4f", k ? "," : "", wall[k]);
        }
        printf("],\"cpu_seconds\":%.4f,\"file_rows_per_s\":%.0f,\"peak_rss_mb\":%.1f}\n",
               cpu[runs / 2], (double)file_rows / med, (double)ru.ru_maxrss / 1024.0);
        fflush(stdout);
    }
    return 0;
}
