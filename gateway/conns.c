/* conns.c - who may hold a connection and for how long a request may take to arrive:
 * a cap on connections per client address (trusted proxies exempt), a deadline for the
 * whole request head, and a minimum body rate. libmicrohttpd's own timeout is an idle
 * timeout that every byte resets, so a client dripping one byte a second would keep its
 * slot forever; the sweeper thread here cuts such connections with shutdown(2), which
 * libmicrohttpd then sees as the peer closing. */
#include "server_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/prom.h"
#include "enrich/enrich.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ADDR_BUCKETS 4096
#define SWEEP_MS 200

/* Connections per client address; freed when the count drops to 0. */
struct addr_count {
    struct en_addr a;
    unsigned n;
    struct addr_count *next;
};

enum phase { P_HEAD, P_BODY, P_BUSY };

struct gw_conn {
    struct gw_conn *prev, *next; /* the sweeper's list, under mu */
    MHD_socket fd;
    struct en_addr addr;
    bool counted;             /* holds a count in the address table */
    bool cut;                 /* shut down by the sweeper once */
    _Atomic bool had_request; /* a request was answered: the next head may wait longer */
    _Atomic int phase;
    _Atomic int64_t phase_ns; /* when the phase began, monotonic */
    _Atomic uint64_t body_bytes;
};

struct gw_conns {
    unsigned per_ip;
    int64_t head_ns, idle_head_ns;
    uint64_t min_rate;
    en_cidrs *proxies;  /* --trusted-proxies, parsed as the enricher parses it */
    pthread_mutex_t mu; /* the list and the address table */
    struct gw_conn *list;
    struct addr_count *buckets[ADDR_BUCKETS];
    pthread_t sweeper;
    bool running;
    bool stop; /* under mu */
    pthread_cond_t cond;
    _Atomic uint64_t refused_per_ip, head_timeouts, slow_bodies, open;
};

/* ---- addresses ------------------------------------------------------------------ */

static bool addr_of(const struct sockaddr *sa, struct en_addr *out)
{
    return en_addr_from_sockaddr(sa, out) == 0;
}

int gw_trusted_proxies_check(const char *list, struct wr_err *err)
{
    en_cidrs *c = en_cidrs_parse(list, err);
    en_cidrs_destroy(c);
    return c ? 0 : err->code;
}

static size_t bucket_of(const struct en_addr *a)
{
    uint64_t h = 1469598103934665603ULL ^ a->family;
    for (size_t i = 0; i < 16; i++) {
        h = (h ^ a->b[i]) * 1099511628211ULL;
    }
    return (size_t)(h % ADDR_BUCKETS);
}

/* The count of a, under mu; created when `create`. NULL when absent or out of memory. */
static struct addr_count *count_of(gw_conns *c, const struct en_addr *a, bool create)
{
    struct addr_count **head = &c->buckets[bucket_of(a)];
    for (struct addr_count *e = *head; e; e = e->next) {
        if (e->a.family == a->family && memcmp(e->a.b, a->b, 16) == 0) {
            return e;
        }
    }
    if (!create) {
        return NULL;
    }
    struct addr_count *e = calloc(1, sizeof *e);
    if (e) {
        e->a = *a;
        e->next = *head;
        *head = e;
    }
    return e;
}

static void count_drop(gw_conns *c, const struct en_addr *a)
{
    struct addr_count **pp = &c->buckets[bucket_of(a)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->a.family == a->family && memcmp((*pp)->a.b, a->b, 16) == 0) {
            struct addr_count *e = *pp;
            if (--e->n == 0) {
                *pp = e->next;
                free(e);
            }
            return;
        }
    }
}

/* ---- admission and tracking ---------------------------------------------------------- */

enum MHD_Result gw__conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    gw_conns *c = cls;
    struct en_addr a;
    (void)addrlen;
    if (c->per_ip == 0 || !addr_of(addr, &a) || en_cidrs_contains(c->proxies, &a)) {
        return MHD_YES;
    }
    /* Checked here, counted at start: between the two only the connections other pool
     * threads accept at the same moment can slip in, and nothing can leak a count. */
    pthread_mutex_lock(&c->mu);
    struct addr_count *e = count_of(c, &a, false);
    bool ok = !e || e->n < c->per_ip;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        atomic_fetch_add_explicit(&c->refused_per_ip, 1, memory_order_relaxed);
    }
    return ok ? MHD_YES : MHD_NO;
}

static void set_phase(struct gw_conn *t, enum phase p)
{
    atomic_store_explicit(&t->phase_ns, wr_time_mono_ns(), memory_order_relaxed);
    atomic_store_explicit(&t->body_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&t->phase, p, memory_order_release);
}

void gw__conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    gw_conns *c = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct gw_conn *t = calloc(1, sizeof *t);
        if (!t) {
            return; /* untracked: no deadline, no count, nothing else breaks */
        }
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        t->fd = fi ? fi->connect_fd : MHD_INVALID_SOCKET;
        set_phase(t, P_HEAD);
        pthread_mutex_lock(&c->mu);
        if (ai && ai->client_addr && addr_of(ai->client_addr, &t->addr) && c->per_ip &&
            !en_cidrs_contains(c->proxies, &t->addr)) {
            struct addr_count *e = count_of(c, &t->addr, true);
            if (e) {
                e->n++;
                t->counted = true;
            }
        }
        t->next = c->list;
        if (c->list) {
            c->list->prev = t;
        }
        c->list = t;
        pthread_mutex_unlock(&c->mu);
        atomic_fetch_add_explicit(&c->open, 1, memory_order_relaxed);
        *socket_context = t;
        return;
    }
    struct gw_conn *t = *socket_context;
    if (!t) {
        return;
    }
    /* libmicrohttpd closes the socket after this returns, so the sweeper, which shuts
     * sockets down under mu, never touches a descriptor number already reused. */
    pthread_mutex_lock(&c->mu);
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        c->list = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
    if (t->counted) {
        count_drop(c, &t->addr);
    }
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_sub_explicit(&c->open, 1, memory_order_relaxed);
    free(t);
    *socket_context = NULL;
}

