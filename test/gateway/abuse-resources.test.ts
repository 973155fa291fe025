/**
 * Abuse suite, resources: one hostile run token against a running `hoopq gateway` (loopback
 * only). Rows of megabytes, dozens of connections that never read, a pile of MCP sessions,
 * and a flood of unauthenticated megabyte bodies — while another run keeps working. Asserts,
 * measured from the gateway process itself: its RSS stays under a bound; `/healthz` and the
 * other run's `SELECT 1` answer within a second of their usual time; every refusal has its
 * audit record; the unauthenticated flood leaves compact, rate-limited records.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, hoopqAsync, type Demo } from '../cli/cli-harness.js';

/** Far above what the bounds allow (measured: about 600 MB under four hostile queries), far below the 2.3–5.3 GB reached without them. */
const RSS_BOUND_MB = 1024;

let demo: Demo;
let url: string;
let port: number;
let operatorKey: string;
let hostile: { token: string; token_id: string };
let other: { token: string };

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  port = Number(new URL(url).port);
  operatorKey = readFileSync(join(demo.dir, '.hoopq', 'keys', 'operator.key'), 'utf8').trim();
  // no row limit, so a result that is never read keeps its query running
  writeFileSync(join(demo.dir, 'policies', 'bulk-reader.yaml'), 'name: bulk-reader\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nrequire_justification: false\n');
  hostile = await mint('hostile-run', 'bulk-reader');
  other = await mint('innocent-run');
}, 60_000);

afterAll(async () => {
  await demo.close();
  rmSync(demo.dir, { recursive: true, force: true });
});

async function mint(run: string, policy = 'analyst-agent'): Promise<{ token: string; token_id: string }> {
  const res = await fetch(url + '/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorKey}` }, body: JSON.stringify({ policy, run, ttl: '30m' }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; token_id: string };
}

/** The gateway's resident memory, from the kernel's view of its process. */
function gatewayRssMb(): number {
  const status = readFileSync(`/proc/${demo.gateway!.process.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Samples RSS every 50 ms until stopped; resolves with the peak. */
function watchRss(): { stop(): Promise<number> } {
  let peak = gatewayRssMb();
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, gatewayRssMb());
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

function query(token: string, sql: string, signal?: AbortSignal) {
  return fetch(url + '/v1/query', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ sql, justification: 'abuse suite', format: 'json' }),
    signal,
  });
}

/** Milliseconds for `GET /healthz` and for the innocent run's `SELECT 1`, each from its own request. */
async function responsivenessOnce(): Promise<{ health: number; select: number }> {
  const t0 = performance.now();
  const health = await fetch(url + '/healthz');
  expect(health.status).toBe(200);
  const health_ms = performance.now() - t0;
  const t1 = performance.now();
  const res = await query(other.token, 'SELECT 1 AS one');
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(text).toContain('{"one":1}'); // in a data frame; the end frame says it succeeded
  expect(text).toContain('"ok":true');
  return { health: health_ms, select: performance.now() - t1 };
}

/** The median of three, so one scheduling hiccup of a loaded machine does not decide. */
async function responsiveness(): Promise<{ health: number; select: number }> {
  const samples = [await responsivenessOnce(), await responsivenessOnce(), await responsivenessOnce()];
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
  return { health: median(samples.map((x) => x.health)), select: median(samples.map((x) => x.select)) };
}

describe('one run cannot take the gateway\'s memory, or delay another run', () => {
  it('rows of megabytes: bounded memory, an exit-7 refusal each, recorded; the other run unaffected', async () => {
    const usual = await responsiveness();
    const watch = watchRss();
    const wide = 'SELECT repeat(CAST(range AS VARCHAR), 250000) AS x FROM range(1000)';
    const hostileQueries = Array.from({ length: 4 }, () => query(hostile.token, wide).then(async (r) => ({ status: r.status, text: await r.text() })));
    await sleep(300);
    const during = await responsiveness();
    const results = await Promise.all(hostileQueries);
    const peak = await watch.stop();
    console.log(`gateway RSS peak ${peak.toFixed(0)} MB under 4 hostile queries; healthz ${during.health.toFixed(0)} ms, SELECT 1 ${during.select.toFixed(0)} ms (usual ${usual.select.toFixed(0)} ms)`);
    expect(peak).toBeLessThan(RSS_BOUND_MB);
    expect(during.health).toBeLessThan(1000);
    expect(during.select - usual.select).toBeLessThan(1000);
    for (const r of results) {
      expect(r.status).toBe(502);
      expect(JSON.parse(r.text).error).toMatchObject({ code: 'warehouse.memory_exceeded', exit: 7 });
    }
    const recorded = demo.auditRecords().filter((r) => r.event === 'query' && r.run === 'hostile-run' && r.code === 'warehouse.memory_exceeded');
    expect(recorded).toHaveLength(4);
  }, 120_000);

  it('32 connections that never read their results: the other run still answers within a second; the waiting ones are recorded', async () => {
    const usual = await responsiveness();
    const sockets: Socket[] = [];
    const body = JSON.stringify({ sql: 'SELECT range, repeat(\'x\', 200) AS pad FROM range(100000000)', justification: 'never read', format: 'ndjson' });
    for (let i = 0; i < 32; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.write(`POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nauthorization: Bearer ${hostile.token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      s.pause(); // never read a byte of the answer
      sockets.push(s);
    }
    await sleep(1500);
    const watch = watchRss();
    const during = await responsiveness();
    const peak = await watch.stop();
    console.log(`32 non-reading connections: healthz ${during.health.toFixed(0)} ms, other run's SELECT 1 ${during.select.toFixed(0)} ms (usual ${usual.select.toFixed(0)} ms), RSS ${peak.toFixed(0)} MB`);
    expect(during.health).toBeLessThan(1000);
    expect(during.select - usual.select).toBeLessThan(1000);
    expect(peak).toBeLessThan(RSS_BOUND_MB);
    // only two of the hostile run's queries ever ran; the rest waited their turn
    const metrics = await (await fetch(url + '/metrics')).text();
    expect(Number(/hoopq_gateway_queries_in_flight (\d+)/.exec(metrics)![1])).toBeLessThanOrEqual(2);
    const before = demo.auditRecords().length;
    for (const s of sockets) s.destroy();
    // every one of the 32 ends recorded: those that ran as cancelled (their client went away),
    // those still waiting for a slot as refused (gateway.busy) — none as a bug
    const ended = () => demo.auditRecords().slice(before).filter((r) => r.run === 'hostile-run' && r.event === 'query');
    for (let i = 0; i < 100 && ended().length < 32; i++) await sleep(100);
    const records = ended();
    expect(records).toHaveLength(32);
    expect(records.filter((r) => r.code === 'gateway.busy').length).toBeGreaterThanOrEqual(20);
    expect(records.every((r) => ['gateway.busy', 'output.closed', 'warehouse.cancelled'].includes(r.code)), JSON.stringify(records.map((r) => r.code))).toBe(true);
  }, 120_000);
});

