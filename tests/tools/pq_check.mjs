// pq_check.mjs - reads the fixture files written by tests/unit/parquet/pq_fixtures.c back and
// compares them with the <name>.expect.json written beside each: every value (decoded by DuckDB),
// the DuckDB column types, and the footer (own Thrift compact decoder): schema, annotations,
// created_by, column_orders, key/value metadata, row groups, offsets, page walk, sizes, encodings,
// encoding_stats, codec, and statistics recomputed here from the expected values.
//   node pq_check.mjs DIR          exit 0 = all files match, 1 = differences, 2 = usage
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

// ---- Thrift compact decoder: structs become { fieldId: value }, binary stays a Buffer
function uvarint(b, p) {
  let r = 0n, s = 0n, x;
  do {
    if (p >= b.length) throw new Error('truncated varint');
    x = b[p++];
    r |= BigInt(x & 0x7f) << s;
    s += 7n;
  } while (x & 0x80);
  return [r, p];
}
const unzig = (n) => (n & 1n ? -((n + 1n) >> 1n) : n >> 1n);
function tvalue(b, p, t) {
  switch (t) {
    case 1: return [true, p];
    case 2: return [false, p];
    case 3: return [b.readInt8(p), p + 1];
    case 4: case 5: { const [v, q] = uvarint(b, p); return [Number(unzig(v)), q]; }
    case 6: { const [v, q] = uvarint(b, p); return [unzig(v), q]; }
    case 7: return [b.readDoubleLE(p), p + 8];
    case 8: {
      const [n, q] = uvarint(b, p);
      const e = q + Number(n);
      if (e > b.length) throw new Error('binary past end');
      return [b.subarray(q, e), e];
    }
    case 9: {
      const h = b[p++];
      let n = h >> 4;
      const et = h & 15;
      if (n === 15) { let v; [v, p] = uvarint(b, p); n = Number(v); }
      const a = [];
      for (let i = 0; i < n; i++) {
        if (et === 1 || et === 2) { a.push(b[p++] === 1); continue; }
        let v; [v, p] = tvalue(b, p, et); a.push(v);
      }
      return [a, p];
    }
    case 12: return tstruct(b, p);
    default: throw new Error(`thrift type ${t} unsupported`);
  }
}
function tstruct(b, p) {
  const o = {};
  let last = 0;
  for (;;) {
    const h = b[p++];
    if (h === undefined) throw new Error('truncated struct');
    if (h === 0) return [o, p];
    const t = h & 15;
    let id = h >> 4;
    if (id === 0) { let v; [v, p] = uvarint(b, p); id = Number(unzig(v)); } else id += last;
    if (id <= last) throw new Error(`field ids not ascending (${id} after ${last})`);
    last = id;
    let v; [v, p] = tvalue(b, p, t);
    o[id] = v;
  }
}

// ---- expected values
function expectedValue(type, v) {
  if (v === null) return null;
  switch (type) {
    case 'INT64': case 'INT32': return BigInt(v);
    case 'DOUBLE': return v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === '-0' ? -0 : v;
    case 'BOOLEAN': return v;
    default: return Buffer.from(v, 'utf8');
  }
}
const bufLess = (a, b) => Buffer.compare(a, b) < 0;
function expectedStats(type, vals) {
  let nulls = 0, min, max;
  for (const v of vals) {
    if (v === null) { nulls++; continue; }
    if (type === 'DOUBLE' && Number.isNaN(v)) continue;
    if (min === undefined) { min = v; max = v; continue; }
    if (type === 'BYTE_ARRAY') { if (bufLess(v, min)) min = v; if (bufLess(max, v)) max = v; }
    else if (type === 'BOOLEAN') { if (!v && min) min = v; if (v && !max) max = v; }
    else { if (v < min) min = v; if (v > max) max = v; }
  }
  if (type === 'DOUBLE' && min !== undefined) { if (min === 0) min = -0; if (max === 0) max = 0; }
  return { nulls, min, max };
}
function decodeStat(type, buf) {
  switch (type) {
    case 'INT64': return buf.length === 8 ? buf.readBigInt64LE(0) : `bad length ${buf.length}`;
    case 'INT32': return buf.length === 4 ? BigInt(buf.readInt32LE(0)) : `bad length ${buf.length}`;
    case 'DOUBLE': return buf.length === 8 ? buf.readDoubleLE(0) : `bad length ${buf.length}`;
    case 'BOOLEAN': return buf.length === 1 && buf[0] <= 1 ? buf[0] === 1 : `bad bool ${buf.toString('hex')}`;
    default: return buf;
  }
}
const same = (type, a, b) => (type === 'BYTE_ARRAY' ? Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b) : Object.is(a, b));
const show = (v) => (Buffer.isBuffer(v) ? JSON.stringify(v.toString('utf8').slice(0, 80)) : typeof v === 'bigint' ? `${v}n` : Object.is(v, -0) ? '-0' : String(v));

