/**
 * Black-box fuzz: random and mutated requests against a running gateway, bounded in count
 * and time. Whatever arrives — random bytes, mutated JSON of every endpoint, odd methods,
 * paths and headers, broken HTTP — the gateway answers 4xx (or a query's legitimate
 * outcome), never 500, never crashes, and still serves a normal query afterwards.
 * The seed is printed so a failure can be replayed (HOOPQ_FUZZ_SEED).
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, startGatewayProcess, stopProcess, type Demo, type GatewayProcess } from '../cli/cli-harness.js';

const SEED = Number(process.env.HOOPQ_FUZZ_SEED ?? Date.now() % 1_000_000);
const BUDGET_MS = 15_000;
const MAX_REQUESTS = 400;

let demo: Demo;
let gw: GatewayProcess;
let token: string;
let operatorKey: string;

beforeAll(async () => {
  demo = createDemo();
  gw = await startGatewayProcess(demo.dir, demo.config);
  token = demo.mint('analyst-agent', 'fuzz-run');
  operatorKey = (await import('node:fs')).readFileSync(`${demo.dir}/.hoopq/keys/operator.key`, 'utf8').trim();
});

afterAll(async () => {
  expect(await stopProcess(gw.process)).toBe(0);
  rmSync(demo.dir, { recursive: true, force: true });
});

/** mulberry32: reproducible from the seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

const PATHS = ['/v1/query', '/v1/explain', '/v1/tokens', '/v1/tokens/exchange', '/v1/revoke', '/v1/audit/records', '/v1/jwks', '/healthz', '/readyz', '/metrics', '/', '/v1', '/v1/query/', '/v1/../v1/query', '/%00', '/v1/query?x=%zz'];
const VALID: Record<string, unknown> = {
  '/v1/query': { sql: 'SELECT id, email FROM customers LIMIT 3', justification: 'fuzz', format: 'json', max_rows: 2, params: [] },
  '/v1/explain': { sql: 'SELECT * FROM crm.payment_cards', justification: 'fuzz', offline: true, policy: 'analyst-agent' },
  '/v1/tokens': { policy: 'analyst-agent', run: 'fuzz-minted', ttl: '5m' },
  '/v1/tokens/exchange': { oidc_token: 'a.b.c', policy: 'analyst-agent' },
  '/v1/revoke': { token_id: 'not-a-real-token-id' },
  '/v1/audit/records': { id: 'x', time: '2024-01-01T00:00:00Z', event: 'query', decision: 'allow' },
};
const ODD_VALUES: unknown[] = [null, true, 0, -1, 1e308, 'x'.repeat(10_000), [], {}, [[[[]]]], '\u0000', '\ud800', 'SELECT 1; DROP TABLE x', { __proto__: { polluted: 1 } }, 2 ** 53 + 1, '../../etc/passwd'];

function mutateJson(r: ReturnType<typeof rng>, value: unknown): string {
  const obj = structuredClone(value) as Record<string, unknown>;
  const keys = Object.keys(obj);
  switch (r.int(4)) {
    case 0: // replace a field's value
      if (keys.length) obj[r.pick(keys)] = r.pick(ODD_VALUES);
      break;
    case 1: // drop a field
      if (keys.length) delete obj[r.pick(keys)];
      break;
    case 2: // add a field
      obj[r.pick(['__proto__', 'constructor', 'seq', 'hash', 'extra', 'sql'])] = r.pick(ODD_VALUES);
      break;
    default:
      break;
  }
  let text = JSON.stringify(obj);
  // byte-level damage
  for (let n = r.int(3); n > 0; n--) {
    const at = r.int(text.length + 1);
    switch (r.int(3)) {
      case 0:
        text = text.slice(0, at) + text.slice(at + 1 + r.int(5));
        break;
      case 1:
        text = text.slice(0, at) + String.fromCharCode(r.int(0x250)) + text.slice(at);
        break;
      default:
        text = text.slice(0, at) + text.slice(at, at + r.int(20)).repeat(r.int(4)) + text.slice(at);
    }
  }
  return text;
}

function randomBytes(r: ReturnType<typeof rng>, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

/** Broken HTTP at the socket level; resolves with the status line, if any. */
function rawRequest(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer.split('\r\n')[0] ?? '');
    };
    const timer = setTimeout(done, 1_000);
    socket.on('data', (d) => (answer += d));
    socket.on('error', done);
    socket.on('close', done);
    socket.end(bytes);
  });
}

