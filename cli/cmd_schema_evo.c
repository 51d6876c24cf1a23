/* cmd_schema_evo.c - schema evolution from the command line (evolution.md): `weir schema
 * compat` (show or set a type's compatibility mode) and the checks `weir schema add` runs
 * before it inserts (structural verdicts of validator/compat.h, the dry run on recent raw
 * traffic through replay/), and `weir schema diff`. Wiring only. */
#include "cli.h"

#include "common/clock.h"
#include "common/log.h"
#include "lake/lake.h"
#include "registry/compat_scan.h"
#include "registry/evolution.h"
#include "registry/registry.h"
#include "replay/replay.h"
#include "validator/compat.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The structural check (evolution.md step 2): compares the stored version old_s with the
 * candidate new_s under mode_name, appends the spec's difference objects to diffs and
 * returns the worst CLI_COMPAT_* verdict (the two enums share their order). */
static int structural(const val_schema *old_s, const val_schema *new_s, const char *mode_name,
                      json_t *diffs, struct wr_err *err)
{
    enum val_compat_mode mode;
    if (val_compat_mode_parse(mode_name, &mode) != 0) {
        wr_err_set(err, WR_EINVAL, "unknown compatibility mode '%s'", mode_name);
        return CLI_COMPAT_UNKNOWN;
    }
    wr_arena *a = wr_arena_create(64 << 10, (size_t)256 << 20);
    struct val_compat_report r;
    int v = CLI_COMPAT_UNKNOWN;
    if (a && val_compat_check(old_s, new_s, mode, a, 0, &r) == 0) {
        v = (int)r.verdict;
        json_t *d = val_compat_diffs_json(&r);
        if (d) {
            json_array_extend(diffs, d);
            json_decref(d);
        }
    } else {
        wr_err_set(err, WR_ENOMEM, "the structural check ran out of memory");
    }
    wr_arena_destroy(a);
    return v;
}

#define BOFF(f) offsetof(struct weir_cfg, f)

static const struct wr_opt compat_opts[] = {
    {"transitive", NULL, WR_OPT_BOOL, "false", BOFF(transitive),
     "compare a new version with every active version, not only the latest "
     "(--transitive=false: the latest only); left out: unchanged"},
    {0},
};

static const struct wr_cmd compat_cmd = {
    "schema compat",
    "EVENT_TYPE [none|backward|forward|full]",
    "Shows the compatibility mode of an event type, or sets it.",
    {cli_common_opts, compat_opts, NULL},
    1,
    2};

int cmd_schema_compat(int argc, char **argv)
{
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&compat_cmd, argc - 1, argv + 1, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    if (!reg_event_type_valid(pos[0], strlen(pos[0]))) {
        return cli_fail(EXIT_USAGE, "EVENT_TYPE: '%s' does not match ^[a-z][a-z0-9_]{0,63}$",
                        pos[0]);
    }
    if (npos == 2 && !reg_compat_mode_valid(pos[1])) {
        return cli_fail(EXIT_USAGE, "MODE: '%s' is not none, backward, forward or full", pos[1]);
    }
    /* Given or not (a flag left out keeps the stored value). */
    bool set_trans = false;
    for (int i = 1; i < argc; i++) {
        set_trans |= strncmp(argv[i], "--transitive", 12) == 0;
    }
    bool trans = cfg.transitive;
    bool started;
    PGconn *c = cli_connect(&cfg, &started);
    if (!c) {
        return EXIT_FAIL;
    }
    struct wr_err err = {0};
    struct reg_type_info ti;
    rc = EXIT_OK;
    if ((npos == 2 || set_trans) &&
        reg_type_set_compat(c, pos[0], npos == 2 ? pos[1] : NULL, set_trans, trans, &err) != 0) {
        rc = cli_fail(err.code == WR_EINVAL ? EXIT_USAGE : EXIT_FAIL, "%s", err.msg);
    } else if (reg_type_info_get(c, pos[0], &ti, &err) != 0) {
        rc = cli_fail(EXIT_FAIL, "%s", err.msg);
    } else {
        printf("{\"event_type\":\"%s\",\"compatibility\":\"%s\",\"transitive\":%s}\n", pos[0],
               ti.compatibility, ti.transitive ? "true" : "false");
    }
    cli_disconnect(&cfg, c, started);
    return rc;
}

