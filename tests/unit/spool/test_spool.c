/* test_spool.c - the spool's contract: acks in order, positions, group commit under
 * concurrency, replay of exactly the unreleased records, release, limits and failure. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>

#include "check.h"
#include "spool_testutil.h"

static struct wr_err no_err;

static void test_append_ack_order(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    CHECK_INT(strlen(sp_spool_instance_id(s)), 16);
    enum { N = 200 };
    struct tu_acks acks;
    tu_acks_init(&acks, N);
    struct tu_ack_arg args[N];
    uint64_t lsn[N];
    size_t len[N];
    char rec[200];
    for (uint32_t i = 0; i < N; i++) {
        len[i] = tu_record(i, rec, sizeof(rec), 150);
        args[i].acks = &acks;
        args[i].tag = i;
        CHECK_INT(sp_spool_append1(s, rec, len[i], tu_ack, &args[i], &lsn[i]), 0);
    }
    sp_spool_drain(s);
    CHECK_INT(acks.n, N);
    int order_ok = 1, status_ok = 1, lsn_ok = lsn[0] == 0;
    for (size_t i = 0; i < N; i++) {
        order_ok &= acks.order[i] == i;
        status_ok &= acks.status[i] == 0;
        if (i > 0) {
            lsn_ok &= lsn[i] == sp_spool_record_end(lsn[i - 1], len[i - 1]);
        }
    }
    CHECK(order_ok);
    CHECK(status_ok);
    CHECK(lsn_ok);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.appended_records, N);
    CHECK_INT(st.end_lsn, sp_spool_record_end(lsn[N - 1], len[N - 1]));
    CHECK_INT(st.durable_lsn, st.end_lsn);
    CHECK_INT(st.written_bytes, st.end_lsn);
    CHECK_INT(st.disk_bytes, st.end_lsn);
    CHECK(st.fsyncs >= 1);
    CHECK_INT(st.failed, 0);
    struct wr_err why = {WR_EIO, "x"};
    sp_spool_failure(s, &why);
    CHECK_INT(why.code, 0);
    CHECK_STR(why.msg, "");
    /* Draining refuses further appends as "come back later". */
    CHECK_INT(sp_spool_append1(s, "x", 1, tu_ack, &args[0], NULL), WR_EAGAIN);
    sp_spool_destroy(s);
    tu_acks_free(&acks);
    tu_rmdir(dir);
}

/* One append of many records: one ack, positions back to back, and a zero-record append
 * acts as a barrier. */
static void test_append_many_and_barrier(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    struct tu_acks acks;
    tu_acks_init(&acks, 8);
    struct tu_ack_arg a1 = {&acks, 1}, a2 = {&acks, 2};
    struct iovec v[3] = {{"alpha", 5}, {"", 0}, {"gamma!", 6}};
    uint64_t lsn[3];
    CHECK_INT(sp_spool_append(s, v, 3, tu_ack, &a1, lsn), 0);
    CHECK_INT(lsn[0], 0);
    CHECK_INT(lsn[1], sp_spool_record_end(0, 5));
    CHECK_INT(lsn[2], sp_spool_record_end(lsn[1], 0));
    CHECK_INT(sp_spool_append(s, NULL, 0, tu_ack, &a2, NULL), 0);
    tu_acks_wait(&acks, 2);
    CHECK_INT(acks.order[0], 1);
    CHECK_INT(acks.order[1], 2);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.durable_lsn, sp_spool_record_end(lsn[2], 6));
    CHECK_INT(sp_spool_append(s, v, 3, NULL, NULL, NULL), WR_EINVAL);
    CHECK_INT(sp_spool_append(s, NULL, 2, tu_ack, &a1, NULL), WR_EINVAL);
    sp_spool_destroy(s);

    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    CHECK(s != NULL);
    CHECK_INT(r.n, 3);
    if (r.n == 3) {
        CHECK_MEM(r.p[0], r.len[0], "alpha", 5);
        CHECK_INT(r.len[1], 0);
        CHECK_MEM(r.p[2], r.len[2], "gamma!", 6);
    }
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_acks_free(&acks);
    tu_rmdir(dir);
}

/* Writers that wait for their ack before appending again, like HTTP requests. */
struct writer_ctx {
    sp_spool *s;
    int id, rounds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int bad_status;
    uint64_t last_lsn;
    int monotonic;
};

