// raw_read.mjs - DuckDB reads a lake's raw zone itself (read_json over the gzip JSON-lines
// files, no weir code): prints per event type the lines, the distinct event ids, and the
// lines whose envelope lacks a field the stored line always has.
//   WEIR_TOOLS=tests/tools node raw_read.mjs LAKE_DIR
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const require = createRequire(resolve(process.env.WEIR_TOOLS || '.', 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

async function main() {
  const lake = process.argv[2];
  if (!lake) throw new Error('usage: node raw_read.mjs LAKE_DIR');
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await inst.connect();
  const glob = join(lake, 'raw', 'event_type=*', 'dt=*', 'hr=*', '*.jsonl.gz');
  const r = await con.runAndReadAll(`
    SELECT event_type, count(*)::BIGINT AS lines, count(DISTINCT event_id)::BIGINT AS ids,
           count(*) FILTER (WHERE event_id IS NULL OR received_at IS NULL OR source IS NULL
                            OR schema_version IS NULL OR payload IS NULL)::BIGINT AS incomplete,
           count(*) FILTER (WHERE try_cast(received_at AS TIMESTAMPTZ) IS NULL)::BIGINT AS bad_time
    FROM read_json(${q(glob)}, format = 'newline_delimited', compression = 'gzip',
                   columns = {event_type: 'VARCHAR', schema_version: 'BIGINT', event_id: 'VARCHAR',
                              occurred_at: 'VARCHAR', received_at: 'VARCHAR', source: 'VARCHAR',
                              payload: 'JSON'})
    GROUP BY ALL ORDER BY ALL`);
  const out = {};
  for (const o of r.getRowObjects()) {
    out[o.event_type] = { lines: Number(o.lines), ids: Number(o.ids), incomplete: Number(o.incomplete),
                          bad_time: Number(o.bad_time) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(`raw_read.mjs: ${e.message}`); process.exit(1); });
