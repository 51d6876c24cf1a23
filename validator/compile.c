/* compile.c - turns a schema (jansson) into the validator's program: finds every schema
 * resource, `$id`, `$anchor` and `$dynamicAnchor`, resolves references (RFC 3986 and JSON
 * Pointer), compiles each subschema once into a node of operations, refuses schemas that
 * fail their meta-schema, bad patterns and `$ref` cycles that consume no input. The keyword
 * compilers (one subschema into one node) are in compile_kw.c; the context they share is
 * in val_int.h. */
#include "common/array.h"
#include "validator/val_int.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIALECT_2020 "https://json-schema.org/draft/2020-12/schema"
#define DIALECT_07 "http://json-schema.org/draft-07/schema"
#define DEFAULT_BASE "urn:weir:schema"

/* --- resources: the caller's set and the bundled meta-schemas ---------------------- */

struct val_resources {
    struct rdoc {
        char *uri;
        json_t *doc;
    } *docs;
    size_t n, cap;
};

val_resources *val_resources_create(struct wr_err *err)
{
    val_resources *r = calloc(1, sizeof *r);
    if (!r) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    return r;
}

/* The URI without its fragment (a resource name), malloc'd. */
static char *strip_frag(const char *uri)
{
    size_t n = strcspn(uri, "#");
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, uri, n);
        s[n] = '\0';
    }
    return s;
}

int val_resources_add(val_resources *r, const char *uri, json_t *doc, struct wr_err *err)
{
    if (!val__uri_is_absolute(uri)) {
        return wr_err_set(err, WR_EINVAL, "resource URI \"%.100s\" is not absolute", uri);
    }
    char *u = strip_frag(uri);
    if (!u) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->docs[i].uri, u) == 0) {
            free(u);
            json_incref(doc);
            json_decref(r->docs[i].doc);
            r->docs[i].doc = doc;
            return 0;
        }
    }
    if (WR_ARRAY_PUSH(&r->docs, &r->cap, r->n, 16) != 0) {
        free(u);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    r->docs[r->n].uri = u;
    r->docs[r->n].doc = json_incref(doc);
    r->n++;
    return 0;
}

void val_resources_destroy(val_resources *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        free(r->docs[i].uri);
        json_decref(r->docs[i].doc);
    }
    free(r->docs);
    free(r);
}

static struct rdoc g_meta[16];
static size_t g_meta_n;
static pthread_once_t g_meta_once = PTHREAD_ONCE_INIT;

static void meta_load(void)
{
    for (size_t i = 0; val__meta_docs[i].name && g_meta_n < 16; i++) {
        json_t *d = json_loadb(val__meta_docs[i].data, val__meta_docs[i].len, 0, NULL);
        const char *id = d ? json_string_value(json_object_get(d, "$id")) : NULL;
        char *u = id ? strip_frag(id) : NULL;
        if (!u) {
            json_decref(d);
            continue;
        }
        g_meta[g_meta_n].uri = u;
        g_meta[g_meta_n].doc = d;
        g_meta_n++;
    }
}

/* --- the compile context ---------------------------------------------------------- */


int val__cfail(struct cctx *c, int code, const char *fmt, ...)
{
    if (c->rc) {
        return c->rc;
    }
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->rc = code;
    if (code == WR_ENOMEM) {
        wr_err_set(c->err, code, "out of memory compiling the schema");
    } else {
        wr_err_set(c->err, code, "%s: %s", c->path_len ? c->path : "(root)", msg);
    }
    return code;
}

size_t val__path_push(struct cctx *c, const char *seg, size_t len)
{
    size_t saved = c->path_len;
    /* Bounds written as o < constant so the compiler can see them (o + 3 could wrap). */
    const size_t cap = sizeof c->path;
    size_t o = c->path_len < cap ? c->path_len : cap - 1;
    if (o < cap - 2) {
        c->path[o++] = '/';
    }
    for (size_t i = 0; i < len && o < cap - 3; i++) {
        if (seg[i] == '~' || seg[i] == '/') {
            c->path[o++] = '~';
            c->path[o++] = seg[i] == '~' ? '0' : '1';
        } else {
            c->path[o++] = seg[i];
        }
    }
    c->path[o] = '\0';
    c->path_len = o;
    return saved;
}

