/* test_compat.c - the compatibility checker (validator/compat.h) against a table of
 * (old, new, mode, expected verdict) cases, each also checked empirically: instances
 * generated from both schemas (valid ones, boundary ones, mutations) are validated with
 * weir's own validator, and a `compatible` verdict in any mode must never meet an
 * instance that contradicts it. Also: the spec's JSON shape, paths, and the diff text. */
#include "check.h"
#include "validator/compat.h"
#include "validator/validator.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef COMPAT_CASES
#error "COMPAT_CASES (the path of cases.json) must be defined"
#endif

static wr_arena *A;

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
        abort();
    }
    return j;
}

static val_schema *compile_j(const json_t *j)
{
    struct wr_err err = {0, ""};
    val_schema *s = val_compile(j, NULL, &err);
    if (!s) {
        fprintf(stderr, "compile failed: %s\n", err.msg);
    }
    return s;
}

static val_schema *compile(const char *text)
{
    json_t *j = J(text);
    val_schema *s = compile_j(j);
    json_decref(j);
    return s;
}

/* --- the instance generator ---------------------------------------------------------
 * It need not be exact: every candidate is run through both schemas, and only the
 * verdicts count. It aims at the places a wrong `compatible` would show: bounds and
 * one past them, every declared name with each kind of value, extra names, values
 * of every type, and one-step mutations of valid instances. */

#define MAX_POOL 30000
#define SUB_LIMIT 24
#define MUTATED 250

/* Generated instances as compact JSON texts (sorted keys), without duplicates. */
struct pool {
    char **t;
    size_t n, cap;
    uint32_t *slots; /* dedup set: index + 1, 0 = empty; NULL once sealed */
    size_t kcap;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static void pool_init(struct pool *p)
{
    memset(p, 0, sizeof *p);
    p->kcap = 1u << 16; /* > 2 * MAX_POOL */
    p->slots = calloc(p->kcap, sizeof *p->slots);
}

/* Frees the dedup set once the pool is complete. */
static void pool_seal(struct pool *p)
{
    free(p->slots);
    p->slots = NULL;
}

static void pool_free(struct pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->t[i]);
    }
    free(p->t);
    free(p->slots);
}

/* Takes the reference to v (released); duplicates and overflow are dropped. */
static void pool_add(struct pool *p, json_t *v)
{
    if (!v) {
        return;
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(v);
    if (!t || p->n >= MAX_POOL || !p->slots) {
        free(t);
        return;
    }
    size_t mask = p->kcap - 1, i = fnv(t) & mask;
    while (p->slots[i]) {
        if (strcmp(p->t[p->slots[i] - 1], t) == 0) {
            free(t);
            return;
        }
        i = (i + 1) & mask;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->t = realloc(p->t, p->cap * sizeof *p->t);
    }
    p->t[p->n++] = t;
    p->slots[i] = (uint32_t)p->n;
}

/* A list of json values (owned references), capped. */
#define LIST_CAP 4000

struct list {
    json_t **v;
    size_t n, cap;
};

static void list_add(struct list *l, json_t *v)
{
    if (!v) {
        return;
    }
    if (l->n == l->cap && l->cap < LIST_CAP) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        json_t **nv = realloc(l->v, cap * sizeof *nv);
        if (nv) {
            l->v = nv;
            l->cap = cap;
        }
    }
    if (l->n < l->cap) {
        l->v[l->n++] = v;
    } else {
        json_decref(v);
    }
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        json_decref(l->v[i]);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static const char *const format_examples[] = {"2024-01-02T03:04:05Z",
                                              "2024-01-02",
                                              "03:04:05Z",
                                              "P1D",
                                              "a@b.io",
                                              "\xc3\xa4@b.io",
                                              "example.com",
                                              "b\xc3\xbc"
                                              "cher.de",
                                              "192.168.0.1",
                                              "::1",
                                              "https://example.com/a",
                                              "/a/b",
                                              "https://ex.com/\xc3\xa4",
                                              "\xc3\xa4",
                                              "/x/{id}",
                                              "123e4567-e89b-12d3-a456-426614174000",
                                              "^a+$",
                                              "/a/0",
                                              "1/a",
                                              "not a date",
                                              "[",
                                              "a b"};

static void base_scalars(struct list *l)
{
    static const char *const texts[] = {
        "null",    "true",  "false",  "0",       "1",       "-1",         "2",     "3",
        "4",       "5",     "6",      "10",      "100",     "-100",       "0.5",   "1.5",
        "2.25",    "-2.5",  "0.3",    "0.6",     "0.9",     "1e300",      "\"\"",  "\"a\"",
        "\"b\"",   "\"c\"", "\"ab\"", "\"bb\"",  "\"abc\"", "\"abcdef\"", "\"A\"", "\"x_1\"",
        "\"123\"", "[]",    "[1]",    "[\"a\"]", "{}",      "{\"a\":1}"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        list_add(l, J(texts[i]));
    }
    for (size_t i = 0; i < sizeof format_examples / sizeof format_examples[0]; i++) {
        list_add(l, json_string(format_examples[i]));
    }
}

static const json_t *resolve(const json_t *root, const char *ref)
{
    if (ref[0] != '#') {
        return NULL;
    }
    const json_t *cur = root;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        p++;
        char seg[256];
        size_t k = 0;
        while (*p && *p != '/' && k + 1 < sizeof seg) {
            if (p[0] == '~' && p[1] == '0') {
                seg[k++] = '~';
                p += 2;
            } else if (p[0] == '~' && p[1] == '1') {
                seg[k++] = '/';
                p += 2;
            } else {
                seg[k++] = *p++;
            }
        }
        seg[k] = 0;
        if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(seg, &end, 10);
            if (end == seg || *end) {
                return NULL;
            }
            cur = json_array_get(cur, idx);
        } else {
            cur = json_object_get(cur, seg);
        }
    }
    return *p ? NULL : cur;
}

static void gen(const json_t *root, const json_t *s, int depth, struct list *out);
static void gen_objects_only(const json_t *root, const json_t *s, int depth, struct list *out);

