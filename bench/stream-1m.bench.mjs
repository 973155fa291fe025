// Issue 3 benchmark: 1,000,000 rows x 5 text columns through `hoopq query --format ndjson`
// (no row cap), with the content detectors on vs off, against DuckDB writing the same result
// out directly (a bare Node script streaming COPY … TO '/dev/stdout' (FORMAT json)).
// Reports wall time (median of BENCH_RUNS, default 3) and peak RSS (GNU time's %M) of each
// whole process. Goals: detectors on/off throughput ratio >= 0.5; hoopq peak RSS < 200 MB.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { median } from './bench-stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hoopq = join(root, 'bin', 'hoopq');
const runs = Number(process.env.BENCH_RUNS ?? 3);
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'hoopq-bench-1m-'));

function timed(argv, env) {
  // GNU time prints "<seconds> <maxrss KiB>" on the last stderr line; stdout is discarded
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...argv], { env, encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'ignore', 'pipe'] });
  const last = r.stderr.trim().split('\n').at(-1);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  const [sec, kib] = last.split(' ').map(Number);
  return { ms: sec * 1000, rssMb: kib / 1024 };
}

try {
  const db = join(dir, 'big.duckdb');
  const inst = await DuckDBInstance.create(db);
  const conn = await inst.connect();
  await conn.run(`CREATE TABLE main.rows AS
    SELECT 'Customer ' || i AS name,
           CASE i % 5 WHEN 0 THEN 'Lyon' WHEN 1 THEN 'Osaka' WHEN 2 THEN 'Berlin' WHEN 3 THEN 'Porto' ELSE 'Leeds' END AS city,
           'C-' || lpad(CAST(i AS VARCHAR), 8, '0') AS customer_id,
           CASE WHEN i % 10 = 0 THEN 'reach me at user' || i || '@example.com' WHEN i % 10 = 1 THEN 'called from +1-415-555-' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0') ELSE 'no notes for this customer, status unchanged since last review' END AS note,
           CASE WHEN i % 3 = 0 THEN 'active' ELSE 'trial' END AS status
    FROM range(${ROWS}) t(i)`);
  conn.closeSync();
  inst.closeSync();
  mkdirSync(join(dir, 'policies'));
  const base = `statements: [select]\ntables:\n  read: ["big.main.*"]\nlimits: { timeout: 600s }\n`;
  writeFileSync(join(dir, 'policies', 'on.yaml'), `name: on\n${base}detect: [email, phone, credit_card, us_ssn, iban, ipv4, ipv6, secret]\n`);
  writeFileSync(join(dir, 'policies', 'off.yaml'), `name: off\n${base}`);
  writeFileSync(join(dir, 'hoopq.yaml'), 'warehouse:\n  kind: duckdb\n  path: ./big.duckdb\n  default_dataset: main\npolicies: ./policies\naudit: ./audit.jsonl\nkeys: ./.hoopq/keys\n');
  const env = { ...process.env, HOOPQ_CONFIG: join(dir, 'hoopq.yaml') };
  const mint = (p) => spawnSync(process.execPath, [hoopq, 'token', 'mint', '--policy', p, '--run', `bench-${p}`], { env, encoding: 'utf8' }).stdout.trim();
  const tokens = { on: mint('on'), off: mint('off') };
  const sql = 'SELECT * FROM main.rows';
  const bareScript = join(dir, 'bare.mjs');
  writeFileSync(bareScript, `import { DuckDBInstance } from ${JSON.stringify(join(root, 'node_modules', '@duckdb', 'node-api', 'lib', 'index.js'))};
const i = await DuckDBInstance.create(${JSON.stringify(db)}, { access_mode: 'READ_ONLY' });
const c = await i.connect();
await c.run("COPY (${sql}) TO '/dev/stdout' (FORMAT json)");
c.closeSync(); i.closeSync();\n`);
  const results = { bare: [], off: [], on: [] };
  for (let k = 0; k < runs; k++) {
    results.bare.push(timed([process.execPath, bareScript], env));
    results.off.push(timed([process.execPath, hoopq, 'query', '--format', 'ndjson', sql], { ...env, HOOPQ_TOKEN: tokens.off }));
    results.on.push(timed([process.execPath, hoopq, 'query', '--format', 'ndjson', sql], { ...env, HOOPQ_TOKEN: tokens.on }));
  }
  const med = (xs, f) => median(xs.map(f));
  console.log(`${ROWS} rows x 5 text columns, ${runs} runs each, medians`);
  console.log('| measurement | wall s | rows/s | peak RSS MB |');
  console.log('|---|---|---|---|');
  for (const [label, key] of [['DuckDB COPY to stdout (bare Node, baseline)', 'bare'], ['hoopq query --format ndjson, detectors off', 'off'], ['hoopq query --format ndjson, all 8 detectors on', 'on']]) {
    const ms = med(results[key], (r) => r.ms);
    console.log(`| ${label} | ${(ms / 1000).toFixed(2)} | ${Math.round(ROWS / (ms / 1000))} | ${med(results[key], (r) => r.rssMb).toFixed(0)} |`);
  }
  const on = med(results.on, (r) => r.ms);
  const off = med(results.off, (r) => r.ms);
  const bare = med(results.bare, (r) => r.ms);
  const peak = Math.max(...results.on.map((r) => r.rssMb), ...results.off.map((r) => r.rssMb));
  console.log(`\ndetectors on/off throughput ratio: ${(off / on).toFixed(2)} (goal >= 0.5) ${off / on >= 0.5 ? 'MET' : 'NOT MET'}`);
  console.log(`hoopq (detectors on) vs DuckDB direct throughput ratio: ${(bare / on).toFixed(2)}`);
  console.log(`peak RSS of hoopq: ${peak.toFixed(0)} MB (goal < 200 MB) ${peak < 200 ? 'MET' : 'NOT MET'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
