/* test_ua_suite.c - uap-core's own test files against our parser (the ua-parser
 * conformance suites: user agents, OSes, devices). Usage:
 *   test_enrich_ua_suite REGEXES.yaml UAPCORE_DIR
 * Passes at 99% of the cases of every kind, as the reference ports do; every miss is
 * printed ("MISS file: string: field got X want Y") for the README's list. It also
 * checks the prefilter on every 5th string: no rule that matches may be skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "enrich/en_int.h"
#include "enrich/enrich.h"

enum kind { K_UA, K_OS, K_DEV };

struct suite {
    const char *file;
    enum kind kind;
};

static const struct suite suites[] = {
    {"tests/test_ua.yaml", K_UA},
    {"test_resources/firefox_user_agent_strings.yaml", K_UA},
    {"test_resources/pgts_browser_list.yaml", K_UA},
    {"test_resources/opera_mini_user_agent_strings.yaml", K_UA},
    {"test_resources/podcasting_user_agent_strings.yaml", K_UA},
    {"tests/test_os.yaml", K_OS},
    {"test_resources/additional_os_tests.yaml", K_OS},
    {"tests/test_device.yaml", K_DEV},
};

/* A scalar's text; NULL for YAML null (empty plain scalar or ~). */
static const char *scalar(yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        return NULL;
    }
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (n->data.scalar.length == 0 || strcmp((const char *)n->data.scalar.value, "~") == 0)) {
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

static const char *get(yaml_document_t *doc, yaml_node_t *m, const char *key)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0) {
            return scalar(yaml_document_get_node(doc, p->value));
        }
    }
    return NULL;
}

/* Compares one field; prints the miss. */
static int same(const char *file, const char *ua, const char *field, const char *got,
                const char *want)
{
    if (!want) {
        want = "";
    }
    if (strcmp(got, want) == 0) {
        return 1;
    }
    printf("MISS %s: %s: %s got \"%s\" want \"%s\"\n", file, ua, field, got, want);
    return 0;
}

static size_t prefilter_checked, prefilter_bad;

static int run_suite(en_ua_parser *p, const char *dir, const struct suite *s, size_t *cases,
                     size_t *passed)
{
    char path[4096];
    FILE *f;
    yaml_parser_t yp;
    yaml_document_t doc;
    yaml_node_t *root, *list = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, s->file);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "skip: %s is not there\n", path);
        return 0;
    }
    yaml_parser_initialize(&yp);
    yaml_parser_set_input_file(&yp, f);
    if (!yaml_parser_load(&yp, &doc)) {
        fprintf(stderr, "%s: YAML error\n", path);
        yaml_parser_delete(&yp);
        fclose(f);
        return -1;
    }
    root = yaml_document_get_root_node(&doc);
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        if (strcmp(scalar(yaml_document_get_node(&doc, pr->key)), "test_cases") == 0) {
            list = yaml_document_get_node(&doc, pr->value);
        }
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        yaml_node_t *m = yaml_document_get_node(&doc, *it);
        const char *ua = get(&doc, m, "user_agent_string");
        struct en_uap r;
        int ok = 1;
        if (!ua) {
            continue;
        }
        en_ua_parse_raw(p, ua, strlen(ua), &r);
        if (*cases % 5 == 0) {
            size_t bad = en__prefilter_misses(p, ua, strlen(ua));
            if (bad) {
                printf("PREFILTER %s: %s: %zu matching rules skipped\n", s->file, ua, bad);
            }
            prefilter_bad += bad;
            prefilter_checked++;
        }
        if (s->kind == K_UA) {
            ok &= same(s->file, ua, "family", r.ua_family, get(&doc, m, "family"));
            ok &= same(s->file, ua, "major", r.ua_major, get(&doc, m, "major"));
            ok &= same(s->file, ua, "minor", r.ua_minor, get(&doc, m, "minor"));
            ok &= same(s->file, ua, "patch", r.ua_patch, get(&doc, m, "patch"));
        } else if (s->kind == K_OS) {
            ok &= same(s->file, ua, "family", r.os_family, get(&doc, m, "family"));
            ok &= same(s->file, ua, "major", r.os_major, get(&doc, m, "major"));
            ok &= same(s->file, ua, "minor", r.os_minor, get(&doc, m, "minor"));
            ok &= same(s->file, ua, "patch", r.os_patch, get(&doc, m, "patch"));
            ok &= same(s->file, ua, "patch_minor", r.os_patch_minor, get(&doc, m, "patch_minor"));
        } else {
            ok &= same(s->file, ua, "family", r.dev_family, get(&doc, m, "family"));
            ok &= same(s->file, ua, "brand", r.dev_brand, get(&doc, m, "brand"));
            ok &= same(s->file, ua, "model", r.dev_model, get(&doc, m, "model"));
        }
        (*cases)++;
        *passed += (size_t)ok;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    fclose(f);
    return 1;
}

int main(int argc, char **argv)
{
    const char *regexes = argc > 1 ? argv[1] : EN_UA_DEFAULT_REGEXES;
    const char *dir = argc > 2 ? argv[2] : "/usr/share/uap-core";
    static const char *const kinds[] = {"user agent", "os", "device"};
    size_t cases[3] = {0}, passed[3] = {0};
    struct wr_err err = {0};
    en_ua_rules *rules;
    en_ua_parser *p;
    int failed = 0, files = 0;
    if (access(regexes, R_OK) != 0) {
        fprintf(stderr, "skip: %s is not there (install Debian's uap-core)\n", regexes);
        return 77;
    }
    rules = en_ua_load(regexes, &err);
    if (!rules) {
        fprintf(stderr, "en_ua_load: %s\n", err.msg);
        return 1;
    }
    p = en_ua_parser_create(rules, 0, &err);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        size_t c = 0, ok = 0;
        int rc = run_suite(p, dir, &suites[i], &c, &ok);
        if (rc < 0) {
            failed = 1;
        }
        files += rc > 0;
        if (rc > 0) {
            printf("%s: %zu of %zu cases pass\n", suites[i].file, ok, c);
        }
        cases[suites[i].kind] += c;
        passed[suites[i].kind] += ok;
    }
    for (int k = 0; k < 3; k++) {
        double pct = cases[k] ? 100.0 * (double)passed[k] / (double)cases[k] : 0;
        printf("%s: %zu of %zu (%.2f%%)\n", kinds[k], passed[k], cases[k], pct);
        if (!cases[k] || pct < 99.0) {
            failed = 1;
        }
    }
    printf("prefilter: %zu strings against every rule, %zu matching rules skipped\n",
           prefilter_checked, prefilter_bad);
    if (prefilter_bad) {
        failed = 1;
    }
    en_ua_parser_destroy(p);
    en_ua_rules_destroy(rules);
    if (files == 0) {
        fprintf(stderr, "skip: no uap-core test files under %s\n", dir);
        return 77;
    }
    printf("%s\n", failed ? "FAILED" : "ok");
    return failed;
}
