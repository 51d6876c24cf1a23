/* format.c - the `format` keyword's checks: dates and times (RFC 3339), durations,
 * e-mail, host names (with IDNA2008 rules), IP addresses, URIs/IRIs, URI templates,
 * UUIDs, regexes and JSON pointers. Pure functions over bytes, thread-safe. */
#include "common/text.h"
#include "validator/format.h"

#include "validator/regex.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* ---- names ---- */

static const char *const FMT_NAMES[] = {
    [VAL__FMT_UNKNOWN] = "",
    [VAL__FMT_DATE_TIME] = "date-time",
    [VAL__FMT_DATE] = "date",
    [VAL__FMT_TIME] = "time",
    [VAL__FMT_DURATION] = "duration",
    [VAL__FMT_EMAIL] = "email",
    [VAL__FMT_IDN_EMAIL] = "idn-email",
    [VAL__FMT_HOSTNAME] = "hostname",
    [VAL__FMT_IDN_HOSTNAME] = "idn-hostname",
    [VAL__FMT_IPV4] = "ipv4",
    [VAL__FMT_IPV6] = "ipv6",
    [VAL__FMT_URI] = "uri",
    [VAL__FMT_URI_REFERENCE] = "uri-reference",
    [VAL__FMT_IRI] = "iri",
    [VAL__FMT_IRI_REFERENCE] = "iri-reference",
    [VAL__FMT_URI_TEMPLATE] = "uri-template",
    [VAL__FMT_UUID] = "uuid",
    [VAL__FMT_REGEX] = "regex",
    [VAL__FMT_JSON_POINTER] = "json-pointer",
    [VAL__FMT_RELATIVE_JSON_POINTER] = "relative-json-pointer",
};

#define FMT_COUNT ((int)(sizeof FMT_NAMES / sizeof FMT_NAMES[0]))

enum val__fmt val__fmt_lookup(const char *name, size_t len)
{
    if (!name) {
        return VAL__FMT_UNKNOWN;
    }
    for (int f = 1; f < FMT_COUNT; f++) {
        if (strlen(FMT_NAMES[f]) == len && memcmp(FMT_NAMES[f], name, len) == 0) {
            return (enum val__fmt)f;
        }
    }
    return VAL__FMT_UNKNOWN;
}

const char *val__fmt_name(enum val__fmt f)
{
    if ((int)f <= 0 || (int)f >= FMT_COUNT) {
        return "";
    }
    return FMT_NAMES[f];
}

/* ---- small helpers ---- */

typedef const unsigned char *bytes;

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Reads exactly n ASCII digits at s[*i] as a number. */
static bool digits(bytes s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    if (len - *i < (size_t)n) {
        return false;
    }
    for (int k = 0; k < n; k++) {
        if (!is_digit(s[*i + (size_t)k])) {
            return false;
        }
        v = v * 10 + (s[*i + (size_t)k] - '0');
    }
    *i += (size_t)n;
    *out = v;
    return true;
}

static bool expect(bytes s, size_t len, size_t *i, int c)
{
    if (*i < len && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

static size_t utf8_put(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- dates and times (RFC 3339 section 5.6) ---- */

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && is_leap(y)) ? 29 : days[m - 1];
}

static bool full_date(bytes s, size_t len, size_t *i)
{
    int y, m, d;
    if (!digits(s, len, i, 4, &y) || !expect(s, len, i, '-') || !digits(s, len, i, 2, &m) ||
        !expect(s, len, i, '-') || !digits(s, len, i, 2, &d)) {
        return false;
    }
    return m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m);
}

/* full-time = partial-time time-offset. A leap second (:60) is valid only when the
 * time converted to UTC is 23:59:60. */
