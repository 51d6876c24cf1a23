/* test_metrics.c - gateway/metrics.c: what /metrics shows after requests, verdicts and
 * latencies are counted (families, labels, cumulative buckets). */
#include "check.h"

#include "gateway/gateway.h"
#include "gateway/metrics.h"

#include <stdlib.h>

static struct gw_metrics *fresh(void)
{
    struct gw_metrics *m = malloc(sizeof *m);
    gw_metrics_init(m);
    return m;
}

static bool has_line(const struct wr_buf *b, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = b->p; p && (p = strstr(p, line)) != NULL; p += n) {
        if ((p == b->p || p[-1] == '\n') && p[n] == '\n') {
            return true;
        }
    }
    return false;
}

static void test_requests_by_status(void)
{
    struct gw_metrics *m = fresh();
    gw_metrics_request(m, 202, 1000);
    gw_metrics_request(m, 202, 1000);
    gw_metrics_request(m, 429, 1000);
    gw_metrics_request(m, 42, 1000); /* out of range: latency only */
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    gw_metrics_render(m, &b);
    CHECK(has_line(&b, "# TYPE weir_http_requests_total counter"));
    CHECK(has_line(&b, "weir_http_requests_total{status=\"202\"} 2"));
    CHECK(has_line(&b, "weir_http_requests_total{status=\"429\"} 1"));
    CHECK(strstr(b.p, "status=\"42\"") == NULL);
    CHECK(has_line(&b, "weir_http_request_duration_seconds_count 4"));
    wr_buf_free(&b);
    free(m);
}

static void test_histogram_buckets(void)
{
    struct gw_metrics *m = fresh();
    gw_metrics_observe(&m->validation_latency, 40000);       /* 40 µs: first bucket */
    gw_metrics_observe(&m->validation_latency, 2000000);     /* 2 ms */
    gw_metrics_observe(&m->validation_latency, 60000000000); /* 60 s: +Inf */
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    gw_metrics_render(m, &b);
    CHECK(has_line(&b, "weir_validation_duration_seconds_bucket{le=\"5e-05\"} 1"));
    CHECK(has_line(&b, "weir_validation_duration_seconds_bucket{le=\"0.001\"} 1"));
    CHECK(has_line(&b, "weir_validation_duration_seconds_bucket{le=\"0.0025\"} 2"));
    CHECK(has_line(&b, "weir_validation_duration_seconds_bucket{le=\"10\"} 2"));
    CHECK(has_line(&b, "weir_validation_duration_seconds_bucket{le=\"+Inf\"} 3"));
    CHECK(has_line(&b, "weir_validation_duration_seconds_sum 60.00204"));
    CHECK(has_line(&b, "weir_validation_duration_seconds_count 3"));
    wr_buf_free(&b);
    free(m);
}

static void test_events_by_type_and_reason(void)
{
    struct gw_metrics *m = fresh();
    gw_metrics_events(m, "page_view", 9, 3, NULL);
    gw_metrics_events(m, "page_view_x", 9, 1, NULL); /* the first 9 bytes: page_view */
    uint64_t reasons[GW_R_COUNT] = {0};
    reasons[GW_R_SCHEMA] = 2;
    reasons[GW_R_FORBIDDEN] = 1;
    gw_metrics_events(m, "", 0, 0, reasons);
    char long_type[80];
    memset(long_type, 'a', sizeof long_type);
    gw_metrics_events(m, long_type, sizeof long_type, 5, NULL); /* too long: "_other" */
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    gw_metrics_render(m, &b);
    CHECK(has_line(&b, "weir_events_accepted_total{event_type=\"page_view\"} 4"));
    CHECK(has_line(&b, "weir_events_accepted_total{event_type=\"_other\"} 5"));
    CHECK(has_line(&b, "weir_events_rejected_total{event_type=\"_other\",reason=\"schema\"} 2"));
    CHECK(has_line(&b, "weir_events_rejected_total{event_type=\"_other\",reason=\"forbidden\"} 1"));
    CHECK(has_line(&b, "weir_rate_limited_events_total 0"));
    wr_buf_free(&b);
    free(m);
}

static void test_type_slots_fill_up(void)
{
    struct gw_metrics *m = fresh();
    char t[16];
    for (int i = 0; i < GW_MAX_TYPES + 10; i++) {
        int n = snprintf(t, sizeof t, "t%d", i);
        gw_metrics_events(m, t, (size_t)n, 1, NULL);
    }
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    gw_metrics_render(m, &b);
    CHECK(has_line(&b, "weir_events_accepted_total{event_type=\"t0\"} 1"));
    CHECK(has_line(&b, "weir_events_accepted_total{event_type=\"_other\"} 10"));
    wr_buf_free(&b);
    free(m);
}

static void test_trusted_proxies_syntax(void)
{
    struct wr_err err = {0};
    CHECK_INT(gw_trusted_proxies_check("10.0.0.0/8, 192.168.1.7,fd00::/8,::1", &err), 0);
    CHECK_INT(gw_trusted_proxies_check("", &err), 0);
    CHECK(gw_trusted_proxies_check("10.0.0.0/33", &err) != 0);
    CHECK(strstr(err.msg, "10.0.0.0/33") != NULL);
    CHECK(gw_trusted_proxies_check("example.com", &err) != 0);
    CHECK(gw_trusted_proxies_check("::1/129", &err) != 0);
    CHECK(gw_trusted_proxies_check("1.2.3.4/x", &err) != 0);
}

int main(void)
{
    CHECK_RUN(test_requests_by_status);
    CHECK_RUN(test_histogram_buckets);
    CHECK_RUN(test_events_by_type_and_reason);
    CHECK_RUN(test_type_slots_fill_up);
    CHECK_RUN(test_trusted_proxies_syntax);
    return CHECK_DONE();
}
