#!/usr/bin/env bash
# deb.sh BUILD_DIR SOURCE_DIR CPACK - the Debian package end to end, as an operator gets
# it: cpack builds weir_<version>_amd64.deb from BUILD_DIR; its Depends cover every
# shared library /usr/bin/weir loads; `apt-get install -y ./weir_*.deb` installs it (the
# postinst makes the `weir` user and /etc/default/weir); the installed units verify; then
# from an EMPTY folder `/usr/bin/weir up --no-gateway`, and `weir up` with a gateway: one
# event posted with the printed key, SIGINT, exit 0, the event in ./var/lake. At the end
# the package is removed and purged, and the `weir` user deleted when this test made it,
# so the machine is as before. Needs root and apt (exit 77 otherwise).
set -uo pipefail
BUILD=${1:?build dir} SRC=${2:?source dir} CPACK=${3:-cpack}
FIX=${WEIR_PGFIXTURE:-}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a .deb needs root (run ctest as root)" >&2; exit 77; }
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
    { echo "SKIP: not a Debian system (no apt-get/dpkg-deb)" >&2; exit 77; }
if dpkg-query -W -f '${Status}' weir 2>/dev/null | grep -q 'ok installed'; then
    echo "SKIP: a weir package is already installed; this test will not replace it" >&2
    exit 77
fi
[ ! -e /usr/bin/weir ] || { echo "SKIP: /usr/bin/weir exists and is not from a package" >&2; exit 77; }

