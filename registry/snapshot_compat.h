/* snapshot_compat.h - what a registry snapshot knows about schema evolution
 * (evolution.md): each event type's compatibility mode, and the active versions whose
 * structural check against the earlier ones failed (versions inserted with plain SQL skip
 * `weir schema add`'s checks; the gateway only reports them). Read-only accessors of an
 * immutable snapshot: any thread, while the caller holds its reference. */
#ifndef WEIR_REG_SNAPSHOT_COMPAT_H
#define WEIR_REG_SNAPSHOT_COMPAT_H

#include "common/buf.h"
#include "registry/snapshot.h"

#include <stdbool.h>
#include <stddef.h>

/* The mode of event type t ("backward" and not transitive for a type without an
 * event_types row). False when the snapshot has no version of t. */
bool reg_snapshot_type_compat(const reg_snapshot *s, const char *t, size_t len, const char **mode,
                              bool *transitive);

/* Appends the family weir_schema_incompatible{event_type,version} (1 per active version
 * found incompatible or undecided). Returns 0 or the first wr_buf error. */
int reg_snapshot_compat_metrics(const reg_snapshot *s, struct wr_buf *out);

#endif
