/* jv.c - the validator's JSON helpers over struct js_val: copying schema constants from
 * jansson, keyed hashing consistent with JSON Schema equality, code points. */
#include "common/hash.h"
#include "validator/val_int.h"

#include <math.h>
#include <pthread.h>
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

/* The process's hash key, drawn once: hashes are never stored or sent anywhere, so
 * they only have to agree within one process. */
static unsigned char g_key[16];
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static void key_init(void)
{
    wr_random_bytes(g_key, sizeof g_key);
}

/* Hashes a sequence of 64-bit words in chunks: each full chunk is hashed with the hash
 * so far as its first word, so order matters and only a fixed buffer is on the stack. */
struct chain {
    uint64_t w[8];
    unsigned n;
};

static void chain_put(struct chain *c, uint64_t v)
{
    if (c->n == 8) {
        c->w[0] = wr_siphash(g_key, c->w, sizeof c->w);
        c->n = 1;
    }
    c->w[c->n++] = v;
}

static uint64_t chain_end(struct chain *c)
{
    return wr_siphash(g_key, c->w, c->n * sizeof c->w[0]);
}

static uint64_t tagged(uint64_t tag, const void *p, size_t n)
{
    return wr_siphash(g_key, p, n) ^ tag;
}

enum { T_NUM = 1, T_REAL, T_STR, T_ARR, T_OBJ, T_NULL, T_FALSE, T_TRUE };

static uint64_t hash_rec(const struct js_val *v)
{
    switch (v->type) {
    case JS_INT:
    case JS_REAL: {
        /* Integral values hash as int64 so that 1 and 1.0 collide, as equality needs. */
        int64_t i;
        if (v->type == JS_INT) {
            i = v->u.i;
        } else if (v->u.d >= -9223372036854775808.0 && v->u.d < 9223372036854775808.0 &&
                   v->u.d == floor(v->u.d)) {
            /* The range where js_equal compares a double with an int64 exactly. */
            i = (int64_t)v->u.d;
        } else {
            double d = v->u.d;
            return tagged(T_REAL, &d, sizeof d);
        }
        return tagged(T_NUM, &i, sizeof i);
    }
    case JS_STRING:
        return tagged(T_STR, v->u.s, v->n);
    case JS_ARRAY: {
        struct chain c = {.w = {T_ARR}, .n = 1};
        for (uint32_t i = 0; i < v->n; i++) {
            chain_put(&c, hash_rec(&v->u.items[i]));
        }
        return chain_end(&c);
    }
    case JS_OBJECT: {
        /* Member order does not count: sum one keyed hash per (name, value) pair. A
         * client cannot predict the terms, so it cannot make two objects' sums meet. */
        uint64_t sum = T_OBJ;
        for (uint32_t i = 0; i < v->n; i++) {
            const struct js_member *m = &v->u.members[i];
            uint64_t x = wr_siphash(g_key, m->name, m->name_len) ^
                         hash_rec(&m->val) * 0x9E3779B97F4A7C15ULL;
            /* A bijective finaliser (MurmurHash3's fmix64) ties name and value together:
             * {"a":1,"b":2} and {"a":2,"b":1} sum different terms. */
            x ^= x >> 33;
            x *= 0xff51afd7ed558ccdULL;
            x ^= x >> 33;
            x *= 0xc4ceb9fe1a85ec53ULL;
            x ^= x >> 33;
            sum += x;
        }
        return wr_siphash(g_key, &sum, sizeof sum);
    }
    case JS_NULL:
        return T_NULL;
    case JS_FALSE:
        return T_FALSE;
    default:
        return T_TRUE;
    }
}

uint64_t val__hash(const struct js_val *v)
{
    pthread_once(&g_key_once, key_init);
    return hash_rec(v);
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
