/* store.c - the object store front: URL dispatch to a backend, key checks shared by
 * both backends, and the counters. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake/lake_int.h"

#include "common/opts.h"

#define KEY_MAX 900

int lake_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > KEY_MAX) {
        return 0;
    }
    const char *seg = key;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t sl = end ? (size_t)(end - seg) : strlen(seg);
        /* Empty, "." and ".." segments would escape or alias in a directory, and a
         * leading '.' is reserved for the file store's temporary names. */
        if (sl == 0 || seg[0] == '.') {
            return 0;
        }
        for (size_t i = 0; i < sl; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c < 0x20 || c == 0x7f || c == '\\') {
                return 0;
            }
        }
        if (!end) {
            return 1;
        }
        seg = end + 1;
    }
}

void lake_s3_opts_from_env(struct lake_s3_opts *o)
{
    /* The one place weir reads AWS's standard variables, as every AWS tool does. */
    if (!o->access_key) {
        o->access_key = wr_env("AWS_ACCESS_KEY_ID");
    }
    if (!o->secret_key) {
        o->secret_key = wr_env("AWS_SECRET_ACCESS_KEY");
    }
    if (!o->session_token) {
        o->session_token = wr_env("AWS_SESSION_TOKEN");
    }
    if (!o->region) {
        o->region = wr_env("AWS_REGION");
    }
    if (!o->region) {
        o->region = wr_env("AWS_DEFAULT_REGION");
    }
}

lake_store *lake_store_open(const char *url, const struct lake_s3_opts *opts, struct wr_err *err)
{
    struct lake_url u;
    if (lake_url_parse(url, &u, err) != 0) {
        return NULL;
    }
    if (u.scheme == LAKE_FILE) {
        return lake__file_open(&u, err);
    }
    /* As every AWS tool does, unset credentials and region come from the standard
     * variables; explicit options win. */
    struct lake_s3_opts o;
    if (opts) {
        o = *opts;
    } else {
        memset(&o, 0, sizeof o);
    }
    lake_s3_opts_from_env(&o);
    return lake__s3_open(&u, &o, err);
}

void lake_store_destroy(lake_store *st)
{
    if (st) {
        st->ops->destroy(st);
    }
}

const char *lake_store_kind(const lake_store *st)
{
    return st->ops->kind;
}

static int counted(lake_store *st, int rc)
{
    if (rc < 0) {
        st->stats.failures++;
    }
    return rc;
}

static int bad_key(const char *key, struct wr_err *err)
{
    return wr_err_set(err, WR_EINVAL, "lake key '%.80s' is not acceptable", key ? key : "(null)");
}

int lake_store_put(lake_store *st, const char *key, const void *p, size_t len, struct wr_err *err)
{
    if (!lake_key_ok(key)) {
        return counted(st, bad_key(key, err));
    }
    if (!p && len) {
        return counted(st, wr_err_set(err, WR_EINVAL, "put: NULL data of %zu bytes", len));
    }
    struct lake__src src = {.mem = len ? (const char *)p : "", .fd = -1, .off = 0, .len = len};
    int rc = st->ops->put(st, key, &src, err);
    if (rc == 0) {
        st->stats.bytes_put += len;
    }
    return counted(st, rc);
}

int lake_store_put_fd(lake_store *st, const char *key, int fd, struct wr_err *err)
{
    if (!lake_key_ok(key)) {
        return counted(st, bad_key(key, err));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        return counted(st, wr_err_set(err, WR_EIO, "fstat: %s", strerror(errno)));
    }
    if (!S_ISREG(sb.st_mode)) {
        return counted(st, wr_err_set(err, WR_EINVAL, "put_fd: not a regular file"));
    }
    struct lake__src src = {.mem = NULL, .fd = fd, .off = 0, .len = (uint64_t)sb.st_size};
    int rc = st->ops->put(st, key, &src, err);
    if (rc == 0) {
        st->stats.bytes_put += (uint64_t)sb.st_size;
    }
    return counted(st, rc);
}

int lake_store_put_path(lake_store *st, const char *key, const char *path, struct wr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return counted(st, wr_err_set(err, errno == ENOENT ? WR_ENOENT : WR_EIO, "open %.100s: %s",
                                      path, strerror(errno)));
    }
    int rc = lake_store_put_fd(st, key, fd, err);
    close(fd);
    return rc;
}

int lake_store_get(lake_store *st, const char *key, struct wr_buf *out, struct wr_err *err)
{
    if (!lake_key_ok(key)) {
        return counted(st, bad_key(key, err));
    }
    int rc = st->ops->get(st, key, out, err);
    /* A missing object is an answer the curator expects, not a failure to count. */
    return rc == WR_ENOENT ? rc : counted(st, rc);
}

int lake_store_list(lake_store *st, const char *prefix, lake_list_fn fn, void *arg,
                    struct wr_err *err)
{
    if (!prefix) {
        prefix = "";
    }
    if (strlen(prefix) > KEY_MAX) {
        return counted(st, wr_err_set(err, WR_EINVAL, "list prefix too long"));
    }
    for (const char *q = prefix; *q; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            return counted(st, wr_err_set(err, WR_EINVAL, "list prefix has a control character"));
        }
    }
    /* The complete segments of a prefix follow the key rules, so a prefix such as
     * "../" cannot walk a file store out of its root. */
    const char *slash = strrchr(prefix, '/');
    if (slash) {
        char dir[KEY_MAX + 1];
        size_t n = (size_t)(slash - prefix);
        memcpy(dir, prefix, n);
        dir[n] = '\0';
        if (!lake_key_ok(dir)) {
            return counted(st, wr_err_set(err, WR_EINVAL, "list prefix '%.80s' is not acceptable",
                                          prefix));
        }
    }
    return counted(st, st->ops->list(st, prefix, fn, arg, err));
}

int lake_store_delete(lake_store *st, const char *key, struct wr_err *err)
{
    if (!lake_key_ok(key)) {
        return counted(st, bad_key(key, err));
    }
    return counted(st, st->ops->del(st, key, err));
}

void lake_store_stats(const lake_store *st, struct lake_store_stats *out)
{
    *out = st->stats;
}
