/* test_s3_fake.c - the S3 client's failure handling against a scripted fake server on
 * 127.0.0.1: 503 SlowDown then success, 500 until the attempts run out, a 200 whose
 * body is an <Error> on CompleteMultipartUpload (then the abort), RequestTimeout,
 * an oversized answer, a listing that repeats a continuation token, and the shape of
 * what we send (headers, encoded path). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lake/lake_int.h"

#define MAX_REQ 64

/* What the fake server saw, and what it answers (one canned answer per request,
 * the last one repeating). */
struct fake {
    int lfd;
    int port;
    pthread_t th;
    const char *answers[16][2]; /* status line ("200 OK"), body */
    int nanswers;
    int nreq;
    char req_line[MAX_REQ][512];
    char headers[MAX_REQ][2048];
    size_t body_len[MAX_REQ];
    volatile int stop;
};

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void *serve(void *arg)
{
    struct fake *f = arg;
    static char buf[1 << 16];
    while (!f->stop) {
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        /* Read the head, then Content-Length bytes of body. */
        size_t got = 0;
        char *end = NULL;
        while (got < sizeof buf - 1) {
            ssize_t r = recv(c, buf + got, sizeof buf - 1 - got, 0);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
            buf[got] = '\0';
            if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
                break;
            }
        }
        if (!end) {
            close(c);
            continue;
        }
        int i = f->nreq < MAX_REQ ? f->nreq : MAX_REQ - 1;
        size_t head = (size_t)(end - buf) + 4;
        char *eol = strstr(buf, "\r\n");
        snprintf(f->req_line[i], sizeof f->req_line[i], "%.*s", (int)(eol - buf), buf);
        snprintf(f->headers[i], sizeof f->headers[i], "%.*s", (int)(head - (size_t)(eol - buf)),
                 eol);
        size_t clen = 0;
        char *cl = strcasestr(f->headers[i], "\r\ncontent-length:");
        if (cl) {
            clen = strtoul(cl + 17, NULL, 10);
        }
        size_t have = got - head;
        while (have < clen) {
            ssize_t r = recv(c, buf, sizeof buf, 0);
            if (r <= 0) {
                break;
            }
            have += (size_t)r;
        }
        f->body_len[i] = have;
        const char *const *a = f->answers[f->nreq < f->nanswers ? f->nreq : f->nanswers - 1];
        f->nreq++;
        if (strcmp(a[0], "HANG") == 0) {
            /* Accept the request and say nothing, like a wedged server. */
            usleep(1500 * 1000);
            close(c);
            continue;
        }
        char hd[256];
        int hn = snprintf(hd, sizeof hd,
                          "HTTP/1.1 %s\r\nContent-Length: %zu\r\nETag: \"etag-%d\"\r\n"
                          "Connection: close\r\n\r\n",
                          a[0], strlen(a[1]), f->nreq);
        send_all(c, hd, (size_t)hn);
        send_all(c, a[1], strlen(a[1]));
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake *f)
{
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(f->lfd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    listen(f->lfd, 16);
    pthread_create(&f->th, NULL, serve, f);
}

static void fake_stop(struct fake *f)
{
    f->stop = 1;
    /* Wake the accept() with one last connection. */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)f->port);
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(f->th, NULL);
    close(f->lfd);
}

#define ANSWER(f, i, st, body)                                                        \
    do {                                                                              \
        (f).answers[i][0] = (st);                                                     \
        (f).answers[i][1] = (body);                                                   \
        (f).nanswers = (i) + 1;                                                       \
    } while (0)
#define OK "200 OK"
#define SLOWDOWN "<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"

static lake_store *open_fake_opts(struct fake *f, int attempts, long low_speed_time_s);

static lake_store *open_fake(struct fake *f, int attempts)
{
    return open_fake_opts(f, attempts, 0);
}

