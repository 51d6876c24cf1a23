/* test_format_suite.c - runs the JSON Schema Test Suite's format tests (optional/format,
 * draft2020-12 and draft7) through val__fmt_check, and its regex tests (pattern,
 * patternProperties, optional/ecmascript-regex, optional/non-bmp-regex) through
 * val__regex. Suite root: $WEIR_JSONSCHEMA_SUITE, else WEIR_SUITE_DEFAULT (CMake passes
 * ${PROJECT_SOURCE_DIR}/../shared/jsonschema-test-suite); neither there: exit 77.
 *
 * Every count is asserted against the record below (taken from the suite in ../shared):
 * the required formats pass every test, the best-effort ones pass every test except the
 * named known misses (none today), and a suite with other test counts fails until the
 * record is updated, so a format whose tests vanish cannot pass unnoticed. */
#include "validator/format.h"
#include "validator/regex.h"

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIP_CODE 77

/* Formats that must pass every test; the others are best effort. */
static const char *const REQUIRED[] = {
    "date-time", "date", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uri",
    "uri-reference", "iri", "uuid", "regex", "json-pointer", "relative-json-pointer", "unknown",
};

/* The recorded result: tests per format in optional/format of draft2020-12 + draft7
 * (the simple {"format": X} groups this runner reads). */
static const struct {
    const char *name;
    int tests;
} RECORD[] = {
    {"date-time", 66},      {"date", 162},          {"duration", 52},
    {"regex", 40},          {"email", 47},          {"hostname", 128},
    {"idn-email", 36},      {"idn-hostname", 179},  {"ipv4", 82},
    {"ipv6", 84},           {"iri-reference", 26},  {"iri", 48},
    {"json-pointer", 80},   {"relative-json-pointer", 50}, {"time", 94},
    {"unknown", 14},        {"uri-reference", 56},  {"uri-template", 76},
    {"uri", 92},            {"uuid", 28},
};
enum { RECORD_BEST_EFFORT_TESTS = 317, RECORD_REGEX_TESTS = 183, RECORD_REGEX_OUT_OF_SCOPE = 58 };

/* Best-effort tests known to fail, by format and test description: a miss not listed
 * fails the run, and so does a listed one that passes (the list must stay true).
 * Empty today: every best-effort test passes. */
static const struct {
    const char *format, *description;
} KNOWN_MISSES[] = {
    {NULL, NULL},
};
static int known_miss_seen[sizeof KNOWN_MISSES / sizeof KNOWN_MISSES[0]];
static int unexpected_misses;

/* Index of the known miss (format, description), or -1. */
static int known_miss(const char *format, const char *description)
{
    for (size_t k = 0; k < sizeof KNOWN_MISSES / sizeof KNOWN_MISSES[0]; k++) {
        if (KNOWN_MISSES[k].format && description &&
            strcmp(KNOWN_MISSES[k].format, format) == 0 &&
            strcmp(KNOWN_MISSES[k].description, description) == 0) {
            return (int)k;
        }
    }
    return -1;
}

struct tally {
    char name[32];
    int pass, fail;
};

static struct tally tallies[64];
static int ntallies;
static int required_failures;

static struct tally *tally_for(const char *name)
{
    for (int k = 0; k < ntallies; k++) {
        if (strcmp(tallies[k].name, name) == 0) {
            return &tallies[k];
        }
    }
    if (ntallies == (int)(sizeof tallies / sizeof tallies[0])) {
        return &tallies[0];
    }
    struct tally *t = &tallies[ntallies++];
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

static bool is_required(const char *name)
{
    for (size_t k = 0; k < sizeof REQUIRED / sizeof REQUIRED[0]; k++) {
        if (strcmp(REQUIRED[k], name) == 0) {
            return true;
        }
    }
    return false;
}

static void run_format_file(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!json_is_array(root)) {
        fprintf(stderr, "cannot read %s: %s\n", path, jerr.text);
        required_failures++;
        json_decref(root);
        return;
    }
    size_t gi;
    json_t *group;
    json_array_foreach(root, gi, group) {
        json_t *schema = json_object_get(group, "schema");
        json_t *fmt = json_object_get(schema, "format");
        if (!json_is_string(fmt)) {
            continue;
        }
        /* Only the simple form {"format": X} (plus $schema) is in scope here. */
        const char *key;
        json_t *v;
        bool simple = true;
        json_object_foreach(schema, key, v) {
            if (strcmp(key, "format") != 0 && strcmp(key, "$schema") != 0) {
                simple = false;
            }
        }
        if (!simple) {
            continue;
        }
        const char *name = json_string_value(fmt);
        enum val__fmt f = val__fmt_lookup(name, json_string_length(fmt));
        struct tally *t = tally_for(name);
        size_t ti;
        json_t *test;
        json_array_foreach(json_object_get(group, "tests"), ti, test) {
            json_t *data = json_object_get(test, "data");
            bool want = json_is_true(json_object_get(test, "valid"));
            bool got = true; /* formats ignore non-strings */
            if (json_is_string(data)) {
                got = val__fmt_check(f, json_string_value(data), json_string_length(data));
            }
            if (got == want) {
                t->pass++;
            } else {
                t->fail++;
                const char *desc = json_string_value(json_object_get(test, "description"));
                int km = is_required(name) ? -1 : known_miss(name, desc);
                if (is_required(name)) {
                    required_failures++;
                } else if (km < 0) {
                    unexpected_misses++;
                } else {
                    known_miss_seen[km]++;
                }
                printf("  %s %s: %s (want %s) - %s\n", km >= 0 ? "known miss" : "FAIL", name,
                       json_is_string(data) ? json_string_value(data) : "(non-string)",
                       want ? "valid" : "invalid", desc ? desc : "?");
            }
        }
    }
    json_decref(root);
}

