/* compile_kw.c - the keyword compilers: turns one scanned subschema into a node of
 * operations (applicators, `$ref`/`$dynamicRef`, properties, items, the value assertions,
 * `format`). Split from compile.c, which owns the resources, the scan, reference
 * resolution, the `$dynamicAnchor` tables, the cycle check and the public entry points;
 * this file only builds nodes and reports failures through val__cfail. */
#include "common/array.h"
#include "validator/val_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- compiling nodes --------------------------------------------------------------- */

static struct val__node *csub(struct cctx *c, const json_t *j, const char *kw, const char *name,
                              size_t name_len, long idx)
{
    size_t saved = val__path_push(c, kw, strlen(kw));
    if (name) {
        val__path_push(c, name, name_len);
    } else if (idx >= 0) {
        val__path_push_idx(c, (size_t)idx);
    }
    struct val__node *n = NULL;
    if (!json_is_object(j) && !json_is_boolean(j)) {
        val__cfail(c, WR_EINVAL, "expected a schema (object or boolean)");
    } else {
        n = val__cnode(c, j);
    }
    val__path_pop(c, saved);
    return n;
}

static bool get_num(const json_t *v, struct val__num *out)
{
    if (json_is_integer(v)) {
        out->is_int = true;
        out->i = (int64_t)json_integer_value(v);
        out->d = (double)out->i;
        return true;
    }
    if (json_is_real(v)) {
        out->is_int = false;
        out->d = json_real_value(v);
        return true;
    }
    return false;
}

static bool get_count(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 0 && d == floor(d)) {
            *out = d >= 1.8e19 ? UINT64_MAX : (uint64_t)d;
            return true;
        }
    }
    return false;
}

/* Builds the hash index over t[0, n); 0 or the failure. */
static int name_index(struct cctx *c, const struct val__named *t, uint32_t n,
                      struct val__nameidx *out)
{
    uint32_t size = 4;
    while (size < 2 * n) {
        size *= 2;
    }
    out->slots = wr_arena_alloc(c->pa, size * sizeof *out->slots);
    if (!out->slots) {
        return val__cfail(c, WR_ENOMEM, "out of memory");
    }
    memset(out->slots, 0, size * sizeof *out->slots);
    out->mask = size - 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = val__name_hash(t[i].name, t[i].len) & out->mask;
        while (out->slots[k]) {
            k = (k + 1) & out->mask;
        }
        out->slots[k] = val__name_tag(t[i].name, t[i].len) | (uint64_t)(i + 1);
    }
    return 0;
}

static int cmp_named(const void *a, const void *b)
{
    const struct val__named *x = a, *y = b;
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    return memcmp(x->name, y->name, x->len);
}

static const char *dup_str(struct cctx *c, const char *s, size_t n)
{
    char *d = wr_arena_strndup(c->pa, s, n);
    if (!d) {
        val__cfail(c, WR_ENOMEM, "out of memory");
    }
    return d;
}

static val__regex *regex(struct cctx *c, const char *src, size_t n)
{
    struct wr_err e = {0, ""};
    val__regex *re = val__regex_compile(src, n, &e);
    if (!re) {
        val__cfail(c, e.code == WR_ENOMEM ? WR_ENOMEM : WR_EINVAL, "invalid pattern: %s", e.msg);
        return NULL;
    }
    if (WR_ARRAY_PUSH(&c->s->regexes, &c->regex_cap, c->s->n_regexes, 8) != 0) {
        val__regex_free(re);
        val__cfail(c, WR_ENOMEM, "out of memory");
        return NULL;
    }
    c->s->regexes[c->s->n_regexes++] = re;
    return re;
}

static struct val__res *res_rt(struct cctx *c, struct cres *r)
{
    if (!r->rt) {
        r->rt = wr_arena_alloc(c->pa, sizeof *r->rt);
        if (!r->rt) {
            val__cfail(c, WR_ENOMEM, "out of memory");
            return NULL;
        }
        memset(r->rt, 0, sizeof *r->rt);
        r->rt->uri = r->uri;
    }
    return r->rt;
}

