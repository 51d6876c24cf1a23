/* snapshot.c - immutable registry snapshots and the loader thread that rebuilds them
 * (LISTEN/NOTIFY + TTL), compiling only the schema versions whose text changed. */
#include "snapshot.h"

#include "common/backoff.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/text.h"
#include "registry/reg_int.h"
#include "registry/snapshot_int.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
            return k->valid_until_ms && wr_time_now_ms() >= k->valid_until_ms ? NULL : k;
        }
    }
}

const struct reg_key_rec *reg_snapshot_keys(const reg_snapshot *s, size_t *n)
{
    *n = s->n_keys;
    return s->keys;
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

const struct type_rec *reg__snapshot_types(const reg_snapshot *s, size_t *n)
{
    *n = s->n_types;
    return s->types;
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
        for (size_t t = 0; t < s->keys[i].n_origins; t++) {
            free((char *)s->keys[i].origins[t]);
        }
        free((char **)s->keys[i].origins);
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
    uint64_t failures_at_down; /* reload_failures when the current outage began */
    int64_t last_log_ms;       /* loader thread only: the last outage log line */
    int wake[2]; /* a byte here ends the thread's wait */
    atomic_bool stop;
};

#define REG_HEARTBEAT_MS 5000         /* idle connection proven alive this often */
#define REG_HEARTBEAT_TIMEOUT_MS 3000 /* a heartbeat unanswered this long: Postgres hung */
#define REG_RECONNECT_MAX_MS 1000     /* reconnect attempts at least this often */
#define REG_OUTAGE_LOG_MS 30000       /* one log line per outage per this interval */

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

/* A statement of the loader: the common deadline, and a stop request ends the wait. */
static PGresult *lexec(PGconn *c, int wake, ExecStatusType expect, struct wr_err *err,
                       const char *sql)
{
    PGresult *r = reg__exec(c, sql, 0, NULL, false, 0, wake, err);
    if (r && PQresultStatus(r) != expect) {
        const char *m = PQresultErrorMessage(r);
        wr_err_set(err, WR_EDB, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int load_types(PGconn *c, int wake, reg_snapshot *s, const reg_snapshot *prev,
                      const struct reg_loader_opts *opts, struct wr_err *err)
{
    PGresult *r = lexec(c, wake, PGRES_TUPLES_OK, err,
                        "SELECT event_type, version, active, schema::text FROM event_schemas"
                        " ORDER BY event_type COLLATE \"C\", version");
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

/* The origins of a publishable key: split_types' way, into k->origins. */
static int split_origins(const char *csv, struct reg_key_rec *k)
{
    struct reg_key_rec tmp = {0};
    int rc = split_types(csv, &tmp);
    k->origins = tmp.event_types;
    k->n_origins = tmp.n_event_types;
    return rc;
}

/* Puts the last record of s->keys into the hash index. */
static void index_key(reg_snapshot *s)
{
    size_t mask = s->key_slots - 1;
    size_t slot = sha_slot(s->keys[s->n_keys - 1].sha256) & mask;
    while (s->key_index[slot]) {
        slot = (slot + 1) & mask;
    }
    s->key_index[slot] = (uint32_t)s->n_keys;
}

/* A deep copy of k into dst (the previous secret of a rotated key: same name, scopes,
 * rates and origins). Even on failure dst owns only its own copies, for snapshot_free. */
static int copy_key(struct reg_key_rec *dst, const struct reg_key_rec *k)
{
    *dst = *k;
    dst->name = strdup(k->name);
    dst->event_types = NULL;
    dst->n_event_types = 0;
    dst->origins = NULL;
    dst->n_origins = 0;
    char **t = calloc(k->n_event_types ? k->n_event_types : 1, sizeof *t);
    char **o = calloc(k->n_origins ? k->n_origins : 1, sizeof *o);
    dst->event_types = (const char *const *)t;
    dst->origins = (const char *const *)o;
    if (!dst->name || !t || !o) {
        return WR_ENOMEM;
    }
    for (size_t i = 0; i < k->n_event_types; i++) {
        if (!(t[i] = strdup(k->event_types[i]))) {
            return WR_ENOMEM;
        }
        dst->n_event_types = i + 1;
    }
    for (size_t i = 0; i < k->n_origins; i++) {
        if (!(o[i] = strdup(k->origins[i]))) {
            return WR_ENOMEM;
        }
        dst->n_origins = i + 1;
    }
    return 0;
}

static int load_keys(PGconn *c, int wake, reg_snapshot *s, struct wr_err *err)
{
    PGresult *r = lexec(c, wake, PGRES_TUPLES_OK, err,
                        "SELECT name, encode(key_sha256, 'hex'), array_to_string(event_types, ','),"
                        " coalesce(rate_limit, 0), revoked, kind = 'publishable',"
                        " array_to_string(origins, ','), require_origin, ip_rate, kind = 'read',"
                        /* 0008: expiry, and the previous secret while its grace lasts. */
                        " coalesce((extract(epoch FROM expires_at) * 1000)::bigint, 0),"
                        " CASE WHEN prev_valid_until > now() THEN encode(prev_sha256, 'hex') END,"
                        " coalesce((extract(epoch FROM prev_valid_until) * 1000)::bigint, 0)"
                        " FROM api_keys");
    if (!r) {
        return WR_EDB;
    }
    int rows = PQntuples(r);
    /* Up to two records a row: the secret, and a rotated key's previous one. */
    s->keys = calloc(rows ? (size_t)rows * 2 : 1, sizeof *s->keys);
    s->key_slots = 16;
    while (s->key_slots < (size_t)rows * 4) {
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
        k->publishable = PQgetvalue(r, i, 5)[0] == 't';
        k->require_origin = PQgetvalue(r, i, 7)[0] == 't';
        k->ip_rate = reg__pg_int(PQgetvalue(r, i, 8));
        k->read = PQgetvalue(r, i, 9)[0] == 't';
        if (!k->name || split_types(PQgetvalue(r, i, 2), k) != 0 ||
            split_origins(PQgetvalue(r, i, 6), k) != 0) {
            PQclear(r);
            return wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        k->valid_until_ms = reg__pg_int(PQgetvalue(r, i, 10));
        index_key(s);
        const char *prev = PQgetvalue(r, i, 11);
        if (strlen(prev) == 64) {
            struct reg_key_rec *pk = &s->keys[s->n_keys++];
            if (copy_key(pk, k) != 0) {
                PQclear(r);
                return wr_err_set(err, WR_ENOMEM, "out of memory");
            }
            if (wr_unhex(prev, 32, pk->sha256) != 0) {
                memset(pk->sha256, 0, sizeof pk->sha256);
            }
            int64_t until = reg__pg_int(PQgetvalue(r, i, 12));
            if (!pk->valid_until_ms || until < pk->valid_until_ms) {
                pk->valid_until_ms = until;
            }
            index_key(s);
        }
    }
    s->info.keys = (size_t)rows;
    PQclear(r);
    return 0;
}

static reg_snapshot *build(PGconn *c, int wake, const reg_snapshot *prev,
                           const struct reg_loader_opts *opts, struct wr_err *err)
{
    reg_snapshot *s = calloc(1, sizeof *s);
    if (!s) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    /* One snapshot of both tables: a key and the schemas it names are read together. */
    PGresult *r = lexec(c, wake, PGRES_COMMAND_OK, err,
                        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    int rc = r ? 0 : WR_EDB;
    PQclear(r);
    if (rc == 0) {
        rc = load_types(c, wake, s, prev, opts, err);
    }
    if (rc == 0) {
        /* Modes, and the structural check of versions inserted with plain SQL. */
        rc = reg__snapshot_compat(c, wake, s->types, s->n_types, prev, err);
    }
    if (rc == 0) {
        rc = load_keys(c, wake, s, err);
    }
    r = rc == WR_EDB ? NULL : lexec(c, wake, PGRES_COMMAND_OK, rc ? NULL : err, "COMMIT");
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
    int64_t down_since;
    uint64_t failures;
    pthread_mutex_lock(&l->lock);
    reg_snapshot *old = l->current;
    l->current = s;
    l->stats.reloads++;
    l->stats.last_ok_ms = s->info.loaded_at_ms;
    l->stats.current_at_ms = s->info.loaded_at_ms;
    l->stats.connected = true;
    down_since = l->stats.down_since_ms;
    failures = l->stats.reload_failures - l->failures_at_down;
    l->stats.down_since_ms = 0;
    l->stats.last_error[0] = '\0';
    pthread_cond_broadcast(&l->ready_cond);
    pthread_mutex_unlock(&l->lock);
    reg_snapshot_release(old);
    if (down_since) {
        WR_WARN("registry: Postgres is back after %.1f s (%llu failed attempts); snapshot %llu "
                "loaded",
                (double)(s->info.loaded_at_ms - down_since) / 1e3, (unsigned long long)failures,
                (unsigned long long)s->info.generation);
    }
}

/* Counts a failed load, connection or heartbeat and says why: at once for the first
 * failure of an outage, then every 30 s while it lasts (a line per attempt would flood
 * the log during a long outage). */
static void failed(reg_loader *l, const struct wr_err *err, int64_t retry_ms)
{
    int64_t now = wr_time_now_ms();
    pthread_mutex_lock(&l->lock);
    l->stats.reload_failures++;
    l->stats.connected = false;
    bool first = l->stats.down_since_ms == 0;
    if (first) {
        l->stats.down_since_ms = now;
        l->failures_at_down = l->stats.reload_failures - 1;
    }
    snprintf(l->stats.last_error, sizeof l->stats.last_error, "%s", err->msg);
    int64_t since = l->stats.down_since_ms, current_at = l->stats.current_at_ms;
    uint64_t n = l->stats.reload_failures - l->failures_at_down;
    pthread_mutex_unlock(&l->lock);
    if (first || now - l->last_log_ms >= REG_OUTAGE_LOG_MS) {
        l->last_log_ms = now;
        if (first && current_at) {
            WR_WARN("registry: Postgres unavailable, serving the last snapshot (%.0f s old); "
                    "reconnecting in %lld ms: %s",
                    (double)(now - current_at) / 1e3, (long long)retry_ms, err->msg);
        } else if (first) {
            WR_WARN("registry: Postgres unavailable, no snapshot loaded yet; reconnecting in "
                    "%lld ms: %s",
                    (long long)retry_ms, err->msg);
        } else {
            WR_WARN("registry: Postgres unavailable for %.0f s (%llu failed attempts), serving "
                    "the last snapshot; still reconnecting: %s",
                    (double)(now - since) / 1e3, (unsigned long long)n, err->msg);
        }
    } else {
        WR_DEBUG("registry: attempt failed, retry in %lld ms: %s", (long long)retry_ms,
                 err->msg);
    }
}

/* Sleeps until ms passes, the socket is readable, or the loader is told to stop.
 * Returns 1 when the socket became readable. */
static int wait_for(reg_loader *l, int sock, int64_t ms)
{
    struct pollfd p[2] = {{.fd = l->wake[0], .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    int n = poll(p, sock >= 0 ? 2 : 1, ms > 60000 ? 60000 : (int)ms);
    return n > 0 && sock >= 0 && (p[1].revents & POLLIN);
}

/* Waits on a healthy connection for a NOTIFY, the TTL, or the stop request, and proves
 * the connection alive every heartbeat: a server that stopped answering is noticed
 * within heartbeat + REG_HEARTBEAT_TIMEOUT_MS even when nothing changes. Returns 1 to
 * reload, 0 to stop, or -1 with err filled when the connection failed. */
static int idle(reg_loader *l, PGconn *c, struct wr_err *err)
{
    int64_t ttl_end = wr_deadline_in_ms(l->opts.ttl_ms);
    int64_t beat = wr_deadline_in_ms(l->opts.heartbeat_ms);
    /* A NOTIFY that came in with the load's results already sits in libpq's queue, and the
     * socket will not become readable for it: look before waiting. */
    if (reg__notified(c)) {
        return 1;
    }
    while (!atomic_load(&l->stop)) {
        if (wr_deadline_passed(ttl_end)) {
            return 1;
        }
        if (wr_deadline_passed(beat)) {
            int64_t sent_ms = wr_time_now_ms();
            PGresult *r = reg__exec(c, "SELECT 1", 0, NULL, false, REG_HEARTBEAT_TIMEOUT_MS,
                                    l->wake[0], err);
            if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
                if (r) {
                    const char *m = PQresultErrorMessage(r);
                    wr_err_set(err, WR_EDB, "heartbeat: %.*s", (int)strcspn(m, "\n"), m);
                }
                PQclear(r);
                return atomic_load(&l->stop) ? 0 : -1;
            }
            PQclear(r);
            if (reg__notified(c)) {
                return 1;
            }
            /* Every change committed before the heartbeat would have been notified by now:
             * the snapshot was current when the heartbeat went out. */
            pthread_mutex_lock(&l->lock);
            l->stats.current_at_ms = sent_ms;
            pthread_mutex_unlock(&l->lock);
            beat = wr_deadline_in_ms(l->opts.heartbeat_ms);
        }
        int64_t left = wr_deadline_left_ms(ttl_end), hb = wr_deadline_left_ms(beat);
        if (wait_for(l, PQsocket(c), hb < left ? hb : left)) {
            if (!PQconsumeInput(c)) {
                const char *m = PQerrorMessage(c);
                wr_err_set(err, WR_EDB, "connection lost: %.*s", (int)strcspn(m, "\n"), m);
                return -1;
            }
            if (reg__notified(c)) {
                return 1;
            }
        }
    }
    return 0;
}

static void *loader_main(void *arg)
{
    reg_loader *l = arg;
    PGconn *c = NULL;
    struct wr_backoff bo;
    wr_backoff_init(&bo, 100, REG_RECONNECT_MAX_MS, true);
    while (!atomic_load(&l->stop)) {
        struct wr_err err = {0, ""};
        if (!c) {
            /* After a (re)connect every change may have been missed: always reload. */
            c = reg__connect(l->conninfo, 0, l->wake[0], &err);
            PGresult *r = c ? lexec(c, l->wake[0], PGRES_COMMAND_OK, &err, "LISTEN weir_registry")
                            : NULL;
            if (!r) {
                PQfinish(c);
                c = NULL;
            }
            PQclear(r);
        }
        reg_snapshot *s = NULL;
        if (c) {
            reg_snapshot *prev = reg_loader_acquire(l);
            s = build(c, l->wake[0], prev, &l->opts, &err);
            reg_snapshot_release(prev);
        }
        if (atomic_load(&l->stop)) {
            reg_snapshot_release(s);
            break;
        }
        if (!s) {
            int64_t wait_ms = wr_backoff_next_ms(&bo);
            failed(l, &err, wait_ms);
            PQfinish(c);
            c = NULL;
            wait_for(l, -1, wait_ms);
            continue;
        }
        wr_backoff_reset(&bo);
        struct reg_snapshot_info info = s->info;
        publish(l, s);
        WR_DEBUG("registry snapshot %llu: %zu event types, %zu versions (%zu broken), %zu keys",
                 (unsigned long long)info.generation, info.event_types, info.versions,
                 info.broken, info.keys);
        if (idle(l, c, &err) < 0) {
            /* The next pass reconnects at once; a failure there backs off. */
            failed(l, &err, 0);
            PQfinish(c);
            c = NULL;
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
    if (l->opts.heartbeat_ms <= 0) {
        l->opts.heartbeat_ms = REG_HEARTBEAT_MS;
    }
    l->conninfo = strdup(opts->conninfo);
    pthread_mutex_init(&l->lock, NULL);
    wr_cond_init_mono(&l->ready_cond);
    if (!l->conninfo ||
        reg__thread_start(&l->thread, l->wake, loader_main, l, "registry loader", err) != 0) {
        if (!l->conninfo) {
            wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        free(l->conninfo);
        free(l);
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
    reg__thread_stop(l->thread, l->wake);
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
