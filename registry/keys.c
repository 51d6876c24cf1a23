/* keys.c - API keys: random secrets shown once, stored only as SHA-256. */
#include "registry/reg_int.h"

#include "common/hash.h"

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
    const char *kp = pub ? REG_PK_PREFIX : read ? REG_RK_PREFIX : REG_KEY_PREFIX;
    const char *kind = pub ? "publishable" : read ? "read" : "secret";
    size_t kpl = strlen(kp), klen = pub ? REG_PK_LEN : read ? REG_RK_LEN : REG_KEY_LEN;
    unsigned char raw[32];
    wr_random_bytes(raw, sizeof raw);
    memcpy(secret, kp, kpl);
    b64url(raw, sizeof raw, secret + kpl);
    unsigned char digest[32];
    reg_key_hash(secret, klen, digest);
    char hexdigest[67] = "\\x";
    wr_hex(digest, 32, hexdigest + 2);
    /* The prefix shows what follows the kind marker, so two keys can be told apart. */
    char prefix[16];
    size_t pfl = kpl + 7;
    memcpy(prefix, secret, pfl);
    prefix[pfl] = '\0';
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
    /* The random bytes are the key: wiped before the stack frame goes. */
    wr_cleanse(raw, sizeof raw);
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
                           " ip_rate, kind = 'read' FROM api_keys ORDER BY name",
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
