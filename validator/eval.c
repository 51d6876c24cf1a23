/* eval.c - runs a compiled schema over a js_val instance. One evaluator serves both the
 * boolean fast path (stops at the first failure, allocates nothing) and the full error
 * pass (continues, renders JSON Pointers into the caller's arena). */
#include "validator/val_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One segment of a JSON Pointer under construction, chained on the C stack. */
struct path {
    const struct path *up;
    const char *s; /* NULL: the segment is the index idx */
    uint32_t len;  /* SEG_NT: s is NUL-terminated, measured only when rendering */
    uint64_t idx;
};

/* Keyword segments are measured only when an error is rendered, not on the fast path. */
#define SEG_NT UINT32_MAX

/* The dynamic scope: schema resources entered, innermost first. */
struct scope {
    const struct scope *up;
    const struct val__res *res;
};

struct heapblk {
    struct heapblk *next;
};

enum { SCRATCH_WORDS = 1024 };

struct ectx {
    bool collect;
    bool want;         /* the caller wants violations (collect may be off inside `not`) */
    bool nomem;
    bool halted;       /* over the step budget or a regex abandoned: the verdict is invalid */
    unsigned depth, max_depth;
    uint64_t steps, max_steps;
    wr_arena *a;
    unsigned max_errors;
    size_t count;   /* violations found (also beyond max_errors) */
    struct val_error *errs;
    uint64_t scratch[SCRATCH_WORDS];
    size_t scratch_used;
    struct heapblk *heap;
};

static bool ev(struct ectx *c, const struct val__node *n, const struct js_val *v,
               const struct path *ip, const struct path *sp, const struct scope *sc,
               uint64_t *ann);

/* --- scratch bitsets ------------------------------------------------------------- */

static uint64_t *bits_alloc(struct ectx *c, size_t nbits)
{
    size_t words = (nbits + 63) / 64;
    if (words == 0) {
        words = 1;
    }
    uint64_t *b;
    if (c->scratch_used + words <= SCRATCH_WORDS) {
        b = c->scratch + c->scratch_used;
        c->scratch_used += words;
    } else {
        /* Only instances with tens of thousands of members get here. */
        struct heapblk *h = malloc(sizeof *h + words * sizeof(uint64_t));
        if (!h) {
            return NULL;
        }
        h->next = c->heap;
        c->heap = h;
        b = (uint64_t *)(h + 1);
    }
    memset(b, 0, words * sizeof(uint64_t));
    return b;
}

