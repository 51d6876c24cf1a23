#!/usr/bin/env python3
"""test_curator.py - `weir curate` end to end: a raw zone from our own generator (with
broken input) and one from bench/gen/gen_events.py, a real Postgres, a file:// lake; the
output read back by DuckDB (tests/tools/cur_dump.mjs), compared value by value with the
generator's answers and with DuckDB's own conversion (bench/duckdb check.mjs, xread.mjs).
Also: re-runs are byte-identical, stale parts go, late files are picked up, two workers
equal one, a killed worker leaves no partial file and its lease is taken over, a worker
run past its lease can't overwrite or delete the parts of the worker that took the day
over (fencing), --watch curates late files and stops on SIGINT, the same bytes come out
at any --threads, DuckDB reads the raw zone itself, and (mode `s3`) curation on s3://.
Needs WEIR, WEIR_PGFIXTURE (or WEIR_TEST_PG); node tools are found from the repo, the
shared folder at WEIR_SHARED or ../shared beside the repository.
  test_curator.py [file|s3|own|gen|fence|watch]   (file: all but s3)"""
import gzip
import hashlib
import json
import os
import re
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
SHARED = os.path.abspath(os.environ.get("WEIR_SHARED") or os.path.join(REPO, "..", "shared"))
S3_ENV_FILE = os.environ.get("WEIR_S3_ENV_FILE")
TOOLS = os.path.join(REPO, "tests", "tools")
DUCKB = os.path.join(SHARED, "bench", "duckdb")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weirtest  # noqa: E402
from weirtest import check, psql, run  # noqa: E402


def curate(db, lake, *extra, ok=True):
    return run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                *extra], ok=ok)