static bool full_time(bytes s, size_t len, size_t *i)
{
    int h, m, sec;
    if (!digits(s, len, i, 2, &h) || !expect(s, len, i, ':') || !digits(s, len, i, 2, &m) ||
        !expect(s, len, i, ':') || !digits(s, len, i, 2, &sec)) {
        return false;
    }
    if (h > 23 || m > 59 || sec > 60) {
        return false;
    }
    if (*i < len && s[*i] == '.') {
        (*i)++;
        size_t start = *i;
        while (*i < len && is_digit(s[*i])) {
            (*i)++;
        }
        if (*i == start) {
            return false;
        }
    }
    if (*i >= len) {
        return false;
    }
    int off_min = 0;
    if (s[*i] == 'Z' || s[*i] == 'z') {
        (*i)++;
    } else if (s[*i] == '+' || s[*i] == '-') {
        int sign = s[*i] == '+' ? 1 : -1, oh, om;
        (*i)++;
        if (!digits(s, len, i, 2, &oh) || !expect(s, len, i, ':') || !digits(s, len, i, 2, &om)) {
            return false;
        }
        if (oh > 23 || om > 59) {
            return false;
        }
        off_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (sec == 60) {
        int utc = ((h * 60 + m - off_min) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59) {
            return false;
        }
    }
    return true;
}

static bool check_date_time(bytes s, size_t len)
{
    size_t i = 0;
    if (!full_date(s, len, &i) || i >= len || (s[i] != 'T' && s[i] != 't')) {
        return false;
    }
    i++;
    return full_time(s, len, &i) && i == len;
}

static bool check_date(bytes s, size_t len)
{
    size_t i = 0;
    return full_date(s, len, &i) && i == len;
}

static bool check_time(bytes s, size_t len)
{
    size_t i = 0;
    return full_time(s, len, &i) && i == len;
}

/* RFC 3339 appendix A: P (dur-date / dur-time / dur-week); each part's units in order,
 * with the ABNF's adjacency rules (Y[M[D]], M[D], D; H[M[S]], M[S], S). */
static bool check_duration(bytes s, size_t len)
{
    size_t i = 0;
    if (!expect(s, len, &i, 'P') || i == len) {
        return false;
    }
    static const char date_units[] = "YMD", time_units[] = "HMS";
    bool in_time = false, any = false, week = false;
    int last = -1; /* index of the last unit in the current part */
    while (i < len) {
        if (s[i] == 'T') {
            if (in_time || week) {
                return false;
            }
            in_time = true;
            last = -1;
            i++;
            if (i == len) {
                return false; /* "T" needs at least one element */
            }
            continue;
        }
        size_t start = i;
        while (i < len && is_digit(s[i])) {
            i++;
        }
        if (i == start || i == len) {
            return false;
        }
        int unit = s[i++];
        if (!in_time && unit == 'W') {
            if (any || i != len) {
                return false; /* weeks stand alone */
            }
            week = true;
            any = true;
            continue;
        }
        const char *units = in_time ? time_units : date_units;
        const char *u = strchr(units, unit);
        if (!u || unit == 0) {
            return false;
        }
        int idx = (int)(u - units);
        /* Units must be consecutive: no gap after the first one in the part. */
        if (last >= 0 && idx != last + 1) {
            return false;
        }
        last = idx;
        any = true;
    }
    return any;
}

/* ---- IP addresses ---- */

/* dec-octet "." x4, no leading zeros; advances *i. */
static bool ipv4_at(bytes s, size_t len, size_t *i)
{
    for (int part = 0; part < 4; part++) {
        if (part > 0 && !expect(s, len, i, '.')) {
            return false;
        }
        size_t start = *i;
        int v = 0;
        while (*i < len && is_digit(s[*i]) && *i - start < 3) {
            v = v * 10 + (s[*i] - '0');
            (*i)++;
        }
        size_t n = *i - start;
        if (n == 0 || v > 255 || (n > 1 && s[start] == '0')) {
            return false;
        }
        if (*i < len && is_digit(s[*i])) {
            return false;
        }
    }
    return true;
}

static bool check_ipv4(bytes s, size_t len)
{
    size_t i = 0;
    return ipv4_at(s, len, &i) && i == len;
}

/* RFC 4291 text form, with an optional trailing dotted quad; no zone id. */
static bool check_ipv6(bytes s, size_t len)
{
    size_t i = 0;
    int groups = 0;
    bool dbl = false;
    if (len < 2) {
        return false;
    }
    if (s[0] == ':') {
        if (s[1] != ':') {
            return false;
        }
        dbl = true;
        i = 2;
        if (i == len) {
            return true;
        }
    }
    for (;;) {
        /* At the start of a group. */
        size_t start = i;
        while (i < len && is_hex(s[i]) && i - start < 5) {
            i++;
        }
        size_t n = i - start;
        if (i < len && s[i] == '.') {
            /* An embedded IPv4 takes the place of the last two groups. */
            i = start;
            if (!ipv4_at(s, len, &i) || i != len) {
                return false;
            }
            groups += 2;
            break;
        }
        if (n == 0 || n > 4) {
            return false;
        }
        groups++;
        if (i == len) {
            break;
        }
        if (s[i] != ':') {
            return false;
        }
        i++;
        if (i < len && s[i] == ':') {
            if (dbl) {
                return false;
            }
            dbl = true;
            i++;
            if (i == len) {
                break;
            }
        } else if (i == len) {
            return false; /* a single trailing colon */
        }
        if (groups > 8) {
            return false;
        }
    }
    return dbl ? groups <= 7 : groups == 8;
}

/* ---- host names and IDNA2008 ---- */

/* Unicode properties come from PCRE2's tables through small native patterns, compiled
 * once for the process. */
enum prop {
    P_MARK,      /* General_Category M */
    P_PVALID,    /* our approximation of IDNA2008 PVALID plus the CONTEXT code points */
    P_GREEK,
    P_HEBREW,
    P_HKH,       /* Hiragana, Katakana or Han script */
    P_VIRAMA,    /* canonical combining class 9 */
    P_JOIN_LD,   /* joining type L or D (approximation: letters of joining scripts) */
    P_JOIN_R,    /* joining type R or D (approximation, as above) */
    P_JOIN_T,    /* joining type T (approximation: Mn, Me, Cf) */
    P_BIDI_L,
    P_BIDI_R_AL, /* R or AL */
    P_BIDI_AN,
    P_BIDI_EN,
    P_BIDI_RTL_OK,  /* R AL AN EN ES CS ET ON BN NSM */
    P_BIDI_LTR_OK,  /* L EN ES CS ET ON BN NSM */
    P_BIDI_NSM,
    P_COUNT
};

static const char *const PROP_PATTERNS[P_COUNT] = {
    [P_MARK] = "^\\p{M}$",
    /* Letters, marks and digits, less RFC 5892's DISALLOWED exceptions and a curated list
     * of code points that NFKC or case folding would change (compatibility forms, modifier
     * letters, presentation forms, default ignorables), which IDNA2008 also disallows. */
    [P_PVALID] = "^(?![\\x{640}\\x{7fa}\\x{302e}\\x{302f}\\x{3031}-\\x{3035}\\x{303b}"
                 "\\x{aa}\\x{b5}\\x{ba}\\x{132}\\x{133}\\x{13f}\\x{140}\\x{149}\\x{17f}"
                 "\\x{1c4}-\\x{1cc}\\x{1f1}-\\x{1f3}\\x{2b0}-\\x{2b8}\\x{2e0}-\\x{2e4}"
                 "\\x{340}\\x{341}\\x{343}\\x{344}\\x{37a}\\x{3d0}-\\x{3d2}\\x{3d5}\\x{3d6}"
                 "\\x{3f0}-\\x{3f2}\\x{3f5}\\x{587}\\x{675}-\\x{678}\\x{e33}\\x{eb3}"
                 "\\x{edc}\\x{edd}\\x{10fc}\\x{115f}\\x{1160}\\x{13f8}-\\x{13fd}"
                 "\\x{17b4}\\x{17b5}\\x{180b}-\\x{180f}\\x{1d2c}-\\x{1d6a}\\x{1d78}"
                 "\\x{1d9b}-\\x{1dbf}\\x{1e9a}\\x{1e9b}\\x{2070}-\\x{209f}\\x{2100}-\\x{214d}"
                 "\\x{2c7c}\\x{2c7d}\\x{2d6f}\\x{309f}\\x{30ff}\\x{3131}-\\x{318e}"
                 "\\x{3192}-\\x{319f}\\x{3164}\\x{a69c}\\x{a69d}\\x{a770}\\x{a7f8}\\x{a7f9}"
                 "\\x{ab5c}-\\x{ab5f}\\x{ab69}\\x{ab70}-\\x{abbf}\\x{f900}-\\x{fa0d}\\x{fa10}"
                 "\\x{fa12}\\x{fa15}-\\x{fa1e}\\x{fa20}\\x{fa22}\\x{fa25}\\x{fa26}"
                 "\\x{fa2a}-\\x{faff}\\x{fb00}-\\x{fb1d}\\x{fb1f}-\\x{fdff}\\x{fe00}-\\x{fe0f}"
                 "\\x{fe70}-\\x{feff}\\x{ff00}-\\x{ffef}\\x{1d400}-\\x{1d7ff}"
                 "\\x{1ee00}-\\x{1eeff}\\x{1f100}-\\x{1f1ff}\\x{2f800}-\\x{2fa1f}"
                 "\\x{e0100}-\\x{e01ef}])"
                 "[\\p{Ll}\\p{Lo}\\p{Lm}\\p{Mn}\\p{Mc}\\p{Nd}a-z0-9\\-"
                 "\\x{df}\\x{3c2}\\x{6fd}\\x{6fe}\\x{f0b}\\x{3007}"
                 "\\x{b7}\\x{375}\\x{5f3}\\x{5f4}\\x{30fb}\\x{200c}\\x{200d}]$",
    [P_GREEK] = "^\\p{sc:Greek}$",
    [P_HEBREW] = "^\\p{sc:Hebrew}$",
    [P_HKH] = "^[\\p{sc:Hiragana}\\p{sc:Katakana}\\p{sc:Han}]$",
    [P_VIRAMA] = "^[\\x{94d}\\x{9cd}\\x{a4d}\\x{acd}\\x{b4d}\\x{bcd}\\x{c4d}\\x{ccd}"
                 "\\x{d3b}\\x{d3c}\\x{d4d}\\x{dca}\\x{e3a}\\x{eba}\\x{f84}\\x{1039}\\x{103a}"
                 "\\x{1714}\\x{1715}\\x{1734}\\x{17d2}\\x{1a60}\\x{1b44}\\x{1baa}\\x{1bab}"
                 "\\x{1bf2}\\x{1bf3}\\x{2d7f}\\x{a806}\\x{a82c}\\x{a8c4}\\x{a953}\\x{a9c0}"
                 "\\x{aaf6}\\x{abed}\\x{10a3f}\\x{11046}\\x{11070}\\x{1107f}\\x{110b9}"
                 "\\x{11133}\\x{11134}\\x{111c0}\\x{11235}\\x{112ea}\\x{1134d}\\x{11442}"
                 "\\x{114c2}\\x{115bf}\\x{1163f}\\x{116b6}\\x{1172b}\\x{11839}\\x{1193d}"
                 "\\x{1193e}\\x{119e0}\\x{11a34}\\x{11a47}\\x{11a99}\\x{11c3f}\\x{11d44}"
                 "\\x{11d45}\\x{11d97}]$",
    [P_JOIN_LD] = "^(?=\\p{L})[\\p{sc:Arabic}\\p{sc:Syriac}\\p{sc:Nko}\\p{sc:Mongolian}"
                  "\\p{sc:Mandaic}\\p{sc:Manichaean}\\p{sc:Psalter_Pahlavi}"
                  "\\p{sc:Phags_Pa}\\p{sc:Adlam}\\p{sc:Hanifi_Rohingya}\\p{sc:Sogdian}]$",
    [P_JOIN_R] = "^(?=\\p{L})[\\p{sc:Arabic}\\p{sc:Syriac}\\p{sc:Nko}\\p{sc:Mongolian}"
                 "\\p{sc:Mandaic}\\p{sc:Manichaean}\\p{sc:Psalter_Pahlavi}"
                 "\\p{sc:Phags_Pa}\\p{sc:Adlam}\\p{sc:Hanifi_Rohingya}\\p{sc:Sogdian}]$",
    [P_JOIN_T] = "^[\\p{Mn}\\p{Me}\\p{Cf}]$",
    [P_BIDI_L] = "^\\p{bc:L}$",
    [P_BIDI_R_AL] = "^[\\p{bc:R}\\p{bc:AL}]$",
    [P_BIDI_AN] = "^\\p{bc:AN}$",
    [P_BIDI_EN] = "^\\p{bc:EN}$",
    [P_BIDI_RTL_OK] = "^[\\p{bc:R}\\p{bc:AL}\\p{bc:AN}\\p{bc:EN}\\p{bc:ES}\\p{bc:CS}"
                      "\\p{bc:ET}\\p{bc:ON}\\p{bc:BN}\\p{bc:NSM}]$",
    [P_BIDI_LTR_OK] = "^[\\p{bc:L}\\p{bc:EN}\\p{bc:ES}\\p{bc:CS}\\p{bc:ET}\\p{bc:ON}"
                      "\\p{bc:BN}\\p{bc:NSM}]$",
    [P_BIDI_NSM] = "^\\p{bc:NSM}$",
};

static val__regex *prop_re[P_COUNT];
static bool prop_ok;
static pthread_once_t prop_once = PTHREAD_ONCE_INIT;

static void prop_init(void)
{
    bool ok = true;
    for (int p = 0; p < P_COUNT; p++) {
        struct wr_err err;
        prop_re[p] = val__regex_compile_pcre2(PROP_PATTERNS[p], strlen(PROP_PATTERNS[p]), &err);
        if (!prop_re[p]) {
            ok = false;
        }
    }
    prop_ok = ok;
}

/* Whether cp has property p; false when the tables could not be built. */
static bool has(enum prop p, uint32_t cp)
{
    unsigned char buf[4];
    size_t n = utf8_put(cp, buf);
    return val__regex_search(prop_re[p], (const char *)buf, n) == 1;
}

#define LABEL_MAX_CPS 64

/* Punycode (RFC 3492) parameters. */
enum { PY_BASE = 36, PY_TMIN = 1, PY_TMAX = 26, PY_SKEW = 38, PY_DAMP = 700 };

static uint32_t py_adapt(uint32_t delta, uint32_t numpoints, bool first)
{
    delta = first ? delta / PY_DAMP : delta / 2;
    delta += delta / numpoints;
    uint32_t k = 0;
    while (delta > ((PY_BASE - PY_TMIN) * PY_TMAX) / 2) {
        delta /= PY_BASE - PY_TMIN;
        k += PY_BASE;
    }
    return k + (PY_BASE - PY_TMIN + 1) * delta / (delta + PY_SKEW);
}

static int py_digit_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0' + 26;
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    return -1;
}

