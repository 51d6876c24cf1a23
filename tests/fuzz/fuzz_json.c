/* fuzz_json.c - libFuzzer target for the JSON reader: no crash, no leak, no UB, and
 * every accepted document is self-consistent (spans re-parse to equal values, numbers
 * agree with strtod, plain strings point into the input, streams advance), and agrees
 * with jansson on what is JSON and on every decoded value (differential), and parses
 * in linear time (fuzz_cost.h: 50 ms + 5 ms per KiB is a finding). */
#include "fuzz_cost.h"
#include "json/json.h"
#include "common/err.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wr_arena *arena;

#define ASSERT(cond)                                                                      \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static void check_number(const char *base, const struct js_val *v)
{
    char buf[512];
    if (v->src_len >= sizeof buf) {
        return;
    }
    memcpy(buf, base + v->src_off, v->src_len);
    buf[v->src_len] = '\0';
    if (v->type == JS_INT) {
        ASSERT(strtoll(buf, NULL, 10) == v->u.i);
        ASSERT(!strpbrk(buf, ".eE"));
    } else {
        double d = strtod(buf, NULL);
        ASSERT(isfinite(d));
        ASSERT(memcmp(&d, &v->u.d, sizeof d) == 0); /* bitwise: -0.0 too */
        if (v->flags & 4 /* JS_F_BIGINT */) {
            ASSERT(!strpbrk(buf, ".eE"));
        }
    }
}

/* Walks the tree: spans nest inside the parent's, values re-parse from their span. */
static void check_tree(const char *base, const struct js_val *v, uint32_t lo, uint32_t hi,
                       unsigned depth)
{
    ASSERT(v->src_off >= lo && v->src_off + v->src_len <= hi && v->src_len > 0);
    const char *s = base + v->src_off;
    switch (v->type) {
    case JS_NULL:
        ASSERT(v->src_len == 4 && !memcmp(s, "null", 4));
        break;
    case JS_TRUE:
        ASSERT(v->src_len == 4 && !memcmp(s, "true", 4));
        break;
    case JS_FALSE:
        ASSERT(v->src_len == 5 && !memcmp(s, "false", 5));
        break;
    case JS_INT:
    case JS_REAL:
        check_number(base, v);
        break;
    case JS_STRING:
        ASSERT(s[0] == '"' && s[v->src_len - 1] == '"');
        if (!(v->flags & JS_F_ESCAPED)) {
            ASSERT(v->u.s == s + 1 && v->n == v->src_len - 2);
        } else {
            ASSERT(v->n < v->src_len - 2);
        }
        ASSERT(js_str_codepoints(v) <= v->n);
        if (!(v->flags & JS_F_NONASCII)) {
            ASSERT(js_str_codepoints(v) == v->n);
        }
        break;
    case JS_ARRAY:
        ASSERT(s[0] == '[' && s[v->src_len - 1] == ']');
        for (uint32_t i = 0; i < v->n; i++) {
            check_tree(base, &v->u.items[i], v->src_off + 1, v->src_off + v->src_len - 1,
                       depth + 1);
            if (i) {
                ASSERT(v->u.items[i].src_off > v->u.items[i - 1].src_off);
            }
        }
        break;
    case JS_OBJECT:
        ASSERT(s[0] == '{' && s[v->src_len - 1] == '}');
        for (uint32_t i = 0; i < v->n; i++) {
            const struct js_member *m = &v->u.members[i];
            check_tree(base, &m->val, v->src_off + 1, v->src_off + v->src_len - 1, depth + 1);
            ASSERT(js_get(v, m->name, m->name_len) == &m->val); /* names are unique */
        }
        break;
    default:
        ASSERT(0);
    }
    /* Every node re-parses from its own span to an equal value (one level deep is
     * enough to cover all nodes once; deeper nodes were covered by their parents). */
    if (depth <= 2) {
        struct js_val *w;
        struct js_error e;
        int rc = js_parse(arena, s, v->src_len, NULL, &w, &e);
        ASSERT(rc == 0);
        ASSERT(w->type == v->type && w->n == v->n && w->src_off == 0 &&
               w->src_len == v->src_len);
        ASSERT(js_equal(v, w) && js_equal(w, v));
    }
}

