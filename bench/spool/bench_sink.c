/* bench_sink.c - figures for the sink (not a test): gzip cost (zlib vs libdeflate levels
 * and chunk sizes) on envelope-like lines,
 * and closed-loop submit throughput and latency with durable acks and with
 * ack_from_memory, on a file:// lake in a scratch directory; and the restart (replay) of a
 * spool holding 200k lines.
 * Usage: weir-bench-sink [seconds per run, default 2] [scratch dir, default /tmp] */
#include "sink_testutil.h"

#include "common/clock.h"
#include "common/log.h"
#include "gateway/sink_int.h"

#include <inttypes.h>
#include <libdeflate.h>
#include <zlib.h>

static size_t envelope(unsigned *seed, char *buf, size_t cap, int64_t now)
{
    char uuid[WR_UUID_LEN + 1], ts[WR_RFC3339_MS_LEN + 1];
    wr_uuid7(uuid);
    wr_time_format_ms(now, ts);
    unsigned r = rand_r(seed);
    int n = snprintf(buf, cap,
                     "{\"event_id\":\"%s\",\"event_type\":\"page_view\",\"schema_version\":%u,"
                     "\"occurred_at\":\"%s\",\"received_at\":\"%s\",\"source\":\"web-%u\","
                     "\"payload\":{\"user_id\":%u,\"url\":\"https://shop.example.com/products/%u"
                     "?ref=campaign-%u\",\"duration_ms\":%u,\"logged_in\":%s,"
                     "\"tags\":[\"t%u\",\"t%u\"]}}",
                     uuid, 1 + r % 3, ts, ts, r % 7, r % 100000, r % 5000, r % 40, r % 60000,
                     r % 2 ? "true" : "false", r % 9, r % 13);
    return (size_t)n;
}