static char py_digit_char(uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/* Decodes the Punycode in s (after "xn--") into out; false when malformed. */
static bool py_decode(bytes s, size_t len, uint32_t *out, size_t *out_n, size_t cap)
{
    size_t b = 0, n_out = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] == '-') {
            b = k;
        }
    }
    bool has_delim = memchr(s, '-', len) != NULL;
    if (has_delim) {
        if (b > cap) {
            return false;
        }
        for (size_t k = 0; k < b; k++) {
            if (s[k] >= 0x80) {
                return false;
            }
            out[n_out++] = s[k];
        }
    }
    uint32_t n = 128, bias = 72, i = 0;
    size_t in = has_delim ? b + 1 : 0;
    while (in < len) {
        uint32_t oldi = i, w = 1;
        for (uint32_t k = PY_BASE;; k += PY_BASE) {
            if (in >= len) {
                return false;
            }
            int d = py_digit_value(s[in++]);
            if (d < 0) {
                return false;
            }
            if ((uint32_t)d > (UINT32_MAX - i) / w) {
                return false;
            }
            i += (uint32_t)d * w;
            uint32_t t = k <= bias ? PY_TMIN : (k >= bias + PY_TMAX ? PY_TMAX : k - bias);
            if ((uint32_t)d < t) {
                break;
            }
            if (w > UINT32_MAX / (PY_BASE - t)) {
                return false;
            }
            w *= PY_BASE - t;
        }
        bias = py_adapt(i - oldi, (uint32_t)n_out + 1, oldi == 0);
        if (i / (n_out + 1) > 0x10FFFF - n) {
            return false;
        }
        n += i / (uint32_t)(n_out + 1);
        i %= (uint32_t)(n_out + 1);
        if (n_out >= cap || n < 0x80 || (n >= 0xD800 && n <= 0xDFFF)) {
            return false;
        }
        memmove(out + i + 1, out + i, (n_out - i) * sizeof *out);
        out[i++] = n;
        n_out++;
    }
    *out_n = n_out;
    return true;
}

