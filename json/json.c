/* json.c - the strict one-pass RFC 8259 reader behind json.h.
 * Iterative (an explicit slot stack links the open containers, so hostile nesting cannot
 * overflow the C stack); containers are copied into exactly-sized arena arrays on close. */
#include "json.h"

#include "../common/err.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One value under construction. Members and array items share the type so that a
 * container's children are simply the slots after it; name_off fills what would be
 * padding and remembers where a member name started, for JS_EDUPKEY. */
struct slot {
    const char *name;
    uint32_t name_len;
    uint32_t name_off;
    struct js_val val;
};

/* Slots live on the C stack for ordinary events and move to the heap for big
 * documents. The heap part never exceeds one slot per two input bytes (every value
 * but the last needs at least a byte and a separator), so the input bounds it. */
#define LOCAL_SLOTS 128
#define NO_SLOT UINT32_MAX
#define SMALL_OBJECT 16 /* members; above this, duplicates are found by hashing */
#define HASH_OBJECT 256 /* members; above this (or on hash collisions), by sorting */
#define DEFAULT_DEPTH 64

struct ctx {
    const unsigned char *base; /* start of the caller's buffer: offsets count from here */
    const unsigned char *end;
    wr_arena *arena;
    struct slot *slots;
    size_t cap;
    bool heap;
    int code;
    size_t err_off;
    char msg[96];
};

/* Character classes outside strings. */
enum { C_OTHER = 0, C_WS = 1 };
static const unsigned char ws_class[256] = {
    [' '] = C_WS, ['\t'] = C_WS, ['\n'] = C_WS, ['\r'] = C_WS,
};

/* Hex digit value plus one; 0 marks a non-digit. */
static const unsigned char hex_plus1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int fail(struct ctx *c, int code, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct ctx *c, int code, const unsigned char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->code = code;
    c->err_off = (size_t)(at - c->base);
    return code;
}

static const char *char_name(const unsigned char *p, const unsigned char *end, char buf[8])
{
    if (p >= end) {
        return "end of input";
    }
    if (*p >= 0x21 && *p < 0x7f) {
        snprintf(buf, 8, "'%c'", *p);
    } else {
        snprintf(buf, 8, "0x%02x", *p);
    }
    return buf;
}

/* Advances over bytes that need no attention inside a string, eight at a time: the
 * SWAR test marks bytes equal to '"' or '\\', below 0x20, or with the top bit set; the
 * lowest mark is exact (borrows only disturb bytes above a true match). */
static inline const unsigned char *skip_plain(const unsigned char *q, const unsigned char *end)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    while (end - q >= 8) {
        uint64_t x;
        memcpy(&x, q, 8);
        uint64_t qt = x ^ (ones * '"');
        uint64_t bs = x ^ (ones * '\\');
        uint64_t m = ((qt - ones) & ~qt) | ((bs - ones) & ~bs) | ((x - ones * 0x20) & ~x) | x;
        m &= high;
        if (m) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            return q + (__builtin_clzll(m) >> 3);
#else
            return q + (__builtin_ctzll(m) >> 3);
#endif
        }
        q += 8;
    }
    while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\') {
        q++;
    }
    return q;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF) whose lead byte >= 0x80 is at p, or 0. */
static inline size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t avail = (size_t)(end - p);
    if (c < 0xc2) {
        return 0;
    }
    if (c < 0xe0) {
        return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c < 0xf0) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c < 0xf5) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static inline int hex4(const unsigned char *p)
{
    int a = hex_plus1[p[0]], b = hex_plus1[p[1]], c = hex_plus1[p[2]], d = hex_plus1[p[3]];
    if (!a || !b || !c || !d) {
        return -1;
    }
    return ((a - 1) << 12) | ((b - 1) << 8) | ((c - 1) << 4) | (d - 1);
}

/* Second pass over an escaped string already validated by scan_escaped(): copies the
 * plain runs and resolves the escapes into out. */