enum { MAX_OPS = 48 }; /* more than the distinct keywords one node can hold */

/* Adds one op to the node under construction. */
static struct val__op *op_new(struct val__op *ops, uint32_t *n, enum val__op_kind k, const char *kw)
{
    struct val__op *op = &ops[(*n)++];
    memset(op, 0, sizeof *op);
    op->kind = (uint8_t)k;
    op->kw = kw;
    return op;
}

static int c_ref(struct cctx *c, const struct jinfo *in, const json_t *j, struct val__op *ops,
                 uint32_t *n, bool dynamic)
{
    const char *kw = dynamic ? "$dynamicRef" : "$ref";
    const char *ref = json_string_value(json_object_get(j, kw));
    if (!ref) {
        size_t saved = val__path_push(c, kw, strlen(kw));
        val__cfail(c, WR_EINVAL, "expected a string");
        val__path_pop(c, saved);
        return c->rc;
    }
    size_t saved = val__path_push(c, kw, strlen(kw));
    const char *aname;
    bool adyn;
    const json_t *t = val__resolve(c, in, ref, &aname, &adyn);
    val__path_pop(c, saved);
    if (!t) {
        return c->rc;
    }
    struct val__node *tn = csub(c, t, kw, NULL, 0, -1);
    if (!tn) {
        return c->rc;
    }
    struct val__op *op = op_new(ops, n, dynamic ? VAL__OP_DYNAMIC_REF : VAL__OP_REF, kw);
    op->ref_uri = dup_str(c, ref, strlen(ref));
    if (dynamic) {
        op->u.dyn.target = tn;
        op->u.dyn.anchor = adyn ? aname : NULL;
    } else {
        op->u.sub = tn;
    }
    return c->rc;
}

