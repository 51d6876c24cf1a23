#!/usr/bin/env python3
"""End-to-end tests of `weir gateway` against the HTTP contract (shared/spec/http-api.md)
and the registry contract (shared/spec/registry.md): a real gateway on loopback, a
private Postgres cluster started with the project's own tool, a file:// lake.

Each test is a function named test_*; the runner prints "N passed, N failed"."""

import gzip
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

WEIR = os.environ.get("WEIR")
PGFIXTURE = os.environ.get("WEIR_PGFIXTURE")
SCHEMAS = os.environ.get("WEIR_SCHEMAS")
PGBIN = os.environ.get("WEIR_PG_BINDIR") or sorted(
    [os.path.join("/usr/lib/postgresql", v, "bin") for v in os.listdir("/usr/lib/postgresql")]
    if os.path.isdir("/usr/lib/postgresql") else [""])[-1]

# WEIR_TEST_EVENT_LOOP=poll: the same tests against `--event-loop poll` (ctest gateway_http_poll).
LOOP_ARGS = ["--event-loop", os.environ["WEIR_TEST_EVENT_LOOP"]] if os.environ.get("WEIR_TEST_EVENT_LOOP") else []

PAGE_VIEW = {"url": "https://example.com/pricing", "path": "/pricing", "anonymous_id": "anon-123456"}


class Env:
    """The cluster, the keys and the running gateway shared by the tests."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="weir-gw-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        self.pgdir = os.path.join(self.tmp, "pg")
        self.lake = os.path.join(self.tmp, "lake")
        self.spool = os.path.join(self.tmp, "spool")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_") and not k.startswith("PG")}
        self.env["WEIR_LOG_LEVEL"] = "warn"
        self.proc = None
        self.port = None
        self.keys = {}

    def pg(self, cmd):
        r = subprocess.run([PGFIXTURE, cmd, self.pgdir], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"pgfixture {cmd}: {r.stdout} {r.stderr}")

    @property
    def db(self):
        return f"host={self.pgdir}/run user=weir dbname=weir"

    def weir(self, *args, check=True):
        env = dict(self.env, WEIR_DATABASE_URL=self.db)
        r = subprocess.run([WEIR, *args], capture_output=True, text=True, env=env, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"weir {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r

    def sql(self, statement):
        r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "-d", self.db, "-c", statement], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr}")
        return r.stdout.strip()

    def start_gateway(self, *extra, env=None):
        ready = os.path.join(self.tmp, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        e = dict(self.env, WEIR_DATABASE_URL=self.db, WEIR_READY_FILE=ready, **(env or {}))
        self.log = open(os.path.join(self.tmp, "gateway.log"), "ab")
        self.proc = subprocess.Popen(
            [WEIR, "gateway", "--listen", "127.0.0.1:0", "--spool-dir", self.spool,
             "--lake", "file://" + self.lake, "--flush-interval", "1s", "--schema-ttl", "30s",
             "--max-body", "1MiB", "--max-body-decompressed", "2MiB", "--max-events", "50",
             "--max-event-size", "8KiB", "--max-depth", "16", "--connection-timeout", "3s",
             *LOOP_ARGS, *extra], env=e, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited at start: " + self.logtext())
            if os.path.exists(ready) and open(ready).read().strip():
                self.port = int(open(ready).read().strip())
                return
            time.sleep(0.05)
        raise RuntimeError("gateway did not start: " + self.logtext())

    def stop_gateway(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def logtext(self):
        try:
            return open(os.path.join(self.tmp, "gateway.log"), errors="replace").read()[-4000:]
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, key="all", timeout=20, port=None,
                conn=None, source=None):
        """One request to this gateway (or the one on port, or over the open connection
        conn; from the local address source when given): (status, headers with lower-case
        names, parsed JSON body or None, raw body)."""
        h = dict(headers or {})
        if key is not None and "Authorization" not in h and "X-Api-Key" not in h:
            h["Authorization"] = "Bearer " + self.keys[key]
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = conn or http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout,
                                               source_address=(source, 0) if source else None)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed, data

    def post(self, body, **kw):
        return self.request("POST", "/v1/events", body, **kw)


E = Env()


class Extra:
    """A second gateway on the same database, with its own spool, lake, ready file and log,
    for the tests that must start, stop or drain one without touching E's."""

    def __init__(self, name, *args, conn_timeout="3s"):
        self.name = name
        self.dir = os.path.join(E.tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.ready = os.path.join(self.dir, "ready")
        self.logpath = os.path.join(self.dir, "gateway.log")
        env = dict(E.env, WEIR_DATABASE_URL=E.db, WEIR_READY_FILE=self.ready)
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen(
                [WEIR, "gateway", "--listen", "127.0.0.1:0", "--spool-dir",
                 os.path.join(self.dir, "spool"), "--lake", "file://" + os.path.join(self.dir, "lake"),
                 "--flush-interval", "1s", "--connection-timeout", conn_timeout, *args],
                env=env, stdout=log, stderr=log)
        self.port = None

    def wait_listening(self, seconds):
        """Waits for the ready file (written once the gateway listens)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited at start: {self.logtext()}")
            if os.path.exists(self.ready):
                text = open(self.ready).read().strip()
                if text:
                    self.port = int(text)
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not listen within {seconds} s: {self.logtext()}")

    def request(self, method, path, body=None, **kw):
        return E.request(method, path, body, port=self.port, **kw)

    def wait_exit(self, timeout=60):
        """Waits for the process to end by itself (no second signal); its exit code."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout} s: {self.logtext()}")

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not drain within {timeout} s")
        return self.proc.returncode

    def logtext(self):
        try:
            return open(self.logpath, errors="replace").read()[-3000:]
        except OSError:
            return ""