static void decode_escaped(const unsigned char *q, const unsigned char *stop, char *out)
{
    while (q < stop) {
        const unsigned char *bs = memchr(q, '\\', (size_t)(stop - q));
        if (!bs) {
            bs = stop;
        }
        memcpy(out, q, (size_t)(bs - q));
        out += bs - q;
        q = bs;
        if (q == stop) {
            break;
        }
        unsigned char e = q[1];
        q += 2;
        switch (e) {
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        case 't': *out++ = '\t'; break;
        case 'u': {
            unsigned cp = (unsigned)hex4(q);
            q += 4;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo = (unsigned)hex4(q + 2);
                q += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp < 0x80) {
                *out++ = (char)cp;
            } else if (cp < 0x800) {
                *out++ = (char)(0xc0 | (cp >> 6));
                *out++ = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *out++ = (char)(0xe0 | (cp >> 12));
                *out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *out++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *out++ = (char)(0xf0 | (cp >> 18));
                *out++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                *out++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *out++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: *out++ = (char)e; break; /* '"', '\\', '/' */
        }
    }
}

/* The rest of a string from its first backslash at q: validates everything, finds the
 * closing quote and the decoded length, then decodes into the arena. */
static const unsigned char *scan_escaped(struct ctx *c, const unsigned char *s,
                                         const unsigned char *q, uint8_t *flags,
                                         const char **out, uint32_t *out_len)
{
    const unsigned char *end = c->end;
    size_t extra = 0; /* input bytes that the decoded form drops */
    for (;;) {
        q = skip_plain(q, end);
        if (q == end) {
            fail(c, JS_ESYNTAX, q, "unterminated string");
            return NULL;
        }
        unsigned char ch = *q;
        if (ch == '"') {
            break;
        }
        if (ch == '\\') {
            if (end - q < 2) {
                fail(c, JS_ESYNTAX, end, "unterminated string");
                return NULL;
            }
            switch (q[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                extra += 1;
                q += 2;
                continue;
            case 'u':
                break;
            default:
                fail(c, JS_ESYNTAX, q, "invalid escape '\\%c' in string",
                     q[1] >= 0x20 && q[1] < 0x7f ? q[1] : '?');
                return NULL;
            }
            int cp = end - q >= 6 ? hex4(q + 2) : -1;
            if (cp < 0) {
                fail(c, JS_ESYNTAX, q, "\\u must be followed by four hex digits");
                return NULL;
            }
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                fail(c, JS_EUTF8, q, "lone low surrogate \\u%04X", (unsigned)cp);
                return NULL;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = end - q >= 12 && q[6] == '\\' && q[7] == 'u' ? hex4(q + 8) : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    fail(c, JS_EUTF8, q, "high surrogate \\u%04X not followed by a low one",
                         (unsigned)cp);
                    return NULL;
                }
                extra += 12 - 4;
                q += 12;
                *flags |= JS_F_NONASCII;
                continue;
            }
            extra += cp < 0x80 ? 5 : cp < 0x800 ? 4 : 3;
            if (cp >= 0x80) {
                *flags |= JS_F_NONASCII;
            }
            q += 6;
            continue;
        }
        if (ch >= 0x80) {
            size_t n = utf8_seq(q, end);
            if (!n) {
                fail(c, JS_EUTF8, q, "invalid UTF-8 byte 0x%02x in string", ch);
                return NULL;
            }
            *flags |= JS_F_NONASCII;
            q += n;
            continue;
        }
        fail(c, JS_ESYNTAX, q, "control character 0x%02x in string (must be escaped)", ch);
        return NULL;
    }
    size_t n = (size_t)(q - s) - extra;
    char *d = wr_arena_alloc(c->arena, n);
    if (!d) {
        fail(c, WR_ENOMEM, s, "out of memory (arena cap reached)");
        return NULL;
    }
    decode_escaped(s, q, d);
    *flags |= JS_F_ESCAPED;
    *out = d;
    *out_len = (uint32_t)n;
    return q + 1;
}

