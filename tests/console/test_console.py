#!/usr/bin/env python3
"""test_console.py - `weir console` end to end: a real Postgres, a file:// lake made by
tests/curator/gen_raw.py (one day curated by `weir curate`, the next left raw, broken files
included) plus events sent now through a real gateway (accepted and rejected), the console
started as its own process. Checks every endpoint, auth (no key 401, ingest key 403, other
scope 403, revoked 401), events answers equal to DuckDB's on the same files (curated,
raw, both), bad input (unknown field 400, bad TIME 400, limit > 1000 400, a 10-year range
bounded by the scan budget, a truncated Parquet file reported in bad_files), static files.
Needs WEIR, WEIR_TEST_PG (or WEIR_PGFIXTURE); DuckDB from tests/tools/node_modules."""
import gzip
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WEIR = os.environ.get("WEIR")
PGFIXTURE = os.environ.get("WEIR_PGFIXTURE")
TOOLS = os.path.join(REPO, "tests", "tools")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weirtest  # noqa: E402
from weirtest import check, psql, run  # noqa: E402


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for: {what}")


class Console:
    def __init__(self, db, lake, tmp, *extra, name="console", ca=None, env=None):
        self.ready = os.path.join(tmp, name + ".ready")
        self.logpath = os.path.join(tmp, name + ".log")
        self.log = open(self.logpath, "wb")
        self.ca = ca  # HTTPS, trusting this certificate
        self.p = subprocess.Popen([WEIR, "console", "--listen", "127.0.0.1:0", "--database-url", db,
                                   "--lake", "file://" + lake, "--key-cache", "200ms", *extra],
                                  env=dict(os.environ, WEIR_READY_FILE=self.ready, **(env or {})),
                                  stdout=self.log, stderr=self.log)
        self.port = int(wait_for(lambda: os.path.exists(self.ready) and open(self.ready).read().strip(),
                                 30, "the console"))

    def get(self, path, key=None, params=None, headers=None):
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        if self.ca:
            import ssl
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60,
                                            context=ssl.create_default_context(cafile=self.ca))
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read()
        c.close()
        ct = r.getheader("Content-Type") or ""
        if ct.startswith("application/json"):
            body = json.loads(body)
        return r.status, body, r

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=30)
        self.log.close()
        return rc


def new_db(base, name):
    psql(base, f"DROP DATABASE IF EXISTS {name}")
    psql(base, f"CREATE DATABASE {name}")
    parts = [p for p in base.split() if not p.startswith("dbname=")]
    db = " ".join(parts + [f"dbname={name}"])
    run([WEIR, "migrate", "--database-url", db])
    return db


def read_key(db, name, types=None):
    args = [WEIR, "key", "create", "--name", name, "--read", "--database-url", db]
    if types:
        args += ["--event-types", types]
    return run(args).stdout.strip().split("\n")[-1].strip()


def readable(path):
    """What a damaged gzip file yields before the damage (as the console reads it)."""
    data = open(path, "rb").read()
    out = b""
    while data:
        d = zlib.decompressobj(31)
        try:
            out += d.decompress(data)
        except zlib.error:
            break
        if not d.eof:
            break
        data = d.unused_data
    return out


def us(t):
    import datetime as dt
    return int(dt.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1_000_000)


def duck(tmp, lake, curated_days, raw_days, typ, frm, to, where, limit):
    """DuckDB's answer on the same files: [[event_id, received_at_us], ...]."""
    cur = []
    for d in curated_days:
        folder = os.path.join(lake, "curated", "events", f"event_type={typ}", f"dt={d}")
        cur += [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".parquet")]
    raw_file = os.path.join(tmp, f"raw-{typ}.jsonl")
    with open(raw_file, "wb") as out:
        for d in raw_days:
            folder = os.path.join(lake, "raw", f"event_type={typ}", f"dt={d}")
            for root, _, files in os.walk(folder):
                for f in sorted(files):
                    text = readable(os.path.join(root, f))
                    out.write(text if text.endswith(b"\n") or not text else text + b"\n")
    envf = ("event_id", "source")
    spec = {"curated": cur, "raw": [raw_file] if raw_days else [], "from_us": us(frm), "to_us": us(to),
            "limit": limit, "where": [[f, v, "env" if f in envf else "payload"] for f, v in where]}
    sp = os.path.join(tmp, "spec.json")
    json.dump(spec, open(sp, "w"))
    r = run(["node", os.path.join(HERE, "duck_ref.mjs"), sp], cwd=TOOLS,
            env=dict(os.environ, TOOLS_DIR=TOOLS))
    return json.loads(r.stdout)


