/* pq_fixtures.c - writes the matrix of Parquet fixture files (every type, nulls, dictionary and
 * fallback, each codec, row groups, pages, empty, Unicode, extremes, NaN/±0, long strings) into
 * DIR, each with DIR/<name>.expect.json holding every value written and what the footer must
 * show; tests/tools/pq_check.mjs then reads them back with DuckDB and compares.
 *   pq_fixtures DIR */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "parquet/parquet.h"

enum kind {
    K_ID,        /* row number */
    K_TS,        /* increasing timestamps around 2026 */
    K_NAME,      /* strings from a small set: dictionary */
    K_JSON,      /* small JSON objects, some repeated */
    K_SCORE,     /* doubles */
    K_FLAG,      /* booleans */
    K_N32,       /* small ints */
    K_UNIQ,      /* unique strings: dictionary falls back */
    K_CYCLE,     /* 1000 distinct strings in a cycle */
    K_UNICODE,   /* multibyte strings incl. orderings where UTF-16 and UTF-8 disagree */
    K_I64X,      /* int64 extremes */
    K_DBLX,      /* NaN, ±0, ±inf, extremes */
    K_NANONLY,   /* NaN or null */
    K_NEGZERO,   /* -0.0 only */
    K_NONPOS,    /* negatives and +0.0 */
    K_LONG,      /* 100 B .. 100 KB strings */
    K_MAXCP,     /* strings of U+10FFFF: no truncated upper bound exists */
    K_TSX,       /* timestamps before 1970 and far ahead */
    K_CONST,     /* one value */
    K_EMPTY      /* the empty string */
};

struct fcol {
    struct pq_column c;
    enum kind k;
    int null_pct; /* percent of nulls for optional columns; 100 = all null */
};