static void bit_set(uint64_t *b, uint32_t i)
{
    b[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool bit_get(const uint64_t *b, uint32_t i)
{
    return (b[i / 64] >> (i % 64)) & 1;
}

static void bits_or(uint64_t *dst, const uint64_t *src, uint32_t nbits)
{
    for (size_t w = 0; w < (nbits + 63) / 64; w++) {
        dst[w] |= src[w];
    }
}

/* --- error rendering --------------------------------------------------------------- */

static uint32_t seg_bytes(const struct path *p)
{
    return p->len == SEG_NT ? (uint32_t)strlen(p->s) : p->len;
}

static size_t seg_len(const struct path *p, char *num)
{
    if (!p->s) {
        return (size_t)snprintf(num, 24, "%" PRIu64, p->idx);
    }
    uint32_t len = seg_bytes(p);
    size_t n = len;
    for (uint32_t i = 0; i < len; i++) {
        if (p->s[i] == '~' || p->s[i] == '/') {
            n++;
        }
    }
    return n;
}

static char *render(struct ectx *c, const struct path *p)
{
    size_t total = 0, depth = 0;
    char num[24];
    for (const struct path *q = p; q; q = q->up) {
        total += 1 + seg_len(q, num);
        depth++;
    }
    char *out = wr_arena_alloc(c->a, total + 1);
    if (!out) {
        return NULL;
    }
    size_t end = total;
    out[end] = '\0';
    for (const struct path *q = p; q; q = q->up) {
        size_t l = seg_len(q, num);
        end -= l;
        if (!q->s) {
            memcpy(out + end, num, l);
        } else {
            size_t o = end;
            uint32_t len = seg_bytes(q);
            for (uint32_t i = 0; i < len; i++) {
                if (q->s[i] == '~') {
                    out[o++] = '~';
                    out[o++] = '0';
                } else if (q->s[i] == '/') {
                    out[o++] = '~';
                    out[o++] = '1';
                } else {
                    out[o++] = q->s[i];
                }
            }
        }
        out[--end] = '/';
    }
    return out;
}

__attribute__((format(printf, 5, 6))) static void report(struct ectx *c, const struct path *ip,
                                                         const struct path *sp, const char *kw,
                                                         const char *fmt, ...)
{
    if (!c->collect || c->halted) {
        return;
    }
    size_t k = c->count++;
    if (k >= c->max_errors || c->nomem) {
        return;
    }
    if (!c->errs) {
        c->errs = wr_arena_alloc(c->a, c->max_errors * sizeof(struct val_error));
        if (!c->errs) {
            c->nomem = true;
            c->count = k;
            return;
        }
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct val_error *e = &c->errs[k];
    e->instance_path = render(c, ip);
    e->schema_path = render(c, sp);
    e->keyword = kw;
    e->message = wr_arena_strndup(c->a, msg, strlen(msg));
    if (!e->instance_path || !e->schema_path || !e->message) {
        c->nomem = true;
        c->count = k;
    }
}

/* Forgets the violations found after mark (a branch of anyOf that did not matter). */
static void rollback(struct ectx *c, size_t mark)
{
    if (c->halted) {
        return; /* keep the reason the validation stopped */
    }
    if (c->count > mark) {
        c->count = mark;
    }
}

/* Stops the whole validation: every frame returns false from here on, so a `not` or an
 * `anyOf` cannot turn an abandoned evaluation into a verdict, and the loops over items
 * and members end at once. Reported once. */
static void halt(struct ectx *c, const struct path *ip, const struct path *sp, const char *kw,
                 const char *msg, const char *detail)
{
    if (c->halted) {
        return;
    }
    /* Said even inside `not` or `contains`, which otherwise collect nothing. */
    bool saved = c->collect;
    c->collect = c->want;
    /* The reason takes the last slot when the list is full: it must be in the list. */
    size_t before = c->count;
    if (c->errs && before >= c->max_errors) {
        c->count = c->max_errors - 1;
    }
    report(c, ip, sp, kw, "%s%s", msg, detail ? detail : "");
    if (before >= c->max_errors) {
        c->count = before + 1;
    }
    c->collect = saved;
    c->halted = true;
    c->max_steps = 0;
}

/* --- values ------------------------------------------------------------------------- */

static const char *type_name(const struct js_val *v)
{
    switch (v->type) {
    case JS_NULL:
        return "null";
    case JS_TRUE:
    case JS_FALSE:
        return "boolean";
    case JS_INT:
        return "integer";
    case JS_REAL:
        return (v->flags & JS_F_BIGINT) ? "integer" : "number";
    case JS_STRING:
        return "string";
    case JS_ARRAY:
        return "array";
    default:
        return "object";
    }
}

static bool is_integer(const struct js_val *v)
{
    if (v->type == JS_INT) {
        return true;
    }
    return v->type == JS_REAL && isfinite(v->u.d) && v->u.d == floor(v->u.d);
}

static unsigned type_bit(const struct js_val *v)
{
    switch (v->type) {
    case JS_NULL:
        return VAL__T_NULL;
    case JS_TRUE:
    case JS_FALSE:
        return VAL__T_BOOLEAN;
    case JS_INT:
        return VAL__T_NUMBER | VAL__T_INTEGER;
    case JS_REAL:
        return is_integer(v) ? (VAL__T_NUMBER | VAL__T_INTEGER) : VAL__T_NUMBER;
    case JS_STRING:
        return VAL__T_STRING;
    case JS_ARRAY:
        return VAL__T_ARRAY;
    default:
        return VAL__T_OBJECT;
    }
}

static void types_text(unsigned t, char *out, size_t cap)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < 7; i++) {
        if (t & (1u << i)) {
            int w = snprintf(out + o, cap - o, "%s%s", o ? " or " : "", names[i]);
            if (w < 0 || (size_t)w >= cap - o) {
                return;
            }
            o += (size_t)w;
        }
    }
}

/* -1, 0, 1 as the instance number v compares to the schema number m. */
static int num_cmp(const struct js_val *v, const struct val__num *m)
{
    if (v->type == JS_INT && m->is_int) {
        return (v->u.i > m->i) - (v->u.i < m->i);
    }
    long double x = v->type == JS_INT ? (long double)v->u.i : (long double)v->u.d;
    long double y = m->is_int ? (long double)m->i : (long double)m->d;
    return (x > y) - (x < y);
}

/* The shortest text that reads back as d (0.1, not 0.10000000000000001). */
static void double_text(double d, char *out, size_t cap)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, d);
        if (strtod(out, NULL) == d) {
            return;
        }
    }
}

static void num_text(const struct val__num *m, char *out, size_t cap)
{
    if (m->is_int) {
        snprintf(out, cap, "%" PRId64, m->i);
    } else {
        double_text(m->d, out, cap);
    }
}

static void value_text(const struct js_val *v, char *out, size_t cap)
{
    if (v->type == JS_INT) {
        snprintf(out, cap, "%" PRId64, v->u.i);
    } else {
        double_text(v->u.d, out, cap);
    }
}

/* The shortest decimal digits of d (> 0, finite): d == *mant * 10^*exp, mant without
 * trailing zeros. */
static void decimal_of(double d, uint64_t *mant, int *exp)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, d);
        if (strtod(buf, NULL) == d || p == 17) {
            uint64_t m = 0;
            const char *s = buf;
            int digits = 0;
            for (; *s && *s != 'e'; s++) {
                if (*s >= '0' && *s <= '9') {
                    m = m * 10 + (uint64_t)(*s - '0');
                    digits++;
                }
            }
            int e = (int)strtol(s + 1, NULL, 10) - (digits - 1);
            while (m != 0 && m % 10 == 0) {
                m /= 10;
                e++;
            }
            *mant = m;
            *exp = e;
            return;
        }
    }
}

static bool multiple_of(const struct js_val *v, const struct val__num *m)
{
    if (v->type == JS_INT && m->is_int) {
        return m->i != 0 && v->u.i % m->i == 0;
    }
    uint64_t dx, dm;
    int ex, em;
    if (v->type == JS_INT) {
        if (v->u.i == 0) {
            return true;
        }
        dx = v->u.i < 0 ? (uint64_t)0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        ex = 0;
        while (dx % 10 == 0) {
            dx /= 10;
            ex++;
        }
    } else {
        if (v->u.d == 0) {
            return true;
        }
        if (!isfinite(v->u.d)) {
            return false;
        }
        decimal_of(fabs(v->u.d), &dx, &ex);
    }
    if (m->is_int) {
        dm = m->i < 0 ? (uint64_t)0 - (uint64_t)m->i : (uint64_t)m->i;
        em = 0;
        while (dm % 10 == 0) {
            dm /= 10;
            em++;
        }
    } else {
        decimal_of(fabs(m->d), &dm, &em);
    }
    if (dm == 0) {
        return false;
    }
    int k = ex - em;
    if (k >= 0) {
        /* dx * 10^k mod dm, digit by digit: dm < 10^18 keeps r * 10 within 64 bits. */
        uint64_t r = dx % dm;
        for (int i = 0; i < k && r != 0; i++) {
            r = (r * 10) % dm;
        }
        return r == 0;
    }
    uint64_t p = dm;
    for (int i = 0; i < -k; i++) {
        if (p > UINT64_MAX / 10) {
            return false;
        }
        p *= 10;
    }
    return dx % p == 0;
}

