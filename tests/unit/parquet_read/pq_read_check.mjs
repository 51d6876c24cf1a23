// pq_read_check.mjs - weir's Parquet reader against DuckDB, value by value: every file is read
// by pq_dump (row API and batch API) and by DuckDB (@duckdb/node-api from tests/tools), and
// every row must be equal; a file DuckDB refuses must be refused by pq_dump too.
//   node pq_read_check.mjs duckdb  --dump PQ_DUMP --work DIR [--writer-fixtures PQ_FIXTURES]
//       DuckDB's own files (every codec, data page v1 and v2, the types curation writes and
//       more), weir's writer's fixture matrix, filters (rows equal to DuckDB's WHERE, groups
//       skipped by statistics), hostile variants (truncated, bytes flipped: refused or read, never
//       a crash - ctest runs this under ASan too).
//   node pq_read_check.mjs fixtures --dump PQ_DUMP --work DIR --shared SHARED_DIR
//       every fixture of SHARED/bench/gen/parquet_fixtures.py (the shared/bench/duckdb matrix)
//       plus DuckDB's reference copy of its rows (fixtures_ref.mjs's query).
// Exits 77 (skip) with a reason when node's DuckDB package or python3/the shared tree is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const argv = process.argv.slice(2);
const mode = argv[0];
const arg = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const dump = arg('--dump'), work = resolve(arg('--work', 'pq-read-work'));
const skip = (why) => { console.error(`SKIP: ${why}`); process.exit(77); };

const duckPath = join(root, 'tests/tools/node_modules/@duckdb/node-api/lib/index.js');
if (!existsSync(duckPath)) skip(`@duckdb/node-api missing: run npm ci --prefix ${join(root, 'tests/tools')}`);
const { DuckDBInstance } = await import(pathToFileURL(duckPath).href);
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
await con.run("SET TimeZone = 'UTC'");
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;
const ident = (s) => `"${String(s).replace(/"/g, '""')}"`;

let failures = 0, checked = 0;
const fail = (msg) => { failures++; console.error(`FAIL ${msg}`); };

