/* bench_pq.c - throughput of the Parquet writer on a curated page_view-like shape (22 columns:
 * ids, timestamps, repeated strings, doubles, bools, JSON, ~30 % nulls in payload columns).
 * Prints one JSON line: rows/s, input MB/s (plain-encoded values), output MB, and the time the
 * row generator alone takes (measured separately, subtracted from nothing: both are shown).
 *   bench_pq [--rows N] [--codec zstd|gzip|none] [--out FILE] [--row-group-mb N] [--level L] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "parquet/parquet.h"

enum { C_EVENT_ID, C_RECEIVED, C_OCCURRED, C_SOURCE, C_SCHEMA_V, C_DOMAIN, C_PATH, C_REFERRER,
       C_BROWSER, C_OS, C_COUNTRY, C_USER, C_SESSION, C_DURATION, C_LATENCY, C_SCROLL, C_BOT,
       C_SCREEN_W, C_SCREEN_H, C_TAGS, C_LANG, C_TITLE, NCOLS };

static const struct pq_column cols[NCOLS] = {
    {"event_id", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, PQ_ENC_PLAIN},
    {"received_at", PQ_INT64, PQ_LT_TIMESTAMP_US, 0, 0},
    {"occurred_at", PQ_INT64, PQ_LT_TIMESTAMP_US, 1, 0},
    {"source", PQ_BYTE_ARRAY, PQ_LT_STRING, 0, 0},
    {"schema_version", PQ_INT32, PQ_LT_INT, 0, 0},
    {"domain", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"path", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"referrer", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"browser", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"os", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"country", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"user_id", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"session_id", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, PQ_ENC_PLAIN},
    {"duration_ms", PQ_INT64, PQ_LT_INT, 1, 0},
    {"latency_ms", PQ_DOUBLE, PQ_LT_NONE, 1, 0},
    {"scroll_depth", PQ_DOUBLE, PQ_LT_NONE, 1, 0},
    {"is_bot", PQ_BOOLEAN, PQ_LT_NONE, 1, 0},
    {"screen_w", PQ_INT64, PQ_LT_INT, 1, 0},
    {"screen_h", PQ_INT64, PQ_LT_INT, 1, 0},
    {"tags", PQ_BYTE_ARRAY, PQ_LT_JSON, 1, 0},
    {"lang", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
    {"title", PQ_BYTE_ARRAY, PQ_LT_STRING, 1, 0},
};

#define POOL 4096
static char pool[8][POOL][64];
static size_t pool_len[8][POOL];

static uint64_t rs = 88172645463325252ull;
static inline uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* Skewed pick among the first n pool entries: small indexes are much more frequent. */
static inline unsigned pick(unsigned n)
{
    uint64_t r = rnd();
    unsigned a = (unsigned)(r % n), b = (unsigned)((r >> 20) % n);
    return a < b ? a : b;
}

static void make_pools(void)
{
    static const char *fmt[8] = {"www.site-%u.example", "/section/%u/article-%u", "https://ref-%u.example/q?x=%u",
                                 "browser-%u", "os-%u", "C%u", "user-%08u", "Title of page number %u - a site"};
    for (int p = 0; p < 8; p++) {
        for (unsigned i = 0; i < POOL; i++) {
            int n = snprintf(pool[p][i], sizeof pool[p][i], fmt[p], i, i * 7u);
            pool_len[p][i] = (size_t)n;
        }
    }
}

struct out {
    FILE *f;
    uint64_t bytes;
};