/* A string whose opening quote is at p. Returns the byte after the closing quote. */
static inline const unsigned char *scan_string(struct ctx *c, const unsigned char *p,
                                               uint8_t *flags, const char **out,
                                               uint32_t *out_len)
{
    const unsigned char *end = c->end;
    const unsigned char *s = p + 1, *q = s;
    uint8_t f = 0;
    for (;;) {
        q = skip_plain(q, end);
        if (q == end) {
            fail(c, JS_ESYNTAX, q, "unterminated string");
            return NULL;
        }
        unsigned char ch = *q;
        if (ch == '"') {
            break;
        }
        if (ch >= 0x80) {
            size_t n = utf8_seq(q, end);
            if (!n) {
                fail(c, JS_EUTF8, q, "invalid UTF-8 byte 0x%02x in string", ch);
                return NULL;
            }
            f = JS_F_NONASCII;
            q += n;
            continue;
        }
        if (ch == '\\') {
            *flags = f;
            return scan_escaped(c, s, q, flags, out, out_len);
        }
        fail(c, JS_ESYNTAX, q, "control character 0x%02x in string (must be escaped)", ch);
        return NULL;
    }
    *flags = f;
    *out = (const char *)s;
    *out_len = (uint32_t)(q - s);
    return q + 1;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* Correctly rounded conversion of a validated literal, independent of the process
 * locale. Returns false when the value overflows a double. */
static bool slow_double(const unsigned char *s, size_t n, double *out)
{
    char local[64];
    char *buf = local;
    if (n >= sizeof local) {
        buf = malloc(n + 1);
        if (!buf) {
            return false;
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    double d = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != local) {
        free(buf);
    }
    *out = d;
    return isfinite(d);
}

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static inline bool is_digit(unsigned char ch)
{
    return (unsigned)(ch - '0') < 10;
}

/* A number starting at p ('-' or a digit). Integers that fit int64 become JS_INT;
 * short decimals with small exponents are converted exactly (one IEEE multiply or
 * divide of exact operands, as Clinger showed); the rest goes to strtod. */
static inline const unsigned char *scan_number(struct ctx *c, const unsigned char *p,
                                               struct js_val *v)
{
    const unsigned char *end = c->end, *s = p;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
        if (p == end || !is_digit(*p)) {
            fail(c, JS_ESYNTAX, p, "expected a digit after '-'");
            return NULL;
        }
    }
    uint64_t m = 0;
    int digits = 0; /* digits accumulated in m (leading zeros included) */
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) {
            fail(c, JS_ESYNTAX, p - 1, "leading zeros are not allowed in numbers");
            return NULL;
        }
    } else {
        while (p < end && is_digit(*p)) {
            if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
            }
            digits++;
            p++;
        }
    }
    int int_digits = digits;
    bool is_int = true;
    int frac_digits = 0;
    if (p < end && *p == '.') {
        is_int = false;
        p++;
        if (p == end || !is_digit(*p)) {
            fail(c, JS_ESYNTAX, p, "expected a digit after the decimal point");
            return NULL;
        }
        while (p < end && is_digit(*p)) {
            if (digits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                frac_digits++;
            }
            digits++;
            p++;
        }
    }
    long exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = false;
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == end || !is_digit(*p)) {
            fail(c, JS_ESYNTAX, p, "expected a digit in the exponent");
            return NULL;
        }
        while (p < end && is_digit(*p)) {
            if (exp10 < 100000) {
                exp10 = exp10 * 10 + (*p - '0');
            }
            p++;
        }
        if (eneg) {
            exp10 = -exp10;
        }
    }
    v->flags = 0;
    v->n = 0;
    v->src_off = (uint32_t)(s - c->base);
    v->src_len = (uint32_t)(p - s);
    if (is_int) {
        if (int_digits < 19 ||
            (int_digits == 19 && m <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))) {
            v->type = JS_INT;
            v->u.i = neg ? (int64_t)(0 - m) : (int64_t)m;
            return p;
        }
        v->flags = JS_F_BIGINT;
    } else {
#if FLT_EVAL_METHOD == 0
        long e = exp10 - frac_digits;
        if (digits <= 19 && m <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
            double d = (double)m;
            d = e >= 0 ? d * pow10_exact[e] : d / pow10_exact[-e];
            v->type = JS_REAL;
            v->u.d = neg ? -d : d;
            return p;
        }
#endif
    }
    v->type = JS_REAL;
    if (!slow_double(s, (size_t)(p - s), &v->u.d)) {
        fail(c, JS_ESYNTAX, s, "number out of range of a double");
        return NULL;
    }
    return p;
}

struct name_ref {
    const char *name;
    uint32_t len;
    uint32_t idx;
};

