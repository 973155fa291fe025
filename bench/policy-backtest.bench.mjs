#!/usr/bin/env node
// policy-backtest: `hoopq policy backtest` throughput (goal >= 20,000 recorded queries/s from
// a warm start), against the plain audit read in the same run: listAuditRecords over the same
// log (read + JSON.parse of every line, what `audit list` pays).
// The log: QUERIES recorded queries of the quickstart's analyst-agent policy (an intent and an
// outcome record for each allowed one, one record for each refused one), hash-chained as the
// sink writes them, with literal-redacted `sql` and AES-GCM-sealed exact SQL as run-query
// records them under a masking policy. Their SQL is drawn uniformly from DISTINCT texts (seven
// shapes: allowed, masked, views, refused by tables.deny, through a view, by statements); the
// recorded decisions are the ones hoopq makes for them today. The proposed policy allows the
// denied table, unmasks email, masks city and denies a view, so every kind of change occurs.
// "Warm start": the warehouse is open and the code has run once; every measured backtest starts
// with empty caches (fresh MemoizingWarehouses), so each distinct SQL is analysed once per run.
// Measured with one read-only warehouse connection and with JOBS (the CLI's default, --jobs).
// A second measurement gives the cost of a distinct SQL text alone (all-distinct log).
// usage: node bench/policy-backtest.bench.mjs [QUERIES] [DISTINCT]   (needs dist/: npm run build)
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, timeRuns } from './bench-stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const dist = process.env.HOOPQ_BENCH_DIST ?? path.join(root, 'dist');
if (!fs.existsSync(path.join(dist, 'pipeline', 'backtest-policy.js'))) {
  console.error('policy-backtest: dist/ is missing; run "npm run build" first');
  process.exit(2);
}
const load = (f) => import(pathToFileURL(path.join(dist, f)).href);
const { createDemoWarehouse } = await load('quickstart/create-demo-warehouse.js');
const { openWarehouse } = await load('warehouse/open-warehouse.js');
const { loadPolicy } = await load('policy/load-policy.js');
const { backtestPolicy } = await load('pipeline/backtest-policy.js');
const { decideOffline } = await load('pipeline/decide-offline.js');
const { MemoizingWarehouse } = await load('pipeline/memoizing-warehouse.js');
const { listAuditRecords } = await load('audit/read-audit-log.js');
const { serializeAuditRecord, GENESIS_PREV } = await load('audit/hash-record.js');
const { loadOrCreateSqlSealKey, sealSql } = await load('audit/seal-sql.js');
const { redactSqlLiterals } = await load('masking/redact-sql-literals.js');

const QUERIES = Number(process.argv[2] ?? 100_000);
const DISTINCT = Number(process.argv[3] ?? 100);
const RUNS = 5;
const JOBS = Number(process.env.BENCH_JOBS ?? Math.min(4, os.availableParallelism()));

