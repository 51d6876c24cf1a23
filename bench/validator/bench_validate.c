/* bench_validate.c - weir-bench-validate: jansson parse (the baseline), weir's reader,
 * and (when the validator is built) validate-only and parse+validate over the AJV anchor's
 * NDJSON events; process CPU time, median of runs, optionally a Markdown table vs AJV. */
#include "json/json.h"
#ifdef WEIR_HAVE_VALIDATOR
#include "validator/validator.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 25
#define MAX_DATASETS 4
#define MAX_TASKS 32
#define MAX_SCHEMAS 16

struct dataset {
    const char *name; /* "valid", "10%-invalid": AJV's dataset names */
    const char *path;
    char *buf;
    size_t size;    /* bytes incl. newlines, as AJV counts them */
    size_t n;       /* events */
    const char **line;
    uint32_t *len;
    signed char *label; /* 1 valid, 0 invalid, -1 unknown (no .labels file) */
    struct js_val **pre; /* pre-parsed events (validate-only) */
};

struct task {
    const char *mode;
    struct dataset *d;
    double (*fn)(struct task *t);
    double cpu[MAX_RUNS], wall[MAX_RUNS];
};

struct schema_ent {
    char name[64];
    size_t name_len;
#ifdef WEIR_HAVE_VALIDATOR
    val_schema *s;
#endif
};

#ifdef WEIR_HAVE_VALIDATOR
static struct schema_ent schemas[MAX_SCHEMAS];
static size_t n_schemas;
static wr_arena *errs_arena; /* violations of one invalid event, reset each time */
#endif
static wr_arena *scratch; /* one event's nodes, reset each event */
static volatile size_t sink;

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    char *buf = malloc((size_t)sz + 1);
    if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "%s: read failed\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[sz] = '\0';
    *size = (size_t)sz;
    return buf;
}

static int load_dataset(struct dataset *d)
{
    d->buf = read_file(d->path, &d->size);
    if (!d->buf) {
        return -1;
    }
    size_t cap = 1024;
    d->line = malloc(cap * sizeof *d->line);
    d->len = malloc(cap * sizeof *d->len);
    if (!d->line || !d->len) {
        return -1;
    }
    for (char *p = d->buf, *end = d->buf + d->size; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l > 0) {
            if (d->n == cap) {
                cap *= 2;
                const char **nline = realloc(d->line, cap * sizeof *d->line);
                uint32_t *nlen = realloc(d->len, cap * sizeof *d->len);
                if (!nline || !nlen) {
                    return -1;
                }
                d->line = nline;
                d->len = nlen;
            }
            d->line[d->n] = p;
            d->len[d->n] = (uint32_t)l;
            d->n++;
        }
        p += l + 1;
    }
    d->label = malloc(d->n);
    if (!d->label) {
        return -1;
    }
    memset(d->label, -1, d->n);
    /* FILE.ndjson -> FILE.labels: "1 page_view" or "0 api_metric enum" per event. */
    char lpath[4096];
    size_t pl = strlen(d->path);
    if (pl > 7 && !strcmp(d->path + pl - 7, ".ndjson") && pl + 1 < sizeof lpath) {
        snprintf(lpath, sizeof lpath, "%.*s.labels", (int)(pl - 7), d->path);
        size_t lsz;
        char *lb = read_file(lpath, &lsz);
        if (lb) {
            size_t i = 0;
            for (char *p = lb; p < lb + lsz && i < d->n;) {
                d->label[i++] = (signed char)(*p == '1' ? 1 : 0);
                char *nl = memchr(p, '\n', (size_t)(lb + lsz - p));
                if (!nl) {
                    break;
                }
                p = nl + 1;
            }
            free(lb);
        }
    }
    return 0;
}

/* ---- tasks ------------------------------------------------------------------------- */

static double run_jansson(struct task *t)
{
    struct dataset *d = t->d;
    size_t members = 0, fails = 0;
    for (size_t i = 0; i < d->n; i++) {
        json_error_t err;
        json_t *v = json_loadb(d->line[i], d->len[i], 0, &err);
        if (!v) {
            fails++;
            continue;
        }
        members += json_object_size(v);
        json_decref(v);
    }
    sink += members;
    return (double)fails;
}

