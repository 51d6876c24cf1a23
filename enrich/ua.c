/* ua.c - uap-core's regexes.yaml read with libyaml, compiled with PCRE2 (JIT), and the
 * ua-parser specification's matching: first rule wins, $1..$9 in replacements.
 * The rules are read-only after en_ua_load; a parser (per thread) holds match data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "enrich/en_int.h"
#include "enrich/enrich.h"

/* Replacement slots: user agents use 4 (family, v1..v3), OSes 5 (os, v1..v4),
 * devices 3 (device, brand, model). */
#define EN_REPS 5

/* One run of a rule's requirement, as the bit tests that find it in a subject. */
struct en_lit {
    uint8_t len;
    uint8_t ntri;
    uint16_t bi;                  /* len 1: the byte; len 2: the bigram */
    uint16_t tri[EN_LIT_MAX - 2]; /* len >= 3: bloom bits of every trigram */
};

struct en_rule {
    pcre2_code *re;
    char *rep[EN_REPS];           /* NULL when the rule names none */
    struct en_lit *lits;          /* the runs of every group, lowercased (ua_lit.c) */
    uint16_t gend[EN_REQ_GROUPS]; /* group g is lits[gend[g-1], gend[g]) */
    uint16_t ngroups;             /* 0: no prefilter, always run the regex */
};

/* The prefilter's view of one subject: lowercased, its bytes and bigrams exactly, and
 * a 4096-bit bloom filter of its trigrams. A run is "present" when every bit it needs
 * is set: never a false "absent", rarely a false "present" (the regex then decides). */
struct prefilter {
    char lc[EN_UA_MATCH_MAX];
    size_t len;
    uint64_t bytes[4];
    uint64_t bigrams[1024];
    uint64_t bloom[64];
};

static uint16_t trigram(const char *p)
{
    uint32_t v = (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[1] << 8 |
                 (uint32_t)(unsigned char)p[2] << 16;
    return (uint16_t)((v * 0x9e3779b1u) >> 20);
}

static uint16_t bigram(const char *p)
{
    return (uint16_t)((unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1]);
}

static bool bit(const uint64_t *set, unsigned i)
{
    return set[i >> 6] & (1ull << (i & 63));
}

static void prefilter_init(struct prefilter *f, const char *s, size_t len)
{
    f->len = len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        f->lc[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    memset(f->bytes, 0, sizeof f->bytes);
    memset(f->bigrams, 0, sizeof f->bigrams);
    memset(f->bloom, 0, sizeof f->bloom);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)f->lc[i];
        f->bytes[c >> 6] |= 1ull << (c & 63);
        if (i + 2 <= len) {
            uint16_t b = bigram(f->lc + i);
            f->bigrams[b >> 6] |= 1ull << (b & 63);
        }
        if (i + 3 <= len) {
            uint16_t t = trigram(f->lc + i);
            f->bloom[t >> 6] |= 1ull << (t & 63);
        }
    }
}

static bool lit_present(const struct prefilter *f, const struct en_lit *l)
{
    if (l->len == 1) {
        return bit(f->bytes, l->bi);
    }
    if (!bit(f->bigrams, l->bi)) {
        return false;
    }
    for (unsigned k = 0; k < l->ntri; k++) {
        if (!bit(f->bloom, l->tri[k])) {
            return false;
        }
    }
    return true;
}

/* False when the rule cannot match the subject: a group has none of its runs in it. */
static bool prefilter_may_match(const struct prefilter *f, const struct en_rule *r)
{
    for (size_t g = 0, i = 0; g < r->ngroups; g++) {
        bool any = false;
        for (; i < r->gend[g]; i++) {
            if (!any && lit_present(f, &r->lits[i])) {
                any = true;
            }
        }
        if (!any) {
            return false;
        }
    }
    return true;
}

/* Fills rule->lits from the pattern; on out of memory the rule simply has none. */
static void prefilter_compile(struct en_rule *rule, const char *re, size_t len)
{
    struct en__req *req = malloc(sizeof *req);
    if (!req) {
        return;
    }
    en__required(re, len, req);
    if (req->ngroups) {
        rule->lits = calloc(req->n, sizeof *rule->lits);
    }
    if (rule->lits) {
        /* The groups most likely to fail first: longest shortest-run, then fewest runs. */
        size_t order[EN_REQ_GROUPS], score[EN_REQ_GROUPS], at = 0;
        for (size_t g = 0; g < req->ngroups; g++) {
            size_t from = g ? req->gend[g - 1] : 0, k;
            score[g] = EN_LIT_MAX + 1;
            for (size_t i = from; i < req->gend[g]; i++) {
                score[g] = req->len[i] < score[g] ? req->len[i] : score[g];
            }
            score[g] = score[g] * 1024 + (1023 - (req->gend[g] - from));
            for (k = g; k > 0 && score[order[k - 1]] < score[g]; k--) {
                order[k] = order[k - 1];
            }
            order[k] = g;
        }
        for (size_t o = 0; o < req->ngroups; o++) {
            size_t g = order[o], from = g ? req->gend[g - 1] : 0;
            for (size_t i = from; i < req->gend[g]; i++) {
                struct en_lit *l = &rule->lits[at++];
                const char *run = req->lit[i];
                l->len = req->len[i];
                l->bi = l->len == 1 ? (uint16_t)(unsigned char)run[0] : bigram(run);
                for (size_t k = 0; k + 3 <= l->len; k++) {
                    l->tri[l->ntri++] = trigram(run + k);
                }
            }
            rule->gend[o] = (uint16_t)at;
        }
        rule->ngroups = (uint16_t)req->ngroups;
    }
    free(req);
}

