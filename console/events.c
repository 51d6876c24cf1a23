/* events.c - GET /api/v1/events: the events of one type in a time range matching up to
 * three FIELD:VALUE filters, newest first. Curated days are read from the curated Parquet
 * (received_at and typed filters handed to the reader, which skips row groups by their
 * statistics); days not curated (or stale: raw files came after curation) are read from
 * the raw zone, hour by hour, deduplicated by event_id with the first received_at kept as
 * curation does. Time units are walked newest first and the walk stops once a unit ends
 * with `limit` events: every older unit holds older events. */
#include "console/con_int.h"
#include "console/scan.h"

#include "common/arena.h"
#include "common/clock.h"
#include "common/log.h"
#include "json/json.h"
#include "lake/envelope.h"
#include "parquet/pq_read.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WHERE 3
#define DAY_US (86400ll * 1000000)

enum where_kind { W_ENV, W_CONTEXT, W_PAYLOAD };

struct where {
    enum where_kind kind;
    const char *field;  /* the name inside its object (payload property, context key) */
    const char *member; /* context: the object of the context holding field ("ua"), or NULL */
    char column[96];    /* the curated column holding it; "" when curated files have none */
    char name[160];     /* as given */
    char path[160];     /* context: "MEMBER\0FIELD" or "FIELD" (member/field point here) */
    const char *value;
    size_t vlen;
    bool prefilter; /* the value appears verbatim in a matching raw line */
    char key[164];  /* '"' and the field name */
    size_t key_len;
};

struct hit {
    int64_t received_us;
    char *event_id;
    json_t *event; /* a curated row, built */
    char *line;    /* a raw line, parsed only if it is answered */
    size_t line_len;
};

struct query {
    struct con_req *r;
    const char *type;
    int64_t from_us, to_us;
    long limit;
    struct where w[MAX_WHERE];
    size_t nw;
    bool context_filter;
    /* the best `limit` hits so far (more between trims) */
    struct hit *hits;
    size_t nhits, cap;
    bool text_has_escape; /* the file being read has a backslash somewhere */
    int64_t floor_us;     /* once limit hits are held: the oldest of them (older rows can't win) */
    int64_t day_us;       /* the start of the curated day being read */
    struct con_budget budget;
    json_t *bad_files;
    uint64_t scanned_files, scanned_rows, groups_skipped;
    lake_store *st;
    wr_inflater *z;
    struct wr_buf raw, text;
    wr_arena *arena;
};

/* ---- hits ---------------------------------------------------------------------------- */

static int hit_cmp(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    if (x->received_us != y->received_us) {
        return x->received_us > y->received_us ? -1 : 1;
    }
    return strcmp(x->event_id, y->event_id);
}

static int hit_id_cmp(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    int c = strcmp(x->event_id, y->event_id);
    if (c) {
        return c;
    }
    return x->received_us == y->received_us ? 0 : x->received_us < y->received_us ? -1 : 1;
}

static void hit_free(struct hit *h)
{
    free(h->event_id);
    free(h->line);
    json_decref(h->event);
}

/* Keeps the earliest copy of each event_id (as curation does), sorts newest first, cuts to
 * limit. */
static void trim(struct query *q)
{
    if (q->nhits < 2) {
        return; /* nothing to sort (hits may be NULL), and at most one hit: within limit */
    }
    qsort(q->hits, q->nhits, sizeof q->hits[0], hit_id_cmp);
    size_t out = 0;
    for (size_t i = 0; i < q->nhits; i++) {
        if (out > 0 && strcmp(q->hits[out - 1].event_id, q->hits[i].event_id) == 0) {
            hit_free(&q->hits[i]); /* a later copy */
        } else {
            q->hits[out++] = q->hits[i];
        }
    }
    q->nhits = out;
    qsort(q->hits, q->nhits, sizeof q->hits[0], hit_cmp);
    while (q->nhits > (size_t)q->limit) {
        hit_free(&q->hits[--q->nhits]);
    }
    if (q->nhits == (size_t)q->limit) {
        q->floor_us = q->hits[q->nhits - 1].received_us;
    }
}

/* Adds a hit: a built event (taken), or a raw line (copied). */
static int add_hit(struct query *q, int64_t received_us, const char *id, size_t idlen,
                   json_t *event, const char *line, size_t line_len)
{
    if (q->nhits == q->cap) {
        if (q->cap >= (size_t)q->limit * 4) {
            trim(q);
        }
        if (q->nhits == q->cap) {
            size_t cap = q->cap ? q->cap * 2 : 64;
            struct hit *v = realloc(q->hits, cap * sizeof *v);
            if (!v) {
                json_decref(event);
                return WR_ENOMEM;
            }
            q->hits = v;
            q->cap = cap;
        }
    }
    char *eid = malloc(idlen + 1);
    char *copy = line ? malloc(line_len + 1) : NULL;
    if (!eid || (line && !copy)) {
        free(eid);
        free(copy);
        json_decref(event);
        return WR_ENOMEM;
    }
    memcpy(eid, id, idlen);
    eid[idlen] = '\0';
    if (copy) {
        memcpy(copy, line, line_len);
        copy[line_len] = '\0';
    }
    q->hits[q->nhits++] = (struct hit){received_us, eid, event, copy, line_len};
    return 0;
}

/* ---- where --------------------------------------------------------------------------- */

/* Whether a JSON value (weir's parser) equals the filter's text: strings bytewise,
 * numbers by value, booleans and null by their literal. */
