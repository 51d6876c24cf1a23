/* pq_dump.c - prints a Parquet file through weir's reader as JSON lines, for comparison with
 * DuckDB (pq_read_check.mjs): a header line {"columns": [...], ...} then one JSON array per row.
 * Integers, decimals and timestamps print as strings (exact beyond 2^53), in the column's
 * stored unit; doubles as numbers (%.17g, "NaN"/"Infinity" as strings); strings as JSON
 * strings; other byte arrays as "0x<hex>"; UUIDs in their usual form.
 *   pq_dump FILE [--columns a,b,c] [--where COL:LO:HI]... [--batch] [--stats]
 * --where keeps rows with LO <= COL <= HI (an empty bound is open); --batch reads through the
 * column batch API instead of the row API; --stats prints the reader's counters on stderr.
 * Exit 0, or 1 with the reader's message on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/pq_read.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

static const char *ptype_name(enum pq_ptype t)
{
    static const char *n[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                              "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return (unsigned)t < 8 ? n[t] : "?";
}

static const char *logical_name(enum pq_rlogical l)
{
    static const char *n[] = {"NONE",     "STRING",  "JSON",    "ENUM", "UUID",
                              "INT",      "DECIMAL", "DATE",    "TIME", "TIMESTAMP",
                              "INTERVAL", "BSON",    "FLOAT16", "OTHER"};
    return (unsigned)l < sizeof n / sizeof n[0] ? n[l] : "?";
}

static void put_json_str(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static void put_hex(const uint8_t *p, size_t n)
{
    printf("\"0x");
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    putchar('"');
}

static void put_u128(u128 v, int neg, int scale)
{
    char d[64];
    int n = 0;
    do {
        d[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    while (n <= scale) {
        d[n++] = '0';
    }
    putchar('"');
    if (neg) {
        putchar('-');
    }
    for (int i = n - 1; i >= 0; i--) {
        putchar(d[i]);
        if (i == scale && scale > 0) {
            putchar('.');
        }
    }
    putchar('"');
}

static void put_decimal(i128 v, int scale)
{
    int neg = v < 0;
    put_u128(neg ? (u128)0 - (u128)v : (u128)v, neg, scale);
}

static void put_double(double d)
{
    if (isnan(d)) {
        printf("\"NaN\"");
    } else if (isinf(d)) {
        printf(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
        printf("%.17g", d);
    }
}

static void put_value(const struct pq_rcol *c, const struct pq_value *v)
{
    if (v->null) {
        printf("null");
        return;
    }
    switch (c->type) {
    case PQ_PT_BOOLEAN: printf(v->i ? "true" : "false"); return;
    case PQ_PT_INT32:
    case PQ_PT_INT64:
        if (c->logical == PQ_RL_DECIMAL) {
            put_decimal(v->i, c->scale);
        } else if (c->logical == PQ_RL_INT && !c->int_signed) {
            printf("\"%" PRIu64 "\"",
                   c->type == PQ_PT_INT32 ? (uint64_t)(uint32_t)v->i : (uint64_t)v->i);
        } else {
            printf("\"%" PRId64 "\"", v->i);
        }
        return;
    case PQ_PT_FLOAT:
    case PQ_PT_DOUBLE: put_double(v->d); return;
    default: break;
    }
    if (c->logical == PQ_RL_STRING || c->logical == PQ_RL_JSON || c->logical == PQ_RL_ENUM) {
        put_json_str(v->p, v->len);
    } else if (c->logical == PQ_RL_UUID && v->len == 16) {
        printf("\"");
        for (int i = 0; i < 16; i++) {
            printf("%02x%s", v->p[i], i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
        }
        printf("\"");
    } else if (c->logical == PQ_RL_DECIMAL && v->len >= 1 && v->len <= 16) {
        i128 x = (v->p[0] & 0x80) ? -1 : 0; /* big-endian two's complement */
        for (size_t i = 0; i < v->len; i++) {
            x = (i128)(((u128)x << 8) | v->p[i]);
        }
        put_decimal(x, c->scale);
    } else {
        put_hex(v->p, v->len);
    }
}

