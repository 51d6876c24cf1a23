/* sink_testutil.h - helpers of the sink tests: scratch directories, a done-callback
 * collector, and reading a file:// lake back (every file gunzipped, temporaries counted). */
#ifndef WEIR_SINK_TESTUTIL_H
#define WEIR_SINK_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "gateway/sink.h"

static inline void st_mkdtemp(char *out, size_t cap, const char *what)
{
    snprintf(out, cap, "/tmp/weir-sink-%s-XXXXXX", what);
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

static int st_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

/* rm -rf dir */
static inline void st_rmrf(const char *dir)
{
    nftw(dir, st_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void st_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Done callbacks: counts by status, with a condition to wait on. */
struct st_done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long ok, eio, other;
};

static inline void st_done_init(struct st_done *d)
{
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->ok = d->eio = d->other = 0;
}

static inline void st_done_cb(void *arg, int status)
{
    struct st_done *d = arg;
    pthread_mutex_lock(&d->mu);
    if (status == 0) {
        d->ok++;
    } else if (status == WR_EIO) {
        d->eio++;
    } else {
        d->other++;
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

/* Waits until n callbacks came (or 10 s); returns how many came. */
static inline long st_done_wait(struct st_done *d, long n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&d->mu);
    while (d->ok + d->eio + d->other < n) {
        if (pthread_cond_timedwait(&d->cv, &d->mu, &dl) != 0) {
            break;
        }
    }
    long got = d->ok + d->eio + d->other;
    pthread_mutex_unlock(&d->mu);
    return got;
}

/* One lake file read back. */
struct st_file {
    char path[1024]; /* relative to the lake root */
    char *data;      /* decompressed */
    size_t len;
    int gzip_ok; /* complete gzip members, nothing after them */
};

struct st_lake {
    struct st_file *f;
    size_t n, cap;
    int temps;  /* dot-files (temporaries of unfinished puts) */
    int others; /* files not named *.jsonl.gz */
};

/* Inflates a gzip file of one or more complete members (RFC 1952: concatenated members
 * are one file), as gunzip does; -1 when a member is truncated or damaged, or when the
 * bytes after a member are not another member. */
static inline int st_gunzip(const unsigned char *p, size_t len, char **out, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        return -1;
    }
    size_t cap = len * 4 + 1024, n = 0;
    char *o = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)len;
    int rc;
    for (;;) {
        if (n == cap) {
            cap *= 2;
            o = realloc(o, cap);
        }
        z.next_out = (Bytef *)o + n;
        z.avail_out = (uInt)(cap - n);
        rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (rc == Z_STREAM_END && z.avail_in > 0) {
            inflateReset(&z); /* the next member */
            continue;
        }
        if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR) ||
            (rc == Z_BUF_ERROR && z.avail_in == 0)) {
            break;
        }
    }
    int ok = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    *out = o;
    *outlen = n;
    return ok ? 0 : -1;
}

/* Complete gzip members in p (each starts 1f 8b and ends where zlib says), or -1. */
static inline int st_gzip_members(const unsigned char *p, size_t len)
{
    int members = 0;
    while (len > 0) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (len < 18 || p[0] != 0x1f || p[1] != 0x8b || inflateInit2(&z, 15 + 16) != Z_OK) {
            return -1;
        }
        unsigned char sink[65536];
        z.next_in = (Bytef *)(uintptr_t)p;
        z.avail_in = (uInt)len;
        int rc;
        do {
            z.next_out = sink;
            z.avail_out = sizeof(sink);
            rc = inflate(&z, Z_NO_FLUSH);
        } while (rc == Z_OK);
        size_t used = len - z.avail_in;
        inflateEnd(&z);
        if (rc != Z_STREAM_END) {
            return -1;
        }
        members++;
        p += used;
        len -= used;
    }
    return members;
}

