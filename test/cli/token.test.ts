/**
 * Black-box: the run-token lifecycle from the command line (issue 4's acceptance). Spawns the
 * built `hoopq` against quickstart demos and attacks it the way an agent or a thief would:
 * forged, tampered and foreign tokens, key swaps, a token waited out past its expiry, a run
 * revoked while its query is executing, a budget raced by 32 processes, and OIDC exchanges
 * with bad issuers, audiences, claims and keys. Every attempt must exit 4 (5 for a spent
 * budget) with a reason naming the check; a fresh valid token must keep working throughout.
 * Forgeries are made with node:crypto from what is on disk (never hoopq's modules).
 */
import { spawn } from 'node:child_process';
import { createHmac, sign as signBytes } from 'node:crypto';
import { appendFileSync, chmodSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOidcIssuer, type FakeOidcIssuer } from '../fakes/oidc-issuer.js';
import { createDemo, HOOPQ, type CliResult, type Demo } from './cli-harness.js';

const COUNT = 'SELECT count(*) AS n FROM analytics.events';
// Queries run under select-only policies: DuckDB then opens the file read-only and parallel
// processes share it (a writable policy's query holds DuckDB's exclusive file lock).
const J = { HOOPQ_JUSTIFICATION: 'black-box token test' };
const SKEW_S = 30;

let demo: Demo;
let other: Demo;
let issuer: FakeOidcIssuer;
/** Every token string this file obtained: none may ever appear in a log, a listing or a message. */
const minted: string[] = [];
let fresh: string;
/** Minted with the shortest TTL in beforeAll; checked at the end of the file, after ttl + skew. */
let shortLived: { token: string; mintedAt: number };

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

function mint(policy: string, run: string, extra: string[] = [], on: Demo = demo): string {
  const t = on.mint(policy, run, extra);
  minted.push(t);
  return t;
}

function query(token: string | null, sql = COUNT, on: Demo = demo): CliResult {
  return on.run(['query', '--format', 'json', sql], { env: token === null ? J : { ...J, HOOPQ_TOKEN: token } });
}

function queryAsync(token: string, sql = COUNT, on: Demo = demo): Promise<CliResult> {
  return on.runAsync(['query', '--format', 'json', sql], { env: { ...J, HOOPQ_TOKEN: token } });
}

/** The JSON refusal the contract puts on stderr with --format json. */
function refusal(r: CliResult): { code: string; message: string; hint: string | null; rule?: string; exit: number } {
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!);
}

function keysDir(d: Demo): string {
  return join(d.dir, '.hoopq', 'keys');
}

/** The files of the key that signed `token`, found the way an attacker with read access would. */
function tokenKeyFiles(d: Demo, token: string): { kid: string; key: string; pub: string } {
  const kid = decode(token.split('.')[0]!).kid as string;
  return { kid, key: join(keysDir(d), `token-${kid}.key`), pub: join(keysDir(d), `token-${kid}.pub`) };
}