static int parse_bound(const struct pq_rcol *c, const char *s, struct pq_fv *fv)
{
    memset(fv, 0, sizeof *fv);
    char *end;
    errno = 0;
    switch (c->type) {
    case PQ_PT_FLOAT:
    case PQ_PT_DOUBLE:
        fv->kind = PQ_FV_DOUBLE;
        fv->d = strtod(s, &end);
        break;
    case PQ_PT_BYTE_ARRAY:
    case PQ_PT_FLBA:
        fv->kind = PQ_FV_BYTES;
        fv->p = s;
        fv->len = strlen(s);
        return 0;
    default:
        fv->kind = PQ_FV_INT;
        fv->i = strtoll(s, &end, 10);
        break;
    }
    return errno || end == s || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *cols = NULL;
    int batch = 0, stats = 0;
    const char *where[16];
    int nwhere = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--columns") == 0 && i + 1 < argc) {
            cols = argv[++i];
        } else if (strcmp(argv[i], "--where") == 0 && i + 1 < argc && nwhere < 16) {
            where[nwhere++] = argv[++i];
        } else if (strcmp(argv[i], "--batch") == 0) {
            batch = 1;
        } else if (strcmp(argv[i], "--stats") == 0) {
            stats = 1;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            fprintf(
                stderr,
                "usage: pq_dump FILE [--columns a,b] [--where COL:LO:HI]... [--batch] [--stats]\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr,
                "usage: pq_dump FILE [--columns a,b] [--where COL:LO:HI]... [--batch] [--stats]\n");
        return 2;
    }
    struct wr_err err = {0, ""};
    pq_reader *r = pq_reader_open(path, NULL, &err);
    if (!r) {
        fprintf(stderr, "pq_dump: %s: %s\n", path, err.msg);
        return 1;
    }
    int rc = 0;
    char *names_buf = NULL;
    const char *names[1024];
    size_t nnames = 0;
    if (cols) {
        names_buf = strdup(cols);
        for (char *p = names_buf, *q; p && nnames < 1024; p = q) {
            q = strchr(p, ',');
            if (q) {
                *q++ = 0;
            }
            names[nnames++] = p;
        }
        if (pq_reader_project(r, names, nnames, &err)) {
            fprintf(stderr, "pq_dump: %s\n", err.msg);
            rc = 1;
            goto out;
        }
    } else {
        for (size_t i = 0; i < pq_reader_num_columns(r) && nnames < 1024; i++) {
            const struct pq_rcol *c = pq_reader_column(r, i);
            if (c->unsupported) {
                fprintf(stderr, "pq_dump: skipping column %s: %s\n", c->name, c->unsupported);
            } else {
                names[nnames++] = c->name;
            }
        }
    }
    for (int w = 0; w < nwhere; w++) {
        char *spec = strdup(where[w]);
        char *a = strchr(spec, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        long ci;
        struct pq_fv lo, hi;
        if (!a || !b || (*a = 0, *b = 0, ci = pq_reader_find_column(r, spec)) < 0 ||
            (a[1] && parse_bound(pq_reader_column(r, (size_t)ci), a + 1, &lo)) ||
            (b[1] && parse_bound(pq_reader_column(r, (size_t)ci), b + 1, &hi)) ||
            pq_reader_filter(r, spec, a[1] ? &lo : NULL, b[1] ? &hi : NULL, &err)) {
            fprintf(stderr, "pq_dump: bad --where %s: %s\n", where[w], err.msg);
            free(spec);
            rc = 1;
            goto out;
        }
        free(spec);
    }
    printf("{\"num_rows\":%" PRIu64 ",\"row_groups\":%zu,\"created_by\":", pq_reader_num_rows(r),
           pq_reader_num_row_groups(r));
    put_json_str((const uint8_t *)pq_reader_created_by(r), strlen(pq_reader_created_by(r)));
    printf(",\"columns\":[");
    const struct pq_rcol *pc[1024];
    for (size_t k = 0; k < nnames; k++) {
        pc[k] = pq_reader_column(r, (size_t)pq_reader_find_column(r, names[k]));
        const struct pq_rcol *c = pc[k];
        printf("%s{\"name\":", k ? "," : "");
        put_json_str((const uint8_t *)c->name, strlen(c->name));
        printf(",\"type\":\"%s\",\"logical\":\"%s\",\"optional\":%s,\"unit\":\"%s\",\"scale\":%d,"
               "\"signed\":%s,\"utc\":%s}",
               ptype_name(c->type), logical_name(c->logical), c->optional ? "true" : "false",
               c->unit == PQ_UNIT_MILLIS  ? "MILLIS"
               : c->unit == PQ_UNIT_NANOS ? "NANOS"
                                          : "MICROS",
               c->scale, c->int_signed ? "true" : "false", c->utc ? "true" : "false");
    }
    printf("]}\n");
    if (batch) {
        int g;
        while ((g = pq_reader_next_group(r, &err)) == 1) {
            size_t nsel;
            const uint32_t *sel = pq_reader_selection(r, &nsel);
            struct pq_batch b[1024];
            for (size_t k = 0; k < nnames; k++) {
                pq_reader_batch(r, k, &b[k]);
            }
            for (size_t s = 0; s < nsel; s++) {
                size_t i = sel[s];
                putchar('[');
                for (size_t k = 0; k < nnames; k++) {
                    struct pq_value v;
                    memset(&v, 0, sizeof v);
                    v.null = b[k].valid && !b[k].valid[i];
                    switch (pc[k]->type) {
                    case PQ_PT_BOOLEAN: v.i = ((const uint8_t *)b[k].values)[i]; break;
                    case PQ_PT_INT32: v.i = ((const int32_t *)b[k].values)[i]; break;
                    case PQ_PT_INT64: v.i = ((const int64_t *)b[k].values)[i]; break;
                    case PQ_PT_FLOAT: v.d = ((const float *)b[k].values)[i]; break;
                    case PQ_PT_DOUBLE: v.d = ((const double *)b[k].values)[i]; break;
                    default:
                        v.p = ((const struct pq_bytes *)b[k].values)[i].p;
                        v.len = ((const struct pq_bytes *)b[k].values)[i].len;
                    }
                    if (k) {
                        putchar(',');
                    }
                    put_value(pc[k], &v);
                }
                printf("]\n");
            }
        }
        if (g < 0) {
            fprintf(stderr, "pq_dump: %s: %s\n", path, err.msg);
            rc = 1;
        }
    } else {
        int n;
        while ((n = pq_reader_next_row(r, &err)) == 1) {
            putchar('[');
            for (size_t k = 0; k < nnames; k++) {
                struct pq_value v;
                pq_reader_value(r, k, &v);
                if (k) {
                    putchar(',');
                }
                put_value(pc[k], &v);
            }
            printf("]\n");
        }
        if (n < 0) {
            fprintf(stderr, "pq_dump: %s: %s\n", path, err.msg);
            rc = 1;
        }
    }
    if (stats) {
        struct pq_read_stats s;
        pq_reader_stats(r, &s);
        fprintf(stderr,
                "{\"groups_read\":%" PRIu64 ",\"groups_skipped_stats\":%" PRIu64
                ",\"groups_skipped_rows\":%" PRIu64 ",\"pages\":%" PRIu64
                ",\"pages_skipped\":%" PRIu64 ",\"bytes_read\":%" PRIu64
                ",\"rows_scanned\":%" PRIu64 "}\n",
                s.groups_read, s.groups_skipped_stats, s.groups_skipped_rows, s.pages,
                s.pages_skipped, s.bytes_read, s.rows_scanned);
    }
out:
    free(names_buf);
    pq_reader_destroy(r);
    if (fflush(stdout) != 0) {
        rc = 1;
    }
    return rc;
}
