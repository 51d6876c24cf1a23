/* sigv4.c - AWS Signature Version 4 written here rather than taken from libcurl:
 * bookworm's curl 7.88 signs the path and query verbatim, so keys with '=' (every
 * Hive partition) fail. We encode each path segment once, as S3 expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/hash.h"
#include "common/text.h"
#include "lake/lake_int.h"

static const char HEX[] = "0123456789ABCDEF";

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

int lake__uri_encode(struct wr_buf *out, const char *s, size_t len, int keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (unreserved(c) || (keep_slash && c == '/')) {
            rc = wr_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
            rc = wr_buf_append(out, e, 3);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Percent-decodes then strictly encodes [s, s+n) into out. A '%' not followed by two
 * hex digits is taken literally (and so encoded as %25). */
static int reencode(struct wr_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && wr_hexval(s[i + 1]) >= 0 && wr_hexval(s[i + 2]) >= 0) {
            c = (unsigned char)(wr_hexval(s[i + 1]) * 16 + wr_hexval(s[i + 2]));
            i += 2;
        }
        int rc = lake__uri_encode(out, (const char *)&c, 1, 0);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

struct qpair {
    char *name;
    char *value;
};

static int cmp_qpair(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int lake__canonical_query(struct wr_buf *out, const char *query)
{
    if (!query || !*query) {
        return 0;
    }
    size_t np = 1;
    for (const char *q = query; *q; q++) {
        np += *q == '&';
    }
    struct qpair *pairs = calloc(np, sizeof *pairs);
    struct wr_buf tmp;
    wr_buf_init(&tmp, 64 * 1024);
    int rc = 0;
    size_t k = 0;
    if (!pairs) {
        return WR_ENOMEM;
    }
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 0) {
            const char *eq = memchr(p, '=', n);
            size_t nn = eq ? (size_t)(eq - p) : n;
            wr_buf_clear(&tmp);
            if ((rc = reencode(&tmp, p, nn)) != 0) {
                goto out;
            }
            pairs[k].name = strdup(tmp.p ? tmp.p : "");
            wr_buf_clear(&tmp);
            if (eq && (rc = reencode(&tmp, eq + 1, n - nn - 1)) != 0) {
                goto out;
            }
            pairs[k].value = strdup(tmp.p ? tmp.p : "");
            k++;
            if (!pairs[k - 1].name || !pairs[k - 1].value) {
                rc = WR_ENOMEM;
                goto out;
            }
        }
        if (!amp) {
            break;
        }
        p = amp + 1;
    }
    qsort(pairs, k, sizeof *pairs, cmp_qpair);
    for (size_t i = 0; i < k && rc == 0; i++) {
        rc = wr_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
    }
out:
    for (size_t i = 0; i < k; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    wr_buf_free(&tmp);
    return rc;
}

struct chdr {
    char name[64];
    const char *value;
    size_t idx; /* original position, for a stable sort */
};