static bool js_matches(const struct js_val *v, const struct where *w)
{
    if (!v) {
        return false;
    }
    switch (v->type) {
    case JS_STRING: return v->n == w->vlen && memcmp(v->u.s, w->value, w->vlen) == 0;
    case JS_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(w->value, &end, 10);
        if (!errno && end != w->value && !*end) {
            return x == v->u.i;
        }
        double d = strtod(w->value, &end);
        return end != w->value && !*end && d == (double)v->u.i;
    }
    case JS_REAL: {
        char *end;
        double d = strtod(w->value, &end);
        return end != w->value && !*end && d == v->u.d;
    }
    case JS_TRUE: return strcmp(w->value, "true") == 0;
    case JS_FALSE: return strcmp(w->value, "false") == 0;
    case JS_NULL: return strcmp(w->value, "null") == 0;
    default: return false;
    }
}

/* The schema's top-level property names of every version, to tell a payload field from a
 * typo. Returns 1 when name is one, 0 when not, negative on a Postgres failure. */
static int payload_field_known(PGconn *c, const char *type, const char *name)
{
    const char *params[] = {type, name};
    struct wr_err err = {0};
    PGresult *res = con_sql(c,
                            "SELECT 1 FROM event_schemas WHERE event_type = $1 AND"
                            " jsonb_typeof(schema) = 'object' AND schema->'properties' ? $2"
                            " LIMIT 1",
                            2, params, &err);
    if (!res) {
        WR_WARN("console: %s", err.msg);
        return -1;
    }
    int n = PQntuples(res);
    PQclear(res);
    return n > 0;
}

static const char *const env_fields[] = {"event_id",    "source",      "schema_version",
                                         "occurred_at", "received_at", NULL};

/* The context members curation flattens into context_* columns: context.ip, the user
 * agent's browser/os/device/bot and the geo country/city. */
static const struct {
    const char *member, *field;
} ctx_columns[] = {{NULL, "ip"},  {"ua", "browser"},  {"ua", "os"},    {"ua", "device"},
                   {"ua", "bot"}, {"geo", "country"}, {"geo", "city"}, {NULL, NULL}};

/* Splits a context.X filter: "ua.browser" (a member of a context object), or a short
 * name of a flattened column ("browser" for ua.browser, "country" for geo.country), or
 * any top-level key ("user_agent"). Sets the curated column when there is one. */
static void context_where(struct where *w)
{
    size_t n = strlen(w->name + 8); /* shorter than path: name and path have one size */
    memcpy(w->path, w->name + 8, n + 1);
    char *dot = strchr(w->path, '.');
    w->member = NULL;
    w->field = w->path;
    if (dot && dot[1]) {
        *dot = '\0';
        w->member = w->path;
        w->field = dot + 1;
    }
    w->column[0] = '\0';
    for (size_t i = 0; ctx_columns[i].field; i++) {
        if (strcmp(ctx_columns[i].field, w->field) != 0) {
            continue;
        }
        const char *m = ctx_columns[i].member;
        if (!w->member && m) {
            w->member = m; /* the short name */
        }
        if ((!m && !w->member) || (m && w->member && strcmp(m, w->member) == 0)) {
            snprintf(w->column, sizeof w->column, "context_%s", w->field);
        }
    }
}

struct where_args {
    const char *v[MAX_WHERE + 1];
    size_t n;
};

static enum MHD_Result where_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    struct where_args *a = cls;
    if (strcmp(key, "where") == 0 && a->n <= MAX_WHERE) {
        a->v[a->n++] = value ? value : "";
    }
    return MHD_YES;
}

/* Reads the where parameters; on a bad one answers 400 naming it and returns false. */
static bool parse_where(struct query *q, PGconn *c, enum MHD_Result *ret)
{
    struct con_req *r = q->r;
    struct where_args a = {.n = 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, where_arg, &a);
    if (a.n > MAX_WHERE) {
        *ret = con_send_error(r, 400, "bad_request", "where: at most %d filters", MAX_WHERE);
        return false;
    }
    for (size_t i = 0; i < a.n; i++) {
        struct where *w = &q->w[q->nw];
        const char *colon = strchr(a.v[i], ':');
        size_t fl = colon ? (size_t)(colon - a.v[i]) : 0;
        if (!colon || fl == 0 || fl >= sizeof w->name) {
            *ret =
                con_send_error(r, 400, "bad_request", "where: '%.64s' is not FIELD:VALUE", a.v[i]);
            return false;
        }
        memcpy(w->name, a.v[i], fl);
        w->name[fl] = '\0';
        w->value = colon + 1;
        w->vlen = strlen(w->value);
        w->field = w->name;
        if (strncmp(w->name, "context.", 8) == 0 && w->name[8]) {
            w->kind = W_CONTEXT;
            context_where(w);
            q->context_filter = q->context_filter || !w->column[0];
        } else {
            if (strncmp(w->name, "payload.", 8) == 0 && w->name[8]) {
                w->field = w->name + 8;
                w->kind = W_PAYLOAD;
            } else {
                w->kind = W_PAYLOAD;
                for (size_t e = 0; env_fields[e]; e++) {
                    if (strcmp(w->name, env_fields[e]) == 0) {
                        w->kind = W_ENV;
                    }
                }
            }
            if (w->kind == W_PAYLOAD) {
                int known = payload_field_known(c, q->type, w->field);
                if (known < 0) {
                    *ret = con_send_error(r, 503, "unavailable", "the registry is unreachable");
                    return false;
                }
                if (!known) {
                    *ret = con_send_error(r, 400, "bad_request",
                                          "where: unknown field '%.100s' (not in any version of "
                                          "%s's schema, not event_id, source or context.*)",
                                          w->name, q->type);
                    return false;
                }
            }
        }
        /* A value or name that JSON could escape may not appear verbatim in the line. */
        w->prefilter = w->vlen > 0;
        for (size_t k = 0; k < w->vlen; k++) {
            unsigned char ch = (unsigned char)w->value[k];
            if (ch < 0x20 || ch == '"' || ch == '\\' || ch == '/' || ch >= 0x7f) {
                w->prefilter = false;
            }
        }
        for (const char *f = w->field; *f; f++) {
            if ((unsigned char)*f < 0x20 || *f == '"' || *f == '\\' || *f == '/' ||
                (unsigned char)*f >= 0x7f) {
                w->prefilter = false;
            }
        }
        /* The closing quote is checked after a match: ending the needle on a name's last
         * letter makes the search skip far more often than ending it on a '"'. */
        w->key_len = (size_t)snprintf(w->key, sizeof w->key, "\"%s", w->field);
        if (w->kind != W_CONTEXT) {
            snprintf(w->column, sizeof w->column, "%s", w->field);
        }
        q->nw++;
    }
    return true;
}

