#!/usr/bin/env node
// audit-verify: `verifyAuditLog` throughput on 200,000 realistic records (goal >= 200,000
// records/s), against two baselines in the same run: reading the file and JSON.parse of every
// line (what any reader pays), and a naive verifier (parse, canonicalise, sha256 each line).
// Also: the verifier held to one thread (its helper thread starts at 32 MiB, this log is 230 MB),
// and what signed checkpoints cost when there are many (one per short-lived process).
// usage: node bench/audit-verify.bench.mjs [RECORDS]   (needs dist/: npm run build)
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, timeRuns } from './bench-stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.HOOPQ_BENCH_DIST ?? path.join(here, '..', 'dist');
if (!fs.existsSync(path.join(dist, 'audit', 'verify-audit-log.js'))) {
  console.error('audit-verify: dist/audit is missing; run "npm run build" first');
  process.exit(2);
}
const load = (f) => import(pathToFileURL(path.join(dist, 'audit', f)).href);
const { verifyAuditLog } = await load('verify-audit-log.js');
const { serializeAuditRecord, GENESIS_PREV } = await load('hash-record.js');
const { canonicalJson } = await load('canonical-json.js');
const { loadOrCreateCheckpointKey } = await load('checkpoint-key.js');
const { signCheckpoint } = await load('checkpoint.js');

const N = Number(process.argv[2] ?? 200_000);
const RUNS = 5;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-bench-verify-'));
const keyDir = path.join(dir, 'keys');
const key = loadOrCreateCheckpointKey(keyDir);

const SQL = [
  'SELECT city, count(*) AS n FROM crm.customers GROUP BY city ORDER BY n DESC',
  "SELECT c.name, c.email, sum(o.amount) AS total FROM crm.customers c JOIN sales.orders o ON o.customer_id = c.id WHERE o.created_at >= DATE '2026-01-01' GROUP BY 1, 2 QUALIFY row_number() OVER (ORDER BY total DESC) <= 10",
  'SELECT * FROM analytics.events WHERE event_type = \'signup\' AND ts > now() - INTERVAL 1 DAY LIMIT 100',
  'SELECT * FROM crm.payment_cards',
];
const sha = (s) => createHash('sha256').update(s).digest('hex');

/** Writes a log of n records the way the sink does, with a signed checkpoint every `every`. */
function writeLog(file, n, every) {
  const fd = fs.openSync(file, 'w');
  const cps = [];
  let prev = GENESIS_PREV;
  let size = 0;
  let chunk = [];
  for (let seq = 1; seq <= n; seq++) {
    const denied = seq % 11 === 0;
    const intent = seq % 2 === 1;
    const { record, line } = serializeAuditRecord({
      id: randomUUID(), time: new Date(Date.UTC(2026, 10, 1) + seq * 1000).toISOString(), event: intent ? 'query.intent' : 'query',
      run: `nightly-${seq % 97}`, subject: 'repo:acme/ml:ref:refs/heads/main', token_id: `tok-${seq % 97}`,
      policy: { name: 'analyst-agent', sha256: sha(String(seq % 3)), token_sha256: sha(String(seq % 3)) }, justification: 'nightly fine-tune data pull',
      sql: SQL[seq % SQL.length], statements: ['select'], tables: { read: ['demo.crm.customers', 'demo.sales.orders'], write: [] },
      decision: denied ? 'deny' : 'allow', reason: denied ? 'table demo.crm.payment_cards is denied by tables.deny' : null,
      code: denied ? 'policy.table_denied' : null, rule: denied ? 'tables.deny' : null,
      masked: { columns: { 'demo.crm.customers.email': 'hash', 'demo.crm.customers.phone': 'partial' }, detected: intent ? {} : { email: 2 } },
      warehouse: { kind: 'duckdb', job_id: null, bytes_processed: intent ? null : 48_213 }, rows: intent ? null : 42,
      result_sha256: intent ? null : sha(String(seq)), duration_ms: intent ? null : 37, intent: intent ? null : `intent-${seq - 1}`, exit_code: intent ? null : 0,
      seq, prev,
    });
    prev = record.hash;
    const bytes = line.length + 1; // ASCII records
    size += bytes;
    chunk.push(line);
    if (chunk.length === 5000) {
      fs.writeSync(fd, chunk.join('\n') + '\n');
      chunk = [];
    }
    if (seq % every === 0 || seq === n) cps.push(canonicalJson(signCheckpoint(key, { seq, hash: prev, logSizeBytes: size }, new Date())));
  }
  if (chunk.length) fs.writeSync(fd, chunk.join('\n') + '\n');
  fs.closeSync(fd);
  fs.writeFileSync(`${file}.checkpoints`, cps.join('\n') + '\n');
  return { bytes: size, checkpoints: cps.length };
}