static double run_reader(struct task *t)
{
    struct dataset *d = t->d;
    size_t members = 0, fails = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct js_val *v;
        struct js_error err;
        wr_arena_reset(scratch);
        if (js_parse(scratch, d->line[i], d->len[i], NULL, &v, &err) != 0) {
            fails++;
            continue;
        }
        members += v->n;
    }
    sink += members;
    return (double)fails;
}

#ifdef WEIR_HAVE_VALIDATOR
static const val_schema *schema_for(const struct js_val *ev)
{
    const struct js_val *type = js_get(ev, "event_type", 10);
    if (!type || type->type != JS_STRING) {
        return NULL;
    }
    for (size_t i = 0; i < n_schemas; i++) {
        if (schemas[i].name_len == type->n && !memcmp(schemas[i].name, type->u.s, type->n)) {
            return schemas[i].s;
        }
    }
    return NULL;
}

/* One event as AJV's anchor does it: dispatch on event_type, validate payload; on
 * failure gather the (first) error, as AJV builds its error objects. Returns 1 valid,
 * 0 invalid. */
static int validate_event(const struct js_val *ev, size_t *errs)
{
    const val_schema *s = schema_for(ev);
    const struct js_val *payload = js_get(ev, "payload", 7);
    if (!s || !payload) {
        (*errs)++;
        return 0;
    }
    if (val_is_valid(s, payload)) {
        return 1;
    }
    struct val_result r;
    wr_arena_reset(errs_arena);
    if (val_validate(s, payload, errs_arena, 1, &r) == 0) {
        *errs += r.n_errors;
    }
    return 0;
}

static double run_validate(struct task *t)
{
    struct dataset *d = t->d;
    size_t ok = 0, errs = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->pre[i]) {
            ok += (size_t)validate_event(d->pre[i], &errs);
        }
    }
    sink += ok + errs;
    return (double)(d->n - ok);
}

static double run_parse_validate(struct task *t)
{
    struct dataset *d = t->d;
    size_t ok = 0, errs = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct js_val *v;
        struct js_error err;
        wr_arena_reset(scratch);
        if (js_parse(scratch, d->line[i], d->len[i], NULL, &v, &err) != 0) {
            errs++;
            continue;
        }
        ok += (size_t)validate_event(v, &errs);
    }
    sink += ok + errs;
    return (double)(d->n - ok);
}

static int load_schemas(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    double t0 = now(CLOCK_PROCESS_CPUTIME_ID);
    while ((de = readdir(dh)) && n_schemas < MAX_SCHEMAS) {
        size_t l = strlen(de->d_name);
        const char *suffix = ".schema.json";
        size_t sl = strlen(suffix);
        if (l <= sl || strcmp(de->d_name + l - sl, suffix) != 0 || l - sl >= 64) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_error_t jerr;
        json_t *doc = json_load_file(path, 0, &jerr);
        if (!doc) {
            fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
            closedir(dh);
            return -1;
        }
        struct wr_err err = {0};
        val_schema *s = val_compile(doc, NULL, &err);
        json_decref(doc);
        if (!s) {
            fprintf(stderr, "%s: compile failed: %s\n", path, err.msg);
            closedir(dh);
            return -1;
        }
        struct schema_ent *e = &schemas[n_schemas++];
        memcpy(e->name, de->d_name, l - sl);
        e->name[l - sl] = '\0';
        e->name_len = l - sl;
        e->s = s;
    }
    closedir(dh);
    printf("compiled %zu schemas from %s in %.2f ms (CPU)\n", n_schemas, dir,
           (now(CLOCK_PROCESS_CPUTIME_ID) - t0) * 1e3);
    return n_schemas ? 0 : -1;
}

/* Pre-parses every event (validate-only input) and checks the verdicts against the
 * generator's labels. */
