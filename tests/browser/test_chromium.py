#!/usr/bin/env python3
"""The real browser test of issue 12 (shared/spec/browser.md): Debian's headless chromium,
driven through the DevTools protocol by puppeteer-core (tests/browser/drive.mjs), loads a
page served from a second origin (a small static server on another loopback port). The
page loads /v1/weir.js with a publishable key and sends events three ways: weir.track and
the tracker's 2 s timer (fetch keepalive), sendBeacon on pagehide, and an <img> pixel.
The gateway is then drained and each event must be in the raw zone exactly once. The same
page served from an origin the key does not list gets nothing stored. A screenshot of the
page is kept in the build tree (WEIR_BROWSER_ARTEFACTS). Exit 77 when chromium or
puppeteer-core is missing.

With --via-nginx, the same scenario goes through Debian's nginx running docs/nginx.conf
(tests/tls/tlslib.py) in front of a gateway with --trusted-proxies 127.0.0.1/32: the page
loads https://<nginx>/v1/weir.js, and every request of the page is HTTPS to nginx with
the test's self-signed certificate (chromium runs with --ignore-certificate-errors)."""

import gzip
import http.server
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import test_gateway as tg  # noqa: E402
from test_gateway import E, assert_eq, assert_true, wait_until  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "tls"))
import tlslib  # noqa: E402

VIA_NGINX = "--via-nginx" in sys.argv[1:]
NG = None  # the nginx in front of the gateway, with --via-nginx

