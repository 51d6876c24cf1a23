/* metrics.h - the registry's Prometheus families (snapshot generation and age, the
 * registry's age since last known current, broken schemas, keys, loader failures and
 * connection), rendered with common/prom.
 * The gateway's /metrics calls it; it reads the loader's counters and one snapshot. */
#ifndef WEIR_REG_METRICS_H
#define WEIR_REG_METRICS_H

#include "common/buf.h"
#include "registry/snapshot.h"

#include <stdint.h>

/* Appends the registry families to out. snap is the snapshot the caller holds (NULL
 * before the first load: generation 0, no age); loader is not NULL; now_ms is the wall
 * clock. Returns 0 or the first wr_buf error. Any thread. */
int reg_metrics_render(reg_loader *loader, const reg_snapshot *snap, int64_t now_ms,
                       struct wr_buf *out);

#endif