describe(`fuzzing the HTTP API (seed ${SEED})`, () => {
  it('answers every malformed request with a 4xx (or the query\'s own outcome), never a 500 or a crash', async () => {
    const r = rng(SEED);
    const port = Number(new URL(gw.url).port);
    const statuses = new Map<number, number>();
    const fiveHundreds: string[] = [];
    const started = Date.now();
    let sent = 0;
    const one = async () => {
      const kind = r.int(10);
      if (kind === 0) {
        const line = r.pick(['GET / HTTP/1.1', 'POST /v1/query HTTP/9.9', 'BREW /v1/query HTTP/1.1', '\u0000\u0001', 'GET /' + 'a'.repeat(20_000) + ' HTTP/1.1', 'POST /v1/query HTTP/1.1']);
        const headers = r.pick(['host: x', 'content-length: -1', 'content-length: 5\r\ncontent-length: 6', 'transfer-encoding: chunked\r\ncontent-length: 3', 'x: ' + 'y'.repeat(70_000), 'transfer-encoding: chunked']);
        const status = await rawRequest(port, Buffer.concat([Buffer.from(`${line}\r\n${headers}\r\n\r\n`), randomBytes(r, r.int(200))]));
        const code = Number(status.split(' ')[1]);
        if (code >= 500) fiveHundreds.push(`raw: ${status}`);
        return;
      }
      // mostly well-aimed (the right endpoint and method), so bodies reach the handlers
      const aimed = r.next() < 0.8;
      const path = aimed ? r.pick(Object.keys(VALID)) : r.pick(PATHS);
      const method = aimed ? 'POST' : r.pick(['POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
      const base = VALID[path] ?? VALID['/v1/query'];
      const body = kind === 1 ? randomBytes(r, r.int(2_000)) : kind === 2 ? JSON.stringify(r.pick(ODD_VALUES)) : mutateJson(r, base);
      const headers: Record<string, string> = { 'content-type': r.next() < 0.9 ? 'application/json' : r.pick(['text/plain', 'application/json; charset=latin1', '', 'multipart/form-data']) };
      const auth = r.pick([undefined, token, operatorKey, 'garbage', token.slice(0, -3) + 'AAA', `${token} ${token}`]);
      if (auth !== undefined) headers.authorization = r.next() < 0.9 ? `Bearer ${auth}` : auth;
      let status: number;
      let text = '';
      try {
        const res = await fetch(gw.url + path, { method, headers, body: method === 'GET' ? undefined : body, signal: AbortSignal.timeout(10_000) });
        status = res.status;
        text = (await res.text()).slice(0, 300);
      } catch (err) {
        status = -1; // a refused body cut short by the server is fine; a crash is caught below
        text = String(err);
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      // 502 is a legitimate warehouse outcome of a (mutated but valid) query; 500 never is
      if (status === 500 || status === 503) fiveHundreds.push(`${method} ${path} -> ${status}: ${text}`);
    };
    const workers = Array.from({ length: 4 }, async () => {
      while (sent < MAX_REQUESTS && Date.now() - started < BUDGET_MS) {
        sent++;
        await one();
      }
    });
    await Promise.all(workers);
    console.log(`fuzz (seed ${SEED}): ${sent} requests, statuses ${JSON.stringify([...statuses].sort())}`);
    expect(fiveHundreds, `seed ${SEED}`).toEqual([]);
    expect(sent).toBeGreaterThan(50);
    expect(gw.process.exitCode).toBeNull(); // still running
    expect(gw.stderr()).not.toMatch(/internal|TypeError|RangeError|uncaught/i);
    // and it still does its job
    const health = await fetch(gw.url + '/healthz');
    expect(health.status).toBe(200);
    const ok = await fetch(gw.url + '/v1/query', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ sql: 'SELECT 1 AS one', justification: 'after fuzz', format: 'json' }),
    });
    expect(ok.status).toBe(200);
    // the status comes with the first frame; the query gives its slot back just after the end frame
    expect(await ok.text()).toContain('"ok":true');
    // no query slot leaked by the fuzz: the gauge comes back to 0
    let metrics = '';
    for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      metrics = await (await fetch(gw.url + '/metrics')).text();
      if (/hoopq_gateway_queries_in_flight 0\n/.test(metrics)) break;
    }
    expect(metrics).toMatch(/hoopq_gateway_queries_in_flight 0\n/);
  }, 60_000);
});
