/* envelope.c - the stored line's writer and readers behind envelope.h. The field tables
 * come from the X-macro lists of the header, so a field is declared once. */
#include "envelope.h"

#include "common/err.h"
#include "common/text.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A field's head: `,"name":`, with the opening quote of a string value. Kept in a fixed
 * array so the writer copies it with one constant-size move (names up to 24 bytes). */
#define LAKE__HEAD_LAKE_ENV_STR(name) ",\"" name "\":\""
#define LAKE__HEAD_LAKE_ENV_INT(name) ",\"" name "\":"
#define LAKE__HEAD_LAKE_ENV_JSON(name) ",\"" name "\":"
#define LAKE__HEAD_LAKE_ENV_BOOL(name) ",\"" name "\":"
#define LAKE__DEF(name, kind, req)                                                                 \
    {name,                                                                                         \
     (uint8_t)(sizeof name - 1),                                                                   \
     kind,                                                                                         \
     req,                                                                                          \
     (uint8_t)(sizeof LAKE__HEAD_##kind(name) - 1),                                                \
     LAKE__HEAD_##kind(name)},

const struct lake_env_field_def lake_env_fields[LAKE_ENV_NFIELDS] = {
#define LAKE_ENV__DEF(id, name, kind, req) LAKE__DEF(name, kind, req)
    LAKE_ENV_FIELDS(LAKE_ENV__DEF)
#undef LAKE_ENV__DEF
};

const struct lake_env_field_def lake_rej_fields[LAKE_REJ_NFIELDS] = {
#define LAKE_REJ__DEF(id, name, kind, req) LAKE__DEF(name, kind, req)
    LAKE_REJ_FIELDS(LAKE_REJ__DEF)
#undef LAKE_REJ__DEF
};

/* One test per field made from the table: constant-length compares, which the compiler
 * turns into a few word loads (this runs for every member of every line the curator
 * reads; a loop over the table with memcmp calls costs it about 1 %). */
static inline int field_find(const char *name, size_t len)
{
#define LAKE_ENV__FIND(id, nm, kind, req)                                                          \
    if (len == sizeof nm - 1 && memcmp(name, nm, sizeof nm - 1) == 0) {                            \
        return LAKE_ENV_##id;                                                                      \
    }
    LAKE_ENV_FIELDS(LAKE_ENV__FIND)
#undef LAKE_ENV__FIND
    return -1;
}

int lake_env_field_find(const char *name, size_t len)
{
    return field_find(name, len);
}

/* ---- writing ------------------------------------------------------------------------ */

/* Appends JSON text with its raw line breaks turned into spaces: a JSON string cannot
 * hold a raw line break, so any there is insignificant whitespace, and a stored line must
 * stay one line. Compact text (the common case) has none: one copy. */
static int append_one_line(struct wr_buf *b, const char *p, size_t len)
{
    const char *end = p + len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *cr = memchr(p, '\r', (size_t)((nl ? nl : end) - p));
        const char *brk = cr ? cr : nl;
        if (!brk) {
            return wr_buf_append(b, p, (size_t)(end - p));
        }
        int rc = wr_buf_append(b, p, (size_t)(brk - p));
        if (rc == 0) {
            rc = wr_buf_putc(b, ' ');
        }
        if (rc != 0) {
            return rc;
        }
        p = brk + 1;
    }
}

static int append_int(struct wr_buf *b, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        tmp[sizeof tmp - 1 - n++] = '-';
    }
    return wr_buf_append(b, tmp + sizeof tmp - n, n);
}

#define HEAD_COPY 31 /* bytes moved for a head: sizeof head - 1, so head + 1 stays inside */

/* True when s[0, len) goes into a JSON string as it is: printable ASCII without '"' and
 * '\\' (eight bytes a step: the zero-byte tests of SWAR). */
static inline int str_plain(const char *s, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        uint64_t q = v ^ (ones * '"'), bs = v ^ (ones * '\\');
        if ((((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | v) & highs) {
            return 0;
        }
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

/* Writes `"name":value` for each set field of the table, in order. */
static int write_fields(struct wr_buf *out, const struct lake_env_field_def *defs, size_t n,
                        const struct lake_env_rec *r)
{
    int rc = wr_buf_putc(out, '{');
    int first = 1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct lake_env_val *v = &r->f[i];
        if (!v->set) {
            if (defs[i].required) {
                return WR_EINVAL;
            }
            continue;
        }
        /* The first field's head goes without its comma. */
        size_t hl = defs[i].head_len - (size_t)first;
        if (out->err == 0 && out->cap - out->len > HEAD_COPY) {
            memcpy(out->p + out->len, defs[i].head + first, HEAD_COPY);
            out->len += hl;
            out->p[out->len] = '\0';
        } else {
            rc = wr_buf_append(out, defs[i].head + first, hl);
        }
        first = 0;
        if (rc != 0) {
            break;
        }
        switch (defs[i].kind) {
        case LAKE_ENV_STR:
            /* Most values (ids, times, names) need no escaping: one check, one copy. */
            assert(!v->plain || str_plain(v->p, v->len));
            rc = v->plain || str_plain(v->p, v->len) ? wr_buf_append(out, v->p, v->len)
                                                     : wr_buf_json_escape(out, v->p, v->len);
            if (rc == 0) {
                rc = wr_buf_putc(out, '"');
            }
            break;
        case LAKE_ENV_INT: rc = append_int(out, v->i); break;
        case LAKE_ENV_BOOL:
            rc = v->i ? wr_buf_append(out, "true", 4) : wr_buf_append(out, "false", 5);
            break;
        default:
            rc = v->len ? append_one_line(out, v->p, v->len) : wr_buf_append(out, "null", 4);
            break;
        }
    }
    if (rc == 0) {
        rc = wr_buf_putc(out, '}');
    }
    return rc;
}

static int finish(struct wr_buf *out, size_t start, int rc)
{
    if (rc != 0) {
        wr_buf_truncate(out, start); /* never half a line: the buffer is as before the call */
    }
    return rc;
}

int lake_env_write(struct wr_buf *out, const struct lake_env_rec *r)
{
    size_t start = out->len;
    return finish(out, start, write_fields(out, lake_env_fields, LAKE_ENV_NFIELDS, r));
}

int lake_rej_write(struct wr_buf *out, const struct lake_env_rec *r, size_t max_event_bytes)
{
    struct lake_env_rec w = *r;
    struct lake_env_val *ev = &w.f[LAKE_REJ_EVENT], *raw = &w.f[LAKE_REJ_RAW];
    if (ev->set && (ev->len == 0 || (max_event_bytes && ev->len > max_event_bytes))) {
        /* Too large to keep whole (or empty): what it began with, as text. */
        *raw = *ev;
        ev->set = false;
    }
    w.f[LAKE_REJ_TRUNCATED].set = raw->set;
    if (raw->set) {
        size_t keep = wr_utf8_cut(raw->p, raw->len, LAKE_REJ_RAW_MAX_BYTES);
        w.f[LAKE_REJ_TRUNCATED].i = keep < raw->len;
        raw->len = keep;
    }
    size_t start = out->len;
    return finish(out, start, write_fields(out, lake_rej_fields, LAKE_REJ_NFIELDS, &w));
}

/* ---- reading ------------------------------------------------------------------------ */

static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) {
        i++;
    }
    return i;
}

