#!/usr/bin/env python3
"""End-to-end tests of the browser side of `weir gateway` (shared/spec/browser.md):
publishable keys, origins, CORS, text/plain bodies, the pixel, /v1/weir.js, and the bad
input of issue 12. The fixture is test_gateway.py's (a private Postgres cluster, a real
gateway on loopback, a file:// lake); this file adds publishable keys and restarts the
gateway with --cors-origins, --trusted-proxies and a debug log (to prove that no secret
reaches it)."""

import gzip
import hashlib
import http.client
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_gateway as tg  # noqa: E402
from test_gateway import E, assert_eq, assert_true, event, wait_until, PAGE_VIEW  # noqa: E402

SHOP = "https://shop.example.com"
BACKEND = "https://backend.example.org"
GIF_LEN = 43


def pk(name):
    return E.keys[name]


def req(method, path, body=None, headers=None, source=None, timeout=20):
    """A request without any Authorization header (a dict or list body goes as text/plain,
    as a page sends it): (status, headers, JSON or None, raw)."""
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "text/plain;charset=UTF-8")
    return E.request(method, path, body, headers=h, key=None, timeout=timeout, source=source)


def events_path(key):
    return "/v1/events?key=" + urllib.parse.quote(key, safe="")


def pixel_path(key, **params):
    q = {"key": key}
    q.update(params)
    return "/v1/p.gif?" + urllib.parse.urlencode(q)


def lake_lines(marker, zone="raw", seconds=15):
    """The stored lines holding marker in one zone, once the flusher wrote them."""
    def scan():
        out = []
        base = os.path.join(E.lake, zone)
        for root, _, files in os.walk(base):
            for f in files:
                if f.endswith(".jsonl.gz"):
                    with gzip.open(os.path.join(root, f), "rt", encoding="utf-8") as fh:
                        out += [json.loads(l) for l in fh if marker in l]
        return out
    try:
        return wait_until(f"{marker} in {zone}", scan, seconds, step=0.2)
    except AssertionError:
        return []


def cors_headers(h):
    return {k: v for k, v in h.items() if k.startswith("access-control-")}


# --- keys --------------------------------------------------------------------------------

def test_publishable_key_create_and_list():
    key = pk("web")
    assert_true(key.startswith("weir_pk_") and len(key) == 51, "publishable key shape: " + key[:10])
    assert_true(not E.keys["all"].startswith("weir_pk_") and len(E.keys["all"]) == 48, "secret shape")
    stored = E.sql("SELECT encode(key_sha256, 'hex'), kind, array_to_string(origins, ',') FROM api_keys"
                   " WHERE name = 'web'").split("|")
    assert_eq(stored[0], hashlib.sha256(key.encode()).hexdigest(), "stored as its hash only")
    assert_eq(stored[1:], ["publishable", SHOP + ",https://*.example.net"], "kind and origins")
    assert_true(key not in E.sql("SELECT row_to_json(k)::text FROM api_keys k"), "no clear key stored")
    out = E.weir("key", "list").stdout
    line = next(l for l in out.splitlines() if l.startswith("web "))
    assert_true("publishable" in line and SHOP in line, "list shows kind and origins: " + line)
    line = next(l for l in out.splitlines() if l.startswith("all "))
    assert_true(" secret " in line, "list shows secret kind: " + line)
    for args, what in [(["--origins", ""], "empty origins"), (["--origins", "shop.example.com"], "no scheme"),
                       (["--origins", "https://a.com/path"], "a path"), ([], "no origins"),
                       (["--origins", SHOP, "--ip-rate", "-1"], "negative ip rate")]:
        r = E.weir("key", "create", "--name", "bad-" + str(len(what)), "--publishable", *args, check=False)
        assert_eq(r.returncode, 2, what + ": " + r.stderr)
    r = E.weir("key", "create", "--name", "bad-secret", "--origins", SHOP, check=False)
    assert_eq(r.returncode, 2, "--origins without --publishable")


