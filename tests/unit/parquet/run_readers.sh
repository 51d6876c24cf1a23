#!/bin/sh
# run_readers.sh - the reader side of the Parquet fixture tests (ctest runs it after pq_fixtures):
#   run_readers.sh duckdb DIR ROOT   values + footer vs expect.json (tests/tools/pq_check.mjs)
#   run_readers.sh shared DIR ROOT   shared lint (strict), check.mjs --stats, xread.mjs (arrow-rs, hyparquet)
# Exits 77 (ctest SKIP_RETURN_CODE) when node or the npm packages are not installed.
set -u
mode=$1 dir=$2 root=$3
# the shared checkers: WEIR_DUCKDB_BENCH, else WEIR_SHARED/bench/duckdb (as scripts/npm-deps.sh)
shared=${WEIR_DUCKDB_BENCH:-${WEIR_SHARED:-$root/../shared}/bench/duckdb}
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node not found (apt-get install nodejs npm)"
    exit 77
fi
case $mode in
duckdb)
    if [ ! -d "$root/tests/tools/node_modules/@duckdb/node-api" ]; then
        echo "SKIP: @duckdb/node-api missing: run npm ci --prefix $root/tests/tools"
        exit 77
    fi
    exec node "$root/tests/tools/pq_check.mjs" "$dir"
    ;;
shared)
    if [ ! -d "$shared/node_modules/parquet-wasm" ] || [ ! -d "$shared/node_modules/hyparquet" ]; then
        echo "SKIP: $shared/node_modules missing: scripts/npm-deps.sh (or set WEIR_SHARED / WEIR_DUCKDB_BENCH)"
        exit 77
    fi
    rc=0
    node "$root/tests/tools/pq_lint_strict.mjs" "$shared/lint.mjs" "$dir"/*.parquet || rc=1
    # check.mjs --stats builds SQL that fails on a file without row groups (a checker limitation):
    # the empty fixture gets the plain check, the others --stats.
    nonempty="$dir.nonempty"
    rm -rf "$nonempty" && mkdir -p "$nonempty"
    for f in "$dir"/*.parquet; do
        [ "$(basename "$f")" = empty.parquet ] || ln -s "$f" "$nonempty/"
    done
    node "$shared/check.mjs" "$nonempty" --stats || rc=1
    node "$shared/check.mjs" "$dir" --no-lint >/dev/null || { echo "check.mjs (all files, incl. empty) FAILED"; rc=1; }
    node "$shared/xread.mjs" "$dir" || rc=1
    exit $rc
    ;;
esac
echo "usage: run_readers.sh duckdb|shared DIR ROOT"
exit 2
