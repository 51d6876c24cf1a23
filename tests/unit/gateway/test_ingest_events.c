/* test_ingest_events.c - gateway/ingest.c's verdicts against a real registry snapshot
 * (the shared Postgres fixture, a database of its own): stored lines read back through
 * lake/envelope, statuses 202/422/403, per-reason counts, scopes, rate of rejections in
 * the rejected zone, and responses that stay valid JSON when their errors run long.
 * Skips (77) without WEIR_TEST_PG. */
#include "check.h"

#include "common/arena.h"
#include "common/clock.h"
#include "gateway/ingest.h"
#include "json/json.h"
#include "lake/envelope.h"
#include "registry/registry.h"
#include "registry/snapshot.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

static reg_snapshot *snap;
static const struct reg_key_rec *key_all, *key_scoped;
static char secret_all[REG_KEY_LEN + 1], secret_scoped[REG_KEY_LEN + 1];
static const struct gw_limits lim = {.max_events = 2000, .max_depth = 16, .max_event_bytes = 4096};

static const char *schema_text =
    "{\"type\":\"object\",\"required\":[\"n\"],\"properties\":{\"n\":{\"type\":\"integer\"},"
    "\"s\":{\"type\":\"string\",\"maxLength\":3}},\"additionalProperties\":false}";

/* Parses body and runs the verdict; the arena and response live until the next call. */
static int verdict(const char *body, const struct reg_key_rec *key, struct gw_verdict *v,
                   struct wr_buf *resp, uint64_t reasons[GW_R_COUNT])
{
    static wr_arena *a;
    wr_arena_destroy(a);
    a = wr_arena_create(65536, 256 << 20);
    struct gw_batch b;
    struct gw_parse_error pe;
    if (gw_ingest_parse(a, body, strlen(body), false, &lim, &b, &pe) != GW_PARSE_OK) {
        fprintf(stderr, "parse: %s\n", pe.message);
        return -100;
    }
    return gw_ingest_events(a, snap, key, &b, &lim, 1764633600123LL, v, resp, reasons);
}

static bool valid_json(const struct wr_buf *b)
{
    wr_arena *a = wr_arena_create(65536, 512 << 20);
    struct js_opts o = {.max_depth = 64};
    struct js_val *root;
    struct js_error e;
    bool ok = js_parse(a, b->p, b->len, &o, &root, &e) == 0;
    if (!ok) {
        fprintf(stderr, "not JSON: %s\n", e.msg);
    }
    wr_arena_destroy(a);
    return ok;
}

static void test_accepted_line(void)
{
    struct gw_verdict v;
    struct wr_buf resp;
    wr_buf_init(&resp, 1 << 20);
    CHECK_INT(verdict("{\"event_type\":\"thing\",\"event_id\":\"e-1\",\"payload\":{\"n\":\n7}}",
                      key_all, &v, &resp, NULL),
              0);
    CHECK_INT(v.status, 202);
    CHECK_INT(v.n_lines, 1);
    CHECK_STR(resp.p, "{\"accepted\":1,\"rejected\":0}");
    const struct gw_line *l = &v.lines[0];
    CHECK_INT(l->kind, GW_LINE_ACCEPTED);
    CHECK_MEM(l->event_type, l->event_type_len, "thing", 5);
    CHECK(memchr(l->p, '\n', l->len) == NULL);
    struct lake_env_str f[LAKE_ENV_NFIELDS];
    unsigned want =
        (1u << LAKE_ENV_EVENT_ID) | (1u << LAKE_ENV_SOURCE) | (1u << LAKE_ENV_RECEIVED_AT);
    CHECK_INT(lake_env_scan(l->p, l->len, want, f), (int)want);
    CHECK_MEM(f[LAKE_ENV_EVENT_ID].p, f[LAKE_ENV_EVENT_ID].len, "e-1", 3);
    CHECK_MEM(f[LAKE_ENV_SOURCE].p, f[LAKE_ENV_SOURCE].len, "all", 3);
    CHECK_MEM(f[LAKE_ENV_RECEIVED_AT].p, f[LAKE_ENV_RECEIVED_AT].len, "2025-12-02T00:00:00.123Z",
              24);
    wr_buf_free(&resp);
}

static void test_rejections_and_reasons(void)
{
    struct gw_verdict v;
    struct wr_buf resp;
    wr_buf_init(&resp, 1 << 20);
    uint64_t reasons[GW_R_COUNT] = {0};
    CHECK_INT(verdict("[{\"event_type\":\"thing\",\"payload\":{\"n\":1}},"
                      "{\"event_type\":\"thing\",\"payload\":{\"n\":\"x\"}},"
                      "{\"event_type\":\"nope\",\"payload\":{}},"
                      "{\"event_type\":\"thing\",\"payload\":{},\"extra\":1}]",
                      key_all, &v, &resp, reasons),
              0);
    CHECK_INT(v.status, 202);
    CHECK_INT(v.accepted, 1);
    CHECK_INT(v.rejected, 3);
    CHECK_INT(v.n_lines, 4);
    CHECK_INT(reasons[GW_R_SCHEMA], 1);
    CHECK_INT(reasons[GW_R_UNKNOWN_TYPE], 1);
    CHECK_INT(reasons[GW_R_ENVELOPE], 1);
    CHECK(valid_json(&resp));
    CHECK(strstr(resp.p, "\"index\":1") && strstr(resp.p, "\"code\":\"schema\""));
    for (size_t i = 1; i < v.n_lines; i++) {
        CHECK_INT(v.lines[i].kind, GW_LINE_REJECTED);
        struct wr_buf t = {(char *)v.lines[i].p, v.lines[i].len, v.lines[i].len, v.lines[i].len, 0};
        CHECK(valid_json(&t));
    }
    CHECK_INT(
        verdict("{\"event_type\":\"thing\",\"payload\":{\"n\":1.5}}", key_all, &v, &resp, NULL), 0);
    CHECK_INT(v.status, 422);
    wr_buf_free(&resp);
}

