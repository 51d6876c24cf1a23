/* evolution.h - the registry's side of schema evolution (evolution.md): one row per event
 * type in `event_types` with its compatibility mode, and the stored versions a new one is
 * compared with. One PGconn per caller, as registry.h. */
#ifndef WEIR_REG_EVOLUTION_H
#define WEIR_REG_EVOLUTION_H

#include "common/err.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* True for "none", "backward", "forward" and "full". */
bool reg_compat_mode_valid(const char *mode);

struct reg_type_info {
    char compatibility[16]; /* "backward" when the type has no row yet */
    bool transitive;        /* compare with every active version, not only the latest */
    bool exists;            /* the type has a row */
};

/* Reads the row of event_type (defaults when there is none). Returns 0 or WR_EDB. */
int reg_type_info_get(PGconn *c, const char *event_type, struct reg_type_info *out,
                      struct wr_err *err);

/* Creates the row of event_type with the defaults when missing (weir schema add). */
int reg_type_ensure(PGconn *c, const char *event_type, struct wr_err *err);

/* Sets the mode (NULL: keep it) and, when set_transitive, the transitive flag, creating
 * the row when missing. WR_EINVAL for a mode that is not one of the four. */
int reg_type_set_compat(PGconn *c, const char *event_type, const char *mode, bool set_transitive,
                        bool transitive, struct wr_err *err);

/* The active versions of event_type, highest first (JSON text; version numbers). Calls fn
 * for each until it returns nonzero. *next_version gets max(version) + 1 over all stored
 * versions (1 for a new type). Returns 0 or WR_EDB. */
int reg_active_versions(PGconn *c, const char *event_type,
                        int (*fn)(void *arg, int version, const char *json), void *arg,
                        int *next_version, struct wr_err *err);

#endif