def send(port, key, events):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("POST", "/v1/events", body=json.dumps(events),
              headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def gateway(db, lake, tmp, name):
    """A real gateway writing into lake: (process, port, log file)."""
    ready = os.path.join(tmp, name + ".ready")
    log = open(os.path.join(tmp, name + ".log"), "wb")
    gw = subprocess.Popen([WEIR, "gateway", "--listen", "127.0.0.1:0", "--database-url", db, "--lake",
                           "file://" + lake, "--spool-dir", os.path.join(tmp, "spool-" + name),
                           "--flush-interval", "1s"],
                          env=dict(os.environ, WEIR_READY_FILE=ready), stdout=log, stderr=log)
    port = int(wait_for(lambda: os.path.exists(ready) and open(ready).read().strip(), 30, "the gateway"))
    return gw, port, log


ROLLUP_DDL = """
CREATE TABLE IF NOT EXISTS rollups (name text primary key, event_type text not null,
  grain text not null, dimensions text[] not null, metrics jsonb not null,
  active boolean not null default true);
CREATE TABLE IF NOT EXISTS rollup_values (name text, bucket timestamptz, dimensions jsonb,
  metrics jsonb);
"""


def test_all(base, tmp):
    db = new_db(base, f"t_console_{os.getpid()}")
    lake = os.path.join(tmp, "lake")
    run([sys.executable, os.path.join(REPO, "tests", "curator", "gen_raw.py"), "--out", lake, "--bad",
         "--events", "2500"])
    for f in sorted(os.listdir(os.path.join(lake, "schemas"))):
        t, v = f[:-5].rsplit(".v", 1)
        run([WEIR, "schema", "add", t, os.path.join(lake, "schemas", f), "--version", v, "--force",
             "--database-url", db])
    # 2026-11-10 curated, 2026-11-11 left raw.
    run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
         "--dt", "2026-11-10"])
    check(psql(db, "SELECT count(*) FROM curation_state WHERE curated_fingerprint = fingerprint"
                   " AND dt = '2026-11-10'")[0][0] == "2", "2026-11-10 is curated for both types")

    ingest = run([WEIR, "key", "create", "--name", "ingest", "--database-url", db]).stdout.strip().split("\n")[-1]
    rk = read_key(db, "analyst")
    rk_click = read_key(db, "clicks-only", "click")
    rk_revoked = read_key(db, "gone")
    check(rk.startswith("weir_rk_"), f"a read key starts with weir_rk_: {rk[:10]}")

    # Events of now through the gateway: accepted into raw/, and rejected ones.
    gw, port, gwlog = gateway(db, lake, tmp, "gw")
    now_events = [{"event_type": "order_placed", "event_id": f"now-{i}",
                   "payload": {"order_id": 900000 + i, "amount": 1.5, "currency": "SEK", "paid": True,
                               "items": [], "meta": {}}} for i in range(5)]
    st, body = send(port, ingest, now_events)
    check(st == 202, f"gateway accepted the events of now: {st} {body[:200]}")
    bad = [{"event_type": "order_placed", "event_id": "bad-1", "payload": {"order_id": "not a number"}},
           {"event_type": "click", "event_id": "bad-2", "payload": {"x": "left"}}]
    st, body = send(port, ingest, bad)
    check(st == 422, f"gateway rejected the bad events: {st}")
    gw.send_signal(signal.SIGTERM)
    check(gw.wait(timeout=60) == 0, "the gateway drained")
    gwlog.close()

    psql(db, ROLLUP_DDL)
    psql(db, "INSERT INTO rollups VALUES ('orders_by_currency', 'order_placed', 'day', '{payload.currency}',"
             " '[{\"count\": \"*\"}]', true) ON CONFLICT DO NOTHING")
    psql(db, "INSERT INTO rollup_values VALUES ('orders_by_currency', '2026-11-10T00:00:00Z',"
             " '{\"payload.currency\": \"USD\"}', '{\"count\": 123}')")

    con = Console(db, lake, tmp)
    try:
        check_auth(con, db, rk, rk_click, rk_revoked, ingest)
        check_meta(con, rk, rk_click)
        check_events(con, tmp, lake, rk)
        check_context(con, lake, rk)
        check_bad_input(con, rk)
        check_rejected(con, rk, rk_click)
        check_static(con)
        check_truncated_parquet(con, lake, rk)
    finally:
        check(con.stop() == 0, "the console stops with 0 on SIGTERM")
    check_budget(db, lake, tmp, rk)
    check_tls(db, lake, tmp, rk)
    check_up(db, tmp, rk)
    psql(base, f"DROP DATABASE IF EXISTS t_console_{os.getpid()}")
    check_open_hour(base, tmp)