def wait_for(cond, timeout, what):
    """Waits for an event (cond() true) up to a deadline; fails the test if it never comes."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    check(False, f"timed out after {timeout}s waiting for: {what}")
    return None


def last_run(stderr):
    for ln in reversed(stderr.strip().split("\n")):
        try:
            o = json.loads(ln)
        except ValueError:
            continue
        if o.get("msg") == "curate: run finished":
            return o
    return {}


PART = re.compile(r"^part-(\d*)(\d{5})\.parquet$")


def hashes(lake):
    """SHA-256 of every curated file, by path with the lease generation taken out of the part
    names (part-<g><nnnnn> -> part-<nnnnn>): two generations of one day side by side would
    collide and fail the check."""
    out = {}
    root = os.path.join(lake, "curated")
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.startswith("."):
                continue
            p = os.path.join(d, f)
            m = PART.match(f)
            name = os.path.join(os.path.relpath(d, lake), f"part-{m.group(2)}.parquet" if m else f)
            check(name not in out, f"one part per number in a day: {p}")
            with open(p, "rb") as fh:
                out[name] = hashlib.sha256(fh.read()).hexdigest()
    return out


def generations(lake, etype, day):
    """The lease generations of the parts of one day (0: unfenced names)."""
    d = os.path.join(lake, "curated", "events", f"event_type={etype}", f"dt={day}")
    return sorted({int(PART.match(f).group(1) or 0) for f in os.listdir(d) if PART.match(f)})


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
        run([WEIR, "schema", "add", t, os.path.join(lake, "schemas", f), "--version", v, "--force",
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
    doomed_tmp = os.path.join(tmp, "doomed-tmp")
    os.makedirs(doomed_tmp)
    p = subprocess.Popen([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                          "--force", "--lease", "2s", "--test-hour-delay", "700ms", "--worker-id", "doomed",
                          "--tmp-dir", doomed_tmp],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: os.listdir(doomed_tmp), 60, "the doomed worker writes a part")
    p.send_signal(signal.SIGKILL)
    p.wait()
    held = psql(db, "SELECT event_type, dt FROM curation_state WHERE lease_owner LIKE 'doomed/%' AND lease_until > now()")
    check(len(held) == 1, f"the killed worker held a lease: {held}")
    check(not visible_files_ok(lake), "killed worker left no partial file")
    s = last_run(curate(db, lake, "--worker-id", "early").stderr)
    left = psql(db, "SELECT count(*) FROM curation_state WHERE curated_fingerprint IS DISTINCT FROM fingerprint")
    check(int(left[0][0]) >= 1, "a live lease is not taken")
    wait_for(lambda: psql(db, "SELECT 1 FROM curation_state WHERE lease_owner LIKE 'doomed/%' "
                              "AND lease_until < now()"), 30, "the killed worker's lease expires")
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
    man = json.load(open(os.path.join(lake, "gen-manifest.json")))
    # DuckDB reads the raw zone itself: every line, with its envelope.
    r = run(["node", os.path.join(HERE, "raw_read.mjs"), lake], env=dict(os.environ, WEIR_TOOLS=TOOLS))
    raw = json.loads(r.stdout)
    want = {t: {"lines": v["lines"], "ids": v["unique"], "incomplete": 0, "bad_time": 0}
            for t, v in man["per_type"].items()}
    check(raw == want, f"DuckDB read_json over raw/: {raw} vs manifest {want}")
    # The same bytes at any --threads, also where parts are cut (small target size).
    h2 = hashes(lake)
    for t in ("1", "3"):
        curate(db, lake, "--force", "--threads", t)
        check(hashes(lake) == h2, f"--threads {t}: the same bytes as --threads 2")
    small = ["--force", "--target-file-size", "64KiB", "--row-group-size", "16KiB"]
    curate(db, lake, *small, "--threads", "1")
    hs = hashes(lake)
    check(len(hs) > len(h2), f"small parts: more files ({len(hs)} vs {len(h2)})")
    curate(db, lake, *small, "--threads", "2")
    check(hashes(lake) == hs, "small parts: the same bytes at --threads 1 and 2")
    curate(db, lake, "--force", "--threads", "2")
    check(hashes(lake) == h2, "back to big parts: stale small parts deleted")
    if not os.path.isdir(os.path.join(DUCKB, "node_modules")):
        check(False, f"DuckDB reference comparison needs {DUCKB}/node_modules: run scripts/npm-deps.sh")
        return
    duck = os.path.join(tmp, "duck")
    run(["node", os.path.join(DUCKB, "convert.mjs"), "--raw", os.path.join(lake, "raw"), "--out", duck,
         "--threads", "1"])
    # gen_events.py lines have no `context`: our context_* columns are all null, DuckDB's
    # conversion of the raw zone has none
    ctx = "context_ip,context_browser,context_os,context_device,context_bot,context_country,context_city"
    r = run(["node", os.path.join(DUCKB, "check.mjs"), os.path.join(lake, "curated", "events"), "--stats",
             "--compare", duck, "--manifest", os.path.join(lake, "gen-manifest.json"),
             "--ignore-columns", ctx], ok=False)
    check(r.returncode == 0, "check.mjs --stats --compare DuckDB --manifest: " + r.stdout[-1500:])
    r = run(["node", os.path.join(DUCKB, "xread.mjs"), os.path.join(lake, "curated")], ok=False)
    check(r.returncode == 0, "xread.mjs (arrow-rs, hyparquet): " + r.stdout[-800:] + r.stderr[-800:])


def test_fencing(base, tmp):
    """A worker paused past its lease (test hook: a FIFO) while a second one takes the day
    over, finishes it with a late raw file the first never saw, and deletes the first's
    older parts; resumed, the first may put its part only under its own generation's name,
    then finds the lease gone and deletes what it wrote. The day is the second run's."""
    db = new_db(base, f"t_curator_fence_{os.getpid()}")
    lake = os.path.join(tmp, "fence")
    run([sys.executable, os.path.join(HERE, "gen_raw.py"), "--out", lake, "--events", "600", "--seed", "7"])
    exp = json.load(open(os.path.join(lake, "expected.json")))
    for f in sorted(os.listdir(os.path.join(lake, "schemas"))):
        t, v = f[:-5].rsplit(".v", 1)
        run([WEIR, "schema", "add", t, os.path.join(lake, "schemas", f), "--version", v, "--force", "--database-url", db])
    first = exp["rows"][0]
    etype, day = first["event_type"], first["dt"]
    sel = ["--dt", day, "--event-type", etype]
    curate(db, lake, *sel)
    before = generations(lake, etype, day)
    check(len(before) == 1 and before[0] >= 1, f"a fenced run names its parts by generation: {before}")
    fifo = os.path.join(tmp, "pause")
    os.mkfifo(fifo)
    slow = subprocess.Popen([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                             "--force", *sel, "--lease", "1s", "--worker-id", "slow", "--test-pause-fifo", fifo],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: os.path.exists(fifo + ".paused") or slow.poll() is not None, 120,
                 "the slow worker reaches its first upload")
        check(slow.poll() is None, "the slow worker is paused, not gone")
        wait_for(lambda: psql(db, "SELECT 1 FROM curation_state WHERE lease_owner LIKE 'slow/%' "
                                  "AND lease_until < now()"), 30, "the slow worker's lease expires")
        # A late raw file: the run that takes over writes a day the slow worker never saw.
        late = {"event_type": etype, "schema_version": 1, "event_id": "fence-late-1",
                "received_at": f"{day}T23:59:59.999Z", "source": "shop-web", "payload": {}}
        folder = os.path.join(lake, "raw", f"event_type={etype}", f"dt={day}", "hr=23")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "late-fence.jsonl.gz"), "wb") as f:
            f.write(gzip.compress((json.dumps(late) + "\n").encode(), mtime=0))
        s = last_run(curate(db, lake, *sel, "--worker-id", "rescuer").stderr)
        check(s.get("days") == 1, f"the expired lease is taken over: {s}")
        gen_b = int(psql(db, f"SELECT curated_generation FROM curation_state WHERE event_type = '{etype}' "
                             f"AND dt = '{day}'")[0][0])
        check(generations(lake, etype, day) == [gen_b], f"only the rescuer's parts: {generations(lake, etype, day)}")
        h_b = hashes(lake)
    finally:
        with open(fifo, "w"):
            pass  # resumes the slow worker
    err = slow.communicate(timeout=120)[1]
    check(slow.returncode == 0, f"the slow worker exits 0: {err[-1500:]}")
    check(last_run(err).get("days_lost") == 1, f"the slow worker reports the day lost: {last_run(err)}")
    check("lost the lease" in err, "the slow worker logs the lost lease")
    check(generations(lake, etype, day) == [gen_b], f"still only the rescuer's parts: {generations(lake, etype, day)}")
    check(hashes(lake) == h_b, "the rescuer's parts are untouched by the slow worker")
    rows = [r for r in dump(lake)["rows"] if r["event_type"] == etype and r["dt"] == day]
    check(any(r["event_id"] == "fence-late-1" for r in rows), "the day holds the rescuer's late row")
    check(len(rows) == len({r["event_id"] for r in rows}), "no row twice (one run's output)")
    psql(base, f"DROP DATABASE IF EXISTS t_curator_fence_{os.getpid()}")


