/* prom.h - the one Prometheus text-format writer (exposition format 0.0.4) that every
 * metric of weir goes through: family headers, samples with escaped label values, and
 * histograms, each number formatted one way (integers in decimal, floats with %.15g,
 * non-finite values as +Inf/-Inf/NaN).
 * Stateless: the functions append to a caller-owned wr_buf and may run on any thread. Each
 * returns 0 or the first error of wr_buf_append (WR_ELIMIT, WR_ENOMEM); on an error the
 * buffer may hold part of the family. */
#ifndef WEIR_PROM_H
#define WEIR_PROM_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

enum wr_prom_type { WR_PROM_COUNTER, WR_PROM_GAUGE, WR_PROM_HISTOGRAM };

/* One label of a sample. name is a Prometheus label name (the caller's constant); value
 * is any text and is escaped (backslash, double quote, newline). */
struct wr_prom_label {
    const char *name;
    const char *value;
};

/* "# HELP name help\n# TYPE name type\n". help must hold no newline. */
int wr_prom_family(struct wr_buf *out, const char *name, enum wr_prom_type type, const char *help);

/* One sample line, "name{l1="v1",...} value\n"; labels may be NULL when n_labels is 0. */
int wr_prom_sample(struct wr_buf *out, const char *name, const struct wr_prom_label *labels,
                   size_t n_labels, uint64_t value);
int wr_prom_sample_f(struct wr_buf *out, const char *name, const struct wr_prom_label *labels,
                     size_t n_labels, double value);

/* A whole family of one unlabelled sample. */
int wr_prom_counter(struct wr_buf *out, const char *name, const char *help, uint64_t value);
int wr_prom_gauge(struct wr_buf *out, const char *name, const char *help, uint64_t value);
int wr_prom_gauge_f(struct wr_buf *out, const char *name, const char *help, double value);

/* A whole histogram family. le holds the n_le finite upper bounds, ascending; counts holds
 * n_le + 1 per-bucket (not cumulative) counts, the last one for +Inf. The _bucket lines
 * are cumulative; _count is their total; sum is in the family's unit. */
int wr_prom_histogram(struct wr_buf *out, const char *name, const char *help, const double *le,
                      const uint64_t *counts, size_t n_le, double sum);

#endif