/* Up to SUB_LIMIT candidates for a subschema (always at least a few values). */
static void gen_sub(const json_t *root, const json_t *s, int depth, struct list *out)
{
    struct list tmp = {NULL, 0, 0};
    if (s) {
        gen(root, s, depth + 1, &tmp);
    }
    if (tmp.n == 0) {
        list_add(&tmp, json_integer(1));
        list_add(&tmp, json_string("a"));
        list_add(&tmp, json_null());
    }
    /* Spread the picks over the whole list: its head is the valid-looking part. */
    size_t step = tmp.n > SUB_LIMIT ? tmp.n / SUB_LIMIT : 1;
    for (size_t i = 0; i < tmp.n && out->n < SUB_LIMIT; i += step) {
        list_add(out, json_incref(tmp.v[i]));
    }
    list_free(&tmp);
}

static double num_of(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static void add_number(struct list *out, double d)
{
    if (d == (double)(json_int_t)d && d > -1e15 && d < 1e15) {
        list_add(out, json_integer((json_int_t)d));
    } else {
        list_add(out, json_real(d));
    }
}

static void gen_numbers(const json_t *s, struct list *out)
{
    static const char *const kws[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
    static const double deltas[] = {0, -1, 1, -0.5, 0.5, -0.01, 0.01};
    for (size_t i = 0; i < 4; i++) {
        const json_t *b = json_object_get(s, kws[i]);
        if (json_is_number(b)) {
            for (size_t k = 0; k < sizeof deltas / sizeof deltas[0]; k++) {
                add_number(out, num_of(b) + deltas[k]);
            }
        }
    }
    const json_t *m = json_object_get(s, "multipleOf");
    if (json_is_number(m)) {
        for (int k = -2; k <= 6; k++) {
            add_number(out, num_of(m) * k);
        }
        add_number(out, num_of(m) * 1.5);
    }
    static const double plain[] = {0, 1, -1, 2, 7, 1.5, -2.5, 100};
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
        add_number(out, plain[k]);
    }
}

static json_t *string_of_len(size_t n, char ch)
{
    char buf[64];
    n = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memset(buf, ch, n);
    buf[n] = 0;
    return json_string(buf);
}

static void gen_strings(const json_t *s, struct list *out)
{
    const char *kws[] = {"minLength", "maxLength"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *b = json_object_get(s, kws[i]);
        if (json_is_integer(b)) {
            json_int_t n = json_integer_value(b);
            for (json_int_t d = -1; d <= 1; d++) {
                if (n + d >= 0) {
                    list_add(out, string_of_len((size_t)(n + d), 'a'));
                    list_add(out, string_of_len((size_t)(n + d), 'b'));
                }
            }
        }
    }
    static const char *const plain[] = {"", "a", "bb", "abc", "x_1", "Z9", "hello world"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        list_add(out, json_string(plain[i]));
    }
    for (size_t i = 0; i < sizeof format_examples / sizeof format_examples[0]; i++) {
        list_add(out, json_string(format_examples[i]));
    }
}

static void gen_objects(const json_t *root, const json_t *s, int depth, struct list *out)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *req = json_object_get(s, "required");
    const json_t *ap = json_object_get(s, "additionalProperties");
    const json_t *pp = json_object_get(s, "patternProperties");
    const char *name;
    const json_t *sub;
    struct list vals[16];
    const char *names[16];
    size_t nn = 0;
    json_object_foreach((json_t *)props, name, sub)
    {
        if (nn < 16) {
            names[nn] = name;
            vals[nn] = (struct list){NULL, 0, 0};
            gen_sub(root, sub, depth, &vals[nn]);
            nn++;
        }
    }
    /* Every declared name, variant by variant. */
    for (size_t v = 0; v < 6; v++) {
        json_t *all = json_object();
        json_t *reqonly = json_object();
        for (size_t i = 0; i < nn; i++) {
            json_t *x = vals[i].v[v % vals[i].n];
            json_object_set(all, names[i], x);
            bool r = false;
            for (size_t k = 0; k < json_array_size(req); k++) {
                r |= strcmp(json_string_value(json_array_get(req, k)), names[i]) == 0;
            }
            if (r) {
                json_object_set(reqonly, names[i], x);
            }
        }
        list_add(out, all);
        list_add(out, reqonly);
    }
    /* Each name alone with each of its values, on top of the required ones. */
    for (size_t i = 0; i < nn; i++) {
        for (size_t v = 0; v < vals[i].n; v++) {
            json_t *o = json_object();
            for (size_t k = 0; k < json_array_size(req); k++) {
                const char *rn = json_string_value(json_array_get(req, k));
                for (size_t j = 0; rn && j < nn; j++) {
                    if (strcmp(rn, names[j]) == 0) {
                        json_object_set(o, rn, vals[j].v[0]);
                    }
                }
                if (rn && !json_object_get(o, rn)) {
                    json_object_set_new(o, rn, json_integer(1));
                }
            }
            json_object_set(o, names[i], vals[i].v[v]);
            list_add(out, o);
        }
    }
    /* Names nobody declared, with values from additionalProperties or anything. */
    struct list extra = {NULL, 0, 0};
    if (ap && !json_is_boolean(ap)) {
        gen_sub(root, ap, depth, &extra);
    }
    list_add(&extra, json_integer(1));
    list_add(&extra, json_string("a"));
    list_add(&extra, json_real(2.5));
    static const char *const extra_names[] = {"extra", "x_1", "y_1", "abcd", "a", "b"};
    for (size_t e = 0; e < sizeof extra_names / sizeof extra_names[0]; e++) {
        for (size_t v = 0; v < extra.n; v++) {
            json_t *o = json_object();
            for (size_t k = 0; k < json_array_size(req); k++) {
                const char *rn = json_string_value(json_array_get(req, k));
                if (rn) {
                    json_object_set_new(o, rn, json_integer(1));
                }
            }
            json_object_set(o, extra_names[e], extra.v[v]);
            list_add(out, o);
        }
    }
    list_free(&extra);
    /* 0 to 5 members, for minProperties/maxProperties. */
    for (size_t len = 0; len <= 5; len++) {
        json_t *o = json_object();
        for (size_t k = 0; k < json_array_size(req); k++) {
            const char *rn = json_string_value(json_array_get(req, k));
            if (rn) {
                json_object_set_new(o, rn, json_integer(1));
            }
        }
        for (size_t i = 0; i < nn && json_object_size(o) < len; i++) {
            json_object_set(o, names[i], vals[i].v[0]);
        }
        for (size_t i = 0; json_object_size(o) < len; i++) {
            char nm[16];
            snprintf(nm, sizeof nm, "m%zu", i);
            json_object_set_new(o, nm, json_integer((json_int_t)i));
        }
        list_add(out, o);
    }
    if (pp) {
        json_object_foreach((json_t *)pp, name, sub)
        {
            struct list pv = {NULL, 0, 0};
            gen_sub(root, sub, depth, &pv);
            for (size_t v = 0; v < pv.n; v++) {
                json_t *o = json_object();
                json_object_set(o, "x_1", pv.v[v]);
                json_object_set(o, "y_1", pv.v[v]);
                list_add(out, o);
            }
            list_free(&pv);
        }
    }
    list_add(out, json_object());
    for (size_t i = 0; i < nn; i++) {
        list_free(&vals[i]);
    }
}