size_t val__path_push_idx(struct cctx *c, size_t i)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%zu", i);
    return val__path_push(c, b, (size_t)n);
}

void val__path_pop(struct cctx *c, size_t saved)
{
    c->path_len = saved;
    c->path[saved] = '\0';
}

static size_t ptr_hash(const json_t *j, size_t cap)
{
    uintptr_t x = (uintptr_t)j;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & (cap - 1);
}

struct jinfo *val__info_get(struct cctx *c, const json_t *j)
{
    if (!c->map_cap) {
        return NULL;
    }
    for (size_t k = ptr_hash(j, c->map_cap);; k = (k + 1) & (c->map_cap - 1)) {
        if (!c->map[k]) {
            return NULL;
        }
        if (c->map[k]->j == j) {
            return c->map[k];
        }
    }
}

static struct jinfo *info_add(struct cctx *c, const json_t *j, struct cres *res,
                              enum val_dialect d, unsigned vocab)
{
    if ((c->map_n + 1) * 2 > c->map_cap) {
        size_t cap = c->map_cap ? c->map_cap * 2 : 256;
        struct jinfo **m = calloc(cap, sizeof *m);
        if (!m) {
            val__cfail(c, WR_ENOMEM, "out of memory");
            return NULL;
        }
        for (size_t i = 0; i < c->map_cap; i++) {
            if (c->map[i]) {
                size_t k = ptr_hash(c->map[i]->j, cap);
                while (m[k]) {
                    k = (k + 1) & (cap - 1);
                }
                m[k] = c->map[i];
            }
        }
        free(c->map);
        c->map = m;
        c->map_cap = cap;
    }
    struct jinfo *in = wr_arena_alloc(c->ta, sizeof *in);
    if (!in) {
        val__cfail(c, WR_ENOMEM, "out of memory");
        return NULL;
    }
    in->j = j;
    in->res = res;
    in->d = d;
    in->vocab = vocab;
    in->node = NULL;
    size_t k = ptr_hash(j, c->map_cap);
    while (c->map[k]) {
        k = (k + 1) & (c->map_cap - 1);
    }
    c->map[k] = in;
    c->map_n++;
    return in;
}

static struct cres *res_find(struct cctx *c, const char *uri)
{
    for (struct cres *r = c->res; r; r = r->next) {
        if (strcmp(r->uri, uri) == 0) {
            return r;
        }
    }
    return NULL;
}