static void writer_ack(void *arg, int status)
{
    struct writer_ctx *w = arg;
    pthread_mutex_lock(&w->mu);
    if (status != 0) {
        w->bad_status++;
    }
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
    struct writer_ctx *w = arg;
    char rec[300];
    w->monotonic = 1;
    for (int r = 0; r < w->rounds; r++) {
        size_t len = tu_record((uint32_t)(w->id * 100000 + r), rec, sizeof(rec), 250);
        uint64_t lsn;
        w->done = 0;
        if (sp_spool_append1(w->s, rec, len, writer_ack, w, &lsn) != 0) {
            w->bad_status++;
            break;
        }
        if (r > 0 && lsn <= w->last_lsn) {
            w->monotonic = 0;
        }
        w->last_lsn = lsn;
        pthread_mutex_lock(&w->mu);
        while (!w->done) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

static void test_concurrent_group_commit(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 64 * 1024, 0);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    enum { T = 16, R = 150 };
    struct writer_ctx w[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].s = s;
        w[i].id = i;
        w[i].rounds = R;
        pthread_mutex_init(&w[i].mu, NULL);
        pthread_cond_init(&w[i].cv, NULL);
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    int bad = 0, mono = 1;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad_status;
        mono &= w[i].monotonic;
        pthread_mutex_destroy(&w[i].mu);
        pthread_cond_destroy(&w[i].cv);
    }
    CHECK_INT(bad, 0);
    CHECK(mono);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.appended_records, T * R);
    /* Group commit: far fewer fsyncs than appends (each segment switch adds one). */
    printf("concurrent: %d appends, %" PRIu64 " fsyncs, largest batch %" PRIu64 ", %" PRIu64
           " segments\n",
           T * R, st.fsyncs, st.batch_records_max, st.segments);
    CHECK(st.fsyncs < (uint64_t)(T * R) / 2);
    CHECK(st.batch_records_max > 1);
    uint64_t hist = 0;
    for (int b = 0; b < SP_SPOOL_BATCH_BUCKETS; b++) {
        hist += st.batch_hist[b];
    }
    CHECK(hist > 0 && hist <= st.fsyncs);
    sp_spool_destroy(s);

    /* Everything acknowledged is there after reopen, across segments. */
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 64 * 1024, 0);
    CHECK(s != NULL);
    CHECK_INT(r.n, T * R);
    CHECK_INT(r.reports, 0);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

/* Appends n generated records (indexes from first) and waits for their acks. */
/* One request of many records (past the append's on-stack checksum array). */
static void test_append_large_request(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 8192, 0);
    enum { N = 1000 };
    static char bufs[N][120];
    static struct iovec v[N];
    static uint64_t lsn[N];
    for (uint32_t i = 0; i < N; i++) {
        v[i].iov_base = bufs[i];
        v[i].iov_len = tu_record(i, bufs[i], sizeof(bufs[i]), 100);
    }
    struct tu_acks acks;
    tu_acks_init(&acks, 2);
    struct tu_ack_arg a = {&acks, 0};
    CHECK_INT(sp_spool_append(s, v, N, tu_ack, &a, lsn), 0);
    tu_acks_wait(&acks, 1);
    CHECK_INT(acks.status[0], 0);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK(st.segments > 10);
    CHECK_INT(st.batch_records_max, N);
    sp_spool_destroy(s);
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 8192, 0);
    tu_check_replay(&r, 0, N, lsn, 100);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_acks_free(&acks);
    tu_rmdir(dir);
}

static void test_reopen_replays_unreleased(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    uint64_t lsn[300];
    tu_append_n(s, 0, 300, lsn, 500);
    CHECK_INT(sp_spool_release(s, lsn[120]), 0);
    char inst[17];
    memcpy(inst, sp_spool_instance_id(s), 17);
    sp_spool_destroy(s);

    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    CHECK(s != NULL);
    tu_check_replay(&r, 120, 180, lsn, 500);
    CHECK_STR(sp_spool_instance_id(s), inst);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.released_lsn, lsn[120]);
    CHECK_INT(st.replayed_records, 180);
    /* New records continue the positions. */
    uint64_t next;
    tu_append_n(s, 300, 1, &next, 500);
    CHECK_INT(next, st.end_lsn);
    sp_spool_destroy(s);
    tu_replay_free(&r);

    /* A release point in the middle of a record replays from the record after it. */
    s = tu_open(dir, NULL, 0, 0);
    CHECK_INT(sp_spool_release(s, lsn[200] + 1), 0);
    sp_spool_destroy(s);
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    CHECK_INT(r.n, 300 - 201 + 1);
    if (r.n > 0) {
        CHECK_INT(r.lsn[0], lsn[201]);
    }
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

