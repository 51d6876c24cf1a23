#!/usr/bin/env bash
# up.sh - `weir up --no-gateway` in an empty working folder: creates the embedded cluster
# under ./var/pg, migrates, loads the example schemas, prints a demo key and a curl
# example, stops the cluster it started; a second run reuses everything.
. "$(dirname "$0")/lib.sh"
FIX=${WEIR_PGFIXTURE:?set WEIR_PGFIXTURE to the weir_pgfixture tool}
PGDIR=$TMP/var/pg
CLEANUPS+=("'$FIX' stop '$PGDIR' --remove >/dev/null 2>&1")
n_mig=$(ls "$REPO/migrations"/*.sql | wc -l)
n_schemas=$(ls "$REPO/schemas"/*.v*.json | wc -l)

run "$WEIR" up --no-gateway --schemas-dir "$REPO/schemas"
expect_rc 0 "first weir up"
key=$(printf '%s\n' "$OUT" | sed -n 's/^  \(weir_[A-Za-z0-9_-]*\)$/\1/p')
check "weir up prints a demo key ($key)" matches "$key" '^weir_[A-Za-z0-9_-]{43}$'
expect_out_has "weir up says where the key is kept" "var/pg/demo.key"
expect_out_has "weir up prints a curl example" "curl -sS http://127.0.0.1:8080/v1/events"
expect_out_has "the curl example uses the key" "Authorization: Bearer $key"
expect_out_has "the curl example sends a page_view" '"event_type":"page_view"'
check "the cluster is under ./var/pg" [ -f "$PGDIR/data/PG_VERSION" ]
check "demo.key holds the key" [ "$(cat "$PGDIR/demo.key")" == "$key" ]
expect_eq "demo.key is private" "$(stat -c %a "$PGDIR/demo.key")" 600
run "$FIX" running "$PGDIR"
expect_rc 1 "weir up stopped the cluster it started"

# The curl example's page_view is valid against the example schema it loaded.
payload=$(printf '%s\n' "$OUT" | sed -n "s/.*-d '\(.*\)'$/\1/p" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["payload"]))')
printf '%s\n' "$payload" >"$TMP/payload.ndjson"
run "$WEIR" validate --schema "$REPO/schemas/page_view.v1.json" "$TMP/payload.ndjson"
expect_rc 0 "the curl example's payload is a valid page_view"

# Other subcommands find the embedded cluster by --pg-dir, start it, and stop it again.
run "$WEIR" schema list --pg-dir "$PGDIR"
expect_rc 0 "schema list on the embedded cluster"
expect_eq "schema list: header + the examples" "$(printf '%s\n' "$OUT" | wc -l)" $((n_schemas + 1))
for t in page_view signup api_metric frontend_error; do
    check "example schema $t loaded as version 1" matches "$OUT" "(^|"$'\n'")$t +1 active "
done
run "$FIX" running "$PGDIR"
expect_rc 1 "schema list stopped the cluster it started"

# Second run: same key, nothing new.
run "$WEIR" up --no-gateway --schemas-dir "$REPO/schemas"
expect_rc 0 "second weir up"
key2=$(printf '%s\n' "$OUT" | sed -n 's/^  \(weir_[A-Za-z0-9_-]*\)$/\1/p')
expect_eq "second weir up shows the same key" "$key2" "$key"

# Look inside with the cluster started by the fixture tool: weir up must leave a server
# it did not start running.
run "$FIX" up "$PGDIR"
expect_rc 0 "start the cluster with the fixture tool"
ci=$OUT
q() { "$PSQL" -X -q -At "$ci" -c "$1"; }
expect_eq "one row per migration" "$(q "SELECT count(*) FROM weir_migrations")" "$n_mig"
expect_eq "no new schema versions" "$(q "SELECT count(*) || ' ' || max(version) FROM event_schemas")" "$n_schemas 1"
expect_eq "one demo key" "$(q "SELECT string_agg(name, ',') FROM api_keys")" demo
expect_eq "the demo key's hash" "$(q "SELECT encode(key_sha256, 'hex') FROM api_keys")" \
    "$(printf '%s' "$key" | sha256sum | cut -c1-64)"
run "$WEIR" up --no-gateway --pg-dir "$PGDIR" --schemas-dir "$REPO/schemas"
expect_rc 0 "weir up with the cluster already running"
run "$FIX" running "$PGDIR"
expect_rc 0 "weir up left running the server it did not start"
expect_eq "still 4 schemas" "$(q "SELECT count(*) FROM event_schemas")" "$n_schemas"

# A lost demo.key: a new demo key cannot take the name; the message says what to do.
rm "$PGDIR/demo.key"
run "$WEIR" up --no-gateway --pg-dir "$PGDIR" --schemas-dir "$REPO/schemas"
expect_rc 1 "weir up without demo.key while the demo key exists"
expect_err_line "weir up without demo.key" "revoke or rename the key named demo"

# A missing schemas folder is an error, after which the cluster is left as it was.
run "$WEIR" up --no-gateway --pg-dir "$PGDIR" --schemas-dir "$TMP/nothing"
expect_rc 1 "weir up with a missing --schemas-dir"
expect_err_has "weir up with a missing --schemas-dir" "--schemas-dir"

run "$FIX" stop "$PGDIR"
expect_rc 0 "stop the cluster"
run "$FIX" running "$PGDIR"
expect_rc 1 "stopped"
check "stop keeps the cluster" [ -f "$PGDIR/data/PG_VERSION" ]
run "$FIX" start "$PGDIR"
expect_rc 0 "start restarts the kept cluster"
expect_eq "restarted with its data" "$(q "SELECT count(*) FROM event_schemas")" "$n_schemas"
run "$FIX" stop "$PGDIR" --remove
expect_rc 0 "stop --remove"
check "the cluster is gone" [ ! -e "$PGDIR/data" ]

# A folder the postgres user cannot reach is refused with a message, not a hang.
if [ "$(id -u)" -eq 0 ]; then
    mkdir -m 700 "$TMP/private"
    run "$WEIR" up --no-gateway --pg-dir "$TMP/private/pg" --schemas-dir "$REPO/schemas"
    expect_rc 1 "weir up in a folder postgres cannot reach"
    expect_err_line "weir up in a folder postgres cannot reach" "cannot reach"
fi
# A path too long for a Unix socket is refused up front.
long=$TMP/$(printf 'd%.0s' {1..90})
run "$WEIR" up --no-gateway --pg-dir "$long" --schemas-dir "$REPO/schemas"
expect_rc 1 "weir up with a too-long --pg-dir"
expect_err_line "weir up with a too-long --pg-dir" "too long for a Unix socket"

finish
