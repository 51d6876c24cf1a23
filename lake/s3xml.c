/* s3xml.c - just enough XML for S3's answers (ListObjectsV2, multipart, <Error>):
 * find an element's text and decode entities. S3 documents are flat and known, so
 * no general parser is needed; the input is bounded by the caller's buffer cap. */
#include <stdio.h>
#include <string.h>

#include "lake/lake_int.h"

static const char *find_mem(const char *h, size_t hl, const char *n, size_t nl)
{
    if (nl == 0 || hl < nl) {
        return NULL;
    }
    for (size_t i = 0; i + nl <= hl; i++) {
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0) {
            return h + i;
        }
    }
    return NULL;
}

int lake__xml_find(const char *p, size_t len, size_t *pos, const char *tag, const char **vp,
                   size_t *vlen)
{
    char open[80], close[80];
    int on = snprintf(open, sizeof open, "<%s>", tag);
    int cn = snprintf(close, sizeof close, "</%s>", tag);
    if (on <= 0 || cn <= 0 || (size_t)cn >= sizeof close || *pos > len) {
        return 0;
    }
    const char *s = find_mem(p + *pos, len - *pos, open, (size_t)on);
    if (!s) {
        return 0;
    }
    s += on;
    const char *e = find_mem(s, (size_t)(p + len - s), close, (size_t)cn);
    if (!e) {
        return 0;
    }
    *vp = s;
    *vlen = (size_t)(e - s);
    *pos = (size_t)(e + cn - p);
    return 1;
}

static int put_utf8(char *out, size_t cap, size_t *o, unsigned long cp)
{
    unsigned char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return WR_EINVAL;
    }
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (*o + n >= cap) {
        return WR_ELIMIT;
    }
    memcpy(out + *o, b, n);
    *o += n;
    return 0;
}

int lake__xml_text(const char *p, size_t len, char *out, size_t cap)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    size_t o = 0;
    if (cap == 0) {
        return WR_ELIMIT;
    }
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '\0') {
            return WR_EINVAL;
        }
        if (c != '&') {
            if (o + 1 >= cap) {
                return WR_ELIMIT;
            }
            out[o++] = c;
            continue;
        }
        const char *rest = p + i + 1;
        size_t rl = len - i - 1;
        int done = 0;
        for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
            size_t nl = strlen(ents[k].name);
            if (rl >= nl && memcmp(rest, ents[k].name, nl) == 0) {
                if (o + 1 >= cap) {
                    return WR_ELIMIT;
                }
                out[o++] = ents[k].c;
                i += nl;
                done = 1;
                break;
            }
        }
        if (done) {
            continue;
        }
        if (rl >= 3 && rest[0] == '#') {
            /* &#NNN; or &#xHHH; */
            int hex = rest[1] == 'x' || rest[1] == 'X';
            size_t j = hex ? 2 : 1;
            unsigned long cp = 0;
            size_t digits = 0;
            while (j < rl && rest[j] != ';' && digits < 8) {
                char d = rest[j];
                int v = (d >= '0' && d <= '9')                ? d - '0'
                        : (hex && d >= 'a' && d <= 'f')       ? d - 'a' + 10
                        : (hex && d >= 'A' && d <= 'F')       ? d - 'A' + 10
                                                              : -1;
                if (v < 0) {
                    return WR_EINVAL;
                }
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                j++;
                digits++;
            }
            if (j >= rl || rest[j] != ';' || digits == 0) {
                return WR_EINVAL;
            }
            int rc = put_utf8(out, cap, &o, cp);
            if (rc != 0) {
                return rc;
            }
            i += j + 1;
            continue;
        }
        return WR_EINVAL;
    }
    out[o] = '\0';
    return 0;
}

int lake__xml_escape(struct wr_buf *out, const char *s)
{
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            break;
        }
        int rc = rep ? wr_buf_append(out, rep, strlen(rep)) : wr_buf_putc(out, *s);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
