/* compat_scan.h - the structural check of a stored version against the versions before it
 * (evolution.md: rows inserted with plain SQL skip `weir schema add`'s checks; the
 * gateways warn and `weir schema check` lists them). A pure function of compiled schemas
 * and the type's mode: no I/O, no locks, any thread. Shared by the gateway's loader
 * (registry/snapshot_compat.c) and the CLI. */
#ifndef WEIR_REG_COMPAT_SCAN_H
#define WEIR_REG_COMPAT_SCAN_H

#include "validator/compat.h"

#include <stdbool.h>
#include <stddef.h>

/* One stored version of a type, in ascending version order. */
struct reg_compat_ver {
    int version;
    bool active;
    const val_schema *schema; /* NULL when it did not compile (never compared) */
};

struct reg_compat_finding {
    enum val_compat_verdict verdict; /* the worst over the versions compared; unknown
                                        counts as a failure (no dry run here) */
    int against;                     /* the earlier version of that verdict; 0 when
                                        nothing was compared (a first version) */
    size_t n_diffs;                  /* differences of that comparison */
    char summary[512];               /* its first differences, "path: reason; ..." */
};

/* Compares vers[idx] (active, compiled) with the highest earlier active compiled version,
 * or with every one of them when transitive, under mode ("none", "backward", "forward",
 * "full"; anything else counts as "backward", the default). Returns 0 and fills out
 * (verdict COMPATIBLE and against 0 when vers[idx] is retired, broken, or first; UNKNOWN
 * when a comparison outgrows its 64 MiB arena), or WR_ENOMEM when no arena is had. */
int reg_compat_check_version(const struct reg_compat_ver *vers, size_t n, size_t idx,
                             const char *mode, bool transitive, struct reg_compat_finding *out);

#endif
