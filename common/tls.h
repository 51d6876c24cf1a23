/* tls.h - HTTPS for weir's libmicrohttpd servers (the gateway, the console): a PEM
 * certificate chain and private key, checked against each other at load, served through
 * libmicrohttpd's TLS (GnuTLS on Debian) and replaced on SIGHUP without closing the
 * listening socket.
 *
 * How: the daemon gets no certificate of its own but a GnuTLS retrieve callback
 * (MHD_OPTION_HTTPS_CERT_CALLBACK) that hands each new handshake the current credentials.
 * A reload builds a complete new set first and swaps one atomic pointer, so a handshake
 * sees either the old pair or the new one, never half of each; a bad new file leaves the
 * old pair in place. GnuTLS does not copy what the callback returns, and sessions that
 * began before a swap keep using it, so replaced sets are kept until wr_tls_destroy (a
 * few KiB per reload).
 *
 * Threads: the callback runs on the server's threads; wr_tls_reload on any thread
 * (reloads are serialised). At most WR_TLS_MAX instances live in one process: GnuTLS's
 * callback carries no user pointer, so each instance takes one of a fixed set of slots.
 * Failures: wr_tls_create and wr_tls_reload return WR_EINVAL with one line naming the
 * file and the reason (unreadable, not PEM, no certificate, key does not match). */
#ifndef WEIR_TLS_H
#define WEIR_TLS_H

#include "common/buf.h"
#include "common/err.h"

#include <microhttpd.h>

#define WR_TLS_MAX 4

struct wr_tls;

/* Checks that this libmicrohttpd was built with TLS and the certificate callback;
 * WR_EINVAL with a message otherwise. wr_tls_create checks it too. */
int wr_tls_supported(struct wr_err *err);

/* Loads the certificate chain (PEM, leaf first) and the private key (PEM, unencrypted
 * PKCS#1/PKCS#8/SEC1), checks that the key belongs to the leaf certificate and logs the
 * subject and expiry. The paths are copied and re-read by wr_tls_reload. Returns NULL
 * with err set on failure. */
struct wr_tls *wr_tls_create(const char *cert_path, const char *key_path, struct wr_err *err);

/* Frees every credential set ever loaded. Call after MHD_stop_daemon. NULL is a no-op. */
void wr_tls_destroy(struct wr_tls *t);

/* Re-reads both files. On success, new handshakes use them; on failure the current pair
 * stays and err says why. Either way the outcome is counted (wr_tls_metrics). */
int wr_tls_reload(struct wr_tls *t, struct wr_err *err);

/* What a server does on SIGHUP: wr_tls_reload, logged (info when done, error when the
 * old pair stays). what names the server in the log ("gateway", "console"). t NULL: logs
 * that there is nothing to reload. */
void wr_tls_sighup(struct wr_tls *t, const char *what);

/* The libmicrohttpd start flags TLS needs (MHD_USE_TLS); 0 when t is NULL. */
unsigned wr_tls_mhd_flags(const struct wr_tls *t);

/* The libmicrohttpd options TLS needs, an array ending with MHD_OPTION_END, to pass as
 * `MHD_OPTION_ARRAY, wr_tls_mhd_options(t)` to MHD_start_daemon together with
 * wr_tls_mhd_flags(t) in the flags. With t NULL the array is empty (plain HTTP). The array
 * lives as long as t. */
const struct MHD_OptionItem *wr_tls_mhd_options(const struct wr_tls *t);

/* Appends weir_tls_reloads_total{result="ok"|"failed"} and
 * weir_tls_certificate_expiry_timestamp_seconds (the leaf served now). Nothing when t is
 * NULL. */
void wr_tls_metrics(const struct wr_tls *t, struct wr_buf *out);

#endif