/* The end of the string whose opening quote is at p[i] (index past the closing quote),
 * setting *esc when it holds a backslash; 0 when unterminated. */
static size_t skip_string(const char *p, size_t i, size_t n, int *esc)
{
    i++;
    for (;;) {
        const char *q = memchr(p + i, '"', n - i);
        if (!q) {
            return 0;
        }
        size_t j = (size_t)(q - p);
        size_t k = j;
        while (k > i && p[k - 1] == '\\') {
            k--;
        }
        if (memchr(p + i, '\\', j - i)) {
            *esc = 1;
        }
        if ((j - k) % 2 == 0) {
            return j + 1;
        }
        i = j + 1;
    }
}

/* Skips one nested object or array starting at p[i]; 0 when unbalanced. */
static size_t skip_nested(const char *p, size_t i, size_t n)
{
    int depth = 0;
    while (i < n) {
        char c = p[i];
        if (c == '"') {
            int esc = 0;
            i = skip_string(p, i, n, &esc);
            if (!i) {
                return 0;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                return i + 1;
            }
        }
        i++;
    }
    return 0;
}

int lake_env_scan(const char *p, size_t n, unsigned want, struct lake_env_str out[LAKE_ENV_NFIELDS])
{
    memset(out, 0, LAKE_ENV_NFIELDS * sizeof *out);
    unsigned found = 0;
    size_t i = skip_ws(p, 0, n);
    if (i >= n || p[i] != '{') {
        return -1;
    }
    i = skip_ws(p, i + 1, n);
    while (i < n && p[i] == '"') {
        int esc = 0;
        size_t ke = skip_string(p, i, n, &esc);
        if (!ke || esc) {
            return -1;
        }
        int f = field_find(p + i + 1, ke - i - 2);
        unsigned bit = f >= 0 ? 1u << f : 0;
        int wanted = (want & bit) != 0;
        i = skip_ws(p, ke, n);
        if (i >= n || p[i] != ':') {
            return -1;
        }
        i = skip_ws(p, i + 1, n);
        if (i >= n) {
            return -1;
        }
        if (p[i] == '"') {
            esc = 0;
            size_t ve = skip_string(p, i, n, &esc);
            if (!ve) {
                return -1;
            }
            if (wanted) {
                if (esc || (found & bit)) {
                    return -1;
                }
                found |= bit;
                out[f].p = p + i + 1;
                out[f].len = ve - i - 2;
            }
            i = ve;
        } else if (wanted) {
            return -1; /* not a string: the full parser says what is wrong */
        } else if (p[i] == '{' || p[i] == '[') {
            if ((found & want) == want) {
                return (int)found; /* the payload: everything wanted is known */
            }
            i = skip_nested(p, i, n);
            if (!i) {
                return -1;
            }
        } else {
            while (i < n && p[i] != ',' && p[i] != '}') {
                i++;
            }
        }
        i = skip_ws(p, i, n);
        if (i < n && p[i] == ',') {
            i = skip_ws(p, i + 1, n);
            continue;
        }
        if (i < n && p[i] == '}') {
            return (int)found;
        }
        return -1;
    }
    return -1;
}

int lake_env_parse(wr_arena *a, const char *line, size_t len, struct lake_env_view *v,
                   struct js_error *je)
{
    memset(v, 0, sizeof *v);
    struct js_val *root;
    int rc = js_parse(a, line, len, NULL, &root, je);
    if (rc != 0) {
        return rc;
    }
    v->root = root;
    if (root->type != JS_OBJECT) {
        memset(je, 0, sizeof *je);
        snprintf(je->msg, sizeof je->msg, "not a JSON object");
        return WR_EINVAL;
    }
    /* One pass over the members (the parser refuses duplicate names). */
    for (uint32_t m = 0; m < root->n; m++) {
        const struct js_member *mb = &root->u.members[m];
        int f = field_find(mb->name, mb->name_len);
        if (f >= 0) {
            v->f[f] = &mb->val;
        }
    }
    return 0;
}
