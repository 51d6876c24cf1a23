/* ua_lit.c - the prefilter of the UA rules: for each regex, what every match must
 * contain, as up to EN_REQ_GROUPS groups of byte runs: every group must have one of its
 * runs in the subject (compared without case). A plain run is a group of one; an
 * alternation gives a group of its alternatives' runs. A user agent that misses a group
 * cannot match, so the regex is not run: most of uap-core's 1,100 rules are skipped
 * this way on a cache miss. Conservative: syntax the scan does not understand gives no
 * requirement at all, and a requirement dropped for room only lets more rules run. */
#include <stdlib.h>
#include <string.h>

#include "enrich/en_int.h"

#define MAX_DEPTH 6

struct lx {
    const char *p, *end;
    char cur[EN_LIT_MAX], best[EN_LIT_MAX];
    size_t cur_len, best_len;
    bool abort;
    int depth;
    struct en__req sets; /* the alternations seen, a group each */
};

/* Skips a character class starting at '['; returns the byte after its ']'. */
static const char *skip_class(const char *p, const char *end)
{
    p++;
    if (p < end && *p == '^') {
        p++;
    }
    if (p < end && *p == ']') {
        p++;
    }
    while (p < end && *p != ']') {
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
    }
    return p < end ? p + 1 : end;
}

/* The byte after the element at p: an escape pair, a whole class, or one byte; so the
 * scans below see only the bytes that are syntax. */
static const char *step(const char *p, const char *end)
{
    if (*p == '\\') {
        return p + 2 < end ? p + 2 : end;
    }
    if (*p == '[') {
        return skip_class(p, end);
    }
    return p + 1;
}

static void required(const char *re, size_t len, int depth, struct en__req *out);

static size_t group_start(const struct en__req *r, size_t g)
{
    return g ? r->gend[g - 1] : 0;
}

/* The shortest run of group g: how selective the group is. */
static size_t group_score(const struct en__req *r, size_t g)
{
    size_t score = EN_LIT_MAX + 1;
    for (size_t i = group_start(r, g); i < r->gend[g]; i++) {
        if (r->len[i] < score) {
            score = r->len[i];
        }
    }
    return score;
}

/* Appends n runs as one group of out; false (out unchanged) when there is no room. */
static bool add_group(struct en__req *out, const uint8_t *len, const char (*lit)[EN_LIT_MAX],
                      size_t n)
{
    if (n == 0 || out->ngroups == EN_REQ_GROUPS || out->n + n > EN_REQ_MAX) {
        return false;
    }
    memcpy(out->len + out->n, len, n);
    memcpy(out->lit + out->n, lit, n * sizeof lit[0]);
    out->n += n;
    out->gend[out->ngroups++] = out->n;
    return true;
}

/* The most selective group of r (its index), or r->ngroups when it has none. */
static size_t best_group(const struct en__req *r)
{
    size_t best = r->ngroups, score = 0;
    for (size_t g = 0; g < r->ngroups; g++) {
        size_t sc = group_score(r, g);
        if (sc > score || (sc == score &&
                           r->gend[g] - group_start(r, g) < r->gend[best] - group_start(r, best))) {
            best = g;
            score = sc;
        }
    }
    return best;
}

/* The group of an alternation body: for each alternative, the runs of its most
 * selective group. Leaves out->n == 0 when an alternative needs nothing (it could
 * match anything) or the runs do not fit. */
