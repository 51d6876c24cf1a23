#!/usr/bin/env python3
"""The console's web page in a real browser (issue 14 item 4, shared/spec/console.md): a
throwaway Postgres, a gateway that takes page_view and frontend_error events (and refuses
one), two earlier days of the same events written to the raw zone and curated by `weir
curate`, read keys, `weir console`, then Debian's headless chromium driven by
puppeteer-core (tests/console/web_drive.mjs) signs in with a wrong key and with the read
key and walks the six views. What each view showed must be what was sent: the Query
view's rows (the form filled in as a person would) are exactly the frontend errors of user
42, newest first, from both zones; Keys lists the keys and no secret; Schemas shows both
versions and their diff; Rejected shows the refused event and filters by reason and time
range; Overview draws the hours, this one as estimated; Rollups shows the values of two
shipped rollups (when this build has `weir rollup`) or its empty state; a 400 and a
scoped key's 403 are explained on the page. Screenshots of each view are kept in the
build folder (console-*.png). Exit 77 only when chromium is missing."""

import datetime
import gzip
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import test_gateway as tg  # noqa: E402
from test_gateway import E, assert_eq, assert_true, wait_until  # noqa: E402

CHROMIUM = os.environ.get("WEIR_CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
PUPPETEER = os.environ.get("WEIR_PUPPETEER_DIR") or os.path.join(HERE, "..", "browser")
ARTEFACTS = os.environ.get("WEIR_CONSOLE_ARTEFACTS") or E.tmp

MARK = "webc%d" % time.time_ns()
SENT = {"user42": [], "others": [], "rejected_mark": MARK + "-refused", "paths": {}, "hours": set(), "rollups": []}
ROLLUPS = ["web_hourly", "web_by_path"]  # of the shipped web-analytics set (schemas/rollups)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def frontend_error(user_id, n):
    return {"event_type": "frontend_error", "event_id": str(uuid.uuid4()),
            "payload": {"message": f"{MARK} TypeError {n}", "url": "https://shop.example/cart",
                        "release": "2.4.1", "user_id": user_id, "error_type": "TypeError",
                        "stack": [{"function": "checkout", "file": "app.js", "line": 10 + n}]}}


class Console:
    """`weir console` on a free loopback port, over E's database and lake."""

    def __init__(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.logpath = os.path.join(E.tmp, "console.log")
        env = dict(E.env, WEIR_DATABASE_URL=E.db)
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen([tg.WEIR, "console", "--listen", f"127.0.0.1:{self.port}",
                                          "--lake", "file://" + E.lake], env=env, stdout=log, stderr=log)
        self.base = f"http://127.0.0.1:{self.port}"

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("weir console exited at start: " + self.logtext())
            try:
                return E.request("GET", "/api/v1/health", key="read", port=self.port, timeout=2)[0] == 200
            except OSError:
                return False
        wait_until("weir console answers /api/v1/health", up, 30, step=0.1)

    def get(self, path, key="read"):
        return E.request("GET", path, key=key, port=self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def logtext(self):
        try:
            return open(self.logpath, errors="replace").read()[-3000:]
        except OSError:
            return ""


def write_past_hour(template, hours_ago, users, pages):
    """A raw file of an hour that has closed, made from lines the gateway stored (same
    envelope, enrichment and context), so that `weir curate` has days to curate and the
    console reads both zones: a frontend error of each of users, and pages page views."""
    now = datetime.datetime.now(datetime.timezone.utc)
    at = (now - datetime.timedelta(hours=hours_ago)).replace(minute=17, second=3, microsecond=250000)
    out = {}
    kinds = [("frontend_error", u) for u in users] + [("page_view", n) for n in range(pages)]
    for i, (etype, who) in enumerate(kinds):
        rec = json.loads(json.dumps(template[etype]))
        rec["event_id"] = str(uuid.uuid4())
        rec["received_at"] = iso(at + datetime.timedelta(seconds=i))
        rec.pop("occurred_at", None)
        if etype == "frontend_error":
            rec["payload"] = frontend_error(who, 100 + i)["payload"]
            (SENT["user42"] if who == 42 else SENT["others"]).append((rec["received_at"], rec["event_id"]))
        else:
            path = ["/", "/pricing", "/cart", "/blog/launch", "/docs"][(who + hours_ago) % 5]
            rec["payload"]["path"] = path
            day = SENT["paths"].setdefault(at.strftime("%Y-%m-%d"), {})
            day[path] = day.get(path, 0) + 1
            SENT["hours"].add(at.strftime("%Y-%m-%d %H"))
        out.setdefault(etype, []).append(rec)
    for etype, recs in out.items():
        d = os.path.join(E.lake, "raw", f"event_type={etype}", "dt=" + at.strftime("%Y-%m-%d"), "hr=" + at.strftime("%H"))
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, ".webtest.tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            for rec in recs:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        os.rename(tmp, os.path.join(d, f"webtest-{MARK}.jsonl.gz"))


def write_history(template):
    """Two days of traffic before this hour: page views every hour (a daily curve),
    frontend errors on the earlier days only, two of them of user 42 at 27 and 51 hours
    ago. (Frontend errors stay out of today's closed hours: a day curated while its
    current hour is still open is a case of the console's own tests, not the page's.)"""
    now = datetime.datetime.now(datetime.timezone.utc)
    for ago in range(1, 52):
        at = now - datetime.timedelta(hours=ago)
        pages = int(14 + 10 * math.sin((at.hour - 9) * math.pi / 12))
        users = []
        if at.date() < now.date():
            users = [7] * (ago % 4) + ([42, 42] if ago in (27, 51) else [])
        write_past_hour(template, ago, users, pages)


def stored_lines():
    found = {}
    for root, _, files in os.walk(os.path.join(E.lake, "raw")):
        for f in files:
            if f.endswith(".jsonl.gz"):
                with gzip.open(os.path.join(root, f), "rt", encoding="utf-8") as fh:
                    for line in fh:
                        rec = json.loads(line)
                        found[rec["event_id"]] = rec
    return found


def read_key(name, *scope):
    key = E.weir("key", "create", "--name", name, "--read", *scope).stdout.strip()
    assert_true(key.startswith("weir_rk_"), "a read key: " + key[:8])
    return key


def add_rollups():
    """Two of the shipped web-analytics rollups (an hourly one without dimensions, a daily
    one by path), when this build has `weir rollup` (issue 14 item 5); else the Rollups
    view is checked in its empty state."""
    folder = os.path.join(tg.SCHEMAS, "rollups")
    if E.weir("rollup", "list", check=False).returncode != 0 or not os.path.isdir(folder):
        print("     no `weir rollup` in this build: the Rollups view is checked empty")
        return
    for name in ROLLUPS:
        E.weir("rollup", "add", os.path.join(folder, name + ".json"))
    SENT["rollups"] = ROLLUPS


def setup():
    """test_gateway's registry (the schemas, keys all/scoped/limited/revoked) and gateway,
    plus a second frontend_error version and the read key."""
    tg.setup()
    # one more optional property: a compatible v2, for the Schemas view's diff
    with open(os.path.join(tg.SCHEMAS, "frontend_error.v1.json")) as f:
        v2 = json.load(f)
    v2["properties"]["session_id"] = {"type": "string", "maxLength": 64}
    v2path = os.path.join(E.tmp, "frontend_error.v2.json")
    with open(v2path, "w") as f:
        json.dump(v2, f)
    E.weir("schema", "add", "frontend_error", v2path, "--version", "2")
    add_rollups()
    E.keys["read"] = read_key("t")
    E.keys["pages"] = read_key("pages", "--event-types", "page_view")


def send():
    """Events through the gateway (this hour), one refused, then drained to the raw zone;
    two earlier days written beside them, curated."""
    events = [frontend_error(42, 1), frontend_error(7, 2), frontend_error(42, 3), frontend_error(None, 4),
              tg.event(dict(tg.PAGE_VIEW, title=MARK + "-page"), event_id=str(uuid.uuid4())),
              tg.event(dict(tg.PAGE_VIEW, path="/cart"), event_id=str(uuid.uuid4()))]
    for e in events:
        st, _, body, _ = E.post(e)
        assert_eq(st, 202, f"accepted: {body}")
        # received_at has millisecond resolution: 2 ms apart, "newest first" has one answer
        # (a spacing of the sends, not a wait for anything)
        time.sleep(0.002)
    bad = frontend_error(42, 5)
    bad["payload"]["user_id"] = SENT["rejected_mark"]
    st, _, body, _ = E.post(bad)
    assert_eq(st, 422, f"refused: {body}")
    rc = E.stop_gateway()
    assert_eq(rc, 0, "drained: " + E.logtext()[-1000:])
    lines = stored_lines()
    for e in events[:3]:
        rec = lines[e["event_id"]]
        (SENT["user42"] if e["payload"]["user_id"] == 42 else SENT["others"]).append((rec["received_at"], rec["event_id"]))
    template = {"frontend_error": lines[events[0]["event_id"]], "page_view": lines[events[4]["event_id"]]}
    write_history(template)
    r = E.weir("curate", "--lake", "file://" + E.lake, "--grace", "0s", "--lookback", "72h", check=False)
    assert_eq(r.returncode, 0, "weir curate: " + r.stderr[-2000:])
    curated = [f for _, _, fs in os.walk(os.path.join(E.lake, "curated", "events")) for f in fs if f.endswith(".parquet")]
    assert_true(curated, "weir curate wrote the past hours as Parquet")


def drive(console):
    shots = ARTEFACTS
    os.makedirs(shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="weir-chromium-", dir=E.tmp)
    plan = {"good_key": E.keys["read"], "wrong_key": "weir_rk_" + "0" * 40, "scoped_key": E.keys["pages"],
            "query": {"event_type": "frontend_error", "field": "user_id", "value": "42"}, "rollups": SENT["rollups"],
            "range_to": iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))}
    r = subprocess.run([NODE, os.path.join(HERE, "web_drive.mjs"), CHROMIUM, console.base, shots, profile],
                       input=json.dumps(plan), capture_output=True, text=True, timeout=240, cwd=HERE,
                       env=dict(os.environ, WEIR_PUPPETEER_DIR=PUPPETEER))
    assert_eq(r.returncode, 0, "web_drive.mjs: " + r.stderr[-3000:])
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    print("     screenshots: " + ", ".join(sorted(f for f in os.listdir(shots) if f.startswith("console-"))) +
          " in " + shots)
    return seen


def check(seen):
    assert_true("exception" not in seen, "the walk through the page: " + seen.get("exception", ""))
    # sign-in: a wrong key is told what to do, and not kept
    err = seen["login_error"]
    assert_true("not a read key" in err and "weir key create" in err and "--read" in err,
                "the wrong key's message says what to do: " + err)
    assert_eq(seen["key_kept_after_wrong"], 0, "a refused key is not kept")
    # overview: every type, this hour's and the past hours' bars drawn
    cards = {c["event_type"]: c for c in seen["overview"]["cards"]}
    assert_eq(seen["overview"]["state"], "ready", "overview")
    assert_true({"page_view", "frontend_error"} <= set(cards), f"overview cards: {sorted(cards)}")
    fe = cards["frontend_error"]
    assert_true(fe["bars"] >= 48, f"48 hourly bars: {fe['bars']}")
    assert_true(fe["filled"] >= 2, f"frontend_error bars drawn for this and an earlier hour: {fe['filled']}")
    assert_true(fe["estimated"] >= 1, "this hour (raw, not curated) is drawn as estimated")
    assert_true("v1 active" in fe["text"] and "v2 active" in fe["text"], "versions on the card: " + fe["text"])
    # schemas: both versions, JSON shown, the diff names the new property
    s = seen["schemas"]
    assert_eq((s["state"], s["heading"], s["versions"]), ("ready", "frontend_error", ["2", "1"]), "schemas")
    assert_true('"session_id"' in s["schema_text"], "the newest version's JSON is open")
    assert_true("properties.session_id" in s["diff"] and "1 added" in s["diff"], "the diff: " + s["diff"])
    # query: exactly user 42's frontend errors (this hour from the raw zone, earlier hours
    # from the curated Parquet), newest first, through the form
    q = seen["query"]
    want = [eid for _, eid in sorted(SENT["user42"], reverse=True)]
    got = [row["event_id"] for row in q["rows"]]
    assert_eq(q["state"], "ready", "query")
    assert_eq(got, want, "the Query view's rows are user 42's frontend errors, newest first")
    assert_true(all(row["cells"].get("user_id") == "42" for row in q["rows"]), "user_id column")
    assert_true(all(MARK in row["cells"].get("message", "") for row in q["rows"]), "message column")
    assert_eq(q["detail"]["payload"]["user_id"], 42, "a row opens to the whole event")
    assert_true("where=user_id%3A42" in q["hash"], "the query is in the link: " + q["hash"])
    assert_true("Every frontend_error with user_id = 42 in the last 72 hours" in q["sentence"], q["sentence"])
    assert_true(re.search(r"\d+ ms in the console", q["stats"]) and re.search(r"\d+ files? read", q["stats"]),
                "elapsed time and files read: " + q["stats"])
    assert_true("No frontend_error event matched" in q["empty_text"], "empty state: " + q["empty_text"])
    assert_true("did not take this request" in q["bad_field"] and "no_such_field" in q["bad_field"],
                "a filter on an unknown field is explained: " + q["bad_field"])
    assert_true(q["form_kept"], "the form stays above the explanation")
    assert_eq(seen["scoped"]["state"], "error", "a scoped read key on another type's schemas")
    assert_true("may not see this" in seen["scoped"]["text"] and "--event-types" in seen["scoped"]["text"],
                "the scoped key's refusal says why: " + seen["scoped"]["text"])
    assert_eq(seen["linked"], {"state": "ready", "rows": len(want)}, "the linked query in a new tab, after its sign-in")
    # rejected: the refused event with its error, filtered by reason
    rj = seen["rejected"]
    mine = [t for t in rj["rows"] if SENT["rejected_mark"] in t]
    assert_eq(rj["state"], "ready", "rejected")
    assert_eq(len(mine), 1, "the refused event is listed once: " + json.dumps(rj["rows"])[:800])
    assert_true("schema" in mine[0] and "/payload/user_id" in mine[0], "its error: " + mine[0])
    assert_true(any(SENT["rejected_mark"] in t for t in rj["schema_rows"]), "reason=schema keeps it")
    assert_eq(rj["too_large_rows"], [], "reason=too_large has none")
    assert_true("Nothing was rejected" in rj["too_large_empty"], "empty state: " + rj["too_large_empty"])
    week = rj["week"]
    assert_true("reason=schema" in week["hash"] and "last 7 days" in week["heading"], f"the range picker: {week}")
    assert_true(any(SENT["rejected_mark"] in t for t in week["rows"]), "the last 7 days keep the refused event")
    custom = rj["custom"]
    assert_true("from=-30d" in custom["hash"] and "to=" in custom["hash"], f"the custom range: {custom['hash']}")
    assert_true("from 30 days ago to 20" in custom["heading"], "the custom range in words: " + custom["heading"])
    assert_true(any(SENT["rejected_mark"] in t for t in custom["rows"]), "the custom range keeps the refused event")
    # rollups render (definitions and values, or the empty state)
    ru = seen["rollups"]
    assert_eq(ru["state"], "ready", "rollups: " + ru["text"][:500])
    assert_true(ru["definitions"] or "No rollups are defined" in ru["text"], "rollups: " + ru["text"][:500])
    if SENT["rollups"]:
        check_rollups(seen)
    # keys: the read key listed by name and kind, no secret on the page
    k = {row["name"]: row["text"] for row in seen["keys"]["rows"]}
    assert_eq(seen["keys"]["state"], "ready", "keys")
    assert_true("t" in k and "read" in k["t"], f"the read key is listed: {k}")
    assert_true("all" in k and "revoked" in k["revoked"], f"the ingest keys are listed, one revoked: {k}")
    assert_true(not any(secret in seen["keys"]["page_text"] for secret in E.keys.values()), "no secret on the Keys view")
    # the key lives in this tab's sessionStorage only
    assert_eq(seen["storage"], {"session": ["weir.console.readKey"], "local": [], "cookies": ""}, "storage")
    # the browser logs each refused request (the wrong key's 401, the bad field's 400)
    unexpected = [e for e in seen["console_errors"] if not re.search(r"status of 40[013] ", e)]
    assert_eq(unexpected, [], "no script errors on the page")
    assert_eq(seen["failed_requests"], [], "no failed requests")


def check_rollups(seen):
    """The rollup values on the page are the counts of the page views written (curated
    hours only: this hour's events are not curated yet)."""
    assert_eq(sorted(seen["rollups"]["definitions"]), sorted(SENT["rollups"]), "the definitions listed")
    hourly = seen["rollup_values"]["web_hourly"]
    assert_eq(hourly["state"], "ready", "web_hourly")
    assert_eq(len(hourly["rows"]), len(SENT["hours"]), "web_hourly: one row per curated hour")
    assert_true(hourly["time_bars"] == len(SENT["hours"]), f"web_hourly: a bar per hour: {hourly['time_bars']}")
    total = sum(int(r["count"].replace(",", "")) for r in hourly["rows"])
    assert_eq(total, sum(sum(d.values()) for d in SENT["paths"].values()), "web_hourly: the page views")
    by_path = seen["rollup_values"]["web_by_path"]
    latest = max(SENT["paths"])
    assert_eq((by_path["state"], by_path["bucket"][:10]), ("ready", latest), "web_by_path: the latest day first")
    shown = {r["payload.path"]: int(r["count"].replace(",", "")) for r in by_path["rows"] if r["bucket"] == latest}
    assert_eq(shown, SENT["paths"][latest], "web_by_path: page views per path on the latest day")
    assert_eq(by_path["rank_bars"], len(SENT["paths"][latest]), "web_by_path: a bar per path")


def run():
    send()
    console = Console()
    try:
        # the API behind the page refuses what the page must explain
        assert_eq(console.get("/api/v1/keys", key="all")[0], 403, "an ingest key on the console")
        st, _, body, _ = console.get("/api/v1/event-types", key=None)
        assert_eq(st, 401, f"no key: {body}")
        st, headers, _, page = console.get("/", key=None)
        assert_eq(st, 200, "the page is served without a key")
        assert_true(b"app.js" in page and "text/html" in headers.get("content-type", ""), "index.html at /")
        check(drive(console))
    finally:
        rc = console.stop()
        if rc not in (0, None):
            print("console log:\n" + console.logtext())


def main():
    if not tg.WEIR or not tg.PGFIXTURE or not tg.SCHEMAS:
        print("error: WEIR, WEIR_PGFIXTURE and WEIR_SCHEMAS must be set", file=sys.stderr)
        return 1
    if not os.access(CHROMIUM, os.X_OK):
        print(f"skipped: no chromium at {CHROMIUM} (scripts/deps.sh --test installs Debian's)", file=sys.stderr)
        return 77
    if not NODE or not os.path.isdir(os.path.join(PUPPETEER, "node_modules", "puppeteer-core")):
        print(f"error: node or puppeteer-core missing in {PUPPETEER} (run scripts/npm-deps.sh)", file=sys.stderr)
        return 1
    # run_suite checks that E's gateway runs before each test: this test stops it itself
    # (drained to the raw zone) before the console starts, so it is the only test.
    return tg.run_suite([("console_web", run)], setup)


if __name__ == "__main__":
    sys.exit(main())
