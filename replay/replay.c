/* replay.c - `weir replay` (evolution.md): rejected events back into the raw zone.
 *
 * Exactly once. Each rejected file is one unit: its lines already in the ledger are
 * skipped; the lines that now pass are written as replay files named after the rejected
 * file, a batch number and a part number (replay-<hash>-b<batch>-p<part>.jsonl.gz), then
 * recorded in `replayed_events` in one transaction. The batch is one more than the file's
 * highest recorded batch, so a run killed after its puts and before its commit writes the
 * very same names again (the put replaces them whole): nothing twice, nothing lost. A
 * later run that finds more passing lines uses the next batch and never overwrites
 * earlier replays. Concurrent runs serialise on a session advisory lock.
 *
 * The ledger rows go to Postgres from a thread of their own (ledger.c, a second
 * connection), streamed while the lines are read, and each file's transaction commits
 * there while this thread goes on with the next files: Postgres's inserts overlap the
 * reading, validating, compressing and writing instead of following them. */
#include "common/array.h"
#include "replay.h"

#include "rpl_int.h"

#include "common/arena.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "json/json.h"
#include "lake/envelope.h"
#include "registry/registry.h"

#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RPL_LOCK_KEY "7765697272706c79" /* "weirrply": the replay's advisory lock */
#define MAX_OBJECT_BYTES (128u << 20)   /* compressed rejected file held in memory */
#define MAX_LINE_BYTES (8u << 20)
#define MAX_GROUP_ERRORS 32
#define MAX_BROKEN_LOGS 20
#define COPY_CHUNK ((size_t)256 << 10) /* ledger rows handed to the writer at once */

static const char *const reason_names[] = {"schema", "unknown_event_type",
                                           "unknown_schema_version"};
#define N_REASONS 3

int rpl_reasons_parse(const char *list, unsigned *mask, struct wr_err *err)
{
    *mask = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t b = 0;
        while (b < n && p[b] == ' ') {
            b++;
        }
        size_t e = n;
        while (e > b && p[e - 1] == ' ') {
            e--;
        }
        int found = -1;
        for (int i = 0; i < N_REASONS; i++) {
            if (e - b == strlen(reason_names[i]) && memcmp(p + b, reason_names[i], e - b) == 0) {
                found = i;
            }
        }
        if (found < 0) {
            return wr_err_set(err, WR_EINVAL,
                              "--reason: '%.*s' is not schema, unknown_event_type or "
                              "unknown_schema_version (other rejections are never replayed)",
                              (int)(e - b), p + b);
        }
        *mask |= 1u << found;
        p += n + (p[n] == ',');
    }
    if (!*mask) {
        return wr_err_set(err, WR_EINVAL, "--reason: empty");
    }
    return 0;
}

/* ---- report groups ------------------------------------------------------------------- */

struct errcount {
    char key[300]; /* instance_path " " keyword */
    char message[160];
    long long count;
};

struct group {
    char type[65];
    int reason;
    long long considered, replayed, still_rejected, already_replayed;
    struct errcount errs[MAX_GROUP_ERRORS];
    size_t nerrs;
    long long other_errors; /* past MAX_GROUP_ERRORS distinct keys */
};

struct groups {
    struct group *g;
    size_t n, cap;
};

static struct group *group_get(struct groups *gs, const char *t, size_t tl, int reason)
{
    for (size_t i = gs->n; i > 0; i--) {
        struct group *g = &gs->g[i - 1];
        if (g->reason == reason && strlen(g->type) == tl && memcmp(g->type, t, tl) == 0) {
            return g;
        }
    }
    if (wr_array_grow(&gs->g, &gs->cap, gs->n + 1, sizeof *gs->g, 16, 0) != 0) {
        return NULL;
    }
    struct group *g = &gs->g[gs->n++];
    memset(g, 0, sizeof *g);
    memcpy(g->type, t, tl);
    g->reason = reason;
    return g;
}

