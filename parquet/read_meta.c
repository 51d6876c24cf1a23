/* read_meta.c - the reader's Thrift compact decoder and the FileMetaData it parses: schema
 * (flat leaves readable, nested ones named and marked unsupported), row groups, column chunks
 * and their statistics. Every count is bounded by the bytes left, every offset by the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/read_int.h"

#define TC_MAX_DEPTH 32
#define SCHEMA_MAX_DEPTH 64
/* Bounds on the parsed footer's memory, whatever the footer's size: every element takes at
 * least a byte on the wire, but tens of bytes once parsed. */
#define PQR_MAX_CHUNKS (1u << 20)
#define PQR_MAX_SCHEMA (1u << 16)
#define PQR_MAX_LIST (1u << 20)

int pqr_tc_fail(struct pqr_tc *t, const char *what)
{
    if (!t->failed) {
        t->failed = 1;
        wr_err_set(t->err, WR_EINVAL, "footer: %s", what);
    }
    t->p = t->end;
    return WR_EINVAL;
}

uint64_t pqr_tc_uvarint(struct pqr_tc *t)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (t->p >= t->end) {
            pqr_tc_fail(t, "truncated varint");
            return 0;
        }
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            return v;
        }
    }
    pqr_tc_fail(t, "varint longer than 10 bytes");
    return 0;
}

int64_t pqr_tc_zigzag(struct pqr_tc *t)
{
    uint64_t u = pqr_tc_uvarint(t);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int pqr_tc_field(struct pqr_tc *t, int16_t *last, int16_t *id, int *boolval)
{
    if (t->failed) {
        return 0;
    }
    if (t->p >= t->end) {
        pqr_tc_fail(t, "truncated struct");
        return 0;
    }
    uint8_t b = *t->p++;
    if (b == 0) {
        return 0;
    }
    int type = b & 0x0f, delta = b >> 4;
    if (delta) {
        *id = (int16_t)(*last + delta);
    } else {
        int64_t v = pqr_tc_zigzag(t);
        if (v < -32768 || v > 32767) {
            pqr_tc_fail(t, "field id out of range");
            return 0;
        }
        *id = (int16_t)v;
    }
    *last = *id;
    *boolval = type == PQR_T_TRUE;
    if (type == PQR_T_TRUE || type == PQR_T_FALSE) {
        return PQR_T_TRUE; /* both spellings of a bool field */
    }
    if (type < PQR_T_I8 || type > PQR_T_STRUCT) {
        pqr_tc_fail(t, "unknown field type");
        return 0;
    }
    return type;
}

static const uint8_t *tc_bytes(struct pqr_tc *t, uint32_t *len)
{
    uint64_t n = pqr_tc_uvarint(t);
    if (t->failed || n > (uint64_t)(t->end - t->p)) {
        pqr_tc_fail(t, "binary longer than the footer");
        *len = 0;
        return NULL;
    }
    const uint8_t *p = t->p;
    t->p += n;
    *len = (uint32_t)n;
    return p;
}

/* A list/set header: element type and count, the count bounded by the bytes left (every
 * element takes at least one byte, except bools packed... which also take one). */
static uint32_t tc_list(struct pqr_tc *t, int *etype)
{
    if (t->p >= t->end) {
        pqr_tc_fail(t, "truncated list");
        return 0;
    }
    uint8_t b = *t->p++;
    uint64_t n = b >> 4;
    *etype = b & 0x0f;
    if (n == 15) {
        n = pqr_tc_uvarint(t);
    }
    if (n > (uint64_t)(t->end - t->p)) {
        pqr_tc_fail(t, "list longer than the footer");
        return 0;
    }
    return (uint32_t)n;
}

void pqr_tc_skip(struct pqr_tc *t, int type, int boolval)
{
    (void)boolval;
    if (t->failed) {
        return;
    }
    if (++t->depth > TC_MAX_DEPTH) {
        pqr_tc_fail(t, "nested too deep");
        return;
    }
    uint32_t len;
    switch (type) {
    case PQR_T_TRUE:
    case PQR_T_FALSE: break; /* a bool field's value is in its header */
    case PQR_T_I8:
        if (t->p >= t->end) {
            pqr_tc_fail(t, "truncated byte");
        } else {
            t->p++;
        }
        break;
    case PQR_T_I16:
    case PQR_T_I32:
    case PQR_T_I64: pqr_tc_uvarint(t); break;
    case PQR_T_DOUBLE:
        if (t->end - t->p < 8) {
            pqr_tc_fail(t, "truncated double");
        } else {
            t->p += 8;
        }
        break;
    case PQR_T_BINARY: tc_bytes(t, &len); break;
    case PQR_T_LIST:
    case PQR_T_SET: {
        int et;
        uint32_t n = tc_list(t, &et);
        for (uint32_t i = 0; i < n && !t->failed; i++) {
            if (et == PQR_T_TRUE || et == PQR_T_FALSE) {
                pqr_tc_skip(t, PQR_T_I8, 0); /* list bools are one byte each */
            } else {
                pqr_tc_skip(t, et, 0);
            }
        }
        break;
    }
    case PQR_T_MAP: {
        uint64_t n = pqr_tc_uvarint(t);
        if (n == 0) {
            break;
        }
        if (t->p >= t->end || n > (uint64_t)(t->end - t->p)) {
            pqr_tc_fail(t, "map longer than the footer");
            break;
        }
        uint8_t kv = *t->p++;
        for (uint64_t i = 0; i < n && !t->failed; i++) {
            int kt = kv >> 4, vt = kv & 0x0f;
            pqr_tc_skip(t, kt == PQR_T_TRUE || kt == PQR_T_FALSE ? PQR_T_I8 : kt, 0);
            pqr_tc_skip(t, vt == PQR_T_TRUE || vt == PQR_T_FALSE ? PQR_T_I8 : vt, 0);
        }
        break;
    }
    case PQR_T_STRUCT: {
        int16_t last = 0, id;
        int bv, ft;
        while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
            pqr_tc_skip(t, ft, bv);
        }
        break;
    }
    default: pqr_tc_fail(t, "unknown type");
    }
    t->depth--;
}

