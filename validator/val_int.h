/* val_int.h - the validator's private structures (validator/ only): the compiled program
 * (nodes of operations with references pre-resolved), URI helpers, the evaluator. */
#ifndef WEIR_VAL_INT_H
#define WEIR_VAL_INT_H

#include "common/embed.h"
#include "validator/validator.h"
#include "validator/format.h"
#include "validator/regex.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Vocabularies a dialect (or custom meta-schema) enables. */
enum {
    VAL__V_CORE = 1,
    VAL__V_APPLICATOR = 2,
    VAL__V_UNEVALUATED = 4,
    VAL__V_VALIDATION = 8,
    VAL__V_FORMAT = 16,
    VAL__V_CONTENT = 32,
    VAL__V_ALL = 63,
    VAL__V_FORMAT_ASSERT = 64 /* format-assertion: asserts even when opts annotate */
};

/* Type bits for `type`. */
enum {
    VAL__T_NULL = 1,
    VAL__T_BOOLEAN = 2,
    VAL__T_OBJECT = 4,
    VAL__T_ARRAY = 8,
    VAL__T_NUMBER = 16,
    VAL__T_STRING = 32,
    VAL__T_INTEGER = 64
};

enum val__op_kind {
    VAL__OP_FALSE,
    VAL__OP_TYPE,
    VAL__OP_CONST,
    VAL__OP_ENUM,
    VAL__OP_MULTIPLE_OF,
    VAL__OP_MAXIMUM,
    VAL__OP_EX_MAXIMUM,
    VAL__OP_MINIMUM,
    VAL__OP_EX_MINIMUM,
    VAL__OP_MAX_LENGTH,
    VAL__OP_MIN_LENGTH,
    VAL__OP_PATTERN,
    VAL__OP_FORMAT,
    VAL__OP_MAX_ITEMS,
    VAL__OP_MIN_ITEMS,
    VAL__OP_UNIQUE_ITEMS,
    VAL__OP_CONTAINS,
    VAL__OP_MAX_PROPERTIES,
    VAL__OP_MIN_PROPERTIES,
    VAL__OP_REQUIRED,
    VAL__OP_DEP_REQUIRED,   /* dependentRequired, draft-07 dependencies' array form */
    VAL__OP_DEP_SCHEMAS,    /* dependentSchemas, draft-07 dependencies' schema form */
    VAL__OP_PROPS,          /* properties + patternProperties + additionalProperties */
    VAL__OP_PROPERTY_NAMES,
    VAL__OP_ITEMS,          /* prefixItems/items (2020-12), items/additionalItems (07) */
    VAL__OP_ALL_OF,
    VAL__OP_ANY_OF,
    VAL__OP_ONE_OF,
    VAL__OP_NOT,
    VAL__OP_IF,
    VAL__OP_REF,
    VAL__OP_DYNAMIC_REF,
    VAL__OP_UNEVAL_ITEMS,
    VAL__OP_UNEVAL_PROPS
};

struct val__node;
struct val__res;

/* A number from a schema, exact for integers. */
struct val__num {
    bool is_int;
    int64_t i;
    double d;
};

/* A named child: a property, a dependency, a required name. */
struct val__named {
    const char *name;
    uint32_t len;
    struct val__node *node;   /* properties, dependentSchemas */
    const char **names;       /* dependentRequired: the names required */
    uint32_t *name_lens;
    uint32_t n_names;
    bool req;                 /* properties: also named by the node's `required` */
};

/* An open-addressed index over a table of names (properties, required); mask + 1 slots,
 * at least twice the names. A slot packs table index + 1 (low 32 bits, 0 = empty), the
 * name's length (capped at 2^24 - 1) and its first byte, so that misses are decided
 * without touching the table. */
struct val__nameidx {
    uint64_t *slots;
    uint32_t mask;
};

static inline uint64_t val__name_tag(const char *s, uint32_t len)
{
    uint64_t l = len < 0xFFFFFFu ? len : 0xFFFFFFu;
    uint64_t b = len ? (unsigned char)s[0] : 0;
    return (l << 32) | (b << 56);
}

