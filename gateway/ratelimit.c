/* ratelimit.c - per-key token buckets behind ratelimit.h (open addressing, one lock), and
 * the share of each key's rate this gateway enforces. */
#include "ratelimit.h"

#include "common/prom.h"
#include "registry/gateways.h"

#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
    char *name; /* NULL = empty slot */
    struct gw_bucket b;
};

/* The capacity of a bucket refilled at rate/s: one second's worth, but never below one
 * token, or a share under 1/s (a small rate over many gateways) would never pass. */
static double capacity(double rate)
{
    return rate < 1.0 ? 1.0 : rate;
}

static double level(const struct gw_bucket *b, double rate, int64_t now_ns)
{
    return fmin(capacity(rate), b->tokens + (double)(now_ns - b->last_ns) / 1e9 * rate);
}

static bool take(struct gw_bucket *b, double rate, uint64_t n, int64_t now_ns, long long *retry_s)
{
    b->tokens = level(b, rate, now_ns);
    b->last_ns = now_ns;
    if (b->tokens < 1.0) {
        if (retry_s) {
            long long s = (long long)ceil((1.0 - b->tokens) / rate);
            *retry_s = s < 1 ? 1 : s;
        }
        return false;
    }
    b->tokens -= (double)n;
    return true;
}

double gw_bucket_level(const struct gw_bucket *b, long long rate, int64_t now_ns)
{
    return level(b, (double)rate, now_ns);
}

bool gw_bucket_take(struct gw_bucket *b, long long rate, uint64_t n, int64_t now_ns,
                    long long *retry_s)
{
    return take(b, (double)rate, n, now_ns, retry_s);
}

struct gw_ratelimit {
    pthread_mutex_t lock;
    struct bucket *slots;
    size_t n_slots, used;
    atomic_uint live;  /* gateways sharing each key's rate, >= 1 */
    reg_gateways *gws; /* membership, once joined */
};

void gw_ratelimit_set_live(gw_ratelimit *r, unsigned live)
{
    atomic_store(&r->live, live ? live : 1);
}

unsigned gw_ratelimit_live(gw_ratelimit *r)
{
    return atomic_load(&r->live);
}

static void on_live(void *arg, unsigned live)
{
    gw_ratelimit_set_live(arg, live);
}

int gw_ratelimit_join(gw_ratelimit *r, const char *conninfo, struct wr_err *err)
{
    struct reg_gateways_opts o = {.conninfo = conninfo, .on_live = on_live, .arg = r};
    r->gws = reg_gateways_join(&o, 2000, err);
    return r->gws ? 0 : err->code;
}

void gw_ratelimit_leave(gw_ratelimit *r)
{
    reg_gateways_leave(r->gws);
    r->gws = NULL;
}

void gw_ratelimit_metrics(gw_ratelimit *r, struct wr_buf *out)
{
    wr_prom_gauge(out, "weir_gateways_live",
                  "Live gateways on this database; each enforces a key's rate divided by this.",
                  gw_ratelimit_live(r));
}

gw_ratelimit *gw_ratelimit_create(void)
{
    gw_ratelimit *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->n_slots = 64;
    r->slots = calloc(r->n_slots, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    atomic_init(&r->live, 1);
    return r;
}

void gw_ratelimit_destroy(gw_ratelimit *r)
{
    if (!r) {
        return;
    }
    gw_ratelimit_leave(r);
    for (size_t i = 0; i < r->n_slots; i++) {
        free(r->slots[i].name);
    }
    free(r->slots);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static struct bucket *find(struct bucket *slots, size_t n, const char *name)
{
    for (size_t i = hash_name(name) & (n - 1);; i = (i + 1) & (n - 1)) {
        if (!slots[i].name || strcmp(slots[i].name, name) == 0) {
            return &slots[i];
        }
    }
}

static int grow(gw_ratelimit *r)
{
    size_t n = r->n_slots * 2;
    struct bucket *slots = calloc(n, sizeof *slots);
    if (!slots) {
        return -1;
    }
    for (size_t i = 0; i < r->n_slots; i++) {
        if (r->slots[i].name) {
            *find(slots, n, r->slots[i].name) = r->slots[i];
        }
    }
    free(r->slots);
    r->slots = slots;
    r->n_slots = n;
    return 0;
}

void gw_ratelimit_take(gw_ratelimit *r, const char *name, long long rate, uint64_t n,
                       int64_t now_ns, struct gw_rate_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->allowed = true;
    v->limit = rate;
    if (rate <= 0) {
        return;
    }
    double share = (double)rate / (double)gw_ratelimit_live(r);
    double cap = capacity(share);
    v->limit = (long long)ceil(share);
    pthread_mutex_lock(&r->lock);
    if (r->used * 2 >= r->n_slots && grow(r) != 0) {
        /* Out of memory: let the request through rather than refuse every key. */
        pthread_mutex_unlock(&r->lock);
        v->remaining = rate;
        return;
    }
    struct bucket *e = find(r->slots, r->n_slots, name);
    if (!e->name) {
        e->name = strdup(name);
        if (!e->name) {
            pthread_mutex_unlock(&r->lock);
            v->remaining = rate;
            return;
        }
        e->b.tokens = cap;
        e->b.last_ns = now_ns;
        r->used++;
    }
    v->allowed = take(&e->b, share, n, now_ns, &v->retry_s);
    double t = e->b.tokens;
    v->remaining = t > 0 ? (long long)floor(t) : 0;
    v->reset_s = (long long)ceil((cap - t) / share);
    pthread_mutex_unlock(&r->lock);
}
