// Issue 7 benchmark: the gateway against the same pipeline in process.
//  1. overhead for a trivial query: latency p50/p99 of POST /v1/query (HTTP, keep-alive,
//     frames) vs runQuery called directly in a loop, sequential;
//  2. throughput with 16 concurrent clients vs 16 concurrent runQuery calls in one process.
// Every query is audited (intent + outcome, fsync'd) in both. Goal: gateway throughput >= 80%.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, percentile, timeEach } from './bench-stats.mjs';
import { gatewayQuery, startGateway, stopGateway } from './gateway-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hoopq = join(root, 'bin', 'hoopq');
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
const N = Number(process.env.BENCH_QUERIES ?? 300);
const CLIENTS = 16;
const PER_CLIENT = Number(process.env.BENCH_PER_CLIENT ?? 25);
const SQL = 'SELECT 1 AS one';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-bench-gw-'));
let gateway;
let url;
try {
  const setup = spawnSync(process.execPath, [hoopq, 'quickstart', dir, '--no-tour'], { encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(setup.stderr);
  // no per-run budget, no justification: thousands of queries under one token
  writeFileSync(join(dir, 'policies', 'bench.yaml'), 'name: bench\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nrequire_justification: false\n');
  const config = join(dir, 'hoopq.yaml');
  const token = spawnSync(process.execPath, [hoopq, 'token', 'mint', '--config', config, '--policy', 'bench', '--run', 'bench-gw', '--ttl', '1h'], { encoding: 'utf8' }).stdout.trim();

  // in process: the same composition root the gateway uses
  const { loadConfig } = await import(dist('config/load-config.js'));
  const { createLocalParts } = await import(dist('pipeline/local-parts.js'));
  const { runQuery } = await import(dist('pipeline/run-query.js'));
  const local = createLocalParts(loadConfig(config));
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
  const inProcess = () => runQuery(local.parts, { sql: SQL, token, justification: null, format: 'json', out: sink(), notice: () => {} });

  // the gateway, in its own process
  ({ gateway, url } = await startGateway(hoopq, config));
  const client = gatewayQuery(url, token, SQL, CLIENTS);
  const viaGateway = client.query;

  const throughput = async (fn) => {
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < PER_CLIENT; i++) await fn();
    }));
    return (CLIENTS * PER_CLIENT) / (Number(process.hrtime.bigint() - t0) / 1e9);
  };

  // warm both (file cache, JIT, DuckDB)
  await timeEach(inProcess, 20);
  await timeEach(viaGateway, 20);
  // latency, interleaved in blocks so drift hits both alike
  const lat = { local: [], gw: [] };
  for (let b = 0; b < 5; b++) {
    lat.local.push(...(await timeEach(inProcess, N / 5)));
    lat.gw.push(...(await timeEach(viaGateway, N / 5)));
  }
  const tp = { local: [], gw: [] };
  for (let r = 0; r < 4; r++) {
    // alternate which goes first: the log grows and the machine's load drifts
    if (r % 2 === 0) {
      tp.local.push(await throughput(inProcess));
      tp.gw.push(await throughput(viaGateway));
    } else {
      tp.gw.push(await throughput(viaGateway));
      tp.local.push(await throughput(inProcess));
    }
  }
  const best = (xs) => median(xs);
  const f = (x) => x.toFixed(1);
  console.log(`| measurement (trivial query "${SQL}", audited) | p50 ms | p99 ms |`);
  console.log('|---|---|---|');
  console.log(`| runQuery in process, sequential (${N}) | ${f(percentile(lat.local, 50))} | ${f(percentile(lat.local, 99))} |`);
  console.log(`| POST /v1/query via the gateway, sequential (${N}) | ${f(percentile(lat.gw, 50))} | ${f(percentile(lat.gw, 99))} |`);
  console.log(`| gateway overhead | ${f(percentile(lat.gw, 50) - percentile(lat.local, 50))} | ${f(percentile(lat.gw, 99) - percentile(lat.local, 99))} |`);
  console.log('');
  console.log(`| throughput, ${CLIENTS} concurrent clients x ${PER_CLIENT} queries (median of 4 rounds) | queries/s |`);
  console.log('|---|---|');
  console.log(`| in process | ${f(best(tp.local))} |`);
  console.log(`| via the gateway | ${f(best(tp.gw))} |`);
  const ratio = best(tp.gw) / best(tp.local);
  console.log(`\ngateway / in-process throughput: ${(ratio * 100).toFixed(0)}% (goal >= 80%) ${ratio >= 0.8 ? 'MET' : 'NOT MET'}`);
  client.close();
  await local.close();
} finally {
  await stopGateway(gateway);
  rmSync(dir, { recursive: true, force: true });
}
