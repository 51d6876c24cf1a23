#!/usr/bin/env python3
"""test_replay_s3.py - `weir replay` and the dry run of `weir schema add` on an s3:// lake
(the tests' Ceph radosgw, tests/s3): the rejected and raw zones of test_replay.py copied into
a bucket with lake_copy (weir's own store), a replay, the replay files read back; a second
replay replays 0; the dry run samples the type's recent raw events from the bucket.
Needs WEIR, WEIR_TEST_PG, LAKE_COPY and the radosgw env file WEIR_S3_ENV_FILE."""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_replay as tr  # noqa: E402

ENVF = os.environ.get("WEIR_S3_ENV_FILE", "")
LAKE_COPY = os.environ.get("LAKE_COPY")


def main():
    if not tr.WEIR or not tr.PG or not LAKE_COPY:
        print("skip: needs WEIR, WEIR_TEST_PG and LAKE_COPY", file=sys.stderr)
        return 77
    if not os.path.exists(ENVF) or os.path.exists(os.path.join(os.path.dirname(ENVF), "unavailable")):
        print(f"skip: no test S3 server ({ENVF}; tests/s3 starts it when Ceph is installed)", file=sys.stderr)
        return 77
    s3 = dict(ln.strip().split("=", 1) for ln in open(ENVF) if "=" in ln)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3["S3_ACCESS_KEY"], AWS_SECRET_ACCESS_KEY=s3["S3_SECRET_KEY"],
               AWS_REGION=s3.get("S3_REGION", "us-east-1"))
    ep = s3["S3_ENDPOINT"]
    bucket = f"weir-replay-{os.getpid()}"
    tmp = tempfile.mkdtemp(prefix="weir-replay-s3-")
    try:
        db, local, exp = tr.setup(tmp, "t_replay_s3")
        # recent raw traffic for the dry run: 12 events, 4 without plan
        now = time.time()
        tm = time.gmtime(now)
        d = os.path.join(local, "raw", "event_type=signup", time.strftime("dt=%Y-%m-%d", tm),
                         time.strftime("hr=%H", tm))
        os.makedirs(d, exist_ok=True)
        rec = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", tm)
        with open(os.path.join(d, "gw-now.jsonl.gz"), "wb") as f:
            f.write(gzip.compress("".join(json.dumps({
                "event_type": "signup", "schema_version": 2, "event_id": f"now-{i}", "received_at": rec,
                "source": "app", "payload": ({"plan": "pro"} if i % 3 else {"n": i})}) + "\n"
                for i in range(12)).encode()))
        r = subprocess.run([LAKE_COPY, ep, bucket, "put", local], env=env, capture_output=True, text=True)
        tr.check(r.returncode == 0, f"copy to S3: {r.stderr}")
        s3args = ["--database-url", db, "--lake", f"s3://{bucket}", "--s3-endpoint", ep,
                  "--s3-addressing", "path", "--from", tr.FROM, "--to", tr.TO]
        r = subprocess.run([tr.WEIR, "replay", *s3args], env=env, capture_output=True, text=True, timeout=300)
        rep = json.loads(r.stdout) if r.returncode == 0 else {}
        tr.check(rep.get("replayed") == len(exp) and rep.get("broken_files") == 2,
                 f"s3 replay: {rep} {r.stderr[-500:]}")
        back = os.path.join(tmp, "back")
        r = subprocess.run([LAKE_COPY, ep, bucket, "get", "raw/", back], env=env, capture_output=True, text=True)
        tr.check(r.returncode == 0, f"copy back: {r.stderr}")
        ids = [e["event_id"] for e in tr.all_replayed(back)]
        tr.check(len(ids) == len(set(ids)) == len(exp), f"s3 replay files: {len(ids)} lines, {len(set(ids))} ids")
        r = subprocess.run([tr.WEIR, "replay", *s3args], env=env, capture_output=True, text=True, timeout=300)
        tr.check(r.returncode == 0 and json.loads(r.stdout)["replayed"] == 0, "second s3 replay: 0")
        req = os.path.join(tmp, "req.json")
        with open(req, "w") as f:
            json.dump({"type": "object", "required": ["plan"]}, f)
        r = subprocess.run([tr.WEIR, "schema", "add", "signup", req, "--dry-run", *s3args[:-4]], env=env,
                           capture_output=True, text=True, timeout=300)
        s = json.loads(r.stdout)["sample"] if r.stdout.strip() else {}
        tr.check(r.returncode == 1 and s.get("events") == 12 and s.get("would_reject") == 4,
                 f"s3 dry run: {s} {r.stderr[-300:]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{tr.weirtest.passed} passed, {tr.weirtest.failed} failed")
    return 1 if tr.weirtest.failed else 0


if __name__ == "__main__":
    sys.exit(main())
