/* regex.c - ECMA-262 (Unicode mode) patterns for JSON Schema, checked by our own parser
 * and translated into PCRE2 syntax, then compiled with JIT and bounded by match limits.
 * Matching uses per-thread match data so a warm thread allocates nothing. Anchored
 * patterns made of ASCII sets (`^/`, `^[A-Z]{2}$`) also get a byte-loop program that
 * answers exactly as PCRE2 would (see rx_fast_build for why), without entering PCRE2. */
#include "common/array.h"
#include "common/text.h"
#include "validator/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits that keep a hostile schema from taking a request thread hostage. */
#define RX_MAX_DEPTH 200          /* group nesting */
#define RX_MAX_NAMES 256          /* named groups in one pattern */
#define RX_MAX_OUT (1u << 20)     /* translated pattern bytes */
#define RX_MATCH_LIMIT 1000000u   /* PCRE2 match() calls per search */
#define RX_DEPTH_LIMIT 20000u     /* backtracking depth (interpreter only) */
#define RX_HEAP_LIMIT_KIB 16384u  /* backtracking frames (interpreter only) */
#define RX_JIT_STACK_MIN (32u * 1024u)
#define RX_JIT_STACK_MAX (4u * 1024u * 1024u) /* virtual; touched as needed */
#define RX_OVECTOR_PAIRS 16u

/* The byte-loop program: a sequence of atoms, each an ASCII set repeated min..max times. */
#define RX_FAST_ATOMS 16
#define RX_FAST_INF UINT32_MAX

struct rx_fast_atom {
    uint64_t set[2]; /* bit c: byte c (< 0x80) belongs to the set */
    uint32_t min, max;
};

struct rx_fast {
    struct rx_fast_atom atoms[RX_FAST_ATOMS];
    unsigned n;
    bool end; /* the pattern ends with $: the match must reach the end of the subject */
};

struct val__regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    bool jit;             /* pcre2_jit_compile succeeded: pcre2_jit_match may be used */
    struct rx_fast *fast; /* NULL: no byte-loop program, PCRE2 answers */
};

/* ---- the translator ---- */

struct rx_name {
    size_t off, len; /* the name's bytes in the pattern */
    int group;
};

struct rx {
    const unsigned char *s;
    size_t n, i;
    bool emit; /* false: check syntax only, allocate nothing */
    char *out;
    size_t out_len, out_cap;
    int ngroups;
    struct rx_name names[RX_MAX_NAMES];
    int nnames;
    int depth;
    bool failed;
    struct wr_err *err;
};

/* A set emitted inside a class: what \d \D \w \W \s \S stand for in ECMA-262. */
static const char RX_DIGIT[] = "0-9";
static const char RX_NOT_DIGIT[] = "\\x{0}-\\x{2f}\\x{3a}-\\x{10ffff}";
static const char RX_WORD[] = "A-Za-z0-9_";
static const char RX_NOT_WORD[] = "\\x{0}-\\x{2f}\\x{3a}-\\x{40}\\x{5b}-\\x{5e}\\x{60}"
                                  "\\x{7b}-\\x{10ffff}";
static const char RX_SPACE[] = "\\x{9}-\\x{d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
                               "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";
static const char RX_NOT_SPACE[] = "\\x{0}-\\x{8}\\x{e}-\\x{1f}\\x{21}-\\x{9f}\\x{a1}-\\x{167f}"
                                   "\\x{1681}-\\x{1fff}\\x{200b}-\\x{2027}\\x{202a}-\\x{202e}"
                                   "\\x{2030}-\\x{205e}\\x{2060}-\\x{2fff}\\x{3001}-\\x{fefe}"
                                   "\\x{ff00}-\\x{10ffff}";

static bool rx_fail(struct rx *r, const char *why)
{
    if (!r->failed) {
        r->failed = true;
        wr_err_set(r->err, WR_EINVAL, "invalid ECMA-262 regex at offset %zu: %s", r->i, why);
    }
    return false;
}

static bool rx_put(struct rx *r, const char *p, size_t len)
{
    if (!r->emit || r->failed) {
        return !r->failed;
    }
    if (len > RX_MAX_OUT - r->out_len) {
        r->failed = true;
        wr_err_set(r->err, WR_ELIMIT, "regex too large once translated (over %u bytes)",
                   RX_MAX_OUT);
        return false;
    }
    if (wr_array_grow(&r->out, &r->out_cap, r->out_len + len + 1, 1, 256, 0) != 0) {
        r->failed = true;
        wr_err_set(r->err, WR_ENOMEM, "out of memory translating a regex");
        return false;
    }
    memcpy(r->out + r->out_len, p, len);
    r->out_len += len;
    r->out[r->out_len] = '\0';
    return true;
}

static bool rx_puts(struct rx *r, const char *p)
{
    return rx_put(r, p, strlen(p));
}

/* Emits one code point as a literal that means the same inside and outside a class. */
static bool rx_put_cp(struct rx *r, uint32_t cp)
{
    char tmp[16];
    if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) {
        tmp[0] = (char)cp;
        return rx_put(r, tmp, 1);
    }
    int k = snprintf(tmp, sizeof tmp, "\\x{%x}", (unsigned)cp);
    return rx_put(r, tmp, (size_t)k);
}

static bool rx_end(const struct rx *r)
{
    return r->i >= r->n;
}

static int rx_peek(const struct rx *r)
{
    return r->i < r->n ? r->s[r->i] : -1;
}

static int rx_peek_at(const struct rx *r, size_t k)
{
    return r->i + k < r->n ? r->s[r->i + k] : -1;
}

static bool rx_is_syntax(int c)
{
    return c >= 0 && strchr("^$\\.*+?()[]{}|/", c) != NULL && c != 0;
}

/* Reads exactly 4 hex digits at the cursor. */
static bool rx_hex4(struct rx *r, uint32_t *v)
{
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        int h = wr_hexval(rx_peek_at(r, (size_t)k));
        if (h < 0) {
            return false;
        }
        x = x * 16 + (uint32_t)h;
    }
    r->i += 4;
    *v = x;
    return true;
}