struct fixture {
    const char *name;
    struct pq_opts o;
    const struct fcol *cols;
    size_t ncols;
    long rows;
    int min_row_groups;
    const char *dict_cols;     /* comma-separated: chunks that must have a dictionary page */
    const char *fallback_cols; /* ... and also PLAIN data pages */
    const char *plain_cols;    /* ... that must have no dictionary */
    int min_pages;             /* pages of the first column's first chunk at least */
    long flush_every;          /* pq_writer_flush after this many rows (0 = never) */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct val {
    int null;
    int64_t i;
    double d;
    int b;
    char *s;
    size_t slen;
};

static char sbuf[200000];

static const char *names[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta",
                              "theta", "", "iota kappa"};
static const char *unis[] = {"é", "ü", "日本語", "\xEF\xBD\x9E" /* U+FF5E */,
                             "\xF0\x9F\x98\x80" /* U+1F600 */, "a\"b\\c", "tab\there", "line\nbreak",
                             "\xC2\x80", "\x7F", "Zürich", "ø", "\xE2\x82\xAC" "100", "ascii"};

static void gen(const struct fcol *fc, long row, struct val *v)
{
    memset(v, 0, sizeof *v);
    if (fc->c.optional && fc->null_pct > 0 && (fc->null_pct >= 100 || (long)(rnd() % 100) < fc->null_pct)) {
        v->null = 1;
        return;
    }
    v->s = sbuf;
    switch (fc->k) {
    case K_ID:
        v->i = row;
        break;
    case K_TS:
        v->i = INT64_C(1795000000000000) + row * INT64_C(1500) + (int64_t)(rnd() % 1000);
        break;
    case K_NAME:
        v->slen = (size_t)snprintf(sbuf, sizeof sbuf, "%s", names[rnd() % 10]);
        break;
    case K_JSON:
        v->slen = (size_t)snprintf(sbuf, sizeof sbuf, "{\"k\":%d,\"tags\":[\"x\",\"y\"],\"n\":null}",
                                   (int)(rnd() % 50));
        break;
    case K_SCORE:
        v->d = ((double)(int64_t)(rnd() % 2000001) - 1000000.0) / 1024.0;
        break;
    case K_FLAG:
        v->b = (int)(rnd() % 3 == 0);
        break;
    case K_N32:
        v->i = (int32_t)(rnd() % 200000) - 100000;
        if (row == 3) {
            v->i = INT32_MIN;
        } else if (row == 4) {
            v->i = INT32_MAX;
        }
        break;
    case K_UNIQ:
        v->slen = (size_t)snprintf(sbuf, sizeof sbuf, "019%013" PRIx64 "-%08" PRIx64, (uint64_t)row,
                                   rnd() & 0xFFFFFFFF);
        break;
    case K_CYCLE:
        v->slen = (size_t)snprintf(sbuf, sizeof sbuf, "value-%04ld-%s", row % 1000,
                                   names[row % 10]);
        break;
    case K_UNICODE:
        v->slen = (size_t)snprintf(sbuf, sizeof sbuf, "%s%s", unis[rnd() % 14],
                                   row % 3 ? unis[rnd() % 14] : "");
        break;
    case K_I64X: {
        static const int64_t x[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1,
                                    4294967296LL, -4294967297LL};
        v->i = x[row % 9];
        break;
    }
    case K_DBLX: {
        static const double x[] = {0.0, -0.0, 1.5, -2.25, DBL_MAX, -DBL_MAX, DBL_MIN, 5e-324};
        long m = row % 11;
        v->d = m < 8 ? x[m] : m == 8 ? NAN : m == 9 ? INFINITY : -INFINITY;
        break;
    }
    case K_NANONLY:
        v->d = NAN;
        break;
    case K_NEGZERO:
        v->d = -0.0;
        break;
    case K_NONPOS:
        v->d = row % 2 ? 0.0 : -(double)(row % 7) - 0.5;
        break;
    case K_LONG: {
        size_t n = 100 + (size_t)(rnd() % 100000);
        for (size_t i = 0; i < n; i++) {
            sbuf[i] = (char)('a' + (rnd() % 26));
        }
        /* some share a 64-byte prefix, so the truncated bounds are tested */
        if (row % 3 == 0) {
            memset(sbuf, 'm', 70);
        }
        v->slen = n;
        break;
    }
    case K_MAXCP:
        for (int i = 0; i < 20; i++) {
            memcpy(sbuf + 4 * i, "\xF4\x8F\xBF\xBF", 4);
        }
        sbuf[80] = (char)('a' + row % 26);
        v->slen = 81;
        break;
    case K_TSX: {
        static const int64_t x[] = {-INT64_C(62135596800000000) + 1, -1, 0, 1,
                                    INT64_C(253402300799999999), -INT64_C(1000000)};
        v->i = x[row % 6];
        break;
    }
    case K_CONST:
        v->slen = (size_t)snprintf(sbuf, sizeof sbuf, "only");
        break;
    case K_EMPTY:
        v->slen = 0;
        break;
    }
}

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void json_val(FILE *f, const struct fcol *fc, const struct val *v)
{
    if (v->null) {
        fputs("null", f);
        return;
    }
    switch (fc->c.type) {
    case PQ_BOOLEAN:
        fputs(v->b ? "true" : "false", f);
        break;
    case PQ_INT32:
    case PQ_INT64:
        fprintf(f, "\"%" PRId64 "\"", v->i);
        break;
    case PQ_DOUBLE:
        if (isnan(v->d)) {
            fputs("\"NaN\"", f);
        } else if (isinf(v->d)) {
            fputs(v->d > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
        } else if (v->d == 0.0 && signbit(v->d)) {
            fputs("\"-0\"", f);
        } else {
            fprintf(f, "%.17g", v->d);
        }
        break;
    case PQ_BYTE_ARRAY:
        json_str(f, v->s, v->slen);
        break;
    }
}

static int file_write(void *arg, const void *p, size_t len)
{
    return fwrite(p, 1, len, arg) == len ? 0 : WR_EIO;
}

static int put(pq_writer *w, size_t col, const struct fcol *fc, const struct val *v)
{
    if (v->null) {
        return pq_writer_put_null(w, col);
    }
    switch (fc->c.type) {
    case PQ_BOOLEAN:
        return pq_writer_put_bool(w, col, v->b);
    case PQ_INT32:
        return pq_writer_put_int32(w, col, (int32_t)v->i);
    case PQ_INT64:
        return pq_writer_put_int64(w, col, v->i);
    case PQ_DOUBLE:
        return pq_writer_put_double(w, col, v->d);
    case PQ_BYTE_ARRAY:
        return pq_writer_put_str(w, col, v->s, v->slen);
    }
    return WR_EINVAL;
}

static const char *type_name(enum pq_type t)
{
    static const char *n[] = {"BOOLEAN", "INT32", "INT64", "DOUBLE", "BYTE_ARRAY"};
    return n[t];
}

static const char *lt_name(enum pq_logical l)
{
    static const char *n[] = {"NONE", "STRING", "JSON", "INT", "TIMESTAMP"};
    return n[l];
}

static int write_fixture(const char *dir, const struct fixture *fx)
{
    char path[1024], jpath[1024];
    snprintf(path, sizeof path, "%s/%s.parquet", dir, fx->name);
    snprintf(jpath, sizeof jpath, "%s/%s.expect.json", dir, fx->name);
    FILE *f = fopen(path, "wb");
    FILE *j = fopen(jpath, "w");
    if (!f || !j) {
        fprintf(stderr, "pq_fixtures: cannot create %s\n", path);
        return 1;
    }
    struct pq_column cols[64];
    for (size_t i = 0; i < fx->ncols; i++) {
        cols[i] = fx->cols[i].c;
    }
    struct pq_schema schema = {cols, fx->ncols};
    struct wr_err err = {0};
    pq_writer *w = pq_writer_create(&schema, &fx->o, file_write, f, &err);
    if (!w) {
        fprintf(stderr, "pq_fixtures: %s: %s\n", fx->name, err.msg);
        return 1;
    }
    static const char *codecs[] = {"ZSTD", "GZIP", "UNCOMPRESSED"};
    fprintf(j, "{\"file\":\"%s.parquet\",\"rows\":%ld,\"codec\":\"%s\",\"min_row_groups\":%d,"
               "\"min_pages\":%d,\"dict_cols\":\"%s\",\"fallback_cols\":\"%s\",\"plain_cols\":\"%s\","
               "\"stats_max_bytes\":%zu,\"kv\":{",
            fx->name, fx->rows, codecs[fx->o.codec], fx->min_row_groups, fx->min_pages,
            fx->dict_cols ? fx->dict_cols : "", fx->fallback_cols ? fx->fallback_cols : "",
            fx->plain_cols ? fx->plain_cols : "", fx->o.stats_max_bytes ? fx->o.stats_max_bytes : 64);
    for (size_t i = 0; i < fx->o.nkv; i++) {
        fprintf(j, "%s", i ? "," : "");
        json_str(j, fx->o.kv[i].key, strlen(fx->o.kv[i].key));
        fputc(':', j);
        json_str(j, fx->o.kv[i].value, strlen(fx->o.kv[i].value));
    }
    fputs("},\"columns\":[", j);
    for (size_t i = 0; i < fx->ncols; i++) {
        const struct pq_column *c = &fx->cols[i].c;
        fprintf(j, "%s{\"name\":\"%s\",\"type\":\"%s\",\"logical\":\"%s\",\"optional\":%s}",
                i ? "," : "", c->name, type_name(c->type), lt_name(c->logical),
                c->optional ? "true" : "false");
    }
    fputs("],\"values\":[", j);
    /* column-major values are what the checker wants, but rows are generated in order:
     * write rows as arrays and let the checker transpose */
    int rc = 0;
    for (long r = 0; r < fx->rows && rc == 0; r++) {
        fputs(r ? ",\n[" : "\n[", j);
        for (size_t i = 0; i < fx->ncols && rc == 0; i++) {
            struct val v;
            gen(&fx->cols[i], r, &v);
            rc = put(w, i, &fx->cols[i], &v);
            fputs(i ? "," : "", j);
            json_val(j, &fx->cols[i], &v);
        }
        fputc(']', j);
        if (rc == 0) {
            rc = pq_writer_end_row(w);
        }
        if (rc == 0 && fx->flush_every && (r + 1) % fx->flush_every == 0) {
            rc = pq_writer_flush(w);
        }
    }
    fputs("]}\n", j);
    if (rc == 0) {
        rc = pq_writer_close(w, &err);
    }
    if (rc != 0) {
        fprintf(stderr, "pq_fixtures: %s: %s (%s)\n", fx->name, pq_writer_errmsg(w), err.msg);
    }
    pq_writer_destroy(w);
    if (fclose(f) != 0 || fclose(j) != 0) {
        rc = 1;
    }
    return rc != 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct fcol all_types[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 0, 0}, K_ID, 0},
    {{"ts", PQ_INT64, PQ_LT_TIMESTAMP_US, 1, 0}, K_TS, 10},
    {{"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0}, K_NAME, 10},
    {{"payload", PQ_BYTE_ARRAY, PQ_LT_JSON, 1, 0}, K_JSON, 30},
    {{"score", PQ_DOUBLE, PQ_LT_NONE, 1, 0}, K_SCORE, 10},
    {{"flag", PQ_BOOLEAN, PQ_LT_NONE, 1, 0}, K_FLAG, 10},
    {{"n32", PQ_INT32, PQ_LT_INT, 1, 0}, K_N32, 10},
    {{"uniq", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_PLAIN}, K_UNIQ, 5},
};

static const struct fcol no_nulls[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 1, 0}, K_ID, 0},
    {{"ts", PQ_INT64, PQ_LT_TIMESTAMP_US, 1, 0}, K_TS, 0},
    {{"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0}, K_NAME, 0},
    {{"score", PQ_DOUBLE, PQ_LT_NONE, 1, 0}, K_SCORE, 0},
    {{"flag", PQ_BOOLEAN, PQ_LT_NONE, 1, 0}, K_FLAG, 0},
};

static const struct fcol required[] = {
    {{"id", PQ_INT64, PQ_LT_NONE, 0, 0}, K_ID, 0},
    {{"ts", PQ_INT64, PQ_LT_TIMESTAMP_US, 0, 0}, K_TS, 0},
    {{"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, 0}, K_NAME, 0},
    {{"payload", PQ_BYTE_ARRAY, PQ_LT_JSON, 0, 0}, K_JSON, 0},
    {{"score", PQ_DOUBLE, PQ_LT_NONE, 0, 0}, K_SCORE, 0},
    {{"flag", PQ_BOOLEAN, PQ_LT_NONE, 0, 0}, K_FLAG, 0},
    {{"n32", PQ_INT32, PQ_LT_NONE, 0, 0}, K_N32, 0},
};

static const struct fcol all_null[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 0, 0}, K_ID, 0},
    {{"ts", PQ_INT64, PQ_LT_TIMESTAMP_US, 1, 0}, K_TS, 100},
    {{"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0}, K_NAME, 100},
    {{"payload", PQ_BYTE_ARRAY, PQ_LT_JSON, 1, 0}, K_JSON, 100},
    {{"score", PQ_DOUBLE, PQ_LT_NONE, 1, 0}, K_SCORE, 100},
    {{"flag", PQ_BOOLEAN, PQ_LT_NONE, 1, 0}, K_FLAG, 100},
    {{"n32", PQ_INT32, PQ_LT_INT, 1, 0}, K_N32, 100},
};

static const struct fcol dict_cols[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 0, 0}, K_ID, 0},
    {{"cycle", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_DICT}, K_CYCLE, 5},
    {{"name", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_DICT}, K_NAME, 50},
    {{"uniq", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, PQ_ENC_DICT}, K_UNIQ, 0},
    {{"const", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, PQ_ENC_DICT}, K_CONST, 0},
};

static const struct fcol unicode[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 0, 0}, K_ID, 0},
    {{"s", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0}, K_UNICODE, 10},
    {{"p", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_PLAIN}, K_UNICODE, 10},
    {{"empty", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0}, K_EMPTY, 10},
    {{"empty_plain", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, PQ_ENC_PLAIN}, K_EMPTY, 0},
};

static const struct fcol extremes[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 0, 0}, K_ID, 0},
    {{"i64", PQ_INT64, PQ_LT_INT, 1, 0}, K_I64X, 5},
    {{"i64req", PQ_INT64, PQ_LT_NONE, 0, 0}, K_I64X, 0},
    {{"ts", PQ_INT64, PQ_LT_TIMESTAMP_US, 1, 0}, K_TSX, 5},
    {{"n32", PQ_INT32, PQ_LT_INT, 0, 0}, K_N32, 0},
};