static const struct js_val *obj_get(const struct js_val *o, const char *name, uint32_t len)
{
    for (uint32_t i = 0; i < o->n; i++) {
        const struct js_member *m = &o->u.members[i];
        if (m->name_len == len && memcmp(m->name, name, len) == 0) {
            return &m->val;
        }
    }
    return NULL;
}

static inline const struct val__named *name_lookup(const struct val__named *t,
                                                   const struct val__nameidx *ix,
                                                   const char *name, uint32_t len)
{
    uint64_t tag = val__name_tag(name, len);
    for (uint32_t k = val__name_hash(name, len) & ix->mask;; k = (k + 1) & ix->mask) {
        uint64_t slot = ix->slots[k];
        if (!slot) {
            return NULL;
        }
        if ((slot & ~(uint64_t)0xFFFFFFFFu) != tag) {
            continue;
        }
        const struct val__named *e = &t[(uint32_t)slot - 1];
        if (e->len == len && val__bytes_eq(e->name, name, len)) {
            return e;
        }
    }
}

static bool is_false(const struct val__node *n)
{
    return n->n_ops == 1 && n->ops[0].kind == VAL__OP_FALSE;
}

/* --- keywords -------------------------------------------------------------------- */

static bool unique_items(struct ectx *c, const struct js_val *v, uint32_t *dup_a, uint32_t *dup_b)
{
    uint32_t n = v->n;
    if (n <= 16) {
        for (uint32_t i = 0; i < n; i++) {
            for (uint32_t j = i + 1; j < n; j++) {
                if (val__equal(&v->u.items[i], &v->u.items[j])) {
                    *dup_a = i;
                    *dup_b = j;
                    return false;
                }
            }
        }
        return true;
    }
    /* An open-addressed table of item indexes keyed by a keyed hash (val__hash): linear,
     * not quadratic, whatever items a client crafts. A slot holds the hash's top 32 bits
     * and the index + 1; the bottom bits pick the slot. */
    size_t mark = c->scratch_used;
    uint32_t size = 1;
    while (size < 2 * n) {
        size *= 2;
    }
    uint64_t *tab = bits_alloc(c, (size_t)size * 64);
    if (!tab) {
        return false;
    }
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; i++) {
        uint64_t hh = val__hash(&v->u.items[i]);
        uint32_t h = (uint32_t)(hh >> 32);
        uint32_t k = (uint32_t)hh & (size - 1);
        while (tab[k]) {
            uint32_t j = (uint32_t)(tab[k] & 0xffffffffu) - 1;
            if ((uint32_t)(tab[k] >> 32) == h && val__equal(&v->u.items[j], &v->u.items[i])) {
                *dup_a = j;
                *dup_b = i;
                ok = false;
                break;
            }
            k = (k + 1) & (size - 1);
        }
        tab[k] = ((uint64_t)h << 32) | (uint64_t)(i + 1);
    }
    c->scratch_used = mark;
    return ok;
}

static bool enum_has(const struct val__op *op, const struct js_val *v)
{
    if (op->u.en.hash) {
        uint64_t h = val__hash(v);
        for (uint32_t i = 0; i < op->u.en.n; i++) {
            if (op->u.en.hash[i] == h && val__equal(&op->u.en.items[i], v)) {
                return true;
            }
        }
        return false;
    }
    for (uint32_t i = 0; i < op->u.en.n; i++) {
        if (val__equal(&op->u.en.items[i], v)) {
            return true;
        }
    }
    return false;
}

/* The common leaf keywords without their error reporting: 1 holds, 0 fails, -1 not a
 * leaf keyword (or a verdict that needs the full check). Keeps the fast path out of
 * run_op's large frame. */
__attribute__((always_inline)) static inline int quick(const struct val__op *op,
                                                       const struct js_val *v)
{
    switch ((enum val__op_kind)op->kind) {
    case VAL__OP_TYPE:
        return (type_bit(v) & op->u.types) != 0;
    case VAL__OP_MAXIMUM:
    case VAL__OP_EX_MAXIMUM:
    case VAL__OP_MINIMUM:
    case VAL__OP_EX_MINIMUM: {
        if (v->type != JS_INT && v->type != JS_REAL) {
            return 1;
        }
        int r = num_cmp(v, &op->u.num);
        return op->kind == VAL__OP_MAXIMUM      ? r <= 0
               : op->kind == VAL__OP_EX_MAXIMUM ? r < 0
               : op->kind == VAL__OP_MINIMUM    ? r >= 0
                                                : r > 0;
    }
    case VAL__OP_MAX_LENGTH:
        return v->type != JS_STRING || v->n <= op->u.count ? 1 : -1;
    case VAL__OP_MIN_LENGTH:
        return v->type != JS_STRING || (uint64_t)v->n / 4 >= op->u.count ? 1 : -1;
    case VAL__OP_ENUM:
        return enum_has(op, v);
    case VAL__OP_CONST:
        return val__equal(op->u.value, v);
    case VAL__OP_FORMAT:
        return v->type != JS_STRING || val__fmt_check(op->u.fmt, v->u.s, v->n);
    case VAL__OP_PATTERN: {
        if (v->type != JS_STRING) {
            return 1;
        }
        /* An abandoned search is no verdict: run_op halts the validation. */
        int r = val__regex_search_utf8(op->u.re, v->u.s, v->n);
        return r < 0 ? -1 : r > 0;
    }
    case VAL__OP_MAX_ITEMS:
        return v->type != JS_ARRAY || v->n <= op->u.count;
    case VAL__OP_MIN_ITEMS:
        return v->type != JS_ARRAY || v->n >= op->u.count;
    case VAL__OP_MAX_PROPERTIES:
        return v->type != JS_OBJECT || v->n <= op->u.count;
    case VAL__OP_MIN_PROPERTIES:
        return v->type != JS_OBJECT || v->n >= op->u.count;
    default:
        return -1;
    }
}