function runDump(file, extra = []) {
  // Under sanitizers (an ASan build), a report must not pass for a refusal (exit 1).
  const env = { ...process.env,
    ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ? process.env.ASAN_OPTIONS + ':' : ''}exitcode=86`,
    UBSAN_OPTIONS: `${process.env.UBSAN_OPTIONS ? process.env.UBSAN_OPTIONS + ':' : ''}halt_on_error=1:exitcode=86:print_stacktrace=1` };
  const r = spawnSync(dump, [file, ...extra], { maxBuffer: 1 << 30, encoding: 'utf8', env });
  if (r.error) throw r.error;
  if (r.signal) return { crashed: true, status: r.status, stderr: `killed by ${r.signal}` };
  if ((r.status !== 0 && r.status !== 1) || /Sanitizer|runtime error:/.test(r.stderr)) {
    return { crashed: true, status: r.status, stderr: r.stderr };
  }
  const lines = r.stdout.split('\n').filter((l) => l.length);
  const head = lines.length && r.status === 0 ? JSON.parse(lines[0]) : null;
  return { status: r.status, stderr: r.stderr, head, rows: lines.slice(1) };
}

// DuckDB expression giving the same canonical value pq_dump prints for this column.
function expr(c) {
  const x = ident(c.name);
  switch (c.logical) {
    case 'TIMESTAMP': return `(${c.unit === 'MILLIS' ? 'epoch_ms' : c.unit === 'NANOS' ? 'epoch_ns' : 'epoch_us'}(${x}))::VARCHAR`;
    case 'TIME': return `epoch_us(${x})::VARCHAR`;
    case 'DATE': return `(${x} - DATE '1970-01-01')::VARCHAR`;
    case 'STRING': case 'JSON': case 'ENUM': case 'UUID': case 'DECIMAL': return `${x}::VARCHAR`;
    default: break;
  }
  switch (c.type) {
    case 'INT32': case 'INT64': return `${x}::VARCHAR`;
    case 'BOOLEAN': case 'FLOAT': case 'DOUBLE': return x;
    default: return `CASE WHEN ${x} IS NULL THEN NULL ELSE '0x' || lower(hex(${x})) END`;
  }
}

const norm = (v) => (typeof v === 'number' ? (Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : Object.is(v, -0) ? '-0' : String(v)) : v);

// Compares pq_dump's rows with DuckDB's SELECT over the same file (and WHERE). Returns a message or null.
async function compare(file, d, where = '') {
  const cols = d.head.columns;
  const sql = `SELECT ${cols.map(expr).join(', ') || '1'} FROM read_parquet(${q(file)}) ${where}`;
  let res;
  try { res = await con.stream(sql); } catch (e) { return `DuckDB: ${e.message}`; }
  let i = 0;
  for (;;) {
    const chunk = await res.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const row of chunk.getRows()) {
      if (i >= d.rows.length) return `DuckDB has more rows than pq_dump (${d.rows.length})`;
      const ours = JSON.parse(d.rows[i]);
      for (let k = 0; k < cols.length; k++) {
        let a = ours[k], b = row[k];
        if (typeof b === 'bigint') b = b.toString();
        if (cols[k].type === 'FLOAT' || cols[k].type === 'DOUBLE') { a = norm(a); b = norm(b); }
        if (a !== b && !(a === null && b === null)) {
          return `row ${i} column ${cols[k].name}: weir ${JSON.stringify(a)} DuckDB ${JSON.stringify(b)}`;
        }
      }
      i++;
    }
  }
  if (i !== d.rows.length) return `pq_dump has ${d.rows.length} rows, DuckDB ${i}`;
  return null;
}

// One file: rows (row API and batch API) equal DuckDB's, or both refuse it.
// strict: pq_dump refuses a file DuckDB reads, and its message must match this regexp.
async function checkFile(file, { strict = null, label = basename(file) } = {}) {
  checked++;
  const d = runDump(file);
  if (d.crashed) return fail(`${label}: pq_dump crashed: ${d.stderr}`);
  // DuckDB decodes every column (count(*) alone would read no pages).
  let duckErr = null;
  try {
    const res = await con.stream(`SELECT * FROM read_parquet(${q(file)})`);
    while (true) { const ch = await res.fetchChunk(); if (!ch || ch.rowCount === 0) break; }
  } catch (e) { duckErr = e.message; }
  if (d.status !== 0) {
    if (duckErr) { console.log(`ok   ${label}: refused by both (weir: ${d.stderr.trim()})`); return; }
    if (strict && strict.test(d.stderr)) { console.log(`ok   ${label}: refused by weir, stricter than DuckDB (${d.stderr.trim()})`); return; }
    return fail(`${label}: weir refused a file DuckDB reads: ${d.stderr.trim()}`);
  }
  if (strict) return fail(`${label}: weir read a file it must refuse (${strict})`);
  const m = await compare(file, d);
  if (m) return fail(`${label}: ${m}${duckErr ? ` (DuckDB: ${duckErr})` : ''}`);
  const b = runDump(file, ['--batch']);
  if (b.status !== 0 || b.rows.length !== d.rows.length || b.rows.some((l, i) => l !== d.rows[i])) {
    return fail(`${label}: batch API output differs from the row API's`);
  }
  console.log(`ok   ${label}: ${d.rows.length} rows x ${d.head.columns.length} columns equal (row and batch API)`);
}

