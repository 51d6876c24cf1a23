/* lake.h - the data lake: lake URLs, Hive-style partition paths, and the object
 * store interface with two backends (a local directory and S3-compatible storage).
 * The gateway writes through it, the curation worker lists and reads through it. */
#ifndef WEIR_LAKE_H
#define WEIR_LAKE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* ---- Lake URLs ------------------------------------------------------------ */

enum lake_scheme { LAKE_FILE = 1, LAKE_S3 = 2 };

#define LAKE_PATH_MAX 4096
#define LAKE_BUCKET_MAX 64   /* S3 bucket names are 3..63 bytes */
#define LAKE_PREFIX_MAX 512

/* The default lake root of the embedded mode, relative to the working directory. */
#define LAKE_DEFAULT_URL "file://./var/lake"

struct lake_url {
    int scheme;                    /* LAKE_FILE or LAKE_S3 */
    char path[LAKE_PATH_MAX];      /* LAKE_FILE: "/abs/dir" or "./rel/dir", no trailing '/' */
    char bucket[LAKE_BUCKET_MAX];  /* LAKE_S3 */
    char prefix[LAKE_PREFIX_MAX];  /* LAKE_S3: "" or "a/b" (no leading or trailing '/') */
};

/* Parses a lake root URL: file:///absolute/dir, file://./relative/dir (also ../),
 * s3://bucket or s3://bucket/prefix. Returns 0 and fills out, or WR_EINVAL with a
 * message naming what is wrong (unknown scheme, file://host form, bad bucket name,
 * empty or '..' path segments, control characters, too long). out is written only
 * on success. */
int lake_url_parse(const char *url, struct lake_url *out, struct wr_err *err);

/* ---- Partition paths -------------------------------------------------------- */

/* Formats the UTC day "YYYY-MM-DD" (dt, 11 bytes with NUL) and hour "HH" (hr, 3
 * bytes) of unix time t. Returns 0, or WR_EINVAL for a time outside years 0..9999. */
int lake_time_partition(int64_t t, char dt[11], char hr[3]);

/* Checks that s can be one partition value or file name in a key: 1..200 bytes of
 * letters, digits and . _ - (plus ':' and '+' for file names only when
 * file_name is set), not starting with '.'. Returns 1 when acceptable, else 0. */
int lake_segment_ok(const char *s, int file_name);

/* Each path builder writes a key relative to the lake root into out (cap bytes,
 * NUL-terminated) and returns 0, or WR_EINVAL when a part is unacceptable (see
 * lake_segment_ok) or WR_ELIMIT when cap is too small. Nothing is allocated.
 *   raw/event_type=<t>/dt=YYYY-MM-DD/hr=HH/<file>         (t, hour of received_at)
 *   rejected/dt=YYYY-MM-DD/hr=HH/<file>
 *   curated/events/event_type=<t>/dt=<dt>/part-<nnnnn>.parquet
 *   curated/rollups/hourly/dt=<dt>/part-<nnnnn>.parquet
 * dt arguments are "YYYY-MM-DD" strings and are checked for that shape; part
 * numbers are zero-padded to 5 digits so that names sort in numeric order. */
int lake_path_raw(char *out, size_t cap, const char *event_type, int64_t received_at,
                  const char *file);
int lake_path_rejected(char *out, size_t cap, int64_t received_at, const char *file);
int lake_path_curated_events(char *out, size_t cap, const char *event_type, const char *dt,
                             unsigned part);
int lake_path_curated_rollup(char *out, size_t cap, const char *dt, unsigned part);

/* The parts of a raw-zone key, as lake_path_raw writes it. */
struct lake_raw_key {
    char event_type[201];
    char dt[11];
    char hr[3];
    char file[201];
};

/* Splits a raw-zone key ("raw/event_type=.../dt=.../hr=.../file"). Returns 1 and
 * fills out when key has exactly that shape with valid parts, else 0 (a foreign or
 * malformed key is a result, not an error). */
int lake_path_parse_raw(const char *key, struct lake_raw_key *out);

/* ---- Object stores ---------------------------------------------------------- */

typedef struct lake_store lake_store;

enum lake_s3_addressing {
    LAKE_S3_ADDR_AUTO = 0, /* path-style when an endpoint is set or the bucket has a dot */
    LAKE_S3_ADDR_PATH = 1, /* http(s)://endpoint/bucket/key */
    LAKE_S3_ADDR_VHOST = 2 /* http(s)://bucket.endpoint/key */
};

/* Options of the S3 backend (ignored for file:// lakes). Zero/NULL fields take the
 * default named beside them. Strings are copied by lake_store_open. */
struct lake_s3_opts {
    const char *endpoint;      /* "http://127.0.0.1:9000"; NULL: https://s3.<region>.amazonaws.com */
    const char *region;        /* NULL: AWS_REGION, AWS_DEFAULT_REGION, else "us-east-1" */
    const char *access_key;    /* NULL: AWS_ACCESS_KEY_ID */
    const char *secret_key;    /* NULL: AWS_SECRET_ACCESS_KEY */
    const char *session_token; /* NULL: AWS_SESSION_TOKEN; sent as x-amz-security-token */
    int addressing;            /* enum lake_s3_addressing */
    size_t multipart_threshold;  /* bodies above this go multipart; 0: 16 MiB */
    size_t part_size;            /* multipart part size, >= 5 MiB; 0: 8 MiB */
    int max_attempts;            /* attempts per request incl. the first; 0: 6 */
    long retry_base_ms;          /* backoff base; 0: 200 ms */
    long retry_cap_ms;           /* backoff cap; 0: 10000 ms */
    long connect_timeout_ms;     /* 0: 5000 ms */
    long low_speed_time_s;       /* abort a transfer slower than low_speed_bytes/s for this long; 0: 30 s */
    long low_speed_bytes;        /* 0: 1024 */
    int list_max_keys;           /* ListObjectsV2 page size; 0: server default (1000) */
    int insecure_tls;            /* nonzero: do not verify TLS certificates (tests only) */
};