static struct cres *res_add(struct cctx *c, const char *uri, const json_t *root)
{
    struct cres *r = wr_arena_alloc(c->ta, sizeof *r);
    char *u = wr_arena_strndup(c->pa, uri, strlen(uri));
    if (!r || !u) {
        val__cfail(c, WR_ENOMEM, "out of memory");
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->uri = u;
    r->root = root;
    r->next = c->res;
    c->res = r;
    return r;
}

static int anchor_add(struct cctx *c, struct cres *r, const char *name, const json_t *j, bool dyn)
{
    for (struct anchor *a = r->anchors; a; a = a->next) {
        if (strcmp(a->name, name) == 0) {
            if (dyn) {
                a->dynamic = true;
            }
            return 0;
        }
    }
    struct anchor *a = wr_arena_alloc(c->ta, sizeof *a);
    char *n = wr_arena_strndup(c->pa, name, strlen(name));
    if (!a || !n) {
        return val__cfail(c, WR_ENOMEM, "out of memory");
    }
    a->name = n;
    a->j = j;
    a->dynamic = dyn;
    a->next = r->anchors;
    r->anchors = a;
    return 0;
}

/* --- dialects ----------------------------------------------------------------------- */

static const json_t *doc_lookup(struct cctx *c, const char *uri);

static bool uri_is(const char *s, const char *dialect)
{
    size_t n = strlen(dialect);
    return strncmp(s, dialect, n) == 0 && (s[n] == '\0' || (s[n] == '#' && s[n + 1] == '\0'));
}

/* The dialect and vocabularies `$schema` names; <0 when unknown. */
static int dialect_of(struct cctx *c, const char *uri, enum val_dialect *d, unsigned *vocab,
                      int depth)
{
    if (uri_is(uri, DIALECT_2020)) {
        *d = VAL_DIALECT_2020_12;
        *vocab = VAL__V_ALL;
        return 0;
    }
    if (uri_is(uri, DIALECT_07) || uri_is(uri, "https://json-schema.org/draft-07/schema")) {
        *d = VAL_DIALECT_DRAFT7;
        *vocab = VAL__V_ALL;
        return 0;
    }
    char base[512];
    size_t n = strcspn(uri, "#");
    if (n >= sizeof base || depth > 8) {
        return -1;
    }
    memcpy(base, uri, n);
    base[n] = '\0';
    const json_t *m = doc_lookup(c, base);
    if (!json_is_object(m)) {
        return -1;
    }
    /* A custom meta-schema: its own `$schema` gives the dialect, `$vocabulary` what runs. */
    const char *ms = json_string_value(json_object_get(m, "$schema"));
    unsigned v0;
    if (!ms || strcmp(ms, uri) == 0 || dialect_of(c, ms, d, &v0, depth + 1) < 0) {
        return -1;
    }
    const json_t *voc = json_object_get(m, "$vocabulary");
    if (!json_is_object(voc) || *d != VAL_DIALECT_2020_12) {
        *vocab = v0;
        return 0;
    }
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {{"core", VAL__V_CORE},
                 {"applicator", VAL__V_APPLICATOR},
                 {"unevaluated", VAL__V_UNEVALUATED},
                 {"validation", VAL__V_VALIDATION},
                 {"format-annotation", VAL__V_FORMAT},
                 {"format-assertion", VAL__V_FORMAT | VAL__V_FORMAT_ASSERT},
                 {"content", VAL__V_CONTENT},
                 {"meta-data", 0}};
    unsigned bits = VAL__V_CORE;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)voc, k, val)
    {
        const char *pre = "https://json-schema.org/draft/2020-12/vocab/";
        bool found = false;
        if (strncmp(k, pre, strlen(pre)) == 0) {
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
                if (strcmp(k + strlen(pre), known[i].name) == 0) {
                    bits |= known[i].bit;
                    found = true;
                }
            }
        }
        if (!found && json_is_true(val)) {
            return -2;
        }
    }
    *vocab = bits;
    return 0;
}

/* --- scanning: identifiers and anchors ------------------------------------------------ */

static int scan(struct cctx *c, const json_t *j, struct cres *cur, enum val_dialect d,
                unsigned vocab, bool doc_root, unsigned depth);

static int scan_map(struct cctx *c, const json_t *o, struct cres *cur, enum val_dialect d,
                    unsigned vocab, unsigned depth)
{
    if (!json_is_object(o)) {
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (scan(c, v, cur, d, vocab, false, depth + 1)) {
            return c->rc;
        }
    }
    return 0;
}

static int scan_arr(struct cctx *c, const json_t *a, struct cres *cur, enum val_dialect d,
                    unsigned vocab, unsigned depth)
{
    if (!json_is_array(a)) {
        return 0;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        if (scan(c, json_array_get(a, i), cur, d, vocab, false, depth + 1)) {
            return c->rc;
        }
    }
    return 0;
}

