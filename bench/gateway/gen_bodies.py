#!/usr/bin/env python3
"""gen_bodies.py - writes the request bodies the gateway benchmark replays: realistic events
(~400-500 B each) of the example schemas (page_view, api_metric, frontend_error, signup),
as single-event bodies and as 100-event JSON-array batches, plain and gzip.
    gen_bodies.py OUTDIR [BATCH_SIZE] [N_BODIES]
Writes OUTDIR/single-*.json, OUTDIR/batch-*.json, OUTDIR/batch-*.json.gz and the lists
single.list, batch.list, batch-gz.list (one path a line) that post.lua reads."""

import gzip
import json
import os
import random
import sys

RNG = random.Random(20261121)

PATHS = ["/", "/pricing", "/docs/getting-started", "/blog/2026/11/event-pipelines-without-tears",
         "/account/settings/billing", "/product/ingest", "/careers", "/docs/api/v1/events"]
TITLES = ["Pricing - Weir", "Getting started with Weir", "Event pipelines without tears",
          "Billing settings", "Weir ingest: validated events at the edge", "Careers at Weir"]
ROUTES = ["/v1/orders/{id}", "/v1/users/{id}/sessions", "/v1/search", "/v1/catalog/items",
          "/internal/healthz", "/v1/checkout/confirm"]
SERVICES = ["checkout-api", "search", "user-service", "catalog", "payments-gateway"]
ERRORS = ["TypeError: Cannot read properties of undefined (reading 'price')",
          "ReferenceError: analytics is not defined",
          "NetworkError when attempting to fetch resource.",
          "Unhandled promise rejection: timeout of 10000ms exceeded"]


def hexid(n):
    return "".join(RNG.choice("0123456789abcdef") for _ in range(n))


def uuid():
    h = hexid(32)
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def ts():
    return (f"2026-11-21T{RNG.randrange(24):02d}:{RNG.randrange(60):02d}:"
            f"{RNG.randrange(60):02d}.{RNG.randrange(1000):03d}Z")


def page_view():
    path = RNG.choice(PATHS)
    return {
        "url": "https://www.example.com" + path + "?ref=nl",
        "path": path,
        "title": RNG.choice(TITLES),
        "referrer": RNG.choice(["https://www.google.com/", None, "https://news.ycombinator.com/"]),
        "anonymous_id": "anon-" + hexid(20),
        "user_id": RNG.choice([None, RNG.randrange(1, 10**7)]),
        "session_id": uuid(),
        "viewport": {"width": RNG.choice([390, 1280, 1440, 1920]), "height": RNG.choice([844, 720, 900, 1080])},
        "utm": {"source": "newsletter", "medium": "email", "campaign": "nov-2026-launch"},
        "load_ms": round(RNG.uniform(80, 3000), 1),
        "is_bot": False,
        "viewed_at": ts(),
    }


def api_metric():
    return {
        "service": RNG.choice(SERVICES),
        "method": RNG.choice(["GET", "POST", "PUT", "DELETE"]),
        "route": RNG.choice(ROUTES),
        "status": RNG.choice([200, 200, 200, 201, 204, 404, 500]),
        "duration_ms": round(RNG.uniform(0.5, 900), 3),
        "request_bytes": RNG.randrange(0, 20000),
        "response_bytes": RNG.randrange(0, 200000),
        "client_ip": f"10.{RNG.randrange(256)}.{RNG.randrange(256)}.{RNG.randrange(1, 255)}",
        "region": RNG.choice(["eu-west-1", "us-east-1", "ap-southeast-2"]),
        "cache_hit": RNG.choice([True, False]),
        "tags": ["canary", "build-" + hexid(7), "az-" + RNG.choice("abc")],
    }


def frontend_error():
    return {
        "message": RNG.choice(ERRORS),
        "error_type": "TypeError",
        "url": "https://app.example.com/checkout/cart?step=2",
        "release": f"4.{RNG.randrange(30)}.{RNG.randrange(10)}",
        "browser": "Firefox 132.0",
        "os": "Windows 11",
        "user_id": RNG.randrange(1, 10**7),
        "stack": [{"function": "renderCart", "file": "https://cdn.example.com/app.3f9c2.js", "line": 1,
                   "column": RNG.randrange(1, 90000)}],
        "handled": False,
        "occurred_in": "render",
    }


def signup():
    return {
        "user_id": RNG.randrange(1, 10**7),
        "email_domain": RNG.choice(["gmail.com", "example.org", "mail.example.co.uk"]),
        "plan": RNG.choice(["free", "team", "business", "enterprise"]),
        "method": RNG.choice(["password", "google", "github", "saml"]),
        "referral_code": RNG.choice([None, "REF" + hexid(6).upper()]),
        "country": RNG.choice(["DE", "FR", "US", "BR", "JP"]),
        "marketing_opt_in": RNG.choice([True, False]),
        "trial_days": 14,
        "signed_up_at": ts(),
    }


# Weighted like a web product's stream: mostly page views and API metrics.
KINDS = [("page_view", page_view, 5), ("api_metric", api_metric, 3), ("frontend_error", frontend_error, 1),
         ("signup", signup, 1)]


def event():
    name, fn, _ = RNG.choices(KINDS, weights=[k[2] for k in KINDS])[0]
    return {"event_type": name, "event_id": "evt-" + hexid(24), "occurred_at": ts(), "payload": fn()}


def main():
    out = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    nbodies = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    os.makedirs(out, exist_ok=True)
    lists = {"single": [], "batch": [], "batch-gz": []}
    sizes = []
    for i in range(4 * nbodies):
        e = event()
        p = os.path.join(out, f"single-{i}.json")
        data = json.dumps(e, separators=(",", ":")).encode()
        sizes.append(len(data))
        with open(p, "wb") as f:
            f.write(data)
        lists["single"].append(p)
    raw = comp = 0
    for i in range(nbodies):
        evs = [event() for _ in range(batch)]
        sizes.extend(len(json.dumps(e, separators=(",", ":"))) for e in evs)
        data = json.dumps(evs, separators=(",", ":")).encode()
        p = os.path.join(out, f"batch-{i}.json")
        with open(p, "wb") as f:
            f.write(data)
        gz = gzip.compress(data, compresslevel=6, mtime=0)
        with open(p + ".gz", "wb") as f:
            f.write(gz)
        raw += len(data)
        comp += len(gz)
        lists["batch"].append(p)
        lists["batch-gz"].append(p + ".gz")
    for name, paths in lists.items():
        with open(os.path.join(out, name + ".list"), "w") as f:
            f.write("\n".join(paths) + "\n")
    sizes.sort()
    print(f"events: {len(sizes)} generated, bytes min {sizes[0]} median {sizes[len(sizes) // 2]} "
          f"max {sizes[-1]}; batch body {raw // nbodies} B, gzip {comp // nbodies} B")


if __name__ == "__main__":
    main()
