/* s3.c - the s3:// backend: S3 REST over one reused libcurl easy handle, signed by
 * sigv4.c, with Content-MD5 + x-amz-content-sha256 on every body, multipart upload
 * for big objects (s3_multipart.c), and bounded jittered retries of transient failures. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/array.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/hash.h"
#include "lake/lake_int.h"

#define MIB (1024u * 1024u)
#define ERRBODY_MAX (64 * 1024)
#define LIST_BODY_MAX (16 * MIB)
#define HASH_CHUNK MIB

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* ---- hashing ---- */

struct hashes {
    char sha256[65];
    char md5b64[32];
};

static int hash_src(const struct lake__src *src, struct hashes *h, struct wr_err *err)
{
    EVP_MD_CTX *a = EVP_MD_CTX_new(), *b = EVP_MD_CTX_new();
    char *buf = NULL;
    int rc = 0;
    if (!a || !b || !EVP_DigestInit_ex(a, EVP_sha256(), NULL) ||
        !EVP_DigestInit_ex(b, EVP_md5(), NULL)) {
        rc = wr_err_set(err, WR_ENOMEM, "digest init");
        goto out;
    }
    if (src->mem) {
        EVP_DigestUpdate(a, src->mem, (size_t)src->len);
        EVP_DigestUpdate(b, src->mem, (size_t)src->len);
    } else {
        buf = malloc(HASH_CHUNK);
        if (!buf) {
            rc = wr_err_set(err, WR_ENOMEM, "hash buffer");
            goto out;
        }
        uint64_t off = src->off, left = src->len;
        while (left > 0) {
            size_t want = left < HASH_CHUNK ? (size_t)left : HASH_CHUNK;
            ssize_t r = pread(src->fd, buf, want, (off_t)off);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                rc = wr_err_set(err, WR_EIO, "read body file: %s",
                                r == 0 ? "file shrank" : strerror(errno));
                goto out;
            }
            EVP_DigestUpdate(a, buf, (size_t)r);
            EVP_DigestUpdate(b, buf, (size_t)r);
            off += (uint64_t)r;
            left -= (uint64_t)r;
        }
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(a, d, &dl);
    wr_hex(d, 32, h->sha256);
    EVP_DigestFinal_ex(b, d, &dl);
    EVP_EncodeBlock((unsigned char *)h->md5b64, d, (int)dl);
out:
    free(buf);
    EVP_MD_CTX_free(a);
    EVP_MD_CTX_free(b);
    return rc;
}

/* ---- curl callbacks ---- */

struct xfer {
    struct s3_store *s;
    struct s3_call *c;
};

static size_t on_read(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    const struct lake__src *src = x->c->body;
    size_t want = size * nmemb;
    uint64_t left = src->len - x->c->sent;
    if (want > left) {
        want = (size_t)left;
    }
    if (want == 0) {
        return 0;
    }
    if (src->mem) {
        memcpy(dst, src->mem + x->c->sent, want);
    } else {
        ssize_t r;
        do {
            r = pread(src->fd, dst, want, (off_t)(src->off + x->c->sent));
        } while (r < 0 && errno == EINTR);
        if (r <= 0) {
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)r;
    }
    x->c->sent += want;
    return want;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    struct xfer *x = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->c->body->len) {
        return CURL_SEEKFUNC_FAIL;
    }
    x->c->sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(x->s->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300 && x->c->resp) {
        if (wr_buf_append(x->c->resp, p, n) != 0) {
            x->c->overflow = 1;
            return 0;
        }
        return n;
    }
    /* Error documents (and 2xx bodies nobody wants) are kept up to a cap, then dropped. */
    if (x->s->errbody.len < ERRBODY_MAX) {
        size_t room = ERRBODY_MAX - x->s->errbody.len;
        wr_buf_append(&x->s->errbody, p, n < room ? n : room);
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        size_t i = 5, e = n;
        while (i < e && (p[i] == ' ' || p[i] == '\t')) {
            i++;
        }
        while (e > i && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' ')) {
            e--;
        }
        if (e - i < sizeof x->c->etag) {
            memcpy(x->c->etag, p + i, e - i);
            x->c->etag[e - i] = '\0';
        }
    } else if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        long v = 0;
        for (size_t i = 12; i < n && v < 100000; i++) {
            if (p[i] >= '0' && p[i] <= '9') {
                v = v * 10 + (p[i] - '0');
            } else if (p[i] != ' ') {
                break;
            }
        }
        x->c->retry_after_s = v;
    }
    return n;
}