struct en_rule_list {
    struct en_rule *r;
    size_t n;
};

struct en_ua_rules {
    struct en_rule_list ua, os, dev;
};

/* The YAML keys of each list's replacements, in slot order. */
static const char *const ua_keys[EN_REPS] = {"family_replacement", "v1_replacement",
                                             "v2_replacement", "v3_replacement", NULL};
static const char *const os_keys[EN_REPS] = {"os_replacement", "os_v1_replacement",
                                             "os_v2_replacement", "os_v3_replacement",
                                             "os_v4_replacement"};
static const char *const dev_keys[EN_REPS] = {"device_replacement", "brand_replacement",
                                              "model_replacement", NULL, NULL};

static void list_free(struct en_rule_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        pcre2_code_free(l->r[i].re);
        free(l->r[i].lits);
        for (int k = 0; k < EN_REPS; k++) {
            free(l->r[i].rep[k]);
        }
    }
    free(l->r);
    l->r = NULL;
    l->n = 0;
}

void en_ua_rules_destroy(en_ua_rules *r)
{
    if (!r) {
        return;
    }
    list_free(&r->ua);
    list_free(&r->os);
    list_free(&r->dev);
    free(r);
}

void en_ua_rules_counts(const en_ua_rules *r, size_t *ua, size_t *os, size_t *dev)
{
    *ua = r->ua.n;
    *os = r->os.n;
    *dev = r->dev.n;
}

static bool scalar_is(yaml_node_t *n, const char *s)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
           memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

static char *scalar_dup(yaml_node_t *n)
{
    char *s = malloc(n->data.scalar.length + 1);
    if (s) {
        memcpy(s, n->data.scalar.value, n->data.scalar.length);
        s[n->data.scalar.length] = '\0';
    }
    return s;
}

/* Compiles one sequence of rule mappings into l. */
static int load_list(yaml_document_t *doc, yaml_node_t *seq, const char *name,
                     const char *const keys[EN_REPS], const char *path, struct en_rule_list *l,
                     struct wr_err *err)
{
    size_t n;
    if (!seq || seq->type != YAML_SEQUENCE_NODE) {
        return wr_err_set(err, WR_EINVAL, "%s: %s is not a list of rules", path, name);
    }
    n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    l->r = calloc(n ? n : 1, sizeof *l->r);
    if (!l->r) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *m = yaml_document_get_node(doc, seq->data.sequence.items.start[i]);
        struct en_rule *rule = &l->r[l->n];
        yaml_node_t *regex = NULL;
        bool caseless = false;
        int ecode;
        PCRE2_SIZE eoff;
        if (!m || m->type != YAML_MAPPING_NODE) {
            return wr_err_set(err, WR_EINVAL, "%s: %s rule %zu is not a mapping", path, name,
                              i + 1);
        }
        l->n++;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            yaml_node_t *v = yaml_document_get_node(doc, p->value);
            if (!k || !v || v->type != YAML_SCALAR_NODE) {
                continue;
            }
            if (scalar_is(k, "regex")) {
                regex = v;
            } else if (scalar_is(k, "regex_flag")) {
                caseless = scalar_is(v, "i");
            } else {
                for (int s = 0; s < EN_REPS; s++) {
                    if (keys[s] && scalar_is(k, keys[s]) && !rule->rep[s]) {
                        rule->rep[s] = scalar_dup(v);
                        if (!rule->rep[s]) {
                            return wr_err_set(err, WR_ENOMEM, "out of memory");
                        }
                    }
                }
            }
        }
        if (!regex) {
            return wr_err_set(err, WR_EINVAL, "%s: %s rule %zu has no regex", path, name, i + 1);
        }
        /* Byte mode, not UTF: headers are bytes and need not be valid UTF-8. */
        rule->re = pcre2_compile(regex->data.scalar.value, regex->data.scalar.length,
                                 caseless ? PCRE2_CASELESS : 0, &ecode, &eoff, NULL);
        if (!rule->re) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(ecode, msg, sizeof msg);
            return wr_err_set(err, WR_EINVAL, "%s: %s rule %zu (line %lu): %s at offset %zu", path,
                              name, i + 1, (unsigned long)regex->start_mark.line + 1,
                              (const char *)msg, (size_t)eoff);
        }
        prefilter_compile(rule, (const char *)regex->data.scalar.value, regex->data.scalar.length);
        /* Without JIT (not built in) the interpreter runs the same rules, slower. */
        (void)pcre2_jit_compile(rule->re, PCRE2_JIT_COMPLETE);
    }
    return 0;
}

