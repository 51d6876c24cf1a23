/* model.c - the column model of an event type: envelope columns, the flattened `context`,
 * plus one typed column per top-level payload property of the union of its schema
 * versions. */
#include "curator.h"
#include "cur_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct pq_column envelope[CUR_NENV] = {
    {"event_id", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, PQ_ENC_AUTO},
    {"schema_version", PQ_INT64, PQ_LT_INT, 1, PQ_ENC_AUTO},
    {"occurred_at", PQ_INT64, PQ_LT_TIMESTAMP_US, 1, PQ_ENC_AUTO},
    {"received_at", PQ_INT64, PQ_LT_TIMESTAMP_US, 0, PQ_ENC_AUTO},
    {"source", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
    {"context_ip", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
    {"context_browser", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
    {"context_os", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
    {"context_device", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
    {"context_bot", PQ_BOOLEAN, PQ_LT_NONE, 1, PQ_ENC_AUTO},
    {"context_country", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
    {"context_city", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_AUTO},
};

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

int cur__model_find(const cur_model *m, const char *name, size_t len)
{
    if (!m->map) {
        return -1;
    }
    size_t i = name_hash(name, len) & m->map_mask;
    for (;;) {
        int32_t c = m->map[i];
        if (c < 0) {
            return -1;
        }
        const char *p = m->props[c - CUR_NENV];
        if (m->plens[c - CUR_NENV] == len && memcmp(p, name, len) == 0) {
            return c;
        }
        i = (i + 1) & m->map_mask;
    }
}

/* The kind a property schema asks for; "mixed" (several non-null types, no type, or a
 * combinator) is JSON text. integer+number is DOUBLE. */
static enum cur_kind kind_of(const json_t *p)
{
    if (!json_is_object(p)) {
        return CUR_K_JSON;
    }
    const json_t *t = json_object_get(p, "type");
    unsigned seen = 0; /* bits: 1 int, 2 num, 4 bool, 8 str, 16 obj/arr */
    if (json_is_string(t)) {
        const char *s = json_string_value(t);
        seen = !strcmp(s, "integer") ? 1 : !strcmp(s, "number") ? 2 : !strcmp(s, "boolean") ? 4
             : !strcmp(s, "string") ? 8 : !strcmp(s, "null") ? 0 : 16;
    } else if (json_is_array(t)) {
        size_t i;
        const json_t *e;
        json_array_foreach(t, i, e) {
            const char *s = json_string_value(e);
            if (!s) {
                return CUR_K_JSON;
            }
            seen |= !strcmp(s, "integer") ? 1 : !strcmp(s, "number") ? 2 : !strcmp(s, "boolean")
                  ? 4 : !strcmp(s, "string") ? 8 : !strcmp(s, "null") ? 0 : 16;
        }
    } else {
        return CUR_K_JSON;
    }
    switch (seen) {
    case 1:
        return CUR_K_INT;
    case 2:
    case 3:
        return CUR_K_DOUBLE;
    case 4:
        return CUR_K_BOOL;
    case 8: {
        const char *f = json_string_value(json_object_get(p, "format"));
        return f && !strcmp(f, "date-time") ? CUR_K_TS : CUR_K_STRING;
    }
    default:
        return CUR_K_JSON;
    }
}

static void kind_column(enum cur_kind k, struct pq_column *c)
{
    c->optional = 1;
    c->encoding = PQ_ENC_AUTO;
    switch (k) {
    case CUR_K_INT:
        c->type = PQ_INT64;
        c->logical = PQ_LT_INT;
        break;
    case CUR_K_DOUBLE:
        c->type = PQ_DOUBLE;
        c->logical = PQ_LT_NONE;
        break;
    case CUR_K_BOOL:
        c->type = PQ_BOOLEAN;
        c->logical = PQ_LT_NONE;
        break;
    case CUR_K_STRING:
        c->type = PQ_BYTE_ARRAY;
        c->logical = PQ_LT_STRING;
        break;
    case CUR_K_TS:
        c->type = PQ_INT64;
        c->logical = PQ_LT_TIMESTAMP_US;
        break;
    case CUR_K_JSON:
        c->type = PQ_BYTE_ARRAY;
        c->logical = PQ_LT_JSON;
        break;
    }
}

void cur_model_destroy(cur_model *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->ncols; i++) {
        if (i >= CUR_NENV) {
            free((char *)m->cols[i].name);
        }
    }
    for (size_t i = 0; i < m->nprops; i++) {
        free(m->props[i]);
    }
    free(m->cols);
    free(m->props);
    free(m->plens);
    free(m->kinds);
    free(m->map);
    free(m);
}

/* A payload property whose name is an envelope or context column's is written as
 * payload_<name>. */
static char *column_name(const char *prop)
{
    size_t n = strlen(prop);
    for (size_t i = 0; i < CUR_NENV; i++) {
        if (!strcmp(prop, envelope[i].name)) {
            char *s = malloc(n + 9);
            if (s) {
                memcpy(s, "payload_", 8);
                memcpy(s + 8, prop, n + 1);
            }
            return s;
        }
    }
    return strdup(prop);
}

cur_model *cur_model_create(const char *const *schemas, size_t n, struct wr_err *err)
{
    cur_model *m = calloc(1, sizeof *m);
    json_t **docs = calloc(n ? n : 1, sizeof *docs);
    if (!m || !docs) {
        free(m);
        free(docs);
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    size_t cap = CUR_NENV + 1;
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        docs[i] = json_loads(schemas[i], 0, &je);
        if (!docs[i]) {
            wr_err_set(err, WR_EINVAL, "schema %zu is not JSON: %s", i, je.text);
            goto fail;
        }
        cap += json_object_size(json_object_get(docs[i], "properties"));
    }
    m->cols = calloc(cap, sizeof *m->cols);
    m->props = calloc(cap, sizeof *m->props);
    m->kinds = calloc(cap, sizeof *m->kinds);
    if (!m->cols || !m->props || !m->kinds) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        goto fail;
    }
    memcpy(m->cols, envelope, sizeof envelope);
    m->ncols = CUR_NENV;
    /* union in order of first appearance (versions ascending, properties in document
     * order), so the column order is stable across runs */
    for (size_t i = 0; i < n; i++) {
        const json_t *props = json_object_get(docs[i], "properties");
        const char *name;
        json_t *p;
        json_object_foreach((json_t *)props, name, p) {
            enum cur_kind k = kind_of(p);
            size_t j = 0;
            while (j < m->nprops && strcmp(m->props[j], name) != 0) {
                j++;
            }
            if (j < m->nprops) {
                if (m->kinds[j] != k) {
                    /* versions disagree: integer/number widen to DOUBLE, the rest is JSON */
                    int num = (m->kinds[j] == CUR_K_INT || m->kinds[j] == CUR_K_DOUBLE) &&
                              (k == CUR_K_INT || k == CUR_K_DOUBLE);
                    m->kinds[j] = num ? CUR_K_DOUBLE : CUR_K_JSON;
                }
                continue;
            }
            if (m->ncols >= PQ_MAX_COLUMNS) {
                wr_err_set(err, WR_ELIMIT, "more than %d columns", PQ_MAX_COLUMNS);
                goto fail;
            }
            m->props[m->nprops] = strdup(name);
            m->cols[m->ncols].name = column_name(name);
            if (!m->props[m->nprops] || !m->cols[m->ncols].name) {
                free(m->props[m->nprops]);
                free((char *)m->cols[m->ncols].name);
                wr_err_set(err, WR_ENOMEM, "out of memory");
                goto fail;
            }
            m->kinds[m->nprops] = k;
            m->nprops++;
            m->ncols++;
        }
    }
    if (m->nprops == 0 && n == 0) {
        m->whole_payload = 1;
        m->props[0] = strdup("payload");
        m->cols[CUR_NENV].name = strdup("payload");
        if (!m->props[0] || !m->cols[CUR_NENV].name) {
            wr_err_set(err, WR_ENOMEM, "out of memory");
            goto fail;
        }
        m->kinds[0] = CUR_K_JSON;
        m->nprops = 1;
        m->ncols++;
    }
    for (size_t j = 0; j < m->nprops; j++) {
        kind_column(m->kinds[j], &m->cols[CUR_NENV + j]);
    }
    m->plens = calloc(m->nprops + 1, sizeof *m->plens);
    if (!m->plens) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t j = 0; j < m->nprops; j++) {
        m->plens[j] = strlen(m->props[j]);
    }
    if (!m->whole_payload) {
        size_t slots = 16;
        while (slots < m->nprops * 4) {
            slots *= 2;
        }
        m->map = malloc(slots * sizeof *m->map);
        if (!m->map) {
            wr_err_set(err, WR_ENOMEM, "out of memory");
            goto fail;
        }
        memset(m->map, 0xff, slots * sizeof *m->map);
        m->map_mask = slots - 1;
        for (size_t j = 0; j < m->nprops; j++) {
            size_t i = name_hash(m->props[j], strlen(m->props[j])) & m->map_mask;
            while (m->map[i] >= 0) {
                i = (i + 1) & m->map_mask;
            }
            m->map[i] = (int32_t)(CUR_NENV + j);
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(docs[i]);
    }
    free(docs);
    return m;
fail:
    for (size_t i = 0; i < n; i++) {
        json_decref(docs[i]);
    }
    free(docs);
    cur_model_destroy(m);
    return NULL;
}

size_t cur_model_columns(const cur_model *m)
{
    return m->ncols;
}

const struct pq_column *cur_model_column(const cur_model *m, size_t i)
{
    return i < m->ncols ? &m->cols[i] : NULL;
}