/* Compares the tallies with RECORD; returns the number of differences (printed). */
static int check_record(void)
{
    int diffs = 0;
    size_t nrec = sizeof RECORD / sizeof RECORD[0];
    for (size_t r = 0; r < nrec; r++) {
        int got = -1;
        for (int k = 0; k < ntallies; k++) {
            if (strcmp(tallies[k].name, RECORD[r].name) == 0) {
                got = tallies[k].pass + tallies[k].fail;
            }
        }
        if (got != RECORD[r].tests) {
            printf("  FAIL %s: %d tests in the suite, %d recorded (a different suite? update "
                   "RECORD)\n", RECORD[r].name, got < 0 ? 0 : got, RECORD[r].tests);
            diffs++;
        }
    }
    for (int k = 0; k < ntallies; k++) {
        bool known = false;
        for (size_t r = 0; r < nrec; r++) {
            known |= strcmp(tallies[k].name, RECORD[r].name) == 0;
        }
        if (!known) {
            printf("  FAIL %s: a format the record does not list\n", tallies[k].name);
            diffs++;
        }
    }
    for (size_t k = 0; k < sizeof KNOWN_MISSES / sizeof KNOWN_MISSES[0]; k++) {
        if (KNOWN_MISSES[k].format && !known_miss_seen[k]) {
            printf("  FAIL known miss %s \"%s\" now passes or is gone: drop it from the list\n",
                   KNOWN_MISSES[k].format, KNOWN_MISSES[k].description);
            diffs++;
        }
    }
    return diffs;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every *.json in dir, in name order. */
static void run_format_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "no directory %s\n", dir);
        required_failures++;
        return;
    }
    char *names[128];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 128) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int k = 0; k < n; k++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        run_format_file(path);
        free(names[k]);
    }
}

/* ---- regex semantics ---- */

static int rx_pass, rx_fail, rx_skipped;

/* 1 match, 0 no match, -1 compile failure (reported). */
static int pattern_matches(const char *pat, size_t plen, const char *s, size_t slen)
{
    struct wr_err err = {0};
    val__regex *re = val__regex_compile(pat, plen, &err);
    if (!re) {
        printf("  regex compile failed for /%s/: %s\n", pat, err.msg);
        return -1;
    }
    int rc = val__regex_search(re, s, slen);
    val__regex_free(re);
    return rc;
}

static void run_regex_file(const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!json_is_array(root)) {
        printf("  FAIL cannot read %s: %s\n", path, jerr.text);
        rx_fail++;
        json_decref(root);
        return;
    }
    size_t gi;
    json_t *group;
    json_array_foreach(root, gi, group) {
        json_t *schema = json_object_get(group, "schema");
        json_t *pattern = json_object_get(schema, "pattern");
        json_t *pprops = json_object_get(schema, "patternProperties");
        json_t *type = json_object_get(schema, "type");
        json_t *addl = json_object_get(schema, "additionalProperties");
        /* In scope: {pattern} (optionally with type string), and patternProperties whose
         * subschemas are all `true` together with additionalProperties false. */
        bool simple_pp = json_is_object(pprops) && json_is_false(addl);
        if (simple_pp) {
            const char *k;
            json_t *v;
            json_object_foreach(pprops, k, v) {
                if (!json_is_true(v)) {
                    simple_pp = false;
                }
            }
        }
        size_t nkeys = json_object_size(schema) - (json_object_get(schema, "$schema") ? 1 : 0);
        bool simple_pat = json_is_string(pattern) &&
                          nkeys == (size_t)(json_is_string(type) ? 2 : 1) &&
                          (!type || strcmp(json_string_value(type), "string") == 0);
        bool simple_ppo = simple_pp && nkeys == (size_t)(json_is_string(type) ? 3 : 2) &&
                          (!type || strcmp(json_string_value(type), "object") == 0);
        size_t ti;
        json_t *test;
        json_array_foreach(json_object_get(group, "tests"), ti, test) {
            json_t *data = json_object_get(test, "data");
            bool want = json_is_true(json_object_get(test, "valid"));
            int got;
            if (simple_pat) {
                if (!json_is_string(data)) {
                    got = !type;
                } else {
                    got = pattern_matches(json_string_value(pattern), json_string_length(pattern),
                                          json_string_value(data), json_string_length(data));
                }
            } else if (simple_ppo) {
                if (!json_is_object(data)) {
                    got = !type;
                } else {
                    got = 1;
                    const char *key;
                    json_t *v;
                    json_object_foreach(data, key, v) {
                        int any = 0;
                        const char *pat;
                        json_t *pv;
                        json_object_foreach(pprops, pat, pv) {
                            int m = pattern_matches(pat, strlen(pat), key, strlen(key));
                            if (m < 0) {
                                any = -1;
                                break;
                            }
                            any = any || m;
                        }
                        if (any <= 0) {
                            got = any;
                            break;
                        }
                    }
                }
            } else {
                rx_skipped++;
                continue;
            }
            if (got >= 0 && (got == 1) == want) {
                rx_pass++;
            } else {
                rx_fail++;
                char *d = json_dumps(data, JSON_ENCODE_ANY);
                printf("  FAIL regex %s: %s (want %s) - %s\n", path, d ? d : "?",
                       want ? "valid" : "invalid",
                       json_string_value(json_object_get(test, "description")));
                free(d);
            }
        }
    }
    json_decref(root);
}