static int c_group(struct cctx *c, const json_t *j, const char *kw, enum val__op_kind k,
                   struct val__op *ops, uint32_t *n)
{
    const json_t *a = json_object_get(j, kw);
    if (!a) {
        return 0;
    }
    size_t cnt = json_array_size(a);
    if (!json_is_array(a) || cnt == 0) {
        size_t saved = val__path_push(c, kw, strlen(kw));
        val__cfail(c, WR_EINVAL, "expected a non-empty array of schemas");
        val__path_pop(c, saved);
        return c->rc;
    }
    struct val__node **subs = wr_arena_alloc(c->pa, cnt * sizeof *subs);
    if (!subs) {
        return val__cfail(c, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        subs[i] = csub(c, json_array_get(a, i), kw, NULL, 0, (long)i);
        if (!subs[i]) {
            return c->rc;
        }
    }
    struct val__op *op = op_new(ops, n, k, kw);
    op->u.group.subs = subs;
    op->u.group.n = (uint32_t)cnt;
    return 0;
}

static int kw_fail(struct cctx *c, const char *kw, const char *msg)
{
    size_t saved = val__path_push(c, kw, strlen(kw));
    val__cfail(c, WR_EINVAL, "%s", msg);
    val__path_pop(c, saved);
    return c->rc;
}

static int c_names(struct cctx *c, const json_t *a, const char *kw, struct val__named **out,
                   uint32_t *nout)
{
    if (!json_is_array(a)) {
        return kw_fail(c, kw, "expected an array of strings");
    }
    size_t cnt = json_array_size(a);
    struct val__named *t = wr_arena_alloc(c->pa, (cnt ? cnt : 1) * sizeof *t);
    if (!t) {
        return val__cfail(c, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        const json_t *s = json_array_get(a, i);
        if (!json_is_string(s)) {
            return kw_fail(c, kw, "expected an array of strings");
        }
        memset(&t[i], 0, sizeof t[i]);
        t[i].len = (uint32_t)json_string_length(s);
        t[i].name = dup_str(c, json_string_value(s), t[i].len);
        if (!t[i].name) {
            return c->rc;
        }
    }
    *out = t;
    *nout = (uint32_t)cnt;
    return 0;
}

/* dependentRequired / dependentSchemas / draft-07 dependencies. */
static int c_deps(struct cctx *c, const json_t *o, const char *kw, bool want_schemas,
                  bool want_arrays, struct val__op *ops, uint32_t *n)
{
    if (!json_is_object(o)) {
        return kw_fail(c, kw, "expected an object");
    }
    size_t cnt = json_object_size(o);
    struct val__named *t = wr_arena_alloc(c->pa, (cnt ? cnt : 1) * sizeof *t);
    if (!t) {
        return val__cfail(c, WR_ENOMEM, "out of memory");
    }
    uint32_t k = 0;
    const char *name;
    size_t nlen;
    json_t *v;
    void *tmp;
    json_object_keylen_foreach_safe((json_t *)o, tmp, name, nlen, v)
    {
        bool is_arr = json_is_array(v);
        if ((is_arr && !want_arrays) || (!is_arr && !want_schemas)) {
            continue;
        }
        struct val__named *e = &t[k];
        memset(e, 0, sizeof *e);
        e->len = (uint32_t)nlen;
        e->name = dup_str(c, name, nlen);
        if (!e->name) {
            return c->rc;
        }
        if (is_arr) {
            struct val__named *names;
            uint32_t nn;
            if (c_names(c, v, kw, &names, &nn)) {
                return c->rc;
            }
            e->names = wr_arena_alloc(c->pa, (nn ? nn : 1) * sizeof(char *));
            e->name_lens = wr_arena_alloc(c->pa, (nn ? nn : 1) * sizeof(uint32_t));
            if (!e->names || !e->name_lens) {
                return val__cfail(c, WR_ENOMEM, "out of memory");
            }
            for (uint32_t i = 0; i < nn; i++) {
                e->names[i] = names[i].name;
                e->name_lens[i] = names[i].len;
            }
            e->n_names = nn;
        } else {
            e->node = csub(c, v, kw, name, nlen, -1);
            if (!e->node) {
                return c->rc;
            }
        }
        k++;
    }
    if (k) {
        struct val__op *op =
            op_new(ops, n, want_arrays ? VAL__OP_DEP_REQUIRED : VAL__OP_DEP_SCHEMAS, kw);
        op->u.list.names = t;
        op->u.list.n = k;
    }
    return 0;
}

static int c_props(struct cctx *c, const json_t *j, struct val__op *ops, uint32_t *n)
{
    const json_t *p = json_object_get(j, "properties");
    const json_t *pp = json_object_get(j, "patternProperties");
    const json_t *ap = json_object_get(j, "additionalProperties");
    if (!p && !pp && !ap) {
        return 0;
    }
    struct val__op *op = op_new(ops, n, VAL__OP_PROPS, "properties");
    op->u.props.props_kw = "properties";
    op->u.props.pats_kw = "patternProperties";
    op->u.props.add_kw = "additionalProperties";
    if (p) {
        if (!json_is_object(p)) {
            return kw_fail(c, "properties", "expected an object");
        }
        size_t cnt = json_object_size(p);
        struct val__named *t = wr_arena_alloc(c->pa, (cnt ? cnt : 1) * sizeof *t);
        if (!t) {
            return val__cfail(c, WR_ENOMEM, "out of memory");
        }
        size_t i = 0;
        const char *name;
        size_t nlen;
        json_t *v;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)p, tmp, name, nlen, v)
        {
            memset(&t[i], 0, sizeof t[i]);
            t[i].len = (uint32_t)nlen;
            t[i].name = dup_str(c, name, nlen);
            t[i].node = t[i].name ? csub(c, v, "properties", name, nlen, -1) : NULL;
            if (!t[i].node) {
                return c->rc;
            }
            i++;
        }
        qsort(t, cnt, sizeof *t, cmp_named);
        op->u.props.props = t;
        op->u.props.n_props = (uint32_t)cnt;
        if (name_index(c, t, (uint32_t)cnt, &op->u.props.idx)) {
            return c->rc;
        }
    }
    if (pp) {
        if (!json_is_object(pp)) {
            return kw_fail(c, "patternProperties", "expected an object");
        }
        size_t cnt = json_object_size(pp);
        struct val__pat *t = wr_arena_alloc(c->pa, (cnt ? cnt : 1) * sizeof *t);
        if (!t) {
            return val__cfail(c, WR_ENOMEM, "out of memory");
        }
        size_t i = 0;
        const char *name;
        size_t nlen;
        json_t *v;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)pp, tmp, name, nlen, v)
        {
            size_t saved = val__path_push(c, "patternProperties", 17);
            val__path_push(c, name, nlen);
            t[i].re = regex(c, name, nlen);
            val__path_pop(c, saved);
            t[i].src = dup_str(c, name, nlen);
            if (!t[i].re || !t[i].src) {
                return c->rc;
            }
            t[i].node = csub(c, v, "patternProperties", name, nlen, -1);
            if (!t[i].node) {
                return c->rc;
            }
            i++;
        }
        op->u.props.pats = t;
        op->u.props.n_pats = (uint32_t)cnt;
    }
    if (ap) {
        op->u.props.additional = csub(c, ap, "additionalProperties", NULL, 0, -1);
        if (!op->u.props.additional) {
            return c->rc;
        }
    }
    return 0;
}