/** A compact JWS over header and claims, EdDSA-signed with a PEM private key from disk. */
function signEdDsa(header: object, claims: object, privateKeyPem: string): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${signBytes(null, Buffer.from(input), privateKeyPem).toString('base64url')}`;
}

beforeAll(async () => {
  demo = createDemo();
  other = createDemo();
  issuer = await startFakeOidcIssuer();
  shortLived = { token: mint('scratch-writer', 'bb-expiry', ['--ttl', '1s']), mintedAt: Date.now() };
  fresh = mint('analyst-agent', 'bb-fresh');
}, 120_000);

afterAll(async () => {
  await issuer?.close();
  for (const d of [demo, other]) if (d) rmSync(d.dir, { recursive: true, force: true });
});

describe('token mint', () => {
  it('prints one token on stdout only, 1h by default, recorded as token.mint without the token', () => {
    const before = Math.floor(Date.now() / 1000);
    const r = demo.run(['token', 'mint', '--policy', 'analyst-agent', '--run', 'bb-mint']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = r.stdout.trim();
    minted.push(token);
    const claims = decode(token.split('.')[1]!);
    expect(claims.exp - claims.iat).toBe(3600);
    expect(claims.iat).toBeGreaterThanOrEqual(before - 1);

    const inspect = demo.run(['token', 'inspect', token]);
    expect(inspect.code).toBe(0);
    const shown = JSON.parse(inspect.stdout);
    expect(shown).toMatchObject({ run: 'bb-mint', policy: 'analyst-agent', token_id: claims.jti });
    const ttl = (Date.parse(shown.expires_at) - Date.parse(shown.issued_at)) / 1000;
    expect(ttl).toBe(3600);
    expect(Math.abs(Date.parse(shown.expires_at) - (Date.now() + 3600_000))).toBeLessThan(60_000);
    expect(inspect.stdout).not.toContain(token.split('.')[2]!);

    const record = demo.auditRecords().find((x) => x.event === 'token.mint' && x.run === 'bb-mint');
    expect(record).toMatchObject({ token_id: claims.jti, policy: { name: 'analyst-agent' }, decision: 'allow' });
    expect(record!.policy.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts --ttl 12h and refuses 13h, an unknown policy and a budget above the policy\'s (exit 2)', async () => {
    const [ok, long, unknown, budget] = await Promise.all([
      demo.runAsync(['token', 'mint', '--policy', 'scratch-writer', '--run', 'bb-12h', '--ttl', '12h']),
      demo.runAsync(['token', 'mint', '--policy', 'scratch-writer', '--run', 'bb-13h', '--ttl', '13h']),
      demo.runAsync(['token', 'mint', '--policy', 'no-such-policy', '--run', 'bb-unknown']),
      demo.runAsync(['token', 'mint', '--policy', 'analyst-agent', '--run', 'bb-budget', '--max-queries', '201']),
    ]);
    expect(ok.code).toBe(0);
    minted.push(ok.stdout.trim());
    const claims = decode(ok.stdout.trim().split('.')[1]!);
    expect(claims.exp - claims.iat).toBe(12 * 3600);
    for (const [r, words] of [[long, /12h|43200/], [unknown, /no-such-policy/], [budget, /200/]] as const) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(words);
    }
    expect(demo.auditRecords().some((x) => ['bb-13h', 'bb-unknown', 'bb-budget'].includes(x.run))).toBe(false);
  });
});

describe('verification refuses forged, tampered and foreign tokens (exit 4, the check named)', () => {
  it('every attack exits 4 with a reason, and a fresh token still works', async () => {
    const good = mint('analyst-agent', 'bb-victim');
    const [h, p, s] = good.split('.') as [string, string, string];
    const header = decode(h);
    const claims = decode(p);
    const { key, pub } = tokenKeyFiles(demo, good);
    const foreign = mint('analyst-agent', 'bb-victim', [], other);
    const ourKey = readFileSync(key, 'utf8');
    const otherKey = readFileSync(tokenKeyFiles(other, foreign).key, 'utf8');
    const now = Math.floor(Date.now() / 1000);
    const hmac = (hdr: object) => {
      const input = `${b64url(hdr)}.${p}`;
      return `${input}.${createHmac('sha256', readFileSync(pub)).update(input).digest('base64url')}`;
    };
    const flip = (part: string) => (part[0] === 'A' ? 'B' : 'A') + part.slice(1);

    const attacks: Array<[string, string, RegExp]> = [
      ['malformed: two parts', `${h}.${p}`, /malformed/],
      ['alg none', `${b64url({ alg: 'none', typ: 'JWT', kid: header.kid })}.${p}.`, /alg_none|malformed/],
      ['alg none with the real signature kept', `${b64url({ alg: 'none', typ: 'JWT', kid: header.kid })}.${p}.${s}`, /alg_none/],
      ['alg NONE (case)', `${b64url({ alg: 'NONE', typ: 'JWT', kid: header.kid })}.${p}.${s}`, /alg_none/],
      ['HS256 with the public key as HMAC secret', hmac({ alg: 'HS256', typ: 'JWT', kid: header.kid }), /alg_not_allowed/],
      ['tampered header (same fields, re-encoded)', `${b64url(JSON.stringify(header, null, 1))}.${p}.${s}`, /signature_invalid/],
      ['tampered header (embedded jwk)', `${b64url({ ...header, jwk: { kty: 'OKP' } })}.${p}.${s}`, /malformed/],
      ['tampered payload (policy swapped)', `${h}.${b64url({ ...claims, pol: 'scratch-writer' })}.${s}`, /signature_invalid/],
      ['tampered payload (run swapped)', `${h}.${b64url({ ...claims, run: 'bb-fresh' })}.${s}`, /signature_invalid/],
      ['tampered payload (exp extended)', `${h}.${b64url({ ...claims, exp: claims.exp + 3600 })}.${s}`, /signature_invalid/],
      ['tampered signature', `${h}.${p}.${flip(s)}`, /signature_invalid/],
      ['a token from another deployment', foreign, /other_deployment|unknown_kid/],
      ['another deployment\'s key under our kid and issuer', signEdDsa(header, claims, otherKey), /signature_invalid/],
      ['an unknown kid signed with our key', signEdDsa({ ...header, kid: 'AAAAAAAAAAAAAAAA' }, claims, ourKey), /unknown_kid/],
      ['expired beyond the 30 s skew (signed with the real key)', signEdDsa(header, { ...claims, iat: now - 600, nbf: now - 600, exp: now - SKEW_S - 15 }, ourKey), /expired/],
      ['not yet valid (signed with the real key)', signEdDsa(header, { ...claims, iat: now + 600, nbf: now + 600, exp: now + 1200 }, ourKey), /not_yet_valid/],
      ['lifetime above 12h (signed with the real key)', signEdDsa(header, { ...claims, iat: now, nbf: now, exp: now + 13 * 3600 }, ourKey), /ttl_too_long/],
      ['wrong audience (signed with the real key)', signEdDsa(header, { ...claims, aud: 'someone-else' }, ourKey), /audience/],
    ];
    const results = await Promise.all([demo.runAsync(['query', '--format', 'json', COUNT], { env: J }), ...attacks.map(([, t]) => queryAsync(t))]);
    const [missing, ...rest] = results;
    expect(missing!.code).toBe(4);
    expect(refusal(missing!).code).toBe('token.missing');
    rest.forEach((r, i) => {
      const [what, , code] = attacks[i]!;
      expect({ what, code: r.code, stdout: r.stdout }).toEqual({ what, code: 4, stdout: '' });
      const e = refusal(r);
      expect(e.code, what).toMatch(code);
      expect(e.message.length, what).toBeGreaterThan(10);
      expect(e.hint, what).toBeTruthy();
    });

    // within the skew a just-expired token is still accepted (documented: 30 s each way)
    const then = Math.floor(Date.now() / 1000);
    const inSkew = signEdDsa(header, { ...claims, jti: 'inSkewTokenId0000000aa', iat: then - 600, nbf: then - 600, exp: then - 10 }, ourKey);
    const [skewed, still] = await Promise.all([demo.runAsync(['token', 'inspect', inSkew]), queryAsync(fresh)]);
    expect(skewed.stderr).toBe('');
    expect(skewed.code).toBe(0);
    expect(still.code).toBe(0);
    expect(JSON.parse(still.stdout)).toEqual([{ n: 5000 }]);
  }, 120_000);

  it('token inspect refuses like query does: exit 4 and the reason on stderr', () => {
    const [h, p] = fresh.split('.') as [string, string];
    const r = demo.run(['token', 'inspect', `${h}.${p}.${'A'.repeat(86)}`]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/signature/i);
  });

  it('a token whose policy was removed is refused (unknown policy) by query and inspect, and names it', async () => {
    writeFileSync(join(demo.dir, 'policies', 'bb-temp.yaml'), readFileSync(join(demo.dir, 'policies', 'analyst-agent.yaml'), 'utf8').replace('name: analyst-agent', 'name: bb-temp'));
    const token = mint('bb-temp', 'bb-temp-run');
    expect(query(token).code).toBe(0);
    renameSync(join(demo.dir, 'policies', 'bb-temp.yaml'), join(demo.dir, 'bb-temp.yaml.off'));
    const [r, inspect] = await Promise.all([queryAsync(token), demo.runAsync(['token', 'inspect', token])]);
    expect(r.code).toBe(4);
    const e = refusal(r);
    expect(e.code).toBe('token.unknown_policy');
    expect(e.message).toContain('bb-temp');
    expect(inspect.code).toBe(4);
    expect(inspect.stdout).toBe('');
    expect(inspect.stderr).toContain('bb-temp');
  });
});

describe('revocation', () => {
  it('by --id refuses that token only; by --run refuses the run, its new mints, and is recorded', async () => {
    const first = mint('analyst-agent', 'bb-revoke');
    const second = mint('analyst-agent', 'bb-revoke');
    const id = JSON.parse(demo.run(['token', 'inspect', first]).stdout).token_id as string;
    const byId = demo.run(['token', 'revoke', '--id', id, '--reason', 'leaked in a log']);
    expect(byId.code).toBe(0);
    const [a, b] = await Promise.all([queryAsync(first), queryAsync(second)]);
    expect(a.code).toBe(4);
    expect(refusal(a).code).toBe('token.revoked');
    expect(b.code).toBe(0);

    expect(demo.run(['token', 'revoke', '--run', 'bb-revoke']).code).toBe(0);
    const [c, again, stillFresh] = await Promise.all([
      queryAsync(second),
      demo.runAsync(['token', 'mint', '--policy', 'analyst-agent', '--run', 'bb-revoke']),
      queryAsync(fresh),
    ]);
    expect(c.code).toBe(4);
    expect(refusal(c).code).toBe('token.revoked');
    expect(again.code).toBe(4);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/revoked/);
    expect(stillFresh.code).toBe(0);

    const revokes = demo.auditRecords().filter((x) => x.event === 'token.revoke');
    expect(revokes.some((x) => x.token_id === id && x.reason === 'leaked in a log')).toBe(true);
    expect(revokes.some((x) => x.run === 'bb-revoke')).toBe(true);
    expect(demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'bb-revoke' && x.decision === 'deny').every((x) => x.code === 'token.revoked')).toBe(true);
  });

  it('interrupts a query of the run that is executing, within 2 s of revoke returning', async () => {
    const run = 'bb-race';
    const token = mint('scratch-writer', run);
    const started = Date.now();
    const child = spawn(process.execPath, [HOOPQ, 'query', '--format', 'json', 'SELECT count(*) FROM range(100000000) a, range(1000) b'], {
      cwd: demo.dir,
      env: { ...process.env, HOOPQ_CONFIG: demo.config, HOOPQ_TOKEN: token },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise<{ code: number | null; at: number }>((res) => child.on('close', (code) => res({ code, at: Date.now() })));
    try {
      // the intent record is durable before the warehouse sees the query: once it is there, the query runs
      while (!demo.auditRecords().some((x) => x.event === 'query.intent' && x.run === run)) {
        if (Date.now() - started > 30_000) throw new Error(`the query never started: ${stderr}`);
        if (child.exitCode !== null) throw new Error(`the query ended before revocation (${child.exitCode}): ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(child.exitCode).toBeNull();
      const revoke = await demo.runAsync(['token', 'revoke', '--run', run]);
      const revokedAt = Date.now();
      expect(revoke.code).toBe(0);
      const end = await Promise.race([exited, new Promise<{ code: null; at: number }>((r) => setTimeout(() => r({ code: null, at: Infinity }), 10_000))]);
      expect(end.at).toBeLessThan(Infinity);
      expect(end.code).toBe(4);
      // the interruption is timed by the query's own audit record, so the CLI's exit on a loaded
      // machine is not in it: within 2 s of `token revoke` returning
      const interrupted = demo.auditRecords().find((x) => x.event === 'query' && x.run === run);
      expect(Date.parse(interrupted!.time) - revokedAt).toBeLessThan(2_000);
      expect(stderr).toMatch(/revoked/);
    } finally {
      child.kill('SIGKILL');
    }
    const outcome = demo.auditRecords().find((x) => x.event === 'query' && x.run === run);
    expect(outcome).toMatchObject({ decision: 'deny', code: 'token.revoked' });
    expect(demo.auditRecords().some((x) => x.event === 'token.revoke' && x.run === run)).toBe(true);

    const [later, other] = await Promise.all([queryAsync(token), queryAsync(mint('analyst-agent', 'bb-race-next'))]);
    expect(later.code).toBe(4);
    expect(refusal(later).code).toBe('token.revoked');
    expect(other.code).toBe(0);
  }, 90_000);
});