def wait_until(what, fn, seconds, step=0.05):
    """Calls fn until it returns a true value (which is returned) or the deadline passes
    (AssertionError naming what did not happen)."""
    deadline = time.time() + seconds
    while True:
        v = fn()
        if v:
            return v
        if time.time() >= deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(step)


def event(payload=None, **fields):
    e = {"event_type": "page_view", "payload": dict(PAGE_VIEW) if payload is None else payload}
    e.update(fields)
    return e


def assert_eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: {a!r} != {b!r}")


def assert_true(c, what):
    if not c:
        raise AssertionError(what)


def errors_of(body, i=0):
    return body["errors"][i]["errors"]


# --- operations ------------------------------------------------------------------------

def test_health_ready_metrics():
    st, _, _, data = E.request("GET", "/healthz", key=None)
    assert_eq(st, 200, "healthz")
    st, _, _, _ = E.request("GET", "/readyz", key=None)
    assert_eq(st, 200, "readyz")
    E.post(event())
    st, h, _, data = E.request("GET", "/metrics", key=None)
    assert_eq(st, 200, "metrics")
    text = data.decode()
    assert_true(h["content-type"].startswith("text/plain"), "metrics content type")
    for family in ["weir_http_requests_total", "weir_events_accepted_total",
                   "weir_http_request_duration_seconds_bucket", "weir_validation_duration_seconds_count",
                   "weir_registry_snapshot_age_seconds", "weir_registry_snapshot_generation",
                   "weir_rate_limited_events_total"]:
        assert_true(family in text, f"metrics has {family}")
    assert_true(re.search(r'weir_events_accepted_total\{event_type="page_view"\} [1-9]', text),
                "accepted counted by event type")


def test_unknown_path_and_method():
    assert_eq(E.request("GET", "/nope", key=None)[0], 404, "unknown path")
    assert_eq(E.request("GET", "/v1/events", key=None)[0], 405, "GET on events")


# --- authentication ----------------------------------------------------------------------

def test_auth_missing_unknown_revoked():
    for headers, what in [({}, "no key"), ({"Authorization": "Bearer weir_nope"}, "unknown key"),
                          ({"X-Api-Key": "weir_nope"}, "unknown X-Api-Key"),
                          ({"Authorization": "Bearer " + E.keys["revoked"]}, "revoked key"),
                          ({"Authorization": "Basic abc"}, "not bearer")]:
        st, h, body, _ = E.post(event(), headers=headers, key=None)
        assert_eq(st, 401, what)
        assert_eq(h.get("www-authenticate"), "Bearer", what + " header")
        assert_eq(body, {"error": "unauthorized"}, what + " body")


def test_auth_both_headers():
    assert_eq(E.post(event(), key="all")[0], 202, "Bearer")
    st, _, body, _ = E.post(event(), headers={"X-Api-Key": E.keys["all"]}, key=None)
    assert_eq(st, 202, "X-Api-Key")
    assert_eq(body, {"accepted": 1, "rejected": 0}, "body")


def test_scopes():
    st, _, body, _ = E.post(event(), key="scoped")
    assert_eq(st, 403, "single forbidden event")
    assert_eq(errors_of(body)[0]["code"], "forbidden", "code")
    signup = {"event_type": "signup", "payload": {"user_id": 7, "plan": "free", "method": "github"}}
    st, _, body, _ = E.post([signup, event()], key="scoped")
    assert_eq(st, 202, "mixed batch")
    assert_eq((body["accepted"], body["rejected"]), (1, 1), "counts")
    assert_eq(body["errors"][0]["index"], 1, "index")
    assert_eq(errors_of(body)[0]["code"], "forbidden", "per-event forbidden")
    st, _, body, _ = E.post([event(), event()], key="scoped")
    assert_eq(st, 403, "batch all forbidden")


def test_rate_limit():
    # rate 5/s: a batch of 5 passes, the next is refused until tokens come back
    t0 = time.time()
    st, h, _, _ = E.post([event()] * 5, key="limited")
    assert_eq(st, 202, "within the limit")
    assert_eq(h.get("ratelimit-limit"), "5", "RateLimit-Limit")
    assert_true("ratelimit-remaining" in h and "ratelimit-reset" in h, "RateLimit headers on 202")
    st, h, body, _ = E.post(event(), key="limited")
    assert_eq(st, 429, "over the limit")
    assert_eq(body["error"], "rate_limited", "body")
    assert_true(int(h["retry-after"]) >= 1, "Retry-After")
    assert_eq(h.get("ratelimit-remaining"), "0", "remaining 0")
    # One token comes back 200 ms after the bucket emptied (during the batch, after t0):
    # poll until a single event passes, which must be neither sooner nor much later.
    wait_until("a token refilled", lambda: E.post(event(), key="limited")[0] == 202, 3.0)
    took = time.time() - t0
    assert_true(took >= 0.15, f"refilled after {took:.3f} s, before a token's 0.2 s")