async function parseEveryLine(file) {
  let n = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
    JSON.parse(line);
    n++;
  }
  return n;
}

async function naiveVerify(file) {
  let prev = GENESIS_PREV;
  let n = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
    const { hash, ...rest } = JSON.parse(line);
    if (rest.prev !== prev || sha(canonicalJson(rest)) !== hash) throw new Error(`naive verify failed at ${n + 1}`);
    prev = hash;
    n++;
  }
  return n;
}

const time = (fn, runs = RUNS) => timeRuns(fn, runs);

try {
  const log = path.join(dir, 'audit.jsonl');
  const t0 = Date.now();
  const { bytes, checkpoints } = writeLog(log, N, 100);
  console.log(`generated ${N} records (${(bytes / 1e6).toFixed(1)} MB, ${Math.round(bytes / N)} bytes/record) and ${checkpoints} signed checkpoints in ${Date.now() - t0} ms`);

  const verify = await time(() => verifyAuditLog(log, { keyDir }));
  if (!verify.out.ok || verify.out.records !== N) throw new Error(`verification failed: ${JSON.stringify(verify.out.firstBad)}`);
  const oneThread = await time(() => verifyAuditLog(log, { keyDir, parallelMinBytes: Infinity }));
  if (!oneThread.out.ok || oneThread.out.records !== N) throw new Error('one-thread verification failed');
  const parse = await time(() => parseEveryLine(log));
  const naive = await time(() => naiveVerify(log), 3);
  const rate = (ms) => Math.round(N / (ms / 1000)).toLocaleString('en-US');
  console.log(`verifyAuditLog (chain + ${verify.out.checkpoints.verified} signatures): median ${verify.ms.toFixed(0)} ms = ${rate(verify.ms)} records/s  (goal >= 200,000)`);
  console.log(`verifyAuditLog on one thread (parallelMinBytes: Infinity): median ${oneThread.ms.toFixed(0)} ms = ${rate(oneThread.ms)} records/s`);
  console.log(`baseline readline + JSON.parse per line:  median ${parse.ms.toFixed(0)} ms = ${rate(parse.ms)} records/s  -> verify is ${(parse.ms / verify.ms).toFixed(2)}x its speed`);
  console.log(`baseline naive verifier (parse, canonicalise, sha256): median ${naive.ms.toFixed(0)} ms = ${rate(naive.ms)} records/s  -> verify is ${(naive.ms / verify.ms).toFixed(2)}x its speed`);

  // direct mode: every short-lived `hoopq query` process writes a checkpoint on exit
  const small = path.join(dir, 'per-process.jsonl');
  const M = 20_000;
  const many = writeLog(small, M, 2);
  const all = await time(() => verifyAuditLog(small, { keyDir }), 3);
  const latest = await time(() => verifyAuditLog(small, { keyDir, signatures: 'latest' }), 3);
  console.log(`${M} records with a checkpoint every 2 (${many.checkpoints} checkpoints): all signatures ${all.ms.toFixed(0)} ms (${((all.ms - latest.ms) / many.checkpoints * 1000).toFixed(0)} µs per extra signature), signatures: 'latest' ${latest.ms.toFixed(0)} ms`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