/* A leaf node's verdict without entering ev: 1 holds (nothing to report), else unknown
 * (the caller runs ev, which reports). */
static inline bool leaf_holds(const struct val__node *n, const struct js_val *v)
{
    if (!n->leaf) {
        return false;
    }
    for (uint32_t i = 0; i < n->n_ops; i++) {
        if (quick(&n->ops[i], v) != 1) {
            return false;
        }
    }
    return true;
}

__attribute__((noinline)) static bool run_props(struct ectx *c, const struct val__op *op,
                                                const struct js_val *v,
                      const struct path *ip, const struct path *sp, const struct scope *sc,
                      uint64_t *ann)
{
    bool ok = true;
    uint32_t req_seen = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        if (c->halted) {
            return false;
        }
        const struct js_member *m = &v->u.members[i];
        struct path mip = {ip, m->name, m->name_len, 0};
        bool matched = false;
        if (op->u.props.n_props) {
            const struct val__named *e = name_lookup(op->u.props.props, &op->u.props.idx,
                                                     m->name, m->name_len);
            if (e) {
                matched = true;
                req_seen += e->req;
                struct path k = {sp, op->u.props.props_kw, SEG_NT, 0};
                struct path s = {&k, e->name, e->len, 0};
                if (is_false(e->node)) {
                    report(c, &mip, &s, "properties", "property \"%.*s\" is not allowed",
                           (int)m->name_len, m->name);
                    ok = false;
                } else if (!leaf_holds(e->node, &m->val) &&
                           !ev(c, e->node, &m->val, &mip, &s, sc, NULL)) {
                    ok = false;
                }
                if (!ok && !c->collect) {
                    return false;
                }
            }
        }
        for (uint32_t p = 0; p < op->u.props.n_pats; p++) {
            const struct val__pat *pt = &op->u.props.pats[p];
            int r = val__regex_search_utf8(pt->re, m->name, m->name_len);
            if (r < 0) {
                struct path k = {sp, op->u.props.pats_kw, SEG_NT, 0};
                struct path s = {&k, pt->src, SEG_NT, 0};
                halt(c, &mip, &s, "patternProperties", "pattern match abandoned (too complex)",
                     NULL);
                return false;
            } else if (r > 0) {
                matched = true;
                struct path k = {sp, op->u.props.pats_kw, SEG_NT, 0};
                struct path s = {&k, pt->src, SEG_NT, 0};
                if (!ev(c, pt->node, &m->val, &mip, &s, sc, NULL)) {
                    ok = false;
                }
            }
            if (!ok && !c->collect) {
                return false;
            }
        }
        if (!matched && op->u.props.additional) {
            matched = true;
            struct path s = {sp, op->u.props.add_kw, SEG_NT, 0};
            if (is_false(op->u.props.additional)) {
                report(c, &mip, &s, "additionalProperties",
                       "property \"%.*s\" is not allowed", (int)m->name_len, m->name);
                ok = false;
            } else if (!leaf_holds(op->u.props.additional, &m->val) &&
                       !ev(c, op->u.props.additional, &m->val, &mip, &s, sc, NULL)) {
                ok = false;
            }
            if (!ok && !c->collect) {
                return false;
            }
        }
        if (matched && ann) {
            bit_set(ann, i);
        }
    }
    if (req_seen < op->u.props.n_req && !c->collect) {
        /* The fused `required` (skipped by ev on the fast path) does not hold. */
        return false;
    }
    return ok;
}

__attribute__((noinline)) static bool run_items(struct ectx *c, const struct val__op *op,
                                                const struct js_val *v,
                      const struct path *ip, const struct path *sp, const struct scope *sc,
                      uint64_t *ann)
{
    bool ok = true;
    uint32_t np = op->u.items.n_prefix;
    for (uint32_t i = 0; i < v->n; i++) {
        if (c->halted) {
            return false;
        }
        const struct val__node *sub;
        struct path k, s;
        const char *kw;
        if (i < np) {
            sub = op->u.items.prefix[i];
            kw = op->u.items.prefix_kw;
            k = (struct path){sp, kw, SEG_NT, 0};
            s = (struct path){&k, NULL, 0, i};
        } else if (op->u.items.rest) {
            sub = op->u.items.rest;
            kw = op->u.items.rest_kw;
            s = (struct path){sp, kw, SEG_NT, 0};
        } else {
            break;
        }
        struct path iip = {ip, NULL, 0, i};
        if (is_false(sub)) {
            report(c, &iip, i < np ? &s : &s, kw, "array item %" PRIu32 " is not allowed", i);
            ok = false;
        } else if (!leaf_holds(sub, &v->u.items[i]) &&
                   !ev(c, sub, &v->u.items[i], &iip, &s, sc, NULL)) {
            ok = false;
        }
        if (!ok && !c->collect) {
            return false;
        }
        if (ann) {
            bit_set(ann, i);
        }
    }
    return ok;
}