/* Encodes cps as Punycode into o (cap bytes); returns the length or 0 on overflow. */
static size_t py_encode(const uint32_t *cps, size_t n_cps, char *o, size_t cap)
{
    size_t olen = 0, b = 0;
    for (size_t k = 0; k < n_cps; k++) {
        if (cps[k] < 0x80) {
            if (olen >= cap) {
                return 0;
            }
            o[olen++] = (char)lower((int)cps[k]);
            b++;
        }
    }
    size_t h = b;
    if (b > 0) {
        if (olen >= cap) {
            return 0;
        }
        o[olen++] = '-';
    }
    uint32_t n = 128, bias = 72, delta = 0;
    while (h < n_cps) {
        uint32_t m = UINT32_MAX;
        for (size_t k = 0; k < n_cps; k++) {
            if (cps[k] >= n && cps[k] < m) {
                m = cps[k];
            }
        }
        delta += (m - n) * (uint32_t)(h + 1);
        n = m;
        for (size_t k = 0; k < n_cps; k++) {
            if (cps[k] < n) {
                delta++;
            }
            if (cps[k] == n) {
                uint32_t q = delta;
                for (uint32_t kk = PY_BASE;; kk += PY_BASE) {
                    uint32_t t = kk <= bias ? PY_TMIN
                                            : (kk >= bias + PY_TMAX ? PY_TMAX : kk - bias);
                    if (q < t) {
                        break;
                    }
                    if (olen >= cap) {
                        return 0;
                    }
                    o[olen++] = py_digit_char(t + (q - t) % (PY_BASE - t));
                    q = (q - t) / (PY_BASE - t);
                }
                if (olen >= cap) {
                    return 0;
                }
                o[olen++] = py_digit_char(q);
                bias = py_adapt(delta, (uint32_t)h + 1, h == b);
                delta = 0;
                h++;
            }
        }
        delta++;
        n++;
    }
    return olen;
}