static int name_ref_cmp(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    int r = x->len ? memcmp(x->name, y->name, x->len) : 0;
    if (r) {
        return r;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* A 64-bit hash of a member name without calls or variable-length copies: whole 8-byte
 * words, then the tail as one overlapping load (or three bytes for names under 4). */
static inline uint64_t name_hash(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ ((uint64_t)n << 56);
    uint64_t w;
    uint32_t a, b;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            h = (h ^ w) * 0xff51afd7ed558ccdu;
            h ^= h >> 32;
        }
        if (i < n) {
            memcpy(&w, p + n - 8, 8);
            h ^= w;
        }
    } else if (n >= 4) {
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        h ^= (uint64_t)a << 32 | b;
    } else if (n > 0) {
        h ^= (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n / 2] << 8 |
             (unsigned char)p[n - 1];
    }
    h *= 0xc4ceb9fe1a85ec53u;
    return h ^ (h >> 29);
}

/* find_duplicate for mid-sized objects (every event payload of a few dozen members):
 * one pass over a small hash table of full 64-bit name hashes, in input order, so the
 * first hit is the smallest duplicate index. Returns -1 when the table cannot decide
 * cheaply (two different names with one hash, or long probe runs): the caller then
 * sorts, so colliding names cost no more than they did. */
static long find_duplicate_hashed(const struct slot *m, size_t n)
{
    uint32_t idx[HASH_OBJECT * 2];
    uint64_t hs[HASH_OBJECT * 2];
    size_t size = 32;
    while (size < n * 2) {
        size *= 2;
    }
    size_t mask = size - 1, probes = 0, budget = n * 4 + 64;
    memset(idx, 0xff, size * sizeof idx[0]);
    for (size_t j = 0; j < n; j++) {
        uint64_t h = name_hash(m[j].name, m[j].name_len);
        size_t at = (size_t)(h >> 40) & mask;
        while (idx[at] != UINT32_MAX) {
            if (hs[at] == h) {
                const struct slot *o = &m[idx[at]];
                if (o->name_len == m[j].name_len &&
                    (o->name_len == 0 || !memcmp(o->name, m[j].name, o->name_len))) {
                    return (long)j;
                }
                return -1;
            }
            if (++probes > budget) {
                return -1;
            }
            at = (at + 1) & mask;
        }
        hs[at] = h;
        idx[at] = (uint32_t)j;
    }
    return (long)n;
}

/* Index of the first member (in input order) whose name an earlier member already
 * had, n if none, or -1 when out of memory. Sorting keeps big hostile objects at
 * O(n log n), where a hash table could be flooded with colliding names. */
static long find_duplicate(const struct slot *m, size_t n)
{
    if (n <= SMALL_OBJECT) {
        for (size_t j = 1; j < n; j++) {
            uint32_t len = m[j].name_len;
            for (size_t i = 0; i < j; i++) {
                if (m[i].name_len == len && (len == 0 || (m[i].name[0] == m[j].name[0] &&
                                                          !memcmp(m[i].name, m[j].name, len)))) {
                    return (long)j;
                }
            }
        }
        return (long)n;
    }
    if (n <= HASH_OBJECT) {
        long dup = find_duplicate_hashed(m, n);
        if (dup >= 0) {
            return dup;
        }
        /* a full-hash collision or long probe runs (hostile names): sort instead */
    }
    struct name_ref *r = malloc(n * sizeof *r);
    if (!r) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        r[i] = (struct name_ref){m[i].name, m[i].name_len, (uint32_t)i};
    }
    qsort(r, n, sizeof *r, name_ref_cmp);
    /* Within a run of equal names the entries are in input order, and every entry but
     * the run's first repeats an earlier name; the smallest such index wins. */
    size_t first = n;
    for (size_t i = 1; i < n; i++) {
        if (r[i].len == r[i - 1].len && (r[i].len == 0 || !memcmp(r[i].name, r[i - 1].name, r[i].len)) &&
            r[i].idx < first) {
            first = r[i].idx;
        }
    }
    free(r);
    return (long)first;
}