/* ---- raw zone ------------------------------------------------------------------------ */

static const struct js_val *where_value(const struct lake_env_view *v, const struct where *w)
{
    switch (w->kind) {
    case W_CONTEXT: {
        const struct js_val *o = v->f[LAKE_ENV_CONTEXT];
        if (w->member) {
            o = js_get(o, w->member, strlen(w->member));
        }
        return js_get(o, w->field, strlen(w->field));
    }
    case W_PAYLOAD: return js_get(v->f[LAKE_ENV_PAYLOAD], w->field, strlen(w->field));
    default: {
        int f = lake_env_field_find(w->field, strlen(w->field));
        return f >= 0 ? v->f[f] : NULL;
    }
    }
}

/* Whether the line may hold "FIELD" : VALUE (as a string or a bare literal), looked for in
 * the text without parsing it: most lines of a selective query fail here. A false "yes" is
 * settled by the parse that follows. A "no" is sure when the filter's value and field name
 * need no escaping (w->prefilter) and the line has no escape at all (a client may send
 * "\u0034\u0032"); a number the client wrote with an exponent (4.2e1) is the one form
 * it misses. */
static const char *find_key(const char *p, const char *end, const struct where *w)
{
    /* glibc's memmem shifts by byte pairs: fewer false starts than a one-byte table on
     * JSON text, where the name's letters are common. */
    return memmem(p, (size_t)(end - p), w->key, w->key_len);
}

static const char *find_match(const char *p, const char *end, const struct where *w)
{
    while (p < end) {
        const char *k = find_key(p, end, w);
        if (!k) {
            return NULL;
        }
        p = k + w->key_len;
        if (p >= end || *p != '"') {
            continue;
        }
        const char *v = p + 1;
        while (v < end && (*v == ' ' || *v == '\t' || *v == '\r')) {
            v++;
        }
        if (v >= end || *v != ':') {
            continue;
        }
        v++;
        while (v < end && (*v == ' ' || *v == '\t' || *v == '\r')) {
            v++;
        }
        size_t rest = (size_t)(end - v);
        if (rest > w->vlen + 1 && *v == '"' && memcmp(v + 1, w->value, w->vlen) == 0 &&
            v[1 + w->vlen] == '"') {
            return k;
        }
        if (rest >= w->vlen && memcmp(v, w->value, w->vlen) == 0 &&
            (rest == w->vlen || !((v[w->vlen] >= '0' && v[w->vlen] <= '9') ||
                                  (v[w->vlen] >= 'a' && v[w->vlen] <= 'z')))) {
            return k; /* a number (also 42.0 for 42), true, false or null */
        }
    }
    return NULL;
}

static bool maybe_matches(const char *line, size_t len, const struct where *w)
{
    return find_match(line, line + len, w) != NULL;
}

/* One raw line: the filters, then a hit. */
static int raw_line(struct query *q, const char *line, size_t len)
{
    /* A line with an escape is parsed: the value may be written escaped in it. */
    if (!q->text_has_escape || !memchr(line, '\\', len)) {
        for (size_t i = 0; i < q->nw; i++) {
            if (q->w[i].prefilter && !maybe_matches(line, len, &q->w[i])) {
                return 0;
            }
        }
    }
    struct lake_env_str f[LAKE_ENV_NFIELDS];
    unsigned want = 1u << LAKE_ENV_RECEIVED_AT | 1u << LAKE_ENV_EVENT_ID;
    int got = lake_env_scan(line, len, want, f);
    int64_t rus = 0;
    if (got >= 0 && (unsigned)got == want) {
        if (!wr_time_parse_rfc3339(f[LAKE_ENV_RECEIVED_AT].p, f[LAKE_ENV_RECEIVED_AT].len, &rus)) {
            return 0;
        }
        if (rus < q->from_us || rus > q->to_us || rus < q->floor_us) {
            return 0;
        }
    }
    wr_arena_reset(q->arena);
    struct lake_env_view v;
    struct js_error je;
    if (lake_env_parse(q->arena, line, len, &v, &je) != 0) {
        return 0; /* not a usable envelope: curation drops it too */
    }
    const struct js_val *id = v.f[LAKE_ENV_EVENT_ID], *ra = v.f[LAKE_ENV_RECEIVED_AT];
    if (!id || id->type != JS_STRING || !ra || ra->type != JS_STRING ||
        !wr_time_parse_rfc3339(ra->u.s, ra->n, &rus) || rus < q->from_us || rus > q->to_us ||
        rus < q->floor_us) {
        return 0;
    }
    for (size_t i = 0; i < q->nw; i++) {
        if (!js_matches(where_value(&v, &q->w[i]), &q->w[i])) {
            return 0;
        }
    }
    return add_hit(q, rus, id->u.s, id->n, NULL, line, len);
}

