#!/usr/bin/env python3
"""alerts_check.py - docs/alerts.yml and docs/operations.md against what weir exposes.

Parses the alert rules (python3-yaml), takes every metric name out of every expression,
runs a real gateway (an accepted and a rejected event, a schema version inserted by plain
SQL that the structural check finds incompatible, so that the labelled families appear),
scrapes its /metrics, runs `weir curate --metrics-file` on the same database and lake, and
fails on:
- a rule without alert, expr, labels.severity, annotations.summary or a runbook naming a
  heading of docs/operations.md;
- a metric name in an expression that neither the gateway nor the curator exposes
  (the only other name allowed is Prometheus' own `up`);
- a metric family the gateway or the curator exposes that docs/operations.md does not
  name (the metrics reference must be complete).

Environment: WEIR, WEIR_TEST_PG, WEIR_SCHEMAS (ctest), ALERTS, OPERATIONS."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ALERTS = os.environ.get("ALERTS")
OPERATIONS = os.environ.get("OPERATIONS")
PROMETHEUS_OWN = {"up"}
# PromQL words that look like names: functions are recognised by their "(", these not.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan"}
fail = harness.fail


def metric_names(expr):
    """The metric names of a PromQL expression."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                 # strings
    e = re.sub(r"\{[^}]*\}", "", e)                                # label matchers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)                               # ranges
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue                                               # a function or a keyword
        if re.fullmatch(r"[0-9.e+-]+", word):
            continue
        names.add(word)
    return names


def samples_and_families(text):
    samples, families = set(), set()
    for ln in text.splitlines():
        if ln.startswith("# TYPE "):
            families.add(ln.split()[2])
        elif ln and not ln.startswith("#"):
            samples.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", ln).group(0))
    return samples, families


def anchors(md):
    out = set()
    for ln in md.splitlines():
        m = re.match(r"#+ (.*)", ln)
        if m:
            a = re.sub(r"[^a-z0-9 _-]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(a)
    return out


def main():
    harness.need_env()
    try:
        import yaml
    except ImportError:
        print("SKIP: python3-yaml is not installed (scripts/deps.sh --test)", file=sys.stderr)
        return 77
    for name, path in (("ALERTS", ALERTS), ("OPERATIONS", OPERATIONS)):
        if not path or not os.path.exists(path):
            print(f"SKIP: {name} does not name the file", file=sys.stderr)
            return 77
    rules_doc = yaml.safe_load(open(ALERTS))
    ops_md = open(OPERATIONS).read()
    ops_anchors = anchors(ops_md)
    wanted = {}  # metric -> alerts naming it
    n_rules = 0
    for g in rules_doc.get("groups", []):
        for r in g.get("rules", []):
            n_rules += 1
            name = r.get("alert", "?")
            for field in ("alert", "expr"):
                if not r.get(field):
                    fail(f"rule {name}: no {field}")
            if not (r.get("labels") or {}).get("severity"):
                fail(f"rule {name}: no labels.severity")
            ann = r.get("annotations") or {}
            if not ann.get("summary"):
                fail(f"rule {name}: no annotations.summary")
            rb = ann.get("runbook", "")
            m = re.fullmatch(r"docs/operations\.md#([a-z0-9_-]+)", rb)
            if not m or m.group(1) not in ops_anchors:
                fail(f"rule {name}: runbook {rb!r} is not a heading of docs/operations.md")
            for metric in metric_names(str(r.get("expr", ""))):
                wanted.setdefault(metric, []).append(name)
    if n_rules < 10:
        fail(f"only {n_rules} rules in {ALERTS}")

    w = harness.Weir("docs_alerts")

    def body():
        gw_text, cur_text = exercise(w)
        gw_samples, gw_fams = samples_and_families(gw_text)
        cur_samples, cur_fams = samples_and_families(cur_text)
        present = gw_samples | cur_samples | gw_fams | cur_fams
        for metric, alerts in sorted(wanted.items()):
            if metric in PROMETHEUS_OWN:
                continue
            if metric not in present:
                fail(f"{metric} (in {', '.join(alerts)}) is not in the gateway's /metrics "
                     f"nor in weir curate's metrics file")
        for fam in sorted(gw_fams | cur_fams):
            if f"`{fam}" not in ops_md:
                fail(f"docs/operations.md does not describe the metric {fam}")
        print(f"{n_rules} rules, {len(wanted)} metric names checked against "
              f"{len(gw_fams)} gateway and {len(cur_fams)} curator families", flush=True)

    return harness.conclude(w, body, "docs_alerts: every metric of the alert rules exists, "
                                    "every metric is documented")


def exercise(w):
    w.weir("migrate")
    w.weir("schema", "add", "signup", os.path.join(harness.SCHEMAS, "signup.v1.json"))
    key = w.weir("key", "create", "--name", "alerts", "--rate", "1000")
    gw = w.gateway("main")
    h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    ok = b'{"event_type":"signup","payload":{"user_id":1,"plan":"team","method":"github"}}'
    bad = b'{"event_type":"signup","payload":{"user_id":"x"}}'
    for body, want in ((ok, 202), (bad, 422)):
        st, _, data = gw.request("POST", "/v1/events", h, body)
        if st != want:
            raise RuntimeError(f"POST got {st}, want {want}: {data!r}")
    # A version that makes a property required, by plain SQL: incompatible under the
    # default mode (backward), so weir_schema_incompatible{event_type,version} appears.
    harness.psql(w.db, "INSERT INTO event_schemas (event_type, version, schema) VALUES "
                       "('signup', 2, '{\"type\":\"object\",\"required\":[\"user_id\",\"extra\"]}')")
    deadline = time.time() + 30
    text = ""
    while time.time() < deadline:
        st, _, data = gw.request("GET", "/metrics")
        text = data.decode()
        if st == 200 and re.search(r"^weir_schema_incompatible\{", text, re.M) \
                and re.search(r'^weir_sink_files_total\{zone="raw"\} [1-9]', text, re.M):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("no weir_schema_incompatible sample, or no raw file, within 30 s:\n" + text[-3000:])
    prom = os.path.join(w.tmp, "weir_curate.prom")
    r = w.run("curate", "--lake", "file://" + gw.lake, "--metrics-file", prom,
              "--tmp-dir", w.tmp, ok=False)
    if not os.path.exists(prom):
        raise RuntimeError(f"weir curate wrote no metrics file (exit {r.returncode}): {r.stderr[-2000:]}")
    return text, open(prom).read()


if __name__ == "__main__":
    sys.exit(main())