describe('MCP tool calls take their run\'s turn with its HTTP queries', () => {
  it('four sessions of one run calling slow queries: two run, the rest wait; the other run is not delayed', async () => {
    const mcpRun = await mint('mcp-hostile', 'bulk-reader');
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${mcpRun.token}` };
    const slow = 'SELECT count(*) FROM range(300000) a, range(300000) b WHERE a.range + b.range = -1';
    const usual = await responsiveness();
    const calls: Array<Promise<number>> = [];
    for (let i = 0; i < 4; i++) {
      const init = await fetch(url + '/v1/mcp', {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'abuse', version: '1' } } }),
      });
      const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
      calls.push(fetch(url + '/v1/mcp', { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'query', arguments: { sql: slow } } }) }).then((r) => r.status));
    }
    await sleep(2_000);
    const metrics = await (await fetch(url + '/metrics')).text();
    const running = Number(/hoopq_gateway_queries_in_flight (\d+)/.exec(metrics)![1]);
    const waiting = Number(/hoopq_gateway_queries_waiting (\d+)/.exec(metrics)![1]);
    expect(running).toBeLessThanOrEqual(2);
    expect(running + waiting).toBeGreaterThanOrEqual(3);
    const during = await responsiveness();
    console.log(`4 MCP sessions of one run: ${running} running, ${waiting} waiting; other run's SELECT 1 ${during.select.toFixed(0)} ms (usual ${usual.select.toFixed(0)} ms)`);
    expect(during.select - usual.select).toBeLessThan(1000);
    // revoking the run ends it all at once: sessions closed, calls cancelled and recorded
    await fetch(url + '/v1/revoke', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorKey}` }, body: JSON.stringify({ run: 'mcp-hostile' }) });
    await Promise.all(calls);
    for (let i = 0; i < 50 && demo.auditRecords().filter((r) => r.event === 'query' && r.run === 'mcp-hostile').length < 4; i++) await sleep(100);
    expect(demo.auditRecords().filter((r) => r.event === 'query' && r.run === 'mcp-hostile')).toHaveLength(4);
  }, 60_000);
});

describe('MCP sessions: a quota per run; the operator sees and closes them', () => {
  const initialize = (token: string) =>
    fetch(url + '/v1/mcp', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'abuse', version: '1' } } }),
    });

  it('one run holds at most 8; another run still gets one; hoopq sessions list/close', async () => {
    const opened: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await initialize(hostile.token);
      expect(r.status).toBe(200);
      opened.push(r.headers.get('mcp-session-id')!);
    }
    const ninth = await initialize(hostile.token);
    expect(ninth.status).toBe(503);
    expect(((await ninth.json()) as any).error).toMatchObject({ code: 'gateway.mcp_sessions_full', rule: 'gateway.mcp_sessions_per_run' });
    expect((await initialize(other.token)).status).toBe(200);
    expect(demo.auditRecords().find((r) => r.event === 'mcp.request' && r.code === 'gateway.mcp_sessions_full')).toMatchObject({ run: 'hostile-run', token_id: hostile.token_id });

    const env = { HOOPQ_GATEWAY: url };
    const list = await hoopqAsync(['sessions', 'list', '--format', 'json', '--run', 'hostile-run'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, ...env } });
    expect(list.code).toBe(0);
    const sessions = JSON.parse(list.stdout) as Array<{ id: string; run: string; token_id: string; policy: string }>;
    expect(sessions.map((s) => s.id).sort()).toEqual([...opened].sort());
    expect(sessions[0]).toMatchObject({ run: 'hostile-run', token_id: hostile.token_id, policy: 'bulk-reader' });
    expect(list.stdout).not.toContain(hostile.token);
    const one = await hoopqAsync(['sessions', 'close', opened[0]!], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, ...env } });
    expect(one.code).toBe(0);
    const rest = await hoopqAsync(['sessions', 'close', '--run', 'hostile-run'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, ...env } });
    expect(rest.stderr).toMatch(/closed 7 MCP session/);
    const after = JSON.parse((await hoopqAsync(['sessions', 'list', '--format', 'json'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, ...env } })).stdout) as Array<{ run: string }>;
    expect(after.filter((s) => s.run === 'hostile-run')).toEqual([]);
    expect(after.filter((s) => s.run === 'innocent-run')).toHaveLength(1);
    expect(demo.auditRecords().filter((r) => r.event === 'mcp.session_close')).toHaveLength(2);
    // the operator API needs the operator key
    const anon = await fetch(url + '/v1/mcp/sessions', { headers: { authorization: `Bearer ${hostile.token}` } });
    expect(anon.status).toBe(401);
  });
});

describe('unauthenticated callers cannot fill the audit log', () => {
  it('a hundred 1 MiB bodies without a token: compact records, rate-limited per address, the rest counted', async () => {
    const log = join(demo.dir, 'audit.jsonl');
    const before = statSync(log).size;
    const sql = `SELECT '${'x'.repeat(1024 * 1024 - 20)}'`;
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(url + '/v1/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql, justification: 'flood' }) }).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      statuses.push(...answers);
    }
    expect(new Set(statuses)).toEqual(new Set([401]));
    const grown = statSync(log).size - before;
    console.log(`100 unauthenticated 1 MiB bodies grew the audit log by ${grown} bytes`);
    expect(grown).toBeLessThan(100 * 2048); // never the body: ~1 KB a record at most, and fewer records than requests
    const flood = demo.auditRecords().filter((r) => r.event === 'query' && r.code === 'token.missing');
    expect(flood.length).toBeGreaterThan(0);
    expect(flood.length).toBeLessThan(100);
    for (const r of flood) {
      expect(r.sql).toMatch(/^\[not recorded: /); // never the body
      expect(r.request).toMatchObject({ status: 401 });
      expect(r.request.bytes).toBeGreaterThan(1024 * 1024 - 100);
    }
  }, 120_000);
});

describe('after it all', () => {
  it('the suppressed refusals are counted in one record at shutdown, and the log verifies', async () => {
    const flood = demo.auditRecords().filter((r) => r.event === 'query' && r.code === 'token.missing').length;
    await demo.close();
    const summary = demo.auditRecords().filter((r) => r.event === 'gateway.refusals_suppressed');
    const counted = summary.reduce((n, r) => n + r.suppressed.count, 0);
    expect(flood + counted).toBeGreaterThanOrEqual(100); // every refusal: a record of its own, or counted
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
  }, 60_000);
});
