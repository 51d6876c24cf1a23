#!/usr/bin/env bash
# run.sh - the gateway benchmark: `weir gateway` vs an nginx that answers every POST with a fixed
# 202 (the HTTP ceiling of this machine), same run, wrk on the same machine; prints a Markdown table.
#   bench/gateway/run.sh [WEIR_BINARY]        (builds nothing; default build-gwbench/cli/weir)
# Environment: WEIR_PGFIXTURE (default: beside the weir binary's build dir), DURATION (5s),
# REPEATS (3), CONNS (32), PIN (0: no pinning, the default; 1: server on cpu 0, wrk on cpu 1),
# WORKLOADS (a subset of "single batch batchgz pixel beacon": pixel = GET /v1/p.gif with a
# publishable key and the event in the query, against nginx's empty_gif; beacon = one event
# POSTed as text/plain to /v1/events?key=, as sendBeacon sends it; singleclose and pixelclose
# = single and pixel with "Connection: close", a new connection per request, on CLOSE_CONNS
# (128) connections; not in the default list), GW_THREADS (default: the server's cores),
# GW_ARGS (extra flags of every weir gateway, e.g. "--event-loop poll"), GWB_ARGS (extra
# flags of gateway B: WEIR_B=same binary GWB_ARGS="--ip-mode keep --store-user-agent no"
# measures what the context costs), GWB_ENV (VAR=value words set for
# gateway B only, e.g. GWB_ENV=WEIR_EXPERIMENT_URING_LOOP=1 with GWB_ARGS=--unsafe-ack-from-memory),
# LATENCY (1; 0 skips the half-peak latency runs), BENCH_UA (the User-Agent every
# request carries; default a desktop Chrome, as browsers send; "" for none),
# WEIR_B (a second weir binary, run as a third, durable gateway "B" in the same interleaved
# rounds, to compare two builds), BENCH_TMP (parent of the temp dir, default /tmp),
# PROFILE (1: perf-record the gateway during one extra batch run and one single-event run, and print
# per-thread CPU and the top symbols; KEEP_PERF=DIR keeps the perf.data files; PERF_ARGS overrides
# the sampling options, e.g. "-F 199 --call-graph dwarf"; PROFILE_RUNS="gw:single gwu:batch" picks
# the target:workload runs, default "gw:batch gwu:single"), KEEP_ON_FAILURE (1: keep the temp dir).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WEIR=${1:-${WEIR:-$root/build-gwbench/cli/weir}}
WEIR=$(readlink -f "$WEIR")
build=$(dirname "$(dirname "$WEIR")")
PGFIXTURE=$(readlink -m "${WEIR_PGFIXTURE:-$build/tests/pg/weir_pgfixture}")
DURATION=${DURATION:-5s}
REPEATS=${REPEATS:-3}
CONNS=${CONNS:-32}
CLOSE_CONNS=${CLOSE_CONNS:-128}
PIN=${PIN:-0}
PROFILE=${PROFILE:-0}
WORKLOADS=${WORKLOADS:-single batch batchgz pixel beacon}
LAT_WORKLOADS=$(for w in $WORKLOADS; do case $w in single | batch) printf '%s ' "$w" ;; esac; done)
[ "${LATENCY:-1}" = 1 ] || LAT_WORKLOADS=""
WEIR_B=${WEIR_B:+$(readlink -f "$WEIR_B")}
BATCH=100

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x "$WEIR" ] || die "no weir binary at $WEIR (build: cmake --build build-gwbench --target weir weir_pgfixture)"
[ -z "$WEIR_B" ] || [ -x "$WEIR_B" ] || die "WEIR_B=$WEIR_B is not an executable"
[ -x "$PGFIXTURE" ] || die "no weir_pgfixture at $PGFIXTURE (set WEIR_PGFIXTURE)"
for t in wrk nginx python3 curl taskset /usr/bin/time; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/deps.sh --test installs wrk and nginx-light)"
done

ncpu=$(nproc)
if [ "$PIN" = 1 ] && [ "$ncpu" -ge 2 ]; then
    srv_cpus=0 wrk_cpus=1 srv_ncpu=1
    srv_pin=(taskset -c "$srv_cpus") wrk_pin=(taskset -c "$wrk_cpus")
else
    PIN=0 srv_ncpu=$ncpu srv_pin=() wrk_pin=()
