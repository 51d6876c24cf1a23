#!/usr/bin/env python3
"""bench.py - the console benchmark of issue 14: "every frontend_error with payload.user_id = X
in the last 72 hours" over DAYS days of EVENTS events each.

1. gen.py writes the raw zone (skipped when LAKE already holds it), `weir curate` curates it
   (skipped when done) into a throwaway Postgres (weir_pgfixture).
2. Curated: the console's /api/v1/events vs DuckDB (@duckdb/node-api, tests/tools) on the same
   Parquet files, warm, median of RUNS each.
3. Raw: the same query with the days marked not curated, so the console reads the gzip
   files: MB/s of gzip input (scanned_bytes / elapsed), median of RUNS.
4. The console's peak RSS (VmHWM) over all of it.
Prints one JSON object and a table. Targets: curated <= DuckDB and < 300 ms; raw >= 200 MB/s;
RSS < 200 MiB.
  bench.py --weir build/cli/weir --pgfixture build/tests/pg/weir_pgfixture --work DIR
           [--days 3] [--events 1000000] [--runs 5] [--user 42]"""
import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{args[:3]}: {r.returncode} {r.stderr[-2000:]}")
    return r


def get(port, path, key):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("GET", path, headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {body}")
    return body


def inflate_ceiling(work, lake, rounds):
    """libdeflate alone on the raw zone's files (inflate_ceiling.c, built with cc): what
    inflation by itself allows on this CPU, in MB/s of gzip input; None without a compiler."""
    exe = os.path.join(work, "inflate_ceiling")
    r = subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "inflate_ceiling.c"), "-ldeflate"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"inflate_ceiling not built: {r.stderr[-500:]}", file=sys.stderr)
        return None
    return json.loads(run([exe, os.path.join(lake, "raw"), str(rounds)]).stdout)