def test_watch(base, tmp):
    """--watch curates, sleeps, curates what arrived meanwhile, and stops on SIGINT."""
    db = new_db(base, f"t_curator_watch_{os.getpid()}")
    lake = os.path.join(tmp, "watch")
    run([sys.executable, os.path.join(HERE, "gen_raw.py"), "--out", lake, "--events", "300", "--seed", "5"])
    exp = json.load(open(os.path.join(lake, "expected.json")))
    log = open(os.path.join(tmp, "watch.log"), "w+")
    p = subprocess.Popen([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                          "--watch", "--interval", "1s"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        def runs():
            with open(log.name) as fh:
                return [json.loads(ln) for ln in fh if '"curate: run finished"' in ln]
        wait_for(lambda: any(r.get("days", 0) >= 1 for r in runs()), 120, "the first --watch run curates")
        n = len(runs())
        first = exp["rows"][0]
        late = {"event_type": first["event_type"], "schema_version": 1, "event_id": "watch-late-1",
                "received_at": f"{first['dt']}T23:59:59.999Z", "source": "shop-web", "payload": {}}
        folder = os.path.join(lake, "raw", f"event_type={first['event_type']}", f"dt={first['dt']}", "hr=23")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "late-watch.jsonl.gz"), "wb") as f:
            f.write(gzip.compress((json.dumps(late) + "\n").encode(), mtime=0))
        wait_for(lambda: any(r.get("days", 0) >= 1 for r in runs()[n:]), 120, "a later --watch run curates the late file")
        check(any(r["event_id"] == "watch-late-1" for r in dump(lake)["rows"]), "--watch: late row curated")
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    check(p.returncode == 0, f"--watch stops on SIGINT with exit 0 (got {p.returncode})")
    psql(base, f"DROP DATABASE IF EXISTS t_curator_watch_{os.getpid()}")