/* Field readers that check the wire type; a mismatch is a malformed footer. */
static int64_t rd_int(struct pqr_tc *t, int ft)
{
    if (ft != PQR_T_I32 && ft != PQR_T_I64 && ft != PQR_T_I16) {
        if (ft == PQR_T_I8 && t->p < t->end) {
            return (int8_t)*t->p++;
        }
        pqr_tc_fail(t, "integer field of another type");
        return 0;
    }
    return pqr_tc_zigzag(t);
}

static int32_t rd_i32(struct pqr_tc *t, int ft)
{
    int64_t v = rd_int(t, ft);
    if (v < INT32_MIN || v > INT32_MAX) {
        pqr_tc_fail(t, "i32 out of range");
        return 0;
    }
    return (int32_t)v;
}

static const uint8_t *rd_bin(struct pqr_tc *t, int ft, uint32_t *len)
{
    if (ft != PQR_T_BINARY) {
        pqr_tc_fail(t, "binary field of another type");
        *len = 0;
        return NULL;
    }
    return tc_bytes(t, len);
}

static char *rd_str(struct pqr_tc *t, int ft)
{
    uint32_t len;
    const uint8_t *p = rd_bin(t, ft, &len);
    if (t->failed) {
        return NULL;
    }
    char *s = malloc((size_t)len + 1);
    if (!s) {
        pqr_tc_fail(t, "out of memory");
        return NULL;
    }
    if (len) {
        memcpy(s, p, len);
    }
    s[len] = 0;
    return s;
}

static void need_struct(struct pqr_tc *t, int ft)
{
    if (ft != PQR_T_STRUCT) {
        pqr_tc_fail(t, "struct field of another type");
    }
}

/* ---- schema ---- */

