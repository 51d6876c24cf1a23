#!/usr/bin/env python3
"""gen.py - data for bench/replay: a rejected zone of N `signup` events rejected for a
missing `plan` (hours of 2026-11-20, FILES files), and a raw zone of N accepted `signup`
events spread over the 24 hours before now (the dry run samples the last hours).
Deterministic for a given --seed apart from the raw zone's hours (they follow the clock).
  python3 gen.py --out DIR [--events N] [--files F] [--zone rejected|raw|both]"""
import argparse
import gzip
import json
import os
import random
import time

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--events", type=int, default=1000000)
ap.add_argument("--files", type=int, default=20)
ap.add_argument("--zone", default="both")
ap.add_argument("--seed", default="1")
a = ap.parse_args()
rng = random.Random(a.seed)
PATHS = ["/", "/pricing", "/docs/start", "/blog/2026/11/launch", "/signup?ref=ad"]
UAS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1)"]
ERR = [{"code": "schema", "instance_path": "/payload", "schema_path": "/required", "keyword": "required",
        "message": "missing required property \"plan\""}]


def payload(i, plan):
    p = {"n": i, "path": rng.choice(PATHS), "ua": rng.choice(UAS), "ref": None,
         "utm": {"source": "news", "campaign": f"c{i % 50}"}}
    if plan:
        p["plan"] = rng.choice(["free", "pro", "team"])
    return p


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(gzip.compress(("\n".join(lines) + "\n").encode(), 6, mtime=0))


per = (a.events + a.files - 1) // a.files
if a.zone in ("rejected", "both"):
    n = 0
    for k in range(a.files):
        hr = k % 24
        lines = []
        for j in range(min(per, a.events - n)):
            rec = f"2026-11-20T{hr:02d}:{(j // 60) % 60:02d}:{j % 60:02d}.{j % 1000:03d}Z"
            ev = {"event_type": "signup", "payload": payload(n, False)}
            if n % 10:
                ev["event_id"] = f"ev-{n:08d}"
            lines.append(json.dumps({"event": ev, "source": "web", "received_at": rec, "errors": ERR},
                                    separators=(",", ":")))
            n += 1
        write(os.path.join(a.out, f"rejected/dt=2026-11-20/hr={hr:02d}/gw-{k:03d}.jsonl.gz"), lines)
if a.zone in ("raw", "both"):
    now = int(time.time())
    n = 0
    for k in range(a.files):
        t = now - (k % 24) * 3600
        tm = time.gmtime(t)
        rec = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", tm)
        lines = []
        for j in range(min(per, a.events - n)):
            lines.append(json.dumps({"event_type": "signup", "schema_version": 1, "event_id": f"acc-{n:08d}",
                                     "received_at": rec, "source": "web", "payload": payload(n, n % 50 != 0)},
                                    separators=(",", ":")))
            n += 1
        d = time.strftime("dt=%Y-%m-%d/hr=%H", tm)
        write(os.path.join(a.out, f"raw/event_type=signup/{d}/gw-{k:03d}.jsonl.gz"), lines)
