// duck_query.mjs - DuckDB's side of the console benchmark: "every frontend_error of user X
// in [from, to]" on the curated Parquet files, through @duckdb/node-api, one connection,
// warm (a first run untimed), then RUNS timed runs. Prints {"ms": [...], "rows": n}.
//   TOOLS_DIR=tests/tools node duck_query.mjs LAKE USER FROM_US TO_US [RUNS] [THREADS]
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const req = createRequire(join(process.env.TOOLS_DIR, 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(req.resolve('@duckdb/node-api')).href);

const [lake, user, fromUs, toUs, runsArg, threadsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const inst = await DuckDBInstance.create(':memory:', { threads: String(threadsArg || 1) });
const con = await inst.connect();
const glob = join(lake, 'curated/events/event_type=frontend_error/*/*.parquet').replace(/'/g, "''");
const sql = `SELECT * FROM read_parquet('${glob}', hive_partitioning = true)
  WHERE user_id = ${Number(user)}
    AND received_at BETWEEN make_timestamp(${BigInt(fromUs)}) AND make_timestamp(${BigInt(toUs)})
  ORDER BY received_at DESC LIMIT 100`;
await con.runAndReadAll(sql); // warm
const ms = [];
let rows = 0;
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const r = await con.runAndReadAll(sql);
  ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  rows = r.getRows().length;
}
process.stdout.write(JSON.stringify({ ms, rows }));