static bool run_op(struct ectx *c, const struct val__op *op, const struct js_val *v,
                   const struct path *ip, const struct path *sp0, const struct scope *sc,
                   uint64_t *ann)
{
    struct path spk = {sp0, op->kw, SEG_NT, 0};
    const struct path *sp = &spk;
    char t1[96], t2[48];
    switch ((enum val__op_kind)op->kind) {
    case VAL__OP_FALSE:
        report(c, ip, sp0, "false", "no value is allowed here (false schema)");
        return false;
    case VAL__OP_TYPE:
        if (type_bit(v) & op->u.types) {
            return true;
        }
        if (c->collect) {
            types_text(op->u.types, t1, sizeof t1);
            report(c, ip, sp, "type", "expected %s, got %s", t1, type_name(v));
        }
        return false;
    case VAL__OP_CONST:
        if (val__equal(op->u.value, v)) {
            return true;
        }
        report(c, ip, sp, "const", "value does not equal the constant");
        return false;
    case VAL__OP_ENUM:
        if (enum_has(op, v)) {
            return true;
        }
        report(c, ip, sp, "enum", "value is not one of the %" PRIu32 " allowed values",
               op->u.en.n);
        return false;
    case VAL__OP_MULTIPLE_OF:
        if (v->type != JS_INT && v->type != JS_REAL) {
            return true;
        }
        if (multiple_of(v, &op->u.num)) {
            return true;
        }
        if (c->collect) {
            num_text(&op->u.num, t2, sizeof t2);
            value_text(v, t1, sizeof t1);
            report(c, ip, sp, "multipleOf", "expected a multiple of %s, got %s", t2, t1);
        }
        return false;
    case VAL__OP_MAXIMUM:
    case VAL__OP_EX_MAXIMUM:
    case VAL__OP_MINIMUM:
    case VAL__OP_EX_MINIMUM: {
        if (v->type != JS_INT && v->type != JS_REAL) {
            return true;
        }
        int r = num_cmp(v, &op->u.num);
        bool good = op->kind == VAL__OP_MAXIMUM      ? r <= 0
                    : op->kind == VAL__OP_EX_MAXIMUM ? r < 0
                    : op->kind == VAL__OP_MINIMUM    ? r >= 0
                                                     : r > 0;
        if (good) {
            return true;
        }
        if (c->collect) {
            num_text(&op->u.num, t2, sizeof t2);
            value_text(v, t1, sizeof t1);
            const char *rel = op->kind == VAL__OP_MAXIMUM      ? "at most"
                              : op->kind == VAL__OP_EX_MAXIMUM ? "less than"
                              : op->kind == VAL__OP_MINIMUM    ? "at least"
                                                               : "greater than";
            report(c, ip, sp, op->kw, "expected %s %s, got %s", rel, t2, t1);
        }
        return false;
    }
    case VAL__OP_MAX_LENGTH:
    case VAL__OP_MIN_LENGTH: {
        if (v->type != JS_STRING) {
            return true;
        }
        /* Bytes bound code points from above, code points bound bytes/4 from below. */
        uint64_t lim = op->u.count;
        if (op->kind == VAL__OP_MAX_LENGTH && v->n <= lim) {
            return true;
        }
        if (op->kind == VAL__OP_MIN_LENGTH && (uint64_t)v->n / 4 >= lim) {
            return true;
        }
        size_t cp = val__codepoints(v->u.s, v->n);
        bool good = op->kind == VAL__OP_MAX_LENGTH ? cp <= lim : cp >= lim;
        if (!good) {
            report(c, ip, sp, op->kw, "expected a string of %s %" PRIu64 " characters, got %zu",
                   op->kind == VAL__OP_MAX_LENGTH ? "at most" : "at least", lim, cp);
        }
        return good;
    }
    case VAL__OP_PATTERN: {
        if (v->type != JS_STRING) {
            return true;
        }
        int r = val__regex_search_utf8(op->u.re, v->u.s, v->n);
        if (r > 0) {
            return true;
        }
        if (r < 0) {
            halt(c, ip, sp, "pattern", "pattern match abandoned (too complex): ", op->pat_src);
        } else {
            report(c, ip, sp, "pattern", "string does not match the pattern %s", op->pat_src);
        }
        return false;
    }
    case VAL__OP_FORMAT:
        if (v->type != JS_STRING || val__fmt_check(op->u.fmt, v->u.s, v->n)) {
            return true;
        }
        report(c, ip, sp, "format", "string is not a valid %s", val__fmt_name(op->u.fmt));
        return false;
    case VAL__OP_MAX_ITEMS:
    case VAL__OP_MIN_ITEMS:
        if (v->type != JS_ARRAY) {
            return true;
        }
        if (op->kind == VAL__OP_MAX_ITEMS ? v->n <= op->u.count : v->n >= op->u.count) {
            return true;
        }
        report(c, ip, sp, op->kw, "expected an array of %s %" PRIu64 " items, got %" PRIu32,
               op->kind == VAL__OP_MAX_ITEMS ? "at most" : "at least", op->u.count, v->n);
        return false;
    case VAL__OP_MAX_PROPERTIES:
    case VAL__OP_MIN_PROPERTIES:
        if (v->type != JS_OBJECT) {
            return true;
        }
        if (op->kind == VAL__OP_MAX_PROPERTIES ? v->n <= op->u.count : v->n >= op->u.count) {
            return true;
        }
        report(c, ip, sp, op->kw,
               "expected an object of %s %" PRIu64 " properties, got %" PRIu32,
               op->kind == VAL__OP_MAX_PROPERTIES ? "at most" : "at least", op->u.count, v->n);
        return false;
    case VAL__OP_UNIQUE_ITEMS: {
        if (v->type != JS_ARRAY) {
            return true;
        }
        uint32_t a = 0, b = 0;
        if (unique_items(c, v, &a, &b)) {
            return true;
        }
        report(c, ip, sp, "uniqueItems", "array items %" PRIu32 " and %" PRIu32 " are equal",
               a, b);
        return false;
    }
    case VAL__OP_CONTAINS: {
        if (v->type != JS_ARRAY) {
            return true;
        }
        bool saved = c->collect;
        uint64_t hits = 0;
        c->collect = false;
        for (uint32_t i = 0; i < v->n && !c->halted; i++) {
            struct path iip = {ip, NULL, 0, i};
            if (ev(c, op->u.contains.node, &v->u.items[i], &iip, sp, sc, NULL)) {
                hits++;
                if (ann) {
                    bit_set(ann, i);
                }
            }
        }
        c->collect = saved;
        if (c->halted) {
            return false;
        }
        uint64_t lo = op->u.contains.has_min ? op->u.contains.min : 1;
        if (hits < lo) {
            if (op->u.contains.has_min) {
                struct path s = {sp0, "minContains", 11, 0};
                report(c, ip, &s, "minContains",
                       "expected at least %" PRIu64 " items matching contains, got %" PRIu64,
                       lo, hits);
            } else {
                report(c, ip, sp, "contains", "no array item matches the contains schema");
            }
            return false;
        }
        if (op->u.contains.has_max && hits > op->u.contains.max) {
            struct path s = {sp0, "maxContains", 11, 0};
            report(c, ip, &s, "maxContains",
                   "expected at most %" PRIu64 " items matching contains, got %" PRIu64,
                   op->u.contains.max, hits);
            return false;
        }
        return true;
    }
    case VAL__OP_REQUIRED: {
        if (v->type != JS_OBJECT) {
            return true;
        }
        if (v->n >= op->u.list.n_sorted) {
            /* Member names are unique, so counting the members that are required names
             * proves presence in one pass over the instance. */
            uint32_t found = 0;
            for (uint32_t i = 0; i < v->n; i++) {
                const struct js_member *m = &v->u.members[i];
                found += name_lookup(op->u.list.sorted, &op->u.list.idx, m->name,
                                     m->name_len) != NULL;
            }
            if (found == op->u.list.n_sorted) {
                return true;
            }
        }
        bool ok = true;
        for (uint32_t i = 0; i < op->u.list.n; i++) {
            const struct val__named *e = &op->u.list.names[i];
            if (!obj_get(v, e->name, e->len)) {
                report(c, ip, sp, "required", "missing required property \"%.*s\"",
                       (int)e->len, e->name);
                ok = false;
                if (!c->collect) {
                    return false;
                }
            }
        }
        return ok;
    }
    case VAL__OP_DEP_REQUIRED: {
        if (v->type != JS_OBJECT) {
            return true;
        }
        bool ok = true;
        for (uint32_t i = 0; i < op->u.list.n; i++) {
            const struct val__named *e = &op->u.list.names[i];
            if (!obj_get(v, e->name, e->len)) {
                continue;
            }
            for (uint32_t j = 0; j < e->n_names; j++) {
                if (!obj_get(v, e->names[j], e->name_lens[j])) {
                    struct path s = {sp, e->name, e->len, 0};
                    report(c, ip, &s, op->kw,
                           "property \"%.*s\" requires property \"%.*s\"", (int)e->len,
                           e->name, (int)e->name_lens[j], e->names[j]);
                    ok = false;
                    if (!c->collect) {
                        return false;
                    }
                }
            }
        }
        return ok;
    }
    case VAL__OP_DEP_SCHEMAS: {
        if (v->type != JS_OBJECT) {
            return true;
        }
        bool ok = true;
        for (uint32_t i = 0; i < op->u.list.n; i++) {
            const struct val__named *e = &op->u.list.names[i];
            if (!obj_get(v, e->name, e->len)) {
                continue;
            }
            struct path s = {sp, e->name, e->len, 0};
            if (!ev(c, e->node, v, ip, &s, sc, ann)) {
                ok = false;
                if (!c->collect) {
                    return false;
                }
            }
        }
        return ok;
    }
    case VAL__OP_PROPS:
        if (v->type != JS_OBJECT) {
            return true;
        }
        return run_props(c, op, v, ip, sp0, sc, ann);
    case VAL__OP_PROPERTY_NAMES: {
        if (v->type != JS_OBJECT) {
            return true;
        }
        bool ok = true;
        for (uint32_t i = 0; i < v->n && !c->halted; i++) {
            const struct js_member *m = &v->u.members[i];
            struct js_val name;
            memset(&name, 0, sizeof name);
            name.type = JS_STRING;
            name.n = m->name_len;
            name.u.s = m->name;
            struct path mip = {ip, m->name, m->name_len, 0};
            if (!ev(c, op->u.sub, &name, &mip, sp, sc, NULL)) {
                ok = false;
                if (!c->collect) {
                    return false;
                }
            }
        }
        return ok;
    }
    case VAL__OP_ITEMS:
        if (v->type != JS_ARRAY) {
            return true;
        }
        return run_items(c, op, v, ip, sp0, sc, ann);
    case VAL__OP_ALL_OF: {
        bool ok = true;
        for (uint32_t i = 0; i < op->u.group.n; i++) {
            struct path s = {sp, NULL, 0, i};
            if (!ev(c, op->u.group.subs[i], v, ip, &s, sc, ann)) {
                ok = false;
                if (!c->collect) {
                    return false;
                }
            }
        }
        return ok;
    }
    case VAL__OP_ANY_OF:
    case VAL__OP_ONE_OF: {
        size_t mark = c->count;
        size_t smark = c->scratch_used;
        uint32_t nbits = (v->type == JS_OBJECT || v->type == JS_ARRAY) ? v->n : 0;
        uint32_t passed = 0, first = 0, second = 0;
        bool one = op->kind == VAL__OP_ONE_OF;
        for (uint32_t i = 0; i < op->u.group.n; i++) {
            struct path s = {sp, NULL, 0, i};
            uint64_t *tmp = ann ? bits_alloc(c, nbits) : NULL;
            bool sub_collect = c->collect;
            if (passed > 0 && !one) {
                /* Once anyOf holds, later branches matter only for annotations. */
                c->collect = false;
            }
            bool r = ev(c, op->u.group.subs[i], v, ip, &s, sc, tmp);
            c->collect = sub_collect;
            if (r) {
                if (passed == 0) {
                    first = i;
                } else if (passed == 1) {
                    second = i;
                }
                passed++;
                if (tmp) {
                    bits_or(ann, tmp, nbits);
                }
                if (!ann && !one) {
                    break;
                }
                if (one && passed > 1 && !c->collect) {
                    break;
                }
            }
        }
        c->scratch_used = smark;
        if (one ? passed == 1 : passed > 0) {
            rollback(c, mark);
            return true;
        }
        if (passed > 1) {
            rollback(c, mark);
            report(c, ip, sp, "oneOf",
                   "value matches more than one subschema (%" PRIu32 " and %" PRIu32 ")", first,
                   second);
        } else if (c->count == mark) {
            report(c, ip, sp, op->kw, "value matches none of the subschemas");
        }
        return false;
    }
    case VAL__OP_NOT: {
        bool saved = c->collect;
        c->collect = false;
        bool r = ev(c, op->u.sub, v, ip, sp, sc, NULL);
        c->collect = saved;
        if (!r) {
            return true;
        }
        report(c, ip, sp, "not", "value must not match the schema under not");
        return false;
    }
    case VAL__OP_IF: {
        bool saved = c->collect;
        size_t smark = c->scratch_used;
        uint32_t nbits = (v->type == JS_OBJECT || v->type == JS_ARRAY) ? v->n : 0;
        uint64_t *tmp = ann ? bits_alloc(c, nbits) : NULL;
        c->collect = false;
        bool r = ev(c, op->u.cond.cond, v, ip, sp, sc, tmp);
        c->collect = saved;
        if (r && tmp) {
            bits_or(ann, tmp, nbits);
        }
        c->scratch_used = smark;
        const struct val__node *next = r ? op->u.cond.then_ : op->u.cond.else_;
        if (!next) {
            return true;
        }
        struct path s = {sp0, r ? "then" : "else", 4, 0};
        return ev(c, next, v, ip, &s, sc, ann);
    }
    case VAL__OP_REF:
        return ev(c, op->u.sub, v, ip, sp, sc, ann);
    case VAL__OP_DYNAMIC_REF: {
        const struct val__node *t = op->u.dyn.target;
        if (op->u.dyn.anchor) {
            /* The outermost resource in the dynamic scope that defines the anchor. */
            for (const struct scope *q = sc; q; q = q->up) {
                const struct val__res *r = q->res;
                for (uint32_t i = 0; i < r->n_dyn; i++) {
                    if (strcmp(r->dyn[i].name, op->u.dyn.anchor) == 0) {
                        t = r->dyn[i].node;
                        break;
                    }
                }
            }
        }
        return ev(c, t, v, ip, sp, sc, ann);
    }
    case VAL__OP_UNEVAL_ITEMS:
    case VAL__OP_UNEVAL_PROPS: {
        bool is_props = op->kind == VAL__OP_UNEVAL_PROPS;
        if (v->type != (is_props ? JS_OBJECT : JS_ARRAY)) {
            return true;
        }
        bool ok = true;
        for (uint32_t i = 0; i < v->n && !c->halted; i++) {
            if (ann && bit_get(ann, i)) {
                continue;
            }
            struct path mip = is_props ? (struct path){ip, v->u.members[i].name,
                                                       v->u.members[i].name_len, 0}
                                       : (struct path){ip, NULL, 0, i};
            const struct js_val *x = is_props ? &v->u.members[i].val : &v->u.items[i];
            if (is_false(op->u.sub)) {
                if (is_props) {
                    report(c, &mip, sp, op->kw, "property \"%.*s\" is not allowed (unevaluated)",
                           (int)v->u.members[i].name_len, v->u.members[i].name);
                } else {
                    report(c, &mip, sp, op->kw, "array item %" PRIu32 " is not allowed (unevaluated)", i);
                }
                ok = false;
            } else if (!ev(c, op->u.sub, x, &mip, sp, sc, NULL)) {
                ok = false;
            }
            if (!ok && !c->collect) {
                return false;
            }
            if (ann) {
                bit_set(ann, i);
            }
        }
        return ok;
    }
    }
    return true;
}

