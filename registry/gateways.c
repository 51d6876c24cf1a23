/* gateways.c - membership of the running gateways behind gateways.h: one thread per
 * gateway that keeps its row alive and counts the live ones. */
#include "registry/gateways.h"

#include "common/backoff.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "registry/reg_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GW_LIVE_BEATS 3          /* last_seen within this many heartbeats: live */
#define GW_STALE_S 60            /* rows older than this are removed... */
#define GW_SWEEP_BEATS 30        /* ...this often, and when our row was missing */
#define GW_STMT_TIMEOUT_MS 3000  /* a heartbeat unanswered this long: Postgres hung */
#define GW_LEAVE_TIMEOUT_MS 2000 /* the goodbye must not hold up a drain */
#define GW_OUTAGE_LOG_MS 30000

struct reg_gateways {
    struct reg_gateways_opts o;
    char *conninfo;
    char id[33]; /* 16 random bytes in hex */
    char host[256];
    char pid[16];
    pthread_t thread;
    pthread_mutex_t lock; /* guards counted and the condition */
    pthread_cond_t counted_cond;
    bool counted;   /* a first count arrived */
    bool joined;    /* member thread only: our row was written once */
    unsigned beats; /* member thread only */
    atomic_uint live;
    atomic_bool stop;
    int wake[2];
    int64_t down_since_ms, last_log_ms; /* member thread only */
};