/* ---- one attempt ---- */

static int add_header(struct curl_slist **l, const char *name, const char *value)
{
    char line[4200];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line) {
        return WR_ELIMIT;
    }
    struct curl_slist *nl = curl_slist_append(*l, line);
    if (!nl) {
        return WR_ENOMEM;
    }
    *l = nl;
    return 0;
}

/* Writes the unencoded request path: /bucket/key (path-style) or /key. */
static int raw_path(const struct s3_store *s, const char *key, struct wr_buf *out)
{
    if (s->path_style) {
        return wr_buf_printf(out, "/%s%s%s", s->bucket, key ? "/" : "", key ? key : "");
    }
    return wr_buf_printf(out, "/%s", key ? key : "");
}

/* Performs one HTTP exchange. Returns the CURLcode (CURLE_OK when a response
 * arrived, whatever its status), or -1 for a local failure with err filled. */
static int s3_once(struct s3_store *s, struct s3_call *c, const struct hashes *h,
                   struct wr_err *err)
{
    CURL *cu = s->curl;
    struct curl_slist *hl = NULL;
    struct wr_buf path, url;
    wr_buf_init(&path, 8192);
    wr_buf_init(&url, 16384);
    int rc = -1;

    c->status = 0;
    c->overflow = 0;
    c->etag[0] = '\0';
    c->retry_after_s = 0;
    c->sent = 0;
    if (c->resp) {
        c->resp->len = c->resp_len0;
        if (c->resp->p) {
            c->resp->p[c->resp->len] = '\0';
        }
    }
    wr_buf_clear(&s->errbody);