fi
THREADS=${GW_THREADS:-$srv_ncpu}

tmp=$(mktemp -d "${BENCH_TMP:-/tmp}/weir-gwbench.XXXXXX")
cd "$tmp" # nothing stray lands in the caller's folder
chmod 755 "$tmp" # the embedded Postgres runs as its own user and must reach its folder
pids=()
pg_started=0
cleanup() {
    local rc=$?
    set +e
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    if [ "$pg_started" = 1 ]; then
        "$PGFIXTURE" stop "$tmp/pg" >/dev/null 2>&1
    fi
    if [ "$rc" != 0 ] && [ -n "${KEEP_ON_FAILURE:-}" ]; then
        echo "run.sh: failed; kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "# $*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# --- Postgres, registry, key ------------------------------------------------------------
log "temp dir $tmp ($(df -T "$tmp" | awk 'NR==2 {print $2}') on $(df "$tmp" | awk 'NR==2 {print $1}'))"
"$PGFIXTURE" start "$tmp/pg" >"$tmp/pg.log" 2>&1 || { cat "$tmp/pg.log" >&2; die "Postgres did not start"; }
pg_started=1
export WEIR_DATABASE_URL="host=$tmp/pg/run user=weir dbname=weir"
export WEIR_LOG_LEVEL=warn
"$WEIR" migrate >/dev/null
for f in "$root"/schemas/*.v*.json; do
    b=$(basename "$f" .json)
    "$WEIR" schema add "${b%.v*}" "$f" --version "${b##*.v}" >/dev/null
done
KEY=$("$WEIR" key create --name bench | tail -n 1)
# the browser workloads: every request comes from this one address, so no --ip-rate
PKEY=$("$WEIR" key create --name bench-web --publishable --origins https://bench.example --ip-rate 0 | tail -n 1)

# --- request bodies -----------------------------------------------------------------------
log "$(python3 "$here/gen_bodies.py" "$tmp/bodies" "$BATCH" 8)"
# the pixels: the single events as query strings (the payload as URL-encoded JSON)
python3 - "$tmp/bodies" "$PKEY" <<'PY'
import json, sys, urllib.parse
d, key = sys.argv[1], sys.argv[2]
with open(f"{d}/single.list") as lst, open(f"{d}/pixel.list", "w") as out:
    for path in filter(None, (l.strip() for l in lst)):
        ev = json.load(open(path))
        q = {"key": key}
        q.update({k: (json.dumps(v, separators=(",", ":")) if k == "payload" else str(v)) for k, v in ev.items()})
        out.write("/v1/p.gif?" + urllib.parse.urlencode(q) + "\n")
PY

# --- servers --------------------------------------------------------------------------------
# start_gateway NAME [extra flags...]: starts it, sets ${NAME}_port and ${NAME}_pid
gw_port='' gw_pid='' gwu_port='' gwu_pid='' gwb_port='' gwb_pid='' nginx_port='' nginx_pid=
start_gateway() {
    local name=$1
    shift
    local ready="$tmp/$name.ready"
    mkdir -p "$tmp/$name"
    local bin=$WEIR benv=()
    if [ "$name" = gwb ]; then
        bin=$WEIR_B
        # shellcheck disable=SC2206 # GWB_ENV is a list of VAR=value words
        benv=(${GWB_ENV:-})
    fi
    env "${benv[@]}" WEIR_READY_FILE="$ready" WEIR_MAX_CONNECTIONS_PER_IP=0 "${srv_pin[@]}" "$bin" gateway --listen 127.0.0.1:0 \
        --spool-dir "$tmp/$name/spool" --lake "file://$tmp/$name/lake" --spool-max 64GiB \
        --flush-interval 10m --access-log off --log-level warn --threads "$THREADS" \
        --max-connections 4096 --max-events 1000 "$@" >"$tmp/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    local _
    for _ in $(seq 300); do
        if [ -s "$ready" ]; then
            printf -v "${name}_port" '%s' "$(cat "$ready")"
            printf -v "${name}_pid" '%s' "$pid"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log" >&2; die "gateway $name exited at start"; }
        sleep 0.1
    done
    die "gateway $name did not start"
}

start_nginx() {
    local prefix="$tmp/nginx" cpus=""
    mkdir -p "$prefix"
    nginx_port=$(free_port)
    if [ "$PIN" = 1 ]; then
        # every worker on the server core, like the gateway's threads
        cpus="worker_cpu_affinity $(printf '01 %.0s' $(seq "$THREADS"));"
    fi
    sed -e "s|@WORKERS@|$THREADS|" -e "s|@PORT@|$nginx_port|" -e "s|@PREFIX@|$prefix|g" \
        -e "s|@CPUS@|$cpus|" "$here/nginx.conf.in" >"$prefix/nginx.conf"
    "${srv_pin[@]}" nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
    nginx_pid=$!
    pids+=("$nginx_pid")
    for _ in $(seq 100); do
        if curl -s -o /dev/null -X POST "http://127.0.0.1:$nginx_port/v1/events" -d '{}'; then
            return 0
        fi
        sleep 0.1
    done
    cat "$prefix/error.log" >&2
    die "nginx did not start"
}

# shellcheck disable=SC2086 # GW_ARGS and GWB_ARGS are lists of flags
{
    start_gateway gw ${GW_ARGS:-}
    start_gateway gwu ${GW_ARGS:-} --unsafe-ack-from-memory
    if [ -n "$WEIR_B" ]; then
        start_gateway gwb ${GW_ARGS:-} ${GWB_ARGS:-}
    fi
}
start_nginx

# Every body must be accepted whole, or the figures measure rejections.
for list in single batch batch-gz; do
    gzhdr=()
    [ "$list" = batch-gz ] && gzhdr=(-H "Content-Encoding: gzip")
    while read -r body; do
        want=$([ "$list" = single ] && echo 1 || echo "$BATCH")
        got=$(curl -s -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" "${gzhdr[@]}" \
            --data-binary "@$body" "http://127.0.0.1:$gw_port/v1/events")
        [ "$got" = "{\"accepted\":$want,\"rejected\":0}" ] || die "body $body: $got"
    done <"$tmp/bodies/$list.list"
done
log "every body accepted whole by the gateway"

# --- measurement helpers ---------------------------------------------------------------------
# ctx_switches PID: context switches (voluntary + involuntary) of every thread of the pid and
# of its direct children: a wake-up per hand-off, the count that load does not change
ctx_switches() {
    local p
    for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
        cat /proc/"$p"/task/*/status 2>/dev/null
    done | awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ {s += $2} END {printf "%d\n", s}'
}

