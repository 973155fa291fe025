/**
 * Abuse suite, protocol side: what a hostile or broken client does to the HTTP and MCP
 * surfaces of a running `hoopq gateway` (loopback only), each bounded in time. Headers past
 * the limit, bodies that are not UTF-8, headers and bodies that never finish, an MCP session
 * fed random JSON-RPC, a shutdown with an MCP call in flight, escape sequences aimed at the
 * operator's terminal, and a parameterised query replayed. Each case asserts the documented
 * limit (with slack for a loaded machine), that `/healthz` still answers within a second, and
 * that the refusal is in the audit log.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOPQ, createDemoInMode, hoopqAsync, startGatewayProcess, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let url: string;
let port: number;
let token: string;
const J = 'abuse: protocol';

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  port = Number(new URL(url).port);
  token = demo.mint('analyst-agent', 'protocol-run');
}, 60_000);

afterAll(async () => {
  await demo.close();
  rmSync(demo.dir, { recursive: true, force: true });
});

/** Writes `bytes` on a connection of its own; resolves with what came back and when (ms from connect) the server answered or hung up. */
function raw(bytes: Buffer | string, options: { keepOpenMs?: number } = {}): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let text = '';
    let answeredAt: number | undefined;
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, ms: answeredAt ?? performance.now() - t0 });
    };
    const timer = setTimeout(done, options.keepOpenMs ?? 5_000);
    socket.on('data', (d) => {
      answeredAt ??= performance.now() - t0;
      text += d;
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes);
  });
}

async function healthzMs(): Promise<number> {
  const t0 = performance.now();
  expect((await fetch(url + '/healthz')).status).toBe(200);
  return performance.now() - t0;
}