int main(void)
{
    const char *root = getenv("WEIR_JSONSCHEMA_SUITE");
#ifdef WEIR_SUITE_DEFAULT
    if (!root || !*root) {
        root = WEIR_SUITE_DEFAULT;
    }
#endif
    if (!root || !*root) {
        fprintf(stderr, "skipped: no JSON Schema Test Suite (set WEIR_JSONSCHEMA_SUITE)\n");
        return SKIP_CODE;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/draft2020-12/optional/format", root);
    DIR *probe = opendir(dir);
    if (!probe) {
        fprintf(stderr, "skipped: JSON Schema Test Suite not found under %s (set "
                        "WEIR_JSONSCHEMA_SUITE)\n", root);
        return SKIP_CODE;
    }
    closedir(probe);

    static const char *const drafts[] = {"draft2020-12", "draft7"};
    for (size_t d = 0; d < 2; d++) {
        snprintf(dir, sizeof dir, "%s/tests/%s/optional/format", root, drafts[d]);
        run_format_dir(dir);
    }
    printf("format results (draft2020-12 + draft7, optional/format):\n");
    int opt_pass = 0, opt_total = 0;
    for (int k = 0; k < ntallies; k++) {
        struct tally *t = &tallies[k];
        bool req = is_required(t->name);
        printf("  %-22s %4d/%-4d %s\n", t->name, t->pass, t->pass + t->fail,
               req ? "(required)" : "(best effort)");
        if (!req) {
            opt_pass += t->pass;
            opt_total += t->pass + t->fail;
        }
    }
    printf("best-effort formats: %d/%d passed\n", opt_pass, opt_total);
    int record_diffs = check_record();
    if (opt_total != RECORD_BEST_EFFORT_TESTS) {
        printf("  FAIL best-effort formats: %d tests, %d recorded\n", opt_total,
               RECORD_BEST_EFFORT_TESTS);
        record_diffs++;
    }

    static const char *const rx_files[] = {"optional/ecmascript-regex.json",
                                           "optional/non-bmp-regex.json", "pattern.json",
                                           "patternProperties.json"};
    for (size_t d = 0; d < 2; d++) {
        for (size_t f = 0; f < sizeof rx_files / sizeof rx_files[0]; f++) {
            char path[2048];
            snprintf(path, sizeof path, "%s/tests/%s/%s", root, drafts[d], rx_files[f]);
            run_regex_file(path);
        }
    }
    printf("regex semantics (pattern/patternProperties/ecmascript-regex/non-bmp): %d/%d passed"
           " (%d tests out of scope)\n",
           rx_pass, rx_pass + rx_fail, rx_skipped);
    val__regex_thread_cleanup();
    if (rx_pass + rx_fail != RECORD_REGEX_TESTS || rx_skipped != RECORD_REGEX_OUT_OF_SCOPE) {
        printf("  FAIL regex tests: %d in scope and %d out, %d and %d recorded\n",
               rx_pass + rx_fail, rx_skipped, RECORD_REGEX_TESTS, RECORD_REGEX_OUT_OF_SCOPE);
        record_diffs++;
    }
    printf("%d required format failures, %d unexpected best-effort misses, %d regex failures, "
           "%d differences from the record\n",
           required_failures, unexpected_misses, rx_fail, record_diffs);
    return required_failures || unexpected_misses || rx_fail || record_diffs ? 1 : 0;
}
