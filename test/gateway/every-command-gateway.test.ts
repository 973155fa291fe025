/**
 * Black-box: every command works through a gateway (HOOPQ_GATEWAY set, run from an empty
 * folder, no config) and prints what direct mode prints on the gateway host, with the same
 * exit codes: the token lifecycle (mint, exchange with a fake OIDC issuer, inspect, list,
 * revoke by a run token of its own run only), keys rotate, audit list/show/export/verify
 * (a tampered log: exit 9 both ways) and replay. Operator commands need the operator key
 * (HOOPQ_OPERATOR_KEY); without it, or with a run token in its place, they are refused (exit 4).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../fakes/oidc-issuer.js';
import { createDemoInMode, hoopqAsync, type CliResult, type Demo } from '../cli/cli-harness.js';

const J = { HOOPQ_JUSTIFICATION: 'every command through the gateway' };
const COUNT = 'SELECT count(*) AS n FROM analytics.events';

let demo: Demo;
let issuer: FakeOidcIssuer;
let operatorKey: string;

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  issuer = await startFakeOidcIssuer();
  operatorKey = readFileSync(join(demo.dir, '.hoopq', 'keys', 'operator.key'), 'utf8').trim();
  writeFileSync(
    join(demo.dir, 'policies', 'ci-nightly.yaml'),
    ['name: ci-nightly', 'statements: [select]', 'tables:', '  read: ["demo.analytics.*"]', 'identity:', `  - issuer: ${issuer.issuer}`, '    claims: { repository: acme/ml }', ''].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await demo?.close();
  await issuer?.close();
});

/** The operator through the gateway: no config, only the URL and the operator key. */
const operator = (args: string[], env: Record<string, string> = {}) => demo.run(args, { env: { HOOPQ_OPERATOR_KEY: operatorKey, ...env } });
/** The operator on the gateway host: the config, keys, state and log directly. */
const direct = (args: string[], env: Record<string, string> = {}) => demo.admin(args, { env });
const agent = (token: string, args: string[]) => demo.run(args, { env: { ...J, HOOPQ_TOKEN: token } });