def test_read_key_refused_by_ingest():
    """A read key (console.md) is for weir console: the ingest endpoints answer 403."""
    key = E.weir("key", "create", "--name", "analyst", "--read", "--event-types", "page_view").stdout.strip()
    assert_true(key.startswith("weir_rk_") and len(key) == 51, "read key shape: " + key[:10])
    kind = E.sql("SELECT kind FROM api_keys WHERE name = 'analyst'")
    assert_eq(kind, "read", "stored kind")
    line = next(l for l in E.weir("key", "list").stdout.splitlines() if l.startswith("analyst "))
    assert_true(" read " in line, "list shows the read kind: " + line)
    hdr = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    st = wait_until("the read key is known", lambda: (lambda s: s if s != 401 else None)(
        req("POST", "/v1/events", event(), headers=hdr)[0]), 5, step=0.1)
    assert_eq(st, 403, "a read key may not send events")
    _, _, body, _ = req("POST", "/v1/events", event(), headers=hdr)
    assert_eq(body["error"], "forbidden", "error code")
    assert_true("weir console" in body["message"], "message names the console: " + body["message"])
    assert_eq(req("POST", events_path(key), event())[0], 401, "a read key in the URL")
    for args, what in [(["--publishable", "--origins", SHOP], "read and publishable"),
                       (["--rate", "5"], "read and rated")]:
        r = E.weir("key", "create", "--name", "bad-read", "--read", *args, check=False)
        assert_eq(r.returncode, 2, what + ": " + r.stderr)


# --- CORS --------------------------------------------------------------------------------

