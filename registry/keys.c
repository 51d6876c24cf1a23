/* keys.c - API keys: random secrets shown once, stored only as SHA-256; rotation with a
 * grace period, live updates of scopes and rates, and expiry (docs/keys.md). */
#include "registry/reg_int.h"

#include "common/clock.h"
#include "common/hash.h"
#include "common/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool reg_key_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != '-'))) {
            return false;
        }
    }
    return true;
}

void reg_key_hash(const char *secret, size_t len, unsigned char out[32])
{
    wr_sha256(secret, len, out);
}

/* base64url without padding: the secret stays one token in headers and shells. */
static void b64url(const unsigned char *p, size_t n, char *out)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = al[v >> 18];
        out[o++] = al[(v >> 12) & 63];
        out[o++] = al[(v >> 6) & 63];
        out[o++] = al[v & 63];
    }
    if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = al[v >> 18];
        out[o++] = al[(v >> 12) & 63];
        out[o++] = al[(v >> 6) & 63];
    } else if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = al[v >> 18];
        out[o++] = al[(v >> 12) & 63];
    }
    out[o] = '\0';
}

/* A new secret: kp (the kind's marker) + 43 base64url characters of 32 random bytes,
 * into secret (strlen(kp) + 44 bytes); its SHA-256 as a bytea literal into hexdigest and
 * the characters shown by `key list` into shown. */
static void new_secret(const char *kp, char *secret, char hexdigest[67], char shown[16])
{
    size_t kpl = strlen(kp);
    unsigned char raw[32];
    wr_random_bytes(raw, sizeof raw);
    memcpy(secret, kp, kpl);
    b64url(raw, sizeof raw, secret + kpl);
    /* The random bytes are the key: wiped before the stack frame goes. */
    wr_cleanse(raw, sizeof raw);
    unsigned char digest[32];
    reg_key_hash(secret, strlen(secret), digest);
    memcpy(hexdigest, "\\x", 2);
    wr_hex(digest, 32, hexdigest + 2);
    /* The prefix shows what follows the kind marker, so two keys can be told apart. */
    size_t pfl = kpl + 7;
    memcpy(shown, secret, pfl);
    shown[pfl] = '\0';
}

/* Checks "a,b,c" against the event type pattern and renders it as a Postgres array. */
static int types_array(const char *types, char *out, size_t outlen, struct wr_err *err)
{
    size_t o = 0;
    out[o++] = '{';
    const char *p = types ? types : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        if (!reg_event_type_valid(p, n)) {
            return wr_err_set(err, WR_EINVAL, "--event-types: '%.*s' is not an event type "
                              "(^[a-z][a-z0-9_]{0,63}$)", (int)n, p);
        }
        if (o + n + 2 >= outlen) {
            return wr_err_set(err, WR_EINVAL, "--event-types: too long");
        }
        if (o > 1) {
            out[o++] = ',';
        }
        memcpy(out + o, p, n);
        o += n;
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    out[o++] = '}';
    out[o] = '\0';
    return 0;
}

/* The secret marker of each kind of key (the kinds of api_keys.kind). */
static const char *kind_prefix(const char *kind)
{
    if (strcmp(kind, "secret") == 0) {
        return REG_KEY_PREFIX;
    }
    if (strcmp(kind, "publishable") == 0) {
        return REG_PK_PREFIX;
    }
    if (strcmp(kind, "read") == 0) {
        return REG_RK_PREFIX;
    }
    return NULL;
}

/* Every kind of key: pub NULL and read false make a secret key ("weir_" + 43), pub a
 * publishable one ("weir_pk_" + 43, with its origins), read a read key ("weir_rk_" + 43);
 * secret holds REG_PK_LEN + 1 bytes at least unless the key is a secret one. */