static int c_items(struct cctx *c, const struct jinfo *in, const json_t *j, struct val__op *ops,
                   uint32_t *n)
{
    const json_t *prefix, *rest;
    const char *pkw, *rkw;
    if (in->d == VAL_DIALECT_2020_12) {
        prefix = json_object_get(j, "prefixItems");
        rest = json_object_get(j, "items");
        pkw = "prefixItems";
        rkw = "items";
    } else {
        const json_t *it = json_object_get(j, "items");
        pkw = "items";
        if (json_is_array(it)) {
            prefix = it;
            rest = json_object_get(j, "additionalItems");
            rkw = "additionalItems";
        } else {
            prefix = NULL;
            rest = it;
            rkw = "items";
        }
    }
    if (!prefix && !rest) {
        return 0;
    }
    struct val__op *op = op_new(ops, n, VAL__OP_ITEMS, rest ? rkw : pkw);
    op->u.items.prefix_kw = pkw;
    op->u.items.rest_kw = rkw;
    if (prefix) {
        if (!json_is_array(prefix)) {
            return kw_fail(c, pkw, "expected an array of schemas");
        }
        size_t cnt = json_array_size(prefix);
        op->u.items.prefix = wr_arena_alloc(c->pa, (cnt ? cnt : 1) * sizeof(struct val__node *));
        if (!op->u.items.prefix) {
            return val__cfail(c, WR_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < cnt; i++) {
            op->u.items.prefix[i] = csub(c, json_array_get(prefix, i), pkw, NULL, 0, (long)i);
            if (!op->u.items.prefix[i]) {
                return c->rc;
            }
        }
        op->u.items.n_prefix = (uint32_t)cnt;
    }
    if (rest) {
        op->u.items.rest = csub(c, rest, rkw, NULL, 0, -1);
        if (!op->u.items.rest) {
            return c->rc;
        }
    }
    return 0;
}

static int c_value_ops(struct cctx *c, const struct jinfo *in, const json_t *j, struct val__op *ops,
                       uint32_t *n)
{
    const json_t *v;
    if ((v = json_object_get(j, "type"))) {
        unsigned mask = 0;
        static const char *const names[] = {"null",   "boolean", "object", "array",
                                            "number", "string",  "integer"};
        size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t i = 0; i < cnt; i++) {
            const char *t = json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
            unsigned bit = 0;
            for (unsigned k = 0; t && k < 7; k++) {
                if (strcmp(t, names[k]) == 0) {
                    bit = 1u << k;
                }
            }
            if (!bit) {
                return kw_fail(c, "type", "unknown type name");
            }
            mask |= bit;
        }
        op_new(ops, n, VAL__OP_TYPE, "type")->u.types = mask;
    }
    if ((v = json_object_get(j, "const"))) {
        struct js_val *x = val__from_jansson(c->pa, v);
        if (!x) {
            return val__cfail(c, WR_ENOMEM, "out of memory");
        }
        op_new(ops, n, VAL__OP_CONST, "const")->u.value = x;
    }
    if ((v = json_object_get(j, "enum"))) {
        if (!json_is_array(v)) {
            return kw_fail(c, "enum", "expected an array");
        }
        struct js_val *x = val__from_jansson(c->pa, v);
        if (!x) {
            return val__cfail(c, WR_ENOMEM, "out of memory");
        }
        struct val__op *op = op_new(ops, n, VAL__OP_ENUM, "enum");
        op->u.en.items = x->u.items;
        op->u.en.n = x->n;
        if (x->n > 8) {
            uint64_t *h = wr_arena_alloc(c->pa, x->n * sizeof *h);
            if (!h) {
                return val__cfail(c, WR_ENOMEM, "out of memory");
            }
            for (uint32_t i = 0; i < x->n; i++) {
                h[i] = val__hash(&x->u.items[i]);
            }
            op->u.en.hash = h;
        }
    }
    static const struct {
        const char *kw;
        enum val__op_kind k;
    } nums[] = {{"multipleOf", VAL__OP_MULTIPLE_OF},
                {"maximum", VAL__OP_MAXIMUM},
                {"exclusiveMaximum", VAL__OP_EX_MAXIMUM},
                {"minimum", VAL__OP_MINIMUM},
                {"exclusiveMinimum", VAL__OP_EX_MINIMUM}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if ((v = json_object_get(j, nums[i].kw))) {
            struct val__num num;
            if (!get_num(v, &num)) {
                return kw_fail(c, nums[i].kw, "expected a number");
            }
            if (nums[i].k == VAL__OP_MULTIPLE_OF && !(num.is_int ? num.i > 0 : num.d > 0)) {
                return kw_fail(c, nums[i].kw, "expected a number greater than 0");
            }
            op_new(ops, n, nums[i].k, nums[i].kw)->u.num = num;
        }
    }
    static const struct {
        const char *kw;
        enum val__op_kind k;
    } counts[] = {
        {"maxLength", VAL__OP_MAX_LENGTH},         {"minLength", VAL__OP_MIN_LENGTH},
        {"maxItems", VAL__OP_MAX_ITEMS},           {"minItems", VAL__OP_MIN_ITEMS},
        {"maxProperties", VAL__OP_MAX_PROPERTIES}, {"minProperties", VAL__OP_MIN_PROPERTIES}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        if ((v = json_object_get(j, counts[i].kw))) {
            uint64_t cnt;
            if (!get_count(v, &cnt)) {
                return kw_fail(c, counts[i].kw, "expected a non-negative integer");
            }
            op_new(ops, n, counts[i].k, counts[i].kw)->u.count = cnt;
        }
    }
    if ((v = json_object_get(j, "pattern"))) {
        if (!json_is_string(v)) {
            return kw_fail(c, "pattern", "expected a string");
        }
        size_t saved = val__path_push(c, "pattern", 7);
        val__regex *re = regex(c, json_string_value(v), json_string_length(v));
        val__path_pop(c, saved);
        if (!re) {
            return c->rc;
        }
        struct val__op *op = op_new(ops, n, VAL__OP_PATTERN, "pattern");
        op->u.re = re;
        op->pat_src = dup_str(c, json_string_value(v), json_string_length(v));
    }
    if (json_is_true(json_object_get(j, "uniqueItems"))) {
        op_new(ops, n, VAL__OP_UNIQUE_ITEMS, "uniqueItems");
    }
    if ((v = json_object_get(j, "required"))) {
        struct val__named *names;
        uint32_t cnt;
        if (c_names(c, v, "required", &names, &cnt)) {
            return c->rc;
        }
        if (cnt) {
            struct val__named *sorted = wr_arena_alloc(c->pa, cnt * sizeof *sorted);
            if (!sorted) {
                return val__cfail(c, WR_ENOMEM, "out of memory");
            }
            memcpy(sorted, names, cnt * sizeof *sorted);
            qsort(sorted, cnt, sizeof *sorted, cmp_named);
            uint32_t k = 0;
            for (uint32_t i = 0; i < cnt; i++) {
                if (k == 0 || cmp_named(&sorted[k - 1], &sorted[i]) != 0) {
                    sorted[k++] = sorted[i];
                }
            }
            struct val__op *op = op_new(ops, n, VAL__OP_REQUIRED, "required");
            op->u.list.names = names;
            op->u.list.n = cnt;
            op->u.list.sorted = sorted;
            op->u.list.n_sorted = k;
            if (name_index(c, sorted, k, &op->u.list.idx)) {
                return c->rc;
            }
        }
    }
    if (in->d == VAL_DIALECT_2020_12 && (v = json_object_get(j, "dependentRequired"))) {
        if (c_deps(c, v, "dependentRequired", false, true, ops, n)) {
            return c->rc;
        }
    }
    return 0;
}

