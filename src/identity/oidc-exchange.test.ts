import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOidcIssuer } from '../../test/fakes/oidc-issuer.js';
import type { FakeOidcIssuer } from '../../test/fakes/oidc-issuer.js';
import { AuthError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { matchClaimGlob } from './identity-rule-match.js';
import { exchangeOidcToken, runIdFromClaims } from './oidc-exchange.js';
import { OidcKeyCache } from './oidc-key-cache.js';
import type { FetchLike } from './oidc-key-cache.js';
import { verifyRunToken } from './run-token.js';
import { openStateStore } from './state-store.js';
import type { StateStore } from './state-store.js';

let tmp: string;
let keysDir: string;
let state: StateStore;
let github: FakeOidcIssuer;
let gitlab: FakeOidcIssuer;
let stranger: FakeOidcIssuer;
let policy: Policy;

/** Counts every request so "refused before any network call" can be asserted. */
function countingFetch(): FetchLike & { urls: string[] } {
  const urls: string[] = [];
  const impl = (async (url: string, init?: Parameters<FetchLike>[1]) => {
    urls.push(url);
    return fetch(url, init as RequestInit);
  }) as unknown as FetchLike & { urls: string[] };
  impl.urls = urls;
  return impl;
}

function makePolicy(identity: Policy['identity']): Policy {
  return {
    name: 'nightly',
    sha256: 'd'.repeat(64),
    file: '/policies/nightly.yaml',
    statements: ['select'],
    tables: { read: ['*.*.*'], write: [], deny: [] },
    columns: {},
    detect: [],
    limits: {},
    requireJustification: false,
    identity,
    allowExternalQuery: false,
  routines: { allow: [], deny: [] },
  destinations: [],
  };
}

async function refusal(promise: Promise<unknown>, token?: string): Promise<AuthError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthError);
  expect((err as AuthError).exitCode).toBe(4);
  if (token) expect(JSON.stringify((err as AuthError).toJSON())).not.toContain(token.split('.')[2]!.slice(0, 30));
  return err as AuthError;
}

function exchange(oidcToken: string | undefined, extra: Partial<Parameters<typeof exchangeOidcToken>[0]> = {}) {
  return exchangeOidcToken({ oidcToken, policy, keysDir, state, ...extra });
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-oidc-'));
  keysDir = path.join(tmp, '.hoopq', 'keys');
  state = openStateStore(path.join(tmp, '.hoopq', 'state.db'));
  [github, gitlab, stranger] = await Promise.all([startFakeOidcIssuer(), startFakeOidcIssuer(), startFakeOidcIssuer()]);
  policy = makePolicy([
    { issuer: github.issuer, claims: { repository: 'acme/ml', workflow: 'nightly', ref: 'refs/heads/*' } },
    { issuer: gitlab.issuer, claims: { project_path: 'acme/ml', ref_type: 'branch', ref: 'main' } },
  ]);
});