static int key_create(PGconn *c, const char *name, const char *event_types, long long rate,
                      const struct reg_pub_opts *pub, bool read, char *secret,
                      struct wr_err *err)
{
    if (!reg_key_name_valid(name)) {
        return wr_err_set(err, WR_EINVAL, "--name: '%s' is not a key name "
                          "(letters, digits, '.', '_', '-'; at most 128)", name);
    }
    if (rate < 0 || rate > 1000000000) {
        return wr_err_set(err, WR_EINVAL, "--rate: %lld is not between 0 and 1000000000", rate);
    }
    char types[4096];
    int rc = types_array(event_types, types, sizeof types, err);
    if (rc) {
        return rc;
    }
    char origins[4096] = "{}";
    char ipratebuf[24] = "0";
    if (pub) {
        if (pub->ip_rate < 0 || pub->ip_rate > 1000000000) {
            return wr_err_set(err, WR_EINVAL, "--ip-rate: %lld is not between 0 and 1000000000",
                              pub->ip_rate);
        }
        rc = reg_origins_normalize(pub->origins, origins, sizeof origins, err);
        if (rc) {
            return rc;
        }
        snprintf(ipratebuf, sizeof ipratebuf, "%lld", pub->ip_rate);
    }
    const char *kind = pub ? "publishable" : read ? "read" : "secret";
    char hexdigest[67], prefix[16];
    new_secret(kind_prefix(kind), secret, hexdigest, prefix);
    char ratebuf[24];
    snprintf(ratebuf, sizeof ratebuf, "%lld", rate);
    const char *params[] = {name, hexdigest, prefix, types, rate > 0 ? ratebuf : NULL,
                            kind, origins,
                            pub && pub->require_origin ? "true" : "false", ipratebuf};
    PGresult *r = reg__exec(c,
                            "INSERT INTO api_keys (name, key_sha256, key_prefix, event_types,"
                            " rate_limit, kind, origins, require_origin, ip_rate)"
                            " VALUES ($1, $2::bytea, $3, $4::text[], $5::integer, $6,"
                            " $7::text[], $8::boolean, $9::integer)",
                            9, params, false, 0, -1, err);
    if (!r) {
        return WR_EDB;
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "23505") == 0) {
            rc = wr_err_set(err, WR_EINVAL, "--name: a key named '%s' exists already", name);
        } else {
            const char *m = PQresultErrorMessage(r);
            rc = wr_err_set(err, WR_EDB, "%.*s", (int)strcspn(m, "\n"), m);
        }
    }
    PQclear(r);
    return rc;
}

int reg_key_create(PGconn *c, const char *name, const char *event_types, long long rate,
                   char secret[REG_KEY_LEN + 1], struct wr_err *err)
{
    return key_create(c, name, event_types, rate, NULL, false, secret, err);
}

int reg_key_create_publishable(PGconn *c, const char *name, const char *event_types,
                               long long rate, const struct reg_pub_opts *pub,
                               char secret[REG_PK_LEN + 1], struct wr_err *err)
{
    return key_create(c, name, event_types, rate, pub, false, secret, err);
}

int reg_key_create_read(PGconn *c, const char *name, const char *event_types,
                        char secret[REG_RK_LEN + 1], struct wr_err *err)
{
    return key_create(c, name, event_types, 0, NULL, true, secret, err);
}

long long reg__pg_int(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' ? v : 0;
}

int reg_key_list(PGconn *c, void (*fn)(const struct reg_key_info *, void *), void *arg,
                 struct wr_err *err)
{
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "SELECT name, key_prefix, array_to_string(event_types, ','),"
                           " coalesce(rate_limit, 0), revoked,"
                           " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                           " kind = 'publishable', array_to_string(origins, ','), require_origin,"
                           " ip_rate, kind = 'read',"
                           " coalesce(to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
                           " coalesce(expires_at <= now(), false),"
                           " coalesce(to_char(rotated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
                           " CASE WHEN prev_valid_until > now() THEN to_char(prev_valid_until AT TIME ZONE"
                           " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') ELSE '' END"
                           " FROM api_keys ORDER BY name",
                           0, NULL);
    if (!r) {
        return WR_EDB;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        struct reg_key_info k = {
            .name = PQgetvalue(r, i, 0),
            .prefix = PQgetvalue(r, i, 1),
            .event_types = PQgetvalue(r, i, 2),
            .rate = strtoll(PQgetvalue(r, i, 3), NULL, 10),
            .revoked = PQgetvalue(r, i, 4)[0] == 't',
            .created_at = PQgetvalue(r, i, 5),
            .publishable = PQgetvalue(r, i, 6)[0] == 't',
            .origins = PQgetvalue(r, i, 7),
            .require_origin = PQgetvalue(r, i, 8)[0] == 't',
            .ip_rate = reg__pg_int(PQgetvalue(r, i, 9)),
            .read = PQgetvalue(r, i, 10)[0] == 't',
            .expires_at = PQgetvalue(r, i, 11),
            .expired = PQgetvalue(r, i, 12)[0] == 't',
            .rotated_at = PQgetvalue(r, i, 13),
            .prev_valid_until = PQgetvalue(r, i, 14),
        };
        fn(&k, arg);
    }
    PQclear(r);
    return 0;
}