# process-tree CPU ticks (user+system) of a pid and its direct children
cpu_ticks() {
    local t=0 p
    for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
        if [ -r "/proc/$p/stat" ]; then
            t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
        fi
    done
    echo "$t"
}

metric_sum() { # metric_sum PORT NAME: the sum of every series of the metric
    curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $2} END {printf "%.0f\n", s}'
}

results="$tmp/results.txt"
: >"$results"
hz=$(getconf CLK_TCK)

# measure TARGET WORKLOAD CONNS DURATION TAG: one wrk run; appends one line to $results
measure() {
    local target=$1 workload=$2 conns=$3 dur=$4 tag=$5
    local port pid list ctype=application/json enc=- events=1 key=$KEY path=/v1/events close=keep
    case $target in
        nginx) port=$nginx_port pid=$nginx_pid ;;
        gw) port=$gw_port pid=$gw_pid ;;
        gwu) port=$gwu_port pid=$gwu_pid ;;
        gwb) port=$gwb_port pid=$gwb_pid ;;
    esac
    case $workload in
        single) list=single ;;
        batch) list=batch events=$BATCH ;;
        batchgz) list=batch-gz events=$BATCH enc=gzip ;;
        pixel) list=pixel ctype=GET key=- ;;
        beacon) list=single ctype="text/plain;charset=UTF-8" key=- path="/v1/events?key=$PKEY" ;;
        singleclose) list=single close=close ;;
        pixelclose) list=pixel ctype=GET key=- close=close ;;
    esac
    local acc0=0 rej0=0 fs0=0 fs1=0
    if [ "$target" != nginx ]; then
        acc0=$(metric_sum "$port" weir_events_accepted_total)
        rej0=$(metric_sum "$port" weir_events_rejected_total)
        fs0=$(metric_sum "$port" weir_spool_fsyncs_total)
    fi
    local c0 x0
    c0=$(cpu_ticks "$pid")
    x0=$(ctx_switches "$pid")
    "${wrk_pin[@]}" /usr/bin/time -f "%U %S" -o "$tmp/wrk.time" wrk -t1 -c"$conns" -d"$dur" \
        --timeout 10s -s "$here/post.lua" "http://127.0.0.1:$port/v1/events" \
        -- "$key" "$ctype" "$enc" "$tmp/bodies/$list.list" "$path" "$close" >"$tmp/wrk.out" 2>&1 \
        || { cat "$tmp/wrk.out" >&2; die "wrk failed"; }
    local c1 x1
    c1=$(cpu_ticks "$pid")
    x1=$(ctx_switches "$pid")
    sleep 0.3 # let requests that wrk abandoned at the deadline finish before reading counters
    local line
    line=$(grep '^WRKRESULT' "$tmp/wrk.out") || { cat "$tmp/wrk.out" >&2; die "no WRKRESULT"; }
    local req dus serr cerr rerr werr tmo p50 p90 p99
    eval "$(echo "${line#WRKRESULT }" | tr ' ' '\n' | sed -n \
        -e 's/^requests=/req=/p' -e 's/^duration_us=/dus=/p' -e 's/^status_errors=/serr=/p' \
        -e 's/^connect_errors=/cerr=/p' -e 's/^read_errors=/rerr=/p' -e 's/^write_errors=/werr=/p' \
        -e 's/^timeouts=/tmo=/p' -e 's/^p50_us=/p50=/p' -e 's/^p90_us=/p90=/p' -e 's/^p99_us=/p99=/p')"
    [ "$serr" = 0 ] || die "$target $workload: $serr responses were not 2xx"
    [ "$cerr" = 0 ] && [ "$rerr" = 0 ] && [ "$werr" = 0 ] && [ "$tmo" = 0 ] \
        || die "$target $workload: socket errors: connect $cerr, read $rerr, write $werr, timeout $tmo"
    [ "$req" -gt 0 ] || die "$target $workload: no requests completed"
    local acc=$((req * events))
    if [ "$target" != nginx ]; then
        local acc1 rej1
        acc1=$(metric_sum "$port" weir_events_accepted_total)
        rej1=$(metric_sum "$port" weir_events_rejected_total)
        fs1=$(metric_sum "$port" weir_spool_fsyncs_total)
        acc=$((acc1 - acc0))
        [ "$((rej1 - rej0))" = 0 ] || die "$target $workload: $((rej1 - rej0)) events rejected"
        # the gateway counted at least what wrk saw answered, and at most the in-flight rest
        if [ "$acc" -lt $((req * events)) ] || [ "$acc" -gt $(((req + conns) * events)) ]; then
            die "$target $workload: gateway accepted $acc events, wrk saw $req x $events answered"
        fi
    fi
    local wu ws
    read -r wu ws <"$tmp/wrk.time"
    # fields: tag target workload conns req/s events/s p50 p90 p99 (ms) srv_cpu% wrk_cpu% accepted
    # server-CPU-us/request server-CPU-us/event events-per-fsync (gateways; 0 for nginx)
    # server context switches per request
    awk -v tag="$tag" -v t="$target" -v w="$workload" -v c="$conns" -v req="$req" -v dus="$dus" \
        -v ev="$events" -v p50="$p50" -v p90="$p90" -v p99="$p99" -v sc="$((c1 - c0))" -v hz="$hz" \
        -v wu="$wu" -v ws="$ws" -v acc="$acc" -v fs="$((fs1 - fs0))" -v xs="$((x1 - x0))" 'BEGIN {
            s = dus / 1e6
            cpu = sc / hz
            printf "%s %s %s %d %.0f %.0f %.3f %.3f %.3f %.0f %.0f %d %.1f %.2f %.1f %.2f\n", tag, t, w, c, req / s,
                req * ev / s, p50 / 1000, p90 / 1000, p99 / 1000, 100 * cpu / s, 100 * (wu + ws) / s, acc,
                1e6 * cpu / req, 1e6 * cpu / (req * ev), (fs > 0 ? acc / fs : 0), xs / req
        }' >>"$results"
    log "$(tail -n 1 "$results")"
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) {print "nan"} else if (NR % 2) {print a[(NR + 1) / 2]} else {print (a[NR / 2] + a[NR / 2 + 1]) / 2}}'; }

