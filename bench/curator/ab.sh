#!/bin/sh
# ab.sh - two weir builds curating the same lake, interleaved (A, B per thread count per
# round), `--force`, so both see the same machine load; prints a Markdown row per run
# (wall and CPU seconds, peak RSS). For before/after figures of a change. Not a test.
#
#   WEIR_BENCH_DB=conninfo sh bench/curator/ab.sh WEIR_A WEIR_B LAKE [ROUNDS] [THREADS...]
#
# LAKE as for bench.sh (its schemas registered in the database beforehand, e.g. by one
# bench.sh run). Both builds write LAKE/curated in turn.
set -eu
A=$1 B=$2
LAKE=$(cd "$3" && pwd)
ROUNDS=${4:-3}
shift 3; [ $# -gt 0 ] && shift
THREADS=${*:-1 2}
: "${WEIR_BENCH_DB:?set WEIR_BENCH_DB to a scratch database's conninfo}"
OUT=${OUT:-$(mktemp -d /tmp/weir-bench-ab.XXXXXX)}
echo "| build | threads | round | wall s | CPU s (user+sys) | peak RSS MB | load before |"
echo "|---|---|---|---|---|---|---|"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for t in $THREADS; do
        for b in A B; do
            bin=$A; [ $b = B ] && bin=$B
            load=$(cut -d' ' -f1 /proc/loadavg)
            /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$bin" curate --database-url "$WEIR_BENCH_DB" \
                --lake "file://$LAKE" --force --threads "$t" --log-level warn --tmp-dir "$OUT" 2>"$OUT/err"
            set -- $(cat "$OUT/time")
            echo "| $b | $t | $r | $1 | $(echo "$2 + $3" | bc) | $(($4 / 1024)) | $load |"
        done
    done
    r=$((r + 1))
done
