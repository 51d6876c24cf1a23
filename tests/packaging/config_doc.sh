#!/usr/bin/env bash
# config_doc.sh WEIR DOC - docs/configuration.md must be exactly `weir help --markdown`
# (generated from the option tables), and must document every verb of every command
# group (`weir key --help` names them; a verb missing from main.c's verb_groups would
# otherwise be left out silently).
set -uo pipefail
WEIR=${1:?weir binary} DOC=${2:?docs/configuration.md}
fresh=$(mktemp) && trap 'rm -f "$fresh"' EXIT
"$WEIR" help --markdown >"$fresh" || { echo "FAIL: weir help --markdown exited $?" >&2; exit 1; }
if ! diff -u "$DOC" "$fresh" >&2; then
    echo "FAIL: $DOC is stale (the diff above: -committed, +generated). Regenerate it:" >&2
    echo "  $WEIR help --markdown > $DOC" >&2
    exit 1
fi
fail=0
for cmd in $("$WEIR" help | awk '/^subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}'); do
    grep -q "^### \`weir $cmd" "$DOC" || { echo "FAIL: weir $cmd has no section in $DOC" >&2; fail=1; }
    usage=$("$WEIR" "$cmd" --help | head -1)
    # A group's usage: "usage: weir key create|list|revoke [options] ...".
    if [[ $usage =~ ^usage:\ weir\ $cmd\ ([a-z-]+(\|[a-z-]+)+)\  ]]; then
        IFS='|' read -ra verbs <<<"${BASH_REMATCH[1]}"
        for v in "${verbs[@]}"; do
            grep -q "^### \`weir $cmd $v\`" "$DOC" ||
                { echo "FAIL: weir $cmd $v is not in $DOC (add it to verb_groups in cli/main.c)" >&2; fail=1; }
        done
    fi
done
n=$(grep -c '^### `weir ' "$DOC")
((fail == 0)) && echo "configuration.md is current: $n command sections"
exit $fail