/* zlib level 1 streaming one gzip member per file: what the sink did before libdeflate. */
static uint64_t zlib_file(char (*lines)[512], const size_t *lens, int from, int to,
                          unsigned char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    for (int i = from; i < to; i++) {
        z.next_in = (Bytef *)(uintptr_t)lines[i];
        z.avail_in = (uInt)lens[i];
        deflate(&z, Z_NO_FLUSH);
        z.next_in = (Bytef *)(uintptr_t) "\n";
        z.avail_in = 1;
        deflate(&z, Z_NO_FLUSH);
    }
    deflate(&z, Z_FINISH);
    uint64_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static void bench_gzip(void)
{
    enum { LINES = 200000 };
    const uint64_t flush = 8u << 20; /* the default flush size */
    char(*lines)[512] = malloc(sizeof(*lines) * LINES);
    size_t *lens = malloc(sizeof(*lens) * LINES);
    unsigned seed = 42;
    uint64_t raw = 0;
    int64_t now = wr_time_now_ms();
    for (int i = 0; i < LINES; i++) {
        lens[i] = envelope(&seed, lines[i], sizeof(lines[i]), now + i);
        raw += lens[i] + 1;
    }
    printf("| compressor | level | chunk KiB | MB/s in (one core) | ratio | ns per line |\n"
           "| --- | --- | --- | --- | --- | --- |\n");
    {
        size_t cap = 16u << 20;
        unsigned char *out = malloc(cap);
        int64_t t0 = wr_time_mono_ns();
        uint64_t gz = 0, fill = 0;
        int from = 0;
        for (int i = 0; i < LINES; i++) {
            fill += lens[i] + 1;
            if (fill >= flush || i == LINES - 1) {
                gz += zlib_file(lines, lens, from, i + 1, out, cap);
                from = i + 1;
                fill = 0;
            }
        }
        double secs = (double)(wr_time_mono_ns() - t0) / 1e9;
        printf("| zlib (stream) | 1 | - | %.0f | %.2f | %.0f |\n", (double)raw / secs / 1e6,
               (double)raw / (double)gz, secs * 1e9 / LINES);
        free(out);
    }
    struct {
        int level;
        size_t chunk;
    } runs[] = {
        {1, 64u << 10},  {1, 256u << 10}, {1, 1024u << 10}, {2, 256u << 10},
        {3, 256u << 10}, {4, 256u << 10}, {5, 256u << 10},  {6, 256u << 10},
    };
    for (size_t ri = 0; ri < sizeof(runs) / sizeof(runs[0]); ri++) {
        struct sp_part k = {.kind = 'a', .hour = 1, .et_len = 2, .event_type = "pv"};
        struct libdeflate_compressor *cz = libdeflate_alloc_compressor(runs[ri].level);
        int64_t t0 = wr_time_mono_ns();
        uint64_t gz = 0;
        struct gw__pbuf *b = NULL;
        for (int i = 0; i < LINES; i++) {
            if (!b) {
                b = gw__pbuf_create(&k, 0, runs[ri].chunk, 64u << 20);
            }
            gw__pbuf_add(b, cz, (uint64_t)i, lines[i], lens[i]);
            if (b->raw_bytes >= flush) {
                gw__pbuf_finish(b, cz);
                gz += b->out_len;
                gw__pbuf_destroy(b);
                b = NULL;
            }
        }
        if (b) {
            gw__pbuf_finish(b, cz);
            gz += b->out_len;
            gw__pbuf_destroy(b);
        }
        double secs = (double)(wr_time_mono_ns() - t0) / 1e9;
        printf("| libdeflate | %d | %zu | %.0f | %.2f | %.0f |\n", runs[ri].level,
               runs[ri].chunk >> 10, (double)raw / secs / 1e6, (double)raw / (double)gz,
               secs * 1e9 / LINES);
        libdeflate_free_compressor(cz);
    }
    free(lines);
    free(lens);
}

struct worker {
    gw_sink *s;
    int lines_per_req;
    int64_t stop_ns;
    long reqs, refused;
    int64_t *lat; /* ns */
    size_t nlat, caplat;
    unsigned seed;
};

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

static void on_done(void *arg, int status)
{
    (void)status;
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    static __thread char bufs[100][512];
    struct gw_line ls[100];
    struct waiter w;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    while (wr_time_mono_ns() < wk->stop_ns) {
        int64_t now = wr_time_now_ms();
        for (int i = 0; i < wk->lines_per_req; i++) {
            ls[i] = (struct gw_line){.kind = GW_LINE_ACCEPTED,
                                     .event_type = "page_view",
                                     .event_type_len = 9,
                                     .received_at_ms = now,
                                     .p = bufs[i]};
            ls[i].len = envelope(&wk->seed, bufs[i], sizeof(bufs[i]), now);
        }
        w.done = 0;
        int64_t t0 = wr_time_mono_ns();
        int rc = gw_sink_submit(wk->s, ls, (size_t)wk->lines_per_req, on_done, &w);
        if (rc != 0) {
            wk->refused++;
            st_sleep_ms(1);
            continue;
        }
        pthread_mutex_lock(&w.mu);
        while (!w.done) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        pthread_mutex_unlock(&w.mu);
        int64_t dt = wr_time_mono_ns() - t0;
        if (wk->nlat == wk->caplat) {
            wk->caplat = wk->caplat ? wk->caplat * 2 : 4096;
            wk->lat = realloc(wk->lat, wk->caplat * sizeof(*wk->lat));
        }
        wk->lat[wk->nlat++] = dt;
        wk->reqs++;
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_submit(const char *scratch, double seconds, int threads, int per_req, bool mem)
{
    char spool[512], lake[512], url[600];
    snprintf(spool, sizeof(spool), "%s/weir-bench-sink-spool-XXXXXX", scratch);
    snprintf(lake, sizeof(lake), "%s/weir-bench-sink-lake-XXXXXX", scratch);
    if (!mkdtemp(spool) || !mkdtemp(lake)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(url, sizeof(url), "file://%s", lake);
    struct gw_sink_opts o = {.spool_dir = spool, .lake_url = url, .ack_from_memory = mem};
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    if (!s) {
        fprintf(stderr, "gw_sink_create: %s\n", err.msg);
        exit(2);
    }
    struct worker *wk = calloc((size_t)threads, sizeof(*wk));
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    int64_t t0 = wr_time_mono_ns();
    for (int i = 0; i < threads; i++) {
        wk[i].s = s;
        wk[i].lines_per_req = per_req;
        wk[i].stop_ns = t0 + (int64_t)(seconds * 1e9);
        wk[i].seed = (unsigned)i + 1;
        pthread_create(&t[i], NULL, worker_main, &wk[i]);
    }
    long reqs = 0, refused = 0;
    size_t nlat = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        reqs += wk[i].reqs;
        refused += wk[i].refused;
        nlat += wk[i].nlat;
    }
    double secs = (double)(wr_time_mono_ns() - t0) / 1e9;
    int64_t *all = malloc((nlat + 1) * sizeof(*all));
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, wk[i].lat, wk[i].nlat * sizeof(*all));
        k += wk[i].nlat;
        free(wk[i].lat);
    }
    qsort(all, nlat, sizeof(*all), cmp64);
    int64_t d0 = wr_time_mono_ns();
    int drc = gw_sink_drain(s, 60000);
    double drain_s = (double)(wr_time_mono_ns() - d0) / 1e9;
    printf("| %s | %d | %d | %.0f | %.0f | %.2f | %.2f | %ld | %.2f%s |\n",
           mem ? "memory" : "fsync", threads, per_req, (double)reqs / secs,
           (double)reqs * per_req / secs, nlat ? (double)all[nlat / 2] / 1e6 : 0.0,
           nlat ? (double)all[nlat * 99 / 100] / 1e6 : 0.0, refused, drain_s,
           drc == 0 ? "" : " (drain timed out)");
    free(all);
    free(wk);
    free(t);
    gw_sink_destroy(s);
    st_rmrf(spool);
    st_rmrf(lake);
}

/* Restart figure: a spool holding `lines` lines (the lake was down), then a start with
 * the lake back: create (replay into buffers) and drain (files written, spool released). */
static void bench_replay(const char *scratch, long lines)
{
    char spool[512], lake[512], url[600], raw[600];
    snprintf(spool, sizeof(spool), "%s/weir-bench-sink-spool-XXXXXX", scratch);
    snprintf(lake, sizeof(lake), "%s/weir-bench-sink-lake-XXXXXX", scratch);
    if (!mkdtemp(spool) || !mkdtemp(lake)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(url, sizeof(url), "file://%s", lake);
    snprintf(raw, sizeof(raw), "%s/raw", lake);
    FILE *f = fopen(raw, "w"); /* no raw/ directory can be made: every put fails */
    if (f) {
        fclose(f);
    }
    struct gw_sink_opts o = {.spool_dir = spool, .lake_url = url};
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    if (!s) {
        fprintf(stderr, "gw_sink_create: %s\n", err.msg);
        exit(2);
    }
    static char bufs[100][512];
    struct gw_line ls[100];
    unsigned seed = 9;
    struct waiter w;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    const char *types[4] = {"page_view", "signup", "purchase", "search"};
    uint64_t bytes = 0;
    for (long done = 0; done < lines; done += 100) {
        int64_t now = wr_time_now_ms();
        for (int i = 0; i < 100; i++) {
            ls[i] = (struct gw_line){.kind = GW_LINE_ACCEPTED,
                                     .event_type = types[i % 4],
                                     .event_type_len = strlen(types[i % 4]),
                                     .received_at_ms = now,
                                     .p = bufs[i]};
            ls[i].len = envelope(&seed, bufs[i], sizeof(bufs[i]), now);
            bytes += ls[i].len;
        }
        w.done = 0;
        if (gw_sink_submit(s, ls, 100, on_done, &w) != 0) {
            fprintf(stderr, "submit refused at %ld lines\n", done);
            break;
        }
        pthread_mutex_lock(&w.mu);
        while (!w.done) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        pthread_mutex_unlock(&w.mu);
    }
    gw_sink_drain(s, 100);
    gw_sink_destroy(s);
    unlink(raw);
    int64_t t0 = wr_time_mono_ns();
    s = gw_sink_create(&o, &err);
    double create_s = (double)(wr_time_mono_ns() - t0) / 1e9;
    if (!s) {
        fprintf(stderr, "gw_sink_create: %s\n", err.msg);
        exit(2);
    }
    t0 = wr_time_mono_ns();
    int rc = gw_sink_drain(s, 120000);
    double drain_s = (double)(wr_time_mono_ns() - t0) / 1e9;
    printf("\n| replayed lines | MB | create (replay) s | lines/s | drain (write files) s |\n"
           "| --- | --- | --- | --- | --- |\n| %ld | %.0f | %.2f | %.0f | %.2f%s |\n",
           lines, (double)bytes / 1e6, create_s, (double)lines / create_s, drain_s,
           rc == 0 ? "" : " (timed out)");
    gw_sink_destroy(s);
    st_rmrf(spool);
    st_rmrf(lake);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    const char *scratch = argc > 2 ? argv[2] : "/tmp";
    wr_log_level = WR_LOG_WARN;
    bench_gzip();
    printf("\n| ack | threads | lines/request | requests/s | lines/s | p50 ms | p99 ms | "
           "refused | drain s |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    int threads[] = {1, 8, 64};
    for (int m = 0; m < 2; m++) {
        for (int i = 0; i < 3; i++) {
            bench_submit(scratch, seconds, threads[i], 10, m == 1);
        }
    }
    bench_submit(scratch, seconds, 8, 100, false);
    bench_replay(scratch, 200000);
    return 0;
}