/* RFC 5892 appendix A contextual rules, RFC 5891 5.4 and our PVALID approximation for
 * one U-label of n code points. */
static bool ulabel_ok(const uint32_t *c, size_t n)
{
    if (n == 0 || c[0] == '-' || c[n - 1] == '-' || (n >= 4 && c[2] == '-' && c[3] == '-')) {
        return false;
    }
    if (has(P_MARK, c[0])) {
        return false;
    }
    bool arabic_indic = false, ext_arabic_indic = false, katakana_dot = false, hkh = false;
    for (size_t k = 0; k < n; k++) {
        uint32_t cp = c[k];
        if (cp < 0x80) {
            if (!(is_alpha((int)cp) || is_digit((int)cp) || cp == '-')) {
                return false;
            }
            continue;
        }
        if (!has(P_PVALID, cp)) {
            return false;
        }
        if (has(P_HKH, cp)) {
            hkh = true;
        }
        switch (cp) {
        case 0x00B7:
            if (k == 0 || k + 1 >= n || c[k - 1] != 'l' || c[k + 1] != 'l') {
                return false;
            }
            break;
        case 0x0375:
            if (k + 1 >= n || !has(P_GREEK, c[k + 1])) {
                return false;
            }
            break;
        case 0x05F3:
        case 0x05F4:
            if (k == 0 || !has(P_HEBREW, c[k - 1])) {
                return false;
            }
            break;
        case 0x30FB:
            katakana_dot = true;
            break;
        case 0x200D:
            if (k == 0 || !has(P_VIRAMA, c[k - 1])) {
                return false;
            }
            break;
        case 0x200C:
            if (k > 0 && has(P_VIRAMA, c[k - 1])) {
                break;
            }
            {
                /* (Joining_Type:{L,D}) (Joining_Type:T)* ZWNJ (Joining_Type:T)*
                 * (Joining_Type:{R,D}) */
                size_t a = k;
                while (a > 0 && has(P_JOIN_T, c[a - 1])) {
                    a--;
                }
                if (a == 0 || !has(P_JOIN_LD, c[a - 1])) {
                    return false;
                }
                size_t z = k + 1;
                while (z < n && has(P_JOIN_T, c[z])) {
                    z++;
                }
                if (z >= n || !has(P_JOIN_R, c[z])) {
                    return false;
                }
            }
            break;
        default:
            if (cp >= 0x0660 && cp <= 0x0669) {
                arabic_indic = true;
            } else if (cp >= 0x06F0 && cp <= 0x06F9) {
                ext_arabic_indic = true;
            }
            break;
        }
    }
    if (arabic_indic && ext_arabic_indic) {
        return false;
    }
    if (katakana_dot && !hkh) {
        return false;
    }
    return true;
}

/* RFC 5893 section 2: the Bidi rule for one label of a Bidi domain name. */
static bool bidi_label_ok(const uint32_t *c, size_t n)
{
    if (n == 0) {
        return false;
    }
    size_t last = n;
    while (last > 0 && has(P_BIDI_NSM, c[last - 1])) {
        last--;
    }
    if (last == 0) {
        return false;
    }
    if (has(P_BIDI_R_AL, c[0])) {
        bool en = false, an = false;
        for (size_t k = 0; k < n; k++) {
            if (!has(P_BIDI_RTL_OK, c[k])) {
                return false;
            }
            en = en || has(P_BIDI_EN, c[k]);
            an = an || has(P_BIDI_AN, c[k]);
        }
        uint32_t e = c[last - 1];
        if (!(has(P_BIDI_R_AL, e) || has(P_BIDI_EN, e) || has(P_BIDI_AN, e))) {
            return false;
        }
        return !(en && an);
    }
    if (has(P_BIDI_L, c[0])) {
        for (size_t k = 0; k < n; k++) {
            if (!has(P_BIDI_LTR_OK, c[k])) {
                return false;
            }
        }
        uint32_t e = c[last - 1];
        return has(P_BIDI_L, e) || has(P_BIDI_EN, e);
    }
    return false;
}

static bool label_is_rtl(const uint32_t *c, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (c[k] >= 0x80 && (has(P_BIDI_R_AL, c[k]) || has(P_BIDI_AN, c[k]))) {
            return true;
        }
    }
    return false;
}

/* Host names: ASCII labels (LDH) or, when idn, U-labels too. A-labels ("xn--") must
 * decode to a valid U-label that re-encodes to themselves. Separators for idn are
 * . U+3002 U+FF0E U+FF61. Two passes: labels first, then the Bidi rule if any label
 * is right-to-left (it applies to every label then). */
