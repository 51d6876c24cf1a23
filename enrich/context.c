/* context.c - the enricher (shared, read-only) and its per-thread workers, and the
 * rendering of one request's `context` JSON object into the caller's buffer. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "enrich/en_int.h"

struct en_enricher {
    en_cidrs *trusted;
    enum en_fwd_header fwd_header;
    enum en_ip_mode ip_mode;
    bool store_user_agent;
    en_ua_rules *rules;
    en_geo_db *geo;
    size_t ua_cache_entries;
};

/* The last context a worker rendered, with what it was made from: a connection's next
 * request (or the next of one browser's) mostly has the same address, User-Agent and
 * Origin, so the answer is a copy. Only without a geo database (geo reads the full
 * address, which must not be kept); the address here is the one written into the
 * context (shaped by --ip-mode, absent with drop), so nothing is kept that is not in the
 * output anyway. */
#define CTX_CACHE_UA 1024  /* longer User-Agents are not cached */
#define CTX_CACHE_OUT 2048 /* nor longer contexts */
struct ctx_cache {
    bool valid, has_ip, has_ua, has_origin;
    struct en_addr ip;
    size_t ua_len, origin_len, out_len;
    char ua[CTX_CACHE_UA];
    char origin[EN_ORIGIN_MAX];
    char out[CTX_CACHE_OUT];
};

struct en_worker {
    en_enricher *e;
    en_ua_parser *ua;
    struct ctx_cache *last; /* NULL with a geo database */
};

void en_config_init(struct en_config *c)
{
    memset(c, 0, sizeof *c);
    c->fwd_header = EN_FWD_XFF;
    c->ip_mode = EN_IP_TRUNCATE;
    c->store_user_agent = true;
}

en_enricher *en_create(const struct en_config *c, struct wr_err *err)
{
    en_enricher *e = calloc(1, sizeof *e);
    if (!e) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    e->fwd_header = c->fwd_header;
    e->ip_mode = c->ip_mode;
    e->store_user_agent = c->store_user_agent;
    e->ua_cache_entries = c->ua_cache_entries ? c->ua_cache_entries : EN_UA_CACHE_DEFAULT;
    e->trusted = en_cidrs_parse(c->trusted_proxies, err);
    if (!e->trusted) {
        goto fail;
    }
    e->rules = en_ua_load(c->ua_regexes, err);
    if (!e->rules) {
        goto fail;
    }
    if (c->geoip_db && c->geoip_db[0]) {
        e->geo = en_geo_open(c->geoip_db, err);
        if (!e->geo) {
            goto fail;
        }
    }
    return e;
fail:
    en_destroy(e);
    return NULL;
}

void en_destroy(en_enricher *e)
{
    if (!e) {
        return;
    }
    en_geo_close(e->geo);
    en_ua_rules_destroy(e->rules);
    en_cidrs_destroy(e->trusted);
    free(e);
}

en_worker *en_worker_create(en_enricher *e, struct wr_err *err)
{
    en_worker *w = calloc(1, sizeof *w);
    if (!w) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    w->e = e;
    w->ua = en_ua_parser_create(e->rules, e->ua_cache_entries, err);
    if (!w->ua) {
        free(w);
        return NULL;
    }
    if (!e->geo && !(w->last = calloc(1, sizeof *w->last))) {
        en_ua_parser_destroy(w->ua);
        free(w);
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    return w;
}

void en_worker_destroy(en_worker *w)
{
    if (!w) {
        return;
    }
    en_ua_parser_destroy(w->ua);
    if (w->last) {
        explicit_bzero(w->last, sizeof *w->last);
        free(w->last);
    }
    free(w);
}

void en_worker_stats(const en_worker *w, uint64_t *ua_cache_hits, uint64_t *ua_cache_misses)
{
    en_ua_parser_stats(w->ua, ua_cache_hits, ua_cache_misses);
}

int en_client_addr(const en_enricher *e, const struct en_request *req, struct en_addr *out)
{
    struct en_addr peer;
    const char *hdr = e->fwd_header == EN_FWD_FORWARDED ? req->forwarded : req->xff;
    size_t hdr_len = e->fwd_header == EN_FWD_FORWARDED ? req->forwarded_len : req->xff_len;
    if (!req->peer || en_addr_from_sockaddr(req->peer, &peer) != 0) {
        return WR_EINVAL;
    }
    en_client_ip(e->trusted, e->fwd_header, &peer, hdr, hdr_len, out);
    explicit_bzero(&peer, sizeof peer);
    return 0;
}

/* ---- a checked JSON writer over the caller's buffer ---- */

struct jw {
    char *p;
    size_t cap, len;
    bool over;
};

static void put(struct jw *j, const char *s, size_t n)
{
    if (j->over || n > j->cap - j->len) {
        j->over = true;
        return;
    }
    memcpy(j->p + j->len, s, n);
    j->len += n;
}

static void puts_(struct jw *j, const char *s)
{
    put(j, s, strlen(s));
}

/* A JSON string: invalid UTF-8 becomes U+FFFD, control bytes and DEL are \u-escaped. */
static void put_str(struct jw *j, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    put(j, "\"", 1);
    while (i < len) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        put(j, s + run, i - run);
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(j, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(j, esc, 6);
            i++;
        } else {
            size_t start = i;
            uint32_t cp;
            if (wr_utf8_next(u, len, &i, &cp)) {
                put(j, s + start, i - start);
            } else {
                put(j, "\xef\xbf\xbd", 3);
                i++;
            }
        }
        run = i;
    }
    put(j, s + run, len - run);
    put(j, "\"", 1);
}