/* \u escapes (the 'u' already consumed): \uXXXX, \uLEAD\uTRAIL, \u{X...}. */
static bool rx_unicode_escape(struct rx *r, uint32_t *cp)
{
    if (rx_peek(r) == '{') {
        uint32_t v = 0;
        size_t digits = 0;
        r->i++;
        while (wr_hexval(rx_peek(r)) >= 0) {
            v = v * 16 + (uint32_t)wr_hexval(rx_peek(r));
            if (v > 0x10FFFF) {
                return rx_fail(r, "\\u{...} beyond U+10FFFF");
            }
            r->i++;
            digits++;
        }
        if (digits == 0 || rx_peek(r) != '}') {
            return rx_fail(r, "malformed \\u{...} escape");
        }
        r->i++;
        *cp = v;
        return true;
    }
    uint32_t v;
    if (!rx_hex4(r, &v)) {
        return rx_fail(r, "malformed \\u escape");
    }
    if (v >= 0xD800 && v <= 0xDBFF && rx_peek(r) == '\\' && rx_peek_at(r, 1) == 'u') {
        size_t save = r->i;
        uint32_t lo;
        r->i += 2;
        if (rx_hex4(r, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        } else {
            r->i = save;
        }
    }
    *cp = v;
    return true;
}

/* A CharacterEscape after the backslash (cursor on the letter): sets *cp. */
static bool rx_char_escape(struct rx *r, uint32_t *cp, bool in_class)
{
    int c = rx_peek(r);
    r->i++;
    switch (c) {
    case 'f': *cp = 0x0C; return true;
    case 'n': *cp = 0x0A; return true;
    case 'r': *cp = 0x0D; return true;
    case 't': *cp = 0x09; return true;
    case 'v': *cp = 0x0B; return true;
    case 'c': {
        int l = rx_peek(r);
        if ((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')) {
            r->i++;
            *cp = (uint32_t)l % 32;
            return true;
        }
        return rx_fail(r, "\\c must be followed by an ASCII letter");
    }
    case '0':
        if (rx_peek(r) >= '0' && rx_peek(r) <= '9') {
            return rx_fail(r, "octal escapes are not allowed");
        }
        *cp = 0;
        return true;
    case 'x': {
        int h1 = wr_hexval(rx_peek(r)), h2 = wr_hexval(rx_peek_at(r, 1));
        if (h1 < 0 || h2 < 0) {
            return rx_fail(r, "\\x needs two hex digits");
        }
        r->i += 2;
        *cp = (uint32_t)(h1 * 16 + h2);
        return true;
    }
    case 'u':
        return rx_unicode_escape(r, cp);
    default:
        break;
    }
    if (rx_is_syntax(c) || (in_class && c == '-')) {
        *cp = (uint32_t)c;
        return true;
    }
    r->i--;
    return rx_fail(r, "invalid escape");
}

/* General_Category values ECMA-262 accepts, long and short, mapped to PCRE2's names. */
static const char *const RX_GC[][2] = {
    {"Cased_Letter", "LC"}, {"Close_Punctuation", "Pe"}, {"Connector_Punctuation", "Pc"},
    {"Control", "Cc"}, {"cntrl", "Cc"}, {"Currency_Symbol", "Sc"}, {"Dash_Punctuation", "Pd"},
    {"Decimal_Number", "Nd"}, {"digit", "Nd"}, {"Enclosing_Mark", "Me"},
    {"Final_Punctuation", "Pf"}, {"Format", "Cf"}, {"Initial_Punctuation", "Pi"},
    {"Letter", "L"}, {"Letter_Number", "Nl"}, {"Line_Separator", "Zl"},
    {"Lowercase_Letter", "Ll"}, {"Mark", "M"}, {"Combining_Mark", "M"}, {"Math_Symbol", "Sm"},
    {"Modifier_Letter", "Lm"}, {"Modifier_Symbol", "Sk"}, {"Nonspacing_Mark", "Mn"},
    {"Number", "N"}, {"Open_Punctuation", "Ps"}, {"Other", "C"}, {"Other_Letter", "Lo"},
    {"Other_Number", "No"}, {"Other_Punctuation", "Po"}, {"Other_Symbol", "So"},
    {"Paragraph_Separator", "Zp"}, {"Private_Use", "Co"}, {"Punctuation", "P"},
    {"punct", "P"}, {"Separator", "Z"}, {"Space_Separator", "Zs"}, {"Spacing_Mark", "Mc"},
    {"Surrogate", "Cs"}, {"Symbol", "S"}, {"Titlecase_Letter", "Lt"}, {"Unassigned", "Cn"},
    {"Uppercase_Letter", "Lu"},
    {"C", "C"}, {"Cc", "Cc"}, {"Cf", "Cf"}, {"Cn", "Cn"}, {"Co", "Co"}, {"Cs", "Cs"},
    {"L", "L"}, {"LC", "LC"}, {"Ll", "Ll"}, {"Lm", "Lm"}, {"Lo", "Lo"}, {"Lt", "Lt"},
    {"Lu", "Lu"}, {"M", "M"}, {"Mc", "Mc"}, {"Me", "Me"}, {"Mn", "Mn"}, {"N", "N"},
    {"Nd", "Nd"}, {"Nl", "Nl"}, {"No", "No"}, {"P", "P"}, {"Pc", "Pc"}, {"Pd", "Pd"},
    {"Pe", "Pe"}, {"Pf", "Pf"}, {"Pi", "Pi"}, {"Po", "Po"}, {"Ps", "Ps"}, {"S", "S"},
    {"Sc", "Sc"}, {"Sk", "Sk"}, {"Sm", "Sm"}, {"So", "So"}, {"Z", "Z"}, {"Zl", "Zl"},
    {"Zp", "Zp"}, {"Zs", "Zs"},
};

/* ECMA-262's binary properties (long and short names); PCRE2 knows them all but
 * Assigned, which we translate, and a few case-mapping ones it lacks (refused). */
static const char *const RX_BIN[] = {
    "ASCII", "ASCII_Hex_Digit", "AHex", "Alphabetic", "Alpha", "Any", "Assigned",
    "Bidi_Control", "Bidi_C", "Bidi_Mirrored", "Bidi_M", "Case_Ignorable", "CI", "Cased",
    "Changes_When_Casefolded", "CWCF", "Changes_When_Casemapped", "CWCM",
    "Changes_When_Lowercased", "CWL", "Changes_When_NFKC_Casefolded", "CWKCF",
    "Changes_When_Titlecased", "CWT", "Changes_When_Uppercased", "CWU", "Dash",
    "Default_Ignorable_Code_Point", "DI", "Deprecated", "Dep", "Diacritic", "Dia", "Emoji",
    "Emoji_Component", "EComp", "Emoji_Modifier", "EMod", "Emoji_Modifier_Base", "EBase",
    "Emoji_Presentation", "EPres", "Extended_Pictographic", "ExtPict", "Extender", "Ext",
    "Grapheme_Base", "Gr_Base", "Grapheme_Extend", "Gr_Ext", "Hex_Digit", "Hex",
    "IDS_Binary_Operator", "IDSB", "IDS_Trinary_Operator", "IDST", "ID_Continue", "IDC",
    "ID_Start", "IDS", "Ideographic", "Ideo", "Join_Control", "Join_C",
    "Logical_Order_Exception", "LOE", "Lowercase", "Lower", "Math",
    "Noncharacter_Code_Point", "NChar", "Pattern_Syntax", "Pat_Syn", "Pattern_White_Space",
    "Pat_WS", "Quotation_Mark", "QMark", "Radical", "Regional_Indicator", "RI",
    "Sentence_Terminal", "STerm", "Soft_Dotted", "SD", "Terminal_Punctuation", "Term",
    "Unified_Ideograph", "UIdeo", "Uppercase", "Upper", "Variation_Selector", "VS",
    "White_Space", "space", "XID_Continue", "XIDC", "XID_Start", "XIDS",
};

static bool rx_eq(const unsigned char *p, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(p, lit, len) == 0;
}

/* Whether PCRE2 knows the property text (e.g. "sc:Greek"); compiles a tiny pattern. */
static bool rx_pcre2_knows(const char *prop)
{
    char pat[96];
    int k = snprintf(pat, sizeof pat, "\\p{%s}", prop);
    if (k < 0 || (size_t)k >= sizeof pat) {
        return false;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, (PCRE2_SIZE)k, PCRE2_UTF, &ec, &eo, NULL);
    pcre2_code_free(c);
    return c != NULL;
}

/* \p{...} / \P{...} (cursor after the p/P); emits PCRE2's \p{...}. */
static bool rx_property(struct rx *r, bool negated)
{
    if (rx_peek(r) != '{') {
        return rx_fail(r, "\\p must be followed by {");
    }
    r->i++;
    size_t start = r->i, eq = 0;
    bool have_eq = false;
    while (!rx_end(r) && rx_peek(r) != '}') {
        int c = rx_peek(r);
        if (c == '=' && !have_eq) {
            have_eq = true;
            eq = r->i;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_')) {
            return rx_fail(r, "invalid character in a property name");
        }
        r->i++;
    }
    if (rx_end(r) || r->i == start || r->i - start > 60) {
        return rx_fail(r, "malformed \\p{...}");
    }
    size_t end = r->i;
    r->i++; /* '}' */
    const unsigned char *p = r->s;
    char prop[96];
    const char *pcre_name = NULL;
    if (have_eq) {
        const unsigned char *name = p + start, *val = p + eq + 1;
        size_t nlen = eq - start, vlen = end - eq - 1;
        if (vlen == 0) {
            return rx_fail(r, "empty property value");
        }
        if (rx_eq(name, nlen, "General_Category") || rx_eq(name, nlen, "gc")) {
            for (size_t k = 0; k < sizeof RX_GC / sizeof RX_GC[0]; k++) {
                if (rx_eq(val, vlen, RX_GC[k][0])) {
                    pcre_name = RX_GC[k][1];
                    break;
                }
            }
            if (!pcre_name) {
                return rx_fail(r, "unknown General_Category value");
            }
            snprintf(prop, sizeof prop, "%s", pcre_name);
        } else if (rx_eq(name, nlen, "Script") || rx_eq(name, nlen, "sc")) {
            snprintf(prop, sizeof prop, "sc:%.*s", (int)vlen, (const char *)val);
        } else if (rx_eq(name, nlen, "Script_Extensions") || rx_eq(name, nlen, "scx")) {
            snprintf(prop, sizeof prop, "scx:%.*s", (int)vlen, (const char *)val);
        } else {
            return rx_fail(r, "unknown Unicode property name");
        }
    } else {
        const unsigned char *name = p + start;
        size_t nlen = end - start;
        for (size_t k = 0; k < sizeof RX_GC / sizeof RX_GC[0]; k++) {
            if (rx_eq(name, nlen, RX_GC[k][0])) {
                pcre_name = RX_GC[k][1];
                break;
            }
        }
        if (!pcre_name) {
            for (size_t k = 0; k < sizeof RX_BIN / sizeof RX_BIN[0]; k++) {
                if (rx_eq(name, nlen, RX_BIN[k])) {
                    pcre_name = RX_BIN[k];
                    break;
                }
            }
        }
        if (!pcre_name) {
            return rx_fail(r, "unknown Unicode property");
        }
        if (strcmp(pcre_name, "Assigned") == 0) {
            /* PCRE2 lacks it; it is the complement of Unassigned. */
            pcre_name = "Cn";
            negated = !negated;
        }
        snprintf(prop, sizeof prop, "%s", pcre_name);
    }
    if (!rx_pcre2_knows(prop)) {
        return rx_fail(r, "Unicode property not supported");
    }
    return rx_puts(r, negated ? "\\P{" : "\\p{") && rx_puts(r, prop) && rx_puts(r, "}");
}

/* Finds the group number of a name (bytes at off, len), or 0. */
static int rx_name_group(const struct rx *r, size_t off, size_t len)
{
    for (int k = 0; k < r->nnames; k++) {
        if (r->names[k].len == len && memcmp(r->s + r->names[k].off, r->s + off, len) == 0) {
            return r->names[k].group;
        }
    }
    return 0;
}

/* Parses "<name>" at the cursor, checking the identifier syntax; returns the name's span. */
static bool rx_group_name(struct rx *r, size_t *off, size_t *len)
{
    if (rx_peek(r) != '<') {
        return rx_fail(r, "expected <name>");
    }
    r->i++;
    *off = r->i;
    bool first = true;
    while (!rx_end(r) && rx_peek(r) != '>') {
        int c = rx_peek(r);
        if (c >= 0x80) {
            uint32_t cp;
            if (!wr_utf8_next(r->s, r->n, &r->i, &cp)) {
                return rx_fail(r, "invalid UTF-8");
            }
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
                   (!first && c >= '0' && c <= '9')) {
            r->i++;
        } else {
            return rx_fail(r, "invalid group name");
        }
        first = false;
    }
    if (rx_end(r) || r->i == *off) {
        return rx_fail(r, "invalid group name");
    }
    *len = r->i - *off;
    r->i++; /* '>' */
    return true;
}

/* Counts capturing groups and records names before parsing, since ECMA-262 allows
 * backreferences (numbered and named) to groups defined later. */
static bool rx_prescan(struct rx *r)
{
    bool in_class = false;
    for (size_t i = 0; i < r->n; i++) {
        unsigned char c = r->s[i];
        if (c == '\\') {
            i++;
        } else if (in_class) {
            if (c == ']') {
                in_class = false;
            }
        } else if (c == '[') {
            in_class = true;
        } else if (c == '(') {
            if (i + 1 < r->n && r->s[i + 1] == '?') {
                if (i + 3 < r->n && r->s[i + 2] == '<' && r->s[i + 3] != '=' &&
                    r->s[i + 3] != '!') {
                    r->ngroups++;
                    size_t off = i + 3, e = off;
                    while (e < r->n && r->s[e] != '>') {
                        e++;
                    }
                    if (r->nnames >= RX_MAX_NAMES) {
                        r->i = i;
                        return rx_fail(r, "too many named groups");
                    }
                    if (rx_name_group(r, off, e - off)) {
                        r->i = i;
                        return rx_fail(r, "duplicate group name");
                    }
                    r->names[r->nnames].off = off;
                    r->names[r->nnames].len = e - off;
                    r->names[r->nnames].group = r->ngroups;
                    r->nnames++;
                }
            } else {
                r->ngroups++;
            }
        }
    }
    return true;
}

/* What a class atom turned out to be. */
struct rx_atom {
    bool is_set;      /* \d \p{..} etc.: cannot be a range endpoint */
    uint32_t cp;
    const char *set;  /* contents to emit for a set (static), or NULL for \p */
    size_t set_start; /* for \p: where to re-parse */
};

static bool rx_class_escape_set(int c, const char **set)
{
    switch (c) {
    case 'd': *set = RX_DIGIT; return true;
    case 'D': *set = RX_NOT_DIGIT; return true;
    case 'w': *set = RX_WORD; return true;
    case 'W': *set = RX_NOT_WORD; return true;
    case 's': *set = RX_SPACE; return true;
    case 'S': *set = RX_NOT_SPACE; return true;
    default: return false;
    }
}

/* One ClassAtom at the cursor; a set is emitted at once, a code point is returned. */
static bool rx_class_atom(struct rx *r, struct rx_atom *a)
{
    a->is_set = false;
    a->set = NULL;
    int c = rx_peek(r);
    if (c != '\\') {
        if (c >= 0x80) {
            if (!wr_utf8_next(r->s, r->n, &r->i, &a->cp)) {
                return rx_fail(r, "invalid UTF-8");
            }
        } else {
            a->cp = (uint32_t)c;
            r->i++;
        }
        return true;
    }
    r->i++;
    if (rx_end(r)) {
        return rx_fail(r, "\\ at end of pattern");
    }
    c = rx_peek(r);
    if (rx_class_escape_set(c, &a->set)) {
        r->i++;
        a->is_set = true;
        return rx_puts(r, a->set);
    }
    if (c == 'p' || c == 'P') {
        r->i++;
        a->is_set = true;
        return rx_property(r, c == 'P');
    }
    if (c == 'b') {
        r->i++;
        a->cp = 0x08;
        return true;
    }
    if (c >= '1' && c <= '9') {
        return rx_fail(r, "backreference inside a class");
    }
    return rx_char_escape(r, &a->cp, true);
}

static bool rx_class(struct rx *r)
{
    r->i++; /* '[' */
    bool negated = false;
    if (rx_peek(r) == '^') {
        negated = true;
        r->i++;
    }
    if (rx_peek(r) == ']') {
        r->i++;
        /* [] never matches; [^] matches any code point. */
        return rx_puts(r, negated ? "[\\x{0}-\\x{10ffff}]" : "(?:(?!))");
    }
    if (!rx_puts(r, negated ? "[^" : "[")) {
        return false;
    }
    for (;;) {
        if (rx_end(r)) {
            return rx_fail(r, "unterminated character class");
        }
        if (rx_peek(r) == ']') {
            r->i++;
            break;
        }
        struct rx_atom a, b;
        if (!rx_class_atom(r, &a)) {
            return false;
        }
        if (rx_peek(r) == '-' && rx_peek_at(r, 1) != ']' && rx_peek_at(r, 1) != -1) {
            r->i++;
            if (a.is_set) {
                return rx_fail(r, "a class escape cannot start a range");
            }
            if (!rx_class_atom(r, &b)) {
                return false;
            }
            if (b.is_set) {
                return rx_fail(r, "a class escape cannot end a range");
            }
            if (a.cp > b.cp) {
                return rx_fail(r, "range out of order in character class");
            }
            if (!rx_put_cp(r, a.cp) || !rx_puts(r, "-") || !rx_put_cp(r, b.cp)) {
                return false;
            }
        } else if (!a.is_set && !rx_put_cp(r, a.cp)) {
            return false;
        }
    }
    return rx_puts(r, "]");
}

static bool rx_disjunction(struct rx *r);

/* Parses digits of a {n,m} bound; caps the value to avoid overflow. */
static bool rx_number(struct rx *r, uint64_t *v)
{
    size_t start = r->i;
    uint64_t x = 0;
    while (rx_peek(r) >= '0' && rx_peek(r) <= '9') {
        if (x < 100000000u) {
            x = x * 10 + (uint64_t)(rx_peek(r) - '0');
        }
        r->i++;
    }
    *v = x;
    return r->i > start;
}

/* A braced quantifier at the cursor, if it is one; 1 = parsed, 0 = not a quantifier. */
static int rx_braces(struct rx *r, uint64_t *lo, uint64_t *hi, bool *has_hi)
{
    size_t save = r->i;
    r->i++;
    if (!rx_number(r, lo)) {
        r->i = save;
        return 0;
    }
    *has_hi = true;
    *hi = *lo;
    if (rx_peek(r) == ',') {
        r->i++;
        if (!rx_number(r, hi)) {
            *has_hi = false;
        }
    }
    if (rx_peek(r) != '}') {
        r->i = save;
        return 0;
    }
    r->i++;
    return 1;
}

static bool rx_quantifier(struct rx *r)
{
    int c = rx_peek(r);
    if (c == '*' || c == '+' || c == '?') {
        char q = (char)c;
        r->i++;
        if (!rx_put(r, &q, 1)) {
            return false;
        }
    } else if (c == '{') {
        uint64_t lo, hi;
        bool has_hi;
        if (!rx_braces(r, &lo, &hi, &has_hi)) {
            return rx_fail(r, "lone { (escape it as \\{)");
        }
        if (has_hi && hi < lo) {
            return rx_fail(r, "numbers out of order in {} quantifier");
        }
        if (r->emit && (lo > 65535 || (has_hi && hi > 65535))) {
            return rx_fail(r, "quantifier bound over 65535 is not supported");
        }
        char tmp[48];
        int k;
        if (!has_hi) {
            k = snprintf(tmp, sizeof tmp, "{%u,}", (unsigned)lo);
        } else if (hi == lo) {
            k = snprintf(tmp, sizeof tmp, "{%u}", (unsigned)lo);
        } else {
            k = snprintf(tmp, sizeof tmp, "{%u,%u}", (unsigned)lo, (unsigned)hi);
        }
        if (!rx_put(r, tmp, (size_t)k)) {
            return false;
        }
    } else {
        return true;
    }
    if (rx_peek(r) == '?') {
        r->i++;
        return rx_puts(r, "?");
    }
    return true;
}

static bool rx_is_quantifier_start(struct rx *r)
{
    int c = rx_peek(r);
    if (c == '*' || c == '+' || c == '?') {
        return true;
    }
    if (c == '{') {
        uint64_t lo, hi;
        bool has_hi;
        size_t save = r->i;
        int q = rx_braces(r, &lo, &hi, &has_hi);
        r->i = save;
        return q == 1;
    }
    return false;
}

/* A group after "(": returns whether a quantifier may follow (not for assertions). */
static bool rx_group(struct rx *r, bool *quantifiable)
{
    if (++r->depth > RX_MAX_DEPTH) {
        return rx_fail(r, "groups nested too deeply");
    }
    r->i++; /* '(' */
    *quantifiable = true;
    if (rx_peek(r) == '?') {
        int c1 = rx_peek_at(r, 1), c2 = rx_peek_at(r, 2);
        if (c1 == ':') {
            r->i += 2;
            if (!rx_puts(r, "(?:")) {
                return false;
            }
        } else if (c1 == '=' || c1 == '!') {
            r->i += 2;
            *quantifiable = false;
            if (!rx_puts(r, c1 == '=' ? "(?=" : "(?!")) {
                return false;
            }
        } else if (c1 == '<' && (c2 == '=' || c2 == '!')) {
            r->i += 3;
            *quantifiable = false;
            if (!rx_puts(r, c2 == '=' ? "(?<=" : "(?<!")) {
                return false;
            }
        } else if (c1 == '<') {
            size_t off, len;
            r->i++;
            if (!rx_group_name(r, &off, &len)) {
                return false;
            }
            /* Named groups become plain numbered ones: ECMA and PCRE2 number them the
             * same way, and \k<name> is translated to the number. */
            if (!rx_puts(r, "(")) {
                return false;
            }
        } else {
            return rx_fail(r, "invalid group (only (?: (?= (?! (?<= (?<! (?<name> exist)");
        }
    } else if (!rx_puts(r, "(")) {
        return false;
    }
    if (!rx_disjunction(r)) {
        return false;
    }
    if (rx_peek(r) != ')') {
        return rx_fail(r, "missing )");
    }
    r->i++;
    r->depth--;
    return rx_puts(r, ")");
}

/* An escape outside a class (cursor on the backslash). */
static bool rx_atom_escape(struct rx *r, bool *quantifiable)
{
    r->i++;
    if (rx_end(r)) {
        return rx_fail(r, "\\ at end of pattern");
    }
    int c = rx_peek(r);
    const char *set;
    if (c == 'b' || c == 'B') {
        r->i++;
        *quantifiable = false;
        /* Without PCRE2_UCP, PCRE2's \b uses ASCII word characters, like ECMA-262. */
        return rx_puts(r, c == 'b' ? "\\b" : "\\B");
    }
    if (rx_class_escape_set(c, &set)) {
        r->i++;
        return rx_puts(r, "[") && rx_puts(r, set) && rx_puts(r, "]");
    }
    if (c == 'p' || c == 'P') {
        r->i++;
        return rx_property(r, c == 'P');
    }
    if (c >= '1' && c <= '9') {
        uint64_t v;
        rx_number(r, &v);
        if (v > (uint64_t)r->ngroups) {
            return rx_fail(r, "backreference to a group that does not exist");
        }
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "\\g{%u}", (unsigned)v);
        return rx_put(r, tmp, (size_t)k);
    }
    if (c == 'k') {
        size_t off, len;
        r->i++;
        if (!rx_group_name(r, &off, &len)) {
            return false;
        }
        int g = rx_name_group(r, off, len);
        if (!g) {
            return rx_fail(r, "\\k<name> names no group");
        }
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "\\g{%d}", g);
        return rx_put(r, tmp, (size_t)k);
    }
    uint32_t cp;
    if (!rx_char_escape(r, &cp, false)) {
        return false;
    }
    return rx_put_cp(r, cp);
}