static void gen_arrays(const json_t *root, const json_t *s, int depth, struct list *out)
{
    const json_t *prefix = json_object_get(s, "prefixItems");
    const json_t *items = json_object_get(s, "items");
    const json_t *rest = items;
    if (json_is_array(items)) { /* draft-07 tuple */
        prefix = items;
        rest = json_object_get(s, "additionalItems");
    }
    struct list pv[8];
    size_t np = 0;
    for (size_t i = 0; i < json_array_size(prefix) && np < 8; i++, np++) {
        pv[np] = (struct list){NULL, 0, 0};
        gen_sub(root, json_array_get(prefix, i), depth, &pv[np]);
    }
    struct list rv = {NULL, 0, 0};
    gen_sub(root, rest, depth, &rv);
    const json_t *contains = json_object_get(s, "contains");
    struct list cv = {NULL, 0, 0};
    if (contains) {
        gen_sub(root, contains, depth, &cv);
    }
    for (size_t v = 0; v < 8; v++) {
        for (size_t len = 0; len <= np + 3; len++) {
            json_t *a = json_array();
            for (size_t i = 0; i < len; i++) {
                struct list *l = i < np ? &pv[i] : &rv;
                json_array_append(a, l->v[(v + i) % l->n]);
            }
            list_add(out, a);
        }
    }
    for (size_t v = 0; v < rv.n; v++) {
        json_t *a = json_array();
        json_array_append(a, rv.v[v]);
        json_array_append(a, rv.v[v]); /* duplicates, for uniqueItems */
        list_add(out, a);
        json_t *b = json_array();
        json_array_append(b, rv.v[v]);
        list_add(out, b);
    }
    for (size_t v = 0; v < cv.n; v++) {
        json_t *a = json_array();
        for (size_t i = 0; i < np; i++) {
            json_array_append(a, pv[i].v[0]);
        }
        for (size_t k = 0; k <= v % 4; k++) {
            json_array_append(a, cv.v[v]);
        }
        list_add(out, a);
    }
    static const char *const counts[] = {"minItems", "maxItems"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *b = json_object_get(s, counts[i]);
        if (json_is_integer(b)) {
            for (json_int_t d = -1; d <= 1; d++) {
                json_int_t n = json_integer_value(b) + d;
                if (n < 0 || n > 20) {
                    continue;
                }
                json_t *a = json_array();
                for (json_int_t k = 0; k < n; k++) {
                    struct list *l = (size_t)k < np ? &pv[k] : &rv;
                    json_array_append(a, l->v[(size_t)k % l->n]);
                }
                list_add(out, a);
            }
        }
    }
    for (size_t i = 0; i < np; i++) {
        list_free(&pv[i]);
    }
    list_free(&rv);
    list_free(&cv);
}

/* The object candidates of s (at most 40, spread over the list). */
static void gen_objects_only(const json_t *root, const json_t *s, int depth, struct list *out)
{
    if (!s) {
        return;
    }
    struct list tmp = {NULL, 0, 0}, objs = {NULL, 0, 0};
    gen(root, s, depth + 1, &tmp);
    for (size_t i = 0; i < tmp.n; i++) {
        if (json_is_object(tmp.v[i])) {
            list_add(&objs, json_incref(tmp.v[i]));
        }
    }
    size_t step = objs.n > 40 ? objs.n / 40 : 1;
    for (size_t i = 0; i < objs.n; i += step) {
        list_add(out, json_incref(objs.v[i]));
    }
    list_free(&objs);
    list_free(&tmp);
}

static void gen(const json_t *root, const json_t *s, int depth, struct list *out)
{
    if (depth > 5 || !json_is_object(s)) {
        base_scalars(out);
        return;
    }
    const json_t *v;
    const char *ref = json_string_value(json_object_get(s, "$ref"));
    if (ref) {
        const json_t *t = resolve(root, ref);
        if (t) {
            gen(root, t, depth + 1, out);
        }
    }
    if ((v = json_object_get(s, "const"))) {
        list_add(out, json_deep_copy(v));
    }
    if ((v = json_object_get(s, "enum"))) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            list_add(out, json_deep_copy(json_array_get(v, i)));
        }
    }
    const json_t *type = json_object_get(s, "type");
    unsigned want = 0; /* 1 null, 2 bool, 4 number, 8 string, 16 object, 32 array */
    static const char *const tn[] = {"null",   "boolean", "number", "string",
                                     "object", "array",   "integer"};
    for (size_t i = 0; i < (json_is_array(type) ? json_array_size(type) : 1); i++) {
        const char *t = json_string_value(json_is_array(type) ? json_array_get(type, i) : type);
        for (unsigned k = 0; t && k < 7; k++) {
            if (strcmp(t, tn[k]) == 0) {
                want |= k == 6 ? 4u : 1u << k;
            }
        }
    }
    if (!type) {
        want = 63;
    }
    if (want & 1) {
        list_add(out, json_null());
    }
    if (want & 2) {
        list_add(out, json_true());
        list_add(out, json_false());
    }
    if (want & 4) {
        gen_numbers(s, out);
    }
    if (want & 8) {
        gen_strings(s, out);
    }
    if (want & 16) {
        gen_objects(root, s, depth, out);
    }
    if (want & 32) {
        gen_arrays(root, s, depth, out);
    }
    static const char *const groups[] = {"allOf", "anyOf", "oneOf"};
    for (size_t g = 0; g < 3; g++) {
        v = json_object_get(s, groups[g]);
        for (size_t i = 0; i < json_array_size(v); i++) {
            gen_sub(root, json_array_get(v, i), depth, out);
        }
    }
    /* allOf branches merged: objects from each branch unioned. */
    v = json_object_get(s, "allOf");
    if (json_array_size(v) > 1) {
        json_t *merged = json_object();
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_object_update(merged, json_array_get(v, i));
        }
        json_object_del(merged, "allOf");
        gen(root, merged, depth + 1, out);
        json_decref(merged);
    }
    static const char *const subs[] = {"if",           "then", "else", "not", "dependentSchemas",
                                       "propertyNames"};
    for (size_t k = 0; k < sizeof subs / sizeof subs[0]; k++) {
        if ((v = json_object_get(s, subs[k])) && json_is_object(v) &&
            strcmp(subs[k], "dependentSchemas") != 0) {
            gen_sub(root, v, depth, out);
        }
    }
    /* then/else merged with if's members, so the branch is actually taken. */
    const json_t *ifs = json_object_get(s, "if");
    if (json_is_object(ifs)) {
        struct list c = {NULL, 0, 0}, t[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
        gen_objects_only(root, ifs, depth, &c);
        gen_objects_only(root, json_object_get(s, "then"), depth, &t[0]);
        gen_objects_only(root, json_object_get(s, "else"), depth, &t[1]);
        for (size_t b = 0; b < 2; b++) {
            for (size_t i = 0; i < c.n; i++) {
                for (size_t k = 0; k < t[b].n; k++) {
                    if (json_is_object(c.v[i]) && json_is_object(t[b].v[k])) {
                        json_t *m = json_deep_copy(t[b].v[k]);
                        json_object_update(m, c.v[i]);
                        list_add(out, m);
                    }
                }
            }
            list_free(&t[b]);
        }
        list_free(&c);
    }
}