static void group_error(struct group *g, const char *path, const char *keyword, const char *msg)
{
    char key[300];
    snprintf(key, sizeof key, "%s %s", path, keyword);
    for (size_t i = 0; i < g->nerrs; i++) {
        if (strcmp(g->errs[i].key, key) == 0) {
            g->errs[i].count++;
            return;
        }
    }
    if (g->nerrs == MAX_GROUP_ERRORS) {
        g->other_errors++;
        return;
    }
    struct errcount *e = &g->errs[g->nerrs++];
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->message, sizeof e->message, "%s", msg);
    e->count = 1;
}

/* ---- one run ------------------------------------------------------------------------- */

struct part {
    char type[65];
    char dt[11], hr[3];
    int64_t hour_s; /* a second inside the hour, for lake_path_raw */
    struct wr_buf text;
    unsigned part_no;
    size_t lines;
};

struct run {
    lake_store *st;
    PGconn *pg;
    const struct rpl_opts *o;
    unsigned reasons;
    struct reg_cache reg;
    struct groups groups;
    wr_arena *arena;
    struct libdeflate_compressor *cz;
    struct wr_buf gz;
    char replayed_at[WR_RFC3339_MS_LEN + 1];
    int ctx_field; /* the stored envelope's "context" field, or -1 */
    /* the current rejected file */
    const char *key;
    char key_hash[25];
    int batch;
    int *done; /* its lines already in the ledger, ascending */
    size_t ndone, idone;
    struct part *parts;
    size_t nparts, capparts;
    size_t last_part; /* the part last asked for (< nparts when valid) */
    size_t buffered;
    rpl_ledger *ledger;     /* NULL in a dry run */
    bool copying;           /* rows of the current file went to the ledger */
    struct wr_buf copy;     /* COPY rows not yet handed over */
    struct wr_buf key_copy; /* a binary COPY row's start: field count, the file's key */
    /* totals */
    long long files, lines, broken_files, broken_lines, ignored, files_written;
    long long logged;
};

