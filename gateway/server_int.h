/* server_int.h - private to gateway/: the state shared by server.c (HTTP routing and
 * responses), conns.c (who may connect, and how long a request may take to arrive) and
 * run.c (start-up, signals, drain). Nothing outside gateway/ includes it.
 *
 * Threads: libmicrohttpd's pool threads run gw__on_request, gw__on_completed and the
 * conns callbacks; conns.c has one sweeper thread; run.c's thread waits for the signal
 * and drains. struct gw_server is set up before the daemon starts and read-only after,
 * except the atomics. */
#ifndef WEIR_GW_SERVER_INT_H
#define WEIR_GW_SERVER_INT_H

#include "common/err.h"
#include "gateway/browser.h"
#include "gateway/gateway.h"
#include "gateway/ingest.h"
#include "gateway/metrics.h"
#include "gateway/ratelimit.h"
#include "gateway/sink.h"
#include "registry/snapshot.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

typedef struct gw_conns gw_conns;

struct gw_server {
    const struct gw_config *cfg;
    struct MHD_Daemon *mhd;
    reg_loader *loader;
    gw_sink *sink;
    gw_ratelimit *rl;
    gw_conns *conns;
    gw_cors *cors;     /* --cors-origins */
    gw_iprate *iprate; /* --ip-rate of publishable keys */
    _Atomic uint64_t pixel_results[GW_PX_NRESULTS];
    /* enrich/: the shared enricher, and one worker per pool thread (thread-specific,
     * made on first use, destroyed when the thread ends). */
    en_enricher *enricher;
    pthread_key_t worker_key;
    bool has_worker_key;
    struct gw_metrics metrics;
    struct gw_limits limits;
    atomic_int active;  /* requests between first call and completion */
    atomic_int waiting; /* suspended for the sink, resume not yet called (drain) */
    atomic_bool draining;
    int64_t started_ms;
};

/* ---- server.c: the access handler and its completion (MHD callbacks, cls = server) */

enum MHD_Result gw__on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);
void gw__on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe);
/* MHD_OPTION_URI_LOG_CALLBACK: starts the request object with the raw query string. */
void *gw__on_uri(void *cls, const char *uri, struct MHD_Connection *conn);

/* ---- run.c ------------------------------------------------------------------------ */

/* The calling thread's enrich worker, made on first use; NULL when out of memory. */
en_worker *gw__en_worker(struct gw_server *s);

/* ---- conns.c: admission per client address, head deadline, minimum body rate ------- */

/* Parses cfg's trusted proxies and starts the sweeper thread that cuts connections
 * whose head is late or whose body is too slow. NULL with err filled on failure. */
gw_conns *gw__conns_create(const struct gw_config *cfg, struct wr_err *err);
/* Stops the sweeper and frees; call after the daemon has stopped. NULL is a no-op. */
void gw__conns_destroy(gw_conns *c);

/* MHD_AcceptPolicyCallback (cls = gw_conns): refuses a peer that already holds
 * max_connections_per_ip connections, unless it is a trusted proxy. */
enum MHD_Result gw__conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* MHD_NotifyConnectionCallback (cls = gw_conns): tracks each connection from start to
 * close. */
void gw__conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* The phases of a request on its connection, told by the access handler. Any thread; no
 * lock on the request path. */
void gw__conns_head_done(struct MHD_Connection *conn); /* the head is in: body phase */
void gw__conns_body(struct MHD_Connection *conn, size_t bytes);
void gw__conns_busy(struct MHD_Connection *conn); /* the body is in: no deadline */
void gw__conns_idle(struct MHD_Connection *conn); /* answered: the next head's turn */

/* The connection counters (refused per address, heads late, bodies too slow, open). */
void gw__conns_metrics(gw_conns *c, struct wr_buf *out);

#endif