/* ---- the checks of `weir schema add` ---------------------------------------------- */

struct prev {
    const val_schema *next_s;
    const char *mode;
    bool transitive;
    json_t *diffs;
    int worst; /* CLI_COMPAT_* */
    int compared;
    struct wr_err err;
};

static int compare_one(void *arg, int version, const char *text)
{
    struct prev *p = arg;
    json_error_t je;
    json_t *doc = json_loads(text, JSON_DECODE_ANY, &je);
    val_schema *old = doc ? val_compile(doc, NULL, &p->err) : NULL;
    json_decref(doc);
    if (!old) {
        WR_WARN("schema add: stored version %d does not compile; not compared", version);
        return 0;
    }
    p->compared++;
    int v = structural(old, p->next_s, p->mode, p->diffs, &p->err);
    if (v > p->worst) {
        p->worst = v;
    }
    val_schema_unref(old);
    return p->transitive ? 0 : 1; /* the latest only, unless transitive */
}

/* The sample, or an empty one when the lake is a local folder that does not exist (a
 * registry-only setup: no traffic to sample, and no folder created as a side effect). */
static int sample(const struct weir_cfg *cfg, const char *t, const val_schema *s,
                  struct rpl_sample_result *res, struct wr_err *err)
{
    memset(res, 0, sizeof *res);
    res->hours = (int)cfg->sample_hours;
    struct lake_url u;
    if (lake_url_parse(cfg->lake, &u, err) != 0) {
        return WR_EINVAL;
    }
    struct stat sb;
    if (u.scheme == LAKE_FILE && stat(u.path, &sb) != 0) {
        return 0;
    }
    struct lake_s3_opts s3;
    if (cli_s3_opts(cfg, &s3) >= 0) {
        return wr_err_set(err, WR_EINVAL, "bad S3 options");
    }
    lake_store *st = lake_store_open(cfg->lake, &s3, err);
    if (!st) {
        return err->code ? err->code : WR_EIO;
    }
    struct rpl_sample_opts o = {.event_type = t,
                                .now_ms = wr_time_now_ms(),
                                .hours = (int)cfg->sample_hours,
                                .max = cfg->sample};
    int rc = rpl_sample(st, s, &o, res, err);
    lake_store_destroy(st);
    return rc;
}