static lake_store *open_fake_opts(struct fake *f, int attempts, long low_speed_time_s)
{
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", f->port);
    struct lake_s3_opts o;
    memset(&o, 0, sizeof o);
    o.endpoint = ep;
    o.access_key = "AKIDTEST";
    o.secret_key = "secret";
    o.session_token = "session-token-1";
    o.max_attempts = attempts;
    o.retry_base_ms = 10;
    o.retry_cap_ms = 40;
    o.multipart_threshold = 5 * 1024 * 1024;
    o.part_size = 5 * 1024 * 1024;
    o.low_speed_time_s = low_speed_time_s;
    struct wr_err e = {0};
    lake_store *st = lake_store_open("s3://bkt/pre", &o, &e);
    if (!st) {
        fprintf(stderr, "open: %s\n", e.msg);
    }
    return st;
}

static void test_request_shape(void)
{
    struct fake f = {0};
    ANSWER(f, 0, OK, "");
    fake_start(&f);
    lake_store *st = open_fake(&f, 3);
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "raw/event_type=a b/dt=2024-01-01/x+y.gz", "hello", 5, &e), 0);
    fake_stop(&f);
    CHECK_INT(f.nreq, 1);
    CHECK_STR(f.req_line[0], "PUT /bkt/pre/raw/event_type%3Da%20b/dt%3D2024-01-01/x%2By.gz HTTP/1.1");
    const char *h = f.headers[0];
    /* MD5("hello") = 5d41402abc4b2a76b9719d911017c592 */
    CHECK(strstr(h, "\r\ncontent-md5: XUFAKrxLKna5cZ2REBfFkg==\r\n") != NULL);
    CHECK(strstr(h, "\r\nx-amz-content-sha256: "
                    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\r\n") != NULL);
    CHECK(strstr(h, "\r\nx-amz-security-token: session-token-1\r\n") != NULL);
    char host[64];
    snprintf(host, sizeof host, "\r\nhost: 127.0.0.1:%d\r\n", f.port);
    CHECK(strcasestr(h, host) != NULL); /* exactly the Host we signed */
    CHECK(strstr(h, "SignedHeaders=content-md5;content-type;host;x-amz-content-sha256;x-amz-date;"
                    "x-amz-security-token, Signature=") != NULL);
    CHECK(strstr(h, "\r\ncontent-type: application/gzip\r\n") != NULL);
    CHECK(strcasestr(h, "\r\nExpect:") == NULL);
    CHECK(strcasestr(h, "\r\nTransfer-Encoding:") == NULL);
    CHECK(strcasestr(h, "\r\nContent-Length: 5\r\n") != NULL);
    CHECK_INT(f.body_len[0], 5);
    lake_store_destroy(st);
}

static void test_slowdown_then_success(void)
{
    struct fake f = {0};
    ANSWER(f, 0, "503 Slow Down", SLOWDOWN);
    ANSWER(f, 1, "400 Bad Request", "<Error><Code>RequestTimeout</Code></Error>");
    ANSWER(f, 2, OK, "");
    fake_start(&f);
    lake_store *st = open_fake(&f, 5);
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "k", "abc", 3, &e), 0);
    fake_stop(&f);
    CHECK_INT(f.nreq, 3);
    /* Every attempt sends the whole body again. */
    CHECK_INT(f.body_len[0], 3);
    CHECK_INT(f.body_len[2], 3);
    struct lake_store_stats s;
    lake_store_stats(st, &s);
    CHECK_INT(s.retries, 2);
    CHECK_INT(s.failures, 0);
    lake_store_destroy(st);
}

static void test_server_errors_exhaust_attempts(void)
{
    struct fake f = {0};
    ANSWER(f, 0, "500 Internal Server Error", "<Error><Code>InternalError</Code></Error>");
    fake_start(&f);
    lake_store *st = open_fake(&f, 4);
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "k", "abc", 3, &e), WR_EAGAIN);
    CHECK(strstr(e.msg, "gave up after 4 attempts") != NULL);
    CHECK(strstr(e.msg, "HTTP 500 InternalError") != NULL);
    fake_stop(&f);
    CHECK_INT(f.nreq, 4);
    lake_store_destroy(st);
}

static void test_silent_server_times_out(void)
{
    struct fake f = {0};
    ANSWER(f, 0, "HANG", "");
    ANSWER(f, 1, OK, "");
    fake_start(&f);
    lake_store *st = open_fake_opts(&f, 3, 1); /* give up on a transfer idle for 1 s */
    struct wr_err e = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(lake_store_put(st, "k", "abc", 3, &e), 0); /* timed out once, then retried */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fake_stop(&f);
    CHECK_INT(f.nreq, 2);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(dt >= 0.9 && dt < 5.0);
    struct lake_store_stats s;
    lake_store_stats(st, &s);
    CHECK_INT(s.retries, 1);
    lake_store_destroy(st);
}