/* One-step mutations of v, recursively into members and items (bounded). */
static void mutate(const json_t *v, int depth, struct list *out)
{
    static const char *const repl[] = {"null", "1", "1.5", "\"a\"", "true", "{}", "[]", "-7"};
    for (size_t i = 0; i < sizeof repl / sizeof repl[0]; i++) {
        list_add(out, J(repl[i]));
    }
    if (depth > 2) {
        return;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            json_t *d = json_deep_copy(v);
            json_object_del(d, k);
            list_add(out, d);
            struct list sub = {NULL, 0, 0};
            mutate(x, depth + 1, &sub);
            for (size_t i = 0; i < sub.n; i++) {
                json_t *m = json_deep_copy(v);
                json_object_set(m, k, sub.v[i]);
                list_add(out, m);
            }
            list_free(&sub);
        }
        json_t *m = json_deep_copy(v);
        json_object_set_new(m, "extra", json_integer(1));
        list_add(out, m);
    } else if (json_is_array(v)) {
        json_t *m = json_deep_copy(v);
        json_array_append_new(m, json_string("a"));
        list_add(out, m);
        m = json_deep_copy(v);
        json_array_append_new(m, json_integer(1));
        list_add(out, m);
        if (json_array_size(v)) {
            m = json_deep_copy(v);
            json_array_remove(m, json_array_size(m) - 1);
            list_add(out, m);
            struct list sub = {NULL, 0, 0};
            mutate(json_array_get(v, 0), depth + 1, &sub);
            for (size_t i = 0; i < sub.n; i++) {
                m = json_deep_copy(v);
                json_array_set(m, 0, sub.v[i]);
                list_add(out, m);
            }
            list_free(&sub);
        }
    } else if (json_is_integer(v)) {
        list_add(out, json_integer(json_integer_value(v) + 1));
        list_add(out, json_integer(json_integer_value(v) - 1));
        list_add(out, json_real((double)json_integer_value(v) + 0.5));
    } else if (json_is_string(v)) {
        char buf[80];
        snprintf(buf, sizeof buf, "%sa", json_string_value(v));
        list_add(out, json_string(buf));
        if (json_string_length(v)) {
            list_add(out, json_stringn(json_string_value(v), json_string_length(v) - 1));
        }
    }
}

static void fill_pool(struct pool *p, const json_t *schema)
{
    struct list l = {NULL, 0, 0};
    gen(schema, schema, 0, &l);
    base_scalars(&l);
    /* Every candidate goes in; mutations of at most ~MUTATED of them, spread over the
     * list (mutating thousands of near-identical candidates mostly makes duplicates). */
    size_t step = l.n > MUTATED ? l.n / MUTATED : 1;
    for (size_t i = 0; i < l.n; i++) {
        pool_add(p, json_incref(l.v[i]));
        if (i % step) {
            continue;
        }
        struct list m = {NULL, 0, 0};
        mutate(l.v[i], 0, &m);
        for (size_t k = 0; k < m.n; k++) {
            pool_add(p, json_incref(m.v[k]));
        }
        list_free(&m);
    }
    list_free(&l);
}

/* --- the table ------------------------------------------------------------------------ */

static size_t n_cases, n_unknown, n_instances, n_valid_old, n_valid_new, n_checked_claims,
    n_witnessed;

/* Validates one instance text against both schemas (parsed once). */
static void valid2(const val_schema *x, const val_schema *y, const char *t, bool *vx, bool *vy)
{
    struct js_val *v = NULL;
    struct js_error e;
    struct js_opts o = {200};
    *vx = *vy = false;
    if (js_parse(A, t, strlen(t), &o, &v, &e) == 0) {
        *vx = val_is_valid(x, v);
        *vy = val_is_valid(y, v);
    }
    wr_arena_reset(A);
}

