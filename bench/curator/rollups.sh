#!/bin/sh
# rollups.sh - what the shipped web-analytics rollups (schemas/rollups/) add to `weir curate`:
# the same lake curated with --force, the set inactive then active, interleaved per round, so
# both see the same machine load; prints a Markdown row per run. Not a test.
#
#   WEIR=build-perf/cli/weir WEIR_PGFIXTURE=build-perf/tests/pg/weir_pgfixture \
#     sh bench/curator/rollups.sh LAKE [ROUNDS] [THREADS]
#
# LAKE is made by bench/gen/gen_events.py. Its page_view has no anonymous_id, referrer URL or
# context (the generator writes no `context`), so the set is loaded with the bench schema's
# equivalents, field for field the same work per row: payload.anonymous_id ->
# payload.daily_visitor_id, payload.load_ms -> payload.delivery_time_ms, context.country ->
# payload.country, context.browser -> payload.browser, context.device -> payload.device_type.
set -eu
LAKE=$(cd "$1" && pwd)
ROUNDS=${2:-3}
THREADS=${3:-1}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${WEIR_SHARED:-$REPO/../shared}
: "${WEIR:?set WEIR to the weir binary}"
OUT=${OUT:-$(mktemp -d /tmp/weir-bench-rollups.XXXXXX)}
mkdir -p "$OUT"
. "$REPO/bench/curator/db.sh"
mkdir -p "$OUT/defs"
for f in "$REPO"/schemas/rollups/*.json; do
    sed -e 's/payload\.anonymous_id/payload.daily_visitor_id/g' \
        -e 's/payload\.load_ms/payload.delivery_time_ms/g' \
        -e 's/context\.country/payload.country/g' -e 's/context\.browser/payload.browser/g' \
        -e 's/context\.device/payload.device_type/g' "$f" >"$OUT/defs/$(basename "$f")"
    "$WEIR" rollup add "$OUT/defs/$(basename "$f")" --database-url "$WEIR_BENCH_DB" >/dev/null
done
set_active() {
    psql "$WEIR_BENCH_DB" -XAtqc "UPDATE rollups SET active = $1" >/dev/null
}
echo "| rollups | threads | round | wall s | CPU s (user+sys) | peak RSS MB | rollup rows | load before |"
echo "|---|---|---|---|---|---|---|---|"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for mode in off on; do
        set_active "$([ $mode = on ] && echo true || echo false)"
        load=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$WEIR" curate --database-url "$WEIR_BENCH_DB" \
            --lake "file://$LAKE" --force --threads "$THREADS" --log-level warn --tmp-dir "$OUT" 2>"$OUT/err"
        rows=-
        [ $mode = on ] && rows=$(psql "$WEIR_BENCH_DB" -XAtqc "SELECT count(*) FROM rollup_values")
        set -- $(cat "$OUT/time")
        echo "| $mode | $THREADS | $r | $1 | $(echo "$2 + $3" | bc) | $(($4 / 1024)) | $rows | $load |"
    done
    r=$((r + 1))
done
