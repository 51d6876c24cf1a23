#!/usr/bin/env python3
"""Skip bookkeeping of the test suite (Python 3 standard library only).

  test-summary.py BUILD:JUNIT.xml...   prints every skipped test of each run with its
      reason (the lines of its output that say SKIP or skipped), and with CI=true exits 1
      when a skipped test is not listed in tests/skips-allowed.txt for that build.
  test-summary.py --check-skip77 BUILD_DIR   exits 1 naming every ctest of BUILD_DIR
      without SKIP_RETURN_CODE 77 (the ctest test_skip77 runs this).
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOWED = os.path.join(ROOT, "tests", "skips-allowed.txt")


def check_skip77(build_dir):
    out = subprocess.run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"],
                         capture_output=True, text=True, check=True).stdout
    lacking = []
    tests = json.loads(out).get("tests", [])
    for t in tests:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        if str(props.get("SKIP_RETURN_CODE")) != "77":
            lacking.append(t["name"])
    if lacking:
        print("tests without SKIP_RETURN_CODE 77 (a skip would count as a failure, or a "
              "test would pass without running):", file=sys.stderr)
        for n in lacking:
            print("  " + n, file=sys.stderr)
        return 1
    print(f"all {len(tests)} tests have SKIP_RETURN_CODE 77")
    return 0


def allowed_skips():
    """(build, test) -> reason, from tests/skips-allowed.txt: BUILD TEST REASON..."""
    allowed = {}
    with open(ALLOWED, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            build, test, reason = (line.split(None, 2) + [""])[:3]
            allowed[(build, test)] = reason
    return allowed


def skip_reason(case):
    out = (case.findtext("system-out") or "") + "\n" + (case.findtext("system-err") or "")
    lines = [l.strip() for l in out.splitlines() if re.search(r"\bskip", l, re.I)]
    if lines:
        return " | ".join(dict.fromkeys(lines))[:400]
    sk = case.find("skipped")
    msg = sk.get("message", "") if sk is not None else ""
    return f"no reason printed ({msg})" if msg else "no reason printed"


def summary(runs):
    allowed = allowed_skips()
    ci = os.environ.get("CI") == "true"
    bad = []
    print("\n== skipped tests")
    total = 0
    for run in runs:
        build, path = run.split(":", 1)
        if not os.path.exists(path):
            print(f"[{build}] no results at {path}")
            bad.append((build, "(all)", "no JUnit results"))
            continue
        for case in ET.parse(path).getroot().iter("testcase"):
            if case.get("status") != "notrun":
                continue
            name = case.get("name")
            total += 1
            ok = (build, name) in allowed or ("*", name) in allowed
            tag = "allowed" if ok else "REQUIRED"
            print(f"[{build}] {name} ({tag}): {skip_reason(case)}")
            if not ok:
                bad.append((build, name, skip_reason(case)))
    if total == 0:
        print("none")
    if bad and ci:
        print(f"\nCI=true: {len(bad)} required test(s) skipped; each must run in CI "
              f"(tests/skips-allowed.txt lists the tests allowed to skip).", file=sys.stderr)
        return 1
    if bad:
        print(f"\n{len(bad)} required test(s) skipped (a failure with CI=true).")
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--check-skip77":
        return check_skip77(argv[2])
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    return summary(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
