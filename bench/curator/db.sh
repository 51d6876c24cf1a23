# db.sh - sourced by bench.sh and rollups.sh (needs WEIR, SHARED, OUT): the benchmark's
# database is WEIR_BENCH_DB, else a private cluster under $OUT/pg (WEIR_PGFIXTURE), stopped
# and removed at exit; migrated, with the generator's schemas as version 1 of each type.
if [ -z "${WEIR_BENCH_DB:-}" ]; then
    : "${WEIR_PGFIXTURE:?set WEIR_PGFIXTURE or WEIR_BENCH_DB}"
    WEIR_BENCH_DB=$("$WEIR_PGFIXTURE" start "$OUT/pg" --fresh | tail -1)
    trap '"$WEIR_PGFIXTURE" stop "$OUT/pg" --remove >/dev/null 2>&1' EXIT
fi
"$WEIR" migrate --database-url "$WEIR_BENCH_DB" >/dev/null
for f in "$SHARED"/bench/gen/schemas/*.json; do
    t=$(basename "$f" .json)
    "$WEIR" schema add "$t" "$f" --version 1 --force --database-url "$WEIR_BENCH_DB" >/dev/null 2>&1 || true
done