static void test_release_deletes_segments(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 4096, 0);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    enum { N = 400 };
    uint64_t lsn[N];
    tu_append_n(s, 0, N, lsn, 300);
    int before = tu_count_segments(dir);
    CHECK(before > 10);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.segments, before);
    /* Beyond the durable end is refused; below the release point is a no-op. */
    struct wr_err rerr = {0};
    CHECK_INT(sp_spool_release_err(s, st.durable_lsn + 1, &rerr), WR_EINVAL);
    CHECK(strstr(rerr.msg, "durable end") != NULL);
    CHECK_INT(sp_spool_release(s, lsn[250]), 0);
    int after = tu_count_segments(dir);
    CHECK(after < before);
    CHECK(after >= 1);
    CHECK_INT(sp_spool_release(s, lsn[10]), 0);
    CHECK_INT(tu_count_segments(dir), after);
    sp_spool_stats(s, &st);
    CHECK_INT(st.released_lsn, lsn[250]);
    CHECK_INT(st.segments, after);
    CHECK(st.disk_bytes < st.end_lsn);
    sp_spool_destroy(s);

    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 4096, 0);
    CHECK(s != NULL);
    tu_check_replay(&r, 250, N - 250, lsn, 300);
    CHECK_INT(tu_count_segments(dir), after);
    /* Releasing everything leaves only the segment being written. */
    sp_spool_stats(s, &st);
    CHECK_INT(sp_spool_release(s, st.durable_lsn), 0);
    CHECK_INT(tu_count_segments(dir), 1);
    sp_spool_destroy(s);
    tu_replay_free(&r);

    tu_replay_init(&r);
    s = tu_open(dir, &r, 4096, 0);
    CHECK_INT(r.n, 0);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

/* A crash between the checkpoint and the deletion leaves old segments: open removes them. */
static void test_stale_segments_removed_at_open(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 1024, 0);
    uint64_t lsn[60];
    tu_append_n(s, 0, 60, lsn, 100);
    sp_spool_destroy(s);
    /* Copy the first segment aside, release, then put it back. */
    char p0[128], keep[128];
    snprintf(p0, sizeof(p0), "%s/%016x.wal", dir, 0);
    snprintf(keep, sizeof(keep), "%s/keep", dir);
    CHECK_INT(link(p0, keep), 0);
    s = tu_open(dir, NULL, 1024, 0);
    CHECK_INT(sp_spool_release(s, lsn[40]), 0);
    sp_spool_destroy(s);
    CHECK(access(p0, F_OK) != 0);
    CHECK_INT(rename(keep, p0), 0);
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 1024, 0);
    tu_check_replay(&r, 40, 20, lsn, 100);
    CHECK(access(p0, F_OK) != 0);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)n + 1);
    *len = fread(*out, 1, (size_t)n, f);
    fclose(f);
    return 0;
}

static int write_file(const char *path, const char *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    size_t w = fwrite(p, 1, len, f);
    fclose(f);
    return w == len ? 0 : -1;
}

/* The last record cut at every byte offset: reopen keeps the others, truncates the rest,
 * and the next append takes the freed position. */