describe('HTTP limits hold as documented', () => {
  it('100 headers pass; the 101st is refused (431), not silently dropped, and recorded', async () => {
    const headers = (n: number) => Array.from({ length: n - 1 }, (_, i) => `x-h${i}: ${i}`).concat('host: x').join('\r\n');
    const ok = await raw(`GET /healthz HTTP/1.1\r\n${headers(100)}\r\nconnection: close\r\n\r\n`.replace('connection: close\r\n', ''));
    expect(ok.text).toMatch(/^HTTP\/1\.1 200 /);
    const tooMany = await raw(`GET /healthz HTTP/1.1\r\n${headers(101)}\r\n\r\n`);
    expect(tooMany.text).toMatch(/^HTTP\/1\.1 431 /);
    expect(tooMany.text).toContain('gateway.headers_too_many');
    expect(demo.auditRecords().some((r) => r.code === 'gateway.headers_too_many' && r.request?.status === 431)).toBe(true);
  });

  it('a body that is not UTF-8 is refused (400), not silently repaired, and recorded with the run', async () => {
    const body = Buffer.concat([Buffer.from('{"sql":"SELECT \''), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('\'","justification":"x"}')]);
    const res = await fetch(url + '/v1/query', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('gateway.bad_utf8');
    expect(demo.auditRecords().find((r) => r.code === 'gateway.bad_utf8')).toMatchObject({ run: 'protocol-run', decision: 'error', request: { bytes: body.length } });
  });

  it('headers that never finish are cut at about 10 s, a body that never finishes at about 30 s (408), each recorded', async () => {
    const [headers, body] = await Promise.all([
      raw('POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n', { keepOpenMs: 45_000 }),
      raw(`POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nauthorization: Bearer ${token}\r\ncontent-length: 1000\r\n\r\n{"sql": "SEL`, { keepOpenMs: 45_000 }),
      (async () => {
        // meanwhile the gateway serves everyone else
        await sleep(2_000);
        expect(await healthzMs()).toBeLessThan(1000);
      })(),
    ]);
    console.log(`slow headers answered after ${headers.ms.toFixed(0)} ms, slow body after ${body.ms.toFixed(0)} ms`);
    expect(headers.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(headers.ms).toBeGreaterThan(9_000);
    expect(headers.ms).toBeLessThan(14_000); // was ~22 s: Node checked only every 30 s
    expect(body.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(body.ms).toBeGreaterThan(29_000);
    expect(body.ms).toBeLessThan(35_000); // was ~52 s
    for (let i = 0; i < 50 && !demo.auditRecords().some((r) => r.code === 'gateway.body_incomplete'); i++) await sleep(100);
    const records = demo.auditRecords();
    expect(records.some((r) => r.code === 'gateway.request_timeout')).toBe(true);
    // the request whose body never finished had a token: its refusal names the run
    expect(records.find((r) => r.code === 'gateway.body_incomplete')).toMatchObject({ run: 'protocol-run', event: 'query' });
  }, 60_000);
});

describe('MCP: random JSON-RPC on a live session', () => {
  it('never a 500 or a crash; the session still serves; /healthz stays under a second', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` };
    const init = await fetch(url + '/v1/mcp', {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } } }),
    });
    const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    await fetch(url + '/v1/mcp', { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!;
    const shapes: Array<() => unknown> = [
      () => ({ jsonrpc: '2.0', id: next(), method: pick(['tools/call', 'tools/list', 'resources/list', 'prompts/get', 'x/y', '']), params: pick([{}, null, [], { name: pick(['query', 'explain', 'nope']), arguments: pick([{}, { sql: 1 }, { sql: 'SELECT 1', justification: 'fuzz' }, { sql: 'x'.repeat(2_000_000) }]) }]) }),
      () => pick([[], [{}], [{ jsonrpc: '2.0' }], 42, 'text', null, { jsonrpc: '1.0', id: 1, method: 'tools/list' }]),
      () => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: pick([1, 'x', null, {}]) } }),
      () => ({ jsonrpc: '2.0', id: { nested: true }, result: {} }),
    ];
    const started = Date.now();
    let sent = 0;
    while (sent < 150 && Date.now() - started < 15_000) {
      sent++;
      const body = next() < 0.1 ? '{"jsonrpc":"2.0","id":1,"method":' : JSON.stringify(pick(shapes)());
      const res = await fetch(url + '/v1/mcp', { method: 'POST', headers: session, body });
      await res.arrayBuffer();
      expect(res.status, body.slice(0, 120)).toBeLessThan(500);
    }
    const oversized = await fetch(url + '/v1/mcp', { method: 'POST', headers: session, body: JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }) });
    expect(oversized.status).toBe(413);
    expect(await healthzMs()).toBeLessThan(1000);
    const list = await fetch(url + '/v1/mcp', { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list', params: {} }) });
    expect(list.status).toBe(200);
    expect(((await list.json()) as any).result.tools.map((t: { name: string }) => t.name).sort()).toEqual(['describe_table', 'explain', 'list_tables', 'query']);
    expect(demo.gateway!.stderr()).not.toMatch(/internal error|TypeError|RangeError/);
    expect(demo.auditRecords().some((r) => r.event === 'mcp.request' && r.code === 'gateway.request_too_large' && r.run === 'protocol-run')).toBe(true);
  }, 60_000);
});

describe('shutdown with an MCP call in flight', () => {
  it('keeps to the grace period: the call is cancelled and recorded, the gateway exits 0 within seconds', async () => {
    const gw = await startGatewayProcess(demo.dir, demo.config, ['--shutdown-grace', '2s']);
    try {
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` };
      const init = await fetch(gw.url + '/v1/mcp', {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'shutdown', version: '1' } } }),
      });
      const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
      const slow = 'SELECT count(*) FROM range(300000) a, range(300000) b WHERE a.range + b.range = -1';
      const sinceIso = new Date().toISOString();
      const call = fetch(gw.url + '/v1/mcp', { method: 'POST', headers: session, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'query', arguments: { sql: slow, justification: J } } }) });
      // running once its intent is durable (nothing runs before it)
      const deadline = Date.now() + 20_000;
      const isOurs = (r: Record<string, any>) => r.via === 'mcp' && r.tool === 'query' && r.run === 'protocol-run' && r.time >= sinceIso;
      while (Date.now() < deadline && !demo.auditRecords().some((r) => r.event === 'query.intent' && isOurs(r))) await sleep(100);
      await sleep(300);
      const exited = new Promise<number | null>((resolve) => gw.process.once('exit', (code) => resolve(code)));
      const t0 = performance.now();
      gw.process.kill('SIGTERM');
      const answer = await call;
      expect(await exited).toBe(0);
      const ms = performance.now() - t0;
      console.log(`shutdown with an MCP call in flight took ${ms.toFixed(0)} ms (grace 2 s)`);
      expect(ms).toBeLessThan(2_000 + 5_000); // was 26.9 s against a 10 s grace
      expect([200, 404]).toContain(answer.status);
      const rec = demo.auditRecords().filter((r) => r.event === 'query' && isOurs(r)).at(-1)!;
      expect(rec).toMatchObject({ decision: 'error', code: 'warehouse.cancelled' });
    } finally {
      if (gw.process.exitCode === null) gw.process.kill('SIGKILL');
    }
  }, 60_000);
});

