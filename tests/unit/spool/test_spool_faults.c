/* test_spool_faults.c - the spool under failing I/O: an fsync error fails it for good;
 * transient errors (ENOSPC and EIO on write through the fault hooks, EMFILE on segment
 * open with a real descriptor limit; a real full disk is test_spool_tmpfs.c) are answered
 * WR_EAGAIN, cut back, and the spool writes again without a restart once the resource is
 * back. */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "check.h"
#include "spool_testutil.h"

static struct wr_err no_err;

/* Fault injection: the n-th write or fsync fails. */
struct fault {
    int fail_fsync_after; /* -1 never */
    int fail_write_after;
    int fsyncs, writes;
    int err;
};

static ssize_t fault_pwrite(void *arg, int fd, const void *p, size_t len, off_t off)
{
    struct fault *f = arg;
    int after = __atomic_load_n(&f->fail_write_after, __ATOMIC_SEQ_CST);
    if (after >= 0 && f->writes++ >= after) {
        errno = f->err;
        return -1;
    }
    return pwrite(fd, p, len, off);
}

static int fault_fdatasync(void *arg, int fd)
{
    struct fault *f = arg;
    if (f->fail_fsync_after >= 0 && f->fsyncs++ >= f->fail_fsync_after) {
        errno = f->err;
        return -1;
    }
    return fdatasync(fd);
}

/* An fdatasync error fails the spool for good: after it Linux may have dropped the dirty
 * pages, so nothing written before can be promised again. */
static void test_fsync_error_fails_spool(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    struct fault f = {-1, -1, 0, 0, EIO};
    struct sp_spool_io io = {fault_pwrite, fault_fdatasync, &f};
    struct sp_spool_opts o;
    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.io = &io;
    sp_spool *s = sp_spool_create(&o, &no_err);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    tu_append_n(s, 0, 5, NULL, 100);
    f.fail_fsync_after = 0;
    struct tu_acks acks;
    tu_acks_init(&acks, 16);
    struct tu_ack_arg a = {&acks, 7};
    CHECK_INT(sp_spool_append1(s, "doomed", 6, tu_ack, &a, NULL), 0);
    tu_acks_wait(&acks, 1);
    CHECK_INT(acks.status[0], WR_EIO);
    CHECK_INT(sp_spool_failed(s), 1);
    CHECK_INT(sp_spool_writable(s), 0);
    CHECK_INT(sp_spool_append1(s, "later", 5, tu_ack, &a, NULL), WR_EIO);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.failed, 1);
    CHECK_INT(st.refused_failed, 1);
    CHECK(st.durable_lsn < st.end_lsn);
    struct wr_err why;
    sp_spool_failure(s, &why);
    CHECK_INT(why.code, WR_EIO);
    CHECK(strstr(why.msg, "fdatasync") != NULL);
    CHECK(strstr(why.msg, "Input/output error") != NULL);
    sp_spool_destroy(s);
    CHECK_INT(acks.n, 1);
    tu_acks_free(&acks);

    /* The acknowledged records are intact after a restart on healthy I/O. */
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    /* The failed record may or may not be there (never acknowledged either way). */
    CHECK(r.n == 5 || r.n == 6);
    struct tu_replay first5 = r;
    first5.n = r.n < 5 ? r.n : 5;
    tu_check_replay(&first5, 0, 5, NULL, 100);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

/* Waits up to 10 s for sp_spool_writable(s) == want. */
static int wait_writable(sp_spool *s, int want)
{
    for (int i = 0; i < 1000; i++) {
        if (sp_spool_writable(s) == want) {
            return 1;
        }
        usleep(10000);
    }
    return 0;
}

/* A transient write error (ENOSPC, EIO) before any byte stuck: the batch is answered
 * WR_EAGAIN (503), appends are refused while the probe fails, and once writes work
 * again the spool takes appends with no restart; the refused record never comes back. */