def s3cmd(s3, *args):
    host = s3["S3_ENDPOINT"].split("://", 1)[1]
    return run(["s3cmd", "--no-ssl", "--host", host, "--host-bucket", host, "--access_key", s3["S3_ACCESS_KEY"],
                "--secret_key", s3["S3_SECRET_KEY"], "--region", s3.get("S3_REGION", "us-east-1"),
                "--signature-v2", *args])


def test_s3(base, tmp):
    """Curation on s3:// (the test radosgw): the raw zone is put there by an independent client
    (s3cmd), curated with weir, and what weir wrote is read back by s3cmd: the same bytes as a
    file:// lake's curation of the same raw zone."""
    if not S3_ENV_FILE or not os.path.exists(S3_ENV_FILE):
        why = ""
        if S3_ENV_FILE and os.path.exists(os.path.join(os.path.dirname(S3_ENV_FILE), "unavailable")):
            why = open(os.path.join(os.path.dirname(S3_ENV_FILE), "unavailable")).read().strip()
        print("SKIP: no test radosgw: " + (why or "WEIR_S3_ENV_FILE not set"), file=sys.stderr)
        return 77
    if not shutil.which("s3cmd"):
        print("SKIP: s3cmd is not installed (apt-get install s3cmd)", file=sys.stderr)
        return 77
    s3 = {}
    for line in open(S3_ENV_FILE):
        k, _, v = line.strip().partition("=")
        if k.startswith("S3_"):
            s3[k] = v
    lake = os.path.join(tmp, "s3src")
    run([sys.executable, os.path.join(HERE, "gen_raw.py"), "--out", lake, "--bad", "--events", "1500", "--seed", "9"])
    db_file = new_db(base, f"t_curator_s3f_{os.getpid()}")
    db_s3 = new_db(base, f"t_curator_s3_{os.getpid()}")
    for db in (db_file, db_s3):
        for f in sorted(os.listdir(os.path.join(lake, "schemas"))):
            t, v = f[:-5].rsplit(".v", 1)
            run([WEIR, "schema", "add", t, os.path.join(lake, "schemas", f), "--version", v, "--force", "--database-url", db])
    bucket = f"weir-cur-{os.getpid()}-{int(time.time()) % 100000}"
    s3cmd(s3, "mb", f"s3://{bucket}")
    s3cmd(s3, "put", "--recursive", "--no-mime-magic", os.path.join(lake, "raw"), f"s3://{bucket}/lake/")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3["S3_ACCESS_KEY"], AWS_SECRET_ACCESS_KEY=s3["S3_SECRET_KEY"],
               AWS_REGION=s3.get("S3_REGION", "us-east-1"))
    r = run([WEIR, "curate", "--database-url", db_s3, "--lake", f"s3://{bucket}/lake", "--grace", "0s",
             "--s3-endpoint", s3["S3_ENDPOINT"], "--s3-addressing", "path", "--threads", "2"], env=env)
    st = last_run(r.stderr)
    check(st.get("days", 0) >= 3 and st.get("days_failed") == 0, f"s3:// run: {st}")
    curate(db_file, lake)
    back = os.path.join(tmp, "s3back")
    os.makedirs(back)
    s3cmd(s3, "get", "--recursive", f"s3://{bucket}/lake/curated", back + "/")
    got = hashes(back)
    want = hashes(lake)
    check(got == want and len(want) > 3, f"s3:// curation = file:// curation ({len(got)} vs {len(want)} files)")
    exp = json.load(open(os.path.join(lake, "expected.json")))
    compare_rows(dump(back)["rows"], exp["rows"])
    # A re-run on S3 replaces the parts: old generations deleted there too.
    run([WEIR, "curate", "--database-url", db_s3, "--lake", f"s3://{bucket}/lake", "--grace", "0s", "--force",
         "--s3-endpoint", s3["S3_ENDPOINT"], "--s3-addressing", "path"], env=env)
    listing = s3cmd(s3, "ls", "--recursive", f"s3://{bucket}/lake/curated/events/").stdout
    keys = [ln.split()[-1] for ln in listing.strip().split("\n") if ln.strip()]
    check(len(keys) == len([k for k in want if "/events/" in k]), f"forced re-run on s3 leaves one generation: {len(keys)}")
    for n in (f"t_curator_s3f_{os.getpid()}", f"t_curator_s3_{os.getpid()}"):
        psql(base, f"DROP DATABASE IF EXISTS {n}")
    return 0


