#!/usr/bin/env bash
# schemas.sh - `weir schema add/list/check`: versions, refusals with a message, and the
# check that names every broken row an admin inserted by hand.
. "$(dirname "$0")/lib.sh"
db_create schemas
run "$WEIR" migrate
expect_rc 0 "migrate"
S=$REPO/schemas

run "$WEIR" schema add signup "$S/signup.v1.json"
expect_rc 0 "schema add"
expect_eq "schema add output" "$OUT" "signup version 1 added"
run "$WEIR" schema add signup "$S/signup.v1.json"
expect_eq "schema add takes the next version" "$OUT" "signup version 2 added"
run "$WEIR" schema add signup "$S/signup.v1.json" --version 7
expect_rc 0 "schema add --version 7"
expect_eq "schema add --version output" "$OUT" "signup version 7 added"
run "$WEIR" schema add signup "$S/signup.v1.json"
expect_eq "next after 7 is 8" "$OUT" "signup version 8 added"
run "$WEIR" schema add signup "$S/signup.v1.json" --version=7
expect_rc 1 "schema add over an existing version"
expect_err_line "schema add over an existing version" "signup version 7 exists already"
run "$WEIR" schema add page_view "$S/page_view.v1.json" --version 0
expect_eq "--version 0 means next" "$OUT" "page_view version 1 added"
for f in api_metric frontend_error; do
    run "$WEIR" schema add $f "$S/$f.v1.json"
    expect_rc 0 "schema add $f"
done
stored=$(sql "SELECT schema->>'title' FROM event_schemas WHERE event_type = 'signup' AND version = 7")
expect_eq "the document is stored" "$stored" signup

printf 'true' >"$TMP/true.json"
run "$WEIR" schema add anything "$TMP/true.json"
expect_rc 0 "a boolean schema is a schema"

# Refusals: a message naming the file and why, nothing stored. A file that is not a valid
# JSON Schema is a usage error (exit 2), as for `weir validate --schema`; a version that
# exists already is a refusal of the registry (exit 1).
count() { sql "SELECT count(*) FROM event_schemas"; }
n=$(count)
printf '{"type": "strnig"}' >"$TMP/badtype.json"
run "$WEIR" schema add signup "$TMP/badtype.json"
expect_usage "invalid schema (type strnig)" "badtype.json: not a valid JSON Schema"
printf '{"minimum": "x"}' >"$TMP/badmin.json"
run "$WEIR" schema add signup "$TMP/badmin.json"
expect_usage "invalid schema (minimum x)" "not a valid JSON Schema"
printf '{"type": "string", "pattern": "(["}' >"$TMP/badpattern.json"
run "$WEIR" schema add signup "$TMP/badpattern.json"
expect_usage "invalid schema (bad pattern)" "not a valid JSON Schema"
printf '{"$ref": "#/$defs/missing"}' >"$TMP/badref.json"
run "$WEIR" schema add signup "$TMP/badref.json"
expect_usage "invalid schema (dangling \$ref)" "not a valid JSON Schema"
printf '[1, 2]' >"$TMP/array.json"
run "$WEIR" schema add signup "$TMP/array.json"
expect_usage "an array is not a schema" "object or a boolean"
printf '{"type": "object",' >"$TMP/truncated.json"
run "$WEIR" schema add signup "$TMP/truncated.json"
expect_usage "bad JSON file" "truncated.json: line 1"
printf '{"type": "object", "type": "string"}' >"$TMP/dup.json"
run "$WEIR" schema add signup "$TMP/dup.json"
expect_usage "duplicate member names" "dup.json"
: >"$TMP/empty.json"
run "$WEIR" schema add signup "$TMP/empty.json"
expect_usage "empty file" "empty.json"
printf '\xff\xfe\x00\x01garbage\n\x7f' >"$TMP/binary.json"
run "$WEIR" schema add signup "$TMP/binary.json"
expect_usage "binary garbage" "binary.json"
run "$WEIR" schema add signup "$TMP/does-not-exist.json"
expect_usage "nonexistent file" "does-not-exist.json"
run "$WEIR" schema add signup "$TMP"
expect_usage "a folder as FILE" "$TMP"
run "$WEIR" schema add Sign-Up "$S/signup.v1.json"
expect_usage "bad event type" "'Sign-Up' does not match"
run "$WEIR" schema add "$(printf 'e%.0s' {1..65})" "$S/signup.v1.json"
expect_usage "event type of 65 characters" "does not match"
expect_eq "nothing stored by refusals" "$(count)" "$n"