static bool check_host(bytes s, size_t len, bool idn)
{
    if (len == 0) {
        return false;
    }
    if (!idn && len > 253) {
        return false;
    }
    pthread_once(&prop_once, prop_init);
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 0, total = 0;
        bool rtl = false;
        for (;;) {
            /* One label: collect its code points. */
            uint32_t cps[LABEL_MAX_CPS];
            size_t n = 0, start = i, bytes_len = 0;
            bool ascii = true, sep = false;
            while (i < len) {
                size_t at = i;
                uint32_t cp;
                if (!wr_utf8_next(s, len, &i, &cp)) {
                    return false;
                }
                if (cp == '.' || (idn && (cp == 0x3002 || cp == 0xFF0E || cp == 0xFF61))) {
                    sep = true;
                    break;
                }
                if (cp >= 0x80) {
                    if (!idn) {
                        return false;
                    }
                    ascii = false;
                }
                if (n >= LABEL_MAX_CPS) {
                    return false;
                }
                cps[n++] = cp;
                bytes_len = i - start;
                (void)at;
            }
            if (n == 0) {
                return false; /* empty label: leading, trailing or doubled dot */
            }
            size_t alen; /* the label's length in its ASCII (A-label) form */
            if (ascii) {
                if (bytes_len > 63) {
                    return false;
                }
                for (size_t k = 0; k < n; k++) {
                    if (!(is_alpha((int)cps[k]) || is_digit((int)cps[k]) || cps[k] == '-')) {
                        return false;
                    }
                }
                if (cps[0] == '-' || cps[n - 1] == '-') {
                    return false;
                }
                alen = n;
                if (n >= 4 && lower((int)cps[0]) == 'x' && lower((int)cps[1]) == 'n' &&
                    cps[2] == '-' && cps[3] == '-') {
                    uint32_t u[LABEL_MAX_CPS];
                    size_t un = 0;
                    unsigned char a[LABEL_MAX_CPS];
                    for (size_t k = 0; k < n; k++) {
                        a[k] = (unsigned char)cps[k];
                    }
                    if (!py_decode(a + 4, n - 4, u, &un, LABEL_MAX_CPS)) {
                        return false;
                    }
                    bool non_ascii = false;
                    for (size_t k = 0; k < un; k++) {
                        non_ascii = non_ascii || u[k] >= 0x80;
                    }
                    char re[LABEL_MAX_CPS + 8];
                    size_t rl = py_encode(u, un, re, sizeof re);
                    if (!non_ascii || rl != n - 4) {
                        return false;
                    }
                    for (size_t k = 0; k < rl; k++) {
                        if ((unsigned char)re[k] != lower(a[4 + k])) {
                            return false;
                        }
                    }
                    if (!ulabel_ok(u, un)) {
                        return false;
                    }
                    if (pass == 0) {
                        rtl = rtl || label_is_rtl(u, un);
                    } else if (!bidi_label_ok(u, un)) {
                        return false;
                    }
                } else if (pass == 1 && !bidi_label_ok(cps, n)) {
                    return false;
                }
            } else {
                if (!ulabel_ok(cps, n)) {
                    return false;
                }
                char enc[80];
                size_t el = py_encode(cps, n, enc, sizeof enc);
                if (el == 0 || el + 4 > 63) {
                    return false;
                }
                alen = el + 4;
                if (pass == 0) {
                    rtl = rtl || label_is_rtl(cps, n);
                } else if (!bidi_label_ok(cps, n)) {
                    return false;
                }
            }
            total += alen + (sep ? 1 : 0);
            if (!sep) {
                break;
            }
            if (i >= len) {
                return false; /* trailing separator */
            }
        }
        if (total > 253) {
            return false;
        }
        if (pass == 0 && !rtl) {
            return true;
        }
    }
    return true;
}

/* ---- e-mail (RFC 5321 Mailbox; RFC 6531 for idn-email) ---- */

static bool is_atext(int c)
{
    return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool check_email(bytes s, size_t len, bool idn)
{
    size_t i = 0;
    if (len == 0) {
        return false;
    }
    if (s[0] == '"') {
        i = 1;
        for (;;) {
            if (i >= len) {
                return false;
            }
            unsigned c = s[i];
            if (c == '"') {
                i++;
                break;
            }
            if (c == '\\') {
                if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126) {
                    return false;
                }
                i += 2;
            } else if (c >= 0x80) {
                uint32_t cp;
                if (!idn || !wr_utf8_next(s, len, &i, &cp)) {
                    return false;
                }
            } else if (c >= 32 && c <= 126) {
                i++;
            } else {
                return false;
            }
        }
    } else {
        bool need_atom = true;
        while (i < len && s[i] != '@') {
            unsigned c = s[i];
            if (c == '.') {
                if (need_atom) {
                    return false;
                }
                need_atom = true;
                i++;
                continue;
            }
            if (c >= 0x80) {
                uint32_t cp;
                if (!idn || !wr_utf8_next(s, len, &i, &cp)) {
                    return false;
                }
            } else if (is_atext((int)c)) {
                i++;
            } else {
                return false;
            }
            need_atom = false;
        }
        if (need_atom) {
            return false;
        }
    }
    if (i > 64 || i >= len || s[i] != '@') {
        return false;
    }
    bytes d = s + i + 1;
    size_t dl = len - i - 1;
    if (dl == 0) {
        return false;
    }
    if (d[0] == '[') {
        if (d[dl - 1] != ']') {
            return false;
        }
        bytes lit = d + 1;
        size_t ll = dl - 2;
        if (ll > 5 && memcmp(lit, "IPv6:", 5) == 0) {
            return check_ipv6(lit + 5, ll - 5);
        }
        return check_ipv4(lit, ll);
    }
    return check_host(d, dl, idn);
}

/* ---- URIs and IRIs (RFC 3986, RFC 3987) ---- */