static void put_key(struct jw *j, bool *first, const char *key)
{
    if (!*first) {
        put(j, ",", 1);
    }
    *first = false;
    put(j, "\"", 1);
    puts_(j, key);
    put(j, "\":", 2);
}

static void put_str_or_null(struct jw *j, const char *s)
{
    if (s[0]) {
        put_str(j, s, strlen(s));
    } else {
        put(j, "null", 4);
    }
}

static void put_ua(struct jw *j, const struct en_ua *ua)
{
    puts_(j, "{\"browser\":");
    put_str(j, ua->browser, strlen(ua->browser));
    puts_(j, ",\"browser_version\":");
    put_str_or_null(j, ua->browser_version);
    puts_(j, ",\"os\":");
    put_str(j, ua->os, strlen(ua->os));
    puts_(j, ",\"os_version\":");
    put_str_or_null(j, ua->os_version);
    puts_(j, ",\"device\":\"");
    puts_(j, en_device_name(ua->device));
    puts_(j, ua->bot ? "\",\"bot\":true}" : "\",\"bot\":false}");
}

/* A coordinate with 4 decimals (11 m, what the databases hold), trailing zeros dropped;
 * integer arithmetic because printf's float path costs a microsecond here. */
static void put_coord(struct jw *j, double v)
{
    char num[24], *p = num + sizeof num;
    long long x = llround(fabs(v) * 10000.0);
    int frac = (int)(x % 10000), digits = 4;
    long long whole = x / 10000;
    while (digits > 1 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    for (int i = 0; i < digits; i++) {
        *--p = (char)('0' + frac % 10);
        frac /= 10;
    }
    *--p = '.';
    do {
        *--p = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole);
    if (v < 0 && x != 0) {
        *--p = '-';
    }
    put(j, p, (size_t)(num + sizeof num - p));
}

static void put_geo(struct jw *j, const struct en_geo *g)
{
    bool first = true;
    put(j, "{", 1);
    if (g->country[0]) {
        put_key(j, &first, "country");
        put_str(j, g->country, strlen(g->country));
    }
    if (g->region[0]) {
        put_key(j, &first, "region");
        put_str(j, g->region, strlen(g->region));
    }
    if (g->city[0]) {
        put_key(j, &first, "city");
        put_str(j, g->city, strlen(g->city));
    }
    if (g->has_location && isfinite(g->lat) && isfinite(g->lon) && fabs(g->lat) <= 90 &&
        fabs(g->lon) <= 180) {
        put_key(j, &first, "lat");
        put_coord(j, g->lat);
        put_key(j, &first, "lon");
        put_coord(j, g->lon);
    }
    put(j, "}", 1);
}

/* What a context is made from, past --ip-mode: the cache's key. */
struct ctx_key {
    bool has_ip, has_ua, has_origin;
    const struct en_addr *ip;
};

static bool cache_match(const struct ctx_cache *c, const struct ctx_key *k,
                        const struct en_request *req)
{
    return c->valid && c->has_ip == k->has_ip && c->has_ua == k->has_ua &&
           c->has_origin == k->has_origin &&
           (!k->has_ip || memcmp(&c->ip, k->ip, sizeof c->ip) == 0) &&
           (!k->has_ua ||
            (c->ua_len == req->user_agent_len && memcmp(c->ua, req->user_agent, c->ua_len) == 0)) &&
           (!k->has_origin || (c->origin_len == req->origin_len &&
                               memcmp(c->origin, req->origin, c->origin_len) == 0));
}

static void cache_store(struct ctx_cache *c, const struct ctx_key *k, const struct en_request *req,
                        const char *out, size_t len)
{
    c->valid = false;
    if (len > sizeof c->out || (k->has_ua && req->user_agent_len > sizeof c->ua)) {
        return;
    }
    c->has_ip = k->has_ip;
    c->has_ua = k->has_ua;
    c->has_origin = k->has_origin;
    memset(&c->ip, 0, sizeof c->ip);
    if (k->has_ip) {
        c->ip = *k->ip;
    }
    c->ua_len = k->has_ua ? req->user_agent_len : 0;
    if (c->ua_len) {
        memcpy(c->ua, req->user_agent, c->ua_len);
    }
    c->origin_len = k->has_origin ? req->origin_len : 0;
    if (c->origin_len) {
        memcpy(c->origin, req->origin, c->origin_len);
    }
    memcpy(c->out, out, len);
    c->out_len = len;
    c->valid = true;
}

int en_context_render(en_worker *w, const struct en_request *req, char *buf, size_t cap)
{
    const en_enricher *e = w->e;
    struct jw j = {buf, cap, 0, false};
    bool first = true;
    struct en_addr client;
    struct en_geo geo;
    put(&j, "{", 1);

    memset(&geo, 0, sizeof geo);
    bool have_ip = en_client_addr(e, req, &client) == 0;
    if (have_ip) {
        /* Geo reads the full address; it is shaped (or dropped) right after. */
        if (e->geo && en_geo_lookup(e->geo, &client, &geo) != 0) {
            memset(&geo, 0, sizeof geo);
        }
        if (e->ip_mode == EN_IP_TRUNCATE) {
            en_addr_truncate(&client);
        }
    }
    struct ctx_key key = {
        have_ip && e->ip_mode != EN_IP_DROP, req->user_agent && req->user_agent_len,
        req->origin && req->origin_len && req->origin_len <= EN_ORIGIN_MAX, &client};
    if (w->last && cache_match(w->last, &key, req)) {
        explicit_bzero(&client, sizeof client);
        if (key.has_ua) {
            w->ua->hits++; /* the user agent's answer came from a cache all the same */
        }
        if (w->last->out_len > cap) {
            return WR_ELIMIT;
        }
        memcpy(buf, w->last->out, w->last->out_len);
        return (int)w->last->out_len;
    }
    if (key.has_ip) {
        char text[INET6_ADDRSTRLEN];
        size_t n = en_addr_format(&client, text, sizeof text);
        put_key(&j, &first, "ip");
        put_str(&j, text, n);
        explicit_bzero(text, sizeof text);
    }

    if (key.has_ua) {
        struct en_ua ua;
        if (e->store_user_agent) {
            size_t n = wr_utf8_cut(req->user_agent, req->user_agent_len, EN_USER_AGENT_MAX);
            put_key(&j, &first, "user_agent");
            put_str(&j, req->user_agent, n);
        }
        en_ua_parse(w->ua, req->user_agent, req->user_agent_len, &ua, NULL);
        put_key(&j, &first, "ua");
        put_ua(&j, &ua);
    }
    if (geo.found && (geo.country[0] || geo.region[0] || geo.city[0] || geo.has_location)) {
        put_key(&j, &first, "geo");
        put_geo(&j, &geo);
    }
    if (key.has_origin) {
        put_key(&j, &first, "origin");
        put_str(&j, req->origin, req->origin_len);
    }
    put(&j, "}", 1);
    if (j.over) {
        explicit_bzero(&client, sizeof client);
        return WR_ELIMIT;
    }
    if (w->last) {
        cache_store(w->last, &key, req, buf, j.len);
    }
    explicit_bzero(&client, sizeof client);
    return (int)j.len;
}
