/**
 * The console's defences, driven over raw HTTP (no browser: each test sets exactly the headers
 * an attacker would): off unless configured; Host checks (DNS rebinding); Origin and CSRF on
 * every POST; cookie attributes; CSP on every page; no SQL literal and no markup from a
 * request rendered; the shared operator key neither signs in nor decides; a run token sees
 * only its own request's status; removing an operator's key ends their console sessions.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, hoopqAsync, type Demo } from '../cli/cli-harness.js';
import { HELD_POLICY, startConsoleFixture, type ConsoleFixture } from './console-harness.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let fx: ConsoleFixture;
let host: string;

function send(path: string, options: { method?: string; headers?: Record<string, string>; form?: Record<string, string> } = {}): Promise<Reply> {
  const url = new URL(path, fx.url);
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  const headers: Record<string, string> = { host, ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } : {}), ...options.headers };
  return new Promise((resolve, reject) => {
    // a fresh connection each time: a kept-alive socket the gateway closes while a slow CLI call runs would hang up
    const req = httpRequest(url, { method: options.method ?? (body ? 'POST' : 'GET'), headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function cookieOf(reply: Reply, name: string): { value: string; attributes: string } {
  const line = ([] as string[]).concat(reply.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
  if (!line) throw new Error(`no ${name} cookie`);
  return { value: line.slice(name.length + 1).split(';')[0]!, attributes: line };
}

/** Signs in with a key the way the login form does; returns the session cookie and its CSRF token. */
async function signIn(key: string): Promise<{ cookie: string; csrf: string }> {
  const page = await send('/console/login');
  const login = cookieOf(page, 'hoopq_login').value;
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const res = await send('/console/login', { form: { csrf, key }, headers: { cookie: `hoopq_login=${login}`, origin: fx.url } });
  expect(res.status).toBe(303);
  const session = cookieOf(res, 'hoopq_console');
  const cookie = `hoopq_console=${session.value}`;
  const overview = await send('/console', { headers: { cookie } });
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(overview.body)![1]! };
}

beforeAll(async () => {
  fx = await startConsoleFixture();
  host = new URL(fx.url).host;
}, 120_000);

afterAll(async () => {
  await fx?.stop();
});

