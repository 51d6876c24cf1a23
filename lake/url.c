/* url.c - lake root URLs: file:///abs, file://./rel and s3://bucket/prefix, checked
 * strictly so a typo in WEIR_LAKE fails at startup rather than writing somewhere odd. */
#include <string.h>

#include "lake/lake.h"

/* Checks the segments of a '/'-separated path and returns why it is refused, or
 * NULL: no empty segment (one trailing '/' aside), no control bytes or backslashes,
 * and no "." or ".." segment, except leading ones of a relative file path
 * ("./var/lake", "../lake"). */
static const char *check_segments(const char *s, int file_path)
{
    const char *seg = s;
    int leading = 1;
    if (file_path && *s == '/') {
        seg = s + 1;
        leading = 0;
    }
    for (const char *q = s; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            return "control character";
        }
        if (*q == '\\') {
            return "backslash";
        }
    }
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0) {
            /* A single trailing '/' is tolerated; lake_url_parse strips it. */
            if (!end) {
                return NULL;
            }
            return "empty path segment ('//')";
        }
        if (n == 1 && seg[0] == '.') {
            if (!(file_path && leading)) {
                return "'.' path segment";
            }
        } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (!(file_path && leading)) {
                return "'..' path segment";
            }
        } else {
            leading = 0;
        }
        if (!end) {
            return NULL;
        }
        seg = end + 1;
    }
}

static int bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '.') {
            return 0;
        }
        if ((i == 0 || i == n - 1) && !alnum) {
            return 0;
        }
        if (c == '.' && i > 0 && b[i - 1] == '.') {
            return 0;
        }
    }
    return 1;
}

static int parse_file(const char *rest, struct lake_url *out, struct wr_err *err)
{
    /* file:///abs -> rest "/abs"; file://./rel -> "./rel"; file://../x -> "../x". */
    if (rest[0] == '/') {
        if (rest[1] == '\0') {
            return wr_err_set(err, WR_EINVAL, "lake URL file:/// names the root directory");
        }
    } else if (!(rest[0] == '.' && (rest[1] == '/' || (rest[1] == '.' && rest[2] == '/')))) {
        return wr_err_set(err, WR_EINVAL,
                          "lake URL file://%.40s: use file:///absolute/dir or file://./relative/dir",
                          rest);
    }
    const char *why = check_segments(rest, 1);
    if (why) {
        return wr_err_set(err, WR_EINVAL, "lake URL file://%.60s: %s", rest, why);
    }
    size_t n = strlen(rest);
    while (n > 1 && rest[n - 1] == '/') {
        n--;
    }
    if (n >= sizeof out->path) {
        return wr_err_set(err, WR_EINVAL, "lake URL path longer than %zu bytes",
                          sizeof out->path - 1);
    }
    if (n == 2 && rest[0] == '.' && rest[1] == '/') {
        n = 1; /* "./" is "." */
    }
    memset(out, 0, sizeof *out);
    out->scheme = LAKE_FILE;
    memcpy(out->path, rest, n);
    out->path[n] = '\0';
    return 0;
}

static int parse_s3(const char *rest, struct lake_url *out, struct wr_err *err)
{
    const char *slash = strchr(rest, '/');
    size_t bn = slash ? (size_t)(slash - rest) : strlen(rest);
    if (bn == 0) {
        return wr_err_set(err, WR_EINVAL, "lake URL s3://: missing bucket name");
    }
    if (!bucket_ok(rest, bn)) {
        return wr_err_set(err, WR_EINVAL,
                          "lake URL s3://%.*s: bad bucket name (3-63 of a-z 0-9 . -, "
                          "starting and ending with a letter or digit)",
                          (int)(bn > 70 ? 70 : bn), rest);
    }
    const char *prefix = slash ? slash + 1 : "";
    if (*prefix) {
        const char *why = check_segments(prefix, 0);
        if (why) {
            return wr_err_set(err, WR_EINVAL, "lake URL s3 prefix '%.60s': %s", prefix, why);
        }
    }
    size_t pn = strlen(prefix);
    while (pn > 0 && prefix[pn - 1] == '/') {
        pn--;
    }
    if (pn >= sizeof out->prefix) {
        return wr_err_set(err, WR_EINVAL, "lake URL s3 prefix longer than %zu bytes",
                          sizeof out->prefix - 1);
    }
    memset(out, 0, sizeof *out);
    out->scheme = LAKE_S3;
    memcpy(out->bucket, rest, bn);
    memcpy(out->prefix, prefix, pn);
    return 0;
}

int lake_url_parse(const char *url, struct lake_url *out, struct wr_err *err)
{
    if (!url || !*url) {
        return wr_err_set(err, WR_EINVAL, "lake URL is empty");
    }
    if (strncmp(url, "file://", 7) == 0) {
        return parse_file(url + 7, out, err);
    }
    if (strncmp(url, "s3://", 5) == 0) {
        return parse_s3(url + 5, out, err);
    }
    return wr_err_set(err, WR_EINVAL,
                      "lake URL '%.60s': expected file:///dir, file://./dir or s3://bucket/prefix",
                      url);
}

int lake_s3_opts_parse(const struct lake_s3_args *args, struct lake_s3_opts *o,
                       struct wr_err *err)
{
    memset(o, 0, sizeof *o);
    o->endpoint = args->endpoint;
    o->region = args->region;
    o->access_key = args->access_key;
    o->secret_key = args->secret_key;
    o->session_token = args->session_token;
    const char *a = args->addressing;
    if (!a || strcmp(a, "auto") == 0) {
        o->addressing = LAKE_S3_ADDR_AUTO;
    } else if (strcmp(a, "path") == 0) {
        o->addressing = LAKE_S3_ADDR_PATH;
    } else if (strcmp(a, "virtual") == 0) {
        o->addressing = LAKE_S3_ADDR_VHOST;
    } else {
        return wr_err_set(err, WR_EINVAL, "--s3-addressing: '%s' is not path, virtual or auto", a);
    }
    if (args->endpoint && strncmp(args->endpoint, "http://", 7) != 0 &&
        strncmp(args->endpoint, "https://", 8) != 0) {
        return wr_err_set(err, WR_EINVAL, "--s3-endpoint: '%s' is not an http:// or https:// URL",
                          args->endpoint);
    }
    return 0;
}