static void test_scopes(void)
{
    struct gw_verdict v;
    struct wr_buf resp;
    wr_buf_init(&resp, 1 << 20);
    CHECK_INT(
        verdict("{\"event_type\":\"thing\",\"payload\":{\"n\":1}}", key_scoped, &v, &resp, NULL),
        0);
    CHECK_INT(v.status, 403);
    CHECK(strstr(resp.p, "\"code\":\"forbidden\"") != NULL);
    wr_buf_free(&resp);
}

static void test_long_error_lists_stay_json(void)
{
    /* 2,000 events with 40 unknown members each: 32 errors apiece, about 10 MB of errors,
     * over the 8 MiB the errors list may take. The list is cut between entries. */
    struct wr_buf body;
    wr_buf_init(&body, 64 << 20);
    wr_buf_putc(&body, '[');
    for (int i = 0; i < 2000; i++) {
        wr_buf_printf(&body,
                      "%s{\"event_type\":\"thing\",\"event_id\":\"%0120d\",\"payload\":"
                      "{\"n\":1",
                      i ? "," : "", i);
        for (int k = 0; k < 40; k++) {
            wr_buf_printf(&body, ",\"unknown_member_%02d\":%d", k, k);
        }
        wr_buf_append(&body, "}}", 2);
    }
    wr_buf_putc(&body, ']');
    struct gw_verdict v;
    struct wr_buf resp;
    wr_buf_init(&resp, 64 << 20);
    CHECK_INT(verdict(body.p, key_all, &v, &resp, NULL), 0);
    CHECK_INT(v.rejected, 2000);
    CHECK(valid_json(&resp));
    CHECK(resp.len > (7u << 20) && resp.len < (9u << 20));
    /* The same with a response buffer too small for the errors: an error, never half a
     * JSON document. */
    struct wr_buf small;
    wr_buf_init(&small, 4096);
    int rc = verdict(body.p, key_all, &v, &small, NULL);
    CHECK(rc != 0 || valid_json(&small));
    wr_buf_free(&small);
    wr_buf_free(&resp);
    wr_buf_free(&body);
}

static int setup(const char *base, char *conninfo, size_t cap)
{
    PGconn *admin = PQconnectdb(base);
    if (PQstatus(admin) != CONNECTION_OK) {
        fprintf(stderr, "connect %s: %s", base, PQerrorMessage(admin));
        PQfinish(admin);
        return -1;
    }
    PQclear(PQexec(admin, "DROP DATABASE IF EXISTS t_gw_ingest"));
    PGresult *r = PQexec(admin, "CREATE DATABASE t_gw_ingest");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(admin);
    if (!ok) {
        return -1;
    }
    snprintf(conninfo, cap, "%s dbname=t_gw_ingest", base);
    struct wr_err err = {0};
    PGconn *c = reg_connect(conninfo, &err);
    json_error_t je;
    json_t *doc = json_loads(schema_text, 0, &je);
    int rc = c && doc ? reg_migrate(c, NULL, &err) : -1;
    rc = rc ? rc : reg_schema_add(c, "thing", doc, 1, NULL, &err);
    rc = rc ? rc : reg_key_create(c, "all", NULL, 0, secret_all, &err);
    rc = rc ? rc : reg_key_create(c, "scoped", "other", 0, secret_scoped, &err);
    if (rc) {
        fprintf(stderr, "setup: %s\n", err.msg);
    }
    json_decref(doc);
    PQfinish(c);
    return rc;
}

int main(void)
{
    const char *base = getenv("WEIR_TEST_PG");
    if (!base) {
        fprintf(stderr, "WEIR_TEST_PG is not set (the ctest fixture `pg` sets it)\n");
        return 77;
    }
    char conninfo[1024];
    if (setup(base, conninfo, sizeof conninfo) != 0) {
        return 1;
    }
    struct wr_err err = {0};
    struct reg_loader_opts lo = {.conninfo = conninfo};
    reg_loader *l = reg_loader_create(&lo, &err);
    if (!l || !reg_loader_wait_ready(l, 20000) || !(snap = reg_loader_acquire(l))) {
        fprintf(stderr, "no snapshot: %s\n", err.msg);
        return 1;
    }
    unsigned char sha[32];
    reg_key_hash(secret_all, strlen(secret_all), sha);
    key_all = reg_snapshot_key(snap, sha);
    reg_key_hash(secret_scoped, strlen(secret_scoped), sha);
    key_scoped = reg_snapshot_key(snap, sha);
    CHECK(key_all && key_scoped);
    if (key_all && key_scoped) {
        CHECK_RUN(test_accepted_line);
        CHECK_RUN(test_rejections_and_reasons);
        CHECK_RUN(test_scopes);
        CHECK_RUN(test_long_error_lists_stay_json);
    }
    reg_snapshot_release(snap);
    reg_loader_destroy(l);
    return CHECK_DONE();
}
