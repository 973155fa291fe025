#!/usr/bin/env node
// Measures the GoogleSQL analyser on the shared corpus: the share of statements analysed
// (no AnalysisError), table precision/recall/F1 and statement-type accuracy on the hand
// labels, and the refusals grouped by reason. Prints markdown.
//
//   npm run build && node bench/corpus-analysis.mjs [CORPUS_DIR] [--failures]
//
// CORPUS_DIR defaults to ../shared/corpus (beside the repository). The compiled analyser is
// read from dist/ (or from $HOOPQ_DIST when set).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const showFailures = args.includes('--failures');
const corpus = resolve(args.find((a) => !a.startsWith('--')) ?? join(here, '..', '..', 'shared', 'corpus'));
const dist = resolve(process.env.HOOPQ_DIST ?? join(here, '..', 'dist'));
const { analyzeGoogleSql } = await import(pathToFileURL(join(dist, 'analysis', 'bigquery', 'analyze-google-sql.js')).href);

// Defaults so that every name resolves; scoring uses the names as written (label convention).
const names = { defaultProject: 'default-project', defaultDataset: 'default_dataset' };
const labels = JSON.parse(readFileSync(join(corpus, 'bigquery-labels.json'), 'utf8')).labels;
const files = readdirSync(join(corpus, 'bigquery')).filter((f) => f.endsWith('.sql')).sort();

// Our native types (BigQuery statementType names) -> the labels' vocabulary.
function labelType(t) {
  if (/^CREATE_(TABLE|TABLE_AS_SELECT|EXTERNAL_TABLE|SNAPSHOT_TABLE)$/.test(t)) return ['CREATE_TABLE', 'CREATE_OTHER'];
  if (t === 'CREATE_MATERIALIZED_VIEW') return ['CREATE_VIEW', 'CREATE_OTHER'];
  if (t === 'CREATE_TABLE_FUNCTION') return ['CREATE_FUNCTION'];
  if (/^CREATE_(VIEW|FUNCTION|PROCEDURE)$/.test(t)) return [t];
  if (t.startsWith('CREATE_')) return ['CREATE_OTHER'];
  if (t.startsWith('DROP_')) return ['DROP'];
  if (t.startsWith('ALTER_')) return ['ALTER'];
  if (['FOR', 'WHILE', 'REPEAT'].includes(t)) return [t, 'LOOP'];
  return [{ TRUNCATE_TABLE: 'TRUNCATE', LOAD_DATA: 'LOAD', EXPORT_DATA: 'EXPORT' }[t] ?? t];
}

function reasonOf(err) {
  if (!err || typeof err !== 'object' || !('code' in err)) return `internal: ${String(err?.message ?? err).split('\n')[0]}`;
  const m = /Unexpected "([^"]*)"/.exec(err.message);
  if (err.code === 'analysis.parse_error') return `parse error (unexpected ${m ? JSON.stringify(m[1]) : '?'})`;
  return `${err.code}: ${err.message.replace(/^refused: /, '').replace(/"[^"]*"/g, '"…"').slice(0, 90)}`;
}

let analysed = 0;
const failures = new Map();
const results = new Map();
const t0 = performance.now();
for (const f of files) {
  const id = f.replace(/\.sql$/, '');
  const sql = readFileSync(join(corpus, 'bigquery', f), 'utf8');
  try {
    const a = await analyzeGoogleSql(sql, { names });
    analysed++;
    results.set(id, { ok: true, analysis: a });
  } catch (err) {
    const reason = reasonOf(err);
    if (!failures.has(reason)) failures.set(reason, []);
    failures.get(reason).push(id);
    results.set(id, { ok: false, reason, code: err?.code });
  }
}
const ms = performance.now() - t0;

