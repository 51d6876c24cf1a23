#!/usr/bin/env python3
"""test_schema_sql_gw.py - versions inserted with plain SQL skip `weir schema add`'s checks
(evolution.md): a running gateway loads them (they go live), logs a warning naming the type,
the version and the first difference, and exports weir_schema_incompatible{event_type,version}
1; a reload that changes nothing does not check (or warn) again; GET /v1/schemas/{type}
shows the type's mode, and `weir schema compat` changes it within the NOTIFY delay (the
verdicts follow the mode); `weir schema check` lists the incompatible versions (exit 1).
Needs WEIR and WEIR_TEST_PG."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

WEIR = os.environ.get("WEIR")
PG = os.environ.get("WEIR_TEST_PG")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weirtest  # noqa: E402
from weirtest import check  # noqa: E402
NOTIFY_S = 5  # a change is live within a second; the deadline leaves room for ASan


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def psql(db, sql):
    r = run(["psql", db, "-XAtqc", sql])
    if r.returncode:
        raise RuntimeError(r.stderr)
    return r.stdout.strip()


def wait(cond, what, deadline_s=NOTIFY_S):
    end = time.time() + deadline_s
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    check(False, f"timed out ({deadline_s} s) waiting for {what}")
    return False


def main():
    if not WEIR or not PG:
        print("skip: needs WEIR and WEIR_TEST_PG", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="weir-schema-sql-")
    gw = None
    try:
        psql(PG, "DROP DATABASE IF EXISTS t_schema_sql")
        psql(PG, "CREATE DATABASE t_schema_sql")
        db = " ".join([p for p in PG.split() if not p.startswith("dbname=")] + ["dbname=t_schema_sql"])
        check(run([WEIR, "migrate", "--database-url", db]).returncode == 0, "migrate")
        base = ["--database-url", db]
        props = {"email": {"type": "string"}, "plan": {"type": "string"}}
        v1 = os.path.join(tmp, "v1.json")
        with open(v1, "w") as f:
            json.dump({"type": "object", "properties": props, "required": ["email"]}, f)
        check(run([WEIR, "schema", "add", "signup", v1, *base, "--lake", "file://" + tmp + "/lake"])
              .returncode == 0, "v1 by weir schema add")
        # a type whose versions never went through weir schema add: no event_types row
        psql(db, "INSERT INTO event_schemas (event_type, version, schema) VALUES "
                 "('click', 1, '{\"type\": \"object\"}')")
        key = run([WEIR, "key", "create", "--name", "app", *base]).stdout.strip()
        ready = os.path.join(tmp, "ready")
        logp = os.path.join(tmp, "gw.log")
        log = open(logp, "wb")
        gw = subprocess.Popen([WEIR, "gateway", "--listen", "127.0.0.1:0", "--spool-dir",
                               os.path.join(tmp, "spool"), "--lake", "file://" + tmp + "/lake", *base],
                              env=dict(os.environ, WEIR_READY_FILE=ready), stdout=log, stderr=log)
        wait(lambda: os.path.exists(ready) and open(ready).read().strip(), "the gateway", 30)
        port = int(open(ready).read().strip())

        def req(method, path, body=None, auth=True):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            h = {"Content-Type": "application/json"}
            if auth:
                h["Authorization"] = "Bearer " + key
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, data

        def schemas(t):
            st, data = req("GET", "/v1/schemas/" + t)
            return json.loads(data) if st == 200 else {"status": st}

        def metric_lines():
            _, data = req("GET", "/metrics", auth=False)
            return [l for l in data.decode().splitlines() if l.startswith("weir_schema_incompatible")]

        def generation():
            _, data = req("GET", "/metrics", auth=False)
            m = re.search(r"^weir_registry_snapshot_generation (\d+)$", data.decode(), re.M)
            return int(m.group(1)) if m else 0

        def gwlog():
            with open(logp, errors="replace") as f:
                return f.read()

        def warnings(version):
            return [l for l in gwlog().splitlines()
                    if f"schema signup version {version} is " in l]

        s = schemas("signup")
        check(s.get("compatibility") == "backward" and s.get("transitive") is False
              and [v["version"] for v in s["versions"]] == [1], f"GET /v1/schemas/signup: {s}")
        s = schemas("click")
        check(s.get("compatibility") == "backward" and s.get("transitive") is False,
              f"a type without an event_types row shows the default: {s}")
        check(metric_lines() == [], f"no incompatible version yet: {metric_lines()}")
        r = run([WEIR, "schema", "check", *base])
        check(r.returncode == 0 and "incompatible" not in r.stdout, f"schema check clean: {r.stdout}")

        # v2 by plain SQL makes plan required: incompatible under backward, but it goes live
        psql(db, "INSERT INTO event_schemas (event_type, version, schema) VALUES ('signup', 2, "
                 "'{\"type\": \"object\", \"properties\": {\"email\": {\"type\": \"string\"}, "
                 "\"plan\": {\"type\": \"string\"}}, \"required\": [\"email\", \"plan\"]}')")
        want = 'weir_schema_incompatible{event_type="signup",version="2"} 1'
        wait(lambda: want in metric_lines(), "the metric of version 2")
        wait(lambda: warnings(2), "the warning of version 2")
        w = warnings(2)
        check(len(w) == 1 and "incompatible with version 1" in w[0] and "/required" in w[0]
              and "plan" in w[0] and "mode backward" in w[0], f"the warning names it: {w}")
        check([v["version"] for v in schemas("signup")["versions"]] == [1, 2], "version 2 is live")
        st, _ = req("POST", "/v1/events", json.dumps([{"event_type": "signup", "event_id": "x1",
                                                        "payload": {"email": "a@x"}}]))
        check(st == 422, f"old-shaped events are rejected under v2: {st}")

        # v3 by SQL relaxes it again: compatible with v2 under backward, no warning
        psql(db, "INSERT INTO event_schemas (event_type, version, schema) VALUES ('signup', 3, "
                 "'{\"type\": \"object\", \"properties\": {\"email\": {\"type\": \"string\"}, "
                 "\"plan\": {\"type\": \"string\"}}, \"required\": [\"email\"]}')")
        wait(lambda: [v["version"] for v in schemas("signup")["versions"]] == [1, 2, 3], "version 3 live")
        check(metric_lines() == [want], f"only version 2 is flagged: {metric_lines()}")
        check(warnings(3) == [], f"no warning for version 3: {warnings(3)}")

        # a reload that changes no schema checks nothing again (the verdict is cached)
        g = generation()
        run([WEIR, "key", "create", "--name", "other", *base])
        wait(lambda: generation() > g, "a reload after a key change")
        check(len(warnings(2)) == 1, f"version 2 warned once: {warnings(2)}")
        check(metric_lines() == [want], f"still flagged after the reload: {metric_lines()}")

        # weir schema check lists it, exit 1
        r = run([WEIR, "schema", "check", *base])
        check(r.returncode == 1, f"schema check exit 1: {r.returncode} {r.stderr}")
        check("signup version 2: INCOMPATIBLE with version 1 (mode backward)" in r.stdout
              and "/required" in r.stdout and "version 3" not in r.stdout
              and "1 version incompatible" in r.stdout, f"schema check lists v2: {r.stdout}")

        # the mode: full judges v3 (drops required plan) forward-incompatible with v2
        r = run([WEIR, "schema", "compat", "signup", "full", *base])
        check(r.returncode == 0, f"schema compat full: {r.stderr}")
        wait(lambda: schemas("signup").get("compatibility") == "full", "GET to show full")
        want3 = 'weir_schema_incompatible{event_type="signup",version="3"} 1'
        wait(lambda: want3 in metric_lines(), "version 3 flagged under full")
        check(sorted(metric_lines()) == sorted([want, want3]), f"full: {metric_lines()}")
        w = warnings(3)
        check(len(w) == 1 and "mode full" in w[0] and "with version 2" in w[0], f"v3 warning: {w}")
        r = run([WEIR, "schema", "check", *base])
        check(r.returncode == 1 and "signup version 3: INCOMPATIBLE with version 2 (mode full)" in r.stdout
              and "2 versions incompatible" in r.stdout, f"schema check under full: {r.stdout}")

        # transitive shows; none clears every verdict
        r = run([WEIR, "schema", "compat", "signup", "backward", "--transitive", *base])
        check(r.returncode == 0, f"schema compat --transitive: {r.stderr}")
        wait(lambda: schemas("signup").get("transitive") is True, "GET to show transitive")
        check(schemas("signup").get("compatibility") == "backward", "backward again")
        wait(lambda: metric_lines() == [want], "under backward only version 2 is flagged")
        r = run([WEIR, "schema", "compat", "signup", "none", "--transitive=false", *base])
        wait(lambda: schemas("signup").get("compatibility") == "none", "GET to show none")
        wait(lambda: metric_lines() == [], "no version flagged under none")
        r = run([WEIR, "schema", "check", *base])
        check(r.returncode == 0 and "incompatible" not in r.stdout, f"schema check under none: {r.stdout}")
        check(gw.poll() is None, "the gateway still runs")
    finally:
        if gw and gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            try:
                rc = gw.wait(timeout=60)
                check(rc == 0, f"gateway exit {rc}")
            except subprocess.TimeoutExpired:
                gw.kill()
        if weirtest.failed and os.path.exists(os.path.join(tmp, "gw.log")):
            sys.stdout.write(open(os.path.join(tmp, "gw.log"), errors="replace").read()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{weirtest.passed} passed, {weirtest.failed} failed")
    return 1 if weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
