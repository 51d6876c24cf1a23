#!/bin/sh
# run_check.sh - runs pq_read_check.mjs with node, or exits 77 (ctest skip) saying node is missing.
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node not found (apt-get install nodejs npm)"
    exit 77
fi
exec node "$(dirname "$0")/pq_read_check.mjs" "$@"
