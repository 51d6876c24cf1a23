#!/usr/bin/env python3
"""gen_raw.py - a small, deterministic raw zone for the curation tests, with the answers.

Writes OUT/raw/event_type=<t>/dt=<d>/hr=<h>/<file>.jsonl.gz as the gateway does, two schema
versions of `order_placed` (v2 adds a property and turns `coupon` from string into object),
OUT/schemas/<type>.v<N>.json, and OUT/expected.json: the rows a correct curation keeps
(typed as the curated columns), the hourly rollups, and the bad-input counts.

Realism: duplicates as byte-identical replays (same hour, another file) and as client
retries with a later received_at (1 s .. 90 min: other file, hour or day); occurred_at with
offsets, no fraction, microseconds, or missing; nulls; Unicode (accents, CJK, emoji,
escapes); integers above 2^53 and near 2^63; nested objects and arrays; a gateway `context`
on some lines (flattened into the context_* columns), odd shapes included.
--bad adds broken lines (not JSON, not an object, no event_id, bad received_at), a file
with a truncated second gzip member (its first member is read) and a file that is not gzip.
Standard library only."""
import argparse
import datetime as dt
import gzip
import json
import os
import random

UTC = dt.timezone.utc
SOURCES = ["shop-web", "shop-ios", "shop-android"]

SCHEMAS = {
    ("order_placed", 1): {
        "type": "object", "additionalProperties": False,
        "properties": {
            "order_id": {"type": "integer"},
            "amount": {"type": "number"},
            "currency": {"type": "string"},
            "paid": {"type": "boolean"},
            "paid_at": {"type": ["string", "null"], "format": "date-time"},
            "note": {"type": ["string", "null"]},
            "coupon": {"type": ["string", "null"]},
            "items": {"type": "array"},
            "meta": {"type": "object"},
        },
    },
    ("order_placed", 2): {
        "type": "object", "additionalProperties": False,
        "properties": {
            "order_id": {"type": "integer"},
            "amount": {"type": "number"},
            "currency": {"type": "string"},
            "paid": {"type": "boolean"},
            "paid_at": {"type": ["string", "null"], "format": "date-time"},
            "note": {"type": ["string", "null"]},
            "coupon": {"type": ["object", "null"]},
            "items": {"type": "array"},
            "meta": {"type": "object"},
            "loyalty_points": {"type": ["integer", "null"]},
        },
    },
    ("click", 1): {
        "type": "object", "additionalProperties": False,
        "properties": {
            "x": {"type": "integer"}, "y": {"type": "integer"},
            "target": {"type": "string"}, "ratio": {"type": ["number", "null"]},
            "big": {"type": ["integer", "null"]},
            "attrs": {"type": ["object", "array", "null"]},
        },
    },
}

# Gateway `context` objects (browser.md "Enrichment") some lines carry, and the context_*
# columns each flattens to; None: no context on the line. The last ones are odd shapes a
# reader must survive (members missing or of another type: those columns stay null).
CONTEXTS = [
    (None, {}),
    ({"ip": "203.0.113.0", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
      "ua": {"browser": "Firefox", "browser_version": "128.0", "os": "Linux", "os_version": None,
             "device": "desktop", "bot": False},
      "geo": {"country": "SE", "region": "Stockholm", "city": "Stockholm", "lat": 59.33, "lon": 18.06}},
     {"context_ip": "203.0.113.0", "context_browser": "Firefox", "context_os": "Linux",
      "context_device": "desktop", "context_bot": False, "context_country": "SE",
      "context_city": "Stockholm"}),
    ({"ip": "2001:db8:1::", "ua": {"browser": "Googlebot", "browser_version": "2.1", "os": "Other",
                                   "os_version": None, "device": "bot", "bot": True},
      "origin": "https://shop.example"},
     {"context_ip": "2001:db8:1::", "context_browser": "Googlebot", "context_os": "Other",
      "context_device": "bot", "context_bot": True}),
    ({"ip": "198.51.100.0", "geo": {"country": "日本", "city": "Zürich \"q\""}},
     {"context_ip": "198.51.100.0", "context_country": "日本", "context_city": 'Zürich \"q\"'}),
    ({}, {}),
    ({"ip": 7, "ua": "Safari", "geo": [1]}, {}),
]

