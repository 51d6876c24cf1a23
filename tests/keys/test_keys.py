#!/usr/bin/env python3
"""End-to-end tests of docs/keys.md: `weir key rotate` with a grace period, `weir key
update` applied live, `--expires`, the bad input of the key commands, and one key's rate
shared by three gateways on one database (issue 16, items 5 and 6).

The fixture is tests/gateway/test_gateway.py's: a private Postgres cluster, the real
gateway on loopback (E) with a file:// lake, and Extra gateways on the same database."""

import gzip
import http.client
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.environ.get("WEIR_TESTS_GATEWAY_DIR") or
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gateway"))
import test_gateway as tg  # noqa: E402
from test_gateway import E, Extra, assert_eq, assert_true, event, wait_until  # noqa: E402

SIGNUP = {"event_type": "signup", "payload": {"user_id": 7, "plan": "free", "method": "github"}}


def post_with(secret, body, port=None):
    return E.request("POST", "/v1/events", body, headers={"Authorization": "Bearer " + secret},
                     key=None, port=port)


def status(secret, body=None, port=None):
    return post_with(secret, body if body is not None else event(), port)[0]


def stored_sources(marker, seconds=15):
    """The `source` of every raw-zone line holding marker, once the flusher wrote it."""
    def scan():
        out = []
        for root, _, files in os.walk(os.path.join(E.lake, "raw")):
            for f in files:
                if f.endswith(".jsonl.gz"):
                    with gzip.open(os.path.join(root, f), "rt", encoding="utf-8") as fh:
                        out += [json.loads(line)["source"] for line in fh if marker in line]
        return out
    return wait_until(f"{marker} in the raw zone", scan, seconds, step=0.2)


def list_line(name):
    out = E.weir("key", "list").stdout
    return next(line for line in out.splitlines() if line.startswith(name + " "))


def new_key(name, *args):
    return E.weir("key", "create", "--name", name, *args).stdout.strip()


# --- rotation ------------------------------------------------------------------------------

def test_rotate_with_grace():
    old = new_key("rot", "--event-types", "page_view", "--rate", "1000")
    wait_until("the first secret works", lambda: status(old) == 202, 2.0)
    grace = 4.0
    t_rot = time.time()
    r = E.weir("key", "rotate", "rot", "--grace", "4s")
    new = r.stdout.strip()
    assert_true(new.startswith("weir_") and len(new) == 48 and new != old, "a new secret: " + new[:8])
    assert_eq(r.stdout.count("\n"), 1, "the secret alone on stdout")
    wait_until("the new secret accepted", lambda: status(new) == 202, 2.0)
    m_old, m_new = "rot-old-%d" % time.time_ns(), "rot-new-%d" % time.time_ns()
    assert_eq(status(old, event(payload=dict(tg.PAGE_VIEW, title=m_old))), 202, "old secret in grace")
    assert_eq(status(new, event(payload=dict(tg.PAGE_VIEW, title=m_new))), 202, "new secret")
    assert_true(time.time() - t_rot < grace, "the checks above ran within the grace (machine too slow?)")
    # same scopes and rate for both secrets
    assert_eq(status(new, SIGNUP), 403, "scopes kept")
    assert_eq(post_with(new, event())[1].get("ratelimit-limit"), "1000", "rate kept")
    line = list_line("rot")
    assert_true("old-until:" in line and " active " in line, "list shows the grace: " + line)
    wait_until("the old secret refused after the grace", lambda: status(old) == 401, grace + 5)
    took = time.time() - t_rot
    assert_true(took >= grace - 0.3, f"old secret refused after {took:.2f} s, before the {grace} s grace")
    print(f"  old secret refused {took:.2f} s after the rotation (grace {grace} s)")
    assert_eq(status(new), 202, "new secret after the grace")
    assert_eq(stored_sources(m_old), ["rot"], "source of an event sent with the old secret")
    assert_eq(stored_sources(m_new), ["rot"], "source of an event sent with the new secret")
    assert_true("rotated:" in list_line("rot"), "list shows the rotation once the grace is over")


