#!/usr/bin/env bash
# The whole test suite in one command: installs what is missing (Debian packages, the
# npm packages of the checkers), builds twice (warnings as errors; and with ASan+UBSan),
# and runs every ctest in both builds. Exit status: 0 only when everything passed.
# Options: --quick  one build only (no sanitizers), for the edit-compile loop.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ ${1:-} == --quick ]] && quick=1
scripts/deps.sh --test
scripts/npm-deps.sh
jobs=$(nproc)
export CTEST_OUTPUT_ON_FAILURE=1
scripts/build.sh build-test -DWEIR_WERROR=ON
echo "== tests (release build)"
ctest --test-dir build-test -j"$jobs" --timeout 900
if ((quick == 0)); then
  scripts/build.sh build-asan -DWEIR_WERROR=ON -DWEIR_SANITIZE=address,undefined
  echo "== tests (ASan + UBSan build)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -j"$jobs" --timeout 900 -LE nosan
fi
