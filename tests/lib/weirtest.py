"""weirtest.py - what the end-to-end Python tests share: counted checks, running a
command that must succeed, rows from psql. Standard library only.

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import weirtest
    from weirtest import check, psql, run

A script reports weirtest.passed and weirtest.failed at its end."""
import subprocess

passed = failed = 0
# Seconds a command may take; a script may lower it for its own commands.
TIMEOUT = 600


def check(cond, what):
    """Counts one assertion; a failure is printed and the test goes on."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}", flush=True)


def run(args, ok=True, **kw):
    """Runs args, output captured as text; with ok, a non-zero exit raises with its output."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, **kw)
    if ok and r.returncode != 0:
        raise RuntimeError(f"{args[:3]} exited {r.returncode}: {r.stdout[-2000:]} {r.stderr[-3000:]}")
    return r


def psql(db, sql):
    """The rows of one statement, each a list of its '|'-separated fields."""
    r = run(["psql", db, "-XAtqc", sql])
    return [ln.split("|") for ln in r.stdout.strip().split("\n") if ln]
