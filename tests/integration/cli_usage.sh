#!/usr/bin/env bash
# cli_usage.sh - bad input to every subcommand: one clear stderr line and exit 2, never a
# crash; `weir help` and every --help. Needs no database (all refused before connecting).
. "$(dirname "$0")/lib.sh"

# Nothing here may reach a database; make any attempt fail loudly and fast.
export WEIR_DATABASE_URL="host=$TMP/nowhere dbname=none connect_timeout=1"

# --- help ---------------------------------------------------------------------------
run "$WEIR" help
expect_rc 0 "weir help"
for sub in up migrate gateway schema validate key; do
    expect_out_has "weir help lists $sub" "  $sub "
done
run "$WEIR" --help
expect_rc 0 "weir --help"
run "$WEIR" -h
expect_rc 0 "weir -h"
run "$WEIR" version
expect_rc 0 "weir version"
expect_out_has "weir version" "weir "

for cmd in "up" "migrate" "gateway" "validate" "key create" "key list" "key revoke" \
    "schema add" "schema list" "schema check"; do
    # shellcheck disable=SC2086
    run "$WEIR" $cmd --help
    expect_rc 0 "weir $cmd --help"
    expect_out_has "weir $cmd --help" "usage: weir $cmd"
    check "weir $cmd --help writes nothing on stderr" [ -z "$ERR" ]
    run "$WEIR" help $cmd
    expect_rc 0 "weir help $cmd"
done
run "$WEIR" gateway --help
for opt in --listen --spool-dir --flush-bytes --flush-interval --schema-ttl --max-body \
    --database-url --lake WEIR_FLUSH_INTERVAL AWS_SECRET_ACCESS_KEY; do
    expect_out_has "gateway --help names $opt" "$opt"
done
run "$WEIR" key --help
expect_rc 0 "weir key --help"
run "$WEIR" schema --help
expect_rc 0 "weir schema --help"

# --- the subcommand itself ----------------------------------------------------------
run "$WEIR"
expect_rc 2 "weir without a subcommand"
expect_err_has "weir without a subcommand" "usage: weir"
run "$WEIR" frobnicate
expect_usage "unknown subcommand" "'frobnicate' is not a subcommand"
run "$WEIR" ""
expect_usage "empty subcommand" "is not a subcommand"
run "$WEIR" --frobnicate
expect_usage "unknown flag as subcommand" "is not a subcommand"
run "$WEIR" key
expect_usage "weir key without a verb" "usage: weir key"
run "$WEIR" key destroy
expect_usage "weir key destroy" "usage: weir key"
run "$WEIR" schema
expect_usage "weir schema without a verb" "usage: weir schema"
run "$WEIR" schema drop x
expect_usage "weir schema drop" "usage: weir schema"

# --- unknown flags, missing values, bad values -------------------------------------
for cmd in "up" "migrate" "gateway" "validate" "key create" "key list" "key revoke x" \
    "schema add a b" "schema list" "schema check"; do
    # shellcheck disable=SC2086
    run "$WEIR" $cmd --no-such-flag
    expect_usage "weir $cmd --no-such-flag" "--no-such-flag: unknown option"
    # shellcheck disable=SC2086
    run "$WEIR" $cmd -x
    expect_usage "weir $cmd -x" "-x: unknown option"
    # shellcheck disable=SC2086
    run "$WEIR" $cmd --log-level
    expect_usage "weir $cmd --log-level (no value)" "--log-level: needs"
    # shellcheck disable=SC2086
    run "$WEIR" $cmd --log-level=chatty
    expect_usage "weir $cmd --log-level=chatty" "--log-level"
done
run "$WEIR" migrate --database-url
expect_usage "migrate --database-url without value" "--database-url: needs"
run "$WEIR" migrate --databse-url=x
expect_usage "misspelt flag" "--databse-url: unknown option"