static void run_transient_write(int err)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    struct fault f = {-1, -1, 0, 0, err};
    struct sp_spool_io io = {fault_pwrite, fault_fdatasync, &f};
    struct sp_spool_opts o;
    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.io = &io;
    sp_spool *s = sp_spool_create(&o, &no_err);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    tu_append_n(s, 0, 5, NULL, 100);
    __atomic_store_n(&f.fail_write_after, 0, __ATOMIC_SEQ_CST);
    struct tu_acks acks;
    tu_acks_init(&acks, 16);
    struct tu_ack_arg a = {&acks, 7};
    uint64_t doomed_lsn = 0;
    CHECK_INT(sp_spool_append1(s, "doomed", 6, tu_ack, &a, &doomed_lsn), 0);
    tu_acks_wait(&acks, 1);
    CHECK_INT(acks.status[0], WR_EAGAIN);
    CHECK_INT(sp_spool_failed(s), 0);
    CHECK_INT(sp_spool_writable(s), 0);
    CHECK_INT(sp_spool_append1(s, "refused", 7, tu_ack, &a, NULL), WR_EAGAIN);
    struct wr_err why;
    sp_spool_failure(s, &why);
    CHECK(strstr(why.msg, strerror(err)) != NULL);
    struct wr_buf m;
    wr_buf_init(&m, 64 * 1024);
    CHECK_INT(sp_spool_metrics(s, &m), 0);
    CHECK(strstr(m.p, "weir_spool_failed 1\n") != NULL);
    wr_buf_free(&m);

    /* The resource is back: the writer's probe (through the same hooks) succeeds. */
    __atomic_store_n(&f.fail_write_after, -1, __ATOMIC_SEQ_CST);
    CHECK(wait_writable(s, 1));
    uint64_t later_lsn = 0;
    CHECK_INT(sp_spool_append1(s, "later", 5, tu_ack, &a, &later_lsn), 0);
    tu_acks_wait(&acks, 2);
    CHECK_INT(acks.status[1], 0);
    CHECK_INT(later_lsn, doomed_lsn); /* the refused position is given again */
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.failed, 0);
    CHECK_INT(st.stalled, 0);
    CHECK_INT(st.transient_errors, 1);
    CHECK_INT(st.refused_unwritable, 1);
    CHECK_INT(st.durable_lsn, st.end_lsn);
    sp_spool_destroy(s);
    tu_acks_free(&acks);

    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    CHECK_INT(r.n, 6);
    struct tu_replay first5 = r;
    first5.n = 5;
    tu_check_replay(&first5, 0, 5, NULL, 100);
    CHECK(r.n == 6 && r.len[5] == 5 && memcmp(r.p[5], "later", 5) == 0);
    CHECK_INT(r.reports, 0);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

static void test_enospc_write_is_transient(void)
{
    run_transient_write(ENOSPC);
}

static void test_eio_write_is_transient(void)
{
    run_transient_write(EIO);
}

/* Descriptors run out (a real RLIMIT_NOFILE, no mock): the segment that a batch needs
 * cannot be created, after the batch already wrote into the current one. The batch is
 * cut back and answered WR_EAGAIN, and the spool writes again once descriptors are back. */
static void test_emfile_segment_open_is_transient(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 4096, 1 << 20);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    tu_append_n(s, 0, 20, NULL, 200); /* 2,890 bytes of the first 4 KiB segment */
    int segs0 = tu_count_segments(dir);
    struct rlimit old;
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = dup(0);
    CHECK(lowest >= 0);
    close(lowest);
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)lowest; /* no new descriptor can be opened */
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);

    /* One request of 10 records (2,595 bytes): it fills the segment, then needs the
     * next one. */
    static char bufs[10][500];
    struct iovec v[10];
    for (uint32_t i = 0; i < 10; i++) {
        v[i].iov_base = bufs[i];
        v[i].iov_len = tu_record(100 + i, bufs[i], sizeof(bufs[i]), 400);
    }
    struct tu_acks acks;
    tu_acks_init(&acks, 16);
    struct tu_ack_arg a = {&acks, 1};
    CHECK_INT(sp_spool_append(s, v, 10, tu_ack, &a, NULL), 0);
    tu_acks_wait(&acks, 1);
    CHECK_INT(acks.status[0], WR_EAGAIN);
    CHECK_INT(sp_spool_failed(s), 0);
    CHECK_INT(sp_spool_writable(s), 0);
    CHECK_INT(sp_spool_append1(s, "x", 1, tu_ack, &a, NULL), WR_EAGAIN);
    struct wr_err why;
    sp_spool_failure(s, &why);
    CHECK(strstr(why.msg, "Too many open files") != NULL);
    /* Still held a while later: the probe cannot open its file either. */
    usleep(200000);
    CHECK_INT(sp_spool_writable(s), 0);

    CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK(wait_writable(s, 1));
    CHECK_INT(sp_spool_append(s, v, 10, tu_ack, &a, NULL), 0);
    tu_acks_wait(&acks, 2);
    CHECK_INT(acks.status[1], 0);
    CHECK(tu_count_segments(dir) > segs0);
    sp_spool_destroy(s);
    tu_acks_free(&acks);

    /* Exactly the 20 + 10 acknowledged records come back, no trace of the refused batch. */
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 4096, 1 << 20);
    CHECK_INT(r.n, 30);
    CHECK_INT(r.reports, 0);
    struct tu_replay part = r;
    part.n = 20;
    tu_check_replay(&part, 0, 20, NULL, 200);
    if (r.n == 30) {
        part.n = 10;
        part.p += 20;
        part.len += 20;
        part.lsn += 20;
        tu_check_replay(&part, 100, 10, NULL, 400);
    }
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

int main(void)
{
    CHECK_RUN(test_fsync_error_fails_spool);
    CHECK_RUN(test_enospc_write_is_transient);
    CHECK_RUN(test_eio_write_is_transient);
    CHECK_RUN(test_emfile_segment_open_is_transient);
    return CHECK_DONE();
}