struct selem {
    int type; /* -1 = group */
    int type_length;
    int rep; /* -1 absent */
    char *name;
    int num_children;
    int converted; /* -1 absent */
    int scale, precision;
    int has_logical;
    int lt; /* LogicalType union field id */
    int lt_a,
        lt_b; /* TIMESTAMP/TIME: utc, unit; INTEGER: bits, signed; DECIMAL: scale, precision */
};

static int rd_unit(struct pqr_tc *t)
{
    int16_t last = 0, id;
    int bv, ft, unit = -1;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        if (id >= 1 && id <= 3 && ft == PQR_T_STRUCT) {
            unit = id - 1;
        }
        pqr_tc_skip(t, ft, bv);
    }
    return unit;
}

static void rd_logical(struct pqr_tc *t, struct selem *e)
{
    int16_t last = 0, id;
    int bv, ft;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        if (ft != PQR_T_STRUCT) {
            pqr_tc_skip(t, ft, bv);
            continue;
        }
        e->has_logical = 1;
        e->lt = id;
        int16_t l2 = 0, id2;
        int bv2, ft2;
        while ((ft2 = pqr_tc_field(t, &l2, &id2, &bv2)) != 0) {
            if ((id == 7 || id == 8) && id2 == 1 && ft2 == PQR_T_TRUE) {
                e->lt_a = bv2;
            } else if ((id == 7 || id == 8) && id2 == 2 && ft2 == PQR_T_STRUCT) {
                e->lt_b = rd_unit(t);
            } else if (id == 10 && id2 == 1 && ft2 == PQR_T_I8) {
                e->lt_a = (int)rd_int(t, ft2);
            } else if (id == 10 && id2 == 2 && ft2 == PQR_T_TRUE) {
                e->lt_b = bv2;
            } else if (id == 5 && (id2 == 1 || id2 == 2) && ft2 != PQR_T_TRUE) {
                int32_t v = rd_i32(t, ft2);
                if (id2 == 1) {
                    e->lt_a = v;
                } else {
                    e->lt_b = v;
                }
            } else {
                pqr_tc_skip(t, ft2, bv2);
            }
        }
    }
}

static void rd_selem(struct pqr_tc *t, struct selem *e)
{
    memset(e, 0, sizeof *e);
    e->type = -1;
    e->rep = -1;
    e->converted = -1;
    int16_t last = 0, id;
    int bv, ft;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        switch (id) {
        case 1: e->type = rd_i32(t, ft); break;
        case 2: e->type_length = rd_i32(t, ft); break;
        case 3: e->rep = rd_i32(t, ft); break;
        case 4:
            free(e->name);
            e->name = rd_str(t, ft);
            break;
        case 5: e->num_children = rd_i32(t, ft); break;
        case 6: e->converted = rd_i32(t, ft); break;
        case 7: e->scale = rd_i32(t, ft); break;
        case 8: e->precision = rd_i32(t, ft); break;
        case 10:
            need_struct(t, ft);
            rd_logical(t, e);
            break;
        default: pqr_tc_skip(t, ft, bv);
        }
    }
}