run "$WEIR" gateway --flush-interval soon
expect_usage "gateway --flush-interval soon" "--flush-interval"
expect_err_has "gateway --flush-interval soon quotes the value" "'soon'"
WEIR_FLUSH_INTERVAL=soon run "$WEIR" gateway
expect_usage "WEIR_FLUSH_INTERVAL=soon" "--flush-interval"
expect_err_has "WEIR_FLUSH_INTERVAL=soon names the variable" "WEIR_FLUSH_INTERVAL"
WEIR_FLUSH_INTERVAL=soon run "$WEIR" up --no-gateway
expect_usage "up with WEIR_FLUSH_INTERVAL=soon" "WEIR_FLUSH_INTERVAL"
check "up refused before creating anything" [ ! -e var ]
run "$WEIR" gateway --flush-interval 1.5s
expect_usage "gateway --flush-interval 1.5s" "--flush-interval"
run "$WEIR" gateway --flush-interval=
expect_usage "gateway --flush-interval=" "--flush-interval"
run "$WEIR" gateway --flush-interval 0
expect_usage "gateway --flush-interval 0" "--flush-interval"
run "$WEIR" gateway --flush-interval
expect_usage "gateway --flush-interval without value" "--flush-interval: needs"
run "$WEIR" gateway --schema-ttl 5d
expect_usage "gateway --schema-ttl 5d" "--schema-ttl"
run "$WEIR" gateway --connection-timeout 10ms
expect_usage "gateway --connection-timeout 10ms" "--connection-timeout"
run "$WEIR" gateway --max-body 10MB
expect_usage "gateway --max-body 10MB" "--max-body"
run "$WEIR" gateway --max-body=10mb
expect_usage "gateway --max-body=10mb" "--max-body"
run "$WEIR" gateway --max-body 0
expect_usage "gateway --max-body 0" "sizes must be positive"
run "$WEIR" gateway --flush-bytes 99999999999999999999
expect_usage "gateway --flush-bytes overflow" "--flush-bytes"
run "$WEIR" gateway --spool-max 17179869184GiB
expect_usage "gateway --spool-max overflow" "--spool-max"
WEIR_MAX_BODY=lots run "$WEIR" gateway
expect_usage "WEIR_MAX_BODY=lots" "WEIR_MAX_BODY"
run "$WEIR" gateway --max-events many
expect_usage "gateway --max-events many" "--max-events"
run "$WEIR" gateway --max-events 0
expect_usage "gateway --max-events 0" "--max-events"
run "$WEIR" gateway --max-depth 1
expect_usage "gateway --max-depth 1" "--max-depth"
run "$WEIR" gateway --threads -1
expect_usage "gateway --threads -1" "--threads"
run "$WEIR" gateway --threads 99999999999999999999
expect_usage "gateway --threads overflow" "--threads"
run "$WEIR" gateway --format loose
expect_usage "gateway --format loose" "--format"
run "$WEIR" gateway --access-log loud
expect_usage "gateway --access-log loud" "--access-log"
run "$WEIR" up --no-gateway=perhaps
expect_usage "up --no-gateway=perhaps" "--no-gateway"
run "$WEIR" key create --name x --rate fast
expect_usage "key create --rate fast" "--rate"

