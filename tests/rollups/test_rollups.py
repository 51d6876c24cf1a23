#!/usr/bin/env python3
"""test_rollups.py - user-defined rollups end to end: `weir up` loads the web-analytics set,
`weir rollup add|list|remove` (bad definitions exit 2), `weir curate` computes every active
definition for each day, and the values in Postgres (rollup_values) and in
curated/rollups/NAME/dt=D/part-0.parquet equal DuckDB's GROUP BY over the curated files
(joined to the raw zone's context by event id and received time: the curated files hold no
context), for count, count_distinct, sum, min, max, hour and day grain, payload, context and
envelope dimensions; a re-run (--force) gives the same rows and the same bytes.
Needs WEIR, WEIR_TEST_PG (tests/pg/pg.cmake) and DuckDB from npm (tests/tools)."""
import datetime as dt
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WEIR = os.environ.get("WEIR")
TOOLS = os.path.join(REPO, "tests", "tools")
UTC = dt.timezone.utc
DAYS = ["2026-11-28", "2026-11-29"]

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weirtest  # noqa: E402
from weirtest import check, psql, run  # noqa: E402


def duck(sql, tmp):
    path = os.path.join(tmp, "q.sql")
    with open(path, "w") as f:
        f.write(sql)
    r = run(["node", os.path.join(HERE, "duck.mjs"), path], env=dict(os.environ, WEIR_TOOLS=TOOLS))
    return json.loads(r.stdout)


def q(s):
    return "'" + str(s).replace("'", "''") + "'"


# ---- a raw zone ---------------------------------------------------------------------------

PATHS = ["/", "/pricing", "/docs", "/blog/a", "/blog/b", "/about"]
REFS = ["https://news.example/", "https://search.example/?q=weir", None]
UAS = [("Firefox", "desktop", "Linux"), ("Chrome", "mobile", "Android"),
       ("Safari", "tablet", "iOS"), ("Googlebot", "bot", "Other")]
COUNTRIES = ["SE", "DE", "US", "BR"]