static bool is_unreserved(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(int c)
{
    return c != 0 && strchr("!$&'()*+,;=", c) != NULL;
}

static bool is_ucschar(uint32_t cp)
{
    if ((cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xF900 && cp <= 0xFDCF) ||
        (cp >= 0xFDF0 && cp <= 0xFFEF)) {
        return true;
    }
    if (cp >= 0x10000 && cp <= 0xEFFFD) {
        return (cp & 0xFFFF) <= 0xFFFD && !(cp >= 0xE0000 && cp < 0xE1000);
    }
    return false;
}

static bool is_iprivate(uint32_t cp)
{
    return (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xF0000 && cp <= 0xFFFFD) ||
           (cp >= 0x100000 && cp <= 0x10FFFD);
}

enum { U_PCHAR = 1, U_SLASH = 2, U_QUERY = 4, U_USERINFO = 8, U_REGNAME = 16, U_PRIVATE = 32 };

/* For each ASCII byte, the classes (U_* bits) in which uri_run accepts it, U_ALWAYS for
 * every class: one load per character instead of the predicates' compare chains (a URI
 * is checked per event). Built from the predicates themselves, so it cannot disagree. */
enum { U_ALWAYS = 64 };
static unsigned char uri_ascii[128];
static pthread_once_t uri_ascii_once = PTHREAD_ONCE_INIT;

static void uri_ascii_init(void)
{
    for (int c = 1; c < 128; c++) {
        unsigned char m = 0;
        if (is_unreserved(c) || is_sub_delim(c)) {
            m = U_ALWAYS;
        } else if (c == ':') {
            m = U_PCHAR | U_USERINFO;
        } else if (c == '@') {
            m = U_PCHAR;
        } else if (c == '/') {
            m = U_SLASH | U_QUERY;
        } else if (c == '?') {
            m = U_QUERY;
        }
        uri_ascii[c] = m;
    }
}

/* Consumes characters of the given class at s[*i]; stops at the first one outside it.
 * Returns false on a malformed percent-escape or bad UTF-8. */
static bool uri_run(bytes s, size_t len, size_t *i, int cls, bool iri)
{
    pthread_once(&uri_ascii_once, uri_ascii_init);
    const unsigned accept = (unsigned)cls | U_ALWAYS;
    while (*i < len) {
        unsigned c = s[*i];
        if (c == '%') {
            if (len - *i < 3 || !is_hex(s[*i + 1]) || !is_hex(s[*i + 2])) {
                return false;
            }
            *i += 3;
            continue;
        }
        if (c >= 0x80) {
            if (!iri) {
                return true;
            }
            size_t save = *i;
            uint32_t cp;
            if (!wr_utf8_next(s, len, i, &cp)) {
                return false;
            }
            if (!(is_ucschar(cp) || ((cls & U_PRIVATE) && is_iprivate(cp)))) {
                *i = save;
                return true;
            }
            continue;
        }
        if (!(uri_ascii[c] & accept)) {
            return true;
        }
        (*i)++;
    }
    return true;
}

/* The host inside an authority: IP-literal, IPv4 or reg-name (the latter covers it). */
static bool uri_host(bytes s, size_t len, bool iri)
{
    if (len > 0 && s[0] == '[') {
        if (len < 2 || s[len - 1] != ']') {
            return false;
        }
        bytes in = s + 1;
        size_t il = len - 2;
        if (il > 0 && (in[0] == 'v' || in[0] == 'V')) {
            size_t k = 1;
            while (k < il && is_hex(in[k])) {
                k++;
            }
            if (k == 1 || k >= il || in[k] != '.') {
                return false;
            }
            k++;
            if (k >= il) {
                return false;
            }
            for (; k < il; k++) {
                if (!(is_unreserved(in[k]) || is_sub_delim(in[k]) || in[k] == ':')) {
                    return false;
                }
            }
            return true;
        }
        return check_ipv6(in, il);
    }
    size_t i = 0;
    if (!uri_run(s, len, &i, U_REGNAME, iri)) {
        return false;
    }
    return i == len;
}

static bool uri_authority(bytes s, size_t len, bool iri)
{
    const unsigned char *at = memchr(s, '@', len);
    size_t hs = 0;
    if (at) {
        size_t ul = (size_t)(at - s), i = 0;
        if (!uri_run(s, ul, &i, U_USERINFO, iri) || i != ul) {
            return false;
        }
        hs = ul + 1;
    }
    bytes h = s + hs;
    size_t hl = len - hs;
    /* The port is after the last ':' that is not inside an IP literal. */
    size_t host_end = hl;
    if (hl > 0 && h[0] == '[') {
        const unsigned char *rb = memchr(h, ']', hl);
        if (!rb) {
            return false;
        }
        host_end = (size_t)(rb - h) + 1;
        if (host_end < hl && h[host_end] != ':') {
            return false;
        }
    } else {
        for (size_t k = 0; k < hl; k++) {
            if (h[k] == ':') {
                host_end = k;
                break;
            }
        }
    }
    for (size_t k = host_end + 1; k < hl; k++) {
        if (!is_digit(h[k])) {
            return false;
        }
    }
    return uri_host(h, host_end, iri);
}

/* URI-reference / IRI-reference; with need_scheme, only an absolute URI (fragment ok). */
static bool check_uri(bytes s, size_t len, bool iri, bool need_scheme)
{
    size_t i = 0;
    bool scheme = false;
    if (len > 0 && is_alpha(s[0])) {
        size_t k = 1;
        while (k < len && (is_alpha(s[k]) || is_digit(s[k]) || s[k] == '+' || s[k] == '-' ||
                           s[k] == '.')) {
            k++;
        }
        if (k < len && s[k] == ':') {
            scheme = true;
            i = k + 1;
        }
    }
    if (need_scheme && !scheme) {
        return false;
    }
    if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        size_t a = i;
        while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#') {
            i++;
        }
        if (!uri_authority(s + a, i - a, iri)) {
            return false;
        }
        if (!uri_run(s, len, &i, U_PCHAR | U_SLASH, iri)) {
            return false;
        }
    } else {
        size_t p = i;
        if (!uri_run(s, len, &i, U_PCHAR | U_SLASH, iri)) {
            return false;
        }
        if (!scheme) {
            /* path-noscheme: no ':' in the first segment of a relative reference. */
            for (size_t k = p; k < i && s[k] != '/'; k++) {
                if (s[k] == ':') {
                    return false;
                }
            }
        }
    }
    if (i < len && s[i] == '?') {
        i++;
        if (!uri_run(s, len, &i, U_PCHAR | U_QUERY | U_PRIVATE, iri)) {
            return false;
        }
    }
    if (i < len && s[i] == '#') {
        i++;
        if (!uri_run(s, len, &i, U_PCHAR | U_SLASH | U_QUERY, iri)) {
            return false;
        }
    }
    return i == len;
}

