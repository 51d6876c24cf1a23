// duck.mjs - runs the SQL statements of a file in one in-memory DuckDB and prints the rows of
// the last one as JSON (big integers as strings, other values as DuckDB's JSON form), for the
// rollup and catalogue tests: DuckDB computes the reference answers and runs `weir catalog`.
//   WEIR_TOOLS=tests/tools node duck.mjs FILE.sql
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const require = createRequire(resolve(process.env.WEIR_TOOLS || '.', 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const sql = readFileSync(process.argv[2], 'utf8');
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await inst.connect();
  const stmts = await con.extractStatements(sql);
  let last = null;
  for (let i = 0; i < stmts.count; i++) {
    const p = await stmts.prepare(i);
    last = await p.runAndReadAll();
  }
  const rows = last ? last.getRowObjectsJson() : [];
  process.stdout.write(JSON.stringify(rows) + '\n');
}

main().catch((e) => {
  process.stderr.write(`duck.mjs: ${e.message}\n`);
  process.exit(1);
});