describe('per-run budget across processes', () => {
  it('32 parallel queries on a budget of 10: exactly 10 run, 22 exit 5 (limits.max_queries)', async () => {
    const token = mint('analyst-agent', 'bb-budget-race', ['--max-queries', '10']);
    const results = await Promise.all(Array.from({ length: 32 }, () => queryAsync(token)));
    const codes = results.map((r) => r.code);
    expect(codes.filter((c) => c === 0)).toHaveLength(10);
    expect(codes.filter((c) => c === 5)).toHaveLength(22);
    for (const r of results.filter((x) => x.code === 5)) expect(refusal(r).rule).toBe('limits.max_queries');
    for (const r of results.filter((x) => x.code === 0)) expect(JSON.parse(r.stdout)).toEqual([{ n: 5000 }]);
    const records = demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'bb-budget-race');
    expect(records.filter((x) => x.decision === 'allow')).toHaveLength(10);
    expect(records.filter((x) => x.decision === 'deny')).toHaveLength(22);
    // a unit is spent only after its intent is durable: every allowed query has its intent;
    // queries that found the budget spent before writing one have none, those that lost the
    // race for the last units after writing theirs end it with the refusal
    const intents = demo.auditRecords().filter((x) => x.event === 'query.intent' && x.run === 'bb-budget-race');
    expect(intents.length).toBeGreaterThanOrEqual(10);
    for (const allowed of records.filter((x) => x.decision === 'allow')) expect(intents.map((i) => i.id)).toContain(allowed.intent);
    for (const intent of intents) expect(records.filter((x) => x.intent === intent.id)).toHaveLength(1);
    const listed = JSON.parse(demo.run(['token', 'list', '--format', 'json']).stdout) as Array<{ run: string; queriesStarted: number }>;
    expect(listed.find((t) => t.run === 'bb-budget-race')?.queriesStarted).toBe(10);
  }, 180_000);
});