static bool grow(struct ctx *c)
{
    size_t cap = c->cap * 2;
    struct slot *s;
    if (c->heap) {
        s = realloc(c->slots, cap * sizeof *s);
    } else {
        s = malloc(cap * sizeof *s);
        if (s) {
            memcpy(s, c->slots, c->cap * sizeof *s);
        }
    }
    if (!s) {
        return false;
    }
    c->slots = s;
    c->cap = cap;
    c->heap = true;
    return true;
}

/* Finishes the innermost open container, whose slot is k, at its closing byte p. */
static inline int close_container(struct ctx *c, uint32_t k, size_t sp, const unsigned char *p)
{
    struct slot *S = c->slots;
    struct js_val *v = &S[k].val;
    size_t n = sp - k - 1;
    const struct slot *kids = S + k + 1;
    if (v->type == JS_OBJECT) {
        if (n > 1) {
            long dup = find_duplicate(kids, n);
            if (dup < 0) {
                return fail(c, WR_ENOMEM, p, "out of memory checking member names");
            }
            if ((size_t)dup < n) {
                const struct slot *d = &kids[dup];
                return fail(c, JS_EDUPKEY, c->base + d->name_off,
                            "duplicate member name \"%.*s\"",
                            (int)(d->name_len > 40 ? 40 : d->name_len), d->name);
            }
        }
        struct js_member *mem = NULL;
        if (n) {
            mem = wr_arena_alloc(c->arena, n * sizeof *mem);
            if (!mem) {
                return fail(c, WR_ENOMEM, p, "out of memory (arena cap reached)");
            }
            for (size_t i = 0; i < n; i++) {
                mem[i].name = kids[i].name;
                mem[i].name_len = kids[i].name_len;
                mem[i].val = kids[i].val;
            }
        }
        v->u.members = mem;
    } else {
        struct js_val *items = NULL;
        if (n) {
            items = wr_arena_alloc(c->arena, n * sizeof *items);
            if (!items) {
                return fail(c, WR_ENOMEM, p, "out of memory (arena cap reached)");
            }
            for (size_t i = 0; i < n; i++) {
                items[i] = kids[i].val;
            }
        }
        v->u.items = items;
    }
    v->n = (uint32_t)n;
    v->src_len = (uint32_t)(p + 1 - c->base) - v->src_off;
    return 0;
}

#define SKIP_WS()                                                                            \
    do {                                                                                     \
        while (p < end && ws_class[*p]) {                                                    \
            p++;                                                                             \
        }                                                                                    \
    } while (0)