/* When every `required` name is also in `properties`, the fast path counts required
 * members during the one properties pass instead of looking each member up twice. */
static void fuse_required(struct val__node *node)
{
    struct val__op *req = NULL, *props = NULL;
    for (uint32_t i = 0; i < node->n_ops; i++) {
        if (node->ops[i].kind == VAL__OP_REQUIRED) {
            req = &node->ops[i];
        } else if (node->ops[i].kind == VAL__OP_PROPS) {
            props = &node->ops[i];
        }
    }
    if (!req || !props || !props->u.props.n_props) {
        return;
    }
    for (uint32_t i = 0; i < req->u.list.n_sorted; i++) {
        const struct val__named *r = &req->u.list.sorted[i];
        if (!bsearch(r, props->u.props.props, props->u.props.n_props, sizeof(struct val__named),
                     cmp_named)) {
            return;
        }
    }
    for (uint32_t i = 0; i < req->u.list.n_sorted; i++) {
        struct val__named *e =
            bsearch(&req->u.list.sorted[i], props->u.props.props, props->u.props.n_props,
                    sizeof(struct val__named), cmp_named);
        e->req = true;
    }
    props->u.props.n_req = req->u.list.n_sorted;
    req->fused = true;
}

/* `format`: its own vocabulary (annotation, or assertion when opts or the meta-schema's
 * format-assertion vocabulary say so). Unknown formats only annotate. */