def test_rotate_without_grace_and_twice():
    a = new_key("rot0")
    wait_until("the key is live", lambda: status(a) == 202, 2.0)
    b = E.weir("key", "rotate", "rot0", "--grace", "0").stdout.strip()
    wait_until("old secret refused at once", lambda: status(a) == 401, 2.0)
    assert_eq(status(b), 202, "new secret")
    # a second rotation within the grace ends the first secret at once: one previous at a time
    c = E.weir("key", "rotate", "rot0", "--grace", "1h").stdout.strip()
    wait_until("third secret accepted", lambda: status(c) == 202, 2.0)
    assert_eq(status(b), 202, "second secret in its grace")
    d = E.weir("key", "rotate", "rot0").stdout.strip()  # default grace 24h
    wait_until("fourth secret accepted", lambda: status(d) == 202, 2.0)
    assert_eq((status(c), status(b)), (202, 401), "only the latest previous secret stays")


def test_rotate_publishable_keeps_kind_and_origins():
    shop = "https://shop.example.com"
    old = new_key("rotpub", "--publishable", "--origins", shop)
    wait_until("the key is live", lambda: E.request("POST", "/v1/events?key=" + old, event(),
                                                    headers={"Origin": shop}, key=None)[0] == 202, 2.0)
    new = E.weir("key", "rotate", "rotpub").stdout.strip()
    assert_true(new.startswith("weir_pk_") and len(new) == 51, "still a publishable key")
    path = "/v1/events?key=" + new
    wait_until("new publishable key accepted in the URL", lambda: E.request(
        "POST", path, event(), headers={"Origin": shop}, key=None)[0] == 202, 2.0)
    assert_eq(E.request("POST", "/v1/events?key=" + old, event(), headers={"Origin": shop},
                        key=None)[0], 202, "old publishable key in grace")
    assert_eq(E.request("POST", path, event(), headers={"Origin": "https://evil.example.com"},
                        key=None)[0], 403, "origins kept")


def test_rotate_read_key_keeps_kind():
    old = new_key("rotread", "--read", "--event-types", "page_view")
    new = E.weir("key", "rotate", "rotread", "--grace", "1h").stdout.strip()
    assert_true(new.startswith("weir_rk_") and len(new) == 51, "still a read key: " + new[:8])
    assert_eq(E.sql("SELECT kind, array_to_string(event_types, ',') FROM api_keys WHERE name = 'rotread'"),
              "read|page_view", "kind and scopes kept")
    # the ingest endpoints know both secrets as the read key they are, and refuse them (403)
    wait_until("new read secret known (403, not 401)", lambda: status(new) == 403, 2.0)
    assert_eq(status(old), 403, "old read secret in grace")
    assert_true(" read " in list_line("rotread"), "list shows the kind: " + list_line("rotread"))


def test_rotate_revoked_refused():
    new_key("rotrev")
    E.weir("key", "revoke", "rotrev")
    r = E.weir("key", "rotate", "rotrev", check=False)
    assert_eq((r.returncode, r.stdout), (2, ""), "revoked key: exit 2, no secret")
    assert_true("revoked" in r.stderr, r.stderr)


# --- update --------------------------------------------------------------------------------

def test_update_scopes_and_rate_live():
    s = new_key("upd", "--event-types", "page_view", "--rate", "1000")
    wait_until("the key is live", lambda: status(s) == 202, 2.0)
    assert_eq(status(s, SIGNUP), 403, "signup out of scope")
    t0 = time.time()
    E.weir("key", "update", "upd", "--event-types", "page_view,signup")
    wait_until("a new scope applied live", lambda: status(s, SIGNUP) == 202, 2.0)
    print(f"  scope live after {(time.time() - t0) * 1000:.0f} ms")
    t0 = time.time()
    E.weir("key", "update", "upd", "--rate", "3")
    wait_until("a new rate applied live",
               lambda: post_with(s, event())[1].get("ratelimit-limit") == "3", 2.0)
    print(f"  rate live after {(time.time() - t0) * 1000:.0f} ms")
    # drain the bucket: at 3/s a batch of 5 leaves it in debt, the next request waits
    wait_until("bucket has a token", lambda: status(s, [event()] * 5) == 202, 3.0)
    assert_eq(status(s), 429, "over the new rate")
    E.weir("key", "update", "upd", "--rate", "0", "--event-types", "")
    wait_until("unlimited again", lambda: "ratelimit-limit" not in post_with(s, event())[1], 2.0)
    assert_eq(status(s, SIGNUP), 202, "every type")
    assert_eq(E.sql("SELECT coalesce(rate_limit, 0), cardinality(event_types) FROM api_keys"
                    " WHERE name = 'upd'"), "0|0", "stored")