/* The value at or after p; on success *stop is the byte after it. */
static int parse_value(struct ctx *c, const unsigned char *p, unsigned max_depth,
                       const unsigned char **stop, struct js_val *root)
{
    const unsigned char *end = c->end;
    size_t sp = 0;          /* slots in use */
    uint32_t cur = NO_SLOT; /* slot of the innermost open container */
    unsigned depth = 0;
    struct slot *sl = &c->slots[sp++];
    char cb[8];

value:
    SKIP_WS();
    if (p == end) {
        return fail(c, JS_ESYNTAX, p, "unexpected end of input, expected a value");
    }
    switch (*p) {
    case '"': {
        const unsigned char *q = scan_string(c, p, &sl->val.flags, &sl->val.u.s, &sl->val.n);
        if (!q) {
            return c->code;
        }
        sl->val.type = JS_STRING;
        sl->val.src_off = (uint32_t)(p - c->base);
        sl->val.src_len = (uint32_t)(q - p);
        p = q;
        goto next;
    }
    case '{':
    case '[':
        if (depth >= max_depth) {
            return fail(c, JS_EDEPTH, p, "nested deeper than %u", max_depth);
        }
        depth++;
        sl->val.type = *p == '{' ? JS_OBJECT : JS_ARRAY;
        sl->val.flags = 0;
        sl->val.src_off = (uint32_t)(p - c->base);
        sl->val.u.i = cur; /* the parent link while open */
        cur = (uint32_t)(sl - c->slots);
        p++;
        SKIP_WS();
        if (p < end && *p == (sl->val.type == JS_OBJECT ? '}' : ']')) {
            goto close;
        }
        if (sl->val.type == JS_OBJECT) {
            goto member;
        }
        if (sp == c->cap && !grow(c)) {
            return fail(c, WR_ENOMEM, p, "out of memory");
        }
        sl = &c->slots[sp++];
        goto value;
    case 't':
        if (end - p >= 4 && !memcmp(p, "true", 4)) {
            sl->val.type = JS_TRUE;
            goto literal4;
        }
        goto bad_literal;
    case 'n':
        if (end - p >= 4 && !memcmp(p, "null", 4)) {
            sl->val.type = JS_NULL;
            goto literal4;
        }
        goto bad_literal;
    case 'f':
        if (end - p >= 5 && !memcmp(p, "false", 5)) {
            sl->val.type = JS_FALSE;
            sl->val.flags = 0;
            sl->val.n = 0;
            sl->val.src_off = (uint32_t)(p - c->base);
            sl->val.src_len = 5;
            sl->val.u.i = 0;
            p += 5;
            goto next;
        }
        goto bad_literal;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        p = scan_number(c, p, &sl->val);
        if (!p) {
            return c->code;
        }
        goto next;
    default:
        if (*p >= 0x80) {
            return fail(c, JS_ESYNTAX, p, "unexpected byte 0x%02x, expected a value", *p);
        }
        return fail(c, JS_ESYNTAX, p, "unexpected %s, expected a value",
                    char_name(p, end, cb));
    }

literal4:
    sl->val.flags = 0;
    sl->val.n = 0;
    sl->val.src_off = (uint32_t)(p - c->base);
    sl->val.src_len = 4;
    sl->val.u.i = 0;
    p += 4;
    goto next;

bad_literal:
    return fail(c, JS_ESYNTAX, p, "invalid literal (expected true, false or null)");

member:
    /* p is where a member name must start (whitespace already skipped). */
    if (p == end) {
        return fail(c, JS_ESYNTAX, p, "unexpected end of input in an object");
    }
    if (*p != '"') {
        return fail(c, JS_ESYNTAX, p, "expected a member name (a string), found %s",
                    char_name(p, end, cb));
    }
    if (sp == c->cap && !grow(c)) {
        return fail(c, WR_ENOMEM, p, "out of memory");
    }
    sl = &c->slots[sp++];
    {
        uint8_t nflags;
        const unsigned char *q = scan_string(c, p, &nflags, &sl->name, &sl->name_len);
        if (!q) {
            return c->code;
        }
        sl->name_off = (uint32_t)(p - c->base);
        p = q;
    }
    if (p < end && *p == ':') {
        p++;
        goto value;
    }
    SKIP_WS();
    if (p == end || *p != ':') {
        return fail(c, JS_ESYNTAX, p, "expected ':' after a member name, found %s",
                    char_name(p, end, cb));
    }
    p++;
    goto value;

next:
    /* A value has just ended at p. */
    if (cur == NO_SLOT) {
        *stop = p;
        *root = c->slots[0].val;
        return 0;
    }
    SKIP_WS();
    if (p == end) {
        return fail(c, JS_ESYNTAX, p, "unexpected end of input in an %s",
                    c->slots[cur].val.type == JS_OBJECT ? "object" : "array");
    }
    if (c->slots[cur].val.type == JS_OBJECT) {
        if (*p == ',') {
            p++;
            SKIP_WS();
            goto member;
        }
        if (*p == '}') {
            goto close;
        }
        return fail(c, JS_ESYNTAX, p, "expected ',' or '}' in an object, found %s",
                    char_name(p, end, cb));
    }
    if (*p == ',') {
        p++;
        if (sp == c->cap && !grow(c)) {
            return fail(c, WR_ENOMEM, p, "out of memory");
        }
        sl = &c->slots[sp++];
        goto value;
    }
    if (*p == ']') {
        goto close;
    }
    return fail(c, JS_ESYNTAX, p, "expected ',' or ']' in an array, found %s",
                char_name(p, end, cb));

close:
    /* p is at the closing byte of the container in slot cur. */
    {
        uint32_t k = cur;
        uint32_t parent = (uint32_t)c->slots[k].val.u.i;
        int rc = close_container(c, k, sp, p);
        if (rc) {
            return rc;
        }
        cur = parent;
        sp = (size_t)k + 1;
        depth--;
        p++;
        goto next;
    }
}