def check_open_hour(base, tmp):
    """A day curated while its current hour is still open (the curation covers the closed
    hours only, so curation_state looks current): the events query and the overview must
    still see the open hour's events, from the raw zone."""
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc)
    if now.hour == 0 or now.minute >= 58:
        print("note: open-hour check left out (today has no closed hour yet, or the hour is "
              "about to turn)", file=sys.stderr)
        return
    name = f"t_console_open_{os.getpid()}"
    db = new_db(base, name)
    lake = os.path.join(tmp, "lake-open")
    today = now.strftime("%Y-%m-%d")
    run([sys.executable, os.path.join(REPO, "tests", "curator", "gen_raw.py"), "--out", lake,
         "--events", "300", "--start", today + "T00:00:00Z", "--hours", str(now.hour)])
    for f in sorted(os.listdir(os.path.join(lake, "schemas"))):
        t, v = f[:-5].rsplit(".v", 1)
        run([WEIR, "schema", "add", t, os.path.join(lake, "schemas", f), "--version", v, "--force",
             "--database-url", db])
    run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s", "--dt", today])
    check(psql(db, f"SELECT count(*) FROM curation_state WHERE curated_fingerprint = fingerprint"
                   f" AND dt = '{today}' AND event_type = 'order_placed'")[0][0] == "1",
          "open hour: today is curated")
    ingest = run([WEIR, "key", "create", "--name", "ingest", "--database-url", db]).stdout.strip().split("\n")[-1]
    rk = read_key(db, "analyst")
    gw, port, gwlog = gateway(db, lake, tmp, "gw-open")
    evs = [{"event_type": "order_placed", "event_id": f"open-{i}",
            "payload": {"order_id": 800000 + i, "amount": 2.5, "currency": "NOK", "paid": False,
                        "items": [], "meta": {}}} for i in range(3)]
    st, body = send(port, ingest, evs)
    check(st == 202, f"open hour: the gateway accepted the events ({st} {body[:200]})")
    gw.send_signal(signal.SIGTERM)
    check(gw.wait(timeout=60) == 0, "open hour: the gateway drained")
    gwlog.close()
    check(psql(db, f"SELECT count(*) FROM curation_state WHERE curated_fingerprint = fingerprint"
                   f" AND dt = '{today}' AND event_type = 'order_placed'")[0][0] == "1",
          "open hour: the day still looks curated")
    con = Console(db, lake, tmp, name="console-open")
    try:
        frm, to = today + "T00:00:00Z", (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:00:00Z")
        st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": frm, "to": to,
                                                     "limit": "1000"})
        got = ids(body) if st == 200 else []
        check(st == 200 and [e for e, _ in got[:3]] == ["open-2", "open-1", "open-0"]
              or sorted(e for e, _ in got[:3]) == ["open-0", "open-1", "open-2"],
              f"open hour: the open hour's events come first: {got[:4]}")
        # the whole day: the curated hours from Parquet and the open hour from raw, as DuckDB
        # reads the day's raw files (deduplicated the same way)
        ref = duck(tmp, lake, [], [today], "order_placed", frm, to, [], 1000)
        check(got == ref, f"open hour: the day equals DuckDB on its raw files ({len(got)} vs {len(ref)})")
        st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": frm, "to": to,
                                                     "where": ["currency:NOK"]})
        check(st == 200 and sorted(e["event_id"] for e in body["events"]) == ["open-0", "open-1", "open-2"],
              f"open hour: a filter finds them: {st} {[e['event_id'] for e in body.get('events', [])]}")
        st, body, _ = con.get("/api/v1/overview", rk, {"hours": "2"})
        ov = {t["event_type"]: t for t in body.get("event_types", [])} if st == 200 else {}
        series = ov.get("order_placed", {}).get("series", [])
        cur_hour = now.strftime("%Y-%m-%dT%H:00:00.000Z")
        last = series[-1] if series else {}
        check(last.get("hour") == cur_hour and last.get("accepted", 0) >= 1 and last.get("estimated") is True,
              f"open hour: the overview counts the open hour: {last}")
        check(ov.get("order_placed", {}).get("last_received") == cur_hour,
              f"open hour: last_received is the open hour: {ov.get('order_placed', {}).get('last_received')}")
    finally:
        check(con.stop() == 0, "open hour: the console stops")
    psql(base, f"DROP DATABASE IF EXISTS {name}")


