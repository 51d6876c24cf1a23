#!/usr/bin/env bash
# test_pg_stop.sh - a hung Postgres (issue 10 item 8): the postmaster and every backend of a
# private cluster are SIGSTOPped for STOP_SECONDS (default 60) while a gateway
# runs. Ingest goes on (every request answered 202, promptly), the metrics show the
# registry's age growing and the failures counted, the log says why. An admin revokes a
# key during the stop; Postgres cannot take the write while stopped, so the revoke waits
# in its connection (psql, no connect timeout) and commits when Postgres resumes: after
# SIGCONT the gateway refuses that key within 2 s, and the other key keeps working.
# Nothing acknowledged is lost: every 202 is in the lake after the gateway drains.
# Uses the integration tests' helpers (run, check, finish, ...).
. "$(dirname "$0")/../integration/lib.sh"
STOP_S=${STOP_SECONDS:-60}
command -v curl >/dev/null || { echo "pg_stop: skipped: curl is not installed" >&2; exit 77; }
PGFIXTURE=${WEIR_PGFIXTURE:?set WEIR_PGFIXTURE to the weir_pgfixture executable}

# A cluster of our own: the shared fixture must not be stopped under other tests.
PGDIR=$TMP/pg
if ! "$PGFIXTURE" start "$PGDIR" --fresh >"$TMP/pgstart.out" 2>&1; then
    fail "cannot start a private cluster: $(cat "$TMP/pgstart.out")"
    finish
fi
STOPPED=""
CLEANUPS+=('[ -n "$STOPPED" ] && kill -CONT $STOPPED 2>/dev/null; "$PGFIXTURE" stop "$PGDIR" --remove >/dev/null 2>&1')
export WEIR_DATABASE_URL="host=$PGDIR/run user=weir dbname=weir"
sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$WEIR_DATABASE_URL" -c "$1"; }

run "$WEIR" migrate
expect_rc 0 "migrate"
printf '{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}' >"$TMP/ping.json"
run "$WEIR" schema add ping "$TMP/ping.json"
expect_rc 0 "schema add ping"
run "$WEIR" key create --name doomed
expect_rc 0 "key create doomed"
DOOMED=$OUT
run "$WEIR" key create --name steady
expect_rc 0 "key create steady"
STEADY=$OUT

# The gateway, with the default registry settings (TTL 30 s, heartbeat 5 s).
READY=$TMP/ready
LOG=$TMP/gateway.log
WEIR_LOG_LEVEL=${GATEWAY_LOG_LEVEL:-warn} WEIR_READY_FILE=$READY "$WEIR" gateway --listen 127.0.0.1:0 --spool-dir "$TMP/spool" \
    --lake "file://$TMP/lake" --flush-interval 1s >"$LOG" 2>&1 &
GW=$!
CLEANUPS+=('kill -KILL $GW 2>/dev/null')
for _ in $(seq 1 300); do
    [ -s "$READY" ] && break
    kill -0 $GW 2>/dev/null || break
    sleep 0.1
done
PORT=$(cat "$READY" 2>/dev/null)
if [ -z "$PORT" ]; then
    fail "the gateway did not start: $(tail -c 2000 "$LOG")"
    finish
fi
URL=http://127.0.0.1:$PORT