static int scan(struct cctx *c, const json_t *j, struct cres *cur, enum val_dialect d,
                unsigned vocab, bool doc_root, unsigned depth)
{
    if (depth > VAL__MAX_COMPILE_DEPTH) {
        return val__cfail(c, WR_EINVAL, "schema nested deeper than %d levels",
                          VAL__MAX_COMPILE_DEPTH);
    }
    if (val__info_get(c, j)) {
        return 0;
    }
    if (json_is_boolean(j)) {
        return info_add(c, j, cur, d, vocab) ? 0 : c->rc;
    }
    if (!json_is_object(j)) {
        return 0;
    }
    const char *id = json_string_value(json_object_get(j, "$id"));
    const char *sch = json_string_value(json_object_get(j, "$schema"));
    if (sch && (doc_root || (id && d == VAL_DIALECT_2020_12))) {
        int r = dialect_of(c, sch, &d, &vocab, 0);
        if (r == -2) {
            return val__cfail(c, WR_EINVAL, "$schema %.80s requires a vocabulary weir lacks", sch);
        }
        if (r < 0) {
            return val__cfail(c, WR_EINVAL, "unknown $schema %.100s", sch);
        }
    }
    bool has_ref = json_object_get(j, "$ref") != NULL;
    if (id && !(d == VAL_DIALECT_DRAFT7 && has_ref)) {
        if (d == VAL_DIALECT_DRAFT7 && id[0] == '#') {
            if (id[1] && anchor_add(c, cur, id + 1, j, false)) {
                return c->rc;
            }
        } else {
            char *abs = val__uri_resolve(c->ta, cur->uri, id);
            if (!abs) {
                return val__cfail(c, WR_ENOMEM, "out of memory");
            }
            const char *frag;
            size_t n = val__uri_split(abs, &frag);
            abs[n] = '\0';
            struct cres *r = res_find(c, abs);
            if (!r) {
                r = res_add(c, abs, j);
                if (!r) {
                    return c->rc;
                }
            }
            cur = r;
            if (frag[0] && anchor_add(c, cur, frag, j, false)) {
                return c->rc;
            }
        }
    }
    if (d == VAL_DIALECT_2020_12) {
        const char *an = json_string_value(json_object_get(j, "$anchor"));
        if (an && anchor_add(c, cur, an, j, false)) {
            return c->rc;
        }
        const char *dan = json_string_value(json_object_get(j, "$dynamicAnchor"));
        if (dan && anchor_add(c, cur, dan, j, true)) {
            return c->rc;
        }
    }
    if (!info_add(c, j, cur, d, vocab)) {
        return c->rc;
    }
    static const char *const single[] = {"additionalProperties", "additionalItems", "contains",
                                         "propertyNames", "not", "if", "then", "else",
                                         "unevaluatedItems", "unevaluatedProperties",
                                         "contentSchema", "items"};
    static const char *const maps[] = {"properties", "patternProperties", "$defs", "definitions",
                                       "dependentSchemas", "dependencies"};
    static const char *const arrays[] = {"allOf", "anyOf", "oneOf", "prefixItems", "items"};
    for (size_t i = 0; i < sizeof single / sizeof single[0]; i++) {
        const json_t *v = json_object_get(j, single[i]);
        if (v && (json_is_object(v) || json_is_boolean(v)) &&
            scan(c, v, cur, d, vocab, false, depth + 1)) {
            return c->rc;
        }
    }
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        if (scan_map(c, json_object_get(j, maps[i]), cur, d, vocab, depth)) {
            return c->rc;
        }
    }
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        if (scan_arr(c, json_object_get(j, arrays[i]), cur, d, vocab, depth)) {
            return c->rc;
        }
    }
    return 0;
}

/* The document known under uri (no fragment): already scanned, the caller's set or a
 * bundled meta-schema. */
