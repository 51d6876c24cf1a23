#!/bin/sh
# validator.sh - the validator/reader benchmark against the AJV anchor, on one core:
# AJV (node bench.js) and weir-bench-validate (jansson baseline, weir reader, validator)
# on the same 200k events, CPU time, median of 5 runs; ends with a Markdown table.
#
#   bench/validator.sh                 # everything (about 5 minutes on an idle core)
#   RUNS=3 SKIP_AJV=1 bench/validator.sh   # reuse bench/out/ajv-bench.json
#
# Environment: BUILD (build dir, default build-bench), SHARED (the shared folder beside
# the repository, default ../shared), AJV_DIR (default $SHARED/bench/ajv), SCHEMAS
# (default $SHARED/bench/schemas), N (events, default 200000), RUNS (default 5), CPU (core
# to pin to, default 1), SKIP_AJV=1.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
AJV_DIR=${AJV_DIR:-$SHARED/bench/ajv}
SCHEMAS=${SCHEMAS:-$SHARED/bench/schemas}
BUILD=${BUILD:-$ROOT/build-bench}
OUT=$ROOT/bench/out
N=${N:-200000}
RUNS=${RUNS:-5}
CPU=${CPU:-1}
SEED=42

mkdir -p "$OUT"

# 1. AJV and its formats, from the lock file.
if [ ! -d "$AJV_DIR/node_modules/ajv" ]; then
    echo "== npm ci in $AJV_DIR"
    (cd "$AJV_DIR" && npm ci --no-audit --no-fund)
fi

# 2. The data: the same generator and seed AJV's bench uses in memory.
VALID=$OUT/events-valid.ndjson
INVALID=$OUT/events-10pct.ndjson
if [ "$N" != 200000 ]; then
    VALID=$OUT/events-valid-$N.ndjson
    INVALID=$OUT/events-10pct-$N.ndjson
fi
[ -s "$VALID" ] || node "$AJV_DIR/gen.js" --n "$N" --invalid-rate 0 --seed $SEED --out "$VALID"
[ -s "$INVALID" ] || node "$AJV_DIR/gen.js" --n "$N" --invalid-rate 0.1 --seed $SEED --out "$INVALID"

# 3. Our program (RelWithDebInfo = -O2, like the jansson baseline).
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target weir-bench-validate -j2 >/dev/null
BIN=$BUILD/bench/validator/weir-bench-validate

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), weir $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), load $(cut -d' ' -f1-3 /proc/loadavg), pinned to CPU $CPU"

# 4. AJV in the same session, pinned like ours.
if [ "${SKIP_AJV:-0}" != 1 ] || [ ! -s "$OUT/ajv-bench.json" ]; then
    echo "== AJV: node bench.js --n $N --runs $RUNS"
    (cd "$AJV_DIR" && taskset -c "$CPU" node --expose-gc bench.js --n "$N" --runs "$RUNS" \
        --seed $SEED --json "$OUT/ajv-bench.json") | tee "$OUT/ajv-bench.txt"
else
    echo "== AJV: reusing $OUT/ajv-bench.json"
fi

# 5. weir: jansson parse, reader parse, validate only, parse+validate.
echo "== weir-bench-validate --runs $RUNS"
taskset -c "$CPU" "$BIN" --runs "$RUNS" --schemas "$SCHEMAS" --ajv "$OUT/ajv-bench.json" \
    "valid=$VALID" "10%-invalid=$INVALID" | tee "$OUT/weir-bench.txt"
