/* test_spool_crash.c - crash simulation: a child process appends from several threads
 * (and releases, like the flusher) and reports every ack through a pipe; it is killed
 * with SIGKILL or leaves with _exit mid-stream. The parent reopens the spool and checks
 * that every acknowledged, unreleased record is there with its position and bytes.
 * Then a power-loss model: only what fdatasync covered survives. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "check.h"
#include "spool_testutil.h"

enum { MSG_ACK = 1, MSG_RELEASED = 2 };

struct msg {
    uint32_t kind;
    uint32_t id;
    uint64_t lsn;
};

#define SEG_BYTES (16 * 1024)
#define THREADS 4

static int child_pipe = -1;
static volatile int child_exit_after = -1; /* _exit from an ack after this many acks */
static int child_acks;
static pthread_mutex_t child_mu = PTHREAD_MUTEX_INITIALIZER;

static void send_msg(uint32_t kind, uint32_t id, uint64_t lsn)
{
    struct msg m = {kind, id, lsn};
    /* 16 bytes is below PIPE_BUF, so each message arrives whole. */
    if (write(child_pipe, &m, sizeof(m)) != (ssize_t)sizeof(m)) {
        _exit(3);
    }
}

struct req {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
};

static void child_ack(void *arg, int status)
{
    struct req *r = arg;
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    r->status = status;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

struct child_thread {
    sp_spool *s;
    uint32_t round, t;
};

static void *child_writer(void *arg)
{
    struct child_thread *ct = arg;
    struct req r;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    char bufs[10][700];
    struct iovec v[10];
    uint64_t lsn[10];
    uint32_t ids[10];
    for (uint32_t seq = 0;; seq++) {
        size_t n = 1 + (seq * 7 + ct->t) % 10;
        for (size_t k = 0; k < n; k++) {
            ids[k] = (ct->round << 24) | (ct->t << 20) | ((seq * 10 + (uint32_t)k) & 0xFFFFF);
            v[k].iov_base = bufs[k];
            v[k].iov_len = tu_record(ids[k], bufs[k], sizeof(bufs[k]), 600);
        }
        r.done = 0;
        if (sp_spool_append(ct->s, v, n, child_ack, &r, lsn) != 0) {
            _exit(4);
        }
        pthread_mutex_lock(&r.mu);
        while (!r.done) {
            pthread_cond_wait(&r.cv, &r.mu);
        }
        pthread_mutex_unlock(&r.mu);
        if (r.status != 0) {
            _exit(5);
        }
        pthread_mutex_lock(&child_mu);
        for (size_t k = 0; k < n; k++) {
            send_msg(MSG_ACK, ids[k], lsn[k]);
        }
        child_acks += (int)n;
        if (child_exit_after >= 0 && child_acks >= child_exit_after) {
            /* Leave with other threads' records in flight, without draining. */
            _exit(0);
        }
        pthread_mutex_unlock(&child_mu);
    }
    return NULL;
}

static void child_main(const char *dir, uint32_t round, int exit_after)
{
    child_exit_after = exit_after;
    sp_spool *s = tu_open(dir, NULL, SEG_BYTES, 64 << 20);
    if (!s) {
        _exit(6);
    }
    pthread_t th[THREADS];
    struct child_thread ct[THREADS];
    for (uint32_t t = 0; t < THREADS; t++) {
        ct[t].s = s;
        ct[t].round = round;
        ct[t].t = t;
        pthread_create(&th[t], NULL, child_writer, &ct[t]);
    }
    /* The flusher's part: release three quarters of what is durable, now and then. */
    for (;;) {
        usleep(2000);
        struct sp_spool_stats st;
        sp_spool_stats(s, &st);
        uint64_t target = st.durable_lsn / 4 * 3;
        if (target > st.released_lsn && sp_spool_release(s, target) == 0) {
            pthread_mutex_lock(&child_mu);
            send_msg(MSG_RELEASED, 0, target);
            pthread_mutex_unlock(&child_mu);
        }
    }
}

struct acked {
    uint32_t id;
    uint64_t lsn;
};

static int find_lsn(const struct tu_replay *r, uint64_t lsn)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->lsn[mid] < lsn) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < r->n && r->lsn[lo] == lsn ? (int)lo : -1;
}