    char amz_date[17];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);

    if (raw_path(s, c->key, &path) != 0 || wr_buf_append(&url, s->origin, strlen(s->origin)) != 0 ||
        lake__uri_encode(&url, path.p, path.len, 1) != 0 ||
        (*c->query && (wr_buf_putc(&url, '?') != 0 ||
                       wr_buf_append(&url, c->query, strlen(c->query)) != 0))) {
        wr_err_set(err, WR_ELIMIT, "S3 request URL too long");
        goto out;
    }

    struct lake__hdr sh[6];
    size_t nh = 0;
    sh[nh++] = (struct lake__hdr){"host", s->host};
    sh[nh++] = (struct lake__hdr){"x-amz-content-sha256", h->sha256};
    sh[nh++] = (struct lake__hdr){"x-amz-date", amz_date};
    if (c->body) {
        sh[nh++] = (struct lake__hdr){"content-md5", h->md5b64};
    }
    if (c->content_type) {
        sh[nh++] = (struct lake__hdr){"content-type", c->content_type};
    }
    if (s->token) {
        sh[nh++] = (struct lake__hdr){"x-amz-security-token", s->token};
    }
    struct lake__sigreq sr = {.method = c->method,
                              .path = path.p,
                              .query = c->query,
                              .hdrs = sh,
                              .nhdrs = nh,
                              .payload_sha256 = h->sha256};
    char auth[1024];
    if (lake__sigv4_authorization(&sr, s->ak, s->sk, s->region, "s3", amz_date, auth, sizeof auth,
                                  NULL) != 0) {
        wr_err_set(err, WR_EINVAL, "S3 signing failed (credentials too long?)");
        goto out;
    }
    int hr = 0;
    for (size_t i = 0; i < nh && !hr; i++) {
        hr = add_header(&hl, sh[i].name, sh[i].value);
    }
    if (!hr) {
        hr = add_header(&hl, "Authorization", auth);
    }
    /* Suppress curl's own "Expect: 100-continue" and any default content type. */
    if (!hr) {
        struct curl_slist *nl = curl_slist_append(hl, "Expect:");
        hr = nl ? 0 : WR_ENOMEM;
        hl = nl ? nl : hl;
    }
    if (!hr && !c->content_type) {
        struct curl_slist *nl = curl_slist_append(hl, "Content-Type:");
        hr = nl ? 0 : WR_ENOMEM;
        hl = nl ? nl : hl;
    }
    if (hr) {
        wr_err_set(err, WR_ENOMEM, "S3 request headers");
        goto out;
    }

    struct xfer x = {s, c};
    /* Reset keeps the connection cache, so keep-alive survives between requests. */
    curl_easy_reset(cu);
    curl_easy_setopt(cu, CURLOPT_URL, url.p);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms);
    curl_easy_setopt(cu, CURLOPT_LOW_SPEED_LIMIT, s->low_bytes);
    curl_easy_setopt(cu, CURLOPT_LOW_SPEED_TIME, s->low_time_s);
    curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(cu, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(cu, CURLOPT_HEADERDATA, &x);
    if (s->insecure) {
        curl_easy_setopt(cu, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(cu, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->body) {
        curl_easy_setopt(cu, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(cu, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(cu, CURLOPT_READDATA, &x);
        curl_easy_setopt(cu, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(cu, CURLOPT_SEEKDATA, &x);
        curl_easy_setopt(cu, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body->len);
        if (strcmp(c->method, "PUT") != 0) {
            curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, c->method);
        }
    } else if (strcmp(c->method, "GET") != 0) {
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, c->method);
        if (strcmp(c->method, "POST") == 0) {
            /* POST with an empty body (initiate multipart): say Content-Length: 0. */
            curl_easy_setopt(cu, CURLOPT_POSTFIELDS, "");
            curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, 0L);
        }
    }
    s->errbuf[0] = '\0';
    s->base.stats.requests++;
    CURLcode cc = curl_easy_perform(cu);
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &c->status);
    rc = (int)cc;
    /* Drop pointers to this stack frame before the handle is used again. */
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, NULL);
out:
    curl_slist_free_all(hl);
    wr_buf_free(&path);
    wr_buf_free(&url);
    return rc;
}

/* ---- the retry loop ---- */

