/* run_suite.c - runs the JSON Schema Test Suite against weir's validator: every
 * remotes/ file is served as http://localhost:1234/<path> through preloaded resources,
 * every instance goes through the real reader (jansson dump -> js_parse).
 * Usage: weir-suite <draft2020-12|draft7> <required|format|optional> [file-substring]
 *
 * What each part asserts (the README's table): required and format pass every test (and
 * format finds the file of each of the 15 asserted formats); optional passes every test
 * except the known misses named below, each of which must still miss (so the README's
 * figures are a floor the run enforces, and a fixed miss is noticed). */
#include "json/json.h"
#include "validator/validator.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { SKIP = 77 };

/* The formats weir asserts and the suite checks in optional/format. */
static const char *const asserted_formats[] = {
    "date-time", "date", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uri",
    "uri-reference", "iri", "uuid", "regex", "json-pointer", "relative-json-pointer"};

struct tally {
    int cases, tests, passed, compile_fail;
};

/* The optional tests weir is known to fail, by file label, case and test description
 * (test NULL: every test of the case). cross-draft needs draft 2019-09, which weir does not
 * support; draft-07's contentEncoding/contentMediaType annotate and never assert. */
static const struct {
    const char *label, *cdesc, *tdesc;
    int tests; /* how many failures the entry accounts for */
} KNOWN_MISSES[] = {
    {"draft2020-12/cross-draft.json", "refs to historic drafts are processed as historic drafts",
     NULL, 1},
    {"draft7/cross-draft.json", "refs to future drafts are processed as future drafts", NULL, 2},
    {"draft7/content.json", "validation of string-encoded content based on media type",
     "an invalid JSON document", 1},
    {"draft7/content.json", "validation of binary string-encoding",
     "an invalid base64 string (% is not a valid character)", 1},
    {"draft7/content.json", "validation of binary-encoded media type documents",
     "a validly-encoded invalid JSON document", 1},
    {"draft7/content.json", "validation of binary-encoded media type documents",
     "an invalid base64 string that is valid JSON", 1},
};
enum { N_KNOWN = sizeof KNOWN_MISSES / sizeof KNOWN_MISSES[0] };
static int known_seen[N_KNOWN];
static int unexpected_failures;

/* Records one failed test; true when it is a known miss. */
static bool note_failure(const char *label, const char *cdesc, const char *tdesc)
{
    for (int k = 0; k < N_KNOWN; k++) {
        if (strcmp(KNOWN_MISSES[k].label, label) == 0 && cdesc &&
            strcmp(KNOWN_MISSES[k].cdesc, cdesc) == 0 &&
            (!KNOWN_MISSES[k].tdesc || (tdesc && strcmp(KNOWN_MISSES[k].tdesc, tdesc) == 0))) {
            known_seen[k]++;
            return true;
        }
    }
    unexpected_failures++;
    return false;
}