static int ledger_load(struct run *r, struct wr_err *err)
{
    const char *params[] = {r->key};
    PGresult *res = reg_exec(r->pg, PGRES_TUPLES_OK, err,
                             "SELECT line, batch FROM replayed_events WHERE rejected_file = $1"
                             " ORDER BY line",
                             1, params);
    if (!res) {
        return WR_EDB;
    }
    int n = PQntuples(res);
    free(r->done);
    r->done = n ? malloc((size_t)n * sizeof *r->done) : NULL;
    if (n && !r->done) {
        PQclear(res);
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    r->ndone = (size_t)n;
    r->idone = 0;
    r->batch = 0;
    for (int i = 0; i < n; i++) {
        r->done[i] = rpl__pg_int(PQgetvalue(res, i, 0));
        int b = rpl__pg_int(PQgetvalue(res, i, 1));
        if (b + 1 > r->batch) {
            r->batch = b + 1;
        }
    }
    PQclear(res);
    return 0;
}

static bool line_done(struct run *r, size_t line)
{
    while (r->idone < r->ndone && (size_t)r->done[r->idone] < line) {
        r->idone++;
    }
    return r->idone < r->ndone && (size_t)r->done[r->idone] == line;
}

/* Big-endian integers of COPY's binary format. */
static void be16(char *o, uint16_t v)
{
    o[0] = (char)(v >> 8);
    o[1] = (char)v;
}

static void be32(char *o, uint32_t v)
{
    o[0] = (char)(v >> 24);
    o[1] = (char)(v >> 16);
    o[2] = (char)(v >> 8);
    o[3] = (char)v;
}

static int part_flush(struct run *r, struct part *p, struct wr_err *err)
{
    if (!p->lines) {
        return 0;
    }
    size_t bound = libdeflate_gzip_compress_bound(r->cz, p->text.len);
    wr_buf_clear(&r->gz);
    if (wr_buf_reserve(&r->gz, bound) != 0) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    size_t zn = libdeflate_gzip_compress(r->cz, p->text.p, p->text.len, r->gz.p, bound);
    if (!zn) {
        return wr_err_set(err, WR_ENOMEM, "gzip failed");
    }
    char name[96], key[LAKE_PATH_MAX];
    snprintf(name, sizeof name, "replay-%s-b%d-p%u.jsonl.gz", r->key_hash, r->batch, p->part_no);
    int rc = lake_path_raw(key, sizeof key, p->type, p->hour_s, name);
    if (rc != 0) {
        return wr_err_set(err, rc, "replay: no raw key for %s", p->type);
    }
    rc = lake_store_put(r->st, key, r->gz.p, zn, err);
    if (rc != 0) {
        return rc;
    }
    WR_DEBUG("replay: wrote %s (%zu events)", key, p->lines);
    r->files_written++;
    r->buffered -= p->text.len;
    wr_buf_clear(&p->text);
    p->lines = 0;
    p->part_no++;
    return 0;
}

static int64_t hour_of(int64_t secs)
{
    return secs - ((secs % 3600) + 3600) % 3600;
}

static struct part *part_get(struct run *r, const char *t, size_t tl, int64_t secs)
{
    /* a file's lines mostly share their type and hour: the last part, without gmtime */
    if (r->last_part < r->nparts) {
        struct part *p = &r->parts[r->last_part];
        if (hour_of(p->hour_s) == hour_of(secs) && p->type[tl] == '\0' &&
            memcmp(p->type, t, tl) == 0) {
            return p;
        }
    }
    char dt[11], hr[3];
    if (lake_time_partition(secs, dt, hr) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < r->nparts; i++) {
        struct part *p = &r->parts[i];
        if (strlen(p->type) == tl && memcmp(p->type, t, tl) == 0 && strcmp(p->dt, dt) == 0 &&
            strcmp(p->hr, hr) == 0) {
            r->last_part = i;
            return p;
        }
    }
    if (wr_array_grow(&r->parts, &r->capparts, r->nparts + 1, sizeof *r->parts, 8, 0) != 0) {
        return NULL;
    }
    struct part *p = &r->parts[r->nparts++];
    memset(p, 0, sizeof *p);
    memcpy(p->type, t, tl);
    memcpy(p->dt, dt, sizeof dt);
    memcpy(p->hr, hr, sizeof hr);
    p->hour_s = secs;
    r->last_part = r->nparts - 1;
    wr_buf_init(&p->text, (size_t)1 << 40);
    return p;
}

static void parts_free(struct run *r)
{
    for (size_t i = 0; i < r->nparts; i++) {
        wr_buf_free(&r->parts[i].text);
    }
    r->nparts = 0;
    r->buffered = 0;
}

static void broken_line(struct run *r, size_t line, const char *why)
{
    r->broken_lines++;
    if (r->logged++ < MAX_BROKEN_LOGS) {
        WR_WARN("replay: broken rejected line skipped: %s line %zu: %s", r->key, line, why);
    }
}

static bool id_ok(const char *s, size_t n)
{
    if (n < 1 || n > 128) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-')) {
            return false;
        }
    }
    return true;
}

static bool is_str(const struct js_val *v)
{
    return v && v->type == JS_STRING;
}

static const struct js_val *rej_field(const struct js_val *root, int f)
{
    return js_get(root, lake_rej_fields[f].name, lake_rej_fields[f].name_len);
}