def test_preflight_allowed_and_refused():
    for origin in [SHOP, "https://a.b.example.net", BACKEND]:
        st, h, _, data = req("OPTIONS", "/v1/events", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert_eq(st, 204, "preflight from " + origin)
        assert_eq(cors_headers(h), {
            "access-control-allow-origin": origin,
            "access-control-allow-methods": "POST, GET, OPTIONS",
            "access-control-allow-headers": "Content-Type, Content-Encoding, Authorization, X-Api-Key",
            "access-control-max-age": "86400"}, "preflight headers for " + origin)
        assert_eq(h.get("vary"), "Origin", "Vary")
        assert_eq(data, b"", "no body")
    for origin in ["https://evil.example.com", "https://example.net", "null", "http://shop.example.com",
                   "https://shop.example.com:8443", "https://x.example.net.evil.com"]:
        st, h, _, _ = req("OPTIONS", "/v1/events", headers={"Origin": origin,
                                                             "Access-Control-Request-Method": "POST"})
        assert_eq(st, 403, "preflight from " + origin)
        assert_eq(cors_headers(h), {}, "no Access-Control-* for " + origin)
    st, h, _, _ = req("OPTIONS", "/v1/events")
    assert_eq((st, cors_headers(h)), (403, {}), "preflight without Origin")


def test_new_key_origin_allowed_within_a_second():
    origin = "https://fresh-%d.example.org" % time.time_ns()
    st, _, _, _ = req("OPTIONS", "/v1/events", headers={"Origin": origin})
    assert_eq(st, 403, "not yet allowed")
    E.weir("key", "create", "--name", "fresh-%d" % time.time_ns(), "--publishable", "--origins", origin)
    t0 = time.time()
    wait_until("preflight 204 for the new key's origin",
               lambda: req("OPTIONS", "/v1/events", headers={"Origin": origin})[0] == 204, 1.0, step=0.02)
    print(f"     new origin allowed after {time.time() - t0:.3f} s")


def test_cors_headers_on_every_answer_errors_included():
    ev = event(payload=dict(PAGE_VIEW))
    cases = [(events_path(pk("web")), ev, 202), (events_path("weir_pk_unknown"), ev, 401),
             (events_path(pk("web")), event(payload={"url": 1}), 422), (events_path(pk("web")), b"{", 400)]
    for path, body, want in cases:
        st, h, _, _ = req("POST", path, body, headers={"Origin": SHOP, "Content-Type": "text/plain"})
        assert_eq(st, want, path[:30])
        assert_eq(h.get("access-control-allow-origin"), SHOP, f"ACAO on {want}")
        assert_eq(h.get("vary"), "Origin", f"Vary on {want}")
        assert_true("access-control-allow-credentials" not in h, "never credentials")
    # a secret-key request from a --cors-origins page, through its backend's domain
    st, h, _, _ = req("POST", "/v1/events", ev, headers={"Origin": BACKEND,
                                                         "Authorization": "Bearer " + E.keys["all"]})
    assert_eq((st, h.get("access-control-allow-origin")), (202, BACKEND), "--cors-origins")
    st, h, _, _ = req("POST", events_path(pk("web")), ev, headers={"Origin": "https://evil.example.com"})
    assert_eq(st, 403, "origin not allowed")
    assert_eq(cors_headers(h), {}, "no CORS headers for a refused origin")


# --- publishable keys on requests ----------------------------------------------------------

def test_origin_checks():
    ev = event()
    ok = lambda h: req("POST", events_path(pk("web")), ev, headers=h)
    st, _, body, _ = ok({"Origin": "https://evil.example.com"})
    assert_eq((st, body), (403, {"error": "origin_not_allowed",
                                 "message": "this key may not be used from this origin"}), "bad Origin")
    assert_eq(ok({"Origin": "null"})[0], 403, "Origin: null (sandboxed frames, file://) is no listed origin")
    assert_eq(ok({"Origin": "null", "Referer": SHOP + "/x"})[0], 403, "Origin wins over Referer")
    assert_eq(ok({"Referer": SHOP + "/pricing?a=1"})[0], 202, "Referer when there is no Origin")
    assert_eq(ok({"Referer": "https://evil.example.com/"})[0], 403, "bad Referer")
    assert_eq(ok({"Origin": "https://deep.sub.example.net"})[0], 202, "wildcard subdomain")
    assert_eq(ok({"Origin": "https://example.net"})[0], 403, "wildcard is not the bare domain")
    # an origin longer than any we keep, whose first 255 bytes end like a listed domain
    long_origin = "https://" + "a" * (255 - len("https://") - len(".example.net")) + ".example.net.evil.com"
    assert_eq(ok({"Origin": long_origin})[0], 403, "a long origin is never cut into a listed one")
    assert_eq(ok({})[0], 202, "no Origin nor Referer: accepted (mail pixels, noscript)")
    st, _, body, _ = req("POST", events_path(pk("strict")), ev)
    assert_eq((st, body["error"]), (403, "origin_not_allowed"), "--require-origin without any")
    assert_eq(req("POST", events_path(pk("strict")), ev, headers={"Origin": SHOP})[0], 202, "strict + Origin")
    # a publishable key in a header is a key like any other (origin rules included)
    assert_eq(req("POST", "/v1/events", ev, headers={"X-Api-Key": pk("web"), "Origin": SHOP})[0], 202,
              "publishable key in X-Api-Key")


def test_secret_key_in_query_refused_and_never_logged():
    secret = E.keys["all"]
    st, h, body, _ = req("POST", events_path(secret), event(), headers={"Origin": SHOP})
    assert_eq((st, body["error"]), (401, "unauthorized"), "secret key in the query")
    assert_true("header" in body["message"], "message says where secret keys go: " + body["message"])
    assert_eq(h.get("www-authenticate"), "Bearer", "WWW-Authenticate")
    st, h, _, data = req("GET", pixel_path(secret, event_type="page_view", payload=json.dumps(PAGE_VIEW)))
    assert_eq((st, h.get("weir-result"), len(data)), (200, "unauthorized", GIF_LEN), "secret key on a pixel")
    # a revoked or unknown publishable key
    assert_eq(req("POST", events_path("weir_pk_" + "A" * 43), event())[0], 401, "unknown publishable")
    # bad percent-encoding of the key
    assert_eq(req("POST", "/v1/events?key=%zz" + pk("web")[3:], event())[0], 401, "bad escape in key")
    # the debug log (access log included) holds no key, secret or publishable
    log = open(os.path.join(E.tmp, "gateway.log"), errors="replace").read()
    assert_true("request" in log, "the access log is on")
    assert_true(secret not in log and secret[5:] not in log, "the secret key is never logged")
    assert_true(pk("web") not in log, "no key of a URL is logged")


def test_ip_rate_limit_per_client_address():
    ev = event()
    path = events_path(pk("iprate"))
    statuses = [req("POST", path, ev)[0] for _ in range(4)]
    assert_eq(statuses[:3], [202, 202, 202], "within --ip-rate 3")
    st, h, body, _ = req("POST", path, ev)
    assert_eq((st, body["error"]), (429, "rate_limited"), "over --ip-rate")
    assert_true(int(h["retry-after"]) >= 1, "Retry-After")
    # forged X-Forwarded-For from an untrusted peer: ignored, still the same address
    st, _, _, _ = req("POST", path, ev, headers={"X-Forwarded-For": "198.51.100.%d" % (time.time_ns() % 250)})
    assert_eq(st, 429, "forged X-Forwarded-For ignored")
    # another client address has its own bucket
    assert_eq(req("POST", path, ev, source="127.0.0.3")[0], 202, "another address")
    # behind the trusted proxy (127.0.0.2), the address it forwards counts
    for i in range(3):
        st, _, _, _ = req("POST", path, ev, source="127.0.0.2",
                          headers={"X-Forwarded-For": "203.0.113.%d, 127.0.0.2" % (10 + i)})
        assert_eq(st, 202, "forwarded client %d" % i)
    for _ in range(3):
        req("POST", path, ev, source="127.0.0.2", headers={"X-Forwarded-For": "203.0.113.50"})
    st, _, _, _ = req("POST", path, ev, source="127.0.0.2", headers={"X-Forwarded-For": "203.0.113.50"})
    assert_eq(st, 429, "a forwarded client over its rate")


# --- bodies a browser sends -------------------------------------------------------------------

def test_text_plain_beacon_body():
    marker = "beacon-%d" % time.time_ns()
    batch = [event(payload=dict(PAGE_VIEW, title=marker), event_id=f"{marker}-{i}") for i in range(3)]
    st, _, body, _ = req("POST", events_path(pk("web")), json.dumps(batch).encode(),
                         headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": SHOP})
    assert_eq((st, body), (202, {"accepted": 3, "rejected": 0}), "sendBeacon-style text/plain batch")
    lines = lake_lines(marker)
    assert_eq(sorted(l["event_id"] for l in lines), [f"{marker}-{i}" for i in range(3)], "stored once each")
    assert_eq({l["source"] for l in lines}, {"web"}, "source is the key's name")


def test_context_sent_by_client_is_an_envelope_rejection():
    st, _, body, _ = req("POST", events_path(pk("web")), event(context={"ip": "1.2.3.4"}))
    assert_eq(st, 422, "context from the client")
    assert_eq(body["errors"][0]["errors"][0]["code"], "envelope", "envelope rejection")
    st, h, _, _ = req("GET", pixel_path(pk("web"), event_type="page_view", payload=json.dumps(PAGE_VIEW),
                                        context="x"))
    assert_eq((st, h.get("weir-result")), (200, "rejected"), "context on a pixel")


def test_hostile_user_agents():
    for ua in ["A" * 10240, "Mozilla/5.0 \x01\x02\x7f (X11; Linux)", "\t" + "\u00e9".encode().decode("latin-1")]:
        c = http.client.HTTPConnection("127.0.0.1", E.port, timeout=10)
        c.putrequest("POST", events_path(pk("web")), skip_accept_encoding=True)
        body = json.dumps(event()).encode()
        c.putheader("User-Agent", ua.encode("latin-1"))
        c.putheader("Content-Type", "text/plain")
        c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        r.read()
        c.close()
        assert_eq(r.status, 202, "user agent of %d bytes" % len(ua))
    assert_eq(req("GET", "/healthz")[0], 200, "still serving")


def test_query_string_limits():
    big = "x" * 9000
    st, _, body, _ = req("POST", events_path(pk("web")) + "&pad=" + big, event())
    assert_eq((st, body["error"]), (413, "too_large"), "POST with a query over 8 KiB")
    st, h, _, data = req("GET", pixel_path(pk("web"), event_type="page_view", payload=json.dumps(PAGE_VIEW),
                                           pad=big))
    assert_eq((st, h.get("weir-result"), len(data)), (200, "too_large", GIF_LEN), "pixel over 8 KiB")


# --- the pixel -------------------------------------------------------------------------------

def test_pixel_accepted_and_stored():
    marker = "pixel-%d" % time.time_ns()
    payload = dict(PAGE_VIEW, title="P\u00e5 " + marker)
    st, h, _, data = req("GET", pixel_path(pk("web"), event_type="page_view", payload=json.dumps(payload),
                                           event_id=marker, schema_version="1",
                                           occurred_at="2026-11-21T10:00:00.123Z"),
                         headers={"Referer": SHOP + "/pricing"})
    assert_eq(st, 200, "pixel status")
    assert_eq(h.get("content-type"), "image/gif", "content type")
    assert_eq(h.get("cache-control"), "no-store, max-age=0", "cache control")
    assert_eq(h.get("weir-result"), "accepted", "Weir-Result")
    assert_eq(len(data), GIF_LEN, "43-byte GIF")
    assert_true(data.startswith(b"GIF89a") and data.endswith(b";"), "a GIF")
    lines = lake_lines(marker)
    assert_eq(len(lines), 1, "stored once")
    rec = lines[0]
    assert_eq((rec["event_id"], rec["schema_version"], rec["occurred_at"], rec["payload"], rec["source"]),
              (marker, 1, "2026-11-21T10:00:00.123Z", payload, "web"), "the envelope from the query")
    # the same from an <img> with an Origin-less, Referer-less request (mail, noscript)
    st, h, _, _ = req("GET", pixel_path(pk("web"), event_type="page_view", payload=json.dumps(payload)))
    assert_eq(h.get("weir-result"), "accepted", "no Origin nor Referer")


def test_pixel_outcomes():
    pv = json.dumps(PAGE_VIEW)
    marker = "pxbad-%d" % time.time_ns()
    cases = [
        (pixel_path("weir_pk_" + "B" * 43, event_type="page_view", payload=pv), {}, "unauthorized"),
        (pixel_path(pk("web"), event_type="page_view", payload=pv), {"Origin": "https://evil.example.com"},
         "forbidden"),
        (pixel_path(pk("web"), event_type="page_view", payload=pv), {"Referer": "https://evil.example.com/"},
         "forbidden"),
        (pixel_path(pk("signup-only"), event_type="page_view", payload=pv), {}, "forbidden"),
        (pixel_path(pk("web"), event_type="page_view", payload=json.dumps({"url": 5})), {}, "rejected"),
        (pixel_path(pk("web"), event_type="page_view", payload="{not json " + marker), {}, "rejected"),
        (pixel_path(pk("web"), event_type="page_view", schema_version="one", payload=pv), {}, "rejected"),
        (pixel_path(pk("web"), event_type="page_view") + "&payload=%7B" + marker + "%zz", {}, "rejected"),
        ("/v1/p.gif?event_type=page_view", {}, "unauthorized"),
    ]
    for path, headers, want in cases:
        st, h, _, data = req("GET", path, headers=headers)
        assert_eq((st, h.get("weir-result"), len(data), h.get("content-type")),
                  (200, want, GIF_LEN, "image/gif"), path[:60])
    rej = lake_lines(marker, zone="rejected")
    msgs = sorted(json.dumps(r["errors"]) for r in rej)
    assert_eq(len(rej), 2, "payload not JSON and bad percent-encoding kept in the rejected zone")
    assert_true(any("not JSON" in m for m in msgs) and any("percent-encoding" in m for m in msgs), msgs)
    assert_true(all(r["source"] == "web" and "raw" in r for r in rej), "raw text and source kept")
    assert_true(all(pk("web") not in json.dumps(r) for r in rej), "the key is never stored")
    assert_true(all(r.get("context", {}).get("ip") == "127.0.0.0" for r in rej), f"the request's context kept: {rej}")
    # rate limited: the strict ip rate key
    path = pixel_path(pk("pxrate"), event_type="page_view", payload=pv)
    results = [req("GET", path, source="127.0.0.4")[1].get("weir-result") for _ in range(3)]
    assert_eq(results, ["accepted", "rate_limited", "rate_limited"], "pixel over --ip-rate 1")
    st, _, _, _ = req("POST", "/v1/p.gif")
    assert_eq(st, 405, "POST on the pixel")
    st, _, _, _ = req("HEAD", pixel_path(pk("web"), event_type="page_view", payload=pv))
    assert_eq(st, 405, "HEAD on the pixel stores nothing")
    text = E.request("GET", "/metrics", key=None)[3].decode()
    for result, least in [("accepted", 1), ("rejected", 4), ("unauthorized", 2), ("forbidden", 3),
                          ("rate_limited", 2)]:
        m = re.search(r'^weir_pixel_requests_total\{result="%s"\} (\d+)$' % result, text, re.M)
        assert_true(m and int(m.group(1)) >= least, f"pixel {result} counted in /metrics")


def test_preflight_and_cors_on_pixel():
    st, h, _, _ = req("GET", pixel_path(pk("web"), event_type="page_view", payload=json.dumps(PAGE_VIEW)),
                      headers={"Origin": SHOP})
    assert_eq((h.get("weir-result"), h.get("access-control-allow-origin")), ("accepted", SHOP),
              "pixel answer to an allowed origin")


# --- the tracker ------------------------------------------------------------------------------

def test_tracker_script():
    st, h, _, data = req("GET", "/v1/weir.js")
    assert_eq(st, 200, "weir.js")
    assert_true(h["content-type"].startswith("text/javascript"), h["content-type"])
    assert_eq(h.get("cache-control"), "public, max-age=3600", "cache control")
    assert_true(len(data) < 4096, f"under 4 KiB as served: {len(data)}")
    etag = h.get("etag")
    assert_true(etag and etag.startswith('"') and etag.endswith('"'), f"ETag {etag}")
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gateway", "tracker",
                            "weir.js"), "rb").read()
    assert_eq(data, src, "the file of the source tree, served as is")
    for needle in [b"sendBeacon", b"keepalive", b"randomUUID", b"visibilitychange", b"pagehide", b"flush"]:
        assert_true(needle in data, needle.decode())
    st, h2, _, data = req("GET", "/v1/weir.js", headers={"If-None-Match": etag})
    assert_eq((st, data, h2.get("etag")), (304, b"", etag), "304 on If-None-Match")
    st, _, _, _ = req("GET", "/v1/weir.js", headers={"If-None-Match": '"other"'})
    assert_eq(st, 200, "another ETag gets the script")