static void locate(struct ctx *c, struct js_error *err)
{
    if (!err) {
        return;
    }
    const unsigned char *p = c->base, *at = c->base + c->err_off;
    unsigned line = 1;
    const unsigned char *line_start = p;
    for (;;) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(at - p));
        if (!nl) {
            break;
        }
        line++;
        p = nl + 1;
        line_start = p;
    }
    err->offset = c->err_off;
    err->line = line;
    err->column = (unsigned)(at - line_start) + 1;
    memcpy(err->msg, c->msg, sizeof err->msg);
    err->msg[sizeof err->msg - 1] = '\0';
}

static int run(wr_arena *a, const char *p, size_t len, size_t start, bool whole,
               const struct js_opts *opts, size_t *stop_out, struct js_val **out,
               struct js_error *err)
{
    struct slot local[LOCAL_SLOTS];
    static const char empty[1] = "";
    if (!p) {
        p = empty;
        len = 0;
    }
    struct ctx c = {
        .base = (const unsigned char *)p,
        .end = (const unsigned char *)p + len,
        .arena = a,
        .slots = local,
        .cap = LOCAL_SLOTS,
    };
    int rc;
    if (len > UINT32_MAX) {
        c.end = c.base;
        rc = fail(&c, JS_ESYNTAX, c.base, "input of 4 GiB or more");
        locate(&c, err);
        return rc;
    }
    const unsigned char *q = c.base + start, *end = c.end;
    if (!whole) {
        while (q < end && ws_class[*q]) {
            q++;
        }
        if (q == end) {
            *stop_out = len;
            *out = NULL;
            return 1;
        }
    }
    unsigned max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_DEPTH;
    struct js_val root;
    const unsigned char *stop = NULL;
    rc = parse_value(&c, q, max_depth, &stop, &root);
    if (rc == 0 && whole) {
        const unsigned char *t = stop;
        while (t < end && ws_class[*t]) {
            t++;
        }
        if (t != end) {
            char cb[8];
            rc = fail(&c, JS_ESYNTAX, t, "unexpected %s after the JSON value",
                      char_name(t, end, cb));
        }
    }
    if (rc == 0) {
        struct js_val *v = wr_arena_alloc(a, sizeof *v);
        if (!v) {
            rc = fail(&c, WR_ENOMEM, stop, "out of memory (arena cap reached)");
        } else {
            *v = root;
            *out = v;
            *stop_out = (size_t)(stop - c.base);
        }
    }
    if (c.heap) {
        free(c.slots);
    }
    if (rc) {
        locate(&c, err);
    }
    return rc;
}

int js_parse(wr_arena *a, const char *p, size_t len, const struct js_opts *opts,
             struct js_val **out, struct js_error *err)
{
    size_t stop;
    return run(a, p, len, 0, true, opts, &stop, out, err);
}

int js_parse_next(wr_arena *a, const char *p, size_t len, size_t *pos,
                  const struct js_opts *opts, struct js_val **out, struct js_error *err)
{
    size_t stop = 0;
    if (*pos > len) {
        *out = NULL;
        return 1;
    }
    int rc = run(a, p, len, *pos, false, opts, &stop, out, err);
    if (rc >= 0) {
        *pos = stop;
    }
    return rc;
}

const struct js_val *js_get(const struct js_val *obj, const char *name, size_t len)
{
    if (!obj || obj->type != JS_OBJECT) {
        return NULL;
    }
    const struct js_member *m = obj->u.members;
    if (len == 0) {
        for (uint32_t i = 0; i < obj->n; i++) {
            if (m[i].name_len == 0) {
                return &m[i].val;
            }
        }
        return NULL;
    }
    /* Length and first byte reject nearly every other member without a call. */
    for (uint32_t i = 0; i < obj->n; i++) {
        if (m[i].name_len == len && m[i].name[0] == name[0] && !memcmp(m[i].name, name, len)) {
            return &m[i].val;
        }
    }
    return NULL;
}

