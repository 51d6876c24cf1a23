/* fuzz_curator.c - the curation worker's raw reader under hostile raw files: the input
 * becomes one raw-zone file (gzip-compressed by us, or taken as-is so the gzip layer is
 * attacked too) and a whole day is curated from it. Broken gzip and broken lines must be
 * counted, never crash, never be mistaken for rows. Each input line also goes through the
 * stored-line module (lake/envelope.h): the zero-copy scan must agree with the full parse,
 * and a line written from the line's bytes as field values must be one line of JSON. */
#include "common/arena.h"
#include "common/log.h"
#include "curator/curator.h"
#include "json/json.h"
#include "lake/envelope.h"
#include "lake/lake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char lake_url[128];
static char tmp_dir[64];
static lake_store *store;
static cur_model *model;

static void setup(void)
{
    char dir[] = "/tmp/weir-fuzz-cur-XXXXXX";
    if (!mkdtemp(dir)) {
        abort();
    }
    snprintf(lake_url, sizeof lake_url, "file://%s/lake", dir);
    snprintf(tmp_dir, sizeof tmp_dir, "%s", dir);
    struct wr_err err = {0};
    store = lake_store_open(lake_url, NULL, &err);
    static const char *const schemas[] = {
        "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"},"
        "\"x\":{\"type\":\"number\"},\"s\":{\"type\":\"string\"},\"b\":{\"type\":\"boolean\"},"
        "\"t\":{\"type\":\"string\",\"format\":\"date-time\"},\"o\":{\"type\":\"object\"}}}"};
    model = cur_model_create(schemas, 1, &err);
    if (!store || !model) {
        fprintf(stderr, "fuzz_curator setup: %s\n", err.msg);
        abort();
    }
    wr_log_level = WR_LOG_OFF;
}

static wr_arena *arena;

static void envelope_line(const char *p, size_t n)
{
    unsigned want = (1u << LAKE_ENV_EVENT_ID) | (1u << LAKE_ENV_RECEIVED_AT) |
                    (1u << LAKE_ENV_SOURCE) | (1u << LAKE_ENV_EVENT_TYPE);
    struct lake_env_str s[LAKE_ENV_NFIELDS];
    int m = lake_env_scan(p, n, want, s);
    struct lake_env_view v;
    struct js_error je;
    wr_arena_reset(arena);
    if (m >= 0 && lake_env_parse(arena, p, n, &v, &je) == 0) {
        for (int f = 0; f < LAKE_ENV_NFIELDS; f++) {
            if ((m & (1 << f)) && (!v.f[f] || v.f[f]->type != JS_STRING || v.f[f]->n != s[f].len ||
                                   memcmp(v.f[f]->u.s, s[f].p, s[f].len) != 0)) {
                fprintf(stderr, "scan and parse disagree on field %d\n", f);
                abort();
            }
        }
    }
    /* Any bytes as string values: one line of valid JSON comes out. */
    struct lake_env_rec r;
    memset(&r, 0, sizeof r);
    size_t third = n / 3;
    lake_env_set_str(&r, LAKE_ENV_EVENT_TYPE, p, third);
    lake_env_set_int(&r, LAKE_ENV_SCHEMA_VERSION, (int64_t)n);
    lake_env_set_str(&r, LAKE_ENV_EVENT_ID, p + third, third);
    lake_env_set_str(&r, LAKE_ENV_RECEIVED_AT, p + 2 * third, n - 2 * third);
    lake_env_set_str(&r, LAKE_ENV_SOURCE, p, n);
    lake_env_set_str(&r, LAKE_ENV_PAYLOAD, "{}", 2);
    struct wr_buf b;
    wr_buf_init(&b, 1 << 24);
    struct js_val *root;
    wr_arena_reset(arena);
    if (lake_env_write(&b, &r) != 0 || memchr(b.p, '\n', b.len) ||
        js_parse(arena, b.p, b.len, NULL, &root, &je) != 0) {
        fprintf(stderr, "the writer made a line that is not JSON: %.200s\n", b.p ? b.p : "");
        abort();
    }
    wr_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!store) {
        setup();
        arena = wr_arena_create(1 << 16, 64u << 20);
    }
    if (size < 1) {
        return 0;
    }
    bool raw = data[0] & 1;
    data++;
    size--;
    if (!raw) {
        for (size_t i = 0; i < size;) {
            const unsigned char *nl = memchr(data + i, '\n', size - i);
            size_t e = nl ? (size_t)(nl - data) : size;
            envelope_line((const char *)data + i, e - i);
            i = e + 1;
        }
    }
    unsigned char *file = NULL;
    size_t file_len = size;
    if (raw) {
        file = malloc(size ? size : 1);
        memcpy(file, data, size);
    } else {
        uLongf cap = compressBound((uLong)size) + 64;
        file = malloc(cap);
        z_stream z;
        memset(&z, 0, sizeof z);
        deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        z.next_in = (unsigned char *)data;
        z.avail_in = (uInt)size;
        z.next_out = file;
        z.avail_out = (uInt)cap;
        deflate(&z, Z_FINISH);
        file_len = z.total_out;
        deflateEnd(&z);
    }
    struct wr_err err = {0};
    if (lake_store_put(store, "raw/event_type=t/dt=2026-01-02/hr=00/f.jsonl.gz", file, file_len,
                       &err) != 0) {
        abort();
    }
    free(file);
    struct cur_config cfg = {0};
    cur_config_defaults(&cfg);
    cfg.lake_url = lake_url;
    cfg.tmp_dir = tmp_dir;
    cfg.now_ms = 1767398400000LL + 3 * 86400000LL; /* every hour of 2026-01-02 closed */
    cfg.max_hour_bytes = 4u << 20;
    cfg.force = true;
    struct cur_day_result r;
    memset(&r, 0, sizeof r);
    int rc = cur_day_curate(store, model, "t", "2026-01-02", &cfg, NULL, NULL, &r, &err);
    if (rc == 0) {
        /* Every line is accounted for: kept, duplicate or invalid. */
        if (r.stats.rows + r.stats.duplicates != r.stats.lines) {
            fprintf(stderr, "rows %llu + duplicates %llu != lines %llu\n",
                    (unsigned long long)r.stats.rows, (unsigned long long)r.stats.duplicates,
                    (unsigned long long)r.stats.lines);
            abort();
        }
        cur_day_result_free(&r);
    } else if (rc != WR_ELIMIT) {
        /* Bad input is a result; only a limit may fail the day. */
        fprintf(stderr, "cur_day_curate failed: %d %s\n", rc, err.msg);
        abort();
    }
    return 0;
}