# med TAG TARGET WORKLOAD FIELD: the median of one column over the repeats
med() {
    awk -v tag="$1" -v t="$2" -v w="$3" -v f="$4" '$1 == tag && $2 == t && $3 == w {print $f}' "$results" | median
}

# wconns WORKLOAD: its connection count (CONNS; CLOSE_CONNS for a new connection per request)
wconns() { case $1 in *close) echo "$CLOSE_CONNS" ;; *) echo "$CONNS" ;; esac; }

# --- throughput: interleaved rounds ----------------------------------------------------------
log "throughput: $REPEATS rounds of wrk -t1 -c$CONNS -d$DURATION, nginx / gateway / gateway-unsafe interleaved"
for _ in $(seq "$REPEATS"); do
    for w in $WORKLOADS; do
        c=$(wconns "$w")
        measure nginx "$w" "$c" "$DURATION" peak
        measure gw "$w" "$c" "$DURATION" peak
        measure gwu "$w" "$c" "$DURATION" peak
        if [ -n "$WEIR_B" ]; then
            measure gwb "$w" "$c" "$DURATION" peak
        fi
    done
done

# --- latency at about half the peak ----------------------------------------------------------
# wrk is closed-loop (no fixed arrival rate), so the load is set by the number of connections:
# short probes find the connection count whose throughput is nearest half the measured peak,
# then that count is measured like the peak (interleaved with nginx at the same count).
declare -A lat_conns
for w in $LAT_WORKLOADS; do
    peak=$(med peak gw "$w" 5)
    best=1 bestd=-1
    for c in 1 2 4 8 16 32; do
        [ "$c" -le "$CONNS" ] || break
        measure gw "$w" "$c" 2s "probe-$w"
        rate=$(tail -n 1 "$results" | awk '{print $5}')
        d=$(awk -v r="$rate" -v p="$peak" 'BEGIN {d = r / p - 0.5; print (d < 0 ? -d : d)}')
        if [ "$bestd" = -1 ] || awk -v a="$d" -v b="$bestd" 'BEGIN {exit !(a < b)}'; then
            best=$c bestd=$d
        fi
        # past half the peak: more connections only add queueing
        awk -v r="$rate" -v p="$peak" 'BEGIN {exit !(r > 0.6 * p)}' && break
    done
    lat_conns[$w]=$best
    log "latency $w: $best connections"
