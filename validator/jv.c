/* jv.c - the validator's JSON helpers over struct js_val: copying schema constants from
 * jansson, JSON Schema equality (1 == 1.0, member order ignored), hashing, code points. */
#include "validator/val_int.h"

#include <math.h>
#include <string.h>

static struct js_val *conv(wr_arena *a, const json_t *v, struct js_val *out, int depth)
{
    if (depth > 512) {
        return NULL;
    }
    memset(out, 0, sizeof *out);
    switch (json_typeof(v)) {
    case JSON_NULL:
        out->type = JS_NULL;
        break;
    case JSON_TRUE:
        out->type = JS_TRUE;
        break;
    case JSON_FALSE:
        out->type = JS_FALSE;
        break;
    case JSON_INTEGER:
        out->type = JS_INT;
        out->u.i = (int64_t)json_integer_value(v);
        break;
    case JSON_REAL:
        out->type = JS_REAL;
        out->u.d = json_real_value(v);
        break;
    case JSON_STRING: {
        size_t n = json_string_length(v);
        const char *s = json_string_value(v);
        out->type = JS_STRING;
        out->n = (uint32_t)n;
        char *c = wr_arena_alloc(a, n + 1);
        if (!c) {
            return NULL;
        }
        memcpy(c, s, n);
        c[n] = '\0';
        out->u.s = c;
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)s[i] >= 0x80) {
                out->flags |= JS_F_NONASCII;
                break;
            }
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        out->type = JS_ARRAY;
        out->n = (uint32_t)n;
        out->u.items = n ? wr_arena_alloc(a, n * sizeof(struct js_val)) : NULL;
        if (n && !out->u.items) {
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (!conv(a, json_array_get(v, i), &out->u.items[i], depth + 1)) {
                return NULL;
            }
        }
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        out->type = JS_OBJECT;
        out->n = (uint32_t)n;
        out->u.members = n ? wr_arena_alloc(a, n * sizeof(struct js_member)) : NULL;
        if (n && !out->u.members) {
            return NULL;
        }
        size_t i = 0;
        const char *k;
        size_t klen;
        json_t *m;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)v, tmp, k, klen, m)
        {
            struct js_member *jm = &out->u.members[i++];
            char *c = wr_arena_alloc(a, klen + 1);
            if (!c) {
                return NULL;
            }
            memcpy(c, k, klen);
            c[klen] = '\0';
            jm->name = c;
            jm->name_len = (uint32_t)klen;
            if (!conv(a, m, &jm->val, depth + 1)) {
                return NULL;
            }
        }
        break;
    }
    }
    return out;
}

struct js_val *val__from_jansson(wr_arena *a, const json_t *v)
{
    struct js_val *out = wr_arena_alloc(a, sizeof *out);
    if (!out) {
        return NULL;
    }
    return conv(a, v, out, 0);
}

static bool is_num(const struct js_val *v)
{
    return v->type == JS_INT || v->type == JS_REAL;
}

static bool num_equal(const struct js_val *a, const struct js_val *b)
{
    if (a->type == JS_INT && b->type == JS_INT) {
        return a->u.i == b->u.i;
    }
    long double x = a->type == JS_INT ? (long double)a->u.i : (long double)a->u.d;
    long double y = b->type == JS_INT ? (long double)b->u.i : (long double)b->u.d;
    return x == y;
}

static const struct js_val *member(const struct js_val *o, const char *name, uint32_t len)
{
    for (uint32_t i = 0; i < o->n; i++) {
        const struct js_member *m = &o->u.members[i];
        if (m->name_len == len && memcmp(m->name, name, len) == 0) {
            return &m->val;
        }
    }
    return NULL;
}

bool val__equal(const struct js_val *a, const struct js_val *b)
{
    if (is_num(a) && is_num(b)) {
        return num_equal(a, b);
    }
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case JS_STRING:
        return a->n == b->n && val__bytes_eq(a->u.s, b->u.s, a->n);
    case JS_ARRAY:
        if (a->n != b->n) {
            return false;
        }
        for (uint32_t i = 0; i < a->n; i++) {
            if (!val__equal(&a->u.items[i], &b->u.items[i])) {
                return false;
            }
        }
        return true;
    case JS_OBJECT:
        if (a->n != b->n) {
            return false;
        }
        for (uint32_t i = 0; i < a->n; i++) {
            const struct js_member *m = &a->u.members[i];
            const struct js_val *o = member(b, m->name, m->name_len);
            if (!o || !val__equal(&m->val, o)) {
                return false;
            }
        }
        return true;
    default:
        return true;
    }
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ s[i]) * 16777619u;
    }
    return h;
}

uint32_t val__hash(const struct js_val *v)
{
    uint32_t h = 2166136261u;
    switch (v->type) {
    case JS_INT:
    case JS_REAL: {
        /* Integral values hash as int64 so that 1 and 1.0 collide, as equality needs. */
        double d = v->type == JS_INT ? 0.0 : v->u.d;
        int64_t i;
        if (v->type == JS_INT) {
            i = v->u.i;
        } else if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18) {
            i = (int64_t)d;
        } else {
            h = fnv(h, "d", 1);
            return fnv(h, &d, sizeof d);
        }
        h = fnv(h, "n", 1);
        return fnv(h, &i, sizeof i);
    }
    case JS_STRING:
        h = fnv(h, "s", 1);
        return fnv(h, v->u.s, v->n);
    case JS_ARRAY:
        h = fnv(h, "a", 1);
        for (uint32_t i = 0; i < v->n; i++) {
            uint32_t x = val__hash(&v->u.items[i]);
            h = fnv(h, &x, sizeof x);
        }
        return h;
    case JS_OBJECT: {
        uint32_t sum = 0;
        for (uint32_t i = 0; i < v->n; i++) {
            const struct js_member *m = &v->u.members[i];
            sum += fnv(2166136261u, m->name, m->name_len) * 31u + val__hash(&m->val);
        }
        h = fnv(h, "o", 1);
        return fnv(h, &sum, sizeof sum);
    }
    default: {
        char t = (char)v->type;
        return fnv(h, &t, 1);
    }
    }
}

size_t val__codepoints(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    return c;
}
