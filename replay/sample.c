/* sample.c - the dry run of a candidate schema version on real traffic (evolution.md,
 * step 3): the accepted raw events of one type from the last hours, newest first. */
#include "common/array.h"
#include "replay.h"

#include "rpl_int.h"

#include "common/arena.h"
#include "common/log.h"
#include "lake/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 256
#define MAX_OBJECT_BYTES (128u << 20)

struct keys {
    char **k;
    size_t n, cap;
};

static int collect(void *arg, const char *key, uint64_t size)
{
    (void)size;
    struct keys *ks = arg;
    if (wr_array_grow(&ks->k, &ks->cap, ks->n + 1, sizeof *ks->k, 64, 0) != 0) {
        return WR_ENOMEM;
    }
    if (!(ks->k[ks->n] = strdup(key))) {
        return WR_ENOMEM;
    }
    ks->n++;
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

struct tally {
    struct rpl_sample_error e[MAX_KEYS];
    size_t n;
};

static void tally_add(struct tally *t, const char *path, const char *kw, const char *id, size_t idn)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->e[i].instance_path, path) == 0 && strcmp(t->e[i].keyword, kw) == 0) {
            t->e[i].count++;
            return;
        }
    }
    if (t->n == MAX_KEYS) {
        return;
    }
    struct rpl_sample_error *e = &t->e[t->n++];
    /* Cut to the fields' sizes on purpose: the report shows a prefix of a long path. */
    snprintf(e->instance_path, sizeof e->instance_path, "%.*s", (int)(sizeof e->instance_path - 1),
             path);
    snprintf(e->keyword, sizeof e->keyword, "%.*s", (int)(sizeof e->keyword - 1), kw);
    snprintf(e->example_event_id, sizeof e->example_event_id, "%.*s", (int)idn, id ? id : "");
    e->count = 1;
}

static int cmp_count(const void *a, const void *b)
{
    const struct rpl_sample_error *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

int rpl_sample(lake_store *st, const val_schema *schema, const struct rpl_sample_opts *o,
               struct rpl_sample_result *res, struct wr_err *err)
{
    memset(res, 0, sizeof *res);
    int hours = o->hours > 0 ? o->hours : 24;
    long long max = o->max > 0 ? o->max : 100000;
    res->hours = hours;
    struct tally *t = calloc(1, sizeof *t);
    wr_arena *a = wr_arena_create(64u << 10, (size_t)64 << 20);
    struct wr_buf obj;
    wr_buf_init(&obj, MAX_OBJECT_BYTES);
    int rc = 0;
    if (!t || !a) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    int64_t now_s = o->now_ms / 1000;
    /* The hours of [now - hours, now], newest first. */
    for (int h = 0; rc == 0 && h <= hours && res->events < max; h++) {
        int64_t at = now_s - (int64_t)h * 3600;
        char prefix[LAKE_PATH_MAX];
        rc = lake_path_raw(prefix, sizeof prefix, o->event_type, at, "x");
        if (rc != 0) {
            wr_err_set(err, rc, "'%s' is not an event type", o->event_type);
            break;
        }
        prefix[strlen(prefix) - 1] = '\0'; /* ".../hr=HH/" */
        struct keys ks = {0};
        rc = lake_store_list(st, prefix, collect, &ks, err);
        if (rc == WR_ENOMEM) {
            wr_err_set(err, rc, "out of memory");
        }
        if (rc == 0 && ks.n) {
            qsort(ks.k, ks.n, sizeof *ks.k, cmp_desc);
        }
        for (size_t i = 0; rc == 0 && i < ks.n && res->events < max; i++) {
            wr_buf_clear(&obj);
            int grc = lake_store_get(st, ks.k[i], &obj, err);
            if (grc == WR_ENOENT || grc == WR_ELIMIT) {
                res->broken_files += grc == WR_ELIMIT;
                continue;
            }
            if (grc != 0) {
                rc = grc;
                break;
            }
            struct rpl_lines lr;
            if (rpl_lines_open(&lr, obj.p, obj.len, 8u << 20) != 0) {
                rc = wr_err_set(err, WR_ENOMEM, "out of memory");
                break;
            }
            const char *p;
            size_t n;
            int lrc = 0;
            while (res->events < max && (lrc = rpl_lines_next(&lr, &p, &n)) == 1) {
                wr_arena_reset(a);
                struct lake_env_view v;
                struct js_error je;
                const struct js_val *payload = NULL, *id = NULL;
                if (lake_env_parse(a, p, n, &v, &je) == 0) {
                    payload = v.f[LAKE_ENV_PAYLOAD];
                    id = v.f[LAKE_ENV_EVENT_ID];
                }
                if (!payload) {
                    res->broken_lines++;
                    continue;
                }
                res->events++;
                if (val_is_valid(schema, payload)) {
                    continue;
                }
                res->would_reject++;
                struct val_result vr;
                const char *ids = id && id->type == JS_STRING ? id->u.s : NULL;
                size_t idn = ids ? id->n : 0;
                if (val_validate(schema, payload, a, 1, &vr) == 0 && vr.n_errors) {
                    char path[300];
                    snprintf(path, sizeof path, "/payload%s", vr.errors[0].instance_path);
                    tally_add(t, path, vr.errors[0].keyword, ids, idn);
                } else {
                    tally_add(t, "/payload", "", ids, idn);
                }
            }
            if (res->events < max && lrc < 0) {
                res->broken_files++;
                WR_WARN("schema dry run: broken gzip in %s: the rest is skipped", ks.k[i]);
            }
            res->broken_lines += (long long)lr.too_long;
            rpl_lines_close(&lr);
        }
        for (size_t i = 0; i < ks.n; i++) {
            free(ks.k[i]);
        }
        free(ks.k);
    }
    if (rc == 0 && t) {
        if (t->n) {
            qsort(t->e, t->n, sizeof t->e[0], cmp_count);
        }
        res->n_top = t->n < RPL_SAMPLE_TOP ? t->n : RPL_SAMPLE_TOP;
        memcpy(res->top, t->e, res->n_top * sizeof t->e[0]);
    }
    free(t);
    wr_arena_destroy(a);
    wr_buf_free(&obj);
    return rc;
}

int rpl_sample_json(const struct rpl_sample_result *res, struct wr_buf *out)
{
    int rc =
        wr_buf_printf(out, "{\"hours\":%d,\"events\":%lld,\"would_reject\":%lld,\"top_errors\":[",
                      res->hours, res->events, res->would_reject);
    for (size_t i = 0; i < res->n_top; i++) {
        const struct rpl_sample_error *e = &res->top[i];
        rc |= wr_buf_printf(out, "%s{\"instance_path\":\"", i ? "," : "");
        rc |= wr_buf_json_escape(out, e->instance_path, strlen(e->instance_path));
        rc |= wr_buf_append(out, "\",\"keyword\":\"", sizeof "\",\"keyword\":\"" - 1);
        rc |= wr_buf_json_escape(out, e->keyword, strlen(e->keyword));
        rc |= wr_buf_printf(out, "\",\"count\":%lld,\"example_event_id\":\"", e->count);
        rc |= wr_buf_json_escape(out, e->example_event_id, strlen(e->example_event_id));
        rc |= wr_buf_append(out, "\"}", sizeof "\"}" - 1);
    }
    rc |= wr_buf_append(out, "]}", sizeof "]}" - 1);
    return rc ? WR_ENOMEM : 0;
}
