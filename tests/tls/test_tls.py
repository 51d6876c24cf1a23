#!/usr/bin/env python3
"""`weir gateway --tls-cert --tls-key` (issue 16, item 4): HTTPS with a certificate made
by `openssl req -x509` at test time, verified by the client; plain HTTP on the TLS port
fails cleanly; SIGHUP swaps in a new certificate (new CN, new serial, another key type)
for new connections while the process and its open connections go on; a broken file on
SIGHUP keeps the previous pair and is counted; bad option combinations exit 2.
Postgres: a database of the fixture cluster (tests/pg/pg.cmake)."""

import gzip
import http.client
import os
import shutil
import subprocess
import ssl
import sys
import time

import tlslib
from tlslib import E, tg
from test_gateway import assert_eq, assert_true, wait_until

CERTS = os.path.join(E.tmp, "certs")
LIVE_CERT, LIVE_KEY = os.path.join(CERTS, "live-cert.pem"), os.path.join(CERTS, "live-key.pem")


def install(cert, key):
    """Replaces the files the gateway reads, each by a rename (as certbot's deploy does)."""
    for src, dst in [(cert, LIVE_CERT), (key, LIVE_KEY)]:
        shutil.copyfile(src, dst + ".new")
        os.replace(dst + ".new", dst)


def https(cafile, timeout=10):
    ctx = ssl.create_default_context(cafile=cafile)
    return http.client.HTTPSConnection("127.0.0.1", E.port, timeout=timeout, context=ctx)


def metric(name, labels=""):
    st, _, _, data = E.request("GET", "/metrics", key=None, conn=https(A[0]) if not ROTATED else https(B[0]))
    assert_eq(st, 200, "metrics")
    for line in data.decode().splitlines():
        if line.startswith(name + labels + " "):
            return int(float(line.split()[-1]))
    return None


def in_raw_zone(marker):
    n = 0
    for root, _, files in os.walk(os.path.join(E.lake, "raw")):
        for f in files:
            if f.endswith(".jsonl.gz"):
                with gzip.open(os.path.join(root, f), "rt", encoding="utf-8") as fh:
                    n += sum(marker in line for line in fh)
    return n


A = B = None
ROTATED = False


def setup():
    global A, B
    tlslib.load_schemas()
    E.keys["all"] = E.weir("key", "create", "--name", "all").stdout.strip()
    A = tlslib.make_cert(os.path.join(CERTS, "a"), "weir-tls-a.test", "ec")
    B = tlslib.make_cert(os.path.join(CERTS, "b"), "weir-tls-b.test", "rsa")
    install(*A)
    E.start_gateway("--tls-cert", LIVE_CERT, "--tls-key", LIVE_KEY, env={"WEIR_LOG_LEVEL": "info"})


def test_https_post_verified_and_stored():
    marker = "tls-%d" % time.time_ns()
    st, _, body, _ = E.post(tg.event({"url": "https://example.com/" + marker, "path": "/" + marker,
                                      "anonymous_id": "anon-tls-1"}), conn=https(A[0]))
    assert_eq(st, 202, f"POST over verified HTTPS: {body}")
    wait_until("the event in the raw zone", lambda: in_raw_zone(marker) == 1, 20, step=0.1)
    assert_eq(tlslib.peer_cert(E.port), tlslib.der_of(A[0]), "the served certificate is A")
    # a client that trusts another certificate refuses the handshake
    try:
        E.request("GET", "/healthz", key=None, conn=https(B[0]))
        raise AssertionError("a client trusting only B accepted A")
    except ssl.SSLCertVerificationError:
        pass


def test_plain_http_on_the_tls_port_fails_cleanly():
    t0 = time.time()
    try:
        st = E.request("GET", "/healthz", key=None, timeout=10)[0]
        raise AssertionError(f"plain HTTP on the TLS port answered {st}")
    except (http.client.HTTPException, ConnectionError, OSError) as e:
        assert_true(not isinstance(e, TimeoutError), "closed, not left hanging")
    assert_true(time.time() - t0 < 5, "refused at once")
    st, _, _, data = E.request("GET", "/healthz", key=None, conn=https(A[0]))
    assert_eq((st, data.strip()), (200, b"ok"), "HTTPS still served after the plain request")


