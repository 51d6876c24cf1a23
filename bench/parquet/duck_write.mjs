// duck_write.mjs - DuckDB's write-only cost on the same rows as bench_pq: loads weir's Parquet
// output into a DuckDB table (not timed), then times COPY table TO parquet (ZSTD by default),
// the method of shared/bench/duckdb/write_bench.mjs. Prints one JSON line (median of --runs).
//   node duck_write.mjs WEIR.parquet [--threads 1] [--runs 3] [--codec zstd] [--out DIR]
// Needs @duckdb/node-api: npm ci --prefix tests/tools (imported from there).
import { statSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { DuckDBInstance } = await import(pathToFileURL(join(here, '../../tests/tools/node_modules/@duckdb/node-api/lib/index.js')).href);
const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const src = argv[0];
if (!src) { console.error('usage: node duck_write.mjs WEIR.parquet [--threads 1] [--runs 3] [--codec zstd] [--out DIR]'); process.exit(2); }
const threads = arg('--threads', '1'), runs = Number(arg('--runs', 3)), codec = arg('--codec', 'zstd');
const outDir = arg('--out', dirname(src));
mkdirSync(outDir, { recursive: true });
const q = (s) => `'${s.replaceAll("'", "''")}'`;
const db = await DuckDBInstance.create(':memory:', { threads });
const con = await db.connect();
await con.run('SET preserve_insertion_order = false');
await con.run(`CREATE TABLE t AS SELECT * FROM read_parquet(${q(src)})`);
const rows = Number((await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0]);
const out = join(outDir, `duckdb-${codec}.parquet`);
const times = [], cpus = [];
for (let i = 0; i < runs; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await con.run(`COPY t TO ${q(out)} (FORMAT parquet, COMPRESSION ${codec})`);
  times.push((performance.now() - t0) / 1000);
  const c = process.cpuUsage(c0);
  cpus.push((c.user + c.system) / 1e6);
}
const med = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
console.log(JSON.stringify({ writer: 'duckdb', codec, threads: Number(threads), rows, seconds: +med.toFixed(3),
  all_seconds: times.map((t) => +t.toFixed(3)), rows_per_s: Math.round(rows / med),
  cpu_seconds: +[...cpus].sort((a, b) => a - b)[Math.floor(cpus.length / 2)].toFixed(3), all_cpu_seconds: cpus.map((t) => +t.toFixed(3)), output_mb: +(statSync(out).size / 1e6).toFixed(2) }));
