/**
 * Abuse suite, identity side: a running `hoopq gateway` (loopback only) and a fake OIDC
 * issuer standing in for a CI provider. Audience and issuer mix-ups, run ids that try to
 * join another run, one run revoking another, tokens refused at every endpoint — and every
 * refusal is in the audit log, with the run and token whenever the token could be read.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../fakes/oidc-issuer.js';
import { createDemoInMode, hoopqAsync, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let url: string;
let operatorKey: string;
let ci: FakeOidcIssuer;
let stranger: FakeOidcIssuer;
const J = 'abuse: identity';

beforeAll(async () => {
  [ci, stranger] = await Promise.all([startFakeOidcIssuer(), startFakeOidcIssuer()]);
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  operatorKey = readFileSync(join(demo.dir, '.hoopq', 'keys', 'operator.key'), 'utf8').trim();
  // as docs/ci.md writes it: the rule pins the repository and names no audience, so the
  // gateway's own URL is the only audience it accepts
  writeFileSync(
    join(demo.dir, 'policies', 'ci-agent.yaml'),
    ['name: ci-agent', 'statements: [select]', 'tables:', '  read: ["demo.analytics.*"]', 'require_justification: false', 'identity:', `  - issuer: ${ci.issuer}`, '    claims: { repository: acme/ml }', ''].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await demo.close();
  await Promise.all([ci.close(), stranger.close()]);
  rmSync(demo.dir, { recursive: true, force: true });
});

function post(path: string, body: unknown, bearer?: string) {
  return fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(body),
  });
}

async function exchange(oidcToken: string, extra: Record<string, unknown> = {}) {
  const res = await post('/v1/tokens/exchange', { oidc_token: oidcToken, policy: 'ci-agent', ...extra });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function mint(run: string, policy = 'analyst-agent') {
  const res = await post('/v1/tokens', { policy, run, ttl: '10m' }, operatorKey);
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; token_id: string; run: string };
}

function initializeMcp(token: string) {
  return fetch(url + '/v1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'abuse', version: '1' } } }),
  });
}

const ciRun = (run: string) => `oidc:${new URL(ci.issuer).host}/${run}`;

describe('the audience is the deployment\'s, never the caller\'s', () => {
  it('an ID token minted for another service is refused whatever the body says, and recorded', async () => {
    for (const aud of ['sts.amazonaws.com', 'vault.example', 'hoopq']) {
      const token = await ci.issueGitHubToken({ run_id: `aud-${aud.length}` }, { aud });
      for (const extra of [{}, { audience: aud }]) {
        const r = await exchange(token, extra);
        expect(r.status, `${aud} ${JSON.stringify(extra)}`).toBe(401);
        expect(r.body.error.code).toBe('oidc.audience');
        expect(r.body.error.message).toContain(url); // what the deployment expects, so the CI job can fix it
      }
    }
    const denials = demo.auditRecords().filter((r) => r.event === 'token.exchange' && r.code === 'oidc.audience');
    expect(denials.length).toBeGreaterThanOrEqual(6);
    for (const d of denials) expect(d).toMatchObject({ decision: 'deny', policy: { name: 'ci-agent' }, via: 'gateway' });
  });

  it('an ID token for the gateway\'s own URL is exchanged; the run is namespaced by the issuer', async () => {
    const r = await exchange(await ci.issueGitHubToken({ run_id: '777', run_attempt: '2' }, { aud: url }));
    expect(r.status).toBe(201);
    expect(r.body.run).toBe(ciRun('777-2'));
    const q = await demo.runAsync(['query', '--format', 'json', 'SELECT count(*) AS n FROM analytics.events'], { env: { HOOPQ_TOKEN: r.body.token } });
    expect(q.code).toBe(0);
    expect(demo.auditRecords().find((x) => x.event === 'token.exchange' && x.run === ciRun('777-2'))).toMatchObject({ decision: 'allow', oidc: { issuer: ci.issuer, rule: 1 } });
  });

  it('a jti equal to an operator\'s run id does not join that run, and the operator cannot mint into the issuer\'s namespace', async () => {
    writeFileSync(
      join(demo.dir, 'policies', 'ci-generic.yaml'),
      ['name: ci-generic', 'statements: [select]', 'tables:', '  read: ["demo.analytics.*"]', 'require_justification: false', 'identity:', `  - issuer: ${ci.issuer}`, "    claims: { sub: 'service:*' }", ''].join('\n'),
    );
    const operators = await mint('r1');
    const oidc = await ci.issue({ sub: 'service:etl', jti: 'r1' }, { aud: url });
    const res = await post('/v1/tokens/exchange', { oidc_token: oidc, policy: 'ci-generic' });
    expect(res.status).toBe(201);
    const exchanged = (await res.json()) as { token: string; run: string };
    expect(exchanged.run).toBe(ciRun('r1'));
    // revoking the exchanged run leaves the operator's run alone, and the other way round
    expect((await post('/v1/revoke', { run: exchanged.run }, exchanged.token)).status).toBe(200);
    const [ok, refused] = await Promise.all([
      demo.runAsync(['query', 'SELECT 1'], { env: { HOOPQ_TOKEN: operators.token, HOOPQ_JUSTIFICATION: J } }),
      demo.runAsync(['query', 'SELECT 1'], { env: { HOOPQ_TOKEN: exchanged.token } }),
    ]);
    expect(ok.code).toBe(0);
    expect(refused.code).toBe(4);
    const reserved = await post('/v1/tokens', { policy: 'analyst-agent', run: ciRun('r2') }, operatorKey);
    expect(reserved.status).toBe(400);
    expect(((await reserved.json()) as any).error.code).toBe('token.run_reserved');
  });
});

describe('unauthenticated errors say what failed without listing policies or issuers', () => {
  it('an issuer mix-up and an unknown policy are refused, named, recorded — and nothing lists what would work', async () => {
    const fromStranger = await exchange(await stranger.issueGitHubToken({}, { aud: url }));
    const unknownPolicy = await post('/v1/tokens/exchange', { oidc_token: await ci.issueGitHubToken({}, { aud: url }), policy: 'no-such-policy' });
    const unknownBody = (await unknownPolicy.json()) as Record<string, any>;
    expect(fromStranger.status).toBe(401);
    expect(fromStranger.body.error.code).toBe('oidc.issuer_not_allowed');
    expect(unknownPolicy.status).toBe(401);
    expect(unknownBody.error.code).toBe('token.unknown_policy');
    // each names only what the caller sent (its policy, its token's issuer), never what would have worked
    for (const [text, asked] of [[JSON.stringify(fromStranger.body), 'ci-agent'], [JSON.stringify(unknownBody), 'no-such-policy']] as const) {
      expect(text).not.toContain(ci.issuer);
      for (const policy of ['analyst-agent', 'scratch-writer', 'ci-agent', 'ci-generic'].filter((p) => p !== asked)) expect(text).not.toContain(policy);
    }
    const records = demo.auditRecords();
    expect(records.some((r) => r.event === 'token.exchange' && r.code === 'oidc.issuer_not_allowed')).toBe(true);
    const unknown = records.find((r) => r.event === 'token.exchange' && r.code === 'token.unknown_policy')!;
    expect(unknown).toMatchObject({ decision: 'deny', request: { status: 401 } });
    expect(unknown.request.sha256).toMatch(/^[0-9a-f]{64}$/); // the body by digest, never the ID token
    expect(JSON.stringify(records)).not.toContain('eyJ'); // no token of any kind in the log
  });
});

describe('every refusal is recorded with its run whenever the token could be read', () => {
  it('a run token revoking another run (403)', async () => {
    const a = await mint('refusal-a');
    const res = await post('/v1/revoke', { run: 'refusal-b' }, a.token);
    expect(res.status).toBe(403);
    expect(demo.auditRecords().find((r) => r.event === 'token.revoke' && r.code === 'gateway.revoke_forbidden')).toMatchObject({ decision: 'deny', run: 'refusal-a', token_id: a.token_id });
  });

  it('mint and audit append without operator credentials, and mint for a revoked run', async () => {
    const agent = await mint('refusal-c');
    expect((await post('/v1/tokens', { policy: 'analyst-agent', run: 'x' }, agent.token)).status).toBe(401);
    expect((await post('/v1/audit/records', { id: 'x', time: '2026-01-01T00:00:00Z', event: 'query', decision: 'allow' })).status).toBe(401);
    expect((await post('/v1/revoke', { run: 'refusal-c' }, operatorKey)).status).toBe(200);
    const again = await post('/v1/tokens', { policy: 'analyst-agent', run: 'refusal-c' }, operatorKey);
    expect(again.status).toBe(401);
    const records = demo.auditRecords();
    expect(records.find((r) => r.event === 'token.mint' && r.code === 'gateway.operator_required' && r.run === 'refusal-c')).toMatchObject({ token_id: agent.token_id });
    expect(records.some((r) => r.event === 'audit.append' && r.code === 'gateway.audit_writer_required')).toBe(true);
    expect(records.find((r) => r.event === 'token.mint' && r.code === 'token.revoked')).toMatchObject({ decision: 'deny', subject: 'operator:gateway' });
  });

  it('queries with a revoked, an expired and a forged token; a bad body with a valid token', async () => {
    const revoked = await mint('refusal-d');
    await post('/v1/revoke', { run: 'refusal-d' }, operatorKey);
    const forged = revoked.token.slice(0, -4) + (revoked.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const valid = await mint('refusal-e');
    const ask = (token: string, body: unknown) => post('/v1/query', body, token);
    expect((await ask(revoked.token, { sql: 'SELECT 1', justification: J })).status).toBe(401);
    expect((await ask(forged, { sql: 'SELECT 1', justification: J })).status).toBe(401);
    expect((await ask(valid.token, { sql: 'SELECT 1', justification: J, format: 'xml' })).status).toBe(400);
    const records = demo.auditRecords();
    expect(records.find((r) => r.event === 'query' && r.code === 'token.revoked' && r.run === 'refusal-d')).toMatchObject({ token_id: revoked.token_id, decision: 'deny' });
    const forgedRecord = records.find((r) => r.event === 'query' && r.code === 'token.signature_invalid')!;
    expect(forgedRecord.run).toBeNull(); // a forgery is never attributed to the run it names
    expect(forgedRecord.claimed).toMatchObject({ run: 'refusal-d', token_id: revoked.token_id });
    expect(records.find((r) => r.event === 'query' && r.code === 'gateway.bad_request' && r.run === 'refusal-e')).toMatchObject({ token_id: valid.token_id, request: { status: 400 } });
  });

  it('a revoked token on its own MCP session (401) is recorded with its run; its sessions are closed at once', async () => {
    const t = await mint('refusal-f');
    const init = await initializeMcp(t.token);
    expect(init.status).toBe(200);
    const session = init.headers.get('mcp-session-id')!;
    const list = async () => ((await (await fetch(url + '/v1/mcp/sessions?run=refusal-f', { headers: { authorization: `Bearer ${operatorKey}` } })).json()) as { sessions: unknown[] }).sessions;
    expect(await list()).toHaveLength(1);
    const revoke = await post('/v1/revoke', { run: 'refusal-f' }, t.token);
    expect(((await revoke.json()) as any).revoked.mcp_sessions_closed).toBe(1);
    expect(await list()).toHaveLength(0); // closed by the revocation itself, not at the next request
    const after = await fetch(url + '/v1/mcp', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${t.token}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }),
    });
    expect(after.status).toBe(401);
    expect(demo.auditRecords().find((r) => r.event === 'mcp.request' && r.code === 'token.revoked')).toMatchObject({ run: 'refusal-f', token_id: t.token_id, decision: 'deny' });
  });

  it('a revocation from the gateway host\'s CLI closes the run\'s MCP sessions within a second, without a request', async () => {
    const t = await mint('refusal-g');
    const init = await initializeMcp(t.token);
    expect(init.status).toBe(200);
    const count = async () => ((await (await fetch(url + '/v1/mcp/sessions?run=refusal-g', { headers: { authorization: `Bearer ${operatorKey}` } })).json()) as { sessions: unknown[] }).sessions.length;
    expect(await count()).toBe(1);
    const revoked = await hoopqAsync(['token', 'revoke', '--run', 'refusal-g'], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
    expect(revoked.code).toBe(0);
    const t0 = performance.now();
    while ((await count()) > 0 && performance.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 50));
    const ms = performance.now() - t0;
    expect(await count()).toBe(0);
    expect(ms).toBeLessThan(1_500); // each session watches the shared state store every 250 ms
  });

  it('the log still verifies', () => {
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
  });
});
