/* compile.c - turns a schema (jansson) into the validator's program: finds every schema
 * resource, `$id`, `$anchor` and `$dynamicAnchor`, resolves references (RFC 3986 and JSON
 * Pointer), compiles each subschema once into a node of operations, refuses schemas that
 * fail their meta-schema, bad patterns and `$ref` cycles that consume no input. */
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
#define MAX_COMPILE_DEPTH 512

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

struct anchor {
    const char *name;
    const json_t *j;
    bool dynamic;
    struct anchor *next;
};

struct cres {
    const char *uri;
    const json_t *root;
    struct anchor *anchors;
    struct val__res *rt;
    bool dyn_done;
    struct cres *next;
};

struct jinfo {
    const json_t *j;
    struct cres *res;
    enum val_dialect d;
    unsigned vocab;
    struct val__node *node;
};

struct cctx {
    val_schema *s;
    wr_arena *pa; /* the program */
    wr_arena *ta; /* compile-time only */
    const struct val_opts *opts;
    struct cres *res;
    struct jinfo **map;
    size_t map_cap, map_n;
    struct wr_err *err;
    int rc;
    unsigned depth;
    char path[512];
    size_t path_len;
    size_t regex_cap;
};

__attribute__((format(printf, 3, 4))) static int fail(struct cctx *c, int code, const char *fmt, ...)
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

static size_t path_push(struct cctx *c, const char *seg, size_t len)
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

static size_t path_push_idx(struct cctx *c, size_t i)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%zu", i);
    return path_push(c, b, (size_t)n);
}

static void path_pop(struct cctx *c, size_t saved)
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

static struct jinfo *info_get(struct cctx *c, const json_t *j)
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
            fail(c, WR_ENOMEM, "out of memory");
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
        fail(c, WR_ENOMEM, "out of memory");
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
        fail(c, WR_ENOMEM, "out of memory");
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
        return fail(c, WR_ENOMEM, "out of memory");
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
    if (depth > MAX_COMPILE_DEPTH) {
        return fail(c, WR_EINVAL, "schema nested deeper than %d levels", MAX_COMPILE_DEPTH);
    }
    if (info_get(c, j)) {
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
            return fail(c, WR_EINVAL, "$schema %.80s requires a vocabulary weir lacks", sch);
        }
        if (r < 0) {
            return fail(c, WR_EINVAL, "unknown $schema %.100s", sch);
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
                return fail(c, WR_ENOMEM, "out of memory");
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
static const json_t *resolve(struct cctx *c, const struct jinfo *from, const char *ref,
                             const char **anchor_name, bool *anchor_dyn)
{
    char *abs = val__uri_resolve(c->ta, from->res->uri, ref);
    if (!abs) {
        fail(c, WR_ENOMEM, "out of memory");
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
        fail(c, WR_EINVAL, "cannot resolve reference \"%.100s\" (no document %.100s)", ref, abs);
        return NULL;
    }
    if (frag[0] == '\0') {
        return r->root;
    }
    char dec[1024];
    size_t dn = val__uri_unescape(frag, strlen(frag), dec, sizeof dec);
    if (dn == (size_t)-1) {
        fail(c, WR_EINVAL, "malformed fragment in reference \"%.100s\"", ref);
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
        fail(c, WR_EINVAL, "cannot resolve reference \"%.100s\" (no anchor \"%.60s\")", ref, dec);
        return NULL;
    }
    /* A JSON Pointer from the resource's root. */
    const json_t *j = r->root;
    const struct jinfo *best = info_get(c, j);
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
            fail(c, WR_EINVAL, "cannot resolve reference \"%.100s\" (no such location)", ref);
            return NULL;
        }
        j = next;
        const struct jinfo *in = info_get(c, j);
        if (in) {
            best = in;
        }
        i = e + 1;
        if (e == dn) {
            break;
        }
    }
    if (!info_get(c, j) && best) {
        if (scan(c, j, best->res, best->d, best->vocab, false, 0)) {
            return NULL;
        }
    }
    return j;
}

/* --- compiling nodes --------------------------------------------------------------- */

static struct val__node *cnode(struct cctx *c, const json_t *j);