# --- context (enrich/) ------------------------------------------------------------------------

def stored_context(headers, source=None, key=None, marker=None):
    """Sends one event (publishable key unless key is given) and returns the context of
    its stored line."""
    marker = marker or "ctx-%d" % time.time_ns()
    h = dict(headers)
    path = "/v1/events"
    if key:
        h["Authorization"] = "Bearer " + key
    else:
        path = events_path(pk("web"))
    st, _, body, _ = req("POST", path, event(payload=dict(PAGE_VIEW, title=marker)), headers=h, source=source)
    assert_eq(st, 202, f"accepted: {body}")
    lines = lake_lines(marker)
    assert_eq(len(lines), 1, "stored once")
    return lines[0]["context"]


def test_context_on_every_stored_event():
    chrome = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
    ctx = stored_context({"User-Agent": chrome, "Origin": SHOP})
    assert_eq(list(ctx), ["ip", "user_agent", "ua", "origin"], "fields in the spec's order (no geo db)")
    assert_eq(ctx["ip"], "127.0.0.0", "IPv4 truncated to /24")
    assert_eq(ctx["user_agent"], chrome, "user agent")
    assert_eq((ctx["ua"]["browser"], ctx["ua"]["os"], ctx["ua"]["device"], ctx["ua"]["bot"]),
              ("Chrome", "Linux", "desktop", False), "parsed ua")
    assert_eq(ctx["origin"], SHOP, "origin of a publishable key's request")
    ctx = stored_context({"User-Agent": "curl/8.5.0"}, key=E.keys["all"])
    assert_true("origin" not in ctx, "no origin for a secret key")
    assert_eq((ctx["ua"]["device"], ctx["ua"]["bot"]), ("bot", True), "an HTTP library is a bot")
    # the full address is in no stored line, log or metric
    log = open(os.path.join(E.tmp, "gateway.log"), errors="replace").read()
    metrics_text = E.request("GET", "/metrics", key=None)[3].decode()
    assert_true("127.0.0.1" not in metrics_text, "no full address in /metrics")
    served = [l for l in log.splitlines() if "listening on" not in l]
    assert_true(not any("127.0.0.1" in l for l in served), "no client address in the log")


