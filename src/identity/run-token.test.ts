import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, UsageError } from '../errors.js';
import { mintRunToken, verifyRunToken } from './run-token.js';
import { readKeyset, privateKeyPath, publicKeyPath } from './signing-keys.js';
import { openStateStore } from './state-store.js';
import type { StateStore } from './state-store.js';
import { checkTokenPolicy, effectiveQueryLimit } from './token-policy.js';

const POLICY = { name: 'analyst', sha256: 'a'.repeat(64) };
const T0 = new Date('2030-01-01T00:00:00Z');
const T0s = T0.getTime() / 1000;

let tmp: string;
let keysDir: string;
let otherKeysDir: string;
let state: StateStore;
let good: string;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
const at = (secondsAfterT0: number) => new Date((T0s + secondsAfterT0) * 1000);

async function verify(token: string | undefined, now: Date = at(1)) {
  return verifyRunToken(token, { keysDir, state, now });
}

async function refusal(token: string | undefined, now: Date = at(1)): Promise<AuthError> {
  const err = await verify(token, now).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthError);
  const authError = err as AuthError;
  expect(authError.exitCode).toBe(4);
  expect(authError.hint).toBeTruthy();
  // The token itself must never leak into messages a log or an agent might keep.
  if (token && token.length > 20) {
    const text = JSON.stringify(authError.toJSON()) + authError.message + String(authError.stack);
    for (const part of token.split('.').filter((p) => p.length > 20)) expect(text).not.toContain(part);
  }
  return authError;
}

async function ourPrivateKey() {
  const kid = readKeyset(keysDir)!.keys.find((k) => k.status === 'current')!.kid;
  return { kid, key: await importPKCS8(fs.readFileSync(privateKeyPath(keysDir, kid), 'utf8'), 'EdDSA') };
}

function validClaims(overrides: Record<string, unknown> = {}) {
  const deployment = readKeyset(keysDir)!.deployment;
  return {
    iss: `hoopq:${deployment}`,
    sub: 'alice',
    aud: 'hoopq',
    jti: 'forged-token-id',
    iat: T0s,
    nbf: T0s,
    exp: T0s + 3600,
    run: 'run-1',
    pol: POLICY.name,
    pol_sha256: POLICY.sha256,
    ...overrides,
  };
}

async function signWithOurKey(claims: Record<string, unknown>) {
  const { kid, key } = await ourPrivateKey();
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid }).sign(key);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-token-'));
  keysDir = path.join(tmp, '.hoopq', 'keys');
  otherKeysDir = path.join(tmp, 'other', 'keys');
  state = openStateStore(path.join(tmp, '.hoopq', 'state.db'));
  ({ token: good } = await mintRunToken({ keysDir, policy: POLICY, run: 'run-1', subject: 'alice', now: T0, state }));
});