static void run_case(const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const json_t *oj = json_object_get(c, "old"), *nj = json_object_get(c, "new");
    enum val_compat_mode mode;
    CHECK_INT(val_compat_mode_parse(json_string_value(json_object_get(c, "mode")), &mode), 0);
    const char *want = json_string_value(json_object_get(c, "verdict"));
    val_schema *os = compile_j(oj), *ns = compile_j(nj);
    CHECK(os && ns);
    if (!os || !ns) {
        fprintf(stderr, "case \"%s\": does not compile\n", name);
        val_schema_unref(os);
        val_schema_unref(ns);
        return;
    }
    n_cases++;
    enum val_compat_verdict got[4];
    for (int m = 0; m < 4; m++) {
        struct val_compat_report r;
        CHECK_INT(val_compat_check(os, ns, (enum val_compat_mode)m, A, 0, &r), 0);
        got[m] = r.verdict;
        if (m == (int)mode && strcmp(val_compat_verdict_name(r.verdict), want) != 0) {
            CHECK__FAIL("case \"%s\" (%s): expected %s, got %s", name, val_compat_mode_name(mode),
                        want, val_compat_verdict_name(r.verdict));
            for (size_t i = 0; i < r.n_diffs; i++) {
                fprintf(stderr, "    %s %s | %s | %s (b %s, f %s)\n",
                        val_compat_verdict_name(r.diffs[i].verdict), r.diffs[i].old_path,
                        r.diffs[i].new_path, r.diffs[i].reason,
                        val_compat_verdict_name(r.diffs[i].backward),
                        val_compat_verdict_name(r.diffs[i].forward));
            }
        }
    }
    n_unknown += got[mode] == VAL_COMPAT_UNKNOWN;
    CHECK(got[VAL_COMPAT_NONE] == VAL_COMPAT_COMPATIBLE);
    /* full is never better than either direction. */
    CHECK(got[VAL_COMPAT_FULL] >= got[VAL_COMPAT_BACKWARD]);
    CHECK(got[VAL_COMPAT_FULL] >= got[VAL_COMPAT_FORWARD]);

    struct pool p;
    pool_init(&p);
    fill_pool(&p, oj);
    fill_pool(&p, nj);
    bool back_ok = got[VAL_COMPAT_BACKWARD] == VAL_COMPAT_COMPATIBLE;
    bool fwd_ok = got[VAL_COMPAT_FORWARD] == VAL_COMPAT_COMPATIBLE;
    n_checked_claims += back_ok + fwd_ok;
    size_t vo = 0, vn = 0, fails = 0;
    bool witness_b = false, witness_f = false;
    for (size_t i = 0; i < p.n; i++) {
        const char *text = p.t[i];
        bool a, b;
        valid2(os, ns, text, &a, &b);
        vo += a;
        vn += b;
        witness_b |= a && !b;
        witness_f |= b && !a;
        if ((back_ok && a && !b) || (fwd_ok && b && !a)) {
            if (fails++ < 3) {
                CHECK__FAIL("case \"%s\": %s compatible, but %s is valid under the %s schema "
                            "only",
                            name, a && !b ? "backward" : "forward", text, a ? "old" : "new");
            }
        }
    }
    /* Every non-trivial case must exercise its schemas with valid instances. */
    if (!json_is_false(oj) && vo == 0) {
        CHECK__FAIL("case \"%s\": no generated instance is valid under the old schema", name);
    }
    if (!json_is_false(nj) && vn == 0) {
        CHECK__FAIL("case \"%s\": no generated instance is valid under the new schema", name);
    }
    if (strcmp(want, "incompatible") == 0) {
        bool w = mode == VAL_COMPAT_BACKWARD  ? witness_b
                 : mode == VAL_COMPAT_FORWARD ? witness_f
                                              : witness_b || witness_f;
        n_witnessed += w;
        if (getenv("COMPAT_VERBOSE") && !w) {
            fprintf(stderr, "note: case \"%s\": incompatible, no witness generated\n", name);
        }
    }
    n_instances += p.n;
    n_valid_old += vo;
    n_valid_new += vn;
    pool_free(&p);
    val_schema_unref(os);
    val_schema_unref(ns);
}

static void test_table(void)
{
    json_error_t je;
    json_t *cases = json_load_file(COMPAT_CASES, 0, &je);
    if (!cases) {
        CHECK__FAIL("%s: %s", COMPAT_CASES, je.text);
        return;
    }
    size_t i;
    json_t *c;
    size_t n_incompatible = 0;
    json_array_foreach(cases, i, c)
    {
        run_case(c);
        n_incompatible +=
            strcmp(json_string_value(json_object_get(c, "verdict")), "incompatible") == 0;
    }
    CHECK(n_cases >= 80);
    printf("compat table: %zu cases (%zu unknown, %zu incompatible of which %zu shown by a "
           "generated instance); %zu instances generated (%zu valid under old, %zu under new); "
           "%zu compatible claims checked\n",
           n_cases, n_unknown, n_incompatible, n_witnessed, n_instances, n_valid_old, n_valid_new,
           n_checked_claims);
    json_decref(cases);
}

/* Every schema of the table against others it was not written for: odd pairs that no
 * one picked expected verdicts for, where only soundness is checked. Pairs are drawn
 * with a fixed seed; each instance is generated from either schema of the pair. */
static void test_cross_pairs(void)
{
    json_error_t je;
    json_t *cases = json_load_file(COMPAT_CASES, 0, &je);
    if (!cases) {
        CHECK__FAIL("%s: %s", COMPAT_CASES, je.text);
        return;
    }
    size_t ns = 2 * json_array_size(cases);
    const json_t **docs = calloc(ns, sizeof *docs);
    val_schema **sch = calloc(ns, sizeof *sch);
    struct pool *pools = calloc(ns, sizeof *pools);
    for (size_t i = 0; i < ns; i++) {
        docs[i] = json_object_get(json_array_get(cases, i / 2), i % 2 ? "new" : "old");
        sch[i] = compile_j(docs[i]);
        pool_init(&pools[i]);
        fill_pool(&pools[i], docs[i]);
        pool_seal(&pools[i]);
    }
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    size_t pairs = 0, claims = 0, instances = 0;
    for (size_t k = 0; k < 3000; k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t i = (size_t)(seed >> 33) % ns;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)(seed >> 33) % ns;
        if (i == j || !sch[i] || !sch[j]) {
            continue;
        }
        struct val_compat_report r;
        enum val_compat_verdict b, f;
        CHECK_INT(val_compat_check(sch[i], sch[j], VAL_COMPAT_BACKWARD, A, 0, &r), 0);
        b = r.verdict;
        CHECK_INT(val_compat_check(sch[i], sch[j], VAL_COMPAT_FORWARD, A, 0, &r), 0);
        f = r.verdict;
        wr_arena_reset(A);
        pairs++;
        if (b != VAL_COMPAT_COMPATIBLE && f != VAL_COMPAT_COMPATIBLE) {
            continue;
        }
        claims += (b == VAL_COMPAT_COMPATIBLE) + (f == VAL_COMPAT_COMPATIBLE);
        size_t fails = 0;
        for (size_t side = 0; side < 2; side++) {
            const struct pool *p = &pools[side ? j : i];
            for (size_t x = 0; x < p->n; x++) {
                const char *text = p->t[x];
                bool a, c;
                valid2(sch[i], sch[j], text, &a, &c);
                instances++;
                if (((b == VAL_COMPAT_COMPATIBLE && a && !c) ||
                     (f == VAL_COMPAT_COMPATIBLE && c && !a)) &&
                    fails++ < 2) {
                    char *so = json_dumps(docs[i], JSON_COMPACT | JSON_ENCODE_ANY);
                    char *sn = json_dumps(docs[j], JSON_COMPACT | JSON_ENCODE_ANY);
                    CHECK__FAIL("old %s, new %s: %s compatible, but %s is valid under the %s "
                                "schema only",
                                so, sn, a ? "backward" : "forward", text, a ? "old" : "new");
                    free(so);
                    free(sn);
                }
            }
        }
    }
    printf("cross pairs: %zu pairs, %zu compatible claims checked with %zu instances\n", pairs,
           claims, instances);
    for (size_t i = 0; i < ns; i++) {
        val_schema_unref(sch[i]);
        pool_free(&pools[i]);
    }
    free(docs);
    free(sch);
    free(pools);
    json_decref(cases);
}