function ok(r: CliResult): string {
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

function mintVia(run: string, policy = 'analyst-agent'): string {
  return ok(operator(['token', 'mint', '--policy', policy, '--run', run, '--ttl', '20m'])).trim();
}

describe('operator commands need the operator key', () => {
  const commands: string[][] = [
    ['token', 'mint', '--policy', 'analyst-agent', '--run', 'no-key'],
    ['token', 'list'],
    ['keys', 'rotate'],
    ['audit', 'list'],
    ['audit', 'show', '00000000-0000-0000-0000-000000000000'],
    ['audit', 'export'],
    ['audit', 'verify'],
    ['replay', '00000000-0000-0000-0000-000000000000'],
  ];
  it.each(commands)('%s %s without it: exit 4', (...args) => {
    const r = demo.run(args);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('it needs the operator key');
    expect(r.stderr).toContain('HOOPQ_OPERATOR_KEY');
    expect(r.stdout).toBe('');
  });

  it('a run token is not an operator key', () => {
    const token = mintVia('not-an-operator');
    for (const args of [['token', 'list'], ['keys', 'rotate'], ['audit', 'list']]) {
      const r = demo.run(args, { env: { HOOPQ_OPERATOR_KEY: token } });
      expect(r.code, r.stderr).toBe(4);
      expect(r.stdout).toBe('');
    }
    expect(readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8')).not.toContain(token);
  });
});

describe('the token lifecycle through the gateway', () => {
  it('mint: the token works through the gateway; inspect and list print what direct mode prints', () => {
    const token = mintVia('gw-lifecycle');
    expect(token.split('.')).toHaveLength(3);
    expect(ok(agent(token, ['query', '--format', 'json', COUNT]))).toMatch(/"n":/);
    const viaGateway = ok(demo.run(['token', 'inspect'], { env: { HOOPQ_TOKEN: token } }));
    expect(viaGateway).toBe(ok(direct(['token', 'inspect'], { HOOPQ_TOKEN: token })));
    expect(JSON.parse(viaGateway)).toMatchObject({ run: 'gw-lifecycle', policy: 'analyst-agent', subject: 'operator:gateway', queries_started: 1 });
    for (const format of ['json', 'pretty']) {
      const listed = ok(operator(['token', 'list', '--format', format]));
      expect(listed).toBe(ok(direct(['token', 'list', '--format', format])));
      expect(listed).toContain('gw-lifecycle');
      expect(listed).not.toContain(token);
    }
    const minted = demo.auditRecords().find((r) => r.event === 'token.mint' && r.run === 'gw-lifecycle');
    expect(minted).toMatchObject({ via: 'gateway', subject: 'operator:gateway' });
  });

  it('inspect refuses a forged token with the same message and exit code as direct mode', () => {
    const token = mintVia('gw-forged');
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`;
    const viaGateway = demo.run(['token', 'inspect', forged]);
    const here = direct(['token', 'inspect', forged]);
    expect(viaGateway.code).toBe(4);
    expect(here.code).toBe(4);
    expect(viaGateway.stderr).toBe(here.stderr);
  });

  it('revoke: a run token revokes its own run (later queries exit 4) and nothing else (exit 5)', () => {
    const mine = mintVia('gw-mine');
    const theirs = mintVia('gw-theirs');
    const foreign = demo.run(['token', 'revoke', '--run', 'gw-theirs'], { env: { HOOPQ_TOKEN: mine } });
    expect(foreign.code, foreign.stderr).toBe(5);
    expect(foreign.stderr).toContain('a run token may revoke only its own run or itself');
    const own = demo.run(['token', 'revoke', '--run', 'gw-mine', '--reason', 'job finished'], { env: { HOOPQ_TOKEN: mine } });
    expect(own.code, own.stderr).toBe(0);
    expect(own.stderr).toBe('hoopq: revoked run gw-mine (1 known token(s)); running queries of it are being cancelled\n');
    expect(agent(mine, ['query', COUNT]).code).toBe(4);
    expect(ok(agent(theirs, ['query', '--format', 'json', COUNT]))).toMatch(/"n":/);
    // direct mode prints the same line for the same kind of revocation
    expect(direct(['token', 'revoke', '--run', 'gw-theirs']).stderr).toBe('hoopq: revoked run gw-theirs (1 known token(s)); running queries of it are being cancelled\n');
    const record = demo.auditRecords().find((r) => r.event === 'token.revoke' && r.run === 'gw-mine');
    expect(record).toMatchObject({ via: 'gateway', reason: 'job finished', revoked_by: { run: 'gw-mine' } });
  });

  it('revoke without a run token or operator key is refused (exit 4)', () => {
    const r = demo.run(['token', 'revoke', '--run', 'anything']);
    expect(r.code, r.stderr).toBe(4);
  });

  it('exchange: an OIDC ID token for a run token through the gateway; a refusal reads as in direct mode', async () => {
    // asynchronous runs: the fake issuer answers from this process
    const oidc = await issuer.issueGitHubToken({ repository: 'acme/ml', run_id: '777001', run_attempt: '1' });
    const token = ok(await demo.runAsync(['token', 'exchange', '--policy', 'ci-nightly', '--oidc-token', oidc])).trim();
    expect(JSON.parse(ok(demo.run(['token', 'inspect'], { env: { HOOPQ_TOKEN: token } })))).toMatchObject({ run: '777001-1', policy: 'ci-nightly' });
    expect(ok(agent(token, ['query', '--format', 'json', COUNT]))).toMatch(/"n":/);
    const wrongAudience = await issuer.issueGitHubToken({ repository: 'acme/ml', run_id: '777002', run_attempt: '1' }, { aud: 'someone-else' });
    const viaGateway = await demo.runAsync(['token', 'exchange', '--policy', 'ci-nightly', '--oidc-token', wrongAudience]);
    const here = await hoopqAsync(['token', 'exchange', '--policy', 'ci-nightly', '--oidc-token', wrongAudience], { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config } });
    expect(viaGateway.code).toBe(4);
    expect(here.code).toBe(4);
    expect(viaGateway.stderr).toBe(here.stderr);
    const denied = demo.auditRecords().filter((r) => r.event === 'token.exchange' && r.decision === 'deny');
    expect(denied.map((r) => r.via ?? 'direct').sort()).toEqual(['direct', 'gateway']);
  });

  it('keys rotate: a new current key; tokens signed by the old one keep working', () => {
    const before = mintVia('gw-before-rotation');
    const oldKid = JSON.parse(ok(demo.run(['token', 'inspect'], { env: { HOOPQ_TOKEN: before } }))).kid;
    const rotation = JSON.parse(ok(operator(['keys', 'rotate'])));
    expect(rotation.kid).not.toBe(oldKid);
    expect(rotation.retired).toContain(oldKid);
    const after = mintVia('gw-after-rotation');
    expect(JSON.parse(ok(demo.run(['token', 'inspect'], { env: { HOOPQ_TOKEN: after } }))).kid).toBe(rotation.kid);
    expect(agent(before, ['query', COUNT]).code).toBe(0);
    expect(demo.auditRecords().some((r) => r.event === 'keys.rotate' && r.via === 'gateway')).toBe(true);
  });
});

describe('the audit log through the gateway', () => {
  let queryRecord: string;

  beforeAll(() => {
    const token = mintVia('gw-audit');
    ok(agent(token, ['query', '--format', 'json', "SELECT name, email FROM crm.customers WHERE city = 'Lisbon' LIMIT 2"]));
    expect(agent(token, ['query', 'SELECT * FROM crm.payment_cards']).code).toBe(5);
    queryRecord = demo.auditRecords().find((r) => r.event === 'query' && r.run === 'gw-audit' && r.decision === 'allow')!.id;
  });

  it.each([
    [['audit', 'list', '--run', 'gw-audit']],
    [['audit', 'list', '--run', 'gw-audit', '--format', 'jsonl']],
    [['audit', 'list', '--decision', 'deny', '--since', '1h']],
    [['audit', 'list', '--event', 'token.mint', '--policy', 'analyst-agent']],
    [['audit', 'export', '--format', 'ocsf', '--run', 'gw-audit']],
    [['audit', 'export']],
  ])('%j prints what direct mode prints', (args) => {
    const viaGateway = ok(operator(args)).split('\n');
    expect(viaGateway.length).toBeGreaterThan(1);
    expect(viaGateway).toEqual(ok(direct(args)).split('\n'));
  });

  it('audit show and replay print what direct mode prints', () => {
    expect(ok(operator(['audit', 'show', queryRecord]))).toBe(ok(direct(['audit', 'show', queryRecord])));
    const replayed = ok(operator(['replay', queryRecord]));
    expect(replayed).toBe(ok(direct(['replay', queryRecord])));
    expect(JSON.parse(replayed)).toMatchObject({ id: queryRecord, same_decision: true });
    const missing = operator(['audit', 'show', 'no-such-record']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(direct(['audit', 'show', 'no-such-record']).stderr);
  });

  it('replay --execute runs the query again at the gateway and compares the digest', () => {
    const report = JSON.parse(ok(operator(['replay', queryRecord, '--execute'])));
    expect(report.execution).toMatchObject({ verdict: 'same', rows: 2 });
    const rerun = demo.auditRecords().find((r) => r.id === report.execution.record);
    expect(rerun).toMatchObject({ event: 'query', replay_of: queryRecord, subject: `replay:${queryRecord}` });
  });

  it('audit verify: ok as in direct mode; a tampered log exits 9 with the same message both ways', () => {
    const viaGateway = operator(['audit', 'verify']);
    expect(viaGateway.code, viaGateway.stderr).toBe(0);
    expect(viaGateway.stdout).toMatch(/^ok .*audit\.jsonl: \d+ records, chain intact/);
    const json = JSON.parse(ok(operator(['audit', 'verify', '--format', 'json'])));
    expect(json).toMatchObject({ ok: true, file: join(demo.dir, 'audit.jsonl') });

    const log = join(demo.dir, 'audit.jsonl');
    const lines = readFileSync(log, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes(queryRecord));
    lines[i] = lines[i]!.replace('"decision":"allow"', '"decision":"deny"');
    writeFileSync(log, lines.join('\n'));
    const tampered = operator(['audit', 'verify']);
    const here = direct(['audit', 'verify']);
    expect(tampered.code).toBe(9);
    expect(here.code).toBe(9);
    expect(tampered.stderr).toBe(here.stderr);
    expect(tampered.stderr).toContain(`line ${i + 1}`);
  });
});
