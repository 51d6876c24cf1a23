/* bench_spool.c - weir-bench-spool: durable append throughput of the gateway spool.
 * Closed loop like HTTP requests: each writer appends a batch of records, waits for the
 * fsync ack, and appends again; prints a Markdown table per writer count. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "spool/spool.h"

struct opts {
    const char *dir;
    double seconds;
    int records;       /* per append (request) */
    int record_bytes;
    int threads[16];
    int nthreads;
    int replay_mib;    /* size of the spool replayed at the end; 0 skips */
};

struct writer {
    sp_spool *s;
    const struct opts *o;
    struct iovec *recs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
    uint64_t requests, refused;
    double *lat;
    size_t nlat, latcap;
};

static atomic_int stop_flag;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_ack(void *arg, int status)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->status = status;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    while (!atomic_load(&stop_flag)) {
        double t0 = now_s();
        w->done = 0;
        int rc = sp_spool_append(w->s, w->recs, (size_t)w->o->records, on_ack, w, NULL);
        if (rc == WR_EAGAIN) {
            w->refused++;
            usleep(1000);
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "append: %s\n", wr_err_name(rc));
            break;
        }
        pthread_mutex_lock(&w->mu);
        while (!w->done) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        pthread_mutex_unlock(&w->mu);
        if (w->status != 0) {
            fprintf(stderr, "ack: %s\n", wr_err_name(w->status));
            break;
        }
        w->requests++;
        if (w->nlat < w->latcap) {
            w->lat[w->nlat++] = now_s() - t0;
        }
    }
    return NULL;
}

/* Stands in for the flusher: releases everything durable every 50 ms, so the spool
 * deletes segments as it would in production and never fills. */
