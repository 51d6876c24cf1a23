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

# An existing demo.key left readable (an older weir, a copy) is made 0600 again.
echo "$key" >"$PGDIR/demo.key"
chmod 644 "$PGDIR/demo.key"
run "$WEIR" up --no-gateway --pg-dir "$PGDIR"
expect_rc 0 "weir up with a demo.key of mode 644"
expect_eq "an existing demo.key is rewritten 0600" "$(stat -c %a "$PGDIR/demo.key")" 600

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

# --schemas-dir adds to the built-in examples, and a file named like one replaces it.
mkdir "$TMP/more"
printf '{"type":"object","required":["x"],"properties":{"x":{"type":"integer"}}}\n' >"$TMP/more/signup.v1.json"
printf '{"type":"object"}\n' >"$TMP/more/extra_thing.v1.json"
printf 'not json\n' >"$TMP/more/broken.v1.json"
P2=$TMP/var2/pg
CLEANUPS+=("'$FIX' stop '$P2' --remove >/dev/null 2>&1")
run "$WEIR" up --no-gateway --pg-dir "$P2" --schemas-dir "$TMP/more"
expect_rc 0 "weir up --schemas-dir with an added, a replacing and a broken file"
expect_err_has "the broken file is named" "broken.v1.json"
run "$FIX" up "$P2"
expect_rc 0 "start the second cluster"
ci2=$OUT
q2() { "$PSQL" -X -q -At "$ci2" -c "$1"; }
expect_eq "built-ins plus the added schema" \
    "$(q2 "SELECT string_agg(event_type, ',' ORDER BY event_type) FROM event_schemas")" \
    "api_metric,extra_thing,frontend_error,page_view,signup"
expect_eq "signup v1 is the replacing file" \
    "$(q2 "SELECT schema->'required'->>0 FROM event_schemas WHERE event_type = 'signup'")" x
run "$FIX" stop "$P2" --remove
expect_rc 0 "stop the second cluster"

# A weir binary copied into an empty folder, no checkout beside it: the built-in example
# schemas are loaded, then the gateway serves there and Ctrl-C drains it.
mkdir -m 755 "$TMP/alone"
cp "$WEIR" "$TMP/alone/weir"
PA=$TMP/alone/var/pg
CLEANUPS+=("'$FIX' stop '$PA' --remove >/dev/null 2>&1")
run bash -c "cd '$TMP/alone' && ./weir up --no-gateway"
expect_rc 0 "a copied weir: weir up --no-gateway in an empty folder"
akey=$(printf '%s\n' "$OUT" | sed -n 's/^  \(weir_[A-Za-z0-9_-]*\)$/\1/p')
check "a copied weir prints a demo key" matches "$akey" '^weir_[A-Za-z0-9_-]{43}$'
run bash -c "cd '$TMP/alone' && ./weir schema list"
expect_rc 0 "a copied weir: schema list"
for t in page_view signup api_metric frontend_error; do
    check "built-in example schema $t loaded" matches "$OUT" "(^|"$'\n'")$t +1 active "
done
# serve_and_post WHAT USER_ID CMD...: runs CMD in the copied weir's folder until it
# serves, posts one signup with USER_ID, stops it with SIGINT (Ctrl-C), and checks the
# 202, the exit status 0 and the event in ./var/lake.
serve_and_post() {
    local what=$1 uid=$2
    shift 2
    rm -f "$TMP/alone/ready"
    (
        cd "$TMP/alone" || exit 1
        WEIR_READY_FILE=$TMP/alone/ready exec "$@" >"$TMP/alone/serve.out" 2>"$TMP/alone/serve.err"
    ) &
    local spid=$!
    CLEANUPS+=("kill -9 $spid 2>/dev/null")
    for _ in $(seq 600); do
        [ -s "$TMP/alone/ready" ] && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    local port
    port=$(cat "$TMP/alone/ready" 2>/dev/null)
    check "$what serves (ready file)" matches "$port" '^[0-9]+$'
    # The port is written when the socket listens; events are taken once the registry is
    # loaded, which /readyz reports.
    local ready=
    if [[ $port =~ ^[0-9]+$ ]]; then
        for _ in $(seq 300); do
            ready=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
            [ "$ready" == 200 ] && break
            sleep 0.1
        done
    fi
    expect_eq "$what is ready" "$ready" 200
    if [[ $port =~ ^[0-9]+$ ]]; then
        local status
        status=$(curl -sS -o "$TMP/alone/resp" -w '%{http_code}' "http://127.0.0.1:$port/v1/events" \
            -H "Authorization: Bearer $akey" -H 'Content-Type: application/json' \
            -d "{\"event_type\":\"signup\",\"payload\":{\"user_id\":$uid,\"plan\":\"team\",\"method\":\"github\"}}")
        expect_eq "$what accepts an event" "$status" 202
    fi
    kill -INT "$spid" 2>/dev/null
    wait "$spid"
    expect_eq "$what exits 0 on SIGINT" "$?" 0
    local lines
    lines=$(find "$TMP/alone/var/lake" -name '*.gz' -exec zcat {} + 2>/dev/null | grep -c "\"user_id\":$uid[,}]")
    expect_eq "$what: the event is in ./var/lake" "$lines" 1
}
# `weir gateway` connects to the embedded cluster but does not start it: started here.
run "$FIX" start "$PA"
expect_rc 0 "start the copied weir's cluster"
serve_and_post "a copied weir gateway" 7 ./weir gateway --listen 127.0.0.1:0
run "$FIX" stop "$PA"
expect_rc 0 "stop the copied weir's cluster"
serve_and_post "a copied weir up" 8 ./weir up --listen 127.0.0.1:0
run "$FIX" running "$PA"
expect_rc 1 "the copied weir stopped its cluster"

# A folder the postgres user cannot reach is refused with a message, not a hang.
if [ "$(id -u)" -eq 0 ]; then
    mkdir -m 700 "$TMP/private"
    run "$WEIR" up --no-gateway --pg-dir "$TMP/private/pg" --schemas-dir "$REPO/schemas"
    expect_rc 1 "weir up in a folder postgres cannot reach"
    expect_err_line "weir up in a folder postgres cannot reach" "cannot reach"
    # The same with the defaults, started from such a folder (./var/pg below a 0700 one).
    mkdir -m 700 "$TMP/private/cwd"
    run bash -c "cd '$TMP/private/cwd' && '$WEIR' up --no-gateway"
    expect_rc 1 "weir up started in a folder postgres cannot reach"
    expect_err_line "weir up started in a folder postgres cannot reach" "cannot reach"
fi
# A path too long for a Unix socket is refused up front.
long=$TMP/$(printf 'd%.0s' {1..90})
run "$WEIR" up --no-gateway --pg-dir "$long" --schemas-dir "$REPO/schemas"
expect_rc 1 "weir up with a too-long --pg-dir"
expect_err_line "weir up with a too-long --pg-dir" "too long for a Unix socket"

finish
