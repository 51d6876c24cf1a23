/* run.c - the life of `weir gateway`: descriptor budget, start-up of the sink, the
 * registry loader and the HTTP daemon, the wait for SIGTERM/SIGINT, and the drain. The
 * HTTP side itself is server.c; connection admission and deadlines are conns.c. */
#include "server_int.h"

#include "browser.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/tls.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Descriptors kept back from connections: stdio and logs, the spool (segments, the
 * spare, directory, lock, journal), lake files or S3 sockets of the flushers,
 * Postgres (loader and LISTEN), the daemon's listen socket, epoll and wake-up pipes
 * per thread, and room for libc and libcurl's own. Without this reserve, idle clients
 * can take the descriptor the next spool segment needs. */
#define FD_RESERVE_BASE 64
#define FD_RESERVE_PER_THREAD 4
#define FD_MIN_CONNECTIONS 16

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                        struct wr_err *err)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            return wr_err_set(err, WR_EINVAL, "--listen: '%s' is not [HOST]:PORT", listen);
        }
        snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon) {
            return wr_err_set(err, WR_EINVAL, "--listen: '%s' is not HOST:PORT", listen);
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
    if (rc != 0 || !ai) {
        return wr_err_set(err, WR_EINVAL, "--listen: '%s': %s", listen, gai_strerror(rc));
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* libmicrohttpd's messages (a client closing mid-request, a refused connection) come
 * once per connection: under a flood they would flood the log too. At most one line per
 * second goes out, with the count of those left out. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static _Atomic int64_t last_s;
    static _Atomic uint64_t dropped;
    (void)cls;
    int64_t now = wr_time_mono_ns() / 1000000000LL;
    int64_t prev = atomic_load(&last_s);
    if (now == prev || !atomic_compare_exchange_strong(&last_s, &prev, now)) {
        atomic_fetch_add(&dropped, 1);
        return;
    }
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    uint64_t n = atomic_exchange(&dropped, 0);
    if (n) {
        WR_WARN("http: %s (%llu more such messages in the last second)", msg,
                (unsigned long long)n);
    } else {
        WR_WARN("http: %s", msg);
    }
}

/* Raises the soft descriptor limit to the hard one and returns how many connections
 * fit beside the reserve (at most `wanted`). */
static int connection_budget(unsigned wanted, unsigned threads, unsigned *out, struct wr_err *err)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return wr_err_set(err, WR_EIO, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    uint64_t limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_C(1) << 20 : (uint64_t)rl.rlim_cur;
    uint64_t reserve = FD_RESERVE_BASE + (uint64_t)FD_RESERVE_PER_THREAD * threads;
    if (limit < reserve + FD_MIN_CONNECTIONS) {
        return wr_err_set(err, WR_EINVAL,
                          "the descriptor limit (%llu, ulimit -n) leaves "
                          "fewer than %d connections beside the %llu the gateway reserves",
                          (unsigned long long)limit, FD_MIN_CONNECTIONS,
                          (unsigned long long)reserve);
    }
    uint64_t fit = limit - reserve;
    *out = wanted < fit ? wanted : (unsigned)fit;
    WR_INFO("max-connections %u (descriptor limit %llu, %llu reserved for the spool, lake, "
            "Postgres and S3%s)",
            *out, (unsigned long long)limit, (unsigned long long)reserve,
            *out < wanted ? "; lowered from --max-connections" : "");
    return 0;
}

static void worker_free(void *w)
{
    en_worker_destroy(w);
}

en_worker *gw__en_worker(struct gw_server *s)
{
    en_worker *w = pthread_getspecific(s->worker_key);
    if (!w) {
        struct wr_err err = {0};
        w = en_worker_create(s->enricher, &err);
        if (!w || pthread_setspecific(s->worker_key, w) != 0) {
            en_worker_destroy(w);
            return NULL;
        }
    }
    return w;
}

int gw_run(const struct gw_config *cfg, struct wr_err *err)
{
    struct gw_server *s = calloc(1, sizeof *s);
    if (!s) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->started_ms = wr_time_now_ms();
    gw_metrics_init(&s->metrics);
    s->limits = (struct gw_limits){cfg->max_events, cfg->max_depth, cfg->max_event_bytes};
    int rc = 0;
    struct sockaddr_storage ss;
    socklen_t sslen;
    unsigned threads = cfg->threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    unsigned max_conns = 0;
    if ((rc = parse_listen(cfg->listen, &ss, &sslen, err)) != 0 ||
        (rc = connection_budget(cfg->max_connections, threads, &max_conns, err)) != 0) {
        free(s);
        return rc;
    }
    /* Signals are taken by sigwait below; every thread started from here inherits the mask. */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    signal(SIGPIPE, SIG_IGN);

    struct gw_sink_opts so = {
        .spool_dir = cfg->spool_dir,
        .spool_max_bytes = cfg->spool_max_bytes,
        .lake_url = cfg->lake,
        .s3 = &cfg->s3,
        .flush_bytes = cfg->flush_bytes,
        .flush_interval_ms = cfg->flush_interval_ms,
        .instance_id = cfg->instance_id,
        .ack_from_memory = cfg->ack_from_memory,
    };
    struct reg_loader_opts lo = {.conninfo = cfg->database_url,
                                 .ttl_ms = cfg->schema_ttl_ms,
                                 .format_annotate = cfg->format_annotate};
    s->rl = gw_ratelimit_create();
    s->iprate = s->rl ? gw_iprate_create() : NULL;
    s->cors = s->iprate ? gw_cors_create(cfg->cors_origins, err) : NULL;
    struct en_config ec;
    en_config_init(&ec);
    ec.trusted_proxies = cfg->trusted_proxies;
    ec.ip_mode = cfg->ip_mode;
    ec.store_user_agent = cfg->store_user_agent;
    ec.ua_regexes = cfg->ua_regexes;
    ec.geoip_db = cfg->geoip_db;
    s->enricher = s->cors ? en_create(&ec, err) : NULL;
    s->has_worker_key = s->enricher && pthread_key_create(&s->worker_key, worker_free) == 0;
    s->conns = s->has_worker_key ? gw__conns_create(cfg, err) : NULL;
    s->sink = s->conns ? gw_sink_create(&so, err) : NULL;
    s->loader = s->sink ? reg_loader_create(&lo, err) : NULL;
    /* Joining the `gateways` table shares each key's rate among them (docs/keys.md). */
    if (!s->loader || gw_ratelimit_join(s->rl, cfg->database_url, err) != 0) {
        if (!s->rl || !s->iprate || (s->enricher && !s->has_worker_key)) {
            wr_err_set(err, WR_ENOMEM, "out of memory");
        }
        rc = err->code ? err->code : WR_EIO;
        goto out;
    }
    /* Serve as soon as the registry answers; /readyz says 503 until then. */
    reg_loader_wait_ready(s->loader, 5000);
    unsigned timeout_s = (unsigned)((cfg->conn_timeout_ms + 999) / 1000);
    s->mhd = MHD_start_daemon(
        (cfg->poll_loop ? MHD_USE_POLL_INTERNAL_THREAD : MHD_USE_EPOLL_INTERNAL_THREAD) |
            MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
            (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | wr_tls_mhd_flags(cfg->tls),
        0, gw__conns_accept, s->conns, gw__on_request, s,
        /* First, so that libmicrohttpd's own start-up messages come through it too. */
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0, MHD_OPTION_CONNECTION_LIMIT,
        max_conns, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        /* Headers and the read buffer live here: a request with larger headers gets 431.
         * libmicrohttpd clears this pool between requests, so its size is paid per
         * request (64 KiB cost ~3% of the CPU of a single-event request); 16 KiB still
         * holds about 15 KiB of headers, and bodies stream through it in chunks. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024), MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024u, MHD_OPTION_NOTIFY_COMPLETED, gw__on_completed, s, MHD_OPTION_URI_LOG_CALLBACK,
        gw__on_uri, s, MHD_OPTION_NOTIFY_CONNECTION, gw__conns_notify, s->conns, MHD_OPTION_ARRAY,
        wr_tls_mhd_options(cfg->tls), MHD_OPTION_END);
    if (!s->mhd) {
        rc = wr_err_set(err, WR_EIO,
                        "cannot listen on %s (in use, or not an address of this "
                        "machine?)",
                        cfg->listen);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    WR_INFO("gateway listening on %s (port %u, %u threads, %s%s)", cfg->listen, port, threads,
            cfg->poll_loop ? "poll" : "epoll", cfg->tls ? ", HTTPS" : "");
    if (cfg->ack_from_memory) {
        WR_WARN("--unsafe-ack-from-memory: 202 is sent before the spool's fsync; a crash "
                "loses acknowledged events (benchmarks only)");
    }
    if (cfg->ready_file) {
        FILE *f = fopen(cfg->ready_file, "w");
        if (f) {
            fprintf(f, "%u\n", port);
            fclose(f);
        }
    }
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
        wr_tls_sighup(cfg->tls, "gateway"); /* new handshakes only; the socket stays */
    }
    WR_INFO("signal %d: draining", sig);
    atomic_store(&s->draining, true);
    gw_ratelimit_leave(s->rl); /* the other gateways take this one's share at once */
    MHD_socket lsock = MHD_quiesce_daemon(s->mhd);
    if (lsock != MHD_INVALID_SOCKET) {
        close(lsock);
    }
    /* Requests in flight get their answers; new ones on open connections get 503. */
    int64_t deadline = wr_time_mono_ns() + 30 * 1000000000LL;
    while (atomic_load(&s->active) > 0 && wr_time_mono_ns() < deadline) {
        usleep(10000);
    }
    /* libmicrohttpd aborts in MHD_stop_daemon while a connection is suspended and not yet
     * resumed. Requests still waiting for the spool after the deadline (a stuck disk, or a
     * lost wake-up) get their answer from the sink's drain first: it delivers every
     * pending acknowledgement, and each one resumes its connection. */
    int waiting = atomic_load(&s->waiting);
    bool sink_drained = waiting > 0;
    if (sink_drained) {
        WR_WARN("drain: %d requests still wait for the spool after 30 s; draining the sink "
                "before the HTTP daemon stops",
                waiting);
        rc = gw_sink_drain(s->sink, 60000);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (!sink_drained) {
        rc = gw_sink_drain(s->sink, 60000);
    }
    if (rc) {
        wr_err_set(err, rc,
                   "drain: the lake did not take every buffer in time; the events "
                   "stay in the spool and are written at the next start");
    } else {
        WR_INFO("drained: every buffer is in the lake");
    }
out:
    if (s->mhd) {
        MHD_stop_daemon(s->mhd);
    }
    reg_loader_destroy(s->loader);
    gw_sink_destroy(s->sink);
    gw__conns_destroy(s->conns);
    gw_ratelimit_destroy(s->rl);
    gw_cors_destroy(s->cors);
    /* The pool threads are gone (MHD_stop_daemon joined them), and their workers with them. */
    if (s->has_worker_key) {
        pthread_key_delete(s->worker_key);
    }
    en_destroy(s->enricher);
    gw_iprate_destroy(s->iprate);
    free(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
