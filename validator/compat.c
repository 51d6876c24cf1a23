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
 * unevaluated* whenever anything next to them changed, a `$dynamicRef` that resolves
 * through a dynamic anchor, changed pattern text, combinators of different shape, a
 * property added where O accepted any value (and removed where N accepts any value). */
#include "validator/compat_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            return val__compat_pfmt(c, "%.*s", (int)len, buf);
        }
    }
    return val__compat_childs(c, base, r->kw);
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
    const struct val__op *ot = val__compat_find_op(o, VAL__OP_TYPE),
                         *nt = val__compat_find_op(n, VAL__OP_TYPE);
    unsigned otk = ot ? val__compat_kinds_of_types(ot->u.types) : K_ALL;
    unsigned ntk = nt ? val__compat_kinds_of_types(nt->u.types) : K_ALL;
    if (otk == ntk) {
        return;
    }
    unsigned nar = (ok & ~ntk) ? YES : NO, wid = (nk & ~otk) ? YES : NO;
    const char *what = (otk & ~ntk) && (ntk & ~otk) ? "changed"
                       : (otk & ~ntk)               ? "narrowed"
                                                    : "widened";
    const char *reason = !ot   ? "type added"
                         : !nt ? "type removed"
                               : val__compat_pfmt(c, "type %s", what);
    val__compat_add(c, "type", ot ? val__compat_childs(c, op, "type") : op,
                    nt ? val__compat_childs(c, np, "type") : np, nt != NULL, nar, wid, reason);
}

static void cmp_values(struct cx *c, const struct val__node *o, const struct val__node *n,
                       const char *op, const char *np)
{
    struct vset os = val__compat_vset_of(o), ns = val__compat_vset_of(n);
    if (!os.has && !ns.has) {
        return;
    }
    const char *kw = ns.has ? (ns.const_v ? "const" : "enum") : (os.const_v ? "const" : "enum");
    const char *okw = os.const_v ? "const" : "enum";
    const char *opath = os.has ? val__compat_childs(c, op, okw) : op;
    const char *npath = ns.has ? val__compat_childs(c, np, kw) : np;
    if (!os.has) {
        val__compat_add(c, kw, opath, npath, true, YES, NO, val__compat_pfmt(c, "%s added", kw));
        return;
    }
    if (!ns.has) {
        val__compat_add(c, kw, opath, npath, false, NO, YES,
                        val__compat_pfmt(c, "%s removed", okw));
        return;
    }
    char t[128];
    for (uint32_t i = 0; i < val__compat_vset_count(&os); i++) {
        const struct js_val *v = val__compat_vset_at(&os, i);
        if (val__compat_vset_has(&os, v) && !val__compat_vset_has(&ns, v)) {
            val__compat_vtext(v, t, sizeof t);
            val__compat_add(c, kw, opath, npath, true, YES, NO,
                            val__compat_pfmt(c, "value %s no longer allowed", t));
        }
    }
    for (uint32_t i = 0; i < val__compat_vset_count(&ns); i++) {
        const struct js_val *v = val__compat_vset_at(&ns, i);
        if (val__compat_vset_has(&ns, v) && !val__compat_vset_has(&os, v)) {
            val__compat_vtext(v, t, sizeof t);
            val__compat_add(c, kw, opath, npath, true, NO, YES,
                            val__compat_pfmt(c, "value %s now allowed", t));
        }
    }
}

static void cmp_bound(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, bool lower, unsigned ok, unsigned nk)
{
    struct bound ob = val__compat_bound_of(o, lower), nb = val__compat_bound_of(n, lower);
    if (!ob.has && !nb.has) {
        return;
    }
    if (ob.has && nb.has && ob.excl == nb.excl && val__compat_num_cmp(&ob.v, &nb.v) == 0) {
        return;
    }
    unsigned nar = val__compat_tighter(&nb, &ob, lower) && (ok & K_NUM) ? YES : NO;
    unsigned wid = val__compat_tighter(&ob, &nb, lower) && (nk & K_NUM) ? YES : NO;
    char a[40] = "", b[40] = "";
    if (ob.has) {
        val__compat_ntext(&ob.v, a, sizeof a);
    }
    if (nb.has) {
        val__compat_ntext(&nb.v, b, sizeof b);
    }
    const char *reason;
    if (!ob.has) {
        reason = val__compat_pfmt(c, "%s %s added", nb.kw, b);
    } else if (!nb.has) {
        reason = val__compat_pfmt(c, "%s %s removed", ob.kw, a);
    } else {
        reason = val__compat_pfmt(c, "%s %s %s (was %s %s)", nb.kw, b,
                                  val__compat_tighter(&nb, &ob, lower) ? "tightens" : "relaxes",
                                  ob.kw, a);
    }
    val__compat_add(c, nb.has ? nb.kw : ob.kw, ob.has ? val__compat_childs(c, op, ob.kw) : op,
                    nb.has ? val__compat_childs(c, np, nb.kw) : np, nb.has, nar, wid, reason);
}

