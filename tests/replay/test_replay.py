#!/usr/bin/env python3
"""test_replay.py - `weir replay` end to end (evolution.md): a rejected zone written here in
the gateway's rejected-line shape (with broken gzip, broken lines, reasons that are never
replayed), a real Postgres, a file:// lake. Checks: the dry run writes nothing; a replay
writes the events that now pass under their original hour with their original
received_at/source, derived ids for events without one, the ledger; a second run replays
0; `weir curate` then holds each once (DuckDB); a later run after a new schema replays only
the new ones, under new names; kill -9 between puts and the ledger commit, then a rerun:
nothing twice, nothing lost; two replays at once end with the same result.
Needs WEIR and WEIR_TEST_PG; DuckDB through tests/tools (node_modules)."""
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WEIR = os.environ.get("WEIR")
PG = os.environ.get("WEIR_TEST_PG")
TOOLS = os.path.join(REPO, "tests", "tools")
FROM, TO = "2026-11-20", "2026-11-21"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weirtest  # noqa: E402
from weirtest import check, psql, run  # noqa: E402
weirtest.TIMEOUT = 300


def new_db(name):
    psql(PG, f"DROP DATABASE IF EXISTS {name}")
    psql(PG, f"CREATE DATABASE {name}")
    parts = [p for p in PG.split() if not p.startswith("dbname=")]
    db = " ".join(parts + [f"dbname={name}"])
    run([WEIR, "migrate", "--database-url", db])
    return db


def schema(db, tmp, t, doc, version=None):
    p = os.path.join(tmp, f"{t}.json")
    with open(p, "w") as f:
        json.dump(doc, f)
    args = [WEIR, "schema", "add", t, p, "--database-url", db]
    if version:
        args += ["--version", str(version)]
    run(args)


def replay(db, lake, *extra, ok=True):
    r = run([WEIR, "replay", "--database-url", db, "--lake", "file://" + lake, "--from", FROM,
             "--to", TO, *extra], ok=ok)
    rep = json.loads(r.stdout) if r.returncode == 0 else None
    return r, rep


def curate(db, lake):
    return run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                "--lookback", "0s"])


def put_gz(lake, key, text, raw=None):
    p = os.path.join(lake, key)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(raw if raw is not None else gzip.compress(text.encode()))


def rej(event, errors, received, source="app"):
    return json.dumps({"event": event, "source": source, "received_at": received, "errors": errors},
                      separators=(",", ":"))


SCHEMA_ERR = [{"code": "schema", "instance_path": "/payload", "schema_path": "/required",
               "keyword": "required", "message": "missing property plan"}]


