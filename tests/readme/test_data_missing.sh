#!/usr/bin/env bash
# test_data_missing.sh - scripts/test-data.sh, run as a fresh clone without ../shared
# runs it (WEIR_SHARED and WEIR_JSONSCHEMA_SUITE point at empty folders, so no network
# is used), stops with exit 1 and names each missing thing with the command that gets it;
# WEIR_ALLOW_MISSING=1 goes on (exit 0).
set -uo pipefail
REPO=${REPO:?set REPO to the source tree}
TMP=$(mktemp -d /tmp/weir-testdata.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/shared" "$TMP/suite"
fails=0
fail() { echo "FAIL [test_data_missing]: $*" >&2; fails=$((fails + 1)); }

WEIR_SHARED=$TMP/shared WEIR_JSONSCHEMA_SUITE=$TMP/suite bash "$REPO/scripts/test-data.sh" \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc with nothing there, want 1"
for needle in "JSON Schema Test Suite at commit $(cut -d' ' -f1 "$REPO/tests/suite/PIN")" \
    "git clone https://github.com/json-schema-org/JSON-Schema-Test-Suite" \
    "$TMP/shared/bench/duckdb" "WEIR_SHARED=DIR" "stopping"; do
    grep -qF -- "$needle" "$TMP/err" || fail "stderr does not name: $needle"
done
grep -q -- "-DWEIR_JSONSCHEMA_SUITE" "$TMP/out" && fail "a missing suite was handed to cmake"

WEIR_ALLOW_MISSING=1 WEIR_SHARED=$TMP/shared WEIR_JSONSCHEMA_SUITE=$TMP/suite \
    bash "$REPO/scripts/test-data.sh" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] || fail "WEIR_ALLOW_MISSING=1: exit $rc, want 0"
grep -qF "JSON Schema Test Suite" "$TMP/err" || fail "WEIR_ALLOW_MISSING=1 still names what is missing"

if [ "$fails" -ne 0 ]; then
    echo "--- stderr of the last run" >&2
    cat "$TMP/err" >&2
    exit 1
fi
echo "test_data_missing: passed"