static bool rx_term(struct rx *r)
{
    int c = rx_peek(r);
    bool quantifiable = true;
    switch (c) {
    case '^':
        r->i++;
        quantifiable = false;
        if (!rx_puts(r, "^")) {
            return false;
        }
        break;
    case '$':
        r->i++;
        quantifiable = false;
        /* ECMA's $ (without the m flag) is the very end: no final-newline allowance. */
        if (!rx_puts(r, "\\z")) {
            return false;
        }
        break;
    case '(':
        if (!rx_group(r, &quantifiable)) {
            return false;
        }
        break;
    case '.':
        r->i++;
        if (!rx_puts(r, "[^\\n\\r\\x{2028}\\x{2029}]")) {
            return false;
        }
        break;
    case '[':
        if (!rx_class(r)) {
            return false;
        }
        break;
    case '\\':
        if (!rx_atom_escape(r, &quantifiable)) {
            return false;
        }
        break;
    case '*':
    case '+':
    case '?':
        return rx_fail(r, "nothing to repeat");
    case '{':
        return rx_fail(r, rx_is_quantifier_start(r) ? "nothing to repeat" : "lone {");
    case '}':
        return rx_fail(r, "lone }");
    case ']':
        return rx_fail(r, "lone ]");
    default: {
        uint32_t cp;
        if (!wr_utf8_next(r->s, r->n, &r->i, &cp)) {
            return rx_fail(r, "invalid UTF-8");
        }
        if (!rx_put_cp(r, cp)) {
            return false;
        }
        break;
    }
    }
    if (rx_is_quantifier_start(r)) {
        if (!quantifiable) {
            return rx_fail(r, "an assertion cannot be quantified");
        }
        if (!rx_quantifier(r)) {
            return false;
        }
    } else if (rx_peek(r) == '{') {
        return rx_fail(r, "lone {");
    }
    return !r->failed;
}