static void set_logical(struct pq_rcol *c, const struct selem *e)
{
    c->logical = PQ_RL_NONE;
    if (e->has_logical) {
        switch (e->lt) {
        case 1: c->logical = PQ_RL_STRING; break;
        case 4: c->logical = PQ_RL_ENUM; break;
        case 5:
            c->logical = PQ_RL_DECIMAL;
            c->scale = e->lt_a;
            c->precision = e->lt_b;
            break;
        case 6: c->logical = PQ_RL_DATE; break;
        case 7:
        case 8:
            c->logical = e->lt == 7 ? PQ_RL_TIME : PQ_RL_TIMESTAMP;
            c->utc = e->lt_a;
            c->unit = e->lt_b < 0 ? PQ_UNIT_MICROS : (enum pq_time_unit)e->lt_b;
            break;
        case 10:
            c->logical = PQ_RL_INT;
            c->int_bits = e->lt_a;
            c->int_signed = e->lt_b;
            break;
        case 12: c->logical = PQ_RL_JSON; break;
        case 13: c->logical = PQ_RL_BSON; break;
        case 14: c->logical = PQ_RL_UUID; break;
        case 15: c->logical = PQ_RL_FLOAT16; break;
        default: c->logical = PQ_RL_OTHER;
        }
        if (c->logical != PQ_RL_OTHER || e->converted < 0) {
            return;
        }
    }
    switch (e->converted) {
    case 0: c->logical = PQ_RL_STRING; break;
    case 4: c->logical = PQ_RL_ENUM; break;
    case 5:
        c->logical = PQ_RL_DECIMAL;
        c->scale = e->scale;
        c->precision = e->precision;
        break;
    case 6: c->logical = PQ_RL_DATE; break;
    case 7:
    case 8:
        c->logical = PQ_RL_TIME;
        c->utc = 1;
        c->unit = e->converted == 7 ? PQ_UNIT_MILLIS : PQ_UNIT_MICROS;
        break;
    case 9:
    case 10:
        c->logical = PQ_RL_TIMESTAMP;
        c->utc = 1;
        c->unit = e->converted == 9 ? PQ_UNIT_MILLIS : PQ_UNIT_MICROS;
        break;
    case 11:
    case 12:
    case 13:
    case 14:
        c->logical = PQ_RL_INT;
        c->int_signed = 0;
        c->int_bits = 8 << (e->converted - 11);
        break;
    case 15:
    case 16:
    case 17:
    case 18:
        c->logical = PQ_RL_INT;
        c->int_signed = 1;
        c->int_bits = 8 << (e->converted - 15);
        break;
    case 19: c->logical = PQ_RL_JSON; break;
    case 20: c->logical = PQ_RL_BSON; break;
    case 21: c->logical = PQ_RL_INTERVAL; break;
    default: break;
    }
}

struct schema_walk {
    struct selem *el;
    size_t n, pos;
    struct pqr_meta *m;
    size_t cap;
    struct pqr_tc *t;
};

static int add_leaf(struct schema_walk *w, const struct selem *e, const char *path, int def,
                    int rep, const char *unsup)
{
    struct pqr_meta *m = w->m;
    if (m->nleaves == w->cap) {
        return pqr_tc_fail(w->t, "more leaves than schema elements");
    }
    struct pqr_leaf *l = &m->leaves[m->nleaves];
    memset(l, 0, sizeof *l);
    l->name = strdup(path);
    if (!l->name) {
        return pqr_tc_fail(w->t, "out of memory");
    }
    m->nleaves++;
    l->c.name = l->name;
    l->max_def = def;
    l->max_rep = rep;
    if (e->type < 0 || e->type > 7) {
        return pqr_tc_fail(w->t, "leaf with an unknown physical type");
    }
    l->c.type = (enum pq_ptype)e->type;
    if (e->type == PQ_PT_FLBA && (e->type_length <= 0 || e->type_length > (1 << 20))) {
        return pqr_tc_fail(w->t, "FIXED_LEN_BYTE_ARRAY with a bad type_length");
    }
    l->c.type_length = e->type == PQ_PT_INT96 ? 12 : e->type_length;
    l->c.optional = def > 0;
    set_logical(&l->c, e);
    l->c.unsupported = unsup;
    if (!unsup && rep > 0) {
        l->c.unsupported = "repeated (nested) columns are not supported";
    } else if (!unsup && def > 1) {
        l->c.unsupported = "columns inside optional groups are not supported";
    }
    return 0;
}