def test_context_addresses_and_proxies():
    # forged X-Forwarded-For from an untrusted peer: ignored
    ctx = stored_context({"X-Forwarded-For": "198.51.100.7"})
    assert_eq(ctx["ip"], "127.0.0.0", "forged X-Forwarded-For ignored")
    # behind the trusted proxy 127.0.0.2: the right-most untrusted hop, truncated
    for xff, want in [("203.0.113.9", "203.0.113.0"), ("10.9.9.9, 198.51.100.77", "198.51.100.0"),
                      ("2001:db8:1234:5678::1", "2001:db8:1234::"),
                      ("::ffff:203.0.113.200", "203.0.113.0"),
                      ("198.51.100.1, 127.0.0.2", "198.51.100.0")]:
        ctx = stored_context({"X-Forwarded-For": xff}, source="127.0.0.2")
        assert_eq(ctx["ip"], want, f"X-Forwarded-For {xff} through the trusted proxy")
    # a client-sent context is never stored as such (envelope rejection: see above)


def test_context_hostile_user_agents():
    ctx = stored_context({"User-Agent": "A" * 10240})
    assert_eq(len(ctx["user_agent"].encode()), 512, "user agent cut to 512 bytes")
    ctx = stored_context({"User-Agent": "Mozilla/5.0 \x01\x1f\x7f x"})
    assert_true("\x01" in ctx["user_agent"] and "\x1f" in ctx["user_agent"], "control bytes kept escaped, valid JSON")