def gen_lake(lake, seed=7, per_hour=40):
    """Two days of page_view (and a few signup) lines with retries (a later received_at, the
    same payload, sometimes another context), nulls and missing fields. Returns lines written."""
    rnd = random.Random(seed)
    files = {}
    n = 0

    def put(t, ra, line):
        key = (t, ra.strftime("%Y-%m-%d"), ra.strftime("%H"))
        files.setdefault(key, []).append(line)

    seq = 0
    for day in DAYS:
        base = dt.datetime.fromisoformat(day + "T00:00:00+00:00")
        for hr in range(24):
            for k in range(per_hour if hr % 5 else per_hour // 4):
                seq += 1
                ra = base + dt.timedelta(hours=hr, seconds=rnd.randrange(3600), milliseconds=rnd.randrange(1000))
                payload = {"url": "https://example.com" + rnd.choice(PATHS), "path": rnd.choice(PATHS),
                           "anonymous_id": "anon%04d" % rnd.randrange(60)}
                ref = rnd.choice(REFS)
                if ref is not None or rnd.random() < 0.5:
                    payload["referrer"] = ref
                if rnd.random() < 0.8:
                    payload["load_ms"] = rnd.choice([rnd.randrange(5000), round(rnd.random() * 900, 3)])
                if rnd.random() < 0.6:
                    payload["user_id"] = rnd.choice([None, rnd.randrange(1, 50), 2**53 + rnd.randrange(9)])
                ua = rnd.choice(UAS)
                ctx = {"ip": "192.0.2.0", "user_agent": "Mozilla/5.0 " + ua[0],
                       "ua": {"browser": ua[0], "browser_version": "1", "os": ua[2], "os_version": "1",
                              "device": ua[1], "bot": ua[1] == "bot"}}
                if rnd.random() < 0.85:
                    ctx["geo"] = {"country": rnd.choice(COUNTRIES)}
                env = {"event_type": "page_view", "schema_version": 1, "event_id": "ev-%06d" % seq,
                       "received_at": ra.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ra.microsecond // 1000),
                       "source": rnd.choice(["web", "web-eu"]), "payload": payload, "context": ctx}
                put("page_view", ra, json.dumps(env))
                n += 1
                if rnd.random() < 0.12:
                    # a retry: later (maybe the next hour or day), same payload, maybe another country
                    ra2 = ra + dt.timedelta(seconds=rnd.choice([2, 700, 3000, 5400]))
                    env2 = dict(env, received_at=ra2.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ra2.microsecond // 1000))
                    if rnd.random() < 0.5:
                        env2["context"] = dict(ctx, geo={"country": "XX"})
                    put("page_view", ra2, json.dumps(env2))
                    n += 1
                if k % 10 == 0:
                    s = {"event_type": "signup", "schema_version": 1, "event_id": "su-%06d" % seq,
                         "received_at": env["received_at"], "source": "web",
                         "payload": {"user_id": seq, "email": "u%d@example.com" % seq, "plan": "free",
                                     "signed_up_at": env["received_at"]}, "context": ctx}
                    put("signup", ra, json.dumps(s))
                    n += 1
    for (t, d, h), lines in files.items():
        folder = os.path.join(lake, "raw", f"event_type={t}", f"dt={d}", f"hr={h}")
        os.makedirs(folder, exist_ok=True)
        with gzip.open(os.path.join(folder, "gw-test-0001.jsonl.gz"), "wt") as f:
            f.write("\n".join(lines) + "\n")
    return n


# ---- definitions --------------------------------------------------------------------------

METRICS = [{"count": "*"}, {"count_distinct": "payload.anonymous_id"}, {"sum": "payload.load_ms"},
           {"min": "payload.load_ms"}, {"max": "payload.load_ms"}, {"sum": "payload.user_id"},
           {"min": "payload.user_id"}, {"max": "payload.user_id"}, {"count": "payload.referrer"},
           {"count_distinct": "context.country"}]
DEFS = [
    {"name": "t_path_country_hour", "event_type": "page_view", "grain": "hour",
     "dimensions": ["payload.path", "context.country"], "metrics": METRICS},
    {"name": "t_device_source_day", "event_type": "page_view", "grain": "day",
     "dimensions": ["context.device", "source", "context.bot"], "metrics": METRICS},
    {"name": "t_total_day", "event_type": "page_view", "grain": "day", "dimensions": [],
     "metrics": [{"count": "*"}, {"count_distinct": "payload.anonymous_id"}]},
    {"name": "t_referrer_hour", "event_type": "page_view", "grain": "hour",
     "dimensions": ["payload.referrer"], "metrics": [{"count": "*"}, {"count_distinct": "payload.user_id"}]},
]

# How DuckDB reads each field from the joined rows (j: curated columns + raw context).
FIELD_SQL = {
    "payload.path": "path", "payload.referrer": "referrer", "payload.anonymous_id": "anonymous_id",
    "payload.load_ms": "load_ms", "payload.user_id": "user_id", "source": "source",
    "context.country": "(context->>'$.geo.country')", "context.device": "(context->>'$.ua.device')",
    "context.bot": "(context->'$.ua.bot')::BOOLEAN", "context.browser": "(context->>'$.ua.browser')",
}


def metric_key(m):
    (fn, f), = m.items()
    return "count" if f == "*" else f"{fn}({f})"


def metric_sql(m):
    (fn, f), = m.items()
    if f == "*":
        return "count(*)"
    if fn == "count_distinct":
        return f"count(DISTINCT {FIELD_SQL[f]})"
    return f"{fn}({FIELD_SQL[f]})"


def reference(lake, d, tmp):
    """Every definition's rows for day d, computed by DuckDB."""
    cur = os.path.join(lake, "curated", "events", "event_type=page_view", f"dt={d}", "*.parquet")
    raw = os.path.join(lake, "raw", "event_type=page_view", "*", "*", "*.jsonl.gz")
    out = {}
    for df in DEFS:
        bucket = "date_trunc('hour', received_at)" if df["grain"] == "hour" else f"TIMESTAMPTZ '{d} 00:00:00+00'"
        dims = [f"{FIELD_SQL[x]} AS d{i}" for i, x in enumerate(df["dimensions"])]
        mets = [f"{metric_sql(m)} AS m{i}" for i, m in enumerate(df["metrics"])]
        sql = f"""SET TimeZone = 'UTC';
WITH c AS (SELECT * FROM read_parquet({q(cur)})),
r AS (SELECT event_id, received_at::TIMESTAMPTZ AS ra, context FROM read_json({q(raw)},
      format = 'newline_delimited', compression = 'gzip',
      columns = {{event_id: 'VARCHAR', received_at: 'VARCHAR', context: 'JSON'}})),
j AS (SELECT c.*, r.context FROM c LEFT JOIN r ON c.event_id = r.event_id AND c.received_at = r.ra)
SELECT strftime({bucket}, '%Y-%m-%dT%H:%M:%SZ') AS bucket{''.join(', ' + x for x in dims)}{''.join(', ' + x for x in mets)}
FROM j GROUP BY ALL"""
        rows = {}
        for o in duck(sql, tmp):
            key = (o["bucket"],) + tuple(norm(o[f"d{i}"]) for i in range(len(df["dimensions"])))
            rows[key] = {metric_key(m): norm(o[f"m{i}"]) for i, m in enumerate(df["metrics"])}
        out[df["name"]] = rows
    return out


def norm(v):
    """Numbers (DuckDB gives big ones as strings) as int or float; the rest as is."""
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                if v.strip() and v.replace(".", "", 1).replace("-", "", 1).replace("e", "", 1).isdigit():
                    return float(v)
            except ValueError:
                pass
    return v


def pg_rows(db, name, d):
    rows = {}
    for bucket, dims, mets in psql(db, f"""SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        dimensions::text, metrics::text FROM rollup_values WHERE name = {q(name)}
        AND bucket >= {q(d)}::date AND bucket < {q(d)}::date + 1 ORDER BY 1, 2"""):
        dj = json.loads(dims)
        df = next(x for x in DEFS if x["name"] == name) if name.startswith("t_") else None
        order = df["dimensions"] if df else list(dj)
        rows[(bucket,) + tuple(dj.get(k) for k in order)] = json.loads(mets)
    return rows


def same_value(a, b):
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def compare(name, got, want):
    check(set(got) == set(want), f"{name}: groups differ: only weir {sorted(set(got) - set(want), key=str)[:3]}, "
          f"only DuckDB {sorted(set(want) - set(got), key=str)[:3]}")
    bad = [(k, got[k], want[k]) for k in got if k in want and
           (set(got[k]) != set(want[k]) or not all(same_value(got[k][m], want[k][m]) for m in want[k]))]
    check(not bad, f"{name}: {len(bad)} groups' metrics differ, e.g. {bad[:2]}")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    if not WEIR:
        print("skip: WEIR is not set", file=sys.stderr)
        return 77
    base = os.environ.get("WEIR_TEST_PG")
    if not base:
        print("skip: WEIR_TEST_PG is not set (run through ctest: tests/pg/pg.cmake)", file=sys.stderr)
        return 77
    if not os.path.isdir(os.path.join(TOOLS, "node_modules")):
        print(f"FAIL: DuckDB needs {TOOLS}/node_modules: run scripts/npm-deps.sh", flush=True)
        return 1
    dbname = "t_rollups_%d" % os.getpid()
    run(["psql", base, "-XAtqc", f"CREATE DATABASE {dbname}"])
    db = base.replace("dbname=weir", f"dbname={dbname}")
    tmp = tempfile.mkdtemp(prefix="weir-rollups-")
    try:
        # `weir up` (no gateway) loads the example schemas and the web-analytics rollups, once
        os.makedirs(os.path.join(tmp, "pg"))
        for i in range(2):
            r = run([WEIR, "up", "--no-gateway", "--database-url", db, "--pg-dir", os.path.join(tmp, "pg"),
                     "--log-level", "info"])
        names = [x[0] for x in psql(db, "SELECT name FROM rollups ORDER BY name")]
        want = sorted(os.path.basename(f)[:-5] for f in os.listdir(os.path.join(REPO, "schemas", "rollups")))
        check(names == want, f"weir up loaded {names}, schemas/rollups has {want}")
        check(len(names) >= 6, "the web-analytics set has at least six definitions")

        # bad definitions: exit 2 with a message naming the fault
        bad = [
            ({"name": "Bad", "event_type": "page_view", "grain": "day", "dimensions": [], "metrics": [{"count": "*"}]}, "name"),
            ({"name": "b1", "event_type": "page_view", "grain": "week", "dimensions": [], "metrics": [{"count": "*"}]}, "grain"),
            ({"name": "b2", "event_type": "page_view", "grain": "day", "dimensions": ["payload.nope"], "metrics": [{"count": "*"}]}, "nope"),
            ({"name": "b3", "event_type": "page_view", "grain": "day", "dimensions": ["context.planet"], "metrics": [{"count": "*"}]}, "context fields"),
            ({"name": "b4", "event_type": "page_view", "grain": "day", "dimensions": [], "metrics": [{"sum": "payload.path"}]}, "not a number"),
            ({"name": "b5", "event_type": "page_view", "grain": "day", "dimensions": [], "metrics": [{"count_distinct": "*"}]}, "only for count"),
            ({"name": "b6", "event_type": "page_view", "grain": "day", "dimensions": [], "metrics": []}, "metrics"),
            ({"name": "b7", "event_type": "page_view", "grain": "day", "dimensions": [], "metrics": [{"median": "payload.load_ms"}]}, "median"),
            ({"name": "b8", "event_type": "page_view", "grain": "day", "dimensions": [], "metrics": [{"count": "*"}], "colour": 1}, "colour"),
            ({"name": "b9", "event_type": "no_such_type", "grain": "day", "dimensions": [], "metrics": [{"count": "*"}]}, "no schema"),
            ({"name": "hourly", "event_type": "page_view", "grain": "day", "dimensions": [], "metrics": [{"count": "*"}]}, "built-in"),
            ({"name": "b10", "event_type": "page_view", "grain": "day", "dimensions": ["source", "source"], "metrics": [{"count": "*"}]}, "twice"),
        ]
        for d, word in bad:
            p = os.path.join(tmp, "bad.json")
            with open(p, "w") as f:
                json.dump(d, f)
            r = run([WEIR, "rollup", "add", p, "--database-url", db], ok=False)
            check(r.returncode == 2 and word in r.stderr, f"bad definition ({word}) exits 2 naming it: {r.returncode} {r.stderr.strip()}")
        with open(os.path.join(tmp, "bad.json"), "w") as f:
            f.write('{"name": "x", ')
        r = run([WEIR, "rollup", "add", os.path.join(tmp, "bad.json"), "--database-url", db], ok=False)
        check(r.returncode == 2, f"a file that is not JSON exits 2: {r.returncode}")
        check(len(psql(db, "SELECT 1 FROM rollups WHERE name NOT LIKE 'web%'")) == 0, "no bad definition was stored")

        # the test's definitions, one file as an array
        p = os.path.join(tmp, "defs.json")
        with open(p, "w") as f:
            json.dump(DEFS + [{"name": "t_gone", "event_type": "page_view", "grain": "day", "dimensions": [],
                               "metrics": [{"count": "*"}]}], f)
        r = run([WEIR, "rollup", "add", p, "--database-url", db])
        check(r.stdout.count("added") == len(DEFS) + 1, f"rollup add says added: {r.stdout}")
        r = run([WEIR, "rollup", "remove", "t_gone", "--database-url", db])
        r = run([WEIR, "rollup", "remove", "t_gone", "--database-url", db], ok=False)
        check(r.returncode == 1, "removing a missing rollup fails")
        r = run([WEIR, "rollup", "list", "--database-url", db])
        check("t_path_country_hour" in r.stdout and "web_by_country" in r.stdout and "t_gone" not in r.stdout,
              f"rollup list: {r.stdout}")

        lake = os.path.join(tmp, "lake")
        gen_lake(lake)
        run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s", "--tmp-dir", tmp,
             "--log-level", "warn"])
        for d in DAYS:
            want = reference(lake, d, tmp)
            for name in want:
                got = pg_rows(db, name, d)
                compare(f"{name} {d}", got, want[name])
                check(len(got) > (2 if name != "t_total_day" else 0), f"{name} {d}: {len(got)} groups")
        # the web set's country rollup against DuckDB as well
        total = psql(db, "SELECT sum((metrics->>'count')::bigint) FROM rollup_values WHERE name = 'web_by_country'")
        rows = duck(f"SELECT count(*) AS n FROM read_parquet({q(os.path.join(lake, 'curated/events/event_type=page_view/*/*.parquet'))})", tmp)
        check(int(total[0][0]) == int(rows[0]["n"]), f"web_by_country counts every curated row: {total} vs {rows}")
        check(len(psql(db, "SELECT 1 FROM rollup_values v JOIN rollups r USING (name) WHERE r.event_type <> 'page_view'")) == 0,
              "no page_view rollup computed from another type")

        # the Parquet copies hold the Postgres rows
        for d in DAYS:
            for df in DEFS:
                f = os.path.join(lake, "curated", "rollups", df["name"], f"dt={d}", "part-0.parquet")
                check(os.path.exists(f), f"{f} written")
                got = duck(f"SET TimeZone = 'UTC'; SELECT strftime(bucket, '%Y-%m-%dT%H:%M:%SZ') AS b, * EXCLUDE (bucket) FROM read_parquet({q(f)})", tmp)
                pg = pg_rows(db, df["name"], d)
                check(len(got) == len(pg), f"{df['name']} {d}: parquet {len(got)} rows, postgres {len(pg)}")
                cols = [x.replace(".", "_") for x in df["dimensions"]]
                for o in got:
                    key = (o["b"],) + tuple(norm(o[c]) if not isinstance(o[c], bool) else o[c] for c in cols)
                    m = pg.get(key)
                    check(m is not None and int(o["count"]) == m["count"], f"{df['name']} {d}: parquet row {key} in postgres")
        # re-runs give the same rows and bytes
        before = psql(db, "SELECT name, bucket, dimensions::text, metrics::text FROM rollup_values ORDER BY 1, 2, 3")
        files = {}
        for root, _, fs in os.walk(os.path.join(lake, "curated", "rollups")):
            for f in fs:
                files[os.path.join(root, f)] = sha(os.path.join(root, f))
        run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s", "--force",
             "--tmp-dir", tmp, "--log-level", "warn", "--threads", "2"])
        after = psql(db, "SELECT name, bucket, dimensions::text, metrics::text FROM rollup_values ORDER BY 1, 2, 3")
        check(before == after and len(before) > 50, f"re-run: the same {len(before)} rows ({len(after)} after)")
        check(all(sha(f) == h for f, h in files.items()), "re-run: the same Parquet bytes")
        # an inactive definition is not computed (its rows stay as they were)
        psql(db, "UPDATE rollups SET active = false WHERE name = 't_total_day'")
        psql(db, "DELETE FROM rollup_values WHERE name = 't_total_day'")
        run([WEIR, "curate", "--database-url", db, "--lake", "file://" + lake, "--grace", "0s", "--force",
             "--tmp-dir", tmp, "--log-level", "warn"])
        check(len(psql(db, "SELECT 1 FROM rollup_values WHERE name = 't_total_day'")) == 0, "inactive: not computed")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["psql", base, "-XAtqc", f"DROP DATABASE IF EXISTS {dbname}"], capture_output=True)
    print(f"test_rollups: {weirtest.passed} passed, {weirtest.failed} failed")
    return 1 if weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