static int out_write(void *arg, const void *p, size_t len)
{
    struct out *o = arg;
    o->bytes += len;
    if (o->f && fwrite(p, 1, len, o->f) != len) {
        return WR_EIO;
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Writes v as n lowercase hex digits (the generator must not cost more than the writer). */
static inline void hex(char *o, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        o[i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    }
}

/* One row through w (or only generated when w is NULL); returns plain-encoded bytes. */
static size_t row(pq_writer *w, uint64_t r, int *rc)
{
    char id[40], sess[24];
    size_t in = 0;
    int e = 0;
#define PUT(call, bytes)         \
    do {                         \
        if (w) {                 \
            e |= (call);         \
        }                        \
        in += (bytes);           \
    } while (0)
#define NUL(col)                        \
    do {                                \
        if (w) {                        \
            e |= pq_writer_put_null(w, col); \
        }                               \
    } while (0)
    uint64_t x = rnd();
    /* UUIDv7-like: time-ordered prefix, random tail (36 bytes) */
    memcpy(id, "0190", 4);
    hex(id + 4, r >> 8, 4);
    id[8] = '-';
    hex(id + 9, x, 4);
    id[13] = '-';
    id[14] = '7';
    hex(id + 15, x >> 16, 3);
    id[18] = '-';
    hex(id + 19, x >> 28, 4);
    id[23] = '-';
    hex(id + 24, r ^ (x >> 40), 12);
    int idn = 36;
    PUT(pq_writer_put_str(w, C_EVENT_ID, id, (size_t)idn), 4 + (size_t)idn);
    int64_t recv = INT64_C(1795000000000000) + (int64_t)r * 17000 + (int64_t)(x % 1000);
    PUT(pq_writer_put_int64(w, C_RECEIVED, recv), 8);
    if (x % 10 == 0) {
        NUL(C_OCCURRED);
    } else {
        PUT(pq_writer_put_int64(w, C_OCCURRED, recv - (int64_t)((x >> 8) % 5000000)), 8);
    }
    static const char *src[] = {"web", "ios", "android", "backend"};
    const char *s = src[(x >> 12) % 4];
    PUT(pq_writer_put_str(w, C_SOURCE, s, strlen(s)), 4 + strlen(s));
    PUT(pq_writer_put_int32(w, C_SCHEMA_V, 3), 4);
    static const int pcol[8] = {C_DOMAIN, C_PATH, C_REFERRER, C_BROWSER, C_OS, C_COUNTRY, C_USER, C_TITLE};
    static const unsigned pn[8] = {200, 4096, 1500, 30, 12, 180, 4096, 4096};
    static const unsigned nullpct[8] = {2, 5, 45, 10, 10, 15, 35, 20};
    for (int p = 0; p < 8; p++) {
        if (rnd() % 100 < nullpct[p]) {
            NUL(pcol[p]);
            continue;
        }
        unsigned i = pick(pn[p]);
        /* a JSON parser hands the writer bytes it has just touched: copy, as it would */
        char tmp[64];
        memcpy(tmp, pool[p][i], sizeof tmp);
        PUT(pq_writer_put_str(w, (size_t)pcol[p], tmp, pool_len[p][i]), 4 + pool_len[p][i]);
    }
    sess[0] = 's';
    sess[1] = '-';
    hex(sess + 2, (r / 12) * 2654435761u, 12);
    int sn = 14;
    PUT(pq_writer_put_str(w, C_SESSION, sess, (size_t)sn), 4 + (size_t)sn);
    uint64_t y = rnd();
    if (y % 4 == 0) {
        NUL(C_DURATION);
    } else {
        PUT(pq_writer_put_int64(w, C_DURATION, (int64_t)(y >> 40) % 600000), 8);
    }
    if (y % 7 == 0) {
        NUL(C_LATENCY);
    } else {
        PUT(pq_writer_put_double(w, C_LATENCY, (double)((y >> 20) % 100000) / 100.0), 8);
    }
    if (y % 3 == 0) {
        NUL(C_SCROLL);
    } else {
        PUT(pq_writer_put_double(w, C_SCROLL, (double)((y >> 30) % 101) / 100.0), 8);
    }
    PUT(pq_writer_put_bool(w, C_BOT, (y >> 50) % 20 == 0), 1);
    static const int64_t sw[] = {1920, 1366, 1440, 390, 414, 1280, 2560, 360};
    static const int64_t sh[] = {1080, 768, 900, 844, 896, 720, 1440, 800};
    unsigned si = (unsigned)((y >> 44) % 8);
    if (y % 9 == 0) {
        NUL(C_SCREEN_W);
        NUL(C_SCREEN_H);
    } else {
        PUT(pq_writer_put_int64(w, C_SCREEN_W, sw[si]), 8);
        PUT(pq_writer_put_int64(w, C_SCREEN_H, sh[si]), 8);
    }
    static const char *tags[] = {"[\"promo\",\"summer\"]", "{\"ab\":\"B\",\"exp\":12}", "[]", "{\"ab\":\"A\"}"};
    if (y % 5 < 2) {
        NUL(C_TAGS);
    } else {
        const char *t = tags[(y >> 9) % 4];
        PUT(pq_writer_put_str(w, C_TAGS, t, strlen(t)), 4 + strlen(t));
    }
    static const char *langs[] = {"en-US", "de-DE", "fr-FR", "ja-JP", "pt-BR", "es-ES"};
    const char *l = langs[(y >> 5) % 6];
    PUT(pq_writer_put_str(w, C_LANG, l, strlen(l)), 4 + strlen(l));
    if (w) {
        e |= pq_writer_end_row(w);
    }
    *rc = e;
    return in;
#undef PUT
#undef NUL
}

int main(int argc, char **argv)
{
    uint64_t rows = 2000000;
    const char *codec = "zstd", *out_path = NULL;
    size_t rg_mb = 0;
    int level = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            rows = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--codec") && i + 1 < argc) {
            codec = argv[++i];
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out_path = argv[++i];
        } else if (!strcmp(argv[i], "--level") && i + 1 < argc) {
            level = (int)strtol(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--row-group-mb") && i + 1 < argc) {
            rg_mb = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: bench_pq [--rows N] [--codec zstd|gzip|none] [--out FILE] [--row-group-mb N] [--level L]\n");
            return 2;
        }
    }
    struct pq_opts o = {0};
    o.codec = !strcmp(codec, "gzip") ? PQ_CODEC_GZIP : !strcmp(codec, "none") ? PQ_CODEC_UNCOMPRESSED : PQ_CODEC_ZSTD;
    o.row_group_bytes = rg_mb << 20;
    o.level = level;
    o.build = "bench";
    make_pools();

    /* generator alone, same sequence */
    uint64_t seed = rs;
    int rc = 0;
    double t0 = now();
    size_t in_bytes = 0;
    for (uint64_t r = 0; r < rows; r++) {
        in_bytes += row(NULL, r, &rc);
    }
    double gen_s = now() - t0;

    rs = seed;
    struct out out = {NULL, 0};
    if (out_path && !(out.f = fopen(out_path, "wb"))) {
        perror(out_path);
        return 1;
    }
    struct pq_schema schema = {cols, NCOLS};
    struct wr_err err = {0};
    double c0 = cpu();
    t0 = now();
    pq_writer *w = pq_writer_create(&schema, &o, out_write, &out, &err);
    if (!w) {
        fprintf(stderr, "bench_pq: %s\n", err.msg);
        return 1;
    }
    for (uint64_t r = 0; r < rows && rc == 0; r++) {
        row(w, r, &rc);
    }
    if (rc == 0) {
        rc = pq_writer_close(w, &err);
    }
    double total_s = now() - t0, cpu_s = cpu() - c0;
    if (rc != 0) {
        fprintf(stderr, "bench_pq: failed: %s\n", pq_writer_errmsg(w));
        return 1;
    }
    pq_writer_destroy(w);
    if (out.f && fclose(out.f) != 0) {
        perror(out_path);
        return 1;
    }
    double write_s = total_s - gen_s;
    printf("{\"writer\":\"weir\",\"codec\":\"%s\",\"level\":%d,\"rows\":%" PRIu64 ",\"columns\":%d,"
           "\"seconds\":%.3f,\"cpu_seconds\":%.3f,\"generator_seconds\":%.3f,"
           "\"rows_per_s\":%.0f,\"rows_per_s_excl_generator\":%.0f,\"input_mb\":%.1f,"
           "\"input_mb_per_s\":%.1f,\"output_mb\":%.2f,\"output_mb_per_s\":%.1f}\n",
           codec, level, rows, NCOLS, total_s, cpu_s, gen_s, (double)rows / total_s,
           write_s > 0 ? (double)rows / write_s : 0.0, (double)in_bytes / 1e6,
           (double)in_bytes / 1e6 / total_s, (double)out.bytes / 1e6,
           (double)out.bytes / 1e6 / total_s);
    return 0;
}