CHROMIUM = os.environ.get("WEIR_CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
ARTEFACTS = os.environ.get("WEIR_BROWSER_ARTEFACTS") or E.tmp

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>weir browser test {mark}</title>
<script src="{gw}/v1/weir.js" data-key="{key}" defer></script>
<style>body{{font-family:sans-serif;margin:2em}} li{{margin:.3em 0}}</style></head>
<body><h1>weir browser test</h1>
<p id="origin"></p>
<p>pixel: <img id="px" alt="pixel" src="{gw}/v1/p.gif?key={key}&amp;event_type=page_view&amp;payload={pixel}"></p>
<ul id="log"></ul>
<script>
function log(t) {{
  const li = document.createElement("li");
  li.textContent = t;
  document.getElementById("log").appendChild(li);
}}
document.getElementById("origin").textContent = "page origin: " + location.origin + ", gateway: {gw}";
const payload = title => ({{url: location.href, path: location.pathname, anonymous_id: "anon-browser-test",
                           title}});
document.getElementById("px").addEventListener("load", () => {{ log("pixel loaded"); window.__pixel = true; }});
window.addEventListener("load", () => {{
  weir.track("page_view", payload("{mark}-track"));
  log("weir.track queued {mark}-track (sent by the 2 s timer)");
  window.__ready = true;
}});
window.beaconNow = () => {{
  weir.track("page_view", payload("{mark}-beacon"));
  log("weir.track queued {mark}-beacon (sent by sendBeacon on pagehide)");
}};
</script></body></html>
"""


class Site:
    """A static server on its own loopback port: one page, one origin."""

    def __init__(self, mark, key):
        self.mark = mark
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.key = key

    def render(self, gw):
        pixel = json.dumps({"url": self.origin + "/", "path": "/", "anonymous_id": "anon-browser-test",
                            "title": self.mark + "-pixel"})
        self.html = PAGE.format(gw=gw, key=self.key, mark=self.mark,
                                pixel=urllib.parse.quote(pixel, safe=""))


def metric(text, name, label):
    m = re.search(r"^%s\{%s\} (\d+)" % (re.escape(name), re.escape(label)), text, re.M)
    return int(m.group(1)) if m else 0


def metrics():
    return E.request("GET", "/metrics", key=None)[3].decode()


def visit(site, name, arrived):
    """One visit by drive.mjs; keeps the browser open until arrived() says the gateway got
    what the page sent (the beacon leaves after the page is gone)."""
    shot = os.path.join(ARTEFACTS, f"browser-{'nginx-' if NG else ''}{name}.png")
    profile = tempfile.mkdtemp(prefix="weir-chromium-", dir=E.tmp)
    flags = ["--ignore-certificate-errors"] if NG else []
    p = subprocess.Popen([NODE, os.path.join(HERE, "drive.mjs"), CHROMIUM, site.origin + "/", shot, profile,
                          *flags],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=HERE)
    try:
        line = p.stdout.readline()
        if not line:
            raise AssertionError(f"drive.mjs {name}: no result: {p.stderr.read()[-2000:]}")
        seen = json.loads(line)
        print(f"     {name}: {seen}; screenshot {shot}")
        wait_until(f"{name}: the gateway got the page's requests", arrived, 20, step=0.1)
    finally:
        try:
            p.stdin.write("close\n")
            p.stdin.close()
        except OSError:
            pass
        p.wait(timeout=60)
    assert_eq(p.returncode, 0, f"drive.mjs {name}: {p.stderr.read()[-2000:]}")
    assert_true(os.path.getsize(shot) > 1000, "screenshot written")
    return seen


def stored(marker):
    n = {}
    for zone in ["raw", "rejected"]:
        for root, _, files in os.walk(os.path.join(E.lake, zone)):
            for f in files:
                if f.endswith(".jsonl.gz"):
                    with gzip.open(os.path.join(root, f), "rt", encoding="utf-8") as fh:
                        for line in fh:
                            if marker in line:
                                rec = json.loads(line)
                                title = (rec.get("payload") or {}).get("title", "?")
                                n.setdefault((zone, title), []).append(rec)
    return n


def setup():
    E.pg("start")
    E.weir("migrate")
    for f in sorted(os.listdir(tg.SCHEMAS)):
        m = re.fullmatch(r"([a-z][a-z0-9_]*)\.v(\d+)\.json", f)
        if m:
            E.weir("schema", "add", m.group(1), os.path.join(tg.SCHEMAS, f), "--version", m.group(2))
    if not VIA_NGINX:
        E.start_gateway()
        return
    global NG
    # nginx keeps idle upstream connections 20 s: the gateway's idle timeout must be longer
    E.start_gateway("--trusted-proxies", "127.0.0.1/32", "--connection-timeout", "30s")
    cert = tlslib.make_cert(os.path.join(E.tmp, "certs"), "weir-browser.test")
    NG = tlslib.Nginx(os.path.join(E.tmp, "nginx"), E.port, *cert)


def run():
    """Track + timer, sendBeacon and a pixel from an allowed origin, stored once each;
    the same page from a non-allowed origin stores nothing."""
    mark = "chr%d" % time.time_ns()
    good = Site(mark + "a", None)
    bad = Site(mark + "b", None)
    E.keys["web"] = E.weir("key", "create", "--name", "web", "--publishable", "--origins", good.origin,
                           "--event-types", "page_view").stdout.strip()
    good.key = bad.key = E.keys["web"]
    gw = "https://127.0.0.1:%d" % NG.https_port if NG else "http://127.0.0.1:%d" % E.port
    # the running gateway learns the new key through the registry's NOTIFY
    wait_until("the key's origin allowed", lambda: E.request(
        "OPTIONS", "/v1/events", key=None, headers={"Origin": good.origin})[0] == 204, 5)
    good.render(gw)
    bad.render(gw)

    accepted = lambda: metric(metrics(), "weir_events_accepted_total", 'event_type="page_view"')
    refused = lambda: metric(metrics(), "weir_http_requests_total", 'status="403"')
    before = accepted()
    seen = visit(good, "allowed", lambda: accepted() >= before + 3)
    assert_eq(seen["pixel"], {"status": 200, "result": "accepted"}, "the <img> pixel")
    assert_eq(seen["batch"], {"status": 202, "type": "fetch"}, "the timed fetch keepalive batch")
    assert_eq(accepted(), before + 3, "track, beacon and pixel accepted, nothing more")
    before = refused()
    seen = visit(bad, "refused", lambda: refused() >= before + 3)
    assert_eq(seen["pixel"], {"status": 200, "result": "forbidden"}, "pixel from a non-allowed origin")
    # answered 403 without Access-Control-Allow-Origin: the browser hides it from the page
    assert_eq(seen["batch"], {"failed": "net::ERR_FAILED"}, "the refused page's batch, blocked by CORS")
    rc = E.stop_gateway()
    assert_eq(rc, 0, "drained: " + E.logtext()[-1000:])

    got = stored(mark)
    for kind in ["track", "beacon", "pixel"]:
        recs = got.get(("raw", f"{good.mark}-{kind}"), [])
        assert_eq(len(recs), 1, f"{kind} event in the raw zone exactly once")
        rec = recs[0]
        assert_eq((rec["event_type"], rec["source"]), ("page_view", "web"), kind)
        if kind != "pixel":
            assert_true(re.fullmatch(r"[0-9a-f-]{36}", rec["event_id"]), "client-made event_id " + rec["event_id"])
            assert_true("occurred_at" in rec, "occurred_at from the tracker")
        ctx = rec.get("context") or {}
        assert_eq(ctx.get("ip"), "127.0.0.0", f"{kind}: context.ip truncated")
        assert_true(ctx.get("ua", {}).get("browser", "").startswith(("Chrome", "HeadlessChrome")),
                    f"{kind}: ua parsed: {ctx.get('ua')}")
        assert_eq(ctx.get("ua", {}).get("bot"), False, f"{kind}: headless Chromium is no bot")
        if kind != "pixel":  # an <img> from the page sends no Origin (same as any image)
            assert_eq(ctx.get("origin"), good.origin, f"{kind}: context.origin")
    leaked = [k for k in got if k[1].startswith(bad.mark)]
    assert_eq(leaked, [], "nothing stored from the non-allowed origin")
    if NG:
        log = open(os.path.join(NG.dir, "access.log"), errors="replace").read()
        for path in ["/v1/weir.js", "/v1/events", "/v1/p.gif"]:
            assert_true(f"{path}" in log, f"{path} went through nginx: {log[-1500:]}")


def main():
    if not tg.WEIR or not tg.PGFIXTURE or not tg.SCHEMAS:
        # Set by ctest: without them this is a broken invocation, not a skip.
        print("error: WEIR, WEIR_PGFIXTURE and WEIR_SCHEMAS must be set", file=sys.stderr)
        return 1
    if not os.access(CHROMIUM, os.X_OK):
        print(f"skipped: no chromium at {CHROMIUM} (scripts/deps.sh --test installs Debian's)", file=sys.stderr)
        return 77
    if not NODE or not os.path.isdir(os.path.join(HERE, "node_modules", "puppeteer-core")):
        print("skipped: node or puppeteer-core missing (scripts/npm-deps.sh installs tests/browser)",
              file=sys.stderr)
        return 77
    if VIA_NGINX and not (os.access(tlslib.NGINX, os.X_OK) and shutil.which(tlslib.OPENSSL)):
        print(f"skipped: --via-nginx needs {tlslib.NGINX} and openssl (scripts/deps.sh --test)",
              file=sys.stderr)
        return 77
    try:
        return tg.run_suite([("chromium" + ("_via_nginx" if VIA_NGINX else ""), run)], setup)
    finally:
        if NG:
            NG.stop()


if __name__ == "__main__":
    sys.exit(main())
