/* test_db.c - the registry's client-side deadlines without a database: a "server" that
 * takes the connection (a listening Unix socket nobody accepts on, as a SIGSTOPped
 * postmaster does) but never answers must cost the connect deadline, not forever; one
 * that completes the handshake and then goes silent (a stopped backend) costs the
 * statement deadline; a wake descriptor ends a wait at once; an unreachable server
 * fails fast. */
#include "check.h"

#include "common/clock.h"
#include "registry/reg_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];
static int lfd = -1;

/* A Unix socket where libpq looks for port 5432, listening but never accepting. */
static int mute_server(void)
{
    snprintf(dir, sizeof dir, "/tmp/weir-test-db-XXXXXX");
    if (!mkdtemp(dir)) {
        return -1;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/.s.PGSQL.5432", dir);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0) {
        return -1;
    }
    return 0;
}

static void test_connect_deadline(void)
{
    char ci[128];
    snprintf(ci, sizeof ci, "host=%s port=5432 user=weir dbname=weir", dir);
    struct wr_err err = {0, ""};
    int64_t t0 = wr_time_mono_ms();
    PGconn *c = reg__connect(ci, 1000, -1, &err);
    int64_t took = wr_time_mono_ms() - t0;
    CHECK(c == NULL);
    CHECK_INT(err.code, WR_EDB);
    CHECK(strstr(err.msg, "no answer within 1000 ms") != NULL);
    CHECK(took >= 900 && took < 5000);
    PQfinish(c);
}

static void test_wake_ends_the_wait(void)
{
    char ci[128];
    snprintf(ci, sizeof ci, "host=%s port=5432 user=weir dbname=weir", dir);
    int p[2];
    CHECK_INT(pipe(p), 0);
    CHECK_INT(write(p[1], "x", 1), 1);
    struct wr_err err = {0, ""};
    int64_t t0 = wr_time_mono_ms();
    PGconn *c = reg__connect(ci, 30000, p[0], &err);
    CHECK(c == NULL);
    CHECK_INT(err.code, WR_EAGAIN);
    CHECK(wr_time_mono_ms() - t0 < 2000);
    close(p[0]);
    close(p[1]);
}

static void test_unreachable_fails_fast(void)
{
    struct wr_err err = {0, ""};
    /* No socket there at all: refused at once, with libpq's reason. */
    int64_t t0 = wr_time_mono_ms();
    PGconn *c = reg_connect("host=/nonexistent-weir-dir port=5432 user=weir dbname=weir", &err);
    CHECK(c == NULL);
    CHECK_INT(err.code, WR_EDB);
    CHECK(strncmp(err.msg, "cannot connect to Postgres: ", 28) == 0);
    CHECK(wr_time_mono_ms() - t0 < 2000);
}

/* Accepts one connection, reads the startup packet, answers AuthenticationOk and
 * ReadyForQuery (protocol 3.0), then reads and never answers. */
static void *silent_backend(void *arg)
{
    int l = *(int *)arg;
    int c = accept(l, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    unsigned char buf[4096];
    ssize_t n = read(c, buf, sizeof buf);
    (void)n;
    static const unsigned char hello[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0, 'Z', 0, 0, 0, 5, 'I'};
    if (write(c, hello, sizeof hello) == (ssize_t)sizeof hello) {
        while (read(c, buf, sizeof buf) > 0) {
        }
    }
    close(c);
    return NULL;
}

static void test_statement_deadline(void)
{
    char d2[64];
    snprintf(d2, sizeof d2, "/tmp/weir-test-db2-XXXXXX");
    CHECK(mkdtemp(d2) != NULL);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/.s.PGSQL.5432", d2);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0);
    pthread_t th;
    pthread_create(&th, NULL, silent_backend, &l);
    char ci[128];
    snprintf(ci, sizeof ci, "host=%s port=5432 user=weir dbname=weir", d2);
    struct wr_err err = {0, ""};
    PGconn *c = reg__connect(ci, 5000, -1, &err);
    CHECK(c != NULL);
    if (c) {
        int64_t t0 = wr_time_mono_ms();
        PGresult *r = reg__exec(c, "SELECT 1", 0, NULL, false, 700, -1, &err);
        int64_t took = wr_time_mono_ms() - t0;
        CHECK(r == NULL);
        CHECK_INT(err.code, WR_EDB);
        CHECK(strstr(err.msg, "did not answer within 700 ms") != NULL);
        CHECK(took >= 650 && took < 5000);
        PQclear(r);
        PQfinish(c); /* the fake backend's read ends */
    }
    pthread_join(th, NULL);
    close(l);
    unlink(a.sun_path);
    rmdir(d2);
}

int main(void)
{
    if (mute_server() != 0) {
        fprintf(stderr, "test_db: cannot make a Unix socket under /tmp: %s\n", strerror(errno));
        return 1;
    }
    CHECK_RUN(test_connect_deadline);
    CHECK_RUN(test_wake_ends_the_wait);
    CHECK_RUN(test_statement_deadline);
    CHECK_RUN(test_unreachable_fails_fast);
    close(lfd);
    char path[128];
    snprintf(path, sizeof path, "%s/.s.PGSQL.5432", dir);
    unlink(path);
    rmdir(dir);
    return CHECK_DONE();
}