static int prepare_validate(struct dataset *d, wr_arena *keep)
{
    d->pre = calloc(d->n, sizeof *d->pre);
    if (!d->pre) {
        return -1;
    }
    size_t mismatches = 0, shown = 0, fails = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct js_error err;
        if (js_parse(keep, d->line[i], d->len[i], NULL, &d->pre[i], &err) != 0) {
            fails++;
            d->pre[i] = NULL;
            continue;
        }
        size_t errs = 0;
        int got = validate_event(d->pre[i], &errs);
        if (d->label[i] >= 0 && got != d->label[i]) {
            mismatches++;
            if (shown++ < 5) {
                printf("  MISMATCH %s #%zu: label %d, got %d: %.160s\n", d->name, i, d->label[i],
                       got, d->line[i]);
                const struct js_val *pl = js_get(d->pre[i], "payload", 7);
                struct val_result r;
                wr_arena_reset(errs_arena);
                const val_schema *s = schema_for(d->pre[i]);
                if (s && pl && val_validate(s, pl, errs_arena, 3, &r) == 0) {
                    for (size_t k = 0; k < r.n_errors; k++) {
                        printf("    %s: %s (%s)\n", r.errors[k].instance_path,
                               r.errors[k].message, r.errors[k].keyword);
                    }
                }
            }
        }
    }
    printf("dataset %s: verdicts vs labels: %zu mismatches, %zu parse failures\n", d->name,
           mismatches, fails);
    return 0;
}
#endif

/* ---- the AJV figures and the table ------------------------------------------------- */

struct ajv_row {
    char dataset[32];
    char mode[32];
    double ns;
};

static struct ajv_row ajv_rows[64];
static size_t n_ajv;

static void load_ajv(const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        fprintf(stderr, "%s: %s (no AJV comparison)\n", path, jerr.text);
        return;
    }
    json_t *res = json_object_get(doc, "results"), *r;
    size_t i;
    json_array_foreach(res, i, r)
    {
        if (n_ajv == sizeof ajv_rows / sizeof ajv_rows[0]) {
            break;
        }
        if (json_is_true(json_object_get(r, "allErrors")) ||
            !json_is_true(json_object_get(r, "formats"))) {
            continue;
        }
        const char *ds = json_string_value(json_object_get(r, "dataset"));
        const char *mode = json_string_value(json_object_get(r, "mode"));
        if (!ds || !mode) {
            continue;
        }
        struct ajv_row *a = &ajv_rows[n_ajv++];
        snprintf(a->dataset, sizeof a->dataset, "%s", ds);
        snprintf(a->mode, sizeof a->mode, "%s", mode);
        a->ns = json_real_value(json_object_get(r, "cpu_ns_per_event"));
    }
    json_decref(doc);
}

static double ajv_ns(const char *dataset, const char *mode)
{
    for (size_t i = 0; i < n_ajv; i++) {
        if (!strcmp(ajv_rows[i].dataset, dataset) && !strcmp(ajv_rows[i].mode, mode)) {
            return ajv_rows[i].ns;
        }
    }
    return 0;
}

static void ratio(char *out, size_t n, double other_ns, double ours_ns)
{
    if (other_ns > 0 && ours_ns > 0) {
        snprintf(out, n, "%.2f×", other_ns / ours_ns);
    } else {
        snprintf(out, n, "–");
    }
}

static void print_row(const struct dataset *d, const char *what, double ns, const char *vs_ajv,
                      const char *vs_jansson)
{
    printf("| %s | %s | %.0f k | %.1f | %.0f | %s | %s |\n", d->name, what, 1e6 / ns,
           (double)d->size / (double)d->n * 1e3 / ns, ns, vs_ajv, vs_jansson);
}

static double task_ns(struct task *tasks, int n_tasks, const struct dataset *d, const char *mode,
                      int runs)
{
    for (int i = 0; i < n_tasks; i++) {
        if (tasks[i].d == d && !strcmp(tasks[i].mode, mode)) {
            return median(tasks[i].cpu, runs) * 1e9 / (double)d->n;
        }
    }
    return 0;
}

