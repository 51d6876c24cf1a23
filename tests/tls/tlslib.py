"""Shared parts of the TLS and proxy tests (tests/tls/, and the browser test's nginx
mode): the gateway harness of tests/gateway/test_gateway.py on a database of the test
fixture's cluster (tests/pg/pg.cmake, WEIR_TEST_PG) or on a private cluster, certificates
made by `openssl req -x509` at test time, and Debian's nginx running docs/nginx.conf."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import test_gateway as tg  # noqa: E402
from test_gateway import E  # noqa: E402

NGINX = os.environ.get("WEIR_NGINX", "/usr/sbin/nginx")
OPENSSL = "openssl"
TEST_PG = os.environ.get("WEIR_TEST_PG")


def use_fixture_db(name):
    """Points E at a fresh database t_<name> of the fixture cluster (instead of a private
    cluster); returns a function that drops it."""
    db = "t_%s_%d" % (name, os.getpid())
    psql = os.path.join(tg.PGBIN, "psql")

    def admin(sql):
        r = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", TEST_PG, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr}")

    admin(f"DROP DATABASE IF EXISTS {db}")
    admin(f"CREATE DATABASE {db}")
    conninfo = re.sub(r"dbname=\S+", "dbname=" + db, TEST_PG)
    tg.Env.db = property(lambda self: conninfo)
    E.pg = lambda cmd: None  # the fixture owns the cluster
    return lambda: admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def main(name, namespace, setup, tools, cleanup=None):
    """The runner of a test file: the test_* functions of namespace against a database
    t_<name> of the fixture cluster; exit 77 when one of tools (commands) is missing."""
    if not tg.WEIR or not tg.SCHEMAS or not TEST_PG:
        print("error: WEIR, WEIR_SCHEMAS and WEIR_TEST_PG must be set (run through ctest)",
              file=sys.stderr)
        return 1
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        print(f"skipped: {' and '.join(missing)} missing (scripts/deps.sh --test)", file=sys.stderr)
        return 77
    drop = use_fixture_db(name)
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    try:
        return tg.run_suite(tests, setup)
    finally:
        if cleanup:
            cleanup()
        drop()


def load_schemas():
    E.weir("migrate")
    for f in sorted(os.listdir(tg.SCHEMAS)):
        m = re.fullmatch(r"([a-z][a-z0-9_]*)\.v(\d+)\.json", f)
        if m:
            E.weir("schema", "add", m.group(1), os.path.join(tg.SCHEMAS, f), "--version", m.group(2))


def make_cert(folder, cn, kind="ec"):
    """A self-signed certificate for 127.0.0.1 and a new key: (cert path, key path)."""
    os.makedirs(folder, exist_ok=True)
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    alg = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec" else \
        ["-newkey", "rsa:2048"]
    r = subprocess.run([OPENSSL, "req", "-x509", *alg, "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=" + cn, "-set_serial", str(time.time_ns() % 10**15),
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl req: " + r.stderr)
    return cert, key


def der_of(cert_path):
    return ssl.PEM_cert_to_DER_cert(open(cert_path).read())


def peer_cert(port, timeout=5):
    """The DER certificate a new TLS connection to 127.0.0.1:port is shown (unverified)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.getpeercert(binary_form=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """Debian's nginx, in the foreground, running docs/nginx.conf as a site of a minimal
    main configuration (pid, logs and temporary folders in the test's folder). The site
    file changes only by its ports, certificate paths and server name."""

    def __init__(self, folder, upstream_port, cert, key):
        self.dir = folder
        os.makedirs(folder, exist_ok=True)
        self.http_port, self.https_port = free_port(), free_port()
        site = open(os.path.join(ROOT, "docs", "nginx.conf")).read()
        for old, new in [("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};"),
                         ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
                         ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;"),
                         ("/etc/ssl/weir/fullchain.pem", cert),
                         ("/etc/ssl/weir/privkey.pem", key)]:
            if site.count(old) != 1:
                raise AssertionError(f"docs/nginx.conf: expected '{old}' once, found {site.count(old)}")
            site = site.replace(old, new)
        site = site.replace("server_name collect.example.com;", "server_name localhost 127.0.0.1;")
        with open(os.path.join(folder, "weir.conf"), "w") as f:
            f.write(site)
        main = f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/weir.conf;
}}
"""
        self.conf = os.path.join(folder, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(main)
        r = subprocess.run([NGINX, "-t", "-q", "-c", self.conf, "-p", folder, "-e", os.path.join(folder, "error.log")], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("nginx -t refuses docs/nginx.conf: " + r.stderr)
        self.log = open(os.path.join(folder, "nginx.out"), "ab")
        self.proc = subprocess.Popen([NGINX, "-c", self.conf, "-p", folder, "-e", os.path.join(folder, "error.log")], stdout=self.log,
                                     stderr=self.log)
        tg.wait_until("nginx listening", self.listening, 15)

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("nginx exited: " + self.errors())
        try:
            socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
            return True
        except OSError:
            return False

    def errors(self):
        try:
            return open(os.path.join(self.dir, "error.log"), errors="replace").read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