/* One rejected line. Returns 0 or an error that ends the run. */
static int do_line(struct run *r, const char *line, size_t len, size_t line_no, struct wr_err *err)
{
    wr_arena_reset(r->arena);
    struct lake_env_view view;
    struct js_error je;
    if (lake_env_parse(r->arena, line, len, &view, &je) != 0) {
        broken_line(r, line_no, je.msg);
        return 0;
    }
    const struct js_val *root = view.root;
    const struct js_val *errs = rej_field(root, LAKE_REJ_ERRORS);
    const struct js_val *src = rej_field(root, LAKE_REJ_SOURCE);
    const struct js_val *rat = rej_field(root, LAKE_REJ_RECEIVED_AT);
    const struct js_val *ev = rej_field(root, LAKE_REJ_EVENT);
    int64_t rat_us;
    if (!errs || errs->type != JS_ARRAY || !is_str(src) || !is_str(rat) ||
        !wr_time_parse_rfc3339(rat->u.s, rat->n, &rat_us)) {
        broken_line(r, line_no, "not a rejected-zone line (errors, source, received_at)");
        return 0;
    }
    /* Replayable only when every reason is one of the chosen ones. */
    int reason = -1;
    bool ok = errs->n > 0 && ev && ev->type == JS_OBJECT;
    for (uint32_t i = 0; ok && i < errs->n; i++) {
        const struct js_val *code = js_get(&errs->u.items[i], "code", 4);
        int k = -1;
        for (int j = 0; is_str(code) && j < N_REASONS; j++) {
            if (code->n == strlen(reason_names[j]) &&
                memcmp(code->u.s, reason_names[j], code->n) == 0) {
                k = j;
            }
        }
        ok = k >= 0 && (r->reasons & (1u << k));
        if (i == 0) {
            reason = k;
        }
    }
    const struct js_val *type = ok ? js_get(ev, "event_type", 10) : NULL;
    if (!ok || !is_str(type) || !reg_event_type_valid(type->u.s, type->n)) {
        r->ignored++;
        return 0;
    }
    if (r->o->event_type && (strlen(r->o->event_type) != type->n ||
                             memcmp(r->o->event_type, type->u.s, type->n) != 0)) {
        return 0;
    }
    struct group *g = group_get(&r->groups, type->u.s, type->n, reason);
    if (!g) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    g->considered++;
    if (line_done(r, line_no)) {
        g->already_replayed++;
        return 0;
    }
    const struct js_val *sv = js_get(ev, "schema_version", 14);
    const struct js_val *id = js_get(ev, "event_id", 8);
    const struct js_val *occ = js_get(ev, "occurred_at", 11);
    const struct js_val *payload = js_get(ev, "payload", 7);
    uint32_t known = 1 + (sv != NULL) + (id != NULL) + (occ != NULL) + (payload != NULL);
    if ((sv && (sv->type != JS_INT || sv->u.i < 1)) ||
        (id && !(is_str(id) && id_ok(id->u.s, id->n))) || (occ && !is_str(occ)) || !payload ||
        known != ev->n) {
        g->still_rejected++;
        group_error(g, "", "envelope", "the event's envelope is not valid");
        return 0;
    }
    const val_schema *s = NULL;
    int resolved = 0;
    int res =
        rpl__resolve(&r->reg, type->u.s, type->n, sv ? sv->u.i : 0, r->o->latest, &s, &resolved);
    if (res == RES_UNKNOWN_TYPE) {
        g->still_rejected++;
        group_error(g, "/event_type", "unknown_event_type", "no active schema for this event type");
        return 0;
    }
    if (res == RES_UNKNOWN_VERSION) {
        g->still_rejected++;
        group_error(g, "/schema_version", "unknown_schema_version",
                    "no active schema version with this number");
        return 0;
    }
    if (!val_is_valid(s, payload)) {
        struct val_result vr;
        g->still_rejected++;
        if (val_validate(s, payload, r->arena, 1, &vr) == 0 && vr.n_errors) {
            char path[260];
            snprintf(path, sizeof path, "/payload%s", vr.errors[0].instance_path);
            group_error(g, path, vr.errors[0].keyword, vr.errors[0].message);
        } else {
            group_error(g, "/payload", "", "the payload is not valid");
        }
        return 0;
    }
    /* It passes today. */
    g->replayed++;
    if (r->o->dry_run) {
        return 0;
    }
    char derived[3 + 40 + 1];
    const char *idp;
    size_t idn;
    if (id) {
        idp = id->u.s;
        idn = id->n;
    } else {
        /* The same rejected file and line derive the same id in every run. */
        char seed[LAKE_PATH_MAX + 24], hex[65];
        int sn = snprintf(seed, sizeof seed, "%s\n%zu", r->key, line_no);
        wr_sha256_hex(seed, (size_t)sn, hex);
        snprintf(derived, sizeof derived, "rp-%.40s", hex);
        idp = derived;
        idn = strlen(derived);
    }
    int64_t secs = rat_us >= 0 ? rat_us / 1000000 : -((-rat_us + 999999) / 1000000);
    struct part *p = part_get(r, type->u.s, type->n, secs);
    if (!p) {
        return wr_err_set(err, WR_ENOMEM, "replay: no partition for received_at %.*s", (int)rat->n,
                          rat->u.s);
    }
    struct lake_env_rec rec;
    memset(&rec, 0, sizeof rec);
    lake_env_set_str(&rec, LAKE_ENV_EVENT_TYPE, type->u.s, type->n);
    lake_env_set_int(&rec, LAKE_ENV_SCHEMA_VERSION, resolved);
    lake_env_set_str(&rec, LAKE_ENV_EVENT_ID, idp, idn);
    if (occ) {
        lake_env_set_str(&rec, LAKE_ENV_OCCURRED_AT, occ->u.s, occ->n);
    }
    lake_env_set_str(&rec, LAKE_ENV_RECEIVED_AT, rat->u.s, rat->n);
    lake_env_set_str(&rec, LAKE_ENV_SOURCE, src->u.s, src->n);
    lake_env_set_str(&rec, LAKE_ENV_REPLAYED_AT, r->replayed_at, WR_RFC3339_MS_LEN);
    lake_env_set_str(&rec, LAKE_ENV_PAYLOAD, line + payload->src_off, payload->src_len);
    const struct js_val *ctx = r->ctx_field >= 0 ? js_get(root, "context", 7) : NULL;
    if (ctx) {
        lake_env_set_str(&rec, r->ctx_field, line + ctx->src_off, ctx->src_len);
    }
    size_t before = p->text.len;
    if (lake_env_write(&p->text, &rec) != 0 || wr_buf_putc(&p->text, '\n') != 0) {
        return wr_err_set(err, WR_ENOMEM, "replay: out of memory for a line");
    }
    p->lines++;
    r->buffered += p->text.len - before;
    /* The ledger row, in COPY's binary format (Postgres parses no text): the key (made
     * once per file), the line, the id, the batch. replayed_at is the column's default,
     * now(): the transaction's time. */
    if (line_no > INT32_MAX) {
        return wr_err_set(err, WR_ELIMIT, "replay: %s has more than 2^31 lines", r->key);
    }
    char num[14];
    be32(num, 4);
    be32(num + 4, (uint32_t)line_no);
    be32(num + 8, (uint32_t)idn);
    int rc = wr_buf_append(&r->copy, r->key_copy.p, r->key_copy.len);
    rc |= wr_buf_append(&r->copy, num, 12);
    rc |= wr_buf_append(&r->copy, idp, idn);
    be32(num, 4);
    be32(num + 4, (uint32_t)r->batch);
    rc |= wr_buf_append(&r->copy, num, 8);
    if (rc != 0) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    r->copying = true;
    if (r->copy.len > COPY_CHUNK) {
        rc = rpl__ledger_rows(r->ledger, r->copy.p, r->copy.len, err);
        wr_buf_clear(&r->copy);
        if (rc != 0) {
            return rc;
        }
    }
    if (r->buffered > r->o->flush_bytes) {
        for (size_t i = 0; i < r->nparts; i++) {
            if ((rc = part_flush(r, &r->parts[i], err)) != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* Ends the current file: its last parts, then (once they are all put) its ledger commit,
 * which the ledger's thread runs while this one goes on. */
static int file_finish(struct run *r, struct wr_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->nparts; i++) {
        rc = part_flush(r, &r->parts[i], err);
    }
    if (r->copying) {
        if (rc == 0) {
            rc = rpl__ledger_rows(r->ledger, r->copy.p, r->copy.len, err);
        }
        if (rc == 0) {
            rc = rpl__ledger_commit(r->ledger, r->key, err);
        } else {
            struct wr_err ignore = {0};
            rpl__ledger_abort(r->ledger, &ignore);
        }
        r->copying = false;
    }
    parts_free(r);
    wr_buf_clear(&r->copy);
    return rc;
}

static int do_file(struct run *r, const char *key, struct wr_buf *obj, struct wr_err *err)
{
    r->key = key;
    r->files++;
    unsigned char h[32];
    wr_sha256(key, strlen(key), h);
    wr_hex(h, 12, r->key_hash);
    int rc = ledger_load(r, err);
    if (rc != 0) {
        return rc;
    }
    /* a binary COPY row begins: 4 fields, the key's length, the key */
    char head[6];
    be16(head, 4);
    be32(head + 2, (uint32_t)strlen(key));
    wr_buf_clear(&r->key_copy);
    if (wr_buf_append(&r->key_copy, head, 6) != 0 ||
        wr_buf_append(&r->key_copy, key, strlen(key)) != 0) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    wr_buf_clear(obj);
    rc = lake_store_get(r->st, key, obj, err);
    if (rc == WR_ENOENT) {
        return 0; /* gone since the listing */
    }
    if (rc == WR_ELIMIT) {
        r->broken_files++;
        WR_WARN("replay: rejected file skipped: %s: larger than %u MiB compressed", key,
                MAX_OBJECT_BYTES >> 20);
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    struct rpl_lines lr;
    if (rpl_lines_open(&lr, obj->p, obj->len, MAX_LINE_BYTES) != 0) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    const char *p;
    size_t n;
    int lrc;
    while ((lrc = rpl_lines_next(&lr, &p, &n)) == 1) {
        r->lines++;
        if ((rc = do_line(r, p, n, lr.line_no, err)) != 0) {
            break;
        }
    }
    if (rc == 0 && lrc < 0) {
        if (!lr.broken) {
            rc = wr_err_set(err, WR_ENOMEM, "out of memory");
        } else {
            r->broken_files++;
            WR_WARN("replay: broken gzip in rejected file %s after line %zu: the rest is skipped",
                    key, lr.line_no);
        }
    }
    if (lr.too_long) {
        r->broken_lines += (long long)lr.too_long;
        WR_WARN("replay: %zu lines longer than %u MiB skipped in %s", lr.too_long,
                MAX_LINE_BYTES >> 20, key);
    }
    rpl_lines_close(&lr);
    int frc = file_finish(r, err);
    return rc ? rc : frc;
}

struct keylist {
    char **k;
    size_t n, cap;
    int64_t lo_s, hi_s; /* hour starts accepted */
};

static int collect(void *arg, const char *key, uint64_t size)
{
    (void)size;
    struct keylist *kl = arg;
    /* rejected/dt=YYYY-MM-DD/hr=HH/<file> */
    unsigned y, m, d, hh;
    char c;
    if (sscanf(key, "rejected/dt=%4u-%2u-%2u/hr=%2u/%c", &y, &m, &d, &hh, &c) != 5 || hh > 23) {
        return 0;
    }
    int64_t hs = wr_days_from_civil(y, m, d) * 86400 + (int64_t)hh * 3600;
    if (hs < kl->lo_s || hs > kl->hi_s) {
        return 0;
    }
    if (wr_array_grow(&kl->k, &kl->cap, kl->n + 1, sizeof *kl->k, 256, 0) != 0) {
        return WR_ENOMEM;
    }
    if (!(kl->k[kl->n] = strdup(key))) {
        return WR_ENOMEM;
    }
    kl->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int report_json(struct run *r, struct wr_buf *out)
{
    long long rep = 0, still = 0, already = 0, cons = 0;
    for (size_t i = 0; i < r->groups.n; i++) {
        rep += r->groups.g[i].replayed;
        still += r->groups.g[i].still_rejected;
        already += r->groups.g[i].already_replayed;
        cons += r->groups.g[i].considered;
    }
    char from[WR_RFC3339_MS_LEN + 1], to[WR_RFC3339_MS_LEN + 1];
    wr_time_format_ms(r->o->from_ms, from);
    wr_time_format_ms(r->o->to_ms, to);
    int rc = wr_buf_printf(out,
                           "{\"dry_run\":%s,\"from\":\"%s\",\"to\":\"%s\",\"files\":%lld,"
                           "\"lines\":%lld,\"broken_files\":%lld,\"broken_lines\":%lld,"
                           "\"ignored\":%lld,\"considered\":%lld,\"replayed\":%lld,"
                           "\"still_rejected\":%lld,\"already_replayed\":%lld,"
                           "\"files_written\":%lld,\"event_types\":{",
                           r->o->dry_run ? "true" : "false", from, to, r->files, r->lines,
                           r->broken_files, r->broken_lines, r->ignored, cons, rep, still, already,
                           r->files_written);
    /* Grouped by type (groups come in first-seen order; sort a copy by type, reason). */
    bool *done = calloc(r->groups.n + 1, 1);
    if (!done) {
        return WR_ENOMEM;
    }
    bool first_type = true;
    for (;;) {
        const char *t = NULL;
        for (size_t i = 0; i < r->groups.n; i++) {
            if (!done[i] && (!t || strcmp(r->groups.g[i].type, t) < 0)) {
                t = r->groups.g[i].type;
            }
        }
        if (!t) {
            break;
        }
        rc |= wr_buf_printf(out, "%s\"%s\":{", first_type ? "" : ",", t);
        first_type = false;
        bool first = true;
        for (int reason = -1; reason < N_REASONS; reason++) {
            for (size_t i = 0; i < r->groups.n; i++) {
                struct group *g = &r->groups.g[i];
                if (done[i] || g->reason != reason || strcmp(g->type, t) != 0) {
                    continue;
                }
                done[i] = true;
                rc |= wr_buf_printf(out,
                                    "%s\"%s\":{\"considered\":%lld,\"replayed\":%lld,"
                                    "\"still_rejected\":%lld,\"already_replayed\":%lld",
                                    first ? "" : ",", reason >= 0 ? reason_names[reason] : "other",
                                    g->considered, g->replayed, g->still_rejected,
                                    g->already_replayed);
                first = false;
                size_t best = SIZE_MAX;
                for (size_t e = 0; e < g->nerrs; e++) {
                    if (best == SIZE_MAX || g->errs[e].count > g->errs[best].count) {
                        best = e;
                    }
                }
                if (best != SIZE_MAX) {
                    const struct errcount *e = &g->errs[best];
                    const char *sp = strchr(e->key, ' ');
                    rc |= wr_buf_append(out, ",\"most_common_error\":{\"instance_path\":\"",
                                        sizeof ",\"most_common_error\":{\"instance_path\":\"" - 1);
                    rc |= wr_buf_json_escape(out, e->key, (size_t)(sp - e->key));
                    rc |= wr_buf_append(out, "\",\"keyword\":\"", sizeof "\",\"keyword\":\"" - 1);
                    rc |= wr_buf_json_escape(out, sp + 1, strlen(sp + 1));
                    rc |= wr_buf_append(out, "\",\"message\":\"", sizeof "\",\"message\":\"" - 1);
                    rc |= wr_buf_json_escape(out, e->message, strlen(e->message));
                    rc |= wr_buf_printf(out, "\",\"count\":%lld}", e->count);
                }
                rc |= wr_buf_putc(out, '}');
            }
        }
        rc |= wr_buf_putc(out, '}');
    }
    free(done);
    rc |= wr_buf_append(out, "}}", sizeof "}}" - 1);
    return rc ? WR_ENOMEM : 0;
}

int rpl_replay(lake_store *st, PGconn *pg, const struct rpl_opts *o, struct wr_buf *report,
               struct wr_err *err)
{
    struct rpl_opts oo = *o;
    if (!oo.reasons) {
        oo.reasons = RPL_R_DEFAULT;
    }
    if (!oo.flush_bytes) {
        oo.flush_bytes = 32u << 20;
    }
    if (!oo.level) {
        oo.level = 1; /* as the gateway's raw files (gateway/sink_int.h) */
    }
    struct run r;
    memset(&r, 0, sizeof r);
    r.st = st;
    r.pg = pg;
    r.o = &oo;
    r.reasons = oo.reasons;
    r.reg.annotate = oo.format_annotate;
    r.ctx_field = lake_env_field_find("context", 7);
    wr_time_format_ms(wr_time_now_ms(), r.replayed_at);
    wr_buf_init(&r.copy, (size_t)64 << 20);
    wr_buf_init(&r.key_copy, (size_t)8 << 10);
    wr_buf_init(&r.gz, (size_t)1 << 40);
    struct wr_buf obj;
    wr_buf_init(&obj, MAX_OBJECT_BYTES);
    struct keylist kl = {0};
    r.arena = wr_arena_create(64u << 10, (size_t)64 << 20);
    r.cz = libdeflate_alloc_compressor(oo.level);
    int rc = 0;
    if (!r.arena || !r.cz) {
        rc = wr_err_set(err, WR_ENOMEM, "out of memory");
        goto out;
    }
    if (!oo.dry_run) {
        /* One replay at a time: a second one waits here, then finds the ledger filled. */
        PGresult *lr = reg_exec(pg, PGRES_TUPLES_OK, err,
                                "SELECT pg_advisory_lock(x'" RPL_LOCK_KEY "'::bigint)", 0, NULL);
        if (!lr) {
            rc = WR_EDB;
            goto out;
        }
        PQclear(lr);
        if (!(r.ledger = rpl__ledger_start(pg, oo.test_commit_delay_ms, err))) {
            rc = err->code;
            goto out;
        }
    }
    if ((rc = rpl__cache_load(pg, &r.reg, err)) != 0) {
        goto out;
    }
    kl.lo_s = oo.from_ms / 1000 - ((oo.from_ms / 1000) % 3600 + 3600) % 3600;
    kl.hi_s = oo.to_ms / 1000;
    for (int64_t day = kl.lo_s / 86400; day * 86400 <= kl.hi_s; day++) {
        int64_t y;
        unsigned m, d;
        wr_civil_from_days(day, &y, &m, &d);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "rejected/dt=%04lld-%02u-%02u/", (long long)y, m, d);
        rc = lake_store_list(st, prefix, collect, &kl, err);
        if (rc != 0) {
            if (rc == WR_ENOMEM) {
                wr_err_set(err, WR_ENOMEM, "out of memory");
            }
            goto out;
        }
    }
    if (kl.n) {
        qsort(kl.k, kl.n, sizeof *kl.k, cmp_str);
    }
    for (size_t i = 0; i < kl.n && rc == 0; i++) {
        rc = do_file(&r, kl.k[i], &obj, err);
    }
    if (rc == 0) {
        /* the report counts what is committed: the ledger's last commits first */
        rc = rpl__ledger_finish(r.ledger, err);
        r.ledger = NULL;
    }
    if (rc == 0) {
        rc = report_json(&r, report);
        if (rc) {
            wr_err_set(err, rc, "out of memory");
        }
    }
out:
    /* every file handed over is committed (or rolled back) before the lock goes: a
     * replay waiting for it then finds the whole ledger */
    rpl__ledger_finish(r.ledger, NULL);
    if (!oo.dry_run) {
        PGresult *ur = PQexec(pg, "SELECT pg_advisory_unlock_all()");
        PQclear(ur);
    }
    for (size_t i = 0; i < kl.n; i++) {
        free(kl.k[i]);
    }
    free(kl.k);
    parts_free(&r);
    free(r.parts);
    free(r.done);
    free(r.groups.g);
    rpl__cache_free(&r.reg);
    wr_buf_free(&r.copy);
    wr_buf_free(&r.key_copy);
    wr_buf_free(&r.gz);
    wr_buf_free(&obj);
    wr_arena_destroy(r.arena);
    if (r.cz) {
        libdeflate_free_compressor(r.cz);
    }
    return rc;
}