def test_sighup_serves_the_new_certificate():
    global ROTATED
    pid = E.proc.pid
    old = https(A[0])  # a connection opened before the swap keeps its session
    assert_eq(E.request("GET", "/healthz", key=None, conn=old)[0], 200, "before")
    install(*B)
    E.proc.send_signal(1)  # SIGHUP
    wait_until("new connections see certificate B",
               lambda: tlslib.peer_cert(E.port) == tlslib.der_of(B[0]), 10, step=0.05)
    ROTATED = True
    assert_eq(E.proc.poll(), None, "the gateway kept running")
    assert_eq(E.proc.pid, pid, "same process")
    st, _, body, _ = E.post(tg.event(), conn=https(B[0]))
    assert_eq(st, 202, f"POST verified against B: {body}")
    assert_eq(E.request("GET", "/healthz", key=None, conn=old)[0], 200,
              "the connection opened before SIGHUP still works")
    old.close()
    assert_eq(metric("weir_tls_reloads_total", '{result="ok"}'), 1, "one reload counted")
    expiry = metric("weir_tls_certificate_expiry_timestamp_seconds")
    assert_true(time.time() < expiry < time.time() + 3 * 86400, f"expiry of B: {expiry}")
    assert_true("weir-tls-b.test" in E.logtext(), "the reload is logged with the new subject")


def test_broken_files_on_sighup_keep_the_old_pair():
    before = metric("weir_tls_reloads_total", '{result="failed"}')
    # a new certificate with the old key (a half-done renewal), then a file that is no PEM
    for cert, key in [(A[0], B[1]), (os.path.join(CERTS, "garbage"), B[1])]:
        if not os.path.exists(cert):
            with open(cert, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        install(cert, key)
        before += 1
        E.proc.send_signal(1)
        wait_until("the failed reload counted",
                   lambda: metric("weir_tls_reloads_total", '{result="failed"}') == before, 10, step=0.05)
        assert_eq(tlslib.peer_cert(E.port), tlslib.der_of(B[0]), "still serving B")
        st, _, _, _ = E.post(tg.event(), conn=https(B[0]))
        assert_eq(st, 202, "POST after the failed reload")
    assert_true("the previous one stays" in E.logtext(), "the failure is logged as an error")
    install(*B)  # healthy again for the drain


def test_option_errors_exit_2():
    other = tlslib.make_cert(os.path.join(CERTS, "c"), "weir-tls-c.test", "ec")
    cases = [
        (["--tls-cert", A[0]], "--tls-key is missing"),
        (["--tls-key", A[1]], "--tls-cert is missing"),
        (["--tls-cert", A[0], "--tls-key", other[1]], "does not match"),
        (["--tls-cert", os.path.join(CERTS, "absent.pem"), "--tls-key", A[1]], "No such file"),
        (["--tls-cert", A[1], "--tls-key", A[1]], "no PEM certificate"),
        (["--tls-cert", A[0], "--tls-key", A[0]], "no PEM private key"),
    ]
    for args, want in cases:
        r = E.weir("gateway", "--listen", "127.0.0.1:0", "--spool-dir", os.path.join(E.tmp, "nospool"),
                   *args, check=False)
        assert_eq(r.returncode, 2, f"{args}: {r.stderr}")
        lines = r.stderr.strip().splitlines()
        assert_eq(len(lines), 1, f"{args}: one line: {r.stderr}")
        assert_true(want in lines[0], f"{args}: '{want}' in {lines[0]!r}")
    # the environment variables are the same options
    env_run = subprocess.run([tg.WEIR, "gateway", "--listen", "127.0.0.1:0"], capture_output=True,
                                text=True, timeout=60,
                                env=dict(E.env, WEIR_DATABASE_URL=E.db, WEIR_TLS_CERT=A[0]))
    assert_eq(env_run.returncode, 2, "WEIR_TLS_CERT alone: " + env_run.stderr)


def test_drain_after_reloads():
    rc = E.stop_gateway()
    assert_eq(rc, 0, "drained: " + E.logtext()[-1500:])
    E.start_gateway("--tls-cert", LIVE_CERT, "--tls-key", LIVE_KEY, env={"WEIR_LOG_LEVEL": "info"})
    assert_eq(tlslib.peer_cert(E.port), tlslib.der_of(B[0]), "a restart serves the files' pair")


if __name__ == "__main__":
    sys.exit(tlslib.main("tls", globals(), setup, [tlslib.OPENSSL]))