static int retryable_curl(int cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static int retryable_code(const char *code)
{
    return strcmp(code, "SlowDown") == 0 || strcmp(code, "RequestTimeout") == 0 ||
           strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0;
}

/* Extracts <Code> and <Message> of an S3 error document (either may stay empty). */
static void error_doc(const char *p, size_t len, char *code, size_t ccap, char *msg, size_t mcap)
{
    const char *v;
    size_t vl, pos = 0;
    code[0] = msg[0] = '\0';
    if (!p) {
        return;
    }
    if (lake__xml_find(p, len, &pos, "Code", &v, &vl)) {
        if (lake__xml_text(v, vl, code, ccap) != 0) {
            code[0] = '\0';
        }
    }
    pos = 0;
    if (lake__xml_find(p, len, &pos, "Message", &v, &vl)) {
        if (lake__xml_text(v, vl, msg, mcap) != 0) {
            msg[0] = '\0';
        }
    }
}

static const char *hint(const char *code)
{
    if (strcmp(code, "SignatureDoesNotMatch") == 0) {
        return " (check the secret key and the region)";
    }
    if (strcmp(code, "InvalidAccessKeyId") == 0) {
        return " (unknown access key id)";
    }
    if (strcmp(code, "RequestTimeTooSkewed") == 0) {
        return " (this machine's clock is off)";
    }
    if (strcmp(code, "NoSuchBucket") == 0) {
        return " (create the bucket first)";
    }
    return "";
}

/* Waits before the next attempt: the common jittered backoff, or the server's
 * Retry-After when that is longer (never past the cap). */
static void backoff(struct s3_store *s, struct wr_backoff *b, long retry_after_s)
{
    if (b->failures == 0) {
        wr_backoff_init(b, s->base_ms, s->cap_ms, true);
    }
    int64_t ms = wr_backoff_next_ms(b);
    if (retry_after_s > 0 && retry_after_s * 1000 > ms) {
        ms = retry_after_s * 1000 < s->cap_ms ? retry_after_s * 1000 : s->cap_ms;
    }
    wr_sleep_ms(ms);
}

/* Runs c with retries. Returns 0 on a 2xx (and, with error_in_200, no <Error>);
 * WR_ENOENT on 404 NoSuchKey; WR_ELIMIT when the body passed the sink's cap;
 * WR_EAGAIN when every attempt failed transiently; WR_EIO otherwise. */
int lake__s3_request(struct s3_store *s, struct s3_call *c, struct wr_err *err)
{
    struct hashes h;
    if (c->body) {
        int rc = hash_src(c->body, &h, err);
        if (rc != 0) {
            return rc;
        }
    } else {
        wr_sha256_hex("", 0, h.sha256);
        h.md5b64[0] = '\0';
    }
    c->resp_len0 = c->resp ? c->resp->len : 0;
    const char *what = c->key ? c->key : "(bucket)";
    char last[512] = "";
    struct wr_backoff bo = {.failures = 0};
    for (int attempt = 1;; attempt++) {
        if (attempt > 1) {
            s->base.stats.retries++;
        }
        int cc = s3_once(s, c, &h, err);
        if (cc < 0) {
            return err ? err->code : WR_EIO;
        }
        if (cc == CURLE_OK) {
            char code[64], msg[128];
            if (c->status >= 200 && c->status < 300) {
                if (!c->error_in_200 || !c->resp) {
                    return 0;
                }
                /* CompleteMultipartUpload can answer 200 and then report failure in
                 * the body, because the status line went out before the work ended. */
                size_t pos = 0;
                const char *v;
                size_t vl;
                const char *body = c->resp->p ? c->resp->p + c->resp_len0 : NULL;
                size_t blen = c->resp->len - c->resp_len0;
                if (!body || !lake__xml_find(body, blen, &pos, "Error", &v, &vl)) {
                    return 0;
                }
                error_doc(v, vl, code, sizeof code, msg, sizeof msg);
                snprintf(last, sizeof last, "S3 %s %.80s: 200 with error %s: %s", c->method, what,
                         code, msg);
                if (!retryable_code(code)) {
                    return wr_err_set(err, WR_EIO, "%s", last);
                }
            } else {
                error_doc(s->errbody.p, s->errbody.len, code, sizeof code, msg, sizeof msg);
                if (c->status == 404 && strcmp(code, "NoSuchBucket") != 0 && c->key) {
                    return wr_err_set(err, WR_ENOENT, "S3 %s %.80s: no such key", c->method, what);
                }
                snprintf(last, sizeof last, "S3 %s %.60s: HTTP %ld %s%s%s%s", c->method, what,
                         c->status, code[0] ? code : "(no error code)", msg[0] ? ": " : "", msg,
                         hint(code));
                int transient = c->status >= 500 || c->status == 429 ||
                                (c->status == 400 && strcmp(code, "RequestTimeout") == 0) ||
                                retryable_code(code);
                if (!transient) {
                    return wr_err_set(err, WR_EIO, "%s", last);
                }
            }
        } else {
            if (c->overflow) {
                return wr_err_set(err, WR_ELIMIT, "S3 %s %.80s: response over the %zu-byte cap",
                                  c->method, what, c->resp->max_len);
            }
            snprintf(last, sizeof last, "S3 %s %.60s: %s", c->method, what,
                     s->errbuf[0] ? s->errbuf : curl_easy_strerror((CURLcode)cc));
            if (!retryable_curl(cc)) {
                return wr_err_set(err, WR_EIO, "%s", last);
            }
        }
        if (attempt >= s->max_attempts) {
            return wr_err_set(err, WR_EAGAIN, "gave up after %d attempts: %s", attempt, last);
        }
        backoff(s, &bo, c->retry_after_s);
    }
}

/* ---- operations ---- */

/* Writes prefix/key (or key) into out. */
static int full_key(const struct s3_store *s, const char *key, char *out, size_t cap,
                    struct wr_err *err)
{
    int n = snprintf(out, cap, "%s%s%s", s->prefix, s->prefix[0] ? "/" : "", key);
    if (n < 0 || (size_t)n >= cap) {
        return wr_err_set(err, WR_EINVAL, "S3 key too long");
    }
    return 0;
}

int lake__s3_query(struct wr_buf *q, const char *raw, struct wr_err *err)
{
    wr_buf_clear(q);
    int rc = lake__canonical_query(q, raw);
    if (rc == 0 && !q->p) {
        rc = wr_buf_append(q, "", 0);
    }
    return rc ? wr_err_set(err, rc, "S3 query too long") : 0;
}

/* The Content-Type stored with an object, from its name. Not Content-Encoding: a
 * .jsonl.gz file is a gzip file, and tools must not unzip it on download. */
const char *lake__s3_content_type(const char *key)
{
    size_t n = strlen(key);
    if (n > 3 && strcmp(key + n - 3, ".gz") == 0) {
        return "application/gzip";
    }
    if (n > 8 && strcmp(key + n - 8, ".parquet") == 0) {
        return "application/vnd.apache.parquet";
    }
    return "application/octet-stream";
}

static int s3_put_single(struct s3_store *s, const char *fk, const struct lake__src *src,
                         struct wr_err *err)
{
    struct s3_call c = {.method = "PUT",
                        .key = fk,
                        .query = "",
                        .body = src,
                        .content_type = lake__s3_content_type(fk)};
    return lake__s3_request(s, &c, err);
}

static int s3_put(lake_store *st, const char *key, const struct lake__src *src, struct wr_err *err)
{
    struct s3_store *s = (struct s3_store *)st;
    char fk[LAKE_PREFIX_MAX + 1024];
    int rc = full_key(s, key, fk, sizeof fk, err);
    if (rc != 0) {
        return rc;
    }
    if (src->len > s->mp_threshold) {
        return lake__s3_put_multipart(s, fk, src, err);
    }
    return s3_put_single(s, fk, src, err);
}

static int s3_get(lake_store *st, const char *key, struct wr_buf *out, struct wr_err *err)
{
    struct s3_store *s = (struct s3_store *)st;
    char fk[LAKE_PREFIX_MAX + 1024];
    int rc = full_key(s, key, fk, sizeof fk, err);
    if (rc != 0) {
        return rc;
    }
    struct s3_call c = {.method = "GET", .key = fk, .query = "", .resp = out};
    return lake__s3_request(s, &c, err);
}

static int s3_del(lake_store *st, const char *key, struct wr_err *err)
{
    struct s3_store *s = (struct s3_store *)st;
    char fk[LAKE_PREFIX_MAX + 1024];
    int rc = full_key(s, key, fk, sizeof fk, err);
    if (rc != 0) {
        return rc;
    }
    struct s3_call c = {.method = "DELETE", .key = fk, .query = ""};
    rc = lake__s3_request(s, &c, err);
    return rc == WR_ENOENT ? 0 : rc;
}

static int s3_list(lake_store *st, const char *prefix, lake_list_fn fn, void *arg,
                   struct wr_err *err)
{
    struct s3_store *s = (struct s3_store *)st;
    char fp[LAKE_PREFIX_MAX + 1024];
    int n = snprintf(fp, sizeof fp, "%s%s%s", s->prefix, s->prefix[0] ? "/" : "", prefix);
    if (n < 0 || (size_t)n >= sizeof fp) {
        return wr_err_set(err, WR_EINVAL, "S3 list prefix too long");
    }
    size_t strip = s->prefix[0] ? strlen(s->prefix) + 1 : 0;
    struct wr_buf resp, q, raw;
    wr_buf_init(&resp, LIST_BODY_MAX);
    wr_buf_init(&q, 16384);
    wr_buf_init(&raw, 16384);
    char *token = NULL;
    char *key = malloc(4096);
    /* Every continuation token seen, as keyed hashes: a server that hands back one it
     * gave before (the same one, or a cycle) would keep this loop listing forever. */
    uint64_t *seen = NULL;
    size_t n_seen = 0, seen_cap = 0;
    unsigned char seen_key[16];
    wr_random_bytes(seen_key, sizeof seen_key);
    int rc = key ? 0 : wr_err_set(err, WR_ENOMEM, "list");
    while (rc == 0) {
        wr_buf_clear(&raw);
        rc = wr_buf_printf(&raw, "list-type=2&prefix=");
        rc = rc ? rc : lake__uri_encode(&raw, fp, strlen(fp), 0);
        if (!rc && s->max_keys > 0) {
            rc = wr_buf_printf(&raw, "&max-keys=%d", s->max_keys);
        }
        if (!rc && token) {
            rc = wr_buf_printf(&raw, "&continuation-token=");
            rc = rc ? rc : lake__uri_encode(&raw, token, strlen(token), 0);
        }
        if (rc != 0 || (rc = lake__s3_query(&q, raw.p, err)) != 0) {
            rc = wr_err_set(err, rc ? rc : WR_ELIMIT, "S3 list query too long");
            break;
        }
        wr_buf_clear(&resp);
        struct s3_call c = {.method = "GET", .key = NULL, .query = q.p, .resp = &resp};
        if ((rc = lake__s3_request(s, &c, err)) != 0) {
            break;
        }
        const char *body = resp.p ? resp.p : "";
        size_t pos = 0;
        const char *v;
        size_t vl;
        while (rc == 0 && lake__xml_find(body, resp.len, &pos, "Contents", &v, &vl)) {
            const char *kv, *sv;
            size_t kl, sl, p2 = 0, p3 = 0;
            char size_txt[32];
            if (!lake__xml_find(v, vl, &p2, "Key", &kv, &kl) ||
                lake__xml_text(kv, kl, key, 4096) != 0) {
                rc = wr_err_set(err, WR_EIO, "S3 list: unreadable <Key>");
                break;
            }
            uint64_t size = 0;
            if (lake__xml_find(v, vl, &p3, "Size", &sv, &sl) && sl < sizeof size_txt) {
                memcpy(size_txt, sv, sl);
                size_txt[sl] = '\0';
                size = strtoull(size_txt, NULL, 10);
            }
            if (strncmp(key, fp, strlen(fp)) != 0 || strlen(key) <= strip) {
                continue; /* not ours: a server that ignored the prefix */
            }
            rc = fn(arg, key + strip, size);
        }
        if (rc != 0) {
            break;
        }
        pos = 0;
        int truncated = lake__xml_find(body, resp.len, &pos, "IsTruncated", &v, &vl) &&
                        vl == 4 && memcmp(v, "true", 4) == 0;
        if (!truncated) {
            break;
        }
        pos = 0;
        free(token);
        token = NULL;
        if (!lake__xml_find(body, resp.len, &pos, "NextContinuationToken", &v, &vl) ||
            !(token = malloc(vl + 1)) || lake__xml_text(v, vl, token, vl + 1) != 0 || !token[0]) {
            rc = wr_err_set(err, WR_EIO, "S3 list: truncated answer without a continuation token");
            break;
        }
        uint64_t h = wr_siphash(seen_key, token, strlen(token));
        for (size_t i = 0; i < n_seen && rc == 0; i++) {
            if (seen[i] == h) {
                rc = wr_err_set(err, WR_EIO,
                                "S3 list: the server repeated a continuation token after %zu "
                                "pages; stopped instead of listing forever",
                                n_seen + 1);
            }
        }
        if (rc == 0 && WR_ARRAY_PUSH(&seen, &seen_cap, n_seen, 16) != 0) {
            rc = wr_err_set(err, WR_ENOMEM, "S3 list: out of memory");
        }
        if (rc != 0) {
            break;
        }
        seen[n_seen++] = h;
    }
    free(seen);
    free(token);
    free(key);
    wr_buf_free(&resp);
    wr_buf_free(&q);
    wr_buf_free(&raw);
    return rc;
}

static void s3_destroy(lake_store *st)
{
    struct s3_store *s = (struct s3_store *)st;
    if (s->curl) {
        curl_easy_cleanup(s->curl);
    }
    free(s->ak);
    wr_free_secret(s->sk);
    wr_free_secret(s->token);
    wr_buf_free(&s->errbody);
    free(s);
}

static const struct lake__ops s3_ops = {
    .kind = "s3",
    .put = s3_put,
    .get = s3_get,
    .list = s3_list,
    .del = s3_del,
    .destroy = s3_destroy,
};

int lake__s3_create_bucket(lake_store *st, struct wr_err *err)
{
    struct s3_store *s = (struct s3_store *)st;
    if (st->ops != &s3_ops) {
        return wr_err_set(err, WR_EINVAL, "not an S3 store");
    }
    struct s3_call c = {.method = "PUT", .key = NULL, .query = ""};
    struct lake__src empty = {.mem = "", .fd = -1, .off = 0, .len = 0};
    c.body = &empty;
    int rc = lake__s3_request(s, &c, err);
    if (rc == WR_EIO && (strstr(err->msg, "BucketAlreadyOwnedByYou") ||
                         strstr(err->msg, "BucketAlreadyExists"))) {
        return 0;
    }
    return rc;
}

/* Splits "http(s)://host[:port][/]" into the origin and the Host header value. */
static int parse_endpoint(struct s3_store *s, const char *ep, const char *vhost_bucket,
                          struct wr_err *err)
{
    int tls;
    const char *h;
    if (strncmp(ep, "http://", 7) == 0) {
        tls = 0;
        h = ep + 7;
    } else if (strncmp(ep, "https://", 8) == 0) {
        tls = 1;
        h = ep + 8;
    } else {
        return wr_err_set(err, WR_EINVAL, "S3 endpoint '%.80s': must start with http:// or https://",
                          ep);
    }
    size_t n = strcspn(h, "/?#");
    if (n == 0 || (h[n] == '/' && h[n + 1] != '\0') || h[n] == '?' || h[n] == '#') {
        return wr_err_set(err, WR_EINVAL, "S3 endpoint '%.80s': expected scheme://host[:port]", ep);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c == '@' || c >= 0x7f) {
            return wr_err_set(err, WR_EINVAL, "S3 endpoint '%.80s': bad host", ep);
        }
    }
    /* curl leaves a default port out of its Host header; the signed Host must match. */
    if (!tls && n > 3 && memcmp(h + n - 3, ":80", 3) == 0) {
        n -= 3;
    } else if (tls && n > 4 && memcmp(h + n - 4, ":443", 4) == 0) {
        n -= 4;
    }
    int a = snprintf(s->host, sizeof s->host, "%s%s%.*s", vhost_bucket ? vhost_bucket : "",
                     vhost_bucket ? "." : "", (int)n, h);
    int b = snprintf(s->origin, sizeof s->origin, "%s://%s", tls ? "https" : "http", s->host);
    if (a < 0 || (size_t)a >= sizeof s->host || b < 0 || (size_t)b >= sizeof s->origin) {
        return wr_err_set(err, WR_EINVAL, "S3 endpoint too long");
    }
    return 0;
}