def make_lake(lake):
    """Writes the raw and rejected zones; returns what a replay under signup v2 brings back."""
    exp = {}  # event_id (or (file, line)) -> received_at
    # accepted raw events of the same hours (the curator's existing days)
    acc = []
    for i in range(20):
        acc.append(json.dumps({"event_type": "signup", "schema_version": 1, "event_id": f"acc-{i}",
                               "received_at": f"2026-11-20T10:{i:02d}:00.000Z", "source": "app",
                               "payload": {"plan": "pro", "n": i}}, separators=(",", ":")))
    put_gz(lake, "raw/event_type=signup/dt=2026-11-20/hr=10/gw-1.jsonl.gz", "\n".join(acc) + "\n")
    files = {}
    # file A: schema rejections that pass under v2 (with and without ids), still failing
    # ones, and reasons never replayed
    lines = []
    for i in range(40):
        hr = 10 + (i % 2)  # two original hours inside one rejected file
        rec = f"2026-11-20T{hr:02d}:30:{i % 60:02d}.{i:03d}Z"
        ev = {"event_type": "signup", "payload": {"n": i}}
        if i % 4 != 0:
            ev["event_id"] = f"ev-{i}"
        lines.append(rej(ev, SCHEMA_ERR, rec, source=f"app{i % 3}"))
        exp[ev.get("event_id", ("A", len(lines)))] = (rec, f"app{i % 3}")
    for i in range(5):  # still fail under v2: plan is not a string
        lines.append(rej({"event_type": "signup", "event_id": f"bad-{i}", "payload": {"plan": 7}},
                         SCHEMA_ERR, "2026-11-20T10:40:00.000Z"))
    for i in range(5):
        lines.append(rej({"event_type": "signup", "event_id": f"fb-{i}", "payload": {}},
                         [{"code": "forbidden", "instance_path": "/event_type", "message": "no"}],
                         "2026-11-20T10:41:00.000Z"))
        lines.append(rej({"event_type": "signup", "bogus": 1, "payload": {}},
                         [{"code": "envelope", "instance_path": "/bogus", "message": "no"}],
                         "2026-11-20T10:41:00.000Z"))
        lines.append(json.dumps({"raw": "{not json", "truncated": False, "source": "app",
                                 "received_at": "2026-11-20T10:42:00.000Z",
                                 "errors": [{"code": "invalid_json", "instance_path": "", "message": "x"}]}))
    for i in range(6):  # unknown type now, known after a later schema
        lines.append(rej({"event_type": "newtype", "event_id": f"nt-{i}", "payload": {"k": i}},
                         [{"code": "unknown_event_type", "instance_path": "/event_type", "message": "x"}],
                         "2026-11-20T11:05:00.000Z"))
    lines.append("this is not json")
    lines.append('{"event":{"event_type":"signup"}}')
    files["A"] = lines
    put_gz(lake, "rejected/dt=2026-11-20/hr=11/rej-A.jsonl.gz", "\n".join(lines) + "\n")
    # file B: more schema rejections (another rejected hour); a truncated copy of it too
    linesb = []
    for i in range(30):
        rec = f"2026-11-20T12:{i:02d}:00.500Z"
        ev = {"event_type": "signup", "event_id": f"evb-{i}", "payload": {"n": 100 + i}}
        linesb.append(rej(ev, SCHEMA_ERR, rec))
        exp[ev["event_id"]] = (rec, "app")
    # two gzip members, split inside a line (as a gateway appending to a file may write)
    tb = ("\n".join(linesb) + "\n").encode()
    put_gz(lake, "rejected/dt=2026-11-20/hr=12/rej-B.jsonl.gz", None,
           raw=gzip.compress(tb[:len(tb) // 2 + 7]) + gzip.compress(tb[len(tb) // 2 + 7:]))
    whole = gzip.compress(("\n".join(linesb[:3]) + "\n").encode())
    # truncated gzip: its events are lost for replay (counted as a broken file)
    put_gz(lake, "rejected/dt=2026-11-20/hr=12/rej-C.jsonl.gz", None, raw=whole[:len(whole) // 2])
    put_gz(lake, "rejected/dt=2026-11-20/hr=13/rej-D.jsonl.gz", None, raw=b"\x00garbage, not gzip")
    # events that named version 1 (which requires plan): back only once v1 is retired and
    # --latest is given
    put_gz(lake, "rejected/dt=2026-11-20/hr=14/rej-F.jsonl.gz",
           "\n".join(rej({"event_type": "signup", "schema_version": 1, "event_id": f"v1-{i}",
                          "payload": {"n": i}}, SCHEMA_ERR, "2026-11-20T14:00:00.000Z")
                     for i in range(4)) + "\n")
    # outside the window: never read
    put_gz(lake, "rejected/dt=2026-11-25/hr=00/rej-E.jsonl.gz",
           rej({"event_type": "signup", "event_id": "late", "payload": {}}, SCHEMA_ERR,
               "2026-11-25T00:00:00.000Z") + "\n")
    return exp


def replay_files(lake):
    out = {}
    for d, _, fs in os.walk(os.path.join(lake, "raw")):
        for f in fs:
            if f.startswith("replay-"):
                p = os.path.join(d, f)
                with gzip.open(p, "rt") as fh:
                    out[os.path.relpath(p, lake)] = [json.loads(x) for x in fh if x.strip()]
    return out


def all_replayed(lake):
    return [ev for evs in replay_files(lake).values() for ev in evs]


def setup(tmp, name):
    db = new_db(name)
    lake = os.path.join(tmp, name)
    exp = make_lake(lake)
    v1 = {"type": "object", "properties": {"plan": {"type": "string"}, "n": {"type": "integer"}},
          "required": ["plan"]}
    schema(db, tmp, "signup", v1)
    v2 = {"type": "object", "properties": {"plan": {"type": "string"}, "n": {"type": "integer"}}}
    schema(db, tmp, "signup", v2)
    return db, lake, exp


def test_main(tmp):
    db, lake, exp = setup(tmp, "t_replay_main")
    check(replay(db, lake, "--reason", "forbidden", ok=False)[0].returncode == 2, "--reason forbidden is exit 2")
    check(replay(db, lake, "--from", "yesterday", ok=False)[0].returncode == 2, "bad --from is exit 2")
    curate(db, lake)
    # dry run: the report, nothing written
    r, rep = replay(db, lake, "--dry-run")
    check(rep["dry_run"] is True and rep["replayed"] == len(exp), f"dry run replayed {rep['replayed']} of {len(exp)}")
    check(not replay_files(lake), "the dry run wrote no file")
    check(psql(db, "SELECT count(*) FROM replayed_events") == [["0"]], "the dry run recorded nothing")
    # the replay
    r, rep = replay(db, lake)
    s = rep["event_types"]["signup"]["schema"]
    check(rep["replayed"] == len(exp) and s["replayed"] == len(exp), f"replayed {rep['replayed']}: {rep}")
    check(s["still_rejected"] == 9 and s["most_common_error"]["keyword"] == "type"
          and s["most_common_error"]["instance_path"] == "/payload/plan", f"still rejected: {s}")
    check(rep["event_types"]["newtype"]["unknown_event_type"]["still_rejected"] == 6, "newtype stays rejected")
    check(rep["broken_files"] == 2, f"broken files {rep['broken_files']} (truncated + garbage)")
    check(rep["broken_lines"] == 2, f"broken lines {rep['broken_lines']}")
    check(rep["ignored"] == 15, f"ignored (forbidden, envelope, invalid_json) {rep['ignored']}")
    check("broken gzip" in r.stderr and "broken rejected line" in r.stderr, "broken input is logged")
    files = replay_files(lake)
    evs = all_replayed(lake)
    ids = [e["event_id"] for e in evs]
    check(len(ids) == len(set(ids)) == len(exp), f"{len(ids)} replayed lines, {len(set(ids))} ids")
    bad = 0
    for path, lines in files.items():
        for e in lines:
            want = exp.get(e["event_id"])
            if want is None:
                check(e["event_id"].startswith("rp-"), f"derived id {e['event_id']}")
                want = (e["received_at"], e["source"])
            hr = e["received_at"][11:13]
            if (e["received_at"], e["source"]) != want or f"dt={e['received_at'][:10]}/hr={hr}/" not in path \
                    or e["schema_version"] != 2 or "replayed_at" not in e or e["event_type"] != "signup":
                bad += 1
                print("  bad replayed line", path, e)
    check(bad == 0, "replayed lines keep received_at, source; sit under their original hour; v2")
    derived = sorted(i for i in ids if i.startswith("rp-"))
    check(len(derived) == 10, f"10 derived ids, got {len(derived)}")
    check(int(psql(db, "SELECT count(*) FROM replayed_events")[0][0]) == len(exp), "ledger rows")
    # a second run replays nothing
    r, rep2 = replay(db, lake)
    check(rep2["replayed"] == 0 and rep2["already_replayed"] == len(exp), f"second run: {rep2}")
    check(replay_files(lake) == files, "the second run changed no file")
    # the next curate holds each replayed event once
    curate(db, lake)
    d = json.loads(run(["node", os.path.join(TOOLS, "cur_dump.mjs"), lake]).stdout)
    rows = [x for x in d["rows"] if x["event_type"] == "signup"] if d["rows"] and "event_type" in d["rows"][0] \
        else d["rows"]
    got = [x["event_id"] for x in rows]
    check(len(got) == len(set(got)) == len(exp) + 20, f"curated rows {len(got)} ({len(set(got))} ids), want {len(exp) + 20}")
    check(set(ids) <= set(got), "every replayed event is curated")
    # a new schema: the unknown type's events come back, under new names, old files kept
    schema(db, tmp, "newtype", {"type": "object"})
    r, rep3 = replay(db, lake)
    check(rep3["replayed"] == 6 and rep3["event_types"]["newtype"]["unknown_event_type"]["replayed"] == 6,
          f"third run after newtype: {rep3}")
    f3 = replay_files(lake)
    check(all(f3.get(k) == v for k, v in files.items()), "earlier replay files untouched")
    check(any("-b1-" in k for k in f3), "the later replay is batch 1")
    check(replay(db, lake)[1]["replayed"] == 0, "fourth run: 0")
    # version 1 retired: its events stay rejected, unless --latest
    psql(db, "UPDATE event_schemas SET active = false WHERE event_type = 'signup' AND version = 1")
    r, rep5 = replay(db, lake)
    s5 = rep5["event_types"]["signup"]["schema"]
    check(rep5["replayed"] == 0 and s5["still_rejected"] == 9, f"v1 retired, no --latest: {s5}")
    r, rep6 = replay(db, lake, "--latest")
    v1 = [e for e in all_replayed(lake) if e["event_id"].startswith("v1-")]
    check(rep6["replayed"] == 4 and len(v1) == 4 and all(e["schema_version"] == 2 for e in v1),
          f"--latest: {rep6['replayed']} {v1[:1]}")


def wait_for(proc, text, deadline_s):
    """Reads proc's stderr until text appears (or the deadline); returns what was read."""
    import select
    end = time.time() + deadline_s
    seen = b""
    fd = proc.stderr.fileno()
    while time.time() < end and text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_kill9(tmp):
    db, lake, exp = setup(tmp, "t_replay_kill")
    p = subprocess.Popen([WEIR, "replay", "--database-url", db, "--lake", "file://" + lake, "--from", FROM,
                          "--to", TO, "--test-commit-delay", "60s"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    seen = wait_for(p, "ledger not yet committed", 60)
    check("ledger not yet committed" in seen, f"reached the commit pause: {seen[-500:]}")
    p.kill()  # SIGKILL between the puts and the ledger commit
    p.wait()
    before = all_replayed(lake)
    check(len(before) > 0, "files were written before the kill")
    check(psql(db, "SELECT count(*) FROM replayed_events") == [["0"]], "nothing committed")
    r, rep = replay(db, lake)
    evs = all_replayed(lake)
    ids = [e["event_id"] for e in evs]
    check(len(ids) == len(set(ids)) == len(exp), f"after kill -9 and rerun: {len(ids)} lines, {len(set(ids))} ids, want {len(exp)}")
    check(rep["replayed"] == len(exp), f"the rerun replayed {rep['replayed']}")
    check(replay(db, lake)[1]["replayed"] == 0, "then 0")


def test_concurrent(tmp):
    db, lake, exp = setup(tmp, "t_replay_conc")
    args = [WEIR, "replay", "--database-url", db, "--lake", "file://" + lake, "--from", FROM, "--to", TO]
    ps = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in ps]
    check(all(p.returncode == 0 for p in ps), f"all exit 0: {[o[1][-300:] for o in outs]}")
    reps = [json.loads(o[0]) for o in outs]
    check(sum(r["replayed"] for r in reps) == len(exp), f"replayed in all {[r['replayed'] for r in reps]}")
    check(all(r["replayed"] + r["already_replayed"] == len(exp) for r in reps), "each sees every event once")
    ids = [e["event_id"] for e in all_replayed(lake)]
    check(len(ids) == len(set(ids)) == len(exp), f"{len(ids)} lines, {len(set(ids))} ids")


def main():
    if not WEIR or not PG:
        print("skip: needs WEIR and WEIR_TEST_PG", file=sys.stderr)
        return 77
    if not os.path.isdir(os.path.join(TOOLS, "node_modules", "@duckdb")):
        print("skip: tests/tools/node_modules missing (scripts/npm-deps.sh)", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="weir-replay-")
    try:
        for t in (test_main, test_kill9, test_concurrent):
            print(f"-- {t.__name__}", flush=True)
            t(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{weirtest.passed} passed, {weirtest.failed} failed")
    return 1 if weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
