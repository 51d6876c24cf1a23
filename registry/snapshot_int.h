/* snapshot_int.h - the event-type records of a registry snapshot, shared by snapshot.c
 * (which loads and owns them) and snapshot_compat.c (modes and the structural check of
 * versions inserted with plain SQL). Immutable once the snapshot is published. */
#ifndef WEIR_REG_SNAPSHOT_INT_H
#define WEIR_REG_SNAPSHOT_INT_H

#include "registry/snapshot.h"

#include <libpq-fe.h>

struct version_rec {
    int version;
    bool active;
    char *json;          /* the stored text, to detect changes and for GET /v1/schemas */
    val_schema *schema;  /* NULL when it did not compile */
    uint64_t compat_key; /* hash of what the structural check compared (this text, the
                              earlier texts, the mode); 0 = not checked */
    signed char compat;  /* enum val_compat_verdict of that check */
    int compat_against;  /* the earlier version of that verdict */
};

struct type_rec {
    char *name;
    size_t name_len;
    struct version_rec *versions; /* ascending */
    size_t n_versions;
    char compatibility[16]; /* event_types.compatibility; "backward" without a row */
    bool transitive;
};

/* The types of s, sorted by name (snapshot.c). */
const struct type_rec *reg__snapshot_types(const reg_snapshot *s, size_t *n);

/* Inside the loader's read transaction, after the versions are loaded and compiled:
 * reads event_types into types[] and runs the structural check of every active version
 * against the earlier ones under the type's mode, reusing prev's verdict when nothing it
 * compared changed, and logging a warning for each new incompatible (or unknown)
 * verdict. Returns 0, WR_EDB (err filled) or WR_ENOMEM. */
int reg__snapshot_compat(PGconn *c, int wake, struct type_rec *types, size_t n_types,
                         const reg_snapshot *prev, struct wr_err *err);

#endif
