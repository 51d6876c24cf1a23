/* rollup_user.c - user-defined rollups: definition rules, the per-day computation fed one
 * kept (deduplicated) row at a time by stage B, and the output to Postgres and Parquet.
 *
 * Groups: per definition, one open-addressing table from the group key (bucket, then each
 * dimension's typed value) to the group's accumulators. count_distinct is exact up to 128-bit
 * hash collisions (as the dedup set: about n^2 / 2^129): one set per (definition, metric) of
 * hashes of (group, value), so a value new to its group counts once. Hour-grain sets are
 * emptied at each hour's end (no later row can fall in a closed hour's bucket), so memory is
 * bounded by one hour's distinct values there, by the day's for day grain. */
#include "curator/rollup_user.h"
#include "cur_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "lake/envelope.h"
#include "registry/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RU_MAX_DIMS 8
#define RU_MAX_METRICS 16
#define RU_MAX_FIELD 200

/* ---- fields ------------------------------------------------------------------------------ */

enum ru_src { RU_ENV, RU_PAYLOAD, RU_CONTEXT };
/* A value's kind: cur_kind, or RU_K_ANY (no schema: the value as sent). */
#define RU_K_ANY 100

static const struct {
    const char *name;
    int field; /* LAKE_ENV_* */
    int kind;
} env_fields[] = {
    {"event_id", LAKE_ENV_EVENT_ID, CUR_K_STRING},
    {"source", LAKE_ENV_SOURCE, CUR_K_STRING},
    {"schema_version", LAKE_ENV_SCHEMA_VERSION, CUR_K_INT},
    {"occurred_at", LAKE_ENV_OCCURRED_AT, CUR_K_TS},
    {"received_at", LAKE_ENV_RECEIVED_AT, CUR_K_TS},
};

/* context.NAME -> its place in the stored context object (browser.md). */
static const struct {
    const char *name;
    const char *obj; /* NULL: a member of context itself */
    const char *member;
    int kind;
} ctx_fields[] = {
    {"ip", NULL, "ip", CUR_K_STRING},
    {"user_agent", NULL, "user_agent", CUR_K_STRING},
    {"origin", NULL, "origin", CUR_K_STRING},
    {"browser", "ua", "browser", CUR_K_STRING},
    {"browser_version", "ua", "browser_version", CUR_K_STRING},
    {"os", "ua", "os", CUR_K_STRING},
    {"os_version", "ua", "os_version", CUR_K_STRING},
    {"device", "ua", "device", CUR_K_STRING},
    {"bot", "ua", "bot", CUR_K_BOOL},
    {"country", "geo", "country", CUR_K_STRING},
    {"region", "geo", "region", CUR_K_STRING},
    {"city", "geo", "city", CUR_K_STRING},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct ru_field {
    char *text; /* "payload.path" */
    enum ru_src src;
    int idx;  /* env_fields / ctx_fields index, or the model column of a payload property */
    int kind; /* cur_kind or RU_K_ANY */
    char *prop;
    size_t plen;
    uint32_t pos; /* payload member index where it was found last (lines share their order) */
};

/* Resolves a field reference. Returns 0, or WR_EINVAL with err. m may be NULL (no check). */
static int field_parse(const char *s, const cur_model *m, struct ru_field *f, struct wr_err *err)
{
    memset(f, 0, sizeof *f);
    f->idx = -1;
    size_t n = strlen(s);
    if (n == 0 || n > RU_MAX_FIELD) {
        return wr_err_set(err, WR_EINVAL, "field '%.60s': empty or longer than %d bytes", s,
                          RU_MAX_FIELD);
    }
    if (strncmp(s, "payload.", 8) == 0) {
        f->src = RU_PAYLOAD;
        f->prop = (char *)s + 8;
        f->plen = n - 8;
        if (f->plen == 0) {
            return wr_err_set(err, WR_EINVAL, "field '%s': no property after 'payload.'", s);
        }
        f->kind = RU_K_ANY;
        if (m && !m->whole_payload) {
            int c = cur__model_find(m, f->prop, f->plen);
            if (c < 0) {
                return wr_err_set(err, WR_EINVAL,
                                  "field '%s': no top-level property '%s' in the event type's "
                                  "schemas",
                                  s, f->prop);
            }
            f->idx = c;
            f->kind = (int)m->kinds[c - CUR_NENV];
        }
        return 0;
    }
    if (strncmp(s, "context.", 8) == 0) {
        f->src = RU_CONTEXT;
        for (size_t i = 0; i < NELEM(ctx_fields); i++) {
            if (strcmp(s + 8, ctx_fields[i].name) == 0) {
                f->idx = (int)i;
                f->kind = ctx_fields[i].kind;
                return 0;
            }
        }
        return wr_err_set(err, WR_EINVAL,
                          "field '%s': context fields are ip, user_agent, origin, browser, "
                          "browser_version, os, os_version, device, bot, country, region, city",
                          s);
    }
    for (size_t i = 0; i < NELEM(env_fields); i++) {
        if (strcmp(s, env_fields[i].name) == 0) {
            f->src = RU_ENV;
            f->idx = (int)i;
            f->kind = env_fields[i].kind;
            return 0;
        }
    }
    return wr_err_set(err, WR_EINVAL,
                      "field '%s': not payload.NAME, context.NAME or an envelope field "
                      "(event_id, source, schema_version, occurred_at, received_at)",
                      s);
}

/* ---- definitions ----------------------------------------------------------------------- */

enum ru_fn { RU_COUNT, RU_COUNT_DISTINCT, RU_SUM, RU_MIN, RU_MAX };
static const char *const fn_names[] = {"count", "count_distinct", "sum", "min", "max"};

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64 || s[0] < 'a' || s[0] > 'z') {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return 1;
}

static int numeric_kind(int k)
{
    return k == CUR_K_INT || k == CUR_K_DOUBLE || k == RU_K_ANY;
}

