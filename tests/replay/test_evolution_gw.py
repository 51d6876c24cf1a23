#!/usr/bin/env python3
"""test_evolution_gw.py - the case of evolution.md end to end through a real gateway: v1;
v2 adding an optional property goes in; v3 making `plan` required is refused with "N of M
recent events would fail" and inserts nothing; with --force it goes in and the gateway
rejects old-shaped events; v4 fixing it goes in; `weir replay` brings every rejected event
back (under the hour it was received, with its event_id); a second replay replays 0.
(Curation of replayed days is proven on closed hours by test_replay.py.)
Needs WEIR and WEIR_TEST_PG."""
import glob
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

WEIR = os.environ.get("WEIR")
PG = os.environ.get("WEIR_TEST_PG")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weirtest  # noqa: E402
from weirtest import check  # noqa: E402


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def psql(db, sql):
    r = run(["psql", db, "-XAtqc", sql])
    if r.returncode:
        raise RuntimeError(r.stderr)
    return r.stdout.strip()


def lines(pattern):
    out = []
    for p in sorted(glob.glob(pattern, recursive=True)):
        with gzip.open(p, "rt") as f:
            out += [json.loads(x) for x in f if x.strip()]
    return out


def wait(cond, what, deadline_s=30):
    end = time.time() + deadline_s
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    check(False, f"timed out waiting for {what}")
    return False