static const json_t *doc_lookup(struct cctx *c, const char *uri)
{
    struct cres *r = res_find(c, uri);
    if (r) {
        return r->root;
    }
    const val_resources *rs = c->opts->resources;
    for (size_t i = 0; rs && i < rs->n; i++) {
        if (strcmp(rs->docs[i].uri, uri) == 0) {
            return rs->docs[i].doc;
        }
    }
    for (size_t i = 0; i < g_meta_n; i++) {
        if (strcmp(g_meta[i].uri, uri) == 0) {
            return g_meta[i].doc;
        }
    }
    return NULL;
}

/* The resource named uri, scanning its document on first use. */
static struct cres *res_load(struct cctx *c, const char *uri, enum val_dialect d)
{
    struct cres *r = res_find(c, uri);
    if (r) {
        return r;
    }
    const json_t *doc = doc_lookup(c, uri);
    if (!doc) {
        return NULL;
    }
    r = res_add(c, uri, doc);
    if (!r) {
        return NULL;
    }
    if (scan(c, doc, r, d, VAL__V_ALL, true, 0)) {
        return NULL;
    }
    return r;
}

/* --- references ------------------------------------------------------------------------ */

/* Resolves ref from the resource `from`; returns the target and sets *anchor_dyn when the
 * fragment names a `$dynamicAnchor` of the target's resource. */
const json_t *val__resolve(struct cctx *c, const struct jinfo *from, const char *ref,
                           const char **anchor_name, bool *anchor_dyn)
{
    char *abs = val__uri_resolve(c->ta, from->res->uri, ref);
    if (!abs) {
        val__cfail(c, WR_ENOMEM, "out of memory");
        return NULL;
    }
    const char *frag;
    size_t n = val__uri_split(abs, &frag);
    abs[n] = '\0';
    *anchor_name = NULL;
    *anchor_dyn = false;
    struct cres *r = res_load(c, abs, from->d);
    if (c->rc) {
        return NULL;
    }
    if (!r) {
        val__cfail(c, WR_EINVAL, "cannot resolve reference \"%.100s\" (no document %.100s)", ref,
                   abs);
        return NULL;
    }
    if (frag[0] == '\0') {
        return r->root;
    }
    char dec[1024];
    size_t dn = val__uri_unescape(frag, strlen(frag), dec, sizeof dec);
    if (dn == (size_t)-1) {
        val__cfail(c, WR_EINVAL, "malformed fragment in reference \"%.100s\"", ref);
        return NULL;
    }
    if (dec[0] != '/') {
        for (struct anchor *a = r->anchors; a; a = a->next) {
            if (strcmp(a->name, dec) == 0) {
                *anchor_name = a->name;
                *anchor_dyn = a->dynamic;
                return a->j;
            }
        }
        val__cfail(c, WR_EINVAL, "cannot resolve reference \"%.100s\" (no anchor \"%.60s\")", ref,
                   dec);
        return NULL;
    }
    /* A JSON Pointer from the resource's root. */
    const json_t *j = r->root;
    const struct jinfo *best = val__info_get(c, j);
    size_t i = 1;
    while (i <= dn) {
        size_t e = i;
        while (e < dn && dec[e] != '/') {
            e++;
        }
        char tok[1024];
        size_t tn = 0;
        for (size_t k = i; k < e; k++) {
            if (dec[k] == '~' && k + 1 < e && (dec[k + 1] == '0' || dec[k + 1] == '1')) {
                tok[tn++] = dec[k + 1] == '0' ? '~' : '/';
                k++;
            } else {
                tok[tn++] = dec[k];
            }
        }
        tok[tn] = '\0';
        const json_t *next = NULL;
        if (json_is_object(j)) {
            next = json_object_getn(j, tok, tn);
        } else if (json_is_array(j)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            if (tn > 0 && *end == '\0' && tok[0] >= '0' && tok[0] <= '9') {
                next = json_array_get(j, idx);
            }
        }
        if (!next) {
            val__cfail(c, WR_EINVAL, "cannot resolve reference \"%.100s\" (no such location)", ref);
            return NULL;
        }
        j = next;
        const struct jinfo *in = val__info_get(c, j);
        if (in) {
            best = in;
        }
        i = e + 1;
        if (e == dn) {
            break;
        }
    }
    if (!val__info_get(c, j) && best) {
        if (scan(c, j, best->res, best->d, best->vocab, false, 0)) {
            return NULL;
        }
    }
    return j;
}

