/* compat.c - the structural compatibility checker of compat.h: walks two compiled
 * programs side by side and judges every keyword difference in both directions.
 *
 * Why it is sound: a schema is the conjunction of its keywords. For each keyword the walk
 * decides whether N's keyword may refuse an instance that O's same keyword accepts
 * ("narrows": breaks backward) and the reverse ("widens": breaks forward), each as no /
 * maybe / yes. If no keyword narrows, O's conjunction implies N's, so every O-valid
 * instance is N-valid. Refinements that only ever clear a flag with a proof: a keyword
 * that applies to one JSON type does not narrow when O's `type`/`enum` excludes that type;
 * when O has `enum`/`const`, each of its values is run through N (exact); `false` in O
 * narrows nothing. Decided: type, enum/const, numeric and length bounds, multipleOf,
 * required, dependentRequired, properties/additionalProperties (patternProperties with
 * equal pattern lists), prefixItems/items, uniqueItems, contains, propertyNames,
 * dependentSchemas, pattern and format (added/removed; a changed text is unknown), `$ref`
 * (followed), allOf/anyOf (branch by branch), oneOf (equal branches only), not (the
 * inner comparison with directions swapped), if/then/else (equal `if` only). Unknown:
 * unevaluated* and $dynamicRef whenever anything near them changed, changed pattern
 * text, combinators of different shape, a property added where O accepted any value. */
#include "validator/compat.h"

#include "validator/val_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define MAX_DEPTH 200
#define MAX_STEPS 200000

struct rec {
    const char *kw;
    const char *opath, *npath, *path;
    const char *reason;
    uint8_t nar, wid;
};

struct pair {
    const struct val__node *o, *n;
};

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

/* The implicit schema of an absent subschema. */
static const struct val__node true_node = {NULL, 0, false, 0, true, NULL};

/* --- strings ---------------------------------------------------------------------- */

static const char *pfmt(struct cx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *pfmt(struct cx *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k < 0) {
        k = 0;
        buf[0] = 0;
    }
    size_t len = (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1;
    char *s = wr_arena_strndup(c->a, buf, len);
    if (!s) {
        c->nomem = true;
        return "";
    }
    return s;
}

/* base + "/" + seg, seg escaped as a JSON Pointer token. */
static const char *child(struct cx *c, const char *base, const char *seg, size_t len)
{
    size_t bl = strlen(base), extra = 0;
    for (size_t i = 0; i < len; i++) {
        extra += seg[i] == '~' || seg[i] == '/';
    }
    char *s = wr_arena_alloc(c->a, bl + 1 + len + extra + 1);
    if (!s) {
        c->nomem = true;
        return base;
    }
    memcpy(s, base, bl);
    size_t k = bl;
    s[k++] = '/';
    for (size_t i = 0; i < len; i++) {
        if (seg[i] == '~') {
            s[k++] = '~';
            s[k++] = '0';
        } else if (seg[i] == '/') {
            s[k++] = '~';
            s[k++] = '1';
        } else {
            s[k++] = seg[i];
        }
    }
    s[k] = 0;
    return s;
}

static const char *childs(struct cx *c, const char *base, const char *seg)
{
    return child(c, base, seg, strlen(seg));
}

static const char *childi(struct cx *c, const char *base, const char *seg, uint32_t i)
{
    char num[16];
    snprintf(num, sizeof num, "%" PRIu32, i);
    return childs(c, childs(c, base, seg), num);
}

/* A short JSON text of v for reasons (long values are cut with "..."). */
static void vtext(const struct js_val *v, char *out, size_t cap)
{
    switch (v->type) {
    case JS_NULL:
        snprintf(out, cap, "null");
        return;
    case JS_TRUE:
        snprintf(out, cap, "true");
        return;
    case JS_FALSE:
        snprintf(out, cap, "false");
        return;
    case JS_INT:
        snprintf(out, cap, "%" PRId64, v->u.i);
        return;
    case JS_REAL:
        snprintf(out, cap, "%.17g", v->u.d);
        return;
    case JS_ARRAY:
        snprintf(out, cap, v->n ? "[...]" : "[]");
        return;
    case JS_OBJECT:
        snprintf(out, cap, v->n ? "{...}" : "{}");
        return;
    default:
        break;
    }
    size_t k = 0;
    if (cap < 8) {
        snprintf(out, cap, "\"\"");
        return;
    }
    out[k++] = '"';
    for (uint32_t i = 0; i < v->n && k + 6 < cap; i++) {
        unsigned char ch = (unsigned char)v->u.s[i];
        if (ch == '"' || ch == '\\') {
            out[k++] = '\\';
            out[k++] = (char)ch;
        } else if (ch < 0x20) {
            out[k++] = '?';
        } else {
            out[k++] = (char)ch;
        }
        if (i + 1 < v->n && k + 6 >= cap) {
            out[k++] = '.';
            out[k++] = '.';
            out[k++] = '.';
            break;
        }
    }
    out[k++] = '"';
    out[k] = 0;
}

static void ntext(const struct val__num *m, char *out, size_t cap)
{
    if (m->is_int) {
        snprintf(out, cap, "%" PRId64, m->i);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, m->d);
        if (strtod(out, NULL) == m->d) {
            return;
        }
    }
}

/* --- records ---------------------------------------------------------------------- */

static void add(struct cx *c, const char *kw, const char *opath, const char *npath,
                bool in_new, unsigned nar, unsigned wid, const char *reason)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct rec *r = realloc(c->recs, cap * sizeof *r);
        if (!r) {
            c->nomem = true;
            return;
        }
        c->recs = r;
        c->cap = cap;
    }
    struct rec *r = &c->recs[c->n++];
    r->kw = kw;
    r->opath = opath;
    r->npath = npath;
    r->path = in_new ? npath : opath;
    r->reason = reason;
    r->nar = (uint8_t)nar;
    r->wid = (uint8_t)wid;
}

/* Clears (with a proof) or caps the flags of records [from, c->n). */
static void clear_range(struct cx *c, size_t from, bool nar, bool wid)
{
    for (size_t i = from; i < c->n; i++) {
        if (nar) {
            c->recs[i].nar = NO;
        }
        if (wid) {
            c->recs[i].wid = NO;
        }
    }
}

static void swap_range(struct cx *c, size_t from)
{
    for (size_t i = from; i < c->n; i++) {
        uint8_t t = c->recs[i].nar;
        c->recs[i].nar = c->recs[i].wid;
        c->recs[i].wid = t;
    }
}

static void range_flags(const struct cx *c, size_t from, unsigned *nar, unsigned *wid)
{
    *nar = *wid = NO;
    for (size_t i = from; i < c->n; i++) {
        if (c->recs[i].nar > *nar) {
            *nar = c->recs[i].nar;
        }
        if (c->recs[i].wid > *wid) {
            *wid = c->recs[i].wid;
        }
    }
}

/* Replaces records [from, c->n) by one that keeps their strongest flags, each capped. */
static void collapse(struct cx *c, size_t from, const char *kw, const char *opath,
                     const char *npath, bool in_new, unsigned cap_nar, unsigned cap_wid,
                     const char *reason)
{
    if (c->n == from) {
        return;
    }
    unsigned nar, wid;
    range_flags(c, from, &nar, &wid);
    c->n = from;
    add(c, kw, opath, npath, in_new, nar < cap_nar ? nar : cap_nar,
        wid < cap_wid ? wid : cap_wid, reason);
}

/* --- facts about one node ---------------------------------------------------------- */

static const struct val__op *find_op(const struct val__node *n, unsigned kind)
{
    for (uint32_t i = 0; i < n->n_ops; i++) {
        if (n->ops[i].kind == kind) {
            return &n->ops[i];
        }
    }
    return NULL;
}