static void run_rounds(int rounds)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    size_t cap = 1 << 20, nacked = 0;
    struct acked *acked = calloc(cap, sizeof(*acked));
    uint64_t confirmed_release = 0;
    int total_missing = 0, total_bad = 0;
    for (int round = 0; round < rounds; round++) {
        int fds[2];
        if (pipe(fds) != 0) {
            CHECK(0);
            break;
        }
        int use_exit = round % 2 == 1;
        int target = 150 + (round * 97) % 400;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child_pipe = fds[1];
            child_main(dir, (uint32_t)round, use_exit ? target : -1);
            _exit(7);
        }
        close(fds[1]);
        int got = 0, killed = 0;
        struct msg m;
        for (;;) {
            ssize_t n = read(fds[0], &m, sizeof(m));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n != (ssize_t)sizeof(m)) {
                break;
            }
            if (m.kind == MSG_ACK) {
                if (nacked < cap) {
                    acked[nacked].id = m.id;
                    acked[nacked].lsn = m.lsn;
                    nacked++;
                }
                got++;
            } else if (m.kind == MSG_RELEASED && m.lsn > confirmed_release) {
                confirmed_release = m.lsn;
            }
            if (!use_exit && !killed && got >= target) {
                kill(pid, SIGKILL);
                killed = 1;
            }
        }
        close(fds[0]);
        int wst = 0;
        waitpid(pid, &wst, 0);
        if (use_exit) {
            CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
        } else {
            CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
        }

        struct tu_replay r;
        tu_replay_init(&r);
        sp_spool *s = tu_open(dir, &r, SEG_BYTES, 64 << 20);
        CHECK(s != NULL);
        if (!s) {
            tu_replay_free(&r);
            break;
        }
        struct sp_spool_stats st;
        sp_spool_stats(s, &st);
        CHECK(st.released_lsn >= confirmed_release);
        int missing = 0, bad = 0;
        char rec[700];
        for (size_t i = 0; i < nacked; i++) {
            if (acked[i].lsn < st.released_lsn) {
                continue;
            }
            int k = find_lsn(&r, acked[i].lsn);
            size_t len = tu_record(acked[i].id, rec, sizeof(rec), 600);
            if (k < 0) {
                missing++;
            } else if (r.len[k] != len || memcmp(r.p[k], rec, len) != 0) {
                bad++;
            }
        }
        /* Every replayed record is one the child wrote, intact. */
        for (size_t k = 0; k < r.n; k++) {
            unsigned id = 0;
            if (r.len[k] >= 20 && sscanf(r.p[k], "{\"i\":%u", &id) == 1) {
                size_t len = tu_record(id, rec, sizeof(rec), 600);
                bad += r.len[k] != len || memcmp(r.p[k], rec, len) != 0;
            } else {
                bad++;
            }
        }
        printf("round %d (%s): %d acks, released %" PRIu64 ", %zu replayed, %" PRIu64
               " segments, %d reports, %d missing, %d bad\n",
               round, use_exit ? "_exit" : "SIGKILL", got, st.released_lsn, r.n, st.segments,
               r.reports, missing, bad);
        total_missing += missing;
        total_bad += bad;
        sp_spool_destroy(s);
        tu_replay_free(&r);
    }
    CHECK_INT(total_missing, 0);
    CHECK_INT(total_bad, 0);
    CHECK(nacked > 0);
    free(acked);
    tu_rmdir(dir);
}

static void test_crash_rounds(void)
{
    run_rounds(8);
}

/* Power-loss model: the fdatasync hook copies the synced segment to a shadow directory;
 * at the "power cut" every segment is replaced by its last synced copy (or emptied), as
 * if the page cache were lost. Every ack recorded before the cut must survive that. */
struct plm {
    pthread_mutex_t mu;
    int frozen;
    char shadow[64];
    struct acked *acked;
    size_t nacked, cap;
    atomic_int stop;
    sp_spool *s;
};

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            break;
        }
    }
    if (in) {
        fclose(in);
    }
    if (out) {
        fclose(out);
    }
}

static int plm_fdatasync(void *arg, int fd)
{
    struct plm *m = arg;
    int r = fdatasync(fd);
    if (r != 0) {
        return r;
    }
    char link[64], path[512];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0) {
        return r;
    }
    path[n] = '\0';
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    pthread_mutex_lock(&m->mu);
    if (!m->frozen && bl > 4 && strcmp(base + bl - 4, ".wal") == 0) {
        char to[640];
        snprintf(to, sizeof(to), "%s/%s", m->shadow, base);
        copy_file(path, to);
    }
    pthread_mutex_unlock(&m->mu);
    return r;
}

struct plm_req {
    struct plm *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    uint32_t ids[8];
    uint64_t lsn[8];
    size_t n;
};