const PHYS = { BOOLEAN: 0, INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 };
const CODEC = { UNCOMPRESSED: 0, GZIP: 2, ZSTD: 6 };
const CONVERTED = { STRING: 0, JSON: 19, TIMESTAMP: 10 };
const DUCK = { STRING: 'VARCHAR', JSON: 'JSON', TIMESTAMP: 'TIMESTAMP WITH TIME ZONE' };
const VERSION_RE = /^(.*?)\s+version\s*(?:([^(]*?)\s*(?:\(\s*build\s*([^)]*?)\s*\))?)?$/;

function duckType(c) {
  if (DUCK[c.logical]) return DUCK[c.logical];
  return { BOOLEAN: 'BOOLEAN', INT32: 'INTEGER', INT64: 'BIGINT', DOUBLE: 'DOUBLE' }[c.type];
}

function checkFooter(file, ex, cols, problems) {
  const P = (m) => problems.push(m);
  const b = readFileSync(file);
  if (b.subarray(0, 4).toString('latin1') !== 'PAR1' || b.subarray(b.length - 4).toString('latin1') !== 'PAR1') { P('PAR1 magic missing'); return; }
  const flen = b.readUInt32LE(b.length - 8);
  const [fmd, end] = tstruct(b.subarray(b.length - 8 - flen, b.length - 8), 0);
  if (end !== flen) P(`footer decodes to ${end} bytes, length says ${flen}`);
  if (fmd[1] !== 1) P(`version ${fmd[1]}`);
  if (fmd[3] !== BigInt(ex.rows)) P(`num_rows ${fmd[3]} != ${ex.rows}`);
  const cb = fmd[6]?.toString('utf8') ?? '';
  const m = VERSION_RE.exec(cb);
  if (!m || m[1] !== 'weir' || m[2] !== '0.1.0' || !m[3]) P(`created_by "${cb}" does not parse as weir version 0.1.0 (build X)`);
  // schema
  const sch = fmd[2];
  if (sch.length !== cols.length + 1 || sch[0][5] !== cols.length) P(`schema has ${sch.length} elements`);
  cols.forEach((c, i) => {
    const s = sch[i + 1] ?? {};
    if (s[4]?.toString() !== c.name) P(`schema ${i}: name ${s[4]}`);
    if (s[1] !== PHYS[c.type]) P(`${c.name}: physical type ${s[1]}`);
    if (s[3] !== (c.optional ? 1 : 0)) P(`${c.name}: repetition ${s[3]}`);
    const lt = s[10];
    const conv = c.logical === 'INT' ? (c.type === 'INT32' ? 17 : 18) : CONVERTED[c.logical];
    if (s[6] !== conv) P(`${c.name}: converted_type ${s[6]}, want ${conv}`);
    if (c.logical === 'NONE' && lt) P(`${c.name}: unexpected logicalType`);
    if (c.logical === 'STRING' && !lt?.[1]) P(`${c.name}: no STRING logicalType`);
    if (c.logical === 'JSON' && !lt?.[12]) P(`${c.name}: no JSON logicalType`);
    if (c.logical === 'INT' && !(lt?.[10]?.[1] === (c.type === 'INT32' ? 32 : 64) && lt[10][2] === true)) P(`${c.name}: bad IntType`);
    if (c.logical === 'TIMESTAMP' && !(lt?.[8]?.[1] === true && lt[8][2]?.[2])) P(`${c.name}: not TIMESTAMP(UTC, MICROS)`);
  });
  const orders = fmd[7];
  if (!orders || orders.length !== cols.length || orders.some((o) => !o[1])) P('column_orders missing or not TypeDefinedOrder');
  const kv = Object.fromEntries((fmd[5] ?? []).map((e) => [e[1].toString(), e[2]?.toString()]));
  if (JSON.stringify(kv) !== JSON.stringify(ex.kv)) P(`key_value_metadata ${JSON.stringify(kv)} != ${JSON.stringify(ex.kv)}`);
  // row groups
  const rgs = fmd[4] ?? [];
  if (rgs.length < ex.min_row_groups) P(`${rgs.length} row groups, expected at least ${ex.min_row_groups}`);
  if (ex.rows === 0 && rgs.length) P('empty file has row groups');
  let first = 0;
  const dictSeen = new Set(), fallbackSeen = new Set();
  rgs.forEach((rg, r) => {
    const nrows = Number(rg[3]);
    let unc = 0n, comp = 0n;
    if (rg[7] !== undefined && rg[7] !== r) P(`rg ${r}: ordinal ${rg[7]}`);
    rg[1].forEach((cc, i) => {
      const c = cols[i], md = cc[3], W = `rg ${r} ${c.name}`;
      if (cc[2] !== 0n) P(`${W}: ColumnChunk.file_offset ${cc[2]}`);
      if (!md) { P(`${W}: no meta_data`); return; }
      if (md[1] !== PHYS[c.type]) P(`${W}: type`);
      if (md[3]?.length !== 1 || md[3][0].toString() !== c.name) P(`${W}: path_in_schema`);
      if (md[4] !== CODEC[ex.codec]) P(`${W}: codec ${md[4]}`);
      if (md[5] !== BigInt(nrows)) P(`${W}: num_values ${md[5]} != ${nrows}`);
      unc += md[6]; comp += md[7];
      const start = Number(md[11] ?? md[9]);
      if (md[11] !== undefined && !(md[11] > 0n && md[11] < md[9])) P(`${W}: dictionary_page_offset ${md[11]} vs data ${md[9]}`);
      if (i === 0 && BigInt(start) !== rg[5]) P(`${W}: row group file_offset ${rg[5]} != ${start}`);
      // page walk
      let p = start, vals = 0, u = 0, firstData = -1;
      const pages = { dict: 0, rle_dict: 0, plain: 0 };
      while (p < start + Number(md[7])) {
        const [ph, q] = tstruct(b, p);
        const hl = q - p;
        u += hl + ph[2];
        if (ph[1] < 0 || ph[2] < 0 || ph[1] > 1 << 30) P(`${W}: page sizes ${ph[2]}/${ph[3]}`);
        if (ph[1] === 2) {
          if (firstData >= 0) P(`${W}: dictionary page after data pages`);
          if (ph[7]?.[2] !== 0) P(`${W}: dictionary page encoding ${ph[7]?.[2]}`);
          pages.dict++;
        } else if (ph[1] === 0) {
          if (firstData < 0) firstData = p;
          vals += ph[5][1];
          if (ph[5][2] === 8) pages.rle_dict++; else if (ph[5][2] === 0) pages.plain++; else P(`${W}: data page encoding ${ph[5][2]}`);
          if (ph[5][3] !== 3 || ph[5][4] !== 3) P(`${W}: level encodings`);
        } else P(`${W}: page type ${ph[1]}`);
        p = q + ph[3];
      }
      if (p !== start + Number(md[7])) P(`${W}: pages end at ${p}, chunk at ${start + Number(md[7])}`);
      if (BigInt(u) !== md[6]) P(`${W}: total_uncompressed_size ${md[6]} != ${u}`);
      if (BigInt(firstData) !== md[9]) P(`${W}: data_page_offset ${md[9]} != first data page ${firstData}`);
      if (vals !== nrows) P(`${W}: pages hold ${vals} values, want ${nrows}`);
      if ((pages.dict > 0) !== (md[11] !== undefined) || pages.dict > 1) P(`${W}: ${pages.dict} dictionary pages, offset ${md[11]}`);
      if (pages.rle_dict > 0 && pages.dict === 0) P(`${W}: dictionary-encoded pages without dictionary`);
      if (pages.dict) dictSeen.add(c.name);
      if (pages.dict && pages.plain) fallbackSeen.add(c.name);
      if (i === 0 && r === 0 && pages.rle_dict + pages.plain < ex.min_pages) P(`${W}: ${pages.rle_dict + pages.plain} pages, want >= ${ex.min_pages}`);
      const encs = new Set(md[2]);
      if (pages.plain + pages.dict > 0 && !encs.has(0)) P(`${W}: PLAIN not listed`);
      if (pages.rle_dict && !encs.has(8)) P(`${W}: RLE_DICTIONARY not listed`);
      if (c.optional && !encs.has(3)) P(`${W}: RLE not listed`);
      const es = Object.fromEntries((md[13] ?? []).map((e) => [`${e[1]}/${e[2]}`, e[3]]));
      const wantEs = {};
      if (pages.dict) wantEs['2/0'] = 1;
      if (pages.rle_dict) wantEs['0/8'] = pages.rle_dict;
      if (pages.plain) wantEs['0/0'] = pages.plain;
      if (JSON.stringify(es, Object.keys(es).sort()) !== JSON.stringify(wantEs, Object.keys(wantEs).sort())) P(`${W}: encoding_stats ${JSON.stringify(es)} != ${JSON.stringify(wantEs)}`);
      // statistics
      const st = md[12];
      const want = expectedStats(c.type, c.values.slice(first, first + nrows));
      if (!st) { P(`${W}: no statistics`); return; }
      if (st[3] !== BigInt(want.nulls)) P(`${W}: null_count ${st[3]} != ${want.nulls}`);
      if (st[1] || st[2]) P(`${W}: deprecated min/max written`);
      if (c.type === 'DOUBLE') {
        const nans = c.values.slice(first, first + nrows).filter((v) => v !== null && Number.isNaN(v)).length;
        if (st[9] !== BigInt(nans)) P(`${W}: nan_count ${st[9]} != ${nans}`);
      }
      if (want.min === undefined) {
        if (st[5] || st[6]) P(`${W}: min/max written for a chunk without (non-NaN) values`);
        return;
      }
      const lim = ex.stats_max_bytes;
      for (const [fid, exactId, w, isMin] of [[6, 8, want.min, true], [5, 7, want.max, false]]) {
        const name = isMin ? 'min_value' : 'max_value';
        if (!st[fid]) {
          if (c.type === 'BYTE_ARRAY' && !isMin && w.length > lim) continue; // no upper bound exists
          P(`${W}: ${name} missing`); continue;
        }
        const got = decodeStat(c.type, st[fid]);
        if (c.type === 'BYTE_ARRAY' && w.length > lim) {
          const ok = got.length <= lim && (isMin ? Buffer.compare(got, w) <= 0 : Buffer.compare(got, w) >= 0);
          if (!ok || st[exactId] !== false) P(`${W}: truncated ${name} ${show(got)} (exact=${st[exactId]}) does not bound ${show(w)}`);
          if (isMin && !w.subarray(0, got.length).equals(got)) P(`${W}: truncated min_value is not a prefix`);
          try { new TextDecoder('utf-8', { fatal: true }).decode(got); } catch { P(`${W}: truncated ${name} is not UTF-8`); }
        } else {
          if (!same(c.type, got, w)) P(`${W}: ${name} ${show(got)} != ${show(w)}`);
          if (st[exactId] !== true) P(`${W}: ${name} not flagged exact`);
        }
      }
    });
    if (unc !== rg[2]) P(`rg ${r}: total_byte_size ${rg[2]} != ${unc}`);
    if (comp !== rg[6]) P(`rg ${r}: total_compressed_size ${rg[6]} != ${comp}`);
    first += nrows;
  });
  if (first !== ex.rows) P(`row groups hold ${first} rows`);
  const list = (s) => (s ? s.split(',') : []);
  for (const n of list(ex.dict_cols)) if (!dictSeen.has(n)) P(`${n}: expected a dictionary`);
  for (const n of list(ex.fallback_cols)) if (!fallbackSeen.has(n)) P(`${n}: expected dictionary + PLAIN fallback pages`);
  for (const n of list(ex.plain_cols)) if (dictSeen.has(n)) P(`${n}: expected no dictionary`);
}