static bool rx_disjunction(struct rx *r)
{
    for (;;) {
        while (!rx_end(r) && rx_peek(r) != '|' && rx_peek(r) != ')') {
            if (!rx_term(r)) {
                return false;
            }
        }
        if (rx_peek(r) != '|') {
            return true;
        }
        r->i++;
        if (!rx_puts(r, "|")) {
            return false;
        }
    }
}

/* Runs the parser over the whole pattern. */
static bool rx_translate(struct rx *r)
{
    if (!rx_prescan(r)) {
        return false;
    }
    if (!rx_disjunction(r)) {
        return false;
    }
    if (!rx_end(r)) {
        return rx_fail(r, "unmatched )");
    }
    if (r->emit && !r->out && !rx_put(r, "", 0)) {
        return false;
    }
    return true;
}

static struct rx *rx_new(const char *pattern, size_t len, bool emit, struct wr_err *err)
{
    struct rx *r = calloc(1, sizeof *r);
    if (!r) {
        wr_err_set(err, WR_ENOMEM, "out of memory translating a regex");
        return NULL;
    }
    r->s = (const unsigned char *)(pattern ? pattern : "");
    r->n = pattern ? len : 0;
    r->emit = emit;
    r->err = err;
    return r;
}

int val__regex_check(const char *pattern, size_t len, struct wr_err *err)
{
    if (len > VAL__REGEX_MAX_PATTERN_BYTES) {
        return wr_err_set(err, WR_ELIMIT, "regex longer than %u bytes",
                          (unsigned)VAL__REGEX_MAX_PATTERN_BYTES);
    }
    struct rx *r = rx_new(pattern, len, false, err);
    if (!r) {
        return WR_ENOMEM;
    }
    int rc = rx_translate(r) ? 0 : (err ? err->code : WR_EINVAL);
    if (rc == 0 && r->failed) {
        rc = WR_EINVAL;
    }
    free(r);
    return rc;
}

