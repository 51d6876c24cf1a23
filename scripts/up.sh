#!/usr/bin/env bash
# The embedded default in one command: installs what is missing, builds the `weir`
# binary into ./build (build/cli/weir), and runs `weir up` (private Postgres under
# ./var/pg, lake under ./var/lake). Extra arguments go to `weir up`
# (see build/cli/weir up --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target weir -j"$(nproc)"
exec build/cli/weir up "$@"
