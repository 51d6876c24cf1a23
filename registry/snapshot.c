/* snapshot.c - immutable registry snapshots and the loader thread that rebuilds them
 * (LISTEN/NOTIFY + TTL), compiling only the schema versions whose text changed. */
#include "snapshot.h"

#include "common/backoff.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/text.h"
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct version_rec {
    int version;
    bool active;
    char *json;            /* the stored text, to detect changes and for GET /v1/schemas */
    val_schema *schema;    /* NULL when it did not compile */
};

struct type_rec {
    char *name;
    size_t name_len;
    struct version_rec *versions; /* ascending */
    size_t n_versions;
};

struct reg_snapshot {
    atomic_int refs;
    struct reg_snapshot_info info;
    struct type_rec *types; /* sorted by name */
    size_t n_types;
    struct reg_key_rec *keys;
    size_t n_keys;
    uint32_t *key_index; /* open addressing: index+1 into keys, 0 = empty */
    size_t key_slots;
};

static int cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static const struct type_rec *find_type(const reg_snapshot *s, const char *t, size_t len)
{
    size_t lo = 0, hi = s->n_types;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_name(s->types[mid].name, s->types[mid].name_len, t, len);
        if (c == 0) {
            return &s->types[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static uint64_t sha_slot(const unsigned char *sha)
{
    uint64_t h;
    memcpy(&h, sha, sizeof h);
    return h;
}

const struct reg_key_rec *reg_snapshot_key(const reg_snapshot *s, const unsigned char sha256[32])
{
    if (!s->key_slots) {
        return NULL;
    }
    size_t mask = s->key_slots - 1;
    for (size_t i = sha_slot(sha256) & mask;; i = (i + 1) & mask) {
        uint32_t e = s->key_index[i];
        if (!e) {
            return NULL;
        }
        const struct reg_key_rec *k = &s->keys[e - 1];
        if (wr_ct_equal(k->sha256, sha256, 32)) {
            return k;
        }
    }
}

bool reg_key_allows(const struct reg_key_rec *k, const char *t, size_t len)
{
    if (k->n_event_types == 0) {
        return true;
    }
    for (size_t i = 0; i < k->n_event_types; i++) {
        if (strlen(k->event_types[i]) == len && memcmp(k->event_types[i], t, len) == 0) {
            return true;
        }
    }
    return false;
}

enum reg_lookup reg_snapshot_schema(const reg_snapshot *s, const char *t, size_t len,
                                    long long version, const val_schema **schema,
                                    int *resolved)
{
    const struct type_rec *tr = find_type(s, t, len);
    const struct version_rec *best = NULL;
    for (size_t i = 0; tr && i < tr->n_versions; i++) {
        const struct version_rec *v = &tr->versions[i];
        if (v->active && v->schema && (version == 0 || v->version == version)) {
            best = v;
        }
    }
    bool any_active = false;
    for (size_t i = 0; tr && i < tr->n_versions; i++) {
        any_active |= tr->versions[i].active && tr->versions[i].schema;
    }
    if (!any_active) {
        return REG_UNKNOWN_TYPE;
    }
    if (!best) {
        return REG_UNKNOWN_VERSION;
    }
    *schema = best->schema;
    *resolved = best->version;
    return REG_FOUND;
}

bool reg_snapshot_versions(const reg_snapshot *s, const char *t, size_t len,
                           void (*fn)(void *arg, int version, const char *json), void *arg)
{
    const struct type_rec *tr = find_type(s, t, len);
    bool any = false;
    for (size_t i = 0; tr && i < tr->n_versions; i++) {
        if (tr->versions[i].active && tr->versions[i].schema) {
            fn(arg, tr->versions[i].version, tr->versions[i].json);
            any = true;
        }
    }
    return any;
}

void reg_snapshot_info(const reg_snapshot *s, struct reg_snapshot_info *out)
{
    *out = s->info;
}

static void snapshot_free(reg_snapshot *s)
{
    for (size_t i = 0; i < s->n_types; i++) {
        for (size_t v = 0; v < s->types[i].n_versions; v++) {
            free(s->types[i].versions[v].json);
            val_schema_unref(s->types[i].versions[v].schema);
        }
        free(s->types[i].versions);
        free(s->types[i].name);
    }
    free(s->types);
    for (size_t i = 0; i < s->n_keys; i++) {
        free((char *)s->keys[i].name);
        for (size_t t = 0; t < s->keys[i].n_event_types; t++) {
            free((char *)s->keys[i].event_types[t]);
        }
        free((char **)s->keys[i].event_types);
    }
    free(s->keys);
    free(s->key_index);
    free(s);
}

void reg_snapshot_release(reg_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        snapshot_free(s);
    }
}

/* --- loading ------------------------------------------------------------------- */

struct reg_loader {
    struct reg_loader_opts opts;
    char *conninfo;
    pthread_t thread;
    pthread_mutex_t lock; /* guards current and the stats */
    pthread_cond_t ready_cond;
    reg_snapshot *current;
    struct reg_loader_stats stats;
    int wake[2]; /* a byte here ends the thread's wait */
    atomic_bool stop;
};

/* The previous snapshot's compiled version with identical text, to reuse. */
static val_schema *reuse(const reg_snapshot *prev, const char *t, size_t tlen, int version,
                         const char *json)
{
    const struct type_rec *tr = prev ? find_type(prev, t, tlen) : NULL;
    for (size_t i = 0; tr && i < tr->n_versions; i++) {
        const struct version_rec *v = &tr->versions[i];
        if (v->version == version && v->schema && strcmp(v->json, json) == 0) {
            return val_schema_ref(v->schema);
        }
    }
    return NULL;
}

static int load_types(PGconn *c, reg_snapshot *s, const reg_snapshot *prev,
                      const struct reg_loader_opts *opts, struct wr_err *err)
{
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "SELECT event_type, version, active, schema::text FROM event_schemas"
                           " ORDER BY event_type COLLATE \"C\", version",
                           0, NULL);
    if (!r) {
        return WR_EDB;
    }
    int rows = PQntuples(r);
    s->types = calloc(rows ? (size_t)rows : 1, sizeof *s->types);
    if (!s->types) {
        PQclear(r);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        const char *t = PQgetvalue(r, i, 0);
        size_t tlen = strlen(t);
        struct type_rec *tr = s->n_types ? &s->types[s->n_types - 1] : NULL;
        if (!tr || cmp_name(tr->name, tr->name_len, t, tlen) != 0) {
            tr = &s->types[s->n_types++];
            tr->name = strdup(t);
            tr->name_len = tlen;
            tr->versions = calloc((size_t)rows, sizeof *tr->versions);
            if (!tr->name || !tr->versions) {
                PQclear(r);
                return wr_err_set(err, WR_ENOMEM, "out of memory");
            }
        }
        struct version_rec *v = &tr->versions[tr->n_versions++];
        v->version = (int)strtol(PQgetvalue(r, i, 1), NULL, 10);
        v->active = PQgetvalue(r, i, 2)[0] == 't';
        v->json = strdup(PQgetvalue(r, i, 3));
        if (!v->json) {
            PQclear(r);
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        s->info.versions++;
        v->schema = reuse(prev, t, tlen, v->version, v->json);
        if (v->schema) {
            continue;
        }
        json_error_t jerr;
        json_t *doc = json_loads(v->json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        struct wr_err cerr = {0};
        struct val_opts vo = {.format_annotate = opts->format_annotate};
        v->schema = doc ? val_compile(doc, &vo, &cerr) : NULL;
        json_decref(doc);
        if (!v->schema) {
            s->info.broken++;
            /* One line per broken row per load that compiles it: it is reported, and
             * that version stays unavailable while the others keep working. */
            WR_ERROR("schema %s version %d is not a valid JSON Schema: %s", t, v->version,
                     doc ? cerr.msg : jerr.text);
        }
    }
    s->info.event_types = s->n_types;
    PQclear(r);
    return 0;
}

static int split_types(const char *csv, struct reg_key_rec *k)
{
    size_t n = 0;
    for (const char *p = csv; *p; p++) {
        n += *p == ',';
    }
    n += *csv ? 1 : 0;
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        return WR_ENOMEM;
    }
    k->event_types = (const char *const *)v;
    const char *p = csv;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, ",");
        v[i] = strndup(p, len);
        if (!v[i]) {
            return WR_ENOMEM;
        }
        k->n_event_types = i + 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

static int load_keys(PGconn *c, reg_snapshot *s, struct wr_err *err)
{
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "SELECT name, encode(key_sha256, 'hex'), array_to_string(event_types, ','),"
                           " coalesce(rate_limit, 0), revoked FROM api_keys",
                           0, NULL);
    if (!r) {
        return WR_EDB;
    }
    int rows = PQntuples(r);
    s->keys = calloc(rows ? (size_t)rows : 1, sizeof *s->keys);
    s->key_slots = 16;
    while (s->key_slots < (size_t)rows * 2) {
        s->key_slots *= 2;
    }
    s->key_index = calloc(s->key_slots, sizeof *s->key_index);
    if (!s->keys || !s->key_index) {
        PQclear(r);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        struct reg_key_rec *k = &s->keys[s->n_keys++];
        const char *hex = PQgetvalue(r, i, 1);
        if (strlen(hex) != 64 || wr_unhex(hex, 32, k->sha256) != 0) {
            /* A hash that is not 32 bytes matches no presented key: keep it unusable. */
            memset(k->sha256, 0, sizeof k->sha256);
        }
        k->name = strdup(PQgetvalue(r, i, 0));
        k->rate = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        k->revoked = PQgetvalue(r, i, 4)[0] == 't';
        if (!k->name || split_types(PQgetvalue(r, i, 2), k) != 0) {
            PQclear(r);
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        size_t mask = s->key_slots - 1;
        size_t slot = sha_slot(k->sha256) & mask;
        while (s->key_index[slot]) {
            slot = (slot + 1) & mask;
        }
        s->key_index[slot] = (uint32_t)s->n_keys;
    }
    s->info.keys = s->n_keys;
    PQclear(r);
    return 0;
}

static reg_snapshot *build(PGconn *c, const reg_snapshot *prev, const struct reg_loader_opts *opts,
                           struct wr_err *err)
{
    reg_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    /* One snapshot of both tables: a key and the schemas it names are read together. */
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err,
                           "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    int rc = r ? 0 : WR_EDB;
    PQclear(r);
    if (rc == 0) {
        rc = load_types(c, s, prev, opts, err);
    }
    if (rc == 0) {
        rc = load_keys(c, s, err);
    }
    r = reg_exec(c, PGRES_COMMAND_OK, rc ? NULL : err, "COMMIT", 0, NULL);
    if (!r && rc == 0) {
        rc = WR_EDB;
    }
    PQclear(r);
    if (rc) {
        snapshot_free(s);
        return NULL;
    }
    s->info.generation = prev ? prev->info.generation + 1 : 1;
    s->info.loaded_at_ms = wr_time_now_ms();
    return s;
}

static void publish(reg_loader *l, reg_snapshot *s)
{
    pthread_mutex_lock(&l->lock);
    reg_snapshot *old = l->current;
    l->current = s;
    l->stats.reloads++;
    l->stats.last_ok_ms = s->info.loaded_at_ms;
    pthread_cond_broadcast(&l->ready_cond);
    pthread_mutex_unlock(&l->lock);
    reg_snapshot_release(old);
}

/* Sleeps until ms passes, the socket is readable, or the loader is told to stop.
 * Returns 1 when the socket became readable. */
static int wait_for(reg_loader *l, int sock, int64_t ms)
{
    struct pollfd p[2] = {{.fd = l->wake[0], .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    int n = poll(p, sock >= 0 ? 2 : 1, ms > 60000 ? 60000 : (int)ms);
    return n > 0 && sock >= 0 && (p[1].revents & POLLIN);
}

static void *loader_main(void *arg)
{
    reg_loader *l = arg;
    PGconn *c = NULL;
    struct wr_backoff bo;
    wr_backoff_init(&bo, 100, 5000, false);
    while (!atomic_load(&l->stop)) {
        struct wr_err err = {0};
        if (!c) {
            c = reg_connect(l->conninfo, &err);
            PGresult *r = c ? reg_exec(c, PGRES_COMMAND_OK, &err, "LISTEN weir_registry", 0, NULL)
                            : NULL;
            if (!r) {
                PQfinish(c);
                c = NULL;
            }
            PQclear(r);
        }
        reg_snapshot *prev = reg_loader_acquire(l);
        reg_snapshot *s = c ? build(c, prev, &l->opts, &err) : NULL;
        reg_snapshot_release(prev);
        if (!s) {
            pthread_mutex_lock(&l->lock);
            l->stats.reload_failures++;
            l->stats.connected = false;
            pthread_mutex_unlock(&l->lock);
            int64_t wait_ms = wr_backoff_next_ms(&bo);
            WR_WARN("registry reload failed, keeping the last snapshot; retry in %lld ms: %s",
                    (long long)wait_ms, err.msg);
            PQfinish(c);
            c = NULL;
            wait_for(l, -1, wait_ms);
            continue;
        }
        wr_backoff_reset(&bo);
        pthread_mutex_lock(&l->lock);
        l->stats.connected = true;
        pthread_mutex_unlock(&l->lock);
        struct reg_snapshot_info info = s->info;
        publish(l, s);
        WR_DEBUG("registry snapshot %llu: %zu event types, %zu versions (%zu broken), %zu keys",
                 (unsigned long long)info.generation, info.event_types, info.versions,
                 info.broken, info.keys);
        /* Wait for a NOTIFY or the TTL, then reload. */
        int64_t deadline = wr_deadline_in_ms(l->opts.ttl_ms);
        bool reload = false;
        while (!reload && !atomic_load(&l->stop)) {
            int64_t left = wr_deadline_left_ms(deadline);
            if (left <= 0) {
                break;
            }
            if (wait_for(l, PQsocket(c), left)) {
                if (!PQconsumeInput(c)) {
                    WR_WARN("registry connection lost: %s", PQerrorMessage(c));
                    PQfinish(c);
                    c = NULL;
                    break;
                }
                PGnotify *n;
                while ((n = PQnotifies(c)) != NULL) {
                    reload = true;
                    PQfreemem(n);
                }
            }
        }
    }
    PQfinish(c);
    return NULL;
}

reg_loader *reg_loader_create(const struct reg_loader_opts *opts, struct wr_err *err)
{
    reg_loader *l = calloc(1, sizeof *l);
    if (!l) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    l->opts = *opts;
    if (l->opts.ttl_ms <= 0) {
        l->opts.ttl_ms = 30000;
    }
    l->conninfo = strdup(opts->conninfo);
    pthread_mutex_init(&l->lock, NULL);
    wr_cond_init_mono(&l->ready_cond);
    if (!l->conninfo || pipe2(l->wake, O_CLOEXEC) != 0) {
        free(l->conninfo);
        free(l);
        wr_err_set(err, WR_EIO, "registry loader: %s", strerror(errno));
        return NULL;
    }
    if (pthread_create(&l->thread, NULL, loader_main, l) != 0) {
        close(l->wake[0]);
        close(l->wake[1]);
        free(l->conninfo);
        free(l);
        wr_err_set(err, WR_EIO, "registry loader: cannot start its thread");
        return NULL;
    }
    return l;
}

void reg_loader_destroy(reg_loader *l)
{
    if (!l) {
        return;
    }
    atomic_store(&l->stop, true);
    ssize_t n = write(l->wake[1], "x", 1);
    (void)n;
    pthread_join(l->thread, NULL);
    close(l->wake[0]);
    close(l->wake[1]);
    reg_snapshot_release(l->current);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->ready_cond);
    free(l->conninfo);
    free(l);
}

reg_snapshot *reg_loader_acquire(reg_loader *l)
{
    pthread_mutex_lock(&l->lock);
    reg_snapshot *s = l->current;
    if (s) {
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_mutex_unlock(&l->lock);
    return s;
}

bool reg_loader_wait_ready(reg_loader *l, int64_t timeout_ms)
{
    int64_t deadline = wr_deadline_in_ms(timeout_ms);
    pthread_mutex_lock(&l->lock);
    while (!l->current) {
        if (wr_cond_wait_until(&l->ready_cond, &l->lock, deadline) == ETIMEDOUT) {
            break;
        }
    }
    bool ok = l->current != NULL;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

void reg_loader_stats(reg_loader *l, struct reg_loader_stats *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->stats;
    pthread_mutex_unlock(&l->lock);
}
