"""harness.py - what the docs tests share: a database of their own on the tests' Postgres
fixture (WEIR_TEST_PG), `weir` admin commands against it, a real `weir gateway` on a free
loopback port with a file:// lake in a temporary folder, and plain HTTP requests on fresh
connections. Python 3 standard library only.

Environment: WEIR (the binary), WEIR_TEST_PG (conninfo of the fixture), WEIR_SCHEMAS (the
example schemas folder)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

WEIR = os.environ.get("WEIR")
BASE_PG = os.environ.get("WEIR_TEST_PG")
SCHEMAS = os.environ.get("WEIR_SCHEMAS")
PGBIN = os.environ.get("WEIR_PG_BINDIR") or sorted(
    [os.path.join("/usr/lib/postgresql", v, "bin") for v in os.listdir("/usr/lib/postgresql")]
    if os.path.isdir("/usr/lib/postgresql") else [""])[-1]


def need_env():
    """Exits 77 naming what is missing."""
    for name, val in (("WEIR", WEIR), ("WEIR_TEST_PG", BASE_PG), ("WEIR_SCHEMAS", SCHEMAS)):
        if not val:
            print(f"SKIP: {name} is not set (run through ctest)", file=sys.stderr)
            sys.exit(77)
    if not os.path.exists(os.path.join(PGBIN, "psql")):
        print("SKIP: psql not found (scripts/deps.sh --test)", file=sys.stderr)
        sys.exit(77)


def psql(db, statement):
    r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                        "-d", db, "-c", statement], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql: {r.stderr}")
    return r.stdout.strip()


failures = []


def fail(msg):
    """Records a finding and prints it; the check goes on."""
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def conclude(w, body, ok_message):
    """Runs body() against w, then closes w: kept, with every gateway's log printed, when
    anything failed (an exception included). Returns the exit status."""
    keep = False
    try:
        body()
    except Exception:
        traceback.print_exc()
        fail("the test stopped on an exception")
    finally:
        if failures:
            keep = True
            for g in w.gateways:
                print(f"--- gateway {g.name} log\n{g.logtext()}", file=sys.stderr)
        w.close(keep=keep)
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print(ok_message)
    return 0


class Weir:
    """A database t_<name> on the fixture, and a temporary folder for spools and lakes."""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"weir-{name}-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("WEIR_") and not k.startswith("PG")}
        self.env["WEIR_LOG_LEVEL"] = "info"
        db = "t_" + name
        psql(BASE_PG, f"DROP DATABASE IF EXISTS {db}")
        psql(BASE_PG, f"CREATE DATABASE {db}")
        self.dbname = db
        self.db = " ".join([p for p in BASE_PG.split() if not p.startswith("dbname=")] + [f"dbname={db}"])
        self.gateways = []

    def run(self, *args, ok=True, extra_env=None):
        env = dict(self.env, WEIR_DATABASE_URL=self.db, **(extra_env or {}))
        r = subprocess.run([WEIR, *args], capture_output=True, text=True, timeout=300, env=env)
        if ok and r.returncode != 0:
            raise RuntimeError(f"weir {' '.join(args)}: exit {r.returncode}: {r.stderr[-3000:]}")
        return r

    def weir(self, *args):
        return self.run(*args).stdout.strip()

    def gateway(self, name, *extra, database_url=None, wait_ready=True):
        g = Gateway(self, name, database_url or self.db, extra)
        self.gateways.append(g)
        g.start(wait_ready)
        return g

    def close(self, keep=False):
        for g in self.gateways:
            g.stop()
        try:
            psql(BASE_PG, f"DROP DATABASE IF EXISTS {self.dbname}")
        except RuntimeError as e:
            print(f"note: {e}", file=sys.stderr)
        if keep:
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Gateway:
    def __init__(self, w, name, db, extra):
        self.w = w
        self.name = name
        self.db = db
        self.extra = list(extra)
        self.dir = os.path.join(w.tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.lake = os.path.join(self.dir, "lake")
        self.proc = None
        self.port = None

    def start(self, wait_ready):
        ready = os.path.join(self.dir, "ready")
        self.log = open(os.path.join(self.dir, "gateway.log"), "ab")
        self.proc = subprocess.Popen(
            [WEIR, "gateway", "--listen", "127.0.0.1:0", "--spool-dir", os.path.join(self.dir, "spool"),
             "--lake", "file://" + self.lake, "--flush-interval", "1s", "--threads", "2", *self.extra],
            env=dict(self.w.env, WEIR_DATABASE_URL=self.db, WEIR_READY_FILE=ready),
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway {self.name} exited at start: {self.logtext()}")
            if os.path.exists(ready) and open(ready).read().strip():
                self.port = int(open(ready).read().strip())
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"gateway {self.name} did not start: {self.logtext()}")
        while wait_ready and time.time() < deadline:
            if self.request("GET", "/readyz")[0] == 200:
                return
            time.sleep(0.05)
        if wait_ready:
            raise RuntimeError(f"gateway {self.name} never ready: {self.logtext()}")

    def request(self, method, path, headers=None, body=None, timeout=30):
        """One request on a fresh connection (Connection: close), read to the end:
        (status, {lower-case name: value}, body bytes). A server that answers and closes
        while the request is still being sent (431, 413) is read all the same."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            if body is not None:
                head.append(f"Content-Length: {len(body)}")
            try:
                s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + (body or b""))
            except (BrokenPipeError, ConnectionResetError):
                pass
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        top, _, rest = data.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/1."):
            raise RuntimeError(f"{method} {path}: no HTTP answer: {data[:200]!r}")
        status = int(lines[0].split()[1])
        hd = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hd[k.strip().lower()] = v.strip()
        if hd.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while rest:
                size_line, _, rest = rest.partition(b"\r\n")
                n = int(size_line.split(b";")[0], 16)
                if n == 0:
                    break
                out += rest[:n]
                rest = rest[n + 2:]
            rest = out
        return status, hd, rest

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def logtext(self):
        try:
            return open(os.path.join(self.dir, "gateway.log"), errors="replace").read()[-4000:]
        except OSError:
            return ""