/* Depth-first over the schema elements; path grows with each group. */
static int walk(struct schema_walk *w, const char *prefix, int def, int rep, int depth,
                const char *unsup)
{
    if (depth > SCHEMA_MAX_DEPTH) {
        return pqr_tc_fail(w->t, "schema nested too deep");
    }
    if (w->pos >= w->n) {
        return pqr_tc_fail(w->t, "schema has fewer elements than num_children says");
    }
    const struct selem *e = &w->el[w->pos++];
    if (!e->name) {
        return pqr_tc_fail(w->t, "schema element without a name");
    }
    size_t plen = strlen(prefix) + strlen(e->name) + 2;
    char *path = malloc(plen);
    if (!path) {
        return pqr_tc_fail(w->t, "out of memory");
    }
    snprintf(path, plen, "%s%s%s", prefix, *prefix ? "." : "", e->name);
    if (e->rep == 1) {
        def++;
    } else if (e->rep == 2) {
        def++;
        rep++;
    }
    int rc = 0;
    if (e->num_children > 0 || e->type < 0) {
        if (e->num_children <= 0 || (size_t)e->num_children > w->n - w->pos) {
            rc = pqr_tc_fail(w->t, "group with a bad num_children");
        }
        const char *u = unsup ? unsup : "nested columns are not supported";
        for (int i = 0; rc == 0 && i < e->num_children; i++) {
            rc = walk(w, path, def, rep, depth + 1, u);
        }
    } else {
        rc = add_leaf(w, e, path, def, rep, unsup);
    }
    free(path);
    return rc;
}

static int parse_schema(struct pqr_tc *t, struct pqr_meta *m, int ft)
{
    int et;
    if (ft != PQR_T_LIST) {
        return pqr_tc_fail(t, "schema is not a list");
    }
    uint32_t n = tc_list(t, &et);
    if (t->failed) {
        return WR_EINVAL;
    }
    if (et != PQR_T_STRUCT || n < 1) {
        return pqr_tc_fail(t, "schema is empty or not a list of structs");
    }
    if (n > PQR_MAX_SCHEMA) {
        return pqr_tc_fail(t, "schema has more than 65536 elements");
    }
    struct selem *el = calloc(n, sizeof *el);
    m->leaves = calloc(n, sizeof *m->leaves);
    if (!el || !m->leaves) {
        free(el);
        return pqr_tc_fail(t, "out of memory");
    }
    uint32_t got = 0;
    for (; got < n && !t->failed; got++) {
        rd_selem(t, &el[got]);
    }
    if (!t->failed) {
        const struct selem *root = &el[0];
        if (root->num_children < 0 || (uint32_t)root->num_children > n - 1) {
            pqr_tc_fail(t, "root with a bad num_children");
        } else {
            struct schema_walk w = {el, n, 1, m, n, t};
            for (int i = 0; i < root->num_children && !t->failed; i++) {
                walk(&w, "", 0, 0, 1, NULL);
            }
            if (!t->failed && w.pos != n) {
                pqr_tc_fail(t, "schema elements not reached from the root");
            }
        }
    }
    for (uint32_t i = 0; i < got; i++) {
        free(el[i].name);
    }
    free(el);
    return t->failed ? WR_EINVAL : 0;
}

/* ---- row groups ---- */

static void rd_stats(struct pqr_tc *t, struct pqr_stats *s)
{
    int16_t last = 0, id;
    int bv, ft;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        switch (id) {
        case 1: s->old_max = rd_bin(t, ft, &s->old_max_len); break;
        case 2: s->old_min = rd_bin(t, ft, &s->old_min_len); break;
        case 3:
            s->null_count = rd_int(t, ft);
            s->has_null_count = 1;
            break;
        case 5: s->max = rd_bin(t, ft, &s->max_len); break;
        case 6: s->min = rd_bin(t, ft, &s->min_len); break;
        default: pqr_tc_skip(t, ft, bv);
        }
    }
}

static void rd_colmeta(struct pqr_tc *t, struct pqr_chunk *c)
{
    int16_t last = 0, id;
    int bv, ft;
    c->has_meta = 1;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        switch (id) {
        case 1: c->type = rd_i32(t, ft); break;
        case 4: c->codec = rd_i32(t, ft); break;
        case 5: c->num_values = rd_int(t, ft); break;
        case 7: c->total_compressed = rd_int(t, ft); break;
        case 9: c->data_off = rd_int(t, ft); break;
        case 11: c->dict_off = rd_int(t, ft); break;
        case 12:
            need_struct(t, ft);
            rd_stats(t, &c->st);
            break;
        default: pqr_tc_skip(t, ft, bv);
        }
    }
}