lake_store *lake__s3_open(const struct lake_url *u, const struct lake_s3_opts *o,
                          struct wr_err *err)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != 0) {
        wr_err_set(err, WR_EIO, "curl_global_init failed");
        return NULL;
    }
    if (!o->access_key || !*o->access_key || !o->secret_key || !*o->secret_key) {
        wr_err_set(err, WR_EINVAL,
                   "S3 lake needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        return NULL;
    }
    if (o->part_size && o->part_size < 5 * MIB) {
        wr_err_set(err, WR_EINVAL, "S3 part size must be at least 5 MiB");
        return NULL;
    }
    if (o->addressing < LAKE_S3_ADDR_AUTO || o->addressing > LAKE_S3_ADDR_VHOST) {
        wr_err_set(err, WR_EINVAL, "S3 addressing: unknown value %d", o->addressing);
        return NULL;
    }
    const char *region = (o->region && *o->region) ? o->region : "us-east-1";
    for (const char *q = region; *q; q++) {
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-')) {
            wr_err_set(err, WR_EINVAL, "S3 region '%.40s': expected letters, digits and '-'",
                       region);
            return NULL;
        }
    }
    struct s3_store *s = calloc(1, sizeof *s);
    if (!s) {
        wr_err_set(err, WR_ENOMEM, "S3 store");
        return NULL;
    }
    s->base.ops = &s3_ops;
    wr_buf_init(&s->errbody, ERRBODY_MAX + 1);
    snprintf(s->bucket, sizeof s->bucket, "%s", u->bucket);
    snprintf(s->prefix, sizeof s->prefix, "%s", u->prefix);
    if (strlen(region) >= sizeof s->region) {
        wr_err_set(err, WR_EINVAL, "S3 region too long");
        goto fail;
    }
    snprintf(s->region, sizeof s->region, "%s", region);
    int has_ep = o->endpoint && *o->endpoint;
    if (o->addressing == LAKE_S3_ADDR_PATH) {
        s->path_style = 1;
    } else if (o->addressing == LAKE_S3_ADDR_VHOST) {
        s->path_style = 0;
    } else {
        /* Dotted bucket names break TLS wildcard certificates in virtual-host form. */
        s->path_style = has_ep || strchr(s->bucket, '.') != NULL;
    }
    char aws[160];
    snprintf(aws, sizeof aws, "https://s3.%s.amazonaws.com", s->region);
    if (parse_endpoint(s, has_ep ? o->endpoint : aws, s->path_style ? NULL : s->bucket, err) != 0) {
        goto fail;
    }
    s->ak = strdup(o->access_key);
    s->sk = strdup(o->secret_key);
    s->token = (o->session_token && *o->session_token) ? strdup(o->session_token) : NULL;
    if (!s->ak || !s->sk || (o->session_token && *o->session_token && !s->token)) {
        wr_err_set(err, WR_ENOMEM, "S3 credentials");
        goto fail;
    }
    s->mp_threshold = o->multipart_threshold ? o->multipart_threshold : 16 * MIB;
    s->part_size = o->part_size ? o->part_size : 8 * MIB;
    s->max_attempts = o->max_attempts > 0 ? o->max_attempts : 6;
    s->base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : 200;
    s->cap_ms = o->retry_cap_ms > 0 ? o->retry_cap_ms : 10000;
    s->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    s->low_time_s = o->low_speed_time_s > 0 ? o->low_speed_time_s : 30;
    s->low_bytes = o->low_speed_bytes > 0 ? o->low_speed_bytes : 1024;
    s->max_keys = o->list_max_keys > 0 ? o->list_max_keys : 0;
    s->insecure = o->insecure_tls;
    s->curl = curl_easy_init();
    if (!s->curl) {
        wr_err_set(err, WR_ENOMEM, "curl_easy_init failed");
        goto fail;
    }
    return &s->base;
fail:
    s3_destroy(&s->base);
    return NULL;
}