static void test_torn_tail_every_offset(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    uint64_t lsn[5];
    tu_append_n(s, 0, 5, lsn, 200);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    uint64_t end = st.end_lsn;
    sp_spool_destroy(s);
    char seg[128];
    snprintf(seg, sizeof(seg), "%s/%016x.wal", dir, 0);
    char *orig;
    size_t olen;
    CHECK_INT(read_file(seg, &orig, &olen), 0);
    CHECK_INT(olen, end);
    int bad = 0;
    for (uint64_t cut = lsn[4]; cut < end; cut++) {
        write_file(seg, orig, (size_t)cut);
        struct tu_replay r;
        tu_replay_init(&r);
        s = tu_open(dir, &r, 0, 0);
        if (!s) {
            bad++;
            continue;
        }
        sp_spool_stats(s, &st);
        struct stat sb;
        stat(seg, &sb);
        if (r.n != 4 || st.end_lsn != lsn[4] || (uint64_t)sb.st_size != lsn[4] ||
            st.truncated_bytes != cut - lsn[4] ||
            (cut > lsn[4] &&
             (r.reports != 1 || strcmp(r.last_what, "torn") != 0 || r.last_lsn != lsn[4]))) {
            bad++;
            fprintf(stderr, "cut at %" PRIu64 ": %zu records, end %" PRIu64 "\n", cut, r.n,
                    st.end_lsn);
        }
        if (cut == lsn[4] + 7) {
            /* Once per run: the freed position is reused and the result replays. */
            uint64_t again;
            tu_append_n(s, 4, 1, &again, 200);
            CHECK_INT(again, lsn[4]);
            sp_spool_destroy(s);
            tu_replay_free(&r);
            s = tu_open(dir, &r, 0, 0);
            tu_check_replay(&r, 0, 5, lsn, 200);
        }
        sp_spool_destroy(s);
        tu_replay_free(&r);
    }
    CHECK_INT(bad, 0);

    /* A whole last record with a bad checksum is a torn tail too. */
    orig[end - 3] ^= 0x20;
    write_file(seg, orig, olen);
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    CHECK_INT(r.n, 4);
    CHECK_STR(r.last_what, "torn");
    sp_spool_destroy(s);
    tu_replay_free(&r);
    free(orig);
    tu_rmdir(dir);
}

/* Damage in the middle is skipped and reported; the records after it stay. */
static void test_corrupt_middle_record(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    uint64_t lsn[5];
    tu_append_n(s, 0, 5, lsn, 200);
    sp_spool_destroy(s);
    char seg[128];
    snprintf(seg, sizeof(seg), "%s/%016x.wal", dir, 0);
    char *orig;
    size_t olen;
    read_file(seg, &orig, &olen);
    /* Payload byte, length field, magic, stored position, header checksum. */
    size_t where[] = {(size_t)lsn[2] + SP_SPOOL_HEADER_BYTES + 3, (size_t)lsn[2] + 5,
                      (size_t)lsn[2], (size_t)lsn[2] + 9, (size_t)lsn[2] + 21};
    for (size_t k = 0; k < sizeof(where) / sizeof(where[0]); k++) {
        char *copy = malloc(olen);
        memcpy(copy, orig, olen);
        copy[where[k]] ^= 0x5a;
        write_file(seg, copy, olen);
        free(copy);
        struct tu_replay r;
        tu_replay_init(&r);
        s = tu_open(dir, &r, 0, 0);
        CHECK(s != NULL);
        CHECK_INT(r.n, 4);
        if (r.n == 4) {
            CHECK_INT(r.lsn[0], lsn[0]);
            CHECK_INT(r.lsn[1], lsn[1]);
            CHECK_INT(r.lsn[2], lsn[3]);
            CHECK_INT(r.lsn[3], lsn[4]);
        }
        CHECK_INT(r.reports, 1);
        CHECK_STR(r.last_what, "corrupt");
        CHECK_INT(r.last_lsn, lsn[2]);
        CHECK_INT(r.last_bytes, lsn[3] - lsn[2]);
        struct sp_spool_stats st;
        sp_spool_stats(s, &st);
        CHECK_INT(st.corrupt_records, 1);
        CHECK_INT(st.corrupt_bytes, lsn[3] - lsn[2]);
        CHECK_INT(st.end_lsn, olen);
        CHECK_INT(st.truncated_bytes, 0);
        sp_spool_destroy(s);
        tu_replay_free(&r);
    }
    free(orig);
    tu_rmdir(dir);
}

