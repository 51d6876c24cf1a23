/* ip.c - client addresses: parsing, trusted-proxy CIDR lists, the walk over
 * X-Forwarded-For / Forwarded hops, and --ip-mode truncation. Pure functions. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "enrich/enrich.h"

struct en_cidr {
    struct en_addr net; /* bits after the prefix are zero */
    unsigned prefix;
};

struct en_cidrs {
    size_t n;
    struct en_cidr items[];
};

static void normalize_mapped(struct en_addr *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->family == 6 && memcmp(a->b, mapped, sizeof mapped) == 0) {
        uint8_t v4[4];
        memcpy(v4, a->b + 12, 4);
        memset(a->b, 0, sizeof a->b);
        memcpy(a->b, v4, 4);
        a->family = 4;
    }
}

int en_addr_parse(const char *s, size_t len, struct en_addr *out)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    struct en_addr a;
    if (len == 0 || len >= sizeof tmp) {
        return WR_EINVAL;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (memchr(tmp, '\0', len)) {
        return WR_EINVAL;
    }
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, tmp, a.b) == 1) {
        a.family = 4;
    } else if (inet_pton(AF_INET6, tmp, a.b) == 1) {
        a.family = 6;
        normalize_mapped(&a);
    } else {
        return WR_EINVAL;
    }
    *out = a;
    return 0;
}

int en_addr_from_sockaddr(const struct sockaddr *sa, struct en_addr *out)
{
    struct en_addr a;
    memset(&a, 0, sizeof a);
    if (!sa) {
        return WR_EINVAL;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        a.family = 4;
        memcpy(a.b, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        a.family = 6;
        memcpy(a.b, &in6->sin6_addr, 16);
        normalize_mapped(&a);
    } else {
        return WR_EINVAL;
    }
    *out = a;
    return 0;
}

void en_addr_truncate(struct en_addr *a)
{
    /* browser.md: IPv4 to /24, IPv6 to /48. */
    if (a->family == 4) {
        memset(a->b + 3, 0, sizeof a->b - 3);
    } else {
        memset(a->b + 6, 0, sizeof a->b - 6);
    }
}

/* Decimal of v (0-255) at p; returns the bytes written. */
static size_t put_dec(char *p, unsigned v)
{
    size_t n = 0;
    if (v >= 100) {
        p[n++] = (char)('0' + v / 100);
    }
    if (v >= 10) {
        p[n++] = (char)('0' + v / 10 % 10);
    }
    p[n++] = (char)('0' + v % 10);
    return n;
}

size_t en_addr_format(const struct en_addr *a, char *out, size_t cap)
{
    /* By hand rather than inet_ntop, whose printf costs a fifth of a cached enrichment.
     * IPv6 as RFC 5952 says: lowercase, no leading zeros, the longest run of two or
     * more zero groups (the first of equals) as "::". */
    char tmp[48];
    size_t n = 0;
    if (cap == 0) {
        return 0;
    }
    if (a->family == 4) {
        for (int i = 0; i < 4; i++) {
            if (i) {
                tmp[n++] = '.';
            }
            n += put_dec(tmp + n, a->b[i]);
        }
    } else {
        static const char hex[] = "0123456789abcdef";
        unsigned w[8];
        int best = -1, best_len = 0;
        for (int i = 0; i < 8; i++) {
            w[i] = (unsigned)a->b[2 * i] << 8 | a->b[2 * i + 1];
        }
        for (int i = 0; i < 8;) {
            int j = i;
            while (j < 8 && w[j] == 0) {
                j++;
            }
            if (j - i > best_len && j - i >= 2) {
                best = i;
                best_len = j - i;
            }
            i = j > i ? j : i + 1;
        }
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                tmp[n++] = ':';
                tmp[n++] = ':';
                i += best_len - 1;
                continue;
            }
            if (i && !(best >= 0 && i == best + best_len)) {
                tmp[n++] = ':';
            }
            for (int shift = 12, started = 0; shift >= 0; shift -= 4) {
                unsigned d = (w[i] >> shift) & 15;
                if (d || started || shift == 0) {
                    tmp[n++] = hex[d];
                    started = 1;
                }
            }
        }
    }
    if (n >= cap) {
        out[0] = '\0';
        return 0;
    }
    memcpy(out, tmp, n);
    out[n] = '\0';
    return n;
}

static bool prefix_equal(const struct en_addr *a, const struct en_addr *net, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a->b, net->b, full) != 0) {
        return false;
    }
    if (rest) {
        uint8_t mask = (uint8_t)(0xffu << (8 - rest));
        return (a->b[full] & mask) == net->b[full];
    }
    return true;
}