describe('the operator\'s terminal', () => {
  it('escape sequences in SQL, a revoke reason and a forged token\'s kid reach hoopq audit list/show escaped', async () => {
    const esc = '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202e';
    const other = demo.mint('analyst-agent', 'terminal-run');
    await hoopqAsync(['query', `SELECT 1 AS "${esc}"`], { cwd: demo.gateway!.agentDir, env: { HOOPQ_GATEWAY: url, HOOPQ_TOKEN: other, HOOPQ_JUSTIFICATION: esc } });
    await fetch(url + '/v1/revoke', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${other}` }, body: JSON.stringify({ run: 'terminal-run', reason: esc }) });
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: esc })).toString('base64url');
    await fetch(url + '/v1/query', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${header}.e30.AAAA` }, body: JSON.stringify({ sql: 'SELECT 1' }) });
    const list = spawnSync(process.execPath, [HOOPQ, 'audit', 'list'], { cwd: demo.dir, env: { ...process.env, HOOPQ_CONFIG: demo.config }, encoding: 'utf8' });
    expect(list.status).toBe(0);
    expect(list.stdout).toContain('terminal-run');
    for (const out of [list.stdout, ...demo.auditRecords().slice(-6).map((r) => spawnSync(process.execPath, [HOOPQ, 'audit', 'show', r.id], { cwd: demo.dir, env: { ...process.env, HOOPQ_CONFIG: demo.config }, encoding: 'utf8' }).stdout)]) {
      expect(out).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
    }
    expect(list.stdout).toMatch(/\\u001b/); // shown, escaped
    expect(readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8')).toMatch(/\\u001b/); // the log itself keeps the text (as JSON)
  });
});

describe('replay works for everything recorded', () => {
  it('a parameterised query: values sealed under masks, replayed exactly; in clear without masks', async () => {
    const env = { HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: J };
    const r = demo.admin(['query', '--format', 'json', '--parameter', 'wanted:STRING:Berlin', '--parameter', 'n:INT64:3', 'SELECT count(*) AS n FROM crm.customers WHERE city = $wanted OR id = $n'], { env });
    expect(r.code).toBe(0);
    const rec = demo.auditRecords().filter((x) => x.event === 'query' && x.decision === 'allow' && x.params).at(-1)!;
    expect(rec.params).toEqual([
      { name: 'wanted', type: 'STRING', value: '[REDACTED]' },
      { name: 'n', type: 'INT64', value: '[REDACTED]' },
    ]);
    expect(JSON.stringify(rec)).not.toContain('Berlin');
    expect(rec.params_sealed).toMatch(/^v1:/);
    const replay = demo.admin(['replay', rec.id, '--execute']);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout).execution).toMatchObject({ verdict: 'same', rows: 1 });
    const writer = demo.mint('scratch-writer', 'params-writer');
    const w = demo.admin(['query', '--format', 'json', '--parameter', 'n:INT64:7', 'SELECT count(*) AS n FROM analytics.events WHERE id < $n'], { env: { HOOPQ_TOKEN: writer } });
    expect(w.code).toBe(0);
    const clear = demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'params-writer').at(-1)!;
    expect(clear.params).toEqual([{ name: 'n', type: 'INT64', value: '7' }]);
    expect(JSON.parse(demo.admin(['replay', clear.id, '--execute']).stdout).execution).toMatchObject({ verdict: 'same' });
  });
});
