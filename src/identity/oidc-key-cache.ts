/**
 * Signing keys of OIDC issuers, found by discovery and cached.
 *
 * Input: an issuer the caller has already checked against the policies, a `kid`, an alg.
 * Output: the issuer's public key for that kid, or an AuthError naming what failed.
 * Invariants: discovery is `${iss}/.well-known/openid-configuration` and its `issuer` must
 * equal iss exactly; only https (http for loopback issuers, used by tests) is fetched, with
 * no redirects, a timeout and a size cap; an unknown kid triggers at most one refetch per
 * issuer per cooldown, so random kids cannot turn hoopq into a request amplifier.
 */
import { importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { AuthError } from '../errors.js';

export type FetchLike = (url: string, init?: { signal?: AbortSignal; redirect?: 'error'; headers?: Record<string, string> }) => Promise<{
  ok: boolean;
  status: number;
  text(): Promise<string>;
}>;

export interface OidcKeyCacheOptions {
  fetchImpl?: FetchLike;
  /** Minimum time between refetches for an unknown kid. Default 30 s. */
  refetchCooldownMs?: number;
  /** Keys are refetched after this even when the kid is known. Default 10 min. */
  maxAgeMs?: number;
  timeoutMs?: number;
}

interface IssuerKeys {
  jwksUri: string;
  keys: JWK[];
  fetchedAtMs: number;
}

const MAX_DOCUMENT_BYTES = 512 * 1024;

export class OidcKeyCache {
  private readonly entries = new Map<string, IssuerKeys>();
  private readonly fetchImpl: FetchLike;
  private readonly refetchCooldownMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  /** Requests made, for tests and metrics. */
  fetches = 0;

  constructor(options: OidcKeyCacheOptions = {}) {
    this.fetchImpl = options.fetchImpl ?? (globalThis.fetch as unknown as FetchLike);
    this.refetchCooldownMs = options.refetchCooldownMs ?? 30_000;
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async getKey(issuer: string, kid: string | undefined, alg: 'RS256' | 'ES256', nowMs: number = Date.now()): Promise<CryptoKey> {
    let entry = this.entries.get(issuer);
    if (!entry || nowMs - entry.fetchedAtMs >= this.maxAgeMs) {
      entry = await this.refresh(issuer, nowMs);
    }
    let jwk = pickKey(entry.keys, kid, alg);
    if (!jwk && nowMs - entry.fetchedAtMs >= this.refetchCooldownMs) {
      // Unknown kid: the issuer may have rotated its keys since we cached them.
      entry = await this.refresh(issuer, nowMs);
      jwk = pickKey(entry.keys, kid, alg);
    }
    if (!jwk) {
      throw refuse('oidc.unknown_kid', `the OIDC token's key ${kid === undefined ? '(no kid)' : JSON.stringify(kid)} is not in ${issuer}'s published ${alg} keys`, 'use a fresh ID token from the CI provider; if it rotated keys seconds ago, retry in 30 s');
    }
    try {
      return (await importJWK(jwk, alg)) as CryptoKey;
    } catch {
      throw refuse('oidc.jwks_invalid', `${issuer}'s key ${JSON.stringify(kid)} could not be imported as ${alg}`, 'ask the operator to check the issuer');
    }
  }

  private async refresh(issuer: string, nowMs: number): Promise<IssuerKeys> {
    const discoveryUrl = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const discovery = await this.fetchJson(discoveryUrl, 'oidc.discovery_failed');
    if (discovery.issuer !== issuer) {
      throw refuse('oidc.discovery_issuer_mismatch', `the discovery document at ${discoveryUrl} names issuer ${JSON.stringify(discovery.issuer)}, not ${issuer}`, 'the token\'s issuer must serve its own discovery document');
    }
    const jwksUri = discovery.jwks_uri;
    if (typeof jwksUri !== 'string' || !isFetchableUrl(jwksUri)) {
      throw refuse('oidc.discovery_failed', `the discovery document of ${issuer} has no usable https jwks_uri`, 'ask the operator to check the issuer');
    }
    const jwks = await this.fetchJson(jwksUri, 'oidc.jwks_failed');
    if (!Array.isArray(jwks.keys)) throw refuse('oidc.jwks_failed', `${jwksUri} is not a JWK set`, 'ask the operator to check the issuer');
    const entry = { jwksUri, keys: jwks.keys.filter((key): key is JWK => key !== null && typeof key === 'object'), fetchedAtMs: nowMs };
    this.entries.set(issuer, entry);
    return entry;
  }

  private async fetchJson(url: string, code: string): Promise<Record<string, unknown>> {
    if (!isFetchableUrl(url)) throw refuse(code, `refused to fetch ${url}: only https URLs (or http on loopback) are fetched`, 'OIDC issuers must use https');
    this.fetches += 1;
    let text: string;
    try {
      const response = await this.fetchImpl(url, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      text = await response.text();
    } catch (err) {
      throw refuse(code, `could not fetch ${url}: ${(err as Error).message}`, 'retry later; if it persists the operator must check the issuer and the network');
    }
    if (text.length > MAX_DOCUMENT_BYTES) throw refuse(code, `${url} returned more than ${MAX_DOCUMENT_BYTES} bytes`, 'ask the operator to check the issuer');
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      /* fall through */
    }
    throw refuse(code, `${url} did not return a JSON object`, 'ask the operator to check the issuer');
  }
}

/** https anywhere; plain http only on loopback, where the traffic never leaves the machine. */
export function isFetchableUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  if (parsed.protocol === 'https:') return true;
  return parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
}

function pickKey(keys: JWK[], kid: string | undefined, alg: 'RS256' | 'ES256'): JWK | undefined {
  const kty = alg === 'RS256' ? 'RSA' : 'EC';
  const usable = keys.filter(
    (key) =>
      key.kty === kty &&
      (key.use === undefined || key.use === 'sig') &&
      (key.alg === undefined || key.alg === alg) &&
      (alg !== 'ES256' || key.crv === 'P-256'),
  );
  if (kid !== undefined) return usable.find((key) => key.kid === kid);
  // No kid in the header: acceptable only when the choice is unambiguous.
  return usable.length === 1 ? usable[0] : undefined;
}

function refuse(code: string, why: string, hint: string): AuthError {
  return new AuthError(code, `OIDC token refused: ${why}`, { rule: code, hint });
}
