// Issue 2 benchmark: `hoopq query` end to end (direct mode, trivial query, audit on) against a
// bare Node script that opens the same DuckDB file and runs the same query. Both are whole
// process runs (Node start-up included), interleaved, >= 10 runs each; ratio of medians.
// Goal: <= 1.5x.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { median, timeCommand } from './bench-stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hoopq = join(root, 'bin', 'hoopq');
const runs = Number(process.env.BENCH_RUNS ?? 15);
const dir = mkdtempSync(join(tmpdir(), 'hoopq-bench-'));
try {
  const setup = spawnSync(process.execPath, [hoopq, 'quickstart', dir, '--no-tour'], { encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(setup.stderr);
  const config = join(dir, 'hoopq.yaml');
  const token = spawnSync(process.execPath, [hoopq, 'token', 'mint', '--config', config, '--policy', 'analyst-agent', '--run', 'bench', '--ttl', '1h'], { encoding: 'utf8' }).stdout.trim();
  const sql = 'SELECT 1 AS one';
  const env = { ...process.env, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'benchmark', HOOPQ_CONFIG: config };
  const bare = [];
  const full = [];
  // warm the file cache once each
  timeCommand([process.execPath, join(root, 'bench', 'bare-duckdb-query.mjs'), join(dir, 'demo.duckdb'), sql], { cwd: root });
  timeCommand([process.execPath, hoopq, 'query', '--format', 'json', sql], { env });
  for (let i = 0; i < runs; i++) {
    bare.push(timeCommand([process.execPath, join(root, 'bench', 'bare-duckdb-query.mjs'), join(dir, 'demo.duckdb'), sql], { cwd: root }).ms);
    full.push(timeCommand([process.execPath, hoopq, 'query', '--format', 'json', sql], { env }).ms);
  }
  const ratio = median(full) / median(bare);
  console.log('| measurement | runs | median ms |');
  console.log('|---|---|---|');
  console.log(`| bare Node + DuckDB (baseline) | ${runs} | ${median(bare).toFixed(1)} |`);
  console.log(`| hoopq query (token, analysis, policy, audit fsync) | ${runs} | ${median(full).toFixed(1)} |`);
  console.log(`\nratio of medians: ${ratio.toFixed(2)}x (goal <= 1.5x) ${ratio <= 1.5 ? 'MET' : 'NOT MET'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