# Parallel adds of the next version all succeed, each with a version of its own.
pids=()
for i in 1 2 3 4 5 6 7 8 9 10; do
    "$WEIR" schema add parallel "$S/signup.v1.json" >"$TMP/p$i.out" 2>"$TMP/p$i.err" &
    pids+=($!)
done
for i in 1 2 3 4 5 6 7 8 9 10; do
    wait "${pids[$((i - 1))]}"
    rc=$?
    expect_eq "parallel schema add $i" "$rc" 0
    [ "$rc" -eq 0 ] || cat "$TMP/p$i.err" >&2
done
expect_eq "parallel adds got versions 1..10" \
    "$(sql "SELECT string_agg(version::text, ',' ORDER BY version) FROM event_schemas WHERE event_type = 'parallel'")" \
    "$(seq -s, 1 10)"
expect_eq "each parallel add printed its own version" \
    "$(cat "$TMP"/p*.out | sort -u | wc -l)" 10
sql "DELETE FROM event_schemas WHERE event_type = 'parallel'"

# list
run "$WEIR" schema list
expect_rc 0 "schema list"
expect_eq "schema list: header + one line per version" "$(printf '%s\n' "$OUT" | wc -l)" $((n + 1))
expect_out_has "schema list header" "EVENT_TYPE"
check "schema list shows signup 7 active" matches "$OUT" $'(^|\n)signup +7 active '
run "$WEIR" schema list signup
expect_rc 0 "schema list signup"
expect_eq "schema list signup: header + 4" "$(printf '%s\n' "$OUT" | wc -l)" 5
run "$WEIR" schema list nothing_here
expect_rc 0 "schema list of an unknown type"
expect_eq "schema list of an unknown type: header only" "$(printf '%s\n' "$OUT" | wc -l)" 1
sql "UPDATE event_schemas SET active = false WHERE event_type = 'signup' AND version = 2"
run "$WEIR" schema list signup
check "schema list shows retired" matches "$OUT" $'(^|\n)signup +2 retired '

# check: all good
run "$WEIR" schema check
expect_rc 0 "schema check, all valid"
expect_eq "schema check summary" "$OUT" "$n schemas checked, 0 invalid"

# check: rows inserted by hand, bypassing weir's checks
sql "INSERT INTO event_schemas (event_type, version, schema) VALUES
     ('broken_type', 1, '{\"type\": 12}'),
     ('broken_min', 3, '{\"minimum\": \"x\"}'),
     ('broken_pattern', 1, '{\"properties\": {\"a\": {\"pattern\": \"(unclosed\"}}}'),
     ('broken_ref', 1, '{\"\$ref\": \"https://example.com/elsewhere.json\"}'),
     ('signup', 9, '{\"required\": \"user_id\"}')"
sql "INSERT INTO event_schemas (event_type, version, schema, active) VALUES
     ('broken_retired', 1, '{\"maxLength\": -1}', false)"
run "$WEIR" schema check
expect_rc 1 "schema check with broken rows"
for row in "broken_type version 1: INVALID" "broken_min version 3: INVALID" \
    "broken_pattern version 1: INVALID" "broken_ref version 1: INVALID" \
    "signup version 9: INVALID" "broken_retired version 1 (retired): INVALID"; do
    expect_out_has "schema check names '$row'" "$row"
done
expect_eq "schema check: one line per broken row + summary" "$(printf '%s\n' "$OUT" | wc -l)" 7
expect_out_has "schema check summary" "$((n + 6)) schemas checked, 6 invalid"
check "schema check does not name good rows" bash -c '! printf "%s\n" "$0" | grep -qE "^(signup version [1278]|page_view|api_metric|frontend_error)"' "$OUT"

sql "DELETE FROM event_schemas WHERE event_type LIKE 'broken%' OR version = 9"
run "$WEIR" schema check
expect_rc 0 "schema check after the broken rows are gone"

finish
