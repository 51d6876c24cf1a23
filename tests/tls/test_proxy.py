#!/usr/bin/env python3
"""The proxy guide, run (issue 16, item 4): Debian's nginx with docs/nginx.conf (only its
ports, certificate paths and server name replaced) terminating TLS in front of a plain
`weir gateway --trusted-proxies 127.0.0.1/32`. Events sent through it, with an
X-Forwarded-For chain of their own, are stored with the client's truncated address (not
nginx's); nginx keeps one upstream connection for many client connections; weir's JSON
answers pass through unchanged; HTTP/2 clients work; plain HTTP redirects with 308.
Postgres: a database of the fixture cluster (tests/pg/pg.cmake)."""

import gzip
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

import tlslib
from tlslib import E, tg
from test_gateway import assert_eq, assert_true, wait_until

CLIENT = "127.0.5.9"  # the client's own loopback address; nginx is 127.0.0.1
NG = None
CERT = None


def via_nginx(timeout=10):
    ctx = ssl.create_default_context(cafile=CERT[0])
    return http.client.HTTPSConnection("127.0.0.1", NG.https_port, timeout=timeout, context=ctx,
                                       source_address=(CLIENT, 0))


def stored(marker):
    recs = []
    for root, _, files in os.walk(os.path.join(E.lake, "raw")):
        for f in files:
            if f.endswith(".jsonl.gz"):
                with gzip.open(os.path.join(root, f), "rt", encoding="utf-8") as fh:
                    recs += [json.loads(line) for line in fh if marker in line]
    return recs


def upstream_connections():
    """Local ports of the established TCP connections to the gateway's port (nginx's
    upstream side), from /proc/net/tcp."""
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and int(remote.split(":")[1], 16) == E.port:
                ports.add(int(local.split(":")[1], 16))
    return ports


def setup():
    global NG, CERT
    tlslib.load_schemas()
    E.keys["all"] = E.weir("key", "create", "--name", "all").stdout.strip()
    CERT = tlslib.make_cert(os.path.join(E.tmp, "certs"), "weir-proxy.test")
    # nginx keeps idle upstream connections 20 s: the gateway's idle timeout must be longer
    E.start_gateway("--trusted-proxies", "127.0.0.1/32", "--connection-timeout", "30s")
    NG = tlslib.Nginx(os.path.join(E.tmp, "nginx"), E.port, *CERT)


def test_client_address_through_nginx():
    marker = "proxy-%d" % time.time_ns()
    ev = tg.event({"url": "https://example.com/" + marker, "path": "/" + marker, "anonymous_id": "anon-proxy"})
    # the client's own X-Forwarded-For (a spoof, or a hop before it): nginx appends the
    # address it saw, weir keeps the right-most address that is not a trusted proxy
    st, _, body, _ = E.post(ev, conn=via_nginx(), headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert_eq(st, 202, f"POST through nginx: {body}")
    recs = wait_until("the event in the raw zone", lambda: stored(marker), 20, step=0.1)
    assert_eq(len(recs), 1, "stored once")
    ctx = recs[0].get("context") or {}
    assert_eq(ctx.get("ip"), "127.0.5.0", f"the client's truncated address, not nginx's 127.0.0.0: {ctx}")


def test_keepalive_upstream():
    seen = set()
    for i in range(20):
        c = via_nginx()  # a new client connection each time
        st, _, body, _ = E.post(tg.event(), conn=c)
        c.close()
        assert_eq(st, 202, f"request {i}: {body}")
        now = upstream_connections()
        assert_eq(len(now), 1, f"request {i}: one idle upstream connection kept: {now}")
        seen |= now
    assert_eq(len(seen), 1, f"the 20 requests went over one upstream connection: {seen}")
    assert_true("prematurely closed" not in NG.errors(), "no upstream errors: " + NG.errors())


def test_weir_answers_pass_through():
    st, h, body, _ = E.request("POST", "/v1/events", b"{not json", conn=via_nginx(),
                               headers={"Content-Type": "application/json"})
    assert_eq(st, 400, "invalid JSON")
    assert_true(h.get("content-type", "").startswith("application/json") and isinstance(body, dict),
                f"weir's JSON error, not an nginx page: {h} {body}")
    st, _, body, _ = E.request("POST", "/v1/events", tg.event(), key=None, conn=via_nginx())
    assert_eq(st, 401, f"no key: {body}")
    st, _, _, data = E.request("GET", "/healthz", key=None, conn=via_nginx())
    assert_eq((st, data.strip()), (200, b"ok"), "healthz through nginx")


def test_http2_client():
    r = subprocess.run(["curl", "-sS", "--http2", "--cacert", CERT[0], "--interface", CLIENT,
                        "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                        "-H", "Authorization: Bearer " + E.keys["all"], "-H", "Content-Type: application/json",
                        "--data-binary", json.dumps(tg.event()),
                        f"https://127.0.0.1:{NG.https_port}/v1/events"], capture_output=True, text=True,
                       timeout=30)
    assert_eq((r.returncode, r.stdout), (0, "2 202"), "HTTP/2 POST through nginx: " + r.stderr)


def test_plain_http_redirects():
    c = http.client.HTTPConnection("127.0.0.1", NG.http_port, timeout=10)
    c.request("POST", "/v1/events", body=b"{}", headers={"Host": "localhost"})
    r = c.getresponse()
    r.read()
    assert_eq(r.status, 308, "plain HTTP: permanent redirect keeping the method")
    assert_eq(r.getheader("Location"), "https://localhost/v1/events", "to https")


if __name__ == "__main__":
    sys.exit(tlslib.main("proxy", globals(), setup, [tlslib.NGINX, tlslib.OPENSSL, "curl"],
                         cleanup=lambda: NG and NG.stop()))
