/* test_prom.c - common/prom: family headers, label escaping, one float format,
 * cumulative histograms. */
#include "common/prom.h"
#include "check.h"

#include <math.h>

static void test_counter_and_gauge(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    CHECK_INT(wr_prom_counter(&b, "x_total", "Things.", 42), 0);
    CHECK_INT(wr_prom_gauge_f(&b, "y_seconds", "Age.", 1.5), 0);
    CHECK_STR(b.p, "# HELP x_total Things.\n# TYPE x_total counter\nx_total 42\n"
                   "# HELP y_seconds Age.\n# TYPE y_seconds gauge\ny_seconds 1.5\n");
    wr_buf_free(&b);
}

static void test_label_escaping(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    struct wr_prom_label l[] = {{"a", "q\"b\\n\nx"}, {"b", NULL}};
    CHECK_INT(wr_prom_sample(&b, "m", l, 2, 7), 0);
    CHECK_STR(b.p, "m{a=\"q\\\"b\\\\n\\nx\",b=\"\"} 7\n");
    wr_buf_free(&b);
}

static void test_floats(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    wr_prom_sample_f(&b, "a", NULL, 0, INFINITY);
    wr_prom_sample_f(&b, "b", NULL, 0, -INFINITY);
    wr_prom_sample_f(&b, "c", NULL, 0, NAN);
    wr_prom_sample_f(&b, "d", NULL, 0, 123456.000000001);
    CHECK_STR(b.p, "a +Inf\nb -Inf\nc NaN\nd 123456.000000001\n");
    wr_buf_free(&b);
}

static void test_histogram(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 4096);
    const double le[] = {0.001, 0.5};
    const uint64_t counts[] = {1, 2, 3};
    CHECK_INT(wr_prom_histogram(&b, "h_seconds", "Latency.", le, counts, 2, 2.25), 0);
    CHECK_STR(b.p, "# HELP h_seconds Latency.\n# TYPE h_seconds histogram\n"
                   "h_seconds_bucket{le=\"0.001\"} 1\nh_seconds_bucket{le=\"0.5\"} 3\n"
                   "h_seconds_bucket{le=\"+Inf\"} 6\nh_seconds_sum 2.25\nh_seconds_count 6\n");
    wr_buf_free(&b);
}

static void test_cap_reported(void)
{
    struct wr_buf b;
    wr_buf_init(&b, 16);
    CHECK(wr_prom_counter(&b, "a_long_metric_name_total", "Help.", 1) != 0);
    wr_buf_free(&b);
}

int main(void)
{
    CHECK_RUN(test_counter_and_gauge);
    CHECK_RUN(test_label_escaping);
    CHECK_RUN(test_floats);
    CHECK_RUN(test_histogram);
    CHECK_RUN(test_cap_reported);
    return CHECK_DONE();
}