char *val__regex_translate(const char *pattern, size_t len, size_t *out_len, struct wr_err *err)
{
    if (len > VAL__REGEX_MAX_PATTERN_BYTES) {
        wr_err_set(err, WR_ELIMIT, "regex longer than %u bytes",
                   (unsigned)VAL__REGEX_MAX_PATTERN_BYTES);
        return NULL;
    }
    struct wr_err local;
    struct rx *r = rx_new(pattern, len, true, err ? err : &local);
    if (!r) {
        return NULL;
    }
    char *out = NULL;
    if (rx_translate(r) && !r->failed) {
        out = r->out;
        *out_len = r->out_len;
        r->out = NULL;
    }
    free(r->out);
    free(r);
    return out;
}

/* ---- per-thread match state ---- */

struct rx_tls {
    pcre2_match_data *md;
    pcre2_jit_stack *jit;
};

static pthread_key_t rx_key;
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;
static bool rx_key_ok;

static void rx_tls_free(void *p)
{
    struct rx_tls *t = p;
    if (t) {
        pcre2_match_data_free(t->md);
        pcre2_jit_stack_free(t->jit);
        free(t);
    }
}

static void rx_key_make(void)
{
    rx_key_ok = pthread_key_create(&rx_key, rx_tls_free) == 0;
}