afterAll(async () => {
  state.close();
  await Promise.all([github.close(), gitlab.close(), stranger.close()]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('exchangeOidcToken: accepted tokens', () => {
  it('GitHub Actions: run = run_id-run_attempt, subject = iss#sub, recorded, verifiable', async () => {
    const result = await exchange(await github.issueGitHubToken({ run_attempt: '2' }));
    expect(result.identity).toMatchObject({
      run: '7012345678-2',
      subject: `${github.issuer}#repo:acme/ml:ref:refs/heads/main`,
      policy: 'nightly',
      policySha256: 'd'.repeat(64),
    });
    expect(result.identity.expiresAt - result.identity.issuedAt).toBe(3600);
    expect(result).toMatchObject({ issuer: github.issuer, oidcSubject: 'repo:acme/ml:ref:refs/heads/main', ruleIndex: 0 });
    await expect(verifyRunToken(result.token, { keysDir, state })).resolves.toMatchObject({ run: '7012345678-2' });
    expect(state.listActiveTokens().some((t) => t.id === result.identity.tokenId)).toBe(true);
  });

  it('GitLab CI: run = pipeline_id', async () => {
    const result = await exchange(await gitlab.issueGitLabToken(), { ttlSeconds: 600 });
    expect(result.identity).toMatchObject({ run: '1212', subject: `${gitlab.issuer}#project_path:acme/ml:ref_type:branch:ref:main` });
    expect(result.identity.expiresAt - result.identity.issuedAt).toBe(600);
    expect(result.ruleIndex).toBe(1);
  });

  it('an aud list that includes the audience is accepted; a rule can name its own audience', async () => {
    await expect(exchange(await github.issueGitHubToken({}, { aud: ['sts.amazonaws.com', 'hoopq'] }))).resolves.toBeTruthy();
    const custom = makePolicy([{ issuer: github.issuer, claims: { repository: 'acme/ml' }, audience: ['https://hoopq.acme.dev'] }]);
    await expect(exchange(await github.issueGitHubToken({}, { aud: 'https://hoopq.acme.dev' }), { policy: custom })).resolves.toBeTruthy();
    await expect(exchange(await github.issueGitHubToken({}, { aud: 'hoopq' }), { policy: custom })).rejects.toMatchObject({ code: 'oidc.audience' });
    // The caller's default audience applies to rules that name none.
    await expect(exchange(await github.issueGitHubToken({}, { aud: 'gateway-1' }), { audience: 'gateway-1' })).resolves.toBeTruthy();
  });

  it('run id falls back to jti, and is refused when there is none', async () => {
    expect(runIdFromClaims({ run_id: 5, run_attempt: 1 })).toBe('5-1');
    expect(runIdFromClaims({ pipeline_id: '99' })).toBe('99');
    expect(runIdFromClaims({ jti: 'abc-123' })).toBe('abc-123');
    const generic = makePolicy([{ issuer: stranger.issuer, claims: { sub: 'service:*' } }]);
    const result = await exchange(await stranger.issue({ sub: 'service:etl', jti: 'job-77' }), { policy: generic });
    expect(result.identity.run).toBe('job-77');
    const err = await refusal(exchange(await stranger.issue({ sub: 'service:etl' }, { omit: ['jti'] }), { policy: generic }));
    expect(err.code).toBe('oidc.run_unknown');
    expect((await refusal(exchange(await stranger.issue({ sub: 'service:etl', jti: 'bad id\n' }), { policy: generic }))).code).toBe('oidc.run_unknown');
  });
});

describe('exchangeOidcToken: every refusal is exit 4 with the failed check named', () => {
  it('missing and malformed', async () => {
    expect((await refusal(exchange(undefined))).code).toBe('oidc.missing');
    expect((await refusal(exchange('a.b'))).code).toBe('oidc.malformed');
    expect((await refusal(exchange('%%%.e30.x'))).code).toBe('oidc.malformed');
  });

  it('an issuer no rule names is refused before any network call', async () => {
    const fetchImpl = countingFetch();
    const before = { ...stranger.requests };
    const token = await stranger.issueGitHubToken();
    const err = await refusal(exchange(token, { fetchImpl }), token);
    expect(err.code).toBe('oidc.issuer_not_allowed');
    expect(err.hint).toContain(github.issuer);
    expect(fetchImpl.urls).toEqual([]);
    expect(stranger.requests).toEqual(before);
    // Even an unsigned token claiming an attacker URL makes no request.
    const unsigned = await stranger.issueGitHubToken({}, { iss: 'https://attacker.example', unsigned: true });
    expect((await refusal(exchange(unsigned, { fetchImpl }))).code).toBe('oidc.alg_none');
    const attackerIss = await stranger.issueGitHubToken({}, { iss: 'https://attacker.example' });
    expect((await refusal(exchange(attackerIss, { fetchImpl }))).code).toBe('oidc.issuer_not_allowed');
    expect(fetchImpl.urls).toEqual([]);
    expect(stranger.requests).toEqual(before);
    // Control: the same counting fetch does see the requests of an allowed issuer.
    await exchange(await github.issueGitHubToken(), { fetchImpl });
    expect(fetchImpl.urls).toEqual([`${github.issuer}/.well-known/openid-configuration`, `${github.issuer}/.well-known/jwks`]);
  });

  it('a policy with no identity rules refuses every issuer', async () => {
    const err = await refusal(exchange(await github.issueGitHubToken(), { policy: makePolicy([]) }));
    expect(err.code).toBe('oidc.issuer_not_allowed');
  });

  it('alg none and HS256 (with the issuer JWKS as the secret) are refused without fetching', async () => {
    const fetchImpl = countingFetch();
    expect((await refusal(exchange(await github.issueGitHubToken({}, { unsigned: true }), { fetchImpl }))).code).toBe('oidc.alg_none');
    const jwks = await (await fetch(`${github.issuer}/.well-known/jwks`)).text();
    const hs = await new SignJWT({ iss: github.issuer, aud: 'hoopq', sub: 'x', repository: 'acme/ml', workflow: 'nightly', ref: 'refs/heads/main', run_id: '1', run_attempt: '1' })
      .setProtectedHeader({ alg: 'HS256', kid: github.currentKid() })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(jwks));
    expect((await refusal(exchange(hs, { fetchImpl }))).code).toBe('oidc.alg_not_allowed');
    expect(fetchImpl.urls).toEqual([]);
  });

  it('wrong audience', async () => {
    const err = await refusal(exchange(await github.issueGitHubToken({}, { aud: 'sts.amazonaws.com' })));
    expect(err.code).toBe('oidc.audience');
    expect(err.message).toContain('"hoopq"');
    expect((await refusal(exchange(await github.issueGitHubToken({}, { omit: ['aud'] })))).code).toBe('oidc.audience');
  });

  it('expired by 31 s is refused, by 29 s accepted; nbf and iat in the future refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await refusal(exchange(await github.issueGitHubToken({}, { exp: now - 31, iat: now - 300, nbf: now - 300 }))))).toMatchObject({ code: 'oidc.expired' });
    await expect(exchange(await github.issueGitHubToken({}, { exp: now - 29, iat: now - 300, nbf: now - 300 }))).resolves.toBeTruthy();
    expect((await refusal(exchange(await github.issueGitHubToken({}, { nbf: now + 120 }))))).toMatchObject({ code: 'oidc.not_yet_valid' });
    expect((await refusal(exchange(await github.issueGitHubToken({}, { iat: now + 120, exp: now + 400 }))))).toMatchObject({ code: 'oidc.not_yet_valid' });
    expect((await refusal(exchange(await github.issueGitHubToken({}, { omit: ['exp'] }))))).toMatchObject({ code: 'oidc.claims_missing' });
  });

  it('claims that do not match the rule (named, without revealing expected values)', async () => {
    for (const overrides of [{ repository: 'evil/ml' }, { workflow: 'nightly-evil' }, { ref: 'refs/tags/v1' }, { repository: 'acme/ml-fork' }]) {
      const err = await refusal(exchange(await github.issueGitHubToken(overrides)));
      expect(err.code).toBe('oidc.claims_mismatch');
      expect(err.message).toContain(`claim ${Object.keys(overrides)[0]}`);
      expect(err.message).not.toContain('acme/ml"');
    }
    expect((await refusal(exchange(await github.issueGitHubToken({}, { omit: ['workflow'] }))))).toMatchObject({ code: 'oidc.claims_mismatch' });
    // GitLab claims from the GitHub issuer do not satisfy the GitLab rule, and vice versa.
    expect((await refusal(exchange(await github.issueGitLabToken())))).toMatchObject({ code: 'oidc.claims_mismatch' });
    expect((await refusal(exchange(await gitlab.issueGitLabToken({ ref: 'feature' }))))).toMatchObject({ code: 'oidc.claims_mismatch' });
  });

  it('a rule that lists no claims matches nothing', async () => {
    const open = makePolicy([{ issuer: github.issuer, claims: {} }]);
    const err = await refusal(exchange(await github.issueGitHubToken(), { policy: open }));
    expect(err.code).toBe('oidc.claims_mismatch');
    expect(err.message).toContain('lists no claims');
  });

  it('signed with a foreign key: under the published kid, and under an unknown kid', async () => {
    const underKnownKid = await github.issueGitHubToken({}, { signWith: 'foreign', kid: github.currentKid() });
    expect((await refusal(exchange(underKnownKid), underKnownKid)).code).toBe('oidc.signature_invalid');
    expect((await refusal(exchange(await github.issueGitHubToken({}, { signWith: 'foreign' })))).code).toBe('oidc.unknown_kid');
  });

  it('a tampered payload is refused', async () => {
    const token = await github.issueGitHubToken({ repository: 'evil/ml' });
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, repository: 'acme/ml' })).toString('base64url')}.${s}`;
    expect((await refusal(exchange(tampered))).code).toBe('oidc.signature_invalid');
  });

  it('a discovery document naming another issuer is refused', async () => {
    gitlab.setDiscoveryIssuer('https://gitlab.com');
    try {
      expect((await refusal(exchange(await gitlab.issueGitLabToken()))).code).toBe('oidc.discovery_issuer_mismatch');
    } finally {
      gitlab.setDiscoveryIssuer(undefined);
    }
  });

  it('a revoked run cannot get a new token by exchange', async () => {
    state.revokeRun('555-1');
    expect((await refusal(exchange(await github.issueGitHubToken({ run_id: '555', run_attempt: '1' })))).code).toBe('token.revoked');
  });

  it('an unreachable issuer is refused', async () => {
    const gone = await startFakeOidcIssuer();
    const p = makePolicy([{ issuer: gone.issuer, claims: { repository: 'acme/ml' } }]);
    const token = await gone.issueGitHubToken();
    await gone.close();
    expect((await refusal(exchange(token, { policy: p }))).code).toBe('oidc.discovery_failed');
  });
});

describe('JWKS cache and issuer key rotation', () => {
  it('caches keys, refetches on an unknown kid after the cooldown, and then accepts the new key', async () => {
    const issuer = await startFakeOidcIssuer();
    try {
      const p = makePolicy([{ issuer: issuer.issuer, claims: { repository: 'acme/ml' } }]);
      const keyCache = new OidcKeyCache();
      const t0 = new Date();
      await exchange(await issuer.issueGitHubToken(), { policy: p, keyCache, now: t0 });
      await exchange(await issuer.issueGitHubToken({ run_id: '2' }), { policy: p, keyCache, now: t0 });
      expect(issuer.requests).toEqual({ discovery: 1, jwks: 1 });

      await issuer.rotateKey();
      const rotated = await issuer.issueGitHubToken({ run_id: '3' });
      // Within the cooldown an unknown kid does not trigger another fetch (no amplification).
      const early = await refusal(exchange(rotated, { policy: p, keyCache, now: new Date(t0.getTime() + 5_000) }));
      expect(early.code).toBe('oidc.unknown_kid');
      expect(issuer.requests.jwks).toBe(1);
      // After it, the unknown kid makes the cache refetch, and the new key verifies.
      const later = new Date(t0.getTime() + 31_000);
      await expect(exchange(rotated, { policy: p, keyCache, now: later })).resolves.toMatchObject({ identity: { run: '3-1' } });
      expect(issuer.requests.jwks).toBe(2);
      // Tokens signed by the withdrawn key are now refused.
      const stale = await issuer.issueGitHubToken({ run_id: '4' }, { signWith: 'previous' });
      expect((await refusal(exchange(stale, { policy: p, keyCache, now: new Date(t0.getTime() + 32_000) }))).code).toBe('oidc.unknown_kid');
      expect(issuer.requests.jwks).toBe(2);
    } finally {
      await issuer.close();
    }
  });
});

describe('matchClaimGlob', () => {
  it.each([
    ['acme/ml', 'acme/ml', true],
    ['acme/ml', 'acme/ml2', false],
    ['acme/*', 'acme/ml', true],
    ['acme/*', 'evil/acme/ml', false],
    ['refs/heads/*', 'refs/heads/feature/x', true],
    ['repo:acme/ml:*', 'repo:acme/ml:ref:refs/heads/main', true],
    ['repo:acme/ml:*', 'repo:acme/ml2:ref:refs/heads/main', false],
    ['a.c', 'abc', false],
    ['(x)', '(x)', true],
    ['*', '', true],
  ])('%s vs %s -> %s', (pattern, value, expected) => {
    expect(matchClaimGlob(pattern, value)).toBe(expected);
  });
});
