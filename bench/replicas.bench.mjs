// Issue 15 item 5 benchmark: what sharing the state and the audit log in PostgreSQL costs a
// gateway, and what a second replica gives back, all measured in this one run:
//  - baseline: one gateway on the embedded default (SQLite state store, JSONL audit log);
//  - one gateway with `state:` and `audit:` on PostgreSQL (a local server started here from
//    Debian's binaries, as the tests do: test/fakes/postgres-server.mjs);
//  - two gateway replicas sharing that database, the clients split between them.
// Each query is `SELECT 1 AS one` under a token, analysed, policy-checked, budget counted,
// both audit records durable before the answer. Latency: sequential p50, blocks interleaved
// so drift in the machine's load hits all alike. Throughput: 16 concurrent clients, one run
// each (a run runs at most 2 queries at once per replica), median of 3 rounds.
// Needs PostgreSQL's server binaries (apt-get install postgresql); says so and stops if absent.
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, percentile, timeEach } from './bench-stats.mjs';
import { gatewayQuery, startGateway, stopGateway } from './gateway-process.mjs';
import { HAS_POSTGRES, startPostgres } from '../test/fakes/postgres-server.mjs';

if (!HAS_POSTGRES) {
  console.log('replicas bench: no PostgreSQL server binaries (apt-get install postgresql); not measured');
  process.exit(0);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hoopq = join(root, 'bin', 'hoopq');
const N = Number(process.env.BENCH_QUERIES ?? 300);
const CLIENTS = 16;
const PER_CLIENT = Number(process.env.BENCH_PER_CLIENT ?? 30);
const BLOCKS = 5;
const SQL = 'SELECT 1 AS one';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-bench-replicas-'));
const server = await startPostgres();
const gateways = [];
try {
  const setup = spawnSync(process.execPath, [hoopq, 'quickstart', dir, '--no-tour'], { encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(setup.stderr);
  writeFileSync(join(dir, 'policies', 'bench.yaml'), 'name: bench\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nrequire_justification: false\n');
  const local = join(dir, 'hoopq.yaml');
  const shared = join(dir, 'hoopq-postgres.yaml');
  const url = await server.createDatabase('hoopq_bench');
  copyFileSync(local, shared);
  writeFileSync(shared, readFileSync(shared, 'utf8').replace(/^audit: .*$/m, `audit: ${url}`));
  appendFileSync(shared, `state: ${url}\n`);
  const mint = (config, run) => {
    const r = spawnSync(process.execPath, [hoopq, 'token', 'mint', '--config', config, '--policy', 'bench', '--run', run, '--ttl', '1h'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };
  const start = async (config) => {
    const g = await startGateway(hoopq, config);
    gateways.push(g.gateway);
    return g.url;
  };
  const setups = {
    sqlite: { urls: [await start(local)], config: local },
    postgres: { urls: [await start(shared)], config: shared },
    replicas: { urls: [await start(shared), await start(shared)], config: shared },
  };
  const clientsOf = (name, s) => {
    const one = gatewayQuery(s.urls[0], mint(s.config, `bench-${name}-seq`), SQL, 1);
    const many = Array.from({ length: CLIENTS }, (_, c) => gatewayQuery(s.urls[c % s.urls.length], mint(s.config, `bench-${name}-${c}`), SQL, 1));
    return { one, many };
  };
  const clients = Object.fromEntries(Object.entries(setups).map(([name, s]) => [name, clientsOf(name, s)]));
  const throughput = async (many) => {
    const t0 = process.hrtime.bigint();
    await Promise.all(many.map(async (c) => {
      for (let i = 0; i < PER_CLIENT; i++) await c.query();
    }));
    return (CLIENTS * PER_CLIENT) / (Number(process.hrtime.bigint() - t0) / 1e9);
  };

  for (const c of Object.values(clients)) await timeEach(c.one.query, 30); // warm-up
  const lat = { sqlite: [], postgres: [], replicas: [] };
  const tp = { sqlite: [], postgres: [], replicas: [] };
  const loads = [];
  for (let b = 0; b < BLOCKS; b++) {
    loads.push(loadavg()[0]);
    for (const name of ['sqlite', 'postgres']) lat[name].push(...(await timeEach(clients[name].one.query, N / BLOCKS)));
  }
  for (let round = 0; round < 3; round++) {
    loads.push(loadavg()[0]);
    for (const name of round % 2 ? ['replicas', 'postgres', 'sqlite'] : ['sqlite', 'postgres', 'replicas']) tp[name].push(await throughput(clients[name].many));
  }
  for (const c of Object.values(clients)) {
    c.one.close();
    for (const m of c.many) m.close();
  }

  const f = (x, d = 2) => x.toFixed(d);
  const base = median(lat.sqlite);
  console.log(`load average (1 min) during the runs: ${f(Math.min(...loads))}–${f(Math.max(...loads))}; 2 cores\n`);
  console.log(`| "${SQL}", sequential, ${N} each, interleaved | p50 ms | p99 ms | p50 / SQLite+JSONL |`);
  console.log('|---|---|---|---|');
  console.log(`| one gateway, SQLite state + JSONL audit log (embedded default) | ${f(base)} | ${f(percentile(lat.sqlite, 99))} | 1.00x |`);
  console.log(`| one gateway, state and audit log on PostgreSQL | ${f(median(lat.postgres))} | ${f(percentile(lat.postgres, 99))} | ${f(median(lat.postgres) / base)}x |`);
  console.log('');
  const tbase = median(tp.sqlite);
  console.log(`| throughput, ${CLIENTS} clients x ${PER_CLIENT} queries (median of 3 rounds) | queries/s | / SQLite+JSONL |`);
  console.log('|---|---|---|');
  console.log(`| one gateway, SQLite + JSONL | ${f(tbase, 0)} | 1.00x |`);
  console.log(`| one gateway, PostgreSQL | ${f(median(tp.postgres), 0)} | ${f(median(tp.postgres) / tbase)}x |`);
  console.log(`| two replicas sharing PostgreSQL | ${f(median(tp.replicas), 0)} | ${f(median(tp.replicas) / tbase)}x |`);
  const verify = spawnSync(process.execPath, [hoopq, 'audit', 'verify', '--config', shared], { encoding: 'utf8' });
  console.log(`\nshared audit log after the run: hoopq audit verify exit ${verify.status}`);
  if (verify.status !== 0) {
    console.error(verify.stderr);
    process.exitCode = 1;
  }
} finally {
  for (const g of gateways) await stopGateway(g);
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