/* One metric of a definition: fn and field ("*": -1). */
static int metric_parse(const json_t *mo, size_t i, const cur_model *m, int *fn, struct ru_field *f,
                        int *star, struct wr_err *err)
{
    if (!json_is_object(mo) || json_object_size(mo) != 1) {
        return wr_err_set(err, WR_EINVAL,
                          "metrics[%zu]: an object with one member, such as {\"count\": \"*\"} "
                          "or {\"sum\": \"payload.load_ms\"}",
                          i);
    }
    const char *k = json_object_iter_key(json_object_iter((json_t *)mo));
    const json_t *v = json_object_iter_value(json_object_iter((json_t *)mo));
    *fn = -1;
    for (int j = 0; j < (int)NELEM(fn_names); j++) {
        if (strcmp(k, fn_names[j]) == 0) {
            *fn = j;
        }
    }
    if (*fn < 0) {
        return wr_err_set(err, WR_EINVAL,
                          "metrics[%zu]: '%.40s' is not count, count_distinct, sum, min or max", i,
                          k);
    }
    if (!json_is_string(v)) {
        return wr_err_set(err, WR_EINVAL, "metrics[%zu].%s: a field name (string)", i, k);
    }
    const char *fs = json_string_value(v);
    *star = strcmp(fs, "*") == 0;
    if (*star) {
        if (*fn != RU_COUNT) {
            return wr_err_set(err, WR_EINVAL, "metrics[%zu]: '*' is only for count", i);
        }
        return 0;
    }
    struct wr_err e2 = {0};
    if (field_parse(fs, m, f, &e2) != 0) {
        return wr_err_set(err, WR_EINVAL, "metrics[%zu].%s: %s", i, k, e2.msg);
    }
    if ((*fn == RU_SUM || *fn == RU_MIN || *fn == RU_MAX) && !numeric_kind(f->kind)) {
        return wr_err_set(err, WR_EINVAL, "metrics[%zu].%s: '%s' is not a number field", i, k, fs);
    }
    return 0;
}

int cur_rudef_check(const json_t *def, const cur_model *m, struct wr_err *err)
{
    if (!json_is_object(def)) {
        return wr_err_set(err, WR_EINVAL, "a rollup definition is a JSON object");
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)def, key, val)
    {
        if (strcmp(key, "name") && strcmp(key, "event_type") && strcmp(key, "grain") &&
            strcmp(key, "dimensions") && strcmp(key, "metrics") && strcmp(key, "active") &&
            strcmp(key, "description")) {
            return wr_err_set(err, WR_EINVAL,
                              "unknown member '%.60s' (name, event_type, grain, dimensions, "
                              "metrics, active, description)",
                              key);
        }
    }
    const char *name = json_string_value(json_object_get(def, "name"));
    if (!name || !name_ok(name)) {
        return wr_err_set(err, WR_EINVAL, "name: required, ^[a-z][a-z0-9_]{0,63}$");
    }
    if (strcmp(name, CUR_RU_RESERVED) == 0) {
        return wr_err_set(err, WR_EINVAL, "name: '%s' is the built-in hourly rollup's",
                          CUR_RU_RESERVED);
    }
    const char *type = json_string_value(json_object_get(def, "event_type"));
    if (!type || !name_ok(type)) {
        return wr_err_set(err, WR_EINVAL, "event_type: required, ^[a-z][a-z0-9_]{0,63}$");
    }
    const char *grain = json_string_value(json_object_get(def, "grain"));
    if (!grain || (strcmp(grain, "hour") && strcmp(grain, "day"))) {
        return wr_err_set(err, WR_EINVAL, "grain: required, \"hour\" or \"day\"");
    }
    const json_t *act = json_object_get(def, "active");
    if (act && !json_is_boolean(act)) {
        return wr_err_set(err, WR_EINVAL, "active: true or false");
    }
    const json_t *dims = json_object_get(def, "dimensions");
    if (!json_is_array(dims) || json_array_size(dims) > RU_MAX_DIMS) {
        return wr_err_set(err, WR_EINVAL, "dimensions: required, an array of at most %d fields",
                          RU_MAX_DIMS);
    }
    for (size_t i = 0; i < json_array_size(dims); i++) {
        const char *s = json_string_value(json_array_get(dims, i));
        struct ru_field f;
        struct wr_err e2 = {0};
        if (!s) {
            return wr_err_set(err, WR_EINVAL, "dimensions[%zu]: a field name (string)", i);
        }
        if (field_parse(s, m, &f, &e2) != 0) {
            return wr_err_set(err, WR_EINVAL, "dimensions[%zu]: %s", i, e2.msg);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s, json_string_value(json_array_get(dims, j))) == 0) {
                return wr_err_set(err, WR_EINVAL, "dimensions[%zu]: '%s' twice", i, s);
            }
        }
    }
    const json_t *mets = json_object_get(def, "metrics");
    if (!json_is_array(mets) || json_array_size(mets) == 0 ||
        json_array_size(mets) > RU_MAX_METRICS) {
        return wr_err_set(err, WR_EINVAL, "metrics: required, an array of 1 to %d metrics",
                          RU_MAX_METRICS);
    }
    for (size_t i = 0; i < json_array_size(mets); i++) {
        int fn, star;
        struct ru_field f;
        int rc = metric_parse(json_array_get(mets, i), i, m, &fn, &f, &star, err);
        if (rc) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (json_equal(json_array_get(mets, i), json_array_get(mets, j))) {
                return wr_err_set(err, WR_EINVAL, "metrics[%zu]: the same as metrics[%zu]", i, j);
            }
        }
    }
    return 0;
}

