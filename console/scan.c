/* scan.c - listings, the scan budget and gzip reads of one console query (scan.h). */
#include "console/scan.h"

#include "common/clock.h"

#include <stdlib.h>
#include <string.h>

static int list_cb(void *arg, const char *key, uint64_t size)
{
    struct con_objs *o = arg;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        struct con_obj *v = realloc(o->v, cap * sizeof *v);
        if (!v) {
            return WR_ENOMEM;
        }
        o->v = v;
        o->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        return WR_ENOMEM;
    }
    o->v[o->n++] = (struct con_obj){k, size};
    return 0;
}

int con_objs_list(lake_store *st, const char *prefix, struct con_objs *o, struct wr_err *err)
{
    int rc = lake_store_list(st, prefix, list_cb, o, err);
    if (rc == WR_ENOENT) {
        return 0;
    }
    if (rc == WR_ENOMEM) {
        wr_err_set(err, WR_ENOMEM, "out of memory listing %s", prefix);
    }
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(((const struct con_obj *)b)->key, ((const struct con_obj *)a)->key);
}

void con_objs_sort_desc(struct con_objs *o)
{
    if (o->n > 1) {
        qsort(o->v, o->n, sizeof o->v[0], cmp_desc);
    }
}

void con_objs_free(struct con_objs *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].key);
    }
    free(o->v);
    memset(o, 0, sizeof *o);
}

void con_budget_init(struct con_budget *b, const struct con_config *cfg)
{
    memset(b, 0, sizeof *b);
    b->max_bytes = cfg->max_scan_bytes;
    b->max_rows = cfg->max_scan_rows;
    b->max_files = cfg->max_scan_files;
    b->deadline_ns = wr_time_mono_ns() + cfg->max_query_ms * 1000000;
}

bool con_budget_file(struct con_budget *b, uint64_t bytes)
{
    if (b->stopped) {
        return false;
    }
    if (b->files + 1 > b->max_files) {
        b->stopped = "scan_files";
    } else if (b->bytes + bytes > b->max_bytes) {
        b->stopped = "scan_bytes";
    } else if (wr_time_mono_ns() > b->deadline_ns) {
        b->stopped = "time";
    } else {
        b->files++;
        b->bytes += bytes;
        return true;
    }
    return false;
}

bool con_budget_rows(struct con_budget *b, uint64_t rows)
{
    b->rows += rows;
    if (b->stopped) {
        return false;
    }
    if (b->rows > b->max_rows) {
        b->stopped = "scan_rows";
    } else if ((b->rows & 0xffff) < rows && wr_time_mono_ns() > b->deadline_ns) {
        b->stopped = "time";
    }
    return !b->stopped;
}

int con_read_gz(lake_store *st, wr_inflater *z, const char *key, uint64_t max_bytes,
                struct wr_buf *raw, struct wr_buf *out, struct wr_err *err)
{
    wr_buf_clear(raw);
    wr_buf_clear(out);
    raw->err = 0;
    out->err = 0;
    out->max_len = (size_t)max_bytes;
    int rc = lake_store_get(st, key, raw, err);
    if (rc != 0) {
        return rc;
    }
    rc = wr_inflate_gzip(z, raw->p, raw->len, WR_INFLATE_KEEP_PREFIX, out);
    if (rc == WR_EINVAL) {
        wr_err_set(err, WR_EINVAL,
                   "not valid gzip (truncated or damaged): the readable "
                   "part was used");
        return 1;
    }
    if (rc == WR_ELIMIT) {
        return wr_err_set(err, WR_ELIMIT, "inflates to more than %llu bytes: skipped",
                          (unsigned long long)max_bytes);
    }
    if (rc != 0) {
        return wr_err_set(err, rc, "out of memory inflating");
    }
    return 0;
}

void con_bad_file(json_t *bad, const char *key, const char *msg)
{
    json_array_append_new(bad, json_pack("{s:s,s:o*}", "file", key, "error", json_string(msg)));
}