def hwm_kib(pid):
    for ln in open(f"/proc/{pid}/status"):
        if ln.startswith("VmHWM:"):
            return int(ln.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--pgfixture", required=True)
    ap.add_argument("--work", required=True, help="folder for the lake and the cluster (kept)")
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--events", type=int, default=1_000_000, help="events per day")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--user", type=int, default=42)
    ap.add_argument("--start", default="2026-11-20")
    a = ap.parse_args()
    lake = os.path.join(a.work, "lake")
    os.makedirs(a.work, exist_ok=True)
    if not os.path.isdir(os.path.join(lake, "raw")):
        t0 = time.time()
        run([sys.executable, os.path.join(HERE, "gen.py"), "--out", lake, "--days", str(a.days),
             "--events", str(a.events), "--start", a.start])
        print(f"generated in {time.time() - t0:.0f} s", file=sys.stderr)
    pg = os.path.join(a.work, "pg")
    db = run([a.pgfixture, "start", pg]).stdout.strip().split("\n")[-1]
    weir = [a.weir]
    console = None
    try:
        run(weir + ["migrate", "--database-url", db])
        # A second run finds the version stored already: not an error here.
        subprocess.run(weir + ["schema", "add", "frontend_error",
                               os.path.join(REPO, "schemas", "frontend_error.v1.json"), "--version", "1",
                               "--force", "--database-url", db], capture_output=True)
        t0 = time.time()
        run(weir + ["curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s", "--threads", "2"])
        curate_s = time.time() - t0
        subprocess.run(weir + ["key", "revoke", "bench", "--database-url", db], capture_output=True)
        subprocess.run(["psql", db, "-Xqc", "DELETE FROM api_keys WHERE name = 'bench'"], capture_output=True)
        key = run(weir + ["key", "create", "--name", "bench", "--read", "--database-url", db]).stdout.strip().split("\n")[-1]
        ready = os.path.join(a.work, "console.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        log = open(os.path.join(a.work, "console.log"), "wb")
        console = subprocess.Popen(weir + ["console", "--listen", "127.0.0.1:0", "--database-url", db, "--lake",
                                           "file://" + lake, "--threads", "1"],
                                   env=dict(os.environ, WEIR_READY_FILE=ready), stdout=log, stderr=log)
        deadline = time.time() + 30
        while not (os.path.exists(ready) and open(ready).read().strip()) and time.time() < deadline:
            time.sleep(0.05)
        port = int(open(ready).read().strip())
        # "the last 72 hours" of the data set: its end is the end of the last day.
        import datetime as dt
        end = dt.datetime.fromisoformat(a.start).replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=a.days)
        frm = end - dt.timedelta(hours=72)
        fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
        q = urllib.parse.urlencode({"event_type": "frontend_error", "from": fmt(frm), "to": fmt(end),
                                    "where": f"user_id:{a.user}", "limit": "100"})
        path = "/api/v1/events?" + q

        def timed(n):
            ms, last = [], None
            get(port, path, key)  # warm
            for _ in range(n):
                t = time.perf_counter()
                last = get(port, path, key)
                ms.append((time.perf_counter() - t) * 1000)
            return ms, last

        cur_ms, cur_body = timed(a.runs)
        duck = json.loads(run(["node", os.path.join(HERE, "duck_query.mjs"), lake, str(a.user),
                               str(int(frm.timestamp() * 1e6)), str(int(end.timestamp() * 1e6)), str(a.runs)],
                              env=dict(os.environ, TOOLS_DIR=os.path.join(REPO, "tests", "tools"))).stdout)
        # Raw: the days not curated (the console then reads the raw zone).
        run(["psql", db, "-Xqc", "UPDATE curation_state SET curated_fingerprint = NULL"])
        raw_ms, raw_body = timed(a.runs)
        run(["psql", db, "-Xqc", "UPDATE curation_state SET curated_fingerprint = fingerprint"])
        gz = raw_body["scanned_bytes"]
        rates = [gz / 1e6 / (m / 1000) for m in raw_ms]
        rss = hwm_kib(console.pid)
        ceiling = inflate_ceiling(a.work, lake, a.runs)
        res = {
            "days": a.days, "events_per_day": a.events, "curate_s": round(curate_s, 1),
            "curated_console_ms_median": round(statistics.median(cur_ms), 1),
            "curated_console_ms": [round(x, 1) for x in cur_ms], "curated_rows": len(cur_body["events"]),
            "curated_scanned_rows": cur_body["scanned_rows"], "curated_scanned_files": cur_body["scanned_files"],
            "duckdb_ms_median": round(statistics.median(duck["ms"]), 1), "duckdb_rows": duck["rows"],
            "raw_console_ms_median": round(statistics.median(raw_ms), 1), "raw_rows": len(raw_body["events"]),
            "raw_gzip_mb": round(gz / 1e6, 1), "raw_mb_per_s_median": round(statistics.median(rates), 1),
            "console_peak_rss_mib": round(rss / 1024, 1),
            "load_avg": open("/proc/loadavg").read().split()[:3],
        }
        if ceiling:
            res["inflate_only_gzip_mb_per_s"] = ceiling["gzip_mb_per_s"]
            res["raw_share_of_inflate_ceiling"] = round(res["raw_mb_per_s_median"] / ceiling["gzip_mb_per_s"], 2)
        print(json.dumps(res))
        print(f"curated: console {res['curated_console_ms_median']} ms vs DuckDB {res['duckdb_ms_median']} ms "
              f"(rows {res['curated_rows']} / {res['duckdb_rows']}); raw: {res['raw_mb_per_s_median']} MB/s of gzip "
              f"({res['raw_gzip_mb']} MB in {res['raw_console_ms_median']} ms); console peak RSS "
              f"{res['console_peak_rss_mib']} MiB", file=sys.stderr)
    finally:
        if console:
            console.send_signal(signal.SIGTERM)
            console.wait(timeout=60)
        subprocess.run([a.pgfixture, "stop", pg], capture_output=True)


if __name__ == "__main__":
    main()
