#!/usr/bin/env python3
"""Hostile clients against the real gateway, on loopback only.

The attacker connects from 127.0.0.1; a well-behaved client connects from 127.0.0.2 (a
second loopback address) and keeps posting valid events during each attack and after it.
Every event the good client got a 202 for must be in the raw zone once the gateway has
drained. The gateway runs with `ulimit -n 256` (soft and hard).

Needs WEIR, WEIR_TEST_PG (the shared Postgres fixture) and WEIR_SCHEMAS."""
import gzip
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

WEIR = os.environ.get("WEIR")
BASE_PG = os.environ.get("WEIR_TEST_PG")
SCHEMAS = os.environ.get("WEIR_SCHEMAS")
# WEIR_TEST_EVENT_LOOP=poll: the same attacks against `--event-loop poll` (hostile_clients_poll).
LOOP_ARGS = ["--event-loop", os.environ["WEIR_TEST_EVENT_LOOP"]] if os.environ.get("WEIR_TEST_EVENT_LOOP") else []
PGBIN = os.environ.get("WEIR_PG_BINDIR") or sorted(
    [os.path.join("/usr/lib/postgresql", v, "bin") for v in os.listdir("/usr/lib/postgresql")]
    if os.path.isdir("/usr/lib/postgresql") else [""])[-1]

ATTACKER = "127.0.0.1"
GOOD = "127.0.0.2"
HEADER_TIMEOUT_S = 2
PAGE_VIEW = {"url": "https://example.com/pricing", "path": "/pricing", "anonymous_id": "anon-123456"}


def psql(db, statement):
    r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                        "-d", db, "-c", statement], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql: {r.stderr}")
    return r.stdout.strip()


