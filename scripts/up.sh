#!/usr/bin/env bash
# The embedded default in one command: installs what is missing, builds, and runs
# `weir up` (private Postgres under ./var/pg, lake under ./var/lake). Extra arguments go
# to `weir up` (see ./build/weir up --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
exec ./build/weir up "$@"