static void rd_chunk(struct pqr_tc *t, struct pqr_chunk *c)
{
    int16_t last = 0, id;
    int bv, ft;
    c->dict_off = -1;
    c->type = -1;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        switch (id) {
        case 1:
            c->has_path = 1;
            pqr_tc_skip(t, ft, bv);
            break;
        case 3:
            need_struct(t, ft);
            rd_colmeta(t, c);
            break;
        case 8:
        case 9: pqr_tc_fail(t, "encrypted column chunks are not supported"); break;
        default: pqr_tc_skip(t, ft, bv);
        }
    }
}

static void rd_group(struct pqr_tc *t, struct pqr_meta *m, struct pqr_group *g)
{
    int16_t last = 0, id;
    int bv, ft, seen_cols = 0;
    while ((ft = pqr_tc_field(t, &last, &id, &bv)) != 0) {
        if (id == 1 && ft == PQR_T_LIST && !seen_cols) {
            int et;
            uint32_t n = tc_list(t, &et);
            if (t->failed) {
                return;
            }
            if (et != PQR_T_STRUCT || n != m->nleaves) {
                pqr_tc_fail(t, "row group with a column count other than the schema's");
                return;
            }
            if ((uint64_t)m->ngroups * n > PQR_MAX_CHUNKS) {
                pqr_tc_fail(t, "more than 1 Mi column chunks");
                return;
            }
            g->chunks = calloc(n ? n : 1, sizeof *g->chunks);
            if (!g->chunks) {
                pqr_tc_fail(t, "out of memory");
                return;
            }
            seen_cols = 1;
            for (uint32_t i = 0; i < n && !t->failed; i++) {
                rd_chunk(t, &g->chunks[i]);
            }
        } else if (id == 3) {
            g->num_rows = rd_int(t, ft);
        } else {
            pqr_tc_skip(t, ft, bv);
        }
    }
    if (!t->failed && !seen_cols) {
        pqr_tc_fail(t, "row group without columns");
    }
}