bool en_cidrs_contains(const en_cidrs *c, const struct en_addr *a)
{
    if (!c) {
        return false;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (c->items[i].net.family == a->family &&
            prefix_equal(a, &c->items[i].net, c->items[i].prefix)) {
            return true;
        }
    }
    return false;
}

size_t en_cidrs_count(const en_cidrs *c)
{
    return c ? c->n : 0;
}

void en_cidrs_destroy(en_cidrs *c)
{
    free(c);
}

static bool is_sep(char ch)
{
    return ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* One item "addr[/len]" of item_len bytes. */
static int parse_cidr(const char *item, size_t item_len, struct en_cidr *out, struct wr_err *err)
{
    const char *slash = memchr(item, '/', item_len);
    size_t alen = slash ? (size_t)(slash - item) : item_len;
    struct en_addr a;
    unsigned max, prefix;
    bool mapped_v6 = false;
    if (en_addr_parse(item, alen, &a) != 0) {
        return wr_err_set(err, WR_EINVAL,
                          "--trusted-proxies: \"%.*s\" is not an IPv4 or IPv6 address",
                          (int)(alen > 60 ? 60 : alen), item);
    }
    /* "::ffff:10.0.0.0/104" names v4 addresses; its prefix counts the 96 mapped bits. */
    mapped_v6 = a.family == 4 && memchr(item, ':', alen) != NULL;
    max = a.family == 4 ? 32 : 128;
    prefix = max;
    if (slash) {
        const char *d = slash + 1, *end = item + item_len;
        unsigned v = 0;
        if (d == end || end - d > 3) {
            return wr_err_set(err, WR_EINVAL,
                              "--trusted-proxies: \"%.*s\": the prefix length must be a number",
                              (int)(item_len > 60 ? 60 : item_len), item);
        }
        for (; d < end; d++) {
            if (*d < '0' || *d > '9') {
                return wr_err_set(err, WR_EINVAL,
                                  "--trusted-proxies: \"%.*s\": the prefix length must be a number",
                                  (int)(item_len > 60 ? 60 : item_len), item);
            }
            v = v * 10 + (unsigned)(*d - '0');
        }
        if (mapped_v6) {
            if (v < 96 || v > 128) {
                return wr_err_set(
                    err, WR_EINVAL,
                    "--trusted-proxies: \"%.*s\": an IPv4-mapped prefix must be 96-128",
                    (int)(item_len > 60 ? 60 : item_len), item);
            }
            v -= 96;
        }
        if (v > max) {
            return wr_err_set(err, WR_EINVAL,
                              "--trusted-proxies: \"%.*s\": the prefix length must be 0-%u",
                              (int)(item_len > 60 ? 60 : item_len), item, max);
        }
        prefix = v;
    }
    /* Bits after the prefix are refused, not masked: "10.1.2.3/8" is more likely a typo
     * for /32 than a wish to trust all of 10/8. */
    {
        struct en_addr masked = a;
        unsigned full = prefix / 8, rest = prefix % 8;
        if (rest) {
            masked.b[full] &= (uint8_t)(0xffu << (8 - rest));
            full++;
        }
        memset(masked.b + full, 0, sizeof masked.b - full);
        if (memcmp(masked.b, a.b, sizeof a.b) != 0) {
            char net[INET6_ADDRSTRLEN];
            en_addr_format(&masked, net, sizeof net);
            return wr_err_set(
                err, WR_EINVAL,
                "--trusted-proxies: \"%.*s\" has bits set after the prefix (the network is %s/%u)",
                (int)(item_len > 60 ? 60 : item_len), item, net, prefix);
        }
    }
    out->net = a;
    out->prefix = prefix;
    return 0;
}

en_cidrs *en_cidrs_parse(const char *text, struct wr_err *err)
{
    size_t n = 0, len = text ? strlen(text) : 0, i = 0;
    en_cidrs *c;
    /* Count first, so the list is one allocation. */
    for (size_t k = 0; k < len;) {
        while (k < len && is_sep(text[k])) {
            k++;
        }
        if (k < len) {
            n++;
        }
        while (k < len && !is_sep(text[k])) {
            k++;
        }
    }
    c = calloc(1, sizeof *c + n * sizeof c->items[0]);
    if (!c) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    while (i < len) {
        size_t start;
        while (i < len && is_sep(text[i])) {
            i++;
        }
        if (i == len) {
            break;
        }
        start = i;
        while (i < len && !is_sep(text[i])) {
            i++;
        }
        if (parse_cidr(text + start, i - start, &c->items[c->n], err) != 0) {
            free(c);
            return NULL;
        }
        c->n++;
    }
    return c;
}

/* ---- forwarding headers ---- */

#define EN_MAX_HOPS 64

struct hops {
    size_t n; /* hops seen, may exceed EN_MAX_HOPS */
    struct {
        bool ok;
        struct en_addr a;
    } ring[EN_MAX_HOPS]; /* the right-most EN_MAX_HOPS, at index n % EN_MAX_HOPS */
};

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t')) {
        (*s)++;
    }
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) {
        (*e)--;
    }
}

