/* prom.c - Prometheus text exposition: one number format, one label escaping. */
#include "prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

static const char *type_name(enum wr_prom_type t)
{
    switch (t) {
    case WR_PROM_COUNTER: return "counter";
    case WR_PROM_GAUGE: return "gauge";
    default: return "histogram";
    }
}

/* Keeps the first error of a run of appends, so one check at the end suffices. */
static void keep(int *rc, int r)
{
    if (*rc == 0) {
        *rc = r;
    }
}

/* A float as Prometheus reads it. %.15g round-trips every value a metric here holds
 * (counts up to 2^49, seconds to the nanosecond over days) without %.17g's noise. */
static int put_float(struct wr_buf *out, double v)
{
    if (isnan(v)) {
        return wr_buf_append(out, "NaN", 3);
    }
    if (isinf(v)) {
        return v > 0 ? wr_buf_append(out, "+Inf", 4) : wr_buf_append(out, "-Inf", 4);
    }
    return wr_buf_printf(out, "%.15g", v);
}

static int put_labels(struct wr_buf *out, const struct wr_prom_label *labels, size_t n)
{
    int rc = 0;
    if (n == 0) {
        return 0;
    }
    keep(&rc, wr_buf_putc(out, '{'));
    for (size_t i = 0; i < n; i++) {
        keep(&rc, wr_buf_printf(out, "%s%s=\"", i ? "," : "", labels[i].name));
        for (const char *v = labels[i].value ? labels[i].value : ""; *v; v++) {
            if (*v == '\\' || *v == '"') {
                keep(&rc, wr_buf_putc(out, '\\'));
                keep(&rc, wr_buf_putc(out, *v));
            } else if (*v == '\n') {
                keep(&rc, wr_buf_append(out, "\\n", 2));
            } else {
                keep(&rc, wr_buf_putc(out, *v));
            }
        }
        keep(&rc, wr_buf_putc(out, '"'));
    }
    keep(&rc, wr_buf_putc(out, '}'));
    return rc;
}

int wr_prom_family(struct wr_buf *out, const char *name, enum wr_prom_type type, const char *help)
{
    return wr_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type_name(type));
}

int wr_prom_sample(struct wr_buf *out, const char *name, const struct wr_prom_label *labels,
                   size_t n_labels, uint64_t value)
{
    int rc = wr_buf_printf(out, "%s", name);
    keep(&rc, put_labels(out, labels, n_labels));
    keep(&rc, wr_buf_printf(out, " %" PRIu64 "\n", value));
    return rc;
}

int wr_prom_sample_f(struct wr_buf *out, const char *name, const struct wr_prom_label *labels,
                     size_t n_labels, double value)
{
    int rc = wr_buf_printf(out, "%s", name);
    keep(&rc, put_labels(out, labels, n_labels));
    keep(&rc, wr_buf_putc(out, ' '));
    keep(&rc, put_float(out, value));
    keep(&rc, wr_buf_putc(out, '\n'));
    return rc;
}

int wr_prom_counter(struct wr_buf *out, const char *name, const char *help, uint64_t value)
{
    int rc = wr_prom_family(out, name, WR_PROM_COUNTER, help);
    keep(&rc, wr_prom_sample(out, name, NULL, 0, value));
    return rc;
}

int wr_prom_gauge(struct wr_buf *out, const char *name, const char *help, uint64_t value)
{
    int rc = wr_prom_family(out, name, WR_PROM_GAUGE, help);
    keep(&rc, wr_prom_sample(out, name, NULL, 0, value));
    return rc;
}

int wr_prom_gauge_f(struct wr_buf *out, const char *name, const char *help, double value)
{
    int rc = wr_prom_family(out, name, WR_PROM_GAUGE, help);
    keep(&rc, wr_prom_sample_f(out, name, NULL, 0, value));
    return rc;
}

int wr_prom_histogram(struct wr_buf *out, const char *name, const char *help, const double *le,
                      const uint64_t *counts, size_t n_le, double sum)
{
    int rc = wr_prom_family(out, name, WR_PROM_HISTOGRAM, help);
    uint64_t cum = 0;
    for (size_t i = 0; i <= n_le; i++) {
        cum += counts[i];
        keep(&rc, wr_buf_printf(out, "%s_bucket{le=\"", name));
        keep(&rc, i < n_le ? put_float(out, le[i]) : wr_buf_append(out, "+Inf", 4));
        keep(&rc, wr_buf_printf(out, "\"} %" PRIu64 "\n", cum));
    }
    keep(&rc, wr_buf_printf(out, "%s_sum ", name));
    keep(&rc, put_float(out, sum));
    keep(&rc, wr_buf_printf(out, "\n%s_count %" PRIu64 "\n", name, cum));
    return rc;
}