static void plm_ack(void *arg, int status)
{
    struct plm_req *q = arg;
    struct plm *m = q->m;
    pthread_mutex_lock(&m->mu);
    for (size_t k = 0; status == 0 && !m->frozen && k < q->n && m->nacked < m->cap; k++) {
        m->acked[m->nacked].id = q->ids[k];
        m->acked[m->nacked].lsn = q->lsn[k];
        m->nacked++;
    }
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

struct plm_writer {
    struct plm *m;
    uint32_t t;
};

static void *plm_writer_main(void *arg)
{
    struct plm_writer *pw = arg;
    struct plm_req q;
    memset(&q, 0, sizeof(q));
    q.m = pw->m;
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.cv, NULL);
    char bufs[8][700];
    struct iovec v[8];
    for (uint32_t seq = 0; !atomic_load(&pw->m->stop); seq++) {
        q.n = 1 + (seq + pw->t) % 5;
        for (size_t k = 0; k < q.n; k++) {
            q.ids[k] = (pw->t << 20) | ((seq * 8 + (uint32_t)k) & 0xFFFFF);
            v[k].iov_base = bufs[k];
            v[k].iov_len = tu_record(q.ids[k], bufs[k], sizeof(bufs[k]), 600);
        }
        q.done = 0;
        if (sp_spool_append(pw->m->s, v, q.n, plm_ack, &q, q.lsn) != 0) {
            break;
        }
        pthread_mutex_lock(&q.mu);
        while (!q.done) {
            pthread_cond_wait(&q.cv, &q.mu);
        }
        pthread_mutex_unlock(&q.mu);
    }
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.cv);
    return NULL;
}

static void power_cut(const char *dir, const char *shadow)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= 4 || strcmp(de->d_name + l - 4, ".wal") != 0) {
            continue;
        }
        char path[512], sh[512];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        snprintf(sh, sizeof(sh), "%s/%s", shadow, de->d_name);
        if (access(sh, F_OK) == 0) {
            copy_file(sh, path);
        } else {
            if (truncate(path, 0) != 0) {
                perror("truncate");
            }
        }
    }
    if (d) {
        closedir(d);
    }
}

static void test_power_loss_model(void)
{
    for (int round = 0; round < 3; round++) {
        char dir[64];
        struct plm m;
        memset(&m, 0, sizeof(m));
        tu_mkdtemp(dir, sizeof(dir));
        tu_mkdtemp(m.shadow, sizeof(m.shadow));
        pthread_mutex_init(&m.mu, NULL);
        m.cap = 1 << 18;
        m.acked = calloc(m.cap, sizeof(*m.acked));
        struct sp_spool_io io = {NULL, plm_fdatasync, &m};
        struct sp_spool_opts o;
        memset(&o, 0, sizeof(o));
        o.dir = dir;
        o.segment_bytes = 8192;
        o.io = &io;
        struct wr_err err = {0};
        m.s = sp_spool_create(&o, &err);
        CHECK(m.s != NULL);
        if (!m.s) {
            return;
        }
        pthread_t th[THREADS];
        struct plm_writer pw[THREADS];
        for (uint32_t t = 0; t < THREADS; t++) {
            pw[t].m = &m;
            pw[t].t = t;
            pthread_create(&th[t], NULL, plm_writer_main, &pw[t]);
        }
        size_t want = 300 + (size_t)round * 400;
        for (;;) {
            usleep(500);
            pthread_mutex_lock(&m.mu);
            if (m.nacked >= want) {
                m.frozen = 1;
            }
            int fz = m.frozen;
            pthread_mutex_unlock(&m.mu);
            if (fz) {
                break;
            }
        }
        atomic_store(&m.stop, 1);
        for (int t = 0; t < THREADS; t++) {
            pthread_join(th[t], NULL);
        }
        sp_spool_destroy(m.s);
        power_cut(dir, m.shadow);

        struct tu_replay r;
        tu_replay_init(&r);
        sp_spool *s = tu_open(dir, &r, 8192, 0);
        CHECK(s != NULL);
        int missing = 0, bad = 0;
        char rec[700];
        for (size_t i = 0; i < m.nacked; i++) {
            int k = find_lsn(&r, m.acked[i].lsn);
            size_t len = tu_record(m.acked[i].id, rec, sizeof(rec), 600);
            if (k < 0) {
                missing++;
            } else if (r.len[k] != len || memcmp(r.p[k], rec, len) != 0) {
                bad++;
            }
        }
        printf("power cut %d: %zu acks before the cut, %zu records survived, %d reports, "
               "%d missing, %d bad\n",
               round, m.nacked, r.n, r.reports, missing, bad);
        CHECK_INT(missing, 0);
        CHECK_INT(bad, 0);
        sp_spool_destroy(s);
        tu_replay_free(&r);
        free(m.acked);
        pthread_mutex_destroy(&m.mu);
        tu_rmdir(m.shadow);
        tu_rmdir(dir);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    CHECK_RUN(test_crash_rounds);
    CHECK_RUN(test_power_loss_model);
    return CHECK_DONE();
}