afterAll(() => {
  state.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('mintRunToken', () => {
  it('mints an EdDSA JWT with kid and the documented claims', async () => {
    const [header, payload] = good.split('.').map((p, i) => (i < 2 ? decode(p) : p)) as [Record<string, unknown>, Record<string, unknown>];
    const keyset = readKeyset(keysDir)!;
    expect(header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: keyset.keys[0]!.kid });
    expect(payload).toMatchObject({
      iss: `hoopq:${keyset.deployment}`,
      sub: 'alice',
      aud: 'hoopq',
      iat: T0s,
      nbf: T0s,
      exp: T0s + 3600,
      run: 'run-1',
      pol: 'analyst',
      pol_sha256: POLICY.sha256,
    });
    expect(typeof payload.jti).toBe('string');
    expect(payload).not.toHaveProperty('max_queries');
    const identity = await verify(good);
    expect(identity).toMatchObject({ run: 'run-1', subject: 'alice', policy: 'analyst', policySha256: POLICY.sha256, tokenId: payload.jti, expiresAt: T0s + 3600 });
  });

  it('records the token claims in the state store, never the token', () => {
    const listed = state.listActiveTokens(T0);
    expect(listed.some((t) => t.run === 'run-1' && t.subject === 'alice')).toBe(true);
    const bytes = fs.readFileSync(path.join(tmp, '.hoopq', 'state.db')).toString('latin1') + (fs.existsSync(path.join(tmp, '.hoopq', 'state.db-wal')) ? fs.readFileSync(path.join(tmp, '.hoopq', 'state.db-wal')).toString('latin1') : '');
    expect(bytes).not.toContain(good.split('.')[2]);
  });

  it.each([
    [43_201, 'over 12h'],
    [0, 'zero'],
    [-5, 'negative'],
    [1.5, 'fractional'],
    [Number.NaN, 'NaN'],
  ])('refuses TTL %s (%s) with UsageError exit 2', async (ttlSeconds) => {
    const err = await mintRunToken({ keysDir, policy: POLICY, run: 'r', subject: 's', ttlSeconds }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as UsageError).code).toBe('token.ttl_invalid');
  });

  it('accepts exactly 12h', async () => {
    const { identity } = await mintRunToken({ keysDir, policy: POLICY, run: 'r', subject: 's', ttlSeconds: 43_200, now: T0 });
    expect(identity.expiresAt - identity.issuedAt).toBe(43_200);
  });

  it('lets --max-queries only tighten the policy limit', async () => {
    const policy = { ...POLICY, limits: { maxQueries: 5 } };
    const { token, identity } = await mintRunToken({ keysDir, policy, run: 'r', subject: 's', maxQueries: 3, now: T0 });
    expect((await verify(token)).maxQueries).toBe(3);
    expect(effectiveQueryLimit(identity, policy)).toBe(3);
    expect(effectiveQueryLimit({}, { limits: {} })).toBe(Infinity);
    const err = await mintRunToken({ keysDir, policy, run: 'r', subject: 's', maxQueries: 6 }).catch((e: unknown) => e);
    expect((err as UsageError).code).toBe('token.max_queries_looser');
    const zero = await mintRunToken({ keysDir, policy, run: 'r', subject: 's', maxQueries: 0 }).catch((e: unknown) => e);
    expect((zero as UsageError).code).toBe('token.max_queries_invalid');
  });

  it('refuses control characters in run and subject', async () => {
    for (const [run, subject] of [['r\n', 's'], ['r', 'evil\nline'], ['', 's']]) {
      const err = await mintRunToken({ keysDir, policy: POLICY, run: run!, subject: subject! }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
    }
  });
});

describe('verifyRunToken refuses every attack with exit 4 and a named check', () => {
  it('missing', async () => {
    for (const token of [undefined, '', '   ']) expect((await refusal(token)).code).toBe('token.missing');
  });

  it.each([
    ['one part', 'abc'],
    ['two parts', 'abc.def'],
    ['four parts', 'a.b.c.d'],
    ['bad base64', '!!!.e30.sig'],
    ['header not JSON', `${b64('not json')}.${b64({})}.AAAA`],
    ['header a JSON array', `${b64([1])}.${b64({})}.AAAA`],
  ])('malformed: %s', async (_label, token) => {
    expect((await refusal(token)).code).toBe('token.malformed');
  });

  it('malformed: payload not JSON, and an empty signature', async () => {
    const [h, p] = good.split('.');
    expect((await refusal(`${h}.${b64('{nope')}.${good.split('.')[2]}`)).code).toBe('token.malformed');
    expect((await refusal(`${h}.${p}.`)).code).toBe('token.malformed');
  });

  it('alg none (any case), with or without a signature', async () => {
    const kid = readKeyset(keysDir)!.keys[0]!.kid;
    const payload = b64(validClaims());
    for (const alg of ['none', 'None', 'NONE']) {
      expect((await refusal(`${b64({ alg, typ: 'JWT', kid })}.${payload}.`)).code).toBe('token.alg_none');
      expect((await refusal(`${b64({ alg, typ: 'JWT', kid })}.${payload}.${good.split('.')[2]}`)).code).toBe('token.alg_none');
    }
  });

  it('HS256 signed with the public key (PEM, JWK, raw) as the HMAC secret', async () => {
    const kid = readKeyset(keysDir)!.keys[0]!.kid;
    const pem = fs.readFileSync(publicKeyPath(keysDir, kid));
    const secrets = [pem, Buffer.from(pem.toString().trim()), Buffer.from(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'x' }))];
    for (const secret of secrets) {
      const forged = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid }).sign(new Uint8Array(secret));
      const err = await refusal(forged);
      expect(err.code).toBe('token.alg_not_allowed');
      expect(err.message).toContain('HS256');
    }
  });

  it('RS256 and ES256 forged with fresh keys', async () => {
    const kid = readKeyset(keysDir)!.keys[0]!.kid;
    for (const alg of ['RS256', 'ES256'] as const) {
      const { privateKey } = await generateKeyPair(alg);
      const forged = await new SignJWT(validClaims()).setProtectedHeader({ alg, typ: 'JWT', kid }).sign(privateKey);
      expect((await refusal(forged)).code).toBe('token.alg_not_allowed');
    }
  });

  it('forged with a new Ed25519 key: under our kid, and under its own kid', async () => {
    const kid = readKeyset(keysDir)!.keys[0]!.kid;
    const { privateKey } = await generateKeyPair('EdDSA');
    const underOurKid = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid }).sign(privateKey);
    expect((await refusal(underOurKid)).code).toBe('token.signature_invalid');
    const ownKid = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: 'attacker-key-01' }).sign(privateKey);
    expect((await refusal(ownKid)).code).toBe('token.unknown_kid');
    const noKid = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).sign(privateKey);
    expect((await refusal(noKid)).code).toBe('token.unknown_kid');
  });

  it('a key-bearing header (jwk / jku) is refused, not trusted', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
    const { exportJWK } = await import('jose');
    const kid = readKeyset(keysDir)!.keys[0]!.kid;
    const forged = await new SignJWT(validClaims()).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid, jwk: await exportJWK(publicKey) }).sign(privateKey);
    expect((await refusal(forged)).code).toBe('token.malformed');
  });

  it('tampered header, payload or signature', async () => {
    const [h, p, s] = good.split('.') as [string, string, string];
    // Re-encoded header with the same meaning: only the signature can tell.
    const header = decode(h);
    expect((await refusal(`${b64(JSON.stringify(header, null, 1))}.${p}.${s}`)).code).toBe('token.signature_invalid');
    // Payload change: another run, and a longer expiry.
    const claims = decode(p);
    expect((await refusal(`${h}.${b64({ ...claims, run: 'run-2' })}.${s}`)).code).toBe('token.signature_invalid');
    expect((await refusal(`${h}.${b64({ ...claims, exp: (claims.exp as number) + 3600 })}.${s}`)).code).toBe('token.signature_invalid');
    // Every single-character flip anywhere in the token is refused.
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    for (const index of [0, 5, h.length - 1, h.length + 3, h.length + 1 + Math.floor(p.length / 2), good.length - 40, good.length - 2, good.length - 1]) {
      if (good[index] === '.') continue;
      const tampered = good.slice(0, index) + flip(good[index]!) + good.slice(index + 1);
      const err = await refusal(tampered);
      expect(['token.malformed', 'token.signature_invalid', 'token.alg_not_allowed', 'token.unknown_kid']).toContain(err.code);
    }
  });

  it('the last signature character changed only in its unused bits is refused (canonical base64url)', async () => {
    const [h, p, s] = good.split('.') as [string, string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(s.at(-1)!);
    const sibling = alphabet[last ^ 1]!; // same top bits, differs in a padding bit
    const tampered = `${h}.${p}.${s.slice(0, -1)}${sibling}`;
    expect(Buffer.from(tampered.split('.')[2]!, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    expect((await refusal(tampered)).code).toBe('token.malformed');
  });

  it('a token from another deployment, and a payload re-signed with its key', async () => {
    const other = await mintRunToken({ keysDir: otherKeysDir, policy: POLICY, run: 'run-1', subject: 'alice', now: T0 });
    const err = await refusal(other.token);
    expect(err.code).toBe('token.other_deployment');
    expect(err.message).toContain('another hoopq deployment');
    // Attacker with the other deployment's private key changes our payload and re-signs it under our kid.
    const otherKid = readKeyset(otherKeysDir)!.keys[0]!.kid;
    const otherKey = await importPKCS8(fs.readFileSync(privateKeyPath(otherKeysDir, otherKid), 'utf8'), 'EdDSA');
    const ourKid = readKeyset(keysDir)!.keys[0]!.kid;
    const claims = { ...decode(good.split('.')[1]!), run: 'run-evil' };
    const resigned = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: ourKid }).sign(otherKey);
    expect((await refusal(resigned)).code).toBe('token.signature_invalid');
    const resignedOwnKid = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: otherKid }).sign(otherKey);
    expect((await refusal(resignedOwnKid)).code).toBe('token.unknown_kid');
  });

  it('wrong issuer, wrong audience, missing claims, over-long TTL (signed with our own key)', async () => {
    // Control: the same construction with valid claims is accepted, so each refusal below is the claim's doing.
    await expect(verify(await signWithOurKey(validClaims()))).resolves.toMatchObject({ run: 'run-1', tokenId: 'forged-token-id' });
    expect((await refusal(await signWithOurKey(validClaims({ iss: 'hoopq:someone-else' })))).code).toBe('token.issuer');
    expect((await refusal(await signWithOurKey(validClaims({ iss: undefined })))).code).toBe('token.issuer');
    expect((await refusal(await signWithOurKey(validClaims({ aud: 'bigquery' })))).code).toBe('token.audience');
    for (const claim of ['run', 'pol', 'pol_sha256', 'jti', 'sub', 'exp', 'iat']) {
      const err = await refusal(await signWithOurKey(validClaims({ [claim]: undefined })));
      expect(err.code).toBe('token.claims_missing');
      expect(err.message).toContain(claim);
    }
    expect((await refusal(await signWithOurKey(validClaims({ run: 42 })))).code).toBe('token.claims_missing');
    expect((await refusal(await signWithOurKey(validClaims({ max_queries: -1 })))).code).toBe('token.claims_missing');
    expect((await refusal(await signWithOurKey(validClaims({ exp: T0s + 43_201 })))).code).toBe('token.ttl_too_long');
  });

  it('expired: 31 s past exp is refused, 29 s is within the skew', async () => {
    const { token } = await mintRunToken({ keysDir, policy: POLICY, run: 'run-exp', subject: 'a', ttlSeconds: 60, now: T0 });
    await expect(verify(token, at(60 + 29))).resolves.toMatchObject({ run: 'run-exp' });
    const err = await refusal(token, at(60 + 31));
    expect(err.code).toBe('token.expired');
    expect(err.message).toContain('30s');
    // A caller cannot widen the skew past 30 s.
    await expect(verifyRunToken(token, { keysDir, state, now: at(60 + 31), clockSkewSeconds: 3600 })).rejects.toMatchObject({ code: 'token.expired' });
  });

  it('not yet valid: nbf 31 s ahead refused, 29 s ahead accepted', async () => {
    const { token } = await mintRunToken({ keysDir, policy: POLICY, run: 'run-nbf', subject: 'a', now: at(1000) });
    expect((await refusal(token, at(1000 - 31))).code).toBe('token.not_yet_valid');
    await expect(verify(token, at(1000 - 29))).resolves.toMatchObject({ run: 'run-nbf' });
  });

  it('revoked by token id and by run; other runs keep working', async () => {
    const byId = await mintRunToken({ keysDir, policy: POLICY, run: 'run-rev-a', subject: 'a', now: T0, state });
    const sibling = await mintRunToken({ keysDir, policy: POLICY, run: 'run-rev-a', subject: 'a', now: T0, state });
    state.revokeToken(byId.identity.tokenId, 'leaked');
    const err = await refusal(byId.token);
    expect(err.code).toBe('token.revoked');
    expect(err.message).toContain('leaked');
    await expect(verify(sibling.token)).resolves.toMatchObject({ run: 'run-rev-a' });

    const byRun = await mintRunToken({ keysDir, policy: POLICY, run: 'run-rev-b', subject: 'a', now: T0, state });
    state.revokeRun('run-rev-b');
    expect((await refusal(byRun.token)).code).toBe('token.revoked');
    // A revoked run stays revoked: no new token for it.
    await expect(mintRunToken({ keysDir, policy: POLICY, run: 'run-rev-b', subject: 'a', now: T0, state })).rejects.toMatchObject({ code: 'token.revoked', exitCode: 4 });
    // A fresh valid token keeps working.
    const fresh = await mintRunToken({ keysDir, policy: POLICY, run: 'run-rev-c', subject: 'a', now: T0, state });
    await expect(verify(fresh.token)).resolves.toMatchObject({ run: 'run-rev-c' });
  });
});

describe('checkTokenPolicy', () => {
  it('refuses an unknown policy and reports both digests', async () => {
    const identity = await verify(good);
    expect(() => checkTokenPolicy(identity, undefined)).toThrow(expect.objectContaining({ code: 'token.unknown_policy', exitCode: 4 }));
    expect(() => checkTokenPolicy(identity, { name: 'other', sha256: POLICY.sha256 })).toThrow(AuthError);
    expect(checkTokenPolicy(identity, POLICY)).toEqual({ tokenSha256: POLICY.sha256, appliedSha256: POLICY.sha256, matches: true });
    expect(checkTokenPolicy(identity, { name: 'analyst', sha256: 'b'.repeat(64) })).toMatchObject({ matches: false, appliedSha256: 'b'.repeat(64) });
  });
});