// A filter: pq_dump --where rows equal DuckDB's WHERE; returns pq_dump's --stats counters.
async function checkFilter(file, col, lo, hi, label) {
  checked++;
  const d = runDump(file, ['--where', `${col}:${lo}:${hi}`, '--stats']);
  if (d.status !== 0) return fail(`${label}: pq_dump --where failed: ${d.stderr}`), null;
  const c = d.head.columns.find((x) => x.name === col);
  const lit = (v) => (c.type === 'BYTE_ARRAY' ? q(v) : v);
  const raw = c.logical === 'TIMESTAMP' ? `epoch_us(${ident(col)})` : ident(col);
  const conds = [];
  if (lo !== '') conds.push(`${raw} >= ${lit(lo)}`);
  if (hi !== '') conds.push(`${raw} <= ${lit(hi)}`);
  const m = await compare(file, d, `WHERE ${conds.join(' AND ')}`);
  const stats = JSON.parse(d.stderr.trim().split('\n').pop());
  if (m) return fail(`${label}: ${m}`), stats;
  console.log(`ok   ${label}: ${d.rows.length} rows equal DuckDB's WHERE; ${JSON.stringify(stats)}`);
  return stats;
}

// Hostile variants of a good file: cut at many lengths and with bytes flipped. pq_dump must
// exit 0 or 1 (a message), never crash; the harness (ctest) runs this under ASan as well.
function hostile(file, label) {
  const buf = readFileSync(file);
  const tmp = join(work, 'hostile.parquet');
  let n = 0, refused = 0;
  const tryBuf = (b, what) => {
    writeFileSync(tmp, b);
    const d = runDump(tmp, ['--batch']);
    n++;
    if (d.crashed) fail(`${label} ${what}: pq_dump crashed (${d.status}): ${d.stderr.slice(0, 300)}`);
    else if (d.status === 1) {
      refused++;
      if (!/\S/.test(d.stderr)) fail(`${label} ${what}: refused without a message`);
    }
  };
  for (const cut of [0, 4, 11, 12, 100, buf.length >> 1, buf.length - 13, buf.length - 9, buf.length - 8, buf.length - 1]) {
    if (cut >= 0 && cut < buf.length) tryBuf(buf.subarray(0, cut), `cut at ${cut}`);
  }
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 60; i++) {
    const b = Buffer.from(buf);
    const k = 1 + Math.floor(rnd() * 8);
    // half the flips land in the footer, where lengths and offsets live
    for (let j = 0; j < k; j++) {
      const pos = i % 2 ? Math.floor(rnd() * b.length) : Math.max(0, b.length - 8 - Math.floor(rnd() * Math.min(b.length, 2000)));
      b[pos] = Math.floor(rnd() * 256);
    }
    tryBuf(b, `flip #${i}`);
  }
  checked++;
  console.log(`ok   ${label}: ${n} hostile variants, ${refused} refused with a message, none crashed`);
}

mkdirSync(work, { recursive: true });

