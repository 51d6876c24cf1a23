#!/usr/bin/env python3
"""test_catalog.py - `weir catalog`: the DuckDB output is run by DuckDB (from npm, tests/tools)
and its views count what reading the files directly counts (curated and raw, per day, typed
columns); the Athena and Trino outputs equal the golden files in tests/catalog/golden/ (the
lake path written LAKE, today's date TODAY; WEIR_UPDATE_GOLDEN=1 rewrites them); bad options
exit 2. Needs WEIR, WEIR_TEST_PG (tests/pg/pg.cmake)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "rollups"))
import test_rollups as tr  # noqa: E402  (the raw-zone generator and the DuckDB runner)

WEIR = os.environ.get("WEIR")
GOLDEN = os.path.join(HERE, "golden")


def catalog(db, lake, *args, ok=True):
    return tr.run([WEIR, "catalog", "--database-url", db, "--lake", "file://" + lake, *args], ok=ok)


def main():
    if not WEIR:
        print("skip: WEIR is not set", file=sys.stderr)
        return 77
    base = os.environ.get("WEIR_TEST_PG")
    if not base:
        print("skip: WEIR_TEST_PG is not set (run through ctest: tests/pg/pg.cmake)", file=sys.stderr)
        return 77
    if not os.path.isdir(os.path.join(tr.TOOLS, "node_modules")):
        print(f"FAIL: DuckDB needs {tr.TOOLS}/node_modules: run scripts/npm-deps.sh", flush=True)
        return 1
    dbname = "t_catalog_%d" % os.getpid()
    tr.run(["psql", base, "-XAtqc", f"CREATE DATABASE {dbname}"])
    db = base.replace("dbname=weir", f"dbname={dbname}")
    tmp = tempfile.mkdtemp(prefix="weir-catalog-")
    check = tr.check
    try:
        os.makedirs(os.path.join(tmp, "pg"))
        tr.run([WEIR, "up", "--no-gateway", "--database-url", db, "--pg-dir", os.path.join(tmp, "pg"),
                "--log-level", "warn"])
        lake = os.path.join(tmp, "lake")
        tr.gen_lake(lake, per_hour=15)
        tr.run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s",
                "--tmp-dir", tmp, "--log-level", "warn"])

        # DuckDB runs the DDL; the views count what the files hold
        ddl = catalog(db, lake, "--engine", "duckdb", "--zone", "both").stdout
        check("CREATE OR REPLACE VIEW \"page_view\"" in ddl and "\"page_view_raw\"" in ddl, "duckdb: both zones")
        cur = os.path.join(lake, "curated", "events")
        raw = os.path.join(lake, "raw")
        for t in ["page_view", "signup"]:
            for d in tr.DAYS:
                views = tr.duck(ddl + f"""
SELECT (SELECT count(*) FROM "{t}" WHERE dt = DATE '{d}')::BIGINT AS v,
       (SELECT count(*) FROM read_parquet({tr.q(os.path.join(cur, f'event_type={t}', f'dt={d}', '*.parquet'))}))::BIGINT AS f,
       (SELECT count(*) FROM "{t}_raw" WHERE dt = DATE '{d}')::BIGINT AS rv,
       (SELECT count(*) FROM read_json({tr.q(os.path.join(raw, f'event_type={t}', f'dt={d}', '*', '*.jsonl.gz'))},
                                       format = 'newline_delimited', columns = {{event_id: 'VARCHAR'}}))::BIGINT AS rf""", tmp)[0]
                check(int(views["v"]) == int(views["f"]) and int(views["f"]) > 0, f"duckdb {t} {d}: view {views['v']} rows, files {views['f']}")
                check(int(views["rv"]) == int(views["rf"]) and int(views["rf"]) > 0, f"duckdb {t}_raw {d}: view {views['rv']}, files {views['rf']}")
        typed = tr.duck(ddl + """
SELECT typeof(received_at) AS ra, typeof(load_ms) AS lm, typeof(user_id) AS ui,
       (SELECT typeof(payload.path) FROM page_view_raw LIMIT 1) AS rp,
       (SELECT count(*) FROM page_view_raw WHERE payload.path IS NULL OR hr IS NULL)::BIGINT AS nulls,
       (SELECT count(DISTINCT event_id) FROM page_view_raw)::BIGINT AS ids,
       (SELECT count(*) FROM page_view)::BIGINT AS rows
FROM page_view LIMIT 1""", tmp)[0]
        check(typed["ra"].startswith("TIMESTAMP") and typed["lm"] == "DOUBLE" and typed["ui"] == "BIGINT",
              f"duckdb: typed curated columns {typed}")
        check(typed["rp"] == "VARCHAR" and int(typed["nulls"]) == 0, f"duckdb: typed raw payload {typed}")
        check(int(typed["ids"]) == int(typed["rows"]), f"duckdb: distinct raw ids = curated rows {typed}")
        check("-- api_metric: no curated files yet" in ddl, "duckdb: a type with no files gets a comment, not a view")

        # Athena and Trino: golden files
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for eng in ["athena", "trino"]:
            out = catalog(db, lake, "--engine", eng, "--zone", "both").stdout
            out = out.replace(os.path.realpath(lake), "LAKE").replace(today, "TODAY")
            path = os.path.join(GOLDEN, f"{eng}.sql")
            if os.environ.get("WEIR_UPDATE_GOLDEN"):
                with open(path, "w") as f:
                    f.write(out)
            with open(path) as f:
                want = f.read()
            check(out == want, f"{eng}: output differs from {path} (WEIR_UPDATE_GOLDEN=1 rewrites it)")
            check(f"'projection.dt.range' = '{tr.DAYS[0]},NOW'" in out or eng == "trino", f"{eng}: range from the first day")
        r = catalog(db, lake, "--engine", "spark", ok=False)
        check(r.returncode == 2 and "spark" in r.stderr, f"unknown engine exits 2: {r.returncode} {r.stderr}")
        r = catalog(db, lake, "--engine", "athena", "--zone", "cold", ok=False)
        check(r.returncode == 2, f"unknown zone exits 2: {r.returncode}")
        r = catalog(db, lake, ok=False)
        check(r.returncode == 2, f"no engine exits 2: {r.returncode}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["psql", base, "-XAtqc", f"DROP DATABASE IF EXISTS {dbname}"], capture_output=True)
    print(f"test_catalog: {tr.weirtest.passed} passed, {tr.weirtest.failed} failed")
    return 1 if tr.weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
