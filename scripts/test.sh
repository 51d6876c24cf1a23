#!/usr/bin/env bash
# The whole test suite in one command: installs what is missing (Debian packages, the
# npm packages of the checkers, the pinned outside data: scripts/test-data.sh, which
# stops here naming anything it cannot get), builds twice (warnings as errors; and with
# ASan+UBSan), runs every ctest in both builds (the sanitizer run leaves out the tests
# labelled nosan), then lists every skipped test with its reason.
# Exit status: 0 only when everything passed; with CI=true a skipped test that is not in
# tests/skips-allowed.txt is a failure too.
# Options: --quick  one build only (no sanitizers), for the edit-compile loop.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ ${1:-} == --quick ]] && quick=1
scripts/deps.sh --test
data=$(scripts/test-data.sh) || exit 1
data_opts=()
while IFS= read -r opt; do
  [[ -n $opt ]] && data_opts+=("$opt")
done <<<"$data"
jobs=$(nproc)
export CTEST_OUTPUT_ON_FAILURE=1
rc=0
runs=()
scripts/build.sh build-test -DWEIR_WERROR=ON "${data_opts[@]}"
echo "== tests (release build)"
rm -f build-test/junit.xml
ctest --test-dir build-test -j"$jobs" --timeout 900 --output-junit junit.xml || rc=1
runs+=(release:build-test/junit.xml)
if ((quick == 0)); then
  scripts/build.sh build-asan -DWEIR_WERROR=ON -DWEIR_SANITIZE=address,undefined "${data_opts[@]}"
  echo "== tests (ASan + UBSan build)"
  rm -f build-asan/junit.xml
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -j"$jobs" --timeout 900 -LE nosan --output-junit junit.xml || rc=1
  runs+=(asan:build-asan/junit.xml)
fi
python3 scripts/test-summary.py "${runs[@]}" || rc=1
exit $rc
