/* enrich.h - the `context` object the gateway adds to every stored event
 * (../shared/spec/browser.md): client IP through trusted proxies and --ip-mode, the
 * User-Agent parsed with uap-core's regexes.yaml, and geo from a MaxMind DB file.
 *
 * Threads: an en_enricher (rules, trusted proxies, the MaxMind DB) is built once at
 * start and is read-only afterwards, so any number of threads share it. Each thread
 * that enriches owns one en_worker (its PCRE2 match data, JIT stack and UA cache);
 * a worker is never shared, so no lock is taken on the request path.
 * Privacy: the full client address lives only on the stack of en_context_render (and
 * of the callers of en_client_ip / en_client_addr); with --ip-mode truncate or drop it
 * is never written into any output, struct, cache or log here.
 * Failures: constructors return NULL and fill a wr_err whose message names the option
 * (--trusted-proxies, --ua-regexes, --geoip-db) for the CLI to print and exit 2; the
 * request path cannot fail except for a caller's buffer that is too small. */
#ifndef WEIR_ENRICH_H
#define WEIR_ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

/* ---- addresses and trusted proxies (ip.c) ---- */

/* An IPv4 or IPv6 address; IPv4-mapped IPv6 (::ffff:a.b.c.d) is always stored as v4. */
struct en_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t b[16];  /* v4 uses b[0..3] */
};

enum en_ip_mode { EN_IP_TRUNCATE = 0, EN_IP_KEEP, EN_IP_DROP };

/* Which header a trusted proxy sets. The other header is ignored, so a client cannot
 * smuggle an address through the header the proxy does not touch. */
enum en_fwd_header { EN_FWD_XFF = 0, EN_FWD_FORWARDED };

typedef struct en_cidrs en_cidrs;

/* Parses a trusted-proxies list: CIDRs or bare addresses separated by commas and/or
 * spaces ("10.0.0.0/8, 2001:db8::/32, 127.0.0.1"); an empty or NULL text is the empty
 * list. Refuses bad addresses, prefix lengths out of range and bits set after the
 * prefix (WR_EINVAL, err->msg names the item, for the CLI to exit 2). Returns a new
 * read-only list (free with en_cidrs_destroy) or NULL. Thread-safe once built. */
en_cidrs *en_cidrs_parse(const char *text, struct wr_err *err);
/* Frees c; NULL is a no-op. */
void en_cidrs_destroy(en_cidrs *c);
/* The number of ranges (0 for NULL), for the startup log. */
size_t en_cidrs_count(const en_cidrs *c);
/* True when a is in one of c's ranges (a v4 address only in v4 ranges); false for NULL c. */
bool en_cidrs_contains(const en_cidrs *c, const struct en_addr *a);

/* Parses one textual address (IPv4, IPv6, IPv4-mapped IPv6 normalized to v4) of len
 * bytes, no port, no brackets. Returns 0 or WR_EINVAL. */
int en_addr_parse(const char *s, size_t len, struct en_addr *out);

/* The address of a socket peer (AF_INET or AF_INET6). Returns 0 or WR_EINVAL. */
int en_addr_from_sockaddr(const struct sockaddr *sa, struct en_addr *out);

/* The client address: the peer, or, when the peer is in trusted, the right-most hop of
 * the forwarding header (hdr, hdr_len bytes, the header's values joined by "," in
 * order; NULL when absent) that is not itself trusted. A hop that is not an address
 * ("unknown", garbage) stops the walk at the hop on its right; when every hop is trusted
 * the left-most one is the client. Never fails; *out is always set. */
void en_client_ip(const en_cidrs *trusted, enum en_fwd_header which, const struct en_addr *peer,
                  const char *hdr, size_t hdr_len, struct en_addr *out);

/* Applies --ip-mode truncate in place: IPv4 keeps /24, IPv6 keeps /48, the rest zeros. */
void en_addr_truncate(struct en_addr *a);

/* Text form of a into out, NUL-terminated (IPv6 as RFC 5952: lowercase, "::" for the
 * longest zero run); returns its length, or 0 with out = "" when cap is too small (46
 * bytes always suffice). */
size_t en_addr_format(const struct en_addr *a, char *out, size_t cap);