size_t js_str_codepoints(const struct js_val *s)
{
    if (!s || s->type != JS_STRING) {
        return 0;
    }
    if (!(s->flags & JS_F_NONASCII)) {
        return s->n;
    }
    /* Count the bytes that start a code point, i.e. everything but continuation bytes. */
    const unsigned char *p = (const unsigned char *)s->u.s;
    size_t n = s->n, count = 0, i = 0;
    for (; i < n; i++) {
        count += (p[i] & 0xc0) != 0x80;
    }
    return count;
}

/* Numbers compare by value; an integral double equals the int64 of the same value
 * exactly (no rounding through double for big integers). */
static bool num_equal(const struct js_val *a, const struct js_val *b)
{
    if (a->type == JS_INT && b->type == JS_INT) {
        return a->u.i == b->u.i;
    }
    if (a->type == JS_REAL && b->type == JS_REAL) {
        return a->u.d == b->u.d;
    }
    const struct js_val *i = a->type == JS_INT ? a : b, *r = a->type == JS_INT ? b : a;
    double d = r->u.d;
    /* -2^63 <= d < 2^63 and integral: then the conversion is exact. */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d)) {
        return false;
    }
    return (int64_t)d == i->u.i;
}

static int member_cmp(const void *a, const void *b)
{
    const struct js_member *x = *(const struct js_member *const *)a;
    const struct js_member *y = *(const struct js_member *const *)b;
    if (x->name_len != y->name_len) {
        return x->name_len < y->name_len ? -1 : 1;
    }
    return x->name_len ? memcmp(x->name, y->name, x->name_len) : 0;
}

static bool objects_equal(const struct js_val *a, const struct js_val *b)
{
    uint32_t n = a->n;
    if (n <= SMALL_OBJECT) {
        for (uint32_t i = 0; i < n; i++) {
            const struct js_member *m = &a->u.members[i];
            /* Same position first: equal objects usually share member order. */
            const struct js_member *o = &b->u.members[i];
            const struct js_val *bv;
            if (o->name_len == m->name_len && !memcmp(o->name, m->name, m->name_len)) {
                bv = &o->val;
            } else {
                bv = js_get(b, m->name, m->name_len);
            }
            if (!bv || !js_equal(&m->val, bv)) {
                return false;
            }
        }
        return true;
    }
    /* Big objects: sort both member lists by name and walk them together, so a
     * hostile pair of objects costs O(n log n), not O(n^2). */
    const struct js_member **sa = malloc(2 * (size_t)n * sizeof *sa);
    if (!sa) {
        for (uint32_t i = 0; i < n; i++) {
            const struct js_val *bv = js_get(b, a->u.members[i].name, a->u.members[i].name_len);
            if (!bv || !js_equal(&a->u.members[i].val, bv)) {
                return false;
            }
        }
        return true;
    }
    const struct js_member **sb = sa + n;
    for (uint32_t i = 0; i < n; i++) {
        sa[i] = &a->u.members[i];
        sb[i] = &b->u.members[i];
    }
    qsort(sa, n, sizeof *sa, member_cmp);
    qsort(sb, n, sizeof *sb, member_cmp);
    bool eq = true;
    for (uint32_t i = 0; i < n && eq; i++) {
        eq = member_cmp(&sa[i], &sb[i]) == 0 && js_equal(&sa[i]->val, &sb[i]->val);
    }
    free(sa);
    return eq;
}

bool js_equal(const struct js_val *a, const struct js_val *b)
{
    if (a == b) {
        return true;
    }
    if (!a || !b) {
        return false;
    }
    bool an = a->type == JS_INT || a->type == JS_REAL;
    bool bn = b->type == JS_INT || b->type == JS_REAL;
    if (an || bn) {
        return an && bn && num_equal(a, b);
    }
    if (a->type != b->type) {
        return false;
    }
    switch (a->type) {
    case JS_NULL:
    case JS_FALSE:
    case JS_TRUE:
        return true;
    case JS_STRING:
        return a->n == b->n && (a->n == 0 || !memcmp(a->u.s, b->u.s, a->n));
    case JS_ARRAY:
        if (a->n != b->n) {
            return false;
        }
        for (uint32_t i = 0; i < a->n; i++) {
            if (!js_equal(&a->u.items[i], &b->u.items[i])) {
                return false;
            }
        }
        return true;
    case JS_OBJECT:
        return a->n == b->n && objects_equal(a, b);
    default:
        return false;
    }
}