static struct rx_tls *rx_tls_get(void)
{
    pthread_once(&rx_once, rx_key_make);
    if (!rx_key_ok) {
        return NULL;
    }
    struct rx_tls *t = pthread_getspecific(rx_key);
    if (t) {
        return t;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->md = pcre2_match_data_create(RX_OVECTOR_PAIRS, NULL);
    /* Without its own JIT stack a thread falls back to PCRE2's 32K machine stack. */
    t->jit = pcre2_jit_stack_create(RX_JIT_STACK_MIN, RX_JIT_STACK_MAX, NULL);
    if (!t->md || pthread_setspecific(rx_key, t) != 0) {
        rx_tls_free(t);
        return NULL;
    }
    return t;
}

/* Called by PCRE2 on the matching thread: hands it that thread's JIT stack. */
static pcre2_jit_stack *rx_jit_stack_cb(void *unused)
{
    (void)unused;
    struct rx_tls *t = rx_key_ok ? pthread_getspecific(rx_key) : NULL;
    return t ? t->jit : NULL;
}

void val__regex_thread_cleanup(void)
{
    pthread_once(&rx_once, rx_key_make);
    if (rx_key_ok) {
        struct rx_tls *t = pthread_getspecific(rx_key);
        if (t) {
            pthread_setspecific(rx_key, NULL);
            rx_tls_free(t);
        }
    }
}

/* ---- the byte-loop program ---- */

static void rx_set_add(uint64_t set[2], unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++) {
        set[c >> 6] |= (uint64_t)1 << (c & 63);
    }
}

