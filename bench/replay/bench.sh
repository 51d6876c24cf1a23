#!/bin/sh
# bench.sh - figures of schema evolution (evolution.md "Speed"): `weir replay` of N rejected
# events (events/s, peak RSS) and the dry run of `weir schema add` validating N sampled raw
# events (events/s). One core: weir runs single-threaded. Not a test.
#
#   WEIR=build/cli/weir WEIR_PGFIXTURE=build/tests/pg/weir_pgfixture sh bench/replay/bench.sh [N]
#
# A private Postgres cluster is started under $OUT/pg (or set WEIR_BENCH_DB to a scratch
# database's conninfo); the data (gen.py) goes to $OUT/lake.
set -eu
N=${1:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(mktemp -d /tmp/weir-bench-replay.XXXXXX)}
mkdir -p "$OUT"
chmod o+x "$OUT" # the private cluster runs as postgres, which must reach $OUT/pg
: "${WEIR:?set WEIR to the weir binary}"
WEIR=$(cd "$(dirname "$WEIR")" && pwd)/$(basename "$WEIR")
if [ -z "${WEIR_BENCH_DB:-}" ]; then
    : "${WEIR_PGFIXTURE:?set WEIR_PGFIXTURE or WEIR_BENCH_DB}"
    # absolute: the trap that stops the cluster runs after the cd below
    WEIR_PGFIXTURE=$(cd "$(dirname "$WEIR_PGFIXTURE")" && pwd)/$(basename "$WEIR_PGFIXTURE")
    WEIR_BENCH_DB=$("$WEIR_PGFIXTURE" start "$OUT/pg" --fresh | tail -1)
    trap '"$WEIR_PGFIXTURE" stop "$OUT/pg" --remove >/dev/null 2>&1' EXIT
fi
cd "$OUT"
python3 "$HERE/gen.py" --out "$OUT/lake" --events "$N" --files 20
"$WEIR" migrate --database-url "$WEIR_BENCH_DB" >/dev/null
# no --lake here: ./var/lake does not exist, so these adds sample nothing
"$WEIR" schema add signup "$HERE/strict.json" --database-url "$WEIR_BENCH_DB" >/dev/null
"$WEIR" schema add signup "$HERE/relaxed.json" --database-url "$WEIR_BENCH_DB" >/dev/null
"$WEIR" migrate --database-url "$WEIR_BENCH_DB" >/dev/null

/usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$WEIR" replay --database-url "$WEIR_BENCH_DB" \
    --lake "file://$OUT/lake" --from 2026-11-20 --to 2026-11-20 --log-level warn --dry-run \
    >"$OUT/replay-dry.json"
set -- $(tail -1 "$OUT/time")
echo "weir replay --dry-run (read, parse, validate; no writes): $N events in $1 s wall," \
     "$(echo "$2 + $3" | bc) s CPU: $(echo "$N / $1" | bc) events/s; peak RSS $(($4 / 1024)) MiB"
/usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$WEIR" replay --database-url "$WEIR_BENCH_DB" \
    --lake "file://$OUT/lake" --from 2026-11-20 --to 2026-11-20 --log-level warn >"$OUT/replay.json"
set -- $(tail -1 "$OUT/time")
rep=$(python3 -c "import json;print(json.load(open('$OUT/replay.json'))['replayed'])")
echo "weir replay: $rep of $N rejected events replayed in $1 s wall, $(echo "$2 + $3" | bc) s CPU:" \
     "$(echo "$rep / $1" | bc) events/s; peak RSS $(($4 / 1024)) MiB"

/usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$WEIR" schema add signup "$HERE/strict.json" \
    --dry-run --sample "$N" --sample-hours 24 --database-url "$WEIR_BENCH_DB" \
    --lake "file://$OUT/lake" >"$OUT/dry.json" 2>/dev/null || true
set -- $(tail -1 "$OUT/time")
ev=$(python3 -c "import json;s=json.load(open('$OUT/dry.json'))['sample'];print(s['events'], s['would_reject'])")
echo "weir schema add --dry-run: $ev (events, would reject) sampled in $1 s wall," \
     "$(echo "$2 + $3" | bc) s CPU: $(echo "${ev% *} / $1" | bc) events/s; peak RSS $(($4 / 1024)) MiB"
echo "data and reports: $OUT"