/* ---- user agents (ua.c, ua_cache.c) ---- */

/* The longest prefix of a User-Agent that is matched and cached; longer ones are cut
 * here (every uap-core test string is under 520 bytes), so a 10 KB header costs what a
 * 1 KB one does. */
#define EN_UA_MATCH_MAX 1024

enum en_device { EN_DEV_OTHER = 0, EN_DEV_DESKTOP, EN_DEV_MOBILE, EN_DEV_TABLET, EN_DEV_BOT };

/* The raw uap-core result: family "Other" when nothing matched, a NULL-free empty
 * string for an undefined part. Strings are cut at their capacity. */
struct en_uap {
    char ua_family[128], ua_major[32], ua_minor[32], ua_patch[32];
    char os_family[128], os_major[32], os_minor[32], os_patch[32], os_patch_minor[32];
    char dev_family[256], dev_brand[64], dev_model[256];
};

/* What `context.ua` says (an empty version is rendered as null). */
struct en_ua {
    char browser[64];         /* uap-core family, "Other" when unknown */
    char browser_version[48]; /* "major[.minor[.patch]]", "" when unknown */
    char os[64];
    char os_version[48]; /* "major[.minor[.patch[.patch_minor]]]" */
    enum en_device device;
    bool bot;
};

typedef struct en_ua_rules en_ua_rules;

/* Reads a uap-core regexes.yaml with libyaml and compiles every rule with PCRE2 (JIT
 * when available). NULL path means EN_UA_DEFAULT_REGEXES. Returns read-only rules
 * shared by every thread, or NULL with err (WR_EINVAL names the file and the rule that
 * does not compile; WR_EIO when unreadable). */
#define EN_UA_DEFAULT_REGEXES "/usr/share/uap-core/regexes.yaml"
en_ua_rules *en_ua_load(const char *path, struct wr_err *err);
/* Frees r after every parser made from it; NULL is a no-op. */
void en_ua_rules_destroy(en_ua_rules *r);
/* Rule counts (user agent, os, device), for the startup log. */
void en_ua_rules_counts(const en_ua_rules *r, size_t *ua, size_t *os, size_t *dev);

/* A per-thread parser: match data, a JIT stack and an LRU cache of `entries` distinct
 * strings (0 = no cache). Keeps r, which must outlive it. Never share one between
 * threads. NULL on out of memory. _destroy(NULL) is a no-op. */
typedef struct en_ua_parser en_ua_parser;
en_ua_parser *en_ua_parser_create(const en_ua_rules *r, size_t entries, struct wr_err *err);
void en_ua_parser_destroy(en_ua_parser *p);

/* Parses ua[0, len) (only the first EN_UA_MATCH_MAX bytes; any bytes are safe) into
 * the raw uap-core result, without the cache. For the conformance tests. */
void en_ua_parse_raw(en_ua_parser *p, const char *ua, size_t len, struct en_uap *out);

/* Parses through the cache into what context.ua says; *hit tells whether the cache
 * answered (may be NULL). */
void en_ua_parse(en_ua_parser *p, const char *ua, size_t len, struct en_ua *out, bool *hit);

/* Cache statistics since creation. */
void en_ua_parser_stats(const en_ua_parser *p, uint64_t *hits, uint64_t *misses);

/* The device class and bot flag of a raw result and its string (browser.md), with the
 * versions joined. Pure, thread-safe. */
void en_ua_classify(const struct en_uap *u, const char *ua, size_t len, struct en_ua *out);

/* "desktop", "mobile", "tablet", "bot" or "other". */
const char *en_device_name(enum en_device d);

/* ---- geo (geo.c) ---- */

typedef struct en_geo_db en_geo_db;

/* Opens a MaxMind DB file (GeoLite2/DB-IP, Country or City) with libmaxminddb, memory
 * mapped; lookups are thread-safe. NULL with err (WR_EIO/WR_EINVAL with the library's
 * message) when it cannot be opened. */
en_geo_db *en_geo_open(const char *path, struct wr_err *err);
/* Unmaps g; NULL is a no-op. */
void en_geo_close(en_geo_db *g);