// Table scoring on the labels.
const strict = { tp: 0, fp: 0, fn: 0 }; // refused statements count as missing every table
const onAnalysed = { tp: 0, fp: 0, fn: 0 };
let typeOk = 0, typeTotal = 0, dynamicRefused = 0, dynamicTotal = 0, labelledRefused = [];
const mistakes = [];
for (const [id, label] of Object.entries(labels)) {
  const r = results.get(id);
  if (!r) continue;
  if (label.dynamic) {
    dynamicTotal++;
    if (!r.ok) dynamicRefused++;
    continue;
  }
  const ignore = new Set(label.ignore ?? []);
  const expected = new Set([
    ...label.reads.map((n) => `R ${n}`),
    ...(label.calls ?? []).map((n) => `R ${n}`),
    ...(label.external ?? []).map((n) => `R external_query:${n}`),
    ...label.writes.map((n) => `W ${n}`),
  ]);
  const got = new Set();
  if (r.ok) {
    for (const s of r.analysis.statements) {
      for (const n of s.written.reads) if (!ignore.has(n)) got.add(`R ${n}`);
      for (const n of s.written.writes) if (!ignore.has(n)) got.add(`W ${n}`);
    }
    typeTotal++;
    if (labelType(r.analysis.statements[0].nativeType).some((t) => label.types.includes(t))) typeOk++;
    else mistakes.push(`${id}: type ${r.analysis.statements[0].nativeType} not in ${label.types.join('/')}`);
  } else {
    labelledRefused.push(`${id} (${r.reason})`);
  }
  for (const e of expected) {
    if (got.has(e)) { strict.tp++; if (r.ok) onAnalysed.tp++; }
    else { strict.fn++; if (r.ok) { onAnalysed.fn++; mistakes.push(`${id}: missed ${e}`); } }
  }
  for (const g of got) if (!expected.has(g)) { strict.fp++; onAnalysed.fp++; mistakes.push(`${id}: extra ${g}`); }
}
const prf = ({ tp, fp, fn }) => {
  const p = tp / (tp + fp || 1), r = tp / (tp + fn || 1);
  return { p, r, f1: (2 * p * r) / (p + r || 1) };
};
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const s = prf(strict), o = prf(onAnalysed);

console.log(`## GoogleSQL analysis on the shared corpus\n`);
console.log(`| measure | value |`);
console.log(`|---|---|`);
console.log(`| statements analysed | ${analysed} / ${files.length} (${pct(analysed / files.length)}) |`);
console.log(`| refused (AnalysisError, exit 6) | ${files.length - analysed} |`);
console.log(`| table precision / recall / F1, all ${Object.keys(labels).length - dynamicTotal} static labels (refusal = every table missed) | ${pct(s.p)} / ${pct(s.r)} / ${pct(s.f1)} |`);
console.log(`| table precision / recall / F1, labelled statements analysed | ${pct(o.p)} / ${pct(o.r)} / ${pct(o.f1)} |`);
console.log(`| statement type accuracy (analysed labels) | ${typeOk} / ${typeTotal} (${pct(typeOk / (typeTotal || 1))}) |`);
console.log(`| dynamic-SQL labels refused (the rest are string literals, analysed recursively) | ${dynamicRefused} / ${dynamicTotal} |`);
console.log(`| time | ${ms.toFixed(0)} ms (${(ms / files.length).toFixed(2)} ms/statement) |`);
console.log(`\n### Labelled statements refused\n`);
for (const l of labelledRefused) console.log(`- ${l}`);
if (mistakes.length) {
  console.log(`\n### Label mismatches\n`);
  for (const m of mistakes) console.log(`- ${m}`);
}
console.log(`\n### Refusals by reason\n`);
console.log(`| reason | count | examples |`);
console.log(`|---|---|---|`);
for (const [reason, ids] of [...failures].sort((a, b) => b[1].length - a[1].length)) {
  console.log(`| ${reason.replace(/\|/g, '\\|')} | ${ids.length} | ${(showFailures ? ids : ids.slice(0, 4)).join(', ')}${!showFailures && ids.length > 4 ? ', …' : ''} |`);
}