async function checkValues(con, file, cols, problems) {
  const P = (m) => problems.push(m);
  const q = (s) => `'${s.replaceAll("'", "''")}'`;
  const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${q(file)})`)).getRowObjects();
  cols.forEach((c, i) => {
    if (desc[i]?.column_name !== c.name || desc[i]?.column_type !== duckType(c)) P(`DuckDB sees ${desc[i]?.column_name} ${desc[i]?.column_type}, want ${c.name} ${duckType(c)}`);
  });
  const sel = cols.map((c) => {
    const id = `"${c.name}"`;
    if (c.logical === 'TIMESTAMP') return `epoch_us(${id})`;
    if (c.type === 'BYTE_ARRAY') return `encode(${id}::VARCHAR)`; // the UTF-8 bytes as a BLOB
    if (c.type === 'INT32') return `${id}::BIGINT`;
    if (c.type === 'DOUBLE') return `${id}, signbit(${id})`;
    return id;
  }).join(', ');
  const rows = (await con.runAndReadAll(`SELECT ${sel} FROM read_parquet(${q(file)}, file_row_number=true) ORDER BY file_row_number`)).getRows();
  const n = cols[0].values.length;
  if (rows.length !== n) { P(`DuckDB reads ${rows.length} rows, want ${n}`); return; }
  let bad = 0;
  for (let r = 0; r < n && bad < 10; r++) {
    let k = 0;
    for (const c of cols) {
      let got = rows[r][k++];
      const want = c.values[r];
      if (c.type === 'DOUBLE') {
        const sign = rows[r][k++];
        if (got !== null && got === 0 && sign) got = -0;
      }
      if (got !== null && c.type === 'BYTE_ARRAY') got = Buffer.from(got.bytes);
      if (got !== null && c.type === 'INT32') got = BigInt(got);
      const ok = want === null ? got === null : got !== null && (c.type === 'BYTE_ARRAY' ? want.equals(got) : Object.is(got, want));
      if (!ok) { bad++; P(`row ${r} ${c.name}: DuckDB ${show(got)} != written ${show(want)}`); }
    }
  }
}

async function main() {
  const dir = process.argv[2];
  if (!dir) { console.error('usage: node pq_check.mjs DIR'); process.exit(2); }
  const files = readdirSync(dir).filter((f) => f.endsWith('.expect.json')).sort();
  if (!files.length) { console.error(`pq_check: no *.expect.json in ${dir}`); process.exit(1); }
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await db.connect();
  let failed = 0;
  for (const f of files) {
    const ex = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    const cols = ex.columns.map((c, i) => ({ ...c, values: ex.values.map((row) => expectedValue(c.type, row[i])) }));
    const file = join(dir, ex.file);
    const problems = [];
    try { checkFooter(file, ex, cols, problems); } catch (e) { problems.push(`footer: ${e.message}`); }
    try { await checkValues(con, file, cols, problems); } catch (e) { problems.push(`DuckDB: ${e.message}`); }
    if (problems.length) {
      failed++;
      console.log(`FAIL ${ex.file}`);
      for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
    } else console.log(`ok   ${ex.file} (${ex.rows} rows, ${cols.length} columns)`);
  }
  console.log(`pq_check: ${files.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error(`pq_check: ${e.stack}`); process.exit(1); });
