#!/usr/bin/env python3
"""openapi_check.py - docs/openapi.json against the running gateway.

Starts a real `weir gateway` on a database of its own (the tests' Postgres fixture) and a
second one whose Postgres never answers (for the 503s), and runs requests that reach
every documented operation. Fails, naming each:
- a documented (operation, status) that no request saw, or a documented response header
  never seen on it; a value of an enum header (Weir-Result) never seen;
- a status seen that the operation does not document, a Content-Type it does not
  document for that status, a header value that breaks its documented schema (const,
  enum, pattern);
- a JSON answer body that does not match the schema documented for it;
- an example (request bodies, answers, parameters) that does not match the schema the
  document gives for it;
- a document that openapi-spec-validator refuses, where that (pip) package is installed.
Bodies and examples are checked by weir's own validator (`weir validate`), with the
document's components/schemas as $defs.

Environment: WEIR, WEIR_TEST_PG, WEIR_SCHEMAS (ctest), OPENAPI (the document)."""
import json
import os
import re
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

OPENAPI = os.environ.get("OPENAPI")
ALLOWED = "https://allowed.example"      # --cors-origins
SHOP = "https://shop.example.com"        # the publishable keys' origin
EVIL = "https://evil.example"
fail = harness.fail


def deref(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        node = doc
        for part in obj["$ref"][2:].split("/"):
            node = node[part]
        obj = node
    return obj


def standalone(doc, schema):
    """A schema usable alone: components/schemas become $defs."""
    text = json.dumps(schema).replace('"#/components/schemas/', '"#/$defs/')
    defs = json.loads(json.dumps(doc["components"]["schemas"]).replace('"#/components/schemas/', '"#/$defs/'))
    out = json.loads(text)
    if isinstance(out, dict):
        out = dict(out)
        out["$defs"] = defs
        out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return out


class Checks:
    """Instances grouped by schema, validated in one `weir validate` run per schema."""

    def __init__(self, doc, tmp):
        self.doc, self.tmp, self.groups = doc, tmp, {}

    def add(self, schema, instance, what):
        key = json.dumps(schema, sort_keys=True)
        self.groups.setdefault(key, (schema, []))[1].append((instance, what))

    def run(self):
        n = 0
        for i, (schema, items) in enumerate(self.groups.values()):
            sf = os.path.join(self.tmp, f"schema{i}.json")
            inf = os.path.join(self.tmp, f"inst{i}.ndjson")
            with open(sf, "w") as f:
                json.dump(standalone(self.doc, schema), f)
            with open(inf, "w") as f:
                for inst, _ in items:
                    f.write(json.dumps(inst) + "\n")
            r = subprocess.run([harness.WEIR, "validate", "--schema", sf, inf],
                               capture_output=True, text=True, timeout=120)
            if r.returncode == 2:
                fail(f"weir validate refused a schema of the document: {r.stderr.strip()} ({items[0][1]})")
                continue
            if r.returncode not in (0, 1):
                fail(f"weir validate exited {r.returncode}: {r.stderr[-1500:]}")
                continue
            lines = r.stdout.splitlines()
            if len(lines) != len(items):
                fail(f"weir validate printed {len(lines)} lines for {len(items)} values: {r.stderr[-500:]}")
                continue
            for (inst, what), line in zip(items, lines):
                res = json.loads(line)
                n += 1
                if not res.get("valid"):
                    fail(f"{what}: does not match its schema: {json.dumps(res.get('errors'))[:600]}")
        return n


def media(ct):
    return (ct or "").split(";")[0].strip().lower()


def main():
    harness.need_env()
    if not OPENAPI or not os.path.exists(OPENAPI):
        print("SKIP: OPENAPI does not name the document", file=sys.stderr)
        return 77
    doc = json.load(open(OPENAPI))
    if doc.get("openapi", "").split(".")[:2] != ["3", "1"]:
        fail(f"openapi is {doc.get('openapi')!r}, not 3.1.x")
    try:  # the structure against OpenAPI's own schema, where the validator is installed
        from openapi_spec_validator import validate as oas_validate
    except ImportError:
        print("note: openapi-spec-validator (pip) is not installed: the document's structure "
              "is checked only through the requests below", file=sys.stderr)
    else:
        try:
            oas_validate(doc)
        except Exception as e:  # noqa: BLE001 - any refusal is a finding
            fail(f"not a valid OpenAPI 3.1 document: {str(e)[:600]}")
    w = harness.Weir("docs_openapi")
    return harness.conclude(w, lambda: check(doc, w, w.tmp),
                            "docs_openapi: every documented status, header and example checked")


def check(doc, w, tmp):
    w.weir("migrate")
    for t in ("signup", "page_view"):
        w.weir("schema", "add", t, os.path.join(harness.SCHEMAS, f"{t}.v1.json"))
    keys = {
        "full": w.weir("key", "create", "--name", "full", "--rate", "100000"),
        "scoped": w.weir("key", "create", "--name", "scoped", "--event-types", "page_view"),
        "slow": w.weir("key", "create", "--name", "slow", "--rate", "1"),
        "web": w.weir("key", "create", "--name", "web", "--publishable", "--origins", SHOP,
                      "--event-types", "page_view", "--ip-rate", "0"),
        "webslow": w.weir("key", "create", "--name", "webslow", "--publishable", "--origins", SHOP,
                          "--rate", "1", "--ip-rate", "0"),
    }
    gw = w.gateway("main", "--cors-origins", ALLOWED, "--max-body", "64KiB", "--max-events", "10")
    # Postgres never answers this one: the registry is never loaded.
    down = w.gateway("down", "--cors-origins", ALLOWED, database_url=f"host={tmp}/nosuchdir dbname=weir connect_timeout=1",
                     wait_ready=False)

    ops = {}  # (path, method) -> operation
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ops[(path, method.upper())] = op
    seen = {}      # (path, METHOD, status) -> list of header dicts
    weir_results = set()
    checks = Checks(doc, tmp)

    def req(g, op_path, method, url, headers=None, body=None, note=""):
        st, hd, data = g.request(method, url, headers, body)
        what = f"{method} {op_path} {st} ({note})"
        op = ops.get((op_path, method))
        if op is None:
            fail(f"the test called {method} {op_path}, which the document does not have")
            return st, hd, data
        resp = op.get("responses", {}).get(str(st))
        if resp is None:
            fail(f"{what}: status {st} is not documented for this operation: {data[:200]!r}")
            return st, hd, data
        seen.setdefault((op_path, method, st), []).append(hd)
        resp = deref(doc, resp)
        content = resp.get("content", {})
        ct = media(hd.get("content-type"))
        if content and not ct and resp.get("x-untyped-body"):
            pass  # documented: a body without a Content-Type (libmicrohttpd's own pages)
        elif content:
            if ct not in content:
                fail(f"{what}: Content-Type {hd.get('content-type')!r} is not documented ({sorted(content)})")
            elif ct == "application/json":
                try:
                    body_json = json.loads(data)
                except ValueError:
                    fail(f"{what}: the body is not JSON: {data[:200]!r}")
                else:
                    checks.add(content[ct]["schema"], body_json, f"answer of {what}")
        elif data:
            fail(f"{what}: a body where the document has none: {data[:100]!r}")
        for name, h in resp.get("headers", {}).items():
            h = deref(doc, h)
            v = hd.get(name.lower())
            if v is None:
                continue
            sch = h.get("schema", {})
            if "const" in sch and v != sch["const"]:
                fail(f"{what}: {name}: {v!r}, documented {sch['const']!r}")
            if "enum" in sch and v not in sch["enum"]:
                fail(f"{what}: {name}: {v!r} is not one of {sch['enum']}")
            if "pattern" in sch and not re.search(sch["pattern"], v):
                fail(f"{what}: {name}: {v!r} does not match {sch['pattern']}")
            if name == "Weir-Result":
                weir_results.add(v)
        if hd.get("access-control-allow-origin") not in (None, "*"):
            if hd["access-control-allow-origin"] not in (ALLOWED, SHOP):
                fail(f"{what}: Access-Control-Allow-Origin {hd['access-control-allow-origin']!r} for another origin")
        return st, hd, data

    def post(g, key, body, ctype="application/json", extra=None, url="/v1/events", note="",
             both=True):
        """POST /v1/events; also once more from an allowed Origin (the CORS headers)."""
        h = {"Content-Type": ctype}
        if key:
            h["Authorization"] = "Bearer " + keys[key]
        h.update(extra or {})
        out = req(g, "/v1/events", "POST", url, h, body, note)
        if both and "Origin" not in h:
            req(g, "/v1/events", "POST", url, dict(h, Origin=ALLOWED), body, note + ", allowed Origin")
        return out

    ev = lambda uid: {"event_type": "signup", "payload": {"user_id": uid, "plan": "team", "method": "github"}}
    pv = {"event_type": "page_view", "payload": {"url": "https://shop.example.com/", "path": "/", "anonymous_id": "a1b2c3d4e5"}}
    J = lambda v: json.dumps(v).encode()

    # POST /v1/events
    post(gw, "full", J(ev(1)), note="one event")
    post(gw, "full", J([ev(2), {"event_type": "signup", "payload": {"user_id": "x", "plan": "team", "method": "github"}}]), note="one of two rejected")
    post(gw, "full", b'{"event_type":"signup","payload":{"user_id":3,"plan":"free","method":"google"}}\n\n', "application/x-ndjson", note="ndjson")
    post(gw, "full", J(ev(4)), "text/plain", note="text/plain")
    post(gw, "full", b'{"event_type": x}', note="not JSON")
    post(gw, "full", b"[]", note="empty batch")
    post(gw, None, J(ev(5)), note="no key")
    post(gw, None, J(ev(5)), url="/v1/events?key=" + keys["full"], note="secret key in the URL")
    post(gw, "scoped", J(ev(6)), note="event type not allowed")
    post(gw, None, J(pv), url="/v1/events?key=" + keys["web"], extra={"Origin": EVIL}, note="origin not allowed")
    post(gw, None, J(pv), "text/plain", url="/v1/events?key=" + keys["web"], extra={"Origin": SHOP}, note="beacon")
    post(gw, "full", b"x" * 70000, note="over --max-body")
    post(gw, "full", J([ev(i) for i in range(11)]), note="over --max-events")
    post(gw, "full", J(ev(7)), "application/xml", note="wrong Content-Type")
    post(gw, "full", J({"event_type": "signup"}), note="every event rejected")
    post(gw, "slow", J([ev(i) for i in range(5)]), note="a batch past the rate", both=False)
    post(gw, "slow", J(ev(8)), note="over the rate")
    post(gw, "full", J(ev(9)), extra={"X-Padding": "a" * 20000}, note="head over 16 KiB", both=False)
    post(down, "full", J(ev(10)), note="registry not loaded")

    # OPTIONS /v1/events
    req(gw, "/v1/events", "OPTIONS", "/v1/events", {"Origin": SHOP}, note="allowed origin")
    req(gw, "/v1/events", "OPTIONS", "/v1/events", {"Origin": EVIL}, note="other origin")

    # GET /v1/p.gif
    def pixel(g, key, params, origin=None, note="", raw_query=None):
        q = raw_query if raw_query is not None else urllib.parse.urlencode(
            dict({"key": keys[key]} if key else {}, **params))
        h = {"Origin": origin} if origin else {}
        return req(g, "/v1/p.gif", "GET", "/v1/p.gif?" + q, h, note=note)

    pp = {"event_type": "page_view", "payload": json.dumps(pv["payload"])}
    pixel(gw, "web", pp, SHOP, "accepted")
    pixel(gw, "web", pp, None, "accepted, no Origin")
    pixel(gw, "web", dict(pp, payload="{not json"), SHOP, "payload not JSON")
    pixel(gw, None, pp, SHOP, "no key")
    pixel(gw, "web", pp, EVIL, "origin not allowed")
    for i in range(5):  # a rate of 1/s: the second pixel in a row finds the bucket empty
        _, hd, _ = pixel(gw, "webslow", pp, SHOP, f"rate, {i + 1}")
        if hd.get("weir-result") == "rate_limited":
            break
    pixel(gw, "web", dict(pp, payload=json.dumps({"pad": "p" * 9000})), SHOP, "query over 8 KiB")
    pixel(down, "web", pp, SHOP, "registry not loaded")

    # GET /v1/weir.js
    st, hd, _ = req(gw, "/v1/weir.js", "GET", "/v1/weir.js", note="script")
    if hd.get("etag"):
        req(gw, "/v1/weir.js", "GET", "/v1/weir.js", {"If-None-Match": hd["etag"]}, note="revalidated")

    # GET /v1/schemas/{event_type}
    sp = "/v1/schemas/{event_type}"
    for g, key, t, origin, note in [
            (gw, "full", "signup", None, "allowed"), (gw, "full", "signup", ALLOWED, "allowed, Origin"),
            (gw, None, "signup", None, "no key"), (gw, None, "signup", ALLOWED, "no key, Origin"),
            (gw, "scoped", "signup", None, "scope"), (gw, "scoped", "signup", ALLOWED, "scope, Origin"),
            (gw, "full", "nope", None, "unknown"), (gw, "full", "nope", ALLOWED, "unknown, Origin"),
            (down, "full", "signup", None, "registry"), (down, "full", "signup", ALLOWED, "registry, Origin")]:
        h = {"Authorization": "Bearer " + keys[key]} if key else {}
        if origin:
            h["Origin"] = origin
        req(g, sp, "GET", "/v1/schemas/" + t, h, note=note)

    req(gw, "/healthz", "GET", "/healthz")
    req(gw, "/readyz", "GET", "/readyz", note="ready")
    req(down, "/readyz", "GET", "/readyz", note="registry not loaded")
    req(gw, "/metrics", "GET", "/metrics")

    # Every documented status and header seen.
    for (path, method), op in sorted(ops.items()):
        for status, resp in op.get("responses", {}).items():
            got = seen.get((path, method, int(status)))
            if not got:
                fail(f"{method} {path}: documented status {status} was never seen")
                continue
            for name in deref(doc, resp).get("headers", {}):
                if not any(name.lower() in hd for hd in got):
                    fail(f"{method} {path} {status}: documented header {name} was never seen")
    wr = deref(doc, doc["components"]["headers"]["WeirResult"])["schema"]["enum"]
    for v in wr:
        if v not in weir_results:
            fail(f"Weir-Result: {v} was never seen")

    # Every example against the schema the document gives for it.
    n_examples = 0

    def examples_of(where, mt):
        nonlocal n_examples
        schema = mt.get("schema")
        for name, e in mt.get("examples", {}).items():
            e = deref(doc, e)
            if schema is not None and "value" in e:
                checks.add(schema, e["value"], f"example {name} of {where}")
                n_examples += 1
        if schema is not None and "example" in mt:
            checks.add(schema, mt["example"], f"example of {where}")
            n_examples += 1

    for (path, method), op in ops.items():
        for mt_name, mt in op.get("requestBody", {}).get("content", {}).items():
            examples_of(f"{method} {path} request {mt_name}", mt)
        for p in op.get("parameters", []):
            examples_of(f"{method} {path} parameter {p['name']}", p)
        for status, resp in op.get("responses", {}).items():
            for mt_name, mt in deref(doc, resp).get("content", {}).items():
                examples_of(f"{method} {path} {status} {mt_name}", mt)
    n = checks.run()
    print(f"{len(seen)} (operation, status) pairs seen, {n_examples} examples, {n} values validated "
          f"by weir validate", flush=True)
    if n_examples < 20:
        fail(f"only {n_examples} examples found in the document")


if __name__ == "__main__":
    sys.exit(main())