describe('token list and keys', () => {
  it('token list shows run, policy, subject and expiry, never a token', () => {
    const pretty = demo.run(['token', 'list']);
    const json = demo.run(['token', 'list', '--format', 'json']);
    expect(pretty.code).toBe(0);
    expect(json.code).toBe(0);
    expect(pretty.stdout).toMatch(/bb-fresh\tanalyst-agent\toperator:\S+\texpires \d{4}-\d\d-\d\dT/);
    const listed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(listed.find((t) => t.run === 'bb-fresh')).toMatchObject({ policy: 'analyst-agent', subject: expect.any(String) });
    for (const t of minted) {
      for (const out of [pretty.stdout, json.stdout, pretty.stderr]) {
        expect(out).not.toContain(t);
        expect(out).not.toContain(t.split('.')[2]!);
      }
    }
  });

  it('keys rotate: old tokens keep verifying, new ones carry the new kid; a world-readable private key stops mint and query (exit 3, chmod 600)', async () => {
    const before = mint('analyst-agent', 'bb-rotate-old', [], other);
    const oldKid = decode(before.split('.')[0]!).kid;
    const rotate = other.run(['keys', 'rotate']);
    expect(rotate.code).toBe(0);
    const after = mint('analyst-agent', 'bb-rotate-new', [], other);
    const newKid = decode(after.split('.')[0]!).kid;
    expect(newKid).not.toBe(oldKid);
    expect(rotate.stdout).toContain(newKid);
    expect(readdirSync(keysDir(other))).toContain(`token-${newKid}.key`);
    expect(readdirSync(keysDir(other))).not.toContain(`token-${oldKid}.key`);
    const [oldQ, newQ] = await Promise.all([queryAsync(before, COUNT, other), queryAsync(after, COUNT, other)]);
    expect(oldQ.code).toBe(0);
    expect(newQ.code).toBe(0);

    const keyFile = join(keysDir(other), `token-${newKid}.key`);
    chmodSync(keyFile, 0o644);
    try {
      const [m, q] = await Promise.all([
        other.runAsync(['token', 'mint', '--policy', 'scratch-writer', '--run', 'bb-loose']),
        queryAsync(after, COUNT, other),
      ]);
      for (const r of [m, q]) {
        expect(r.code).toBe(3);
        expect(r.stdout).toBe('');
        expect(r.stderr.toLowerCase()).toContain(`chmod 600 ${keyFile.toLowerCase()}`);
      }
    } finally {
      chmodSync(keyFile, 0o600);
    }
    expect(query(after, COUNT, other).code).toBe(0);
  }, 90_000);
});