static bool ev(struct ectx *c, const struct val__node *n, const struct js_val *v,
               const struct path *ip, const struct path *sp, const struct scope *sc,
               uint64_t *ann)
{
    if (n->n_ops == 0) {
        return true;
    }
    /* One compare on the hot path: halt() also drops the budget to 0, so a halted
     * validation ends here too. */
    if (++c->steps > c->max_steps) {
        if (!c->halted) {
            char lim[64];
            snprintf(lim, sizeof lim, " (%" PRIu64 " steps)", c->max_steps);
            halt(c, ip, sp, "cost", "validation abandoned: over the evaluation step budget", lim);
        }
        return false;
    }
    if (++c->depth > c->max_depth) {
        c->depth--;
        report(c, ip, sp, "depth", "schema evaluation nested too deep");
        return false;
    }
    struct scope mine;
    if (n->res && (!sc || sc->res != n->res)) {
        mine.up = sc;
        mine.res = n->res;
        sc = &mine;
    }
    size_t smark = c->scratch_used;
    uint64_t *local = ann;
    uint32_t nbits = (v->type == JS_OBJECT || v->type == JS_ARRAY) ? v->n : 0;
    if (n->needs_ann && nbits) {
        /* unevaluated* sees only this schema's annotations, not its siblings'. */
        local = bits_alloc(c, nbits);
    }
    bool ok = true;
    for (uint32_t i = 0; i < n->n_ops; i++) {
        int q = quick(&n->ops[i], v);
        if (q == 1) {
            continue;
        }
        if (q == 0 && !c->collect) {
            ok = false;
            break;
        }
        const struct val__op *op = &n->ops[i];
        if (op->fused && !c->collect) {
            continue;
        }
        bool r;
        /* The structural keywords go straight to their loops, past run_op's frame. */
        if (op->kind == VAL__OP_PROPS) {
            r = v->type != JS_OBJECT || run_props(c, op, v, ip, sp, sc, local);
        } else if (op->kind == VAL__OP_ITEMS) {
            r = v->type != JS_ARRAY || run_items(c, op, v, ip, sp, sc, local);
        } else if (op->kind == VAL__OP_REF) {
            struct path spk = {sp, op->kw, SEG_NT, 0};
            r = leaf_holds(op->u.sub, v) || ev(c, op->u.sub, v, ip, &spk, sc, local);
        } else {
            r = run_op(c, op, v, ip, sp, sc, local);
        }
        if (!r) {
            ok = false;
            if (!c->collect || c->halted) {
                break;
            }
        }
    }
    if (local != ann && ann && local && ok) {
        bits_or(ann, local, nbits);
    }
    c->scratch_used = smark;
    c->depth--;
    return ok;
}

