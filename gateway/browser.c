/* browser.c - query strings, page origins, CORS, the per-address rate of publishable
 * keys, and a request as enrich/ sees it (browser.h). */
#include "browser.h"

#include "gateway/gateway.h"
#include "gateway/ratelimit.h"

#include "common/text.h"
#include "registry/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- query strings ------------------------------------------------------------------ */

/* Decodes s[0, len) into out (len + 1 bytes); false on a bad escape. */
static bool pct_decode(const char *s, size_t len, char *out, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '+') {
            out[o++] = ' ';
        } else if (ch == '%') {
            if (i + 2 >= len) {
                return false;
            }
            int h = wr_hexval((unsigned char)s[i + 1]), l = wr_hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                return false;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return true;
}

int gw_query_param(const char *q, size_t qlen, const char *name, char *out, size_t cap,
                   size_t *outlen)
{
    size_t nl = strlen(name), i = 0;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&') {
            end++;
        }
        const char *eq = memchr(q + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (q + i)) : end - i;
        /* Parameter names of the API are plain ASCII: compared undecoded. */
        if (klen == nl && memcmp(q + i, name, nl) == 0) {
            const char *v = eq ? eq + 1 : q + end;
            size_t vlen = (size_t)(q + end - v);
            if (vlen + 1 > cap || !pct_decode(v, vlen, out, outlen)) {
                return GW_Q_BAD_ESCAPE;
            }
            return GW_Q_FOUND;
        }
        i = end + 1;
    }
    return GW_Q_ABSENT;
}

void gw_query_wipe(char *q, size_t qlen, const char *name)
{
    size_t nl = strlen(name), i = 0;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&') {
            end++;
        }
        if (end - i > nl && memcmp(q + i, name, nl) == 0 && q[i + nl] == '=') {
            memset(q + i + nl + 1, 'x', end - i - nl - 1);
        }
        i = end + 1;
    }
}

int gw_query_each(const char *q, size_t qlen, char *scratch,
                  void (*fn)(void *arg, const char *name, size_t nlen, const char *v, size_t vlen),
                  void *arg, const char **bad, size_t *bad_len)
{
    size_t i = 0;
    char *nbuf = scratch, *vbuf = scratch + qlen + 1;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&') {
            end++;
        }
        if (end > i) {
            const char *eq = memchr(q + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (q + i)) : end - i;
            const char *v = eq ? eq + 1 : q + end;
            size_t vlen = (size_t)(q + end - v), nl, vl;
            if (!pct_decode(q + i, klen, nbuf, &nl) || !pct_decode(v, vlen, vbuf, &vl)) {
                *bad = q + i;
                *bad_len = end - i;
                return GW_Q_BAD_ESCAPE;
            }
            fn(arg, nbuf, nl, vbuf, vl);
        }
        i = end + 1;
    }
    return 0;
}

/* ---- origins and CORS --------------------------------------------------------------- */

bool gw_request_origin(struct MHD_Connection *conn, char *out, size_t cap)
{
    const char *o = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    size_t n;
    if (o) {
        n = strlen(o);
    } else {
        const char *ref = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Referer");
        if (!ref) {
            return false;
        }
        const char *sep = strstr(ref, "://");
        if (!sep || sep == ref) {
            return false;
        }
        const char *host = sep + 3;
        o = ref;
        n = (size_t)(host - ref) + strcspn(host, "/?#");
        if (n == (size_t)(host - ref)) {
            return false;
        }
    }
    if (n + 1 > cap) {
        /* Longer than any origin we could list: an origin that matches none (never a cut
         * one, whose end could look like a listed domain). */
        n = 0;
    }
    memcpy(out, o, n);
    out[n] = '\0';
    return true;
}

#define CORS_MAX 64

struct gw_cors {
    char *patterns[CORS_MAX];
    size_t n;
};

static int cors_parse(const char *list, gw_cors *c, struct wr_err *err)
{
    if (!list || !*list) {
        return 0;
    }
    char norm[8192];
    struct wr_err e = {0};
    if (reg_origins_normalize(list, norm, sizeof norm, &e) != 0) {
        const char *m = strncmp(e.msg, "--origins: ", 11) == 0 ? e.msg + 11 : e.msg;
        return wr_err_set(err, WR_EINVAL, "--cors-origins: %s", m);
    }
    /* norm is "{a,b,c}": origins hold no comma or brace. */
    char *p = norm + 1;
    norm[strlen(norm) - 1] = '\0';
    while (*p) {
        size_t len = strcspn(p, ",");
        if (c) {
            if (c->n == CORS_MAX) {
                return wr_err_set(err, WR_EINVAL, "--cors-origins: more than %d origins", CORS_MAX);
            }
            c->patterns[c->n] = strndup(p, len);
            if (!c->patterns[c->n]) {
                return wr_err_set(err, WR_ENOMEM, "out of memory");
            }
            c->n++;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

int gw_cors_origins_check(const char *list, struct wr_err *err)
{
    return cors_parse(list, NULL, err);
}

gw_cors *gw_cors_create(const char *list, struct wr_err *err)
{
    gw_cors *c = calloc(1, sizeof *c);
    if (!c) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    if (cors_parse(list, c, err) != 0) {
        gw_cors_destroy(c);
        return NULL;
    }
    return c;
}

void gw_cors_destroy(gw_cors *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        free(c->patterns[i]);
    }
    free(c);
}

bool gw_cors_allowed(const gw_cors *c, const reg_snapshot *snap, const char *origin)
{
    size_t len = strlen(origin);
    if (len == 0 || strcmp(origin, "null") == 0) {
        return false;
    }
    for (size_t i = 0; c && i < c->n; i++) {
        if (reg_origin_match(c->patterns[i], origin, len)) {
            return true;
        }
    }
    if (!snap) {
        return false;
    }
    size_t n;
    const struct reg_key_rec *keys = reg_snapshot_keys(snap, &n);
    for (size_t i = 0; i < n; i++) {
        if (reg_key_origin_allowed(&keys[i], origin, len)) {
            return true;
        }
    }
    return false;
}

void gw_cors_headers(struct MHD_Response *resp, const char *origin, bool preflight)
{
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Vary", "Origin");
    if (preflight) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "POST, GET, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Content-Type, Content-Encoding, Authorization, X-Api-Key");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
    } else {
        /* The outcome headers of the API, readable by the page's script. */
        MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                "Retry-After, RateLimit-Limit, RateLimit-Remaining, "
                                "RateLimit-Reset, Weir-Result");
    }
}