static void cmp_multiple(struct cx *c, const struct val__node *o, const struct val__node *n,
                         const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *om = val__compat_find_op(o, VAL__OP_MULTIPLE_OF);
    const struct val__op *nm = val__compat_find_op(n, VAL__OP_MULTIPLE_OF);
    if (!om && !nm) {
        return;
    }
    unsigned nar = !nm ? NO : !om ? YES : val__compat_not_multiple(&om->u.num, &nm->u.num);
    unsigned wid = !om ? NO : !nm ? YES : val__compat_not_multiple(&nm->u.num, &om->u.num);
    /* multipleOf 1 only says "an integer": nothing when the other side has no fractions. */
    if (nm && nm->u.num.is_int && nm->u.num.i == 1 && !(ok & K_FRAC)) {
        nar = NO;
    }
    if (om && om->u.num.is_int && om->u.num.i == 1 && !(nk & K_FRAC)) {
        wid = NO;
    }
    if (om && nm && nar == NO && wid == NO) {
        return; /* equal */
    }
    char a[40] = "", b[40] = "";
    if (om) {
        val__compat_ntext(&om->u.num, a, sizeof a);
    }
    if (nm) {
        val__compat_ntext(&nm->u.num, b, sizeof b);
    }
    const char *reason = !om   ? val__compat_pfmt(c, "multipleOf %s added", b)
                         : !nm ? val__compat_pfmt(c, "multipleOf %s removed", a)
                               : val__compat_pfmt(c, "multipleOf changed from %s to %s", a, b);
    val__compat_add(c, "multipleOf", om ? val__compat_childs(c, op, "multipleOf") : op,
                    nm ? val__compat_childs(c, np, "multipleOf") : np, nm != NULL,
                    (ok & K_NUM) ? nar : NO, (nk & K_NUM) ? wid : NO, reason);
}

/* minLength/maxLength, minItems/maxItems, minProperties/maxProperties. */
static void cmp_count(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned kind, bool lower, unsigned app,
                      unsigned ok, unsigned nk)
{
    const struct val__op *oc = val__compat_find_op(o, kind), *nc = val__compat_find_op(n, kind);
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
    const char *reason = !oc   ? val__compat_pfmt(c, "%s %" PRIu64 " added", kw, nv)
                         : !nc ? val__compat_pfmt(c, "%s %" PRIu64 " removed", kw, ov)
                               : val__compat_pfmt(c, "%s %s from %" PRIu64 " to %" PRIu64, kw,
                                                  tight ? "tightened" : "relaxed", ov, nv);
    val__compat_add(c, kw, oc ? val__compat_childs(c, op, kw) : op,
                    nc ? val__compat_childs(c, np, kw) : np, nc != NULL,
                    tight && (ok & app) ? YES : NO, loose && (nk & app) ? YES : NO, reason);
}