TMP=$(mktemp -d /tmp/weir-deb.XXXXXX)
chmod 755 "$TMP" # the postgres user reaches ./var/pg under it
user_before=$(getent passwd weir >/dev/null && echo yes || echo no)
env_before=$([ -e /etc/default/weir ] && echo yes || echo no)
UPPID=
installed=no
cleanup() {
    if [ -n "$UPPID" ] && kill -0 "$UPPID" 2>/dev/null; then
        kill -9 "$UPPID" 2>/dev/null
        wait "$UPPID" 2>/dev/null
    fi
    [ -n "$FIX" ] && "$FIX" stop "$TMP/run/var/pg" --remove >/dev/null 2>&1
    if [ "$installed" = yes ]; then
        apt_retry remove -y weir >"$TMP/remove.log" 2>&1 || cat "$TMP/remove.log" >&2
        dpkg --purge weir >>"$TMP/remove.log" 2>&1
        [ "$user_before" = no ] && getent passwd weir >/dev/null && userdel weir 2>/dev/null
        [ "$user_before" = no ] && getent group weir >/dev/null && groupdel weir 2>/dev/null
        [ "$env_before" = no ] && rm -f /etc/default/weir
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
die() {
    echo "FAIL [packaging_deb]: $*" >&2
    for f in "$TMP"/*.log "$TMP"/up*.out "$TMP"/up*.err; do
        [ -f "$f" ] && { echo "--- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }
    done
    exit 1
}
# Other processes (unattended upgrades, other builds) may hold the dpkg lock a while.
apt_retry() {
    local i
    for i in $(seq 1 60); do
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@" && return 0
        fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock >/dev/null 2>&1 || return 1
        sleep 2
    done
    return 1
}

# 1. The package.
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD/CPackConfig.cmake")
[ -n "$version" ] || die "no CPACK_PACKAGE_VERSION in $BUILD/CPackConfig.cmake (configure first)"
(cd "$TMP" && "$CPACK" -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/pkg") >"$TMP/cpack.log" 2>&1 ||
    die "cpack failed"
deb="$TMP/pkg/weir_${version}_amd64.deb"
[ -f "$deb" ] || die "cpack made no $(basename "$deb"): $(ls "$TMP/pkg")"
depends=$(dpkg-deb -f "$deb" Depends)
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes; Depends: $depends"
dpkg-deb -c "$deb" >"$TMP/contents.log"
for f in ./usr/bin/weir ./usr/share/weir/schemas/page_view.v1.json \
    ./usr/lib/systemd/system/weir-gateway.service ./usr/lib/systemd/system/weir-curate.timer \
    ./usr/share/doc/weir/LICENSE ./usr/share/doc/weir/examples/weir.env \
    ./usr/share/doc/weir/docs/configuration.md; do
    grep -q " $f\$" "$TMP/contents.log" || die "the package lacks $f"
done

# 2. Install it, the way the README says.
cp "$deb" "$TMP/"
installed=yes
(cd "$TMP" && apt_retry install -y "./$(basename "$deb")") >"$TMP/install.log" 2>&1 ||
    die "apt-get install ./$(basename "$deb") failed"
[ -x /usr/bin/weir ] || die "no /usr/bin/weir after the install"
/usr/bin/weir --version | grep -qx "weir $version (Apache-2.0)" ||
    die "weir --version says '$(/usr/bin/weir --version)'"
getent passwd weir >/dev/null || die "the postinst made no weir user"
[ "$(stat -c '%a %U %G' /etc/default/weir)" = "640 root weir" ] ||
    die "/etc/default/weir is '$(stat -c '%a %U %G' /etc/default/weir 2>&1)', not 640 root weir"
# Every library the binary names (DT_NEEDED) comes from a package it depends on.
command -v readelf >/dev/null || die "readelf is not installed (binutils)"
needed=$(readelf -d /usr/bin/weir | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || die "readelf found no NEEDED entry in /usr/bin/weir"
for so in $needed; do
    lib=$(ldd /usr/bin/weir | awk -v so="$so" '$1 == so && $3 ~ /^\// {print $3}')
    [ -n "$lib" ] || die "ldd does not resolve $so"
    real=$(readlink -f "$lib")
    pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null)
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || die "no package owns $lib"
    grep -Eq "(^|, )$pkg(,| |\$)" <<<"$depends" || die "$lib is in $pkg, which Depends does not name"
done
if command -v systemd-analyze >/dev/null; then
    (cd /usr/lib/systemd/system && systemd-analyze verify weir-gateway.service weir-curate.service \
        weir-curate.timer weir-console.service) >"$TMP/verify.log" 2>&1 || die "the installed units do not verify"
    grep -q 'weir-' "$TMP/verify.log" && die "systemd-analyze verify warns about the installed units"
fi

# 3. weir up from an empty folder with the installed binary.
mkdir -m 755 "$TMP/run"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$TMP/run" && /usr/bin/weir up --no-gateway --listen "127.0.0.1:$port") \
    >"$TMP/up1.out" 2>"$TMP/up1.err" || die "weir up --no-gateway exited $?"
key=$(sed -n 's/^  \(weir_[A-Za-z0-9_-]*\)$/\1/p' "$TMP/up1.out")
[[ $key =~ ^weir_[A-Za-z0-9_-]{43}$ ]] || die "weir up --no-gateway printed no key"
set -m
(cd "$TMP/run" && WEIR_READY_FILE=$TMP/ready exec /usr/bin/weir up --listen "127.0.0.1:$port") \
    >"$TMP/up2.out" 2>"$TMP/up2.err" &
UPPID=$!
set +m
deadline=$((SECONDS + 300))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" == 200 ]; do
    kill -0 "$UPPID" 2>/dev/null || die "weir up exited before it was ready"
    ((SECONDS < deadline)) || die "/readyz never said 200"
    sleep 0.2
done
key2=$(sed -n 's/^  \(weir_[A-Za-z0-9_-]*\)$/\1/p' "$TMP/up2.out")
[ "$key2" = "$key" ] || die "the second weir up printed another key ('$key2')"
url="https://example.com/deb-$RANDOM$RANDOM"
reply=$(curl -sS "http://127.0.0.1:$port/v1/events" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"event_type\":\"page_view\",\"payload\":{\"url\":\"$url\",\"path\":\"/\",\"anonymous_id\":\"a1b2c3d4e5\"}}") ||
    die "posting the event failed"
[[ $reply == *'"accepted":1'* ]] || die "the gateway answered: $reply"
kill -INT "$UPPID"
wait "$UPPID"
rc=$?
UPPID=
((rc == 0)) || die "weir up exited $rc after SIGINT, not 0"
python3 - "$TMP/run/var/lake" "$url" <<'PY' || die "the event is not in ./var/lake"
import gzip, json, pathlib, sys
found = 0
for f in sorted(pathlib.Path(sys.argv[1]).rglob("*.gz")):
    with gzip.open(f, "rt", encoding="utf-8") as g:
        for line in g:
            ev = json.loads(line)
            found += ev.get("event_type") == "page_view" and ev.get("payload", {}).get("url") == sys.argv[2]
sys.exit(0 if found == 1 else 1)
PY
echo "packaging_deb: installed $(basename "$deb"), weir up ran from an empty folder, the event is in the lake"