static void test_client_error_not_retried(void)
{
    struct fake f = {0};
    ANSWER(f, 0, "400 Bad Request", "<Error><Code>InvalidArgument</Code></Error>");
    fake_start(&f);
    lake_store *st = open_fake(&f, 4);
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "k", "abc", 3, &e), WR_EIO);
    CHECK(strstr(e.msg, "HTTP 400 InvalidArgument") != NULL);
    fake_stop(&f);
    CHECK_INT(f.nreq, 1);
    lake_store_destroy(st);
}

static void test_complete_200_with_error_aborts(void)
{
    struct fake f = {0};
    ANSWER(f, 0, OK,
           "<InitiateMultipartUploadResult><UploadId>up/1+x</UploadId>"
           "</InitiateMultipartUploadResult>");
    ANSWER(f, 1, OK, ""); /* part 1 */
    ANSWER(f, 2, OK, ""); /* part 2 */
    /* The status line went out before the work failed: the error is in the body. */
    ANSWER(f, 3, OK, "<?xml version=\"1.0\"?>\n<Error><Code>InvalidPart</Code>"
                     "<Message>gone</Message></Error>");
    ANSWER(f, 4, "204 No Content", ""); /* abort */
    fake_start(&f);
    lake_store *st = open_fake(&f, 3);
    size_t n = 6 * 1024 * 1024;
    char *data = calloc(1, n);
    struct wr_err e = {0};
    CHECK_INT(lake_store_put(st, "big", data, n, &e), WR_EIO);
    CHECK(strstr(e.msg, "200 with error InvalidPart") != NULL);
    fake_stop(&f);
    CHECK_INT(f.nreq, 5);
    CHECK_STR(f.req_line[0], "POST /bkt/pre/big?uploads= HTTP/1.1");
    CHECK_STR(f.req_line[1], "PUT /bkt/pre/big?partNumber=1&uploadId=up%2F1%2Bx HTTP/1.1");
    CHECK_STR(f.req_line[2], "PUT /bkt/pre/big?partNumber=2&uploadId=up%2F1%2Bx HTTP/1.1");
    CHECK_INT(f.body_len[1], 5 * 1024 * 1024);
    CHECK_INT(f.body_len[2], 1024 * 1024);
    CHECK_STR(f.req_line[3], "POST /bkt/pre/big?uploadId=up%2F1%2Bx HTTP/1.1");
    CHECK_STR(f.req_line[4], "DELETE /bkt/pre/big?uploadId=up%2F1%2Bx HTTP/1.1");
    free(data);
    lake_store_destroy(st);
}

static void test_oversized_answer(void)
{
    struct fake f = {0};
    ANSWER(f, 0, OK, "0123456789");
    fake_start(&f);
    lake_store *st = open_fake(&f, 3);
    struct wr_err e = {0};
    struct wr_buf b;
    wr_buf_init(&b, 8);
    CHECK_INT(lake_store_get(st, "k", &b, &e), WR_ELIMIT);
    fake_stop(&f);
    CHECK_INT(f.nreq, 1); /* not retried */
    wr_buf_free(&b);
    lake_store_destroy(st);
}

struct acc {
    int n;
    char keys[256];
    uint64_t total;
};

static int accumulate(void *arg, const char *key, uint64_t size)
{
    struct acc *a = arg;
    size_t l = strlen(a->keys);
    snprintf(a->keys + l, sizeof a->keys - l, "%s;", key);
    a->total += size;
    a->n++;
    return 0;
}