static struct gw_conn *track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

void gw__conns_head_done(struct MHD_Connection *conn)
{
    struct gw_conn *t = track_of(conn);
    if (t) {
        set_phase(t, P_BODY);
    }
}

void gw__conns_body(struct MHD_Connection *conn, size_t bytes)
{
    struct gw_conn *t = track_of(conn);
    if (t) {
        atomic_fetch_add_explicit(&t->body_bytes, bytes, memory_order_relaxed);
    }
}

void gw__conns_busy(struct MHD_Connection *conn)
{
    struct gw_conn *t = track_of(conn);
    if (t) {
        set_phase(t, P_BUSY);
    }
}

void gw__conns_idle(struct MHD_Connection *conn)
{
    struct gw_conn *t = track_of(conn);
    if (t) {
        t->had_request = true;
        set_phase(t, P_HEAD);
    }
}

/* ---- the sweeper ------------------------------------------------------------------ */

static void sweep(gw_conns *c, int64_t now)
{
    pthread_mutex_lock(&c->mu);
    for (struct gw_conn *t = c->list; t; t = t->next) {
        if (t->cut || t->fd == MHD_INVALID_SOCKET) {
            continue;
        }
        int p = atomic_load_explicit(&t->phase, memory_order_acquire);
        int64_t since = atomic_load_explicit(&t->phase_ns, memory_order_relaxed);
        bool late = false;
        if (p == P_HEAD && c->head_ns > 0) {
            late = now - since > (t->had_request ? c->idle_head_ns : c->head_ns);
            if (late) {
                atomic_fetch_add_explicit(&c->head_timeouts, 1, memory_order_relaxed);
            }
        } else if (p == P_BODY && c->min_rate > 0) {
            /* A grace of the head timeout, then one more second per min_rate bytes. */
            uint64_t bytes = atomic_load_explicit(&t->body_bytes, memory_order_relaxed);
            double allowed_ns = (double)c->head_ns + (double)bytes / (double)c->min_rate * 1e9;
            late = (double)(now - since) > allowed_ns;
            if (late) {
                atomic_fetch_add_explicit(&c->slow_bodies, 1, memory_order_relaxed);
            }
        }
        if (late) {
            t->cut = true;
            shutdown(t->fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&c->mu);
}

static void *sweeper_main(void *arg)
{
    gw_conns *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        wr_cond_wait_ms(&c->cond, &c->mu, SWEEP_MS);
        if (c->stop) {
            break;
        }
        pthread_mutex_unlock(&c->mu);
        sweep(c, wr_time_mono_ns());
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

gw_conns *gw__conns_create(const struct gw_config *cfg, struct wr_err *err)
{
    gw_conns *c = calloc(1, sizeof *c);
    if (!c) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    c->per_ip = cfg->max_connections_per_ip;
    c->head_ns = cfg->header_timeout_ms * 1000000LL;
    int64_t idle = cfg->conn_timeout_ms > cfg->header_timeout_ms ? cfg->conn_timeout_ms
                                                                 : cfg->header_timeout_ms;
    c->idle_head_ns = idle * 1000000LL;
    c->min_rate = cfg->min_body_rate;
    c->proxies = en_cidrs_parse(cfg->trusted_proxies, err);
    if (!c->proxies) {
        free(c);
        return NULL;
    }
    wr_cond_init_mono(&c->cond);
    pthread_mutex_init(&c->mu, NULL);
    if (pthread_create(&c->sweeper, NULL, sweeper_main, c) != 0) {
        wr_err_set(err, WR_EIO, "cannot start the connection sweeper thread");
        en_cidrs_destroy(c->proxies);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    c->running = true;
    return c;
}

void gw__conns_destroy(gw_conns *c)
{
    if (!c) {
        return;
    }
    if (c->running) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->sweeper, NULL);
    }
    while (c->list) {
        struct gw_conn *t = c->list;
        c->list = t->next;
        free(t);
    }
    for (size_t i = 0; i < ADDR_BUCKETS; i++) {
        while (c->buckets[i]) {
            struct addr_count *e = c->buckets[i];
            c->buckets[i] = e->next;
            free(e);
        }
    }
    en_cidrs_destroy(c->proxies);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void gw__conns_metrics(gw_conns *c, struct wr_buf *out)
{
    if (!c) {
        return;
    }
    wr_prom_gauge(out, "weir_http_connections", "Open HTTP connections.", atomic_load(&c->open));
    wr_prom_family(out, "weir_http_connections_closed_total", WR_PROM_COUNTER,
                   "Connections refused or cut by the gateway, by reason.");
    struct wr_prom_label l[1] = {{"reason", "per_ip_limit"}};
    wr_prom_sample(out, "weir_http_connections_closed_total", l, 1,
                   atomic_load(&c->refused_per_ip));
    l[0].value = "header_timeout";
    wr_prom_sample(out, "weir_http_connections_closed_total", l, 1, atomic_load(&c->head_timeouts));
    l[0].value = "slow_body";
    wr_prom_sample(out, "weir_http_connections_closed_total", l, 1, atomic_load(&c->slow_bodies));
}