def main():
    if not WEIR or not shutil.which("node") or not shutil.which("psql"):
        print("SKIP: needs WEIR, node and psql")
        return 77
    if not os.path.isdir(os.path.join(TOOLS, "node_modules")):
        print("SKIP: run npm ci --prefix tests/tools", file=sys.stderr)
        return 77
    mode = sys.argv[1] if len(sys.argv) > 1 else "file"
    if mode == "file" and not os.path.isdir(os.path.join(SHARED, "bench", "gen")):
        print(f"SKIP: no shared folder at {SHARED} (set WEIR_SHARED)", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="weir-cur-")
    own_pg = None
    rc = 0
    try:
        base = os.environ.get("WEIR_TEST_PG")
        if not base:
            own_pg = os.path.join(tmp, "pg")
            base = run([PGFIXTURE, "start", own_pg, "--fresh"]).stdout.strip().split("\n")[-1]
        if mode == "s3":
            rc = test_s3(base, tmp)
        else:
            # `file` runs them all; a name runs one (own, gen, fence, watch).
            if mode in ("file", "own"):
                db = new_db(base, f"t_curator_{os.getpid()}")
                test_own(db, tmp)
                psql(base, f"DROP DATABASE IF EXISTS t_curator_{os.getpid()}")
            if mode in ("file", "gen"):
                db2 = new_db(base, f"t_curator_gen_{os.getpid()}")
                test_shared_gen(db2, tmp)
                psql(base, f"DROP DATABASE IF EXISTS t_curator_gen_{os.getpid()}")
            if mode in ("file", "fence"):
                test_fencing(base, tmp)
            if mode in ("file", "watch"):
                test_watch(base, tmp)
    finally:
        if own_pg:
            subprocess.run([PGFIXTURE, "stop", own_pg, "--remove"], capture_output=True)
        if weirtest.failed == 0 and not os.environ.get("WEIR_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    print(f"{weirtest.passed} passed, {weirtest.failed} failed")
    if rc == 77 and not weirtest.failed:
        return 77
    return 1 if weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
