/* cmd_validate.c - `weir validate`: offline validation of JSON values against a schema,
 * one result line per value, with the error objects of the HTTP API. */
#include "cli.h"

#include "common/buf.h"
#include "json/json.h"
#include "validator/validator.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OFF(f) offsetof(struct weir_cfg, f)

/* A file of instances or a referenced document may be large, but not unbounded. */
#define MAX_INPUT_BYTES (4ull << 30)

static const struct wr_opt validate_opts[] = {
    {"schema", NULL, WR_OPT_STRING, NULL, OFF(schema_file), "the JSON Schema file, required"},
    {"draft", NULL, WR_OPT_STRING, "2020-12", OFF(draft),
     "dialect of a schema without $schema: 2020-12 or 7"},
    {"format", "WEIR_FORMAT", WR_OPT_STRING, "assert", OFF(format),
     "assert: `format` is checked; annotate: it is only an annotation"},
    {"ref", NULL, WR_OPT_LIST, NULL, OFF(refs), "URI=FILE: a document $ref may name (repeatable)"},
    {"ref-dir", NULL, WR_OPT_LIST, NULL, OFF(ref_dirs),
     "URI=DIR: every *.json under DIR as URI/relative/path (repeatable)"},
    {"log-level", "WEIR_LOG_LEVEL", WR_OPT_STRING, "info", OFF(log_level),
     "debug, info, warn, error or off"},
    {0},
};

static const struct wr_cmd validate_cmd = {
    "validate", "[INSTANCES]",
    "Validates each JSON value of INSTANCES (NDJSON file, or stdin) against the schema.\n"
    "Prints {\"valid\": true} or {\"valid\": false, \"errors\": [...]} per value; exit 0 if all\n"
    "are valid, 1 if any is not, 2 if the schema itself is invalid.",
    {validate_opts, NULL}, 0, 1};

static int read_all(FILE *f, struct wr_buf *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (wr_buf_append(b, chunk, n) != 0) {
            return -1;
        }
    }
    return ferror(f) ? -1 : 0;
}

static int add_ref_file(val_resources *res, const char *uri, const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        return cli_fail(EXIT_USAGE, "--ref %s: line %d column %d: %s", path, jerr.line,
                        jerr.column, jerr.text);
    }
    struct wr_err err = {0};
    int rc = val_resources_add(res, uri, doc, &err);
    json_decref(doc);
    return rc ? cli_fail(EXIT_USAGE, "--ref %s: %s", uri, err.msg) : 0;
}

/* Adds every *.json file below dir as base + its relative path. */
static int add_ref_dir(val_resources *res, const char *base, const char *dir, int depth)
{
    if (depth > 16) {
        return cli_fail(EXIT_USAGE, "--ref-dir %s: nested too deep", dir);
    }
    DIR *d = opendir(dir);
    if (!d) {
        return cli_fail(EXIT_USAGE, "--ref-dir %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096], uri[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(uri, sizeof uri, "%s%s%s", base,
                 *base && base[strlen(base) - 1] == '/' ? "" : "/", e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = add_ref_dir(res, uri, path, depth + 1);
        } else if (strlen(e->d_name) > 5 &&
                   strcmp(e->d_name + strlen(e->d_name) - 5, ".json") == 0) {
            rc = add_ref_file(res, uri, path);
        }
    }
    closedir(d);
    return rc;
}

static void print_result(const struct val_result *r, struct wr_buf *out)
{
    wr_buf_clear(out);
    if (r->valid) {
        wr_buf_append(out, "{\"valid\": true}\n", 16);
    } else {
        wr_buf_printf(out, "{\"valid\": false, \"errors\": [");
        for (size_t i = 0; i < r->n_errors; i++) {
            const struct val_error *e = &r->errors[i];
            wr_buf_printf(out, "%s{\"code\": \"schema\", \"instance_path\": \"", i ? ", " : "");
            wr_buf_json_escape(out, e->instance_path, strlen(e->instance_path));
            wr_buf_printf(out, "\", \"schema_path\": \"");
            wr_buf_json_escape(out, e->schema_path, strlen(e->schema_path));
            wr_buf_printf(out, "\", \"keyword\": \"");
            wr_buf_json_escape(out, e->keyword, strlen(e->keyword));
            wr_buf_printf(out, "\", \"message\": \"");
            wr_buf_json_escape(out, e->message, strlen(e->message));
            wr_buf_printf(out, "\"}");
        }
        wr_buf_printf(out, "]%s}\n", r->truncated ? ", \"truncated\": true" : "");
    }
    fwrite(out->p, 1, out->len, stdout);
}