/* ---- URI templates (RFC 6570, level 4 syntax) ---- */

static bool tmpl_literal_ok(uint32_t cp)
{
    if (cp >= 0x80) {
        return is_ucschar(cp) || is_iprivate(cp);
    }
    if (cp <= 0x20 || cp == 0x7F) {
        return false;
    }
    /* RFC 6570 also excludes the apostrophe, but the JSON Schema suite accepts it. */
    return strchr("\"%<>\\^`{|}", (int)cp) == NULL;
}

static bool check_uri_template(bytes s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == '{') {
            i++;
            if (i < len && strchr("+#./;?&=,!@|", s[i]) && s[i] != 0) {
                if (s[i] == '=' || s[i] == ',' || s[i] == '!' || s[i] == '@' || s[i] == '|') {
                    return false; /* reserved for future extensions */
                }
                i++;
            }
            for (;;) {
                /* varname = varchar *( ["."] varchar ); varchar = ALPHA DIGIT _ pct */
                bool need = true;
                size_t start = i;
                while (i < len) {
                    if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_') {
                        i++;
                        need = false;
                    } else if (s[i] == '%') {
                        if (len - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
                            return false;
                        }
                        i += 3;
                        need = false;
                    } else if (s[i] == '.' && !need) {
                        i++;
                        need = true;
                    } else {
                        break;
                    }
                }
                if (i == start || need) {
                    return false;
                }
                if (i < len && s[i] == ':') {
                    i++;
                    size_t ds = i;
                    while (i < len && is_digit(s[i]) && i - ds < 5) {
                        i++;
                    }
                    if (i == ds || i - ds > 4 || s[ds] == '0') {
                        return false;
                    }
                } else if (i < len && s[i] == '*') {
                    i++;
                }
                if (i < len && s[i] == ',') {
                    i++;
                    continue;
                }
                break;
            }
            if (i >= len || s[i] != '}') {
                return false;
            }
            i++;
        } else if (c == '%') {
            if (len - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
                return false;
            }
            i += 3;
        } else {
            uint32_t cp;
            if (!wr_utf8_next(s, len, &i, &cp) || !tmpl_literal_ok(cp)) {
                return false;
            }
        }
    }
    return true;
}

/* ---- UUIDs, JSON pointers ---- */

static bool check_uuid(bytes s, size_t len)
{
    if (len != 36) {
        return false;
    }
    for (size_t k = 0; k < 36; k++) {
        bool dash = k == 8 || k == 13 || k == 18 || k == 23;
        if (dash ? s[k] != '-' : !is_hex(s[k])) {
            return false;
        }
    }
    return true;
}

static bool json_pointer_at(bytes s, size_t len, size_t i)
{
    if (i == len) {
        return true;
    }
    if (s[i] != '/') {
        return false;
    }
    for (; i < len; i++) {
        if (s[i] == '~') {
            if (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')) {
                return false;
            }
            i++;
        }
    }
    return true;
}

static bool check_relative_json_pointer(bytes s, size_t len)
{
    size_t i = 0;
    while (i < len && is_digit(s[i])) {
        i++;
    }
    if (i == 0 || (i > 1 && s[0] == '0')) {
        return false;
    }
    if (i < len && s[i] == '#') {
        return i + 1 == len;
    }
    return json_pointer_at(s, len, i);
}

/* ---- dispatch ---- */

bool val__fmt_check(enum val__fmt f, const char *str, size_t len)
{
    bytes s = (bytes)(str ? str : "");
    if (!str) {
        len = 0;
    }
    switch (f) {
    case VAL__FMT_DATE_TIME:
        return check_date_time(s, len);
    case VAL__FMT_DATE:
        return check_date(s, len);
    case VAL__FMT_TIME:
        return check_time(s, len);
    case VAL__FMT_DURATION:
        return check_duration(s, len);
    case VAL__FMT_EMAIL:
        return check_email(s, len, false);
    case VAL__FMT_IDN_EMAIL:
        return check_email(s, len, true);
    case VAL__FMT_HOSTNAME:
        return check_host(s, len, false);
    case VAL__FMT_IDN_HOSTNAME:
        return check_host(s, len, true);
    case VAL__FMT_IPV4:
        return check_ipv4(s, len);
    case VAL__FMT_IPV6:
        return check_ipv6(s, len);
    case VAL__FMT_URI:
        return check_uri(s, len, false, true);
    case VAL__FMT_URI_REFERENCE:
        return check_uri(s, len, false, false);
    case VAL__FMT_IRI:
        return check_uri(s, len, true, true);
    case VAL__FMT_IRI_REFERENCE:
        return check_uri(s, len, true, false);
    case VAL__FMT_URI_TEMPLATE:
        return check_uri_template(s, len);
    case VAL__FMT_UUID:
        return check_uuid(s, len);
    case VAL__FMT_REGEX:
        return val__regex_check((const char *)s, len, NULL) == 0;
    case VAL__FMT_JSON_POINTER:
        return json_pointer_at(s, len, 0);
    case VAL__FMT_RELATIVE_JSON_POINTER:
        return check_relative_json_pointer(s, len);
    case VAL__FMT_UNKNOWN:
    default:
        return true;
    }
}