const SHAPES = [
  (i) => `SELECT event_type, count(*) AS n FROM analytics.events WHERE amount > ${i} GROUP BY event_type`,
  (i) => `SELECT name, email, phone FROM crm.customers WHERE id = ${i}`,
  (i) => `SELECT * FROM crm.payment_cards WHERE id = ${i}`,
  (i) => `SELECT day, events FROM analytics.daily_events WHERE events > ${i}`,
  (i) => `SELECT brand, spent FROM analytics.card_spend WHERE spent > ${i}`,
  (i) => `DELETE FROM analytics.events WHERE id = ${i}`,
  (i) => `SELECT name, city FROM crm.customer_directory WHERE city <> 'City ${i}'`,
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-bench-backtest-'));
const policies = path.join(dir, 'policies');
fs.mkdirSync(policies);
fs.copyFileSync(path.join(root, 'policies', 'analyst-agent.yaml'), path.join(policies, 'analyst-agent.yaml'));
const proposedFile = path.join(dir, 'proposed.yaml');
fs.writeFileSync(
  proposedFile,
  fs
    .readFileSync(path.join(policies, 'analyst-agent.yaml'), 'utf8')
    .replace('    - demo.crm.payment_cards\n', '    - demo.crm.nothing_here\n')
    .replace('    - demo.crm.customers\n', '    - demo.crm.customers\n    - demo.crm.payment_cards\n')
    .replace('  demo.crm.customers.email: hash\n', '  demo.crm.customers.city: hash\n')
    .replace('  deny:\n', '  deny:\n    - demo.analytics.daily_events\n'),
);
const keysDir = path.join(dir, 'keys');
const sealKey = loadOrCreateSqlSealKey(keysDir);
const names = { defaultProject: 'demo', defaultDataset: 'crm' };

/** Writes `queries` recorded queries drawn from `distinct` SQL texts; returns the number of lines. */
async function writeLog(file, queries, distinct, warehouse, current) {
  const texts = Array.from({ length: distinct }, (_, i) => SHAPES[i % SHAPES.length](Math.floor(i / SHAPES.length)));
  const decided = [];
  for (const sql of texts) decided.push(await decideOffline(warehouse, sql, current, 'nightly pull', names));
  const fd = fs.openSync(file, 'w');
  let prev = GENESIS_PREV;
  let seq = 0;
  let chunk = [];
  const t0 = Date.UTC(2026, 10, 1);
  const append = (body) => {
    const { record, line } = serializeAuditRecord({ ...body, seq: ++seq, prev });
    prev = record.hash;
    chunk.push(line);
    if (chunk.length === 5000) {
      fs.writeSync(fd, chunk.join('\n') + '\n');
      chunk = [];
    }
  };
  let state = 42;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let q = 0; q < queries; q++) {
    const k = queries <= distinct ? q % distinct : Math.floor(random() * distinct);
    const sql = texts[k];
    const d = decided[k];
    const redacted = redactSqlLiterals(sql).text;
    const body = {
      id: randomUUID(), time: new Date(t0 + q * 1000).toISOString(), event: 'query',
      run: `nightly-${q % 97}`, subject: 'repo:acme/ml:ref:refs/heads/main', token_id: `tok-${q % 97}`,
      policy: { name: current.name, sha256: current.sha256, token_sha256: current.sha256 }, justification: 'nightly pull', format: 'json',
      sql: redacted, ...(redacted !== sql ? { sql_sealed: sealSql(sql, sealKey) } : {}),
      statements: d.statements, tables: d.tables, decision: d.decision, reason: d.reason, code: d.code, rule: d.rule,
      masked: { columns: d.masks, detected: {} }, warehouse: { kind: 'duckdb', job_id: null, bytes_processed: null },
      rows: null, result_sha256: null, duration_ms: null,
    };
    if (d.decision === 'deny') {
      append({ ...body, exit_code: d.exit_code, duration_ms: 12 });
      continue;
    }
    append({ ...body, event: 'query.intent' });
    append({ ...body, id: randomUUID(), intent: body.id, rows: 3, result_sha256: 'ab'.repeat(32), duration_ms: 37, exit_code: 0 });
  }
  if (chunk.length) fs.writeSync(fd, chunk.join('\n') + '\n');
  fs.closeSync(fd);
  return seq;
}

const time = (fn, runs = RUNS) => timeRuns(fn, runs);

async function plainRead(file) {
  let n = 0;
  for await (const r of listAuditRecords(file)) if (r.event === 'query') n++;
  return n;
}

const run = (inners, proposed, log) => () =>
  backtestPolicy({ logPath: log, policy: proposed, warehouses: inners.map((w) => new MemoizingWarehouse(w)), names, sealKey, recordedPolicy: 'analyst-agent' });