def test_update_publishable():
    new_key("updpub", "--publishable", "--origins", "https://a.example.com")
    E.weir("key", "update", "updpub", "--origins", "https://B.example.com,https://*.c.example.com",
           "--ip-rate", "7")
    assert_eq(E.sql("SELECT array_to_string(origins, ','), ip_rate FROM api_keys WHERE name = 'updpub'"),
              "https://b.example.com,https://*.c.example.com|7", "origins normalised, ip rate")


# --- expiry --------------------------------------------------------------------------------

def test_expires():
    s = new_key("exp", "--expires", "3s")
    t0 = time.time()
    wait_until("accepted before its expiry", lambda: status(s) == 202, 2.0)
    wait_until("an expired key refused", lambda: status(s) == 401, 8.0)
    took = time.time() - t0
    assert_true(took >= 1.5, f"refused after {took:.2f} s, before its 3 s")
    assert_true(" expired " in list_line("exp"), "list shows expired: " + list_line("exp"))
    E.weir("key", "update", "exp", "--expires", "1h")
    wait_until("a key given a later expiry works again", lambda: status(s) == 202, 2.0)
    E.weir("key", "update", "exp", "--expires", "never")
    assert_true(" never " in list_line("exp"), "never: " + list_line("exp"))
    new_key("expdate", "--expires", "2099-01-01T00:00:00+01:00")
    assert_true("2098-12-31T23:00:00Z" in list_line("expdate"), "RFC 3339 with offset")
    new_key("expday", "--expires", "2099-01-01")
    assert_true("2099-01-01T00:00:00Z" in list_line("expday"), "a date alone is midnight UTC")


def test_expires_in_the_past_refused():
    for when in ["2020-01-01T00:00:00Z", "0s"]:
        r = E.weir("key", "create", "--name", "exp-past", "--expires", when, check=False)
        assert_eq((r.returncode, r.stdout), (2, ""), "past expiry " + when + ": " + r.stderr)
        assert_true("has passed" in r.stderr, r.stderr)
    assert_eq(E.sql("SELECT count(*) FROM api_keys WHERE name = 'exp-past'"), "0", "nothing created")
    new_key("exp-upd")
    r = E.weir("key", "update", "exp-upd", "--expires", "2001-01-01", check=False)
    assert_eq(r.returncode, 2, "update to a past expiry")


# --- bad input -----------------------------------------------------------------------------

def test_bad_input():
    new_key("bad-in")
    cases = [
        (["rotate", "nosuchkey"], "no key named 'nosuchkey'"),
        (["update", "nosuchkey", "--rate", "5"], "no key named 'nosuchkey'"),
        (["rotate", "bad-in", "--grace", "24x"], "--grace"),
        (["rotate", "bad-in", "--grace", "-1s"], "--grace"),
        (["rotate", "bad-in", "--grace", "400d"], "--grace"),
        (["rotate", "bad-in", "--grace", ""], "--grace"),
        (["create", "--name", "bad-exp", "--expires", "tomorrow"], "--expires"),
        (["create", "--name", "bad-exp", "--expires", "2027-13-01T00:00:00Z"], "--expires"),
        (["create", "--name", "bad-exp", "--expires", "2027-01-01T00:00:00"], "--expires"),
        (["update", "bad-in", "--expires", "soon"], "--expires"),
        (["update", "bad-in"], "nothing to change"),
        (["update", "bad-in", "--rate", "-1"], "--rate"),
        (["update", "bad-in", "--rate", "x"], "--rate"),
        (["update", "bad-in", "--event-types", "Bad-Type"], "--event-types"),
        (["update", "bad-in", "--origins", "https://a.example.com"], "--origins"),
        (["update", "bad-in", "--ip-rate", "3"], "--ip-rate"),
        (["rotate"], "usage"),
        (["rotate", "a", "b"], "usage"),
    ]
    for args, want in cases:
        r = E.weir("key", *args, check=False)
        assert_eq(r.returncode, 2, f"weir key {' '.join(args)}: {r.stderr}")
        assert_eq(r.stdout, "", f"weir key {' '.join(args)}: nothing on stdout")
        lines = r.stderr.strip().splitlines()
        assert_true(len(lines) == 1 and want in lines[0], f"weir key {' '.join(args)}: one line naming "
                    f"{want!r}: {r.stderr!r}")
    assert_eq(E.sql("SELECT count(*) FROM api_keys WHERE name = 'bad-exp'"), "0", "nothing created")


# --- one key's rate across gateways ----------------------------------------------------------

LIVE_ROWS = "SELECT count(*) FROM gateways WHERE last_seen > now() - interval '6 seconds'"