int cli_schema_add_check(const struct weir_cfg *cfg, PGconn *c, const char *event_type,
                         const json_t *doc, int version)
{
    if (cfg->sample_hours < 1 || cfg->sample_hours > 24 * 366 || cfg->sample < 1) {
        return cli_fail(EXIT_USAGE, "--sample-hours must be 1..8784 and --sample >= 1");
    }
    struct wr_err err = {0};
    if (version > 0) {
        /* A version number already taken: the insert refuses it with its own message. */
        char vb[16];
        snprintf(vb, sizeof vb, "%d", version);
        const char *params[] = {event_type, vb};
        PGresult *r = reg_exec(c, PGRES_TUPLES_OK, &err,
                               "SELECT 1 FROM event_schemas WHERE event_type = $1 AND version = $2",
                               2, params);
        bool taken = r && PQntuples(r) > 0;
        PQclear(r);
        if (taken) {
            return -1;
        }
    }
    struct reg_type_info ti;
    if (reg_type_info_get(c, event_type, &ti, &err) != 0) {
        return cli_fail(EXIT_FAIL, "%s", err.msg);
    }
    val_schema *next_s = val_compile(doc, NULL, &err);
    if (!next_s) {
        return cli_fail(EXIT_FAIL, "not a valid JSON Schema: %s", err.msg);
    }
    struct prev p = {.next_s = next_s,
                     .mode = ti.compatibility,
                     .transitive = ti.transitive,
                     .diffs = json_array()};
    int next = 1;
    int rc = -1;
    if (reg_active_versions(c, event_type, compare_one, &p, &next, &err) != 0) {
        rc = cli_fail(EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    struct rpl_sample_result sr;
    if (sample(cfg, event_type, next_s, &sr, &err) != 0) {
        rc = cli_fail(EXIT_FAIL, "dry run on recent traffic: %s", err.msg);
        goto out;
    }
    /* evolution.md step 4: a type with no previous version passes in any mode; `unknown`
     * counts as incompatible unless the sample shows no failure; backward and full also
     * need no sampled event to fail. */
    bool none = strcmp(ti.compatibility, "none") == 0;
    bool sample_blocks =
        (strcmp(ti.compatibility, "backward") == 0 || strcmp(ti.compatibility, "full") == 0) &&
        sr.would_reject > 0;
    bool compatible = none || p.compared == 0 ||
                      (p.worst != CLI_COMPAT_INCOMPATIBLE &&
                       !(p.worst == CLI_COMPAT_UNKNOWN && sr.would_reject > 0) && !sample_blocks);
    struct wr_buf out;
    wr_buf_init(&out, (size_t)16 << 20);
    char *dj = json_dumps(p.diffs, JSON_COMPACT);
    wr_buf_printf(&out,
                  "{\"event_type\":\"%s\",\"version\":%d,\"mode\":\"%s\",\"compatible\":%s,"
                  "\"differences\":%s,\"sample\":",
                  event_type, version ? version : next, ti.compatibility,
                  compatible ? "true" : "false", dj ? dj : "[]");
    free(dj);
    rpl_sample_json(&sr, &out);
    wr_buf_putc(&out, '}');
    fprintf(stderr,
            "weir: %s version %d (%s%s): %lld of %lld recent events would fail; %zu "
            "structural difference(s)\n",
            event_type, version ? version : next, ti.compatibility,
            ti.transitive ? ", transitive" : "", sr.would_reject, sr.events,
            json_array_size(p.diffs));
    if (cfg->dry_run) {
        printf("%s\n", out.p ? out.p : "{}");
        rc = compatible ? EXIT_OK : EXIT_FAIL;
    } else if (!compatible && !cfg->force) {
        printf("%s\n", out.p ? out.p : "{}");
        fprintf(stderr, "weir: %s version %d refused (nothing inserted; --force inserts anyway)\n",
                event_type, version ? version : next);
        rc = EXIT_FAIL;
    } else {
        if (!compatible) {
            WR_WARN("schema add --force: inserting %s version %d although it is not compatible "
                    "(%lld of %lld recent events would fail)",
                    event_type, version ? version : next, sr.would_reject, sr.events);
        }
        /* The report goes to stderr here: stdout keeps the "added" line. */
        fprintf(stderr, "%s\n", out.p ? out.p : "{}");
        if (reg_type_ensure(c, event_type, &err) != 0) {
            rc = cli_fail(EXIT_FAIL, "%s", err.msg);
        }
    }
    wr_buf_free(&out);
out:
    json_decref(p.diffs);
    val_schema_unref(next_s);
    return rc;
}

/* ---- weir schema diff EVENT_TYPE V1 V2 -------------------------------------------- */

static const struct wr_cmd diff_cmd = {
    "schema diff",
    "EVENT_TYPE V1 V2",
    "Prints the structural differences of two stored versions, one line each, with how each "
    "is judged backward and forward.",
    {cli_common_opts, NULL},
    3,
    3};

struct diff_pick {
    int want[2];
    json_t *doc[2];
};

static void pick_version(const struct reg_schema_row *r, void *arg)
{
    struct diff_pick *d = arg;
    for (int i = 0; i < 2; i++) {
        if (r->version == d->want[i] && !d->doc[i]) {
            json_error_t je;
            d->doc[i] = json_loads(r->schema, JSON_DECODE_ANY, &je);
        }
    }
}

static int parse_version(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 1 || v > 2147483647) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cmd_schema_diff(int argc, char **argv)
{
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&diff_cmd, argc - 1, argv + 1, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    if (!reg_event_type_valid(pos[0], strlen(pos[0]))) {
        return cli_fail(EXIT_USAGE, "EVENT_TYPE: '%s' does not match ^[a-z][a-z0-9_]{0,63}$",
                        pos[0]);
    }
    struct diff_pick d = {{0, 0}, {NULL, NULL}};
    for (int i = 0; i < 2; i++) {
        if (parse_version(pos[1 + i], &d.want[i]) != 0) {
            return cli_fail(EXIT_USAGE, "%s: '%s' is not a version number", i ? "V2" : "V1",
                            pos[1 + i]);
        }
    }
    bool started;
    PGconn *c = cli_connect(&cfg, &started);
    if (!c) {
        return EXIT_FAIL;
    }
    struct wr_err err = {0};
    rc = EXIT_OK;
    val_schema *s[2] = {NULL, NULL};
    if (reg_schema_list(c, pos[0], pick_version, &d, &err) != 0) {
        rc = cli_fail(EXIT_FAIL, "%s", err.msg);
    }
    for (int i = 0; rc == EXIT_OK && i < 2; i++) {
        if (!d.doc[i]) {
            rc = cli_fail(EXIT_FAIL, "%s has no version %d", pos[0], d.want[i]);
        } else if (!(s[i] = val_compile(d.doc[i], NULL, &err))) {
            rc = cli_fail(EXIT_FAIL, "%s version %d does not compile: %s", pos[0], d.want[i],
                          err.msg);
        }
    }
    if (rc == EXIT_OK) {
        wr_arena *a = wr_arena_create(64 << 10, (size_t)256 << 20);
        const char *text = NULL;
        if (!a || val_compat_diff_text(s[0], s[1], a, &text) != 0) {
            rc = cli_fail(EXIT_FAIL, "schema diff: out of memory");
        } else {
            fputs(text, stdout);
        }
        wr_arena_destroy(a);
    }
    for (int i = 0; i < 2; i++) {
        val_schema_unref(s[i]);
        json_decref(d.doc[i]);
    }
    cli_disconnect(&cfg, c, started);
    return rc;
}

/* ---- `weir schema check`: versions that skipped the checks -------------------------- */

struct scan_row {
    char type[72];
    struct reg_compat_ver v;
};

struct scan {
    struct scan_row *rows;
    size_t n, cap;
    bool oom;
};

static void scan_row(const struct reg_schema_row *r, void *arg)
{
    struct scan *sc = arg;
    if (sc->oom || !r->active) {
        return;
    }
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        struct scan_row *p = realloc(sc->rows, cap * sizeof *p);
        if (!p) {
            sc->oom = true;
            return;
        }
        sc->rows = p;
        sc->cap = cap;
    }
    json_error_t je;
    json_t *doc = json_loads(r->schema, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    struct wr_err err = {0};
    struct scan_row *row = &sc->rows[sc->n++];
    snprintf(row->type, sizeof row->type, "%s", r->event_type);
    /* A row that does not compile is reported by the validity pass and never compared. */
    row->v = (struct reg_compat_ver){r->version, true, doc ? val_compile(doc, NULL, &err) : NULL};
    json_decref(doc);
}

int cli_schema_check_compat(PGconn *c, int *incompatible, struct wr_err *err)
{
    struct scan sc = {0};
    *incompatible = 0;
    int rc = reg_schema_list(c, NULL, scan_row, &sc, err);
    if (rc == 0 && sc.oom) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    struct reg_compat_ver *vers = calloc(sc.n ? sc.n : 1, sizeof *vers);
    if (rc == 0 && !vers) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sc.n && rc == 0;) {
        size_t j = i;
        while (j < sc.n && strcmp(sc.rows[j].type, sc.rows[i].type) == 0) {
            vers[j - i] = sc.rows[j].v;
            j++;
        }
        struct reg_type_info ti;
        rc = reg_type_info_get(c, sc.rows[i].type, &ti, err);
        for (size_t k = 0; k < j - i && rc == 0; k++) {
            struct reg_compat_finding f;
            rc = reg_compat_check_version(vers, j - i, k, ti.compatibility, ti.transitive, &f);
            if (rc != 0) {
                wr_err_set(err, rc, "out of memory");
            } else if (f.verdict != VAL_COMPAT_COMPATIBLE) {
                (*incompatible)++;
                printf("%s version %d: %s with version %d (mode %s%s): %s\n", sc.rows[i].type,
                       vers[k].version,
                       f.verdict == VAL_COMPAT_UNKNOWN ? "UNKNOWN" : "INCOMPATIBLE", f.against,
                       ti.compatibility, ti.transitive ? ", transitive" : "", f.summary);
            }
        }
        i = j;
    }
    for (size_t i = 0; i < sc.n; i++) {
        val_schema_unref((val_schema *)sc.rows[i].v.schema);
    }
    free(vers);
    free(sc.rows);
    return rc;
}
