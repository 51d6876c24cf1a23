/* compat.h - structural compatibility of two compiled schemas (../shared/spec/evolution.md):
 * keyword-by-keyword verdicts for a compatibility mode, and the one-line-per-difference
 * text of `weir schema diff`. Pure functions of two immutable programs: no I/O, no locks,
 * any thread; every result lives in the caller's arena. */
#ifndef WEIR_VAL_COMPAT_H
#define WEIR_VAL_COMPAT_H

#include "common/arena.h"
#include "validator/validator.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What a new version N must accept, compared with an older version O. Transitive checks
 * are the caller's loop over the versions. */
enum val_compat_mode {
    VAL_COMPAT_NONE = 0,     /* anything goes */
    VAL_COMPAT_BACKWARD = 1, /* every instance valid under O is valid under N (default) */
    VAL_COMPAT_FORWARD = 2,  /* every instance valid under N is valid under O */
    VAL_COMPAT_FULL = 3      /* both */
};

enum val_compat_verdict {
    VAL_COMPAT_COMPATIBLE = 0,
    VAL_COMPAT_UNKNOWN = 1, /* a keyword or shape the checker does not decide; the
                               spec counts it as incompatible unless the dry run on
                               real traffic shows no failure */
    VAL_COMPAT_INCOMPATIBLE = 2
};

/* One structural difference. Strings are NUL-terminated, in the caller's arena. */
struct val_compat_diff {
    enum val_compat_verdict verdict;  /* under the mode asked */
    enum val_compat_verdict backward; /* the same difference judged for each direction: */
    enum val_compat_verdict forward;  /* what `weir schema diff` shows */
    const char *keyword;              /* "required", "properties", "type", ... */
    const char *path;                 /* JSON Pointer of the keyword in N, or in O when N
                                         lacks it: the spec's "path" */
    const char *old_path;             /* JSON Pointer into O (the enclosing schema when O
                                         lacks the keyword) */
    const char *new_path;             /* JSON Pointer into N (likewise) */
    const char *reason;               /* e.g. "property \"plan\" became required" */
};

struct val_compat_report {
    enum val_compat_verdict verdict; /* the worst verdict of the differences;
                                        COMPATIBLE when there are none */
    bool truncated;                  /* more differences existed than were listed (the
                                        verdict still counts them) */
    size_t n_diffs;
    struct val_compat_diff *diffs; /* n_diffs entries in walk order; NULL when none */
};

/* Compares old_s (O) and new_s (N) keyword by keyword and judges each difference under
 * mode. `$ref`s are followed (cycles are cut: a pair of locations already being compared
 * counts as compatible, which is sound because every instance is finite). A `compatible`
 * verdict is a proof for the keywords listed in the header comment of compat.c;
 * `incompatible` means a keyword of N refuses something O allowed (backward) or the
 * reverse (forward), judged keyword by keyword, so it may be pessimistic when other
 * keywords already ruled those instances out. Lists at most max_diffs differences
 * (0 = 1000). Returns 0 and fills out, WR_EINVAL when an argument is NULL or mode is out
 * of range, WR_ENOMEM when the arena's cap is reached. Thread-safe for distinct arenas. */
int val_compat_check(const val_schema *old_s, const val_schema *new_s, enum val_compat_mode mode,
                     wr_arena *a, unsigned max_diffs, struct val_compat_report *out);

/* "none", "backward", "forward", "full"; NULL for a value out of range. */
const char *val_compat_mode_name(enum val_compat_mode mode);

/* Parses a mode name (exact, lower case). Returns 0 and sets *out, or WR_EINVAL. */
int val_compat_mode_parse(const char *name, enum val_compat_mode *out);

/* "compatible", "incompatible", "unknown". */
const char *val_compat_verdict_name(enum val_compat_verdict v);

/* The spec's "differences" array: one {"verdict", "path", "reason"} object per
 * difference, plus "old_path" / "new_path" when that schema holds the keyword at another
 * pointer than "path" (a `$ref` target moved, a property now covered by
 * additionalProperties). New reference (the caller decrefs), or NULL when out of memory. */
json_t *val_compat_diffs_json(const struct val_compat_report *r);

/* `weir schema diff`: every structural difference of old_s and new_s, one line each
 * ("/required: property \"plan\" became required (backward: incompatible, forward:
 * compatible)\n"), in walk order; "" when the schemas are structurally equal. The text
 * is NUL-terminated in a. Returns 0 and sets *text, or WR_ENOMEM / WR_EINVAL as
 * val_compat_check. */
int val_compat_diff_text(const val_schema *old_s, const val_schema *new_s, wr_arena *a,
                         const char **text);

#endif
