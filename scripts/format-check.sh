#!/usr/bin/env bash
# format-check.sh - .clang-format in CI without reformatting the whole tree at once.
# Every tracked *.c / *.h must be exactly what clang-format makes of it, except the files
# listed in scripts/format-legacy.txt (hand-aligned tables and the like that predate
# .clang-format: about 5 % of the lines would move, across every room, and a tree-wide
# reformat while the rooms are being rebuilt in parallel branches would conflict with all
# of them). A listed file that is clean fails the check until its line is removed, so the
# list only shrinks; a new file must be clean from its first commit.
#   scripts/format-check.sh          check (exit 1 naming each file, with a diff excerpt)
#   scripts/format-check.sh --fix F  reformat file F in place (then drop it from the list)
#   scripts/format-check.sh --relist  rewrite the list as the files that differ today (for
#                                     a merge that brings many files at once; say so in
#                                     the commit, the list is meant to shrink)
set -uo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-clang-format}
if ! command -v "$CF" >/dev/null; then
    echo "SKIP: $CF is not installed (scripts/deps.sh --test installs clang-format)" >&2
    exit 77
fi
if [[ ${1:-} == --fix ]]; then
    shift
    exec "$CF" -i "$@"
fi
legacy=scripts/format-legacy.txt
if [[ ${1:-} == --relist ]]; then
    {
        sed -n '/^#/p' "$legacy"
        git ls-files -co --exclude-standard '*.c' '*.h' | while IFS= read -r f; do
            [ -f "$f" ] && ! "$CF" "$f" | cmp -s - "$f" && echo "$f"
        done
    } >"$legacy.tmp" && mv "$legacy.tmp" "$legacy"
    echo "format-check: $(grep -vc '^#' "$legacy") files listed in $legacy"
    exit 0
fi
declare -A listed=()
while read -r f; do
    [[ -z $f || $f == \#* ]] || listed[$f]=1
done <"$legacy"
bad=0 known=0 clean=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    if "$CF" "$f" | cmp -s - "$f"; then
        clean=$((clean + 1))
        if [[ -n ${listed[$f]:-} ]]; then
            echo "format-check: $f is clean now: remove it from $legacy" >&2
            bad=$((bad + 1))
        fi
    elif [[ -n ${listed[$f]:-} ]]; then
        known=$((known + 1))
    else
        echo "format-check: $f differs from clang-format (scripts/format-check.sh --fix $f):" >&2
        "$CF" "$f" | diff -u "$f" - | head -n 20 >&2
        bad=$((bad + 1))
    fi
done < <(git ls-files -co --exclude-standard '*.c' '*.h')
echo "format-check: $clean clean, $known listed in $legacy, $bad problem(s)"
[ "$bad" -eq 0 ]