def test_context_on_rejected_lines():
    # a rejected event keeps the request's context, as its accepted neighbour does: replay
    # restores it from there (evolution.md)
    marker = "rejctx-%d" % time.time_ns()
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
    batch = [event(payload=dict(PAGE_VIEW, title=marker)),
             event(payload=dict(PAGE_VIEW, url=5, title=marker))]
    st, _, body, _ = req("POST", events_path(pk("web")), batch,
                         headers={"User-Agent": firefox, "Origin": SHOP})
    assert_eq((st, body.get("accepted"), body.get("rejected")), (202, 1, 1), f"one of two accepted: {body}")
    acc, rej = lake_lines(marker), lake_lines(marker, zone="rejected")
    assert_eq((len(acc), len(rej)), (1, 1), "one line in each zone")
    assert_true("context" in rej[0], f"context on the rejected line: {rej[0]}")
    assert_eq(rej[0].get("context"), acc[0]["context"], "the same context in both zones")
    assert_eq((rej[0]["context"]["ip"], rej[0]["context"]["ua"]["browser"], rej[0]["context"]["origin"]),
              ("127.0.0.0", "Firefox", SHOP), "truncated ip, parsed ua, origin")
    assert_true("127.0.0.1" not in json.dumps(rej[0]), "no full address in the rejected zone")
    # a body that is not JSON keeps the context too
    st, _, _, _ = req("POST", events_path(pk("web")), b'{"not json ' + marker.encode() + b"-raw",
                      headers={"User-Agent": firefox, "Origin": SHOP, "Content-Type": "text/plain"})
    assert_eq(st, 400, "not JSON")
    raw = [r for r in lake_lines(marker + "-raw", zone="rejected") if "raw" in r]
    assert_eq(len(raw), 1, "kept as raw text")
    assert_eq(raw[0].get("context"), acc[0]["context"], "the same context on the raw rejection")