static PGresult *gexec(reg_gateways *g, PGconn *c, ExecStatusType expect, const char *sql, int n,
                       const char *const *params, int64_t timeout_ms, struct wr_err *err)
{
    PGresult *r = reg__exec(c, sql, n, params, false, timeout_ms, g->wake[0], err);
    if (r && PQresultStatus(r) != expect) {
        const char *m = PQresultErrorMessage(r);
        wr_err_set(err, WR_EDB, "%.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return NULL;
    }
    return r;
}

static void set_live(reg_gateways *g, unsigned live)
{
    unsigned old = atomic_exchange(&g->live, live);
    pthread_mutex_lock(&g->lock);
    bool first = !g->counted;
    g->counted = true;
    pthread_cond_broadcast(&g->counted_cond);
    pthread_mutex_unlock(&g->lock);
    if (first || old != live) {
        WR_INFO("gateways: %u live (this one is %s); each enforces 1/%u of every key's rate", live,
                g->id, live);
        if (g->o.on_live) {
            g->o.on_live(g->o.arg, live);
        }
    }
}

/* Moves our last_seen (inserting the row when it is missing: the first beat, or after an
 * outage long enough for another gateway to have removed it) and counts the live rows. */
static int beat(reg_gateways *g, PGconn *c, struct wr_err *err)
{
    char window[24];
    snprintf(window, sizeof window, "%lld", (long long)(g->o.heartbeat_ms * GW_LIVE_BEATS));
    const char *p[] = {g->id, window};
    PGresult *r = gexec(g, c, PGRES_TUPLES_OK,
                        "WITH up AS (UPDATE gateways SET last_seen = now() WHERE instance_id = $1"
                        " RETURNING 1) SELECT (SELECT count(*) FROM up), count(*) FROM gateways"
                        " WHERE instance_id <> $1"
                        " AND last_seen > now() - $2::bigint * interval '1 millisecond'",
                        2, p, GW_STMT_TIMEOUT_MS, err);
    if (!r) {
        return WR_EDB;
    }
    bool present = reg__pg_int(PQgetvalue(r, 0, 0)) > 0;
    long long others = reg__pg_int(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (!present) {
        const char *ip[] = {g->id, g->host, g->pid};
        r = gexec(g, c, PGRES_COMMAND_OK,
                  "INSERT INTO gateways (instance_id, hostname, pid) VALUES ($1, $2, $3::integer)"
                  " ON CONFLICT (instance_id) DO UPDATE SET last_seen = now()",
                  3, ip, GW_STMT_TIMEOUT_MS, err);
        if (!r) {
            return WR_EDB;
        }
        PQclear(r);
    }
    if (!present || ++g->beats % GW_SWEEP_BEATS == 0) {
        char stale[24];
        snprintf(stale, sizeof stale, "%d", GW_STALE_S);
        const char *sp[] = {stale};
        r = gexec(
            g, c, PGRES_COMMAND_OK,
            "DELETE FROM gateways WHERE last_seen < now() - $1::integer * interval '1 second'", 1,
            sp, GW_STMT_TIMEOUT_MS, err);
        if (!r) {
            return WR_EDB;
        }
        PQclear(r);
    }
    g->joined = true;
    set_live(g, (unsigned)(others < 0 ? 0 : others > 100000 ? 100000 : others) + 1);
    return 0;
}

static void outage(reg_gateways *g, const struct wr_err *err)
{
    int64_t now = wr_time_now_ms();
    bool first = g->down_since_ms == 0;
    if (first) {
        g->down_since_ms = now;
    }
    if (first || now - g->last_log_ms >= GW_OUTAGE_LOG_MS) {
        g->last_log_ms = now;
        WR_WARN("gateways: cannot heartbeat for %.0f s, keeping the last count (%u live): %s",
                (double)(now - g->down_since_ms) / 1e3, atomic_load(&g->live), err->msg);
    }
}

/* Sleeps until ms passes, the socket is readable (1), or a stop request. */
static int nap(reg_gateways *g, int sock, int64_t ms)
{
    struct pollfd p[2] = {{.fd = g->wake[0], .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    int n = poll(p, sock >= 0 ? 2 : 1, ms < 0 ? 0 : (int)ms);
    return n > 0 && sock >= 0 && (p[1].revents & POLLIN);
}

static void *member_main(void *arg)
{
    reg_gateways *g = arg;
    PGconn *c = NULL;
    struct wr_backoff bo;
    wr_backoff_init(&bo, 200, 2000, true);
    while (!atomic_load(&g->stop)) {
        struct wr_err err = {0, ""};
        if (!c) {
            c = reg__connect(g->conninfo, 0, g->wake[0], &err);
            PGresult *r = c ? gexec(g, c, PGRES_COMMAND_OK, "LISTEN weir_gateways", 0, NULL,
                                    GW_STMT_TIMEOUT_MS, &err)
                            : NULL;
            if (!r) {
                PQfinish(c);
                c = NULL;
            }
            PQclear(r);
        }
        if (c && beat(g, c, &err) == 0) {
            if (g->down_since_ms) {
                WR_WARN("gateways: heartbeat back after %.1f s",
                        (double)(wr_time_now_ms() - g->down_since_ms) / 1e3);
                g->down_since_ms = 0;
            }
            wr_backoff_reset(&bo);
        } else {
            if (atomic_load(&g->stop)) {
                /* Woken mid-statement: that connection is unusable; the goodbye below
                 * takes a fresh one. */
                PQfinish(c);
                c = NULL;
                break;
            }
            outage(g, &err);
            PQfinish(c);
            c = NULL;
            nap(g, -1, wr_backoff_next_ms(&bo));
            continue;
        }
        /* Until the next beat: a NOTIFY (a gateway came or went) recounts at once. */
        int64_t next = wr_deadline_in_ms(g->o.heartbeat_ms);
        bool broken = false;
        while (!atomic_load(&g->stop) && !wr_deadline_passed(next)) {
            if (reg__notified(c)) {
                break;
            }
            if (nap(g, PQsocket(c), wr_deadline_left_ms(next)) && !PQconsumeInput(c)) {
                broken = true;
                break;
            }
        }
        if (broken) {
            const char *m = PQerrorMessage(c);
            wr_err_set(&err, WR_EDB, "connection lost: %.*s", (int)strcspn(m, "\n"), m);
            outage(g, &err);
            PQfinish(c);
            c = NULL;
        }
    }
    /* The goodbye: the others recount at once (NOTIFY) instead of after 3 beats. */
    struct wr_err err = {0, ""};
    if (!c && g->joined) {
        c = reg__connect(g->conninfo, GW_LEAVE_TIMEOUT_MS, -1, &err);
    }
    if (c) {
        const char *p[] = {g->id};
        PGresult *r = reg__exec(c, "DELETE FROM gateways WHERE instance_id = $1", 1, p, false,
                                GW_LEAVE_TIMEOUT_MS, -1, &err);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            WR_WARN("gateways: could not remove this gateway's row (the others stop counting "
                    "it within %lld ms): %s",
                    (long long)(g->o.heartbeat_ms * GW_LIVE_BEATS),
                    r ? PQresultErrorMessage(r) : err.msg);
        }
        PQclear(r);
        PQfinish(c);
    }
    return NULL;
}

reg_gateways *reg_gateways_join(const struct reg_gateways_opts *o, int64_t wait_ms,
                                struct wr_err *err)
{
    reg_gateways *g = calloc(1, sizeof *g);
    if (!g) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    g->o = *o;
    if (g->o.heartbeat_ms <= 0) {
        g->o.heartbeat_ms = REG_GATEWAY_HEARTBEAT_MS;
    }
    atomic_init(&g->live, 1);
    unsigned char raw[16];
    wr_random_bytes(raw, sizeof raw);
    wr_hex(raw, sizeof raw, g->id);
    g->id[32] = '\0';
    if (gethostname(g->host, sizeof g->host - 1) != 0) {
        snprintf(g->host, sizeof g->host, "unknown");
    }
    snprintf(g->pid, sizeof g->pid, "%ld", (long)getpid());
    g->conninfo = strdup(o->conninfo);
    pthread_mutex_init(&g->lock, NULL);
    wr_cond_init_mono(&g->counted_cond);
    if (!g->conninfo ||
        reg__thread_start(&g->thread, g->wake, member_main, g, "gateways", err) != 0) {
        if (!g->conninfo) {
            wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        free(g->conninfo);
        free(g);
        return NULL;
    }
    int64_t deadline = wr_deadline_in_ms(wait_ms);
    pthread_mutex_lock(&g->lock);
    int wrc = 0;
    while (!g->counted && wrc != ETIMEDOUT) {
        wrc = wr_cond_wait_until(&g->counted_cond, &g->lock, deadline);
    }
    pthread_mutex_unlock(&g->lock);
    return g;
}

unsigned reg_gateways_live(reg_gateways *g)
{
    unsigned n = atomic_load(&g->live);
    return n ? n : 1;
}

void reg_gateways_leave(reg_gateways *g)
{
    if (!g) {
        return;
    }
    atomic_store(&g->stop, true);
    reg__thread_stop(g->thread, g->wake);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->counted_cond);
    free(g->conninfo);
    free(g);
}