static void print_table(struct task *tasks, int n_tasks, struct dataset *ds, int n_ds, int runs)
{
    printf("\n| data | what | events/s | MB/s | ns/event | speed vs AJV | speed vs jansson |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int k = 0; k < n_ds; k++) {
        struct dataset *d = &ds[k];
        char r1[32], r2[32];
        double jn = task_ns(tasks, n_tasks, d, "jansson parse", runs);
        static const struct {
            const char *ours, *label, *ajv;
        } rows[] = {
            {"parse+validate", "**weir reader + validator**", "parse+validate"},
            {"validate only", "**weir validator only** (pre-parsed)", "validate only"},
            {"reader parse", "**weir reader parse only**", "parse only"},
            {"jansson parse", "jansson parse only (baseline)", "parse only"},
        };
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            double ns = task_ns(tasks, n_tasks, d, rows[r].ours, runs);
            if (ns <= 0) {
                continue;
            }
            ratio(r1, sizeof r1, ajv_ns(d->name, rows[r].ajv), ns);
            bool parse_row = !strcmp(rows[r].ajv, "parse only");
            ratio(r2, sizeof r2, parse_row ? jn : 0, ns);
            print_row(d, rows[r].label, ns, r1, r2);
        }
        static const struct {
            const char *mode, *label;
        } arows[] = {
            {"parse+validate", "AJV: JSON.parse + validate"},
            {"validate only", "AJV: validate only"},
            {"parse only", "AJV: JSON.parse only"},
        };
        for (size_t r = 0; r < sizeof arows / sizeof arows[0]; r++) {
            double ns = ajv_ns(d->name, arows[r].mode);
            if (ns > 0) {
                bool parse_row = !strcmp(arows[r].mode, "parse only");
                ratio(r2, sizeof r2, parse_row ? jn : 0, ns);
                print_row(d, arows[r].label, ns, "1.00×", r2);
            }
        }
    }
    printf("\nSpeed = the other's ns/event ÷ this row's (above 1 = faster). \"vs AJV\" compares "
           "with AJV's same mode (parse rows with JSON.parse); \"vs jansson\" is for parse rows. "
           "Process CPU time, median of %d runs, one core; MB = 10^6 bytes of NDJSON.\n",
           runs);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--runs N] --schemas DIR [--ajv bench.json] [--no-jansson]\n"
            "          NAME=FILE.ndjson [NAME=FILE.ndjson...]\n"
            "DIR is the bench schemas folder (bench/validator.sh passes ../shared/bench/schemas\n"
            "beside the repository).\n"
            "NAME is AJV's dataset name (valid, 10%%-invalid) for the comparison; FILE.labels\n"
            "beside the data, when present, is checked against the validator's verdicts.\n",
            argv0);
}