ACCEPTED=0
post() { # post KEY: CODE is the status; ACCEPTED counts the 202s
    CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' -d '{"event_type":"ping","payload":{"n":1}}' \
        "$URL/v1/events")
    [ "$CODE" = 202 ] && ACCEPTED=$((ACCEPTED + 1))
}
metric() { curl -s --max-time 5 "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

post "$DOOMED"
expect_eq "doomed key accepted before the stop" "$CODE" 202
post "$STEADY"
expect_eq "steady key accepted before the stop" "$CODE" 202
fail0=$(metric weir_registry_reload_failures_total)
check "metrics have weir_registry_age_seconds" [ -n "$(metric weir_registry_age_seconds)" ]
check "metrics have weir_registry_reload_failures_total" [ -n "$fail0" ]

# Stop the postmaster and all its children (backends, checkpointer, walwriter, ...).
PM=$(head -n 1 "$PGDIR/data/postmaster.pid")
STOPPED="$PM $(pgrep -P "$PM" | tr '\n' ' ')"
kill -STOP $STOPPED
T_STOP=$(now)
echo "pg_stop: stopped $STOPPED for $STOP_S s" >&2

bad=0 slow=0 n=0 revoker="" age_first="" max_s=0
while awk -v e="$(elapsed "$T_STOP")" -v s="$STOP_S" 'BEGIN { exit !(e < s) }'; do
    for k in "$DOOMED" "$STEADY"; do
        t=$(now)
        post "$k"
        took=$(elapsed "$t")
        n=$((n + 1))
        [ "$CODE" = 202 ] || { bad=$((bad + 1)); echo "pg_stop: got $CODE during the stop" >&2; }
        awk -v x="$took" 'BEGIN { exit !(x > 1.0) }' && slow=$((slow + 1))
        max_s=$(awk -v a="$max_s" -v b="$took" 'BEGIN { print (b > a ? b : a) }')
    done
    [ -z "$age_first" ] && age_first=$(metric weir_registry_age_seconds)
    # Halfway through, the admin revokes the doomed key: the write waits in psql's
    # connection until Postgres resumes (no connect timeout), as an admin's would.
    if [ -z "$revoker" ] && awk -v e="$(elapsed "$T_STOP")" -v s="$STOP_S" 'BEGIN { exit !(e >= s / 2) }'; then
        sql "UPDATE api_keys SET revoked = true, revoked_at = now() WHERE name = 'doomed'" \
            >"$TMP/revoke.out" 2>&1 &
        revoker=$!
    fi
    sleep 0.5
done
age_last=$(metric weir_registry_age_seconds)
fail_last=$(metric weir_registry_reload_failures_total)
connected=$(metric weir_registry_connected)
echo "pg_stop: $n requests during the stop, slowest ${max_s}s; registry age $age_first -> $age_last s," \
    "failures $fail0 -> $fail_last" >&2
expect_eq "every request during the stop got 202" "$bad" 0
expect_eq "no request during the stop took over a second" "$slow" 0
check "the registry's age grew through the stop ($age_first -> $age_last)" \
    awk -v a="$age_first" -v b="$age_last" -v s="$STOP_S" 'BEGIN { exit !(b - a >= s * 0.6) }'
check "the failures are counted ($fail0 -> $fail_last)" \
    awk -v a="$fail0" -v b="$fail_last" 'BEGIN { exit !(b > a) }'
expect_eq "the loader says it is not connected" "$connected" 0
check "the log says Postgres is unavailable and why" \
    grep -qE 'registry: Postgres unavailable.*(did not answer within|no answer within)' "$LOG"
check "the revoke is still waiting for Postgres" kill -0 "$revoker"

# Resume Postgres: the queued revoke commits, the gateway reconnects and refuses the key.
kill -CONT $STOPPED
T_CONT=$(now)
STOPPED=""
refused=""
trail=""
while awk -v e="$(elapsed "$T_CONT")" 'BEGIN { exit !(e < 10) }'; do
    post "$DOOMED"
    trail="$trail $CODE@$(elapsed "$T_CONT")"
    if [ "$CODE" = 401 ]; then
        refused=$(elapsed "$T_CONT")
        break
    fi
    sleep 0.05
done
wait "$revoker"
expect_eq "the revoke committed after SIGCONT" "$?" 0
echo "pg_stop: the revoked key was refused $refused s after SIGCONT" >&2
awk -v x="${refused:-99}" 'BEGIN { exit !(x > 2.0) }' &&
    echo "pg_stop: answers after SIGCONT (status@seconds):$trail" >&2
check "the key revoked during the stop is refused within 2 s of SIGCONT (took ${refused:-over 10} s)" \
    awk -v x="${refused:-99}" 'BEGIN { exit !(x <= 2.0) }'
post "$STEADY"
expect_eq "the steady key still works" "$CODE" 202
check "the log says Postgres is back" grep -q 'registry: Postgres is back after' "$LOG"
expect_eq "connected again" "$(metric weir_registry_connected)" 1
check "the registry is current again" \
    awk -v x="$(metric weir_registry_age_seconds)" 'BEGIN { exit !(x < 10) }'

# Drain and count: every acknowledged event is in the lake.
kill -TERM $GW
wait $GW
expect_eq "gateway exit status after SIGTERM" "$?" 0
in_lake=$(find "$TMP/lake" -type f -exec zcat -f {} + 2>/dev/null | grep -c '"event_type":"ping"')
expect_eq "every 202 is in the lake" "$in_lake" "$ACCEPTED"
check "no sanitizer report in the gateway log" file_lacks "$LOG" "Sanitizer"
grep -E "registry" "$LOG" | cut -c1-300 >&2

finish
