#!/usr/bin/env bash
# keys.sh - `weir key create/list/revoke`: the secret is printed once and stored nowhere
# (only its SHA-256), names are unique, revocation sticks.
. "$(dirname "$0")/lib.sh"
db_create keys
run "$WEIR" migrate
expect_rc 0 "migrate"

run "$WEIR" key create --name web-frontend
expect_rc 0 "key create"
secret=$OUT
expect_eq "key create prints one line" "$(printf '%s\n' "$OUT" | wc -l)" 1
check "the key is weir_ + 43 base64url characters ($secret)" matches "$secret" '^weir_[A-Za-z0-9_-]{43}$'
check "key create writes nothing on stderr" [ -z "$ERR" ]

# Only the hash is stored.
hash=$(printf '%s' "$secret" | sha256sum | cut -c1-64)
expect_eq "stored hash is SHA-256 of the key" \
    "$(sql "SELECT encode(key_sha256, 'hex') FROM api_keys WHERE name = 'web-frontend'")" "$hash"
expect_eq "stored prefix" "$(sql "SELECT key_prefix FROM api_keys WHERE name = 'web-frontend'")" \
    "${secret:0:12}"

"$PG_DUMP" --no-owner -d "$WEIR_DATABASE_URL" >"$TMP/dump.sql" 2>"$TMP/dump.err"
expect_eq "pg_dump exit" "$?" 0
check "pg_dump has the key row" grep -q web-frontend "$TMP/dump.sql"
check "pg_dump has the hash" grep -q "$hash" "$TMP/dump.sql"
check "the secret is not in pg_dump" file_lacks "$TMP/dump.sql" "$secret"
check "the secret's random part is not in pg_dump" file_lacks "$TMP/dump.sql" "${secret:12}"

# Never in the logs either, at any level.
WEIR_LOG_LEVEL=debug run "$WEIR" key create --name debug-logged
expect_rc 0 "key create at log level debug"
check "a created key is not logged" lacks "$ERR" "$OUT"
check "nor its random part" lacks "$ERR" "${OUT:12}"
run "$WEIR" key revoke debug-logged

run "$WEIR" key create --name svc.billing_v2 --event-types signup,page_view --rate 50
expect_rc 0 "key create with event types and rate"
secret2=$OUT
check "two keys differ" [ "$secret" != "$secret2" ]
expect_eq "event types stored" \
    "$(sql "SELECT array_to_string(event_types, ',') || ' ' || rate_limit FROM api_keys WHERE name = 'svc.billing_v2'")" \
    "signup,page_view 50"

run "$WEIR" key list
expect_rc 0 "key list"
expect_eq "key list: header + 3 rows" "$(printf '%s\n' "$OUT" | wc -l)" 4
expect_out_has "key list header" "NAME"
expect_out_has "key list shows the prefix" "${secret:0:12}"
check "key list never shows the first secret" lacks "$OUT" "$secret"
check "key list never shows the second secret" lacks "$OUT" "$secret2"
check "key list never shows the random part" lacks "$OUT" "${secret:12}"
row=$(printf '%s\n' "$OUT" | grep '^svc.billing_v2 ')
check "key list row: types, rate, status ($row)" matches "$row" 'signup,page_view +50/s +active'
row=$(printf '%s\n' "$OUT" | grep '^web-frontend ')
check "key list row of an unrestricted key ($row)" matches "$row" ' \* +unlimited +active'

# Duplicate name: a clear one-line refusal, and no second row.
run "$WEIR" key create --name web-frontend
expect_usage "duplicate key name" "a key named 'web-frontend' exists already"
check "duplicate prints no key" [ -z "$OUT" ]
expect_eq "still one web-frontend" "$(sql "SELECT count(*) FROM api_keys WHERE name = 'web-frontend'")" 1

# Bad values refused before anything is stored.
run "$WEIR" key create --name x1 --event-types 'signup,Bad'
expect_usage "key create --event-types with a bad type" "--event-types: 'Bad'"
run "$WEIR" key create --name x2 --event-types 'signup,,page_view'
expect_usage "key create --event-types with an empty item" "--event-types"
run "$WEIR" key create --name x3 --rate -1
expect_usage "key create --rate -1" "--rate"
run "$WEIR" key create --name x4 --rate 99999999999
expect_usage "key create --rate too big" "--rate"
run "$WEIR" key create --name "x'; DROP TABLE api_keys; --"
expect_usage "key create with SQL in the name" "--name"
expect_eq "no key from refused creates" "$(sql "SELECT count(*) FROM api_keys")" 3

# Revoke.
run "$WEIR" key revoke web-frontend
expect_rc 0 "key revoke"
expect_eq "key revoke output" "$OUT" "revoked web-frontend"
expect_eq "revoked in the table" \
    "$(sql "SELECT revoked AND revoked_at IS NOT NULL FROM api_keys WHERE name = 'web-frontend'")" t
run "$WEIR" key list
row=$(printf '%s\n' "$OUT" | grep '^web-frontend ')
check "key list shows revoked ($row)" has "$row" revoked
at=$(sql "SELECT revoked_at FROM api_keys WHERE name = 'web-frontend'")
run "$WEIR" key revoke web-frontend
expect_rc 0 "revoking twice is fine"
expect_eq "revoking twice keeps the first time" \
    "$(sql "SELECT revoked_at FROM api_keys WHERE name = 'web-frontend'")" "$at"
run "$WEIR" key revoke nobody
expect_rc 1 "revoke an unknown key"
expect_err_line "revoke an unknown key" "no key named 'nobody'"
run "$WEIR" key revoke "'; DROP TABLE api_keys; --"
expect_rc 1 "revoke with SQL in the name"
expect_eq "api_keys survived" "$(sql "SELECT count(*) FROM api_keys")" 3

# A revoked name stays taken (its rows are the audit trail).
run "$WEIR" key create --name web-frontend
expect_usage "create over a revoked name" "exists already"

# Before migrating, a key cannot be made: exit 1, one line.
db_create keys_nomig
run "$WEIR" key create --name early
expect_rc 1 "key create before migrate"
expect_err_line "key create before migrate" "api_keys"

finish