describe('console security', () => {
  it('is off unless configured', async () => {
    let plain: Demo | undefined;
    try {
      plain = await createDemoInMode('gateway');
      const res = await fetch(plain.gateway!.url + '/console');
      expect(res.status).toBe(404);
      expect((await fetch(plain.gateway!.url + '/console/login')).status).toBe(404);
    } finally {
      await plain?.close();
    }
  }, 120_000);

  it('answers only to its own host name (DNS rebinding), with a CSP on every page, error pages too', async () => {
    const rebound = await send('/console/login', { headers: { host: `attacker.example:${new URL(fx.url).port}` } });
    expect(rebound.status).toBe(403);
    expect(rebound.headers['set-cookie']).toBeUndefined();
    for (const r of [rebound, await send('/console/login')]) {
      expect(r.headers['content-security-policy']).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['cache-control']).toBe('no-store');
    }
    expect((await send('/console')).status).toBe(303); // no session: to the sign-in page
    expect((await send('/console/events')).status).toBe(401);
  });

  it('sets HttpOnly, SameSite cookies, without Secure only because it serves plain HTTP on loopback', async () => {
    const page = await send('/console/login');
    expect(cookieOf(page, 'hoopq_login').attributes).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/);
    const login = cookieOf(page, 'hoopq_login').value;
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const res = await send('/console/login', { form: { csrf, key: fx.aliceKey }, headers: { cookie: `hoopq_login=${login}`, origin: fx.url } });
    expect(cookieOf(res, 'hoopq_console').attributes).toMatch(/^hoopq_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  });

  it('refuses forms from another origin, without the CSRF token, and the shared operator key', async () => {
    const page = await send('/console/login');
    const login = `hoopq_login=${cookieOf(page, 'hoopq_login').value}`;
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const foreign = await send('/console/login', { form: { csrf, key: fx.aliceKey }, headers: { cookie: login, origin: 'http://attacker.example' } });
    expect(foreign.status).toBe(403);
    const crossSite = await send('/console/login', { form: { csrf, key: fx.aliceKey }, headers: { cookie: login, 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).toBe(403);
    const noToken = await send('/console/login', { form: { key: fx.aliceKey }, headers: { cookie: login, origin: fx.url } });
    expect(noToken.status).toBe(403);
    const shared = await send('/console/login', { form: { csrf, key: fx.operatorKey }, headers: { cookie: login, origin: fx.url } });
    expect(shared.status).toBe(401);
    expect(shared.headers['set-cookie']).toBeUndefined();
    expect(fx.demo.auditRecords().some((r) => r.event === 'console.login' && r.decision === 'deny')).toBe(true);

    const me = await signIn(fx.aliceKey);
    const token = fx.demo.mint('analyst-agent', 'csrf-victim');
    const forged = await send('/console/revoke', { form: { run: 'csrf-victim' }, headers: { cookie: me.cookie, origin: fx.url } });
    expect(forged.status).toBe(403);
    const other = await signIn(fx.aliceKey);
    const stolen = await send('/console/revoke', { form: { run: 'csrf-victim', csrf: other.csrf }, headers: { cookie: me.cookie, origin: fx.url } });
    expect(stolen.status).toBe(403);
    const alive = await hoopqAsync(['query', 'SELECT 1'], { env: { HOOPQ_GATEWAY: fx.url, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'x' } });
    expect(alive.code).toBe(0);
    const real = await send('/console/revoke', { form: { run: 'csrf-victim', csrf: me.csrf }, headers: { cookie: me.cookie, origin: fx.url } });
    expect(real.status).toBe(303);
    const dead = await hoopqAsync(['query', 'SELECT 1'], { env: { HOOPQ_GATEWAY: fx.url, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'x' } });
    expect(dead.code).toBe(4);
  });

  it('ends a session opened with a personal key when that key is removed or replaced', async () => {
    const admin = (args: string[]) => fx.demo.admin(['operator', ...args]);
    const carolKey = admin(['add', 'carol@example.com']).stdout.trim();
    const carol = await signIn(carolKey);
    expect((await send('/console', { headers: { cookie: carol.cookie } })).status).toBe(200);
    expect(admin(['remove', 'carol@example.com']).code).toBe(0);
    const gone = await send('/console', { headers: { cookie: carol.cookie } });
    expect(gone.status).toBe(303);
    expect(gone.headers.location).toBe('/console/login');
    const token = fx.demo.mint('analyst-agent', 'removed-operator-victim');
    const revoke = await send('/console/revoke', { form: { run: 'removed-operator-victim', csrf: carol.csrf }, headers: { cookie: carol.cookie, origin: fx.url } });
    expect(revoke.status).toBe(401);
    const alive = await hoopqAsync(['query', 'SELECT 1'], { env: { HOOPQ_GATEWAY: fx.url, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: 'x' } });
    expect(alive.code).toBe(0);

    // a new key for the same person: sessions of the old one end, the new one signs in
    const first = admin(['add', 'dave@example.com']).stdout.trim();
    const dave = await signIn(first);
    const second = admin(['add', 'dave@example.com']).stdout.trim();
    expect((await send('/console', { headers: { cookie: dave.cookie } })).status).toBe(303);
    const again = await signIn(second);
    expect((await send('/console', { headers: { cookie: again.cookie } })).status).toBe(200);
  });

  it('renders no SQL literal and no markup from a request; the shared key and run tokens cannot decide', async () => {
    const token = fx.demo.mint(HELD_POLICY, 'xss-run', ['--subject', 'mallory']);
    const held = await hoopqAsync(['query', '--format', 'json', "SELECT count(*) FROM analytics.events WHERE event_type = 'Zq-secret-literal'"], {
      env: { HOOPQ_GATEWAY: fx.url, HOOPQ_TOKEN: token, HOOPQ_JUSTIFICATION: '<img src=x onerror=alert(1)>' },
    });
    expect(held.code).toBe(11);
    const id = (JSON.parse(held.stdout) as { request: string }).request;
    const me = await signIn(fx.aliceKey);
    for (const path of ['/console', '/console/approvals', '/console/fragment?part=approvals']) {
      const page = await send(path, { headers: { cookie: me.cookie } });
      expect(page.status).toBe(200);
      expect(page.body).toContain(id);
      expect(page.body).not.toContain('Zq-secret-literal');
      expect(page.body).not.toContain('<img src=x');
      expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    }
    const record = fx.demo.auditRecords().find((r) => r.approval?.id === id)!;
    const detail = await send(`/console/record?id=${record.id}`, { headers: { cookie: me.cookie } });
    expect(detail.body).toContain('analytics.events');
    expect(detail.body).not.toContain('Zq-secret-literal');

    const api = (path: string, bearer: string, body?: unknown) =>
      fetch(fx.url + path, { method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const shared = await api('/v1/approval/approve', fx.operatorKey, { id, reason: 'shared' });
    expect(shared.status).toBe(403);
    expect(((await shared.json()) as any).error.code).toBe('approval.named_operator_required');
    expect((await api('/v1/approval/approve', token, { id, reason: 'me' })).status).toBe(401);
    expect((await api('/v1/approvals', token)).status).toBe(401);
    expect((await api('/v1/approvals', fx.operatorKey)).status).toBe(200);
    const own = (await (await api(`/v1/approval?id=${id}`, token)).json()) as any;
    expect(own.request).toMatchObject({ id, status: 'pending' });
    expect(own.request.sql).toBeUndefined();
    const stranger = await api(`/v1/approval?id=${id}`, fx.demo.mint(HELD_POLICY, 'stranger'));
    expect(stranger.status).toBe(404);
  });
});
