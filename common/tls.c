/* tls.c - the certificate pair behind libmicrohttpd's HTTPS, loaded, checked and swapped
 * on reload; see tls.h for the threads and the lifetime of replaced pairs. */
#include "common/tls.h"

#include "common/log.h"
#include "common/prom.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A chain longer than this is a configuration mistake, not a real-world chain. */
#define TLS_MAX_CHAIN 16
/* A PEM pair is a few KiB; a file far larger is not one. */
#define TLS_MAX_FILE (1u << 20)

/* One loaded pair: immutable once published. */
struct tls_pair {
    gnutls_pcert_st chain[TLS_MAX_CHAIN];
    unsigned n;
    gnutls_privkey_t key;
    int64_t not_after;      /* Unix seconds of the leaf's notAfter */
    struct tls_pair *older; /* replaced pairs, kept for the sessions that use them */
};

struct wr_tls {
    char *cert_path, *key_path;
    _Atomic(struct tls_pair *) cur;
    pthread_mutex_t reload_lock; /* one reload at a time; the callback never takes it */
    _Atomic uint64_t reloads_ok, reloads_failed;
    int slot;
    struct MHD_OptionItem opts[2];
};

static const struct MHD_OptionItem no_options[] = {{MHD_OPTION_END, 0, NULL}};

/* GnuTLS's retrieve callback has no user pointer: one function per slot. */
static _Atomic(struct wr_tls *) slots[WR_TLS_MAX];

static int retrieve(int slot, gnutls_pcert_st **pcert, unsigned *n, gnutls_privkey_t *key)
{
    struct wr_tls *t = atomic_load(&slots[slot]);
    struct tls_pair *p = t ? atomic_load(&t->cur) : NULL;
    if (!p) {
        return -1; /* the handshake fails; cannot happen while the daemon runs */
    }
    *pcert = p->chain;
    *n = p->n;
    *key = p->key;
    return 0;
}

#define TLS_SLOT_FN(i)                                                                             \
    static int retrieve_##i(gnutls_session_t s, const gnutls_datum_t *rdn, int nrdn,               \
                            const gnutls_pk_algorithm_t *algos, int nalgos,                        \
                            gnutls_pcert_st **pcert, unsigned *n, gnutls_privkey_t *key)           \
    {                                                                                              \
        (void)s, (void)rdn, (void)nrdn, (void)algos, (void)nalgos;                                 \
        return retrieve(i, pcert, n, key);                                                         \
    }
TLS_SLOT_FN(0)
TLS_SLOT_FN(1)
TLS_SLOT_FN(2)
TLS_SLOT_FN(3)
static gnutls_certificate_retrieve_function2 *const slot_fns[WR_TLS_MAX] = {retrieve_0, retrieve_1,
                                                                            retrieve_2, retrieve_3};

int wr_tls_supported(struct wr_err *err)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
        MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
        return wr_err_set(err, WR_EINVAL,
                          "this libmicrohttpd was built without TLS (or without its "
                          "certificate callback): --tls-cert cannot be served");
    }
    return 0;
}

/* The base name of a path, for messages that must fit one line. */
static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

static int read_pem(const char *what, const char *path, gnutls_datum_t *d, struct wr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return wr_err_set(err, WR_EINVAL, "%s %s: %s", what, path, strerror(errno));
    }
    unsigned char *p = malloc(TLS_MAX_FILE + 1);
    size_t len = p ? fread(p, 1, TLS_MAX_FILE + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!p) {
        return wr_err_set(err, WR_ENOMEM, "out of memory");
    }
    if (bad || len == 0 || len > TLS_MAX_FILE) {
        free(p);
        return wr_err_set(err, WR_EINVAL, "%s %s: %s", what, path,
                          bad        ? "read error"
                          : len == 0 ? "empty file"
                                     : "larger than 1 MiB");
    }
    d->data = p;
    d->size = (unsigned)len;
    return 0;
}

static void pair_free(struct tls_pair *p)
{
    while (p) {
        struct tls_pair *older = p->older;
        for (unsigned i = 0; i < p->n; i++) {
            gnutls_pcert_deinit(&p->chain[i]);
        }
        gnutls_privkey_deinit(p->key);
        free(p);
        p = older;
    }
}

