/* store_file.c - the file:// backend: objects are files under a root directory,
 * written atomically (temporary name, fsync, rename, directory fsync) so a crash
 * leaves either the old object or the new one, never a torn file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/array.h"
#include "lake/lake_int.h"
#include "common/fsutil.h"

#define LIST_DEPTH_MAX 32
#define COPY_CHUNK (1u << 20)

struct file_store {
    struct lake_store base;
    int root_fd;
    char root[LAKE_PATH_MAX];
};

static atomic_uint tmp_counter;

static int io_err(struct wr_err *err, const char *what, const char *name)
{
    int e = errno;
    return wr_err_set(err, WR_EIO, "%s %.100s: %s", what, name, strerror(e));
}

/* Opens (creating when missing) each directory of the first n bytes of rel under
 * dirfd, fsyncing the parent of every directory it creates so the new entry is
 * durable. Symbolic links are followed only when follow is set (the configured root
 * may be one; nothing inside the lake is). Returns 0 and the deepest directory's fd
 * in *out, or a negative code with err filled (WR_ENOENT when missing). */
static int open_dirs(int dirfd, const char *rel, size_t n, int create, int follow, int *out,
                     struct wr_err *err)
{
    /* A fresh open, not dup(): a dup shares the directory offset that readdir moves. */
    int cur = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) {
        return io_err(err, "open directory", rel);
    }
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && rel[j] != '/') {
            j++;
        }
        char seg[256];
        size_t sl = j - i;
        if (sl == 0 || sl >= sizeof seg) {
            close(cur);
            return wr_err_set(err, WR_EINVAL, "path segment of %zu bytes", sl);
        }
        memcpy(seg, rel + i, sl);
        seg[sl] = '\0';
        if (create) {
            if (mkdirat(cur, seg, 0777) == 0) {
                if (fsync(cur) != 0) {
                    int rc = io_err(err, "fsync directory above", seg);
                    close(cur);
                    return rc;
                }
            } else if (errno != EEXIST) {
                int rc = io_err(err, "mkdir", seg);
                close(cur);
                return rc;
            }
        }
        int next = openat(cur, seg, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
        if (next < 0) {
            int e = errno;
            close(cur);
            errno = e;
            if (e == ENOENT || (e == ENOTDIR && !create)) {
                return wr_err_set(err, WR_ENOENT, "open directory %.100s: %s", seg, strerror(e));
            }
            return io_err(err, "open directory", seg);
        }
        close(cur);
        cur = next;
        i = j + 1;
    }
    *out = cur;
    return 0;
}

static int copy_src(int fd, const struct lake__src *src)
{
    if (src->mem) {
        return wr_write_all_paced(fd, src->mem, (size_t)src->len, 0);
    }
    uint64_t off = src->off, left = src->len;
    /* In-kernel copy first (reflinks on filesystems that have them); fall back to
     * read/write where the kernel refuses (different filesystems on old kernels). */
    while (left > 0) {
        loff_t in_off = (loff_t)off;
        ssize_t r = copy_file_range(src->fd, &in_off, fd, NULL, (size_t)left, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
            break;
        }
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            errno = EIO; /* the file shrank under us */
            return -1;
        }
        off += (uint64_t)r;
        left -= (uint64_t)r;
    }
    if (left == 0) {
        return 0;
    }
    char *buf = malloc(COPY_CHUNK);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    while (left > 0) {
        size_t want = left < COPY_CHUNK ? (size_t)left : COPY_CHUNK;
        ssize_t r = pread(src->fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                errno = EIO; /* the file shrank under us */
            }
            rc = -1;
            break;
        }
        if (wr_write_all(fd, buf, (size_t)r) != 0) {
            rc = -1;
            break;
        }
        off += (uint64_t)r;
        left -= (uint64_t)r;
    }
    free(buf);
    return rc;
}

struct put_fill {
    const struct lake__src *src;
};

static int put_fill(void *arg, int fd)
{
    return copy_src(fd, ((struct put_fill *)arg)->src);
}