en_ua_rules *en_ua_load(const char *path, struct wr_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    FILE *f;
    en_ua_rules *r = NULL;
    yaml_node_t *root;
    int rc = 0;
    if (!path) {
        path = EN_UA_DEFAULT_REGEXES;
    }
    f = fopen(path, "rb");
    if (!f) {
        wr_err_set(err, WR_EIO, "--ua-regexes %s: cannot open it", path);
        return NULL;
    }
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        wr_err_set(err, WR_EINVAL, "--ua-regexes %s: YAML error at line %lu: %s", path,
                   (unsigned long)parser.problem_mark.line + 1,
                   parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        fclose(f);
        return NULL;
    }
    root = yaml_document_get_root_node(&doc);
    r = calloc(1, sizeof *r);
    if (!r) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
        goto out;
    }
    if (!root || root->type != YAML_MAPPING_NODE) {
        rc =
            wr_err_set(err, WR_EINVAL,
                       "--ua-regexes %s: not a uap-core regexes file (no top-level mapping)", path);
        goto out;
    }
    {
        yaml_node_t *ua = NULL, *os = NULL, *dev = NULL;
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&doc, p->value);
            if (scalar_is(k, "user_agent_parsers")) {
                ua = v;
            } else if (scalar_is(k, "os_parsers")) {
                os = v;
            } else if (scalar_is(k, "device_parsers")) {
                dev = v;
            }
        }
        rc = load_list(&doc, ua, "user_agent_parsers", ua_keys, path, &r->ua, err);
        if (rc == 0) {
            rc = load_list(&doc, os, "os_parsers", os_keys, path, &r->os, err);
        }
        if (rc == 0) {
            rc = load_list(&doc, dev, "device_parsers", dev_keys, path, &r->dev, err);
        }
        if (rc != 0 && err && err->code == WR_EINVAL &&
            strncmp(err->msg, "--ua-regexes", 12) != 0) {
            char tmp[sizeof err->msg];
            memcpy(tmp, err->msg, sizeof tmp);
            wr_err_set(err, WR_EINVAL, "--ua-regexes %s", tmp);
        }
    }
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc != 0) {
        en_ua_rules_destroy(r);
        return NULL;
    }
    return r;
}

/* ---- matching ---- */

int en__match_init(struct en__match *m)
{
    /* Room for $0..$9 and every group any rule has; 20 pairs is more than uap-core uses,
     * and a rule with more only loses the groups past them. */
    m->md = pcre2_match_data_create(20, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    m->stack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    if (!m->md || !m->mctx || !m->stack) {
        en__match_free(m);
        return WR_ENOMEM;
    }
    /* A rule that backtracks badly on a hostile string gives up and counts as no match. */
    pcre2_set_match_limit(m->mctx, 1000000);
    pcre2_set_depth_limit(m->mctx, 10000);
    pcre2_jit_stack_assign(m->mctx, NULL, m->stack);
    return 0;
}

void en__match_free(struct en__match *m)
{
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_jit_stack_free(m->stack);
    m->md = NULL;
    m->mctx = NULL;
    m->stack = NULL;
}

struct subject {
    const char *s;
    PCRE2_SIZE *ov;
    int groups; /* pairs set by the match */
};

/* Group g of the match, or (NULL, 0) when it did not take part. */
static const char *group(const struct subject *m, int g, size_t *len)
{
    if (g >= m->groups || m->ov[2 * g] == PCRE2_UNSET) {
        *len = 0;
        return NULL;
    }
    *len = m->ov[2 * g + 1] - m->ov[2 * g];
    return m->s + m->ov[2 * g];
}

static void set_field(char *dst, size_t cap, const char *s, size_t len, bool do_trim)
{
    if (do_trim) {
        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
            len--;
        }
    }
    en__copy_cut(dst, cap, s ? s : "", s ? len : 0);
}

