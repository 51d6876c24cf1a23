#!/usr/bin/env bash
# units.sh WEIR PACKAGING_DIR - `systemd-analyze verify` on the service units and the
# timer, with ExecStart pointed at the built binary and EnvironmentFile at the example
# (verify wants both to exist), then the production settings issue 16 asks of each
# service: the dedicated user, the environment file, Restart=on-failure, a stop timeout
# longer than the gateway's drain (30 s requests + 60 s lake = 90 s), the hardening.
set -uo pipefail
WEIR=$(realpath "${1:?weir binary}") PKG=$(realpath "${2:?packaging folder}")
SA=$(command -v systemd-analyze) ||
    { echo "SKIP: systemd-analyze is not installed (Debian package systemd)" >&2; exit 77; }
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
units=(weir-gateway.service weir-curate.service weir-curate.timer weir-console.service)
for u in "${units[@]}"; do
    [ -f "$PKG/systemd/$u" ] || { echo "FAIL: $PKG/systemd/$u is missing" >&2; exit 1; }
    sed -e "s#/usr/bin/weir#$WEIR#g" -e "s#=/etc/default/weir#=$PKG/weir.env#" \
        "$PKG/systemd/$u" >"$tmp/$u"
done
# verify prints warnings and still exits 0: any line naming our units is a failure.
out=$(cd "$tmp" && "$SA" verify "${units[@]/#/./}" 2>&1)
rc=$?
if ((rc != 0)) || grep -q 'weir-' <<<"$out"; then
    echo "FAIL: systemd-analyze verify (exit $rc):" >&2
    echo "$out" >&2
    exit 1
fi
fail=0
need() { # need UNIT REGEX WHAT
    grep -Eq "$2" "$tmp/$1" || { echo "FAIL: $1: $3" >&2; fail=1; }
}
for u in weir-gateway.service weir-curate.service weir-console.service; do
    need "$u" '^User=weir$' "User=weir"
    need "$u" '^EnvironmentFile=' "an EnvironmentFile"
    need "$u" '^Restart=on-failure$' "Restart=on-failure"
    for d in 'ProtectSystem=strict' 'NoNewPrivileges=true' 'PrivateTmp=true' \
        'ProtectHome=true' 'LimitNOFILE=[0-9]+' 'ReadWritePaths=.*/var/lib/weir'; do
        need "$u" "^$d\$" "$d"
    done
done
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$tmp/weir-gateway.service")
[[ $stop =~ ^[0-9]+$ ]] && ((stop > 90)) ||
    { echo "FAIL: weir-gateway.service: TimeoutStopSec '$stop' is not above the 90 s drain" >&2; fail=1; }
need weir-gateway.service '^ReadWritePaths=.*spool' "ReadWritePaths for the spool"
need weir-gateway.service '^ReadWritePaths=.*lake' "ReadWritePaths for the lake"
need weir-curate.timer '^OnCalendar=\*-\*-\* \*:[0-9]{2}:00$' "an hourly OnCalendar"
need weir-curate.timer '^Persistent=true$' "Persistent=true"
need weir-console.service 'FOR THE COMING CONSOLE' "the note that the console is coming"
((fail == 0)) && echo "units verified: ${units[*]} (systemd-analyze $("$SA" --version | head -1))"
exit $fail