int main(int argc, char **argv)
{
    int runs = 5;
    const char *schema_dir = NULL, *ajv_path = NULL;
    bool jansson = true;
    struct dataset ds[MAX_DATASETS];
    int n_ds = 0;
    memset(ds, 0, sizeof ds);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            char *end;
            long r = strtol(argv[++i], &end, 10);
            if (*end || r < 1 || r > MAX_RUNS) {
                fprintf(stderr, "--runs: 1..%d\n", MAX_RUNS);
                return 2;
            }
            runs = (int)r;
        } else if (!strcmp(argv[i], "--schemas") && i + 1 < argc) {
            schema_dir = argv[++i];
        } else if (!strcmp(argv[i], "--ajv") && i + 1 < argc) {
            ajv_path = argv[++i];
        } else if (!strcmp(argv[i], "--no-jansson")) {
            jansson = false;
        } else if (strchr(argv[i], '=') && n_ds < MAX_DATASETS) {
            char *eq = strchr(argv[i], '=');
            *eq = '\0';
            ds[n_ds].name = argv[i];
            ds[n_ds].path = eq + 1;
            n_ds++;
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (n_ds == 0 || !schema_dir) {
        usage(argv[0]);
        return 2;
    }
    scratch = wr_arena_create(1 << 16, 64u << 20);
    wr_arena *keep = wr_arena_create(64u << 20, 0);
    if (!scratch || !keep) {
        return 1;
    }
#ifdef WEIR_HAVE_VALIDATOR
    errs_arena = wr_arena_create(1 << 16, 64u << 20);
    if (!errs_arena || load_schemas(schema_dir) != 0) {
        return 1;
    }
#else
    (void)schema_dir;
    printf("validator not built: reader and jansson only\n");
#endif
    for (int k = 0; k < n_ds; k++) {
        if (load_dataset(&ds[k]) != 0) {
            return 1;
        }
        printf("dataset %s: %zu events, %.1f MB, avg %.0f B/event (%s)\n", ds[k].name, ds[k].n,
               (double)ds[k].size / 1e6, (double)ds[k].size / (double)ds[k].n, ds[k].path);
#ifdef WEIR_HAVE_VALIDATOR
        if (prepare_validate(&ds[k], keep) != 0) {
            return 1;
        }
#endif
    }
    printf("pre-parsed events hold %.1f MB of arena\n", (double)wr_arena_used(keep) / 1e6);

    struct task tasks[MAX_TASKS];
    int n_tasks = 0;
    memset(tasks, 0, sizeof tasks);
    for (int k = 0; k < n_ds; k++) {
        if (jansson) {
            tasks[n_tasks++] = (struct task){.mode = "jansson parse", .d = &ds[k], .fn = run_jansson};
        }
        tasks[n_tasks++] = (struct task){.mode = "reader parse", .d = &ds[k], .fn = run_reader};
#ifdef WEIR_HAVE_VALIDATOR
        tasks[n_tasks++] = (struct task){.mode = "validate only", .d = &ds[k], .fn = run_validate};
        tasks[n_tasks++] =
            (struct task){.mode = "parse+validate", .d = &ds[k], .fn = run_parse_validate};
#endif
    }
    /* Round-robin like bench.js: run r of every task before run r+1 of any, so a burst of
     * load from other processes hits all tasks alike. Run -1 is the warm-up. */
    for (int r = -1; r < runs; r++) {
        for (int i = 0; i < n_tasks; i++) {
            double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
            double bad = tasks[i].fn(&tasks[i]);
            double c = now(CLOCK_PROCESS_CPUTIME_ID) - c0, w = now(CLOCK_MONOTONIC) - w0;
            if (r < 0) {
                printf("  %-11s %-15s rejected or invalid: %.0f\n", tasks[i].d->name,
                       tasks[i].mode, bad);
                continue;
            }
            tasks[i].cpu[r] = c;
            tasks[i].wall[r] = w;
        }
    }
    printf("\nfigures: median of %d runs; cpu = process CPU time, wall = elapsed\n", runs);
    printf("%-11s %-15s | cpu: k ev/s   MB/s  ns/ev | wall: k ev/s   MB/s  ns/ev\n", "dataset",
           "mode");
    for (int i = 0; i < n_tasks; i++) {
        const struct dataset *d = tasks[i].d;
        double c = median(tasks[i].cpu, runs), w = median(tasks[i].wall, runs);
        printf("%-11s %-15s | %12.0f %6.1f %6.0f | %13.0f %6.1f %6.0f\n", d->name, tasks[i].mode,
               (double)d->n / c / 1e3, (double)d->size / 1e6 / c, c * 1e9 / (double)d->n,
               (double)d->n / w / 1e3, (double)d->size / 1e6 / w, w * 1e9 / (double)d->n);
    }
    if (ajv_path) {
        load_ajv(ajv_path);
    }
    print_table(tasks, n_tasks, ds, n_ds, runs);

#ifdef WEIR_HAVE_VALIDATOR
    for (size_t i = 0; i < n_schemas; i++) {
        val_schema_unref(schemas[i].s);
    }
    wr_arena_destroy(errs_arena);
#endif
    for (int k = 0; k < n_ds; k++) {
        free(ds[k].buf);
        free(ds[k].line);
        free(ds[k].len);
        free(ds[k].label);
        free(ds[k].pre);
    }
    wr_arena_destroy(keep);
    wr_arena_destroy(scratch);
    return 0;
}
