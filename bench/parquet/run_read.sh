#!/bin/sh
# run_read.sh - weir's Parquet reader vs DuckDB reading the same file, same run, warm cache.
#   bench/parquet/run_read.sh BUILD_DIR [ROWS] [RUNS]     (file under BUILD_DIR/bench-pq/)
# The file is bench_pq's curated page_view-like shape (22 columns, ZSTD, weir's writer).
set -eu
build=$1 rows=${2:-1000000} runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
out=$build/bench-pq
mkdir -p "$out"
f=$out/read-$rows.parquet
[ -f "$f" ] || "$build/bench/parquet/bench_pq" --rows "$rows" --codec zstd --out "$f" >/dev/null
cat "$f" >/dev/null # warm the page cache
"$build/bench/parquet/bench_pq_read" "$f" --runs "$runs"
# Each run opens a new reader, and glibc hands its large buffers back to the kernel on free:
# the next reader pays the page faults again. With malloc keeping freed memory (as a
# long-running console could set with mallopt), that cost goes away:
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824 \
    "$build/bench/parquet/bench_pq_read" "$f" --runs "$runs" --label malloc-keeps-memory
node "$here/duck_read.mjs" "$f" --threads 1 --runs "$runs"
node "$here/duck_read.mjs" "$f" --threads 2 --runs "$runs"