/* The S3 options as the command line gives them (strings as typed; NULL = unset). */
struct lake_s3_args {
    const char *endpoint, *region, *addressing;
    const char *access_key, *secret_key, *session_token;
};

/* Parses the command line's S3 options into o, the one place they are read: o is
 * zeroed, the strings point into args, and addressing is "auto" (or NULL), "path" or
 * "virtual". Returns 0, or WR_EINVAL with err naming the option (a usage error: exit 2). */
int lake_s3_opts_parse(const struct lake_s3_args *args, struct lake_s3_opts *o,
                       struct wr_err *err);

/* Fills the NULL credential and region fields of o from the standard AWS variables:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, and region from
 * AWS_REGION then AWS_DEFAULT_REGION. The pointers refer to the environment, so o
 * must be used (lake_store_open copies it) before the environment changes. */
void lake_s3_opts_from_env(struct lake_s3_opts *o);

/* Opens the store named by a lake URL (see lake_url_parse). A file:// root is
 * created (with parents) when missing. For s3://, NULL credential and region fields
 * of opts are filled from the standard AWS variables (lake_s3_opts_from_env); a
 * missing access key or secret is refused. Opening does no network I/O. opts may be NULL for file:// lakes. Returns NULL and
 * fills err on failure (WR_EINVAL bad URL or options, WR_EIO, WR_ENOMEM).
 * Threads: a store is NOT thread-safe (the S3 backend reuses one curl handle for
 * keep-alive); use one store per thread, or serialise calls with your own lock.
 * Different stores may be used concurrently. */
lake_store *lake_store_open(const char *url, const struct lake_s3_opts *opts, struct wr_err *err);

/* Closes the store and frees everything; NULL is a no-op. */
void lake_store_destroy(lake_store *st);

/* Returns "file" or "s3". */
const char *lake_store_kind(const lake_store *st);

/* Keys are relative to the lake root (or the s3 prefix): 1..900 bytes, segments
 * separated by single '/', no empty, "." or ".." segment, no segment starting with
 * '.', no control characters. A bad key is refused with WR_EINVAL. */
int lake_key_ok(const char *key);

/* Stores len bytes at key, replacing any object there (p may be NULL when len is 0). The object is never visible
 * half-written: file:// writes a temporary name in the same directory, fsyncs it,
 * renames it and fsyncs the directory (creating missing parents durably); s3:// does
 * one PUT with Content-MD5 and x-amz-content-sha256, or a multipart upload above
 * the threshold. Retryable S3 failures (connection errors, timeouts, 5xx, SlowDown,
 * RequestTimeout) are retried with jittered exponential backoff up to max_attempts.
 * Returns 0; WR_EAGAIN when the last attempt still failed in a retryable way;
 * WR_EIO for other failures (for example 403 with the server's code and message in
 * err); WR_EINVAL for a bad key. The caller keeps its data on any failure. */
int lake_store_put(lake_store *st, const char *key, const void *p, size_t len, struct wr_err *err);

/* As lake_store_put, with the body read from fd: the bytes from offset 0 to the
 * file's current size (fd's position is not used or changed). S3 streams the file
 * and never holds more than one part in memory. */
int lake_store_put_fd(lake_store *st, const char *key, int fd, struct wr_err *err);

/* As lake_store_put_fd with the file at path. */
int lake_store_put_path(lake_store *st, const char *key, const char *path, struct wr_err *err);

/* Reads the whole object at key into out (appended; out's max_len is the size
 * cap). Returns 0; WR_ENOENT when there is no such object; WR_ELIMIT when it is
 * larger than out allows (out then holds an unspecified prefix); WR_EAGAIN/WR_EIO as
 * lake_store_put. */
int lake_store_get(lake_store *st, const char *key, struct wr_buf *out, struct wr_err *err);

/* Called once per listed object; return nonzero to stop the listing early (then
 * lake_store_list returns that value). key is valid during the call only. */
typedef int (*lake_list_fn)(void *arg, const char *key, uint64_t size);

/* Lists every object whose key starts with prefix ("" for all; its segments up to
 * the last '/' must follow the key rules, else WR_EINVAL), following S3
 * continuation tokens. Temporary files of unfinished file:// puts are never
 * listed. S3 lists in byte order of keys; file:// lists each directory sorted
 * (so "a-b" may come after "a/x"). Returns 0, the callback's nonzero value, or a
 * negative error as lake_store_get. */
int lake_store_list(lake_store *st, const char *prefix, lake_list_fn fn, void *arg,
                    struct wr_err *err);

/* Deletes the object at key; a missing object is not an error (returns 0). */
int lake_store_delete(lake_store *st, const char *key, struct wr_err *err);

/* Counters since open, for metrics. */
struct lake_store_stats {
    uint64_t requests;      /* HTTP requests sent (S3) or operations (file) */
    uint64_t retries;       /* S3 attempts after the first */
    uint64_t failures;      /* operations that returned an error */
    uint64_t bytes_put;
    uint64_t multipart_uploads;
};

/* Copies the counters into out. */
void lake_store_stats(const lake_store *st, struct lake_store_stats *out);

#endif