/* One node: "1.2.3.4", "1.2.3.4:80", "[::1]", "[::1]:80", "::1". */
static void hop_add(struct hops *h, const char *s, const char *e)
{
    size_t at = h->n % EN_MAX_HOPS;
    trim(&s, &e);
    if (e - s >= 2 && *s == '"' && e[-1] == '"') {
        s++;
        e--;
    }
    if (s < e && *s == '[') {
        const char *close = memchr(s, ']', (size_t)(e - s));
        if (close) {
            e = close;
        }
        s++;
    } else {
        const char *colon = memchr(s, ':', (size_t)(e - s));
        /* Exactly one colon: v4 with a port. More: a bare v6. */
        if (colon && !memchr(colon + 1, ':', (size_t)(e - colon - 1))) {
            e = colon;
        }
    }
    h->ring[at].ok = en_addr_parse(s, (size_t)(e - s), &h->ring[at].a) == 0;
    h->n++;
}

static void hops_xff(struct hops *h, const char *p, size_t len)
{
    const char *end = p + len, *s = p;
    for (const char *q = p; q <= end; q++) {
        if (q == end || *q == ',') {
            const char *a = s, *b = q;
            trim(&a, &b);
            if (a < b) {
                hop_add(h, a, b);
            }
            s = q + 1;
        }
    }
}

/* RFC 7239: elements split by ",", pairs by ";", values maybe quoted; only for=. */
static void hops_forwarded(struct hops *h, const char *p, size_t len)
{
    const char *end = p + len, *q = p;
    while (q < end) {
        bool got = false;
        /* One element. */
        while (q < end && *q != ',') {
            const char *ks, *ke, *vs, *ve;
            while (q < end && (*q == ' ' || *q == '\t' || *q == ';')) {
                q++;
            }
            ks = q;
            while (q < end && *q != '=' && *q != ';' && *q != ',') {
                q++;
            }
            ke = q;
            if (q < end && *q == '=') {
                q++;
            }
            vs = q;
            if (q < end && *q == '"') {
                q++;
                while (q < end && *q != '"') {
                    q += (*q == '\\' && q + 1 < end) ? 2 : 1;
                }
                if (q < end) {
                    q++;
                }
            } else {
                while (q < end && *q != ';' && *q != ',') {
                    q++;
                }
            }
            ve = q;
            trim(&ks, &ke);
            if (ke - ks == 3 && strncasecmp(ks, "for", 3) == 0 && !got) {
                hop_add(h, vs, ve);
                got = true;
            }
            while (q < end && *q != ';' && *q != ',') {
                q++;
            }
        }
        if (!got && q < end) {
            /* An element without for= is a hop we know nothing of. */
            size_t at = h->n % EN_MAX_HOPS;
            h->ring[at].ok = false;
            h->n++;
        }
        if (q < end) {
            q++;
        }
    }
}

void en_client_ip(const en_cidrs *trusted, enum en_fwd_header which, const struct en_addr *peer,
                  const char *hdr, size_t hdr_len, struct en_addr *out)
{
    struct hops h;
    size_t first;
    *out = *peer;
    if (!hdr || hdr_len == 0 || !en_cidrs_contains(trusted, peer)) {
        return;
    }
    h.n = 0;
    if (which == EN_FWD_FORWARDED) {
        hops_forwarded(&h, hdr, hdr_len);
    } else {
        hops_xff(&h, hdr, hdr_len);
    }
    first = h.n > EN_MAX_HOPS ? h.n - EN_MAX_HOPS : 0;
    for (size_t i = h.n; i > first; i--) {
        size_t at = (i - 1) % EN_MAX_HOPS;
        if (!h.ring[at].ok) {
            return;
        }
        *out = h.ring[at].a;
        if (!en_cidrs_contains(trusted, out)) {
            return;
        }
    }
}