static unsigned kinds_of_types(unsigned t)
{
    unsigned k = 0;
    k |= (t & VAL__T_NULL) ? K_NULL : 0;
    k |= (t & VAL__T_BOOLEAN) ? K_BOOL : 0;
    k |= (t & VAL__T_OBJECT) ? K_OBJ : 0;
    k |= (t & VAL__T_ARRAY) ? K_ARR : 0;
    k |= (t & VAL__T_NUMBER) ? K_NUM : 0;
    k |= (t & VAL__T_INTEGER) ? K_INT : 0;
    k |= (t & VAL__T_STRING) ? K_STR : 0;
    return k;
}

static unsigned kind_of_value(const struct js_val *v)
{
    switch (v->type) {
    case JS_NULL:
        return K_NULL;
    case JS_TRUE:
    case JS_FALSE:
        return K_BOOL;
    case JS_INT:
        return K_INT;
    case JS_REAL:
        return ((v->flags & JS_F_BIGINT) || (isfinite(v->u.d) && v->u.d == floor(v->u.d)))
                   ? K_INT
                   : K_FRAC;
    case JS_STRING:
        return K_STR;
    case JS_ARRAY:
        return K_ARR;
    default:
        return K_OBJ;
    }
}

/* The values a node allows by `const`/`enum` (NULL = no such keyword). */
struct vset {
    bool has;
    const struct js_val *const_v;
    const struct js_val *items;
    uint32_t n;
};

static struct vset vset_of(const struct val__node *node)
{
    struct vset s = {false, NULL, NULL, 0};
    const struct val__op *c = find_op(node, VAL__OP_CONST);
    const struct val__op *e = find_op(node, VAL__OP_ENUM);
    if (c) {
        s.has = true;
        s.const_v = c->u.value;
    }
    if (e) {
        s.has = true;
        s.items = e->u.en.items;
        s.n = e->u.en.n;
    }
    return s;
}

/* True when v is allowed by both halves of s (const and enum). */
static bool vset_has(const struct vset *s, const struct js_val *v)
{
    if (s->const_v && !val__equal(s->const_v, v)) {
        return false;
    }
    if (s->items) {
        for (uint32_t i = 0; i < s->n; i++) {
            if (val__equal(&s->items[i], v)) {
                return true;
            }
        }
        return false;
    }
    return true;
}

/* The candidate values of s: const when present (enum then only filters), else enum. */
static uint32_t vset_count(const struct vset *s)
{
    return s->const_v ? 1 : s->n;
}

static const struct js_val *vset_at(const struct vset *s, uint32_t i)
{
    return s->const_v ? s->const_v : &s->items[i];
}

/* The kinds of instance a node can accept, from `type`, `const`/`enum` and `false`. */
static unsigned kinds_of(const struct val__node *node)
{
    if (find_op(node, VAL__OP_FALSE)) {
        return 0;
    }
    const struct val__op *t = find_op(node, VAL__OP_TYPE);
    unsigned k = t ? kinds_of_types(t->u.types) : K_ALL;
    struct vset s = vset_of(node);
    if (s.has) {
        unsigned vk = 0;
        for (uint32_t i = 0; i < vset_count(&s); i++) {
            if (vset_has(&s, vset_at(&s, i))) {
                vk |= kind_of_value(vset_at(&s, i));
            }
        }
        k &= vk;
    }
    return k;
}

/* True when evaluating node alone (without the dynamic scope and annotations of the
 * schema around it) gives the same answer as in place: no $dynamicRef, no unevaluated*
 * anywhere below. Gives up (false) on large or deep subtrees. */
static bool plain(const struct val__node *n, unsigned depth, unsigned *budget)
{
    if (depth > 40 || *budget == 0) {
        return false;
    }
    (*budget)--;
    if (n->needs_ann) {
        return false;
    }
    for (uint32_t i = 0; i < n->n_ops; i++) {
        const struct val__op *op = &n->ops[i];
        switch (op->kind) {
        case VAL__OP_DYNAMIC_REF:
        case VAL__OP_UNEVAL_ITEMS:
        case VAL__OP_UNEVAL_PROPS:
            return false;
        case VAL__OP_REF:
        case VAL__OP_NOT:
        case VAL__OP_PROPERTY_NAMES:
            if (!plain(op->u.sub, depth + 1, budget)) {
                return false;
            }
            break;
        case VAL__OP_CONTAINS:
            if (!plain(op->u.contains.node, depth + 1, budget)) {
                return false;
            }
            break;
        case VAL__OP_ALL_OF:
        case VAL__OP_ANY_OF:
        case VAL__OP_ONE_OF:
            for (uint32_t k = 0; k < op->u.group.n; k++) {
                if (!plain(op->u.group.subs[k], depth + 1, budget)) {
                    return false;
                }
            }
            break;
        case VAL__OP_IF:
            if (!plain(op->u.cond.cond, depth + 1, budget) ||
                (op->u.cond.then_ && !plain(op->u.cond.then_, depth + 1, budget)) ||
                (op->u.cond.else_ && !plain(op->u.cond.else_, depth + 1, budget))) {
                return false;
            }
            break;
        case VAL__OP_DEP_SCHEMAS:
            for (uint32_t k = 0; k < op->u.list.n; k++) {
                if (!plain(op->u.list.names[k].node, depth + 1, budget)) {
                    return false;
                }
            }
            break;
        case VAL__OP_PROPS:
            for (uint32_t k = 0; k < op->u.props.n_props; k++) {
                if (!plain(op->u.props.props[k].node, depth + 1, budget)) {
                    return false;
                }
            }
            for (uint32_t k = 0; k < op->u.props.n_pats; k++) {
                if (!plain(op->u.props.pats[k].node, depth + 1, budget)) {
                    return false;
                }
            }
            if (op->u.props.additional && !plain(op->u.props.additional, depth + 1, budget)) {
                return false;
            }
            break;
        case VAL__OP_ITEMS:
            for (uint32_t k = 0; k < op->u.items.n_prefix; k++) {
                if (!plain(op->u.items.prefix[k], depth + 1, budget)) {
                    return false;
                }
            }
            if (op->u.items.rest && !plain(op->u.items.rest, depth + 1, budget)) {
                return false;
            }
            break;
        default:
            break;
        }
    }
    return true;
}

static bool is_plain(const struct val__node *n)
{
    unsigned budget = 2000;
    return plain(n, 0, &budget);
}

/* --- numbers ------------------------------------------------------------------------ */

static int num_cmp(const struct val__num *x, const struct val__num *y)
{
    if (x->is_int && y->is_int) {
        return (x->i > y->i) - (x->i < y->i);
    }
    long double a = x->is_int ? (long double)x->i : (long double)x->d;
    long double b = y->is_int ? (long double)y->i : (long double)y->d;
    return (a > b) - (a < b);
}

/* m as digits * 10^exp with digits not divisible by 10 (the shortest decimal that reads
 * back as m, as the validator's multipleOf sees it). False when m does not fit. */
static bool decimal(const struct val__num *m, uint64_t *digits, int *exp)
{
    if (m->is_int) {
        uint64_t d = m->i < 0 ? (uint64_t)0 - (uint64_t)m->i : (uint64_t)m->i;
        int e = 0;
        while (d && d % 10 == 0) {
            d /= 10;
            e++;
        }
        *digits = d;
        *exp = e;
        return d != 0;
    }
    char buf[40];
    ntext(m, buf, sizeof buf);
    uint64_t d = 0;
    int e = 0, ndig = 0;
    bool frac = false;
    const char *p = buf;
    if (*p == '-') {
        p++;
    }
    for (; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            frac = true;
            continue;
        }
        if (*p < '0' || *p > '9' || ++ndig > 18) {
            return false;
        }
        d = d * 10 + (uint64_t)(*p - '0');
        e -= frac ? 1 : 0;
    }
    if (*p == 'e' || *p == 'E') {
        char *end;
        long x = strtol(p + 1, &end, 10);
        if (*end || x < -300 || x > 300) {
            return false;
        }
        e += (int)x;
    }
    while (d && d % 10 == 0) {
        d /= 10;
        e++;
    }
    *digits = d;
    *exp = e;
    return d != 0;
}

