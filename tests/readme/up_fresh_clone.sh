#!/usr/bin/env bash
# up_fresh_clone.sh - `bash scripts/up.sh` from a fresh clone, the way the README says:
# it installs what is missing (nothing, on a machine that ran the tests' deps), builds
# weir in the clone, prints a demo key and a curl command; the test waits for the gateway,
# runs the printed curl as printed, sends SIGINT (Ctrl-C), and checks the exit status and
# that the event is in the clone's var/lake as a gzip JSON line.
# The departures from a user's run: --listen 127.0.0.1:PORT and --console with free ports (and
# --flush-interval 1s, for the README's query block below), since
# 8080 may be taken on a CI machine; the printed curl then names that port.
# Environment: REPO (the source tree), WEIR_PGFIXTURE (to remove a cluster left behind).
set -uo pipefail
REPO=${REPO:?set REPO to the source tree}
FIX=${WEIR_PGFIXTURE:?set WEIR_PGFIXTURE to the weir_pgfixture tool}
command -v git >/dev/null || { echo "SKIP: git is not installed (scripts/deps.sh)" >&2; exit 77; }

TMP=$(mktemp -d /tmp/weir-readme.XXXXXX)
chmod 755 "$TMP" # the postgres user reaches ./var/pg inside the clone
CLONE=$TMP/weir
UPPID=
cleanup() {
    if [ -n "$UPPID" ] && kill -0 "$UPPID" 2>/dev/null; then
        kill -9 "$UPPID" 2>/dev/null
        wait "$UPPID" 2>/dev/null
    fi
    # weir up stops the cluster it started; after a failure it may still run.
    "$FIX" stop "$CLONE/var/pg" --remove >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
die() {
    echo "FAIL [readme_up]: $*" >&2
    for f in "$TMP"/up.out "$TMP"/up.err; do
        [ -f "$f" ] && { echo "--- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2; }
    done
    exit 1
}

# A fresh clone, plus what the working tree has not committed yet (tracked changes and
# new files that are not ignored), so a developer's run tests their tree.
git clone --quiet --no-hardlinks "$REPO" "$CLONE" || die "git clone $REPO"
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=normal)" ]; then
    git -C "$REPO" diff HEAD --binary >"$TMP/wt.diff"
    if [ -s "$TMP/wt.diff" ]; then
        git -C "$CLONE" apply --whitespace=nowarn "$TMP/wt.diff" || die "applying the working tree's changes"
    fi
    git -C "$REPO" ls-files --others --exclude-standard -z |
        (cd "$REPO" && xargs -0 -r cp --parents -t "$CLONE") || die "copying untracked files"
    echo "note: the clone carries the working tree's uncommitted changes" >&2
fi
[ ! -e "$TMP/shared" ] || die "a ../shared beside the clone"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
cport=$(free_port)
# Job control gives the background job its own process group and keeps SIGINT's default
# disposition (a non-interactive shell would start it with SIGINT ignored).
set -m
(cd "$CLONE" && WEIR_READY_FILE=$TMP/ready exec bash scripts/up.sh --listen "127.0.0.1:$port" \
    --console "127.0.0.1:$cport" --flush-interval 1s) \
    >"$TMP/up.out" 2>"$TMP/up.err" &
UPPID=$!
set +m

# The key and the curl are printed before the gateway serves; the ready file says it does.
deadline=$((SECONDS + 1100))
while [ ! -s "$TMP/ready" ]; do
    kill -0 "$UPPID" 2>/dev/null || die "scripts/up.sh exited before serving"
    ((SECONDS < deadline)) || die "no gateway within the deadline"
    sleep 0.2
done
# A user pastes the curl seconds later; the test waits for what those seconds give:
# the registry loaded, which /readyz reports.
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" == 200 ]; do
    kill -0 "$UPPID" 2>/dev/null || die "scripts/up.sh exited before it was ready"
    ((SECONDS < deadline)) || die "/readyz never said 200"
    sleep 0.2
done
key=$(sed -n 's/^  \(weir_[A-Za-z0-9_-]*\)$/\1/p' "$TMP/up.out")
[[ $key =~ ^weir_[A-Za-z0-9_-]{43}$ ]] || die "no demo key printed"
# The printed curl: from its first line to the line without a trailing backslash.
curl_cmd=$(awk '/^  curl /{on=1} on{print; if ($0 !~ /\\$/) exit}' "$TMP/up.out")
[ -n "$curl_cmd" ] || die "no curl command printed"
[[ $curl_cmd == *"Bearer $key"* ]] || die "the printed curl does not use the printed key"
reply=$(cd "$TMP" && bash -c "$curl_cmd") || die "the printed curl failed: $curl_cmd"
[[ $reply == *'"accepted":1'* ]] || die "the printed curl got: $reply"
url=$(printf '%s\n' "$curl_cmd" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
[ -n "$url" ] || die "no url in the printed event"

# The README's "One question, three ways" block, run as written but for the ports, a
# shorter wait (the gateway here flushes after 1 s, not 60) and the npm install (the
# clone borrows the checkout's tests/tools/node_modules instead of downloading it again).
block=$(awk '/^### One question, three ways/{on=1} on&&/^```sh/{inb=1; next} inb&&/^```/{exit} inb{print}' "$CLONE/README.md")
[ -n "$block" ] || die "no 'One question, three ways' block in the README"
block=${block//127.0.0.1:8080/127.0.0.1:$port}
block=${block//127.0.0.1:8081/127.0.0.1:$cport}
block=${block//sleep 61/sleep 3}
block=${block//bash scripts\/npm-deps.sh/ln -s \"$REPO\/tests\/tools\/node_modules\" tests\/tools\/node_modules}
answers=$(cd "$CLONE" && bash -e -o pipefail -c "$block" 2>"$TMP/block.err") ||
    die "the README's query block failed: $(tail -n 5 "$TMP/block.err")"
duck=$(printf '%s\n' "$answers" | grep -o '\[{"n":"[0-9]*"}\]' | tail -n 1)
console=$(printf '%s\n' "$answers" | tail -n 1 | tr -d ' ')
[ "$duck" == '[{"n":"2"}]' ] || die "DuckDB through weir catalog answered '$duck', not 2: $answers"
[ "$console" == 2 ] || die "the console answered '$console' events, not 2: $answers"

kill -INT "$UPPID"
wait "$UPPID"
rc=$?
UPPID=
[ "$rc" -eq 0 ] || die "scripts/up.sh exited $rc after SIGINT, not 0"

python3 - "$CLONE/var/lake" "$url" "$key" <<'PY' || die "the event is not in var/lake"
import gzip, json, pathlib, sys
lake, url = pathlib.Path(sys.argv[1]), sys.argv[2]
files = sorted(lake.rglob("*.gz"))
found = 0
for f in files:
    with gzip.open(f, "rt", encoding="utf-8") as g:
        for n, line in enumerate(g, 1):
            ev = json.loads(line)  # every line is one JSON object
            if ev.get("event_type") == "page_view" and ev.get("payload", {}).get("url") == url:
                found += 1
print(f"{len(files)} lake file(s), the event found {found} time(s)", file=sys.stderr)
sys.exit(0 if found == 1 else 1)
PY
"$FIX" running "$CLONE/var/pg" && die "the embedded PostgreSQL still runs after Ctrl-C"
echo "readme_up: the README's first command works from a fresh clone"