/* ---- per-client-address rate ----------------------------------------------------------- */

#define IPRATE_SLOTS 16384 /* a power of two */
#define IPRATE_PROBE 8

struct ipbucket {
    uint64_t tag; /* 0 = empty */
    struct gw_bucket b;
    long long rate;
};

struct gw_iprate {
    pthread_mutex_t lock;
    struct ipbucket slots[IPRATE_SLOTS];
};

gw_iprate *gw_iprate_create(void)
{
    gw_iprate *r = calloc(1, sizeof *r);
    if (r) {
        pthread_mutex_init(&r->lock, NULL);
    }
    return r;
}

void gw_iprate_destroy(gw_iprate *r)
{
    if (r) {
        pthread_mutex_destroy(&r->lock);
        free(r);
    }
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

static double refilled(const struct ipbucket *s, int64_t now_ns)
{
    return gw_bucket_level(&s->b, s->rate, now_ns);
}

bool gw_iprate_take(gw_iprate *r, const char *key, const unsigned char *addr, size_t alen,
                    long long rate, uint64_t n, int64_t now_ns, long long *retry_s)
{
    if (rate <= 0) {
        return true;
    }
    uint64_t tag =
        fnv(fnv(1469598103934665603ull, (const unsigned char *)key, strlen(key) + 1), addr, alen);
    tag |= 1; /* never 0 */
    pthread_mutex_lock(&r->lock);
    struct ipbucket *b = NULL, *victim = NULL;
    for (size_t i = 0; i < IPRATE_PROBE; i++) {
        struct ipbucket *s = &r->slots[(tag + i) & (IPRATE_SLOTS - 1)];
        if (s->tag == tag) {
            b = s;
            break;
        }
        /* An empty slot or a bucket full again (idle for a second) costs nothing to
         * reuse; otherwise the least recently used one goes. */
        if (!victim || s->tag == 0 || refilled(s, now_ns) >= (double)s->rate ||
            (victim->tag != 0 && s->b.last_ns < victim->b.last_ns &&
             refilled(victim, now_ns) < (double)victim->rate)) {
            victim = s;
        }
    }
    if (!b) {
        b = victim;
        b->tag = tag;
        b->b.tokens = (double)rate;
        b->b.last_ns = now_ns;
    }
    b->rate = rate;
    bool ok = gw_bucket_take(&b->b, rate, n, now_ns, retry_s);
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* ---- what enrich/ needs of a request ------------------------------------------------------ */

struct joined {
    const char *name;
    wr_arena *a;
    const char *p;
    size_t len;
};

/* Several header lines of one name become one value joined by "," (in order). */
static enum MHD_Result join_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct joined *j = cls;
    if (strcasecmp(key, j->name) != 0 || !value) {
        return MHD_YES;
    }
    size_t vl = strlen(value);
    if (!j->p) {
        j->p = value;
        j->len = vl;
        return MHD_YES;
    }
    char *both = wr_arena_alloc(j->a, j->len + 1 + vl);
    if (!both) {
        return MHD_NO; /* keep what we have */
    }
    memcpy(both, j->p, j->len);
    both[j->len] = ',';
    memcpy(both + j->len + 1, value, vl);
    j->p = both;
    j->len += 1 + vl;
    return MHD_YES;
}

void gw_en_request(struct MHD_Connection *conn, wr_arena *a, bool with_origin,
                   struct en_request *req)
{
    memset(req, 0, sizeof *req);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    req->peer = ci ? ci->client_addr : NULL;
    struct joined xff = {"X-Forwarded-For", a, NULL, 0}, fwd = {"Forwarded", a, NULL, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, join_header, &xff);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, join_header, &fwd);
    req->xff = xff.p;
    req->xff_len = xff.len;
    req->forwarded = fwd.p;
    req->forwarded_len = fwd.len;
    const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
    if (ua) {
        req->user_agent = ua;
        req->user_agent_len = strlen(ua);
    }
    const char *origin =
        with_origin ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin") : NULL;
    if (origin) {
        req->origin = origin;
        req->origin_len = strlen(origin);
    }
}
