#!/usr/bin/env python3
"""test_schema_evo.py - `weir schema add` with the dry run on real traffic and `weir schema
compat` (evolution.md): a file:// lake with accepted raw events of the last hours (and older
ones, and another type's), a real Postgres. A version that would reject sampled events is
refused (exit 1, the report on stdout, nothing inserted); --dry-run inserts nothing;
--force inserts; a compatible version goes in; modes are shown and set.
Needs WEIR and WEIR_TEST_PG."""
import gzip
import json
import os
import shutil
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
    return [ln.split("|") for ln in r.stdout.strip().split("\n") if ln]


def put_raw(lake, t, ts, name, events):
    tm = time.gmtime(ts)
    d = os.path.join(lake, "raw", f"event_type={t}", f"dt={time.strftime('%Y-%m-%d', tm)}",
                     f"hr={time.strftime('%H', tm)}")
    os.makedirs(d, exist_ok=True)
    rec = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", tm)
    lines = [json.dumps({"event_type": t, "schema_version": 1, "event_id": i, "received_at": rec,
                         "source": "app", "payload": p}) for i, p in events]
    with open(os.path.join(d, name), "wb") as f:
        f.write(gzip.compress(("\n".join(lines) + "\n").encode()))


def main():
    if not WEIR or not PG:
        print("skip: needs WEIR and WEIR_TEST_PG", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="weir-evo-")
    try:
        psql(PG, "DROP DATABASE IF EXISTS t_schema_evo")
        psql(PG, "CREATE DATABASE t_schema_evo")
        db = " ".join([p for p in PG.split() if not p.startswith("dbname=")] + ["dbname=t_schema_evo"])
        run([WEIR, "migrate", "--database-url", db])
        lake = os.path.join(tmp, "lake")
        now = time.time()
        # 30 with plan, 20 without, in the last hours; 10 without plan 30 hours ago
        put_raw(lake, "signup", now, "a.jsonl.gz", [(f"p{i}", {"plan": "pro"}) for i in range(30)])
        put_raw(lake, "signup", now - 3600, "b.jsonl.gz", [(f"n{i}", {"x": 1}) for i in range(20)])
        put_raw(lake, "signup", now - 30 * 3600, "c.jsonl.gz", [(f"o{i}", {"x": 1}) for i in range(10)])
        os.makedirs(os.path.join(lake, "raw", "event_type=other"), exist_ok=True)
        put_raw(lake, "other", now, "z.jsonl.gz", [(f"z{i}", {}) for i in range(7)])

        def sfile(name, doc):
            p = os.path.join(tmp, name)
            with open(p, "w") as f:
                json.dump(doc, f)
            return p

        v1 = sfile("v1.json", {"type": "object", "properties": {"plan": {"type": "string"}}})
        req = sfile("req.json", {"type": "object", "properties": {"plan": {"type": "string"}},
                                 "required": ["plan"]})
        base = ["--database-url", db, "--lake", "file://" + lake]
        r = run([WEIR, "schema", "add", "signup", v1, *base])
        check(r.returncode == 0 and r.stdout.strip() == "signup version 1 added", f"v1: {r.stdout} {r.stderr}")
        check(psql(db, "SELECT compatibility, transitive FROM event_types WHERE event_type='signup'")
              == [["backward", "f"]], "schema add created the event_types row")
        r = run([WEIR, "schema", "add", "signup", req, *base])
        check(r.returncode == 1, f"required plan refused: {r.returncode} {r.stderr}")
        rep = json.loads(r.stdout)
        s = rep["sample"]
        check(rep["compatible"] is False and rep["version"] == 2 and rep["mode"] == "backward", f"report {rep}")
        check(s["hours"] == 24 and s["events"] == 50 and s["would_reject"] == 20, f"sample {s}")
        check(s["top_errors"] and s["top_errors"][0]["keyword"] == "required"
              and s["top_errors"][0]["instance_path"] == "/payload" and s["top_errors"][0]["count"] == 20
              and s["top_errors"][0]["example_event_id"].startswith("n"), f"top errors {s['top_errors']}")
        check("20 of 50 recent events would fail" in r.stderr, f"summary: {r.stderr}")
        check(psql(db, "SELECT count(*) FROM event_schemas") == [["1"]], "nothing inserted")
        r = run([WEIR, "schema", "add", "signup", req, "--dry-run", "--sample-hours", "48", *base])
        rep = json.loads(r.stdout)
        check(r.returncode == 1 and rep["sample"]["events"] == 60 and rep["sample"]["would_reject"] == 30,
              f"--sample-hours 48: {rep}")
        r = run([WEIR, "schema", "add", "signup", req, "--dry-run", "--sample", "10", *base])
        check(json.loads(r.stdout)["sample"]["events"] == 10, "--sample 10")
        check(psql(db, "SELECT count(*) FROM event_schemas") == [["1"]], "--dry-run inserted nothing")
        r = run([WEIR, "schema", "add", "signup", v1, "--dry-run", *base])
        check(r.returncode == 0 and json.loads(r.stdout)["compatible"] is True, f"compatible dry run {r.stdout}")
        r = run([WEIR, "schema", "add", "signup", req, "--force", *base])
        check(r.returncode == 0 and r.stdout.strip() == "signup version 2 added" and "--force" in r.stderr,
              f"--force: {r.stdout} {r.stderr}")
        r = run([WEIR, "schema", "add", "signup", v1, *base])
        check(r.returncode == 0 and r.stdout.strip() == "signup version 3 added", f"v3: {r.stdout} {r.stderr}")
        # modes
        r = run([WEIR, "schema", "compat", "signup", "--database-url", db])
        check(json.loads(r.stdout) == {"event_type": "signup", "compatibility": "backward", "transitive": False},
              f"compat show {r.stdout}")
        r = run([WEIR, "schema", "compat", "signup", "none", "--transitive", "--database-url", db])
        check(json.loads(r.stdout) == {"event_type": "signup", "compatibility": "none", "transitive": True},
              f"compat set {r.stdout} {r.stderr}")
        check(run([WEIR, "schema", "compat", "signup", "sideways", "--database-url", db]).returncode == 2,
              "bad mode is exit 2")
        check(run([WEIR, "schema", "compat", "Signup", "--database-url", db]).returncode == 2,
              "bad type is exit 2")
        r = run([WEIR, "schema", "add", "signup", req, *base])
        check(r.returncode == 0 and r.stdout.strip() == "signup version 4 added", f"mode none: {r.stdout} {r.stderr}")
        # a new type: any mode passes; no lake folder: no sample, nothing created
        nolake = os.path.join(tmp, "nolake")
        r = run([WEIR, "schema", "add", "fresh", req, "--database-url", db, "--lake", "file://" + nolake])
        check(r.returncode == 0 and not os.path.exists(nolake), f"new type: {r.stdout} {r.stderr}")
        check(run([WEIR, "schema", "add", "signup", req, "--sample", "0", *base]).returncode == 2, "--sample 0 is exit 2")
        bad = sfile("bad.json", {"type": 12})
        r = run([WEIR, "schema", "add", "signup", bad, *base])
        check(r.returncode != 0 and len(r.stderr.strip().split("\n")) == 1, f"invalid schema: one line: {r.stderr}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{weirtest.passed} passed, {weirtest.failed} failed")
    return 1 if weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
