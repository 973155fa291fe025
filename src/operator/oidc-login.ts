/**
 * Operator login through an OIDC provider: the authorization code flow with PKCE (S256),
 * `state` and `nonce`, for the console.
 * Input: the deployment's `operators.oidc` settings; for `finish`, the code the provider sent
 * back and the secrets `start` made. Output: a named Operator, or an AuthError saying which
 * check failed.
 * Invariants: discovery's `issuer` must equal the configured issuer exactly and every
 * endpoint must be https (http only for a loopback issuer, as tests use); the ID token must
 * verify against the provider's JWKS with an asymmetric algorithm, name this console's client
 * as audience, carry the nonce of this login and not be expired; the operator's name comes
 * from one configured claim and must match `allow`; an email claim must not be marked
 * unverified. No token from the provider is stored or logged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AuthError, ConfigError } from '../errors.js';
import type { Operator } from './operator.js';
import { isOperatorAllowed, OPERATOR_NAME_PATTERN, type OidcLoginConfig } from './operators-config.js';

interface Provider {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  keys: JWTVerifyGetKey;
  fetchedAt: number;
}

export interface LoginStart {
  url: string;
  state: string;
  nonce: string;
  verifier: string;
}

const DISCOVERY_MAX_AGE_MS = 10 * 60_000;
const TIMEOUT_MS = 5_000;

export class OidcLogin {
  private provider: Provider | undefined;

  constructor(private readonly config: OidcLoginConfig) {}

  /** Where to send the browser, and the secrets to keep (server side) until it comes back. */
  async start(redirectUri: string): Promise<LoginStart> {
    const provider = await this.discover();
    const state = random();
    const nonce = random();
    const verifier = random();
    const url = new URL(provider.authorizationEndpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.config.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('scope', 'openid email profile');
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
    return { url: url.toString(), state, nonce, verifier };
  }

  /** Trades the code for an ID token and checks it; returns the operator it names. */
  async finish(code: string, login: Pick<LoginStart, 'nonce' | 'verifier'>, redirectUri: string): Promise<Operator> {
    const provider = await this.discover();
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: this.config.clientId, code_verifier: login.verifier });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const secret = this.clientSecret();
    if (secret !== undefined) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(this.config.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    let idToken: unknown;
    try {
      const res = await fetch(provider.tokenEndpoint, { method: 'POST', headers, body: form, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
      const json = (await res.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown };
      if (!res.ok) throw refuse('oidc.code_refused', `the provider refused the login code (HTTP ${res.status}${typeof json.error === 'string' ? `, ${json.error.slice(0, 100)}` : ''})`);
      idToken = json.id_token;
    } catch (err) {
      if (err instanceof AuthError) throw err;
      throw refuse('oidc.unreachable', `the provider's token endpoint could not be reached (${(err as Error).name})`);
    }
    if (typeof idToken !== 'string') throw refuse('oidc.no_id_token', 'the provider answered without an ID token');
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(idToken, provider.keys, {
        issuer: this.config.issuer,
        audience: this.config.clientId,
        algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'],
        clockTolerance: 30,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (err) {
      throw refuse('oidc.id_token_invalid', `the ID token does not verify (${(err as { code?: string }).code ?? (err as Error).name})`);
    }
    if (claims.nonce !== login.nonce) throw refuse('oidc.nonce', 'the ID token was not issued for this login (nonce)');
    const name = claims[this.config.nameClaim];
    if (typeof name !== 'string' || !OPERATOR_NAME_PATTERN.test(name)) throw refuse('oidc.name_claim', `the ID token has no usable "${this.config.nameClaim}" claim to name the operator`);
    if (this.config.nameClaim === 'email' && claims.email_verified === false) throw refuse('oidc.email_unverified', `the provider says ${name} is not verified`);
    if (!isOperatorAllowed(name, this.config.allow)) throw refuse('oidc.not_an_operator', `${name} is not an operator of this deployment (operators.oidc.allow)`);
    return { name, auth: 'oidc' };
  }

  private clientSecret(): string | undefined {
    if (!this.config.clientSecretFile) return undefined;
    try {
      return readFileSync(this.config.clientSecretFile, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('config.oidc_secret', `cannot read operators.oidc.client_secret_file ${this.config.clientSecretFile} (${(err as NodeJS.ErrnoException).code ?? err})`, { rule: 'operators.oidc' });
    }
  }

  private async discover(): Promise<Provider> {
    if (this.provider && Date.now() - this.provider.fetchedAt < DISCOVERY_MAX_AGE_MS) return this.provider;
    const issuer = this.config.issuer;
    checkEndpoint(issuer, issuer, 'issuer');
    let doc: Record<string, unknown>;
    try {
      const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError('config.oidc_discovery', `cannot read the OIDC discovery document of ${issuer} (${(err as Error).message})`, { rule: 'operators.oidc', hint: 'check operators.oidc.issuer in hoopq.yaml' });
    }
    if (doc.issuer !== issuer) throw new ConfigError('config.oidc_discovery', `the discovery document of ${issuer} names another issuer (${String(doc.issuer).slice(0, 200)})`, { rule: 'operators.oidc' });
    const endpoint = (key: string) => {
      const v = doc[key];
      if (typeof v !== 'string') throw new ConfigError('config.oidc_discovery', `the discovery document of ${issuer} has no ${key}`, { rule: 'operators.oidc' });
      checkEndpoint(v, issuer, key);
      return v;
    };
    this.provider = {
      authorizationEndpoint: endpoint('authorization_endpoint'),
      tokenEndpoint: endpoint('token_endpoint'),
      keys: createRemoteJWKSet(new URL(endpoint('jwks_uri')), { timeoutDuration: TIMEOUT_MS }),
      fetchedAt: Date.now(),
    };
    return this.provider;
  }
}

function checkEndpoint(url: string, issuer: string, what: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('config.oidc_discovery', `the OIDC ${what} ${url.slice(0, 200)} is not a URL`, { rule: 'operators.oidc' });
  }
  const loopbackIssuer = ['127.0.0.1', '[::1]', 'localhost'].includes(new URL(issuer).hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopbackIssuer)) {
    throw new ConfigError('config.oidc_discovery', `refused the OIDC ${what} ${u.origin}: only https is used (http only for a provider on loopback)`, { rule: 'operators.oidc' });
  }
}

function refuse(code: string, message: string): AuthError {
  return new AuthError(code, `operator login refused: ${message}`, { rule: 'operators.oidc', hint: 'log in again; the operator who runs the gateway can check operators.oidc in hoopq.yaml' });
}

function random(): string {
  return randomBytes(32).toString('base64url');
}
