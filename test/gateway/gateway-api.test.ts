/**
 * Black-box: `hoopq gateway` on the quickstart demo, driven over HTTP and through the remote
 * CLI from an empty folder. Credentials, token lifecycle, revocation of a running query,
 * limits, backpressure, concurrency, TLS, and the gateway as another deployment's audit sink.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, hoopq, hoopqAsync, startGatewayProcess, stopProcess, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let url: string;
let operatorKey: string;
let agentDir: string;
const J = { HOOPQ_JUSTIFICATION: 'gateway test' };

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  agentDir = demo.gateway!.agentDir;
  operatorKey = readFileSync(join(demo.dir, '.hoopq', 'keys', 'operator.key'), 'utf8').trim();
  // a policy without a row limit, for results bigger than the socket buffers
  writeFileSync(
    join(demo.dir, 'policies', 'bulk-reader.yaml'),
    'name: bulk-reader\nstatements: [select]\ntables:\n  read: ["demo.analytics.*"]\nrequire_justification: false\n',
  );
});

afterAll(async () => {
  await demo.close();
  rmSync(demo.dir, { recursive: true, force: true });
});

/**
 * A POST on a connection of its own, answered as a fetch Response: a pooled keep-alive socket
 * the gateway closes after its 5 s idle timeout could be reused at that instant on a loaded
 * machine ("other side closed"), as mcp-http.test.ts's postFresh explains.
 */
function post(path: string, body: unknown, bearer?: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const one of ([] as string[]).concat(v ?? [])) h.append(k, one);
        resolve(new Response(chunks.length > 0 ? Buffer.concat(chunks) : null, { status: res.statusCode ?? 0, headers: h }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

function remote(args: string[], env: Record<string, string> = {}) {
  return hoopqAsync(args, { cwd: agentDir, env: { HOOPQ_GATEWAY: url, ...env } });
}

async function mintViaApi(policy: string, run: string): Promise<{ token: string; token_id: string }> {
  const res = await post('/v1/tokens', { policy, run, ttl: '10m' }, operatorKey);
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; token_id: string };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(url + '/metrics')).text();
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => '\\' + c)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('operator endpoints', () => {
  it('health, readiness, metrics and JWKS answer', async () => {
    expect(await (await fetch(url + '/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await fetch(url + '/readyz');
    expect(ready.status).toBe(200);
    expect((await ready.json()).checks).toEqual({ policies: 'ok', keys: 'ok', state: 'ok', audit: 'ok', warehouse: 'ok' });
    expect(await metric('hoopq_gateway_queries_in_flight')).toBe(0);
    const jwks = (await (await fetch(url + '/.well-known/jwks.json')).json()) as { keys: Array<{ kid: string; kty: string; crv: string; d?: string }> };
    const token = demo.mint('analyst-agent', 'jwks-run');
    const kid = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    for (const k of jwks.keys) {
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
      expect(k.d).toBeUndefined(); // never a private part
    }
  });

  it('mint needs the operator key; a minted token works from the empty folder and is never logged', async () => {
    for (const bearer of [undefined, 'hqop_wrong', demo.mint('analyst-agent', 'not-an-operator')]) {
      const res = await post('/v1/tokens', { policy: 'analyst-agent', run: 'x' }, bearer);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(((await res.json()) as any).error).toMatchObject({ code: 'gateway.operator_required', exit: 4 });
    }
    const minted = await mintViaApi('analyst-agent', 'api-minted');
    const r = await remote(['query', '--format', 'json', 'SELECT 7 AS seven'], { HOOPQ_TOKEN: minted.token, ...J });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ seven: 7 }]);
    const log = readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8');
    expect(log).not.toContain(minted.token);
    expect(log).not.toContain(operatorKey);
    const mint = demo.auditRecords().find((x) => x.event === 'token.mint' && x.token_id === minted.token_id)!;
    expect(mint).toMatchObject({ run: 'api-minted', via: 'gateway', subject: 'operator:gateway' });
    const q = demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'api-minted').at(-1)!;
    expect(q).toMatchObject({ decision: 'allow', via: 'gateway', rows: 1 });
  });

  it('a run token may revoke only its own run', async () => {
    const a = await mintViaApi('analyst-agent', 'revoke-a');
    const other = await post('/v1/revoke', { run: 'revoke-b' }, a.token);
    expect(other.status).toBe(403);
    expect(((await other.json()) as any).error).toMatchObject({ code: 'gateway.revoke_forbidden', exit: 5 });
    const anon = await post('/v1/revoke', { run: 'revoke-a' });
    expect(anon.status).toBe(401);
    const own = await post('/v1/revoke', { run: 'revoke-a', reason: 'done' }, a.token);
    expect(own.status).toBe(200);
    expect(((await own.json()) as any).revoked).toMatchObject({ kind: 'run', value: 'revoke-a', new: true });
    const r = await remote(['query', 'SELECT 1'], { HOOPQ_TOKEN: a.token, ...J });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/revoked/);
    expect(demo.auditRecords().some((x) => x.event === 'token.revoke' && x.run === 'revoke-a' && x.reason === 'done')).toBe(true);
  });
});

