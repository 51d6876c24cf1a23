// duck_ref.mjs - the console's events query answered by DuckDB on the same files: curated
// Parquet of the curated days, raw JSON lines of the others, deduplicated by event_id (first
// received_at kept), filtered, newest first. Prints [[event_id, received_at_us], ...].
//   node duck_ref.mjs SPEC.json
// SPEC: {"curated": [files], "raw": [ndjson files], "from_us", "to_us", "limit",
//        "where": [[field, value, kind]]}   kind: "env" | "payload"
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// DuckDB is installed in tests/tools (TOOLS_DIR); resolve it from there.
const req = createRequire(join(process.env.TOOLS_DIR, 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(req.resolve('@duckdb/node-api')).href);

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;
const id = (s) => `"${String(s).replace(/"/g, '""')}"`;

async function main() {
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await inst.connect();
  const parts = [];
  if (spec.curated.length) {
    const conds = spec.where.map(([f, v]) => `CAST(${id(f)} AS VARCHAR) = ${q(v)}`);
    parts.push(`SELECT event_id, epoch_us(received_at) AS r FROM read_parquet([${spec.curated.map(q).join(',')}],
      union_by_name = true, hive_partitioning = false)${conds.length ? ' WHERE ' + conds.join(' AND ') : ''}`);
  }
  if (spec.raw.length) {
    const conds = spec.where.map(([f, v, k]) =>
      `json_extract_string(json, ${q(k === 'env' ? `$.${f}` : `$.payload.${f}`)}) = ${q(v)}`);
    parts.push(`SELECT json_extract_string(json, '$.event_id') AS event_id,
      epoch_us(CAST(json_extract_string(json, '$.received_at') AS TIMESTAMPTZ)) AS r
      FROM read_json_objects([${spec.raw.map(q).join(',')}], format = 'newline_delimited',
      ignore_errors = true)
      WHERE json_type(json) = 'OBJECT' AND json_extract_string(json, '$.event_id') IS NOT NULL
      AND TRY_CAST(json_extract_string(json, '$.received_at') AS TIMESTAMPTZ) IS NOT NULL
      ${conds.length ? ' AND ' + conds.join(' AND ') : ''}`);
  }
  const sql = `WITH u AS (${parts.join(' UNION ALL ')}),
    d AS (SELECT event_id, min(r) AS r FROM u GROUP BY event_id)
    SELECT event_id, r FROM d WHERE r BETWEEN ${spec.from_us} AND ${spec.to_us}
    ORDER BY r DESC, event_id LIMIT ${spec.limit}`;
  const res = await con.runAndReadAll(sql);
  const out = res.getRows().map(([e, r]) => [e, Number(r)]);
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