/* The selective path over an inflated file: instead of walking every line, looks through
 * the whole text for the first filter's "FIELD": VALUE and for backslashes (a line with an
 * escape may hold the value escaped), and hands only those lines to raw_line. *lines counts
 * the lines handed over. */
static int raw_needles(struct query *q, uint64_t *lines)
{
    const char *buf = q->text.p, *end = q->text.p + q->text.len, *p = buf;
    const struct where *w = &q->w[0];
    const char *bs = q->text_has_escape ? memchr(p, '\\', (size_t)(end - p)) : NULL;
    const char *km = find_match(p, end, w);
    uint64_t n = 0;
    int rc = 0;
    while ((bs || km) && rc == 0) {
        const char *m = !bs ? km : !km ? bs : bs < km ? bs : km;
        const char *ls = m;
        while (ls > buf && ls[-1] != '\n') {
            ls--;
        }
        const char *le = memchr(m, '\n', (size_t)(end - m));
        le = le ? le : end;
        rc = raw_line(q, ls, (size_t)(le - ls));
        n++;
        p = le < end ? le + 1 : end;
        if (bs && bs < p) {
            bs = memchr(p, '\\', (size_t)(end - p));
        }
        if (km && km < p) {
            km = find_match(p, end, w);
        }
    }
    *lines = n;
    return rc;
}

/* The raw files of one hour (dt, hr) of the type, newest file first. Returns 0, or a
 * negative code when the query must stop (err). */
static int raw_hour(struct query *q, const char *dt, int hr, struct wr_err *err)
{
    char prefix[LAKE_PATH_MAX];
    snprintf(prefix, sizeof prefix, "raw/event_type=%s/dt=%s/hr=%02d/", q->type, dt, hr);
    struct con_objs o = {0};
    int rc = con_objs_list(q->st, prefix, &o, err);
    if (rc != 0) {
        con_objs_free(&o);
        return rc;
    }
    con_objs_sort_desc(&o);
    for (size_t i = 0; i < o.n && rc == 0; i++) {
        if (!con_budget_file(&q->budget, o.v[i].size)) {
            break;
        }
        struct wr_err ferr = {0};
        int g = con_read_gz(q->st, q->z, o.v[i].key, q->r->srv->cfg.max_file_bytes, &q->raw,
                            &q->text, &ferr);
        q->scanned_files++;
        if (g < 0) {
            if (g == WR_EIO || g == WR_EAGAIN) {
                rc = wr_err_set(err, g, "%s: %s", o.v[i].key, ferr.msg);
                break;
            }
            con_bad_file(q->bad_files, o.v[i].key, ferr.msg);
            continue;
        }
        if (g == 1) {
            con_bad_file(q->bad_files, o.v[i].key, ferr.msg);
        }
        const char *p = q->text.p, *end = q->text.p + q->text.len;
        q->text_has_escape = memchr(p, '\\', q->text.len) != NULL;
        uint64_t lines = 0;
        bool needles = q->nw > 0 && q->w[0].prefilter;
        if (needles) {
            rc = raw_needles(q, &lines);
        }
        while (!needles && p < end && rc == 0) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            lines++;
            if (le > p) {
                rc = raw_line(q, p, (size_t)(le - p));
            }
            p = le + 1;
        }
        q->scanned_rows += lines;
        if (!con_budget_rows(&q->budget, lines)) {
            break;
        }
    }
    con_objs_free(&o);
    if (rc == WR_ENOMEM) {
        wr_err_set(err, rc, "out of memory");
    }
    return rc;
}

/* ---- curated zone -------------------------------------------------------------------- */

static json_t *pq_json(const struct pq_rcol *col, const struct pq_value *v)
{
    if (v->null) {
        return json_null();
    }
    switch (col->type) {
    case PQ_PT_BOOLEAN: return json_boolean(v->i);
    case PQ_PT_INT32:
    case PQ_PT_INT64:
        if (col->logical == PQ_RL_TIMESTAMP) {
            int64_t us = col->unit == PQ_UNIT_MILLIS  ? v->i * 1000
                         : col->unit == PQ_UNIT_NANOS ? v->i / 1000
                                                      : v->i;
            char t[32];
            con_time_format(us, t);
            return json_string(t);
        }
        return json_integer(v->i);
    case PQ_PT_FLOAT:
    case PQ_PT_DOUBLE: return isfinite(v->d) ? json_real(v->d) : json_null();
    default:
        if (col->logical == PQ_RL_JSON) {
            json_t *j = json_loadb((const char *)v->p, v->len, JSON_DECODE_ANY, NULL);
            if (j) {
                return j;
            }
        }
        return json_stringn((const char *)v->p, v->len);
    }
}

/* A typed filter for the reader from a where on column c; 0 added, 1 the value can't be
 * in the column (no row matches), 2 not handed to the reader (checked per row). */