done
for _ in $(seq "$REPEATS"); do
    for w in $LAT_WORKLOADS; do
        measure nginx "$w" "${lat_conns[$w]}" "$DURATION" half
        measure gw "$w" "${lat_conns[$w]}" "$DURATION" half
    done
done

# --- optional profile --------------------------------------------------------------------------
# profile TARGET WORKLOAD: perf (self time) and per-thread CPU of one 5 s run, into $tmp/prof-*
profile() {
    local target=$1 workload=$2 pid
    local p=${target}_pid
    pid=${!p}
    thread_ticks() {
        local t
        for t in /proc/"$pid"/task/*; do
            awk -v t="${t##*/}" '{sub(/^[0-9]+ \([^)]*\) /, ""); print t, $12, $13}' "$t/stat"
        done
    }
    thread_ticks >"$tmp/threads0"
    # shellcheck disable=SC2086 # PERF_ARGS is a list of options
    perf record ${PERF_ARGS:--F 499} -o "$tmp/perf-$target-$workload.data" -p "$pid" -- sleep 5.5 >/dev/null 2>&1 &
    local perf_pid=$!
    sleep 0.25
    measure "$target" "$workload" "$CONNS" 5s "profile-$target-$workload"
    wait "$perf_pid" || true
    thread_ticks >"$tmp/threads1"
    if [ -n "${KEEP_PERF:-}" ]; then
        mkdir -p "$KEEP_PERF" && cp "$tmp/perf-$target-$workload.data" "$KEEP_PERF/"
    fi
    local d=$tmp/prof-$target-$workload.txt
    {
        echo "CPU% per thread (tid, name, % of one core as user + system; MHD-worker = HTTP threads, weir-spool = the"
        echo "spool writer, weir-buffers = compression into partition buffers, weir-flusher = lake files,"
        echo "weir-prealloc = zero-filling the next spool segment):"
        join "$tmp/threads0" "$tmp/threads1" | while read -r tid ua sa ub sb; do
            printf '  %s %s %s\n' "$tid" "$(cat "/proc/$pid/task/$tid/comm" 2>/dev/null || echo '?')" \
                "$(awk -v ua="$ua" -v sa="$sa" -v ub="$ub" -v sb="$sb" -v hz="$hz" \
                    'BEGIN {u = 100 * (ub - ua) / hz / 5; s = 100 * (sb - sa) / hz / 5; printf "%.0f (%.0f + %.0f)", u + s, u, s}')"
        done
        echo "Self time by library:"
        perf report -i "$tmp/perf-$target-$workload.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -n 8 || true
        echo "Top symbols (self time, % of the process's samples):"
        perf report -i "$tmp/perf-$target-$workload.data" --no-children --sort pid,dso,symbol --stdio 2>/dev/null \
            | grep -E '^ +[0-9]' | head -n 30 | sed -E 's/ +- +- +$//' || true
    } >"$d"
}
if [ "$PROFILE" = 1 ]; then
    command -v perf >/dev/null || die "perf is missing"
    for run in ${PROFILE_RUNS:-gw:batch gwu:single}; do
        profile "${run%%:*}" "${run#*:}"
    done