try {
  await createDemoWarehouse(path.join(dir, 'demo.duckdb'));
  const current = loadPolicy(path.join(policies, 'analyst-agent.yaml'));
  const proposed = loadPolicy(proposedFile, { nameMatchesFile: false });
  const inners = [];
  for (let i = 0; i < JOBS; i++) inners.push(await openWarehouse({ kind: 'duckdb', path: path.join(dir, 'demo.duckdb') }, { writable: false }));
  try {
    const log = path.join(dir, 'audit.jsonl');
    const setup = Date.now();
    const lines = await writeLog(log, QUERIES, DISTINCT, new MemoizingWarehouse(inners[0]), current);
    const mb = fs.statSync(log).size / 1e6;
    console.log(`log: ${QUERIES.toLocaleString('en-US')} recorded queries (${lines.toLocaleString('en-US')} lines with intents, ${mb.toFixed(1)} MB) from ${DISTINCT} distinct SQL texts, written in ${Date.now() - setup} ms`);

    await run(inners, proposed, log)(); // warm-up: JIT, DuckDB's own caches
    // interleaved, so that a change of the machine's load shifts all three alike
    const reads = [];
    const ones = [];
    const alls = [];
    for (let i = 0; i < RUNS; i++) {
      reads.push(await time(() => plainRead(log), 1));
      ones.push(await time(run(inners.slice(0, 1), proposed, log), 1));
      alls.push(await time(run(inners, proposed, log), 1));
    }
    const summary = (runs) => ({ ms: median(runs.map((x) => x.ms)), all: runs.map((x) => x.ms), out: runs[0].out });
    const read = summary(reads);
    const one = summary(ones);
    const all = summary(alls);
    const r = all.out;
    if (r.replayed !== QUERIES || read.out !== QUERIES || one.out.replayed !== QUERIES) throw new Error(`replayed ${r.replayed}, read ${read.out}, expected ${QUERIES}`);
    if (JSON.stringify(one.out.changes) !== JSON.stringify(r.changes)) throw new Error('one and several warehouses disagree');
    const rate = (ms, n = QUERIES) => Math.round(n / (ms / 1000)).toLocaleString('en-US');
    const changes = Object.entries(r.changes).map(([k, v]) => `${k} ${v.records}`).join(', ');
    console.log(`changes found: ${changes} (${r.changed.toLocaleString('en-US')} records changed, ${r.unchanged.toLocaleString('en-US')} unchanged)`);
    console.log('');
    console.log('| measurement | median ms | recorded queries/s |');
    console.log('|---|---|---|');
    console.log(`| baseline: plain audit read (listAuditRecords: read + JSON.parse every line) | ${read.ms.toFixed(0)} | ${rate(read.ms)} |`);
    console.log(`| policy backtest, 1 warehouse connection | ${one.ms.toFixed(0)} | ${rate(one.ms)} |`);
    console.log(`| policy backtest, ${JOBS} warehouse connections (the CLI's default here) | ${all.ms.toFixed(0)} | **${rate(all.ms)}** |`);
    console.log('');
    console.log(`runs: 1 connection ${one.all.map((x) => x.toFixed(0)).join(', ')} ms; ${JOBS} connections ${all.all.map((x) => x.toFixed(0)).join(', ')} ms; backtest / plain read: ${(all.ms / read.ms).toFixed(2)}x the time`);
    console.log(`goal >= 20,000 recorded queries/s: ${QUERIES / (all.ms / 1000) >= 20_000 ? 'MET' : 'NOT MET'} on this log`);

    // what one distinct SQL text costs: a log where every query is different
    const few = Math.min(Math.max(DISTINCT, 140), 350);
    const distinctLog = path.join(dir, 'distinct.jsonl');
    await writeLog(distinctLog, few, few, new MemoizingWarehouse(inners[0]), current);
    const cold1 = await time(run(inners.slice(0, 1), proposed, distinctLog), 1);
    const coldN = await time(run(inners, proposed, distinctLog), 1);
    console.log(`all-distinct log (${few} queries, ${few} texts): 1 connection ${(cold1.ms / few).toFixed(1)} ms per text = ${rate(cold1.ms, few)} queries/s; ${JOBS} connections ${(coldN.ms / few).toFixed(1)} ms per text = ${rate(coldN.ms, few)} queries/s`);
  } finally {
    for (const w of inners) await w.close();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