/* Fills every used resource's `$dynamicAnchor` table, compiling the anchored schemas
 * (which may bring more resources into use) until nothing changes. */
static int dyn_tables(struct cctx *c)
{
    bool changed = true;
    while (changed && !c->rc) {
        changed = false;
        for (struct cres *r = c->res; r; r = r->next) {
            if (!r->rt || r->dyn_done) {
                continue;
            }
            r->dyn_done = true;
            changed = true;
            uint32_t cnt = 0;
            for (struct anchor *a = r->anchors; a; a = a->next) {
                cnt += a->dynamic;
            }
            if (!cnt) {
                continue;
            }
            struct val__dynanchor *t = wr_arena_alloc(c->pa, cnt * sizeof *t);
            if (!t) {
                return val__cfail(c, WR_ENOMEM, "out of memory");
            }
            uint32_t k = 0;
            for (struct anchor *a = r->anchors; a; a = a->next) {
                if (a->dynamic) {
                    t[k].name = a->name;
                    t[k].node = val__cnode(c, a->j);
                    if (!t[k].node) {
                        return c->rc;
                    }
                    k++;
                }
            }
            r->rt->dyn = t;
            r->rt->n_dyn = k;
        }
    }
    return c->rc;
}

/* A cycle of in-place applicators (`$ref`, `allOf`, ...) would recurse forever without
 * consuming the instance: refuse it. Colours: 0 new, 1 on the stack, 2 done. */
enum { MAX_CHAIN = 2048 };

static bool has_cycle(const struct val__node *n, unsigned depth)
{
    struct val__node *m = (struct val__node *)n;
    if (m->mark == 1 || depth > MAX_CHAIN) {
        /* A chain of in-place references this long is refused like a cycle: it would
         * take as deep a recursion to evaluate. */
        return true;
    }
    if (m->mark == 2) {
        return false;
    }
    m->mark = 1;
    for (uint32_t i = 0; i < n->n_ops; i++) {
        const struct val__op *op = &n->ops[i];
        switch ((enum val__op_kind)op->kind) {
        case VAL__OP_REF:
        case VAL__OP_NOT:
            if (has_cycle(op->u.sub, depth + 1)) {
                return true;
            }
            break;
        case VAL__OP_DYNAMIC_REF:
            if (has_cycle(op->u.dyn.target, depth + 1)) {
                return true;
            }
            break;
        case VAL__OP_ALL_OF:
        case VAL__OP_ANY_OF:
        case VAL__OP_ONE_OF:
            for (uint32_t k = 0; k < op->u.group.n; k++) {
                if (has_cycle(op->u.group.subs[k], depth + 1)) {
                    return true;
                }
            }
            break;
        case VAL__OP_IF:
            if (has_cycle(op->u.cond.cond, depth + 1) ||
                (op->u.cond.then_ && has_cycle(op->u.cond.then_, depth + 1)) ||
                (op->u.cond.else_ && has_cycle(op->u.cond.else_, depth + 1))) {
                return true;
            }
            break;
        case VAL__OP_DEP_SCHEMAS:
            for (uint32_t k = 0; k < op->u.list.n; k++) {
                if (has_cycle(op->u.list.names[k].node, depth + 1)) {
                    return true;
                }
            }
            break;
        default:
            break;
        }
    }
    m->mark = 2;
    return false;
}

