/* metrics.c - the registry's metric families for the gateway's /metrics. */
#include "metrics.h"

#include "common/prom.h"
#include "registry/snapshot_compat.h"

static void keep(int *rc, int r)
{
    if (*rc == 0) {
        *rc = r;
    }
}

int reg_metrics_render(reg_loader *loader, const reg_snapshot *snap, int64_t now_ms,
                       struct wr_buf *out)
{
    int rc = 0;
    struct reg_loader_stats ls;
    reg_loader_stats(loader, &ls);
    if (!snap) {
        keep(&rc, wr_prom_gauge(out, "weir_registry_snapshot_generation",
                                "Registry snapshots loaded since start.", 0));
    } else {
        struct reg_snapshot_info info;
        reg_snapshot_info(snap, &info);
        keep(&rc, wr_prom_gauge(out, "weir_registry_snapshot_generation",
                                "Registry snapshots loaded since start.", info.generation));
        keep(&rc, wr_prom_gauge_f(out, "weir_registry_snapshot_age_seconds",
                                  "Age of the current snapshot.",
                                  (double)(now_ms - info.loaded_at_ms) / 1e3));
        keep(&rc, wr_prom_gauge(out, "weir_registry_broken_schemas",
                                "Stored schema versions that do not compile.", info.broken));
        keep(&rc, wr_prom_gauge(out, "weir_registry_keys", "API keys in the snapshot.", info.keys));
        /* Grows while Postgres is unavailable; stays below the heartbeat while it answers. */
        keep(&rc, wr_prom_gauge_f(out, "weir_registry_age_seconds",
                                  "Seconds since the registry snapshot was last known current "
                                  "(loaded, or confirmed by a heartbeat with no change pending).",
                                  ls.current_at_ms ? (double)(now_ms - ls.current_at_ms) / 1e3
                                                   : (double)(now_ms - info.loaded_at_ms) / 1e3));
        keep(&rc, reg_snapshot_compat_metrics(snap, out));
    }
    keep(&rc, wr_prom_counter(out, "weir_registry_reload_failures_total",
                              "Failed registry connects, reloads and heartbeats (Postgres "
                              "unreachable, hung or failing).",
                              ls.reload_failures));
    keep(&rc,
         wr_prom_gauge(out, "weir_registry_connected",
                       "Whether the loader holds a Postgres connection.", ls.connected ? 1 : 0));
    return rc;
}
