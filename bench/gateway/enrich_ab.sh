#!/usr/bin/env bash
# enrich_ab.sh - what the `context` enrichment costs, in instructions per request: one weir
# build, run with enrichment as shipped (truncate the IP, store and parse the User-Agent)
# and with the issue's baseline (`--ip-mode keep --store-user-agent no`, no geo), on the
# same requests, each carrying a browser's User-Agent. Instruction counts do not move with
# the machine's load (see callgrind_ab.sh, whose method this follows).
#   bench/gateway/enrich_ab.sh WEIR [N]     (N single events, then N/100 batches of 100)
# Environment: BENCH_UA (default a desktop Chrome), WEIR_PGFIXTURE (default next to WEIR).
# Needs valgrind, python3, curl.
set -euo pipefail
W=$(readlink -f "$1"); N=${2:-2000}
here=$(cd "$(dirname "$0")" && pwd)
PGFIXTURE=$(readlink -f "${WEIR_PGFIXTURE:-$(dirname "$W")/../tests/pg/weir_pgfixture}")
UA=${BENCH_UA-Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36}
tmp=$(mktemp -d /tmp/weir-enab.XXXXXX)
chmod 755 "$tmp" # the postgres user must reach the cluster folder
trap '"$PGFIXTURE" stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
"$PGFIXTURE" start "$tmp/pg" >"$tmp/pg.log" 2>&1 || { cat "$tmp/pg.log" >&2; exit 1; }
export WEIR_DATABASE_URL="host=$tmp/pg/run user=weir dbname=weir" WEIR_LOG_LEVEL=warn
"$W" migrate >/dev/null
for f in "$here"/../../schemas/*.v*.json; do
    b=$(basename "$f" .json)
    "$W" schema add "${b%.v*}" "$f" --version "${b##*.v}" >/dev/null 2>&1
done
KEY=$("$W" key create --name enab | tail -n 1)
python3 "$here/gen_bodies.py" "$tmp/bodies" >/dev/null

# run NAME MODE ARGS...: Ir of one gateway life; MODE idle|single|batch
run() {
    local name=$1 mode=$2
    shift 2
    local ready=$tmp/$name.ready
    rm -f "$ready"
    WEIR_READY_FILE=$ready valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.cg" \
        "$W" gateway --listen 127.0.0.1:0 --threads 1 --spool-dir "$tmp/$name/spool" \
        --lake "file://$tmp/$name/lake" --access-log off --flush-interval 10m "$@" \
        >"$tmp/$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1200); do [ -s "$ready" ] && break; sleep 0.1; done
    [ -s "$ready" ] || { cat "$tmp/$name.log" >&2; exit 1; }
    local port
    port=$(cat "$ready")
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
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
h = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
if ua:
    h["User-Agent"] = ua
for i in range(count):
    c.request("POST", "/v1/events", bodies[i % len(bodies)], h)
    r = c.getresponse(); r.read()
    if r.status != 202:
        sys.exit(f"status {r.status}")
PY
    kill -TERM "$pid"; wait "$pid" || true
    awk '/^(summary|totals):/ {print $2; exit}' "$tmp/$name.cg"
}
printf '%-9s %-6s %14s %14s %12s\n' context mode Ir-total Ir-idle Ir/request
declare -A per
for cfg in on off; do
    args=()
    [ $cfg = off ] && args=(--ip-mode keep --store-user-agent no)
    idle=$(run "$cfg-idle" idle "${args[@]}")
    for mode in single batch; do
        tot=$(run "$cfg-$mode" $mode "${args[@]}")
        reqs=$([ $mode = single ] && echo "$N" || echo $((N / 100)))
        per[$cfg-$mode]=$(((tot - idle) / reqs))
        printf '%-9s %-6s %14s %14s %12s\n' "$cfg" "$mode" "$tot" "$idle" "${per[$cfg-$mode]}"
    done
done
for mode in single batch; do
    echo "$mode: enrichment costs $(python3 -c "print(f'{(${per[on-$mode]} / ${per[off-$mode]} - 1) * 100:+.1f} %')") instructions per request"
done
if [ -n "${KEEP_CG:-}" ]; then
    mkdir -p "$KEEP_CG" && cp "$tmp"/*.cg "$KEEP_CG"/
fi
