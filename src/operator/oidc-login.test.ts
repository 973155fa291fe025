/**
 * Operator login through OIDC against the fake provider of test/fakes/oidc-issuer.ts, over
 * real HTTP: the happy path, and every way a provider, a network attacker or a replayed
 * login can try to name someone an operator. Each refusal must carry its own code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOidcIssuer, type FakeOidcIssuer, type IssueOptions } from '../../test/fakes/oidc-issuer.js';
import { isHoopqError } from '../errors.js';
import { OidcLogin, type LoginStart } from './oidc-login.js';

const REDIRECT = 'http://127.0.0.1:8470/console/oidc/callback';
let idp: FakeOidcIssuer;
let login: OidcLogin;

beforeAll(async () => {
  idp = await startFakeOidcIssuer();
  login = new OidcLogin({ issuer: idp.issuer, clientId: 'hoopq-console', nameClaim: 'email', allow: ['*@example.com'] });
});
afterAll(async () => {
  await idp.close();
});

/** The browser's part: the provider's sign-in form, as `who`; returns the code it sends back. */
async function signInAt(start: LoginStart, who: string, overrides: Record<string, string> = {}): Promise<string> {
  const q = new URL(start.url).searchParams;
  const form = new URLSearchParams({ login: who, ...Object.fromEntries(['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'code_challenge_method'].map((k) => [k, q.get(k) ?? ''])), ...overrides });
  const res = await fetch(new URL('/authorize', idp.issuer), { method: 'POST', body: form, redirect: 'manual' });
  const back = new URL(res.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe(start.state);
  return back.searchParams.get('code')!;
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return await p;
  } catch (err) {
    if (isHoopqError(err)) return err.code;
    throw err;
  }
}

describe('OidcLogin', () => {
  it('sends the browser with PKCE (S256), state and nonce, and names the operator by the email claim', async () => {
    const start = await login.start(REDIRECT);
    const q = new URL(start.url).searchParams;
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).not.toBe(start.verifier);
    expect(q.get('redirect_uri')).toBe(REDIRECT);
    expect(q.get('nonce')).toBe(start.nonce);
    const code = await signInAt(start, 'alice');
    expect(await login.finish(code, start, REDIRECT)).toEqual({ name: 'alice@example.com', auth: 'oidc' });
  });

  const tampered: Array<[string, { claims?: Record<string, unknown>; options?: IssueOptions }, string]> = [
    ['signed with a key the provider never published', { options: { signWith: 'foreign' } }, 'oidc.id_token_invalid'],
    ['unsigned (alg none)', { options: { unsigned: true } }, 'oidc.id_token_invalid'],
    ['for another client (aud)', { options: { aud: 'another-app' } }, 'oidc.id_token_invalid'],
    ['from another issuer (iss)', { options: { iss: 'https://evil.example' } }, 'oidc.id_token_invalid'],
    ['expired', { options: { exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 900 } }, 'oidc.id_token_invalid'],
    ['issued for another login (nonce)', { claims: { nonce: 'someone-elses-nonce' } }, 'oidc.nonce'],
    ['without a nonce', { options: { omit: ['nonce'] } }, 'oidc.nonce'],
    ['with an unverified email', { claims: { email_verified: false } }, 'oidc.email_unverified'],
    ['naming someone outside operators.oidc.allow', { claims: { email: 'mallory@evil.example' } }, 'oidc.not_an_operator'],
    ['naming a look-alike domain', { claims: { email: 'mallory@example.com.evil.example' } }, 'oidc.not_an_operator'],
    ['with markup in the name', { claims: { email: '<b>x</b>@example.com' } }, 'oidc.name_claim'],
    ['without the name claim', { options: { omit: ['email'] } }, 'oidc.name_claim'],
  ];
  it.each(tampered)('refuses an ID token %s', async (_what, tamper, code) => {
    const start = await login.start(REDIRECT);
    const c = await signInAt(start, 'alice');
    idp.tamperNextLogin(tamper);
    expect(await outcome(login.finish(c, start, REDIRECT))).toBe(code);
  });

  it('refuses a code without its PKCE verifier, a code used twice, and a code for another redirect', async () => {
    const start = await login.start(REDIRECT);
    const stolen = await signInAt(start, 'alice');
    expect(await outcome(login.finish(stolen, { nonce: start.nonce, verifier: 'an-attackers-guess' }, REDIRECT))).toBe('oidc.code_refused');
    const code = await signInAt(start, 'alice');
    expect(await outcome(login.finish(code, start, REDIRECT))).toEqual({ name: 'alice@example.com', auth: 'oidc' });
    expect(await outcome(login.finish(code, start, REDIRECT))).toBe('oidc.code_refused');
    const elsewhere = await signInAt(start, 'alice', { redirect_uri: 'http://127.0.0.1:9999/steal' });
    expect(await outcome(login.finish(elsewhere, start, REDIRECT))).toBe('oidc.code_refused');
  });
});
