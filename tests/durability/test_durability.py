#!/usr/bin/env python3
"""End-to-end durability tests of the real `weir gateway` (shared/spec/http-api.md,
Durability): a 202 means the events reach the raw zone exactly once, whatever happens
to the process, the spool disk or the lake. A database of its own on the tests' shared
Postgres (the ctest fixture `pg`; a private cluster when run by hand), a file:// lake or
the test radosgw (s3://), client threads posting batches with unique event_ids, and the
lake read back at the end: file:// through the project's own store code (dur_lake),
s3:// through an independent client (s3cmd) and compared with what dur_lake reads.

Usage: test_durability.py SCENARIO STORE
  SCENARIO: crash | outage | diskfull | corrupt | drain | many
  STORE:    file | s3   (s3 reads the S3_* lines of $WEIR_S3_ENV_FILE)
Env: WEIR, WEIR_PGFIXTURE, WEIR_SCHEMAS, WEIR_DUR_LAKE (paths of the binaries);
     WEIR_TEST_PG (the fixture cluster's conninfo; unset: a private cluster);
     WEIR_CRASH_ROUNDS (kill -9 rounds of `crash`, default 20; 200 for the soak);
     WEIR_CRASH_SEED (the random kill moments; printed by each run);
     WEIR_DUR_KEEP=1 keeps the temporary folder.
Exit 0 pass, 1 fail, 77 skip. Python 3 standard library only."""

import gzip
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib

WEIR = os.environ.get("WEIR")
PGFIXTURE = os.environ.get("WEIR_PGFIXTURE")
SCHEMAS = os.environ.get("WEIR_SCHEMAS")
# WEIR_TEST_EVENT_LOOP=poll: the gateways run `--event-loop poll` (durability_*_poll).
LOOP_ARGS = ["--event-loop", os.environ["WEIR_TEST_EVENT_LOOP"]] if os.environ.get("WEIR_TEST_EVENT_LOOP") else []
DUR_LAKE = os.environ.get("WEIR_DUR_LAKE")
S3_ENV_FILE = os.environ.get("WEIR_S3_ENV_FILE")
S3_SCRIPT = os.environ.get("WEIR_S3_SCRIPT")
TEST_PG = os.environ.get("WEIR_TEST_PG")
PGBIN = os.environ.get("WEIR_PG_BINDIR") or sorted(
    [os.path.join("/usr/lib/postgresql", v, "bin") for v in os.listdir("/usr/lib/postgresql")]
    if os.path.isdir("/usr/lib/postgresql") else [""])[-1]

PAGE_VIEW = {"url": "https://example.com/pricing", "path": "/pricing", "anonymous_id": "anon-123456"}
FILE_RE = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.jsonl\.gz$")


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- the world: Postgres, the lake, gateways ------------------------------------------

