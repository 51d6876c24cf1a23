#!/usr/bin/env bash
# Installs the npm packages the tests use (DuckDB and other Parquet readers; puppeteer-core
# for the headless Chromium test), from the lock files: ours in tests/tools and
# tests/browser, and the shared checkers beside the repo. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
install() {
  local dir=$1
  [[ -f $dir/package-lock.json ]] || return 0
  if [[ ! -d $dir/node_modules ]] || [[ $dir/package-lock.json -nt $dir/node_modules ]]; then
    echo "npm-deps.sh: npm ci in $dir" >&2
    # npm 11 refuses `npm ci` when a lock file lacks other platforms' optional entries
    # (the shared checkers' lock does); then install from package.json, leaving the lock as it is.
    (cd "$dir" && { npm ci --no-audit --no-fund --loglevel=error ||
                    npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error; })
  fi
}
install tests/tools
install tests/browser
shared=${WEIR_SHARED:-../shared}
[[ -d $shared/bench/duckdb ]] && install "$shared/bench/duckdb"
exit 0