static int load_remotes(val_resources *rs, const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    if (!d) {
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[1024], rpath[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(rpath, sizeof rpath, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            load_remotes(rs, path, rpath);
            continue;
        }
        json_error_t je;
        json_t *doc = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
        if (!doc) {
            continue;
        }
        char uri[1200];
        snprintf(uri, sizeof uri, "http://localhost:1234/%s", rpath);
        struct wr_err err;
        val_resources_add(rs, uri, doc, &err);
        json_decref(doc);
    }
    closedir(d);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one suite file; failures are printed. */
static void run_file(const char *path, const char *label, const struct val_opts *opts,
                     struct tally *t, bool verbose)
{
    json_error_t je;
    json_t *cases = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    if (!cases && strstr(je.text, "too big integer")) {
        /* jansson has no big integers: read them as doubles (the bignum tests). */
        printf("  %s: integers beyond 64 bits read as doubles\n", label);
        cases = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL,
                               &je);
    }
    if (!json_is_array(cases)) {
        printf("  %s: cannot load (%s)\n", label, je.text);
        json_decref(cases);
        return;
    }
    wr_arena *a = wr_arena_create(1 << 16, 0);
    size_t ci;
    json_t *cs;
    json_array_foreach(cases, ci, cs)
    {
        const char *cdesc = json_string_value(json_object_get(cs, "description"));
        json_t *tests = json_object_get(cs, "tests");
        struct wr_err err = {0, ""};
        val_schema *s = val_compile(json_object_get(cs, "schema"), opts, &err);
        t->cases++;
        if (!s) {
            t->compile_fail++;
            t->tests += (int)json_array_size(tests);
            size_t ti;
            json_t *tc;
            bool known = true;
            json_array_foreach(tests, ti, tc)
            {
                known &= note_failure(label, cdesc,
                                      json_string_value(json_object_get(tc, "description")));
            }
            printf("  %s %s | %s: compile error: %s\n", known ? "known miss" : "FAIL", label,
                   cdesc, err.msg);
            continue;
        }
        size_t ti;
        json_t *tc;
        json_array_foreach(tests, ti, tc)
        {
            const char *tdesc = json_string_value(json_object_get(tc, "description"));
            bool expect = json_is_true(json_object_get(tc, "valid"));
            t->tests++;
            char *text = json_dumps(json_object_get(tc, "data"), JSON_ENCODE_ANY | JSON_COMPACT);
            wr_arena_reset(a);
            struct js_val *inst = NULL;
            struct js_error jerr;
            struct js_opts jo = {0};
            if (!text || js_parse(a, text, strlen(text), &jo, &inst, &jerr) != 0) {
                note_failure(label, cdesc, tdesc);
                printf("  FAIL %s | %s | %s: reader refused the instance (%s)\n", label, cdesc,
                       tdesc, text ? jerr.msg : "dump failed");
                free(text);
                continue;
            }
            bool got = val_is_valid(s, inst);
            struct val_result res;
            int rc = val_validate(s, inst, a, 20, &res);
            bool consistent = rc == 0 && res.valid == got && (got || res.n_errors > 0);
            if (got == expect && consistent) {
                t->passed++;
                if (verbose && !got) {
                    printf("    ok %s | %s: %s at %s (%s): %s\n", cdesc, tdesc,
                           res.errors[0].keyword, res.errors[0].instance_path,
                           res.errors[0].schema_path, res.errors[0].message);
                }
            } else {
                bool known = note_failure(label, cdesc, tdesc);
                printf("  %s %s | %s | %s: expected %s, got %s%s\n",
                       known ? "known miss" : "FAIL", label, cdesc, tdesc,
                       expect ? "valid" : "invalid", got ? "valid" : "invalid",
                       consistent ? "" : " (full pass disagrees)");
            }
            free(text);
        }
        val_schema_unref(s);
    }
    wr_arena_destroy(a);
    json_decref(cases);
}

/* The .json files of dir, sorted; returns the count. */
static size_t list_json(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    if (!d || !v) {
        if (d) {
            closedir(d);
        }
        free(v);
        *out = NULL;
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            if (n == cap) {
                cap *= 2;
                char **nv = realloc(v, cap * sizeof *v);
                if (!nv) {
                    break;
                }
                v = nv;
            }
            v[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <draft2020-12|draft7> <required|format|optional> [filter]\n",
                argv[0]);
        return 2;
    }
    const char *draft = argv[1], *part = argv[2], *filter = argc > 3 ? argv[3] : NULL;
    bool verbose = getenv("WEIR_SUITE_VERBOSE") != NULL;
    const char *root = getenv("WEIR_JSONSCHEMA_SUITE");
    if (!root || !root[0]) {
        root = WEIR_SUITE_DEFAULT;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/%s", root, draft);
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr,
                "skipped: JSON Schema Test Suite not found at %s (set WEIR_JSONSCHEMA_SUITE)\n",
                dir);
        return SKIP;
    }
    val_resources *rs = val_resources_create(NULL);
    char rdir[1024];
    snprintf(rdir, sizeof rdir, "%s/remotes", root);
    load_remotes(rs, rdir, "");
    struct val_opts opts = {0};
    opts.default_dialect = strcmp(draft, "draft7") == 0 ? VAL_DIALECT_DRAFT7 : VAL_DIALECT_2020_12;
    opts.resources = rs;
    opts.format_annotate = strcmp(part, "format") != 0;

    char sub[1100];
    if (strcmp(part, "required") == 0) {
        snprintf(sub, sizeof sub, "%s", dir);
    } else if (strcmp(part, "format") == 0) {
        snprintf(sub, sizeof sub, "%s/optional/format", dir);
    } else {
        snprintf(sub, sizeof sub, "%s/optional", dir);
    }
    char **files;
    size_t nf = list_json(sub, &files);
    struct tally t = {0, 0, 0, 0};
    int formats_found = 0;
    for (size_t i = 0; i < nf; i++) {
        bool take = true;
        if (strcmp(part, "format") == 0) {
            take = false;
            for (size_t k = 0; k < sizeof asserted_formats / sizeof asserted_formats[0]; k++) {
                char name[64];
                snprintf(name, sizeof name, "%s.json", asserted_formats[k]);
                take |= strcmp(files[i], name) == 0;
            }
            formats_found += take;
        }
        if (filter && !strstr(files[i], filter)) {
            take = false;
        }
        if (take) {
            char path[1300], label[300];
            snprintf(path, sizeof path, "%s/%s", sub, files[i]);
            snprintf(label, sizeof label, "%s/%s", draft, files[i]);
            struct tally ft = {0, 0, 0, 0};
            run_file(path, label, &opts, &ft, verbose);
            printf("%-48s %4d/%-4d\n", label, ft.passed, ft.tests);
            t.cases += ft.cases;
            t.tests += ft.tests;
            t.passed += ft.passed;
            t.compile_fail += ft.compile_fail;
        }
        free(files[i]);
    }
    free(files);
    val_resources_destroy(rs);
    printf("%s %s: %d/%d tests passed (%d cases, %d schemas refused)\n", draft, part, t.passed,
           t.tests, t.cases, t.compile_fail);
    if (t.tests == 0) {
        printf("FAIL: no tests found under %s\n", sub);
        return 1;
    }
    if (!filter) {
        /* The README's figures: tests per part and draft, and the asserted formats' files
         * (draft-07's suite has no duration or uuid). Another suite: update both. */
        bool d7 = strcmp(draft, "draft7") == 0;
        int want_tests = strcmp(part, "required") == 0 ? (d7 ? 927 : 1299)
                         : strcmp(part, "format") == 0 ? (d7 ? 499 : 586)
                                                       : (d7 ? 118 : 162);
        int want_formats = d7 ? 13 : 15;
        if (t.tests != want_tests) {
            printf("FAIL: %d tests, the README states %d (a different suite?)\n", t.tests,
                   want_tests);
            return 1;
        }
        if (strcmp(part, "format") == 0 && formats_found != want_formats) {
            printf("FAIL: %d asserted formats have a file in %s, %d expected\n", formats_found,
                   sub, want_formats);
            return 1;
        }
    }
    if (strcmp(part, "optional") != 0) {
        return t.passed == t.tests ? 0 : 1;
    }
    /* optional: only the known misses may fail, and each of them still does. */
    int stale = 0;
    for (int k = 0; k < N_KNOWN; k++) {
        bool ours = strncmp(KNOWN_MISSES[k].label, draft, strlen(draft)) == 0 &&
                    KNOWN_MISSES[k].label[strlen(draft)] == '/';
        bool in_filter = !filter || strstr(KNOWN_MISSES[k].label, filter);
        if (ours && in_filter && known_seen[k] != KNOWN_MISSES[k].tests) {
            printf("FAIL: known miss %s | %s: %d failures, %d expected (fixed? drop it from "
                   "KNOWN_MISSES and update the README)\n",
                   KNOWN_MISSES[k].label, KNOWN_MISSES[k].cdesc, known_seen[k],
                   KNOWN_MISSES[k].tests);
            stale++;
        }
    }
    printf("%s optional: %d unexpected failures, %d known misses not seen as recorded\n", draft,
           unexpected_failures, stale);
    return unexpected_failures == 0 && stale == 0 ? 0 : 1;
}