describe('token exchange (keyless CI, fake OIDC issuer on 127.0.0.1)', () => {
  beforeAll(() => {
    writeFileSync(
      join(demo.dir, 'policies', 'ci-nightly.yaml'),
      [
        'name: ci-nightly',
        'statements: [select]',
        'tables:',
        '  read: ["demo.analytics.*"]',
        'identity:',
        `  - issuer: ${issuer.issuer}`,
        '    claims: { repository: acme/ml }',
        `  - issuer: ${issuer.issuer}`,
        '    claims: { project_path: acme/ml, ref: main }',
        '',
      ].join('\n'),
    );
  });

  const exchange = (oidc: string, extra: string[] = []) => demo.runAsync(['token', 'exchange', '--policy', 'ci-nightly', '--oidc-token', oidc, ...extra]);
  /** The run an exchange gives: the claims' run, namespaced by the issuer. */
  const runOf = (run: string) => `oidc:${new URL(issuer.issuer).host}/${run}`;

  it('without an audience in the config or the rule, the exchange is a config error that says what to add (exit 3)', async () => {
    const r = await exchange(await issuer.issueGitHubToken({ run_id: '555000' }));
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no OIDC audience is configured/);
    expect(r.stderr).toMatch(/oidc: \{audience: /);
    // the deployment names its audience (the fake issuer's tokens carry `hoopq`)
    appendFileSync(demo.config, '\noidc:\n  audience: hoopq\n');
    const ok = await exchange(await issuer.issueGitHubToken({ run_id: '555000' }));
    expect(ok.code).toBe(0);
    minted.push(ok.stdout.trim());
    // --audience cannot pick another one
    const other = await exchange(await issuer.issueGitHubToken({ run_id: '555003' }, { aud: 'sts.amazonaws.com' }), ['--audience', 'sts.amazonaws.com']);
    expect(other.code).toBe(4);
    expect(other.stderr).toMatch(/audience is this deployment's, not the caller's/);
  });

  it('a GitHub-shaped token becomes a run token for run_id-run_attempt, usable for a query; a GitLab one for pipeline_id', async () => {
    const [gh, gl] = await Promise.all([
      exchange(await issuer.issueGitHubToken({ run_id: '555001', run_attempt: '2' })),
      exchange(await issuer.issueGitLabToken({ pipeline_id: '4242' })),
    ]);
    expect(gh.stderr).toBe('');
    expect(gh.code).toBe(0);
    expect(gl.code).toBe(0);
    const token = gh.stdout.trim();
    minted.push(token, gl.stdout.trim());
    const [inspect, inspectGl, q] = await Promise.all([
      demo.runAsync(['token', 'inspect', token]),
      demo.runAsync(['token', 'inspect', gl.stdout.trim()]),
      queryAsync(token),
    ]);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ run: runOf('555001-2'), policy: 'ci-nightly', subject: `${issuer.issuer}#repo:acme/ml:ref:refs/heads/main` });
    expect(JSON.parse(inspectGl.stdout)).toMatchObject({ run: runOf('4242'), policy: 'ci-nightly' });
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout)).toEqual([{ n: 5000 }]);
    const record = demo.auditRecords().find((x) => x.event === 'token.exchange' && x.run === runOf('555001-2'));
    expect(record).toMatchObject({ decision: 'allow', policy: { name: 'ci-nightly' } });
  });

  it('refuses wrong claims, audience, expiry, keys and issuers with exit 4, records the denial, and mints nothing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string, RegExp]> = [
      ['wrong repository', await issuer.issueGitHubToken({ repository: 'evil/ml', run_id: '9001' }), /claims_mismatch/],
      ['wrong audience', await issuer.issueGitHubToken({ run_id: '9002' }, { aud: 'sts.amazonaws.com' }), /audience/],
      ['expired', await issuer.issueGitHubToken({ run_id: '9003' }, { iat: now - 3600, nbf: now - 3600, exp: now - 120 }), /expired/],
      ['signed by a key the issuer never published', await issuer.issueGitHubToken({ run_id: '9004' }, { signWith: 'foreign' }), /unknown_kid|signature/],
      ['foreign key under the published kid', await issuer.issueGitHubToken({ run_id: '9005' }, { signWith: 'foreign', kid: issuer.currentKid() }), /signature_invalid/],
      ['an issuer no policy names', await issuer.issueGitHubToken({ run_id: '9006' }, { iss: 'https://token.evil.example' }), /issuer_not_allowed/],
      ['unsigned (alg none)', await issuer.issueGitHubToken({ run_id: '9007' }, { unsigned: true }), /alg_none/],
    ];
    const results = await Promise.all(cases.map(([, t]) => exchange(t)));
    results.forEach((r, i) => {
      const [what, , code] = cases[i]!;
      expect({ what, code: r.code, stdout: r.stdout }).toEqual({ what, code: 4, stdout: '' });
      expect(r.stderr, what).toMatch(/refused|not|invalid|expired/i);
    });
    const denials = demo.auditRecords().filter((x) => x.event === 'token.exchange' && x.decision === 'deny');
    cases.forEach(([what, , code]) => expect(denials.some((d) => code.test(String(d.code))), what).toBe(true));
    for (const d of denials) expect(d.reason).toBeTruthy();
    expect(demo.auditRecords().some((x) => x.event === 'token.exchange' && x.decision === 'allow' && /\/900\d$/.test(String(x.run)))).toBe(false);
    const listed = JSON.parse(demo.run(['token', 'list', '--format', 'json']).stdout) as Array<{ run: string }>;
    expect(listed.filter((t) => /\/900\d$/.test(t.run))).toEqual([]);
  });

  it('--oidc-token-file works, and the OIDC token is never logged', async () => {
    const oidc = await issuer.issueGitHubToken({ run_id: '555002', run_attempt: '1' });
    const file = join(demo.dir, 'oidc-token.txt');
    writeFileSync(file, oidc + '\n');
    const r = await demo.runAsync(['token', 'exchange', '--policy', 'ci-nightly', '--oidc-token-file', file]);
    expect(r.code).toBe(0);
    minted.push(r.stdout.trim());
    expect(decode(r.stdout.trim().split('.')[1]!).run).toBe(runOf('555002-1'));
    const log = readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8');
    expect(log).not.toContain(oidc.split('.')[2]!);
  });
});

describe('the token log never holds a token; expiry is enforced', () => {
  it('no token string or signature in the audit log', () => {
    const log = readFileSync(join(demo.dir, 'audit.jsonl'), 'utf8') + readFileSync(join(other.dir, 'audit.jsonl'), 'utf8');
    expect(minted.length).toBeGreaterThan(10);
    for (const t of minted) {
      expect(log).not.toContain(t);
      expect(log).not.toContain(t.split('.')[2]!);
    }
  });

  it('a token minted with --ttl 1s is refused after ttl + skew, by inspect and by query', async () => {
    const due = shortLived.mintedAt + (1 + SKEW_S + 2) * 1000;
    if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
    const [inspect, q, still] = await Promise.all([
      demo.runAsync(['token', 'inspect', shortLived.token]),
      queryAsync(shortLived.token),
      queryAsync(fresh),
    ]);
    expect(inspect.code).toBe(4);
    expect(inspect.stderr).toMatch(/expired/);
    expect(q.code).toBe(4);
    expect(refusal(q).code).toBe('token.expired');
    expect(still.code).toBe(0);
  }, 60_000);
});