def main():
    if not WEIR or not PG:
        print("skip: needs WEIR and WEIR_TEST_PG", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="weir-evo-gw-")
    gw = None
    try:
        psql(PG, "DROP DATABASE IF EXISTS t_evo_gw")
        psql(PG, "CREATE DATABASE t_evo_gw")
        db = " ".join([p for p in PG.split() if not p.startswith("dbname=")] + ["dbname=t_evo_gw"])
        run([WEIR, "migrate", "--database-url", db])
        lake = os.path.join(tmp, "lake")
        base = ["--database-url", db, "--lake", "file://" + lake]

        def sfile(name, doc):
            p = os.path.join(tmp, name)
            with open(p, "w") as f:
                json.dump(doc, f)
            return p

        props = {"email": {"type": "string"}}
        v1 = sfile("v1.json", {"type": "object", "properties": props, "required": ["email"]})
        v2 = sfile("v2.json", {"type": "object", "properties": dict(props, plan={"type": "string"}),
                               "required": ["email"]})
        v3 = sfile("v3.json", {"type": "object", "properties": dict(props, plan={"type": "string"}),
                               "required": ["email", "plan"]})
        v4 = v2
        check(run([WEIR, "schema", "add", "signup", v1, *base]).returncode == 0, "v1")
        key = run([WEIR, "key", "create", "--name", "app", "--database-url", db]).stdout.strip()
        ready = os.path.join(tmp, "ready")
        log = open(os.path.join(tmp, "gw.log"), "wb")
        gw = subprocess.Popen([WEIR, "gateway", "--listen", "127.0.0.1:0", "--spool-dir",
                               os.path.join(tmp, "spool"), "--flush-interval", "1s", *base],
                              env=dict(os.environ, WEIR_READY_FILE=ready), stdout=log, stderr=log)
        wait(lambda: os.path.exists(ready) and open(ready).read().strip(), "the gateway")
        port = int(open(ready).read().strip())

        def post(events):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            c.request("POST", "/v1/events", body=json.dumps(events),
                      headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
            r = c.getresponse()
            body = json.loads(r.read())
            c.close()
            return r.status, body

        # traffic under v1: 30 events, none with a plan
        st, _ = post([{"event_type": "signup", "event_id": f"a{i}", "payload": {"email": f"u{i}@x"}}
                      for i in range(30)])
        check(st == 202, f"v1 traffic {st}")
        wait(lambda: len(lines(f"{lake}/raw/event_type=signup/**/*.jsonl.gz")) == 30, "30 raw events")
        r = run([WEIR, "schema", "add", "signup", v2, *base])
        check(r.returncode == 0 and r.stdout.strip() == "signup version 2 added", f"v2 optional plan: {r.stderr}")
        r = run([WEIR, "schema", "add", "signup", v3, *base])
        check(r.returncode == 1 and "30 of 30 recent events would fail" in r.stderr, f"v3 refused: {r.stderr}")
        rep = json.loads(r.stdout)
        check(rep["sample"]["would_reject"] == 30, "the report says 30")
        # the structural step (validator/compat.h) names the new required property
        check(any(d["verdict"] == "incompatible" and d["path"].endswith("/required")
                  and "plan" in d["reason"] for d in rep["differences"]),
              f"the differences name required plan: {rep['differences']}")
        check(psql(db, "SELECT max(version) FROM event_schemas") == "2", "v3 not inserted")
        r = run([WEIR, "schema", "add", "signup", v3, "--force", *base])
        check(r.returncode == 0 and r.stdout.strip() == "signup version 3 added", f"--force: {r.stderr}")
        # weir schema diff: one line per difference, for people
        r = run([WEIR, "schema", "diff", "signup", "2", "3", *base[:2]])
        check(r.returncode == 0 and "/required" in r.stdout and "plan" in r.stdout
              and len(r.stdout.strip().splitlines()) == 1, f"schema diff 2 3: {r.stdout} {r.stderr}")
        r = run([WEIR, "schema", "diff", "signup", "3", "3", *base[:2]])
        check(r.returncode == 0 and r.stdout == "", f"schema diff 3 3 is empty: {r.stdout!r}")
        r = run([WEIR, "schema", "diff", "signup", "2", "9", *base[:2]])
        check(r.returncode == 1 and "no version 9" in r.stderr, f"schema diff of a missing version: {r.stderr}")
        r = run([WEIR, "schema", "diff", "signup", "2", "x", *base[:2]])
        check(r.returncode == 2, f"schema diff with a bad version is a usage error: {r.returncode}")
        # the gateway reloads (NOTIFY): old-shaped events are rejected now
        wait(lambda: post([{"event_type": "signup", "event_id": "probe", "payload": {"email": "p@x"}}])[0] == 422,
             "the gateway to reject old-shaped events")
        st, body = post([{"event_type": "signup", "event_id": f"b{i}", "payload": {"email": f"v{i}@x"}}
                         for i in range(20)] +
                        [{"event_type": "signup", "payload": {"email": f"noid{i}@x"}} for i in range(5)])
        check(st == 422 and body["rejected"] == 25, f"25 rejected under v3: {st} {body.get('rejected')}")
        wait(lambda: len(lines(f"{lake}/rejected/**/*.jsonl.gz")) >= 26, "26 rejected lines")
        rejected = lines(f"{lake}/rejected/**/*.jsonl.gz")
        r = run([WEIR, "schema", "add", "signup", v4, *base])
        check(r.returncode == 0 and r.stdout.strip() == "signup version 4 added", f"v4: {r.stderr}")
        r = run([WEIR, "replay", *base])
        rep = json.loads(r.stdout)
        check(r.returncode == 0 and rep["replayed"] == len(rejected) == 26, f"replay: {rep}")
        back = lines(f"{lake}/raw/event_type=signup/**/replay-*.jsonl.gz")
        ids = sorted(e["event_id"] for e in back)
        want = sorted(["probe"] + [f"b{i}" for i in range(20)])
        check(sorted(i for i in ids if not i.startswith("rp-")) == want and len(ids) == 26 == len(set(ids)),
              f"replayed ids {ids}")
        check(all(e["schema_version"] == 4 for e in back), "replayed under v4")
        by_rec = sorted(e["received_at"] for e in rejected)
        check(sorted(e["received_at"] for e in back) == by_rec, "original received_at kept")
        # the gateway's context is on the rejected lines and comes back with the replay
        ctx = sorted(json.dumps(e.get("context"), sort_keys=True) for e in rejected)
        check(all(e.get("context", {}).get("ip") == "127.0.0.0" for e in rejected),
              f"rejected lines carry the context (truncated ip): {rejected[0]}")
        check(sorted(json.dumps(e.get("context"), sort_keys=True) for e in back) == ctx,
              "original context kept")
        r = run([WEIR, "replay", *base])
        check(json.loads(r.stdout)["replayed"] == 0, "a second replay replays 0")
    finally:
        if gw and gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            try:
                gw.wait(timeout=60)
            except subprocess.TimeoutExpired:
                gw.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{weirtest.passed} passed, {weirtest.failed} failed")
    return 1 if weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