static const struct fcol doubles[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 0, 0}, K_ID, 0},
    {{"dx", PQ_DOUBLE, PQ_LT_NONE, 1, 0}, K_DBLX, 5},
    {{"nan_only", PQ_DOUBLE, PQ_LT_NONE, 1, 0}, K_NANONLY, 30},
    {{"neg_zero", PQ_DOUBLE, PQ_LT_NONE, 0, 0}, K_NEGZERO, 0},
    {{"non_pos", PQ_DOUBLE, PQ_LT_NONE, 1, 0}, K_NONPOS, 10},
};

static const struct fcol long_strings[] = {
    {{"id", PQ_INT64, PQ_LT_INT, 0, 0}, K_ID, 0},
    {{"long", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0}, K_LONG, 10},
    {{"longplain", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_PLAIN}, K_LONG, 10},
    {{"maxcp", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, 0}, K_MAXCP, 0},
};

static const struct fcol bools[] = {
    {{"b", PQ_BOOLEAN, PQ_LT_NONE, 0, 0}, K_FLAG, 0},
    {{"bn", PQ_BOOLEAN, PQ_LT_NONE, 1, 0}, K_FLAG, 40},
};

static const struct pq_kv kvs[] = {{"weir.event_type", "page_view"},
                                   {"weir.schema_version", "3"},
                                   {"weir.note", "Zürich \"quoted\""}};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pq_fixtures DIR\n");
        return 2;
    }
    struct fixture fx[] = {
        {"all_types_zstd", {.build = "fixtures"}, all_types, N(all_types), 5000, 1, "name,payload", "", "uniq", 1, 0},
        {"all_types_gzip", {.codec = PQ_CODEC_GZIP}, all_types, N(all_types), 5000, 1, "name,payload", "", "uniq", 1, 0},
        {"all_types_none", {.codec = PQ_CODEC_UNCOMPRESSED, .no_page_crc = 1}, all_types, N(all_types), 5000, 1, "name,payload", "", "uniq", 1, 0},
        {"no_nulls", {0}, no_nulls, N(no_nulls), 3000, 1, "name", "", "", 1, 0},
        {"required", {.codec = PQ_CODEC_GZIP}, required, N(required), 3000, 1, "name,payload", "", "", 1, 0},
        {"all_null", {0}, all_null, N(all_null), 2500, 1, "", "", "name,payload", 1, 0},
        {"dict_fallback_entries", {.dict_max_entries = 300, .page_bytes = 8192}, dict_cols, N(dict_cols), 20000, 1, "cycle,name,const", "cycle,uniq", "", 2, 0},
        {"dict_fallback_bytes", {.dict_max_bytes = 4096, .codec = PQ_CODEC_GZIP}, dict_cols, N(dict_cols), 20000, 1, "cycle,name,const", "cycle,uniq", "", 1, 0},
        {"multi_rg_many_pages", {.row_group_rows = 7000, .page_bytes = 4096}, all_types, N(all_types), 50000, 8, "name,payload", "", "uniq", 10, 0},
        {"rg_by_bytes", {.row_group_bytes = 64 << 10, .codec = PQ_CODEC_GZIP, .level = 1}, all_types, N(all_types), 20000, 5, "name", "", "uniq", 1, 0},
        {"empty", {0}, all_types, N(all_types), 0, 0, "", "", "", 0, 0},
        {"one_row", {0}, all_types, N(all_types), 1, 1, "", "", "", 1, 0},
        {"unicode", {.page_bytes = 1024}, unicode, N(unicode), 3000, 1, "s,empty", "", "p,empty_plain", 2, 0},
        {"int64_extremes", {.row_group_rows = 1000}, extremes, N(extremes), 4000, 4, "", "", "", 1, 0},
        {"doubles", {.row_group_rows = 777}, doubles, N(doubles), 3000, 3, "", "", "", 1, 0},
        {"long_strings", {.row_group_rows = 100}, long_strings, N(long_strings), 300, 3, "", "", "longplain", 1, 0},
        {"bools", {.page_bytes = 1000}, bools, N(bools), 10001, 1, "", "", "", 5, 0},
        {"tiny_limits", {.page_bytes = 64, .dict_max_entries = 5, .row_group_rows = 333, .codec = PQ_CODEC_GZIP}, all_types, N(all_types), 3000, 9, "name,payload", "name,payload", "uniq", 20, 0},
        {"flushed", {.row_group_rows = 5000}, all_types, N(all_types), 12000, 4, "name,payload", "", "uniq", 1, 3001},
        {"kv_metadata", {.kv = kvs, .nkv = 3, .build = "abc1234"}, no_nulls, N(no_nulls), 10, 1, "", "", "", 1, 0},
    };
    mkdir(argv[1], 0755); /* an existing directory is fine; fopen reports real problems */
    int failed = 0;
    for (size_t i = 0; i < N(fx); i++) {
        rng_state = 0x9E3779B97F4A7C15ull + i;
        failed |= write_fixture(argv[1], &fx[i]);
    }
    printf("pq_fixtures: %zu fixtures in %s%s\n", N(fx), argv[1], failed ? ", FAILURES" : "");
    return failed;
}