def check_tls(db, lake, tmp, rk):
    """--tls-cert/--tls-key (and their WEIR_CONSOLE_TLS_* variables): HTTPS with an
    openssl-made pair, plain HTTP refused, SIGHUP serves a new pair, a bad one keeps it."""
    sys.path.insert(0, os.path.join(REPO, "tests", "tls"))
    import tlslib
    cert, key = tlslib.make_cert(os.path.join(tmp, "tls1"), "console-one")
    r = run([WEIR, "console", "--database-url", db, "--lake", "file://" + lake, "--tls-cert", cert], ok=False)
    check(r.returncode == 2 and "--tls-key" in r.stderr, f"--tls-cert alone: exit 2 naming --tls-key ({r.returncode})")
    live_cert, live_key = os.path.join(tmp, "live-cert.pem"), os.path.join(tmp, "live-key.pem")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    # The gateway's variables are not the console's: WEIR_TLS_* set to nonsense is ignored.
    con = Console(db, lake, tmp, name="console-tls", ca=cert,
                  env={"WEIR_CONSOLE_TLS_CERT": live_cert, "WEIR_CONSOLE_TLS_KEY": live_key,
                       "WEIR_TLS_CERT": "/nonexistent", "WEIR_TLS_KEY": "/nonexistent"})
    try:
        st, body, _ = con.get("/api/v1/health", rk)
        check(st == 200 and body.get("status") == "ok", f"HTTPS: health {st}")
        st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-1h"})
        check(st == 200 and len(body.get("events", [])) == 5, f"HTTPS: events {st}")
        plain = http.client.HTTPConnection("127.0.0.1", con.port, timeout=10)
        try:
            plain.request("GET", "/api/v1/health", headers={"Authorization": "Bearer " + rk})
            ok_plain = plain.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            ok_plain = False
        plain.close()
        check(not ok_plain, "plain HTTP to the HTTPS console gets no answer")
        check(tlslib.peer_cert(con.port) == tlslib.der_of(cert), "the console shows its certificate")
        cert2, key2 = tlslib.make_cert(os.path.join(tmp, "tls2"), "console-two")
        shutil.copy(cert2, live_cert)
        shutil.copy(key2, live_key)
        con.p.send_signal(signal.SIGHUP)
        wait_for(lambda: tlslib.peer_cert(con.port) == tlslib.der_of(cert2), 20, "the new certificate after SIGHUP")
        con.ca = cert2
        st, _, _ = con.get("/api/v1/health", rk)
        check(st == 200, f"HTTPS after SIGHUP with the new pair ({st})")
        with open(live_cert, "w") as f:
            f.write("not a certificate\n")
        con.p.send_signal(signal.SIGHUP)
        wait_for(lambda: b"previous one stays" in open(con.logpath, "rb").read(), 20, "the refused reload")
        check(tlslib.peer_cert(con.port) == tlslib.der_of(cert2), "a bad pair on SIGHUP keeps the served one")
    finally:
        check(con.stop() == 0, "the HTTPS console stops with 0")


