#!/usr/bin/env python3
"""test_curator.py - `weir curate` end to end: a raw zone from our own generator (with
broken input) and one from bench/gen/gen_events.py, a real Postgres, a file:// lake; the
output read back by DuckDB (tests/tools/cur_dump.mjs), compared value by value with the
generator's answers and with DuckDB's own conversion (bench/duckdb check.mjs, xread.mjs).
Also: re-runs are byte-identical, stale parts go, late files are picked up, two workers
equal one, a killed worker leaves no partial file and its lease is taken over.
Needs WEIR, WEIR_PGFIXTURE (or WEIR_TEST_PG); node tools are found from the repo."""
import hashlib
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
PGFIXTURE = os.environ.get("WEIR_PGFIXTURE")
SHARED = os.environ.get("WEIR_SHARED", "/work/shared")
TOOLS = os.path.join(REPO, "tests", "tools")
DUCKB = os.path.join(SHARED, "bench", "duckdb")

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}", flush=True)


def run(args, ok=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    if ok and r.returncode != 0:
        raise RuntimeError(f"{args[:3]} exited {r.returncode}: {r.stdout[-2000:]} {r.stderr[-3000:]}")
    return r


def psql(db, sql):
    r = run(["psql", db, "-XAtqc", sql])
    return [ln.split("|") for ln in r.stdout.strip().split("\n") if ln]


def curate(db, lake, *extra, ok=True):
    return run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                *extra], ok=ok)


def last_run(stderr):
    for ln in reversed(stderr.strip().split("\n")):
        try:
            o = json.loads(ln)
        except ValueError:
            continue
        if o.get("msg") == "curate: run finished":
            return o
    return {}


def hashes(lake):
    out = {}
    root = os.path.join(lake, "curated")
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, lake)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def dump(lake):
    r = run(["node", os.path.join(TOOLS, "cur_dump.mjs"), lake])
    return json.loads(r.stdout)