cur_model *cur_model_load(PGconn *c, const char *event_type, size_t *nversions, struct wr_err *err)
{
    const char *p[1] = {event_type};
    PGresult *r = reg_exec(
        c, PGRES_TUPLES_OK, err,
        "SELECT schema::text FROM event_schemas WHERE event_type = $1 ORDER BY version", 1, p);
    if (!r) {
        return NULL;
    }
    int n = PQntuples(r);
    const char **docs = calloc((size_t)n + 1, sizeof *docs);
    cur_model *m = NULL;
    if (docs) {
        for (int i = 0; i < n; i++) {
            docs[i] = PQgetvalue(r, i, 0);
        }
        m = cur_model_create(docs, (size_t)n, err);
        free(docs);
    } else {
        wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    PQclear(r);
    if (nversions) {
        *nversions = (size_t)n;
    }
    return m;
}

/* ---- computation ------------------------------------------------------------------------ */

/* A field's value in the row, as curation would type it (NULL: null or not of its kind). */
struct val {
    uint8_t t; /* 0 null, 1 int, 2 double, 3 bool, 4 string, 5 json text, 6 timestamp */
    int64_t i;
    double d;
    const char *s;
    size_t n;
};

/* One pending distinct-set insertion of a row. */
struct pend {
    cur_idset *set;
    uint64_t a, b;
    struct acc *acc;
};

/* A metric's accumulator in a group. */
struct acc {
    int64_t i;
    double d;
    uint8_t has, dbl;
};

struct ru_metric {
    int fn;
    int field;      /* index in ru->fields, -1: count(*) */
    int as_int;     /* sum/min/max output as integers (an integer field) */
    char *key;      /* "count", "sum(payload.load_ms)" */
    char *col;      /* its Parquet column: count, sum_payload_load_ms */
    cur_idset *set; /* count_distinct */
};

struct ru_def {
    char *name;
    int hour;
    size_t ndims, nmet;
    int dims[RU_MAX_DIMS]; /* indexes in ru->fields */
    char *dimcol[RU_MAX_DIMS];
    struct ru_metric met[RU_MAX_METRICS];
    /* groups */
    struct wr_buf keys; /* group keys, back to back */
    size_t *koff;       /* ngroups + 1 offsets into keys */
    struct acc *accs;   /* ngroups * nmet */
    size_t ngroups, capgroups;
    uint32_t *table; /* group index + 1; 0 empty */
    uint64_t *thash; /* the hash of each slot's key */
    size_t tmask;
};

struct cur_ru {
    char dt[11];
    int64_t day_us;
    struct ru_field fields[RU_MAX_DIMS * 8 + RU_MAX_METRICS * 8];
    size_t nfields;
    struct ru_def *defs;
    size_t ndefs;
    /* per row: each field's typed value, and its hash once a count_distinct needs it */
    struct val *tv;
    uint64_t *vha, *vhb;
    uint8_t *hashed;
    /* per row: the distinct-set insertions, done after every slot was prefetched */
    struct pend *pend;
    size_t npend_max;
    struct wr_buf key;
    struct wr_buf tmp;
};

static void def_free(struct ru_def *d)
{
    free(d->name);
    for (size_t i = 0; i < d->ndims; i++) {
        free(d->dimcol[i]);
    }
    for (size_t i = 0; i < d->nmet; i++) {
        free(d->met[i].key);
        free(d->met[i].col);
        cur_idset_destroy(d->met[i].set);
    }
    wr_buf_free(&d->keys);
    free(d->koff);
    free(d->accs);
    free(d->table);
    free(d->thash);
}

void cur_ru_destroy(cur_ru *ru)
{
    if (!ru) {
        return;
    }
    for (size_t i = 0; i < ru->ndefs; i++) {
        def_free(&ru->defs[i]);
    }
    for (size_t i = 0; i < ru->nfields; i++) {
        free(ru->fields[i].text);
    }
    free(ru->defs);
    free(ru->tv);
    free(ru->vha);
    free(ru->vhb);
    free(ru->hashed);
    free(ru->pend);
    wr_buf_free(&ru->key);
    wr_buf_free(&ru->tmp);
    free(ru);
}

size_t cur_ru_rows(const cur_ru *ru)
{
    size_t n = 0;
    for (size_t i = 0; ru && i < ru->ndefs; i++) {
        n += ru->defs[i].ngroups;
    }
    return n;
}

/* A column name from a field: "payload.load_ms" -> "payload_load_ms". */
static char *col_name(const char *prefix, const char *field)
{
    size_t pn = prefix ? strlen(prefix) + 1 : 0, n = strlen(field);
    char *s = malloc(pn + n + 1);
    if (!s) {
        return NULL;
    }
    if (prefix) {
        memcpy(s, prefix, pn - 1);
        s[pn - 1] = '_';
    }
    for (size_t i = 0; i < n; i++) {
        char c = field[i];
        s[pn + i] =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
    }
    s[pn + n] = '\0';
    return s;
}

/* The shared field index of a reference (added when new). */
static int field_index(cur_ru *ru, const char *s, const cur_model *m, struct wr_err *err)
{
    for (size_t i = 0; i < ru->nfields; i++) {
        if (strcmp(ru->fields[i].text, s) == 0) {
            return (int)i;
        }
    }
    if (ru->nfields >= NELEM(ru->fields)) {
        return wr_err_set(err, WR_ELIMIT, "rollups: more than %zu distinct fields",
                          NELEM(ru->fields));
    }
    struct ru_field *f = &ru->fields[ru->nfields];
    int rc = field_parse(s, m, f, err);
    if (rc) {
        return rc;
    }
    f->text = strdup(s);
    if (!f->text) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (f->src == RU_PAYLOAD) {
        f->prop = f->text + 8;
    }
    return (int)ru->nfields++;
}

static int def_add(cur_ru *ru, const json_t *j, const cur_model *m, struct wr_err *err)
{
    struct ru_def *d = &ru->defs[ru->ndefs];
    memset(d, 0, sizeof *d);
    wr_buf_init(&d->keys, (size_t)1 << 34);
    d->name = strdup(json_string_value(json_object_get(j, "name")));
    d->hour = strcmp(json_string_value(json_object_get(j, "grain")), "hour") == 0;
    ru->ndefs++; /* from here on def_free cleans it */
    if (!d->name) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    const json_t *dims = json_object_get(j, "dimensions");
    for (size_t i = 0; i < json_array_size(dims); i++) {
        const char *s = json_string_value(json_array_get(dims, i));
        int fi = field_index(ru, s, m, err);
        if (fi < 0) {
            return fi;
        }
        d->dims[d->ndims] = fi;
        d->dimcol[d->ndims] = col_name(NULL, s);
        if (!d->dimcol[d->ndims++]) {
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
    }
    const json_t *mets = json_object_get(j, "metrics");
    for (size_t i = 0; i < json_array_size(mets); i++) {
        int fn, star;
        struct ru_field f;
        int rc = metric_parse(json_array_get(mets, i), i, m, &fn, &f, &star, err);
        if (rc) {
            return rc;
        }
        struct ru_metric *mt = &d->met[d->nmet++];
        mt->fn = fn;
        mt->field = -1;
        if (star) {
            mt->key = strdup("count");
            mt->col = strdup("count");
        } else {
            const char *fs = json_string_value(
                json_object_iter_value(json_object_iter((json_t *)json_array_get(mets, i))));
            mt->field = field_index(ru, fs, m, err);
            if (mt->field < 0) {
                return mt->field;
            }
            mt->as_int = ru->fields[mt->field].kind == CUR_K_INT;
            size_t kl = strlen(fn_names[fn]) + strlen(fs) + 3;
            mt->key = malloc(kl);
            if (mt->key) {
                snprintf(mt->key, kl, "%s(%s)", fn_names[fn], fs);
            }
            mt->col = col_name(fn_names[fn], fs);
        }
        if (!mt->key || !mt->col) {
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        if (fn == RU_COUNT_DISTINCT && !(mt->set = cur_idset_create())) {
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
    }
    d->tmask = 63;
    d->table = calloc(d->tmask + 1, sizeof *d->table);
    d->thash = calloc(d->tmask + 1, sizeof *d->thash);
    d->koff = calloc(1, sizeof *d->koff);
    if (!d->table || !d->thash || !d->koff) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    return 0;
}

int cur_ru_create(const json_t *const *defs, size_t n, const cur_model *m, const char *dt,
                  cur_ru **out, struct wr_err *err)
{
    *out = NULL;
    unsigned y, mo, dd;
    char tail;
    if (sscanf(dt, "%4u-%2u-%2u%c", &y, &mo, &dd, &tail) != 3 || strlen(dt) != 10) {
        return wr_err_set(err, WR_EINVAL, "rollups: bad day '%s'", dt);
    }
    cur_ru *ru = calloc(1, sizeof *ru);
    if (!ru || !(ru->defs = calloc(n + 1, sizeof *ru->defs))) {
        free(ru);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    snprintf(ru->dt, sizeof ru->dt, "%s", dt);
    ru->day_us = wr_days_from_civil(y, mo, dd) * 86400LL * 1000000LL;
    wr_buf_init(&ru->key, 1u << 24);
    wr_buf_init(&ru->tmp, 1u << 30);
    for (size_t i = 0; i < n; i++) {
        struct wr_err e2 = {0};
        if (cur_rudef_check(defs[i], m, &e2) != 0) {
            WR_WARN("curate: rollup '%s' skipped: %s",
                    json_string_value(json_object_get(defs[i], "name")), e2.msg);
            continue;
        }
        struct wr_err e3 = {0};
        int rc = def_add(ru, defs[i], m, &e3);
        if (rc == WR_ELIMIT) {
            /* too many distinct fields for one type: this definition waits, the day goes on */
            WR_WARN("curate: rollup '%s' skipped: %s",
                    json_string_value(json_object_get(defs[i], "name")), e3.msg);
            def_free(&ru->defs[--ru->ndefs]);
            continue;
        }
        if (rc) {
            *err = e3;
            cur_ru_destroy(ru);
            return rc;
        }
    }
    for (size_t i = 0; i < ru->ndefs; i++) {
        for (size_t k = 0; k < ru->defs[i].nmet; k++) {
            ru->npend_max += ru->defs[i].met[k].fn == RU_COUNT_DISTINCT;
        }
    }
    size_t nf = ru->nfields + 1;
    ru->tv = calloc(nf, sizeof *ru->tv);
    ru->vha = calloc(nf, sizeof *ru->vha);
    ru->vhb = calloc(nf, sizeof *ru->vhb);
    ru->hashed = calloc(nf, 1);
    ru->pend = calloc(ru->npend_max + 1, sizeof *ru->pend);
    if (!ru->tv || !ru->vha || !ru->vhb || !ru->hashed || !ru->pend) {
        cur_ru_destroy(ru);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (ru->ndefs == 0) {
        cur_ru_destroy(ru);
        return 0;
    }
    *out = ru;
    return 0;
}

int cur_ru_load(PGconn *c, const char *event_type, const cur_model *m, const char *dt, cur_ru **out,
                struct wr_err *err)
{
    *out = NULL;
    const char *p[1] = {event_type};
    PGresult *r =
        reg_exec(c, PGRES_TUPLES_OK, err,
                 "SELECT json_build_object('name', name, 'event_type', event_type, 'grain', grain, "
                 "'dimensions', dimensions, 'metrics', metrics)::text FROM rollups "
                 "WHERE event_type = $1 AND active ORDER BY name",
                 1, p);
    if (!r) {
        return WR_EDB;
    }
    size_t n = (size_t)PQntuples(r);
    json_t **defs = calloc(n + 1, sizeof *defs);
    int rc = defs ? 0 : wr_err_set(err, WR_ENOMEM, "out of memory");
    size_t got = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_error_t je;
        defs[got] = json_loads(PQgetvalue(r, (int)i, 0), 0, &je);
        if (defs[got]) {
            got++;
        }
    }
    PQclear(r);
    if (rc == 0 && got) {
        rc = cur_ru_create((const json_t *const *)defs, got, m, dt, out, err);
    }
    for (size_t i = 0; i < got; i++) {
        json_decref(defs[i]);
    }
    free(defs);
    return rc;
}

static void typed(const struct js_val *v, int kind, const char *line, struct val *o)
{
    memset(o, 0, sizeof *o);
    if (!v || v->type == JS_NULL) {
        return;
    }
    switch (kind) {
    case CUR_K_INT:
        if (v->type == JS_INT) {
            o->t = 1;
            o->i = v->u.i;
        } else if (v->type == JS_REAL && !(v->flags & JS_F_BIGINT) && v->u.d >= -9.2e18 &&
                   v->u.d <= 9.2e18 && (double)(int64_t)v->u.d == v->u.d) {
            o->t = 1;
            o->i = (int64_t)v->u.d;
        }
        return;
    case CUR_K_DOUBLE:
        if (v->type == JS_INT || v->type == JS_REAL) {
            o->t = 2;
            o->d = v->type == JS_INT ? (double)v->u.i : v->u.d;
            if (o->d == 0) {
                o->d = 0; /* -0 groups with 0 */
            }
        }
        return;
    case CUR_K_BOOL:
        if (v->type == JS_TRUE || v->type == JS_FALSE) {
            o->t = 3;
            o->i = v->type == JS_TRUE;
        }
        return;
    case CUR_K_STRING:
        if (v->type == JS_STRING) {
            o->t = 4;
            o->s = v->u.s;
            o->n = v->n;
        }
        return;
    case CUR_K_TS:
        if (v->type == JS_STRING && wr_time_parse_rfc3339(v->u.s, v->n, &o->i)) {
            o->t = 6;
        }
        return;
    default:
        if (v->type == JS_STRING) {
            o->t = 4;
            o->s = v->u.s;
            o->n = v->n;
        } else if (v->type == JS_INT) {
            o->t = 1;
            o->i = v->u.i;
        } else if (v->type == JS_REAL) {
            o->t = 2;
            o->d = v->u.d == 0 ? 0 : v->u.d;
        } else if (v->type == JS_TRUE || v->type == JS_FALSE) {
            o->t = 3;
            o->i = v->type == JS_TRUE;
        } else {
            o->t = 5;
            o->s = line + v->src_off;
            o->n = v->src_len;
        }
        return;
    }
}

/* Appends a typed value to a key: tag, then 8 bytes or length + bytes. */
static void key_put(struct wr_buf *b, const struct val *v)
{
    wr_buf_putc(b, (char)v->t);
    if (v->t == 1 || v->t == 3 || v->t == 6) {
        wr_buf_append(b, &v->i, 8);
    } else if (v->t == 2) {
        wr_buf_append(b, &v->d, 8);
    } else if (v->t == 4 || v->t == 5) {
        uint32_t n = (uint32_t)v->n;
        wr_buf_append(b, &n, 4);
        wr_buf_append(b, v->s, v->n);
    }
}

static int grow_table(struct ru_def *d)
{
    size_t nslots = (d->tmask + 1) * 2;
    uint32_t *t = calloc(nslots, sizeof *t);
    uint64_t *h = calloc(nslots, sizeof *h);
    if (!t || !h) {
        free(t);
        free(h);
        return WR_ENOMEM;
    }
    for (size_t i = 0; i <= d->tmask; i++) {
        if (d->table[i]) {
            size_t j = d->thash[i] & (nslots - 1);
            while (t[j]) {
                j = (j + 1) & (nslots - 1);
            }
            t[j] = d->table[i];
            h[j] = d->thash[i];
        }
    }
    free(d->table);
    free(d->thash);
    d->table = t;
    d->thash = h;
    d->tmask = nslots - 1;
    return 0;
}

/* The group of key k (created when new). Returns its index, or WR_ENOMEM. */
static int64_t group_of(struct ru_def *d, const char *k, size_t kn)
{
    uint64_t ha, hb;
    cur__hash128(k, kn, &ha, &hb);
    size_t i = ha & d->tmask;
    for (;;) {
        uint32_t g = d->table[i];
        if (!g) {
            break;
        }
        if (d->thash[i] == ha) {
            size_t o = d->koff[g - 1], n = d->koff[g] - o;
            if (n == kn && memcmp(d->keys.p + o, k, kn) == 0) {
                return g - 1;
            }
        }
        i = (i + 1) & d->tmask;
    }
    if (d->ngroups >= UINT32_MAX - 1) {
        return WR_ELIMIT;
    }
    if (d->ngroups + 1 > d->capgroups) {
        size_t nc = d->capgroups ? d->capgroups * 2 : 64;
        size_t *ko = realloc(d->koff, (nc + 1) * sizeof *ko);
        if (ko) {
            d->koff = ko;
        }
        struct acc *ac = ko ? realloc(d->accs, nc * d->nmet * sizeof *ac) : NULL;
        if (!ac) {
            return WR_ENOMEM;
        }
        d->accs = ac;
        d->capgroups = nc;
    }
    if (wr_buf_append(&d->keys, k, kn) != 0) {
        return WR_ENOMEM;
    }
    size_t g = d->ngroups++;
    d->koff[g + 1] = d->keys.len;
    memset(&d->accs[g * d->nmet], 0, d->nmet * sizeof *d->accs);
    d->table[i] = (uint32_t)g + 1;
    d->thash[i] = ha;
    if (d->ngroups * 4 > (d->tmask + 1) * 3 && grow_table(d) != 0) {
        return WR_ENOMEM;
    }
    return (int64_t)g;
}

/* The value of field f in the row. */
static const struct js_val *field_value(struct ru_field *f, const struct lake_env_view *ev)
{
    if (f->src == RU_ENV) {
        return ev->f[env_fields[f->idx].field];
    }
    if (f->src == RU_CONTEXT) {
        const struct js_val *c = ev->f[LAKE_ENV_CONTEXT];
        if (!c || c->type != JS_OBJECT) {
            return NULL;
        }
        const char *o = ctx_fields[f->idx].obj, *mb = ctx_fields[f->idx].member;
        if (o) {
            c = js_get(c, o, strlen(o));
        }
        return c ? js_get(c, mb, strlen(mb)) : NULL;
    }
    const struct js_val *p = ev->f[LAKE_ENV_PAYLOAD];
    if (!p || p->type != JS_OBJECT) {
        return NULL;
    }
    const struct js_member *m = p->u.members;
    if (f->pos < p->n && m[f->pos].name_len == f->plen &&
        memcmp(m[f->pos].name, f->prop, f->plen) == 0) {
        return &m[f->pos].val;
    }
    for (uint32_t i = 0; i < p->n; i++) {
        if (m[i].name_len == f->plen && memcmp(m[i].name, f->prop, f->plen) == 0) {
            f->pos = i;
            return &m[i].val;
        }
    }
    return NULL;
}

/* The 128-bit hash of (group g, value of field f): the value's hash is computed once per
 * row, then mixed with g; for one g the map is a bijection of the value's hash, and two
 * groups meet only when both 64-bit halves collide. */
static void distinct_hash(cur_ru *ru, size_t f, uint32_t g, uint64_t *a, uint64_t *b)
{
    if (!ru->hashed[f]) {
        wr_buf_clear(&ru->tmp);
        key_put(&ru->tmp, &ru->tv[f]);
        cur__hash128(ru->tmp.p, ru->tmp.len, &ru->vha[f], &ru->vhb[f]);
        ru->hashed[f] = 1;
    }
    uint64_t x = (uint64_t)g + 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    *a = ru->vha[f] ^ x;
    *b = ru->vhb[f] + (x * 0xd6e8feb86659fd93ULL) + 1;
    if (*a == 0 && *b == 0) {
        *a = 1;
    }
}

int cur__ru_row(cur_ru *ru, const struct lake_env_view *ev, const char *line, int64_t received_us,
                struct wr_err *err)
{
    for (size_t i = 0; i < ru->nfields; i++) {
        typed(field_value(&ru->fields[i], ev), ru->fields[i].kind, line, &ru->tv[i]);
        ru->hashed[i] = 0;
    }
    int64_t hr = (received_us - ru->day_us) / 3600000000LL;
    hr = hr < 0 ? 0 : hr > 23 ? 23 : hr;
    size_t np = 0;
    for (size_t di = 0; di < ru->ndefs; di++) {
        struct ru_def *d = &ru->defs[di];
        wr_buf_clear(&ru->key);
        wr_buf_putc(&ru->key, (char)(d->hour ? hr : 0));
        for (size_t k = 0; k < d->ndims; k++) {
            key_put(&ru->key, &ru->tv[d->dims[k]]);
        }
        if (ru->key.err) {
            return wr_err_set(err, ru->key.err, "rollup '%s': a group key is too long", d->name);
        }
        int64_t g = group_of(d, ru->key.p, ru->key.len);
        if (g < 0) {
            return wr_err_set(err, (int)g, "rollup '%s': out of memory (%zu groups)", d->name,
                              d->ngroups);
        }
        struct acc *a = &d->accs[(size_t)g * d->nmet];
        for (size_t k = 0; k < d->nmet; k++) {
            struct ru_metric *mt = &d->met[k];
            if (mt->field < 0) {
                a[k].i++;
                continue;
            }
            const struct val *v = &ru->tv[mt->field];
            if (v->t == 0) {
                continue;
            }
            if (mt->fn == RU_COUNT) {
                a[k].i++;
            } else if (mt->fn == RU_COUNT_DISTINCT) {
                /* the sets are mostly cache misses: prefetch now, insert after the loop */
                struct pend *p = &ru->pend[np++];
                distinct_hash(ru, (size_t)mt->field, (uint32_t)g, &p->a, &p->b);
                p->set = mt->set;
                p->acc = &a[k];
                cur__idset_prefetch(p->set, p->a);
            } else if (v->t == 1 || v->t == 2) {
                double x = v->t == 1 ? (double)v->i : v->d;
                if (mt->fn == RU_SUM) {
                    a[k].d += x;
                    if (mt->as_int && !a[k].dbl && __builtin_add_overflow(a[k].i, v->i, &a[k].i)) {
                        a[k].dbl = 1; /* past int64: the double sum from here on */
                    }
                } else if (!a[k].has ||
                           (mt->as_int ? (mt->fn == RU_MIN ? v->i < a[k].i : v->i > a[k].i)
                                       : (mt->fn == RU_MIN ? x < a[k].d : x > a[k].d))) {
                    a[k].d = x;
                    a[k].i = v->i;
                }
                a[k].has = 1;
            }
        }
    }
    /* each definition's accs array was last grown by its own group_of above: stable now */
    for (size_t i = 0; i < np; i++) {
        int rc = cur__idset_add_hash(ru->pend[i].set, ru->pend[i].a, ru->pend[i].b);
        if (rc < 0) {
            return wr_err_set(err, rc, "rollups: out of memory (distinct values)");
        }
        ru->pend[i].acc->i += rc;
    }
    return 0;
}

void cur__ru_hour_end(cur_ru *ru)
{
    /* no later row falls in a closed hour's bucket: hour-grain sets start empty, at the size
     * the last hour needed */
    for (size_t di = 0; ru && di < ru->ndefs; di++) {
        struct ru_def *d = &ru->defs[di];
        for (size_t k = 0; d->hour && k < d->nmet; k++) {
            if (d->met[k].set && cur_idset_count(d->met[k].set) > 0) {
                cur__idset_clear(d->met[k].set);
            }
        }
    }
}

/* ---- output ------------------------------------------------------------------------------ */

/* Reads one typed value back from a key. */
static const char *key_get(const char *p, struct val *v)
{
    memset(v, 0, sizeof *v);
    v->t = (uint8_t)*p++;
    if (v->t == 1 || v->t == 3 || v->t == 6) {
        memcpy(&v->i, p, 8);
        p += 8;
    } else if (v->t == 2) {
        memcpy(&v->d, p, 8);
        p += 8;
    } else if (v->t == 4 || v->t == 5) {
        uint32_t n;
        memcpy(&n, p, 4);
        v->s = p + 4;
        v->n = n;
        p += 4 + n;
    }
    return p;
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" of microseconds since the epoch. */
static void fmt_us(int64_t us, char out[40])
{
    int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - s * 1000000;
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sod = s - days * 86400, y;
    unsigned m, d;
    wr_civil_from_days(days, &y, &m, &d);
    if (frac) {
        snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", (int)(y % 100000), m % 100,
                 d % 100, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
    } else {
        snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)(y % 100000), m % 100, d % 100,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    }
}

static json_t *val_json(const struct val *v)
{
    char ts[40];
    switch (v->t) {
    case 1: return json_integer(v->i);
    case 2: return json_real(v->d);
    case 3: return json_boolean(v->i);
    case 4: return json_stringn(v->s, v->n);
    case 5: {
        json_t *j = json_loadb(v->s, v->n, JSON_DECODE_ANY, NULL);
        return j ? j : json_null();
    }
    case 6: fmt_us(v->i, ts); return json_string(ts);
    default: return json_null();
    }
}

static json_t *acc_json(const struct ru_metric *mt, const struct acc *a)
{
    if (mt->fn == RU_COUNT || mt->fn == RU_COUNT_DISTINCT) {
        return json_integer(a->i);
    }
    if (!a->has) {
        return json_null();
    }
    if (mt->fn == RU_SUM) {
        if (mt->as_int && !a->dbl) {
            return json_integer(a->i);
        }
        return isfinite(a->d) ? json_real(a->d) : json_null();
    }
    return mt->as_int ? json_integer(a->i) : json_real(a->d);
}

/* Group order: by key bytes (the bucket first), so every run writes the same rows in the same
 * order. */
static _Thread_local const struct ru_def *sort_def;

static int group_cmp(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    const struct ru_def *d = sort_def;
    size_t an = d->koff[a + 1] - d->koff[a], bn = d->koff[b + 1] - d->koff[b];
    int c = memcmp(d->keys.p + d->koff[a], d->keys.p + d->koff[b], an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* The groups of d in output order (caller frees); sort_def is per thread for the comparator. */
static size_t *sorted_groups(const struct ru_def *d)
{
    size_t *o = malloc((d->ngroups + 1) * sizeof *o);
    if (!o) {
        return NULL;
    }
    for (size_t g = 0; g < d->ngroups; g++) {
        o[g] = g;
    }
    sort_def = d;
    qsort(o, d->ngroups, sizeof *o, group_cmp);
    return o;
}

/* COPY text format: backslash doubled; JSON text has no raw tab or line break. */
static void copy_escape(struct wr_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\') {
            wr_buf_putc(b, '\\');
        }
        wr_buf_putc(b, *s);
    }
}

int cur_ru_store(cur_ru *ru, PGconn *c, struct wr_err *err)
{
    struct wr_buf names;
    wr_buf_init(&names, 1u << 20);
    wr_buf_putc(&names, '{');
    for (size_t i = 0; i < ru->ndefs; i++) {
        wr_buf_printf(&names, "%s%s", i ? "," : "", ru->defs[i].name);
    }
    wr_buf_putc(&names, '}');
    if (names.err) {
        wr_buf_free(&names);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    const char *p[2] = {names.p, ru->dt};
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err,
                           "DELETE FROM rollup_values WHERE name = ANY($1::text[]) "
                           "AND bucket >= ($2::date)::timestamp AT TIME ZONE 'UTC' "
                           "AND bucket < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'",
                           2, p);
    wr_buf_free(&names);
    if (!r) {
        return WR_EDB;
    }
    PQclear(r);
    r = PQexec(c, "COPY rollup_values (name, bucket, dimensions, metrics) FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = wr_err_set(err, WR_EDB, "rollup_values: %s", PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    int rc = 0;
    struct wr_buf b;
    wr_buf_init(&b, (size_t)1 << 32);
    for (size_t di = 0; rc == 0 && di < ru->ndefs; di++) {
        struct ru_def *d = &ru->defs[di];
        size_t *order = sorted_groups(d);
        if (!order) {
            rc = wr_err_set(err, WR_ENOMEM, "out of memory");
            break;
        }
        for (size_t oi = 0; rc == 0 && oi < d->ngroups; oi++) {
            size_t g = order[oi];
            const char *k = d->keys.p + d->koff[g];
            char bucket[40];
            fmt_us(ru->day_us + (int64_t)(unsigned char)k[0] * 3600000000LL, bucket);
            k++;
            json_t *dims = json_object(), *mets = json_object();
            for (size_t x = 0; x < d->ndims; x++) {
                struct val v;
                k = key_get(k, &v);
                json_object_set_new(dims, ru->fields[d->dims[x]].text, val_json(&v));
            }
            for (size_t x = 0; x < d->nmet; x++) {
                json_object_set_new(mets, d->met[x].key,
                                    acc_json(&d->met[x], &d->accs[g * d->nmet + x]));
            }
            char *ds = json_dumps(dims, JSON_COMPACT | JSON_PRESERVE_ORDER);
            char *ms = json_dumps(mets, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(dims);
            json_decref(mets);
            if (!ds || !ms) {
                rc = wr_err_set(err, WR_ENOMEM, "out of memory");
            } else {
                wr_buf_printf(&b, "%s\t%s\t", d->name, bucket);
                copy_escape(&b, ds);
                wr_buf_putc(&b, '\t');
                copy_escape(&b, ms);
                wr_buf_putc(&b, '\n');
            }
            free(ds);
            free(ms);
            if (rc == 0 && b.err) {
                rc = wr_err_set(err, b.err, "out of memory");
            }
            if (rc == 0 && (b.len >= (1u << 20) || oi + 1 == d->ngroups)) {
                if (PQputCopyData(c, b.p, (int)b.len) != 1) {
                    rc = wr_err_set(err, WR_EDB, "rollup_values: %s", PQerrorMessage(c));
                }
                wr_buf_clear(&b);
            }
        }
        free(order);
    }
    wr_buf_free(&b);
    if (PQputCopyEnd(c, rc ? "weir: rollups failed" : NULL) != 1 && rc == 0) {
        rc = wr_err_set(err, WR_EDB, "rollup_values: %s", PQerrorMessage(c));
    }
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            rc = wr_err_set(err, WR_EDB, "rollup_values: %s", PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    return rc;
}

/* A Parquet column of a field's kind (no schema: JSON text). */
static void kind_col(int kind, struct pq_column *c)
{
    cur__kind_column(kind == RU_K_ANY ? CUR_K_JSON : (enum cur_kind)kind, c);
}

/* Puts a dimension value into its column (a value of another type than the column, possible
 * only without a schema, is written as its JSON text). */
static int put_val(pq_writer *w, size_t col, const struct pq_column *c, const struct val *v,
                   struct wr_buf *tmp)
{
    if (v->t == 0) {
        return 0;
    }
    if (c->type == PQ_INT64 && (v->t == 1 || v->t == 6)) {
        return pq_writer_put_int64(w, col, v->i);
    }
    if (c->type == PQ_DOUBLE && v->t == 2) {
        return pq_writer_put_double(w, col, v->d);
    }
    if (c->type == PQ_BOOLEAN && v->t == 3) {
        return pq_writer_put_bool(w, col, (int)v->i);
    }
    if (c->logical == PQ_LT_STRING && v->t == 4) {
        return pq_writer_put_str(w, col, v->s, v->n);
    }
    if (c->logical == PQ_LT_JSON) {
        json_t *j = val_json(v);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(j);
        if (!s) {
            return WR_ENOMEM;
        }
        wr_buf_clear(tmp);
        wr_buf_append(tmp, s, strlen(s));
        free(s);
        return tmp->err ? tmp->err : pq_writer_put_str(w, col, tmp->p, tmp->len);
    }
    return 0;
}

static int write_def(cur_ru *ru, struct ru_def *d, lake_store *st, const struct cur_config *cfg,
                     struct wr_err *err)
{
    char key[512];
    snprintf(key, sizeof key, "curated/rollups/%s/dt=%s/part-0.parquet", d->name, ru->dt);
    struct pq_column cols[1 + RU_MAX_DIMS + RU_MAX_METRICS];
    size_t nc = 0;
    cols[nc++] = (struct pq_column){"bucket", PQ_INT64, PQ_LT_TIMESTAMP_US, 0, PQ_ENC_AUTO};
    for (size_t x = 0; x < d->ndims; x++) {
        kind_col(ru->fields[d->dims[x]].kind, &cols[nc]);
        cols[nc++].name = d->dimcol[x];
    }
    for (size_t x = 0; x < d->nmet; x++) {
        const struct ru_metric *mt = &d->met[x];
        if (mt->fn == RU_COUNT || mt->fn == RU_COUNT_DISTINCT) {
            cols[nc] = (struct pq_column){NULL, PQ_INT64, PQ_LT_INT, 0, PQ_ENC_AUTO};
        } else {
            kind_col(mt->as_int ? CUR_K_INT : CUR_K_DOUBLE, &cols[nc]);
        }
        cols[nc++].name = mt->col;
    }
    struct pq_opts o = {0};
    o.codec = cfg->codec;
    o.level = cfg->level;
    o.build = "curator";
    struct pq_schema s = {cols, nc};
    struct cur_pqfile pf;
    int rc = cur__pqfile_open(&pf, cfg->tmp_dir, "urollup", &s, &o, err);
    if (rc != 0) {
        return rc;
    }
    pq_writer *w = pf.w;
    size_t *order = sorted_groups(d);
    if (rc == 0 && !order) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (size_t oi = 0; rc == 0 && oi < d->ngroups; oi++) {
        size_t g = order[oi];
        const char *k = d->keys.p + d->koff[g];
        rc = pq_writer_put_int64(w, 0, ru->day_us + (int64_t)(unsigned char)k[0] * 3600000000LL);
        k++;
        for (size_t x = 0; rc == 0 && x < d->ndims; x++) {
            struct val v;
            k = key_get(k, &v);
            rc = put_val(w, 1 + x, &cols[1 + x], &v, &ru->tmp);
            if (rc == WR_ELIMIT) {
                rc = 0; /* one oversized value: null, as curation does */
            }
        }
        for (size_t x = 0; rc == 0 && x < d->nmet; x++) {
            const struct ru_metric *mt = &d->met[x];
            const struct acc *a = &d->accs[g * d->nmet + x];
            size_t col = 1 + d->ndims + x;
            if (mt->fn == RU_COUNT || mt->fn == RU_COUNT_DISTINCT) {
                rc = pq_writer_put_int64(w, col, a->i);
            } else if (!a->has) {
                continue;
            } else if (mt->as_int && (mt->fn != RU_SUM || !a->dbl)) {
                rc = pq_writer_put_int64(w, col, a->i);
            } else if (mt->as_int) {
                continue; /* an integer sum past int64: null here, the number in Postgres */
            } else if (isfinite(a->d)) {
                rc = pq_writer_put_double(w, col, a->d);
            }
        }
        rc = rc ? rc : pq_writer_end_row(w);
        if (rc) {
            wr_err_set(err, rc, "rollup '%s' parquet: %s", d->name, pq_writer_errmsg(w));
        }
    }
    free(order);
    if (rc == 0) {
        rc = cur__pqfile_seal(&pf, NULL, err);
    }
    return cur__pqfile_finish(&pf, rc, st, key, err);
}

int cur_ru_write(cur_ru *ru, lake_store *st, const struct cur_config *cfg, uint64_t *files,
                 struct wr_err *err)
{
    for (size_t i = 0; i < ru->ndefs; i++) {
        int rc = write_def(ru, &ru->defs[i], st, cfg, err);
        if (rc) {
            return rc;
        }
        if (files) {
            (*files)++;
        }
    }
    return 0;
}