static struct val__node *csub(struct cctx *c, const json_t *j, const char *kw, const char *name,
                              size_t name_len, long idx)
{
    size_t saved = path_push(c, kw, strlen(kw));
    if (name) {
        path_push(c, name, name_len);
    } else if (idx >= 0) {
        path_push_idx(c, (size_t)idx);
    }
    struct val__node *n = NULL;
    if (!json_is_object(j) && !json_is_boolean(j)) {
        fail(c, WR_EINVAL, "expected a schema (object or boolean)");
    } else {
        n = cnode(c, j);
    }
    path_pop(c, saved);
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
        return fail(c, WR_ENOMEM, "out of memory");
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
        fail(c, WR_ENOMEM, "out of memory");
    }
    return d;
}

static val__regex *regex(struct cctx *c, const char *src, size_t n)
{
    struct wr_err e = {0, ""};
    val__regex *re = val__regex_compile(src, n, &e);
    if (!re) {
        fail(c, e.code == WR_ENOMEM ? WR_ENOMEM : WR_EINVAL, "invalid pattern: %s", e.msg);
        return NULL;
    }
    if (WR_ARRAY_PUSH(&c->s->regexes, &c->regex_cap, c->s->n_regexes, 8) != 0) {
        val__regex_free(re);
        fail(c, WR_ENOMEM, "out of memory");
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
            fail(c, WR_ENOMEM, "out of memory");
            return NULL;
        }
        memset(r->rt, 0, sizeof *r->rt);
        r->rt->uri = r->uri;
    }
    return r->rt;
}

enum { MAX_OPS = 48 }; /* more than the distinct keywords one node can hold */