static int pq_where(pq_reader *rd, const struct pq_rcol *col, const struct where *w,
                    struct wr_err *err)
{
    struct pq_fv fv = {0};
    char *end;
    switch (col->type) {
    case PQ_PT_BYTE_ARRAY:
        if (col->logical == PQ_RL_JSON) {
            return 2;
        }
        fv.kind = PQ_FV_BYTES;
        fv.p = w->value;
        fv.len = w->vlen;
        break;
    case PQ_PT_INT64:
    case PQ_PT_INT32:
        if (col->logical == PQ_RL_TIMESTAMP) {
            return 2;
        }
        errno = 0;
        fv.kind = PQ_FV_INT;
        fv.i = strtoll(w->value, &end, 10);
        if (errno || end == w->value || *end) {
            double d = strtod(w->value, &end);
            if (end == w->value || *end || d != floor(d) || fabs(d) > 9e15) {
                return 1;
            }
            fv.i = (int64_t)d;
        }
        break;
    case PQ_PT_DOUBLE:
    case PQ_PT_FLOAT:
        fv.kind = PQ_FV_DOUBLE;
        fv.d = strtod(w->value, &end);
        if (end == w->value || *end) {
            return 1;
        }
        break;
    case PQ_PT_BOOLEAN:
        fv.kind = PQ_FV_INT;
        if (strcmp(w->value, "true") == 0) {
            fv.i = 1;
        } else if (strcmp(w->value, "false") == 0) {
            fv.i = 0;
        } else {
            return 1;
        }
        break;
    default: return 2;
    }
    return pq_reader_filter(rd, col->name, &fv, &fv, err) == 0 ? 0 : 2;
}

/* Whether a row value (checked per row) equals a where's text. */
static bool pq_matches(const struct pq_rcol *col, const struct pq_value *v, const struct where *w)
{
    if (v->null) {
        return strcmp(w->value, "null") == 0;
    }
    json_t *j = pq_json(col, v);
    bool ok = false;
    if (json_is_string(j)) {
        ok = json_string_length(j) == w->vlen &&
             memcmp(json_string_value(j), w->value, w->vlen) == 0;
    } else if (j) {
        char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        ok = t && strcmp(t, w->value) == 0;
        free(t);
    }
    json_decref(j);
    return ok;
}

/* The context_* column's place in the rebuilt `context` object ("ua", "geo" or top level)
 * and member name; NULL when name is not one. */
static const char *ctx_column(const char *name, const char **member)
{
    if (strncmp(name, "context_", 8) != 0) {
        return NULL;
    }
    for (size_t i = 0; ctx_columns[i].field; i++) {
        if (strcmp(name + 8, ctx_columns[i].field) == 0) {
            *member = ctx_columns[i].member;
            return ctx_columns[i].field;
        }
    }
    return NULL;
}

/* Sets context[member][field] (member NULL: context[field]) to v (taken). */
static void ctx_set(json_t *ctx, const char *member, const char *field, json_t *v)
{
    json_t *o = ctx;
    if (member) {
        o = json_object_get(ctx, member);
        if (!o) {
            o = json_object();
            json_object_set_new(ctx, member, o);
        }
    }
    json_object_set_new(o, field, v);
}

/* One curated part file. Returns 0, 1 when the file has no column for a context filter
 * (written before curation flattened the context: the day is read raw), or a negative
 * code when the query must stop. */
