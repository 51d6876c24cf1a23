#!/usr/bin/env bash
# migrate.sh - `weir migrate`: concurrent runs both succeed and leave one copy of
# everything, a second run is a no-op, a changed migration is refused.
. "$(dirname "$0")/lib.sh"
db_create migrate

n_files=$(ls "$REPO/migrations"/*.sql | wc -l)

# Four migrators at once, on an empty database.
pids=()
for i in 1 2 3 4; do
    "$WEIR" migrate >"$TMP/m$i.out" 2>"$TMP/m$i.err" &
    pids+=($!)
done
total=0
for i in 1 2 3 4; do
    wait "${pids[$((i - 1))]}"
    rc=$?
    expect_eq "concurrent migrate $i exit" "$rc" 0
    if [ "$rc" -ne 0 ]; then cat "$TMP/m$i.err" >&2; fi
    if grep -qE 'Sanitizer|runtime error:' "$TMP/m$i.err"; then fail "migrate $i: sanitizer report"; fi
    line=$(cat "$TMP/m$i.out")
    case $line in
        "0 migrations applied") ;;
        "$n_files migration applied" | "$n_files migrations applied") total=$((total + n_files)) ;;
        *) fail "migrate $i printed '$line'" ;;
    esac
done
# Exactly one of them applied everything; the others waited and found nothing to do.
expect_eq "migrations applied in total" "$total" "$n_files"

expect_eq "one row per migration" "$(sql "SELECT count(*) FROM weir_migrations")" "$n_files"
expect_eq "distinct versions" "$(sql "SELECT count(DISTINCT version) FROM weir_migrations")" "$n_files"
expect_eq "versions are 1..N" "$(sql "SELECT string_agg(version::text, ',' ORDER BY version) FROM weir_migrations")" \
    "$(seq -s, 1 "$n_files")"
for t in weir_migrations event_schemas api_keys; do
    expect_eq "table $t exists once" \
        "$(sql "SELECT count(*) FROM pg_class WHERE relname = '$t' AND relkind = 'r'")" 1
done
expect_eq "notify triggers exist once" \
    "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname IN ('event_schemas_notify', 'api_keys_notify')")" 2
expect_eq "checksums recorded" "$(sql "SELECT count(*) FROM weir_migrations WHERE sha256 ~ '^[0-9a-f]{64}$'")" "$n_files"
sum=$(sha256sum "$REPO/migrations/0001_registry.sql" | cut -c1-64)
expect_eq "checksum of 0001" "$(sql "SELECT sha256 FROM weir_migrations WHERE version = 1")" "$sum"

# A second run is a no-op.
before=$(sql "SELECT string_agg(version || ':' || applied_at, ',') FROM weir_migrations")
run "$WEIR" migrate
expect_rc 0 "second migrate"
expect_eq "second migrate output" "$OUT" "0 migrations applied"
expect_eq "second migrate leaves the records alone" \
    "$(sql "SELECT string_agg(version || ':' || applied_at, ',') FROM weir_migrations")" "$before"

# The flag works as well as the environment variable, and wins over it.
url=$WEIR_DATABASE_URL
WEIR_DATABASE_URL="host=$TMP/nowhere dbname=x" run "$WEIR" migrate --database-url "$url"
expect_rc 0 "migrate --database-url beats WEIR_DATABASE_URL"

# A libpq URI works as well as a conninfo string.
sockdir=$(printf '%s' "$WEIR_DATABASE_URL" | sed -n 's/.*host=\([^ ]*\).*/\1/p')
WEIR_DATABASE_URL="postgresql://weir@/$DB?host=$sockdir" run "$WEIR" migrate
expect_rc 0 "migrate with a postgresql:// URI"
expect_eq "migrate with a URI: nothing to do" "$OUT" "0 migrations applied"

# A migration changed after it was applied is refused, naming it.
sql "UPDATE weir_migrations SET sha256 = repeat('0', 64) WHERE version = 1"
run "$WEIR" migrate
expect_rc 1 "migrate with a changed migration"
expect_err_line "migrate with a changed migration" "0001_registry.sql was changed"
sql "UPDATE weir_migrations SET sha256 = '$sum' WHERE version = 1"

# A migrator holding the lock makes the next one wait, not fail. A psql session takes the
# lock and keeps it until told; `weir migrate` must be seen waiting for it (an ungranted
# advisory lock in this database), still running, and finish with 0 once it is released.
wait_for() { # wait_for WHAT SECONDS CMD...: until CMD succeeds, or fail at the deadline
    local what=$1 end=$((SECONDS + $2))
    shift 2
    until "$@"; do
        if [ "$SECONDS" -ge "$end" ]; then
            fail "$what: not within the deadline"
            return 1
        fi
        sleep 0.05
    done
    ok
}
advisory_locks() { # advisory_locks granted|waiting: this database's count
    local cond=granted
    [ "$1" = waiting ] && cond="NOT granted"
    sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND $cond
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
}
lock_count_is() { [ "$(advisory_locks "$1")" = "$2" ]; }
mkfifo "$TMP/holder.in"
"$PSQL" -X -q -At -v ON_ERROR_STOP=1 "$WEIR_DATABASE_URL" <"$TMP/holder.in" >"$TMP/holder.out" 2>&1 &
holder=$!
exec 9>"$TMP/holder.in"
echo "SELECT pg_advisory_lock(7295634101);" >&9
wait_for "the holder has the lock" 20 lock_count_is granted 1
"$WEIR" migrate >"$TMP/waiter.out" 2>"$TMP/waiter.err" &
waiter=$!
wait_for "migrate waits for the held lock" 20 lock_count_is waiting 1
check "migrate is still running while the lock is held" kill -0 "$waiter"
echo "SELECT pg_advisory_unlock(7295634101);" >&9
exec 9>&- # end of input: the holder's psql exits
wait "$waiter"
expect_eq "migrate after the lock is released: exit" "$?" 0
expect_eq "migrate after the lock is released: output" "$(cat "$TMP/waiter.out")" "0 migrations applied"
check "migrate after the lock is released: no sanitizer report" \
    file_lacks "$TMP/waiter.err" "runtime error:"
wait "$holder"
expect_eq "the holder session ended cleanly ($(cat "$TMP/holder.out"))" "$?" 0

finish
