/* uri.c - RFC 3986 URI references for `$id` and `$ref`: split into components, resolve a
 * reference against a base (section 5.2), remove dot segments, decode fragments. */
#include "common/text.h"
#include "validator/val_int.h"

#include <string.h>

struct uri_parts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_n, auth_n, path_n, query_n, frag_n;
    bool has_scheme, has_auth, has_query, has_frag;
};

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void uri_parse(const char *u, struct uri_parts *p)
{
    memset(p, 0, sizeof *p);
    const char *s = u;
    /* A scheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'. */
    if (is_alpha(*s)) {
        const char *t = s + 1;
        while (is_alpha(*t) || (*t >= '0' && *t <= '9') || *t == '+' || *t == '-' ||
               *t == '.') {
            t++;
        }
        if (*t == ':') {
            p->has_scheme = true;
            p->scheme = s;
            p->scheme_n = (size_t)(t - s);
            s = t + 1;
        }
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        p->has_auth = true;
        p->auth = s;
        while (*s && *s != '/' && *s != '?' && *s != '#') {
            s++;
        }
        p->auth_n = (size_t)(s - p->auth);
    }
    p->path = s;
    while (*s && *s != '?' && *s != '#') {
        s++;
    }
    p->path_n = (size_t)(s - p->path);
    if (*s == '?') {
        s++;
        p->has_query = true;
        p->query = s;
        while (*s && *s != '#') {
            s++;
        }
        p->query_n = (size_t)(s - p->query);
    }
    if (*s == '#') {
        s++;
        p->has_frag = true;
        p->frag = s;
        p->frag_n = strlen(s);
    }
}

/* Appends to a NUL-terminated output buffer known to be large enough. */
static void put(char **o, const char *s, size_t n)
{
    memcpy(*o, s, n);
    *o += n;
}

/* RFC 3986 5.2.4, writing the result to out (at most len+1 bytes); returns its length. */
static size_t remove_dots(const char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    while (i < len) {
        const char *s = in + i;
        size_t rest = len - i;
        if (rest >= 3 && memcmp(s, "../", 3) == 0) {
            i += 3;
        } else if (rest >= 2 && memcmp(s, "./", 2) == 0) {
            i += 2;
        } else if (rest >= 3 && memcmp(s, "/./", 3) == 0) {
            i += 2;
        } else if (rest == 2 && memcmp(s, "/.", 2) == 0) {
            out[o++] = '/';
            i += 2;
        } else if ((rest >= 4 && memcmp(s, "/../", 4) == 0) ||
                   (rest == 3 && memcmp(s, "/..", 3) == 0)) {
            i += 3;
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            if (o > 0) {
                o--;
            }
            if (rest == 3) {
                out[o++] = '/';
            }
        } else if ((rest == 1 && s[0] == '.') || (rest == 2 && memcmp(s, "..", 2) == 0)) {
            i = len;
        } else {
            size_t j = (s[0] == '/') ? 1 : 0;
            while (j < rest && s[j] != '/') {
                j++;
            }
            memcpy(out + o, s, j);
            o += j;
            i += j;
        }
    }
    out[o] = '\0';
    return o;
}

char *val__uri_resolve(wr_arena *a, const char *base, const char *ref)
{
    struct uri_parts b, r;
    uri_parse(base, &b);
    uri_parse(ref, &r);
    size_t cap = strlen(base) + strlen(ref) + 8;
    char *out = wr_arena_alloc(a, cap);
    char *tmp = wr_arena_alloc(a, cap);
    char *mp = wr_arena_alloc(a, cap);
    if (!out || !tmp || !mp) {
        return NULL;
    }
    char *o = out;
    const struct uri_parts *sch = r.has_scheme ? &r : &b;
    const struct uri_parts *au, *q;
    const char *path;
    size_t path_n;
    if (r.has_scheme) {
        au = &r;
        path_n = remove_dots(r.path, r.path_n, tmp);
        path = tmp;
        q = &r;
    } else if (r.has_auth) {
        au = &r;
        path_n = remove_dots(r.path, r.path_n, tmp);
        path = tmp;
        q = &r;
    } else {
        au = &b;
        if (r.path_n == 0) {
            path = b.path;
            path_n = b.path_n;
            q = r.has_query ? &r : &b;
        } else {
            q = &r;
            if (r.path[0] == '/') {
                path_n = remove_dots(r.path, r.path_n, tmp);
            } else {
                /* Merge: the base path up to its last '/', then the reference path. */
                size_t m = 0;
                if (b.has_auth && b.path_n == 0) {
                    mp[m++] = '/';
                } else {
                    size_t k = b.path_n;
                    while (k > 0 && b.path[k - 1] != '/') {
                        k--;
                    }
                    memcpy(mp, b.path, k);
                    m = k;
                }
                memcpy(mp + m, r.path, r.path_n);
                m += r.path_n;
                /* A base without '/' in its path (a URN) merges to the bare reference,
                 * which remove_dots keeps as is. */
                path_n = remove_dots(mp, m, tmp);
            }
            path = tmp;
        }
    }
    if (sch->has_scheme) {
        put(&o, sch->scheme, sch->scheme_n);
        put(&o, ":", 1);
    }
    if (au->has_auth) {
        put(&o, "//", 2);
        put(&o, au->auth, au->auth_n);
    }
    put(&o, path, path_n);
    if (q->has_query) {
        put(&o, "?", 1);
        put(&o, q->query, q->query_n);
    }
    if (r.has_frag) {
        put(&o, "#", 1);
        put(&o, r.frag, r.frag_n);
    }
    *o = '\0';
    return out;
}

size_t val__uri_split(const char *uri, const char **frag)
{
    const char *h = strchr(uri, '#');
    if (!h) {
        *frag = "";
        return strlen(uri);
    }
    *frag = h + 1;
    return (size_t)(h - uri);
}

bool val__uri_is_absolute(const char *uri)
{
    struct uri_parts p;
    uri_parse(uri, &p);
    return p.has_scheme;
}

size_t val__uri_unescape(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                return (size_t)-1;
            }
            int h = wr_hexval(s[i + 1]), l = wr_hexval(s[i + 2]);
            if (h < 0 || l < 0) {
                return (size_t)-1;
            }
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (o + 1 >= cap) {
            return (size_t)-1;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return o;
}
