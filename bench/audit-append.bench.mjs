#!/usr/bin/env node
// audit-append: what the durable audit append costs a query. The real pipeline (runQuery with
// the parts the CLI builds: token check, analysis, policy, masking, DuckDB demo warehouse) runs
// in this one process, the same query twice over:
//   audit on:  the production JSONL sink; the intent record is fsync'd before the warehouse
//              sees the query, the outcome record after (plus a signed checkpoint every 100);
//   audit off: the same parts with `audit` swapped for a sink that keeps nothing (PipelineParts
//              takes any AuditSink; this is the baseline only, no production path uses it).
// Rounds alternate on/off so that drift in machine load hits both; each round times a batch of
// queries; reported: median ms/query of the rounds, the difference, and the ratio on/off.
// usage: node bench/audit-append.bench.mjs [ROUNDS] [QUERIES_PER_ROUND]   (needs dist/: npm run build)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from './bench-stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const dist = process.env.HOOPQ_BENCH_DIST ?? path.join(root, 'dist');
const load = (f) => import(pathToFileURL(path.join(dist, f)).href);
const { loadConfig } = await load('config/load-config.js');
const { createLocalParts } = await load('pipeline/local-parts.js');
const { runQuery } = await load('pipeline/run-query.js');
const { openJsonlFileSink } = await load('audit/jsonl-file-sink.js');

const ROUNDS = Number(process.argv[2] ?? 9);
const PER_ROUND = Number(process.argv[3] ?? 15);
const QUERIES = {
  'trivial (SELECT 1)': 'SELECT 1 AS one',
  'masked table (customers by city, email hashed)': 'SELECT city, email, count(*) AS n FROM crm.customers GROUP BY city, email ORDER BY n DESC LIMIT 20',
};

const hoopq = path.join(root, 'bin', 'hoopq');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-bench-append-'));
const cli = (args) => {
  const r = spawnSync(process.execPath, [hoopq, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hoopq ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
};

/** A sink that keeps nothing: what the pipeline costs without an audit log. */
const nullSink = {
  seq: 0,
  async append(body) {
    this.seq++;
    return { ...body, seq: this.seq, prev: '0'.repeat(64), hash: '0'.repeat(64) };
  },
  async close() {},
};

const discard = () => new Writable({ write: (_chunk, _enc, done) => done() });

try {
  cli(['quickstart', dir, '--no-tour']);
  const configPath = path.join(dir, 'hoopq.yaml');
  const config = loadConfig(configPath);
  const local = createLocalParts(config);
  const on = local.parts;
  const off = { ...local.parts, audit: async () => nullSink };
  const auditLog = config.audit.path;

  let token = '';
  let tokenUses = 0;
  let runNo = 0;
  const nextToken = () => {
    // analyst-agent allows 200 queries per run: a fresh run well before that
    if (!token || tokenUses + PER_ROUND > 150) {
      token = cli(['token', 'mint', '--config', configPath, '--policy', 'analyst-agent', '--run', `bench-${runNo++}`, '--ttl', '1h']);
      tokenUses = 0;
    }
    tokenUses += PER_ROUND;
    return token;
  };
  const batch = async (parts, sql, n) => {
    const tok = nextToken();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await runQuery(parts, { sql, token: tok, justification: 'benchmark', format: 'json', out: discard(), notice: () => {} });
    }
    return Number(process.hrtime.bigint() - t0) / 1e6 / n;
  };

  console.log(`${ROUNDS} rounds x ${PER_ROUND} queries each way, alternating; ${os.cpus().length} cores; audit log on ${auditLog}`);
  console.log('| query | audit off ms/query | audit on ms/query | durable append ms/query | ratio on/off | on - off per round, min..max ms |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, sql] of Object.entries(QUERIES)) {
    // warm-up: the first queries load modules, open files and JIT-compile
    await batch(on, sql, 5);
    await batch(off, sql, 5);
    const queryRecords = () => fs.readFileSync(auditLog, 'utf8').split('\n').filter((l) => /"event":"query(\.intent)?"/.test(l)).length;
    const before = queryRecords();
    const onMs = [];
    const offMs = [];
    for (let r = 0; r < ROUNDS; r++) {
      // alternate which goes first, so neither always follows the other
      if (r % 2 === 0) {
        onMs.push(await batch(on, sql, PER_ROUND));
        offMs.push(await batch(off, sql, PER_ROUND));
      } else {
        offMs.push(await batch(off, sql, PER_ROUND));
        onMs.push(await batch(on, sql, PER_ROUND));
      }
    }
    // (token mints between batches add records of their own, not counted)
    const written = queryRecords() - before;
    if (written !== 2 * ROUNDS * PER_ROUND) throw new Error(`expected ${2 * ROUNDS * PER_ROUND} records (intent + outcome per query) in the log, found ${written}`);
    const a = median(onMs);
    const b = median(offMs);
    const diffs = onMs.map((x, i) => x - offMs[i]);
    console.log(`| ${name} | ${b.toFixed(2)} | ${a.toFixed(2)} | ${(a - b).toFixed(2)} | ${(a / b).toFixed(2)}x | ${Math.min(...diffs).toFixed(2)}..${Math.max(...diffs).toFixed(2)} |`);
  }
  await local.close();

  // cross-check: the sink alone (lock, chain, write, fsync, a checkpoint every 100), no query
  const sink = await openJsonlFileSink(path.join(dir, 'alone.jsonl'), { checkpoint: { keyDir: config.keysDir, every: 100 } });
  const body = (i) => ({
    id: `r-${i}`, time: new Date().toISOString(), event: 'query', run: 'bench', subject: 'bench', token_id: 'tok', policy: { name: 'analyst-agent', sha256: 'a'.repeat(64) },
    justification: 'benchmark', sql: QUERIES['trivial (SELECT 1)'], statements: ['select'], tables: { read: [], write: [] }, decision: 'allow', reason: null,
    masked: { columns: {}, detected: {} }, warehouse: { kind: 'duckdb', job_id: null, bytes_processed: null }, rows: 1, result_sha256: null, duration_ms: 1,
  });
  for (let i = 0; i < 20; i++) await sink.append(body(i));
  const appendMs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) await sink.append(body(i));
    appendMs.push(Number(process.hrtime.bigint() - t0) / 1e6 / 100);
  }
  await sink.close();
  console.log(`\nthe sink alone: median ${median(appendMs).toFixed(2)} ms per durable append (5 x 100), so ${(2 * median(appendMs)).toFixed(2)} ms for a query's intent + outcome`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