/* Schema mutations: small edits of a schema (a bound moved by one, a name added to or
 * dropped from `required`/`enum`, a type swapped, a keyword deleted), each site by turn.
 * Returns the edited deep copy for edit number *k (counting down), or NULL when the
 * schema has fewer sites. */
static const char *const bound_kws[] = {
    "minimum",  "maximum",  "exclusiveMinimum", "exclusiveMaximum", "minLength",  "maxLength",
    "minItems", "maxItems", "minProperties",    "maxProperties",    "multipleOf", "maxContains"};

static bool edit_at(json_t *s, long *k, int depth)
{
    if (!json_is_object(s) || depth > 8) {
        return false;
    }
    for (size_t i = 0; i < sizeof bound_kws / sizeof bound_kws[0]; i++) {
        json_t *b = json_object_get(s, bound_kws[i]);
        if (json_is_number(b)) {
            double d = json_is_integer(b) ? (double)json_integer_value(b) : json_real_value(b);
            for (int dir = 0; dir < 2; dir++) {
                if ((*k)-- == 0) {
                    double nd = strcmp(bound_kws[i], "multipleOf") == 0 ? (dir ? d * 2 : d / 2)
                                                                        : d + (dir ? 1 : -1);
                    if (nd < 0 && i >= 4) { /* the counts stay non-negative */
                        nd = 0;
                    }
                    json_object_set_new(s, bound_kws[i],
                                        nd == (double)(json_int_t)nd ? json_integer((json_int_t)nd)
                                                                     : json_real(nd));
                    return true;
                }
            }
        }
    }
    static const char *const lists[] = {"required", "enum"};
    for (size_t i = 0; i < 2; i++) {
        json_t *l = json_object_get(s, lists[i]);
        if (json_is_array(l)) {
            if ((*k)-- == 0) {
                json_array_append_new(l, json_string("zz"));
                return true;
            }
            if (json_array_size(l) > 1 && (*k)-- == 0) {
                json_array_remove(l, json_array_size(l) - 1);
                return true;
            }
        }
    }
    json_t *t = json_object_get(s, "type");
    if (json_is_string(t) && (*k)-- == 0) {
        const char *v = json_string_value(t);
        json_object_set_new(s, "type",
                            strcmp(v, "integer") == 0  ? json_string("number")
                            : strcmp(v, "number") == 0 ? json_string("integer")
                                                       : json_pack("[s,s]", v, "null"));
        return true;
    }
    if (json_object_get(s, "properties") && !json_object_get(s, "additionalProperties") &&
        (*k)-- == 0) {
        json_object_set_new(s, "additionalProperties", json_false());
        return true;
    }
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v)
    {
        if (strcmp(key, "$defs") != 0 && strcmp(key, "definitions") != 0 && key[0] != '$' &&
            (*k)-- == 0) {
            json_object_del(s, key);
            return true;
        }
    }
    json_object_foreach(s, key, v)
    {
        if (json_is_object(v)) {
            if (strcmp(key, "properties") == 0 || strcmp(key, "$defs") == 0 ||
                strcmp(key, "patternProperties") == 0 || strcmp(key, "dependentSchemas") == 0 ||
                strcmp(key, "definitions") == 0) {
                const char *k2;
                json_t *v2;
                json_object_foreach(v, k2, v2)
                {
                    if (edit_at(v2, k, depth + 1)) {
                        return true;
                    }
                }
            } else if (edit_at(v, k, depth + 1)) {
                return true;
            }
        } else if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++) {
                if (edit_at(json_array_get(v, i), k, depth + 1)) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* Each table schema against its own small edits, both ways round: the pairs where a
 * wrong `compatible` is most likely. */
static void test_mutated_pairs(void)
{
    json_error_t je;
    json_t *cases = json_load_file(COMPAT_CASES, 0, &je);
    if (!cases) {
        CHECK__FAIL("%s: %s", COMPAT_CASES, je.text);
        return;
    }
    size_t pairs = 0, claims = 0, instances = 0;
    for (size_t ci = 0; ci < 2 * json_array_size(cases); ci++) {
        const json_t *doc = json_object_get(json_array_get(cases, ci / 2), ci % 2 ? "new" : "old");
        val_schema *base = compile_j(doc);
        if (!base) {
            continue;
        }
        struct pool bp;
        pool_init(&bp);
        fill_pool(&bp, doc);
        for (long e = 0; e < 8; e++) {
            json_t *m = json_deep_copy(doc);
            long k = e;
            if (!edit_at(m, &k, 0)) {
                json_decref(m);
                break;
            }
            struct wr_err err = {0, ""};
            val_schema *ms = val_compile(m, NULL, &err);
            if (!ms) { /* an edit can make a schema invalid (minimum > maximum is fine) */
                json_decref(m);
                continue;
            }
            struct pool mp;
            pool_init(&mp);
            fill_pool(&mp, m);
            for (int dir = 0; dir < 2; dir++) {
                const val_schema *o = dir ? ms : base, *n = dir ? base : ms;
                struct val_compat_report r;
                CHECK_INT(val_compat_check(o, n, VAL_COMPAT_BACKWARD, A, 0, &r), 0);
                bool b = r.verdict == VAL_COMPAT_COMPATIBLE;
                CHECK_INT(val_compat_check(o, n, VAL_COMPAT_FORWARD, A, 0, &r), 0);
                bool f = r.verdict == VAL_COMPAT_COMPATIBLE;
                wr_arena_reset(A);
                pairs++;
                claims += b + f;
                if (!b && !f) {
                    continue;
                }
                size_t fails = 0;
                for (int side = 0; side < 2; side++) {
                    const struct pool *p = side ? &mp : &bp;
                    size_t step = p->n > 800 ? p->n / 800 : 1;
                    for (size_t x = 0; x < p->n; x += step) {
                        const char *text = p->t[x];
                        bool a, c;
                        valid2(o, n, text, &a, &c);
                        instances++;
                        if (((b && a && !c) || (f && c && !a)) && fails++ < 2) {
                            char *so = json_dumps(dir ? m : doc, JSON_COMPACT | JSON_ENCODE_ANY);
                            char *sn = json_dumps(dir ? doc : m, JSON_COMPACT | JSON_ENCODE_ANY);
                            CHECK__FAIL("old %s, new %s: %s compatible, but %s is valid under "
                                        "the %s schema only",
                                        so, sn, a ? "backward" : "forward", text,
                                        a ? "old" : "new");
                            free(so);
                            free(sn);
                        }
                    }
                }
            }
            pool_free(&mp);
            val_schema_unref(ms);
            json_decref(m);
        }
        pool_free(&bp);
        val_schema_unref(base);
    }
    printf("mutated pairs: %zu pairs, %zu compatible claims checked with %zu instances\n", pairs,
           claims, instances);
    json_decref(cases);
}

/* --- the report's shape, paths and the diff text ---------------------------------------- */

static void test_spec_json(void)
{
    val_schema *o =
        compile("{\"type\":\"object\",\"properties\":{\"plan\":{\"type\":\"string\"}}}");
    val_schema *n = compile("{\"type\":\"object\",\"properties\":{\"plan\":{\"type\":\"string\"}},"
                            "\"required\":[\"plan\"]}");
    struct val_compat_report r;
    CHECK_INT(val_compat_check(o, n, VAL_COMPAT_BACKWARD, A, 0, &r), 0);
    CHECK_INT(r.verdict, VAL_COMPAT_INCOMPATIBLE);
    CHECK_INT(r.n_diffs, 1);
    json_t *j = val_compat_diffs_json(&r);
    char *t = json_dumps(j, JSON_COMPACT);
    CHECK_STR(t, "[{\"verdict\":\"incompatible\",\"path\":\"/required\","
                 "\"reason\":\"property \\\"plan\\\" became required\"}]");
    free(t);
    json_decref(j);
    CHECK_INT(val_compat_check(o, n, VAL_COMPAT_FORWARD, A, 0, &r), 0);
    CHECK_INT(r.verdict, VAL_COMPAT_COMPATIBLE);
    CHECK_INT(r.n_diffs, 1);
    CHECK_STR(val_compat_verdict_name(r.diffs[0].verdict), "compatible");
    val_schema_unref(o);
    val_schema_unref(n);
}

static void test_paths(void)
{
    /* A difference behind a $ref is reported where it is written: under $defs. */
    val_schema *o = compile("{\"$defs\":{\"n\":{\"type\":\"integer\",\"maximum\":10}},"
                            "\"properties\":{\"x\":{\"$ref\":\"#/$defs/n\"}}}");
    val_schema *n = compile("{\"$defs\":{\"n\":{\"type\":\"integer\",\"maximum\":5}},"
                            "\"properties\":{\"x\":{\"$ref\":\"#/$defs/n\"}}}");
    struct val_compat_report r;
    CHECK_INT(val_compat_check(o, n, VAL_COMPAT_BACKWARD, A, 0, &r), 0);
    CHECK_INT(r.n_diffs, 1);
    if (r.n_diffs) {
        CHECK_STR(r.diffs[0].path, "/$defs/n/maximum");
        CHECK_STR(r.diffs[0].old_path, "/$defs/n/maximum");
        CHECK_STR(r.diffs[0].keyword, "maximum");
    }
    val_schema_unref(o);
    val_schema_unref(n);
    /* Names with '/' and '~' are escaped; a property only O has points into O. */
    o = compile("{\"properties\":{\"a/b\":{\"type\":\"string\"},\"c~d\":{\"type\":\"string\"}},"
                "\"additionalProperties\":false}");
    n = compile("{\"properties\":{\"a/b\":{\"type\":\"string\",\"maxLength\":3}},"
                "\"additionalProperties\":false}");
    CHECK_INT(val_compat_check(o, n, VAL_COMPAT_BACKWARD, A, 0, &r), 0);
    CHECK_INT(r.n_diffs, 2);
    if (r.n_diffs == 2) {
        CHECK_STR(r.diffs[0].path, "/properties/a~1b/maxLength");
        CHECK_STR(r.diffs[1].old_path, "/properties/c~0d");
        CHECK_STR(r.diffs[1].new_path, "/additionalProperties");
        CHECK_STR(r.diffs[1].reason, "property \"c~d\" removed; additionalProperties covers it "
                                     "now");
        CHECK_INT(r.diffs[1].verdict, VAL_COMPAT_INCOMPATIBLE);
    }
    /* max_diffs truncates the list, not the verdict. */
    CHECK_INT(val_compat_check(o, n, VAL_COMPAT_BACKWARD, A, 1, &r), 0);
    CHECK_INT(r.n_diffs, 1);
    CHECK(r.truncated);
    CHECK_INT(r.verdict, VAL_COMPAT_INCOMPATIBLE);
    val_schema_unref(o);
    val_schema_unref(n);
}

static void test_diff_text(void)
{
    val_schema *o =
        compile("{\"type\":\"object\",\"properties\":{\"email\":{\"type\":\"string\"},"
                "\"age\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"email\"],"
                "\"additionalProperties\":false}");
    val_schema *n = compile("{\"type\":\"object\",\"properties\":{\"email\":{\"type\":\"string\"},"
                            "\"age\":{\"type\":\"number\",\"minimum\":18},\"plan\":{\"enum\":"
                            "[\"free\",\"pro\"]}},\"required\":[\"email\",\"plan\"],"
                            "\"additionalProperties\":false}");
    const char *text = NULL;
    CHECK_INT(val_compat_diff_text(o, n, A, &text), 0);
    CHECK_STR(text,
              "/required: property \"plan\" became required (backward: incompatible, forward: "
              "compatible)\n"
              "/properties/age/type: type widened (backward: compatible, forward: "
              "incompatible)\n"
              "/properties/age/minimum: minimum 18 tightens (was minimum 0) (backward: "
              "incompatible, forward: compatible)\n"
              "/properties/plan: property \"plan\" added; additionalProperties covered it "
              "before (backward: compatible, forward: incompatible)\n");
    /* Equal schemas: no line at all. */
    CHECK_INT(val_compat_diff_text(o, o, A, &text), 0);
    CHECK_STR(text, "");
    val_schema_unref(o);
    val_schema_unref(n);
}

/* Big and deep schemas finish, with the list capped and each location listed once. */
static void test_big_and_deep(void)
{
    json_t *o = json_object(), *n = json_object();
    json_t *op = json_object(), *np = json_object();
    for (int i = 0; i < 3000; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        json_object_set_new(op, name, json_pack("{s:s, s:i}", "type", "string", "maxLength", i));
        json_object_set_new(np, name,
                            json_pack("{s:s, s:i}", "type", "string", "maxLength", i + 1));
    }
    json_object_set_new(o, "properties", op);
    json_object_set_new(n, "properties", np);
    val_schema *os = compile_j(o), *ns = compile_j(n);
    struct val_compat_report r;
    CHECK_INT(val_compat_check(os, ns, VAL_COMPAT_BACKWARD, A, 0, &r), 0);
    CHECK_INT(r.verdict, VAL_COMPAT_COMPATIBLE);
    CHECK_INT(r.n_diffs, 1000);
    CHECK(r.truncated);
    CHECK_INT(val_compat_check(os, ns, VAL_COMPAT_FORWARD, A, 5000, &r), 0);
    CHECK_INT(r.verdict, VAL_COMPAT_INCOMPATIBLE);
    CHECK_INT(r.n_diffs, 3000);
    CHECK(!r.truncated);
    val_schema_unref(os);
    val_schema_unref(ns);
    json_decref(o);
    json_decref(n);
    wr_arena_reset(A);

    /* 60 levels of nested objects (the compiler refuses much deeper), a bound changed at the bottom. */
    char *a = malloc(20000), *b = malloc(20000);
    size_t ka = 0, kb = 0;
    for (int i = 0; i < 60; i++) {
        ka += (size_t)snprintf(a + ka, 20000 - ka, "{\"properties\":{\"x\":");
        kb += (size_t)snprintf(b + kb, 20000 - kb, "{\"properties\":{\"x\":");
    }
    ka += (size_t)snprintf(a + ka, 20000 - ka, "{\"maximum\":5}");
    kb += (size_t)snprintf(b + kb, 20000 - kb, "{\"maximum\":4}");
    for (int i = 0; i < 60; i++) {
        ka += (size_t)snprintf(a + ka, 20000 - ka, "}}");
        kb += (size_t)snprintf(b + kb, 20000 - kb, "}}");
    }
    os = compile(a);
    ns = compile(b);
    CHECK(os && ns);
    CHECK_INT(val_compat_check(os, ns, VAL_COMPAT_BACKWARD, A, 0, &r), 0);
    CHECK_INT(r.verdict, VAL_COMPAT_INCOMPATIBLE);
    CHECK_INT(r.n_diffs, 1);
    if (r.n_diffs) {
        CHECK_INT(strlen(r.diffs[0].path), 60 * strlen("/properties/x") + strlen("/maximum"));
    }
    val_schema_unref(os);
    val_schema_unref(ns);
    free(a);
    free(b);

    /* One $defs entry used from two places: one line. */
    os = compile("{\"$defs\":{\"id\":{\"type\":\"string\",\"maxLength\":8}},"
                 "\"properties\":{\"a\":{\"$ref\":\"#/$defs/id\"},"
                 "\"b\":{\"$ref\":\"#/$defs/id\"}}}");
    ns = compile("{\"$defs\":{\"id\":{\"type\":\"string\",\"maxLength\":4}},"
                 "\"properties\":{\"a\":{\"$ref\":\"#/$defs/id\"},"
                 "\"b\":{\"$ref\":\"#/$defs/id\"}}}");
    CHECK_INT(val_compat_check(os, ns, VAL_COMPAT_BACKWARD, A, 0, &r), 0);
    CHECK_INT(r.n_diffs, 1);
    if (r.n_diffs) {
        CHECK_STR(r.diffs[0].path, "/$defs/id/maxLength");
        CHECK_STR(r.diffs[0].reason, "maxLength tightened from 8 to 4");
    }
    val_schema_unref(os);
    val_schema_unref(ns);
}

static void test_bad_args(void)
{
    val_schema *o = compile("{}");
    struct val_compat_report r;
    CHECK_INT(val_compat_check(NULL, o, VAL_COMPAT_FULL, A, 0, &r), WR_EINVAL);
    CHECK_INT(val_compat_check(o, o, (enum val_compat_mode)7, A, 0, &r), WR_EINVAL);
    enum val_compat_mode m;
    CHECK_INT(val_compat_mode_parse("Backward", &m), WR_EINVAL);
    CHECK_INT(val_compat_mode_parse("full", &m), 0);
    CHECK_INT(m, VAL_COMPAT_FULL);
    CHECK_STR(val_compat_mode_name(VAL_COMPAT_NONE), "none");
    /* A tiny arena cap is out of memory, not a crash. */
    wr_arena *tiny = wr_arena_create(64, 64);
    val_schema *big = compile("{\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":"
                              "\"integer\"},\"c\":{\"minimum\":1}}}");
    CHECK_INT(val_compat_check(o, big, VAL_COMPAT_FULL, tiny, 0, &r), WR_ENOMEM);
    wr_arena_destroy(tiny);
    val_schema_unref(big);
    val_schema_unref(o);
}

int main(int argc, char **argv)
{
    A = wr_arena_create(1 << 16, 64u << 20);
    if (argc > 1 && strcmp(argv[1], "mutated") == 0) {
        /* Its own ctest: the longest part, run in parallel with the rest. */
        CHECK_RUN(test_mutated_pairs);
    } else {
        CHECK_RUN(test_spec_json);
        CHECK_RUN(test_paths);
        CHECK_RUN(test_diff_text);
        CHECK_RUN(test_bad_args);
        CHECK_RUN(test_big_and_deep);
        CHECK_RUN(test_table);
        CHECK_RUN(test_cross_pairs);
    }
    wr_arena_destroy(A);
    return CHECK_DONE();
}
