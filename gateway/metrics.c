/* metrics.c - counters, histograms and their Prometheus rendering. */
#include "metrics.h"

#include "common/prom.h"

#include <pthread.h>
#include <stdio.h>
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
    uint64_t counts[GW_HIST_BUCKETS + 1];
    for (size_t i = 0; i <= GW_HIST_BUCKETS; i++) {
        counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    }
    wr_prom_histogram(out, name, help, bucket_le, counts, GW_HIST_BUCKETS,
                      (double)atomic_load(&h->sum_ns) / 1e9);
}

static void render_type(struct wr_buf *out, const struct gw_type_counts *c, const char *name,
                        bool rejected_family)
{
    if (!rejected_family) {
        uint64_t n = atomic_load(&c->accepted);
        if (n) {
            struct wr_prom_label l[] = {{"event_type", name}};
            wr_prom_sample(out, "weir_events_accepted_total", l, 1, n);
        }
        return;
    }
    for (size_t r = 0; r < GW_R_COUNT; r++) {
        uint64_t n = atomic_load(&c->rejected[r]);
        if (n) {
            struct wr_prom_label l[] = {{"event_type", name}, {"reason", gw_reason_names[r]}};
            wr_prom_sample(out, "weir_events_rejected_total", l, 2, n);
        }
    }
}

void gw_metrics_render(struct gw_metrics *m, struct wr_buf *out)
{
    wr_prom_family(out, "weir_http_requests_total", WR_PROM_COUNTER,
                   "HTTP requests answered, by status.");
    for (int s = 100; s < 600; s++) {
        uint64_t n = atomic_load(&m->by_status[s]);
        if (n) {
            char v[8];
            snprintf(v, sizeof v, "%d", s);
            struct wr_prom_label l[] = {{"status", v}};
            wr_prom_sample(out, "weir_http_requests_total", l, 1, n);
        }
    }
    for (int fam = 0; fam < 2; fam++) {
        if (fam == 0) {
            wr_prom_family(out, "weir_events_accepted_total", WR_PROM_COUNTER,
                           "Events accepted, by event type.");
        } else {
            wr_prom_family(out, "weir_events_rejected_total", WR_PROM_COUNTER,
                           "Events rejected, by event type and reason.");
        }
        for (size_t i = 0; i < GW_MAX_TYPES && m->types[i].name[0]; i++) {
            render_type(out, &m->types[i], m->types[i].name, fam == 1);
        }
        render_type(out, &m->other, "_other", fam == 1);
    }
    wr_prom_counter(out, "weir_rate_limited_events_total", "Events refused with 429.",
                    atomic_load(&m->rate_limited_events));
    render_hist(out, "weir_http_request_duration_seconds",
                "Time from the end of the request body to the response.", &m->request_latency);
    render_hist(out, "weir_validation_duration_seconds",
                "Validator time per request (all events of the request).", &m->validation_latency);
}