def check_up(db, tmp, rk):
    """`weir up` runs the console beside the gateway, and Ctrl-C stops both."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    cport = s.getsockname()[1]
    s.close()
    home = os.path.join(tmp, "up")
    os.makedirs(home)
    ready = os.path.join(home, "gw.ready")
    log = open(os.path.join(home, "up.log"), "wb")
    up = subprocess.Popen([WEIR, "up", "--database-url", db, "--listen", "127.0.0.1:0",
                           "--console", f"127.0.0.1:{cport}", "--spool-dir", "spool"], cwd=home,
                          env=dict(os.environ, WEIR_READY_FILE=ready), stdout=log, stderr=log)
    try:
        wait_for(lambda: os.path.exists(ready) and open(ready).read().strip(), 60, "weir up's gateway")

        def health():
            try:
                c = http.client.HTTPConnection("127.0.0.1", cport, timeout=5)
                c.request("GET", "/api/v1/health", headers={"Authorization": "Bearer " + rk})
                r = c.getresponse()
                body = json.loads(r.read())
                c.close()
                return r.status == 200 and body.get("status") == "ok"
            except OSError:
                return False
        check(wait_for(health, 30, "weir up's console"), "weir up serves the console on --console")
    finally:
        up.send_signal(signal.SIGINT)
        rc = up.wait(timeout=60)
        log.close()
    check(rc == 0, f"weir up stops the gateway and the console on SIGINT (exit {rc})")
    out = open(os.path.join(home, "up.log")).read()
    check(f"http://127.0.0.1:{cport}/" in out, "weir up prints the console's address")


def check_auth(con, db, rk, rk_click, rk_revoked, ingest):
    st, body, r = con.get("/api/v1/health")
    check(st == 401 and body.get("error") == "unauthorized", f"no key: 401 ({st} {body})")
    check(r.getheader("WWW-Authenticate") == "Bearer", "401 says WWW-Authenticate: Bearer")
    st, body, _ = con.get("/api/v1/health", "weir_rk_nosuchkey")
    check(st == 401, f"unknown key: 401 ({st})")
    st, body, _ = con.get("/api/v1/health", ingest)
    check(st == 403 and body.get("error") == "forbidden", f"ingest key: 403 ({st} {body})")
    st, body, _ = con.get("/api/v1/health", rk)
    check(st == 200 and body.get("status") == "ok" and body.get("registry") and body.get("lake"),
          f"health: {st} {body}")
    st, body, _ = con.get("/api/v1/events", rk_click, {"event_type": "order_placed"})
    check(st == 403, f"a read key of another scope: 403 ({st} {body})")
    st, _, _ = con.get("/api/v1/health", rk_revoked)
    check(st == 200, "the key works before it is revoked")
    run([WEIR, "key", "revoke", "gone", "--database-url", db])
    time.sleep(0.3)  # past --key-cache 200ms: the cached lookup expires (a documented delay)
    st, _, _ = con.get("/api/v1/health", rk_revoked)
    check(st == 401, f"a revoked key: 401 ({st})")
    st, body, _ = con.get("/api/v1/nope", rk)
    check(st == 404 and body.get("error") == "not_found", f"unknown endpoint: 404 ({st})")


def check_meta(con, rk, rk_click):
    st, body, _ = con.get("/api/v1/event-types", rk)
    types = {t["event_type"]: t for t in body.get("event_types", [])}
    check(st == 200 and set(types) == {"click", "order_placed"}, f"event-types: {st} {list(types)}")
    op = types.get("order_placed", {})
    check([v["version"] for v in op.get("versions", [])] == [1, 2] and op.get("compatibility") == "backward"
          and op.get("transitive") is False and all(v["active"] for v in op["versions"]),
          f"order_placed versions: {op}")
    check(op.get("last_received_hour") is not None and op["last_received_hour"].endswith(":00:00.000Z"),
          f"last_received_hour of order_placed (events were sent now): {op.get('last_received_hour')}")
    st, body, _ = con.get("/api/v1/event-types", rk_click)
    check([t["event_type"] for t in body["event_types"]] == ["click"], "a scoped key sees its types only")
    st, body, _ = con.get("/api/v1/schemas/order_placed", rk)
    check(st == 200 and body["event_type"] == "order_placed" and len(body["versions"]) == 2
          and "loyalty_points" in body["versions"][1]["schema"]["properties"], f"schemas: {st}")
    st, body, _ = con.get("/api/v1/schemas/nope", rk)
    check(st == 404, f"schemas of an unknown type: 404 ({st})")
    st, body, _ = con.get("/api/v1/keys", rk)
    names = {k["name"]: k for k in body.get("keys", [])}
    check(st == 200 and {"ingest", "analyst", "clicks-only", "gone"} <= set(names), f"keys: {list(names)}")
    check(names["clicks-only"]["event_types"] == ["click"] and names["analyst"]["event_types"] is None
          and names["analyst"]["kind"] == "read" and names["gone"]["revoked_at"] is not None
          and names["ingest"]["revoked_at"] is None, f"keys fields: {names.get('clicks-only')}")
    text = json.dumps(body)
    check("weir_rk_" not in text and "sha256" not in text and "key_sha" not in text,
          "keys never shows a secret or a hash")
    st, body, _ = con.get("/api/v1/rollups", rk)
    check(st == 200 and body["rollups"] == [{"name": "orders_by_currency", "event_type": "order_placed",
                                             "grain": "day", "dimensions": ["payload.currency"],
                                             "metrics": [{"count": "*"}], "active": True}], f"rollups: {body}")
    st, body, _ = con.get("/api/v1/rollups/orders_by_currency", rk,
                          {"from": "2026-11-09T00:00:00Z", "to": "2026-11-12T00:00:00Z"})
    check(st == 200 and body.get("grain") == "day" and body.get("rows") == [
        {"bucket": "2026-11-10T00:00:00.000Z", "dimensions": {"payload.currency": "USD"},
         "metrics": {"count": 123}}], f"rollup values: {st} {body}")
    st, body, _ = con.get("/api/v1/rollups/nope", rk)
    check(st == 404, f"unknown rollup: 404 ({st})")
    st, body, _ = con.get("/api/v1/rollups/orders_by_currency", rk_click)
    check(st == 403, f"a rollup of another scope: 403 ({st})")
    st, body, _ = con.get("/api/v1/overview", rk, {"hours": "6"})
    ov = {t["event_type"]: t for t in body.get("event_types", [])}
    check(st == 200 and len(ov.get("order_placed", {}).get("series", [])) == 6, f"overview: {st}")
    series = ov["order_placed"]["series"]
    check(sum(h["accepted"] for h in series) >= 1 and series[-1]["estimated"] in (True, False)
          and any(h["estimated"] for h in series), f"overview estimates the raw hours of now: {series[-2:]}")
    check(sum(h["rejected"] for h in series) == 1 and sum(h["rejected"] for h in ov["click"]["series"]) == 1,
          "overview counts the rejections per type")
    st, body, _ = con.get("/api/v1/overview", rk, {"hours": "100000"})
    check(st == 400 and "hours" in body.get("message", ""), "overview: bad hours is 400")


def ids(body):
    return [[e["event_id"], us(e["received_at"])] for e in body["events"]]


def check_events(con, tmp, lake, rk):
    frm, to = "2026-11-10T00:00:00Z", "2026-11-12T00:00:00Z"
    cases = [
        ("curated", ["2026-11-10"], [], "2026-11-10T00:00:00Z", "2026-11-10T23:59:59.999Z",
         [("source", "shop-ios")], 1000),
        ("raw", [], ["2026-11-11"], "2026-11-11T00:00:00Z", "2026-11-11T23:59:59.999Z",
         [("source", "shop-web")], 1000),
        ("both", ["2026-11-10"], ["2026-11-11"], frm, to, [("currency", "EUR")], 1000),
        ("both, limit", ["2026-11-10"], ["2026-11-11"], frm, to, [], 50),
        ("both, two filters", ["2026-11-10"], ["2026-11-11"], frm, to,
         [("currency", "USD"), ("paid", "true")], 1000),
    ]
    for name, cd, rd, f, t, where, limit in cases:
        params = {"event_type": "order_placed", "from": f, "to": t, "limit": str(limit),
                  "where": [f"{k}:{v}" for k, v in where]}
        st, body, _ = con.get("/api/v1/events", rk, params)
        if st != 200:
            check(False, f"events {name}: {st} {body}")
            continue
        ref = duck(tmp, lake, cd, rd, "order_placed", f, t, where, limit)
        got = ids(body)
        check(len(got) > 0 and got == ref, f"events {name}: console {len(got)} rows == DuckDB {len(ref)} rows"
              + ("" if got == ref else f"; first diff {next((a, b) for a, b in zip(got + [None] * 9, ref + [None] * 9) if a != b)}"))
        check(all(k in body for k in ("scanned_files", "scanned_rows", "elapsed_ms")), f"events {name}: stats")
    # one event by id, and its payload typed as sent
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-1h", "to": "now",
                                                 "where": ["event_id:now-3"]})
    ev = body.get("events", [{}])
    check(st == 200 and len(ev) == 1 and ev[0].get("payload", {}).get("order_id") == 900003
          and ev[0].get("payload", {}).get("currency") == "SEK", f"event by id, relative time: {st} {ev}")
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-1h",
                                                 "where": ["payload.order_id:900001"]})
    check(st == 200 and [e["event_id"] for e in body["events"]] == ["now-1"], "payload.FIELD form and number value")
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-1h",
                                                 "where": ["context.ip:127.0.0.1"]})
    check(st == 200, f"a context filter is accepted ({st})")
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-1h"})
    got = [e["event_id"] for e in body.get("events", [])]
    check(got[:5] == [f"now-{i}" for i in range(5)][::-1] or sorted(got) == sorted(f"now-{i}" for i in range(5)),
          f"newest first, the events of now: {got}")


def raw_ref(lake, typ, days, frm, to, keep):
    """The raw lines of days, deduplicated by event_id (first received_at), kept by keep(line
    object), newest first: [[event_id, received_at_us], ...]."""
    first = {}
    for d in days:
        for root, _, files in os.walk(os.path.join(lake, "raw", f"event_type={typ}", f"dt={d}")):
            for f in files:
                for ln in readable(os.path.join(root, f)).split(b"\n"):
                    try:
                        o = json.loads(ln)
                        eid, r = o["event_id"], us(o["received_at"])
                    except (ValueError, KeyError, TypeError, AttributeError):
                        continue
                    if isinstance(eid, str) and (eid not in first or r < first[eid][0]):
                        first[eid] = (r, o)
    rows = [[e, r] for e, (r, o) in first.items() if us(frm) <= r <= us(to) and keep(o)]
    return sorted(rows, key=lambda x: (-x[1], x[0]))


def ctx_of(o, member, field):
    c = o.get("context") if isinstance(o, dict) else None
    if member:
        c = c.get(member) if isinstance(c, dict) else None
    return c.get(field) if isinstance(c, dict) else None


def check_context(con, lake, rk):
    """where=context.X:V reads the curated context_* columns on curated days (no raw file
    opened) and the raw context on the others; curated rows carry a rebuilt context."""
    frm, to = "2026-11-10T00:00:00Z", "2026-11-12T00:00:00Z"
    cases = [("context.country:SE", "geo", "country", "SE"), ("context.geo.country:SE", "geo", "country", "SE"),
             ("context.browser:Googlebot", "ua", "browser", "Googlebot"), ("context.bot:true", "ua", "bot", True),
             ("context.ip:198.51.100.0", None, "ip", "198.51.100.0"),
             ("context.city:Z\u00fcrich \"q\"", "geo", "city", 'Z\u00fcrich "q"')]
    for where, member, field, val in cases:
        st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": frm, "to": to,
                                                     "where": [where], "limit": "1000"})
        ref = raw_ref(lake, "order_placed", ["2026-11-10", "2026-11-11"], frm, to,
                      lambda o: ctx_of(o, member, field) == val)
        got = ids(body) if st == 200 else []
        check(st == 200 and len(ref) > 0 and got == ref,
              f"context {where}: console {len(got)} rows == the raw lines' {len(ref)} ({st})")
        cur = [e for e in body.get("events", []) if e["received_at"].startswith("2026-11-10")]
        check(len(cur) > 0 and all(ctx_of(e, member, field) == val for e in cur),
              f"context {where}: curated rows carry the context member")
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": frm,
                                                 "to": "2026-11-10T23:59:59Z", "where": ["context.country:SE"],
                                                 "limit": "1000"})
    check(st == 200 and body.get("scanned_files") == 1,
          f"a context filter on a curated day reads its Parquet file only: {body.get('scanned_files')} files")
    se = body.get("events", [{}])[0]
    check(se.get("context") == {"ip": "203.0.113.0", "ua": {"browser": "Firefox", "os": "Linux",
                                                            "device": "desktop", "bot": False},
                                "geo": {"country": "SE", "city": "Stockholm"}},
          f"a curated row's context is rebuilt from the columns: {se.get('context')}")
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": frm, "to": to,
                                                 "where": ["context.user_agent:x"]})
    check(st == 200 and body["events"] == [], f"a context key with no column is answered from raw ({st})")


def check_bad_input(con, rk):
    base = {"event_type": "order_placed", "from": "2026-11-10T00:00:00Z", "to": "2026-11-12T00:00:00Z"}
    st, body, _ = con.get("/api/v1/events", rk, dict(base, where=["user_idd:42"]))
    check(st == 400 and body.get("error") == "bad_request" and "user_idd" in body.get("message", ""),
          f"unknown field: 400 naming it ({st} {body})")
    st, body, _ = con.get("/api/v1/events", rk, dict(base, where=["nocolon"]))
    check(st == 400 and "where" in body.get("message", ""), f"where without ':' is 400 ({st})")
    st, body, _ = con.get("/api/v1/events", rk, dict(base, where=["source:a", "source:b", "source:c", "source:d"]))
    check(st == 400 and "where" in body.get("message", ""), f"four filters: 400 ({st})")
    st, body, _ = con.get("/api/v1/events", rk, dict(base, **{"from": "yesterday"}))
    check(st == 400 and "from" in body.get("message", ""), f"bad TIME: 400 naming from ({st} {body})")
    st, body, _ = con.get("/api/v1/events", rk, dict(base, to="2026-13-45T00:00:00Z"))
    check(st == 400 and "to" in body.get("message", ""), f"bad TIME: 400 naming to ({st})")
    st, body, _ = con.get("/api/v1/events", rk, dict(base, limit="1001"))
    check(st == 400 and "limit" in body.get("message", ""), f"limit > 1000: 400 ({st})")
    st, body, _ = con.get("/api/v1/events", rk, dict(base, limit="0"))
    check(st == 400, f"limit 0: 400 ({st})")
    st, body, _ = con.get("/api/v1/events", rk, {"from": "-1h"})
    check(st == 400 and "event_type" in body.get("message", ""), f"no event_type: 400 ({st})")
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "nope"})
    check(st == 400 and "event_type" in body.get("message", ""), f"unknown event_type: 400 ({st})")
    st, body, _ = con.get("/api/v1/events", rk, dict(base, **{"from": "2026-11-12T00:00:00Z",
                                                            "to": "2026-11-10T00:00:00Z"}))
    check(st == 400, f"from after to: 400 ({st})")
    # 10 years: answered (the lake holds a few days), limit applies
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-10y", "to": "now",
                                                 "limit": "10"})
    check(st == 200 and len(body["events"]) == 10, f"a 10-year range is answered ({st})")


def check_rejected(con, rk, rk_click):
    st, body, _ = con.get("/api/v1/rejected", rk, {"from": "-1h"})
    evs = body.get("events", [])
    types = sorted(e["event_type"] for e in evs)
    check(st == 200 and types == ["click", "order_placed"], f"rejected: {st} {types}")
    e = next((e for e in evs if e["event_type"] == "order_placed"), {})
    check(e.get("line", {}).get("event", {}).get("event_id") == "bad-1" and e.get("errors")
          and e.get("received_at") and "source" in e, f"rejected row: {e}")
    st, body, _ = con.get("/api/v1/rejected", rk, {"from": "-1h", "event_type": "click"})
    check([x["event_type"] for x in body["events"]] == ["click"], "rejected by type")
    st, body, _ = con.get("/api/v1/rejected", rk, {"from": "-1h", "reason": "schema"})
    check(len(body["events"]) == 2, f"rejected by reason: {len(body['events'])}")
    st, body, _ = con.get("/api/v1/rejected", rk, {"from": "-1h", "reason": "too_large"})
    check(st == 200 and body["events"] == [], "rejected by another reason: none")
    st, body, _ = con.get("/api/v1/rejected", rk_click, {"from": "-1h"})
    check([x["event_type"] for x in body["events"]] == ["click"], "a scoped key sees its rejections only")
    st, body, _ = con.get("/api/v1/rejected", rk_click, {"from": "-1h", "event_type": "order_placed"})
    check(st == 403, f"rejected of another scope: 403 ({st})")


def check_static(con):
    st, body, r = con.get("/")
    check(st == 200 and r.getheader("Content-Type").startswith("text/html") and b"<" in body,
          f"the page loads without a key ({st})")
    etag = r.getheader("ETag")
    check(etag and r.getheader("Cache-Control"), "the page has an ETag and Cache-Control")
    st, _, _ = con.get("/", headers={"If-None-Match": etag})
    check(st == 304, f"If-None-Match: 304 ({st})")
    st, _, _ = con.get("/index.html")
    check(st == 200, "index.html by name")
    st, _, _ = con.get("/nope.js")
    check(st == 404, f"unknown file: 404 ({st})")


def check_truncated_parquet(con, lake, rk):
    folder = os.path.join(lake, "curated", "events", "event_type=click", "dt=2026-11-10")
    part = [f for f in os.listdir(folder) if f.endswith(".parquet")][0]
    path = os.path.join(folder, part)
    data = open(path, "rb").read()
    st0, body0, _ = con.get("/api/v1/events", rk, {"event_type": "click", "from": "2026-11-10T00:00:00Z",
                                                   "to": "2026-11-12T00:00:00Z", "limit": "1000"})
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "click", "from": "2026-11-10T00:00:00Z",
                                                 "to": "2026-11-12T00:00:00Z", "limit": "1000"})
    bad = body.get("bad_files", [])
    check(st == 200 and any(part in b["file"] for b in bad) and all(b.get("error") for b in bad),
          f"a truncated Parquet file is reported: {st} {bad}")
    raw_days = {e["received_at"][:10] for e in body.get("events", [])}
    check(raw_days == {"2026-11-11"} and len(body["events"]) > 0,
          f"the rest is answered (the raw day): {raw_days}")
    check(st0 == 200 and len(body0["events"]) > len(body["events"]), "the healthy file gave more rows")
    with open(path, "wb") as f:  # garbage with a Parquet magic: hostile footer
        f.write(b"PAR1" + b"\xff" * 100 + (2**31 - 1).to_bytes(4, "little") + b"PAR1")
    st, body, _ = con.get("/api/v1/events", rk, {"event_type": "click", "from": "2026-11-10T00:00:00Z",
                                                 "to": "2026-11-12T00:00:00Z", "limit": "1000"})
    check(st == 200 and any(part in b["file"] for b in body.get("bad_files", [])), "a hostile footer is reported")
    with open(path, "wb") as f:
        f.write(data)


def check_budget(db, lake, tmp, rk):
    """The scan budget: a tiny one stops the query and says so."""
    con = Console(db, lake, tmp, "--max-scan-files", "2", name="console-budget")
    try:
        st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-10y",
                                                     "where": ["currency:XXX"]})
        check(st == 200 and body.get("truncated") is True and body.get("stopped_reason") == "scan_files"
              and body.get("scanned_files") == 2, f"budget: {st} {dict((k, v) for k, v in body.items() if k != 'events')}")
    finally:
        con.stop()
    con = Console(db, lake, tmp, "--max-scan-rows", "100", name="console-rows")
    try:
        st, body, _ = con.get("/api/v1/events", rk, {"event_type": "order_placed", "from": "-10y",
                                                     "where": ["currency:XXX"]})
        check(st == 200 and body.get("truncated") is True and body.get("stopped_reason") == "scan_rows",
              f"row budget: {st} {body.get('stopped_reason')}")
    finally:
        con.stop()


def main():
    if not WEIR:
        print("SKIP: WEIR (the weir binary) is not set", file=sys.stderr)
        return 77
    if not os.path.isdir(os.path.join(TOOLS, "node_modules", "@duckdb")):
        print(f"FAIL: DuckDB is needed in {TOOLS}/node_modules: run scripts/npm-deps.sh", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="weir-con-")
    own_pg = None
    try:
        base = os.environ.get("WEIR_TEST_PG")
        if not base:
            own_pg = os.path.join(tmp, "pg")
            base = run([PGFIXTURE, "start", own_pg, "--fresh"]).stdout.strip().split("\n")[-1]
        test_all(base, tmp)
    finally:
        if own_pg:
            subprocess.run([PGFIXTURE, "stop", own_pg, "--remove"], capture_output=True)
        if weirtest.failed == 0 and not os.environ.get("WEIR_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    print(f"{weirtest.passed} passed, {weirtest.failed} failed")
    return 1 if weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
