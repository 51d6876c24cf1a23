# lib.sh - shared helpers of the integration tests (sourced, bash). Each test runs the real
# `weir` binary ($WEIR) and counts failures; `finish` prints the tally and sets the exit.
#   run CMD...        runs CMD; $RC, $OUT (stdout) and $ERR (stderr) hold the result, and a
#                     crash (signal, sanitizer report) is always a failure
#   expect_rc N WHAT  checks $RC
#   expect_usage WHAT NEEDLE   exit 2 with one stderr line "weir: ..." containing NEEDLE
#   db_create NAME    makes database t_NAME on the fixture cluster and exports
#                     WEIR_DATABASE_URL for it (dropped again at exit)
#   sql SQL           runs SQL in that database, prints unaligned tuples
set -u

WEIR=${WEIR:?set WEIR to the weir executable}
TEST_NAME=$(basename "$0" .sh)
FAILS=0
CHECKS=0
TMP=$(mktemp -d "/tmp/weir-it-${TEST_NAME}.XXXXXX")
chmod 755 "$TMP" # the postgres user may need to reach a cluster in here
CLEANUPS=()

# The PostgreSQL client programs of the newest installed server, as pgserver.c picks it.
PGBIN=${WEIR_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PSQL="$PGBIN/psql"
[ -x "$PSQL" ] || PSQL=psql
PG_DUMP="$PGBIN/pg_dump"
[ -x "$PG_DUMP" ] || PG_DUMP=pg_dump

# Never let the user's environment pick a database or a config for us.
unset PGHOST PGPORT PGDATABASE PGUSER PGSERVICE PGPASSWORD PGOPTIONS
for v in $(env | sed -n 's/^\(WEIR_[A-Z_]*\)=.*/\1/p'); do
    case $v in
        WEIR_TEST_PG | WEIR_TEST_PG_DIR | WEIR_PGFIXTURE | WEIR_PG_BINDIR) ;;
        *) unset "$v" ;;
    esac
done
export WEIR_LOG_LEVEL=warn

cleanup() {
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUPS[$i]}" || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    FAILS=$((FAILS + 1))
}

ok() {
    CHECKS=$((CHECKS + 1))
}

check() { # check WHAT CONDITION-COMMAND...
    local what=$1
    shift
    if "$@"; then ok; else fail "$what"; fi
}

show() {
    echo "    command: ${LAST_CMD}" >&2
    echo "    exit:    ${RC}" >&2
    echo "    stdout:  $(printf '%s' "$OUT" | head -c 2000)" >&2
    echo "    stderr:  $(printf '%s' "$ERR" | head -c 2000)" >&2
}

run() {
    LAST_CMD="$*"
    "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    if [ "$RC" -ge 128 ]; then
        fail "crashed (exit $RC): $LAST_CMD"
        show
    elif grep -qE 'Sanitizer|runtime error:|AddressSanitizer|LeakSanitizer' "$TMP/err"; then
        fail "sanitizer report: $LAST_CMD"
        show
    fi
}

run_stdin() { # run_stdin FILE CMD...: run with stdin from FILE
    local in=$1
    shift
    LAST_CMD="$* < $in"
    "$@" <"$in" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    if [ "$RC" -ge 128 ] || grep -qE 'Sanitizer|runtime error:' "$TMP/err"; then
        fail "crashed or sanitizer report (exit $RC): $LAST_CMD"
        show
    fi
}

expect_rc() { # expect_rc N WHAT
    if [ "$RC" -eq "$1" ]; then
        ok
    else
        fail "$2: expected exit $1, got $RC"
        show
    fi
}

stderr_lines() {
    if [ -z "$ERR" ]; then echo 0; else printf '%s\n' "$ERR" | wc -l; fi
}

expect_err_line() { # expect_err_line WHAT NEEDLE: one stderr line "weir: ..." with NEEDLE
    if [ "$(stderr_lines)" -ne 1 ]; then
        fail "$1: expected one stderr line, got $(stderr_lines)"
        show
    elif [[ "$ERR" != "weir: "* ]]; then
        fail "$1: stderr does not start with 'weir: '"
        show
    elif [[ "$ERR" != *"$2"* ]]; then
        fail "$1: stderr does not mention '$2'"
        show
    else
        ok
    fi
}

expect_usage() { # expect_usage WHAT NEEDLE
    expect_rc 2 "$1"
    expect_err_line "$1" "$2"
}

expect_out_has() { # expect_out_has WHAT NEEDLE
    if [[ "$OUT" == *"$2"* ]]; then ok; else fail "$1: stdout lacks '$2'"; show; fi
}

expect_err_has() {
    if [[ "$ERR" == *"$2"* ]]; then ok; else fail "$1: stderr lacks '$2'"; show; fi
}

expect_eq() { # expect_eq WHAT GOT WANT
    if [ "$2" == "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; fi
}

# --- the fixture's Postgres ---------------------------------------------------------

need_pg() {
    if [ -z "${WEIR_TEST_PG:-}" ]; then
        echo "WEIR_TEST_PG is not set: run through ctest (fixture pg)" >&2
        exit 1
    fi
}

admin_sql() {
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -At "$WEIR_TEST_PG" -c "$1"
}

db_create() { # db_create NAME
    need_pg
    DB="t_$1"
    admin_sql "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || exit 1
    admin_sql "CREATE DATABASE $DB" || exit 1
    CLEANUPS+=("admin_sql 'DROP DATABASE IF EXISTS $DB WITH (FORCE)'")
    export WEIR_DATABASE_URL="${WEIR_TEST_PG/dbname=weir/dbname=$DB}"
}

sql() {
    "$PSQL" -X -q -v ON_ERROR_STOP=1 -At "$WEIR_DATABASE_URL" -c "$1"
}

finish() {
    if [ "$FAILS" -eq 0 ]; then
        echo "$TEST_NAME: $CHECKS checks passed"
        exit 0
    fi
    echo "$TEST_NAME: $FAILS failed, $CHECKS passed" >&2
    exit 1
}

# Every test runs in its own empty working folder, so the defaults (./var/pg, ./schemas)
# never reach a real installation.
cd "$TMP" || exit 1

# Conditions for check: has TEXT NEEDLE, lacks TEXT NEEDLE, matches TEXT REGEX.
has() { [[ "$1" == *"$2"* ]]; }
lacks() { [[ "$1" != *"$2"* ]]; }
matches() { [[ "$1" =~ $2 ]]; }
file_lacks() { ! grep -qF -- "$2" "$1"; }