static bool rx_set_has(const uint64_t set[2], unsigned char c)
{
    return c < 0x80 && (set[c >> 6] >> (c & 63)) & 1;
}

/* A printable ASCII byte that stands for itself outside a class in Unicode mode. */
static bool rx_fast_plain(int c)
{
    return c >= 0x20 && c < 0x7f && strchr("^$\\.*+?()[]{}|", c) == NULL;
}

/* One escape (cursor after the backslash) that is exactly an ASCII set: \d, \w, or an
 * escaped syntax character (and \- in a class). */
static bool rx_fast_escape(const unsigned char *p, size_t n, size_t *i, uint64_t set[2],
                           bool in_class)
{
    if (*i >= n) {
        return false;
    }
    int c = p[(*i)++];
    if (c == 'd') {
        rx_set_add(set, '0', '9');
    } else if (c == 'w') {
        rx_set_add(set, '0', '9');
        rx_set_add(set, 'A', 'Z');
        rx_set_add(set, 'a', 'z');
        rx_set_add(set, '_', '_');
    } else if ((c != 0 && strchr("^$\\.*+?()[]{}|/", c) != NULL) || (in_class && c == '-')) {
        rx_set_add(set, (unsigned)c, (unsigned)c);
    } else {
        return false;
    }
    return true;
}

/* A class without negation whose members are printable ASCII bytes, ranges of them and
 * the escapes above (cursor after '['). */
static bool rx_fast_class(const unsigned char *p, size_t n, size_t *i, uint64_t set[2])
{
    if (*i < n && p[*i] == '^') {
        return false;
    }
    while (*i < n && p[*i] != ']') {
        int lo = p[*i];
        if (lo == '\\') {
            (*i)++;
            if (!rx_fast_escape(p, n, i, set, true) ||
                (*i + 1 < n && p[*i] == '-' && p[*i + 1] != ']')) {
                return false; /* a range from an escape: left to PCRE2 */
            }
            continue;
        }
        if (lo < 0x20 || lo >= 0x7f || lo == '[') {
            return false;
        }
        (*i)++;
        if (*i + 1 < n && p[*i] == '-' && p[*i + 1] != ']') {
            int hi = p[*i + 1];
            if (hi == '\\' || hi < 0x20 || hi >= 0x7f || hi == '[' || hi < lo) {
                return false;
            }
            *i += 2;
            rx_set_add(set, (unsigned)lo, (unsigned)hi);
        } else {
            rx_set_add(set, (unsigned)lo, (unsigned)lo);
        }
    }
    if (*i >= n) {
        return false;
    }
    (*i)++; /* ']' */
    return true;
}

/* A greedy quantifier at the cursor (none: 1..1); lazy ones are refused. */
static bool rx_fast_quant(const unsigned char *p, size_t n, size_t *i, uint32_t *min,
                          uint32_t *max)
{
    *min = *max = 1;
    if (*i >= n) {
        return true;
    }
    int c = p[*i];
    if (c == '*' || c == '+' || c == '?') {
        (*i)++;
        *min = c == '+';
        *max = c == '?' ? 1 : RX_FAST_INF;
    } else if (c == '{') {
        uint64_t lo = 0, hi;
        size_t k = *i + 1, d = 0;
        for (; k < n && p[k] >= '0' && p[k] <= '9' && d < 6; k++, d++) {
            lo = lo * 10 + (uint64_t)(p[k] - '0');
        }
        if (d == 0 || d == 6) {
            return false;
        }
        hi = lo;
        if (k < n && p[k] == ',') {
            k++;
            d = 0;
            uint64_t h = 0;
            for (; k < n && p[k] >= '0' && p[k] <= '9' && d < 6; k++, d++) {
                h = h * 10 + (uint64_t)(p[k] - '0');
            }
            if (d == 6) {
                return false;
            }
            hi = d == 0 ? RX_FAST_INF : h;
        }
        if (k >= n || p[k] != '}' || hi < lo) {
            return false;
        }
        *i = k + 1;
        *min = (uint32_t)lo;
        *max = (uint32_t)hi;
    } else {
        return true;
    }
    return !(*i < n && p[*i] == '?');
}

/* Builds the byte-loop program of a pattern already accepted by the translator, or says
 * there is none. The shape: ^, then atoms (a plain ASCII byte, an ASCII class, \d, \w or
 * an escaped syntax byte) each with a greedy quantifier, then an optional $.
 *
 * Why it answers as PCRE2 does. The ^ anchors the one match attempt at offset 0 (no m
 * flag), and the translated $ is \z. Every set holds ASCII bytes only, so an atom consumes
 * exactly one code point per repetition and never a byte of a multi-byte sequence: bytes
 * and code points agree. Backtracking is what a loop would miss; the program exists only
 * when every atom with min < max has a set disjoint from the sets of all the atoms after
 * it. Then in any match that atom takes either its maximum or every byte of its set at
 * that point (the byte after it, if any and consumed, belongs to a later, disjoint set; if
 * not consumed, there is no $ and the later atoms took nothing, so taking more also
 * matches): taking the longest run up to max, with no retry, finds a match iff one exists. */
static bool rx_fast_build(const unsigned char *p, size_t n, struct rx_fast *f)
{
    memset(f, 0, sizeof *f);
    size_t i = 0;
    if (n == 0 || p[0] != '^') {
        return false;
    }
    i++;
    while (i < n) {
        if (p[i] == '$' && i + 1 == n) {
            f->end = true;
            i++;
            break;
        }
        if (f->n == RX_FAST_ATOMS) {
            return false;
        }
        struct rx_fast_atom *a = &f->atoms[f->n];
        int c = p[i++];
        if (c == '[') {
            if (!rx_fast_class(p, n, &i, a->set)) {
                return false;
            }
        } else if (c == '\\') {
            if (!rx_fast_escape(p, n, &i, a->set, false)) {
                return false;
            }
        } else if (rx_fast_plain(c)) {
            rx_set_add(a->set, (unsigned)c, (unsigned)c);
        } else {
            return false;
        }
        if (!rx_fast_quant(p, n, &i, &a->min, &a->max)) {
            return false;
        }
        f->n++;
    }
    for (unsigned k = 0; k < f->n; k++) {
        if (f->atoms[k].min == f->atoms[k].max) {
            continue;
        }
        for (unsigned j = k + 1; j < f->n; j++) {
            if ((f->atoms[k].set[0] & f->atoms[j].set[0]) ||
                (f->atoms[k].set[1] & f->atoms[j].set[1])) {
                return false;
            }
        }
    }
    return true;
}