/* Every node reachable through any op, for the cycle check's entry points. */
static bool check_cycles(struct cctx *c)
{
    for (size_t i = 0; i < c->map_cap; i++) {
        const struct jinfo *in = c->map[i];
        if (in && in->node && in->node->mark == 0 && has_cycle(in->node, 0)) {
            return true;
        }
    }
    return false;
}

/* --- public --------------------------------------------------------------------------- */

static val_schema *compile_internal(const json_t *schema, const struct val_opts *opts,
                                    bool check_meta, int meta_depth, struct wr_err *err);

static val_schema *g_std_meta[2];
static pthread_once_t g_std_once = PTHREAD_ONCE_INIT;

static void std_meta_compile(void)
{
    struct val_opts o;
    memset(&o, 0, sizeof o);
    o.format_annotate = true;
    for (int d = 0; d < 2; d++) {
        const char *uri = d == 0 ? DIALECT_2020 : DIALECT_07;
        for (size_t i = 0; i < g_meta_n; i++) {
            if (strcmp(g_meta[i].uri, uri) == 0) {
                o.default_dialect = (enum val_dialect)d;
                g_std_meta[d] = compile_internal(g_meta[i].doc, &o, false, 0, NULL);
            }
        }
    }
}

/* Validates schema against its meta-schema; 0 or the refusal. */
static int check_against_meta(const json_t *schema, const struct val_opts *opts,
                              enum val_dialect dflt, int meta_depth, struct wr_err *err)
{
    const char *sch = json_is_object(schema) ? json_string_value(json_object_get(schema, "$schema"))
                                             : NULL;
    val_schema *meta = NULL;
    bool own = false;
    if (!sch || uri_is(sch, DIALECT_2020) || uri_is(sch, DIALECT_07)) {
        pthread_once(&g_std_once, std_meta_compile);
        enum val_dialect d = !sch ? dflt : uri_is(sch, DIALECT_2020) ? VAL_DIALECT_2020_12
                                                                      : VAL_DIALECT_DRAFT7;
        meta = g_std_meta[d];
        if (!meta) {
            return wr_err_set(err, WR_ENOMEM, "cannot compile the bundled meta-schema");
        }
    } else {
        if (meta_depth > 4) {
            return wr_err_set(err, WR_EINVAL, "$schema: meta-schemas nested too deep");
        }
        const val_resources *rs = opts->resources;
        const json_t *doc = NULL;
        char *u = strip_frag(sch);
        if (!u) {
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        for (size_t i = 0; rs && i < rs->n; i++) {
            if (strcmp(rs->docs[i].uri, u) == 0) {
                doc = rs->docs[i].doc;
            }
        }
        free(u);
        if (!doc) {
            return wr_err_set(err, WR_EINVAL, "$schema: unknown meta-schema %.100s", sch);
        }
        struct val_opts o = *opts;
        o.format_annotate = true;
        struct wr_err e2;
        meta = compile_internal(doc, &o, true, meta_depth + 1, &e2);
        if (!meta) {
            return wr_err_set(err, e2.code, "$schema: %s", e2.msg);
        }
        own = true;
    }
    wr_arena *a = wr_arena_create(16384, 0);
    if (!a) {
        if (own) {
            val_schema_unref(meta);
        }
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    int rc = 0;
    struct js_val *jv = val__from_jansson(a, schema);
    struct val_result res;
    if (!jv) {
        rc = wr_err_set(err, WR_ELIMIT, "(root): schema nested too deep (or out of memory)");
    } else if (val_validate(meta, jv, a, 1, &res) == 0 && !res.valid && res.n_errors > 0) {
        const struct val_error *e = &res.errors[0];
        rc = wr_err_set(err, WR_EINVAL, "%s: %s (%s)",
                        e->instance_path[0] ? e->instance_path : "(root)", e->message,
                        e->keyword);
    } else if (!res.valid) {
        rc = wr_err_set(err, WR_EINVAL, "(root): schema is not valid against its meta-schema");
    }
    wr_arena_destroy(a);
    if (own) {
        val_schema_unref(meta);
    }
    return rc;
}

static val_schema *compile_internal(const json_t *schema, const struct val_opts *opts0,
                                    bool check_meta, int meta_depth, struct wr_err *err)
{
    struct val_opts dflt;
    memset(&dflt, 0, sizeof dflt);
    const struct val_opts *opts = opts0 ? opts0 : &dflt;
    pthread_once(&g_meta_once, meta_load);
    if (!json_is_object(schema) && !json_is_boolean(schema)) {
        wr_err_set(err, WR_EINVAL, "(root): a schema must be an object or a boolean");
        return NULL;
    }
    if (check_meta && check_against_meta(schema, opts, opts->default_dialect, meta_depth, err)) {
        return NULL;
    }
    struct cctx c;
    memset(&c, 0, sizeof c);
    c.opts = opts;
    c.err = err;
    c.s = calloc(1, sizeof *c.s);
    c.pa = wr_arena_create(16384, 0);
    c.ta = wr_arena_create(16384, 0);
    if (!c.s || !c.pa || !c.ta) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        free(c.s);
        wr_arena_destroy(c.pa);
        wr_arena_destroy(c.ta);
        return NULL;
    }
    atomic_init(&c.s->refs, 1);
    c.s->arena = c.pa;
    c.s->max_depth = opts->max_depth ? opts->max_depth : 512;
    c.s->max_steps = opts->max_steps;
    enum val_dialect d = opts->default_dialect;
    unsigned vocab = VAL__V_ALL;
    const char *id = json_is_object(schema) ? json_string_value(json_object_get(schema, "$id")) : NULL;
    const char *sch = json_is_object(schema) ? json_string_value(json_object_get(schema, "$schema")) : NULL;
    if (sch) {
        int r = dialect_of(&c, sch, &d, &vocab, 0);
        if (r < 0) {
            val__cfail(&c, WR_EINVAL, r == -2 ? "$schema requires a vocabulary weir lacks"
                                        : "unknown $schema %.100s", sch);
        }
    }
    c.s->dialect = d;
    /* The root's own base: its `$id` when absolute, otherwise a private URN. */
    struct cres *root = NULL;
    if (!c.rc) {
        char *base = NULL;
        if (id && !(d == VAL_DIALECT_DRAFT7 && json_object_get(schema, "$ref")) && id[0] != '#') {
            base = val__uri_resolve(c.ta, DEFAULT_BASE, id);
            if (base) {
                base[val__uri_split(base, &(const char *){NULL})] = '\0';
            }
        }
        root = res_add(&c, base ? base : DEFAULT_BASE, schema);
    }
    if (root && !c.rc) {
        scan(&c, schema, root, d, vocab, true, 0);
    }
    if (!c.rc) {
        c.s->root = val__cnode(&c, schema);
    }
    if (!c.rc) {
        dyn_tables(&c);
    }
    if (!c.rc && check_cycles(&c)) {
        val__cfail(&c, WR_EINVAL, "a $ref cycle that consumes no input (infinite recursion), or "
                            "a chain of in-place references deeper than %d", MAX_CHAIN);
    }
    free(c.map);
    wr_arena_destroy(c.ta);
    if (c.rc) {
        val_schema_unref(c.s);
        return NULL;
    }
    return c.s;
}

val_schema *val_compile(const json_t *schema, const struct val_opts *opts, struct wr_err *err)
{
    return compile_internal(schema, opts, true, 0, err);
}

val_schema *val_schema_ref(val_schema *s)
{
    if (s) {
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    }
    return s;
}

void val_schema_unref(val_schema *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    for (size_t i = 0; i < s->n_regexes; i++) {
        val__regex_free(s->regexes[i]);
    }
    free(s->regexes);
    wr_arena_destroy(s->arena);
    free(s);
}

enum val_dialect val_schema_dialect(const val_schema *s)
{
    return s->dialect;
}
