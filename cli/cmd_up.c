/* cmd_up.c - `weir up`: the embedded default. A private Postgres under ./var/pg, the
 * migrations, the example schemas, a demo key, then the gateway with the lake under
 * ./var/lake. A second run reuses everything. */
#include "cli.h"

#include "common/log.h"
#include "gateway/gateway.h"
#include "registry/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFF(f) offsetof(struct weir_cfg, f)

static const struct wr_opt up_opts[] = {
    {"schemas-dir", "WEIR_SCHEMAS_DIR", WR_OPT_STRING, "./schemas", OFF(schemas_dir),
     "example schemas to load, named EVENT_TYPE.vN.json"},
    {"no-gateway", NULL, WR_OPT_BOOL, "false", OFF(no_gateway),
     "set everything up, print the key, and exit instead of serving"},
    {0},
};

static const struct wr_cmd up_cmd = {
    "up", NULL,
    "The embedded default: starts a private Postgres cluster under --pg-dir (created on\n"
    "first run), migrates, loads the example schemas, prints a demo API key, and runs the\n"
    "gateway with the lake under ./var/lake. Ctrl-C stops everything.",
    {cli_common_opts, cli_lake_opts, cli_gateway_opts, up_opts}, 0, 0};

/* "page_view.v3.json" -> ("page_view", 3); false for other names. */
static bool schema_file_name(const char *name, char *type, size_t typelen, int *version)
{
    const char *v = strstr(name, ".v");
    size_t n = strlen(name);
    if (!v || n < 5 || strcmp(name + n - 5, ".json") != 0 || (size_t)(v - name) >= typelen) {
        return false;
    }
    char *end;
    long x = strtol(v + 2, &end, 10);
    if (end == v + 2 || strcmp(end, ".json") != 0 || x < 1 || x > 1000000) {
        return false;
    }
    memcpy(type, name, (size_t)(v - name));
    type[v - name] = '\0';
    *version = (int)x;
    return reg_event_type_valid(type, strlen(type));
}

static int load_schemas(PGconn *c, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return cli_fail(EXIT_FAIL, "--schemas-dir %s: %s", dir, strerror(errno));
    }
    int added = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char type[80];
        int version;
        if (!schema_file_name(e->d_name, type, sizeof type, &version)) {
            continue;
        }
        char vbuf[16];
        snprintf(vbuf, sizeof vbuf, "%d", version);
        const char *params[] = {type, vbuf};
        struct wr_err err = {0};
        PGresult *r = reg_exec(c, PGRES_TUPLES_OK, &err,
                               "SELECT 1 FROM event_schemas WHERE event_type = $1 AND version = $2",
                               2, params);
        bool present = r && PQntuples(r) > 0;
        PQclear(r);
        if (!r || present) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_error_t jerr;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            WR_ERROR("%s: line %d: %s", path, jerr.line, jerr.text);
            failed++;
            continue;
        }
        if (reg_schema_add(c, type, doc, version, NULL, &err) == 0) {
            added++;
        } else {
            WR_ERROR("%s: %s", path, err.msg);
            failed++;
        }
        json_decref(doc);
    }
    closedir(d);
    WR_INFO("example schemas: %d added, %d invalid", added, failed);
    return 0;
}

/* The demo key is kept beside the cluster (0600) so a second `weir up` can show it again. */
static int demo_key(PGconn *c, const struct weir_cfg *cfg, char *secret, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/demo.key", cfg->pg_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        bool ok = fgets(secret, (int)len, f) != NULL;
        fclose(f);
        secret[strcspn(secret, "\n")] = '\0';
        if (ok && strlen(secret) == REG_KEY_LEN) {
            return 0;
        }
    }
    struct wr_err err = {0};
    if (reg_key_create(c, "demo", "", 0, secret, &err) != 0) {
        return cli_fail(EXIT_FAIL, "demo key: %s (revoke or rename the key named demo)",
                        err.msg);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dprintf(fd, "%s\n", secret) < 0 || fsync(fd) != 0) {
        WR_WARN("could not keep the demo key in %s: %s", path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    return 0;
}

int cmd_up(int argc, char **argv)
{
    struct weir_cfg cfg = {0};
    char *pos[CLI_MAX_ARGS];
    int npos, rc = cli_parse(&up_cmd, argc - 1, argv + 1, &cfg, pos, &npos);
    if (rc >= 0) {
        return rc;
    }
    struct gw_config g;
    rc = cli_gateway_config(&cfg, "", &g);
    if (rc >= 0) {
        return rc;
    }
    if (cfg.pg_dir[0] && strchr(cfg.pg_dir, '/')) {
        /* ./var/pg needs ./var first. */
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", cfg.pg_dir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = '\0';
            if (mkdir(parent, 0755) == 0) {
                chmod(parent, 0755); /* the postgres user passes through, whatever the umask */
            } else if (errno != EEXIST) {
                return cli_fail(EXIT_FAIL, "mkdir %s: %s", parent, strerror(errno));
            }
        }
    }
    struct wr_err err = {0};
    struct reg_pgserver pg;
    const char *conninfo = cfg.database_url;
    if (!conninfo) {
        if (reg_pgserver_up(cfg.pg_dir, true, &pg, &err) != 0) {
            return cli_fail(EXIT_FAIL, "%s", err.msg);
        }
        conninfo = pg.conninfo;
    } else {
        pg.started = false;
    }
    rc = EXIT_FAIL;
    PGconn *c = reg_connect(conninfo, &err);
    char secret[REG_KEY_LEN + 8];
    if (!c) {
        cli_fail(EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    if (reg_migrate(c, NULL, &err) != 0) {
        cli_fail(EXIT_FAIL, "%s", err.msg);
        goto out;
    }
    if (load_schemas(c, cfg.schemas_dir) != 0 || demo_key(c, &cfg, secret, sizeof secret) != 0) {
        goto out;
    }
    PQfinish(c);
    c = NULL;
    printf("\nweir is ready. Demo API key (also in %s/demo.key):\n\n  %s\n\n"
           "Send an event:\n\n"
           "  curl -sS http://%s/v1/events \\\n"
           "    -H 'Authorization: Bearer %s' \\\n"
           "    -H 'Content-Type: application/json' \\\n"
           "    -d '{\"event_type\":\"page_view\",\"payload\":{\"url\":\"https://example.com/pricing\","
           "\"path\":\"/pricing\",\"anonymous_id\":\"a1b2c3d4e5\"}}'\n\n",
           cfg.pg_dir, secret, cfg.listen, secret);
    fflush(stdout);
    if (cfg.no_gateway) {
        rc = EXIT_OK;
        goto out;
    }
    g.database_url = conninfo;
    rc = gw_run(&g, &err) == 0 ? EXIT_OK : cli_fail(EXIT_FAIL, "%s", err.msg);
out:
    PQfinish(c);
    if (pg.started) {
        WR_INFO("stopping the embedded PostgreSQL");
        if (reg_pgserver_stop(pg.dir, &err) != 0) {
            cli_fail(EXIT_FAIL, "%s", err.msg);
        }
    }
    return rc;
}
