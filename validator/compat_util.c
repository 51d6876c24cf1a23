/* compat_util.c - the compatibility checker's helpers: JSON Pointer and reason strings,
 * the difference records, and facts about one compiled node (kinds, enum values,
 * bounds, decimal multipleOf). */
#include "common/array.h"
#include "validator/compat_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct val__node val__compat_true = {NULL, 0, false, 0, true, NULL};

/* --- strings ---------------------------------------------------------------------- */

const char *val__compat_pfmt(struct cx *c, const char *fmt, ...)
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
const char *val__compat_child(struct cx *c, const char *base, const char *seg, size_t len)
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

const char *val__compat_childs(struct cx *c, const char *base, const char *seg)
{
    return val__compat_child(c, base, seg, strlen(seg));
}

const char *val__compat_childi(struct cx *c, const char *base, const char *seg, uint32_t i)
{
    char num[16];
    snprintf(num, sizeof num, "%" PRIu32, i);
    return val__compat_childs(c, val__compat_childs(c, base, seg), num);
}

/* A short JSON text of v for reasons (long values are cut with "..."). */
void val__compat_vtext(const struct js_val *v, char *out, size_t cap)
{
    switch (v->type) {
    case JS_NULL: snprintf(out, cap, "null"); return;
    case JS_TRUE: snprintf(out, cap, "true"); return;
    case JS_FALSE: snprintf(out, cap, "false"); return;
    case JS_INT: snprintf(out, cap, "%" PRId64, v->u.i); return;
    case JS_REAL: snprintf(out, cap, "%.17g", v->u.d); return;
    case JS_ARRAY: snprintf(out, cap, v->n ? "[...]" : "[]"); return;
    case JS_OBJECT: snprintf(out, cap, v->n ? "{...}" : "{}"); return;
    default: break;
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

void val__compat_ntext(const struct val__num *m, char *out, size_t cap)
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

void val__compat_add(struct cx *c, const char *kw, const char *opath, const char *npath,
                     bool in_new, unsigned nar, unsigned wid, const char *reason)
{
    if (wr_array_grow(&c->recs, &c->cap, c->n + 1, sizeof *c->recs, 32, 0) != 0) {
        c->nomem = true;
        return;
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
void val__compat_clear_range(struct cx *c, size_t from, bool nar, bool wid)
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

void val__compat_swap_range(struct cx *c, size_t from)
{
    for (size_t i = from; i < c->n; i++) {
        uint8_t t = c->recs[i].nar;
        c->recs[i].nar = c->recs[i].wid;
        c->recs[i].wid = t;
    }
}

void val__compat_range_flags(const struct cx *c, size_t from, unsigned *nar, unsigned *wid)
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
void val__compat_collapse(struct cx *c, size_t from, const char *kw, const char *opath,
                          const char *npath, bool in_new, unsigned cap_nar, unsigned cap_wid,
                          const char *reason)
{
    if (c->n == from) {
        return;
    }
    unsigned nar, wid;
    val__compat_range_flags(c, from, &nar, &wid);
    c->n = from;
    val__compat_add(c, kw, opath, npath, in_new, nar < cap_nar ? nar : cap_nar,
                    wid < cap_wid ? wid : cap_wid, reason);
}

/* --- facts about one node ---------------------------------------------------------- */

const struct val__op *val__compat_find_op(const struct val__node *n, unsigned kind)
{
    for (uint32_t i = 0; i < n->n_ops; i++) {
        if (n->ops[i].kind == kind) {
            return &n->ops[i];
        }
    }
    return NULL;
}

unsigned val__compat_kinds_of_types(unsigned t)
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

unsigned val__compat_kind_of_value(const struct js_val *v)
{
    switch (v->type) {
    case JS_NULL: return K_NULL;
    case JS_TRUE:
    case JS_FALSE: return K_BOOL;
    case JS_INT: return K_INT;
    case JS_REAL:
        return ((v->flags & JS_F_BIGINT) || (isfinite(v->u.d) && v->u.d == floor(v->u.d))) ? K_INT
                                                                                           : K_FRAC;
    case JS_STRING: return K_STR;
    case JS_ARRAY: return K_ARR;
    default: return K_OBJ;
    }
}

struct vset val__compat_vset_of(const struct val__node *node)
{
    struct vset s = {false, NULL, NULL, 0};
    const struct val__op *c = val__compat_find_op(node, VAL__OP_CONST);
    const struct val__op *e = val__compat_find_op(node, VAL__OP_ENUM);
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
bool val__compat_vset_has(const struct vset *s, const struct js_val *v)
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
uint32_t val__compat_vset_count(const struct vset *s)
{
    return s->const_v ? 1 : s->n;
}

const struct js_val *val__compat_vset_at(const struct vset *s, uint32_t i)
{
    return s->const_v ? s->const_v : &s->items[i];
}

/* The kinds of instance a node can accept, from `type`, `const`/`enum`, an integer
 * `multipleOf` and `false`. */
unsigned val__compat_kinds_of(const struct val__node *node)
{
    if (val__compat_find_op(node, VAL__OP_FALSE)) {
        return 0;
    }
    const struct val__op *t = val__compat_find_op(node, VAL__OP_TYPE);
    unsigned k = t ? val__compat_kinds_of_types(t->u.types) : K_ALL;
    struct vset s = val__compat_vset_of(node);
    if (s.has) {
        unsigned vk = 0;
        for (uint32_t i = 0; i < val__compat_vset_count(&s); i++) {
            if (val__compat_vset_has(&s, val__compat_vset_at(&s, i))) {
                vk |= val__compat_kind_of_value(val__compat_vset_at(&s, i));
            }
        }
        k &= vk;
    }
    /* A multiple of an integer is an integer. */
    const struct val__op *m = val__compat_find_op(node, VAL__OP_MULTIPLE_OF);
    if (m && m->u.num.is_int) {
        k &= ~(unsigned)K_FRAC;
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
        case VAL__OP_UNEVAL_PROPS: return false;
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
        default: break;
        }
    }
    return true;
}

bool val__compat_is_plain(const struct val__node *n)
{
    unsigned budget = 2000;
    return plain(n, 0, &budget);
}

/* --- numbers ------------------------------------------------------------------------ */

int val__compat_num_cmp(const struct val__num *x, const struct val__num *y)
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
    val__compat_ntext(m, buf, sizeof buf);
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
unsigned val__compat_not_multiple(const struct val__num *a, const struct val__num *b)
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

struct bound val__compat_bound_of(const struct val__node *n, bool lower)
{
    struct bound b = {false, false, {true, 0, 0}, NULL};
    const struct val__op *in = val__compat_find_op(n, lower ? VAL__OP_MINIMUM : VAL__OP_MAXIMUM);
    const struct val__op *ex =
        val__compat_find_op(n, lower ? VAL__OP_EX_MINIMUM : VAL__OP_EX_MAXIMUM);
    if (in) {
        b.has = true;
        b.v = in->u.num;
        b.kw = in->kw;
    }
    if (ex) {
        int r = b.has ? val__compat_num_cmp(&ex->u.num, &b.v) : 0;
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
bool val__compat_tighter(const struct bound *x, const struct bound *y, bool lower)
{
    if (!x->has) {
        return false;
    }
    if (!y->has) {
        return true;
    }
    int r = val__compat_num_cmp(&x->v, &y->v);
    if (r != 0) {
        return lower ? r > 0 : r < 0;
    }
    return x->excl && !y->excl;
}