static inline uint32_t val__name_hash(const char *s, uint32_t len)
{
    uint32_t h = len * 0x9E3779B1u;
    if (len) {
        h ^= (unsigned char)s[0] * 0x85EBCA77u;
        h ^= (unsigned char)s[len - 1] * 0xC2B2AE3Du;
        h ^= (unsigned char)s[len / 2] * 0x27D4EB2Fu;
    }
    return h ^ (h >> 15);
}

/* Byte equality for the short strings of names and enums, without a libc call:
 * overlapping word loads cover every length without a byte loop. */
static inline uint64_t val__load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

static inline uint32_t val__load4(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

static inline bool val__bytes_eq(const char *a, const char *b, size_t n)
{
    if (n > 16) {
        return memcmp(a, b, n) == 0;
    }
    if (n >= 8) {
        return ((val__load8(a) ^ val__load8(b)) |
                (val__load8(a + n - 8) ^ val__load8(b + n - 8))) == 0;
    }
    if (n >= 4) {
        return ((val__load4(a) ^ val__load4(b)) |
                (val__load4(a + n - 4) ^ val__load4(b + n - 4))) == 0;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

struct val__pat {
    val__regex *re;
    const char *src;          /* the pattern text, NUL-terminated (schema path segment) */
    struct val__node *node;   /* patternProperties */
};

struct val__dynanchor {
    const char *name;
    struct val__node *node;
};

/* A schema resource (a document or an embedded `$id`) at evaluation time: what
 * `$dynamicRef` needs from the dynamic scope. */
struct val__res {
    const char *uri;
    struct val__dynanchor *dyn;
    uint32_t n_dyn;
};

struct val__op {
    uint8_t kind;             /* enum val__op_kind */
    bool fused;               /* REQUIRED: the fast path counts it in the node's PROPS */
    const char *kw;           /* the keyword (schema path segment) */
    union {
        unsigned types;                       /* TYPE */
        const struct js_val *value;           /* CONST */
        struct {
            const struct js_val *items;       /* ENUM values */
            uint32_t n;
            const uint64_t *hash;             /* per-value hash when n is large */
        } en;
        struct val__num num;                  /* MULTIPLE_OF, MAX/MIN... */
        uint64_t count;                       /* MAX/MIN LENGTH/ITEMS/PROPERTIES */
        val__regex *re;                       /* PATTERN (src in pat_src) */
        enum val__fmt fmt;                    /* FORMAT */
        struct {
            struct val__node *node;
            uint64_t min, max;                /* minContains, maxContains (max UINT64_MAX = none) */
            bool has_min, has_max;
        } contains;
        struct {
            struct val__named *names;         /* REQUIRED: as written; DEP_*: entries */
            uint32_t n;
            struct val__named *sorted;        /* REQUIRED: distinct names, sorted */
            uint32_t n_sorted;
            struct val__nameidx idx;          /* REQUIRED: over sorted */
        } list;
        struct {
            struct val__named *props;         /* sorted by (len, bytes) */
            uint32_t n_props;
            struct val__nameidx idx;          /* over props */
            uint32_t n_req;                   /* required names among props (fused) */
            struct val__pat *pats;
            uint32_t n_pats;
            struct val__node *additional;     /* NULL when absent */
            const char *props_kw, *pats_kw, *add_kw;
        } props;
        struct {
            struct val__node **prefix;
            uint32_t n_prefix;
            struct val__node *rest;           /* items after the prefix; NULL = absent */
            const char *prefix_kw, *rest_kw;
        } items;
        struct {
            struct val__node **subs;
            uint32_t n;
        } group;                              /* ALL/ANY/ONE OF */
        struct val__node *sub;                /* NOT, PROPERTY_NAMES, UNEVAL_* , REF */
        struct {
            struct val__node *cond, *then_, *else_;
        } cond;
        struct {
            struct val__node *target;         /* the static resolution */
            const char *anchor;               /* non-NULL: resolve dynamically by name */
        } dyn;
    } u;
    const char *pat_src;      /* PATTERN: the pattern text for messages */
    const char *ref_uri;      /* REF/DYNAMIC_REF: the reference as written */
};

struct val__node {
    struct val__op *ops;
    uint32_t n_ops;
    bool needs_ann;           /* has unevaluated*, so collects annotations */
    uint8_t mark;             /* compile time only: the cycle check's colour */
    bool leaf;                /* only value keywords (type, bounds, enum, pattern, ...):
                                 checkable without a frame, scope or annotations */
    const struct val__res *res;
};

/* The default evaluation step budget of one validation (one step = one schema node
 * applied to one value): a base, plus a share per byte of the instance's text. */
#define VAL__STEPS_BASE 200000u
#define VAL__STEPS_PER_BYTE 8u

struct val_schema {
    atomic_int refs;
    enum val_dialect dialect;
    unsigned max_depth;
    uint64_t max_steps;       /* 0: VAL__STEPS_BASE + VAL__STEPS_PER_BYTE per instance byte */
    wr_arena *arena;          /* every node, op, string of the program */
    struct val__node *root;
    val__regex **regexes;     /* to free */
    size_t n_regexes;
};

/* --- uri.c: RFC 3986 references ------------------------------------------------- */

/* Resolves ref against base (both NUL-terminated; base may be "" = none) into a new
 * string in a. Returns NULL when out of memory. */
char *val__uri_resolve(wr_arena *a, const char *base, const char *ref);

/* Splits uri at '#': returns the length of the part before it; *frag points after the
 * '#' (or to "" when none). */
size_t val__uri_split(const char *uri, const char **frag);

/* True when uri has a scheme (is absolute). */
bool val__uri_is_absolute(const char *uri);

/* Decodes %XX escapes of a fragment into out (capacity cap); returns the length or
 * (size_t)-1 when too long or malformed. */
size_t val__uri_unescape(const char *s, size_t len, char *out, size_t cap);

/* --- jv.c: JSON helpers over struct js_val ---------------------------------------- */

/* A deep copy of a jansson value as js_val in a; NULL when out of memory or too deep. */
struct js_val *val__from_jansson(wr_arena *a, const json_t *v);

/* JSON Schema equality (numbers by value, member order ignored): js_equal, which costs
 * O(n log n) for two big objects, never O(n^2); strings (most `enum` and `const`
 * values) are compared inline on the fast path. */
static inline bool val__equal(const struct js_val *a, const struct js_val *b)
{
    if (a->type == JS_STRING && b->type == JS_STRING) {
        return a->n == b->n && val__bytes_eq(a->u.s, b->u.s, a->n);
    }
    return js_equal(a, b);
}

/* A 64-bit hash consistent with val__equal, keyed by a random per-process SipHash key:
 * no client can choose values that collide, so the tables of `uniqueItems` and `enum`
 * stay linear on hostile input. Linear in the size of v. Thread-safe. */
uint64_t val__hash(const struct js_val *v);

/* Code points of a UTF-8 string. */
size_t val__codepoints(const char *s, size_t n);

/* --- eval.c ------------------------------------------------------------------------ */

/* Runs node on inst; collect = errors wanted. Internal entry for val_is_valid/validate. */
bool val__run(const val_schema *s, const struct val__node *root, const struct js_val *inst,
              wr_arena *a, unsigned max_errors, struct val_result *out, int *rc);

/* --- compile.c / compile_kw.c: the compile context -------------------------------- */

/* Deeper schemas are refused rather than risking the stack (scan and compile recurse). */
#define VAL__MAX_COMPILE_DEPTH 512

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

/* Records the first failure of the compile (later ones are dropped) with the schema path;
 * returns the code. */
__attribute__((format(printf, 3, 4))) int val__cfail(struct cctx *c, int code, const char *fmt,
                                                     ...);
/* The schema path of the failure message: push a segment (returns what pop restores). */
size_t val__path_push(struct cctx *c, const char *seg, size_t len);
size_t val__path_push_idx(struct cctx *c, size_t i);
void val__path_pop(struct cctx *c, size_t saved);
/* The scan's record of subschema j; NULL when it was never scanned. */
struct jinfo *val__info_get(struct cctx *c, const json_t *j);
/* Resolves ref from the resource `from` (compile.c). */
const json_t *val__resolve(struct cctx *c, const struct jinfo *from, const char *ref,
                           const char **anchor_name, bool *anchor_dyn);
/* Compiles subschema j once into its node (compile_kw.c); NULL on failure (c->rc). */
struct val__node *val__cnode(struct cctx *c, const json_t *j);

/* --- meta: the embedded meta-schemas -------------------------------------------- */

/* The files of validator/meta, compiled in by cmake/embed.cmake; ends with a NULL name. */
extern const struct wr_embedded val__meta_docs[];

#endif
