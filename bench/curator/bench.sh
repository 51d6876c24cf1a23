#!/bin/sh
# bench.sh - `weir curate` against DuckDB's reference conversion (bench/duckdb/convert.mjs)
# on the same raw zone, same codec (ZSTD), same thread counts, interleaved; prints a Markdown
# table of wall/CPU seconds, rows/s, output MB and peak RSS (/usr/bin/time). Not a test.
#
#   WEIR=build/cli/weir WEIR_PGFIXTURE=build/tests/pg/weir_pgfixture \
#     sh bench/curator/bench.sh LAKE [RUNS] [THREADS...]
#
# WEIR_BENCH_SKIP_DUCKDB=1 runs weir alone (A/B runs of two weir builds).
#
# LAKE is a lake root made by bench/gen/gen_events.py (its raw/ and gen-manifest.json).
# weir writes LAKE/curated (replaced each run with --force); DuckDB writes $OUT/duck-t<N>.
# A private Postgres cluster is started under $OUT/pg (or set WEIR_BENCH_DB to a scratch
# database's conninfo).
set -eu
LAKE=$(cd "$1" && pwd)
RUNS=${2:-1}
shift; [ $# -gt 0 ] && shift
THREADS=${*:-1 2}
# The shared folder (bench/gen schemas, bench/duckdb): WEIR_SHARED, else ../shared beside
# the repository.
SHARED=${WEIR_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/../shared}
[ -d "$SHARED/bench/duckdb" ] || { echo "bench.sh: no shared folder at $SHARED (set WEIR_SHARED)" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d /tmp/weir-bench-cur.XXXXXX)}
: "${WEIR:?set WEIR to the weir binary}"
LINES=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$LAKE/gen-manifest.json','utf8')).lines_total)")
ROWS=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$LAKE/gen-manifest.json','utf8')).unique_total)")

. "$(dirname "$0")/db.sh"

mb() { du -sb "$1" | awk '{printf "%.1f", $1 / 1e6}'; }
echo "| tool | threads | run | wall s | CPU s | rows/s in (wall) | rows out | output MB | peak RSS MB | load before |"
echo "|---|---|---|---|---|---|---|---|---|---|"
r=1
while [ "$r" -le "$RUNS" ]; do
    for t in $THREADS; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$WEIR" curate --database-url "$WEIR_BENCH_DB" \
            --lake "file://$LAKE" --force --threads "$t" --log-level warn --tmp-dir "$OUT" 2>"$OUT/weir.err"
        set -- $(cat "$OUT/time")
        echo "| weir | $t | $r | $1 | $(echo "$2 + $3" | bc) | $(echo "$LINES / $1" | bc) | $ROWS | $(mb "$LAKE/curated/events") | $(($4 / 1024)) | $load |"
        [ -n "${WEIR_BENCH_SKIP_DUCKDB:-}" ] && continue
        load=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" node "$SHARED/bench/duckdb/convert.mjs" \
            --raw "$LAKE/raw" --out "$OUT/duck-t$t" --codec zstd --threads "$t" >"$OUT/duck.json"
        set -- $(cat "$OUT/time")
        rows=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$OUT/duck.json','utf8')).rows_out)")
        echo "| DuckDB | $t | $r | $1 | $(echo "$2 + $3" | bc) | $(echo "$LINES / $1" | bc) | $rows | $(mb "$OUT/duck-t$t") | $(($4 / 1024)) | $load |"
    done
    r=$((r + 1))
done
echo
echo "lines in: $LINES; output folders: $LAKE/curated/events, $OUT/duck-t*"