static bool fmt_within(enum val__fmt a, enum val__fmt b)
{
    static const enum val__fmt pairs[][2] = {{VAL__FMT_URI, VAL__FMT_IRI},
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
    const struct val__op *x = val__compat_find_op(o, VAL__OP_PATTERN),
                         *y = val__compat_find_op(n, VAL__OP_PATTERN);
    bool str_o = ok & K_STR, str_n = nk & K_STR;
    if (x || y) {
        const char *opath = x ? val__compat_childs(c, op, "pattern") : op;
        const char *npath = y ? val__compat_childs(c, np, "pattern") : np;
        if (!x) {
            val__compat_add(c, "pattern", opath, npath, true, str_o ? YES : NO, NO,
                            val__compat_pfmt(c, "pattern \"%s\" added", y->pat_src));
        } else if (!y) {
            val__compat_add(c, "pattern", opath, npath, false, NO, str_n ? YES : NO,
                            val__compat_pfmt(c, "pattern \"%s\" removed", x->pat_src));
        } else if (strcmp(x->pat_src, y->pat_src) != 0) {
            val__compat_add(
                c, "pattern", opath, npath, true, str_o ? MAYBE : NO, str_n ? MAYBE : NO,
                val__compat_pfmt(
                    c, "pattern changed from \"%s\" to \"%s\" (only equal text is decided)",
                    x->pat_src, y->pat_src));
        }
    }
    x = val__compat_find_op(o, VAL__OP_FORMAT);
    y = val__compat_find_op(n, VAL__OP_FORMAT);
    if (x || y) {
        const char *opath = x ? val__compat_childs(c, op, "format") : op;
        const char *npath = y ? val__compat_childs(c, np, "format") : np;
        if (!x) {
            val__compat_add(c, "format", opath, npath, true, str_o ? YES : NO, NO,
                            val__compat_pfmt(c, "format \"%s\" added", val__fmt_name(y->u.fmt)));
        } else if (!y) {
            val__compat_add(c, "format", opath, npath, false, NO, str_n ? YES : NO,
                            val__compat_pfmt(c, "format \"%s\" removed", val__fmt_name(x->u.fmt)));
        } else if (x->u.fmt != y->u.fmt) {
            unsigned nar = fmt_within(x->u.fmt, y->u.fmt) ? MAYBE : YES;
            unsigned wid = fmt_within(y->u.fmt, x->u.fmt) ? MAYBE : YES;
            val__compat_add(c, "format", opath, npath, true, str_o ? nar : NO, str_n ? wid : NO,
                            val__compat_pfmt(c, "format changed from \"%s\" to \"%s\"",
                                             val__fmt_name(x->u.fmt), val__fmt_name(y->u.fmt)));
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
    const struct val__op *x = val__compat_find_op(o, VAL__OP_REQUIRED),
                         *y = val__compat_find_op(n, VAL__OP_REQUIRED);
    if (!x && !y) {
        return;
    }
    const char *opath = x ? val__compat_childs(c, op, "required") : op;
    const char *npath = y ? val__compat_childs(c, np, "required") : np;
    for (uint32_t i = 0; y && i < y->u.list.n_sorted; i++) {
        const struct val__named *e = &y->u.list.sorted[i];
        if (!x || !names_has(x->u.list.sorted, x->u.list.n_sorted, e->name, e->len)) {
            val__compat_add(
                c, "required", opath, npath, true, (ok & K_OBJ) ? YES : NO, NO,
                val__compat_pfmt(c, "property \"%.*s\" became required", (int)e->len, e->name));
        }
    }
    for (uint32_t i = 0; x && i < x->u.list.n_sorted; i++) {
        const struct val__named *e = &x->u.list.sorted[i];
        if (!y || !names_has(y->u.list.sorted, y->u.list.n_sorted, e->name, e->len)) {
            val__compat_add(c, "required", opath, npath, y != NULL, NO, (nk & K_OBJ) ? YES : NO,
                            val__compat_pfmt(c, "property \"%.*s\" is no longer required",
                                             (int)e->len, e->name));
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

static void dep_req_side(struct cx *c, const struct val__node *from, const struct val__node *other,
                         const char *fp, const char *op, const char *np, bool from_new,
                         unsigned flag)
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
                const char *p =
                    val__compat_child(c, val__compat_childs(c, fp, d->kw), e->name, e->len);
                val__compat_add(
                    c, d->kw, from_new ? op : p, from_new ? p : np, from_new, from_new ? flag : NO,
                    from_new ? NO : flag,
                    val__compat_pfmt(c, "property \"%.*s\" %s required when \"%.*s\" is present",
                                     (int)e->name_lens[j], e->names[j],
                                     from_new ? "now" : "no longer", (int)e->len, e->name));
            }
        }
    }
}

/* dependentSchemas (and draft-07 dependencies' schemas): the entry for a trigger, or
 * NULL; *dup set when the trigger has two entries (both keywords used). */
static const struct val__named *dep_schema(const struct val__node *node, const char *t, uint32_t tl,
                                           const char **kw, bool *dup)
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
                const char *fp = val__compat_child(c, val__compat_childs(c, side ? op : np, d->kw),
                                                   e->name, e->len);
                if (m && side) {
                    continue; /* compared in the first pass */
                }
                if (dup) {
                    val__compat_add(c, d->kw, side ? fp : op, side ? np : fp, !side, MAYBE, MAYBE,
                                    val__compat_pfmt(c, "\"%.*s\" has two dependent schemas",
                                                     (int)e->len, e->name));
                } else if (m) {
                    cmp_node(c, m->node, e->node,
                             val__compat_child(c, val__compat_childs(c, op, okw), e->name, e->len),
                             fp);
                } else if (!side) {
                    val__compat_add(c, d->kw, op, fp, true, MAYBE, NO,
                                    val__compat_pfmt(c, "dependent schema for \"%.*s\" added",
                                                     (int)e->len, e->name));
                } else {
                    val__compat_add(c, d->kw, fp, np, false, NO, MAYBE,
                                    val__compat_pfmt(c, "dependent schema for \"%.*s\" removed",
                                                     (int)e->len, e->name));
                }
            }
        }
    }
    val__compat_clear_range(c, r0, !(ok & K_OBJ), !(nk & K_OBJ));
}

