/* origins.c - the page origins a publishable key may be used from (browser.md): the
 * syntax checked at `weir key create`, and the match the gateway runs on every request
 * of a publishable key and on every CORS preflight. Pure functions; thread-safe. */
#include "registry/registry.h"
#include "registry/snapshot.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* "http://", "https://", or another scheme name + "://"; the length of that prefix, or 0. */
static size_t scheme_len(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || !isalpha((unsigned char)s[0])) {
        return 0;
    }
    while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
        i++;
    }
    if (i + 3 > len || memcmp(s + i, "://", 3) != 0) {
        return 0;
    }
    return i + 3;
}

/* host[:port] with host a DNS name, an IPv4 address or a bracketed IPv6 address. */
static bool hostport_valid(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0) {
        return false;
    }
    if (s[0] == '[') {
        while (i < len && s[i] != ']') {
            char ch = s[i];
            if (i > 0 && !isxdigit((unsigned char)ch) && ch != ':' && ch != '.') {
                return false;
            }
            i++;
        }
        if (i == len || i < 3) {
            return false;
        }
        i++;
    } else {
        size_t label = 0;
        while (i < len && s[i] != ':') {
            char ch = s[i];
            if (ch == '.') {
                if (label == 0) {
                    return false;
                }
                label = 0;
            } else if (isalnum((unsigned char)ch) || ch == '-' || ch == '_') {
                label++;
            } else {
                return false;
            }
            i++;
        }
        if (label == 0) {
            return false;
        }
    }
    if (i == len) {
        return true;
    }
    if (s[i] != ':' || i + 1 == len || len - i - 1 > 5) {
        return false;
    }
    for (i++; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static bool pattern_valid(const char *p, size_t len)
{
    size_t sl = scheme_len(p, len);
    if (sl == 0) {
        return false;
    }
    const char *h = p + sl;
    size_t hl = len - sl;
    if (hl > 2 && h[0] == '*' && h[1] == '.') {
        /* "*.example.com": a wildcard over a real domain, never "*.com"-like bare TLDs
         * only by syntax (a name with at least one dot after the star is required). */
        return hostport_valid(h + 2, hl - 2) && memchr(h + 2, '.', hl - 2) != NULL && h[2] != '[';
    }
    return hostport_valid(h, hl);
}

int reg_origins_normalize(const char *csv, char *out, size_t outlen, struct wr_err *err)
{
    size_t o = 0, n = 0;
    const char *p = csv ? csv : "";
    if (outlen < 3) {
        return wr_err_set(err, WR_EINVAL, "--origins: too long");
    }
    out[o++] = '{';
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *e = p;
        size_t el = len;
        while (el && (*e == ' ' || *e == '\t')) {
            e++;
            el--;
        }
        while (el && (e[el - 1] == ' ' || e[el - 1] == '\t')) {
            el--;
        }
        /* A browser's Origin never ends with a slash; accept the common way of writing
         * one and store it without. */
        if (el && e[el - 1] == '/') {
            el--;
        }
        if (el) {
            if (!pattern_valid(e, el)) {
                return wr_err_set(err, WR_EINVAL,
                                  "--origins: '%.*s' is not an origin (scheme://host[:port] or "
                                  "scheme://*.domain[:port])",
                                  (int)(el > 200 ? 200 : el), e);
            }
            if (o + el + 2 >= outlen) {
                return wr_err_set(err, WR_EINVAL, "--origins: too long");
            }
            if (n++) {
                out[o++] = ',';
            }
            for (size_t i = 0; i < el; i++) {
                out[o++] = (char)tolower((unsigned char)e[i]);
            }
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    if (n == 0) {
        return wr_err_set(err, WR_EINVAL, "--origins: a publishable key needs at least one origin");
    }
    out[o++] = '}';
    out[o] = '\0';
    return 0;
}

bool reg_origin_match(const char *pattern, const char *origin, size_t len)
{
    size_t pl = strlen(pattern);
    size_t sl = scheme_len(pattern, pl);
    if (sl == 0 || len < sl || strncasecmp(pattern, origin, sl) != 0) {
        return false;
    }
    const char *ph = pattern + sl, *oh = origin + sl;
    size_t phl = pl - sl, ohl = len - sl;
    if (phl > 2 && ph[0] == '*' && ph[1] == '.') {
        /* The suffix ".domain[:port]" must end the origin, after at least one character
         * of a subdomain made of host characters only (no port, no path smuggled in). */
        size_t suf = phl - 1;
        if (ohl <= suf || strncasecmp(oh + ohl - suf, ph + 1, suf) != 0) {
            return false;
        }
        for (size_t i = 0; i < ohl - suf; i++) {
            char ch = oh[i];
            if (!isalnum((unsigned char)ch) && ch != '-' && ch != '.' && ch != '_') {
                return false;
            }
        }
        return oh[0] != '.';
    }
    return phl == ohl && strncasecmp(ph, oh, ohl) == 0;
}

bool reg_key_origin_allowed(const struct reg_key_rec *k, const char *origin, size_t len)
{
    if (!k->publishable || k->revoked) {
        return false;
    }
    for (size_t i = 0; i < k->n_origins; i++) {
        if (reg_origin_match(k->origins[i], origin, len)) {
            return true;
        }
    }
    return false;
}