static int file_put(lake_store *st, const char *key, const struct lake__src *src,
                    struct wr_err *err)
{
    struct file_store *fs = (struct file_store *)st;
    st->stats.requests++;
    const char *slash = strrchr(key, '/');
    const char *base = slash ? slash + 1 : key;
    int dirfd = -1;
    int rc = open_dirs(fs->root_fd, key, slash ? (size_t)(slash - key) : 0, 1, 0, &dirfd, err);
    if (rc != 0) {
        return rc;
    }
    /* The temporary name starts with '.', which no key segment may, so listings skip
     * it and it can never collide with an object. */
    char tmp[64];
    snprintf(tmp, sizeof tmp, ".tmp-%ld-%u", (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
    struct put_fill pf = {src};
    struct wr_atomic_file f = {.dirfd = dirfd, .tmp = tmp, .name = base, .mode = 0666,
                               .fill = put_fill, .arg = &pf};
    const char *step = "write";
    if (wr_atomic_write(&f, &step) != 0) {
        static const char *const words[][2] = {
            {"create", "create temporary file for"}, {"sync", "fsync"},
            {"rename", "rename into"}, {"fsync directory", "fsync directory of"}};
        const char *what = step;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
            if (strcmp(step, words[i][0]) == 0) {
                what = words[i][1];
            }
        }
        rc = io_err(err, what, key);
    }
    close(dirfd);
    return rc;
}

static int file_get(lake_store *st, const char *key, struct wr_buf *out, struct wr_err *err)
{
    struct file_store *fs = (struct file_store *)st;
    st->stats.requests++;
    int fd = openat(fs->root_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return wr_err_set(err, WR_ENOENT, "no object %.100s", key);
        }
        return io_err(err, "open", key);
    }
    int rc = 0;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        rc = io_err(err, "fstat", key);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = wr_err_set(err, WR_ENOENT, "no object %.100s (not a file)", key);
        goto out;
    }
    if ((uint64_t)sb.st_size > out->max_len - out->len) {
        rc = wr_err_set(err, WR_ELIMIT, "object %.100s is %lld bytes, over the cap", key,
                        (long long)sb.st_size);
        goto out;
    }
    rc = wr_buf_reserve(out, (size_t)sb.st_size);
    if (rc != 0) {
        wr_err_set(err, rc, "no memory for %lld bytes", (long long)sb.st_size);
        goto out;
    }
    for (;;) {
        size_t room = out->max_len - out->len;
        if (room == 0) {
            /* Grew since fstat: read one more byte to tell. */
            char c;
            ssize_t r = read(fd, &c, 1);
            if (r > 0) {
                rc = wr_err_set(err, WR_ELIMIT, "object %.100s grew over the cap", key);
            }
            break;
        }
        if (wr_buf_reserve(out, room < COPY_CHUNK ? room : COPY_CHUNK) != 0) {
            rc = wr_err_set(err, WR_ENOMEM, "no memory reading %.100s", key);
            break;
        }
        size_t avail = out->cap - out->len - 1;
        if (avail > room) {
            avail = room;
        }
        ssize_t r = read(fd, out->p + out->len, avail);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = io_err(err, "read", key);
            break;
        }
        if (r == 0) {
            break;
        }
        out->len += (size_t)r;
        out->p[out->len] = '\0';
    }
out:
    close(fd);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct walk {
    const char *prefix;
    size_t plen;
    lake_list_fn fn;
    void *arg;
    struct wr_err *err;
    char key[2048];
};

/* Lists the directory dfd (and closes it), whose key prefix, with a trailing '/',
 * is w->key[0..klen). */
static int walk_dir(struct walk *w, int dfd, size_t klen, int depth)
{
    if (depth > LIST_DEPTH_MAX) {
        close(dfd);
        return 0;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        int rc = io_err(w->err, "opendir", w->key);
        close(dfd);
        return rc;
    }
    size_t n = 0, cap = 0;
    char **names = NULL;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue; /* ".", "..", and temporaries of unfinished puts */
        }
        if (wr_array_grow(&names, &cap, n + 1,
                          sizeof *names, 64, 0) != 0) {
            rc = wr_err_set(w->err, WR_ENOMEM, "listing %.100s", w->key);
            goto out;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = wr_err_set(w->err, WR_ENOMEM, "listing %.100s", w->key);
            goto out;
        }
        n++;
    }
    if (n > 1) {
        qsort(names, n, sizeof *names, cmp_names);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t nl = strlen(names[i]);
        if (klen + nl + 2 > sizeof w->key) {
            continue;
        }
        memcpy(w->key + klen, names[i], nl + 1);
        size_t kl = klen + nl;
        struct stat sb;
        if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue; /* deleted while we listed */
        }
        if (S_ISDIR(sb.st_mode)) {
            w->key[kl] = '/';
            w->key[kl + 1] = '\0';
            /* Descend only where keys can still start with the prefix. */
            size_t m = kl + 1 < w->plen ? kl + 1 : w->plen;
            if (strncmp(w->key, w->prefix, m) != 0) {
                continue;
            }
            int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub < 0) {
                continue;
            }
            rc = walk_dir(w, sub, kl + 1, depth + 1);
        } else if (S_ISREG(sb.st_mode)) {
            if (strncmp(w->key, w->prefix, w->plen) == 0) {
                rc = w->fn(w->arg, w->key, (uint64_t)sb.st_size);
            }
        }
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    closedir(d);
    return rc;
}