int reg_key_revoke(PGconn *c, const char *name, struct wr_err *err)
{
    const char *params[] = {name};
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err,
                           "UPDATE api_keys SET revoked = true, revoked_at = coalesce(revoked_at, now())"
                           " WHERE name = $1",
                           1, params);
    if (!r) {
        return WR_EDB;
    }
    int rc = 0;
    if (strcmp(PQcmdTuples(r), "0") == 0) {
        rc = wr_err_set(err, WR_ENOENT, "no key named '%s'", name);
    }
    PQclear(r);
    return rc;
}

/* --- rotation, updates, expiry --------------------------------------------------- */

static int db_err(PGresult *r, struct wr_err *err)
{
    const char *m = PQresultErrorMessage(r);
    return wr_err_set(err, WR_EDB, "%.*s", (int)strcspn(m, "\n"), m);
}

/* The kind of key `name` into kind (16 bytes); WR_ENOENT when there is none, WR_EINVAL
 * when it is revoked (rotating or changing it would bring nothing back). */
static int key_kind(PGconn *c, const char *name, char kind[16], struct wr_err *err)
{
    if (!reg_key_name_valid(name)) {
        return wr_err_set(err, WR_ENOENT, "no key named '%s'", name);
    }
    const char *p[] = {name};
    PGresult *r = reg_exec(c, PGRES_TUPLES_OK, err,
                           "SELECT kind, revoked FROM api_keys WHERE name = $1", 1, p);
    if (!r) {
        return WR_EDB;
    }
    int rc = 0;
    if (PQntuples(r) != 1) {
        rc = wr_err_set(err, WR_ENOENT, "no key named '%s'", name);
    } else if (PQgetvalue(r, 0, 1)[0] == 't') {
        rc = wr_err_set(err, WR_EINVAL, "key '%s' is revoked", name);
    } else {
        snprintf(kind, 16, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}

int reg_key_rotate(PGconn *c, const char *name, int64_t grace_ms, char secret[REG_SECRET_MAX],
                   struct wr_err *err)
{
    if (grace_ms < 0 || grace_ms > 366LL * 86400000) {
        return wr_err_set(err, WR_EINVAL, "--grace: between 0 and 366 days");
    }
    char kind[16];
    int rc = key_kind(c, name, kind, err);
    if (rc) {
        return rc;
    }
    const char *kp = kind_prefix(kind);
    if (!kp) {
        return wr_err_set(err, WR_EINVAL, "key '%s' is of kind '%s', which this weir does not know",
                          name, kind);
    }
    char hexdigest[67], shown[16], grace[24];
    new_secret(kp, secret, hexdigest, shown);
    snprintf(grace, sizeof grace, "%lld", (long long)grace_ms);
    /* One statement: gateways see the new secret and the old one's deadline together. */
    const char *p[] = {name, hexdigest, shown, grace, kind};
    PGresult *r = reg_exec(c, PGRES_COMMAND_OK, err,
                           "UPDATE api_keys SET"
                           " prev_sha256 = CASE WHEN $4::bigint > 0 THEN key_sha256 END,"
                           " prev_prefix = CASE WHEN $4::bigint > 0 THEN key_prefix END,"
                           " prev_valid_until = CASE WHEN $4::bigint > 0"
                           "   THEN now() + $4::bigint * interval '1 millisecond' END,"
                           " key_sha256 = $2::bytea, key_prefix = $3, rotated_at = now()"
                           " WHERE name = $1 AND kind = $5 AND NOT revoked",
                           5, p);
    if (!r) {
        wr_cleanse(secret, REG_SECRET_MAX);
        return WR_EDB;
    }
    if (strcmp(PQcmdTuples(r), "1") != 0) {
        rc = wr_err_set(err, WR_EINVAL, "key '%s' was revoked or changed meanwhile; try again",
                        name);
        wr_cleanse(secret, REG_SECRET_MAX);
    }
    PQclear(r);
    return rc;
}

int reg_key_update(PGconn *c, const char *name, const struct reg_key_change *ch,
                   struct wr_err *err)
{
    char kind[16];
    int rc = key_kind(c, name, kind, err);
    if (rc) {
        return rc;
    }
    bool pub = strcmp(kind, "publishable") == 0;
    if (ch->rate > 1000000000) {
        return wr_err_set(err, WR_EINVAL, "--rate: %lld is not between 0 and 1000000000", ch->rate);
    }
    if (ch->ip_rate > 1000000000) {
        return wr_err_set(err, WR_EINVAL, "--ip-rate: %lld is not between 0 and 1000000000",
                          ch->ip_rate);
    }
    if (!pub && (ch->origins || ch->ip_rate >= 0)) {
        return wr_err_set(err, WR_EINVAL, "%s: key '%s' is a %s key; only publishable keys have "
                          "origins and a per-address rate", ch->origins ? "--origins" : "--ip-rate",
                          name, kind);
    }
    char types[4096] = "{}", origins[4096] = "{}";
    if (ch->event_types && (rc = types_array(ch->event_types, types, sizeof types, err)) != 0) {
        return rc;
    }
    if (ch->origins && (rc = reg_origins_normalize(ch->origins, origins, sizeof origins, err)) != 0) {
        return rc;
    }
    if (ch->expires == 1 && ch->expires_s <= wr_time_now_ms() / 1000) {
        return wr_err_set(err, WR_EINVAL, "--expires: that time has passed (to stop a key now, "
                          "revoke it)");
    }
    char rate[24], iprate[24], exp[24], expmode[4];
    snprintf(rate, sizeof rate, "%lld", ch->rate);
    snprintf(iprate, sizeof iprate, "%lld", ch->ip_rate);
    snprintf(exp, sizeof exp, "%lld", (long long)ch->expires_s);
    snprintf(expmode, sizeof expmode, "%d", ch->expires);
    const char *p[] = {name,
                       ch->event_types ? "t" : "f", types,
                       ch->rate >= 0 ? "t" : "f", ch->rate > 0 ? rate : NULL,
                       ch->origins ? "t" : "f", origins,
                       ch->ip_rate >= 0 ? "t" : "f", iprate,
                       expmode, exp, kind};
    PGresult *r = reg__exec(c,
                            "UPDATE api_keys SET"
                            " event_types = CASE WHEN $2::boolean THEN $3::text[] ELSE event_types END,"
                            " rate_limit = CASE WHEN $4::boolean THEN $5::integer ELSE rate_limit END,"
                            " origins = CASE WHEN $6::boolean THEN $7::text[] ELSE origins END,"
                            " ip_rate = CASE WHEN $8::boolean THEN $9::integer ELSE ip_rate END,"
                            " expires_at = CASE $10::integer WHEN 1 THEN to_timestamp($11::bigint)"
                            "   WHEN 2 THEN NULL ELSE expires_at END"
                            " WHERE name = $1 AND kind = $12 AND NOT revoked",
                            12, p, false, 0, -1, err);
    if (!r) {
        return WR_EDB;
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = db_err(r, err);
    } else if (strcmp(PQcmdTuples(r), "1") != 0) {
        rc = wr_err_set(err, WR_EINVAL, "key '%s' was revoked or changed meanwhile; try again",
                        name);
    }
    PQclear(r);
    return rc;
}

/* "N" + unit (none = s, ms, s, m, h, d) in ms, without bound beyond int64. */
static bool span_ms(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    if (n >= 2 && s[n - 1] == 'd' && s[n - 2] >= '0' && s[n - 2] <= '9') {
        char num[24];
        if (n - 1 >= sizeof num) {
            return false;
        }
        memcpy(num, s, n - 1);
        num[n - 1] = '\0';
        int64_t secs;
        if (!wr_parse_duration_ms(num, &secs) || secs / 1000 > INT64_MAX / 86400000) {
            return false;
        }
        *ms = secs / 1000 * 86400000;
        return true;
    }
    return wr_parse_duration_ms(s, ms);
}

bool reg_span_parse_ms(const char *s, int64_t *ms)
{
    int64_t v;
    if (!s || !span_ms(s, &v) || v > 366LL * 86400000) {
        return false;
    }
    *ms = v;
    return true;
}

bool reg_expiry_parse(const char *s, int64_t now_s, int64_t *at_s)
{
    if (!s || !*s) {
        return false;
    }
    if (strlen(s) >= 10 && s[4] == '-') {
        /* A date alone is its midnight, UTC. */
        char full[40];
        int n = snprintf(full, sizeof full, strlen(s) == 10 ? "%sT00:00:00Z" : "%s", s);
        int64_t us;
        if (n < 0 || (size_t)n >= sizeof full || !wr_time_parse_rfc3339(full, (size_t)n, &us)) {
            return false;
        }
        *at_s = us / 1000000;
        return true;
    }
    int64_t ms;
    if (!span_ms(s, &ms) || ms > 100LL * 366 * 86400000) {
        return false;
    }
    *at_s = now_s + (ms + 999) / 1000;
    return true;
}
