#!/usr/bin/env bash
# validate.sh - `weir validate` on the example schemas: one result line per NDJSON value,
# exit 0/1/2, a broken line reported and the next one still checked, --draft, --format,
# --ref and --ref-dir. Offline: no database.
. "$(dirname "$0")/lib.sh"
S=$REPO/schemas

# Each output line must be a JSON object of the documented shape.
check_shape() { # check_shape WHAT: every line of $OUT
    python3 - "$1" "$TMP/out" <<'PY' || fail "$1: output shape"
import json, sys
what, path = sys.argv[1], sys.argv[2]
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    v = json.loads(line)
    assert isinstance(v, dict) and isinstance(v.get("valid"), bool), (n, line)
    if v["valid"]:
        assert v == {"valid": True}, (n, line)
        continue
    assert set(v) <= {"valid", "errors", "truncated"}, (n, line)
    assert isinstance(v["errors"], list) and v["errors"], (n, line)
    for e in v["errors"]:
        if e["code"] == "invalid_json":
            assert isinstance(e["message"], str) and e["message"], (n, e)
            continue
        assert e["code"] == "schema", (n, e)
        for k in ("instance_path", "schema_path", "keyword", "message"):
            assert isinstance(e[k], str), (n, k, e)
        assert e["instance_path"] == "" or e["instance_path"].startswith("/"), (n, e)
        assert e["message"], (n, e)
PY
    ok
}

lines_of() { printf '%s\n' "$OUT" | wc -l; }
line() { printf '%s\n' "$OUT" | sed -n "$1p"; }

