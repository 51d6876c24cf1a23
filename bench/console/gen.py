#!/usr/bin/env python3
"""gen.py - a raw zone of frontend_error events (schemas/frontend_error.v1.json) for the
console benchmark: DAYS days of EVENTS events each, spread over the 24 hours, one gzip file
per hour, as the gateway stores them. user_id is uniform in 1..USERS, so user 42 has about
EVENTS*DAYS/USERS events. Deterministic (seeded per hour); standard library only.
  gen.py --out LAKE [--days 3] [--events 1000000] [--users 100000] [--start 2026-11-20]
         [--jobs 2]"""
import argparse
import datetime as dt
import gzip
import json
import os
import random
from multiprocessing import Pool

MESSAGES = ["TypeError: Cannot read properties of undefined (reading 'id')",
            "ReferenceError: user is not defined", "NetworkError when attempting to fetch resource.",
            "Unhandled promise rejection: timeout after 30000 ms", "RangeError: Maximum call stack size exceeded",
            "SyntaxError: Unexpected token '<' in JSON at position 0"]
BROWSERS = ["Chrome 131", "Firefox 133", "Safari 18.1", "Edge 131"]
OSES = ["Windows 11", "macOS 15", "iOS 18", "Android 15", "Linux"]
KINDS = ["render", "event_handler", "network", "promise", "other"]
PATHS = ["/checkout", "/cart", "/account/settings", "/search?q=shoes", "/product/12345"]


def hour_file(args):
    out, day, hr, n, users, seed = args
    rng = random.Random(f"{seed}/{day}/{hr}")
    base = dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc) + dt.timedelta(hours=hr)
    step = 3600.0 / max(n, 1)
    lines = []
    for i in range(n):
        t = base + dt.timedelta(seconds=i * step)
        rec = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        occ = t - dt.timedelta(milliseconds=rng.randint(50, 3000))
        occs = occ.strftime("%Y-%m-%dT%H:%M:%S.") + f"{occ.microsecond // 1000:03d}Z"
        depth = rng.randint(1, 4)
        payload = {
            "message": rng.choice(MESSAGES), "error_type": "Error",
            "url": "https://shop.example.com" + rng.choice(PATHS), "release": f"4.{rng.randint(0, 9)}.{rng.randint(0, 30)}",
            "browser": rng.choice(BROWSERS), "os": rng.choice(OSES),
            "user_id": rng.randint(1, users) if rng.random() < 0.9 else None,
            "stack": [{"function": f"render{j}", "file": f"https://cdn.example.com/app.{j}.js", "line": rng.randint(1, 9000),
                       "column": rng.randint(1, 120)} for j in range(depth)],
            "handled": rng.random() < 0.3, "occurred_in": rng.choice(KINDS),
        }
        env = {"event_type": "frontend_error", "schema_version": 1,
               "event_id": f"fe-{day}-{hr:02d}-{i:07d}", "occurred_at": occs, "received_at": rec,
               "source": "web-frontend", "payload": payload,
               "context": {"ip": f"203.0.113.{rng.randint(1, 254)}", "country": rng.choice(["SE", "DE", "US", "FR"])}}
        lines.append(json.dumps(env, separators=(",", ":")))
    folder = os.path.join(out, "raw", "event_type=frontend_error", f"dt={day}", f"hr={hr:02d}")
    os.makedirs(folder, exist_ok=True)
    data = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6, mtime=0)
    with open(os.path.join(folder, "bench-0.jsonl.gz"), "wb") as f:
        f.write(data)
    return len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--events", type=int, default=1_000_000, help="events per day")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--start", default="2026-11-20")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    start = dt.date.fromisoformat(a.start)
    tasks = []
    for d in range(a.days):
        day = (start + dt.timedelta(days=d)).isoformat()
        for hr in range(24):
            n = a.events // 24 + (1 if hr < a.events % 24 else 0)
            tasks.append((a.out, day, hr, n, a.users, a.seed))
    with Pool(a.jobs) as p:
        sizes = p.map(hour_file, tasks)
    print(json.dumps({"files": len(sizes), "gzip_bytes": sum(sizes), "events": a.events * a.days}))


if __name__ == "__main__":
    main()
