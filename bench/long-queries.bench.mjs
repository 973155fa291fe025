// Issue 13 benchmark: long queries of one run against short ones of another, in a gateway.
// Baseline: the latency of another run's `SELECT 1` (POST /v1/query) and of GET /readyz on
// the idle gateway; then the same while LONG queries of one run hold on (each a cross join
// that runs until its 60 s timeout), measured in the same process, interleaved rounds.
// Goal: the loaded/idle ratio of SELECT 1's median stays small (before the engine-call gate
// and the sized pool, every short query waited for a long one: ~60 s, a ratio in the hundreds).
// BENCH_LONG (default 6) and BENCH_SAMPLES (default 15) change the counts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, percentile } from './bench-stats.mjs';
import { startGateway } from './gateway-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hoopq = join(root, 'bin', 'hoopq');
const LONG = Number(process.env.BENCH_LONG ?? 6);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 15);
const LONG_SQL = 'SELECT count(*) AS n FROM analytics.events a, analytics.events b, analytics.events c WHERE a.id + b.id + c.id < 0';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-bench-long-'));
let gateway;
try {
  const setup = spawnSync(process.execPath, [hoopq, 'quickstart', dir, '--no-tour'], { encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(setup.stderr);
  const config = join(dir, 'hoopq.yaml');
  const mint = (run) => spawnSync(process.execPath, [hoopq, 'token', 'mint', '--config', config, '--policy', 'analyst-agent', '--run', run, '--ttl', '1h'], { encoding: 'utf8' }).stdout.trim();
  const shortToken = mint('bench-short');

  let url;
  ({ gateway, url } = await startGateway(hoopq, config));
  const query = (token, sql) =>
    fetch(`${url}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql, justification: 'bench', format: 'json' }),
    }).then((r) => r.arrayBuffer());
  const time = async (fn) => {
    const t0 = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const measure = async () => {
    const select = [];
    const ready = [];
    for (let i = 0; i < SAMPLES; i++) {
      select.push(await time(() => query(shortToken, 'SELECT 1 AS one')));
      ready.push(await time(() => fetch(`${url}/readyz`).then((r) => r.arrayBuffer())));
    }
    return { select, ready };
  };
  const row = (name, m) =>
    `| ${name} | ${median(m.select).toFixed(0)} | ${percentile(m.select, 90).toFixed(0)} | ${median(m.ready).toFixed(0)} | ${percentile(m.ready, 90).toFixed(0)} |`;

  await measure(); // warm-up
  const rounds = [];
  for (let round = 1; round <= 2; round++) {
    const idle = await measure();
    const hog = mint(`bench-hog-${round}`);
    const longs = Array.from({ length: LONG }, () => query(hog, LONG_SQL).catch(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // they are all running
    const loaded = await measure();
    spawnSync(process.execPath, [hoopq, 'token', 'revoke', '--config', config, '--run', `bench-hog-${round}`]);
    await Promise.all(longs);
    rounds.push({ idle, loaded });
  }
  const all = (key) => ({ select: rounds.flatMap((r) => r[key].select), ready: rounds.flatMap((r) => r[key].ready) });
  const idle = all('idle');
  const loaded = all('loaded');
  console.log(`another run's SELECT 1 and /readyz, ${SAMPLES * rounds.length} samples each (ms)\n`);
  console.log('| gateway | SELECT 1 p50 | p90 | /readyz p50 | p90 |');
  console.log('|---|---|---|---|---|');
  console.log(row('idle (baseline)', idle));
  console.log(row(`${LONG} long queries of one run running`, loaded));
  console.log(`\nratio of SELECT 1 medians, loaded / idle: ${(median(loaded.select) / median(idle.select)).toFixed(2)}x`);
} finally {
  gateway?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