def test_context_privacy_options():
    g = tg.Extra("private", "--ip-mode", "drop", "--store-user-agent", "no")
    try:
        g.wait_listening(30)
        marker = "priv-%d" % time.time_ns()
        st, _, _, _ = g.request("POST", "/v1/events", event(payload=dict(PAGE_VIEW, title=marker)),
                                headers={"User-Agent": "curl/8.5.0"})
        assert_eq(st, 202, "accepted")
        assert_eq(g.stop(), 0, "drained")
        lines = []
        for root, _, files in os.walk(os.path.join(g.dir, "lake", "raw")):
            for f in files:
                with gzip.open(os.path.join(root, f), "rt") as fh:
                    lines += [json.loads(l) for l in fh if marker in l]
        assert_eq(len(lines), 1, "stored")
        ctx = lines[0]["context"]
        assert_eq(list(ctx), ["ua"], "--ip-mode drop --store-user-agent no: the parsed ua only")
        spool = [open(os.path.join(r, f), "rb").read() for r, _, fs in os.walk(os.path.join(g.dir, "spool"))
                 for f in fs]
        assert_true(all(b"127.0.0.1" not in b for b in spool), "no address in the spool")
    finally:
        g.stop()
    for args in [["--ip-mode", "mask"], ["--store-user-agent", "maybe"]]:
        r = E.weir("gateway", *args, check=False)
        assert_eq(r.returncode, 2, f"{args} is exit 2: " + r.stderr)


