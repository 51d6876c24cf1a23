// pq_lint_strict.mjs - runs the shared structural lint (shared/bench/duckdb/lint.mjs) on Parquet
// files and fails on warnings as well as errors: weir's own fixtures must be spotless.
//   node pq_lint_strict.mjs LINT_MJS FILE...     exit 0 = clean, 1 = any problem
import { pathToFileURL } from 'node:url';

const [lintPath, ...files] = process.argv.slice(2);
if (!lintPath || !files.length) { console.error('usage: node pq_lint_strict.mjs LINT_MJS FILE...'); process.exit(2); }
const { lintParquet } = await import(pathToFileURL(lintPath).href);
let bad = 0;
for (const f of files) {
  const problems = lintParquet(f);
  for (const p of problems) console.log(`${p.severity.toUpperCase()} ${f}: ${p.where}: ${p.problem}`);
  if (problems.length) bad++;
}
console.log(`pq_lint_strict: ${files.length - bad} clean, ${bad} with problems`);
process.exit(bad ? 1 : 0);