static int cmp_chdr(const void *a, const void *b)
{
    const struct chdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) {
        return c;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Appends v trimmed, with every run of spaces inside collapsed to one space. */
static int put_trimmed(struct wr_buf *out, const char *v)
{
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ' ' || c == '\t') {
            space = 1;
            continue;
        }
        if (space) {
            int rc = wr_buf_putc(out, ' ');
            if (rc) {
                return rc;
            }
            space = 0;
        }
        int rc = wr_buf_putc(out, c);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

int lake__canonical_request(struct wr_buf *out, const struct lake__sigreq *r,
                            char *signed_headers, size_t cap)
{
    struct chdr h[LAKE__MAX_SIG_HEADERS];
    if (r->nhdrs > LAKE__MAX_SIG_HEADERS) {
        return WR_EINVAL;
    }
    for (size_t i = 0; i < r->nhdrs; i++) {
        size_t n = strlen(r->hdrs[i].name);
        if (n == 0 || n >= sizeof h[i].name) {
            return WR_EINVAL;
        }
        for (size_t j = 0; j <= n; j++) {
            char c = r->hdrs[i].name[j];
            h[i].name[j] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        h[i].value = r->hdrs[i].value;
        h[i].idx = i;
    }
    qsort(h, r->nhdrs, sizeof h[0], cmp_chdr);

    int rc = wr_buf_printf(out, "%s\n", r->method);
    const char *path = (r->path && *r->path) ? r->path : "/";
    if (!rc) {
        rc = lake__uri_encode(out, path, strlen(path), 1);
    }
    if (!rc) {
        rc = wr_buf_putc(out, '\n');
    }
    if (!rc) {
        rc = lake__canonical_query(out, r->query);
    }
    if (!rc) {
        rc = wr_buf_putc(out, '\n');
    }
    /* Canonical headers: one line per distinct name, repeated values comma-joined. */
    for (size_t i = 0; i < r->nhdrs && !rc; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            rc = wr_buf_putc(out, ',');
        } else {
            if (i > 0) {
                rc = wr_buf_putc(out, '\n');
            }
            if (!rc) {
                rc = wr_buf_printf(out, "%s:", h[i].name);
            }
        }
        if (!rc) {
            rc = put_trimmed(out, h[i].value);
        }
    }
    if (!rc && r->nhdrs) {
        rc = wr_buf_putc(out, '\n');
    }
    if (!rc) {
        rc = wr_buf_putc(out, '\n');
    }
    /* Signed headers. */
    size_t sl = 0;
    for (size_t i = 0; i < r->nhdrs && !rc; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            continue;
        }
        rc = wr_buf_printf(out, "%s%s", sl ? ";" : "", h[i].name);
        if (signed_headers && !rc) {
            size_t nl = strlen(h[i].name);
            if (sl + nl + 2 > cap) {
                return WR_ELIMIT;
            }
            if (sl) {
                signed_headers[sl++] = ';';
            }
            memcpy(signed_headers + sl, h[i].name, nl + 1);
            sl += nl;
        } else if (!rc) {
            sl = 1;
        }
    }
    if (signed_headers && cap && sl == 0) {
        signed_headers[0] = '\0';
    }
    if (!rc) {
        rc = wr_buf_printf(out, "\n%s", r->payload_sha256);
    }
    return rc;
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
    unsigned int olen = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &olen);
}

int lake__sigv4_authorization(const struct lake__sigreq *r, const char *access_key,
                              const char *secret_key, const char *region, const char *service,
                              const char *amz_date, char *auth, size_t auth_cap,
                              struct wr_buf *sts_out)
{
    if (strlen(amz_date) != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z') {
        return WR_EINVAL;
    }
    struct wr_buf creq, sts;
    wr_buf_init(&creq, 256 * 1024);
    wr_buf_init(&sts, 4096);
    char signed_headers[1024];
    char date[9];
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    int rc = lake__canonical_request(&creq, r, signed_headers, sizeof signed_headers);
    if (rc == 0) {
        char ch[65];
        wr_sha256_hex(creq.p, creq.len, ch);
        rc = wr_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
                           region, service, ch);
    }
    if (rc == 0) {
        /* kSecret -> kDate -> kRegion -> kService -> kSigning -> signature */
        unsigned char k[32], k2[32];
        struct wr_buf ks;
        wr_buf_init(&ks, 512);
        rc = wr_buf_printf(&ks, "AWS4%s", secret_key);
        if (rc == 0) {
            hmac(ks.p, ks.len, date, strlen(date), k);
            hmac(k, 32, region, strlen(region), k2);
            hmac(k2, 32, service, strlen(service), k);
            hmac(k, 32, "aws4_request", 12, k2);
            hmac(k2, 32, sts.p, sts.len, k);
            char sig[65];
            wr_hex(k, 32, sig);
            int n = snprintf(auth, auth_cap,
                             "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                             "SignedHeaders=%s, Signature=%s",
                             access_key, date, region, service, signed_headers, sig);
            if (n < 0 || (size_t)n >= auth_cap) {
                rc = WR_ELIMIT;
            }
        }
        /* The derived key and the "AWS4"+secret string are secrets; wipe them. */
        OPENSSL_cleanse(k, sizeof k);
        OPENSSL_cleanse(k2, sizeof k2);
        if (ks.p) {
            OPENSSL_cleanse(ks.p, ks.len);
        }
        wr_buf_free(&ks);
    }
    if (rc == 0 && sts_out) {
        rc = wr_buf_append(sts_out, sts.p, sts.len);
    }
    wr_buf_free(&creq);
    wr_buf_free(&sts);
    return rc;
}