class World:
    def __init__(self, store):
        self.store = store
        self.tmp = tempfile.mkdtemp(prefix="weir-dur-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        self.pgdir = os.path.join(self.tmp, "pg")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("WEIR_") and not k.startswith("PG") and not k.startswith("AWS_")}
        self.env["WEIR_LOG_LEVEL"] = "warn"
        self.key = None
        self.pg_started = False
        self.dbname = None
        self.s3 = {}
        self.mounts = []
        self.gateways = []
        if store == "s3":
            self.load_s3()
            self.bucket = "weir-dur-%d-%d" % (os.getpid(), int(time.time()) % 100000)
        self.lakes = 0

    def load_s3(self):
        if not S3_ENV_FILE or not os.path.exists(S3_ENV_FILE):
            why = ""
            if S3_ENV_FILE:
                u = os.path.join(os.path.dirname(S3_ENV_FILE), "unavailable")
                why = open(u).read().strip() if os.path.exists(u) else "no S3 server env file"
            raise Skip("no test radosgw: " + (why or "WEIR_S3_ENV_FILE not set"))
        for line in open(S3_ENV_FILE):
            k, _, v = line.strip().partition("=")
            if k.startswith("S3_"):
                self.s3[k] = v
        self.env.update({"AWS_ACCESS_KEY_ID": self.s3["S3_ACCESS_KEY"],
                         "AWS_SECRET_ACCESS_KEY": self.s3["S3_SECRET_KEY"],
                         "AWS_REGION": self.s3.get("S3_REGION", "us-east-1")})
        if not shutil.which("s3cmd"):
            raise Skip("s3cmd is not installed (scripts/deps.sh --test): no independent S3 reader")
        # s3cmd, path-style (host_bucket without %(bucket)s), SigV4, plain HTTP on loopback
        hostport = self.s3["S3_ENDPOINT"].split("://", 1)[-1].rstrip("/")
        self.s3cfg = os.path.join(self.tmp, "s3cmd.cfg")
        with open(self.s3cfg, "w") as f:
            f.write(f"[default]\naccess_key = {self.s3['S3_ACCESS_KEY']}\n"
                    f"secret_key = {self.s3['S3_SECRET_KEY']}\nhost_base = {hostport}\n"
                    f"host_bucket = {hostport}\nuse_https = False\nsignature_v2 = False\n"
                    f"bucket_location = {self.s3.get('S3_REGION', 'us-east-1')}\n")

    def s3cmd(self, *args):
        r = subprocess.run(["s3cmd", "--config", self.s3cfg, "--no-progress", *args],
                           capture_output=True, text=True, env=self.env, timeout=600)
        if r.returncode != 0:
            raise Fail(f"s3cmd {' '.join(args)}: exit {r.returncode}: {r.stderr[-2000:]}")
        return r.stdout

    def s3cmd_fetch(self, url, out):
        """Lists url's objects and downloads them into out with s3cmd, a client that shares
        no code with weir: [(key below url, listed size, size read)]."""
        prefix = url.rstrip("/") + "/"
        rows = []
        for line in self.s3cmd("ls", "--recursive", prefix).splitlines():
            parts = line.split(None, 3)  # date, time, size, s3://bucket/key
            if len(parts) != 4 or not parts[3].startswith(prefix):
                raise Fail(f"s3cmd ls: unexpected line {line!r}")
            rows.append((parts[3][len(prefix):], parts[2]))
        if rows:
            self.s3cmd("get", "--recursive", prefix, out + "/")
        listing = []
        for key, size in rows:
            path = os.path.join(out, key)
            got = os.path.getsize(path) if os.path.exists(path) else -1
            listing.append((key, size, str(got)))
        return listing

    def new_lake(self, name):
        """A fresh lake URL for one scenario step."""
        if self.store == "file":
            return "file://" + os.path.join(self.tmp, "lake-" + name)
        if self.lakes == 0:
            self.dur_lake("mkbucket", f"s3://{self.bucket}")
        self.lakes += 1
        return f"s3://{self.bucket}/{name}"

    def dur_lake(self, *args):
        env = dict(self.env, S3_ENDPOINT=self.s3.get("S3_ENDPOINT", ""))
        r = subprocess.run([DUR_LAKE, *args], capture_output=True, text=True, env=env, timeout=600)
        if r.returncode != 0:
            raise Fail(f"dur_lake {' '.join(args)}: exit {r.returncode}: {r.stderr[-2000:]}")
        return r.stdout

    def pg(self, cmd):
        r = subprocess.run([PGFIXTURE, cmd, self.pgdir], capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(f"pgfixture {cmd}: {r.stdout} {r.stderr}")

    def admin_sql(self, statement):
        """A statement on the shared cluster's own database (to create and drop ours)."""
        r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "-d", TEST_PG, "-c", statement], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"psql {statement}: {r.stderr}")

    @property
    def db(self):
        if self.dbname:
            return re.sub(r"\bdbname=\S+", "dbname=" + self.dbname, TEST_PG)
        return f"host={self.pgdir}/run user=weir dbname=weir"

    def weir(self, *args):
        env = dict(self.env, WEIR_DATABASE_URL=self.db)
        r = subprocess.run([WEIR, *args], capture_output=True, text=True, env=env, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"weir {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r

    def setup(self, name):
        t0 = time.time()
        if TEST_PG:
            # one database of our own on the tests' shared cluster (ctest fixture `pg`)
            self.dbname = f"t_dur_{name}_{self.store}_{os.getpid()}"
            self.admin_sql(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
            self.admin_sql(f"CREATE DATABASE {self.dbname}")
        else:
            self.pg("start")
            self.pg_started = True
        self.weir("migrate")
        self.weir("schema", "add", "page_view", os.path.join(SCHEMAS, "page_view.v1.json"), "--version", "1")
        self.key = self.weir("key", "create", "--name", "dur").stdout.strip()
        log(f"postgres ready in {time.time() - t0:.1f}s ({self.tmp})")

    def mount_tmpfs(self, path, size):
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip(f"cannot mount a tmpfs at {path} ({r.stderr.strip()}); disk-full test needs root")
        self.mounts.append(path)

    def cleanup(self, keep):
        for g in self.gateways:
            if g.proc and g.proc.poll() is None:
                g.proc.kill()
                g.proc.wait()
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        try:
            if self.pg_started:
                self.pg("stop")
            if self.dbname:
                self.admin_sql(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")
        except Exception as e:  # report, keep the verdict
            log(f"cleanup: {e}")
        if keep:
            log(f"kept {self.tmp} for inspection")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Gateway:
    """One `weir gateway` process on one spool dir; restartable."""

    def __init__(self, world, name, spool, lake, *extra, flush_interval="300ms", flush_bytes="64KiB"):
        self.w = world
        self.name = name
        self.spool = spool
        self.lake = lake
        self.extra = list(extra)
        self.flush = ["--flush-interval", flush_interval, "--flush-bytes", flush_bytes]
        self.proc = None
        self.port = None
        self.starts = 0
        self.logpath = os.path.join(world.tmp, f"gateway-{name}.log")
        world.gateways.append(self)

    def spawn(self):
        self.ready = os.path.join(self.w.tmp, f"ready-{self.name}")
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        e = dict(self.w.env, WEIR_DATABASE_URL=self.w.db, WEIR_READY_FILE=self.ready)
        args = [WEIR, "gateway", "--listen", "127.0.0.1:0", "--spool-dir", self.spool, "--lake", self.lake,
                *self.flush, "--access-log", "off", "--connection-timeout", "5s", "--threads", "2",
                *LOOP_ARGS]
        if self.w.store == "s3":
            args += ["--s3-endpoint", self.w.s3["S3_ENDPOINT"], "--s3-addressing", "path"]
        logf = open(self.logpath, "ab")
        logf.write(f"--- start {self.starts} at {time.time():.3f}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(args + self.extra, env=e, stdout=logf, stderr=logf)
        logf.close()
        self.starts += 1
        self.port = None

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Fail(f"gateway {self.name} exited at start ({self.proc.returncode}): {self.logtext()}")
            try:
                txt = open(self.ready).read().strip()
            except OSError:
                txt = ""
            if txt:
                self.port = int(txt)
                return
            time.sleep(0.02)
        raise Fail(f"gateway {self.name} did not start: {self.logtext()}")

    def start(self):
        self.spawn()
        self.wait_ready()

    def kill9(self):
        self.port = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def term_then_kill(self, delay):
        """SIGTERM, then SIGKILL delay seconds later: a drain cut short."""
        self.port = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            time.sleep(delay)
        self.kill9()

    def term(self, timeout=120):
        self.port = None
        if not self.proc:
            return None
        if self.proc.poll() is None:
            t0 = time.time()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Fail(f"gateway {self.name} did not exit {timeout}s after SIGTERM")
            log(f"gateway {self.name}: SIGTERM drain took {time.time() - t0:.1f}s")
        rc = self.proc.returncode
        self.proc = None
        return rc

    def logtext(self, n=3000):
        try:
            return open(self.logpath, errors="replace").read()[-n:]
        except OSError:
            return ""

    def get(self, path, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        finally:
            c.close()

    def metrics(self):
        st, text = self.get("/metrics")
        check(st == 200, f"/metrics answered {st}")
        out = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                continue
        return out


def metric(m, name):
    """Sum of a family over its label sets."""
    return sum(v for k, v in m.items() if k == name or k.startswith(name + "{"))


# --- load: client threads posting batches with unique event_ids ----------------------

class Load:
    """Threads posting batches of events with unique ids to whichever port the gateways
    have right now. Every batch ends in one of: acked (202, all accepted), refused (an
    answer that is not 202: nothing stored), notsent (connection refused: never sent),
    unknown (the connection died after sending: stored at most once)."""

    def __init__(self, tag, gateways, threads=4, batch=20, pause=0.0):
        self.tag = tag
        self.gateways = gateways
        self.threads = threads
        self.batch = batch
        self.pause = pause
        self.stop_ev = threading.Event()
        self.mu = threading.Lock()
        self.acked, self.unknown, self.refused, self.notsent = set(), set(), set(), set()
        self.status = {}
        self.ack_times = []
        self.seq = 0
        self.workers = []
        self.by_gateway = {}
        self.no_retry_after = 0

    def start(self):
        for i in range(self.threads):
            t = threading.Thread(target=self.run, args=(i,), daemon=True)
            t.start()
            self.workers.append(t)

    def stop(self):
        self.stop_ev.set()
        for t in self.workers:
            t.join(60)

    def post(self, gw, ids, key):
        body = "\n".join(json.dumps({"event_type": "page_view", "event_id": i, "payload": PAGE_VIEW})
                         for i in ids).encode()
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=15)
        sent = False
        try:
            c.connect()
            sent = True
            c.request("POST", "/v1/events", body=body,
                      headers={"Authorization": "Bearer " + key, "Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            data = r.read()
            if r.status == 202:
                parsed = json.loads(data)
                if parsed.get("accepted") != len(ids):
                    return "refused", r.status  # only fully accepted batches count
                return "acked", 202
            if r.status == 503 and not r.getheader("Retry-After"):
                self.no_retry_after += 1
            return "refused", r.status
        except (OSError, http.client.HTTPException):
            return ("unknown" if sent else "notsent"), None
        finally:
            c.close()

    def run(self, t):
        key = World_key[0]
        n = 0
        while not self.stop_ev.is_set():
            gw = self.gateways[(t + n) % len(self.gateways)]
            n += 1
            if gw.port is None:
                time.sleep(0.01)
                continue
            ids = [f"{self.tag}-g{gw.name}-t{t}-{n}-{k}" for k in range(self.batch)]
            outcome, st = self.post(gw, ids, key)
            with self.mu:
                getattr(self, outcome).update(ids)
                self.status[st] = self.status.get(st, 0) + 1
                if outcome == "acked":
                    self.ack_times.append(time.time())
            if outcome != "acked":
                time.sleep(0.02)
            elif self.pause:
                time.sleep(self.pause)

    def acked_since(self, t):
        with self.mu:
            return sum(1 for x in self.ack_times if x >= t)

    def summary(self):
        return (f"acked {len(self.acked)}, unknown {len(self.unknown)}, refused {len(self.refused)}, "
                f"not sent {len(self.notsent)} events; answers {dict(sorted(self.status.items(), key=str))}")


World_key = [None]


# --- reading the lake back -------------------------------------------------------------

class LakeView:
    def __init__(self):
        self.counts = {}      # event_id -> occurrences in raw/
        self.files = []       # keys
        self.instances = {}   # instance prefix -> set of event ids
        self.lines = 0
        self.bytes = 0


def fetch_lake(world, url, out, settled):
    """Every object a lister sees, downloaded into out: [(key, listed size, size read)].
    file:// through weir's store code (dur_lake); s3:// through s3cmd, and weir's store
    code must then list the same keys and sizes (settled: nothing writes any more; else
    at least s3cmd's, listed earlier) and read the same bytes."""
    os.makedirs(out)
    if not url.startswith("s3://"):
        return [tuple(row.split("\t")) for row in world.dur_lake("fetch", url, out).splitlines()]
    listing = world.s3cmd_fetch(url, out)
    ours = out + "-weir"
    shutil.rmtree(ours, ignore_errors=True)
    os.makedirs(ours)
    mine = set(tuple(row.split("\t")) for row in world.dur_lake("fetch", url, ours).splitlines())
    theirs = set(listing)
    check(mine == theirs if settled else mine >= theirs,
          f"weir's S3 lister and s3cmd disagree: {len(mine)} and {len(theirs)} objects, e.g. "
          f"{sorted(mine ^ theirs)[:3]}")
    for key, _, _ in listing:
        with open(os.path.join(out, key), "rb") as a, open(os.path.join(ours, key), "rb") as b:
            check(a.read() == b.read(), f"{key}: weir's store reads other bytes than s3cmd")
    shutil.rmtree(ours, ignore_errors=True)
    return listing


def read_lake(world, url, name, settled=True):
    """Fetches every object a lister sees and checks each one: a complete gzip of JSON
    lines under raw/ with a <instance>-<position>.jsonl.gz name, listed size = size."""
    out = os.path.join(world.tmp, "fetch-" + name)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    listing = fetch_lake(world, url, out, settled)
    t_fetch = time.time() - t0
    v = LakeView()
    for key, listed, got in listing:
        check(listed == got, f"{key}: listed {listed} bytes, read {got}")
        base = key.rsplit("/", 1)[-1]
        m = FILE_RE.match(base)
        check(m, f"unexpected object name visible to a lister: {key}")
        check(key.startswith("raw/event_type=page_view/dt="), f"object outside the raw zone: {key}")
        raw = open(os.path.join(out, key), "rb").read()
        v.bytes += len(raw)
        try:
            text = gzip.decompress(raw).decode("utf-8")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
            raise Fail(f"{key}: not a complete gzip of UTF-8 ({e})")
        check(text.endswith("\n"), f"{key}: last line not terminated")
        ids = v.instances.setdefault(m.group(1), set())
        for ln in text.split("\n")[:-1]:
            try:
                rec = json.loads(ln)
            except ValueError as e:
                raise Fail(f"{key}: a line is not JSON ({e}): {ln[:200]!r}")
            eid = rec["event_id"]
            v.counts[eid] = v.counts.get(eid, 0) + 1
            ids.add(eid)
            v.lines += 1
        v.files.append(key)
    if url.startswith("file://"):
        # what a plain directory lister sees: only complete files (temporaries start with '.')
        root = url[len("file://"):]
        for d, _, fs in os.walk(root):
            for f in fs:
                if f.startswith("."):
                    continue
                rel = os.path.relpath(os.path.join(d, f), root)
                check(rel in set(v.files) or FILE_RE.match(f),
                      f"file visible in the lake dir but not listed: {rel}")
    shutil.rmtree(out, ignore_errors=True)
    how = "s3cmd, the same as weir's store reads" if url.startswith("s3://") else "weir's store"
    log(f"read {url}: {len(v.files)} objects fetched ({how}) in {t_fetch:.1f}s, checked in "
        f"{time.time() - t0 - t_fetch:.1f}s")
    return v


def verify(v, load, what, lost_ok=frozenset(), maybe=frozenset()):
    """Every acked event exactly once; unknown at most once; refused / never sent and
    ids nobody sent absent. lost_ok: ids allowed to be missing (corrupted on purpose);
    maybe: refused ids allowed to be present at most once (see scenario_diskfull)."""
    dup = {k: c for k, c in v.counts.items() if c > 1}
    lost = [i for i in load.acked if v.counts.get(i, 0) == 0 and i not in lost_ok]
    sent_maybe = load.unknown | maybe
    stray = [k for k in v.counts if k not in load.acked and k not in sent_maybe]
    unknown_in = sum(1 for i in sent_maybe if i in v.counts)
    log(f"{what}: {len(v.files)} files, {v.lines} lines, {v.bytes} bytes; {load.summary()}; "
        f"lost {len(lost)}, duplicated {len(dup)}, unknown present {unknown_in}, stray {len(stray)}")
    check(not dup, f"{what}: {len(dup)} events duplicated, e.g. {sorted(dup.items())[:5]}")
    check(not lost, f"{what}: {len(lost)} acknowledged events lost, e.g. {sorted(lost)[:5]}")
    check(not stray, f"{what}: {len(stray)} events in the lake that were refused or never sent, "
                     f"e.g. {sorted(stray)[:5]}")
    return {"acked": len(load.acked), "lost": len(lost), "dup": len(dup), "files": len(v.files)}


# --- scenarios ---------------------------------------------------------------------------

def scenario_crash(w):
    rounds = int(os.environ.get("WEIR_CRASH_ROUNDS", "20"))
    lake = w.new_lake("crash")
    gw = Gateway(w, "c", os.path.join(w.tmp, "spool-crash"), lake)
    gw.start()
    load = Load("crash", [gw], threads=4, batch=20, pause=0.02)
    load.start()
    seed = int(os.environ.get("WEIR_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    log(f"crash: {rounds} rounds, kill moments from WEIR_CRASH_SEED={seed}")
    t0 = time.time()
    early = cut_drains = mid_reads = 0
    for r in range(rounds):
        if r % 5 == 4:
            # now and then during start-up (spool replay, journal, first flushes)
            time.sleep(rng.uniform(0.0, 0.15))
            early += 1
        else:
            time.sleep(rng.uniform(0.3, 1.2))
        if r % 7 == 6:
            gw.term_then_kill(rng.uniform(0.0, 0.1))
            cut_drains += 1
        else:
            gw.kill9()
        gw.spawn()
        if r % 5 != 3:
            gw.wait_ready()
        else:
            # the next kill may hit before the gateway is ready
            gw.wait_ready() if rng.random() < 0.5 else None
        if (r + 1) % 10 == 0:
            log(f"crash: {r + 1}/{rounds} kills, {load.summary()}")
        if (r + 1) % (5 if w.store == "file" else max(rounds // 2, 1)) == 0 and r + 1 < rounds:
            # what a reader sees while the gateway runs: only complete files, no event twice
            mid = read_lake(w, lake, "mid", settled=False)
            dup = sum(1 for c in mid.counts.values() if c > 1)
            check(dup == 0, f"after {r + 1} kills a reader sees {dup} events twice")
            mid_reads += 1
    if gw.port is None:
        gw.wait_ready()
    time.sleep(1.0)
    load.stop()
    rc = gw.term()
    check(rc == 0, f"drain after the crash rounds exited {rc}: {gw.logtext()}")
    check(len(load.acked) > 0, "no event was acknowledged")
    v = read_lake(w, lake, "crash")
    res = verify(v, load, f"crash {w.store} ({rounds} kill -9 rounds, {early} during start-up, "
                                 f"{cut_drains} during a SIGTERM drain)")
    log(f"crash: {time.time() - t0:.1f}s of load and kills; {len(v.instances)} instance prefix(es)")
    # flushes happened between the kills, not only at the final drain
    check(len(v.files) >= rounds, f"only {len(v.files)} files for {rounds} kill rounds")
    check(len(v.instances) == 1, f"one spool dir, {len(v.instances)} instance prefixes")
    if lake.startswith("file://"):
        temps = sum(1 for _, _, fs in os.walk(lake[len("file://"):]) for f in fs if f.startswith("."))
        log(f"crash: {mid_reads} reads of the lake during the kill rounds; {temps} temporary "
            f"files left behind by killed puts (hidden from listers)")
    return res


def scenario_drain(w):
    lake = w.new_lake("drain")
    spool = os.path.join(w.tmp, "spool-drain")
    # long flush interval and big buffers: only the drain writes the lake
    gw = Gateway(w, "d", spool, lake, flush_interval="10m", flush_bytes="64MiB")
    gw.start()
    load = Load("drain", [gw], threads=3, batch=25)
    load.start()
    time.sleep(2.5)
    m = gw.metrics()
    check(metric(m, "weir_sink_files_total") == 0, "files written before the drain")
    check(metric(m, "weir_spool_unreleased_bytes") > 0, "spool holds the unflushed lines")
    t0 = time.time()
    rc = gw.term()  # the clients keep posting: they get 503 or a closed connection
    dt = time.time() - t0
    load.stop()
    check(rc == 0, f"drain exit code {rc}: {gw.logtext()}")
    v = read_lake(w, lake, "drain")
    res = verify(v, load, f"drain {w.store} (SIGTERM took {dt:.2f}s)")
    # spool released: a restart replays nothing and holds nothing
    gw.start()
    m = gw.metrics()
    check(metric(m, "weir_spool_replayed_records_total") == 0,
          f"restart after the drain replayed {metric(m, 'weir_spool_replayed_records_total')} records")
    check(metric(m, "weir_spool_unreleased_bytes") == 0, "restart after the drain: spool not released")
    check(gw.term() == 0, "second drain")
    check(read_lake(w, lake, "drain2").lines == v.lines, "the idle restart wrote lines")
    return res


def scenario_outage(w):
    check(S3_SCRIPT, "WEIR_S3_SCRIPT not set")
    cdir = os.path.dirname(S3_ENV_FILE)
    lake = w.new_lake("outage")
    # a small spool: it fills during the outage, and then the answer is 503 + Retry-After
    gw = Gateway(w, "o", os.path.join(w.tmp, "spool-outage"), lake, "--spool-max", "4MiB")
    gw.start()
    load = Load("outage", [gw], threads=3, batch=20, pause=0.01)
    load.start()
    time.sleep(2.0)
    before = gw.metrics()
    r = subprocess.run([S3_SCRIPT, "stop-rgw", cdir], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"stop-rgw: {r.stderr}")
    t_down = time.time()
    log(f"outage: radosgw stopped; {load.summary()}")
    try:
        time.sleep(2.5)
        # a crash while the lake is away: the restart replays a backlog it cannot write yet
        gw.kill9()
        gw.start()
        # the load fills the 4 MiB spool at the machine's pace (slower under ASan or a busy
        # CI box): wait for the first 503, not for a fixed time
        fill_deadline = time.time() + 60
        while time.time() < fill_deadline and 503 not in load.status:
            time.sleep(0.1)
        during = gw.metrics()
        acked_down = load.acked_since(t_down + 0.5)
        st, _ = gw.get("/readyz")
    finally:
        r = subprocess.run([S3_SCRIPT, "start-rgw", cdir], capture_output=True, text=True, timeout=180)
    check(r.returncode == 0, f"start-rgw: {r.stderr}")
    log(f"outage: radosgw back after {time.time() - t_down:.1f}s")
    u0, u1 = metric(before, "weir_spool_unreleased_bytes"), metric(during, "weir_spool_unreleased_bytes")
    s0, s1 = metric(before, "weir_spool_used_bytes"), metric(during, "weir_spool_used_bytes")
    log(f"outage: {acked_down} batches acked while S3 was down; unreleased {u0:.0f} -> {u1:.0f} bytes, "
        f"spool used {s0:.0f} -> {s1:.0f} bytes; /readyz {st}")
    check(acked_down > 0, "no 202 while S3 was down")
    check(u1 > u0 and s1 > s0, "the spool did not grow while S3 was down")
    n503 = load.status.get(503, 0)
    log(f"outage: {n503} answers 503 once the 4 MiB spool was full, {load.no_retry_after} without Retry-After")
    check(n503 > 0, "the spool never filled (no 503) during the outage")
    check(load.no_retry_after == 0, "503 without Retry-After")
    # after the restart the backlog drains on its own, with the load still on
    deadline = time.time() + 90
    t_back = time.time()
    while time.time() < deadline:
        time.sleep(0.5)
        if metric(gw.metrics(), "weir_spool_unreleased_bytes") < u1 / 4:
            break
    log(f"outage: backlog under a quarter {time.time() - t_back:.1f}s after the restart")
    t_ok = time.time()
    time.sleep(1.0)
    check(load.acked_since(t_ok) > 0, "no 202 after the lake came back")
    check(metric(gw.metrics(), "weir_spool_unreleased_bytes") < u1 / 4, "the backlog did not drain")
    load.stop()
    rc = gw.term()
    check(rc == 0, f"drain exit {rc}: {gw.logtext()}")
    v = read_lake(w, lake, "outage")
    return verify(v, load, "outage s3")


def scenario_diskfull(w):
    lake = w.new_lake("diskfull")
    spool = os.path.join(w.tmp, "spool-small")
    w.mount_tmpfs(spool, "2m")
    # nothing is flushed (so nothing released): the 2 MiB fill up
    gw = Gateway(w, "f", spool, lake, flush_interval="10m", flush_bytes="64MiB")
    gw.start()
    load = Load("full", [gw], threads=3, batch=50)
    load.start()
    deadline = time.time() + 60
    while time.time() < deadline and 503 not in load.status:
        time.sleep(0.1)
    check(503 in load.status, f"no 503 while the spool disk filled: {load.summary()}")
    time.sleep(1.0)
    check(gw.proc.poll() is None, "the gateway died on a full disk: " + gw.logtext())
    st_ready, _ = gw.get("/readyz")
    st_health, _ = gw.get("/healthz")
    spool_failed = metric(gw.metrics(), "weir_spool_failed")
    n202 = load.status.get(202, 0)
    time.sleep(0.5)
    later = load.status.get(202, 0)
    load.stop()
    log(f"diskfull: {load.summary()}; /readyz {st_ready}, /healthz {st_health}; "
        f"202s in the last 0.5s: {later - n202}")
    check(st_ready == 503, f"/readyz says {st_ready} with the spool disk full")
    check(st_health == 200, f"/healthz says {st_health}")
    check(spool_failed == 1, f"weir_spool_failed is {spool_failed} with the spool disk full")
    check(later == n202, "202s continue after the spool failed")
    # not a byte left: the drain must still end (its lake puts work; the spool's
    # checkpoint and the journal cannot be written)
    filler = os.path.join(spool, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size) > 0:
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    log("diskfull: gateway log: " + " | ".join(gw.logtext(600).splitlines()[-3:]))
    rc = gw.term(timeout=100)
    log(f"diskfull: SIGTERM with a failed spool exited {rc}")
    # the documented drain: exit 0 (its lake puts work even though the spool cannot write)
    check(rc == 0, f"the drain with a failed spool exited {rc}, not 0: {gw.logtext()}")
    causes = gw.logtext(1 << 20).count("spool cannot write")
    check(causes == 1, f"the spool failure logged {causes} times, not once")
    v1 = read_lake(w, lake, "diskfull1")
    log(f"diskfull: after the first drain the lake holds {v1.lines} of {len(load.acked)} acked events")
    # more room; the restart replays what is in the spool (exactly once with the drain's files)
    os.unlink(filler)
    r = subprocess.run(["mount", "-o", "remount,size=64m", spool], capture_output=True, text=True)
    check(r.returncode == 0, f"remount: {r.stderr}")
    gw.start()
    st_ready, _ = gw.get("/readyz")
    check(st_ready == 200, f"/readyz after the restart with room: {st_ready}")
    check(gw.term() == 0, "drain after the restart: " + gw.logtext())
    v = read_lake(w, lake, "diskfull")
    # A group commit cut by ENOSPC answers 503 for all of its records, and the spool cuts
    # the batch back off the segment: a 503 means "not stored", so those ids must be absent.
    resurrected = sorted(i for i in load.refused if i in v.counts)
    check(not resurrected, f"diskfull: {len(resurrected)} events answered 503 are in the lake"
          + (f", e.g. {resurrected[:3]}" if resurrected else ""))
    return verify(v, load, "diskfull (2 MiB tmpfs spool)")


def scenario_corrupt(w):
    lake = w.new_lake("corrupt")
    spool = os.path.join(w.tmp, "spool-corrupt")
    gw = Gateway(w, "x", spool, lake, flush_interval="10m", flush_bytes="64MiB")
    gw.start()
    # one sequential client: post order = spool order
    load = Load("corrupt", [gw], threads=1, batch=10)
    order = []
    for n in range(300):
        ids = [f"corrupt-{n}-{k}" for k in range(10)]
        outcome, st = load.post(gw, ids, World_key[0])
        check(outcome == "acked", f"post {n}: {outcome} {st}")
        load.acked.update(ids)
        order.extend(ids)
    gw.kill9()
    segs = sorted(f for f in os.listdir(spool) if f.endswith(".wal"))
    check(segs, f"no spool segment in {os.listdir(spool)}")
    seg = max(segs, key=lambda f: os.path.getsize(os.path.join(spool, f)))
    path = os.path.join(spool, seg)
    size = os.path.getsize(path)
    data = bytearray(open(path, "rb").read())
    mid = size // 2
    for i in range(mid, mid + 8):
        data[i] ^= 0x5A
    with open(path, "r+b") as f:
        f.seek(mid)
        f.write(data[mid:mid + 8])
        f.flush()
        os.fsync(f.fileno())
    log(f"corrupt: flipped 8 bytes at {mid} of {seg} ({size} bytes)")
    gw.start()
    m = gw.metrics()
    crec = metric(m, "weir_spool_corrupt_records_total")
    logged = "corrupt" in gw.logtext(5000)
    log(f"corrupt: weir_spool_corrupt_records_total {crec:.0f}, corrupt bytes "
        f"{metric(m, 'weir_spool_corrupt_bytes_total'):.0f}, replayed {metric(m, 'weir_spool_replayed_records_total'):.0f}, "
        f"log line {logged}")
    check(crec >= 1, "corruption not counted in weir_spool_corrupt_records_total")
    check(logged, "corruption not logged")
    check(gw.term() == 0, "drain after the corrupt restart: " + gw.logtext())
    v = read_lake(w, lake, "corrupt")
    missing = [i for i, e in enumerate(order) if v.counts.get(e, 0) == 0]
    log(f"corrupt: {len(missing)} of {len(order)} events lost to the damage "
        f"(positions {missing[:1]}..{missing[-1:]})")
    check(missing, "nothing lost although a record was damaged")
    check(missing[-1] - missing[0] + 1 == len(missing), "lost events are not one contiguous stretch")
    check(len(missing) <= 40, f"{len(missing)} events lost to 8 damaged bytes")
    check(missing[-1] < len(order) - 1 and missing[0] > 0, "records before and after the damage reached the lake")
    return verify(v, load, "corrupt", lost_ok=frozenset(order[i] for i in missing))


def scenario_many(w):
    lake = w.new_lake("many")
    gws = [Gateway(w, str(i), os.path.join(w.tmp, f"spool-many-{i}"), lake) for i in range(3)]
    for g in gws:
        g.start()
    load = Load("many", gws, threads=6, batch=20, pause=0.02)
    load.start()
    time.sleep(3.0)
    gws[1].kill9()  # one crash while the others go on
    gws[1].start()
    time.sleep(3.0)
    load.stop()
    rcs = [g.term() for g in gws]
    check(rcs == [0, 0, 0], f"drain exit codes {rcs}")
    v = read_lake(w, lake, "many")
    res = verify(v, load, f"many {w.store} (3 gateways)")
    log(f"many: instance prefixes {sorted(v.instances)}; files per instance "
        f"{[sum(1 for k in v.files if k.rsplit('/', 1)[-1].startswith(p)) for p in sorted(v.instances)]}")
    check(len(v.instances) == 3, f"{len(v.instances)} instance prefixes for 3 gateways")
    for p, ids in v.instances.items():
        owners = {i.split("-")[1] for i in ids}
        check(len(owners) == 1, f"files of instance {p} hold events of gateways {owners}: a name clash")
    check(len(set(v.files)) == len(v.files), "a key listed twice")
    return res


SCENARIOS = {"crash": scenario_crash, "drain": scenario_drain, "outage": scenario_outage,
             "diskfull": scenario_diskfull, "corrupt": scenario_corrupt, "many": scenario_many}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SCENARIOS or sys.argv[2] not in ("file", "s3"):
        print(__doc__)
        return 2
    name, store = sys.argv[1], sys.argv[2]
    if not all([WEIR, PGFIXTURE, SCHEMAS, DUR_LAKE]):
        print("skipped: WEIR, WEIR_PGFIXTURE, WEIR_SCHEMAS and WEIR_DUR_LAKE must be set",
              file=sys.stderr)
        return 77
    t0 = time.time()
    w = None
    ok = False
    try:
        w = World(store)
        w.setup(name)
        World_key[0] = w.key
        res = SCENARIOS[name](w)
        ok = True
        print(f"ok   {name} {store}: {res} in {time.time() - t0:.1f}s")
        print("1 passed, 0 failed")
        return 0
    except Skip as e:
        ok = True
        print(f"skipped: {name} {store}: {e}", file=sys.stderr)
        return 77
    except Exception as e:
        import traceback
        print(f"FAIL {name} {store}: {e}\n{traceback.format_exc()}")
        print("0 passed, 1 failed")
        return 1
    finally:
        if w:
            for f in sorted(os.listdir(w.tmp)):
                if f.startswith("gateway-") and not ok:
                    print(f"--- {f} (tail)\n" + open(os.path.join(w.tmp, f), errors="replace").read()[-3000:])
            w.cleanup(keep=not ok or os.environ.get("WEIR_DUR_KEEP") == "1")


if __name__ == "__main__":
    sys.exit(main())