static inline void st_lake_walk(struct st_lake *L, const char *root, const char *rel)
{
    char dir[2048];
    int k = snprintf(dir, sizeof(dir), "%s%s%s", root, rel[0] ? "/" : "", rel);
    if (k < 0 || (size_t)k >= sizeof(dir)) {
        return;
    }
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        char r[1024], full[3072];
        int k1 = snprintf(r, sizeof(r), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        int k2 = snprintf(full, sizeof(full), "%s/%s", root, r);
        if (k1 < 0 || (size_t)k1 >= sizeof(r) || k2 < 0 || (size_t)k2 >= sizeof(full)) {
            L->others++;
            continue;
        }
        struct stat sb;
        if (lstat(full, &sb) != 0) {
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            st_lake_walk(L, root, r);
            continue;
        }
        if (de->d_name[0] == '.') {
            L->temps++;
            continue;
        }
        size_t nl = strlen(de->d_name);
        if (nl < 9 || strcmp(de->d_name + nl - 9, ".jsonl.gz") != 0) {
            L->others++;
            continue;
        }
        if (L->n == L->cap) {
            L->cap = L->cap ? L->cap * 2 : 64;
            L->f = realloc(L->f, L->cap * sizeof(*L->f));
        }
        struct st_file *f = &L->f[L->n++];
        memset(f, 0, sizeof(*f));
        memcpy(f->path, r, strlen(r) + 1);
        unsigned char *raw = malloc((size_t)sb.st_size + 1);
        int fd = open(full, O_RDONLY);
        ssize_t got = fd >= 0 ? read(fd, raw, (size_t)sb.st_size) : -1;
        if (fd >= 0) {
            close(fd);
        }
        f->gzip_ok = got == sb.st_size && st_gunzip(raw, (size_t)got, &f->data, &f->len) == 0;
        if (got != sb.st_size) {
            f->data = NULL;
            f->len = 0;
        }
        free(raw);
    }
    closedir(d);
}

static inline void st_lake_read(struct st_lake *L, const char *root)
{
    memset(L, 0, sizeof(*L));
    st_lake_walk(L, root, "");
}

static inline void st_lake_free(struct st_lake *L)
{
    for (size_t i = 0; i < L->n; i++) {
        free(L->f[i].data);
    }
    free(L->f);
    memset(L, 0, sizeof(*L));
}

/* Lines of all files together. */
static inline long st_lake_lines(const struct st_lake *L)
{
    long n = 0;
    for (size_t i = 0; i < L->n; i++) {
        for (size_t k = 0; k < L->f[i].len; k++) {
            n += L->f[i].data[k] == '\n';
        }
    }
    return n;
}

/* A sink on a fresh spool directory and file:// lake. */
struct st_env {
    char spool[256], lake[256], url[300];
};

static inline void st_env_init(struct st_env *e)
{
    st_mkdtemp(e->spool, sizeof(e->spool), "spool");
    st_mkdtemp(e->lake, sizeof(e->lake), "lake");
    snprintf(e->url, sizeof(e->url), "file://%s", e->lake);
}

static inline void st_env_free(struct st_env *e)
{
    st_rmrf(e->spool);
    st_rmrf(e->lake);
}

static inline gw_sink *st_open_sink(const struct st_env *e, uint64_t flush_bytes,
                                    int64_t interval_ms)
{
    struct gw_sink_opts o = {
        .spool_dir = e->spool,
        .lake_url = e->url,
        .flush_bytes = flush_bytes,
        .flush_interval_ms = interval_ms,
    };
    struct wr_err err = {0};
    gw_sink *s = gw_sink_create(&o, &err);
    if (!s) {
        fprintf(stderr, "gw_sink_create: %s\n", err.msg);
    }
    return s;
}

/* A line {"n":N,"pad":"..."} in buf. */
static inline struct gw_line st_mk(int kind, const char *et, int64_t t, long n, size_t pad,
                                   char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "{\"n\":%ld,\"pad\":\"", n);
    size_t len = (size_t)k;
    for (size_t i = 0; i < pad && len + 3 < cap; i++) {
        buf[len++] = (char)('a' + (n + (long)i) % 26);
    }
    buf[len++] = '"';
    buf[len++] = '}';
    struct gw_line l = {
        .kind = kind,
        .event_type = et,
        .event_type_len = et ? strlen(et) : 0,
        .received_at_ms = t,
        .p = buf,
        .len = len,
    };
    return l;
}

/* Submits one request of one line and waits for its done; returns the submit code. */
static inline int st_submit1(gw_sink *s, struct gw_line l, struct st_done *d)
{
    long before;
    pthread_mutex_lock(&d->mu);
    before = d->ok + d->eio + d->other;
    pthread_mutex_unlock(&d->mu);
    int rc = gw_sink_submit(s, &l, 1, st_done_cb, d);
    if (rc == 0) {
        st_done_wait(d, before + 1);
    }
    return rc;
}

/* Value of one metric line ("name{labels} value") in text, or -1. */
static inline long long st_metric(gw_sink *s, const char *name)
{
    struct wr_buf b;
    wr_buf_init(&b, 1 << 20);
    gw_sink_metrics(s, &b);
    long long v = -1;
    size_t nl = strlen(name);
    for (const char *p = b.p; p && *p;) {
        const char *e = strchr(p, '\n');
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
            v = strtoll(p + nl + 1, NULL, 10);
            break;
        }
        p = e ? e + 1 : NULL;
    }
    wr_buf_free(&b);
    return v;
}

#endif