# --- bodies --------------------------------------------------------------------------------

def test_single_and_batch():
    st, _, body, _ = E.post(event(event_id="evt-1", occurred_at="2026-11-21T10:00:00.123Z"))
    assert_eq((st, body), (202, {"accepted": 1, "rejected": 0}), "single")
    st, _, body, _ = E.post([event(), event(schema_version=1)])
    assert_eq((st, body), (202, {"accepted": 2, "rejected": 0}), "batch")


def test_ndjson_and_gzip():
    lines = b"\n".join(json.dumps(event()).encode() for _ in range(3)) + b"\n\n"
    st, _, body, _ = E.post(lines, headers={"Content-Type": "application/x-ndjson"})
    assert_eq((st, body["accepted"]), (202, 3), "ndjson")
    st, _, body, _ = E.post(gzip.compress(lines), headers={"Content-Type": "application/x-ndjson",
                                                            "Content-Encoding": "gzip"})
    assert_eq((st, body["accepted"]), (202, 3), "gzip ndjson")
    st, _, body, _ = E.post(gzip.compress(json.dumps(event()).encode()),
                            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert_eq(st, 202, "gzip json")
    st, _, body, _ = E.post(b"\x1f\x8b\x08\x00garbage", headers={"Content-Type": "application/json",
                                                                 "Content-Encoding": "gzip"})
    assert_eq(st, 400, "broken gzip")
    st, _, body, _ = E.post(b'{"event_type":"page_view"} {"x":1}',
                            headers={"Content-Type": "application/x-ndjson"})
    assert_eq(st, 400, "two values on one NDJSON line")


def test_gzip_bomb():
    bomb = gzip.compress(b"[" + b" " * (64 << 20) + b"]")  # 64 MiB of spaces, ~64 KiB gzip
    assert_true(len(bomb) < (1 << 20), "bomb fits the compressed limit")
    t0 = time.time()
    st, _, body, _ = E.post(bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert_eq((st, body["error"]), (413, "too_large"), "decompressed over the limit")
    assert_true(time.time() - t0 < 5, "refused without inflating it all")


def test_invalid_json():
    for raw, what in [(b'{"event_type": ', "truncated"), (b'{"a":1,}', "trailing comma"),
                      (b"nope", "not json"), (b'"a string"', "a string"), (b"[1,2]", "array of numbers"),
                      (b"[]", "empty batch"), (b'{"a":1}{"b":2}', "two documents"),
                      (b'{"event_type":"page_view","payload":"\xff\xfe"}', "invalid UTF-8"),
                      (b'{"a":1,"a":2}', "duplicate member")]:
        st, _, body, _ = E.post(raw, headers={"Content-Type": "application/json"})
        assert_eq(st, 400, what)
        assert_eq(body["error"], "invalid_json", what)
    st, _, body, _ = E.post(b'{"event_type":\n  x}', headers={"Content-Type": "application/json"})
    assert_true(re.search(r"line 2 column \d+", body["message"]), "line and column: " + body["message"])


def test_media_types():
    st, _, body, _ = E.post(b"{}", headers={"Content-Type": "text/csv"})
    assert_eq((st, body["error"]), (415, "unsupported_media_type"), "text/csv")
    # text/plain (sendBeacon's) is read as JSON (browser.md); tests/gateway/test_browser.py
    st, _, _, _ = E.post(json.dumps(event()).encode(), headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert_eq(st, 202, "text/plain read as JSON")
    st, _, body, _ = E.post(b"{}", headers={"Content-Type": "application/json", "Content-Encoding": "br"})
    assert_eq((st, body["error"]), (415, "unsupported_media_type"), "br")
    st, _, _, _ = E.post(json.dumps(event()).encode(),
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert_eq(st, 202, "charset parameter")


def early_answer(head_lines, body_len, timeout=5):
    """Sends a request head announcing body_len bytes (with Expect: 100-continue) and no
    body; returns what the gateway sends before any body byte, up to its close."""
    head = "POST /v1/events HTTP/1.1\r\nHost: x\r\n" + "".join(l + "\r\n" for l in head_lines)
    head += "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % body_len
    s = socket.create_connection(("127.0.0.1", E.port), timeout=timeout)
    s.sendall(head.encode())
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def test_limits():
    big = b"[" + b",".join([json.dumps(event()).encode()] * 12000) + b"]"
    assert_true(len(big) > (1 << 20), "over 1 MiB")
    # Refused by Content-Length: answered at once, no body byte read, no 100 Continue, and
    # the connection closed (the recv loop ends: the gateway closed it).
    key = "Authorization: Bearer " + E.keys["all"]
    out = early_answer([key, "Content-Type: application/json"], len(big))
    assert_true(out.startswith(b"HTTP/1.1 413") and b"100 Continue" not in out, "413 early: %r" % out[:80])
    assert_true(out.endswith(b'{"error":"too_large"}'), "413 body: %r" % out[-60:])
    st, _, body, _ = E.post([event()] * 51)
    assert_eq((st, body["error"]), (413, "too_large"), "more events than the limit")
    huge = event(payload=dict(PAGE_VIEW, title="x" * 9000))
    st, _, body, _ = E.post([huge, event()])
    assert_eq(st, 202, "one event too large in a batch")
    assert_eq(errors_of(body)[0]["code"], "too_large", "per-event too_large")
    deep = {"event_type": "page_view", "payload": dict(PAGE_VIEW)}
    node = deep["payload"]
    for _ in range(20):
        node["title"] = {}
        node = node["title"]
    st, _, body, _ = E.post(deep)
    assert_eq((st, body["error"]), (400, "invalid_json"), "nested too deep")


def test_envelope_rules():
    cases = [
        (dict(event(), extra=1), "/extra"),
        ({"payload": PAGE_VIEW}, "/event_type"),
        (event(event_type="Page-View"), "/event_type"),
        (event(event_type="x" * 65), "/event_type"),
        ({"event_type": "page_view"}, "/payload"),
        (event(event_id=""), "/event_id"),
        (event(event_id="a b"), "/event_id"),
        (event(event_id="x" * 129), "/event_id"),
        (event(event_id=12), "/event_id"),
        (event(occurred_at="yesterday"), "/occurred_at"),
        (event(occurred_at="2026-13-01T00:00:00Z"), "/occurred_at"),
        (event(schema_version=0), "/schema_version"),
        (event(schema_version="1"), "/schema_version"),
        (event(schema_version=1.5), "/schema_version"),
    ]
    for ev, path in cases:
        st, _, body, _ = E.post(ev)
        assert_eq(st, 422, f"envelope {ev}")
        errs = errors_of(body)
        assert_true(any(e["code"] == "envelope" and e["instance_path"] == path for e in errs),
                    f"envelope error at {path}: {errs}")
    st, _, body, _ = E.post(event(event_id="ok:id-1.2_3"))
    assert_eq(st, 202, "event_id charset")


def test_unknown_type_and_version():
    st, _, body, _ = E.post(event(event_type="no_such_type"))
    assert_eq(st, 422, "unknown type")
    assert_eq(errors_of(body)[0]["code"], "unknown_event_type", "code")
    st, _, body, _ = E.post(event(schema_version=99))
    assert_eq(errors_of(body)[0]["code"], "unknown_schema_version", "unknown version")


def test_schema_errors_are_precise():
    bad = dict(PAGE_VIEW, user_id="42", viewport={"width": 0, "height": 10})
    st, _, body, _ = E.post(event(payload=bad, event_id="bad-1"))
    assert_eq(st, 422, "schema violation")
    entry = body["errors"][0]
    assert_eq((entry["index"], entry["event_id"]), (0, "bad-1"), "entry")
    by_path = {e["instance_path"]: e for e in entry["errors"]}
    assert_true("/payload/user_id" in by_path, f"user_id error in {entry['errors']}")
    e = by_path["/payload/user_id"]
    assert_eq((e["code"], e["keyword"]), ("schema", "type"), "type error")
    assert_true(e["schema_path"].endswith("/properties/user_id/type"), "schema_path " + e["schema_path"])
    assert_true(e["message"], "message")
    assert_true("/payload/viewport/width" in by_path, "every violation reported")


def test_stored_lines_and_rejected_zone():
    marker = "marker-%d" % time.time_ns()
    payload = dict(PAGE_VIEW, title="Ünïcödé \u2603 " + marker, load_ms=12.50)
    raw = ('{"event_type":"page_view","payload":' + json.dumps(payload, ensure_ascii=False) + '}').encode()
    st, _, _, _ = E.post(raw, headers={"Content-Type": "application/json"})
    assert_eq(st, 202, "accepted")
    E.post(event(payload=dict(PAGE_VIEW, user_id="bad"), event_id="rej-" + marker))
    deadline = time.time() + 15
    found = rejected = None
    while time.time() < deadline and not (found and rejected):
        for root, _, files in os.walk(E.lake):
            for f in files:
                if not f.endswith(".jsonl.gz"):
                    continue
                for line in gzip.open(os.path.join(root, f), "rt", encoding="utf-8"):
                    if marker in line:
                        if "/raw/" in root + "/" or root.startswith(os.path.join(E.lake, "raw")):
                            found = (root, json.loads(line), line)
                        else:
                            rejected = (root, json.loads(line))
        time.sleep(0.3)
    assert_true(found, "accepted event in the raw zone")
    root, rec, line = found
    assert_true(re.search(r"raw/event_type=page_view/dt=\d{4}-\d\d-\d\d/hr=\d\d$", root), root)
    assert_eq(rec["payload"], payload, "payload as sent")
    assert_true(('"payload":' + json.dumps(payload, ensure_ascii=False)) in line, "payload bytes copied")
    assert_eq(rec["source"], "all", "source")
    assert_eq(rec["schema_version"], 1, "resolved version")
    assert_true(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                             rec["event_id"]), "generated UUIDv7 " + rec["event_id"])
    assert_true(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["received_at"]), "received_at")
    assert_true(rejected, "rejected event in the rejected zone")
    rroot, rrec = rejected
    assert_true(re.search(r"rejected/dt=\d{4}-\d\d-\d\d/hr=\d\d$", rroot), rroot)
    assert_eq(rrec["event"]["event_id"], "rej-" + marker, "event as received")
    assert_eq(rrec["source"], "all", "source")
    assert_eq(rrec["errors"][0]["code"], "schema", "errors kept")
    names = [f for _, _, fs in os.walk(E.lake) for f in fs]
    assert_true(all(f.endswith(".jsonl.gz") for f in names), f"no temporary files visible: {names}")


def test_pretty_printed_body_is_stored_as_one_line():
    marker = "pretty-%d" % time.time_ns()
    body = json.dumps(event(payload=dict(PAGE_VIEW, title=marker), event_id=marker), indent=2)
    body = body.replace("\n", "\r\n").encode()
    assert_eq(E.post(body, headers={"Content-Type": "application/json"})[0], 202, "pretty body")
    deadline = time.time() + 15
    while time.time() < deadline:
        for root, _, files in os.walk(os.path.join(E.lake, "raw")):
            for f in files:
                for line in gzip.open(os.path.join(root, f), "rt", encoding="utf-8"):
                    if marker in line:
                        rec = json.loads(line)
                        assert_eq(rec["payload"]["title"], marker, "payload kept")
                        assert_eq(rec["event_id"], marker, "event_id kept")
                        return
        time.sleep(0.3)
    raise AssertionError("pretty-printed event not found in the raw zone")


def test_schemas_endpoint():
    st, _, body, _ = E.request("GET", "/v1/schemas/page_view")
    assert_eq(st, 200, "schemas")
    assert_eq(body["event_type"], "page_view", "type")
    assert_true(body["versions"][0]["version"] == 1 and "properties" in body["versions"][0]["schema"], "versions")
    assert_eq(E.request("GET", "/v1/schemas/nope")[0], 404, "unknown type")
    assert_eq(E.request("GET", "/v1/schemas/page_view", key=None)[0], 401, "needs a key")
    # A key sees the schemas of the event types it may send, no others.
    st, _, body, _ = E.request("GET", "/v1/schemas/page_view", key="scoped")
    assert_eq((st, body["error"]), (403, "forbidden"), "outside the key's scopes")
    assert_eq(E.request("GET", "/v1/schemas/signup", key="scoped")[0], 200, "inside its scopes")


def test_bad_option_values_are_usage_errors():
    for args in (["gateway", "--s3-addressing", "bogus"], ["curate", "--s3-addressing", "bogus"],
                 ["up", "--no-gateway", "--s3-addressing", "bogus"],
                 ["gateway", "--s3-endpoint", "ftp://x"], ["gateway", "--umask", "9"],
                 ["key", "list", "--umask", "0777x"],
                 ["gateway", "--trusted-proxies", "10.0.0.0/40"],
                 ["gateway", "--header-timeout", "2h"]):
        r = subprocess.run([WEIR, *args], capture_output=True, text=True, env=E.env, timeout=60,
                           cwd=E.tmp)
        assert_eq(r.returncode, 2, " ".join(args) + ": " + r.stderr)
        assert_true(args[-2] in r.stderr, "names the option: " + r.stderr)


def test_process_hardening():
    # The running gateway: no core dumps, owner-only files (the default umask 077).
    limits = open(f"/proc/{E.proc.pid}/limits").read()
    core = [l for l in limits.splitlines() if l.startswith("Max core file size")][0].split()
    assert_eq(core[4:6], ["0", "0"], "RLIMIT_CORE 0: " + " ".join(core))
    nofile = [l for l in limits.splitlines() if l.startswith("Max open files")][0].split()
    assert_eq(nofile[3], nofile[4], "soft descriptor limit raised to the hard one")
    for root, dirs, files in os.walk(E.spool):
        for d in dirs:
            assert_eq(os.stat(os.path.join(root, d)).st_mode & 0o077, 0, "spool folder " + d)
        for f in files:
            assert_eq(os.stat(os.path.join(root, f)).st_mode & 0o077, 0, "spool file " + f)


def test_refusals_answered_before_the_body():
    key = "Authorization: Bearer " + E.keys["all"]
    for lines, status in [([], b"401"), (["Authorization: Bearer weir_nope"], b"401"),
                          ([key, "Content-Type: text/csv"], b"415"),
                          ([key, "Content-Type: application/json", "Content-Encoding: br"], b"415")]:
        t0 = time.time()
        out = early_answer(lines, 500000)
        assert_true(out.startswith(b"HTTP/1.1 " + status), "%s early: %r" % (lines, out[:60]))
        assert_true(b"100 Continue" not in out, "no 100 Continue before a refusal")
        assert_true(time.time() - t0 < 3, "answered at once, the body never sent")
    # An accepted head does get its 100 Continue.
    s = socket.create_connection(("127.0.0.1", E.port), timeout=5)
    s.sendall(("POST /v1/events HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/json\r\n"
               "Content-Length: 10\r\nExpect: 100-continue\r\n\r\n" % key).encode())
    assert_true(s.recv(100).startswith(b"HTTP/1.1 100"), "100 Continue for an accepted head")
    s.close()


def test_chunked_body_over_the_limit():
    s = socket.create_connection(("127.0.0.1", E.port), timeout=10)
    s.sendall(("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               % E.keys["all"]).encode())
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    try:
        for _ in range(17):  # just over the 1 MiB limit, then wait for the answer
            s.sendall(chunk)
    except OSError:
        pass  # the gateway stopped reading: expected
    out, closed = b"", False
    try:
        while True:
            c = s.recv(65536)
            if not c:
                closed = True
                break
            out += c
    except socket.timeout:
        pass
    except OSError:
        closed = True  # reset
    s.close()
    # libmicrohttpd 0.9.75 takes no answer mid-body: the connection just ends.
    assert_true(closed, "the gateway ends the connection")
    assert_true(out.startswith(b"HTTP/1.1 413") or out == b"", "413 or nothing: %r" % out[:80])


def test_responses_are_valid_json():
    # A byte that is not UTF-8 inside a bad escape ends up in the parser's message.
    body = b'{"event_type":"page_view","payload":{"a":"\\\xff"}}'
    st, _, parsed, data = E.post(body, headers={"Content-Type": "application/json"})
    assert_eq(st, 400, "invalid JSON")
    assert_true(parsed is not None and parsed["error"] == "invalid_json", "JSON body: %r" % data)
    data.decode("utf-8")  # raises on invalid UTF-8


# --- the live registry -------------------------------------------------------------------

def wait_status(ev, want, seconds):
    deadline = time.time() + seconds
    st = None
    while time.time() < deadline:
        st = E.post(ev)[0]
        if st == want:
            return True
        time.sleep(0.05)
    return False


def test_schema_by_sql_live_within_a_second():
    t = "live_%d" % (time.time_ns() % 10**9)
    ev = {"event_type": t, "payload": {"n": 1}}
    assert_eq(E.post(ev)[0], 422, "unknown before")
    t0 = time.time()
    E.sql(f"INSERT INTO event_schemas (event_type, version, schema) VALUES ('{t}', 1, "
          "'{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}}}')")
    assert_true(wait_status(ev, 202, 1.0), "accepted within a second of the INSERT")
    took = time.time() - t0
    # a retired version is refused the same way
    E.sql(f"UPDATE event_schemas SET active = false WHERE event_type = '{t}'")
    assert_true(wait_status(ev, 422, 1.0), "retired version refused")
    print(f"  schema live after {took * 1000:.0f} ms")


def test_broken_schema_breaks_nothing_else():
    t = "broken_%d" % (time.time_ns() % 10**9)
    E.sql(f"INSERT INTO event_schemas (event_type, version, schema) VALUES ('{t}', 1, "
          "'{\"type\": 12, \"minimum\": \"x\"}')")
    wait_until("the broken row loaded and counted", lambda: re.search(
        r"weir_registry_broken_schemas [1-9]", E.request("GET", "/metrics", key=None)[3].decode()), 2.0)
    st, _, body, _ = E.post({"event_type": t, "payload": {}})
    assert_eq(st, 422, "broken schema's type is unavailable")
    assert_eq(E.post(event())[0], 202, "others keep working")
    st, _, _, data = E.request("GET", "/metrics", key=None)
    assert_true(re.search(r"weir_registry_broken_schemas [1-9]", data.decode()), "reported in metrics")
    E.sql(f"DELETE FROM event_schemas WHERE event_type = '{t}'")


def test_key_created_and_revoked_live():
    name = "live_key_%d" % (time.time_ns() % 10**9)
    t0 = time.time()
    secret = E.weir("key", "create", "--name", name).stdout.strip()
    hdr = {"Authorization": "Bearer " + secret}
    wait_until("a key created while the gateway runs is accepted",
               lambda: E.post(event(), headers=hdr, key=None)[0] == 202, 1.0)
    print(f"  key live after {(time.time() - t0) * 1000:.0f} ms")
    t0 = time.time()
    E.weir("key", "revoke", name)
    wait_until("a key revoked while the gateway runs is refused",
               lambda: E.post(event(), headers=hdr, key=None)[0] == 401, 1.0)
    print(f"  key revoked after {(time.time() - t0) * 1000:.0f} ms")


def psql_notifications(statements):
    """Runs statements in one psql session that LISTENs on the registry channel; returns
    how many NOTIFYs it saw (its own are delivered to it as well)."""
    r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                        "-d", E.db, "-c", "LISTEN weir_registry", *sum((["-c", x] for x in statements), []),
                        "-c", "SELECT 1"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql: {r.stderr}")
    return len(re.findall(r'Asynchronous notification "weir_registry"', r.stdout + r.stderr))


def test_schema_reload_by_ttl_without_notify():
    # A gateway with a 2 s TTL; a row inserted with the triggers off (session_replication_role
    # = replica: the statement trigger that sends NOTIFY does not fire) must go live by the TTL.
    t = "ttl_%d" % (time.time_ns() % 10**9)
    g = Extra("ttl", "--schema-ttl", "2s")
    try:
        g.wait_listening(30)
        wait_until("ttl gateway ready", lambda: g.request("GET", "/readyz", key=None)[0] == 200, 10)
        ev = {"event_type": t, "payload": {"n": 1}}
        assert_eq(g.request("POST", "/v1/events", ev)[0], 422, "unknown before")
        insert = (f"INSERT INTO event_schemas (event_type, version, schema) VALUES ('{t}', 1, "
                  "'{\"type\":\"object\"}')")
        # the control: the same session sees the trigger's NOTIFY when the trigger is on
        assert_eq(psql_notifications([f"INSERT INTO event_schemas (event_type, version, schema) "
                                      f"VALUES ('{t}_control', 1, 'true')"]), 1, "NOTIFY with the trigger on")
        g_ctl = {"event_type": t + "_control", "payload": 1}
        wait_until("the control row live by NOTIFY", lambda: g.request("POST", "/v1/events", g_ctl)[0] == 202, 1.0)
        t0 = time.time()
        assert_eq(psql_notifications(["SET session_replication_role = replica", insert]), 0,
                  "no NOTIFY with the trigger off")
        wait_until("a row inserted without NOTIFY goes live within the 2 s TTL",
                   lambda: g.request("POST", "/v1/events", ev)[0] == 202, 2.0 + 2.0)
        took = time.time() - t0
        print(f"  live by TTL after {took * 1000:.0f} ms")
        assert_eq(g.stop(), 0, "ttl gateway drains")
    finally:
        g.stop()
        E.sql(f"DELETE FROM event_schemas WHERE event_type IN ('{t}', '{t}_control')")


def test_postgres_restart_under_running_gateway():
    E.pg("stop")
    try:
        for _ in range(5):
            assert_eq(E.post(event())[0], 202, "serves with the last snapshot while Postgres is down")
            time.sleep(0.1)
        assert_eq(E.request("GET", "/readyz", key=None)[0], 200, "still ready")
    finally:
        E.pg("start")
    t = "after_%d" % (time.time_ns() % 10**9)
    E.sql(f"INSERT INTO event_schemas (event_type, version, schema) VALUES ('{t}', 1, 'true')")
    assert_true(wait_status({"event_type": t, "payload": 1}, 202, 15), "reloads once Postgres is back")


def test_readyz_before_the_first_registry_load():
    # Postgres unreachable at start: the gateway listens (after waiting 5 s for the
    # registry) with /readyz 503 and /healthz 200, and turns ready once Postgres is back.
    E.pg("stop")
    g = None
    try:
        g = Extra("cold")
        g.wait_listening(30)
        assert_eq(g.request("GET", "/readyz", key=None)[0], 503, "not ready before the first load")
        assert_eq(g.request("GET", "/healthz", key=None)[0], 200, "alive meanwhile")
        st, _, _, data = g.request("GET", "/metrics", key=None)
        assert_true(re.search(r"weir_registry_connected 0", data.decode()), "metrics: not connected")
    finally:
        E.pg("start")
    try:
        # the loader retries with a backoff of at most 5 s
        wait_until("ready once Postgres is back", lambda: g.request("GET", "/readyz", key=None)[0] == 200, 15)
        assert_eq(g.request("POST", "/v1/events", event())[0], 202, "serves after the first load")
        assert_eq(g.stop(), 0, "cold gateway drains")
    finally:
        g.stop()


def test_readyz_during_drain():
    # A request held open (its body not sent yet) keeps the drain waiting; meanwhile a
    # kept-alive connection sees /readyz 503 and a POST 503 with Retry-After. The long
    # connection timeout leaves the end of the held request to the test.
    g = Extra("drain", conn_timeout="60s")
    try:
        g.wait_listening(30)
        wait_until("drain gateway ready", lambda: g.request("GET", "/readyz", key=None)[0] == 200, 10)
        keep = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
        assert_eq(g.request("GET", "/readyz", key=None, conn=keep)[0], 200, "ready before")
        held = socket.create_connection(("127.0.0.1", g.port), timeout=10)
        held.sendall(("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100\r\n"
                      "Expect: 100-continue\r\n\r\n" % E.keys["all"]).encode())
        # "100 Continue" means the gateway has taken the request in: it is in flight
        assert_true(held.recv(100).startswith(b"HTTP/1.1 100"), "the held request is in flight")
        g.proc.send_signal(signal.SIGTERM)
        wait_until("/readyz 503 while draining",
                   lambda: g.request("GET", "/readyz", key=None, conn=keep)[0] == 503, 5)
        st, h, body, _ = g.request("POST", "/v1/events", event(), conn=keep)
        assert_eq((st, body and body.get("error")), (503, "unavailable"), "POST while draining")
        assert_true(int(h.get("retry-after", "0")) >= 1, "Retry-After while draining")
        assert_eq(g.proc.poll(), None, "still draining while the held request is open")
        keep.close()
        held.close()
        assert_eq(g.wait_exit(), 0, "drain exits 0 once the held request is gone")
    finally:
        g.stop()


# --- hostile clients ------------------------------------------------------------------------

def raw_exchange(data, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", E.port), timeout=timeout)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    s.close()
    return out


def send_until_answered(data, piece=4096, timeout=5):
    """Sends data in pieces and stops as soon as an answer arrives (a server that answers
    early and closes would otherwise reset the connection under the unsent rest, and the
    answer would be lost); returns everything read until the server closes."""
    s = socket.create_connection(("127.0.0.1", E.port), timeout=timeout)
    out = b""
    try:
        for off in range(0, len(data), piece):
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break
            s.sendall(data[off:off + piece])
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    finally:
        s.close()
    return out


def test_slow_clients_do_not_starve_others():
    slow = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", E.port))
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        slow.append(s)
    try:
        t0 = time.time()
        for _ in range(10):
            assert_eq(E.post(event())[0], 202, "served while slow clients hold connections")
        assert_true(time.time() - t0 < 5, "not starved")
    finally:
        for s in slow:
            s.close()


def test_truncated_and_wrong_length_bodies():
    key = E.keys["all"]
    head = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\n" % key)
    # announced 1000 bytes, sent 10, then closed: the gateway must shrug it off
    raw_exchange((head + "Content-Length: 1000\r\n\r\n").encode() + b'{"event_ty', read=False)
    # shorter Content-Length than the JSON: the body is cut, so it is not JSON
    body = json.dumps(event()).encode()
    out = raw_exchange((head + "Content-Length: 20\r\nConnection: close\r\n\r\n").encode() + body)
    assert_true(out.startswith(b"HTTP/1.1 400"), "cut body is invalid JSON: %r" % out[:60])
    # not a number
    out = raw_exchange((head + "Content-Length: abc\r\nConnection: close\r\n\r\n").encode() + body)
    assert_true(out.startswith(b"HTTP/1.1 4"), "bad Content-Length refused: %r" % out[:60])
    assert_eq(E.post(event())[0], 202, "still serving")


def test_headers_over_the_limit():
    # the 16 KiB connection pool holds about 15 KiB of headers: 12 KB must pass
    out = raw_exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " +
                       b"a" * 12000 + b"\r\n\r\n")
    assert_true(out.startswith(b"HTTP/1.1 200"), "12 KB of headers accepted: %r" % out[:60])
    out = send_until_answered(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                              b"a" * (200 * 1024) + b"\r\n\r\n")
    assert_true(out.startswith(b"HTTP/1.1 431"), "oversized headers answered 431: %r" % out[:60])
    assert_eq(E.request("GET", "/healthz", key=None)[0], 200, "still serving")


def test_garbage_requests():
    for junk in [b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST /v1/events HTTP/1.1\r\n"
                 b"Host: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"\r\n" * 1000]:
        raw_exchange(junk, timeout=2)
    assert_eq(E.request("GET", "/healthz", key=None)[0], 200, "still serving")


def test_drain_on_sigterm():
    # last: everything accepted so far must be in the lake once the gateway exits
    marker = "drain-%d" % time.time_ns()
    st, _, _, _ = E.post(event(payload=dict(PAGE_VIEW, title=marker)))
    assert_eq(st, 202, "accepted")
    rc = E.stop_gateway()
    assert_eq(rc, 0, "drain exits 0: " + E.logtext()[-500:])
    hit = 0
    for root, _, files in os.walk(E.lake):
        for f in files:
            with gzip.open(os.path.join(root, f), "rt") as fh:
                hit += sum(marker in line for line in fh)
    assert_eq(hit, 1, "flushed at drain, once")


def setup():
    E.pg("start")
    E.weir("migrate")
    for f in sorted(os.listdir(SCHEMAS)):
        m = re.fullmatch(r"([a-z][a-z0-9_]*)\.v(\d+)\.json", f)
        if m:
            E.weir("schema", "add", m.group(1), os.path.join(SCHEMAS, f), "--version", m.group(2))
    for name, args in [("all", []), ("scoped", ["--event-types", "signup"]), ("limited", ["--rate", "5"]),
                       ("revoked", [])]:
        E.keys[name] = E.weir("key", "create", "--name", name, *args).stdout.strip()
    E.weir("key", "revoke", "revoked")
    E.start_gateway()


def run_suite(tests, setup_fn):
    """Runs setup_fn, then each (name, fn) of tests while the gateway runs, then stops the
    gateway and the cluster (the folder is kept when something failed). Exit code."""
    passed = failed = 0
    try:
        setup_fn()
        for name, fn in tests:
            if E.proc is None or E.proc.poll() is not None:
                print(f"FAIL {name}: the gateway is not running: {E.logtext()[-2000:]}")
                failed += 1
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print(f"ok   {name} ({time.time() - t0:.2f}s)")
            except Exception:  # a failed test must not stop the others
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}")
    except Exception:
        failed += 1
        print(f"FAIL setup\n{traceback.format_exc()}\n{E.logtext()}")
    finally:
        if E.proc:
            E.stop_gateway()
        try:
            E.pg("stop")
        except Exception as e:  # report, but keep the verdict of the tests
            print(f"cleanup: {e}")
        if failed == 0:
            shutil.rmtree(E.tmp, ignore_errors=True)
        else:
            print(f"kept {E.tmp} for inspection")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    if not WEIR or not PGFIXTURE or not SCHEMAS:
        # Set by ctest (tests/gateway/CMakeLists.txt): without them this is a broken
        # invocation, not a skip.
        print("error: WEIR, WEIR_PGFIXTURE and WEIR_SCHEMAS must be set", file=sys.stderr)
        return 1
    return run_suite([(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)], setup)


if __name__ == "__main__":
    sys.exit(main())