static void alternation(const char *p, const char *end, int depth, struct en__req *out)
{
    struct en__req *alt = malloc(sizeof *alt);
    size_t n = 0;
    memset(out, 0, sizeof *out);
    if (!alt) {
        return;
    }
    while (p <= end) {
        const char *q = p;
        int d = 0;
        size_t g, from;
        /* The end of this alternative: a '|' at depth 0, or the body's end. */
        for (; q < end; q = step(q, end)) {
            if (*q == '(') {
                d++;
            } else if (*q == ')') {
                d--;
            } else if (*q == '|' && d == 0) {
                break;
            }
        }
        required(p, (size_t)(q - p), depth + 1, alt);
        g = best_group(alt);
        from = g < alt->ngroups ? group_start(alt, g) : 0;
        if (g == alt->ngroups || n + alt->gend[g] - from > EN_REQ_MAX) {
            free(alt);
            out->n = 0;
            return;
        }
        /* The runs gather in out itself: one group, closed below. */
        memcpy(out->len + n, alt->len + from, alt->gend[g] - from);
        memcpy(out->lit + n, alt->lit + from, (alt->gend[g] - from) * sizeof out->lit[0]);
        n += alt->gend[g] - from;
        p = q + 1;
    }
    free(alt);
    if (n) {
        out->n = n;
        out->gend[0] = n;
        out->ngroups = 1;
    }
}

static void consider_set(struct lx *x, const char *body, const char *close)
{
    struct en__req *set;
    if (x->depth >= MAX_DEPTH) {
        return;
    }
    set = malloc(sizeof *set);
    if (!set) {
        return;
    }
    alternation(body, close, x->depth, set);
    if (set->ngroups) {
        add_group(&x->sets, set->len, (const char(*)[EN_LIT_MAX])set->lit, set->n);
    }
    free(set);
}

static void flush(struct lx *x)
{
    if (x->cur_len > x->best_len) {
        memcpy(x->best, x->cur, x->cur_len);
        x->best_len = x->cur_len;
    }
    x->cur_len = 0;
}

static void append(struct lx *x, char c)
{
    if (c >= 'A' && c <= 'Z') {
        c = (char)(c - 'A' + 'a');
    }
    if (x->cur_len == sizeof x->cur) {
        flush(x);
    }
    x->cur[x->cur_len++] = c;
}

/* The ')' closing the group that opens at p ('('), or NULL. */
static const char *group_end(const char *p, const char *end)
{
    int depth = 0;
    for (; p < end; p = step(p, end)) {
        if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

static bool has_top_alternation(const char *p, const char *end)
{
    int depth = 0;
    for (; p < end; p = step(p, end)) {
        if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        } else if (*p == '|' && depth == 0) {
            return true;
        }
    }
    return false;
}

/* A quantifier at *pp: returns true and advances past it (and a lazy/possessive suffix),
 * setting *min; false when there is none ('{' that is not a quantifier is a literal). */
static bool quantifier(const char **pp, const char *end, unsigned *min)
{
    const char *p = *pp;
    if (p >= end) {
        return false;
    }
    if (*p == '?' || *p == '*') {
        *min = 0;
        p++;
    } else if (*p == '+') {
        *min = 1;
        p++;
    } else if (*p == '{') {
        const char *q = p + 1;
        unsigned v = 0;
        bool digits = false;
        while (q < end && *q >= '0' && *q <= '9') {
            v = v * 10 + (unsigned)(*q - '0');
            digits = true;
            q++;
        }
        if (q < end && *q == ',') {
            q++;
            while (q < end && *q >= '0' && *q <= '9') {
                q++;
            }
        }
        if (!digits || q >= end || *q != '}') {
            return false;
        }
        *min = v;
        p = q + 1;
    } else {
        return false;
    }
    if (p < end && (*p == '?' || *p == '+')) {
        p++;
    }
    *pp = p;
    return true;
}

static void sequence(struct lx *x, const char *end);

/* An atom that is not a literal: breaks the run, and so does its quantifier. */
static void non_literal(struct lx *x, const char *next, const char *end)
{
    unsigned min;
    flush(x);
    x->p = next;
    quantifier(&x->p, end, &min);
}

static void group(struct lx *x, const char *end)
{
    const char *open = x->p, *close = group_end(open, end), *body = open + 1, *after;
    unsigned min = 1;
    bool quant;
    if (!close) {
        x->abort = true;
        return;
    }
    after = close + 1;
    if (body < close && *body == '?') {
        /* (?:...) and (?flags:...) are plain groups; (?flags) only sets options (case
         * does not matter here); lookarounds, names and the rest are skipped. */
        const char *q = body + 1;
        while (q < close && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '-')) {
            q++;
        }
        if ((q == close || *q == ':') && memchr(body + 1, 'x', (size_t)(q - body - 1))) {
            x->abort = true; /* extended mode: spaces and comments are not literals */
            return;
        }
        if (q == close && q > body + 1) {
            x->p = after; /* an option setting consumes nothing */
            return;
        }
        if (q < close && *q == ':') {
            body = q + 1;
        } else {
            non_literal(x, after, end);
            return;
        }
    }
    x->p = after;
    quant = quantifier(&x->p, end, &min);
    if (min == 0) {
        flush(x);
        return;
    }
    if (has_top_alternation(body, close)) {
        flush(x);
        consider_set(x, body, close);
        return;
    }
    {
        const char *resume = x->p;
        x->p = body;
        sequence(x, close);
        x->p = resume;
    }
    if (quant) {
        flush(x);
    }
}