struct en_geo {
    bool found;      /* the database has a record for the address */
    char country[8]; /* ISO 3166-1 alpha-2, "" when unknown */
    char region[96]; /* first subdivision's English name, "" when unknown */
    char city[96];   /* English name, "" when unknown */
    bool has_location;
    double lat, lon;
};

/* Looks a up (thread-safe). Returns 0 (out->found false when the database has no
 * record, or a is v6 and the database v4 only) or WR_EIO when the database is corrupt. */
int en_geo_lookup(const en_geo_db *g, const struct en_addr *a, struct en_geo *out);

/* ---- the context object (context.c) ---- */

/* The gateway's options, one field each. */
struct en_config {
    const char *trusted_proxies;   /* --trusted-proxies: CIDR list, NULL/"" = none */
    enum en_fwd_header fwd_header; /* which header the proxies set; default EN_FWD_XFF */
    enum en_ip_mode ip_mode;       /* --ip-mode; default EN_IP_TRUNCATE */
    bool store_user_agent;         /* --store-user-agent; default true */
    const char *ua_regexes;        /* --ua-regexes; NULL = EN_UA_DEFAULT_REGEXES */
    const char *geoip_db;          /* --geoip-db; NULL/"" = no geo */
    size_t ua_cache_entries;       /* per worker; 0 = EN_UA_CACHE_DEFAULT */
};
#define EN_UA_CACHE_DEFAULT 512
#define EN_USER_AGENT_MAX 512 /* bytes of User-Agent stored in context.user_agent */

/* Sets the defaults of browser.md (truncate, store the user agent, XFF, no proxies). */
void en_config_init(struct en_config *c);

typedef struct en_enricher en_enricher;
typedef struct en_worker en_worker;

/* Builds the shared, read-only enricher from c (c's strings are not kept). NULL with
 * err: WR_EINVAL for a bad --trusted-proxies or a bad regexes file (msg names the
 * option), WR_EIO for an unreadable file. */
en_enricher *en_create(const struct en_config *c, struct wr_err *err);
/* Frees e after all its workers; NULL is a no-op. */
void en_destroy(en_enricher *e);

/* One per enriching thread (keeps e); destroy every worker before the enricher. NULL on
 * out of memory; _destroy(NULL) is a no-op. */
en_worker *en_worker_create(en_enricher *e, struct wr_err *err);
void en_worker_destroy(en_worker *w);

/* What the gateway knows of one request. Header values are (pointer, length); NULL
 * when the header is absent. Several header lines of one name are joined with ",". */
struct en_request {
    const struct sockaddr *peer; /* the socket peer; NULL = unknown */
    const char *xff;
    size_t xff_len; /* X-Forwarded-For */
    const char *forwarded;
    size_t forwarded_len; /* Forwarded (RFC 7239) */
    const char *user_agent;
    size_t user_agent_len;
    const char *origin;
    size_t origin_len; /* only for publishable keys */
};

/* The client address of req under e's trusted proxies and forwarding header (what
 * context.ip is made from before --ip-mode), for the per-IP rate limit. Returns 0, or
 * WR_EINVAL when req has no usable peer. The caller must not log or store *out. */
int en_client_addr(const en_enricher *e, const struct en_request *req, struct en_addr *out);

/* w's UA cache counters since it was created (for metrics); thread of w only. */
void en_worker_stats(const en_worker *w, uint64_t *ua_cache_hits, uint64_t *ua_cache_misses);

/* Renders the context JSON object for one request into buf[0, cap) in the spec's field
 * order: ip, user_agent, ua, geo, origin (each absent when it has no value). Always
 * valid JSON: invalid UTF-8 becomes U+FFFD and control bytes are \u-escaped. Returns
 * the length written (no NUL is added), or WR_ELIMIT when cap is too small (buf then
 * holds nothing usable). EN_CONTEXT_MAX is always enough (every part is capped: the
 * user agent at EN_USER_AGENT_MAX bytes, an origin over EN_ORIGIN_MAX bytes is left
 * out); a typical object is 300 bytes. Uses w's cache: one thread per w. The full
 * client address is looked up in the MaxMind DB, shaped by --ip-mode, then wiped. */
#define EN_CONTEXT_MAX 8192
#define EN_ORIGIN_MAX 256
int en_context_render(en_worker *w, const struct en_request *req, char *buf, size_t cap);

#endif