/* The SHA-256 key id of a public key; 0, or a GnuTLS error. */
static int key_id(gnutls_pubkey_t pub, unsigned char id[32])
{
    size_t len = 32;
    return gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id, &len);
}

/* The leaf's subject and notAfter, for the log line and the expiry metric. */
static void describe(const struct tls_pair *p, char *subject, size_t cap, int64_t *not_after)
{
    gnutls_x509_crt_t crt;
    snprintf(subject, cap, "?");
    *not_after = 0;
    if (gnutls_x509_crt_init(&crt) < 0) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &p->chain[0].cert, GNUTLS_X509_FMT_DER) >= 0) {
        gnutls_datum_t dn = {0};
        if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
            snprintf(subject, cap, "%.*s", (int)dn.size, (const char *)dn.data);
            gnutls_free(dn.data);
        }
        time_t t = gnutls_x509_crt_get_expiration_time(crt);
        *not_after = t == (time_t)-1 ? 0 : (int64_t)t;
    }
    gnutls_x509_crt_deinit(crt);
}

static struct tls_pair *pair_load(const char *cert_path, const char *key_path, struct wr_err *err)
{
    gnutls_datum_t cert = {0}, key = {0};
    struct tls_pair *p = calloc(1, sizeof *p);
    gnutls_pubkey_t pub = NULL;
    int rc;
    if (!p) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        goto fail;
    }
    if (read_pem("--tls-cert", cert_path, &cert, err) != 0 ||
        read_pem("--tls-key", key_path, &key, err) != 0) {
        goto fail;
    }
    p->n = TLS_MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(p->chain, &p->n, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || p->n == 0) {
        p->n = 0;
        wr_err_set(err, WR_EINVAL, "--tls-cert %s: no PEM certificate (%s)", base(cert_path),
                   rc < 0 ? gnutls_strerror(rc) : "none found");
        goto fail;
    }
    if ((rc = gnutls_privkey_init(&p->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        wr_err_set(err, WR_EINVAL, "--tls-key %s: no PEM private key (%s)", base(key_path),
                   gnutls_strerror(rc));
        goto fail;
    }
    unsigned char a[32], b[32];
    if ((rc = gnutls_pubkey_init(&pub)) < 0 ||
        (rc = gnutls_pubkey_import_privkey(pub, p->key, 0, 0)) < 0 || (rc = key_id(pub, a)) < 0 ||
        (rc = key_id(p->chain[0].pubkey, b)) < 0) {
        wr_err_set(err, WR_EINVAL, "--tls-key %s: %s", base(key_path), gnutls_strerror(rc));
        goto fail;
    }
    if (memcmp(a, b, sizeof a) != 0) {
        wr_err_set(err, WR_EINVAL,
                   "--tls-key %s does not match the first certificate of --tls-cert %s",
                   base(key_path), base(cert_path));
        goto fail;
    }
    char subject[8];
    describe(p, subject, sizeof subject, &p->not_after);
    goto out;
fail:
    pair_free(p);
    p = NULL;
out:
    gnutls_pubkey_deinit(pub);
    /* The key file's bytes are a secret: not left in freed memory. */
    if (key.data) {
        memset(key.data, 0, key.size);
    }
    free(cert.data);
    free(key.data);
    return p;
}

static void pair_log(const char *verb, const struct tls_pair *p, const char *path)
{
    char subject[200];
    int64_t not_after;
    describe(p, subject, sizeof subject, &not_after);
    time_t na = (time_t)not_after;
    struct tm tm;
    char when[32] = "?";
    if (not_after && gmtime_r(&na, &tm)) {
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    WR_INFO("tls: %s %s (%u certificate%s; subject %s; expires %s)", verb, path, p->n,
            p->n == 1 ? "" : "s", subject, when);
    if (not_after && not_after < (int64_t)time(NULL)) {
        WR_WARN("tls: the certificate in %s expired at %s; clients will refuse it", path, when);
    }
}

struct wr_tls *wr_tls_create(const char *cert_path, const char *key_path, struct wr_err *err)
{
    if (wr_tls_supported(err) != 0) {
        return NULL;
    }
    struct wr_tls *t = calloc(1, sizeof *t);
    if (!t) {
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    t->slot = -1;
    t->cert_path = strdup(cert_path);
    t->key_path = strdup(key_path);
    if (!t->cert_path || !t->key_path || pthread_mutex_init(&t->reload_lock, NULL) != 0) {
        free(t->cert_path);
        free(t->key_path);
        free(t);
        wr_err_set(err, WR_ENOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < WR_TLS_MAX && t->slot < 0; i++) {
        struct wr_tls *none = NULL;
        if (atomic_compare_exchange_strong(&slots[i], &none, t)) {
            t->slot = i;
        }
    }
    struct tls_pair *p = NULL;
    if (t->slot < 0) {
        wr_err_set(err, WR_ELIMIT, "more than %d TLS servers in one process", WR_TLS_MAX);
    } else {
        p = pair_load(cert_path, key_path, err);
    }
    if (!p) {
        wr_tls_destroy(t);
        return NULL;
    }
    atomic_store(&t->cur, p);
    pair_log("serving", p, cert_path);
    /* A function pointer travels in the option array's void pointer (MHD reads it back
     * as one); POSIX guarantees the two have the same representation. */
    _Static_assert(sizeof(void *) == sizeof slot_fns[0], "function pointers fit void *");
    void *fn;
    memcpy(&fn, &slot_fns[t->slot], sizeof fn);
    t->opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, fn};
    t->opts[1] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return t;
}

void wr_tls_destroy(struct wr_tls *t)
{
    if (!t) {
        return;
    }
    if (t->slot >= 0) {
        atomic_store(&slots[t->slot], NULL);
    }
    pair_free(atomic_load(&t->cur));
    pthread_mutex_destroy(&t->reload_lock);
    free(t->cert_path);
    free(t->key_path);
    free(t);
}

int wr_tls_reload(struct wr_tls *t, struct wr_err *err)
{
    pthread_mutex_lock(&t->reload_lock);
    struct tls_pair *p = pair_load(t->cert_path, t->key_path, err);
    if (p) {
        p->older = atomic_load(&t->cur);
        atomic_store(&t->cur, p);
        atomic_fetch_add(&t->reloads_ok, 1);
        pair_log("reloaded", p, t->cert_path);
    } else {
        atomic_fetch_add(&t->reloads_failed, 1);
    }
    pthread_mutex_unlock(&t->reload_lock);
    return p ? 0 : err->code;
}

void wr_tls_sighup(struct wr_tls *t, const char *what)
{
    if (!t) {
        WR_INFO("%s: SIGHUP: no --tls-cert, nothing to reload", what);
        return;
    }
    struct wr_err err = {0};
    if (wr_tls_reload(t, &err) != 0) {
        WR_ERROR("%s: SIGHUP: the TLS certificate was not reloaded, the previous one stays: %s",
                 what, err.msg);
    }
}

unsigned wr_tls_mhd_flags(const struct wr_tls *t)
{
    return t ? (unsigned)MHD_USE_TLS : 0u;
}

const struct MHD_OptionItem *wr_tls_mhd_options(const struct wr_tls *t)
{
    return t ? t->opts : no_options;
}

void wr_tls_metrics(const struct wr_tls *t, struct wr_buf *out)
{
    if (!t) {
        return;
    }
    wr_prom_family(out, "weir_tls_reloads_total", WR_PROM_COUNTER,
                   "Certificate reloads on SIGHUP, by result (failed: the previous pair "
                   "stays).");
    struct wr_prom_label ok[] = {{"result", "ok"}}, failed[] = {{"result", "failed"}};
    wr_prom_sample(out, "weir_tls_reloads_total", ok, 1, atomic_load(&t->reloads_ok));
    wr_prom_sample(out, "weir_tls_reloads_total", failed, 1, atomic_load(&t->reloads_failed));
    int64_t not_after = atomic_load(&t->cur)->not_after;
    wr_prom_gauge(out, "weir_tls_certificate_expiry_timestamp_seconds",
                  "notAfter of the certificate served now, in Unix seconds.",
                  not_after > 0 ? (uint64_t)not_after : 0);
}