/* Where a property name lands in one schema. */
enum { AT_PROP, AT_PATTERN, AT_ADDITIONAL, AT_OPEN };

static int where(const struct val__op *p, const char *name, uint32_t len,
                 const struct val__node **node)
{
    if (!p) {
        *node = &val__compat_true;
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
            *node = &val__compat_true; /* the pattern's schema is compared on its own */
            return AT_PATTERN;
        }
    }
    *node = p->u.props.additional ? p->u.props.additional : &val__compat_true;
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
    const char *opath =
        ow == AT_PROP
            ? val__compat_child(c, val__compat_childs(c, op, "properties"), e->name, e->len)
        : ow == AT_ADDITIONAL ? val__compat_childs(c, op, "additionalProperties")
                              : op;
    const char *npath =
        nw == AT_PROP
            ? val__compat_child(c, val__compat_childs(c, np, "properties"), e->name, e->len)
        : nw == AT_ADDITIONAL ? val__compat_childs(c, np, "additionalProperties")
                              : np;
    size_t r0 = c->n;
    cmp_node(c, on, nn, opath, npath);
    if (in_old && in_new) {
        return;
    }
    const char *kw = "properties";
    if (!in_old) {
        const char *why = ow == AT_OPEN      ? "the old version accepted any value under that name"
                          : ow == AT_PATTERN ? "patternProperties covered it before"
                                             : "additionalProperties covered it before";
        if (c->n > r0) {
            val__compat_collapse(
                c, r0, kw, opath, npath, true, ow == AT_OPEN ? MAYBE : YES, YES,
                val__compat_pfmt(c, "property \"%.*s\" added; %s", (int)e->len, e->name, why));
        } else {
            val__compat_add(c, kw, opath, npath, true, NO, NO,
                            val__compat_pfmt(c, "property \"%.*s\" added", (int)e->len, e->name));
        }
    } else {
        const char *why = nw == AT_OPEN      ? "the new version accepts any value under that name"
                          : nw == AT_PATTERN ? "patternProperties covers it now"
                                             : "additionalProperties covers it now";
        if (c->n > r0) {
            val__compat_collapse(
                c, r0, kw, opath, npath, false, YES, nw == AT_OPEN ? MAYBE : YES,
                val__compat_pfmt(c, "property \"%.*s\" removed; %s", (int)e->len, e->name, why));
        } else {
            val__compat_add(c, kw, opath, npath, false, NO, NO,
                            val__compat_pfmt(c, "property \"%.*s\" removed", (int)e->len, e->name));
        }
    }
}