fi

# --- the lake must hold the events: drain both gateways ------------------------------------------
fsyncs=$(metric_sum "$gw_port" weir_spool_fsyncs_total)
fsync_s=$(curl -s "http://127.0.0.1:$gw_port/metrics" | awk '$1 == "weir_spool_fsync_seconds_sum" {print $2}')
fsync_ms=$(awk -v s="${fsync_s:-0}" -v n="$fsyncs" 'BEGIN {printf "%.2f", (n > 0 ? 1000 * s / n : 0)}')
total_acc=$(metric_sum "$gw_port" weir_events_accepted_total)
for name in gw gwu ${WEIR_B:+gwb}; do
    p=${name}_pid
    kill -TERM "${!p}"
    wait "${!p}" || die "gateway $name exited with $? at drain"
done
pids=("$nginx_pid")
lake_files=$(find "$tmp/gw/lake" -type f -name '*.gz' | wc -l)
[ "$lake_files" -gt 0 ] || die "no lake files in $tmp/gw/lake"
sample=$(find "$tmp/gw/lake" -type f -name '*.gz' -print -quit)
python3 -c 'import gzip, json, sys
e = json.loads(gzip.open(sys.argv[1], "rt").readline())
assert e["event_type"] and e["payload"] and e["received_at"]' "$sample" \
    || die "lake file $sample does not hold events"
# every event the durable gateway acknowledged is in its lake after the drain
lake_lines=$(find "$tmp/gw/lake" -type f -name '*.gz' -exec zcat {} + | wc -l)
[ "$lake_lines" = "$total_acc" ] || die "lake holds $lake_lines events, the gateway accepted $total_acc"
lake_bytes=$(du -sb "$tmp/gw/lake" | awk '{print $1}')

set +o pipefail # below, only output: head may close pipes early
# --- the table --------------------------------------------------------------------------------------
r() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) {printf "%.0f%%", 100 * a / b} else {print "n/a"}}'; }
k() { awk -v a="$1" 'BEGIN {if (a >= 1e6) {printf "%.2fM", a / 1e6} else if (a >= 1e4) {printf "%.1fk", a / 1e3} else {printf "%.0f", a}}'; }

echo
echo "## weir gateway benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
echo
if [ "$PIN" = 1 ]; then
    echo "Server (gateway or nginx) pinned to cpu $srv_cpus, wrk pinned to cpu $wrk_cpus (taskset);"
else
    echo "No pinning: server and wrk share all $ncpu cores;"
