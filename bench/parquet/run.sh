#!/bin/sh
# run.sh - weir's Parquet writer vs DuckDB's COPY on the same rows, same run, one thread each.
#   bench/parquet/run.sh BUILD_DIR [ROWS] [RUNS]      (output under BUILD_DIR/bench-pq/)
set -eu
build=$1 rows=${2:-2000000} runs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
out=$build/bench-pq
mkdir -p "$out"
for i in $(seq "$runs"); do
    "$build/bench/parquet/bench_pq" --rows "$rows" --codec zstd --out "$out/weir-zstd.parquet"
done
"$build/bench/parquet/bench_pq" --rows "$rows" --codec gzip --out "$out/weir-gzip.parquet"
node "$here/duck_write.mjs" "$out/weir-zstd.parquet" --threads 1 --runs "$runs" --codec zstd --out "$out"
node "$here/duck_write.mjs" "$out/weir-zstd.parquet" --threads 1 --runs 1 --codec gzip --out "$out"
