// Issue 15 benchmark: a warm gateway and a warm `hoopq mcp` against ungoverned baselines,
// all measured in this one run on this machine.
//  - governed: `SELECT 1 AS one` under a token, analysed, policy-checked, both audit records
//    (intent before execution, outcome after) fsync'd — via POST /v1/query (keep-alive) and
//    via `hoopq mcp` over stdio (the MCP SDK's client);
//  - ungoverned: the same query on a warm in-process DuckDB connection, and through a minimal
//    MCP server over stdio (bench/ungoverned-mcp-server.mjs: SDK + a warm DuckDB connection);
//  - throughput: 16 concurrent clients against the gateway, and against 16 warm in-process
//    DuckDB connections.
// Measurements interleave in blocks so that drift in the machine's load hits all alike; the
// load average is printed with every result (the machine is shared).
// Goals (issue 15): p50 <= 5 ms via HTTP and via MCP; MCP <= 10x the ungoverned MCP server;
// >= 300 queries/s with 16 clients.
// BENCH_PROFILE=DIR: also write CPU profiles of the gateway and `hoopq mcp` (node --cpu-prof).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { DuckDBInstance } from '@duckdb/node-api';
import { median, percentile, timeEach } from './bench-stats.mjs';
import { gatewayQuery, startGateway, stopGateway } from './gateway-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hoopq = join(root, 'bin', 'hoopq');
const N = Number(process.env.BENCH_QUERIES ?? 400);
const CLIENTS = 16;
const PER_CLIENT = Number(process.env.BENCH_PER_CLIENT ?? 40);
const SQL = 'SELECT 1 AS one';
const profileDir = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : undefined;
const nodeArgs = (name) => (profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`] : []);

const dir = mkdtempSync(join(tmpdir(), 'hoopq-bench-warm-'));
const cleanups = [];
try {
  const setup = spawnSync(process.execPath, [hoopq, 'quickstart', dir, '--no-tour'], { encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(setup.stderr);
  // no per-run budget, no justification, no masks: thousands of queries under one token
  writeFileSync(join(dir, 'policies', 'bench.yaml'), 'name: bench\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nrequire_justification: false\n');
  const config = join(dir, 'hoopq.yaml');
  const database = join(dir, 'demo.duckdb');
  const audit = join(dir, 'audit.jsonl');
  const token = spawnSync(process.execPath, [hoopq, 'token', 'mint', '--config', config, '--policy', 'bench', '--run', 'bench-warm', '--ttl', '1h'], { encoding: 'utf8' }).stdout.trim();
  if (!token) throw new Error('could not mint a token');
  // the throughput clients are 16 agents, each with its run: one run runs at most 2 queries at
  // once in a gateway (fair share), so 16 clients of one run measure that cap, not the gateway
  const clientTokens = Array.from({ length: CLIENTS }, (_, c) => spawnSync(process.execPath, [hoopq, 'token', 'mint', '--config', config, '--policy', 'bench', '--run', `bench-warm-${c}`, '--ttl', '1h'], { encoding: 'utf8' }).stdout.trim());
  if (clientTokens.some((t) => !t)) throw new Error('could not mint the clients\' tokens');

  // ungoverned, in process: one warm read-only connection (and one per client for throughput)
  const instance = await DuckDBInstance.create(database, { access_mode: 'READ_ONLY' });
  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => instance.connect()));
  cleanups.push(() => {
    for (const c of connections) c.closeSync();
    instance.closeSync();
  });
  const duckdbOn = (c) => async () => JSON.stringify((await c.runAndReadAll(SQL)).getRowObjectsJson());
  const bareDuckDb = duckdbOn(connections[0]);

  // the gateway, in its own process
  const { gateway, url } = await startGateway(hoopq, config, nodeArgs('gateway'));
  cleanups.push(() => stopGateway(gateway));
  const http = gatewayQuery(url, token, SQL, CLIENTS);
  cleanups.push(() => http.close());
  const viaHttp = http.query;
  const httpClients = clientTokens.map((t) => gatewayQuery(url, t, SQL, 1));
  for (const c of httpClients) cleanups.push(() => c.close());

  // MCP over stdio: hoopq mcp (direct mode: the process holds its own warm parts) and the baseline
  const mcpClient = async (name, command, args, env) => {
    const transport = new StdioClientTransport({ command, args, env: { ...getDefaultEnvironment(), ...env }, cwd: dir, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d) => (stderr += d));
    const client = new Client({ name: `bench-${name}`, version: '1.0.0' });
    try {
      await client.connect(transport);
    } catch (err) {
      throw new Error(`${name}: ${err.message}\n${stderr}`);
    }
    cleanups.push(() => client.close());
    if (name === 'hoopq-mcp') mcpPid = transport.pid;
    return async () => {
      const r = await client.callTool({ name: 'query', arguments: { sql: SQL } });
      if (r.isError || !String(r.content?.[0]?.text).includes('"one"')) throw new Error(`${name}: ${JSON.stringify(r).slice(0, 300)}`);
    };
  };
  let mcpPid;
  const viaMcp = await mcpClient('hoopq-mcp', process.execPath, [...nodeArgs('hoopq-mcp'), hoopq, 'mcp'], { HOOPQ_TOKEN: token, HOOPQ_CONFIG: config });
  const viaBareMcp = await mcpClient('ungoverned-mcp', process.execPath, [join(root, 'bench', 'ungoverned-mcp-server.mjs'), database], {});

  const throughput = async (fnFor) => {
    const t0 = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const fn = fnFor(c);
        for (let i = 0; i < PER_CLIENT; i++) await fn();
      }),
    );
    return (CLIENTS * PER_CLIENT) / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  // CPU time (user + system, all threads) a process has used, from /proc: where a query's time goes
  const clockTicks = 100;
  const cpuMs = (pid) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
    } catch {
      return NaN;
    }
  };
  const auditLines = () => readFileSync(audit, 'utf8').split('\n').filter(Boolean).length;
  const load = { samples: [] };
  const sampleLoad = () => load.samples.push(loadavg()[0]);

  // warm-up: JIT, file cache, the warm instances
  for (const fn of [bareDuckDb, viaHttp, viaMcp, viaBareMcp]) await timeEach(fn, 30);

  const lines0 = auditLines();
  const cpu0 = { gateway: cpuMs(gateway.pid), mcp: cpuMs(mcpPid) };
  const lat = { duckdb: [], http: [], mcp: [], bareMcp: [] };
  const loads = { latency: [], throughput: [] };
  const BLOCKS = 5;
  for (let b = 0; b < BLOCKS; b++) {
    loads.latency.push(loadavg()[0]);
    lat.duckdb.push(...(await timeEach(bareDuckDb, N / BLOCKS)));
    lat.http.push(...(await timeEach(viaHttp, N / BLOCKS)));
    lat.mcp.push(...(await timeEach(viaMcp, N / BLOCKS)));
    lat.bareMcp.push(...(await timeEach(viaBareMcp, N / BLOCKS)));
  }
  const governedLatencyQueries = 2 * N;
  const cpu1 = { gateway: cpuMs(gateway.pid), mcp: cpuMs(mcpPid) };
  const tp = { duckdb: [], http: [] };
  for (let r = 0; r < 4; r++) {
    loads.throughput.push(loadavg()[0]);
    // alternate which goes first: the log grows and the machine's load drifts
    if (r % 2 === 0) {
      tp.duckdb.push(await throughput((c) => duckdbOn(connections[c])));
      tp.http.push(await throughput((c) => httpClients[c].query));
    } else {
      tp.http.push(await throughput((c) => httpClients[c].query));
      tp.duckdb.push(await throughput((c) => duckdbOn(connections[c])));
    }
  }
  const recorded = auditLines() - lines0;
  const cpu2 = { gateway: cpuMs(gateway.pid) };
  const governedQueries = governedLatencyQueries + 4 * CLIENTS * PER_CLIENT;
  sampleLoad();

  const f = (x, d = 2) => x.toFixed(d);
  const p50 = (xs) => percentile(xs, 50);
  const p99 = (xs) => percentile(xs, 99);
  const range = (xs) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
  console.log(`load average (1 min) during the latency blocks: ${range(loads.latency)}; during the throughput rounds: ${range(loads.throughput)}; 2 cores\n`);
  console.log(`| "${SQL}", sequential, ${N} each, interleaved | p50 ms | p99 ms | p50 / warm DuckDB |`);
  console.log('|---|---|---|---|');
  const row = (label, xs) => console.log(`| ${label} | ${f(p50(xs))} | ${f(p99(xs))} | ${f(p50(xs) / p50(lat.duckdb), 1)}x |`);
  row('ungoverned: warm in-process DuckDB connection', lat.duckdb);
  row('ungoverned: minimal MCP server over stdio (SDK + warm DuckDB)', lat.bareMcp);
  row('governed: POST /v1/query via the gateway (both audit records fsync\'d)', lat.http);
  row('governed: `hoopq mcp` over stdio (both audit records fsync\'d)', lat.mcp);
  console.log(`\ngoverned overhead over a warm DuckDB connection (p50): HTTP ${f(p50(lat.http) - p50(lat.duckdb))} ms, MCP ${f(p50(lat.mcp) - p50(lat.duckdb))} ms`);
  console.log(`CPU per governed query (all threads, from /proc): gateway ${f((cpu1.gateway - cpu0.gateway) / N)} ms sequential, ${f((cpu2.gateway - cpu1.gateway) / (4 * CLIENTS * PER_CLIENT))} ms at ${CLIENTS} clients; hoopq mcp ${f((cpu1.mcp - cpu0.mcp) / N)} ms`);
  console.log(`audit: ${recorded} records for ${governedQueries} governed queries (2 each expected)${recorded === 2 * governedQueries ? '' : ' MISMATCH'}`);
  console.log('');
  console.log(`| throughput, ${CLIENTS} concurrent clients x ${PER_CLIENT} queries (median of 4 rounds) | queries/s |`);
  console.log('|---|---|');
  console.log(`| ungoverned: ${CLIENTS} warm in-process DuckDB connections | ${f(median(tp.duckdb), 0)} |`);
  console.log(`| governed: the gateway over HTTP (one run per client) | ${f(median(tp.http), 0)} |`);
  console.log(`\ngateway throughput / in-process DuckDB throughput: ${f((100 * median(tp.http)) / median(tp.duckdb), 1)}%`);
  const goals = [
    ['HTTP p50 <= 5 ms', p50(lat.http) <= 5],
    ['MCP p50 <= 5 ms', p50(lat.mcp) <= 5],
    ['MCP p50 <= 10x the ungoverned MCP server', p50(lat.mcp) <= 10 * p50(lat.bareMcp)],
    // the issue states the 5 ms goals also as this ratio, which a slower moment of the machine does not move
    ['HTTP p50 <= 10x the ungoverned MCP server', p50(lat.http) <= 10 * p50(lat.bareMcp)],
    [`>= 300 queries/s with ${CLIENTS} clients`, median(tp.http) >= 300],
  ];
  console.log('');
  for (const [goal, met] of goals) console.log(`goal ${goal}: ${met ? 'MET' : 'NOT MET'}`);
  if (recorded !== 2 * governedQueries) process.exitCode = 1;
} finally {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
}