/* Garbage in front of the first record and a missing middle segment. */
static void test_hostile_segments(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 1024, 0);
    uint64_t lsn[40];
    tu_append_n(s, 0, 40, lsn, 100);
    sp_spool_destroy(s);
    CHECK(tu_count_segments(dir) >= 3);
    /* The second segment goes missing: its positions are a gap, the rest replays. */
    char seg[128];
    uint64_t second = 0;
    /* Find the second segment's name from the positions: the first record that starts a file. */
    for (int i = 1; i < 40 && !second; i++) {
        snprintf(seg, sizeof(seg), "%s/%016" PRIx64 ".wal", dir, lsn[i]);
        if (access(seg, F_OK) == 0) {
            second = lsn[i];
        }
    }
    CHECK(second > 0);
    unlink(seg);
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 1024, 0);
    CHECK(s != NULL);
    CHECK(r.reports >= 1);
    CHECK(r.n > 0 && r.n < 40);
    if (r.n > 0) {
        CHECK_INT(r.lsn[r.n - 1], lsn[39]);
    }
    sp_spool_destroy(s);
    tu_replay_free(&r);

    /* A file of random bytes named as a segment after the others is cut to nothing and
     * written over, positions staying monotonic. */
    struct sp_spool_stats st;
    s = tu_open(dir, NULL, 1024, 0);
    sp_spool_stats(s, &st);
    sp_spool_destroy(s);
    snprintf(seg, sizeof(seg), "%s/%016" PRIx64 ".wal", dir, st.end_lsn);
    char junk[3000];
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (char)(i * 37 + 11);
    }
    junk[100] = (char)0xF7;
    junk[101] = 'w';
    junk[102] = 's';
    junk[103] = 'p';
    write_file(seg, junk, sizeof(junk));
    tu_replay_init(&r);
    s = tu_open(dir, &r, 1024, 0);
    CHECK(s != NULL);
    CHECK_STR(r.last_what, "torn");
    CHECK_INT(r.last_bytes, sizeof(junk));
    uint64_t next;
    tu_append_n(s, 100, 1, &next, 100);
    CHECK_INT(next, st.end_lsn);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

static void test_checkpoint_damaged(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    uint64_t lsn[10];
    tu_append_n(s, 0, 10, lsn, 100);
    CHECK_INT(sp_spool_release(s, lsn[5]), 0);
    char inst[17];
    memcpy(inst, sp_spool_instance_id(s), 17);
    sp_spool_destroy(s);
    char ck[128];
    snprintf(ck, sizeof(ck), "%s/checkpoint", dir);
    char *body;
    size_t blen;
    read_file(ck, &body, &blen);
    body[blen - 12] = body[blen - 12] == '7' ? '8' : '7'; /* inside the released number */
    write_file(ck, body, blen);
    free(body);
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    CHECK(s != NULL);
    CHECK_STR(r.last_what, "checkpoint");
    /* Everything still on disk comes back, under a new name. */
    tu_check_replay(&r, 0, 10, lsn, 100);
    CHECK(strcmp(sp_spool_instance_id(s), inst) != 0);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

static void test_replay_abort_and_lock(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    tu_append_n(s, 0, 10, NULL, 100);
    /* A second opener of the same directory is refused while the first holds it. */
    struct sp_spool_opts o;
    memset(&o, 0, sizeof(o));
    o.dir = dir;
    struct wr_err err = {0};
    CHECK(sp_spool_create(&o, &err) == NULL);
    CHECK_INT(err.code, WR_EAGAIN);
    sp_spool_destroy(s);

    struct tu_replay r;
    tu_replay_init(&r);
    r.stop_at = 3;
    CHECK(tu_open(dir, &r, 0, 0) == NULL);
    CHECK_INT(r.n, 3);
    tu_replay_free(&r);
    /* Nothing was lost by the aborted open. */
    tu_replay_init(&r);
    s = tu_open(dir, &r, 0, 0);
    tu_check_replay(&r, 0, 10, NULL, 100);
    sp_spool_destroy(s);
    tu_replay_free(&r);

    memset(&o, 0, sizeof(o));
    CHECK(sp_spool_create(&o, &err) == NULL);
    CHECK_INT(err.code, WR_EINVAL);
    CHECK(sp_spool_create(NULL, &no_err) == NULL);
    sp_spool_destroy(NULL);
    tu_rmdir(dir);
}

static void test_spool_full(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 1024, 8192);
    struct tu_acks acks;
    tu_acks_init(&acks, 1000);
    struct tu_ack_arg a = {&acks, 0};
    char rec[200];
    memset(rec, 'x', sizeof(rec));
    size_t ok = 0;
    int rc = 0;
    while ((rc = sp_spool_append1(s, rec, sizeof(rec), tu_ack, &a, NULL)) == 0) {
        ok++;
    }
    CHECK_INT(rc, WR_EAGAIN);
    CHECK_INT(ok, 8192 / (sizeof(rec) + SP_SPOOL_HEADER_BYTES));
    tu_acks_wait(&acks, ok);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.refused_full, 1);
    CHECK(st.used_bytes <= 8192);
    CHECK_INT(st.limit_bytes, 8192);
    CHECK_INT(sp_spool_failed(s), 0);
    /* Once the lake has the records, the segments go and appends are taken again. */
    CHECK_INT(sp_spool_release(s, st.durable_lsn), 0);
    CHECK_INT(sp_spool_append1(s, rec, sizeof(rec), tu_ack, &a, NULL), 0);
    tu_acks_wait(&acks, ok + 1);
    sp_spool_destroy(s);
    tu_acks_free(&acks);
    tu_rmdir(dir);
}

