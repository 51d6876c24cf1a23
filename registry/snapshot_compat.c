/* snapshot_compat.c - event-type modes in the snapshot and the loader's structural check of
 * stored versions (snapshot_compat.h, snapshot_int.h). Runs on the loader thread while it
 * builds a snapshot; the accessors read published, immutable snapshots. */
#include "snapshot_compat.h"

#include "common/log.h"
#include "common/prom.h"
#include "registry/compat_scan.h"
#include "registry/reg_int.h"
#include "registry/snapshot_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static const struct type_rec *find(const struct type_rec *types, size_t n, const char *t,
                                   size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_name(types[mid].name, types[mid].name_len, t, len);
        if (c == 0) {
            return &types[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ULL;
    }
    return h;
}

/* What a check of tr->versions[idx] depends on: its text, the texts of the earlier
 * active versions that compiled, the mode. Never 0. */
static uint64_t check_key(const struct type_rec *tr, size_t idx)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, tr->compatibility, strlen(tr->compatibility) + 1);
    h = fnv(h, &tr->transitive, sizeof tr->transitive);
    for (size_t j = 0; j <= idx; j++) {
        const struct version_rec *v = &tr->versions[j];
        if (v->active && v->schema) {
            h = fnv(h, &v->version, sizeof v->version);
            h = fnv(h, v->json, strlen(v->json) + 1);
        }
    }
    return h | 1;
}

static int load_modes(PGconn *c, int wake, struct type_rec *types, size_t n_types,
                      struct wr_err *err)
{
    for (size_t i = 0; i < n_types; i++) {
        snprintf(types[i].compatibility, sizeof types[i].compatibility, "backward");
        types[i].transitive = false;
    }
    PGresult *r = reg__exec(c, "SELECT event_type, compatibility, transitive FROM event_types", 0,
                            NULL, false, 0, wake, err);
    if (!r) {
        return WR_EDB;
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        wr_err_set(err, WR_EDB, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return WR_EDB;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *t = PQgetvalue(r, i, 0);
        struct type_rec *tr = (struct type_rec *)find(types, n_types, t, strlen(t));
        if (tr) {
            snprintf(tr->compatibility, sizeof tr->compatibility, "%s", PQgetvalue(r, i, 1));
            tr->transitive = PQgetvalue(r, i, 2)[0] == 't';
        }
    }
    PQclear(r);
    return 0;
}

static int check_type(struct type_rec *tr, const struct type_rec *ptr)
{
    struct reg_compat_ver *vers = calloc(tr->n_versions ? tr->n_versions : 1, sizeof *vers);
    if (!vers) {
        return WR_ENOMEM;
    }
    for (size_t i = 0; i < tr->n_versions; i++) {
        vers[i] = (struct reg_compat_ver){tr->versions[i].version, tr->versions[i].active,
                                          tr->versions[i].schema};
    }
    int rc = 0;
    for (size_t i = 0; i < tr->n_versions && rc == 0; i++) {
        struct version_rec *v = &tr->versions[i];
        if (!v->active || !v->schema) {
            continue;
        }
        v->compat_key = check_key(tr, i);
        /* The same text compared with the same texts under the same mode: the verdict of
         * the previous snapshot stands, and was logged then. */
        const struct version_rec *pv = NULL;
        for (size_t k = 0; ptr && k < ptr->n_versions; k++) {
            if (ptr->versions[k].version == v->version) {
                pv = &ptr->versions[k];
            }
        }
        if (pv && pv->compat_key == v->compat_key) {
            v->compat = pv->compat;
            v->compat_against = pv->compat_against;
            continue;
        }
        struct reg_compat_finding f;
        rc = reg_compat_check_version(vers, tr->n_versions, i, tr->compatibility, tr->transitive,
                                      &f);
        if (rc != 0) {
            break;
        }
        v->compat = (signed char)f.verdict;
        v->compat_against = f.against;
        if (f.verdict != VAL_COMPAT_COMPATIBLE) {
            /* The version stays live (SQL inserts skip the checks; admins keep the last
             * word): the gateway reports it, once per change of what was compared. */
            WR_WARN("schema %s version %d is %s with version %d under mode %s%s (%zu "
                    "difference%s; it stays live; see weir schema diff %s %d %d): %s",
                    tr->name, v->version, val_compat_verdict_name(f.verdict), f.against,
                    tr->compatibility, tr->transitive ? " (transitive)" : "", f.n_diffs,
                    f.n_diffs == 1 ? "" : "s", tr->name, f.against, v->version, f.summary);
        }
    }
    free(vers);
    return rc;
}

int reg__snapshot_compat(PGconn *c, int wake, struct type_rec *types, size_t n_types,
                         const reg_snapshot *prev, struct wr_err *err)
{
    int rc = load_modes(c, wake, types, n_types, err);
    size_t n_prev = 0;
    const struct type_rec *ptypes = prev ? reg__snapshot_types(prev, &n_prev) : NULL;
    for (size_t i = 0; i < n_types && rc == 0; i++) {
        const struct type_rec *ptr =
            ptypes ? find(ptypes, n_prev, types[i].name, types[i].name_len) : NULL;
        rc = check_type(&types[i], ptr);
        if (rc == WR_ENOMEM) {
            wr_err_set(err, WR_ENOMEM, "out of memory");
        }
    }
    return rc;
}

bool reg_snapshot_type_compat(const reg_snapshot *s, const char *t, size_t len, const char **mode,
                              bool *transitive)
{
    size_t n = 0;
    const struct type_rec *types = reg__snapshot_types(s, &n);
    const struct type_rec *tr = find(types, n, t, len);
    if (!tr) {
        return false;
    }
    *mode = tr->compatibility;
    *transitive = tr->transitive;
    return true;
}

int reg_snapshot_compat_metrics(const reg_snapshot *s, struct wr_buf *out)
{
    static const char name[] = "weir_schema_incompatible";
    int rc = wr_prom_family(out, name, WR_PROM_GAUGE,
                            "Active schema versions that the structural check finds "
                            "incompatible (or undecided) with the earlier active versions "
                            "under the type's compatibility mode (inserted with plain SQL).");
    size_t n = 0;
    const struct type_rec *types = s ? reg__snapshot_types(s, &n) : NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        for (size_t k = 0; k < types[i].n_versions && rc == 0; k++) {
            const struct version_rec *v = &types[i].versions[k];
            if (!v->active || !v->schema || v->compat == VAL_COMPAT_COMPATIBLE) {
                continue;
            }
            char ver[16];
            snprintf(ver, sizeof ver, "%d", v->version);
            struct wr_prom_label l[] = {{"event_type", types[i].name}, {"version", ver}};
            rc = wr_prom_sample(out, name, l, 2, 1);
        }
    }
    return rc;
}
