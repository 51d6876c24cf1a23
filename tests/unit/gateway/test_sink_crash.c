/* test_sink_crash.c - exactly-once across kill -9: children submit lines to a sink with
 * small buffers (many flushes) and report each acknowledged line on a pipe; the parent
 * kills them at random moments, over and over on the same spool and lake, then drains
 * and checks that every acknowledged line is in the lake exactly once, that no line is
 * there twice, and that nothing is left to replay.
 * Soak: WEIR_SINK_SOAK=<iterations> ./test_sink_crash   (default 25 iterations). */
#include "check.h"
#include "sink_testutil.h"

#include "common/clock.h"
#include "common/log.h"
#include "lake/lake.h"

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#define PER_ITER 200000L /* id space of one child */
#define PER_THREAD 100000L
#define HOUR_MS 3600000LL

static const char *const types[4] = {"alpha", "beta", "gamma", NULL};

static char spool_dir[256], lake_dir[256], lake_url[300];
static int64_t base_ms;

/* Iterations alternate: even ones go flat out over three hours (the flusher falls behind
 * and the release lags), odd ones at a pace the flusher keeps up with, in the current
 * hour only (the release follows the open buffers closely). */
static int paced(long id)
{
    return (int)((id / PER_ITER) % 2);
}

static long hour_off(long id)
{
    return paced(id) ? 0 : id % 3;
}

/* The line of id: deterministic, so the parent can check every byte. */
static size_t line_of(long id, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "{\"n\":%ld,\"pad\":\"", id);
    size_t len = (size_t)k, pad = (size_t)(id * 37 % 200);
    for (size_t i = 0; i < pad && len + 3 < cap; i++) {
        buf[len++] = (char)('a' + (id + (long)i) % 26);
    }
    buf[len++] = '"';
    buf[len++] = '}';
    return len;
}

static struct gw_line gline(long id, char *buf, size_t cap)
{
    int ti = (int)(id % 4);
    struct gw_line l = {
        .kind = ti == 3 ? GW_LINE_REJECTED : GW_LINE_ACCEPTED,
        .event_type = types[ti],
        .event_type_len = types[ti] ? strlen(types[ti]) : 0,
        .received_at_ms = base_ms - hour_off(id) * HOUR_MS,
        .p = buf,
        .len = line_of(id, buf, cap),
    };
    return l;
}

/* ---- child ---- */

struct creq {
    int fd;
    int n;
    uint32_t ids[8];
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *outstanding;
};

static void child_done(void *arg, int status)
{
    struct creq *r = arg;
    if (status == 0) {
        /* One write of at most 32 bytes: atomic on a pipe. */
        ssize_t w = write(r->fd, r->ids, (size_t)r->n * sizeof(uint32_t));
        (void)w;
    }
    pthread_mutex_lock(r->mu);
    (*r->outstanding)--;
    pthread_cond_signal(r->cv);
    pthread_mutex_unlock(r->mu);
    free(r);
}

struct cthread {
    gw_sink *s;
    int fd;
    long base;
    unsigned seed;
    unsigned pace_us;
};

