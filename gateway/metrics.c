/* metrics.c - counters, histograms and their Prometheus rendering. */
#include "metrics.h"

#include <pthread.h>
#include <string.h>

/* Seconds: 50 µs to 10 s, roughly x2.5 per step. */
static const double bucket_le[GW_HIST_BUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                  0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1, 0.5, 1, 10};

void gw_metrics_init(struct gw_metrics *m)
{
    memset(m, 0, sizeof *m);
}

void gw_metrics_observe(struct gw_hist *h, int64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;
    while (i < GW_HIST_BUCKETS && s > bucket_le[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns > 0 ? (uint64_t)ns : 0, memory_order_relaxed);
}

void gw_metrics_request(struct gw_metrics *m, int status, int64_t latency_ns)
{
    if (status >= 100 && status < 600) {
        atomic_fetch_add_explicit(&m->by_status[status], 1, memory_order_relaxed);
    }
    gw_metrics_observe(&m->request_latency, latency_ns);
}

/* The slot of an event type: found, or claimed under a lock (types are few and stable). */
static struct gw_type_counts *type_slot(struct gw_metrics *m, const char *t, size_t len)
{
    static pthread_mutex_t claim = PTHREAD_MUTEX_INITIALIZER;
    if (len == 0 || len > 64) {
        return &m->other;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < GW_MAX_TYPES; i++) {
            struct gw_type_counts *c = &m->types[i];
            if (c->name[0] == '\0') {
                if (pass == 0) {
                    break;
                }
                pthread_mutex_lock(&claim);
                if (c->name[0] == '\0') {
                    memcpy(c->name, t, len);
                    c->name[len] = '\0';
                }
                pthread_mutex_unlock(&claim);
            }
            if (strncmp(c->name, t, len) == 0 && c->name[len] == '\0') {
                return c;
            }
        }
    }
    return &m->other;
}

void gw_metrics_events(struct gw_metrics *m, const char *type, size_t len, uint64_t accepted,
                       const uint64_t *rejected_by_reason)
{
    struct gw_type_counts *c = type_slot(m, type, len);
    if (accepted) {
        atomic_fetch_add_explicit(&c->accepted, accepted, memory_order_relaxed);
    }
    for (size_t r = 0; rejected_by_reason && r < GW_R_COUNT; r++) {
        if (rejected_by_reason[r]) {
            atomic_fetch_add_explicit(&c->rejected[r], rejected_by_reason[r], memory_order_relaxed);
        }
    }
}

static void render_hist(struct wr_buf *out, const char *name, const char *help,
                        struct gw_hist *h)
{
    wr_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i <= GW_HIST_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < GW_HIST_BUCKETS) {
            wr_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[i],
                          (unsigned long long)cum);
        } else {
            wr_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        }
    }
    wr_buf_printf(out, "%s_sum %.9f\n%s_count %llu\n", name,
                  (double)atomic_load(&h->sum_ns) / 1e9, name, (unsigned long long)cum);
}

static void render_type(struct wr_buf *out, const struct gw_type_counts *c, const char *name,
                        bool rejected_family)
{
    if (!rejected_family) {
        uint64_t n = atomic_load(&c->accepted);
        if (n) {
            wr_buf_printf(out, "weir_events_accepted_total{event_type=\"%s\"} %llu\n", name,
                          (unsigned long long)n);
        }
        return;
    }
    for (size_t r = 0; r < GW_R_COUNT; r++) {
        uint64_t n = atomic_load(&c->rejected[r]);
        if (n) {
            wr_buf_printf(out, "weir_events_rejected_total{event_type=\"%s\",reason=\"%s\"} %llu\n",
                          name, gw_reason_names[r], (unsigned long long)n);
        }
    }
}

void gw_metrics_render(struct gw_metrics *m, struct wr_buf *out)
{
    wr_buf_printf(out, "# HELP weir_http_requests_total HTTP requests answered, by status.\n"
                       "# TYPE weir_http_requests_total counter\n");
    for (int s = 100; s < 600; s++) {
        uint64_t n = atomic_load(&m->by_status[s]);
        if (n) {
            wr_buf_printf(out, "weir_http_requests_total{status=\"%d\"} %llu\n", s,
                          (unsigned long long)n);
        }
    }
    for (int fam = 0; fam < 2; fam++) {
        if (fam == 0) {
            wr_buf_printf(out, "# HELP weir_events_accepted_total Events accepted, by event type.\n"
                               "# TYPE weir_events_accepted_total counter\n");
        } else {
            wr_buf_printf(out, "# HELP weir_events_rejected_total Events rejected, by event type "
                               "and reason.\n# TYPE weir_events_rejected_total counter\n");
        }
        for (size_t i = 0; i < GW_MAX_TYPES && m->types[i].name[0]; i++) {
            render_type(out, &m->types[i], m->types[i].name, fam == 1);
        }
        render_type(out, &m->other, "_other", fam == 1);
    }
    wr_buf_printf(out, "# HELP weir_rate_limited_events_total Events refused with 429.\n"
                       "# TYPE weir_rate_limited_events_total counter\n"
                       "weir_rate_limited_events_total %llu\n",
                  (unsigned long long)atomic_load(&m->rate_limited_events));
    render_hist(out, "weir_http_request_duration_seconds",
                "Time from the end of the request body to the response.", &m->request_latency);
    render_hist(out, "weir_validation_duration_seconds",
                "Validator time per request (all events of the request).", &m->validation_latency);
}