# --- arguments: missing, extra, invalid --------------------------------------------
run "$WEIR" migrate extra
expect_usage "migrate extra" "usage: weir migrate"
run "$WEIR" gateway extra
expect_usage "gateway extra" "usage: weir gateway"
run "$WEIR" up extra
expect_usage "up extra" "usage: weir up"
run "$WEIR" key create
expect_usage "key create without --name" "--name: required"
run "$WEIR" key create --name
expect_usage "key create --name without value" "--name: needs"
run "$WEIR" key create --name "bad name"
expect_usage "key create --name 'bad name'" "--name"
run "$WEIR" key create --name x extra
expect_usage "key create extra" "usage: weir key create"
run "$WEIR" key list extra
expect_usage "key list extra" "usage: weir key list"
run "$WEIR" key revoke
expect_usage "key revoke without NAME" "usage: weir key revoke NAME"
run "$WEIR" key revoke a b
expect_usage "key revoke a b" "usage: weir key revoke NAME"
run "$WEIR" schema add
expect_usage "schema add without args" "usage: weir schema add"
run "$WEIR" schema add signup
expect_usage "schema add without FILE" "usage: weir schema add"
run "$WEIR" schema add signup a b
expect_usage "schema add with 3 args" "usage: weir schema add"
run "$WEIR" schema add Signup x.json
expect_usage "schema add Signup" "EVENT_TYPE"
run "$WEIR" schema add signup x.json --version=-1
expect_usage "schema add --version -1" "--version"
run "$WEIR" schema add signup x.json --version 2147483648
expect_usage "schema add --version 2^31" "--version"
run "$WEIR" schema add signup x.json --version v2
expect_usage "schema add --version v2" "--version"
run "$WEIR" schema list a b
expect_usage "schema list a b" "usage: weir schema list"
run "$WEIR" schema list "bad type"
expect_usage "schema list 'bad type'" "EVENT_TYPE"
run "$WEIR" schema check x
expect_usage "schema check x" "usage: weir schema check"
run "$WEIR" validate
expect_usage "validate without --schema" "--schema: required"
run "$WEIR" validate --schema
expect_usage "validate --schema without value" "--schema: needs"
run "$WEIR" validate --schema s.json a b
expect_usage "validate with 2 inputs" "usage: weir validate"
run "$WEIR" validate --schema s.json --draft 4
expect_usage "validate --draft 4" "--draft"
run "$WEIR" validate --schema s.json --format loose
expect_usage "validate --format loose" "--format"
run "$WEIR" validate --schema "$TMP/missing.json"
expect_usage "validate --schema missing file" "missing.json"
run "$WEIR" validate --schema s.json --ref nouri
expect_usage "validate --ref without =" "--ref"
run "$WEIR" validate --schema s.json --ref-dir =dir
expect_usage "validate --ref-dir without URI" "--ref-dir"

# Too many words: refused, not overflowing the argument table.
many=()
for ((i = 0; i < 300; i++)); do many+=("w$i"); done
run "$WEIR" migrate "${many[@]}"
expect_usage "migrate with 300 words" "too many arguments"
run "$WEIR" validate --schema s.json "${many[@]}"
expect_usage "validate with 300 words" "too many arguments"
refs=()
for ((i = 0; i < 40; i++)); do refs+=(--ref "u$i=f"); done
run "$WEIR" validate --schema s.json "${refs[@]}"
expect_usage "validate with 40 --ref" "--ref: given more than 32 times"
long=$(head -c 100000 /dev/zero | tr '\0' 'a')
run "$WEIR" key create --name "$long"
expect_usage "key create with a 100 kB name" "--name"
run "$WEIR" "$long"
expect_usage "a 100 kB subcommand" "is not a subcommand"

# --- failures that need the database: exit 1, one line -------------------------------
run "$WEIR" migrate
expect_rc 1 "migrate with an unreachable database"
expect_err_line "migrate with an unreachable database" "cannot connect to Postgres"
run "$WEIR" key list --database-url "postgresql://weir:hunter2-secret@127.0.0.1:1/weir?connect_timeout=2"
expect_rc 1 "key list with an unreachable URI holding a password"
expect_err_line "key list with an unreachable URI" "cannot connect to Postgres"
check "the password is not in the message" lacks "$ERR" "hunter2-secret"
run "$WEIR" migrate --database-url "host=$TMP/nowhere password=hunter2-secret"
check "the conninfo password is not in the message" lacks "$ERR" "hunter2-secret"
run "$WEIR" migrate --database-url "this is not a conninfo"
expect_rc 1 "migrate with a malformed conninfo"
expect_err_line "migrate with a malformed conninfo" "cannot connect to Postgres"
unset WEIR_DATABASE_URL
run "$WEIR" key list
expect_rc 1 "key list without any cluster"
expect_err_line "key list without any cluster" "no embedded cluster in ./var/pg"
check "nothing created in the working folder" [ ! -e var ]

finish
