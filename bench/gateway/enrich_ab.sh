#!/usr/bin/env bash
# enrich_ab.sh - what the `context` enrichment costs, in instructions per request: one weir
# build, run with enrichment as shipped (A: truncate the IP, store and parse the User-Agent)
# and with the issue's baseline (B: `--ip-mode keep --store-user-agent no`, no geo), on the
# same requests, each carrying a browser's User-Agent. callgrind_ab.sh does the measuring.
#   bench/gateway/enrich_ab.sh WEIR [N]     (N single events, then N/100 batches of 100)
# Environment: BENCH_UA (default a desktop Chrome), WEIR_PGFIXTURE (default next to WEIR),
# CGAB_KEEP. Needs valgrind, python3, curl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_UA="${BENCH_UA-Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36}"
export CGAB_ARGS_A="" CGAB_ARGS_B="--ip-mode keep --store-user-agent no"
exec "$here/callgrind_ab.sh" "$1" "$1" "${2:-2000}"