/* YES when every multiple of a is a multiple of b is false for sure, NO when it holds,
 * MAYBE when the numbers are out of reach. */
static unsigned not_multiple(const struct val__num *a, const struct val__num *b)
{
    uint64_t da, db;
    int ea, eb;
    if (!decimal(a, &da, &ea) || !decimal(b, &db, &eb)) {
        return MAYBE;
    }
    /* a / b = (da / db) * 10^(ea - eb): an integer iff db divides da * 10^(ea-eb). */
    if (ea >= eb) {
        if (db > UINT64_MAX / 10) {
            return MAYBE;
        }
        uint64_t r = da % db;
        for (int i = 0; i < ea - eb; i++) {
            r = r * 10 % db;
        }
        return r == 0 ? NO : YES;
    }
    uint64_t y = db;
    for (int i = 0; i < eb - ea; i++) {
        if (y > UINT64_MAX / 10) {
            return YES; /* y exceeds da, which is not 0 */
        }
        y *= 10;
    }
    return da % y == 0 ? NO : YES;
}

struct bound {
    bool has, excl;
    struct val__num v;
    const char *kw;
};

static struct bound bound_of(const struct val__node *n, bool lower)
{
    struct bound b = {false, false, {true, 0, 0}, NULL};
    const struct val__op *in = find_op(n, lower ? VAL__OP_MINIMUM : VAL__OP_MAXIMUM);
    const struct val__op *ex = find_op(n, lower ? VAL__OP_EX_MINIMUM : VAL__OP_EX_MAXIMUM);
    if (in) {
        b.has = true;
        b.v = in->u.num;
        b.kw = in->kw;
    }
    if (ex) {
        int r = b.has ? num_cmp(&ex->u.num, &b.v) : 0;
        if (!b.has || (lower ? r >= 0 : r <= 0)) {
            b.has = true;
            b.excl = true;
            b.v = ex->u.num;
            b.kw = ex->kw;
        }
    }
    return b;
}

/* True when bound x is strictly tighter than y (an absent y is the loosest). */
static bool tighter(const struct bound *x, const struct bound *y, bool lower)
{
    if (!x->has) {
        return false;
    }
    if (!y->has) {
        return true;
    }
    int r = num_cmp(&x->v, &y->v);
    if (r != 0) {
        return lower ? r > 0 : r < 0;
    }
    return x->excl && !y->excl;
}

/* --- the walk ------------------------------------------------------------------------ */

static void cmp_node(struct cx *c, const struct val__node *o, const struct val__node *n,
                     const char *op, const char *np);

/* Where a local `$ref` points, as a JSON Pointer; else base/$ref. */
static const char *ref_path(struct cx *c, const struct val__op *r, const char *base)
{
    const char *u = r->ref_uri;
    if (u && u[0] == '#' && (u[1] == '/' || u[1] == 0)) {
        char buf[1024];
        size_t len = val__uri_unescape(u + 1, strlen(u + 1), buf, sizeof buf);
        if (len != (size_t)-1) {
            return pfmt(c, "%.*s", (int)len, buf);
        }
    }
    return childs(c, base, r->kw);
}

/* A node that is only a `$ref` is its target (the common refactoring moves a schema
 * into $defs). */
static const struct val__node *through_refs(struct cx *c, const struct val__node *n,
                                            const char **path)
{
    for (int i = 0; i < 32 && n->n_ops == 1 && n->ops[0].kind == VAL__OP_REF; i++) {
        *path = ref_path(c, &n->ops[0], *path);
        n = n->ops[0].u.sub;
    }
    return n;
}

static void cmp_type(struct cx *c, const struct val__node *o, const struct val__node *n,
                     const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *ot = find_op(o, VAL__OP_TYPE), *nt = find_op(n, VAL__OP_TYPE);
    unsigned otk = ot ? kinds_of_types(ot->u.types) : K_ALL;
    unsigned ntk = nt ? kinds_of_types(nt->u.types) : K_ALL;
    if (otk == ntk) {
        return;
    }
    unsigned nar = (ok & ~ntk) ? YES : NO, wid = (nk & ~otk) ? YES : NO;
    const char *what = (otk & ~ntk) && (ntk & ~otk) ? "changed"
                       : (otk & ~ntk)               ? "narrowed"
                                                    : "widened";
    const char *reason = !ot   ? "type added"
                         : !nt ? "type removed"
                               : pfmt(c, "type %s", what);
    add(c, "type", ot ? childs(c, op, "type") : op, nt ? childs(c, np, "type") : np, nt != NULL,
        nar, wid, reason);
}

static void cmp_values(struct cx *c, const struct val__node *o, const struct val__node *n,
                       const char *op, const char *np)
{
    struct vset os = vset_of(o), ns = vset_of(n);
    if (!os.has && !ns.has) {
        return;
    }
    const char *kw = ns.has ? (ns.const_v ? "const" : "enum") : (os.const_v ? "const" : "enum");
    const char *okw = os.const_v ? "const" : "enum";
    const char *opath = os.has ? childs(c, op, okw) : op;
    const char *npath = ns.has ? childs(c, np, kw) : np;
    if (!os.has) {
        add(c, kw, opath, npath, true, YES, NO, pfmt(c, "%s added", kw));
        return;
    }
    if (!ns.has) {
        add(c, kw, opath, npath, false, NO, YES, pfmt(c, "%s removed", okw));
        return;
    }
    char t[128];
    for (uint32_t i = 0; i < vset_count(&os); i++) {
        const struct js_val *v = vset_at(&os, i);
        if (vset_has(&os, v) && !vset_has(&ns, v)) {
            vtext(v, t, sizeof t);
            add(c, kw, opath, npath, true, YES, NO, pfmt(c, "value %s no longer allowed", t));
        }
    }
    for (uint32_t i = 0; i < vset_count(&ns); i++) {
        const struct js_val *v = vset_at(&ns, i);
        if (vset_has(&ns, v) && !vset_has(&os, v)) {
            vtext(v, t, sizeof t);
            add(c, kw, opath, npath, true, NO, YES, pfmt(c, "value %s now allowed", t));
        }
    }
}

static void cmp_bound(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, bool lower, unsigned ok, unsigned nk)
{
    struct bound ob = bound_of(o, lower), nb = bound_of(n, lower);
    if (!ob.has && !nb.has) {
        return;
    }
    if (ob.has && nb.has && ob.excl == nb.excl && num_cmp(&ob.v, &nb.v) == 0) {
        return;
    }
    unsigned nar = tighter(&nb, &ob, lower) && (ok & K_NUM) ? YES : NO;
    unsigned wid = tighter(&ob, &nb, lower) && (nk & K_NUM) ? YES : NO;
    char a[40] = "", b[40] = "";
    if (ob.has) {
        ntext(&ob.v, a, sizeof a);
    }
    if (nb.has) {
        ntext(&nb.v, b, sizeof b);
    }
    const char *reason;
    if (!ob.has) {
        reason = pfmt(c, "%s %s added", nb.kw, b);
    } else if (!nb.has) {
        reason = pfmt(c, "%s %s removed", ob.kw, a);
    } else {
        reason = pfmt(c, "%s %s %s (was %s %s)", nb.kw, b,
                      tighter(&nb, &ob, lower) ? "tightens" : "relaxes", ob.kw, a);
    }
    add(c, nb.has ? nb.kw : ob.kw, ob.has ? childs(c, op, ob.kw) : op,
        nb.has ? childs(c, np, nb.kw) : np, nb.has, nar, wid, reason);
}