fi
echo "Load average at the end: $(cut -d" " -f1-3 /proc/loadavg) (the machine is shared).
gateway --threads $THREADS, nginx worker_processes $THREADS; wrk -t1 -c$CONNS -d$DURATION, keep-alive;"
echo "medians of $REPEATS interleaved runs. Spool on $(df -T "$tmp" | awk 'NR==2 {print $2}'). CPU% = CPU time / wall time (100% = one core)."
echo
echo "| workload | nginx 202 req/s | gateway req/s | gateway events/s | gateway / nginx | gateway p99 ms | CPU% gateway / wrk | CPU µs per request nginx / gateway | gateway CPU µs per event | events per fsync | context switches per request nginx / gateway | unsafe-ack events/s | durability cost |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
rows_b=""
for w in $WORKLOADS; do
    n=$(med peak nginx "$w" 5)
    g=$(med peak gw "$w" 5)
    ge=$(med peak gw "$w" 6)
    gp=$(med peak gw "$w" 9)
    gc=$(med peak gw "$w" 10)
    wc_=$(med peak gw "$w" 11)
    ue=$(med peak gwu "$w" 6)
    cost=$(awk -v d="$ge" -v u="$ue" 'BEGIN {if (u > 0) {printf "%.0f%%", 100 * (1 - d / u)} else {print "n/a"}}')
    label=$w
    case $w in
        single) label="1 event / request" ;;
        batch) label="$BATCH events / request" ;;
        batchgz) label="$BATCH events / request, gzip" ;;
        pixel) label="pixel GET /v1/p.gif (nginx: empty_gif)" ;;
        beacon) label="beacon: 1 event, text/plain, ?key=" ;;
        singleclose) label="1 event, Connection: close, $CLOSE_CONNS connections" ;;
        pixelclose) label="pixel, Connection: close, $CLOSE_CONNS connections" ;;
    esac
    rows_b+="| $label | $(k "$ge") | $(k "$(med peak gwb "$w" 6)") | $(r "$(med peak gwb "$w" 6)" "$ge") | $(r "$(med peak gwb "$w" 5)" "$n") | $(med peak gw "$w" 9) / $(med peak gwb "$w" 9) | $(med peak gw "$w" 14) / $(med peak gwb "$w" 14) | $(med peak gw "$w" 16) / $(med peak gwb "$w" 16) |
"
    echo "| $label | $(k "$n") | $(k "$g") | $(k "$ge") | $(r "$g" "$n") | $gp | $gc / $wc_ | $(med peak nginx "$w" 13) / $(med peak gw "$w" 13) | $(med peak gw "$w" 14) | $(med peak gw "$w" 15) | $(med peak nginx "$w" 16) / $(med peak gw "$w" 16) | $(k "$ue") | $cost |"
done
if [ -n "$WEIR_B" ]; then
    echo
    echo "B = $WEIR_B, durable, same rounds (A = $WEIR):"
    echo
    echo "| workload | A events/s | B events/s | B / A | B / nginx | p99 ms A / B | CPU µs per event A / B | context switches per request A / B |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s' "$rows_b"
fi
echo
echo "Latency at about half the peak (closed loop: the connection count whose throughput is nearest half the gateway's peak):"
echo
echo "| workload | connections | gateway req/s (% of peak) | gateway p50 / p90 / p99 ms | nginx req/s | nginx p99 ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for w in $LAT_WORKLOADS; do
    c=${lat_conns[$w]}
    g=$(med half gw "$w" 5)
    pk=$(med peak gw "$w" 5)
    echo "| $([ "$w" = single ] && echo "1 event" || echo "$BATCH events") | $c | $(k "$g") ($(r "$g" "$pk")) | $(med half gw "$w" 7) / $(med half gw "$w" 8) / $(med half gw "$w" 9) | $(k "$(med half nginx "$w" 5)") | $(med half nginx "$w" 9) |"
done
echo
echo "Checks: every wrk run had 0 non-2xx answers and 0 socket errors; the gateway's weir_events_accepted_total"
echo "grew by what wrk saw answered (no rejections); durable gateway: $total_acc events accepted in $fsyncs group"
echo "fsyncs (mean fdatasync $fsync_ms ms); after the drain its lake holds exactly those $lake_lines events ($lake_files files, $((lake_bytes / 1048576)) MiB gzip)."
if [ "$PROFILE" = 1 ]; then
    for run in ${PROFILE_RUNS:-gw:batch gwu:single}; do
        f=${run/:/-}
        echo
        echo "Profile: ${f%%-*} (gw: durable, gwu: --unsafe-ack-from-memory), ${f#*-} workload, one 5 s run (perf record -F 499):"
        echo '```'
        cat "$tmp/prof-$f.txt"
        echo '```'
    done
fi
echo
echo "Raw runs (tag target workload conns req/s events/s p50_ms p90_ms p99_ms server_cpu% wrk_cpu% accepted server_cpu_us/request server_cpu_us/event events_per_fsync server_context_switches/request):"
echo '```'
cat "$results"
echo '```'
