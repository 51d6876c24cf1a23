// cur_dump.mjs - reads a lake's curated zone with DuckDB for the curation tests; prints one
// JSON document: every file with its row count (each file read on its own), the event rows
// of every event type (timestamps as epoch microseconds, JSON as text, big integers as
// strings), Hive-partitioned counts per (event_type, dt) and the hourly rollups.
//   node cur_dump.mjs LAKE_DIR
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;
const id = (s) => `"${String(s).replace(/"/g, '""')}"`;

function walk(d, out = []) {
  if (!existsSync(d)) return out;
  for (const e of readdirSync(d).sort()) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p, out); else out.push(p);
  }
  return out;
}

const plain = (v) => (typeof v === 'bigint' ? v.toString() : v);

async function rows(con, sql) {
  const r = await con.runAndReadAll(sql);
  return r.getRowObjects().map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)])));
}

async function main() {
  const lake = process.argv[2];
  if (!lake) throw new Error('usage: node cur_dump.mjs LAKE_DIR');
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await inst.connect();
  const cur = join(lake, 'curated');
  const files = [];
  for (const f of walk(cur)) {
    const n = (await rows(con, `SELECT count(*) AS n FROM read_parquet(${q(f)}, hive_partitioning=false)`))[0].n;
    const meta = (await rows(con, `SELECT num_rows FROM parquet_file_metadata(${q(f)})`))[0].num_rows;
    files.push({ path: f.slice(lake.length + 1), rows: Number(n), footer_rows: Number(meta) });
  }
  const out = { files, rows: [], counts: [], rollups: [] };
  const ev = join(cur, 'events');
  const types = existsSync(ev) ? readdirSync(ev).filter((d) => d.startsWith('event_type=')).sort() : [];
  for (const t of types) {
    const src = `read_parquet(${q(join(ev, t, '*', '*.parquet'))}, hive_partitioning=true, hive_types={'dt': 'VARCHAR'})`;
    const cols = await rows(con, `DESCRIBE SELECT * FROM ${src}`);
    const sel = cols.map((c) => {
      const ty = c.column_type.toUpperCase();
      if (ty.startsWith('TIMESTAMP')) return `epoch_us(${id(c.column_name)}) AS ${id(c.column_name)}`;
      if (ty === 'JSON') return `CAST(${id(c.column_name)} AS VARCHAR) AS ${id(c.column_name)}`;
      return id(c.column_name);
    });
    out.rows.push(...await rows(con, `SELECT ${sel.join(', ')} FROM ${src} ORDER BY dt, received_at, event_id`));
  }
  if (types.length) {
    out.counts = await rows(con, `SELECT event_type, dt, count(*)::BIGINT AS n, count(DISTINCT event_id)::BIGINT AS d
      FROM read_parquet(${q(join(ev, '*', '*', '*.parquet'))}, hive_partitioning=true, union_by_name=true,
                        hive_types={'dt': 'VARCHAR'}) GROUP BY ALL ORDER BY ALL`);
  }
  const ro = join(cur, 'rollups', 'hourly');
  if (existsSync(ro)) {
    out.rollups = await rows(con, `SELECT * FROM read_parquet(${q(join(ro, '*', '*.parquet'))},
      hive_partitioning=true, hive_types={'dt': 'VARCHAR'}) ORDER BY ALL`);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(`cur_dump.mjs: ${e.message}`); process.exit(1); });