# --- page_view: valid, invalid, broken, valid ----------------------------------------
cat >"$TMP/pv.ndjson" <<'J'
{"url": "https://example.com/pricing", "path": "/pricing", "anonymous_id": "a1b2c3d4e5"}
{"url": "https://example.com/", "path": "pricing", "anonymous_id": "short"}
{"url": "https://example.com/", "path": "/x",
{"url": "https://example.com/a", "path": "/a", "anonymous_id": "0123456789", "viewport": {"width": 1280, "height": 800}, "utm": {"source": "news"}, "viewed_at": "2026-11-21T10:00:00Z"}
J
run "$WEIR" validate --schema "$S/page_view.v1.json" "$TMP/pv.ndjson"
expect_rc 1 "page_view with an invalid and a broken line"
expect_eq "page_view: one line per value" "$(lines_of)" 4
check_shape "page_view"
expect_eq "page_view line 1" "$(line 1)" '{"valid": true}'
l2=$(line 2)
check "page_view line 2 is invalid ($l2)" has "$l2" '{"valid": false, "errors": ['
check "page_view line 2 names /path" has "$l2" '"instance_path": "/path"'
check "page_view line 2 names /anonymous_id" has "$l2" '"instance_path": "/anonymous_id"'
expect_out_has "the broken line is reported as invalid JSON" '"code": "invalid_json"'
check "the broken line's message names its line" matches "$(line 3)" 'line [34] column'
expect_eq "the line after a broken one is still checked" "$(line 4)" '{"valid": true}'

# The same through stdin, and through "-".
run_stdin "$TMP/pv.ndjson" "$WEIR" validate --schema "$S/page_view.v1.json"
expect_rc 1 "page_view from stdin"
expect_eq "page_view from stdin: 4 lines" "$(lines_of)" 4
run_stdin "$TMP/pv.ndjson" "$WEIR" validate --schema "$S/page_view.v1.json" -
expect_eq "page_view from -: 4 lines" "$(lines_of)" 4

# --- every example schema: all valid -> 0, one invalid -> 1 -------------------------
cat >"$TMP/signup_ok.ndjson" <<'J'
{"user_id": 1, "plan": "free", "method": "password"}
{"user_id": 42, "plan": "team", "method": "github", "email_domain": "example.com", "referral_code": "ABC123", "country": "FR", "marketing_opt_in": true, "trial_days": 14, "signed_up_at": "2026-11-21T10:00:00.123Z"}
{"user_id": 7, "plan": "enterprise", "method": "saml", "referral_code": null}
J
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/signup_ok.ndjson"
expect_rc 0 "signup: all valid"
expect_eq "signup: 3 valid lines" "$(printf '%s\n' "$OUT" | grep -c '^{"valid": true}$')" 3
cat >"$TMP/signup_bad.ndjson" <<'J'
{"user_id": 0, "plan": "free", "method": "password"}
{"user_id": 1, "plan": "gold", "method": "password"}
{"user_id": 1, "plan": "free"}
{"user_id": 1, "plan": "free", "method": "password", "country": "France"}
{"user_id": 1, "plan": "free", "method": "password", "extra": true}
{"user_id": 1, "plan": "free", "method": "password", "signed_up_at": "yesterday"}
{"user_id": "1", "plan": "free", "method": "password"}
[]
"signup"
J
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/signup_bad.ndjson"
expect_rc 1 "signup: all invalid"
expect_eq "signup: 9 invalid lines" "$(printf '%s\n' "$OUT" | grep -c '^{"valid": false, "errors": \[')" 9
check_shape "signup invalid"
for kw in minimum enum required pattern additionalProperties format type; do
    expect_out_has "signup errors include keyword $kw" "\"keyword\": \"$kw\""
done

cat >"$TMP/metric.ndjson" <<'J'
{"service": "checkout", "method": "POST", "route": "/v1/orders", "status": 201, "duration_ms": 12.5, "client_ip": "192.0.2.1", "tags": ["a", "b"]}
{"service": "checkout", "method": "GET", "route": "/v1/orders", "status": 200, "duration_ms": 3, "client_ip": "2001:db8::1"}
{"service": "checkout", "method": "FETCH", "route": "v1", "status": 99, "duration_ms": -1, "client_ip": "999.1.1.1", "tags": ["a", "a"]}
J
run "$WEIR" validate --schema "$S/api_metric.v1.json" "$TMP/metric.ndjson"
expect_rc 1 "api_metric: two valid, one invalid"
expect_eq "api_metric line 1" "$(line 1)" '{"valid": true}'
expect_eq "api_metric line 2" "$(line 2)" '{"valid": true}'
for kw in enum pattern minimum uniqueItems; do
    expect_out_has "api_metric errors include $kw" "\"keyword\": \"$kw\""
done
check_shape "api_metric"

cat >"$TMP/fe.ndjson" <<'J'
{"message": "TypeError: x is undefined", "url": "https://app.example.com/cart", "release": "1.4.2", "stack": [{"function": "render", "file": "app.js", "line": 10, "column": 4}], "handled": false, "occurred_in": "render", "user_id": null}
{"message": "", "url": "https://app.example.com/", "release": "v1", "stack": [{"function": "f"}]}
J
run "$WEIR" validate --schema "$S/frontend_error.v1.json" "$TMP/fe.ndjson"
expect_rc 1 "frontend_error: one valid, one invalid"
expect_eq "frontend_error line 1" "$(line 1)" '{"valid": true}'
expect_out_has "frontend_error: nested error path" '"instance_path": "/stack/0"'
check_shape "frontend_error"

# --- input edge cases ---------------------------------------------------------------
: >"$TMP/empty.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/empty.ndjson"
expect_rc 0 "empty input"
check "empty input prints nothing" [ -z "$OUT" ]
printf '\n\n   \n' >"$TMP/blank.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/blank.ndjson"
expect_rc 0 "blank lines only"
check "blank lines print nothing" [ -z "$OUT" ]
printf '{"user_id": 1, "plan": "free", "method": "password"}' >"$TMP/nonl.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/nonl.ndjson"
expect_rc 0 "last line without a newline"
expect_eq "last line without a newline" "$OUT" '{"valid": true}'
printf '{"user_id": 1, "plan": "free", "method": "password"}\n{"user_id": ' >"$TMP/trunc.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/trunc.ndjson"
expect_rc 1 "truncated last line"
expect_eq "truncated last line: 2 results" "$(lines_of)" 2
check_shape "truncated last line"
printf '{"a": 1, "a": 2}\n\xff\xfe\n{"user_id": 1, "plan": "free", "method": "password"}\n' >"$TMP/hostile.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/hostile.ndjson"
expect_rc 1 "duplicate names and invalid UTF-8"
expect_eq "hostile: 3 results" "$(lines_of)" 3
expect_eq "hostile: the good line after them" "$(line 3)" '{"valid": true}'
check_shape "hostile"
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$TMP/deep.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/deep.ndjson"
expect_rc 1 "100000 nested arrays"
expect_eq "deep nesting: one result" "$(lines_of)" 1
check_shape "deep nesting"
python3 -c '
import json
for i in range(20000):
    print(json.dumps({"user_id": i + 1, "plan": "free", "method": "password"}))
print(json.dumps({"user_id": 0, "plan": "free", "method": "password"}))' >"$TMP/many.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/many.ndjson"
expect_rc 1 "20001 lines, the last invalid"
expect_eq "20001 results" "$(lines_of)" 20001
expect_eq "20000 valid" "$(printf '%s\n' "$OUT" | grep -c '^{"valid": true}$')" 20000
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/missing.ndjson"
expect_usage "missing instances file" "missing.ndjson"

# --- the schema itself --------------------------------------------------------------
printf '{"type": "strnig"}' >"$TMP/badschema.json"
run "$WEIR" validate --schema "$TMP/badschema.json" "$TMP/signup_ok.ndjson"
expect_usage "invalid schema" "badschema.json: not a valid JSON Schema"
check "invalid schema: no results" [ -z "$OUT" ]
printf '{"type": ' >"$TMP/notjson.json"
run "$WEIR" validate --schema "$TMP/notjson.json" "$TMP/signup_ok.ndjson"
expect_usage "schema not JSON" "notjson.json"
printf '{"pattern": "(["}' >"$TMP/badpattern.json"
run "$WEIR" validate --schema "$TMP/badpattern.json" "$TMP/signup_ok.ndjson"
expect_usage "schema with a bad pattern" "not a valid JSON Schema"
printf '{"$ref": "https://example.com/nowhere.json"}' >"$TMP/farref.json"
run "$WEIR" validate --schema "$TMP/farref.json" "$TMP/signup_ok.ndjson"
expect_usage "schema with an unresolvable \$ref (never fetched)" "not a valid JSON Schema"

# --- --draft ------------------------------------------------------------------------
# prefixItems is a 2020-12 keyword (unknown, so ignored, in draft 7); an array `items` is
# draft 7's tuple form and not a valid 2020-12 schema.
printf '{"prefixItems": [{"type": "integer"}]}' >"$TMP/prefix.json"
printf '["x"]\n' >"$TMP/x.ndjson"
run "$WEIR" validate --schema "$TMP/prefix.json" "$TMP/x.ndjson"
expect_rc 1 "2020-12 by default: prefixItems applies"
run "$WEIR" validate --schema "$TMP/prefix.json" --draft=2020-12 "$TMP/x.ndjson"
expect_rc 1 "--draft=2020-12: prefixItems applies"
run "$WEIR" validate --schema "$TMP/prefix.json" --draft 7 "$TMP/x.ndjson"
expect_rc 0 "--draft 7: prefixItems is unknown"
printf '{"items": [{"type": "integer"}]}' >"$TMP/tuple.json"
printf '[1, "x"]\n["x"]\n' >"$TMP/tuple.ndjson"
run "$WEIR" validate --schema "$TMP/tuple.json" --draft 7 "$TMP/tuple.ndjson"
expect_rc 1 "--draft 7: tuple items"
expect_eq "--draft 7: tuple items, first valid" "$(line 1)" '{"valid": true}'
expect_eq "--draft 7: tuple items, second invalid" "$(lines_of)" 2
run "$WEIR" validate --schema "$TMP/tuple.json" "$TMP/tuple.ndjson"
expect_usage "2020-12: an array items is not a schema" "not a valid JSON Schema"
printf '{"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "integer"}]}' >"$TMP/tuple7.json"
run "$WEIR" validate --schema "$TMP/tuple7.json" "$TMP/tuple.ndjson"
expect_rc 1 "\$schema draft-07 beats the default dialect"
expect_eq "\$schema draft-07: first valid" "$(line 1)" '{"valid": true}'

# --- --format -----------------------------------------------------------------------
printf '{"user_id": 1, "plan": "free", "method": "password", "signed_up_at": "yesterday"}\n' >"$TMP/fmt.ndjson"
run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/fmt.ndjson"
expect_rc 1 "format asserted by default"
run "$WEIR" validate --schema "$S/signup.v1.json" --format annotate "$TMP/fmt.ndjson"
expect_rc 0 "--format annotate"
WEIR_FORMAT=annotate run "$WEIR" validate --schema "$S/signup.v1.json" "$TMP/fmt.ndjson"
expect_rc 0 "WEIR_FORMAT=annotate"
WEIR_FORMAT=annotate run "$WEIR" validate --schema "$S/signup.v1.json" --format assert "$TMP/fmt.ndjson"
expect_rc 1 "--format assert beats WEIR_FORMAT"

# --- --ref and --ref-dir ------------------------------------------------------------
printf '{"$ref": "https://example.com/signup.json"}' >"$TMP/via_ref.json"
run "$WEIR" validate --schema "$TMP/via_ref.json" --ref "https://example.com/signup.json=$S/signup.v1.json" "$TMP/signup_bad.ndjson"
expect_rc 1 "--ref: the referenced schema applies"
expect_eq "--ref: 9 invalid" "$(printf '%s\n' "$OUT" | grep -c '"valid": false')" 9
run "$WEIR" validate --schema "$TMP/via_ref.json" --ref "https://example.com/signup.json=$S/signup.v1.json" "$TMP/signup_ok.ndjson"
expect_rc 0 "--ref: valid instances"
printf '{"$ref": "https://example.com/s/page_view.v1.json"}' >"$TMP/via_dir.json"
run "$WEIR" validate --schema "$TMP/via_dir.json" --ref-dir "https://example.com/s=$S" "$TMP/pv.ndjson"
expect_rc 1 "--ref-dir"
expect_eq "--ref-dir: 4 results" "$(lines_of)" 4
expect_eq "--ref-dir: line 1 valid" "$(line 1)" '{"valid": true}'
run "$WEIR" validate --schema "$TMP/via_ref.json" --ref "https://example.com/signup.json=$TMP/missing.json" "$TMP/a.ndjson"
expect_usage "--ref to a missing file" "missing.json"
run "$WEIR" validate --schema "$TMP/via_dir.json" --ref-dir "https://example.com/s=$TMP/nodir" "$TMP/a.ndjson"
expect_usage "--ref-dir to a missing folder" "nodir"

finish