def norm(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return float(v) if isinstance(v, float) or abs(v) < 2**53 else str(v)
    if isinstance(v, str):
        try:
            return float(v) if abs(int(v)) >= 2**53 and str(int(v)) == v else v
        except ValueError:
            return v
    return v


def same(a, b):
    if isinstance(a, str) and isinstance(b, str) and a[:1] in "[{":
        try:
            return json.loads(a) == json.loads(b)
        except ValueError:
            pass
    na, nb = norm(a), norm(b)
    if isinstance(na, float) and isinstance(nb, float):
        return na == nb
    if isinstance(na, str) and not isinstance(nb, str):
        return na == str(b)
    if isinstance(nb, str) and not isinstance(na, str):
        return nb == str(a)
    return na == nb


def compare_rows(got, exp):
    check(len(got) == len(exp), f"rows: {len(got)} written, {len(exp)} expected")
    by = {(r["event_type"], r["event_id"]): r for r in got}
    bad = 0
    for e in exp:
        g = by.get((e["event_type"], e["event_id"]))
        if g is None:
            bad += 1
            if bad < 5:
                print(f"  missing row {e['event_type']} {e['event_id']}")
            continue
        for k, v in e.items():
            if not same(g.get(k), v):
                bad += 1
                if bad < 5:
                    print(f"  {e['event_type']} {e['event_id']} {k}: got {g.get(k)!r} want {v!r}")
        for k, v in g.items():
            if k not in e and v is not None:
                bad += 1
                if bad < 5:
                    print(f"  {e['event_type']} {e['event_id']} {k}: got {v!r}, expected null")
    check(bad == 0, f"row values: {bad} differences")


def visible_files_ok(lake):
    bad = []
    for d, _, fs in os.walk(os.path.join(lake, "curated")):
        for f in fs:
            if f.startswith("."):
                continue  # the lake's own temporary names, never listed
            if not (f.startswith("part-") and f.endswith(".parquet")):
                bad.append(os.path.join(d, f))
    return bad


def new_db(base, name):
    admin = base
    psql(admin, f"DROP DATABASE IF EXISTS {name}")
    psql(admin, f"CREATE DATABASE {name}")
    parts = [p for p in base.split() if not p.startswith("dbname=")]
    db = " ".join(parts + [f"dbname={name}"])
    run([WEIR, "migrate", "--database-url", db])
    return db


def test_own(db, tmp):
    lake = os.path.join(tmp, "own")
    run([sys.executable, os.path.join(HERE, "gen_raw.py"), "--out", lake, "--bad", "--events", "2500"])
    exp = json.load(open(os.path.join(lake, "expected.json")))
    for f in sorted(os.listdir(os.path.join(lake, "schemas"))):
        t, v = f[:-5].rsplit(".v", 1)
        run([WEIR, "schema", "add", t, os.path.join(lake, "schemas", f), "--version", v,
             "--database-url", db])
    # usage errors exit 2
    check(curate(db, lake, "--dt", "2026-1-1", ok=False).returncode == 2, "bad --dt is exit 2")
    check(curate(db, lake, "--codec", "lz77", ok=False).returncode == 2, "bad --codec is exit 2")
    r = curate(db, lake)
    s = last_run(r.stderr)
    check(s.get("days_failed") == 0 and s.get("days", 0) >= 3, f"first run: {s}")
    check(s.get("invalid_lines") == exp["invalid_lines"], f"invalid lines {s.get('invalid_lines')} vs {exp['invalid_lines']}")
    check(s.get("bad_files") == exp["bad_files"], f"bad files {s.get('bad_files')} vs {exp['bad_files']}")
    check("invalid raw line" in r.stderr and "bad raw file" in r.stderr, "bad input is logged")
    d = dump(lake)
    check(all(f["rows"] == f["footer_rows"] for f in d["files"]), "every file reads its footer's rows")
    check(not visible_files_ok(lake), f"only part files: {visible_files_ok(lake)}")
    compare_rows(d["rows"], exp["rows"])
    counts = {f"{c['event_type']}|{c['dt']}": int(c["n"]) for c in d["counts"]}
    check(counts == exp["unique"], f"hive counts {counts} vs {exp['unique']}")
    check(all(int(c["n"]) == int(c["d"]) for c in d["counts"]), "no duplicate event_id in any partition")
    got_roll = {f"{r['event_type']}|{r['dt']}|{int(r['hr'])}|{r['source']}":
                {k: int(r[k]) for k in ("events", "duplicates", "distinct_event_ids", "invalid_lines", "bad_files")}
                for r in d["rollups"]}
    check(got_roll == exp["rollups"], "rollups parquet = expected")
    if got_roll != exp["rollups"]:
        for k in sorted(set(got_roll) | set(exp["rollups"])):
            if got_roll.get(k) != exp["rollups"].get(k):
                print(f"  rollup {k}: got {got_roll.get(k)} want {exp['rollups'].get(k)}")
    pg = {f"{a}|{b}|{c}|{d_}": {"events": int(e), "duplicates": int(f), "distinct_event_ids": int(g),
                               "invalid_lines": int(h), "bad_files": int(i)}
          for a, b, c, d_, e, f, g, h, i in psql(db, "SELECT event_type, dt, hr, source, events, duplicates, "
                                                  "distinct_event_ids, invalid_lines, bad_files FROM curated_rollups_hourly")}
    check(pg == exp["rollups"], "rollups in Postgres = expected")
    h1 = hashes(lake)

    # nothing changed: nothing to do; forced: byte-identical
    s = last_run(curate(db, lake).stderr)
    check(s.get("days") == 0, f"second run has nothing to do: {s}")
    check(hashes(lake) == h1, "second run changed nothing")
    curate(db, lake, "--force")
    check(hashes(lake) == h1, "forced re-run is byte-identical")

    # many small parts, then one again: the stale parts are deleted
    curate(db, lake, "--force", "--target-file-size", "4KiB", "--row-group-size", "4KiB")
    many = [k for k in hashes(lake) if "/events/" in k]
    check(len(many) > len([k for k in h1 if "/events/" in k]), f"small target size makes more parts ({len(many)})")
    compare_rows(dump(lake)["rows"], exp["rows"])
    curate(db, lake, "--force")
    check(hashes(lake) == h1, "back to one part per day: stale parts deleted, bytes identical")

    # two workers at once produce what one does
    ps = [subprocess.Popen([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                            "--force", "--worker-id", f"w{i}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300)[1] for p in ps]
    check(all(p.returncode == 0 for p in ps), "two concurrent workers succeed")
    check(hashes(lake) == h1, "two workers: same bytes as one")
    both = sum(last_run(o).get("days", 0) for o in outs)
    check(both >= 3, f"the two workers curated every day between them ({both})")

    # a worker killed mid-run: no partial file; its lease expires and is taken over
    p = subprocess.Popen([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                          "--force", "--lease", "2s", "--test-hour-delay", "700ms", "--worker-id", "doomed"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    p.send_signal(signal.SIGKILL)
    p.wait()
    held = psql(db, "SELECT event_type, dt FROM curation_state WHERE lease_owner LIKE 'doomed/%' AND lease_until > now()")
    check(len(held) == 1, f"the killed worker held a lease: {held}")
    check(not visible_files_ok(lake), "killed worker left no partial file")
    s = last_run(curate(db, lake, "--worker-id", "early").stderr)
    left = psql(db, "SELECT count(*) FROM curation_state WHERE curated_fingerprint IS DISTINCT FROM fingerprint")
    check(int(left[0][0]) >= 1, "a live lease is not taken")
    time.sleep(2.2)
    s = last_run(curate(db, lake, "--worker-id", "rescuer").stderr)
    check(s.get("days", 0) >= 1, f"the expired lease is taken over: {s}")
    left = psql(db, "SELECT count(*) FROM curation_state WHERE curated_fingerprint IS DISTINCT FROM fingerprint")
    check(left[0][0] == "0", "every day curated after the takeover")
    check(hashes(lake) == h1, "after kill and takeover: same bytes")

    # a late raw file for a curated day is picked up by the next run
    first = exp["rows"][0]
    day = first["dt"]
    late = {"event_type": "click", "schema_version": 1, "event_id": "late-arrival-1",
            "received_at": f"{day}T23:59:59.999Z", "source": "shop-web",
            "payload": {"x": 1, "y": 2, "target": "late"}}
    folder = os.path.join(lake, "raw", "event_type=click", f"dt={day}", "hr=23")
    os.makedirs(folder, exist_ok=True)
    import gzip
    with open(os.path.join(folder, "late.jsonl.gz"), "wb") as f:
        f.write(gzip.compress((json.dumps(late) + "\n").encode(), mtime=0))
    s = last_run(curate(db, lake).stderr)
    # hr=23 is also in the next day's dedup lookback, so that day is redone too
    check(s.get("days") == 2, f"late file: its day and the next re-curated ({s.get('days')})")
    rows = dump(lake)["rows"]
    check(any(r["event_id"] == "late-arrival-1" for r in rows), "late row present")
    check(len(rows) == len(exp["rows"]) + 1, "late file adds exactly its row")


def test_shared_gen(db, tmp):
    lake = os.path.join(tmp, "gen")
    gen = os.path.join(SHARED, "bench", "gen")
    run([sys.executable, os.path.join(gen, "gen_events.py"), "--events", "12000", "--hours", "26", "--seed", "3",
         "--files-per-hour", "2", "--edge-cases", "--member-lines", "500", "--out", lake])
    for f in sorted(os.listdir(os.path.join(gen, "schemas"))):
        run([WEIR, "schema", "add", f[:-5], os.path.join(gen, "schemas", f), "--database-url", db])
    r = curate(db, lake, "--threads", "2")
    s = last_run(r.stderr)
    check(s.get("days_failed") == 0 and s.get("invalid_lines") == 0 and s.get("type_mismatches") == 0,
          f"gen_events lake curated cleanly: {s}")
    if not os.path.isdir(os.path.join(DUCKB, "node_modules")):
        print("SKIP DuckDB reference comparison: run npm ci in", DUCKB)
        return
    duck = os.path.join(tmp, "duck")
    run(["node", os.path.join(DUCKB, "convert.mjs"), "--raw", os.path.join(lake, "raw"), "--out", duck,
         "--threads", "1"])
    r = run(["node", os.path.join(DUCKB, "check.mjs"), os.path.join(lake, "curated", "events"), "--stats",
             "--compare", duck, "--manifest", os.path.join(lake, "gen-manifest.json")], ok=False)
    check(r.returncode == 0, "check.mjs --stats --compare DuckDB --manifest: " + r.stdout[-1500:])
    r = run(["node", os.path.join(DUCKB, "xread.mjs"), os.path.join(lake, "curated")], ok=False)
    check(r.returncode == 0, "xread.mjs (arrow-rs, hyparquet): " + r.stdout[-800:] + r.stderr[-800:])


def main():
    if not WEIR or not shutil.which("node") or not shutil.which("psql"):
        print("SKIP: needs WEIR, node and psql")
        return 77
    if not os.path.isdir(os.path.join(TOOLS, "node_modules")):
        print("SKIP: run npm ci --prefix tests/tools")
        return 77
    tmp = tempfile.mkdtemp(prefix="weir-cur-")
    own_pg = None
    try:
        base = os.environ.get("WEIR_TEST_PG")
        if not base:
            own_pg = os.path.join(tmp, "pg")
            base = run([PGFIXTURE, "start", own_pg, "--fresh"]).stdout.strip().split("\n")[-1]
        db = new_db(base, f"t_curator_{os.getpid()}")
        test_own(db, tmp)
        db2 = new_db(base, f"t_curator_gen_{os.getpid()}")
        test_shared_gen(db2, tmp)
        for n in (f"t_curator_{os.getpid()}", f"t_curator_gen_{os.getpid()}"):
            psql(base, f"DROP DATABASE IF EXISTS {n}")
    finally:
        if own_pg:
            subprocess.run([PGFIXTURE, "stop", own_pg, "--remove"], capture_output=True)
        if failed == 0 and not os.environ.get("WEIR_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