static void cmp_multiple(struct cx *c, const struct val__node *o, const struct val__node *n,
                         const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *om = find_op(o, VAL__OP_MULTIPLE_OF);
    const struct val__op *nm = find_op(n, VAL__OP_MULTIPLE_OF);
    if (!om && !nm) {
        return;
    }
    unsigned nar = !nm ? NO : !om ? YES : not_multiple(&om->u.num, &nm->u.num);
    unsigned wid = !om ? NO : !nm ? YES : not_multiple(&nm->u.num, &om->u.num);
    if (om && nm && nar == NO && wid == NO) {
        return; /* equal */
    }
    char a[40] = "", b[40] = "";
    if (om) {
        ntext(&om->u.num, a, sizeof a);
    }
    if (nm) {
        ntext(&nm->u.num, b, sizeof b);
    }
    const char *reason = !om   ? pfmt(c, "multipleOf %s added", b)
                         : !nm ? pfmt(c, "multipleOf %s removed", a)
                               : pfmt(c, "multipleOf changed from %s to %s", a, b);
    add(c, "multipleOf", om ? childs(c, op, "multipleOf") : op,
        nm ? childs(c, np, "multipleOf") : np, nm != NULL, (ok & K_NUM) ? nar : NO,
        (nk & K_NUM) ? wid : NO, reason);
}

/* minLength/maxLength, minItems/maxItems, minProperties/maxProperties. */
static void cmp_count(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned kind, bool lower, unsigned app,
                      unsigned ok, unsigned nk)
{
    const struct val__op *oc = find_op(o, kind), *nc = find_op(n, kind);
    if (!oc && !nc) {
        return;
    }
    uint64_t ov = oc ? oc->u.count : (lower ? 0 : UINT64_MAX);
    uint64_t nv = nc ? nc->u.count : (lower ? 0 : UINT64_MAX);
    const char *kw = nc ? nc->kw : oc->kw;
    if (oc && nc && ov == nv) {
        return;
    }
    bool tight = lower ? nv > ov : nv < ov;
    bool loose = lower ? nv < ov : nv > ov;
    const char *reason = !oc   ? pfmt(c, "%s %" PRIu64 " added", kw, nv)
                         : !nc ? pfmt(c, "%s %" PRIu64 " removed", kw, ov)
                               : pfmt(c, "%s %s from %" PRIu64 " to %" PRIu64, kw,
                                      tight ? "tightened" : "relaxed", ov, nv);
    add(c, kw, oc ? childs(c, op, kw) : op, nc ? childs(c, np, kw) : np, nc != NULL,
        tight && (ok & app) ? YES : NO, loose && (nk & app) ? YES : NO, reason);
}

static bool fmt_within(enum val__fmt a, enum val__fmt b)
{
    static const enum val__fmt pairs[][2] = {
        {VAL__FMT_URI, VAL__FMT_IRI},
        {VAL__FMT_URI, VAL__FMT_URI_REFERENCE},
        {VAL__FMT_URI, VAL__FMT_IRI_REFERENCE},
        {VAL__FMT_URI_REFERENCE, VAL__FMT_IRI_REFERENCE},
        {VAL__FMT_IRI, VAL__FMT_IRI_REFERENCE},
        {VAL__FMT_EMAIL, VAL__FMT_IDN_EMAIL},
        {VAL__FMT_HOSTNAME, VAL__FMT_IDN_HOSTNAME}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (pairs[i][0] == a && pairs[i][1] == b) {
            return true;
        }
    }
    return false;
}

static void cmp_string_kw(struct cx *c, const struct val__node *o, const struct val__node *n,
                          const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = find_op(o, VAL__OP_PATTERN), *y = find_op(n, VAL__OP_PATTERN);
    bool str_o = ok & K_STR, str_n = nk & K_STR;
    if (x || y) {
        const char *opath = x ? childs(c, op, "pattern") : op;
        const char *npath = y ? childs(c, np, "pattern") : np;
        if (!x) {
            add(c, "pattern", opath, npath, true, str_o ? YES : NO, NO,
                pfmt(c, "pattern \"%s\" added", y->pat_src));
        } else if (!y) {
            add(c, "pattern", opath, npath, false, NO, str_n ? YES : NO,
                pfmt(c, "pattern \"%s\" removed", x->pat_src));
        } else if (strcmp(x->pat_src, y->pat_src) != 0) {
            add(c, "pattern", opath, npath, true, str_o ? MAYBE : NO, str_n ? MAYBE : NO,
                pfmt(c, "pattern changed from \"%s\" to \"%s\" (only equal text is decided)",
                     x->pat_src, y->pat_src));
        }
    }
    x = find_op(o, VAL__OP_FORMAT);
    y = find_op(n, VAL__OP_FORMAT);
    if (x || y) {
        const char *opath = x ? childs(c, op, "format") : op;
        const char *npath = y ? childs(c, np, "format") : np;
        if (!x) {
            add(c, "format", opath, npath, true, str_o ? YES : NO, NO,
                pfmt(c, "format \"%s\" added", val__fmt_name(y->u.fmt)));
        } else if (!y) {
            add(c, "format", opath, npath, false, NO, str_n ? YES : NO,
                pfmt(c, "format \"%s\" removed", val__fmt_name(x->u.fmt)));
        } else if (x->u.fmt != y->u.fmt) {
            unsigned nar = fmt_within(x->u.fmt, y->u.fmt) ? MAYBE : YES;
            unsigned wid = fmt_within(y->u.fmt, x->u.fmt) ? MAYBE : YES;
            add(c, "format", opath, npath, true, str_o ? nar : NO, str_n ? wid : NO,
                pfmt(c, "format changed from \"%s\" to \"%s\"", val__fmt_name(x->u.fmt),
                     val__fmt_name(y->u.fmt)));
        }
    }
}

static bool names_has(const struct val__named *t, uint32_t n, const char *name, uint32_t len)
{
    for (uint32_t i = 0; i < n; i++) {
        if (t[i].len == len && memcmp(t[i].name, name, len) == 0) {
            return true;
        }
    }
    return false;
}

static void cmp_required(struct cx *c, const struct val__node *o, const struct val__node *n,
                         const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = find_op(o, VAL__OP_REQUIRED), *y = find_op(n, VAL__OP_REQUIRED);
    if (!x && !y) {
        return;
    }
    const char *opath = x ? childs(c, op, "required") : op;
    const char *npath = y ? childs(c, np, "required") : np;
    for (uint32_t i = 0; y && i < y->u.list.n_sorted; i++) {
        const struct val__named *e = &y->u.list.sorted[i];
        if (!x || !names_has(x->u.list.sorted, x->u.list.n_sorted, e->name, e->len)) {
            add(c, "required", opath, npath, true, (ok & K_OBJ) ? YES : NO, NO,
                pfmt(c, "property \"%.*s\" became required", (int)e->len, e->name));
        }
    }
    for (uint32_t i = 0; x && i < x->u.list.n_sorted; i++) {
        const struct val__named *e = &x->u.list.sorted[i];
        if (!y || !names_has(y->u.list.sorted, y->u.list.n_sorted, e->name, e->len)) {
            add(c, "required", opath, npath, y != NULL, NO, (nk & K_OBJ) ? YES : NO,
                pfmt(c, "property \"%.*s\" is no longer required", (int)e->len, e->name));
        }
    }
}