static void test_record_too_large(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    struct sp_spool_opts o;
    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.max_record_bytes = 1000;
    sp_spool *s = sp_spool_create(&o, &no_err);
    CHECK(s != NULL);
    char rec[1001];
    memset(rec, 'y', sizeof(rec));
    struct tu_acks acks;
    tu_acks_init(&acks, 4);
    struct tu_ack_arg a = {&acks, 0};
    CHECK_INT(sp_spool_append1(s, rec, 1001, tu_ack, &a, NULL), WR_ELIMIT);
    /* One oversized record refuses the whole append: nothing half-written. */
    struct iovec v[2] = {{rec, 10}, {rec, 1001}};
    CHECK_INT(sp_spool_append(s, v, 2, tu_ack, &a, NULL), WR_ELIMIT);
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.end_lsn, 0);
    CHECK_INT(sp_spool_append1(s, rec, 1000, tu_ack, &a, NULL), 0);
    tu_acks_wait(&acks, 1);
    CHECK_INT(acks.n, 1);
    sp_spool_destroy(s);
    tu_acks_free(&acks);
    tu_rmdir(dir);
}

static void test_metrics_text(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    sp_spool *s = tu_open(dir, NULL, 0, 0);
    uint64_t lsn[20];
    tu_append_n(s, 0, 20, lsn, 100);
    CHECK_INT(sp_spool_durable_lsn(s),
              sp_spool_record_end(lsn[19], tu_record(19, (char[200]){0}, 200, 100)));
    struct wr_buf b;
    wr_buf_init(&b, 64 * 1024);
    CHECK_INT(sp_spool_metrics(s, &b), 0);
    CHECK(strstr(b.p, "# TYPE weir_spool_fsyncs_total counter\n") != NULL);
    CHECK(strstr(b.p, "weir_spool_appended_records_total 20\n") != NULL);
    CHECK(strstr(b.p, "weir_spool_failed 0\n") != NULL);
    CHECK(strstr(b.p, "weir_spool_batch_records_sum 20\n") != NULL);
    CHECK(strstr(b.p, "weir_spool_fsync_seconds_bucket{le=\"+Inf\"} ") != NULL);
    CHECK(strstr(b.p, "weir_spool_refused_total{reason=\"full\"} 0\n") != NULL);
    /* Histogram buckets are cumulative: the +Inf bucket equals the count. */
    const char *inf = strstr(b.p, "weir_spool_batch_records_bucket{le=\"+Inf\"} ");
    const char *cnt = strstr(b.p, "weir_spool_batch_records_count ");
    CHECK(inf && cnt);
    if (inf && cnt) {
        CHECK_INT(strtoull(strchr(inf, '}') + 2, NULL, 10), strtoull(cnt + 31, NULL, 10));
    }
    wr_buf_free(&b);
    wr_buf_init(&b, 100);
    CHECK_INT(sp_spool_metrics(s, &b), WR_ELIMIT);
    wr_buf_free(&b);
    sp_spool_destroy(s);
    tu_rmdir(dir);
}

/* Preallocation: the spare replaces the empty first segment and starts each new one;
 * their zero-filled room is neither damage nor a torn tail at reopen, writing goes on
 * into it, a torn record inside it is still cut, and a stale spare is removed at open. */
