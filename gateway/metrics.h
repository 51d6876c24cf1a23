/* metrics.h - the gateway's counters and histograms, rendered in the Prometheus text
 * exposition format. Counters are atomics: request threads update them without locks. */
#ifndef WEIR_GW_METRICS_H
#define WEIR_GW_METRICS_H

#include "common/buf.h"
#include "gateway/ingest.h"

#include <stdatomic.h>
#include <stdint.h>

#define GW_HIST_BUCKETS 14
#define GW_MAX_TYPES 256 /* event types counted individually; the rest as "other" */

struct gw_hist {
    _Atomic uint64_t counts[GW_HIST_BUCKETS + 1]; /* the last is +Inf */
    _Atomic uint64_t sum_ns;
};

struct gw_type_counts {
    char name[65]; /* "" = free slot */
    _Atomic uint64_t accepted;
    _Atomic uint64_t rejected[GW_R_COUNT];
};

struct gw_metrics {
    _Atomic uint64_t requests[6]; /* by status class index, see gw_metrics_request */
    _Atomic uint64_t by_status[600];
    _Atomic uint64_t rate_limited_events;
    _Atomic uint64_t invalid_json;
    struct gw_hist request_latency;
    struct gw_hist validation_latency;
    struct gw_type_counts types[GW_MAX_TYPES];
    struct gw_type_counts other;
};

void gw_metrics_init(struct gw_metrics *m);
void gw_metrics_request(struct gw_metrics *m, int status, int64_t latency_ns);
void gw_metrics_observe(struct gw_hist *h, int64_t ns);
/* Counts a verdict's events by type and reason (accepted ones by their event type). */
void gw_metrics_events(struct gw_metrics *m, const char *type, size_t len, uint64_t accepted,
                       const uint64_t *rejected_by_reason);
/* Appends every family to out. */
void gw_metrics_render(struct gw_metrics *m, struct wr_buf *out);

#endif