def test_drain_last():
    # last: a clean drain (exit 0; under ASan no leak report either) after all of the above
    rc = E.stop_gateway()
    log = open(os.path.join(E.tmp, "gateway.log"), errors="replace").read()
    assert_eq(rc, 0, "drain exits 0: " + log[-800:])
    assert_true("Sanitizer" not in log and "runtime error" not in log, "no sanitizer report")


def setup():
    tg.setup()
    for name, args in [("web", ["--origins", SHOP + ",https://*.example.net"]),
                       ("strict", ["--origins", SHOP, "--require-origin"]),
                       ("iprate", ["--origins", SHOP, "--ip-rate", "3"]),
                       ("pxrate", ["--origins", SHOP, "--ip-rate", "1"]),
                       ("signup-only", ["--origins", SHOP, "--event-types", "signup"])]:
        E.keys[name] = E.weir("key", "create", "--name", name, "--publishable", *args).stdout.strip()
    E.stop_gateway()
    E.start_gateway("--cors-origins", BACKEND, "--trusted-proxies", "127.0.0.2",
                    "--access-log", "info", env={"WEIR_LOG_LEVEL": "debug"})


def main():
    if not tg.WEIR or not tg.PGFIXTURE or not tg.SCHEMAS:
        # Set by ctest: without them this is a broken invocation, not a skip.
        print("error: WEIR, WEIR_PGFIXTURE and WEIR_SCHEMAS must be set", file=sys.stderr)
        return 1
    only = sys.argv[1:]
    return tg.run_suite([(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)
                         and (not only or n in only)], setup)


if __name__ == "__main__":
    sys.exit(main())