/* dependentRequired (and draft-07 dependencies' arrays): (trigger, name) pairs. */
static bool dep_has(const struct val__node *node, const char *t, uint32_t tl, const char *nm,
                    uint32_t nl)
{
    for (uint32_t i = 0; i < node->n_ops; i++) {
        const struct val__op *op = &node->ops[i];
        if (op->kind != VAL__OP_DEP_REQUIRED) {
            continue;
        }
        for (uint32_t k = 0; k < op->u.list.n; k++) {
            const struct val__named *e = &op->u.list.names[k];
            if (e->len != tl || memcmp(e->name, t, tl) != 0) {
                continue;
            }
            for (uint32_t j = 0; j < e->n_names; j++) {
                if (e->name_lens[j] == nl && memcmp(e->names[j], nm, nl) == 0) {
                    return true;
                }
            }
        }
    }
    return false;
}

static void dep_req_side(struct cx *c, const struct val__node *from,
                         const struct val__node *other, const char *fp, const char *op,
                         const char *np, bool from_new, unsigned flag)
{
    for (uint32_t i = 0; i < from->n_ops; i++) {
        const struct val__op *d = &from->ops[i];
        if (d->kind != VAL__OP_DEP_REQUIRED) {
            continue;
        }
        for (uint32_t k = 0; k < d->u.list.n; k++) {
            const struct val__named *e = &d->u.list.names[k];
            for (uint32_t j = 0; j < e->n_names; j++) {
                if (dep_has(other, e->name, e->len, e->names[j], e->name_lens[j])) {
                    continue;
                }
                const char *p = child(c, childs(c, fp, d->kw), e->name, e->len);
                add(c, d->kw, from_new ? op : p, from_new ? p : np, from_new,
                    from_new ? flag : NO, from_new ? NO : flag,
                    pfmt(c, "property \"%.*s\" %s required when \"%.*s\" is present",
                         (int)e->name_lens[j], e->names[j], from_new ? "now" : "no longer",
                         (int)e->len, e->name));
            }
        }
    }
}

/* dependentSchemas (and draft-07 dependencies' schemas): the entry for a trigger, or
 * NULL; *dup set when the trigger has two entries (both keywords used). */
static const struct val__named *dep_schema(const struct val__node *node, const char *t,
                                           uint32_t tl, const char **kw, bool *dup)
{
    const struct val__named *found = NULL;
    for (uint32_t i = 0; i < node->n_ops; i++) {
        const struct val__op *op = &node->ops[i];
        if (op->kind != VAL__OP_DEP_SCHEMAS) {
            continue;
        }
        for (uint32_t k = 0; k < op->u.list.n; k++) {
            const struct val__named *e = &op->u.list.names[k];
            if (e->len == tl && memcmp(e->name, t, tl) == 0) {
                if (found) {
                    *dup = true;
                }
                found = e;
                *kw = op->kw;
            }
        }
    }
    return found;
}

static void cmp_dep_schemas(struct cx *c, const struct val__node *o, const struct val__node *n,
                            const char *op, const char *np, unsigned ok, unsigned nk)
{
    size_t r0 = c->n;
    /* Triggers of N (compared with O's, or added), then triggers only O has. */
    for (int side = 0; side < 2; side++) {
        const struct val__node *from = side ? o : n, *other = side ? n : o;
        for (uint32_t i = 0; i < from->n_ops; i++) {
            const struct val__op *d = &from->ops[i];
            if (d->kind != VAL__OP_DEP_SCHEMAS) {
                continue;
            }
            for (uint32_t k = 0; k < d->u.list.n; k++) {
                const struct val__named *e = &d->u.list.names[k];
                const char *okw = NULL;
                bool dup = false;
                const struct val__named *m = dep_schema(other, e->name, e->len, &okw, &dup);
                const char *fp = child(c, childs(c, side ? op : np, d->kw), e->name, e->len);
                if (m && side) {
                    continue; /* compared in the first pass */
                }
                if (dup) {
                    add(c, d->kw, side ? fp : op, side ? np : fp, !side, MAYBE, MAYBE,
                        pfmt(c, "\"%.*s\" has two dependent schemas", (int)e->len, e->name));
                } else if (m) {
                    cmp_node(c, m->node, e->node,
                             child(c, childs(c, op, okw), e->name, e->len), fp);
                } else if (!side) {
                    add(c, d->kw, op, fp, true, MAYBE, NO,
                        pfmt(c, "dependent schema for \"%.*s\" added", (int)e->len, e->name));
                } else {
                    add(c, d->kw, fp, np, false, NO, MAYBE,
                        pfmt(c, "dependent schema for \"%.*s\" removed", (int)e->len, e->name));
                }
            }
        }
    }
    clear_range(c, r0, !(ok & K_OBJ), !(nk & K_OBJ));
}

/* Where a property name lands in one schema. */
enum { AT_PROP, AT_PATTERN, AT_ADDITIONAL, AT_OPEN };

static int where(const struct val__op *p, const char *name, uint32_t len,
                 const struct val__node **node)
{
    if (!p) {
        *node = &true_node;
        return AT_OPEN;
    }
    for (uint32_t i = 0; i < p->u.props.n_props; i++) {
        if (p->u.props.props[i].len == len && memcmp(p->u.props.props[i].name, name, len) == 0) {
            *node = p->u.props.props[i].node;
            return AT_PROP;
        }
    }
    for (uint32_t i = 0; i < p->u.props.n_pats; i++) {
        if (val__regex_search(p->u.props.pats[i].re, name, len) != 0) {
            *node = &true_node; /* the pattern's schema is compared on its own */
            return AT_PATTERN;
        }
    }
    *node = p->u.props.additional ? p->u.props.additional : &true_node;
    return p->u.props.additional ? AT_ADDITIONAL : AT_OPEN;
}