describe('revocation through the gateway interrupts a running query within 2 s', () => {
  it('a slow cross join under [select] is cancelled, the agent gets exit 4, the audit says so', async () => {
    const { token } = await mintViaApi('analyst-agent', 'slow-run');
    const running = remote(['query', '--format', 'json', 'SELECT count(*) AS n FROM range(200000) a, range(200000) b WHERE a.range + b.range = -1'], { HOOPQ_TOKEN: token, ...J });
    const deadline = Date.now() + 20_000;
    while ((await metric('hoopq_gateway_queries_in_flight')) < 1 && Date.now() < deadline) await sleep(100);
    await sleep(500); // well inside execution
    const revokedAt = Date.now();
    const res = await post('/v1/revoke', { run: 'slow-run', reason: 'test' }, operatorKey);
    expect(res.status).toBe(200);
    // measured at the gateway (its in-flight gauge), so the CLI's own exit on a loaded machine is not in it
    while ((await metric('hoopq_gateway_queries_in_flight')) > 0 && Date.now() - revokedAt < 20_000) await sleep(25);
    const tookMs = Date.now() - revokedAt;
    const r = await running;
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/revoked while its query was running/);
    expect(tookMs).toBeLessThan(2_000);
    const rec = demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'slow-run').at(-1)!;
    expect(rec).toMatchObject({ decision: 'deny', code: 'token.revoked' });
    expect(await metric('hoopq_gateway_queries_in_flight')).toBe(0);
  });
});

