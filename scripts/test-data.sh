#!/usr/bin/env bash
# Finds, or fetches at pinned versions, the outside data the test suite reads, so that
# no test skips for want of it:
#   - the official JSON Schema Test Suite, at the commit of tests/suite/PIN: taken from
#     $WEIR_JSONSCHEMA_SUITE, else $WEIR_SHARED/jsonschema-test-suite (../shared by
#     default), else cloned with git into build-data/ (git-ignored);
#   - the npm packages of tests/tools (DuckDB), from its lock file (scripts/npm-deps.sh);
#   - the shared Parquet checkers ($WEIR_SHARED/bench/duckdb: lint.mjs, check.mjs,
#     xread.mjs, convert.mjs and their npm packages) and the shared event generator
#     ($WEIR_SHARED/bench/gen), which come only with the project's shared folder.
# Prints the cmake -D options that point the build at what it found, one per line.
# When something cannot be had, it names it and the command that gets it on stderr and
# exits 1 (WEIR_ALLOW_MISSING=1: exit 0 anyway; the tests that need it then skip, and
# scripts/test.sh lists them, failing in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
shared=${WEIR_SHARED:-$root/../shared}
read -r pin_commit pin_url <tests/suite/PIN
missing=()

# --- the JSON Schema Test Suite ------------------------------------------------------
suite_ok() { [ -d "$1/tests/draft2020-12" ] && [ -d "$1/tests/draft7" ] && [ -d "$1/remotes" ]; }
suite=
if [ -n "${WEIR_JSONSCHEMA_SUITE:-}" ]; then
    suite_ok "$WEIR_JSONSCHEMA_SUITE" && suite=$WEIR_JSONSCHEMA_SUITE
elif suite_ok "$shared/jsonschema-test-suite"; then
    suite=$(cd "$shared/jsonschema-test-suite" && pwd)
    # The shared copy holds the data files and a SOURCE.txt naming its commit.
    if ! grep -q "$pin_commit" "$suite/SOURCE.txt" 2>/dev/null; then
        echo "test-data.sh: warning: $suite is not at the pinned commit $pin_commit" >&2
    fi
else
    fetched=$root/build-data/jsonschema-test-suite
    if [ "$(git -C "$fetched" rev-parse HEAD 2>/dev/null)" != "$pin_commit" ]; then
        echo "test-data.sh: fetching the JSON Schema Test Suite at $pin_commit" >&2
        rm -rf "$fetched.tmp"
        mkdir -p "$root/build-data"
        if git init -q "$fetched.tmp" &&
            GIT_TERMINAL_PROMPT=0 timeout 300 git -C "$fetched.tmp" fetch -q --depth 1 "$pin_url" "$pin_commit" &&
            git -C "$fetched.tmp" checkout -q FETCH_HEAD; then
            rm -rf "$fetched"
            mv "$fetched.tmp" "$fetched"
        else
            rm -rf "$fetched.tmp"
        fi
    fi
    if suite_ok "$fetched" && [ "$(git -C "$fetched" rev-parse HEAD)" == "$pin_commit" ]; then
        suite=$fetched
    fi
fi
if [ -n "$suite" ]; then
    echo "-DWEIR_JSONSCHEMA_SUITE=$suite"
else
    missing+=("the JSON Schema Test Suite at commit $pin_commit (looked in ${WEIR_JSONSCHEMA_SUITE:-$shared/jsonschema-test-suite} and build-data/; the fetch from $pin_url failed)
      get it: git clone $pin_url DIR && git -C DIR checkout $pin_commit
      then:   WEIR_JSONSCHEMA_SUITE=DIR bash scripts/test.sh")
fi

# --- npm packages ---------------------------------------------------------------------
if ! WEIR_SHARED=$shared scripts/npm-deps.sh >&2; then
    echo "test-data.sh: npm-deps.sh failed" >&2
fi
if [ ! -d tests/tools/node_modules/@duckdb/node-api ]; then
    missing+=("the npm packages of tests/tools (DuckDB, for the Parquet and curator tests)
      get them: npm ci --prefix tests/tools   (or: bash scripts/npm-deps.sh)")
fi

# --- the shared folder's checkers and generator ------------------------------------
if [ -d "$shared" ]; then
    echo "-DWEIR_SHARED_DIR=$(cd "$shared" && pwd)"
fi
for f in bench/duckdb/lint.mjs bench/duckdb/check.mjs bench/duckdb/xread.mjs \
    bench/duckdb/convert.mjs bench/gen/gen_events.py; do
    if [ ! -f "$shared/$f" ]; then
        missing+=("$shared/$f (the project's shared folder: Parquet cross-readers, event generator)
      get it: put the project's shared folder beside the repository as ../shared, or set WEIR_SHARED=DIR")
        break
    fi
done
if [ -f "$shared/bench/duckdb/package-lock.json" ] &&
    { [ ! -d "$shared/bench/duckdb/node_modules/hyparquet" ] || [ ! -d "$shared/bench/duckdb/node_modules/parquet-wasm" ]; }; then
    missing+=("the npm packages of $shared/bench/duckdb (hyparquet, parquet-wasm: arrow-rs)
      get them: (cd $shared/bench/duckdb && npm ci)   (or: bash scripts/npm-deps.sh)")
fi

if ((${#missing[@]})); then
    {
        echo
        echo "test-data.sh: the tests need what is missing here; without it they would skip:"
        for m in "${missing[@]}"; do echo "  - $m"; done
        echo
    } >&2
    if [ "${WEIR_ALLOW_MISSING:-0}" != 1 ]; then
        echo "test-data.sh: stopping (WEIR_ALLOW_MISSING=1 runs the tests anyway; the ones needing it skip)" >&2
        exit 1
    fi
fi
exit 0