static bool same_patterns(const struct val__op *x, const struct val__op *y)
{
    uint32_t nx = x ? x->u.props.n_pats : 0, ny = y ? y->u.props.n_pats : 0;
    if (nx != ny) {
        return false;
    }
    for (uint32_t i = 0; i < nx; i++) {
        bool found = false;
        for (uint32_t k = 0; k < ny && !found; k++) {
            found = strcmp(x->u.props.pats[i].src, y->u.props.pats[k].src) == 0;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static void cmp_one_prop(struct cx *c, const struct val__op *x, const struct val__op *y,
                         const struct val__named *e, bool in_old, bool in_new, const char *op,
                         const char *np)
{
    const struct val__node *on, *nn;
    int ow = where(x, e->name, e->len, &on), nw = where(y, e->name, e->len, &nn);
    const char *opath = ow == AT_PROP ? child(c, childs(c, op, "properties"), e->name, e->len)
                        : ow == AT_ADDITIONAL ? childs(c, op, "additionalProperties")
                                              : op;
    const char *npath = nw == AT_PROP ? child(c, childs(c, np, "properties"), e->name, e->len)
                        : nw == AT_ADDITIONAL ? childs(c, np, "additionalProperties")
                                              : np;
    size_t r0 = c->n;
    cmp_node(c, on, nn, opath, npath);
    if (in_old && in_new) {
        return;
    }
    const char *kw = "properties";
    if (!in_old) {
        const char *why = ow == AT_OPEN ? "the old version accepted any value under that name"
                          : ow == AT_PATTERN ? "patternProperties covered it before"
                                             : "additionalProperties covered it before";
        if (c->n > r0) {
            collapse(c, r0, kw, opath, npath, true, ow == AT_OPEN ? MAYBE : YES, YES,
                     pfmt(c, "property \"%.*s\" added; %s", (int)e->len, e->name, why));
        } else {
            add(c, kw, opath, npath, true, NO, NO,
                pfmt(c, "property \"%.*s\" added", (int)e->len, e->name));
        }
    } else {
        const char *why = nw == AT_OPEN ? "the new version accepts any value under that name"
                          : nw == AT_PATTERN ? "patternProperties covers it now"
                                             : "additionalProperties covers it now";
        if (c->n > r0) {
            collapse(c, r0, kw, opath, npath, false, YES, nw == AT_OPEN ? MAYBE : YES,
                     pfmt(c, "property \"%.*s\" removed; %s", (int)e->len, e->name, why));
        } else {
            add(c, kw, opath, npath, false, NO, NO,
                pfmt(c, "property \"%.*s\" removed", (int)e->len, e->name));
        }
    }
}

static void cmp_props(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = find_op(o, VAL__OP_PROPS), *y = find_op(n, VAL__OP_PROPS);
    if (!x && !y) {
        return;
    }
    size_t r0 = c->n;
    if (!same_patterns(x, y)) {
        add(c, "patternProperties", x ? childs(c, op, "patternProperties") : op,
            y ? childs(c, np, "patternProperties") : np, y != NULL, MAYBE, MAYBE,
            "patternProperties changed (only equal pattern lists are decided)");
        clear_range(c, r0, !(ok & K_OBJ), !(nk & K_OBJ));
        return;
    }
    for (uint32_t i = 0; y && i < y->u.props.n_pats; i++) {
        const struct val__pat *q = &y->u.props.pats[i];
        for (uint32_t k = 0; k < x->u.props.n_pats; k++) {
            if (strcmp(x->u.props.pats[k].src, q->src) == 0) {
                cmp_node(c, x->u.props.pats[k].node, q->node,
                         childs(c, childs(c, op, "patternProperties"), q->src),
                         childs(c, childs(c, np, "patternProperties"), q->src));
            }
        }
    }
    for (uint32_t i = 0; y && i < y->u.props.n_props; i++) {
        const struct val__named *e = &y->u.props.props[i];
        bool in_old = x && names_has(x->u.props.props, x->u.props.n_props, e->name, e->len);
        cmp_one_prop(c, x, y, e, in_old, true, op, np);
    }
    for (uint32_t i = 0; x && i < x->u.props.n_props; i++) {
        const struct val__named *e = &x->u.props.props[i];
        if (!y || !names_has(y->u.props.props, y->u.props.n_props, e->name, e->len)) {
            cmp_one_prop(c, x, y, e, true, false, op, np);
        }
    }
    const struct val__node *oa = x ? x->u.props.additional : NULL;
    const struct val__node *na = y ? y->u.props.additional : NULL;
    if (oa || na) {
        cmp_node(c, oa ? oa : &true_node, na ? na : &true_node,
                 oa ? childs(c, op, "additionalProperties") : op,
                 na ? childs(c, np, "additionalProperties") : np);
    }
    clear_range(c, r0, !(ok & K_OBJ), !(nk & K_OBJ));
}

static void cmp_items(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = find_op(o, VAL__OP_ITEMS), *y = find_op(n, VAL__OP_ITEMS);
    if (!x && !y) {
        return;
    }
    size_t r0 = c->n;
    uint32_t px = x ? x->u.items.n_prefix : 0, py = y ? y->u.items.n_prefix : 0;
    uint32_t m = px > py ? px : py;
    const struct val__node *rx = x && x->u.items.rest ? x->u.items.rest : NULL;
    const struct val__node *ry = y && y->u.items.rest ? y->u.items.rest : NULL;
    const char *rxp = rx ? childs(c, op, x->u.items.rest_kw) : op;
    const char *ryp = ry ? childs(c, np, y->u.items.rest_kw) : np;
    for (uint32_t i = 0; i < m; i++) {
        const struct val__node *a = i < px ? x->u.items.prefix[i] : rx ? rx : &true_node;
        const struct val__node *b = i < py ? y->u.items.prefix[i] : ry ? ry : &true_node;
        cmp_node(c, a, b, i < px ? childi(c, op, x->u.items.prefix_kw, i) : rxp,
                 i < py ? childi(c, np, y->u.items.prefix_kw, i) : ryp);
    }
    if (rx || ry) {
        cmp_node(c, rx ? rx : &true_node, ry ? ry : &true_node, rxp, ryp);
    }
    clear_range(c, r0, !(ok & K_ARR), !(nk & K_ARR));
}

/* A subschema keyword applied the same way on both sides (propertyNames, contains, not,
 * $ref with siblings, unevaluated*): compared when both have it, a one-sided change is
 * `added_nar` / `removed_wid`. */
static void cmp_sub(struct cx *c, const struct val__node *o, const struct val__node *n,
                    const char *op, const char *np, unsigned kind, unsigned added_nar,
                    unsigned removed_wid, unsigned app, unsigned ok, unsigned nk)
{
    const struct val__op *x = find_op(o, kind), *y = find_op(n, kind);
    if (!x && !y) {
        return;
    }
    size_t r0 = c->n;
    const char *kw = y ? y->kw : x->kw;
    const char *opath = !x ? op : kind == VAL__OP_REF ? ref_path(c, x, op) : childs(c, op, x->kw);
    const char *npath = !y ? np : kind == VAL__OP_REF ? ref_path(c, y, np) : childs(c, np, y->kw);
    if (!x) {
        add(c, kw, opath, npath, true, added_nar, NO, pfmt(c, "%s added", kw));
    } else if (!y) {
        add(c, kw, opath, npath, false, NO, removed_wid, pfmt(c, "%s removed", kw));
    } else if (kind == VAL__OP_CONTAINS) {
        cmp_node(c, x->u.contains.node, y->u.contains.node, opath, npath);
        bool same = x->u.contains.has_min == y->u.contains.has_min &&
                    x->u.contains.min == y->u.contains.min && !x->u.contains.has_max &&
                    !y->u.contains.has_max;
        if (!same) {
            if (c->n == r0) {
                add(c, kw, opath, npath, true, MAYBE, MAYBE,
                    "minContains/maxContains changed");
            }
            collapse(c, r0, kw, opath, npath, true, MAYBE, MAYBE,
                     "contains changed with minContains/maxContains");
        }
    } else if (kind == VAL__OP_NOT) {
        cmp_node(c, x->u.sub, y->u.sub, opath, npath);
        swap_range(c, r0);
    } else {
        cmp_node(c, x->u.sub, y->u.sub, opath, npath);
        if (kind == VAL__OP_UNEVAL_ITEMS || kind == VAL__OP_UNEVAL_PROPS) {
            collapse(c, r0, kw, opath, npath, true, MAYBE, MAYBE,
                     pfmt(c, "%s changed (not decided)", kw));
        }
    }
    clear_range(c, r0, !(ok & app), !(nk & app));
}

static void cmp_group(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned kind)
{
    const struct val__op *x = find_op(o, kind), *y = find_op(n, kind);
    if (!x && !y) {
        return;
    }
    const char *kw = y ? y->kw : x->kw;
    const char *opath = x ? childs(c, op, kw) : op;
    const char *npath = y ? childs(c, np, kw) : np;
    if (!x || !y) {
        /* A new conjunct can only narrow, a removed one only widen. */
        add(c, kw, opath, npath, y != NULL, y ? MAYBE : NO, x ? MAYBE : NO,
            pfmt(c, "%s %s", kw, y ? "added" : "removed"));
        return;
    }
    size_t r0 = c->n;
    uint32_t m = x->u.group.n < y->u.group.n ? x->u.group.n : y->u.group.n;
    for (uint32_t i = 0; i < m; i++) {
        cmp_node(c, x->u.group.subs[i], y->u.group.subs[i], childi(c, op, kw, i),
                 childi(c, np, kw, i));
    }
    if (kind == VAL__OP_ONE_OF) {
        if (c->n > r0 || x->u.group.n != y->u.group.n) {
            c->n = r0;
            add(c, kw, opath, npath, true, MAYBE, MAYBE,
                "oneOf branches changed (only equal branch lists are decided)");
        }
        return;
    }
    if (x->u.group.n != y->u.group.n) {
        /* allOf: a branch more in N narrows, in O widens; anyOf: the other way round. */
        bool more_new = y->u.group.n > x->u.group.n;
        bool narrows = (kind == VAL__OP_ALL_OF) == more_new;
        add(c, kw, opath, npath, true, narrows ? MAYBE : NO, narrows ? NO : MAYBE,
            pfmt(c, "%s has %" PRIu32 " branches, was %" PRIu32, kw, y->u.group.n,
                 x->u.group.n));
    }
}

static void cmp_if(struct cx *c, const struct val__node *o, const struct val__node *n,
                   const char *op, const char *np)
{
    const struct val__op *x = find_op(o, VAL__OP_IF), *y = find_op(n, VAL__OP_IF);
    if (!x && !y) {
        return;
    }
    const char *opath = x ? childs(c, op, "if") : op;
    const char *npath = y ? childs(c, np, "if") : np;
    if (!x || !y) {
        add(c, "if", opath, npath, y != NULL, y ? MAYBE : NO, x ? MAYBE : NO,
            y ? "if/then/else added" : "if/then/else removed");
        return;
    }
    size_t r0 = c->n;
    cmp_node(c, x->u.cond.cond, y->u.cond.cond, opath, npath);
    if (c->n > r0) {
        c->n = r0;
        add(c, "if", opath, npath, true, MAYBE, MAYBE,
            "the if condition changed (then/else are decided under an equal if only)");
        return;
    }
    const struct val__node *ot = x->u.cond.then_, *nt = y->u.cond.then_;
    if (ot || nt) {
        cmp_node(c, ot ? ot : &true_node, nt ? nt : &true_node, ot ? childs(c, op, "then") : op,
                 nt ? childs(c, np, "then") : np);
    }
    const struct val__node *oe = x->u.cond.else_, *ne = y->u.cond.else_;
    if (oe || ne) {
        cmp_node(c, oe ? oe : &true_node, ne ? ne : &true_node, oe ? childs(c, op, "else") : op,
                 ne ? childs(c, np, "else") : np);
    }
}

static void cmp_misc(struct cx *c, const struct val__node *o, const struct val__node *n,
                     const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = find_op(o, VAL__OP_UNIQUE_ITEMS);
    const struct val__op *y = find_op(n, VAL__OP_UNIQUE_ITEMS);
    if (!x != !y) {
        add(c, "uniqueItems", x ? childs(c, op, "uniqueItems") : op,
            y ? childs(c, np, "uniqueItems") : np, y != NULL, y && (ok & K_ARR) ? YES : NO,
            x && (nk & K_ARR) ? YES : NO, y ? "uniqueItems added" : "uniqueItems removed");
    }
    dep_req_side(c, n, o, np, op, np, true, (ok & K_OBJ) ? YES : NO);
    dep_req_side(c, o, n, op, op, np, false, (nk & K_OBJ) ? YES : NO);
    x = find_op(o, VAL__OP_DYNAMIC_REF);
    y = find_op(n, VAL__OP_DYNAMIC_REF);
    if (x || y) {
        size_t r0 = c->n;
        const char *opath = x ? childs(c, op, "$dynamicRef") : op;
        const char *npath = y ? childs(c, np, "$dynamicRef") : np;
        if (x && y && strcmp(x->ref_uri, y->ref_uri) == 0) {
            cmp_node(c, x->u.dyn.target, y->u.dyn.target, opath, npath);
        }
        if (c->n > r0 || !x || !y || strcmp(x->ref_uri, y->ref_uri) != 0) {
            c->n = r0;
            add(c, "$dynamicRef", opath, npath, y != NULL, MAYBE, MAYBE,
                "$dynamicRef changed (not decided)");
        }
    }
}

static bool on_stack(const struct cx *c, const struct val__node *o, const struct val__node *n)
{
    for (unsigned i = 0; i < c->depth; i++) {
        if (c->stk[i].o == o && c->stk[i].n == n) {
            return true;
        }
    }
    return false;
}

/* When O has enum/const, each of its values is run through N's node (and the reverse):
 * an exact answer that replaces the keyword-by-keyword one. */
static void exact_values(struct cx *c, const struct val__node *from,
                         const struct val__node *to, const val_schema *to_s, size_t r0,
                         bool narrowing, const char *fp, const char *tp)
{
    struct vset s = vset_of(from);
    if (!s.has || !is_plain(to)) {
        return;
    }
    const struct js_val *bad = NULL;
    for (uint32_t i = 0; i < vset_count(&s) && !bad; i++) {
        const struct js_val *v = vset_at(&s, i);
        if (vset_has(&s, v) && !val__run(to_s, to, v, NULL, 0, NULL, NULL)) {
            bad = v;
        }
    }
    clear_range(c, r0, narrowing, !narrowing);
    if (bad) {
        char t[128];
        vtext(bad, t, sizeof t);
        const char *kw = s.const_v ? "const" : "enum";
        const char *p = childs(c, fp, kw);
        add(c, kw, narrowing ? p : tp, narrowing ? tp : p, !narrowing, narrowing ? YES : NO,
            narrowing ? NO : YES,
            narrowing ? pfmt(c, "value %s allowed before is refused now", t)
                      : pfmt(c, "value %s allowed now was refused before", t));
    }
}

static void cmp_node(struct cx *c, const struct val__node *o, const struct val__node *n,
                     const char *op, const char *np)
{
    if (c->nomem || c->gave_up) {
        return;
    }
    o = through_refs(c, o, &op);
    n = through_refs(c, n, &np);
    if (o == n || on_stack(c, o, n)) {
        return;
    }
    if (c->depth == MAX_DEPTH || ++c->steps > MAX_STEPS) {
        add(c, "", op, np, true, MAYBE, MAYBE, "schemas too large or deep to compare");
        c->gave_up = true;
        return;
    }
    c->stk[c->depth].o = o;
    c->stk[c->depth].n = n;
    c->depth++;
    size_t r0 = c->n;
    bool of = find_op(o, VAL__OP_FALSE) != NULL, nf = find_op(n, VAL__OP_FALSE) != NULL;
    if (of || nf) {
        if (!(of && nf)) {
            unsigned ok = kinds_of(o), nk = kinds_of(n);
            add(c, "false", op, np, true, nf && ok ? YES : NO, of && nk ? YES : NO,
                nf ? "the schema became false (nothing is accepted)"
                   : "the schema was false (nothing was accepted)");
        }
        c->depth--;
        return;
    }
    unsigned ok = kinds_of(o), nk = kinds_of(n);
    cmp_type(c, o, n, op, np, ok, nk);
    cmp_values(c, o, n, op, np);
    cmp_bound(c, o, n, op, np, true, ok, nk);
    cmp_bound(c, o, n, op, np, false, ok, nk);
    cmp_multiple(c, o, n, op, np, ok, nk);
    cmp_count(c, o, n, op, np, VAL__OP_MIN_LENGTH, true, K_STR, ok, nk);
    cmp_count(c, o, n, op, np, VAL__OP_MAX_LENGTH, false, K_STR, ok, nk);
    cmp_string_kw(c, o, n, op, np, ok, nk);
    cmp_count(c, o, n, op, np, VAL__OP_MIN_ITEMS, true, K_ARR, ok, nk);
    cmp_count(c, o, n, op, np, VAL__OP_MAX_ITEMS, false, K_ARR, ok, nk);
    cmp_count(c, o, n, op, np, VAL__OP_MIN_PROPERTIES, true, K_OBJ, ok, nk);
    cmp_count(c, o, n, op, np, VAL__OP_MAX_PROPERTIES, false, K_OBJ, ok, nk);
    cmp_required(c, o, n, op, np, ok, nk);
    cmp_props(c, o, n, op, np, ok, nk);
    cmp_items(c, o, n, op, np, ok, nk);
    cmp_misc(c, o, n, op, np, ok, nk);
    cmp_dep_schemas(c, o, n, op, np, ok, nk);
    cmp_sub(c, o, n, op, np, VAL__OP_PROPERTY_NAMES, MAYBE, MAYBE, K_OBJ, ok, nk);
    cmp_sub(c, o, n, op, np, VAL__OP_CONTAINS, YES, YES, K_ARR, ok, nk);
    cmp_sub(c, o, n, op, np, VAL__OP_NOT, MAYBE, MAYBE, K_ALL, ok, nk);
    cmp_sub(c, o, n, op, np, VAL__OP_REF, MAYBE, MAYBE, K_ALL, ok, nk);
    cmp_sub(c, o, n, op, np, VAL__OP_UNEVAL_ITEMS, MAYBE, MAYBE, K_ARR, ok, nk);
    cmp_sub(c, o, n, op, np, VAL__OP_UNEVAL_PROPS, MAYBE, MAYBE, K_OBJ, ok, nk);
    cmp_group(c, o, n, op, np, VAL__OP_ALL_OF);
    cmp_group(c, o, n, op, np, VAL__OP_ANY_OF);
    cmp_group(c, o, n, op, np, VAL__OP_ONE_OF);
    cmp_if(c, o, n, op, np);
    /* unevaluated* sees what its siblings evaluated: any change near it is undecided. */
    if ((o->needs_ann || n->needs_ann) && c->n > r0) {
        add(c, "unevaluatedProperties", op, np, true, MAYBE, MAYBE,
            "a keyword next to unevaluatedItems/unevaluatedProperties changed (not decided)");
    }
    if (c->n > r0) {
        exact_values(c, o, n, c->ns, r0, true, op, np);
        exact_values(c, n, o, c->os, r0, false, np, op);
    }
    c->depth--;
}

/* --- the public functions ------------------------------------------------------------ */

static enum val_compat_verdict verdict_of(unsigned flag)
{
    return flag == YES ? VAL_COMPAT_INCOMPATIBLE
           : flag == MAYBE ? VAL_COMPAT_UNKNOWN
                           : VAL_COMPAT_COMPATIBLE;
}

static enum val_compat_verdict worst(enum val_compat_verdict a, enum val_compat_verdict b)
{
    return a > b ? a : b;
}

int val_compat_check(const val_schema *old_s, const val_schema *new_s,
                     enum val_compat_mode mode, wr_arena *a, unsigned max_diffs,
                     struct val_compat_report *out)
{
    if (!old_s || !new_s || !a || !out || (unsigned)mode > VAL_COMPAT_FULL) {
        return WR_EINVAL;
    }
    struct cx *c = calloc(1, sizeof *c);
    if (!c) {
        return WR_ENOMEM;
    }
    c->a = a;
    c->os = old_s;
    c->ns = new_s;
    cmp_node(c, old_s->root, new_s->root, "", "");
    int rc = 0;
    if (c->nomem) {
        rc = WR_ENOMEM;
        goto out;
    }
    size_t cap = max_diffs ? max_diffs : 1000;
    struct val_compat_report r = {VAL_COMPAT_COMPATIBLE, false, 0, NULL};
    if (c->n) {
        r.diffs = wr_arena_alloc(a, (c->n < cap ? c->n : cap) * sizeof *r.diffs);
        if (!r.diffs) {
            rc = WR_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct rec *e = &c->recs[i];
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) {
            const struct rec *f = &c->recs[k];
            dup = f->nar == e->nar && f->wid == e->wid && strcmp(f->reason, e->reason) == 0 &&
                  strcmp(f->opath, e->opath) == 0 && strcmp(f->npath, e->npath) == 0;
        }
        if (dup) {
            continue;
        }
        enum val_compat_verdict b = verdict_of(e->nar), f = verdict_of(e->wid);
        enum val_compat_verdict v = mode == VAL_COMPAT_BACKWARD ? b
                                    : mode == VAL_COMPAT_FORWARD ? f
                                    : mode == VAL_COMPAT_FULL    ? worst(b, f)
                                                                 : VAL_COMPAT_COMPATIBLE;
        r.verdict = worst(r.verdict, v);
        if (r.n_diffs == cap) {
            r.truncated = true;
            continue;
        }
        struct val_compat_diff *d = &r.diffs[r.n_diffs++];
        d->verdict = v;
        d->backward = b;
        d->forward = f;
        d->keyword = e->kw;
        d->path = e->path;
        d->old_path = e->opath;
        d->new_path = e->npath;
        d->reason = e->reason;
    }
    *out = r;
out:
    free(c->recs);
    free(c);
    return rc;
}

const char *val_compat_mode_name(enum val_compat_mode mode)
{
    switch (mode) {
    case VAL_COMPAT_NONE:
        return "none";
    case VAL_COMPAT_BACKWARD:
        return "backward";
    case VAL_COMPAT_FORWARD:
        return "forward";
    case VAL_COMPAT_FULL:
        return "full";
    }
    return NULL;
}

int val_compat_mode_parse(const char *name, enum val_compat_mode *out)
{
    for (int m = VAL_COMPAT_NONE; name && m <= VAL_COMPAT_FULL; m++) {
        if (strcmp(name, val_compat_mode_name((enum val_compat_mode)m)) == 0) {
            *out = (enum val_compat_mode)m;
            return 0;
        }
    }
    return WR_EINVAL;
}

const char *val_compat_verdict_name(enum val_compat_verdict v)
{
    return v == VAL_COMPAT_INCOMPATIBLE ? "incompatible"
           : v == VAL_COMPAT_UNKNOWN    ? "unknown"
                                        : "compatible";
}

static bool other_pointer(const char *p, const char *path)
{
    size_t n = strlen(p);
    if (strcmp(p, path) == 0) {
        return false;
    }
    return !(strncmp(path, p, n) == 0 && path[n] == '/');
}

json_t *val_compat_diffs_json(const struct val_compat_report *r)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && r && i < r->n_diffs; i++) {
        const struct val_compat_diff *d = &r->diffs[i];
        json_t *o = json_pack("{s:s, s:s, s:s}", "verdict", val_compat_verdict_name(d->verdict),
                              "path", d->path, "reason", d->reason);
        if (o && (json_object_set_new(o, "old_path", json_string(d->old_path)) ||
                  json_object_set_new(o, "new_path", json_string(d->new_path)))) {
            json_decref(o);
            o = NULL;
        }
        /* The other pointers only when they say more than "path": not equal to it and not
         * just the schema that lacks the keyword. */
        if (o && !other_pointer(d->old_path, d->path)) {
            json_object_del(o, "old_path");
        }
        if (o && !other_pointer(d->new_path, d->path)) {
            json_object_del(o, "new_path");
        }
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int val_compat_diff_text(const val_schema *old_s, const val_schema *new_s, wr_arena *a,
                         const char **text)
{
    struct val_compat_report r;
    int rc = val_compat_check(old_s, new_s, VAL_COMPAT_FULL, a, 100000, &r);
    if (rc) {
        return rc;
    }
    size_t len = 0;
    for (size_t i = 0; i < r.n_diffs; i++) {
        len += strlen(r.diffs[i].path) + strlen(r.diffs[i].reason) + 64;
    }
    char *s = wr_arena_alloc(a, len + 1);
    if (!s) {
        return WR_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < r.n_diffs; i++) {
        const struct val_compat_diff *d = &r.diffs[i];
        int w = snprintf(s + k, len + 1 - k, "%s: %s (backward: %s, forward: %s)\n",
                         d->path[0] ? d->path : "(root)", d->reason,
                         val_compat_verdict_name(d->backward),
                         val_compat_verdict_name(d->forward));
        if (w < 0 || (size_t)w >= len + 1 - k) {
            return WR_ENOMEM;
        }
        k += (size_t)w;
    }
    s[k] = 0;
    *text = s;
    return 0;
}
