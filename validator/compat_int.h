/* compat_int.h - private to validator/compat*.c: the walk's context, its difference
 * records (flags no / maybe / yes per direction) and the helpers compat_util.c gives the
 * walk in compat.c. Short names (NO, K_OBJ) are fine: nothing else includes this. */
#ifndef WEIR_VAL_COMPAT_INT_H
#define WEIR_VAL_COMPAT_INT_H

#include "validator/compat.h"
#include "validator/val_int.h"

#include <stdbool.h>
#include <stdint.h>

enum { NO = 0, MAYBE = 1, YES = 2 };

/* Instance kinds: `type` bits where integers and other numbers are disjoint. */
enum {
    K_NULL = 1,
    K_BOOL = 2,
    K_OBJ = 4,
    K_ARR = 8,
    K_INT = 16,
    K_FRAC = 32,
    K_STR = 64,
    K_ALL = 127,
    K_NUM = K_INT | K_FRAC
};

#define MAX_DEPTH 200    /* nested node pairs */
#define MAX_STEPS 200000 /* node pairs compared in all */

struct rec {
    const char *kw;
    const char *opath, *npath, *path;
    const char *reason;
    uint8_t nar, wid;
};

struct pair {
    const struct val__node *o, *n;
};

/* One comparison: strings in the caller's arena, records in a malloc'd array (copied
 * into the arena at the end), the pairs of nodes being compared (the cycle cut), and a
 * step budget after which the walk gives up with one `unknown` record. */
struct cx {
    wr_arena *a;
    const val_schema *os, *ns;
    struct rec *recs;
    size_t n, cap;
    struct pair stk[MAX_DEPTH];
    unsigned depth;
    size_t steps;
    bool nomem;
    bool gave_up;
};

/* The values a node allows by `const`/`enum` (NULL = no such keyword). */
struct vset {
    bool has;
    const struct js_val *const_v;
    const struct js_val *items;
    uint32_t n;
};

struct bound {
    bool has, excl;
    struct val__num v;
    const char *kw;
};

/* The implicit schema of an absent subschema. */
extern const struct val__node val__compat_true;

/* Strings in the walk's arena (on out of memory: c->nomem set, "" or base returned).
 * pfmt formats; child/childs/childi append one JSON Pointer token (escaped) or an index. */
const char *val__compat_pfmt(struct cx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *val__compat_child(struct cx *c, const char *base, const char *seg, size_t len);
const char *val__compat_childs(struct cx *c, const char *base, const char *seg);
const char *val__compat_childi(struct cx *c, const char *base, const char *seg, uint32_t i);
/* Short texts of a value and of a schema number, for reasons. */
void val__compat_vtext(const struct js_val *v, char *out, size_t cap);
void val__compat_ntext(const struct val__num *m, char *out, size_t cap);
/* Appends a record: paths into O and N, in_new = the keyword is N's (the spec's "path"),
 * nar/wid = NO/MAYBE/YES for "refuses what O allowed" / "allows what O refused". */
void val__compat_add(struct cx *c, const char *kw, const char *opath, const char *npath,
                     bool in_new, unsigned nar, unsigned wid, const char *reason);
/* On the records from index `from` on: clear a flag (with a proof), swap the directions
 * (under `not`), read the strongest flags, or fold them into one record (flags capped). */
void val__compat_clear_range(struct cx *c, size_t from, bool nar, bool wid);
void val__compat_swap_range(struct cx *c, size_t from);
void val__compat_range_flags(const struct cx *c, size_t from, unsigned *nar, unsigned *wid);
void val__compat_collapse(struct cx *c, size_t from, const char *kw, const char *opath,
                          const char *npath, bool in_new, unsigned cap_nar, unsigned cap_wid,
                          const char *reason);
/* Facts about one compiled node: its first op of a kind (or NULL); the instance kinds
 * (K_*) that `type` bits, a value, or the whole node (type, enum/const, false) allow;
 * its enum/const values; whether it evaluates alone as in place (no $dynamicRef and no
 * unevaluated* below it). */
const struct val__op *val__compat_find_op(const struct val__node *n, unsigned kind);
unsigned val__compat_kinds_of_types(unsigned t);
unsigned val__compat_kind_of_value(const struct js_val *v);
struct vset val__compat_vset_of(const struct val__node *node);
bool val__compat_vset_has(const struct vset *s, const struct js_val *v);
uint32_t val__compat_vset_count(const struct vset *s);
const struct js_val *val__compat_vset_at(const struct vset *s, uint32_t i);
unsigned val__compat_kinds_of(const struct val__node *node);
bool val__compat_is_plain(const struct val__node *n);
/* Numbers: compare exactly for integers; NO when every multiple of a is a multiple of
 * b (decimal arithmetic, as the validator's multipleOf), YES when not, MAYBE out of
 * reach; the strictest lower/upper bound of a node (minimum vs exclusiveMinimum);
 * whether bound x is strictly tighter than y. */
int val__compat_num_cmp(const struct val__num *x, const struct val__num *y);
unsigned val__compat_not_multiple(const struct val__num *a, const struct val__num *b);
struct bound val__compat_bound_of(const struct val__node *n, bool lower);
bool val__compat_tighter(const struct bound *x, const struct bound *y, bool lower);

#endif