static void *releaser_main(void *arg)
{
    sp_spool *s = arg;
    while (!atomic_load(&stop_flag)) {
        usleep(50000);
        struct sp_spool_stats st;
        sp_spool_stats(s, &st);
        sp_spool_release(s, st.durable_lsn);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void rm_spool(const char *dir)
{
    /* The spool's own files only (segments, checkpoint, lock), then the directory. */
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if ((l > 4 && strcmp(de->d_name + l - 4, ".wal") == 0) ||
            strcmp(de->d_name, "checkpoint") == 0 || strcmp(de->d_name, "checkpoint.tmp") == 0 ||
            strcmp(de->d_name, "LOCK") == 0) {
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

static int run(const struct opts *o, int nthreads, struct iovec *recs)
{
    rm_spool(o->dir);
    struct sp_spool_opts so;
    memset(&so, 0, sizeof(so));
    so.dir = o->dir;
    struct wr_err err = {0};
    sp_spool *s = sp_spool_create(&so, &err);
    if (!s) {
        fprintf(stderr, "spool: %s\n", err.msg);
        return 1;
    }
    struct writer *w = calloc((size_t)nthreads, sizeof(*w));
    pthread_t *th = calloc((size_t)nthreads, sizeof(*th));
    pthread_t rel;
    atomic_store(&stop_flag, 0);
    struct sp_spool_stats st0, st1;
    sp_spool_stats(s, &st0);
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) {
        w[i].s = s;
        w[i].o = o;
        w[i].recs = recs;
        w[i].latcap = 1 << 18;
        w[i].lat = malloc(w[i].latcap * sizeof(double));
        pthread_mutex_init(&w[i].mu, NULL);
        pthread_cond_init(&w[i].cv, NULL);
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    pthread_create(&rel, NULL, releaser_main, s);
    usleep((useconds_t)(o->seconds * 1e6));
    atomic_store(&stop_flag, 1);
    uint64_t requests = 0, refused = 0;
    size_t nlat = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        requests += w[i].requests;
        refused += w[i].refused;
        nlat += w[i].nlat;
    }
    double dt = now_s() - t0;
    pthread_join(rel, NULL);
    sp_spool_stats(s, &st1);
    double *lat = malloc((nlat ? nlat : 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < nthreads; i++) {
        memcpy(lat + k, w[i].lat, w[i].nlat * sizeof(double));
        k += w[i].nlat;
        free(w[i].lat);
        pthread_mutex_destroy(&w[i].mu);
        pthread_cond_destroy(&w[i].cv);
    }
    qsort(lat, nlat, sizeof(double), cmp_double);
    double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] : 0;
    uint64_t records = requests * (uint64_t)o->records;
    uint64_t fsyncs = st1.fsyncs - st0.fsyncs;
    printf("| %7d | %10.0f | %11.0f | %7.1f | %9.0f | %13.1f | %7.2f | %7.2f | %7" PRIu64 " |\n",
           nthreads, (double)requests / dt, (double)records / dt,
           (double)records * o->record_bytes / dt / (1 << 20), (double)fsyncs / dt,
           fsyncs ? (double)(st1.appended_records - st0.appended_records) / (double)fsyncs : 0.0,
           p50 * 1e3, p99 * 1e3, refused);
    fflush(stdout);
    free(lat);
    free(w);
    free(th);
    sp_spool_destroy(s);
    rm_spool(o->dir);
    return 0;
}

static void count_ack(void *arg, int status)
{
    atomic_int *n = arg;
    if (status == 0) {
        atomic_fetch_add(n, 1);
    }
}

static int count_replay(void *arg, uint64_t lsn, const char *p, size_t len)
{
    (void)lsn;
    (void)p;
    *(uint64_t *)arg += len;
    return 0;
}

/* Restart time: fills the spool with replay_mib MiB and times an open that replays it. */
static int replay_figures(const struct opts *o, struct iovec *recs)
{
    rm_spool(o->dir);
    struct sp_spool_opts so;
    memset(&so, 0, sizeof(so));
    so.dir = o->dir;
    struct wr_err err = {0};
    sp_spool *s = sp_spool_create(&so, &err);
    if (!s) {
        fprintf(stderr, "spool: %s\n", err.msg);
        return 1;
    }
    atomic_int acked = 0;
    uint64_t want = (uint64_t)o->replay_mib << 20, sent = 0;
    int requests = 0;
    while (sent < want) {
        int rc = sp_spool_append(s, recs, (size_t)o->records, count_ack, &acked, NULL);
        if (rc == WR_EAGAIN) {
            usleep(1000);
            continue;
        }
        if (rc != 0) {
            break;
        }
        requests++;
        sent += (uint64_t)o->records * (uint64_t)o->record_bytes;
    }
    sp_spool_destroy(s);
    uint64_t bytes = 0;
    so.replay = count_replay;
    so.cb_arg = &bytes;
    double t0 = now_s();
    s = sp_spool_create(&so, &err);
    double dt = now_s() - t0;
    if (!s) {
        fprintf(stderr, "spool: %s\n", err.msg);
        return 1;
    }
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    printf("\nrestart: replayed %" PRIu64 " records (%.0f MiB of payload, %" PRIu64
           " segments) in %.3f s = %.0f MiB/s (page cache warm)\n",
           st.replayed_records, (double)bytes / (1 << 20), st.segments, dt,
           (double)bytes / (1 << 20) / dt);
    sp_spool_destroy(s);
    rm_spool(o->dir);
    return atomic_load(&acked) == requests ? 0 : 1;
}

static void crc_figures(void)
{
    size_t n = 1 << 20;
    char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) {
        buf[i] = (char)(i * 31);
    }
    uint32_t c = 0;
    double t0 = now_s();
    for (int r = 0; r < 256; r++) {
        c = wr_crc32c(c, buf, n);
    }
    double hw = now_s() - t0;
    t0 = now_s();
    for (int r = 0; r < 32; r++) {
        c = wr_crc32c_portable(c, buf, n);
    }
    double sw = now_s() - t0;
    printf("crc32c: %s %.0f MiB/s, slicing-by-8 table %.0f MiB/s (check %08x)\n\n",
           wr_crc32c_hw() ? "sse4.2" : "table", 256.0 / hw, 32.0 / sw, c);
    free(buf);
}

static void usage(void)
{
    fprintf(stderr, "usage: weir-bench-spool [--dir DIR] [--seconds S] [--records N] "
                    "[--bytes B] [--threads 1,8,64] [--replay-mib 256]\n"
                    "DIR must be on the disk to measure; it is created and removed.\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct opts o = {"./bench-spool-dir", 3.0, 100, 500, {1, 8, 64}, 3, 256};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!v) {
            usage();
        }
        if (strcmp(a, "--dir") == 0) {
            o.dir = v;
        } else if (strcmp(a, "--seconds") == 0) {
            o.seconds = strtod(v, &end);
        } else if (strcmp(a, "--records") == 0) {
            o.records = (int)strtol(v, &end, 10);
        } else if (strcmp(a, "--replay-mib") == 0) {
            o.replay_mib = (int)strtol(v, &end, 10);
        } else if (strcmp(a, "--bytes") == 0) {
            o.record_bytes = (int)strtol(v, &end, 10);
        } else if (strcmp(a, "--threads") == 0) {
            o.nthreads = 0;
            const char *p = v;
            while (*p && o.nthreads < 16) {
                o.threads[o.nthreads++] = (int)strtol(p, &end, 10);
                p = *end == ',' ? end + 1 : end;
                if (end == p && *p) {
                    usage();
                }
            }
            end = NULL;
        } else {
            usage();
        }
        if (end && *end) {
            usage();
        }
        i++;
    }
    if (o.seconds <= 0 || o.records < 1 || o.record_bytes < 1 || o.record_bytes > (1 << 20) ||
        o.replay_mib < 0 || o.replay_mib > 900) {
        usage();
    }
    struct iovec *recs = calloc((size_t)o.records, sizeof(*recs));
    for (int i = 0; i < o.records; i++) {
        char *p = malloc((size_t)o.record_bytes);
        int n = snprintf(p, (size_t)o.record_bytes, "{\"event_type\":\"bench\",\"i\":%d,\"pad\":\"", i);
        for (int k = n > 0 ? n : 0; k < o.record_bytes; k++) {
            p[k] = (char)('a' + k % 26);
        }
        recs[i].iov_base = p;
        recs[i].iov_len = (size_t)o.record_bytes;
    }
    crc_figures();
    printf("spool dir %s, %d records of %d B per request, %.1f s per row\n\n", o.dir, o.records,
           o.record_bytes, o.seconds);
    printf("| writers | requests/s |   records/s |   MiB/s |  fsyncs/s | records/fsync | p50 ms "
           "| p99 ms | refused |\n");
    printf("| ------: | ---------: | ----------: | ------: | --------: | ------------: | -----: "
           "| -----: | ------: |\n");
    int rc = 0;
    for (int i = 0; i < o.nthreads && rc == 0; i++) {
        rc = run(&o, o.threads[i], recs);
    }
    if (rc == 0 && o.replay_mib > 0) {
        rc = replay_figures(&o, recs);
    }
    for (int i = 0; i < o.records; i++) {
        free(recs[i].iov_base);
    }
    free(recs);
    return rc;
}