if (mode === 'duckdb') {
  // DuckDB's files: the curated types and more, nulls, extremes, Unicode; every codec; v1 and v2.
  await con.run(`CREATE TABLE t AS SELECT
      i::BIGINT AS id,
      TIMESTAMPTZ '2026-11-20 00:00:00+00' + to_microseconds(i * 1700000 + (i * 7919) % 1000) AS received_at,
      CASE WHEN i % 97 = 0 THEN NULL ELSE TIMESTAMPTZ '2026-11-19 00:00:00+00' + to_microseconds(i * 1000003 % 86400000000) END AS occurred_at,
      ['web-frontend', 'biohack-ios', 'metrics-agent'][i % 3 + 1] AS source,
      CASE WHEN i % 11 = 0 THEN NULL ELSE ['/v1/events', '/healthz', 'Ünïcödé ✓', 'tab\there', 'quote " and \\', '', '空腹時 🙂'][i % 7 + 1] END AS route,
      (i % 500)::INTEGER AS status_code,
      CASE WHEN i % 13 = 0 THEN NULL WHEN i % 101 = 0 THEN 'NaN'::DOUBLE WHEN i % 103 = 0 THEN '-0'::DOUBLE
           WHEN i % 107 = 0 THEN 'inf'::DOUBLE ELSE exp((i % 1000) / 100.0) - 3 END AS latency_ms,
      CASE WHEN i % 10 = 0 THEN NULL ELSE i % 3 = 0 END AS cache_hit,
      CASE WHEN i % 2 = 0 THEN NULL ELSE json_object('a', i % 5, 'tags', ['x', 'y']) END AS tags,
      md5(i::VARCHAR) AS event_id,
      CASE WHEN i % 5 = 0 THEN NULL ELSE (i - 25000)::DECIMAL(18, 3) / 7 END AS amount18,
      ((i - 25000) * 3)::DECIMAL(9, 2) AS amount9,
      CASE WHEN i % 3 = 0 THEN NULL ELSE ((i - 25000)::HUGEINT * 1000000000000)::DECIMAL(30, 4) END AS amount30,
      DATE '1969-12-25' + (i % 20000)::INTEGER AS day,
      (i % 1000)::FLOAT / 3 AS ratio,
      CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 250)::UTINYINT END AS small_u,
      (i * 1000003)::UBIGINT AS big_u,
      (-9223372036854775807 + i * 184467440737095)::BIGINT AS wide,
      CASE WHEN i % 9 = 0 THEN NULL ELSE ('\\x' || lpad(printf('%x', i % 65536), 4, '0'))::BLOB END AS raw_bytes,
      CASE WHEN i % 6 = 0 THEN NULL ELSE repeat('x', i % 300) END AS note,
      NULL::VARCHAR AS always_null,
      TIME '00:00:00' + to_microseconds(i * 997) AS tod,
      gen_random_uuid() AS uid
    FROM range(50000) r(i)`);
  await con.run('UPDATE t SET uid = md5(id::VARCHAR)::UUID');
  const files = [];
  for (const ver of ['V1', 'V2']) {
    for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd']) {
      const f = join(work, `duck-${ver}-${codec}.parquet`);
      await con.run(`COPY (SELECT * FROM t ORDER BY id) TO ${q(f)} (FORMAT parquet, COMPRESSION ${codec}, PARQUET_VERSION ${ver}, ROW_GROUP_SIZE 12000)`);
      files.push(f);
    }
  }
  // No dictionary (PLAIN strings), tiny pages, and a file of only nulls and one of no rows.
  const extra = [
    ['duck-nodict.parquet', `(SELECT * FROM t ORDER BY id) TO %F (FORMAT parquet, COMPRESSION zstd, DICTIONARY_COMPRESSION_RATIO_THRESHOLD -1, ROW_GROUP_SIZE 20000)`],
    ['duck-pages.parquet', `(SELECT * FROM t ORDER BY id) TO %F (FORMAT parquet, COMPRESSION snappy, PAGE_SIZE 4096)`],
    ['duck-empty.parquet', `(SELECT * FROM t WHERE false) TO %F (FORMAT parquet)`],
    ['duck-nulls.parquet', `(SELECT NULL::BIGINT AS a, NULL::VARCHAR AS b, NULL::DOUBLE AS c FROM range(3000)) TO %F (FORMAT parquet, PARQUET_VERSION V2)`],
  ];
  for (const [name, sql] of extra) {
    const f = join(work, name);
    try {
      await con.run(`COPY ${sql.replace('%F', q(f))}`);
      files.push(f);
    } catch (e) {
      console.log(`note ${name}: DuckDB refused the option (${e.message.split('\n')[0]}); left out`);
    }
  }
  for (const f of files) await checkFile(f);

  // weir's own writer: its fixture matrix (every type, nulls, dictionary fallback, codecs, pages).
  const wf = arg('--writer-fixtures');
  if (wf) {
    const dir = join(work, 'writer');
    rmSync(dir, { recursive: true, force: true });
    const r = spawnSync(wf, [dir], { encoding: 'utf8' });
    if (r.status !== 0) fail(`pq_fixtures failed: ${r.stderr}`);
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.parquet')).sort()) {
      await checkFile(join(dir, name), { label: `writer/${name}` });
    }
  }

  // Filters: sorted received_at -> most groups skipped by statistics; strings; equality.
  const zf = join(work, 'duck-V1-zstd.parquet');
  const lo = 1795132800000000n + 20000n * 1700000n, hi = lo + 3000n * 1700000n;
  const s1 = await checkFilter(zf, 'received_at', String(lo), String(hi), 'filter received_at range');
  if (s1 && !(s1.groups_skipped_stats >= 3 && s1.groups_read <= 2)) fail(`filter received_at range: expected >= 3 of 5 groups skipped by statistics: ${JSON.stringify(s1)}`);
  await checkFilter(zf, 'source', 'biohack-ios', 'biohack-ios', 'filter source = biohack-ios');
  const s3 = await checkFilter(join(work, 'duck-V2-snappy.parquet'), 'id', '49999', '49999', 'filter id = 49999 (v2)');
  if (s3 && s3.groups_read !== 1) fail(`filter id = 49999: expected 1 group read: ${JSON.stringify(s3)}`);
  await checkFilter(zf, 'latency_ms', '1.5', '2.5', 'filter latency_ms in [1.5, 2.5]');
  await checkFilter(zf, 'small_u', '200', '', 'filter small_u >= 200 (unsigned)');
  const s6 = await checkFilter(zf, 'id', '60000', '', 'filter id >= 60000 (no match)');
  if (s6 && s6.groups_read !== 0) fail('filter id >= 60000: groups were read');

  // Projection and unknown columns.
  {
    checked++;
    const d = runDump(zf, ['--columns', 'route,id']);
    if (d.status !== 0 || d.head.columns.map((c) => c.name).join() !== 'route,id') fail('projection route,id');
    else {
      const m = await compare(zf, d);
      if (m) fail(`projection: ${m}`); else console.log('ok   projection route,id: equal');
    }
    const u = runDump(zf, ['--columns', 'nope']);
    if (u.status !== 1 || !/no column nope/.test(u.stderr)) fail(`unknown column: ${u.stderr}`);
  }

  for (const f of [join(work, 'duck-V1-snappy.parquet'), join(work, 'duck-V2-gzip.parquet')]) hostile(f, `hostile ${basename(f)}`);
} else if (mode === 'fixtures') {
  const shared = resolve(process.env.WEIR_SHARED || arg('--shared', join(root, '../shared')));
  const py = join(shared, 'bench/gen/parquet_fixtures.py');
  if (!existsSync(py)) skip(`${py} missing (set WEIR_SHARED)`);
  const pyr = spawnSync('python3', ['--version']);
  if (pyr.status !== 0) skip('python3 not found');
  const fx = join(work, 'fixtures');
  rmSync(fx, { recursive: true, force: true });
  const g = spawnSync('python3', [py, '--out', fx, '--rows', '20000'], { encoding: 'utf8' });
  if (g.status !== 0) { console.error(g.stderr); process.exit(1); }
  // DuckDB's reference copy of the same rows (the query of shared/bench/duckdb/fixtures_ref.mjs).
  mkdirSync(join(fx, 'ref'), { recursive: true });
  await con.run(`COPY (
    SELECT event_id, make_timestamp(received_at)::TIMESTAMPTZ AS received_at, make_timestamp(occurred_at)::TIMESTAMPTZ AS occurred_at,
           source, route, status_code, latency_ms, cache_hit, error, tags::JSON AS tags, note, always_null::VARCHAR AS always_null, unhex(raw_bytes) AS raw_bytes
    FROM read_json(${q(join(fx, 'rows.jsonl'))}, format='newline_delimited',
         columns={event_id: 'VARCHAR', received_at: 'BIGINT', occurred_at: 'BIGINT', source: 'VARCHAR', route: 'VARCHAR',
                  status_code: 'BIGINT', latency_ms: 'DOUBLE', cache_hit: 'BOOLEAN', error: 'VARCHAR', tags: 'VARCHAR',
                  note: 'VARCHAR', always_null: 'VARCHAR', raw_bytes: 'VARCHAR'})
  ) TO ${q(join(fx, 'ref/ref.parquet'))} (FORMAT parquet, COMPRESSION zstd)`);
  // Where weir is stricter than DuckDB (which ignores CRCs and page size fields).
  const strict = { 'bad_crc.parquet': /CRC mismatch/, 'wrong_uncompressed_size.parquet': /uncompressed size/ };
  for (const sub of ['good', 'bad', 'ref']) {
    for (const name of readdirSync(join(fx, sub)).filter((n) => n.endsWith('.parquet')).sort()) {
      await checkFile(join(fx, sub, name), { strict: sub === 'bad' ? strict[name] || null : null, label: `${sub}/${name}` });
    }
  }
  // The fixture files hold the same rows as the reference: weir reads them all equal to it.
  checked++;
  const ref = runDump(join(fx, 'ref/ref.parquet'));
  for (const name of readdirSync(join(fx, 'good')).filter((n) => n.endsWith('.parquet'))) {
    const d = runDump(join(fx, 'good', name));
    const a = d.rows;
    if (a.length !== ref.rows.length || a.some((l, i) => l !== ref.rows[i])) fail(`good/${name}: rows differ from DuckDB's reference copy read by weir`);
  }
  console.log('ok   good/* read by weir equal ref/ref.parquet read by weir');
  hostile(join(fx, 'good/gzip_dict_crc.parquet'), 'hostile good/gzip_dict_crc');

  // The curator's own output: a generated raw zone (shared/bench/gen) curated by
  // cur_day_curate (pq_curate_sample), every event and rollup file read by both.
  const curate = arg('--curate');
  const gen = join(shared, 'bench/gen/gen_events.py');
  if (curate && existsSync(gen)) {
    const lake = join(work, 'lake');
    rmSync(lake, { recursive: true, force: true });
    const gr = spawnSync('python3', [gen, '--events', '20000', '--hours', '6', '--seed', '1', '--files-per-hour', '1', '--out', lake, '--quiet'], { encoding: 'utf8' });
    if (gr.status !== 0) { fail(`gen_events.py: ${gr.stderr}`); } else {
      const cr = spawnSync(curate, [lake, join(shared, 'bench/gen/schemas')], { encoding: 'utf8' });
      if (cr.status !== 0) fail(`pq_curate_sample: ${cr.stderr}`);
      const found = [];
      const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory()) walk(p); else if (e.name.endsWith('.parquet')) found.push(p); } };
      walk(join(lake, 'curated'));
      if (found.length < 6) fail(`curator wrote only ${found.length} files`);
      for (const f of found.sort()) await checkFile(f, { label: f.slice(lake.length + 1) });
      const pv = found.find((f) => f.includes('event_type=page_view'));
      if (pv) {
        const head = runDump(pv, ['--columns', 'received_at']);
        const ts = head.rows.map((l) => BigInt(JSON.parse(l)[0])).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const mid = ts[ts.length >> 1];
        await checkFilter(pv, 'received_at', String(mid), String(mid + 600000000n), 'curated page_view: received_at in a 10-minute window');
        const src = JSON.parse(runDump(pv, ['--columns', 'source']).rows[0])[0];
        await checkFilter(pv, 'source', src, src, `curated page_view: source = ${src}`);
      }
    }
  } else {
    console.log('note: curator output not checked (no --curate or no gen_events.py)');
  }
} else {
  console.error('usage: node pq_read_check.mjs duckdb|fixtures --dump PQ_DUMP --work DIR [...]');
  process.exit(2);
}
console.log(`${checked} checks, ${failures} failures`);
process.exit(failures ? 1 : 0);
