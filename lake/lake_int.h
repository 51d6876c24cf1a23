/* lake_int.h - private to lake/: the store vtable shared by the backends, and the
 * SigV4 signer and XML helpers of the S3 backend (exposed here so tests reach them), and
 * the S3 store and request shared by s3.c and s3_multipart.c. */
#ifndef WEIR_LAKE_INT_H
#define WEIR_LAKE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/err.h"
#include "lake/lake.h"

/* A source of body bytes: memory (mem != NULL) or a range of a file descriptor. */
struct lake__src {
    const char *mem;
    int fd;
    uint64_t off;
    uint64_t len;
};

struct lake__ops {
    const char *kind;
    int (*put)(lake_store *st, const char *key, const struct lake__src *src, struct wr_err *err);
    int (*get)(lake_store *st, const char *key, struct wr_buf *out, struct wr_err *err);
    int (*list)(lake_store *st, const char *prefix, lake_list_fn fn, void *arg, struct wr_err *err);
    int (*del)(lake_store *st, const char *key, struct wr_err *err);
    void (*destroy)(lake_store *st);
};

/* Every backend's struct starts with this header. */
struct lake_store {
    const struct lake__ops *ops;
    struct lake_store_stats stats;
};

lake_store *lake__file_open(const struct lake_url *u, struct wr_err *err);
lake_store *lake__s3_open(const struct lake_url *u, const struct lake_s3_opts *o,
                          struct wr_err *err);

/* Creates the bucket of an s3:// store (for tests and setup; an existing bucket we
 * own is success). Returns 0, WR_EINVAL for a file store, or as lake_store_put. */
int lake__s3_create_bucket(lake_store *st, struct wr_err *err);

/* ---- SigV4 (sigv4.c) ---- */

struct lake__hdr {
    const char *name;  /* any case; repeated names are joined with ',' in order */
    const char *value; /* trimmed and inner space runs collapsed when signed */
};

struct lake__sigreq {
    const char *method;
    const char *path;  /* raw, unencoded path ("/bucket/dt=2024-01-01/x"); encoded once per segment */
    const char *query; /* query as given ("b=2&a=1", may be NULL); canonicalised and sorted */
    const struct lake__hdr *hdrs; /* the headers to sign (host and x-amz-date included by caller) */
    size_t nhdrs;
    const char *payload_sha256; /* lowercase hex */
};

#define LAKE__MAX_SIG_HEADERS 32

/* Appends s (len bytes) to out, percent-encoding every byte except A-Z a-z 0-9 - _ . ~
 * (and '/' when keep_slash), with upper-case hex, as SigV4 requires. */
int lake__uri_encode(struct wr_buf *out, const char *s, size_t len, int keep_slash);

/* Appends the canonical query string of query (pairs split on '&' and the first
 * '=', percent-decoded then encoded strictly, '+' kept as a literal plus, sorted by
 * name then value). Returns 0 or a wr_buf error. */
int lake__canonical_query(struct wr_buf *out, const char *query);

/* Appends the canonical request of r (AWS SigV4 task 1) and, when signed_headers is
 * not NULL, writes the ';'-joined signed header names there (cap bytes). Returns 0,
 * WR_EINVAL (too many headers), or a wr_buf error. */
int lake__canonical_request(struct wr_buf *out, const struct lake__sigreq *r,
                            char *signed_headers, size_t cap);

/* Computes the Authorization header value for r. amz_date is "YYYYMMDDTHHMMSSZ".
 * Optionally appends the string to sign to sts (may be NULL). Returns 0 or a
 * negative code. */
int lake__sigv4_authorization(const struct lake__sigreq *r, const char *access_key,
                              const char *secret_key, const char *region, const char *service,
                              const char *amz_date, char *auth, size_t auth_cap,
                              struct wr_buf *sts);

/* ---- tiny XML reading (s3xml.c): enough for S3 responses, not general XML ---- */

/* Finds the first <tag>...</tag> in [p, p+len) at or after *pos. On success sets
 * *vp and *vlen to the raw inner text, advances *pos past the closing tag, returns 1;
 * else returns 0. */
int lake__xml_find(const char *p, size_t len, size_t *pos, const char *tag, const char **vp,
                   size_t *vlen);

/* Decodes the five XML entities and numeric references of [p, p+len) into out
 * (cap bytes incl. NUL). Returns 0, or WR_EINVAL for a bad entity / NUL byte, or
 * WR_ELIMIT when it does not fit. */
int lake__xml_text(const char *p, size_t len, char *out, size_t cap);

/* Appends s escaped for XML text (& < > " '). */
int lake__xml_escape(struct wr_buf *out, const char *s);

/* ---- the s3:// store (s3.c; multipart upload in s3_multipart.c) ---- */

struct s3_store {
    struct lake_store base;
    CURL *curl;
    char bucket[LAKE_BUCKET_MAX];
    char prefix[LAKE_PREFIX_MAX];
    char origin[700]; /* scheme://host[:port] requests go to */
    char host[640];   /* the Host header, signed */
    int path_style;
    char region[64];
    char *ak, *sk, *token;
    size_t mp_threshold, part_size;
    int max_attempts;
    long base_ms, cap_ms, connect_ms, low_time_s, low_bytes;
    int max_keys;
    int insecure;
    char errbuf[CURL_ERROR_SIZE];
    struct wr_buf errbody;
};

/* One request as the retry loop sees it. */
struct s3_call {
    const char *method;
    const char *key;   /* full object key inside the bucket, or NULL for the bucket */
    const char *query; /* canonical query (built with lake__canonical_query) or "" */
    const struct lake__src *body; /* NULL: no body */
    const char *content_type;     /* NULL: none */
    struct wr_buf *resp;          /* 2xx body sink, capped by its max_len */
    int error_in_200;             /* an <Error> in a 200 body is a failure (Complete) */
    /* filled per attempt */
    long status;
    int overflow;
    char etag[160];
    long retry_after_s;
    /* private to the transfer */
    uint64_t sent;
    size_t resp_len0;
};

/* Sends c with bounded jittered retries of transient failures; 0 or the error (s3.c). */
int lake__s3_request(struct s3_store *s, struct s3_call *c, struct wr_err *err);
/* Sets q to the canonical form of the raw query (an empty query is ""). */
int lake__s3_query(struct wr_buf *q, const char *raw, struct wr_err *err);
/* The Content-Type stored with an object, from its name. */
const char *lake__s3_content_type(const char *key);
/* Uploads src as key fk in parts of s->part_size (doubled until at most 10,000 parts);
 * aborts the upload on failure (s3_multipart.c). */
int lake__s3_put_multipart(struct s3_store *s, const char *fk, const struct lake__src *src,
                           struct wr_err *err);

#endif
