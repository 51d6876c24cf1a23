/* compat_scan.c - one stored version against its predecessors (compat_scan.h). */
#include "compat_scan.h"

#include "common/arena.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

/* The first differences of r, "path: reason; path: reason", cut to fit out. */
static void summarize(const struct val_compat_report *r, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n_diffs && i < 3 && len + 1 < cap; i++) {
        const struct val_compat_diff *d = &r->diffs[i];
        if (d->verdict == VAL_COMPAT_COMPATIBLE) {
            continue;
        }
        int w =
            snprintf(out + len, cap - len, "%s%s: %s (%s)", len ? "; " : "", d->path ? d->path : "",
                     d->reason ? d->reason : "", val_compat_verdict_name(d->verdict));
        if (w < 0) {
            break;
        }
        len += (size_t)w < cap - len ? (size_t)w : cap - len - 1;
    }
}

int reg_compat_check_version(const struct reg_compat_ver *vers, size_t n, size_t idx,
                             const char *mode_name, bool transitive, struct reg_compat_finding *out)
{
    memset(out, 0, sizeof *out);
    out->verdict = VAL_COMPAT_COMPATIBLE;
    if (idx >= n || !vers[idx].active || !vers[idx].schema) {
        return 0;
    }
    enum val_compat_mode mode;
    if (!mode_name || val_compat_mode_parse(mode_name, &mode) != 0) {
        mode = VAL_COMPAT_BACKWARD;
    }
    if (mode == VAL_COMPAT_NONE) {
        return 0;
    }
    /* The checker's arena: one comparison's differences, reset between comparisons. */
    wr_arena *a = wr_arena_create(64 << 10, 64u << 20);
    if (!a) {
        return WR_ENOMEM;
    }
    int rc = 0;
    for (size_t j = idx; j-- > 0;) {
        const struct reg_compat_ver *o = &vers[j];
        if (!o->active || !o->schema) {
            continue;
        }
        struct val_compat_report r;
        wr_arena_reset(a);
        rc = val_compat_check(o->schema, vers[idx].schema, mode, a, 16, &r);
        if (rc != 0) {
            /* The arena's cap: a comparison too large to finish is undecided, and the
             * caller (a gateway's loader) goes on with the other versions. */
            out->verdict = VAL_COMPAT_UNKNOWN;
            out->against = o->version;
            out->n_diffs = 0;
            snprintf(out->summary, sizeof out->summary,
                     "the comparison needs more than 64 MiB; not decided");
            rc = 0;
            break;
        }
        if (out->against == 0 || r.verdict > out->verdict) {
            out->verdict = r.verdict;
            out->against = o->version;
            out->n_diffs = r.n_diffs;
            summarize(&r, out->summary, sizeof out->summary);
        }
        if (!transitive || out->verdict == VAL_COMPAT_INCOMPATIBLE) {
            break;
        }
    }
    wr_arena_destroy(a);
    return rc;
}