def live_count(port):
    _, _, _, data = E.request("GET", "/metrics", key=None, port=port)
    m = re.search(rb"^weir_gateways_live (\d+)$", data, re.M)
    return int(m.group(1)) if m else None


def load(secret, ports, events_per_s, seconds, warmup, batch=10):
    """Offers events_per_s to each port (batches of `batch`, paced) for warmup + seconds;
    returns the events accepted per second during the last `seconds`."""
    t_start = time.time()
    t_from, t_to = t_start + warmup, t_start + warmup + seconds
    accepted = [0] * len(ports)
    errors = []
    body = json.dumps([event()] * batch).encode()

    def run(i, port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        interval = batch / events_per_s
        nxt = time.time()
        while True:
            now = time.time()
            if now >= t_to:
                break
            try:
                conn.request("POST", "/v1/events", body=body, headers={
                    "Authorization": "Bearer " + secret, "Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            t = time.time()
            if r.status == 202 and t_from <= t < t_to:
                accepted[i] += json.loads(data)["accepted"]
            elif r.status not in (202, 429):
                errors.append(f"status {r.status}: {data[:200]!r}")
            nxt += interval
            time.sleep(max(0.0, nxt - time.time()))
        conn.close()

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(ports)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_true(not errors, f"load errors: {errors[:5]}")
    return sum(accepted) / seconds, [a / seconds for a in accepted]


def test_zz_rate_shared_by_three_gateways():
    # last: it starts and stops gateways of its own on E's database
    s = new_key("shared", "--rate", "300")
    extras = [Extra("gw2"), Extra("gw3")]
    try:
        for x in extras:
            x.wait_listening(30)
        ports = [E.port] + [x.port for x in extras]
        for p in ports:
            wait_until(f"gateway on {p} counts 3 live", lambda p=p: live_count(p) == 3, 10.0)
        assert_eq(E.sql(LIVE_ROWS), "3", "three live rows")
        # each gateway is offered 250 events/s, more than its 100/s share
        total, per = load(s, ports, 250, seconds=10, warmup=2)
        print(f"  3 gateways: {total:.0f} events/s accepted in total ({', '.join('%.0f' % x for x in per)})")
        assert_true(270 <= total <= 330, f"3 gateways hold the key to 300/s +-10%: {total:.0f}")
        t0 = time.time()
        for x in extras:
            assert_eq(x.stop(), 0, "drained")
        wait_until("the last gateway counts 1 live", lambda: live_count(E.port) == 1, 10.0)
        print(f"  live count 1 after {time.time() - t0:.2f} s")
        assert_eq(E.sql(LIVE_ROWS), "1", "rows removed on drain")
        assert_eq(E.sql("SELECT count(*) FROM gateways WHERE hostname = '' OR pid <= 0"), "0",
                  "host name and pid recorded")
        total, _ = load(s, [E.port], 500, seconds=10, warmup=2)
        print(f"  1 gateway: {total:.0f} events/s accepted")
        assert_true(270 <= total <= 330, f"one gateway alone gives the key 300/s +-10%: {total:.0f}")
    finally:
        for x in extras:
            if x.proc.poll() is None:
                x.proc.kill()
                x.proc.wait()


def test_zz_crashed_gateway_stops_counting():
    # a gateway killed without draining keeps its row; it stops counting after 3 heartbeats
    x = Extra("gw-crash")
    try:
        x.wait_listening(30)
        wait_until("2 live", lambda: live_count(E.port) == 2, 10.0)
        t0 = time.time()
        x.proc.kill()
        x.proc.wait()
        wait_until("the killed gateway no longer counted", lambda: live_count(E.port) == 1, 15.0)
        took = time.time() - t0
        print(f"  a killed gateway stopped counting after {took:.1f} s")
        assert_true(took >= 3.0, f"dropped after {took:.1f} s: sooner than its heartbeats allow")
    finally:
        if x.proc.poll() is None:
            x.proc.kill()
            x.proc.wait()


def main():
    if not tg.WEIR or not tg.PGFIXTURE or not tg.SCHEMAS:
        print("error: WEIR, WEIR_PGFIXTURE and WEIR_SCHEMAS must be set", file=sys.stderr)
        return 1
    tests = sorted((n, f) for n, f in globals().items() if n.startswith("test_") and callable(f))
    only = os.environ.get("KEYS_TEST_ONLY")
    if only:
        tests = [(n, f) for n, f in tests if only in n]
    return tg.run_suite(tests, tg.setup)


if __name__ == "__main__":
    sys.exit(main())