static void rd_kv(struct pqr_tc *t, struct pqr_meta *m, int ft)
{
    int et;
    if (ft != PQR_T_LIST) {
        pqr_tc_fail(t, "key_value_metadata is not a list");
        return;
    }
    uint32_t n = tc_list(t, &et);
    if (t->failed || m->kv) {
        pqr_tc_fail(t, "bad or repeated key_value_metadata");
        return;
    }
    if (et != PQR_T_STRUCT || n > PQR_MAX_LIST) {
        pqr_tc_fail(t, "key_value_metadata is not a list of structs or too long");
        return;
    }
    m->kv = calloc(n ? n : 1, sizeof *m->kv);
    if (!m->kv) {
        pqr_tc_fail(t, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < n && !t->failed; i++) {
        int16_t last = 0, id;
        int bv, f2;
        struct pqr_kv *kv = &m->kv[m->nkv++];
        while ((f2 = pqr_tc_field(t, &last, &id, &bv)) != 0) {
            if (id == 1 && !kv->key) {
                kv->key = rd_str(t, f2);
            } else if (id == 2 && !kv->value) {
                kv->value = rd_str(t, f2);
            } else {
                pqr_tc_skip(t, f2, bv);
            }
        }
    }
}

static int check_chunk(const struct pqr_meta *m, size_t g, size_t c, uint64_t data_end,
                       struct wr_err *err)
{
    const struct pqr_chunk *ch = &m->groups[g].chunks[c];
    const struct pqr_leaf *l = &m->leaves[c];
    if (!ch->has_meta) {
        return wr_err_set(err, WR_EINVAL, "row group %zu column %s: no ColumnMetaData", g, l->name);
    }
    if (ch->type != (int)l->c.type) {
        return wr_err_set(err, WR_EINVAL, "row group %zu column %s: type differs from the schema's",
                          g, l->name);
    }
    int64_t start = ch->data_off;
    if (ch->dict_off > 0 && ch->dict_off < start) {
        start = ch->dict_off;
    }
    if (start < 4 || ch->total_compressed <= 0 || (uint64_t)start > data_end ||
        (uint64_t)ch->total_compressed > data_end - (uint64_t)start) {
        return wr_err_set(err, WR_EINVAL,
                          "row group %zu column %s: chunk at %lld+%lld outside the file's data", g,
                          l->name, (long long)start, (long long)ch->total_compressed);
    }
    if (ch->num_values < 0) {
        return wr_err_set(err, WR_EINVAL, "row group %zu column %s: negative num_values", g,
                          l->name);
    }
    return 0;
}

int pqr_meta_parse(struct pqr_meta *m, uint64_t data_end, struct wr_err *err)
{
    struct pqr_tc t = {m->footer, m->footer + m->footer_len, 0, err, 0};
    int16_t last = 0, id;
    int bv, ft, seen_schema = 0, seen_rows = 0, seen_groups = 0;
    while (!t.failed && (ft = pqr_tc_field(&t, &last, &id, &bv)) != 0) {
        switch (id) {
        case 2:
            if (seen_schema++) {
                pqr_tc_fail(&t, "schema twice");
            } else {
                parse_schema(&t, m, ft);
            }
            break;
        case 3:
            m->num_rows = rd_int(&t, ft);
            seen_rows = 1;
            break;
        case 4: {
            int et;
            if (ft != PQR_T_LIST || !seen_schema || seen_groups++) {
                pqr_tc_fail(&t, "row_groups before the schema, repeated or not a list");
                break;
            }
            uint32_t n = tc_list(&t, &et);
            if (t.failed) {
                break;
            }
            if ((et != PQR_T_STRUCT && n) || n > PQR_MAX_LIST) {
                pqr_tc_fail(&t, "row_groups is not a list of structs or has over 1 Mi entries");
                break;
            }
            m->groups = calloc(n ? n : 1, sizeof *m->groups);
            if (!m->groups) {
                pqr_tc_fail(&t, "out of memory");
                break;
            }
            for (uint32_t i = 0; i < n && !t.failed; i++) {
                m->ngroups++;
                rd_group(&t, m, &m->groups[i]);
            }
            break;
        }
        case 5: rd_kv(&t, m, ft); break;
        case 6:
            if (!m->created_by) {
                m->created_by = rd_str(&t, ft);
            } else {
                pqr_tc_skip(&t, ft, bv);
            }
            break;
        case 8: pqr_tc_fail(&t, "encrypted files are not supported"); break;
        default: pqr_tc_skip(&t, ft, bv);
        }
    }
    if (t.failed) {
        return WR_EINVAL;
    }
    if (!seen_schema || !seen_rows) {
        return wr_err_set(err, WR_EINVAL, "footer: no schema or no num_rows");
    }
    int64_t sum = 0;
    for (size_t g = 0; g < m->ngroups; g++) {
        int64_t n = m->groups[g].num_rows;
        if (n < 0 || n > INT64_MAX - sum) {
            return wr_err_set(err, WR_EINVAL, "footer: row group %zu has a bad num_rows", g);
        }
        sum += n;
        for (size_t c = 0; c < m->nleaves; c++) {
            int rc = check_chunk(m, g, c, data_end, err);
            if (rc) {
                return rc;
            }
        }
    }
    if (sum != m->num_rows) {
        return wr_err_set(err, WR_EINVAL, "footer: num_rows %lld is not the row groups' sum %lld",
                          (long long)m->num_rows, (long long)sum);
    }
    return 0;
}

void pqr_meta_free(struct pqr_meta *m)
{
    for (size_t i = 0; i < m->nleaves; i++) {
        free(m->leaves[i].name);
    }
    free(m->leaves);
    for (size_t g = 0; g < m->ngroups; g++) {
        free(m->groups[g].chunks);
    }
    free(m->groups);
    for (size_t i = 0; i < m->nkv; i++) {
        free(m->kv[i].key);
        free(m->kv[i].value);
    }
    free(m->kv);
    free(m->created_by);
    free(m->footer);
    memset(m, 0, sizeof *m);
}