static int file_list(lake_store *st, const char *prefix, lake_list_fn fn, void *arg,
                     struct wr_err *err)
{
    struct file_store *fs = (struct file_store *)st;
    st->stats.requests++;
    struct walk *w = malloc(sizeof *w);
    if (!w) {
        return wr_err_set(err, WR_ENOMEM, "listing");
    }
    w->prefix = prefix;
    w->plen = strlen(prefix);
    w->fn = fn;
    w->arg = arg;
    w->err = err;
    /* Start in the deepest directory the prefix names completely. */
    const char *slash = strrchr(prefix, '/');
    size_t dlen = slash ? (size_t)(slash - prefix) + 1 : 0;
    int rc = 0;
    int dirfd = -1;
    if (dlen > 0) {
        struct wr_err e2 = {0};
        rc = open_dirs(fs->root_fd, prefix, dlen - 1, 0, 0, &dirfd, &e2);
        if (rc != 0) {
            if (rc == WR_ENOENT) {
                rc = 0; /* nothing under that prefix */
            } else {
                wr_err_set(err, rc, "%s", e2.msg);
            }
            goto out;
        }
    } else {
        dirfd = openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
            rc = io_err(err, "open directory", fs->root);
            goto out;
        }
    }
    memcpy(w->key, prefix, dlen);
    w->key[dlen] = '\0';
    rc = walk_dir(w, dirfd, dlen, 0);
out:
    free(w);
    return rc;
}

static int file_del(lake_store *st, const char *key, struct wr_err *err)
{
    struct file_store *fs = (struct file_store *)st;
    st->stats.requests++;
    const char *slash = strrchr(key, '/');
    struct wr_err e2 = {0};
    int dirfd = -1;
    int rc = open_dirs(fs->root_fd, key, slash ? (size_t)(slash - key) : 0, 0, 0, &dirfd, &e2);
    if (rc != 0) {
        return rc == WR_ENOENT ? 0 : wr_err_set(err, rc, "%s", e2.msg);
    }
    if (unlinkat(dirfd, slash ? slash + 1 : key, 0) != 0) {
        if (errno != ENOENT) {
            rc = io_err(err, "unlink", key);
        }
    } else if (fsync(dirfd) != 0) {
        rc = io_err(err, "fsync directory of", key);
    }
    close(dirfd);
    return rc;
}

static void file_destroy(lake_store *st)
{
    struct file_store *fs = (struct file_store *)st;
    close(fs->root_fd);
    free(fs);
}

static const struct lake__ops file_ops = {
    .kind = "file",
    .put = file_put,
    .get = file_get,
    .list = file_list,
    .del = file_del,
    .destroy = file_destroy,
};

lake_store *lake__file_open(const struct lake_url *u, struct wr_err *err)
{
    /* Create the root with its parents, durably, relative to "/" or ".". */
    const char *rel = u->path;
    const char *start = ".";
    if (rel[0] == '/') {
        start = "/";
        rel++;
    }
    int basefd = open(start, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (basefd < 0) {
        io_err(err, "open", start);
        return NULL;
    }
    /* "." and ".." segments of a relative root are walked as they are. */
    int root_fd = -1;
    int rc = open_dirs(basefd, rel, strlen(rel), 1, 1, &root_fd, err);
    close(basefd);
    if (rc != 0) {
        return NULL;
    }
    struct file_store *fs = calloc(1, sizeof *fs);
    if (!fs) {
        close(root_fd);
        wr_err_set(err, WR_ENOMEM, "file store");
        return NULL;
    }
    fs->base.ops = &file_ops;
    fs->root_fd = root_fd;
    snprintf(fs->root, sizeof fs->root, "%s", u->path);
    return &fs->base;
}