/* Adds one op to the node under construction. */
static struct val__op *op_new(struct val__op *ops, uint32_t *n, enum val__op_kind k,
                              const char *kw)
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
        size_t saved = path_push(c, kw, strlen(kw));
        fail(c, WR_EINVAL, "expected a string");
        path_pop(c, saved);
        return c->rc;
    }
    size_t saved = path_push(c, kw, strlen(kw));
    const char *aname;
    bool adyn;
    const json_t *t = resolve(c, in, ref, &aname, &adyn);
    path_pop(c, saved);
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
        size_t saved = path_push(c, kw, strlen(kw));
        fail(c, WR_EINVAL, "expected a non-empty array of schemas");
        path_pop(c, saved);
        return c->rc;
    }
    struct val__node **subs = wr_arena_alloc(c->pa, cnt * sizeof *subs);
    if (!subs) {
        return fail(c, WR_ENOMEM, "out of memory");
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
    size_t saved = path_push(c, kw, strlen(kw));
    fail(c, WR_EINVAL, "%s", msg);
    path_pop(c, saved);
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
        return fail(c, WR_ENOMEM, "out of memory");
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
        return fail(c, WR_ENOMEM, "out of memory");
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
                return fail(c, WR_ENOMEM, "out of memory");
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
            return fail(c, WR_ENOMEM, "out of memory");
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
            return fail(c, WR_ENOMEM, "out of memory");
        }
        size_t i = 0;
        const char *name;
        size_t nlen;
        json_t *v;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)pp, tmp, name, nlen, v)
        {
            size_t saved = path_push(c, "patternProperties", 17);
            path_push(c, name, nlen);
            t[i].re = regex(c, name, nlen);
            path_pop(c, saved);
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
            return fail(c, WR_ENOMEM, "out of memory");
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

static int c_value_ops(struct cctx *c, const struct jinfo *in, const json_t *j,
                       struct val__op *ops, uint32_t *n)
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
            return fail(c, WR_ENOMEM, "out of memory");
        }
        op_new(ops, n, VAL__OP_CONST, "const")->u.value = x;
    }
    if ((v = json_object_get(j, "enum"))) {
        if (!json_is_array(v)) {
            return kw_fail(c, "enum", "expected an array");
        }
        struct js_val *x = val__from_jansson(c->pa, v);
        if (!x) {
            return fail(c, WR_ENOMEM, "out of memory");
        }
        struct val__op *op = op_new(ops, n, VAL__OP_ENUM, "enum");
        op->u.en.items = x->u.items;
        op->u.en.n = x->n;
        if (x->n > 8) {
            uint64_t *h = wr_arena_alloc(c->pa, x->n * sizeof *h);
            if (!h) {
                return fail(c, WR_ENOMEM, "out of memory");
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
    } counts[] = {{"maxLength", VAL__OP_MAX_LENGTH},        {"minLength", VAL__OP_MIN_LENGTH},
                  {"maxItems", VAL__OP_MAX_ITEMS},          {"minItems", VAL__OP_MIN_ITEMS},
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
        size_t saved = path_push(c, "pattern", 7);
        val__regex *re = regex(c, json_string_value(v), json_string_length(v));
        path_pop(c, saved);
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
                return fail(c, WR_ENOMEM, "out of memory");
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
        if (!bsearch(r, props->u.props.props, props->u.props.n_props,
                     sizeof(struct val__named), cmp_named)) {
            return;
        }
    }
    for (uint32_t i = 0; i < req->u.list.n_sorted; i++) {
        struct val__named *e = bsearch(&req->u.list.sorted[i], props->u.props.props,
                                       props->u.props.n_props, sizeof(struct val__named),
                                       cmp_named);
        e->req = true;
    }
    props->u.props.n_req = req->u.list.n_sorted;
    req->fused = true;
}

/* `format`: its own vocabulary (annotation, or assertion when opts or the meta-schema's
 * format-assertion vocabulary say so). Unknown formats only annotate. */
static void c_format(struct cctx *c, const struct jinfo *in, const json_t *j,
                     struct val__op *ops, uint32_t *n)
{
    const json_t *v;
    if ((v = json_object_get(j, "format")) && (in->vocab & VAL__V_FORMAT) &&
        (!c->opts->format_annotate || (in->vocab & VAL__V_FORMAT_ASSERT)) &&
        json_is_string(v)) {
        enum val__fmt f = val__fmt_lookup(json_string_value(v), json_string_length(v));
        if (f != VAL__FMT_UNKNOWN) {
            op_new(ops, n, VAL__OP_FORMAT, "format")->u.fmt = f;
        }
    }
}

static struct val__node *cnode(struct cctx *c, const json_t *j)
{
    if (c->rc) {
        return NULL;
    }
    struct jinfo *in = info_get(c, j);
    if (!in) {
        /* Reached without a scan (e.g. a pointer into an unknown keyword). */
        fail(c, WR_EINVAL, "internal: schema location was not scanned");
        return NULL;
    }
    if (in->node) {
        return in->node;
    }
    if (c->depth >= MAX_COMPILE_DEPTH) {
        fail(c, WR_EINVAL, "schema nested deeper than %d levels", MAX_COMPILE_DEPTH);
        return NULL;
    }
    struct val__node *node = wr_arena_alloc(c->pa, sizeof *node);
    if (!node) {
        fail(c, WR_ENOMEM, "out of memory");
        return NULL;
    }
    memset(node, 0, sizeof *node);
    in->node = node;
    node->res = res_rt(c, in->res);
    if (json_is_boolean(j) || json_object_size(j) == 0) {
        if (json_is_false(j)) {
            node->ops = wr_arena_alloc(c->pa, sizeof *node->ops);
            if (!node->ops) {
                fail(c, WR_ENOMEM, "out of memory");
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
        fail(c, WR_ENOMEM, "out of memory");
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
            fail(c, WR_ENOMEM, "out of memory");
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
        case VAL__OP_MIN_PROPERTIES:
            break;
        default:
            node->leaf = false;
        }
    }
    return node;
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
                return fail(c, WR_ENOMEM, "out of memory");
            }
            uint32_t k = 0;
            for (struct anchor *a = r->anchors; a; a = a->next) {
                if (a->dynamic) {
                    t[k].name = a->name;
                    t[k].node = cnode(c, a->j);
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
            fail(&c, WR_EINVAL, r == -2 ? "$schema requires a vocabulary weir lacks"
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
        c.s->root = cnode(&c, schema);
    }
    if (!c.rc) {
        dyn_tables(&c);
    }
    if (!c.rc && check_cycles(&c)) {
        fail(&c, WR_EINVAL, "a $ref cycle that consumes no input (infinite recursion), or "
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