static void test_preallocated_segments(void)
{
    char dir[64];
    tu_mkdtemp(dir, sizeof(dir));
    const uint64_t seg = 64 * 1024;
    sp_spool *s = tu_open_ex(dir, NULL, seg, 64 * seg, 1);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    /* Rounds of ~48 KiB (records of 44..543 B): every round but the first cuts a segment,
     * each time with a spare ready. */
    uint64_t lsn[1000];
    uint32_t n = 0;
    for (int round = 0; round < 5; round++) {
        CHECK(tu_wait_spare(s));
        tu_append_n(s, n, 160, lsn + n, 500);
        n += 160;
    }
    struct sp_spool_stats st;
    sp_spool_stats(s, &st);
    CHECK_INT(st.prealloc_taken, (uint64_t)st.segments);
    CHECK(st.segments >= 4);
    CHECK_INT(st.prealloc_failed, 0);
    uint64_t end = st.end_lsn;
    sp_spool_destroy(s);
    /* Every segment file is a whole preallocated one. */
    DIR *d = opendir(dir);
    struct dirent *de;
    int wal = 0, whole = 0;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".wal") == 0) {
            char path[256];
            struct stat sb;
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            wal++;
            whole += stat(path, &sb) == 0 && (uint64_t)sb.st_size == seg;
        }
    }
    if (d) {
        closedir(d);
    }
    CHECK_INT(whole, wal);

    /* Reopen: everything replays, nothing is reported. */
    struct tu_replay r;
    tu_replay_init(&r);
    s = tu_open_ex(dir, &r, seg, 64 * seg, 1);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    tu_check_replay(&r, 0, n, lsn, 500);
    CHECK_INT(r.reports, 0);
    sp_spool_stats(s, &st);
    CHECK_INT(st.end_lsn, end);
    CHECK_INT(st.truncated_bytes, 0);
    CHECK_INT(st.corrupt_records, 0);
    tu_replay_free(&r);
    /* Writing goes on in the last segment's room. */
    tu_append_n(s, n, 20, lsn + n, 500);
    CHECK_INT(lsn[n], end);
    n += 20;
    sp_spool_stats(s, &st);
    end = st.end_lsn;
    sp_spool_destroy(s);

    /* A torn record in the room: bytes after the last one, the rest still zero. Segment
     * names are fixed-width hex, so the greatest name is the last segment. */
    d = opendir(dir);
    char name[64] = "";
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".wal") == 0 && strcmp(de->d_name, name) > 0) {
            snprintf(name, sizeof(name), "%s", de->d_name);
        }
    }
    if (d) {
        closedir(d);
    }
    char last[256];
    snprintf(last, sizeof(last), "%s/%s", dir, name);
    uint64_t start = strtoull(name, NULL, 16);
    int fd = open(last, O_WRONLY);
    CHECK(fd >= 0);
    static const char junk[] = "\xF7wsp\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a";
    CHECK_INT(pwrite(fd, junk, 14, (off_t)(end - start)), 14);
    close(fd);
    tu_replay_init(&r);
    s = tu_open_ex(dir, &r, seg, 64 * seg, 1);
    CHECK(s != NULL);
    tu_check_replay(&r, 0, n, lsn, 500);
    CHECK_INT(r.reports, 1);
    CHECK_STR(r.last_what, "torn");
    CHECK_INT(r.last_lsn, end);
    CHECK_INT(r.last_bytes, 14);
    uint64_t next;
    tu_append_n(s, n, 1, &next, 500);
    CHECK_INT(next, end);
    sp_spool_destroy(s);
    tu_replay_free(&r);

    /* A stale spare (a run that ended while writing it) is removed, not replayed. */
    char spare[128];
    snprintf(spare, sizeof(spare), "%s/spare.tmp", dir);
    FILE *f = fopen(spare, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("\xF7wsp half a spare", f);
        fclose(f);
    }
    tu_replay_init(&r);
    s = tu_open(dir, &r, seg, 64 * seg);
    CHECK(s != NULL);
    CHECK_INT(r.n, n + 1);
    CHECK_INT(r.reports, 0);
    CHECK(access(spare, F_OK) != 0);
    sp_spool_destroy(s);
    tu_replay_free(&r);
    tu_rmdir(dir);
}

int main(void)
{
    CHECK_RUN(test_append_ack_order);
    CHECK_RUN(test_append_many_and_barrier);
    CHECK_RUN(test_concurrent_group_commit);
    CHECK_RUN(test_append_large_request);
    CHECK_RUN(test_reopen_replays_unreleased);
    CHECK_RUN(test_release_deletes_segments);
    CHECK_RUN(test_stale_segments_removed_at_open);
    CHECK_RUN(test_torn_tail_every_offset);
    CHECK_RUN(test_corrupt_middle_record);
    CHECK_RUN(test_hostile_segments);
    CHECK_RUN(test_checkpoint_damaged);
    CHECK_RUN(test_replay_abort_and_lock);
    CHECK_RUN(test_spool_full);
    CHECK_RUN(test_record_too_large);
    CHECK_RUN(test_metrics_text);
    CHECK_RUN(test_preallocated_segments);
    return CHECK_DONE();
}