/* A replacement with $1..$9 filled in, trimmed, into dst. */
static void expand(char *dst, size_t cap, const char *rep, const struct subject *m)
{
    char tmp[512];
    size_t n = 0;
    for (const char *r = rep; *r && n < sizeof tmp; r++) {
        if (r[0] == '$' && r[1] >= '1' && r[1] <= '9') {
            size_t gl;
            const char *g = group(m, r[1] - '0', &gl);
            if (gl > sizeof tmp - n) {
                gl = sizeof tmp - n;
            }
            if (g) {
                memcpy(tmp + n, g, gl);
            }
            n += gl;
            r++;
        } else {
            tmp[n++] = *r;
        }
    }
    set_field(dst, cap, tmp, n, true);
}

/* Slot s: the replacement when the rule has one, else group g. */
static void field(char *dst, size_t cap, const struct en_rule *rule, int s, int g,
                  const struct subject *m)
{
    if (rule->rep[s]) {
        expand(dst, cap, rule->rep[s], m);
    } else if (g > 0) {
        size_t gl;
        const char *gp = group(m, g, &gl);
        set_field(dst, cap, gp, gl, false);
    } else {
        dst[0] = '\0';
    }
}

static const struct en_rule *first_match(const struct en_rule_list *l, struct en__match *mm,
                                         const struct prefilter *f, const char *s, size_t len,
                                         struct subject *m)
{
    for (size_t i = 0; i < l->n; i++) {
        int rc;
        if (!prefilter_may_match(f, &l->r[i])) {
            continue;
        }
        rc = pcre2_match(l->r[i].re, (PCRE2_SPTR)s, len, 0, 0, mm->md, mm->mctx);
        if (rc > 0) {
            m->s = s;
            m->ov = pcre2_get_ovector_pointer(mm->md);
            m->groups = rc;
            return &l->r[i];
        }
        if (rc == 0) { /* more groups than the match data holds: keep what fits */
            m->s = s;
            m->ov = pcre2_get_ovector_pointer(mm->md);
            m->groups = (int)pcre2_get_ovector_count(mm->md);
            return &l->r[i];
        }
        /* No match, or a limit reached on a hostile string: try the next rule. */
    }
    return NULL;
}

void en_ua_parse_raw(en_ua_parser *p, const char *ua, size_t len, struct en_uap *out)
{
    struct en__match *mm = &p->m;
    const en_ua_rules *r = p->rules;
    const struct en_rule *rule;
    struct subject m;
    struct prefilter f;
    memset(out, 0, sizeof *out);
    if (!ua) {
        ua = "";
        len = 0;
    }
    if (len > EN_UA_MATCH_MAX) {
        len = EN_UA_MATCH_MAX;
    }
    prefilter_init(&f, ua, len);
    rule = first_match(&r->ua, mm, &f, ua, len, &m);
    if (rule) {
        field(out->ua_family, sizeof out->ua_family, rule, 0, 1, &m);
        field(out->ua_major, sizeof out->ua_major, rule, 1, 2, &m);
        field(out->ua_minor, sizeof out->ua_minor, rule, 2, 3, &m);
        field(out->ua_patch, sizeof out->ua_patch, rule, 3, 4, &m);
    }
    if (!out->ua_family[0]) {
        memcpy(out->ua_family, "Other", 6);
    }
    rule = first_match(&r->os, mm, &f, ua, len, &m);
    if (rule) {
        field(out->os_family, sizeof out->os_family, rule, 0, 1, &m);
        field(out->os_major, sizeof out->os_major, rule, 1, 2, &m);
        field(out->os_minor, sizeof out->os_minor, rule, 2, 3, &m);
        field(out->os_patch, sizeof out->os_patch, rule, 3, 4, &m);
        field(out->os_patch_minor, sizeof out->os_patch_minor, rule, 4, 5, &m);
    }
    if (!out->os_family[0]) {
        memcpy(out->os_family, "Other", 6);
    }
    rule = first_match(&r->dev, mm, &f, ua, len, &m);
    if (rule) {
        field(out->dev_family, sizeof out->dev_family, rule, 0, 1, &m);
        field(out->dev_brand, sizeof out->dev_brand, rule, 1, 0, &m);
        field(out->dev_model, sizeof out->dev_model, rule, 2, 1, &m);
    }
    if (!out->dev_family[0]) {
        memcpy(out->dev_family, "Other", 6);
    }
}

size_t en__prefilter_misses(en_ua_parser *p, const char *ua, size_t len)
{
    const struct en_rule_list *lists[3] = {&p->rules->ua, &p->rules->os, &p->rules->dev};
    struct prefilter f;
    size_t bad = 0;
    if (len > EN_UA_MATCH_MAX) {
        len = EN_UA_MATCH_MAX;
    }
    prefilter_init(&f, ua, len);
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < lists[k]->n; i++) {
            const struct en_rule *r = &lists[k]->r[i];
            int rc = pcre2_match(r->re, (PCRE2_SPTR)ua, len, 0, 0, p->m.md, p->m.mctx);
            if (rc >= 0 && !prefilter_may_match(&f, r)) {
                bad++;
            }
        }
    }
    return bad;
}
