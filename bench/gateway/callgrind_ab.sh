#!/usr/bin/env bash
# callgrind_ab.sh - instructions per request of two weir builds on the same requests: a
# figure that does not move with the machine's load, to judge a refactor that must not
# cost more than a few percent (wall-clock A/B on a shared 2-core machine swings ±15 %).
#   bench/gateway/callgrind_ab.sh WEIR_A WEIR_B [N]     (N single events, then N/100 batches)
# Each gateway runs under `valgrind --tool=callgrind` with one HTTP thread; one sequential
# keep-alive client posts the bench bodies (gen_bodies.py); the figure is all threads'
# instructions (start-up and drain subtracted by an idle run) divided by the requests.
# Needs valgrind, python3 and weir_pgfixture (WEIR_PGFIXTURE, default next to WEIR_A).
# CGAB_KEEP=DIR keeps the callgrind files there (for callgrind_annotate).
# CGAB_ARGS_A / CGAB_ARGS_B: gateway flags for one side only (WEIR_A and WEIR_B may then be
# the same binary: enrich_ab.sh compares two configurations so); BENCH_UA: a User-Agent
# header on every request (default none).
set -euo pipefail
A=$(readlink -f "$1"); B=$(readlink -f "$2"); N=${3:-2000}
here=$(cd "$(dirname "$0")" && pwd)
PGFIXTURE=$(readlink -f "${WEIR_PGFIXTURE:-$(dirname "$A")/../tests/pg/weir_pgfixture}")
UA=${BENCH_UA:-}
read -r -a ARGS_A <<<"${CGAB_ARGS_A:-}"
read -r -a ARGS_B <<<"${CGAB_ARGS_B:-}"
tmp=$(mktemp -d /tmp/weir-cgab.XXXXXX)
chmod 755 "$tmp" # the postgres user must reach the cluster folder
trap '"$PGFIXTURE" stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
"$PGFIXTURE" start "$tmp/pg" >"$tmp/pg.log" 2>&1 || { cat "$tmp/pg.log" >&2; exit 1; }
export WEIR_DATABASE_URL="host=$tmp/pg/run user=weir dbname=weir" WEIR_LOG_LEVEL=warn
"$A" migrate >/dev/null
for f in "$here"/../../schemas/*.v*.json; do
    b=$(basename "$f" .json)
    "$A" schema add "${b%.v*}" "$f" --version "${b##*.v}" >/dev/null 2>&1
done
KEY=$("$A" key create --name cgab | tail -n 1)
python3 "$here/gen_bodies.py" "$tmp/bodies" >/dev/null

# run BIN NAME MODE [FLAGS...]: Ir of one gateway life; MODE idle|single|batch
run() {
    local bin=$1 name=$2 mode=$3
    shift 3
    local ready=$tmp/$name.ready
    rm -f "$ready"
    WEIR_READY_FILE=$ready valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.cg" \
        "$bin" gateway --listen 127.0.0.1:0 --threads 1 --spool-dir "$tmp/$name/spool" \
        --lake "file://$tmp/$name/lake" --access-log off --flush-interval 10m "$@" \
        >"$tmp/$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1200); do [ -s "$ready" ] && break; sleep 0.1; done
    [ -s "$ready" ] || { cat "$tmp/$name.log" >&2; exit 1; }
    local port
    port=$(cat "$ready")
    # Wait for the registry (503 until the first load).
    for _ in $(seq 600); do
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1
    done
    python3 - "$port" "$KEY" "$tmp/bodies" "$mode" "$N" "$UA" <<'PY'
import http.client, os, sys
port, key, d, mode, n, ua = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
if mode == "idle":
    sys.exit(0)
files = sorted(f for f in os.listdir(d) if f.startswith("single" if mode == "single" else "batch") and f.endswith(".json"))
bodies = [open(os.path.join(d, f), "rb").read() for f in files]
count = n if mode == "single" else max(1, n // 100)
h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
if ua:
    h["User-Agent"] = ua
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for i in range(count):
    c.request("POST", "/v1/events", bodies[i % len(bodies)], h)
    r = c.getresponse(); r.read()
    if r.status != 202:
        sys.exit(f"status {r.status}")
PY
    kill -TERM "$pid"; wait "$pid" || true
    if [ -n "${CGAB_KEEP:-}" ]; then mkdir -p "$CGAB_KEEP" && cp "$tmp/$name.cg" "$CGAB_KEEP/"; fi
    awk '/^(summary|totals):/ {print $2; exit}' "$tmp/$name.cg"
}
printf '%-8s %-6s %14s %14s %14s\n' build mode Ir-total Ir-idle Ir/request
declare -A per
for side in A B; do
    if [ $side = A ]; then bin=$A; flags=("${ARGS_A[@]}"); else bin=$B; flags=("${ARGS_B[@]}"); fi
    idle=$(run "$bin" "$side-idle" idle "${flags[@]}")
    for mode in single batch; do
        tot=$(run "$bin" "$side-$mode" $mode "${flags[@]}")
        reqs=$([ $mode = single ] && echo "$N" || echo $((N / 100)))
        per[$side-$mode]=$(((tot - idle) / reqs))
        printf '%-8s %-6s %14s %14s %14s\n' "$side" "$mode" "$tot" "$idle" "${per[$side-$mode]}"
    done
done
for mode in single batch; do
    echo "$mode: A costs $(python3 -c "print(f'{(${per[A-$mode]} / ${per[B-$mode]} - 1) * 100:+.1f} %')") instructions per request against B"
done