describe('limits and malformed requests', () => {
  it.each([
    ['unknown path', () => fetch(url + '/v2/query'), 404, 'gateway.not_found'],
    ['wrong method', () => fetch(url + '/v1/query'), 405, 'gateway.method_not_allowed'],
    ['not JSON', () => post('/v1/query', '{"sql": '), 400, 'gateway.bad_json'],
    ['wrong content type', () => post('/v1/query', '{"sql":"SELECT 1"}', undefined, { 'content-type': 'text/plain' }), 415, 'gateway.unsupported_media_type'],
    ['unknown field', () => post('/v1/query', { sql: 'SELECT 1', dangerous: true }), 400, 'gateway.bad_request'],
    ['wrong type', () => post('/v1/query', { sql: 1 }), 400, 'gateway.bad_request'],
    ['SQL over 1 MiB', () => post('/v1/query', { sql: 'SELECT 1 --' + 'x'.repeat(1024 * 1024) }), 400, 'gateway.sql_too_large'],
    ['no token', () => post('/v1/query', { sql: 'SELECT 1' }), 401, 'token.missing'],
    // found by the fuzzer (seed 514847): an integer the hash chain cannot hold exactly was a 503
    ['audit record with an unsafe integer', () => post('/v1/audit/records', '{"id":"x","time":"2024-01-01T00:00:00Z","event":"query","decision":"allow","extra":9007199254740992}', operatorKey), 400, 'gateway.bad_request'],
    ['token with an unsafe max_queries', () => post('/v1/tokens', '{"policy":"analyst-agent","run":"unsafe-int","max_queries":1e300}', operatorKey), 400, 'gateway.bad_request'],
    ['token with an unsafe ttl', () => post('/v1/tokens', '{"policy":"analyst-agent","run":"unsafe-int","ttl":1e300}', operatorKey), 400, 'gateway.bad_request'],
    ['audit record with a nested unsafe integer', () => post('/v1/audit/records', '{"id":"x","time":"2024-01-01T00:00:00Z","event":"query","decision":"allow","rows":{"n":-1e300}}', operatorKey), 400, 'gateway.bad_request'],
  ])('%s', async (_what, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(((await res.json()) as any).error.code).toBe(code);
  });

  it('a body over 4 MiB is refused from its declared length, unread (413)', async () => {
    const answer = await rawExchange(`POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${5 * 1024 * 1024}\r\n\r\n{"sql":"`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('gateway.request_too_large');
  });

  it('a body that grows past 4 MiB without a declared length is refused too', async () => {
    const chunk = (n: number) => `${n.toString(16)}\r\n${'x'.repeat(n)}\r\n`;
    const answer = await rawExchange(`POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n` + chunk(1 << 20).repeat(5));
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('a refused query is an HTTP error carrying the direct-mode error, and is recorded', async () => {
    const token = demo.mint('analyst-agent', 'http-refusal');
    const res = await post('/v1/query', { sql: 'SELECT * FROM crm.payment_cards', justification: 'x' }, token);
    expect(res.status).toBe(403);
    const err = ((await res.json()) as any).error;
    expect(err).toMatchObject({ code: 'policy.table_denied', exit: 5 });
    expect(typeof err.hint).toBe('string');
    expect(demo.auditRecords().filter((x) => x.run === 'http-refusal').at(-1)).toMatchObject({ decision: 'deny', via: 'gateway' });
  });
});

describe('streaming and backpressure', () => {
  it('a client that stops reading does not grow gateway memory; it is cut off and its query recorded', async () => {
    const bulk = await startGatewayProcess(demo.dir, demo.config, ['--stall-timeout', '2s']);
    try {
      const token = demo.mint('bulk-reader', 'stalled-reader');
      const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${bulk.process.pid}/status`, 'utf8'))![1]) * 1024;
      const before = rss();
      const body = JSON.stringify({ sql: 'SELECT range AS i, repeat(\'x\', 100) AS pad FROM range(5000000)', format: 'ndjson' });
      const { port } = new URL(bulk.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST /v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nauthorization: Bearer ${token}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      socket.pause(); // ~600 MB of result, never read
      await sleep(1_500);
      const during = rss();
      expect(during - before).toBeLessThan(150 * 1024 * 1024);
      // cut off after the stall timeout, query cancelled and recorded
      const deadline = Date.now() + 10_000;
      let rec: Record<string, any> | undefined;
      while (!rec && Date.now() < deadline) {
        await sleep(250);
        rec = demo.auditRecords().find((x) => x.event === 'query' && x.run === 'stalled-reader');
      }
      expect(rec).toBeDefined();
      expect(rec!.decision).toBe('error');
      // the client's doing, exit 7 — not a bug (it was recorded as `internal`, exit 1)
      expect(rec).toMatchObject({ code: 'output.stalled', exit_code: 7, rule: 'gateway.stall_timeout' });
      socket.destroy();
    } finally {
      expect(await stopProcess(bulk.process)).toBe(0);
    }
  });

  it('a large result streams through the remote CLI byte for byte as in direct mode', async () => {
    const token = demo.mint('bulk-reader', 'bulk-run');
    const sql = 'SELECT range AS i, md5(range::VARCHAR) AS h FROM range(200000)';
    const viaGateway = await remote(['query', '--format', 'csv', sql], { HOOPQ_TOKEN: token });
    const direct = demo.admin(['query', '--format', 'csv', sql], { env: { HOOPQ_TOKEN: token } });
    expect(viaGateway.code).toBe(0);
    expect(direct.code).toBe(0);
    expect(viaGateway.stdout.length).toBeGreaterThan(5_000_000);
    expect(viaGateway.stdout === direct.stdout).toBe(true);
    const recs = demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'bulk-run');
    expect(recs).toHaveLength(2);
    expect(recs[0]!.result_sha256).toBe(recs[1]!.result_sha256);
  });
});

describe('many concurrent clients', () => {
  it('32 clients at once all get their own rows; the chain stays contiguous and verifies', async () => {
    const token = demo.mint('analyst-agent', 'concurrent-run');
    const results = await Promise.all(
      Array.from({ length: 32 }, async (_, i) => {
        const res = await post('/v1/query', { sql: `SELECT ${i} AS i`, justification: 'c', format: 'json' }, token);
        return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
      }),
    );
    results.forEach((r, i) => {
      expect(r.status).toBe(200);
      const frames = parseFrames(r.body);
      expect(JSON.parse(frames.data)).toEqual([{ i }]);
      expect(frames.end).toMatchObject({ ok: true, outcome: { rows: 1 } });
    });
    const seqs = demo.auditRecords().map((x) => x.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
  });
});

describe('TLS and the plain-HTTP rule', () => {
  it('refuses plain HTTP on a non-loopback address; the CLI refuses an http URL to another host', () => {
    const r = hoopq(['gateway', '--listen', '0.0.0.0:0'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plain HTTP/);
    const c = hoopq(['query', 'SELECT 1'], { cwd: agentDir, env: { HOOPQ_GATEWAY: 'http://gateway.example.com:8470', HOOPQ_TOKEN: 'x.y.z' } });
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/unencrypted/);
  });

  it('serves HTTPS with --tls-cert/--tls-key; the remote CLI trusts it through NODE_EXTRA_CA_CERTS', async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'hoopq-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(tlsDir, 'key.pem'), '-out', join(tlsDir, 'cert.pem')], { stdio: 'ignore' });
      const gw = await startGatewayProcess(demo.dir, demo.config, ['--tls-cert', join(tlsDir, 'cert.pem'), '--tls-key', join(tlsDir, 'key.pem')]);
      try {
        expect(gw.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        const token = demo.mint('analyst-agent', 'tls-run');
        const ok = await hoopqAsync(['query', '--format', 'json', 'SELECT 1 AS one'], { cwd: agentDir, env: { HOOPQ_GATEWAY: gw.url, HOOPQ_TOKEN: token, NODE_EXTRA_CA_CERTS: join(tlsDir, 'cert.pem'), ...J } });
        expect(ok.stderr).toBe('');
        expect(JSON.parse(ok.stdout)).toEqual([{ one: 1 }]);
        const untrusted = await hoopqAsync(['query', 'SELECT 1'], { cwd: agentDir, env: { HOOPQ_GATEWAY: gw.url, HOOPQ_TOKEN: token, ...J } });
        expect(untrusted.code).toBe(7);
        expect(untrusted.stderr).toMatch(/cannot reach the gateway/);
      } finally {
        await stopProcess(gw.process);
      }
    } finally {
      rmSync(tlsDir, { recursive: true, force: true });
    }
  });
});

describe('the gateway as the audit sink of a direct-mode deployment', () => {
  function writerConfig(keysDir: string, audit: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'hoopq-writer-'));
    writeFileSync(join(dir, 'hoopq.yaml'), `warehouse:\n  kind: duckdb\n  path: ${join(demo.dir, 'demo.duckdb')}\n  default_project: demo\n  default_dataset: crm\npolicies: ${join(demo.dir, 'policies')}\naudit: ${audit}\nkeys: ${keysDir}\nstate: ${join(demo.dir, '.hoopq', 'state.db')}\n`);
    return join(dir, 'hoopq.yaml');
  }

  it('records go to the gateway\'s log, chained by the gateway', () => {
    const config = writerConfig(join(demo.dir, '.hoopq', 'keys'), url);
    const token = demo.mint('analyst-agent', 'remote-sink-run');
    const r = hoopq(['query', '--format', 'json', 'SELECT 5 AS five'], { env: { HOOPQ_CONFIG: config, HOOPQ_TOKEN: token, ...J } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([{ five: 5 }]);
    const recs = demo.auditRecords().filter((x) => x.run === 'remote-sink-run' && x.event.startsWith('query'));
    expect(recs.map((x) => x.event)).toEqual(['query.intent', 'query']);
    expect(recs[1]!.appended_via).toMatchObject({ kind: 'gateway' });
    expect(recs[1]!.via).toBeUndefined(); // ran in the writer's process, not the gateway's
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
  });

  it('a wrong key or an unreachable gateway: exit 8 and nothing runs', () => {
    const token = demo.mint('analyst-agent', 'bad-sink-run');
    const wrongKeys = mkdtempSync(join(tmpdir(), 'hoopq-wrongkeys-'));
    // the signing keys are needed to verify the token; only the audit-writer key is wrong
    for (const f of readdirSync(join(demo.dir, '.hoopq', 'keys'))) {
      if (f === 'audit-writer.key' || f === 'operator.key') continue;
      writeFileSync(join(wrongKeys, f), readFileSync(join(demo.dir, '.hoopq', 'keys', f)), { mode: 0o600 });
    }
    chmodSync(wrongKeys, 0o700);
    writeFileSync(join(wrongKeys, 'audit-writer.key'), `hqaw_${'A'.repeat(43)}\n`, { mode: 0o600 });
    const wrong = hoopq(['query', 'SELECT 1'], { env: { HOOPQ_CONFIG: writerConfig(wrongKeys, url), HOOPQ_TOKEN: token, ...J } });
    expect(wrong.code).toBe(8);
    expect(wrong.stderr).toMatch(/audit record could not be written/);
    const down = hoopq(['query', 'SELECT 1'], { env: { HOOPQ_CONFIG: writerConfig(join(demo.dir, '.hoopq', 'keys'), 'http://127.0.0.1:9'), HOOPQ_TOKEN: token, ...J } });
    expect(down.code).toBe(8);
    expect(demo.auditRecords().filter((x) => x.run === 'bad-sink-run' && x.event.startsWith('query'))).toEqual([]);
    rmSync(wrongKeys, { recursive: true, force: true });
  });
});


/** Sends raw bytes, returns whatever the server answered before closing (or after 3 s). */
function rawExchange(bytes: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(Number(port), '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, 3_000);
    socket.on('data', (d) => (answer += d));
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes);
  });
}

/** The query response body: D payloads joined, the E frame parsed. */
function parseFrames(body: Buffer): { data: string; notices: string[]; end: unknown } {
  const data: Buffer[] = [];
  const notices: string[] = [];
  let end: unknown;
  for (let at = 0; at < body.length; ) {
    const type = body[at]!;
    const len = body.readUInt32BE(at + 1);
    const payload = body.subarray(at + 5, at + 5 + len);
    if (type === 0x44) data.push(payload);
    else if (type === 0x4e) notices.push(payload.toString());
    else if (type === 0x45) end = JSON.parse(payload.toString());
    at += 5 + len;
  }
  return { data: Buffer.concat(data).toString(), notices, end };
}

describe('DNS rebinding: Host and Origin name the gateway', () => {
  it.each([
    ['a foreign Host', 'host: evil.example.com', 'gateway.foreign_host'],
    ['a foreign Origin', 'host: 127.0.0.1\r\norigin: http://evil.example.com', 'gateway.foreign_origin'],
    ['Origin: null', 'host: localhost\r\norigin: null', 'gateway.foreign_origin'],
  ])('%s is refused 403 before anything else is read', async (_name, headers, code) => {
    const body = JSON.stringify({ sql: 'SELECT 1', justification: 'x' });
    const answer = await rawExchange(`POST /v1/query HTTP/1.1\r\n${headers}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer).toContain(code);
  });

  it('probes answer any Host (load balancers call them by address)', async () => {
    const answer = await rawExchange('GET /healthz HTTP/1.1\r\nhost: 10.1.2.3:8470\r\nconnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });
});
