/* text.c - UTF-8 decoding and hex behind text.h. */
#include "text.h"

bool wr_utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
    unsigned c = s[*i];
    size_t need;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        (*i)++;
        return true;
    } else if ((c & 0xE0) == 0xC0) {
        need = 1, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        need = 3, v = c & 0x07, min = 0x10000;
    } else {
        return false;
    }
    if (len - *i <= need) {
        return false;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned cc = s[*i + k];
        if ((cc & 0xC0) != 0x80) {
            return false;
        }
        v = (v << 6) | (cc & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return false;
    }
    *i += need + 1;
    *cp = v;
    return true;
}

size_t wr_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }
    size_t n = max;
    for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80; k++) {
        n--;
    }
    return n;
}

bool wr_utf8_valid(const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
        } else if (!wr_utf8_next(s, len, &i, &cp)) {
            return false;
        }
    }
    return true;
}

int wr_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

void wr_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int wr_unhex(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int h = wr_hexval((unsigned char)s[2 * i]), l = wr_hexval((unsigned char)s[2 * i + 1]);
        if (h < 0 || l < 0) {
            return -1;
        }
        out[i] = (unsigned char)(h << 4 | l);
    }
    return 0;
}