class Gateway:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="weir-hostile-", dir="/tmp")
        self.lake = os.path.join(self.tmp, "lake")
        self.spool = os.path.join(self.tmp, "spool")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_") and not k.startswith("PG")}
        self.env["WEIR_LOG_LEVEL"] = "info"
        self.db = None
        self.keys = {}
        self.proc = None
        self.port = None

    def weir(self, *args):
        r = subprocess.run([WEIR, *args], capture_output=True, text=True, timeout=60,
                           env=dict(self.env, WEIR_DATABASE_URL=self.db))
        if r.returncode != 0:
            raise RuntimeError(f"weir {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r.stdout.strip()

    def setup_db(self):
        psql(BASE_PG, "DROP DATABASE IF EXISTS t_hostile")
        psql(BASE_PG, "CREATE DATABASE t_hostile")
        self.db = " ".join([p for p in BASE_PG.split() if not p.startswith("dbname=")] + ["dbname=t_hostile"])
        self.weir("migrate")
        self.weir("schema", "add", "page_view", os.path.join(SCHEMAS, "page_view.v1.json"))
        # A schema whose cost an attacker controls without limits in a naive validator:
        # uniqueItems over objects (quadratic pairwise comparison).
        tags = os.path.join(self.tmp, "tag_set.json")
        with open(tags, "w") as f:
            json.dump({"type": "object", "properties": {
                "items": {"type": "array", "uniqueItems": True}}}, f)
        self.weir("schema", "add", "tag_set", tags)
        for name, args in [("good", []), ("attacker", []), ("limited", ["--rate", "1"])]:
            self.keys[name] = self.weir("key", "create", "--name", name, *args)

    def start(self, *extra):
        ready = os.path.join(self.tmp, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.log = open(os.path.join(self.tmp, "gateway.log"), "ab")

        def low_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

        self.proc = subprocess.Popen(
            [WEIR, "gateway", "--listen", "127.0.0.1:0", "--spool-dir", self.spool,
             "--lake", "file://" + self.lake, "--flush-interval", "1s", "--threads", "2",
             "--header-timeout", f"{HEADER_TIMEOUT_S}s", "--min-body-rate", "1KiB",
             "--connection-timeout", "30s", *LOOP_ARGS, *extra],
            env=dict(self.env, WEIR_DATABASE_URL=self.db, WEIR_READY_FILE=ready),
            stdout=self.log, stderr=self.log, preexec_fn=low_fd_limit)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited at start: " + self.logtext())
            if os.path.exists(ready) and open(ready).read().strip():
                self.port = int(open(ready).read().strip())
                return
            time.sleep(0.05)
        raise RuntimeError("gateway did not start: " + self.logtext())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def logtext(self):
        try:
            return open(os.path.join(self.tmp, "gateway.log"), errors="replace").read()[-6000:]
        except OSError:
            return ""

    def connect(self, source, timeout=5):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect(("127.0.0.1", self.port))
        return s

    def post(self, body, key, source=GOOD, ctype="application/json", timeout=5):
        """One POST /v1/events on a fresh connection; returns (status, body bytes)."""
        s = self.connect(source, timeout)
        try:
            head = ("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                    % (self.keys[key], ctype, len(body)))
            s.sendall(head.encode() + body)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        finally:
            s.close()
        line = out.split(b"\r\n", 1)[0].split()
        status = int(line[1]) if len(line) > 1 else 0
        return status, out.split(b"\r\n\r\n", 1)[-1]


G = Gateway()
ACKED = []  # event ids the good client got a 202 for


def good_event():
    """Posts one valid event from the good client; returns the status (the id is kept
    when acknowledged)."""
    eid = "good-" + uuid.uuid4().hex
    body = json.dumps({"event_type": "page_view", "event_id": eid, "payload": PAGE_VIEW}).encode()
    try:
        st, _ = G.post(body, "good")
    except OSError:
        return 0
    if st == 202:
        ACKED.append(eid)
    return st


class GoodClient(threading.Thread):
    """Posts valid events from 127.0.0.2 in a loop until stopped; records every status
    and the slowest answer."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop_flag = threading.Event()
        self.statuses = []
        self.slowest = 0.0

    def run(self):
        while not self.stop_flag.is_set():
            t0 = time.time()
            self.statuses.append(good_event())
            self.slowest = max(self.slowest, time.time() - t0)
            self.stop_flag.wait(0.05)

    def finish(self):
        self.stop_flag.set()
        self.join(timeout=30)
        return self.statuses


def assert_true(c, what):
    if not c:
        raise AssertionError(what)


def assert_good_served(client, what):
    st = client.finish()
    assert_true(len(st) >= 1, f"{what}: the good client made no request during the attack")
    assert_true(all(s == 202 for s in st), f"{what}: the good client got {sorted(set(st))}")
    assert_true(client.slowest < 3, f"{what}: slowest good answer {client.slowest:.2f}s")
    for _ in range(3):
        assert_true(good_event() == 202, f"{what}: 202 after the attack")


def wait_closed(s, seconds):
    """True when the peer closes s (EOF or reset) within seconds."""
    s.settimeout(seconds)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


# --- the attacks ----------------------------------------------------------------------

def test_descriptor_budget_logged():
    log = G.logtext()
    assert_true("max-connections" in log and "descriptor limit 256" in log,
                "the start-up log gives the connection budget: " + log[-1500:])


def test_idle_connection_flood():
    client = GoodClient()
    client.start()
    held = []
    try:
        for _ in range(1000):
            try:
                held.append(G.connect(ATTACKER, timeout=2))
            except OSError:
                pass  # refused or reset: the gateway protects itself
        # Held for 10 s while the good client, on another address, keeps getting 202.
        time.sleep(10)
        assert_true(good_event() == 202, "202 for another address during the flood")
    finally:
        for s in held:
            s.close()
    assert_good_served(client, "idle flood")
    t0 = time.time()
    assert_true(good_event() == 202, "202 after the flood")
    st, _ = G.post(json.dumps({"event_type": "page_view", "payload": PAGE_VIEW}).encode(), "attacker",
                   source=ATTACKER)
    assert_true(st == 202, f"the attacker's address is served again once it lets go ({st})")
    assert_true(time.time() - t0 < 2, "answered at once after the flood")


def test_slowloris_heads():
    client = GoodClient()
    client.start()
    slow = []
    try:
        for _ in range(40):
            s = G.connect(ATTACKER)
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        # Drip a header byte every 0.3 s: an idle timeout alone never fires.
        t0 = time.time()
        open_ = list(slow)
        while open_ and time.time() - t0 < HEADER_TIMEOUT_S + 5:
            still = []
            for s in open_:
                try:
                    s.sendall(b"X")
                    still.append(s)
                except OSError:
                    pass
            open_ = still
            time.sleep(0.3)
        cut = sum(1 for s in open_ if wait_closed(s, 0.5)) + (len(slow) - len(open_))
        assert_true(cut == len(slow), f"every dripping head is cut ({cut} of {len(slow)})")
        assert_true(time.time() - t0 < HEADER_TIMEOUT_S + 4, "cut near the header timeout")
    finally:
        for s in slow:
            s.close()
    assert_good_served(client, "slowloris heads")
    assert_true(good_event() == 202, "202 after")


def test_slow_bodies():
    client = GoodClient()
    client.start()
    slow = []
    try:
        for _ in range(20):
            s = G.connect(ATTACKER)
            s.sendall(("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                       % G.keys["attacker"]).encode())
            slow.append(s)
        t0 = time.time()
        open_ = list(slow)
        while open_ and time.time() - t0 < HEADER_TIMEOUT_S + 6:
            still = []
            for s in open_:
                try:
                    s.sendall(b" " * 10)  # 10 bytes every 0.5 s: far below 1 KiB/s
                    still.append(s)
                except OSError:
                    pass
            open_ = still
            time.sleep(0.5)
        cut = sum(1 for s in open_ if wait_closed(s, 0.5)) + (len(slow) - len(open_))
        assert_true(cut == len(slow), f"every slow body is cut ({cut} of {len(slow)})")
    finally:
        for s in slow:
            s.close()
    assert_good_served(client, "slow bodies")


def metric(name):
    s = G.connect(GOOD)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        out += c
    s.close()
    for line in out.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_cuts_are_counted():
    assert_true(metric('weir_http_connections_closed_total{reason="per_ip_limit"}') > 0, "per_ip_limit")
    assert_true(metric('weir_http_connections_closed_total{reason="header_timeout"}') > 0, "header_timeout")
    assert_true(metric('weir_http_connections_closed_total{reason="slow_body"}') > 0, "slow_body")


def count_rejected(source):
    n = 0
    for root, _, files in os.walk(os.path.join(G.lake, "rejected")):
        for f in files:
            if f.endswith(".gz"):
                with gzip.open(os.path.join(root, f), "rt") as fh:
                    for line in fh:
                        if json.loads(line).get("source") == source:
                            n += 1
    return n


FLOOD = {}


def test_non_json_flood_under_rate_limit():
    client = GoodClient()
    client.start()
    garbage = b"x" * (100 * 1000)
    statuses = []
    lock = threading.Lock()

    def sender():
        for _ in range(10):
            try:
                st, _ = G.post(garbage, "limited", source=ATTACKER, timeout=10)
            except OSError:
                st = 0
            with lock:
                statuses.append(st)

    t0 = time.time()
    threads = [threading.Thread(target=sender) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    elapsed = time.time() - t0
    stored = statuses.count(400)
    print(f"   non-JSON flood: 100 bodies of 100 KB in {elapsed:.2f}s: {stored} stored (400), "
          f"{statuses.count(429)} refused (429), others {[s for s in statuses if s not in (400, 429)]}")
    assert_good_served(client, "non-JSON flood")
    assert_true(len(statuses) == 100 and all(s in (400, 429) for s in statuses), "only 400 or 429")
    # 1 event/s: the full bucket, then one token per second of the flood.
    assert_true(stored <= 1 + int(elapsed) + (1 if elapsed % 1 else 0),
                f"{stored} stored in {elapsed:.2f}s at 1 event/s")
    if elapsed <= 1.0:
        assert_true(stored <= 2, "at most 2 stored in one second")
    FLOOD["stored"] = stored


def unique_items_batch(crafted):
    """About 1 MiB: 15 events of ~62 KB, each an array of distinct objects. Crafted: the
    same eight member names with values that are permutations of 0..7, so every pair is
    equal up to its last compared member and an order-free hash without a key collides;
    random: distinct random single digits (the same size)."""
    import itertools
    import random
    rnd = random.Random(7)
    events = []
    perms = itertools.permutations(range(8))
    for e in range(15):
        items = []
        seen = set()
        for _ in range(1200):
            if crafted:
                p = next(perms)
                items.append(dict(zip("abcdefgh", p)))
            else:
                while True:  # distinct single-digit values: the same size as crafted
                    t = tuple(rnd.randrange(10) for _ in range(8))
                    if t not in seen:
                        seen.add(t)
                        break
                items.append(dict(zip("abcdefgh", t)))
        events.append({"event_type": "tag_set", "event_id": f"tags-{crafted}-{e}-{uuid.uuid4().hex}",
                       "payload": {"items": items}})
    return json.dumps(events, separators=(",", ":")).encode()


def test_crafted_unique_items():
    crafted, rand = unique_items_batch(True), unique_items_batch(False)
    assert_true(len(crafted) < (1 << 20) and len(rand) < (1 << 20), "both bodies fit --max-body")
    client = GoodClient()
    client.start()
    answers = []
    lock = threading.Lock()

    def sender(body):
        for _ in range(5):
            t0 = time.time()
            try:
                st, _ = G.post(body, "attacker", source=ATTACKER, timeout=30)
            except OSError:
                st = 0
            with lock:
                answers.append((st, time.time() - t0))

    threads = [threading.Thread(target=sender, args=(crafted,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert_good_served(client, "crafted uniqueItems")
    sts = [a[0] for a in answers]
    slowest = max(a[1] for a in answers)
    print(f"   crafted uniqueItems: {len(answers)} requests of {len(crafted)} B, statuses "
          f"{sorted(set(sts))}, slowest {slowest:.2f}s")
    # Every item is distinct: the crafted batch is valid and stored, like the random one.
    assert_true(sts == [202] * 20, f"crafted batches answered {sts}")
    st, _ = G.post(rand, "attacker", source=ATTACKER, timeout=30)
    assert_true(st == 202, f"the random batch answered {st}")


def test_trusted_proxy_is_exempt():
    """Restarted with a cap of 8 per address and 127.0.0.1 as a trusted proxy: 20
    connections from the proxy are all served, the 9th from 127.0.0.2 is not."""
    rc = G.stop()
    assert_true(rc == 0, f"drained and exited 0 before the restart (got {rc})")
    G.start("--max-connections-per-ip", "8", "--trusted-proxies", "127.0.0.1/32, ::1")

    def open_and_ask(source, n):
        conns, served = [], 0
        for _ in range(n):
            s = G.connect(source)
            conns.append(s)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                served += s.recv(100).startswith(b"HTTP/1.1 200")
            except OSError:
                pass
        return conns, served

    proxy, served_proxy = open_and_ask(ATTACKER, 20)
    other, served_other = open_and_ask(GOOD, 12)
    for s in proxy + other:
        s.close()
    assert_true(served_proxy == 20, f"every connection of the trusted proxy is served ({served_proxy})")
    assert_true(served_other == 8, f"8 connections of an untrusted address are served ({served_other})")
    # The gateway sees the closes asynchronously: wait for the slots to come back.
    deadline = time.time() + 3
    while good_event() != 202:
        assert_true(time.time() < deadline, "202 once they are gone")
        time.sleep(0.05)


# --- the run ----------------------------------------------------------------------------

def check_nothing_lost():
    rc = G.stop()
    assert_true(rc == 0, f"the gateway drained and exited 0 (got {rc}): {G.logtext()[-2000:]}")
    found = set()
    for root, _, files in os.walk(os.path.join(G.lake, "raw")):
        for f in files:
            if f.endswith(".gz"):
                with gzip.open(os.path.join(root, f), "rt") as fh:
                    for line in fh:
                        found.add(json.loads(line)["event_id"])
    missing = [e for e in ACKED if e not in found]
    assert_true(not missing, f"{len(missing)} of {len(ACKED)} acknowledged events missing from the lake")
    print(f"   nothing lost: all {len(ACKED)} acknowledged events are in the raw zone")
    if "stored" in FLOOD:
        n = count_rejected("limited")
        assert_true(n == FLOOD["stored"], f"rejected zone holds {n} lines of the flood, "
                    f"{FLOOD['stored']} were answered 400")


def main():
    if not WEIR or not BASE_PG or not SCHEMAS:
        print("WEIR, WEIR_TEST_PG and WEIR_SCHEMAS must be set", file=sys.stderr)
        return 77
    try:
        socket.socket().bind((GOOD, 0))
    except OSError:
        print(f"cannot bind {GOOD}: this machine has no second loopback address", file=sys.stderr)
        return 77
    # The attacker's 1,000 sockets live in this process.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    try:
        G.setup_db()
        G.start()
        for name, fn in tests:
            if G.proc is None or G.proc.poll() is not None:
                print(f"FAIL {name}: the gateway is not running: {G.logtext()[-2000:]}")
                failed += 1
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print(f"ok   {name} ({time.time() - t0:.2f}s)")
            except Exception:
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}")
        try:
            check_nothing_lost()
            passed += 1
            print("ok   nothing_acknowledged_is_lost")
        except Exception:
            failed += 1
            print(f"FAIL nothing_acknowledged_is_lost\n{traceback.format_exc()}")
    except Exception:
        failed += 1
        print(f"FAIL setup\n{traceback.format_exc()}\n{G.logtext()}")
    finally:
        if G.proc:
            G.stop()
        try:
            psql(BASE_PG, "DROP DATABASE IF EXISTS t_hostile")
        except Exception as e:
            print(f"cleanup: {e}")
        if failed == 0:
            shutil.rmtree(G.tmp, ignore_errors=True)
        else:
            print(f"kept {G.tmp} for inspection\n{G.logtext()[-3000:]}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