static void c_format(struct cctx *c, const struct jinfo *in, const json_t *j, struct val__op *ops,
                     uint32_t *n)
{
    const json_t *v;
    if ((v = json_object_get(j, "format")) && (in->vocab & VAL__V_FORMAT) &&
        (!c->opts->format_annotate || (in->vocab & VAL__V_FORMAT_ASSERT)) && json_is_string(v)) {
        enum val__fmt f = val__fmt_lookup(json_string_value(v), json_string_length(v));
        if (f != VAL__FMT_UNKNOWN) {
            op_new(ops, n, VAL__OP_FORMAT, "format")->u.fmt = f;
        }
    }
}

struct val__node *val__cnode(struct cctx *c, const json_t *j)
{
    if (c->rc) {
        return NULL;
    }
    struct jinfo *in = val__info_get(c, j);
    if (!in) {
        /* Reached without a scan (e.g. a pointer into an unknown keyword). */
        val__cfail(c, WR_EINVAL, "internal: schema location was not scanned");
        return NULL;
    }
    if (in->node) {
        return in->node;
    }
    if (c->depth >= VAL__MAX_COMPILE_DEPTH) {
        val__cfail(c, WR_EINVAL, "schema nested deeper than %d levels", VAL__MAX_COMPILE_DEPTH);
        return NULL;
    }
    struct val__node *node = wr_arena_alloc(c->pa, sizeof *node);
    if (!node) {
        val__cfail(c, WR_ENOMEM, "out of memory");
        return NULL;
    }
    memset(node, 0, sizeof *node);
    in->node = node;
    node->res = res_rt(c, in->res);
    if (json_is_boolean(j) || json_object_size(j) == 0) {
        if (json_is_false(j)) {
            node->ops = wr_arena_alloc(c->pa, sizeof *node->ops);
            if (!node->ops) {
                val__cfail(c, WR_ENOMEM, "out of memory");
                return NULL;
            }
            uint32_t one = 0;
            op_new(node->ops, &one, VAL__OP_FALSE, "");
            node->n_ops = 1;
        }
        return node;
    }
    c->depth++;
    /* The scratch list lives in the compile arena: deep schemas must not eat the stack. */
    struct val__op *ops = wr_arena_alloc(c->ta, MAX_OPS * sizeof *ops);
    uint32_t n = 0;
    if (!ops) {
        c->depth--;
        val__cfail(c, WR_ENOMEM, "out of memory");
        return NULL;
    }
    unsigned vocab = in->vocab;
    const json_t *v;
    if (in->d == VAL_DIALECT_DRAFT7 && json_object_get(j, "$ref")) {
        /* Draft-07: `$ref` overrides every sibling keyword. */
        c_ref(c, in, j, ops, &n, false);
        goto done;
    }
    if ((vocab & VAL__V_VALIDATION) && c_value_ops(c, in, j, ops, &n)) {
        goto done;
    }
    c_format(c, in, j, ops, &n);
    if (json_object_get(j, "$ref") && c_ref(c, in, j, ops, &n, false)) {
        goto done;
    }
    if (in->d == VAL_DIALECT_2020_12 && json_object_get(j, "$dynamicRef") &&
        c_ref(c, in, j, ops, &n, true)) {
        goto done;
    }
    if (vocab & VAL__V_APPLICATOR) {
        if (c_group(c, j, "allOf", VAL__OP_ALL_OF, ops, &n) ||
            c_group(c, j, "anyOf", VAL__OP_ANY_OF, ops, &n) ||
            c_group(c, j, "oneOf", VAL__OP_ONE_OF, ops, &n)) {
            goto done;
        }
        if ((v = json_object_get(j, "not"))) {
            struct val__node *s = csub(c, v, "not", NULL, 0, -1);
            if (!s) {
                goto done;
            }
            op_new(ops, &n, VAL__OP_NOT, "not")->u.sub = s;
        }
        if ((v = json_object_get(j, "if"))) {
            struct val__node *ci = csub(c, v, "if", NULL, 0, -1), *ct = NULL, *ce = NULL;
            const json_t *t = json_object_get(j, "then"), *e = json_object_get(j, "else");
            if (!ci || (t && !(ct = csub(c, t, "then", NULL, 0, -1))) ||
                (e && !(ce = csub(c, e, "else", NULL, 0, -1)))) {
                goto done;
            }
            struct val__op *op = op_new(ops, &n, VAL__OP_IF, "if");
            op->u.cond.cond = ci;
            op->u.cond.then_ = ct;
            op->u.cond.else_ = ce;
        }
        if (in->d == VAL_DIALECT_2020_12 && (v = json_object_get(j, "dependentSchemas")) &&
            c_deps(c, v, "dependentSchemas", true, false, ops, &n)) {
            goto done;
        }
        /* 2020-12 split `dependencies`; it is still honoured there for compatibility. */
        if ((v = json_object_get(j, "dependencies"))) {
            if (c_deps(c, v, "dependencies", false, true, ops, &n) ||
                c_deps(c, v, "dependencies", true, false, ops, &n)) {
                goto done;
            }
        }
        if (c_props(c, j, ops, &n)) {
            goto done;
        }
        if ((v = json_object_get(j, "propertyNames"))) {
            struct val__node *s = csub(c, v, "propertyNames", NULL, 0, -1);
            if (!s) {
                goto done;
            }
            op_new(ops, &n, VAL__OP_PROPERTY_NAMES, "propertyNames")->u.sub = s;
        }
        if (c_items(c, in, j, ops, &n)) {
            goto done;
        }
        if ((v = json_object_get(j, "contains"))) {
            struct val__node *s = csub(c, v, "contains", NULL, 0, -1);
            if (!s) {
                goto done;
            }
            struct val__op *op = op_new(ops, &n, VAL__OP_CONTAINS, "contains");
            op->u.contains.node = s;
            if (in->d == VAL_DIALECT_2020_12 && (vocab & VAL__V_VALIDATION)) {
                const json_t *mn = json_object_get(j, "minContains");
                const json_t *mx = json_object_get(j, "maxContains");
                if (mn && !(op->u.contains.has_min = get_count(mn, &op->u.contains.min))) {
                    kw_fail(c, "minContains", "expected a non-negative integer");
                    goto done;
                }
                if (mx && !(op->u.contains.has_max = get_count(mx, &op->u.contains.max))) {
                    kw_fail(c, "maxContains", "expected a non-negative integer");
                    goto done;
                }
            }
        }
    }
    if (in->d == VAL_DIALECT_2020_12 && (vocab & VAL__V_UNEVALUATED)) {
        if ((v = json_object_get(j, "unevaluatedItems"))) {
            struct val__node *s = csub(c, v, "unevaluatedItems", NULL, 0, -1);
            if (!s) {
                goto done;
            }
            op_new(ops, &n, VAL__OP_UNEVAL_ITEMS, "unevaluatedItems")->u.sub = s;
            node->needs_ann = true;
        }
        if ((v = json_object_get(j, "unevaluatedProperties"))) {
            struct val__node *s = csub(c, v, "unevaluatedProperties", NULL, 0, -1);
            if (!s) {
                goto done;
            }
            op_new(ops, &n, VAL__OP_UNEVAL_PROPS, "unevaluatedProperties")->u.sub = s;
            node->needs_ann = true;
        }
    }
done:
    c->depth--;
    if (c->rc) {
        return NULL;
    }
    if (n) {
        node->ops = wr_arena_alloc(c->pa, n * sizeof *node->ops);
        if (!node->ops) {
            val__cfail(c, WR_ENOMEM, "out of memory");
            return NULL;
        }
        memcpy(node->ops, ops, n * sizeof *node->ops);
        node->n_ops = n;
    }
    fuse_required(node);
    node->leaf = true;
    for (uint32_t i = 0; i < n; i++) {
        switch ((enum val__op_kind)ops[i].kind) {
        case VAL__OP_TYPE:
        case VAL__OP_CONST:
        case VAL__OP_ENUM:
        case VAL__OP_MAXIMUM:
        case VAL__OP_EX_MAXIMUM:
        case VAL__OP_MINIMUM:
        case VAL__OP_EX_MINIMUM:
        case VAL__OP_MAX_LENGTH:
        case VAL__OP_MIN_LENGTH:
        case VAL__OP_PATTERN:
        case VAL__OP_FORMAT:
        case VAL__OP_MAX_ITEMS:
        case VAL__OP_MIN_ITEMS:
        case VAL__OP_MAX_PROPERTIES:
        case VAL__OP_MIN_PROPERTIES: break;
        default: node->leaf = false;
        }
    }
    return node;
}
