#!/usr/bin/env bash
# ceph-s3.sh - a throwaway S3 server for weir's tests: one Ceph monitor, one in-memory
# (memstore) OSD and radosgw, all on 127.0.0.1 under one directory, nothing installed.
#
#   ceph-s3.sh start DIR      start everything; prints and writes DIR/env (S3_ENDPOINT,
#                             S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION)
#   ceph-s3.sh stop DIR       kill every daemon started under DIR (by recorded pid)
#   ceph-s3.sh stop-rgw DIR   kill radosgw only (the S3 endpoint goes away)
#   ceph-s3.sh start-rgw DIR  start radosgw again on the same port and wait for it
#
# Exit 77 (after writing DIR/unavailable) when the Ceph binaries are missing; install
# them with: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd
# Env: S3_ACCESS_KEY, S3_SECRET_KEY (defaults below), S3_MEM_BYTES (store size, RAM).
set -euo pipefail

usage() { echo "usage: $0 start|stop|stop-rgw|start-rgw DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$(realpath -m "$2")

log() { echo "ceph-s3: $*" >&2; }

# Picks a TCP port that is free on 127.0.0.1 right now.
pick_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# retry N CMD...: runs CMD every 0.2 s until it succeeds, at most N times.
retry() {
    local n=$1
    shift
    local i
    for ((i = 0; i < n; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# kill_pidfile NAME: SIGKILL the daemon whose pid is in DIR/NAME.pid and wait until it
# is gone. SIGKILL because the data is throwaway and a clean OSD stop takes seconds
# (and writes its memstore out, possibly into the next run's directory).
kill_pidfile() {
    local f="$dir/$1.pid" pid state
    [[ -f $f ]] || return 0
    pid=$(<"$f")
    if [[ $pid =~ ^[0-9]+$ ]]; then
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 200; i++)); do
            [[ -e /proc/$pid ]] || break
            state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
            [[ $state == Z || $state == gone ]] && break
            sleep 0.05
        done
    fi
    rm -f "$f"
}

rgw_port() { sed -n 's/^S3_ENDPOINT=http:\/\/127.0.0.1://p' "$dir/env"; }

start_rgw() {
    local port=$1
    radosgw -c "$dir/ceph.conf" -n client.rgw.a -f >>"$dir/log/rgw.out" 2>&1 &
    echo $! >"$dir/rgw.pid"
    if ! retry 300 curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        log "radosgw did not answer on port $port (see $dir/log)"
        return 1
    fi
}

case $cmd in
stop)
    for d in rgw osd mon; do kill_pidfile "$d"; done
    rm -f "$dir/env" # describes a server that no longer runs
    exit 0
    ;;
stop-rgw)
    kill_pidfile rgw
    exit 0
    ;;
start-rgw)
    [[ -f $dir/env ]] || { log "$dir has no running cluster"; exit 1; }
    [[ -f $dir/rgw.pid ]] && { log "radosgw already running"; exit 1; }
    start_rgw "$(rgw_port)"
    exit 0
    ;;
start) ;;
*) usage ;;
esac

for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl python3; do
    if ! command -v "$b" >/dev/null 2>&1; then
        mkdir -p "$dir"
        rm -f "$dir/env"
        echo "$b is not installed (apt-get install radosgw ceph-mon ceph-osd)" >"$dir/unavailable"
        log "SKIP: $b is not installed"
        exit 77
    fi
done
if [[ -e $dir/mon.pid || -e $dir/osd.pid || -e $dir/rgw.pid ]]; then
    log "$dir: a cluster is still running there; stop it first"
    exit 1
fi

t0=$(date +%s.%N)
access=${S3_ACCESS_KEY:-WEIRTESTACCESSKEY}
secret=${S3_SECRET_KEY:-weir-test-secret-key}
rm -rf "$dir"
mkdir -p "$dir/mon" "$dir/osd0" "$dir/run" "$dir/log"
# On any failure: say where, and leave no half-started cluster behind.
trap 'log "failed at line $LINENO: $BASH_COMMAND (logs in $dir/log)"; for d in rgw osd mon; do kill_pidfile $d; done' ERR

mon_port=$(pick_port)
rgw_port=$(pick_port)
fsid=$(cat /proc/sys/kernel/random/uuid)
conf=(-c "$dir/ceph.conf")

cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind msgr2 = false
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
# One OSD, so one replica and no host-level spreading.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon data avail warn = 2
mon data avail crit = 1
# radosgw creates its pools one by one at first start; each waits a paxos round,
# which defaults to 1 s. A short round makes start-up seconds instead of tens.
paxos propose interval = 0.1
osd objectstore = memstore
memstore device bytes = ${S3_MEM_BYTES:-1073741824}

[osd]
# We place osd.0 in the crush map ourselves; fewer start-up mon commands.
osd crush update on start = false
osd class update on start = false

[osd.0]
osd data = $dir/osd0

[mon.a]
mon data = $dir/mon

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw enable usage log = false
# Virtual-host addressing as bucket.localhost:PORT (curl resolves *.localhost itself).
rgw dns name = localhost
# No metadata cache: with it, a radosgw restarted by a test notifies the dead
# instance's cache watchers on every metadata write (bucket creation) and waits
# for them to time out, about 30 s.
rgw cache enabled = false
EOF

# cephx with one keyring for all: with auth disabled, clients that race the monmap
# get "wrong fsid" refusals now and then.
kr=(ceph-authtool "$dir/keyring")
"${kr[@]}" --create-keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
"${kr[@]}" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
"${kr[@]}" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' >/dev/null
"${kr[@]}" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null

monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
ceph-mon "${conf[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
ceph-mon "${conf[@]}" -i a -f >"$dir/log/mon.out" 2>&1 &
echo $! >"$dir/mon.pid"
retry 100 timeout 5 ceph "${conf[@]}" mon stat || { log "monitor did not come up"; false; }

osd_uuid=$(cat /proc/sys/kernel/random/uuid)
ceph "${conf[@]}" osd new "$osd_uuid" >/dev/null
ceph "${conf[@]}" osd crush add osd.0 1 root=default >/dev/null 2>&1
ceph-osd "${conf[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1
ceph-osd "${conf[@]}" -i 0 -f >"$dir/log/osd.out" 2>&1 &
echo $! >"$dir/osd.pid"
osd_up() { timeout 5 ceph "${conf[@]}" osd stat | grep -q '1 up'; }
retry 150 osd_up || { log "OSD did not come up"; false; }

start_rgw "$rgw_port"
radosgw-admin "${conf[@]}" user create --uid weir-test --display-name "weir tests" \
    --access-key "$access" --secret "$secret" >/dev/null

{
    echo "S3_ENDPOINT=http://127.0.0.1:$rgw_port"
    echo "S3_ACCESS_KEY=$access"
    echo "S3_SECRET_KEY=$secret"
    echo "S3_REGION=us-east-1"
} >"$dir/env"
cat "$dir/env"
t1=$(date +%s.%N)
log "started in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