static void *child_thread(void *arg)
{
    struct cthread *c = arg;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int outstanding = 0;
    long k = 0;
    static __thread char bufs[8][512];
    while (k < PER_THREAD - 8) {
        pthread_mutex_lock(&mu);
        while (outstanding >= 8) {
            pthread_cond_wait(&cv, &mu);
        }
        pthread_mutex_unlock(&mu);
        struct creq *r = malloc(sizeof(*r));
        r->fd = c->fd;
        r->n = 1 + (int)(rand_r(&c->seed) % 8);
        r->mu = &mu;
        r->cv = &cv;
        r->outstanding = &outstanding;
        struct gw_line ls[8];
        for (int i = 0; i < r->n; i++) {
            r->ids[i] = (uint32_t)(c->base + k + i);
            ls[i] = gline(c->base + k + i, bufs[i], sizeof(bufs[i]));
        }
        pthread_mutex_lock(&mu);
        outstanding++;
        pthread_mutex_unlock(&mu);
        int n = r->n; /* r is the done callback's once submitted */
        int rc = gw_sink_submit(c->s, ls, (size_t)n, child_done, r);
        if (rc != 0) {
            pthread_mutex_lock(&mu);
            outstanding--;
            pthread_mutex_unlock(&mu);
            free(r);
            st_sleep_ms(1);
            continue; /* the same ids again */
        }
        k += n;
        if (c->pace_us) {
            usleep(c->pace_us); /* slow enough for the flusher to keep up */
        }
    }
    pthread_mutex_lock(&mu);
    while (outstanding > 0) {
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void child_main(int fd, long base, unsigned seed)
{
    struct gw_sink_opts o = {
        .spool_dir = spool_dir,
        .lake_url = lake_url,
        .flush_bytes = paced(base) ? 20000 + seed % 40000 : 2000 + seed % 4000,
        .flush_interval_ms = paced(base) ? 50 + seed % 200 : 10 + seed % 40,
    };
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    if (!s) {
        fprintf(stderr, "child: gw_sink_create: %s\n", err.msg);
        _exit(3);
    }
    pthread_t t[2];
    struct cthread c[2];
    for (int i = 0; i < 2; i++) {
        c[i].s = s;
        c[i].fd = fd;
        c[i].base = base + i * PER_THREAD;
        c[i].seed = seed * 2 + (unsigned)i;
        c[i].pace_us = paced(base) ? 2000 + seed % 6000 : 0;
        pthread_create(&t[i], NULL, child_thread, &c[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    for (;;) {
        pause(); /* waiting for the kill */
    }
}

/* ---- parent ---- */

struct listed {
    long n, bad;
};

static int list_cb(void *arg, const char *key, uint64_t size)
{
    struct listed *l = arg;
    size_t kl = strlen(key);
    l->n++;
    if (size == 0 || kl < 9 || strcmp(key + kl - 9, ".jsonl.gz") != 0) {
        l->bad++;
    }
    return 0;
}

static void test_kill9_exactly_once(void)
{
    int iters = 25;
    const char *soak = getenv("WEIR_SINK_SOAK");
    if (soak && soak[0]) {
        iters = (int)strtol(soak, NULL, 10);
        if (iters < 1) {
            iters = 1;
        }
    }
    unsigned seed = (unsigned)time(NULL);
    const char *es = getenv("WEIR_SINK_SEED");
    if (es && es[0]) {
        seed = (unsigned)strtoul(es, NULL, 10);
    }
    fprintf(stderr, "kill -9 test: %d iterations, WEIR_SINK_SEED=%u\n", iters, seed);
    st_mkdtemp(spool_dir, sizeof(spool_dir), "crash-spool");
    st_mkdtemp(lake_dir, sizeof(lake_dir), "crash-lake");
    snprintf(lake_url, sizeof(lake_url), "file://%s", lake_dir);
    base_ms = wr_time_now_ms();

    size_t space = (size_t)iters * PER_ITER;
    unsigned char *acked = calloc(space, 1);
    long acked_n = 0;
    int startup_failures = 0;
    for (int it = 0; it < iters; it++) {
        int p[2];
        if (pipe(p) != 0) {
            perror("pipe");
            exit(2);
        }
        unsigned cseed = rand_r(&seed);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child_main(p[1], (long)it * PER_ITER, cseed);
            _exit(0);
        }
        close(p[1]);
        int64_t kill_at = wr_time_mono_ns() / 1000000 + 30 + rand_r(&seed) % 400;
        int killed = 0;
        uint32_t ids[4096];
        size_t have = 0; /* bytes in ids */
        for (;;) {
            int64_t now = wr_time_mono_ns() / 1000000;
            if (!killed && now >= kill_at) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            struct pollfd pf = {.fd = p[0], .events = POLLIN};
            int wait = killed ? 1000 : (int)(kill_at - now);
            if (poll(&pf, 1, wait < 0 ? 0 : wait) <= 0) {
                if (killed) {
                    break;
                }
                continue;
            }
            ssize_t r = read(p[0], (char *)ids + have, sizeof(ids) - have);
            if (r <= 0) {
                break;
            }
            have += (size_t)r;
            size_t whole = have / sizeof(uint32_t);
            for (size_t i = 0; i < whole; i++) {
                if (ids[i] < space && !acked[ids[i]]) {
                    acked[ids[i]] = 1;
                    acked_n++;
                }
            }
            memmove(ids, ids + whole, have - whole * sizeof(uint32_t));
            have -= whole * sizeof(uint32_t);
        }
        close(p[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            startup_failures++;
        }
    }
    CHECK_INT(startup_failures, 0);
    CHECK(acked_n > 0);

    /* Recovery: the last replay, a drain, and nothing left over. */
    struct gw_sink_opts o = {.spool_dir = spool_dir, .lake_url = lake_url};
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(gw_sink_drain(s, 60000), 0);
        gw_sink_destroy(s);
    }
    s = gw_sink_create(&o, &err);
    CHECK(s != NULL);
    if (s) {
        struct wr_buf b;
        wr_buf_init(&b, 1 << 20);
        gw_sink_metrics(s, &b);
        CHECK(strstr(b.p, "\nweir_sink_replayed_lines_total 0\n") != NULL);
        wr_buf_free(&b);
        gw_sink_destroy(s);
    }

    struct st_lake L;
    st_lake_read(&L, lake_dir);
    unsigned char *seen = calloc(space, 1);
    long lines = 0, dups = 0, foreign = 0, wrong_place = 0, bad_gzip = 0, missing = 0;
    char want[512];
    for (size_t i = 0; i < L.n; i++) {
        struct st_file *f = &L.f[i];
        if (!f->gzip_ok) {
            bad_gzip++;
            continue;
        }
        const char *q = f->data, *end = f->data + f->len;
        while (q < end) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            if (!nl) {
                foreign++;
                break;
            }
            long id = -1;
            lines++;
            if (sscanf(q, "{\"n\":%ld,", &id) != 1 || id < 0 || (size_t)id >= space) {
                foreign++;
            } else {
                size_t wl = line_of(id, want, sizeof(want));
                if (wl != (size_t)(nl - q) || memcmp(want, q, wl) != 0) {
                    foreign++;
                }
                if (seen[id]++) {
                    dups++;
                }
                const char *t = types[id % 4];
                char part[128];
                if (t) {
                    snprintf(part, sizeof(part), "raw/event_type=%s/", t);
                } else {
                    snprintf(part, sizeof(part), "rejected/");
                }
                char dt[11], hr[3];
                lake_time_partition((base_ms - hour_off(id) * HOUR_MS) / 1000, dt, hr);
                char tail[64];
                snprintf(tail, sizeof(tail), "dt=%s/hr=%s/", dt, hr);
                if (strncmp(f->path, part, strlen(part)) != 0 || !strstr(f->path, tail)) {
                    wrong_place++;
                }
            }
            q = nl + 1;
        }
    }
    for (size_t id = 0; id < space; id++) {
        if (acked[id] && !seen[id]) {
            missing++;
        }
    }
    fprintf(stderr,
            "kill -9 test: %ld lines acknowledged, %ld lines in %zu files, %d temporaries left "
            "on disk by killed puts\n",
            acked_n, lines, L.n, L.temps);
    CHECK_INT(missing, 0);
    CHECK_INT(dups, 0);
    CHECK_INT(foreign, 0);
    CHECK_INT(wrong_place, 0);
    CHECK_INT(bad_gzip, 0);
    CHECK_INT(L.others, 0);

    /* Listing through the lake shows only finished files. */
    struct wr_err e2 = {0};
    lake_store *st = lake_store_open(lake_url, NULL, &e2);
    CHECK(st != NULL);
    if (st) {
        struct listed lc = {0, 0};
        CHECK_INT(lake_store_list(st, "", list_cb, &lc, &e2), 0);
        CHECK_INT(lc.n, (long)L.n);
        CHECK_INT(lc.bad, 0);
        lake_store_destroy(st);
    }
    st_lake_free(&L);
    free(seen);
    free(acked);
    st_rmrf(spool_dir);
    st_rmrf(lake_dir);
}

int main(void)
{
    wr_log_level = WR_LOG_ERROR + 1;
    CHECK_RUN(test_kill9_exactly_once);
    return CHECK_DONE();
}
