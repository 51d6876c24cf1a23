/* spool_testutil.h - helpers shared by the spool tests: scratch directories, an ack
 * collector, a replay collector and deterministic record contents. */
#ifndef WEIR_SPOOL_TESTUTIL_H
#define WEIR_SPOOL_TESTUTIL_H

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "spool/spool.h"

/* Makes an empty scratch directory; returns its path (static storage per call site). */
static inline void tu_mkdtemp(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/weir-spool-test-XXXXXX");
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Removes every file in dir, then dir (flat directories only, as the spool's). */
static inline void tu_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline int tu_count_segments(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".wal") == 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* The deterministic content of record i: its index then filler, length 20..(20+span). */
static inline size_t tu_record(uint32_t i, char *out, size_t cap, size_t span)
{
    size_t len = 20 + (span ? (i * 7919u) % span : 0);
    if (len > cap) {
        len = cap;
    }
    int n = snprintf(out, cap, "{\"i\":%u,\"f\":\"", i);
    for (size_t k = (size_t)n; k < len; k++) {
        out[k] = (char)('a' + (i + k) % 26);
    }
    return len;
}

/* Acks: counts, statuses and order, with a condition to wait on. */
struct tu_acks {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n, cap;
    uintptr_t *order;
    int *status;
};

static inline void tu_acks_init(struct tu_acks *a, size_t cap)
{
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->n = 0;
    a->cap = cap;
    a->order = calloc(cap, sizeof(*a->order));
    a->status = calloc(cap, sizeof(*a->status));
}

static inline void tu_acks_free(struct tu_acks *a)
{
    free(a->order);
    free(a->status);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
}

/* ack callbacks get a struct tu_ack_arg: the collector and a tag. */
struct tu_ack_arg {
    struct tu_acks *acks;
    uintptr_t tag;
};

static inline void tu_ack(void *arg, int status)
{
    struct tu_ack_arg *x = arg;
    struct tu_acks *a = x->acks;
    pthread_mutex_lock(&a->mu);
    if (a->n < a->cap) {
        a->order[a->n] = x->tag;
        a->status[a->n] = status;
    }
    a->n++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static inline void tu_acks_wait(struct tu_acks *a, size_t n)
{
    pthread_mutex_lock(&a->mu);
    while (a->n < n) {
        pthread_cond_wait(&a->cv, &a->mu);
    }
    pthread_mutex_unlock(&a->mu);
}

/* Replay: every record seen, copied. */
struct tu_replay {
    size_t n, cap;
    uint64_t *lsn;
    char **p;
    size_t *len;
    int reports;
    char last_what[16];
    uint64_t last_lsn, last_bytes;
    int stop_at; /* return 1 from the callback at this record index (-1: never) */
};

static inline void tu_replay_init(struct tu_replay *r)
{
    memset(r, 0, sizeof(*r));
    r->stop_at = -1;
}

static inline void tu_replay_free(struct tu_replay *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->p[i]);
    }
    free(r->lsn);
    free(r->p);
    free(r->len);
    tu_replay_init(r);
}

static inline int tu_on_replay(void *arg, uint64_t lsn, const char *p, size_t len)
{
    struct tu_replay *r = arg;
    if (r->stop_at >= 0 && (size_t)r->stop_at == r->n) {
        return 1;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->lsn = realloc(r->lsn, r->cap * sizeof(*r->lsn));
        r->p = realloc(r->p, r->cap * sizeof(*r->p));
        r->len = realloc(r->len, r->cap * sizeof(*r->len));
    }
    r->lsn[r->n] = lsn;
    r->p[r->n] = malloc(len ? len : 1);
    memcpy(r->p[r->n], p, len);
    r->len[r->n] = len;
    r->n++;
    return 0;
}

static inline void tu_on_report(void *arg, const char *what, uint64_t lsn, uint64_t bytes)
{
    struct tu_replay *r = arg;
    r->reports++;
    snprintf(r->last_what, sizeof(r->last_what), "%s", what);
    r->last_lsn = lsn;
    r->last_bytes = bytes;
}

static inline sp_spool *tu_open_ex(const char *dir, struct tu_replay *r, uint64_t segment_bytes,
                                   uint64_t max_bytes, int preallocate)
{
    struct sp_spool_opts o;
    memset(&o, 0, sizeof(o));
    o.dir = dir;
    o.preallocate = preallocate;
    o.segment_bytes = segment_bytes;
    o.max_bytes = max_bytes;
    o.replay = r ? tu_on_replay : NULL;
    o.report = r ? tu_on_report : NULL;
    o.cb_arg = r;
    struct wr_err err = {0};
    sp_spool *s = sp_spool_create(&o, &err);
    if (!s) {
        fprintf(stderr, "sp_spool_create: %s\n", err.msg);
    }
    return s;
}

/* Waits up to 10 s for a preallocating spool's spare segment; 1 once it is ready. */
static inline int tu_wait_spare(sp_spool *s)
{
    for (int i = 0; i < 1000; i++) {
        struct sp_spool_stats st;
        sp_spool_stats(s, &st);
        if (st.spare_ready) {
            return 1;
        }
        usleep(10000);
    }
    return 0;
}

static inline sp_spool *tu_open(const char *dir, struct tu_replay *r, uint64_t segment_bytes,
                                uint64_t max_bytes)
{
    return tu_open_ex(dir, r, segment_bytes, max_bytes, 0);
}

/* Appends records first..first+n-1 one request each (tu_record, span bytes) and
 * checks that every one is acknowledged with 0. */
static inline void tu_append_n(sp_spool *s, uint32_t first, uint32_t n, uint64_t *lsns, size_t span)
{
    struct tu_acks acks;
    tu_acks_init(&acks, n);
    struct tu_ack_arg a = {&acks, 0};
    char rec[4096];
    for (uint32_t i = 0; i < n; i++) {
        size_t len = tu_record(first + i, rec, sizeof(rec), span);
        int rc = sp_spool_append1(s, rec, len, tu_ack, &a, lsns ? &lsns[i] : NULL);
        CHECK_INT(rc, 0);
        if (rc != 0) {
            n = i;
            break;
        }
    }
    tu_acks_wait(&acks, n);
    for (uint32_t i = 0; i < n; i++) {
        CHECK_INT(acks.status[i], 0);
    }
    tu_acks_free(&acks);
}

/* r holds exactly records first..first+n-1 at the given positions. */
static inline void tu_check_replay(const struct tu_replay *r, uint32_t first, uint32_t n,
                                   const uint64_t *lsns, size_t span)
{
    CHECK_INT(r->n, n);
    char rec[4096];
    int ok = 1;
    for (uint32_t i = 0; i < n && i < r->n; i++) {
        size_t len = tu_record(first + i, rec, sizeof(rec), span);
        ok &= r->len[i] == len && memcmp(r->p[i], rec, len) == 0;
        if (lsns) {
            ok &= r->lsn[i] == lsns[first + i];
        }
    }
    CHECK(ok);
}

#endif