/* Same value as jansson decoded it (jansson keeps integers and reals apart). */
static bool same_as_jansson(const struct js_val *v, const json_t *j)
{
    switch (v->type) {
    case JS_NULL:
        return json_is_null(j);
    case JS_TRUE:
        return json_is_true(j);
    case JS_FALSE:
        return json_is_false(j);
    case JS_INT:
        return json_is_integer(j) && json_integer_value(j) == v->u.i;
    case JS_REAL:
        return json_is_real(j) && memcmp(&v->u.d, &(double){json_real_value(j)}, 8) == 0;
    case JS_STRING:
        return json_is_string(j) && json_string_length(j) == v->n &&
               (v->n == 0 || !memcmp(json_string_value(j), v->u.s, v->n));
    case JS_ARRAY:
        if (!json_is_array(j) || json_array_size(j) != v->n) {
            return false;
        }
        for (uint32_t i = 0; i < v->n; i++) {
            if (!same_as_jansson(&v->u.items[i], json_array_get(j, i))) {
                return false;
            }
        }
        return true;
    case JS_OBJECT:
        if (!json_is_object(j) || json_object_size(j) != v->n) {
            return false;
        }
        for (uint32_t i = 0; i < v->n; i++) {
            const struct js_member *m = &v->u.members[i];
            const json_t *jv = json_object_getn(j, m->name, m->name_len);
            if (!jv || !same_as_jansson(&m->val, jv)) {
                return false;
            }
        }
        return true;
    default:
        return false;
    }
}

/* Where jansson and weir may legitimately disagree: integers beyond int64 (weir keeps
 * them as JS_F_BIGINT reals, jansson refuses), nesting between our fuzz limit and
 * jansson's 2048, \u0000 in member names (jansson refuses them), and raw NUL bytes
 * (jansson's buffer reader stops at the first NUL as if the input ended there; weir
 * refuses them). */
static void differential(const char *p, size_t size, int rc, const struct js_val *v,
                         const struct js_error *e)
{
    json_error_t jerr;
    json_t *j = json_loadb(p, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                           &jerr);
    if (rc == 0) {
        if (!j) {
            if (!strstr(jerr.text, "too big") && !strstr(jerr.text, "NUL byte in object key")) {
                fprintf(stderr, "weir accepts, jansson refuses: %s\n", jerr.text);
                abort();
            }
            return;
        }
        if (!same_as_jansson(v, j)) {
            fprintf(stderr, "weir and jansson decode differently\n");
            abort();
        }
    } else if (j && rc != JS_EDEPTH && rc != WR_ENOMEM && !memchr(p, '\0', size)) {
        fprintf(stderr, "weir refuses (%s), jansson accepts\n", e->msg);
        abort();
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena) {
        arena = wr_arena_create(1 << 16, 256u << 20);
    }
    wr_arena_reset(arena);
    const char *p = (const char *)data;
    struct js_opts opts = {.max_depth = 40};
    struct js_val *v = NULL;
    struct js_error e;
    memset(&e, 0, sizeof e);
    double t0 = fuzz_cost_now_ms();
    int rc = js_parse(arena, p, size, &opts, &v, &e);
    fuzz_cost_check("parse", t0, size, 50, 5);
    if (rc == 0) {
        ASSERT(v != NULL);
        check_tree(p, v, 0, (uint32_t)size, 0);
        ASSERT(js_equal(v, v));
        /* Equality is symmetric: compare every pair of items of a top-level array. */
        if (v->type == JS_ARRAY && v->n <= 16) {
            for (uint32_t i = 0; i < v->n; i++) {
                for (uint32_t k = 0; k < v->n; k++) {
                    ASSERT(js_equal(&v->u.items[i], &v->u.items[k]) ==
                           js_equal(&v->u.items[k], &v->u.items[i]));
                }
            }
        }
    } else {
        ASSERT(rc == JS_ESYNTAX || rc == JS_EDEPTH || rc == JS_EUTF8 || rc == JS_EDUPKEY ||
               rc == WR_ENOMEM);
        ASSERT(e.offset <= size && e.line >= 1 && e.column >= 1 && e.msg[0] != '\0');
        ASSERT(e.column <= e.offset + 1);
        ASSERT(memchr(e.msg, '\0', sizeof e.msg) != NULL);
    }
    differential(p, size, rc, v, &e);

    /* The same bytes as a stream: every value advances pos and matches its span. */
    size_t pos = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t before = pos;
        struct js_val *s = NULL;
        rc = js_parse_next(arena, p, size, &pos, &opts, &s, &e);
        if (rc == 1) {
            ASSERT(s == NULL && pos == size);
            break;
        }
        if (rc < 0) {
            ASSERT(pos == before && e.offset <= size && e.offset >= before);
            break;
        }
        ASSERT(pos > before && pos <= size && s->src_off >= before &&
               s->src_off + s->src_len == pos);
        check_tree(p, s, (uint32_t)before, (uint32_t)pos, 3);
    }
    return 0;
}