static int rx_fast_run(const struct rx_fast *f, const unsigned char *s, size_t len)
{
    size_t pos = 0;
    for (unsigned k = 0; k < f->n; k++) {
        const struct rx_fast_atom *a = &f->atoms[k];
        size_t room = len - pos, lim = a->max == RX_FAST_INF || a->max > room ? room : a->max;
        size_t got = 0;
        while (got < lim && rx_set_has(a->set, s[pos + got])) {
            got++;
        }
        if (got < a->min) {
            return 0;
        }
        pos += got;
    }
    return !f->end || pos == len;
}

/* ---- compile and search ---- */

static val__regex *rx_compile_native(const char *out, size_t out_len, struct wr_err *err)
{
    val__regex *re = calloc(1, sizeof *re);
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!re || !cc) {
        wr_err_set(err, WR_ENOMEM, "out of memory compiling a regex");
        goto fail;
    }
    pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALLOW_SURROGATE_ESCAPES);
    pcre2_set_max_pattern_length(cc, RX_MAX_OUT);
    pcre2_set_parens_nest_limit(cc, RX_MAX_DEPTH + 8);
    int ec;
    PCRE2_SIZE eo;
    /* No PCRE2_UCP: \b and friends then stay ASCII as in ECMA-262, while \p{..} still
     * works. Unset backreferences match the empty string in ECMA-262. */
    re->code = pcre2_compile((PCRE2_SPTR)out, out_len,
                             PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_UNSET_BACKREF |
                                 PCRE2_NEVER_BACKSLASH_C,
                             &ec, &eo, cc);
    if (!re->code) {
        PCRE2_UCHAR msg[120];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0) {
            snprintf((char *)msg, sizeof msg, "error %d", ec);
        }
        int code = WR_EINVAL;
        if (ec == PCRE2_ERROR_NOMEMORY) {
            code = WR_ENOMEM;
        } else if (ec == PCRE2_ERROR_PATTERN_TOO_LARGE ||
                   ec == PCRE2_ERROR_PATTERN_TOO_COMPLICATED ||
                   ec == PCRE2_ERROR_PARENTHESES_NEST_TOO_DEEP ||
                   ec == PCRE2_ERROR_PATTERN_STRING_TOO_LONG) {
            code = WR_ELIMIT;
        }
        wr_err_set(err, code, "regex not supported by PCRE2: %s", (const char *)msg);
        goto fail;
    }
    /* JIT is an optimisation: a platform without it still matches, only slower. */
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    re->mctx = pcre2_match_context_create(NULL);
    if (!re->mctx) {
        wr_err_set(err, WR_ENOMEM, "out of memory compiling a regex");
        goto fail;
    }
    pcre2_set_match_limit(re->mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(re->mctx, RX_HEAP_LIMIT_KIB);
    pcre2_jit_stack_assign(re->mctx, rx_jit_stack_cb, NULL);
    pcre2_compile_context_free(cc);
    return re;
fail:
    pcre2_compile_context_free(cc);
    val__regex_free(re);
    return NULL;
}

val__regex *val__regex_compile(const char *pattern, size_t len, struct wr_err *err)
{
    size_t out_len = 0;
    char *out = val__regex_translate(pattern, len, &out_len, err);
    if (!out) {
        return NULL;
    }
    val__regex *re = rx_compile_native(out, out_len, err);
    free(out);
    if (re) {
        /* Best effort: without the program (or memory for it) PCRE2 answers. */
        struct rx_fast f;
        if (rx_fast_build((const unsigned char *)pattern, len, &f)) {
            re->fast = malloc(sizeof f);
            if (re->fast) {
                *re->fast = f;
            }
        }
    }
    return re;
}

val__regex *val__regex_compile_pcre2(const char *pattern, size_t len, struct wr_err *err)
{
    if (!pattern || len > RX_MAX_OUT) {
        wr_err_set(err, WR_ELIMIT, "PCRE2 pattern missing or too long");
        return NULL;
    }
    return rx_compile_native(pattern, len, err);
}

void val__regex_free(val__regex *re)
{
    if (re) {
        free(re->fast);
        pcre2_match_context_free(re->mctx);
        pcre2_code_free(re->code);
        free(re);
    }
}

static int rx_verdict(int rc)
{
    if (rc >= 0) {
        return 1; /* 0 means a match with too small an ovector: still a match */
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        return WR_ELIMIT;
    }
    if (rc == PCRE2_ERROR_NOMEMORY) {
        return WR_ENOMEM;
    }
    return WR_EINVAL;
}

int val__regex_search_utf8(const val__regex *re, const char *s, size_t len)
{
    if (!re) {
        return WR_EINVAL;
    }
    if (!s) {
        s = "";
        len = 0;
    }
    if (re->fast) {
        return rx_fast_run(re->fast, (const unsigned char *)s, len);
    }
    struct rx_tls *t = rx_tls_get();
    if (!t) {
        return WR_ENOMEM;
    }
    /* The caller vouches for the UTF-8, so PCRE2's check (a pass over the subject) is
     * skipped; pcre2_jit_match also skips the option checks of pcre2_match. */
    int rc = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, t->md, re->mctx)
                     : pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, t->md,
                                   re->mctx);
    return rx_verdict(rc);
}

bool val__regex_has_fast(const val__regex *re)
{
    return re && re->fast;
}

int val__regex_search(const val__regex *re, const char *s, size_t len)
{
    if (!re) {
        return WR_EINVAL;
    }
    struct rx_tls *t = rx_tls_get();
    if (!t) {
        return WR_ENOMEM;
    }
    int rc = pcre2_match(re->code, (PCRE2_SPTR)(s ? s : ""), s ? len : 0, 0, 0, t->md, re->mctx);
    return rx_verdict(rc); /* WR_EINVAL e.g. when the subject is not valid UTF-8 */
}