static void ctx_free(struct ectx *c)
{
    while (c->heap) {
        struct heapblk *h = c->heap;
        c->heap = h->next;
        free(h);
    }
}

/* The step budget of one validation: fixed by the schema's options, else proportional
 * to the instance's size in the request (an instance built in memory has no size and
 * gets the base). */
static uint64_t step_budget(const val_schema *s, const struct js_val *inst)
{
    if (s->max_steps) {
        return s->max_steps;
    }
    return VAL__STEPS_BASE + (uint64_t)VAL__STEPS_PER_BYTE * inst->src_len;
}

bool val__run(const val_schema *s, const struct val__node *root, const struct js_val *inst,
              wr_arena *a, unsigned max_errors, struct val_result *out, int *rc)
{
    struct ectx c;
    c.collect = out != NULL;
    c.want = out != NULL;
    c.nomem = false;
    c.halted = false;
    c.steps = 0;
    c.max_steps = step_budget(s, inst);
    c.depth = 0;
    c.max_depth = s->max_depth;
    c.a = a;
    c.max_errors = max_errors ? max_errors : 100;
    c.count = 0;
    c.errs = NULL;
    c.scratch_used = 0;
    c.heap = NULL;
    bool ok = ev(&c, root, inst, NULL, NULL, NULL, NULL) && !c.halted;
    ctx_free(&c);
    if (out && c.halted && val__run(s, root, inst, NULL, 0, NULL, NULL)) {
        /* The error pass evaluates branches the boolean pass may skip (every anyOf
         * branch, everything after a failure), so it can run out of budget where the
         * boolean pass did not: the boolean verdict is the verdict. */
        ok = true;
        c.count = 0;
    }
    if (out) {
        out->valid = ok;
        out->truncated = c.count > c.max_errors;
        out->n_errors = ok ? 0 : (c.count < c.max_errors ? c.count : c.max_errors);
        out->errors = ok ? NULL : c.errs;
        if (!ok && out->n_errors == 0 && !c.nomem) {
            /* Cannot happen: every failing path reports; guard the contract anyway. */
            out->n_errors = 0;
        }
        if (rc) {
            *rc = c.nomem ? WR_ENOMEM : 0;
        }
    }
    return ok;
}

bool val_is_valid(const val_schema *s, const struct js_val *inst)
{
    return val__run(s, s->root, inst, NULL, 0, NULL, NULL);
}

int val_validate(const val_schema *s, const struct js_val *inst, wr_arena *a,
                 unsigned max_errors, struct val_result *out)
{
    int rc = 0;
    if (!a) {
        out->valid = val__run(s, s->root, inst, NULL, 0, NULL, NULL);
        out->truncated = false;
        out->n_errors = 0;
        out->errors = NULL;
        return WR_EINVAL;
    }
    val__run(s, s->root, inst, a, max_errors, out, &rc);
    return rc;
}
