#!/usr/bin/env python3
"""curate_metrics.py - `weir curate --metrics-file`: a small raw zone (two days of
page_view, with duplicates) curated against the pg fixture; the file is Prometheus text
(parsed line by line: HELP/TYPE before every sample, one sample per family) with the
run's days, rows, duplicates, seconds and success time, mode 0644 whatever the umask, no
temporary file left beside it. A second run with nothing to do keeps rows at 0 and moves
the success time forward; a failing run (lake unreadable) says success 0 and keeps the
earlier success time. Needs WEIR and WEIR_TEST_PG (ctest gives both)."""
import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

WEIR = os.environ.get("WEIR")
BASE = os.environ.get("WEIR_TEST_PG")
failed = 0


def check(cond, what):
    global failed
    if not cond:
        failed += 1
        print(f"FAIL: {what}", flush=True)


def run(args, ok=True):
    r = subprocess.run(args, capture_output=True, text=True, timeout=240)
    if ok and r.returncode != 0:
        raise RuntimeError(f"{args[:2]} exited {r.returncode}: {r.stderr[-3000:]}")
    return r


def psql(db, sql):
    run(["psql", db, "-XAtqc", sql])


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*) ([0-9.eE+-]+|NaN|[+-]Inf)$")


def parse(path):
    """{name: value} of a Prometheus text file of unlabelled gauges, checked strictly."""
    out, typed = {}, set()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    check(text.endswith("\n"), "the file ends with a newline")
    for ln in text.splitlines():
        if ln.startswith("# HELP "):
            continue
        if ln.startswith("# TYPE "):
            _, _, name, kind = ln.split(" ")
            check(kind == "gauge", f"{name} is a gauge")
            typed.add(name)
            continue
        m = SAMPLE.match(ln)
        check(m is not None, f"a sample line: {ln!r}")
        if m:
            check(m.group(1) in typed, f"{m.group(1)} has a TYPE line before its sample")
            check(m.group(1) not in out, f"{m.group(1)} appears once")
            out[m.group(1)] = float(m.group(2))
    return out


def raw_zone(lake):
    """page_view on 2026-11-10 hours 10 and 11 and on 2026-11-11 hour 0: 7 distinct ids,
    2 of them sent twice (one in another file, one in another hour)."""
    files = {
        ("2026-11-10", 10, "a"): [("e1", "10:00:01"), ("e2", "10:05:00"), ("e3", "10:59:59")],
        ("2026-11-10", 10, "b"): [("e2", "10:05:00"), ("e4", "10:30:00")],
        ("2026-11-10", 11, "a"): [("e3", "11:00:02"), ("e5", "11:10:00")],
        ("2026-11-11", 0, "a"): [("f1", "00:00:00"), ("f2", "00:59:00")],
    }
    for (day, hr, name), evs in files.items():
        d = os.path.join(lake, "raw", "event_type=page_view", f"dt={day}", f"hr={hr:02d}")
        os.makedirs(d, exist_ok=True)
        lines = []
        for eid, t in evs:
            lines.append(json.dumps({"event_type": "page_view", "schema_version": 1, "event_id": eid,
                                     "received_at": f"{day}T{t}.000Z", "source": "web",
                                     "payload": {"url": f"https://example.com/{eid}"}}))
        with open(os.path.join(d, f"gw-{name}-{hr:02d}.jsonl.gz"), "wb") as f:
            f.write(gzip.compress(("\n".join(lines) + "\n").encode()))
    return 7, 2, 2  # rows, duplicates, days


def main():
    if not WEIR or not BASE:
        print("SKIP: needs WEIR and WEIR_TEST_PG (run through ctest)", file=sys.stderr)
        return 77
    for tool in ("psql",):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is not installed", file=sys.stderr)
            return 77
    name = "t_packaging_metrics"
    psql(BASE, f"DROP DATABASE IF EXISTS {name}")
    psql(BASE, f"CREATE DATABASE {name}")
    db = " ".join([p for p in BASE.split() if not p.startswith("dbname=")] + [f"dbname={name}"])
    tmp = tempfile.mkdtemp(prefix="weir-metrics-")
    try:
        lake = os.path.join(tmp, "lake")
        rows, dups, days = raw_zone(lake)
        mdir = os.path.join(tmp, "textfile")
        os.makedirs(mdir)
        mfile = os.path.join(mdir, "weir_curate.prom")
        base = [WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                "--tmp-dir", tmp, "--umask", "077"]

        r = run(base + ["--metrics-file", mfile])
        m = parse(mfile)
        print(open(mfile).read(), end="")
        check(stat.S_IMODE(os.stat(mfile).st_mode) == 0o644, "the file is mode 0644 under umask 077")
        check(os.listdir(mdir) == ["weir_curate.prom"], f"only the file in its folder: {os.listdir(mdir)}")
        for k in ("days_curated", "rows", "duplicates", "seconds", "days_failed", "lines"):
            check(f"weir_curate_last_run_{k}" in m, f"weir_curate_last_run_{k} is written")
        check(m.get("weir_curate_last_run_days_curated") == days, f"days curated {days}")
        check(m.get("weir_curate_last_run_rows") == rows, f"rows {rows}")
        check(m.get("weir_curate_last_run_duplicates") == dups, f"duplicates {dups}")
        check(m.get("weir_curate_last_run_days_failed") == 0, "no day failed")
        check(m.get("weir_curate_last_run_success") == 1, "success 1")
        secs = m.get("weir_curate_last_run_seconds", -1)
        check(0 <= secs < 240, f"seconds {secs} within the run")
        s1 = m.get("weir_curate_last_success_timestamp_seconds", 0)
        t1 = m.get("weir_curate_last_run_timestamp_seconds", 0)
        check(s1 == t1 and abs(s1 - os.stat(mfile).st_mtime) < 5, "success time = end of run = file time")

        # Nothing left to do: 0 days, 0 rows, and a later success.
        r = run(base + ["--metrics-file", mfile])
        m2 = parse(mfile)
        check(m2.get("weir_curate_last_run_days_curated") == 0, "second run: 0 days")
        check(m2.get("weir_curate_last_run_rows") == 0, "second run: 0 rows")
        check(m2.get("weir_curate_last_success_timestamp_seconds", 0) >= s1, "second run: success time moves on")
        s2 = m2.get("weir_curate_last_success_timestamp_seconds", 0)

        # A run that fails (its lake root lies under a regular file) keeps the last
        # success and says success 0.
        bad = base[:]
        bad[bad.index("file://" + lake)] = "file://" + os.path.join(tmp, "no-such-lake", "x")
        open(os.path.join(tmp, "no-such-lake"), "w").close()  # a file where a folder must be
        r = run(bad + ["--metrics-file", mfile], ok=False)
        check(r.returncode == 1, f"the failing run exits 1 (got {r.returncode})")
        m3 = parse(mfile)
        check(m3.get("weir_curate_last_run_success") == 0, "failing run: success 0")
        check(m3.get("weir_curate_last_success_timestamp_seconds") == s2, "failing run: last success kept")

        # A metrics file in a folder that does not exist: exit 1, the reason named.
        r = run(base + ["--metrics-file", os.path.join(tmp, "nope", "m.prom")], ok=False)
        check(r.returncode == 1 and "--metrics-file" in r.stderr, f"missing folder: exit 1 naming the option: {r.stderr[-300:]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        psql(BASE, f"DROP DATABASE IF EXISTS {name}")
    print("curate_metrics: " + ("ok" if failed == 0 else f"{failed} check(s) failed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