static void test_list_follows_tokens(void)
{
    struct fake f = {0};
    ANSWER(f, 0, OK,
           "<ListBucketResult><IsTruncated>true</IsTruncated>"
           "<NextContinuationToken>t/1=+</NextContinuationToken>"
           "<Contents><Key>pre/x y/a&amp;b</Key><Size>3</Size></Contents>"
           "<Contents><Key>pre/x y/c</Key><Size>4</Size></Contents></ListBucketResult>");
    ANSWER(f, 1, OK,
           "<ListBucketResult><IsTruncated>false</IsTruncated>"
           "<Contents><Key>pre/x y/d</Key><Size>5</Size></Contents></ListBucketResult>");
    fake_start(&f);
    lake_store *st = open_fake(&f, 3);
    struct wr_err e = {0};
    struct acc a = {0};
    CHECK_INT(lake_store_list(st, "x y/", accumulate, &a, &e), 0);
    fake_stop(&f);
    CHECK_INT(f.nreq, 2);
    CHECK_STR(a.keys, "x y/a&b;x y/c;x y/d;");
    CHECK_INT(a.total, 12);
    CHECK_STR(f.req_line[0], "GET /bkt?list-type=2&prefix=pre%2Fx%20y%2F HTTP/1.1");
    CHECK_STR(f.req_line[1],
              "GET /bkt?continuation-token=t%2F1%3D%2B&list-type=2&prefix=pre%2Fx%20y%2F HTTP/1.1");
    lake_store_destroy(st);
}

static void test_truncated_list_without_token(void)
{
    struct fake f = {0};
    ANSWER(f, 0, OK, "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>");
    fake_start(&f);
    lake_store *st = open_fake(&f, 3);
    struct wr_err e = {0};
    struct acc a = {0};
    CHECK_INT(lake_store_list(st, "", accumulate, &a, &e), WR_EIO);
    CHECK(strstr(e.msg, "continuation token") != NULL);
    fake_stop(&f);
    lake_store_destroy(st);
}

static void test_list_stops_on_a_repeated_token(void)
{
    /* The same token again (a server that ignores it): stopped after the second page. */
    struct fake f = {0};
    ANSWER(f, 0, OK,
           "<ListBucketResult><IsTruncated>true</IsTruncated>"
           "<NextContinuationToken>same</NextContinuationToken>"
           "<Contents><Key>pre/a</Key><Size>1</Size></Contents></ListBucketResult>");
    fake_start(&f);
    lake_store *st = open_fake(&f, 3);
    struct wr_err e = {0};
    struct acc a = {0};
    CHECK_INT(lake_store_list(st, "", accumulate, &a, &e), WR_EIO);
    CHECK(strstr(e.msg, "repeated a continuation token") != NULL);
    fake_stop(&f);
    CHECK_INT(f.nreq, 2);
    lake_store_destroy(st);

    /* A cycle A, B, A: stopped at the third page, not only on the same token twice. */
    struct fake g = {0};
    ANSWER(g, 0, OK,
           "<ListBucketResult><IsTruncated>true</IsTruncated>"
           "<NextContinuationToken>A</NextContinuationToken></ListBucketResult>");
    ANSWER(g, 1, OK,
           "<ListBucketResult><IsTruncated>true</IsTruncated>"
           "<NextContinuationToken>B</NextContinuationToken></ListBucketResult>");
    ANSWER(g, 2, OK,
           "<ListBucketResult><IsTruncated>true</IsTruncated>"
           "<NextContinuationToken>A</NextContinuationToken></ListBucketResult>");
    fake_start(&g);
    st = open_fake(&g, 3);
    memset(&a, 0, sizeof a);
    CHECK_INT(lake_store_list(st, "", accumulate, &a, &e), WR_EIO);
    CHECK(strstr(e.msg, "after 3 pages") != NULL);
    fake_stop(&g);
    CHECK_INT(g.nreq, 3);
    lake_store_destroy(st);
}

int main(void)
{
    CHECK_RUN(test_request_shape);
    CHECK_RUN(test_slowdown_then_success);
    CHECK_RUN(test_server_errors_exhaust_attempts);
    CHECK_RUN(test_client_error_not_retried);
    CHECK_RUN(test_silent_server_times_out);
    CHECK_RUN(test_complete_200_with_error_aborts);
    CHECK_RUN(test_oversized_answer);
    CHECK_RUN(test_list_follows_tokens);
    CHECK_RUN(test_truncated_list_without_token);
    CHECK_RUN(test_list_stops_on_a_repeated_token);
    return CHECK_DONE();
}