static void sequence(struct lx *x, const char *end)
{
    while (x->p < end && !x->abort) {
        char c = *x->p;
        unsigned min;
        if (c == '|' || c == ')') {
            x->abort = true; /* alternations were ruled out before descending */
            return;
        }
        if (c == '(') {
            group(x, end);
            continue;
        }
        if (c == '[') {
            /* [Ss]: one letter in either case, a literal for a caseless comparison. */
            const char *p = x->p;
            if (end - p >= 4 && p[3] == ']' && p[1] != p[2] && ((p[1] | 0x20) == (p[2] | 0x20)) &&
                (p[1] | 0x20) >= 'a' && (p[1] | 0x20) <= 'z') {
                x->p += 4;
                c = p[1];
                goto literal;
            }
            non_literal(x, skip_class(x->p, end), end);
            continue;
        }
        if (c == '.' || c == '^' || c == '$') {
            non_literal(x, x->p + 1, end);
            continue;
        }
        if (c == '\\') {
            char n;
            if (x->p + 1 >= end) {
                x->abort = true;
                return;
            }
            n = x->p[1];
            if ((n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z') || (n >= '0' && n <= '9')) {
                /* Classes and anchors are understood; other escapes (\x41, \Q, \1, \t)
                 * could stand for literals: give up rather than guess. */
                if (!strchr("dDwWsSbBhHvVAzZG", n)) {
                    x->abort = true;
                    return;
                }
                non_literal(x, x->p + 2, end);
                continue;
            }
            x->p += 2;
        } else if (c == '*' || c == '+' || c == '?') {
            x->abort = true; /* a quantifier with nothing before it: not understood */
            return;
        } else {
            x->p++;
        }
        /* x->p is past a literal byte c (or the escaped n). */
    literal : {
        char lit = c == '\\' ? x->p[-1] : c;
        if (quantifier(&x->p, end, &min)) {
            if (min > 0) {
                append(x, lit);
            }
            flush(x);
        } else {
            append(x, lit);
        }
    }
    }
}

static void required(const char *re, size_t len, int depth, struct en__req *out)
{
    struct lx *x = calloc(1, sizeof *x);
    memset(out, 0, sizeof *out);
    if (!x) {
        return;
    }
    x->p = re;
    x->end = re + len;
    x->depth = depth;
    if (has_top_alternation(re, re + len)) {
        if (depth < MAX_DEPTH) {
            alternation(re, re + len, depth, out);
        }
        free(x);
        return;
    }
    sequence(x, x->end);
    flush(x);
    if (!x->abort) {
        /* The plain run first (one test), then the alternations. */
        if (x->best_len) {
            uint8_t l = (uint8_t)x->best_len;
            add_group(out, &l, (const char(*)[EN_LIT_MAX])x->best, 1);
        }
        for (size_t g = 0; g < x->sets.ngroups; g++) {
            size_t from = group_start(&x->sets, g);
            add_group(out, x->sets.len + from, (const char(*)[EN_LIT_MAX])(x->sets.lit + from),
                      x->sets.gend[g] - from);
        }
    }
    free(x);
}

void en__required(const char *re, size_t len, struct en__req *out)
{
    required(re, len, 0, out);
}