static int curated_part(struct query *q, const struct con_obj *obj, struct wr_err *err)
{
    struct wr_err ferr = {0};
    pq_reader *rd = NULL;
    int rc = 0;
    if (q->r->srv->lake.scheme == LAKE_FILE) {
        char path[LAKE_PATH_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", q->r->srv->lake.path, obj->key);
        rd = pq_reader_open(path, NULL, &ferr);
    } else {
        wr_buf_clear(&q->raw);
        q->raw.err = 0;
        rc = lake_store_get(q->st, obj->key, &q->raw, &ferr);
        if (rc == WR_EIO || rc == WR_EAGAIN) {
            return wr_err_set(err, rc, "%s: %s", obj->key, ferr.msg);
        }
        if (rc == 0) {
            rd = pq_reader_open_mem(q->raw.p, q->raw.len, NULL, &ferr);
        }
    }
    q->scanned_files++;
    if (!rd) {
        con_bad_file(q->bad_files, obj->key, ferr.msg);
        return 0;
    }
    size_t ncol = pq_reader_num_columns(rd);
    const char *names[512];
    size_t nn = 0;
    long rcol = -1, idcol = -1;
    size_t npayload = 0;
    bool whole_payload = false;
    for (size_t i = 0; i < ncol && nn < 512; i++) {
        const struct pq_rcol *c = pq_reader_column(rd, i);
        if (c->unsupported) {
            continue;
        }
        const char *member;
        bool env = ctx_column(c->name, &member) != NULL;
        for (size_t e = 0; env_fields[e]; e++) {
            env = env || strcmp(c->name, env_fields[e]) == 0;
        }
        if (!env) {
            npayload++;
            whole_payload = strcmp(c->name, "payload") == 0 && c->logical == PQ_RL_JSON;
        }
        if (strcmp(c->name, "received_at") == 0) {
            rcol = (long)nn;
        } else if (strcmp(c->name, "event_id") == 0) {
            idcol = (long)nn;
        }
        names[nn++] = c->name;
    }
    if (rcol < 0 || idcol < 0 || pq_reader_project(rd, names, nn, &ferr) != 0) {
        con_bad_file(q->bad_files, obj->key,
                     rcol < 0 || idcol < 0 ? "no event_id or received_at column" : ferr.msg);
        pq_reader_destroy(rd);
        return 0;
    }
    const struct pq_rcol *rc_col =
        pq_reader_column(rd, (size_t)pq_reader_find_column(rd, "received_at"));
    int64_t mul = rc_col->unit == PQ_UNIT_MILLIS ? 1000 : 1;
    int64_t div = rc_col->unit == PQ_UNIT_NANOS ? 1000 : 1;
    struct pq_fv lo = {.kind = PQ_FV_INT, .i = q->from_us / mul * div};
    struct pq_fv hi = {.kind = PQ_FV_INT, .i = q->to_us / mul * div};
    /* A day inside the range needs no received_at filter: the reader would decode the whole
     * column only to keep every row (the rows are checked one by one below anyway). */
    bool whole_day = q->from_us <= q->day_us && q->to_us >= q->day_us + DAY_US - 1;
    bool none = !whole_day && pq_reader_filter(rd, "received_at", &lo, &hi, &ferr) != 0;
    /* Per-row checks: where columns the reader cannot filter. */
    whole_payload = whole_payload && npayload == 1;
    long wcol[MAX_WHERE];
    for (size_t i = 0; i < q->nw && !none; i++) {
        wcol[i] = -1;
        long k = pq_reader_find_column(rd, q->w[i].column);
        if (k < 0 && q->w[i].kind == W_CONTEXT) {
            pq_reader_destroy(rd);
            return 1;
        }
        if (k < 0) {
            none = true; /* a column this file does not have holds no match */
            break;
        }
        const struct pq_rcol *c = pq_reader_column(rd, (size_t)k);
        int f = pq_where(rd, c, &q->w[i], &ferr);
        if (f == 1) {
            none = true;
        } else if (f == 2) {
            for (size_t j = 0; j < nn; j++) {
                if (strcmp(names[j], c->name) == 0) {
                    wcol[i] = (long)j;
                }
            }
        }
    }
    while (!none && rc == 0) {
        int g = pq_reader_next_group(rd, &ferr);
        if (g < 0) {
            con_bad_file(q->bad_files, obj->key, ferr.msg);
            break;
        }
        if (g == 0) {
            break;
        }
        size_t nsel;
        const uint32_t *sel = pq_reader_selection(rd, &nsel);
        struct pq_batch rb, ib;
        pq_reader_batch(rd, (size_t)rcol, &rb);
        pq_reader_batch(rd, (size_t)idcol, &ib);
        /* Newest first within the group: the best hits are met first. */
        for (size_t s = nsel; s-- > 0 && rc == 0;) {
            uint32_t row = sel[s];
            if (rb.valid && !rb.valid[row]) {
                continue;
            }
            int64_t rus = ((const int64_t *)rb.values)[row] * mul / div;
            if (rus < q->floor_us) {
                break;
            }
            if (rus < q->from_us || rus > q->to_us) {
                continue;
            }
            bool ok = true;
            for (size_t i = 0; i < q->nw && ok; i++) {
                if (wcol[i] >= 0) {
                    struct pq_batch wb;
                    pq_reader_batch(rd, (size_t)wcol[i], &wb);
                    struct pq_value v = {0};
                    v.null = wb.valid && !wb.valid[row];
                    /* Only JSON text and timestamps come here. */
                    if (!v.null && (wb.col->type == PQ_PT_BYTE_ARRAY)) {
                        const struct pq_bytes *bv = &((const struct pq_bytes *)wb.values)[row];
                        v.p = bv->p;
                        v.len = bv->len;
                    } else if (!v.null && wb.col->type == PQ_PT_INT64) {
                        v.i = ((const int64_t *)wb.values)[row];
                    }
                    ok = pq_matches(wb.col, &v, &q->w[i]);
                }
            }
            if (!ok) {
                continue;
            }
            json_t *ev = json_object();
            json_t *payload = json_object();
            json_t *ctx = json_object();
            json_object_set_new(ev, "event_type", json_string(q->type));
            for (size_t k = 0; k < nn; k++) {
                struct pq_batch b;
                pq_reader_batch(rd, k, &b);
                struct pq_value v = {0};
                v.null = b.valid && !b.valid[row];
                if (!v.null) {
                    switch (b.col->type) {
                    case PQ_PT_BOOLEAN: v.i = ((const uint8_t *)b.values)[row]; break;
                    case PQ_PT_INT32: v.i = ((const int32_t *)b.values)[row]; break;
                    case PQ_PT_INT64: v.i = ((const int64_t *)b.values)[row]; break;
                    case PQ_PT_FLOAT: v.d = ((const float *)b.values)[row]; break;
                    case PQ_PT_DOUBLE: v.d = ((const double *)b.values)[row]; break;
                    default: {
                        const struct pq_bytes *bv = &((const struct pq_bytes *)b.values)[row];
                        v.p = bv->p;
                        v.len = bv->len;
                    }
                    }
                }
                bool env = false;
                for (size_t e = 0; env_fields[e]; e++) {
                    env = env || strcmp(names[k], env_fields[e]) == 0;
                }
                const char *member, *cf = ctx_column(names[k], &member);
                if (env) {
                    json_object_set_new(ev, names[k], pq_json(b.col, &v));
                } else if (cf) {
                    if (!v.null) {
                        ctx_set(ctx, member, cf, pq_json(b.col, &v));
                    }
                } else if (whole_payload) {
                    json_decref(payload);
                    payload = pq_json(b.col, &v);
                } else if (!v.null) {
                    json_object_set_new(payload, names[k], pq_json(b.col, &v));
                }
            }
            if (json_object_size(ctx) > 0) {
                json_object_set_new(ev, "context", ctx);
            } else {
                json_decref(ctx);
            }
            json_object_set_new(ev, "payload", payload);
            const struct pq_bytes *id = &((const struct pq_bytes *)ib.values)[row];
            rc = add_hit(q, rus, (const char *)id->p, id->len, ev, NULL, 0);
        }
        if (!con_budget_rows(&q->budget, pq_reader_group_rows(rd))) {
            break;
        }
    }
    struct pq_read_stats st;
    pq_reader_stats(rd, &st);
    q->scanned_rows += st.rows_scanned;
    q->groups_skipped += st.groups_skipped_stats + st.groups_skipped_rows;
    pq_reader_destroy(rd);
    if (rc == WR_ENOMEM) {
        wr_err_set(err, rc, "out of memory");
    }
    return rc;
}

/* "part-<generation><nnnnn>.parquet" of the committed generation (gen < 0: any). */
static bool part_of_generation(const char *key, long long gen)
{
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    size_t n = strlen(base);
    if (strncmp(base, "part-", 5) != 0 || n < 5 + 5 + 8 || strcmp(base + n - 8, ".parquet") != 0) {
        return false;
    }
    if (gen < 0) {
        return true;
    }
    size_t digits = n - 5 - 8;
    long long g = 0;
    for (size_t i = 0; i + 5 < digits; i++) {
        char ch = base[5 + i];
        if (ch < '0' || ch > '9') {
            return false;
        }
        g = g * 10 + (ch - '0');
    }
    return g == gen;
}

static int curated_day(struct query *q, const char *dt, long long gen, struct wr_err *err)
{
    char prefix[LAKE_PATH_MAX];
    snprintf(prefix, sizeof prefix, "curated/events/event_type=%s/dt=%s/", q->type, dt);
    struct con_objs o = {0};
    int rc = con_objs_list(q->st, prefix, &o, err);
    con_objs_sort_desc(&o);
    for (size_t i = 0; i < o.n && rc == 0; i++) {
        if (!part_of_generation(o.v[i].key, gen)) {
            continue;
        }
        if (!con_budget_file(&q->budget, o.v[i].size)) {
            break;
        }
        rc = curated_part(q, &o.v[i], err);
    }
    con_objs_free(&o);
    return rc;
}

/* ---- the query ----------------------------------------------------------------------- */

struct day_state {
    char dt[11];
    long long gen; /* committed generation, -1 any, -2 not curated */
};

static void day_name(int64_t days, char out[11])
{
    int64_t y;
    unsigned m, d;
    wr_civil_from_days(days, &y, &m, &d);
    snprintf(out, 11, "%04d-%02u-%02u", (int)y, m, d);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Reads the raw hours h_hi down to h_lo of day d, skipping the hours in skip (bit h: read
 * from Parquet). With stop, ends the walk once an hour ends with `limit` events (every
 * older unit holds older events); *done says so. */
static int raw_hours(struct query *q, const char *dt, int h_hi, int h_lo, uint32_t skip, bool stop,
                     bool *done, struct wr_err *err)
{
    int rc = 0;
    for (int h = h_hi; h >= h_lo && rc == 0 && !q->budget.stopped; h--) {
        if (skip & (1u << h)) {
            continue;
        }
        rc = raw_hour(q, dt, h, err);
        if (stop && q->nhits >= (size_t)q->limit) {
            trim(q);
            if (q->nhits >= (size_t)q->limit) {
                *done = true;
                break;
            }
        }
    }
    return rc;
}

static int run_query(struct query *q, PGconn *c, struct wr_err *err)
{
    int64_t d0 = floor_div(q->from_us, DAY_US), d1 = floor_div(q->to_us, DAY_US);
    /* Days outside the lake's possible range (before 1970, after 9999) hold nothing. */
    if (d0 < 0) {
        d0 = 0;
    }
    if (d1 > 2932896) {
        d1 = 2932896;
    }
    char from_dt[11], to_dt[11];
    day_name(d0, from_dt);
    day_name(d1, to_dt);
    const char *params[] = {q->type, from_dt, to_dt};
    /* A day's curation covers only the hours that were closed when it ran (the open hour,
     * and files that came later into an hour it saw empty, are not in it): the hours it
     * covered are those it wrote hourly counts for. */
    PGresult *res =
        con_sql(c,
                "SELECT to_char(s.dt, 'YYYY-MM-DD'), coalesce(s.curated_generation, -1),"
                " (SELECT coalesce(bit_or(1 << h.hr), 0) FROM curated_rollups_hourly h"
                "  WHERE h.event_type = s.event_type AND h.dt = s.dt)"
                " FROM curation_state s WHERE s.event_type = $1 AND s.dt BETWEEN"
                " $2::date AND $3::date AND s.curated_fingerprint = s.fingerprint",
                3, params, err);
    if (!res) {
        return WR_EDB;
    }
    int nc = PQntuples(res);
    int rc = 0;
    /* The raw zone's days of the type, to walk only days that exist (a 10-year range is
     * 3650 days, most of them empty). */
    char prefix[LAKE_PATH_MAX];
    snprintf(prefix, sizeof prefix, "raw/event_type=%s/", q->type);
    struct con_objs raw = {0};
    rc = con_objs_list(q->st, prefix, &raw, err);
    con_objs_sort_desc(&raw);
    size_t ri = 0;
    bool done = false;
    for (int64_t d = d1; d >= d0 && rc == 0 && !done && !q->budget.stopped; d--) {
        char dt[11];
        day_name(d, dt);
        long long gen = -2;
        uint32_t covered = 0;
        for (int i = 0; i < nc; i++) {
            if (strcmp(PQgetvalue(res, i, 0), dt) == 0) {
                gen = con_pg_int(res, i, 1);
                covered = (uint32_t)con_pg_int(res, i, 2) & 0xffffffu;
            }
        }
        char dpre[LAKE_PATH_MAX];
        int dl = snprintf(dpre, sizeof dpre, "%sdt=%s/", prefix, dt);
        /* Skip listed keys of later days; note whether this day has raw files. */
        while (ri < raw.n && strncmp(raw.v[ri].key, dpre, (size_t)dl) > 0) {
            ri++;
        }
        bool has_raw = ri < raw.n && strncmp(raw.v[ri].key, dpre, (size_t)dl) == 0;
        int h1 = 23, h0 = 0;
        if (d == d1) {
            h1 = (int)(floor_div(q->to_us - d * DAY_US, 3600ll * 1000000));
            h1 = h1 > 23 ? 23 : h1;
        }
        if (d == d0) {
            h0 = (int)(floor_div(q->from_us - d * DAY_US, 3600ll * 1000000));
            h0 = h0 < 0 ? 0 : h0;
        }
        if (gen > -2 && !q->context_filter) {
            /* Raw hours after the last covered one are newer than every curated row: read
             * first, and may end the walk. Uncovered hours before it are read before the
             * stop check, as their events may be newer than curated ones. */
            int top = 23;
            while (top >= 0 && !(covered & (1u << top))) {
                top--;
            }
            if (has_raw) {
                rc = raw_hours(q, dt, h1, top + 1 > h0 ? top + 1 : h0, covered, true, &done, err);
            }
            if (rc == 0 && !done && !q->budget.stopped) {
                q->day_us = d * DAY_US;
                rc = curated_day(q, dt, gen, err);
                if (rc == 1) {
                    /* Curated before the context columns existed: the covered hours raw. */
                    bool unused = false;
                    rc = has_raw ? raw_hours(q, dt, top < h1 ? top : h1, h0, ~covered & 0xffffffu,
                                             false, &unused, err)
                                 : 0;
                }
            }
            if (rc == 0 && !done && has_raw && top >= 0 && !q->budget.stopped) {
                bool unused = false;
                rc = raw_hours(q, dt, top < h1 ? top : h1, h0, covered, false, &unused, err);
            }
        } else if (has_raw) {
            rc = raw_hours(q, dt, h1, h0, 0, true, &done, err);
        }
        if (rc == 0 && !done && q->nhits >= (size_t)q->limit) {
            trim(q);
            done = q->nhits >= (size_t)q->limit;
        }
    }
    con_objs_free(&raw);
    PQclear(res);
    return rc;
}

enum MHD_Result con_api_events(struct con_req *r)
{
    int64_t t0 = wr_time_mono_ns();
    enum MHD_Result ret;
    struct query q = {.r = r, .floor_us = INT64_MIN};
    q.type = con_arg(r, "event_type");
    if (!q.type || !*q.type) {
        return con_send_error(r, 400, "bad_request", "event_type: required");
    }
    if (!con_key_allows(&r->key, q.type)) {
        return con_send_error(r, 403, "forbidden", "this key may not read %.64s events", q.type);
    }
    if (!con_range(r, "-24h", "now", &q.from_us, &q.to_us, &ret) || !con_limit(r, &q.limit, &ret)) {
        return ret;
    }
    PGconn *c = con_pg(r);
    if (!c) {
        return con_send_error(r, 503, "unavailable", "the registry is unreachable");
    }
    const char *params[] = {q.type};
    struct wr_err err = {0};
    PGresult *res =
        con_sql(c, "SELECT 1 FROM event_schemas WHERE event_type = $1 LIMIT 1", 1, params, &err);
    if (!res) {
        return con_send_error(r, 503, "unavailable", "the registry is unreachable");
    }
    bool known = PQntuples(res) > 0;
    PQclear(res);
    if (!known) {
        return con_send_error(r, 400, "bad_request", "event_type: unknown event type '%.64s'",
                              q.type);
    }
    if (!parse_where(&q, c, &ret)) {
        return ret;
    }
    con_budget_init(&q.budget, &r->srv->cfg);
    q.bad_files = json_array();
    q.st = lake_store_open(r->srv->cfg.lake_url, r->srv->cfg.s3, &err);
    q.z = wr_inflater_create();
    q.arena = wr_arena_create(64 * 1024, 256u << 20);
    wr_buf_init(&q.raw, 1u << 30);
    wr_buf_init(&q.text, (size_t)r->srv->cfg.max_file_bytes);
    int rc = q.st && q.z && q.arena ? run_query(&q, c, &err) : WR_ENOMEM;
    if (rc == 0) {
        trim(&q);
    }
    json_t *events = json_array();
    for (size_t i = 0; i < q.nhits; i++) {
        struct hit *h = &q.hits[i];
        json_t *ev = h->event;
        if (h->line) {
            /* An integer beyond int64 (accepted by the gateway) fails jansson's first try. */
            ev = json_loadb(h->line, h->line_len, 0, NULL);
            ev = ev ? ev : json_loadb(h->line, h->line_len, JSON_DECODE_INT_AS_REAL, NULL);
        }
        if (ev) {
            json_array_append_new(events, ev);
        }
        h->event = NULL;
        hit_free(h);
    }
    free(q.hits);
    wr_buf_free(&q.raw);
    wr_buf_free(&q.text);
    wr_arena_destroy(q.arena);
    wr_inflater_destroy(q.z);
    lake_store_destroy(q.st);
    if (rc != 0) {
        json_decref(events);
        json_decref(q.bad_files);
        WR_WARN("console: events query: %s", err.msg[0] ? err.msg : "failed");
        return con_send_error(r, 503, "unavailable", "the lake could not be read: %s",
                              err.msg[0] ? err.msg : "out of memory");
    }
    json_t *out = json_pack(
        "{s:o,s:I,s:I,s:I,s:I,s:o}", "events", events, "scanned_files", (json_int_t)q.scanned_files,
        "scanned_rows", (json_int_t)q.scanned_rows, "scanned_bytes", (json_int_t)q.budget.bytes,
        "elapsed_ms", (json_int_t)((wr_time_mono_ns() - t0) / 1000000), "bad_files", q.bad_files);
    if (out && q.budget.stopped) {
        json_object_set_new(out, "truncated", json_true());
        json_object_set_new(out, "stopped_reason", json_string(q.budget.stopped));
    }
    return con_send_json(r, 200, out);
}
