#!/usr/bin/env bash
# install.sh BUILD_DIR - `cmake --install` into a fresh prefix (no root needed): the files
# land where cmake/install.cmake says, the units' ExecStart, EnvironmentFile and
# Documentation name that prefix, etc/default/weir is written and an existing one kept,
# and `systemd-analyze verify` passes on the installed units as they are.
set -uo pipefail
BUILD=${1:?build dir}
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
die() { echo "FAIL [packaging_install]: $*" >&2; exit 1; }
cmake --install "$BUILD" --prefix "$P" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; die "cmake --install failed"; }
for f in bin/weir share/weir/schemas/page_view.v1.json share/weir/migrations/0001_registry.sql \
    lib/systemd/system/weir-gateway.service lib/systemd/system/weir-curate.service \
    lib/systemd/system/weir-curate.timer lib/systemd/system/weir-console.service \
    share/doc/weir/README.md share/doc/weir/LICENSE share/doc/weir/CHANGELOG.md \
    share/doc/weir/docs/configuration.md share/doc/weir/examples/weir.env etc/default/weir; do
    [ -f "$P/$f" ] || die "$P/$f is not installed"
done
"$P/bin/weir" --version | grep -q '(Apache-2.0)$' || die "the installed weir --version names no licence"
for u in weir-gateway.service weir-curate.service weir-console.service; do
    grep -q "^ExecStart=$P/bin/weir " "$P/lib/systemd/system/$u" || die "$u: ExecStart is not $P/bin/weir"
    grep -q "^EnvironmentFile=$P/etc/default/weir\$" "$P/lib/systemd/system/$u" || die "$u: EnvironmentFile"
    grep -Eq "(^|[=: ])/(usr/bin/weir|etc/default/weir|usr/share/doc)" "$P/lib/systemd/system/$u" &&
        die "$u still names a /usr path"
done
if command -v systemd-analyze >/dev/null; then
    out=$(cd "$P/lib/systemd/system" && systemd-analyze verify weir-gateway.service \
        weir-curate.service weir-curate.timer weir-console.service 2>&1) || die "verify: $out"
    grep -q 'weir-' <<<"$out" && die "verify warns: $out"
fi
echo "# the operator's" >"$P/etc/default/weir"
cmake --install "$BUILD" --prefix "$P" >"$tmp/install2.log" 2>&1 || die "the second cmake --install failed"
[ "$(cat "$P/etc/default/weir")" = "# the operator's" ] || die "a second install overwrote etc/default/weir"
echo "packaging_install: $(find "$P" -type f | wc -l) files under the prefix, units point at it"