static void cmp_props(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = val__compat_find_op(o, VAL__OP_PROPS),
                         *y = val__compat_find_op(n, VAL__OP_PROPS);
    if (!x && !y) {
        return;
    }
    size_t r0 = c->n;
    if (!same_patterns(x, y)) {
        val__compat_add(c, "patternProperties",
                        x ? val__compat_childs(c, op, "patternProperties") : op,
                        y ? val__compat_childs(c, np, "patternProperties") : np, y != NULL, MAYBE,
                        MAYBE, "patternProperties changed (only equal pattern lists are decided)");
        val__compat_clear_range(c, r0, !(ok & K_OBJ), !(nk & K_OBJ));
        return;
    }
    for (uint32_t i = 0; y && i < y->u.props.n_pats; i++) {
        const struct val__pat *q = &y->u.props.pats[i];
        for (uint32_t k = 0; k < x->u.props.n_pats; k++) {
            if (strcmp(x->u.props.pats[k].src, q->src) == 0) {
                cmp_node(
                    c, x->u.props.pats[k].node, q->node,
                    val__compat_childs(c, val__compat_childs(c, op, "patternProperties"), q->src),
                    val__compat_childs(c, val__compat_childs(c, np, "patternProperties"), q->src));
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
        cmp_node(c, oa ? oa : &val__compat_true, na ? na : &val__compat_true,
                 oa ? val__compat_childs(c, op, "additionalProperties") : op,
                 na ? val__compat_childs(c, np, "additionalProperties") : np);
    }
    val__compat_clear_range(c, r0, !(ok & K_OBJ), !(nk & K_OBJ));
}

static void cmp_items(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = val__compat_find_op(o, VAL__OP_ITEMS),
                         *y = val__compat_find_op(n, VAL__OP_ITEMS);
    if (!x && !y) {
        return;
    }
    size_t r0 = c->n;
    uint32_t px = x ? x->u.items.n_prefix : 0, py = y ? y->u.items.n_prefix : 0;
    uint32_t m = px > py ? px : py;
    const struct val__node *rx = x && x->u.items.rest ? x->u.items.rest : NULL;
    const struct val__node *ry = y && y->u.items.rest ? y->u.items.rest : NULL;
    const char *rxp = rx ? val__compat_childs(c, op, x->u.items.rest_kw) : op;
    const char *ryp = ry ? val__compat_childs(c, np, y->u.items.rest_kw) : np;
    for (uint32_t i = 0; i < m; i++) {
        const struct val__node *a = i < px ? x->u.items.prefix[i] : rx ? rx : &val__compat_true;
        const struct val__node *b = i < py ? y->u.items.prefix[i] : ry ? ry : &val__compat_true;
        cmp_node(c, a, b, i < px ? val__compat_childi(c, op, x->u.items.prefix_kw, i) : rxp,
                 i < py ? val__compat_childi(c, np, y->u.items.prefix_kw, i) : ryp);
    }
    if (rx || ry) {
        cmp_node(c, rx ? rx : &val__compat_true, ry ? ry : &val__compat_true, rxp, ryp);
    }
    val__compat_clear_range(c, r0, !(ok & K_ARR), !(nk & K_ARR));
}

/* A subschema keyword applied the same way on both sides (propertyNames, contains, not,
 * $ref with siblings, unevaluated*): compared when both have it, a one-sided change is
 * `added_nar` / `removed_wid`. */
static void cmp_sub(struct cx *c, const struct val__node *o, const struct val__node *n,
                    const char *op, const char *np, unsigned kind, unsigned added_nar,
                    unsigned removed_wid, unsigned app, unsigned ok, unsigned nk)
{
    const struct val__op *x = val__compat_find_op(o, kind), *y = val__compat_find_op(n, kind);
    if (!x && !y) {
        return;
    }
    size_t r0 = c->n;
    const char *kw = y ? y->kw : x->kw;
    /* A `$ref` is reported where it is written when added or removed, and its target's
     * differences where the target is written. */
    const char *opath = !x ? op : val__compat_childs(c, op, x->kw);
    const char *npath = !y ? np : val__compat_childs(c, np, y->kw);
    if (kind == VAL__OP_REF && x && y) {
        opath = ref_path(c, x, op);
        npath = ref_path(c, y, np);
    }
    if (!x) {
        val__compat_add(c, kw, opath, npath, true, added_nar, NO,
                        val__compat_pfmt(c, "%s added", kw));
    } else if (!y) {
        val__compat_add(c, kw, opath, npath, false, NO, removed_wid,
                        val__compat_pfmt(c, "%s removed", kw));
    } else if (kind == VAL__OP_CONTAINS) {
        cmp_node(c, x->u.contains.node, y->u.contains.node, opath, npath);
        bool bounds_equal = x->u.contains.has_min == y->u.contains.has_min &&
                            x->u.contains.min == y->u.contains.min &&
                            x->u.contains.has_max == y->u.contains.has_max &&
                            x->u.contains.max == y->u.contains.max;
        /* With no maxContains, an item that matched O's contains matches N's (when O's
         * subschema is within N's); a maximum counts matches, which a widened subschema
         * can push over it. Equal keywords are equal whatever the bounds. */
        bool decided = bounds_equal && (c->n == r0 || !x->u.contains.has_max);
        if (!decided) {
            /* Under a maximum, a widened subschema narrows too: both ways undecided. */
            c->n = r0;
            val__compat_add(c, kw, opath, npath, true, MAYBE, MAYBE,
                            "contains changed with minContains/maxContains (not decided)");
        }
    } else if (kind == VAL__OP_NOT) {
        cmp_node(c, x->u.sub, y->u.sub, opath, npath);
        val__compat_swap_range(c, r0);
    } else {
        cmp_node(c, x->u.sub, y->u.sub, opath, npath);
        if (kind == VAL__OP_UNEVAL_ITEMS || kind == VAL__OP_UNEVAL_PROPS) {
            val__compat_collapse(c, r0, kw, opath, npath, true, MAYBE, MAYBE,
                                 val__compat_pfmt(c, "%s changed (not decided)", kw));
        }
    }
    val__compat_clear_range(c, r0, !(ok & app), !(nk & app));
}

static void cmp_group(struct cx *c, const struct val__node *o, const struct val__node *n,
                      const char *op, const char *np, unsigned kind)
{
    const struct val__op *x = val__compat_find_op(o, kind), *y = val__compat_find_op(n, kind);
    if (!x && !y) {
        return;
    }
    const char *kw = y ? y->kw : x->kw;
    const char *opath = x ? val__compat_childs(c, op, kw) : op;
    const char *npath = y ? val__compat_childs(c, np, kw) : np;
    if (!x || !y) {
        /* A new conjunct can only narrow, a removed one only widen. */
        val__compat_add(c, kw, opath, npath, y != NULL, y ? MAYBE : NO, x ? MAYBE : NO,
                        val__compat_pfmt(c, "%s %s", kw, y ? "added" : "removed"));
        return;
    }
    size_t r0 = c->n;
    uint32_t m = x->u.group.n < y->u.group.n ? x->u.group.n : y->u.group.n;
    for (uint32_t i = 0; i < m; i++) {
        cmp_node(c, x->u.group.subs[i], y->u.group.subs[i], val__compat_childi(c, op, kw, i),
                 val__compat_childi(c, np, kw, i));
    }
    if (kind == VAL__OP_ONE_OF) {
        if (c->n > r0 || x->u.group.n != y->u.group.n) {
            c->n = r0;
            val__compat_add(c, kw, opath, npath, true, MAYBE, MAYBE,
                            "oneOf branches changed (only equal branch lists are decided)");
        }
        return;
    }
    if (x->u.group.n != y->u.group.n) {
        /* allOf: a branch more in N narrows, in O widens; anyOf: the other way round. */
        bool more_new = y->u.group.n > x->u.group.n;
        bool narrows = (kind == VAL__OP_ALL_OF) == more_new;
        val__compat_add(c, kw, opath, npath, true, narrows ? MAYBE : NO, narrows ? NO : MAYBE,
                        val__compat_pfmt(c, "%s has %" PRIu32 " branches, was %" PRIu32, kw,
                                         y->u.group.n, x->u.group.n));
    }
}

static void cmp_if(struct cx *c, const struct val__node *o, const struct val__node *n,
                   const char *op, const char *np)
{
    const struct val__op *x = val__compat_find_op(o, VAL__OP_IF),
                         *y = val__compat_find_op(n, VAL__OP_IF);
    if (!x && !y) {
        return;
    }
    const char *opath = x ? val__compat_childs(c, op, "if") : op;
    const char *npath = y ? val__compat_childs(c, np, "if") : np;
    if (!x || !y) {
        val__compat_add(c, "if", opath, npath, y != NULL, y ? MAYBE : NO, x ? MAYBE : NO,
                        y ? "if/then/else added" : "if/then/else removed");
        return;
    }
    size_t r0 = c->n;
    cmp_node(c, x->u.cond.cond, y->u.cond.cond, opath, npath);
    if (c->n > r0) {
        c->n = r0;
        val__compat_add(c, "if", opath, npath, true, MAYBE, MAYBE,
                        "the if condition changed (then/else are decided under an equal if only)");
        return;
    }
    const struct val__node *ot = x->u.cond.then_, *nt = y->u.cond.then_;
    if (ot || nt) {
        cmp_node(c, ot ? ot : &val__compat_true, nt ? nt : &val__compat_true,
                 ot ? val__compat_childs(c, op, "then") : op,
                 nt ? val__compat_childs(c, np, "then") : np);
    }
    const struct val__node *oe = x->u.cond.else_, *ne = y->u.cond.else_;
    if (oe || ne) {
        cmp_node(c, oe ? oe : &val__compat_true, ne ? ne : &val__compat_true,
                 oe ? val__compat_childs(c, op, "else") : op,
                 ne ? val__compat_childs(c, np, "else") : np);
    }
}

static void cmp_misc(struct cx *c, const struct val__node *o, const struct val__node *n,
                     const char *op, const char *np, unsigned ok, unsigned nk)
{
    const struct val__op *x = val__compat_find_op(o, VAL__OP_UNIQUE_ITEMS);
    const struct val__op *y = val__compat_find_op(n, VAL__OP_UNIQUE_ITEMS);
    if (!x != !y) {
        val__compat_add(c, "uniqueItems", x ? val__compat_childs(c, op, "uniqueItems") : op,
                        y ? val__compat_childs(c, np, "uniqueItems") : np, y != NULL,
                        y && (ok & K_ARR) ? YES : NO, x && (nk & K_ARR) ? YES : NO,
                        y ? "uniqueItems added" : "uniqueItems removed");
    }
    dep_req_side(c, n, o, np, op, np, true, (ok & K_OBJ) ? YES : NO);
    dep_req_side(c, o, n, op, op, np, false, (nk & K_OBJ) ? YES : NO);
    x = val__compat_find_op(o, VAL__OP_DYNAMIC_REF);
    y = val__compat_find_op(n, VAL__OP_DYNAMIC_REF);
    if (x || y) {
        size_t r0 = c->n;
        const char *opath = x ? val__compat_childs(c, op, "$dynamicRef") : op;
        const char *npath = y ? val__compat_childs(c, np, "$dynamicRef") : np;
        /* A reference that resolves through a dynamic anchor may land outside the node
         * compared here (in whichever resource of the dynamic scope declares the anchor
         * first): only a statically resolved one is decided. */
        bool dynamic = (x && x->u.dyn.anchor) || (y && y->u.dyn.anchor);
        if (x && y && !dynamic && strcmp(x->ref_uri, y->ref_uri) == 0) {
            cmp_node(c, x->u.dyn.target, y->u.dyn.target, opath, npath);
        }
        if (c->n > r0 || !x || !y || dynamic || strcmp(x->ref_uri, y->ref_uri) != 0) {
            c->n = r0;
            val__compat_add(c, "$dynamicRef", opath, npath, y != NULL, MAYBE, MAYBE,
                            dynamic ? "$dynamicRef resolves at run time (not decided)"
                                    : "$dynamicRef changed (not decided)");
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
static void exact_values(struct cx *c, const struct val__node *from, const struct val__node *to,
                         const val_schema *to_s, size_t r0, bool narrowing, const char *fp,
                         const char *tp)
{
    struct vset s = val__compat_vset_of(from);
    if (!s.has || !val__compat_is_plain(to)) {
        return;
    }
    const struct js_val *bad = NULL;
    for (uint32_t i = 0; i < val__compat_vset_count(&s) && !bad; i++) {
        const struct js_val *v = val__compat_vset_at(&s, i);
        if (val__compat_vset_has(&s, v) && !val__run(to_s, to, v, NULL, 0, NULL, NULL)) {
            bad = v;
        }
    }
    if (!bad) {
        val__compat_clear_range(c, r0, narrowing, !narrowing);
        return;
    }
    /* The direction is broken for sure: a record that says so already explains it;
     * otherwise the value is the reason. */
    for (size_t i = r0; i < c->n; i++) {
        if ((narrowing ? c->recs[i].nar : c->recs[i].wid) == YES) {
            return;
        }
    }
    {
        char t[128];
        val__compat_vtext(bad, t, sizeof t);
        const char *kw = s.const_v ? "const" : "enum";
        const char *p = val__compat_childs(c, fp, kw);
        val__compat_add(c, kw, narrowing ? p : tp, narrowing ? tp : p, !narrowing,
                        narrowing ? YES : NO, narrowing ? NO : YES,
                        narrowing
                            ? val__compat_pfmt(c, "value %s allowed before is refused now", t)
                            : val__compat_pfmt(c, "value %s allowed now was refused before", t));
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
        val__compat_add(c, "", op, np, true, MAYBE, MAYBE, "schemas too large or deep to compare");
        c->gave_up = true;
        return;
    }
    c->stk[c->depth].o = o;
    c->stk[c->depth].n = n;
    c->depth++;
    size_t r0 = c->n;
    bool of = val__compat_find_op(o, VAL__OP_FALSE) != NULL,
         nf = val__compat_find_op(n, VAL__OP_FALSE) != NULL;
    if (of || nf) {
        if (!(of && nf)) {
            unsigned ok = val__compat_kinds_of(o), nk = val__compat_kinds_of(n);
            val__compat_add(c, "false", op, np, nf, nf && ok ? YES : NO, of && nk ? YES : NO,
                            nf ? "the schema became false (nothing is accepted)"
                               : "the schema was false (nothing was accepted)");
        }
        c->depth--;
        return;
    }
    unsigned ok = val__compat_kinds_of(o), nk = val__compat_kinds_of(n);
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
        val__compat_add(
            c, "unevaluatedProperties", op, np, true, MAYBE, MAYBE,
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
    return flag == YES     ? VAL_COMPAT_INCOMPATIBLE
           : flag == MAYBE ? VAL_COMPAT_UNKNOWN
                           : VAL_COMPAT_COMPATIBLE;
}

static enum val_compat_verdict worst(enum val_compat_verdict a, enum val_compat_verdict b)
{
    return a > b ? a : b;
}

static size_t str_hash(size_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static size_t rec_hash(const struct rec *r)
{
    size_t h = 1469598103934665603ull ^ ((size_t)r->nar << 2 | r->wid);
    return str_hash(str_hash(str_hash(h, r->reason), r->opath), r->npath);
}

int val_compat_check(const val_schema *old_s, const val_schema *new_s, enum val_compat_mode mode,
                     wr_arena *a, unsigned max_diffs, struct val_compat_report *out)
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
    size_t *seen = NULL;
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
    /* A location reached twice (a $defs entry used in two places) is listed once. */
    size_t slots = 16;
    while (slots < 2 * c->n) {
        slots *= 2;
    }
    seen = calloc(slots, sizeof *seen);
    if (!seen) {
        rc = WR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct rec *e = &c->recs[i];
        size_t h = (rec_hash(e) & (slots - 1));
        bool dup = false;
        while (seen[h] && !dup) {
            const struct rec *f = &c->recs[seen[h] - 1];
            dup = f->nar == e->nar && f->wid == e->wid && strcmp(f->reason, e->reason) == 0 &&
                  strcmp(f->opath, e->opath) == 0 && strcmp(f->npath, e->npath) == 0;
            h = (h + 1) & (slots - 1);
        }
        if (dup) {
            continue;
        }
        seen[h] = i + 1;
        enum val_compat_verdict b = verdict_of(e->nar), f = verdict_of(e->wid);
        enum val_compat_verdict v = mode == VAL_COMPAT_BACKWARD  ? b
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
    free(seen);
    free(c->recs);
    free(c);
    return rc;
}

const char *val_compat_mode_name(enum val_compat_mode mode)
{
    switch (mode) {
    case VAL_COMPAT_NONE: return "none";
    case VAL_COMPAT_BACKWARD: return "backward";
    case VAL_COMPAT_FORWARD: return "forward";
    case VAL_COMPAT_FULL: return "full";
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
                         val_compat_verdict_name(d->backward), val_compat_verdict_name(d->forward));
        if (w < 0 || (size_t)w >= len + 1 - k) {
            return WR_ENOMEM;
        }
        k += (size_t)w;
    }
    s[k] = 0;
    *text = s;
    return 0;
}