NOTES = ["café crème", "注文ありがとう", "🚀 fast", 'quote " and \\ backslash', "tab\tnew\nline",
         "Ünïcödé ñ", "", None, "control \u0001 char"]


def iso_ms(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def occurred(rng, t):
    k = rng.random()
    o = t - dt.timedelta(seconds=rng.randint(0, 30))
    if k < 0.2:
        tz = dt.timezone(dt.timedelta(hours=-5))
        return o.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "-05:00"
    if k < 0.4:
        return o.strftime("%Y-%m-%dT%H:%M:%SZ")
    if k < 0.6:
        return o.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if k < 0.65:
        return None  # absent
    return iso_ms(o)


def us(t):
    return int(t.timestamp()) * 1000000 + t.microsecond


def payload(rng, etype, ver):
    if etype == "click":
        big = rng.choice([None, 9007199254740993, -9007199254740993, 9223372036854775807, 12])
        return {"x": rng.randint(0, 4000), "y": rng.randint(-50, 3000),
                "target": rng.choice(["#buy", "a.more", "按钮", "📦"]),
                "ratio": rng.choice([None, 0.5, 1e-7, 123456.789, -0.0]),
                "big": big,
                "attrs": rng.choice([None, {"k": [1, 2, {"z": None}]}, ["a", 1, True], {}])}
    p = {"order_id": rng.randint(1, 2**62), "amount": round(rng.uniform(0, 5000), 2),
         "currency": rng.choice(["EUR", "USD", "JPY"]), "paid": rng.random() < 0.7,
         "paid_at": rng.choice([None, "2026-11-10T12:00:00Z", "2026-11-10T13:14:15.123456+02:00"]),
         "note": rng.choice(NOTES),
         "items": [{"sku": f"S{rng.randint(1, 99)}", "qty": rng.randint(1, 3)}
                   for _ in range(rng.randint(0, 3))],
         "meta": {"ab": rng.choice(["a", "b"]), "depth": {"x": {"y": [1, 2.5, "三"]}}}}
    if ver == 1:
        p["coupon"] = rng.choice([None, "WINTER10"])
    else:
        p["coupon"] = rng.choice([None, {"code": "SPRING", "pct": 15}])
        p["loyalty_points"] = rng.choice([None, 0, 150, 2**53 + 1])
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--start", default="2026-11-10T21:00:00Z")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--files-per-hour", type=int, default=2)
    ap.add_argument("--bad", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    crng = random.Random("context-" + a.seed)  # its own stream: the other draws stay as they were
    start = dt.datetime.fromisoformat(a.start.replace("Z", "+00:00"))
    span = a.hours * 3600

    lines = []  # (etype, received datetime, text, event_id, source, kept-row-or-None)
    for i in range(a.events):
        etype = "order_placed" if rng.random() < 0.6 else "click"
        ver = rng.choice([1, 2]) if etype == "order_placed" else 1
        t = start + dt.timedelta(milliseconds=rng.randint(0, span * 1000 - 1))
        eid = f"{rng.getrandbits(64):016x}-{i:06d}" if rng.random() < 0.9 else f"client:{etype}:{i}"
        env = {"event_type": etype, "schema_version": ver, "event_id": eid}
        occ = occurred(rng, t)
        if occ is not None:
            env["occurred_at"] = occ
        env["received_at"] = iso_ms(t)
        env["source"] = rng.choice(SOURCES)
        env["payload"] = payload(rng, etype, ver)
        ctx = crng.choice(CONTEXTS)[0]
        if ctx is not None:
            env["context"] = ctx
        text = json.dumps(env, ensure_ascii=False, separators=(",", ":"))
        lines.append((etype, t, text, eid, env["source"], env))
        r = rng.random()
        if r < 0.04:  # replay: the same bytes again
            lines.append((etype, t, text, eid, env["source"], None))
        elif r < 0.08:  # retry: later received_at, may cross hour or day
            t2 = t + dt.timedelta(seconds=rng.choice([1, 59, 1800, 3600, 5400]))
            if t2 < start + dt.timedelta(seconds=span):
                env2 = dict(env)
                env2["received_at"] = iso_ms(t2)
                text2 = json.dumps(env2, ensure_ascii=False, separators=(",", ":"))
                lines.append((etype, t2, text2, eid, env["source"], None))

    # the expected result: per event_id, the copy with the earliest received_at
    first = {}
    for ln in lines:
        k = (ln[0], ln[3])
        if k not in first or ln[1] < first[k][1]:
            first[k] = ln
    rows, rollups = [], {}
    seen = set()
    for ln in sorted(lines, key=lambda x: (x[1], x[3])):
        etype, t, text, eid, src, _ = ln
        d, h = t.strftime("%Y-%m-%d"), t.hour
        key = f"{etype}|{d}|{h}|{src}"
        r = rollups.setdefault(key, {"events": 0, "duplicates": 0, "distinct_event_ids": 0,
                                     "invalid_lines": 0, "bad_files": 0})
        r["events"] += 1
        if (etype, eid) in seen:
            r["duplicates"] += 1
            continue
        seen.add((etype, eid))
        r["distinct_event_ids"] += 1
        env = json.loads(text)
        row = {"event_type": etype, "dt": d, "event_id": eid,
               "schema_version": env["schema_version"],
               "occurred_at": None, "received_at": us(t), "source": src}
        if "context" in env:
            row.update(next(c for x, c in CONTEXTS if x == env["context"]))
        if "occurred_at" in env:
            row["occurred_at"] = us(dt.datetime.fromisoformat(env["occurred_at"].replace("Z", "+00:00")))
        for k, v in env["payload"].items():
            kind = None
            for (et, _v), s in SCHEMAS.items():
                if et == etype and k in s["properties"]:
                    kind = kind or set()
                    ty = s["properties"][k]["type"]
                    ty = [ty] if isinstance(ty, str) else ty
                    fmt = s["properties"][k].get("format")
                    kind.add((tuple(x for x in ty if x != "null"), fmt))
            if v is None:
                row[k] = None
            elif len(kind) > 1 or list(kind)[0][0] not in (("integer",), ("number",), ("boolean",), ("string",)):
                row[k] = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            elif list(kind)[0][1] == "date-time":
                row[k] = us(dt.datetime.fromisoformat(v.replace("Z", "+00:00")))
            elif list(kind)[0][0] == ("number",):
                row[k] = float(v)
            else:
                row[k] = v
        rows.append(row)

    # files: each hour's lines spread over files (a replay lands in another file)
    files = {}
    for ln in lines:
        etype, t = ln[0], ln[1]
        part = (etype, t.strftime("%Y-%m-%d"), t.hour)
        files.setdefault(part, [[] for _ in range(a.files_per_hour)])
        files[part][rng.randrange(a.files_per_hour)].append(ln)
    bad = {"invalid_lines": 0, "bad_files": 0}
    for (etype, d, h), groups in sorted(files.items()):
        folder = os.path.join(a.out, "raw", f"event_type={etype}", f"dt={d}", f"hr={h:02d}")
        os.makedirs(folder, exist_ok=True)
        for k, g in enumerate(groups):
            g.sort(key=lambda x: x[1])
            body = "".join(x[2] + "\n" for x in g).encode()
            with open(os.path.join(folder, f"gw{k}-{h:02d}.jsonl.gz"), "wb") as f:
                f.write(gzip.compress(body, mtime=0))
    if a.bad:
        # broken lines in a good file of the first hour of order_placed
        d, h = start.strftime("%Y-%m-%d"), start.hour
        folder = os.path.join(a.out, "raw", "event_type=order_placed", f"dt={d}", f"hr={h:02d}")
        os.makedirs(folder, exist_ok=True)
        okline = json.dumps({"event_type": "order_placed", "schema_version": 1, "event_id": "ok-after-bad",
                             "received_at": iso_ms(start), "source": "shop-web",
                             "payload": {"order_id": 1, "note": "🙂"}}, ensure_ascii=False)
        broken = ['{"event_id": "x", "received_at": ', "[1,2,3]",
                  '{"received_at":"2026-11-10T21:00:00.000Z","source":"shop-web"}',
                  '{"event_id":"y","received_at":"yesterday","source":"shop-ios"}',
                  "\xff\xfe not utf8".encode("latin-1").decode("latin-1")]
        body = ("\n".join(broken) + "\n" + okline + "\n").encode("utf-8", "surrogateescape")
        body = body.replace("\xff\xfe".encode(), b"\xff\xfe")
        with open(os.path.join(folder, "broken-lines.jsonl.gz"), "wb") as f:
            f.write(gzip.compress(body, mtime=0))
        bad["invalid_lines"] += len(broken)
        rows.append({"event_type": "order_placed", "dt": d, "event_id": "ok-after-bad", "schema_version": 1,
                     "occurred_at": None, "received_at": us(start), "source": "shop-web",
                     "order_id": 1, "note": "🙂"})
        r = rollups.setdefault(f"order_placed|{d}|{h}|shop-web", {"events": 0, "duplicates": 0,
                               "distinct_event_ids": 0, "invalid_lines": 0, "bad_files": 0})
        r["events"] += 1
        r["distinct_event_ids"] += 1
        r["invalid_lines"] += 1  # the object without event_id names its source
        e = rollups.setdefault(f"order_placed|{d}|{h}|", {"events": 0, "duplicates": 0,
                               "distinct_event_ids": 0, "invalid_lines": 0, "bad_files": 0})
        e["invalid_lines"] += 3
        r2 = rollups.setdefault(f"order_placed|{d}|{h}|shop-ios", {"events": 0, "duplicates": 0,
                                "distinct_event_ids": 0, "invalid_lines": 0, "bad_files": 0})
        r2["invalid_lines"] += 1
        # a truncated second member: the first member's lines are read
        replay = next(x for x in lines if x[0] == "click")
        d2, h2 = replay[1].strftime("%Y-%m-%d"), replay[1].hour
        folder = os.path.join(a.out, "raw", "event_type=click", f"dt={d2}", f"hr={h2:02d}")
        with open(os.path.join(folder, "truncated.jsonl.gz"), "wb") as f:
            f.write(gzip.compress((replay[2] + "\n").encode(), mtime=0))
            f.write(gzip.compress(b'{"more":1}\n', mtime=0)[:5])
        r = rollups[f"click|{d2}|{h2}|{replay[4]}"]
        r["events"] += 1
        r["duplicates"] += 1
        with open(os.path.join(folder, "not-gzip.jsonl.gz"), "wb") as f:
            f.write(b"this is not gzip at all\n")
        e = rollups.setdefault(f"click|{d2}|{h2}|", {"events": 0, "duplicates": 0,
                               "distinct_event_ids": 0, "invalid_lines": 0, "bad_files": 0})
        e["bad_files"] += 2
        bad["bad_files"] += 2
    sd = os.path.join(a.out, "schemas")
    os.makedirs(sd, exist_ok=True)
    for (etype, ver), s in SCHEMAS.items():
        with open(os.path.join(sd, f"{etype}.v{ver}.json"), "w") as f:
            json.dump(s, f)
    unique = {}
    for r in rows:
        k = f"{r['event_type']}|{r['dt']}"
        unique[k] = unique.get(k, 0) + 1
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump({"lines": len(lines), "rows": rows, "unique": unique, "rollups": rollups, **bad},
                  f, ensure_ascii=False)
    print(f"{len(lines)} lines, {len(rows)} unique rows, {sum(len(g) for g in files.values())} groups")


if __name__ == "__main__":
    main()