int cmd_validate(int argc, char **argv)
{
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&validate_cmd, argc - 1, argv + 1, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    if (!cfg.schema_file) {
        return cli_fail(EXIT_USAGE, "--schema: required");
    }
    struct val_opts opts = {0};
    if (strcmp(cfg.draft, "2020-12") == 0) {
        opts.default_dialect = VAL_DIALECT_2020_12;
    } else if (strcmp(cfg.draft, "7") == 0 || strcmp(cfg.draft, "07") == 0) {
        opts.default_dialect = VAL_DIALECT_DRAFT7;
    } else {
        return cli_fail(EXIT_USAGE, "--draft: '%s' is not 2020-12 or 7", cfg.draft);
    }
    if (strcmp(cfg.format, "annotate") == 0) {
        opts.format_annotate = true;
    } else if (strcmp(cfg.format, "assert") != 0) {
        return cli_fail(EXIT_USAGE, "--format: '%s' is not assert or annotate", cfg.format);
    }
    struct wr_err err = {0};
    val_resources *res = val_resources_create(&err);
    if (!res) {
        return cli_fail(EXIT_FAIL, "%s", err.msg);
    }
    rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg.refs.n + cfg.ref_dirs.n; i++) {
        bool is_dir = i >= cfg.refs.n;
        const char *spec = is_dir ? cfg.ref_dirs.v[i - cfg.refs.n] : cfg.refs.v[i];
        const char *eq = strrchr(spec, '=');
        if (!eq || eq == spec || !eq[1]) {
            rc = cli_fail(EXIT_USAGE, "--%s: '%s' is not URI=%s", is_dir ? "ref-dir" : "ref",
                          spec, is_dir ? "DIR" : "FILE");
            break;
        }
        char uri[4096];
        snprintf(uri, sizeof uri, "%.*s", (int)(eq - spec), spec);
        rc = is_dir ? add_ref_dir(res, uri, eq + 1, 0) : add_ref_file(res, uri, eq + 1);
    }
    if (rc) {
        val_resources_destroy(res);
        return rc;
    }
    json_error_t jerr;
    json_t *doc = json_load_file(cfg.schema_file, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        val_resources_destroy(res);
        return cli_fail(EXIT_USAGE, "--schema %s: line %d column %d: %s", cfg.schema_file,
                        jerr.line, jerr.column, jerr.text);
    }
    opts.resources = res;
    val_schema *schema = val_compile(doc, &opts, &err);
    json_decref(doc);
    val_resources_destroy(res);
    if (!schema) {
        return cli_fail(err.code == WR_ENOMEM ? EXIT_FAIL : EXIT_USAGE,
                        "%s: not a valid JSON Schema: %s", cfg.schema_file, err.msg);
    }
    FILE *in = stdin;
    if (npos == 1 && strcmp(pos[0], "-") != 0) {
        in = fopen(pos[0], "rb");
        if (!in) {
            val_schema_unref(schema);
            return cli_fail(EXIT_USAGE, "%s: %s", pos[0], strerror(errno));
        }
    }
    struct wr_buf input, out;
    wr_buf_init(&input, MAX_INPUT_BYTES);
    wr_buf_init(&out, 64 << 20);
    if (read_all(in, &input) != 0) {
        rc = cli_fail(EXIT_FAIL, "reading %s failed (or over 4 GiB)", npos ? pos[0] : "stdin");
    }
    if (in != stdin) {
        fclose(in);
    }
    wr_arena *arena = wr_arena_create(1 << 20, 0);
    size_t at = 0;
    bool all_valid = true;
    while (rc == 0 && arena) {
        wr_arena_reset(arena);
        struct js_val *v = NULL;
        struct js_error jerr2;
        struct js_opts jopts = {.max_depth = 1024};
        size_t start = at; /* where this value begins: the line to skip if it is broken */
        while (start < input.len && (input.p[start] == ' ' || input.p[start] == '\t' ||
                                     input.p[start] == '\r' || input.p[start] == '\n')) {
            start++;
        }
        int prc = js_parse_next(arena, input.p ? input.p : "", input.len, &at, &jopts, &v, &jerr2);
        if (prc == 1) {
            break;
        }
        if (prc != 0) {
            all_valid = false;
            wr_buf_clear(&out);
            wr_buf_printf(&out, "{\"valid\": false, \"errors\": [{\"code\": \"invalid_json\", "
                          "\"message\": \"");
            char msg[200];
            snprintf(msg, sizeof msg, "%s at line %u column %u", jerr2.msg, jerr2.line,
                     jerr2.column);
            wr_buf_json_escape(&out, msg, strlen(msg));
            wr_buf_printf(&out, "\"}]}\n");
            fwrite(out.p, 1, out.len, stdout);
            /* Go on at the line after the one the broken value began on (its error may
             * only show on a later line); a broken value on the last line stops here. */
            const char *nl = memchr(input.p + start, '\n', input.len - start);
            if (!nl) {
                break;
            }
            at = (size_t)(nl - input.p) + 1;
            continue;
        }
        struct val_result r;
        if (val_validate(schema, v, arena, 100, &r) != 0) {
            rc = cli_fail(EXIT_FAIL, "out of memory");
            break;
        }
        all_valid &= r.valid;
        print_result(&r, &out);
    }
    if (!arena) {
        rc = cli_fail(EXIT_FAIL, "out of memory");
    }
    wr_arena_destroy(arena);
    wr_buf_free(&input);
    wr_buf_free(&out);
    val_schema_unref(schema);
    if (fflush(stdout) != 0 && rc == 0) {
        rc = cli_fail(EXIT_FAIL, "writing the results failed");
    }
    return rc ? rc : (all_valid ? EXIT_OK : EXIT_FAIL);
}
