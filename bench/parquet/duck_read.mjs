// duck_read.mjs - DuckDB reading the same file as bench_pq_read, the same four queries, one JSON
// line each (median of --runs, warm page cache): scan (max of numbers, sum of string lengths,
// count of true booleans over every column), user (WHERE user_id = X) and recent (WHERE
// received_at >= the last hour), both reading event_id, received_at, path of the matching
// rows into aggregates inside DuckDB (handing them to JavaScript would time node, not DuckDB). bench_pq_read's "rows" query has no counterpart:
// handing 22 M values to JavaScript one by one measures node, not DuckDB (45 s, tried).
//   node duck_read.mjs FILE [--threads 1] [--runs 5] [--user user-00000042] [--recent-s 3600]
// Needs @duckdb/node-api: npm ci --prefix tests/tools (imported from there).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { DuckDBInstance } = await import(pathToFileURL(join(here, '../../tests/tools/node_modules/@duckdb/node-api/lib/index.js')).href);
const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const file = argv[0];
if (!file) { console.error('usage: node duck_read.mjs FILE [--threads 1] [--runs 5] [--user ID] [--recent-s 3600]'); process.exit(2); }
const threads = arg('--threads', '1'), runs = Number(arg('--runs', 5)), user = arg('--user', 'user-00000042');
const recentS = Number(arg('--recent-s', 3600));
const q = (s) => `'${s.replaceAll("'", "''")}'`;
const db = await DuckDBInstance.create(':memory:', { threads });
const con = await db.connect();
const src = `read_parquet(${q(file)})`;
const cols = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRows();
const agg = cols.map(([name, type]) => {
  const c = `"${name}"`;
  if (type === 'VARCHAR' || type === 'JSON' || type === 'BLOB') return `sum(strlen(${c}::VARCHAR))`;
  if (type === 'BOOLEAN') return `count_if(${c})`;
  return `max(${c})`;
});
const maxTs = (await con.runAndReadAll(`SELECT epoch_us(max(received_at)) FROM ${src}`)).getRows()[0][0];
const from = BigInt(maxTs) - BigInt(recentS) * 1000000n;
const fileRows = Number((await con.runAndReadAll(`SELECT count(*) FROM ${src}`)).getRows()[0][0]);
const queries = [
  ['scan', `SELECT count(*), ${agg.join(', ')} FROM ${src}`, runs],
  ['user', `SELECT count(*), sum(strlen(event_id)), max(received_at), sum(strlen(path)) FROM ${src} WHERE user_id = ${q(user)}`, runs],
  ['recent', `SELECT count(*), sum(strlen(event_id)), max(received_at), sum(strlen(path)) FROM ${src} WHERE received_at >= make_timestamp(${from}::BIGINT)::TIMESTAMPTZ`, runs],
];
for (const [name, sql, n] of queries) {
  const wall = [], cpu = [];
  let rows = 0;
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    const res = await con.stream(sql);
    rows = 0;
    for (;;) {
      const ch = await res.fetchChunk();
      if (!ch || ch.rowCount === 0) break;
      rows = name === 'scan' ? fileRows : Number(ch.getRows()[0][0]);
    }
    wall.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(JSON.stringify({ reader: 'duckdb', threads: Number(threads), query: name, rows, seconds: +med(wall).toFixed(4),
    all_seconds: wall.map((t) => +t.toFixed(4)), cpu_seconds: +med(cpu).toFixed(4),
    file_rows_per_s: Math.round(fileRows / med(wall)), peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1) }));
}
