/**
 * The Bearer credential of a BigQuery API call -> the run token the pipeline verifies.
 *
 * - A hoopq run token (EdDSA, this deployment's keys) is used as it is.
 * - A Google-issued ID token (or any OIDC ID token, RS256/ES256) is exchanged for a run token
 *   by the same rules as `hoopq token exchange` (oidc-exchange.ts): its issuer must be named
 *   by a policy's `identity:` rules, its signature must verify against the issuer's published
 *   keys, its `aud` must be the rule's audience and its claims must match the rule. Clients
 *   that only know Google auth (a service account's ID token for the gateway's audience) so
 *   reach the gateway without holding a hoopq secret.
 * Invariants: the policy is the one policy whose rules accept the token, or the one named by
 * `X-Hoopq-Policy`; when several would, the call is refused rather than guessed. The run is
 * the CI provider's run id when the token carries one, else one run per ID token (issuer,
 * subject and issue time), so a client's jobs stay together while it uses one ID token. The
 * minted run token never outlives the ID token, and is kept (by the ID token's digest) only
 * until then, so each ID token is exchanged, and recorded as `token.exchange`, once.
 */
import { createHash } from 'node:crypto';
import { AuthError, isHoopqError } from '../../errors.js';
import { exchangeOidcToken, runIdFromClaims, type OidcExchangeResult } from '../../identity/oidc-exchange.js';
import { newAuditBody } from '../../pipeline/audit-body.js';
import type { Policy } from '../../policy/policy.js';
import type { Gateway, RequestContext } from '../gateway-context.js';

export const POLICY_HEADER = 'x-hoopq-policy';
const MAX_CACHED = 1_000;
/** A run token minted from an ID token lives at most this long (and never past the ID token). */
const MAX_TTL_SECONDS = 3_600;

interface Exchanged {
  token: string;
  expiresAt: number; // ms
}

const exchanged = new WeakMap<Gateway, Map<string, Exchanged>>();

export async function resolveBearer(gateway: Gateway, ctx: RequestContext, bearer: string | undefined): Promise<string | undefined> {
  if (bearer === undefined) return undefined;
  const header = decodePart(bearer.split('.')[0]);
  const alg = header?.alg;
  if (alg !== 'RS256' && alg !== 'ES256') return bearer; // a run token, or garbage the verifier refuses
  const cache = exchanged.get(gateway) ?? new Map<string, Exchanged>();
  exchanged.set(gateway, cache);
  const key = createHash('sha256').update(bearer).digest('hex');
  const now = gateway.parts.now().getTime();
  const hit = cache.get(key);
  if (hit && hit.expiresAt > now) return hit.token;
  const minted = await exchange(gateway, ctx, bearer, now);
  for (const [k, v] of cache) if (v.expiresAt <= now || cache.size >= MAX_CACHED) cache.delete(k);
  cache.set(key, { token: minted.token, expiresAt: minted.identity.expiresAt * 1000 });
  return minted.token;
}

async function exchange(gateway: Gateway, ctx: RequestContext, idToken: string, now: number): Promise<OidcExchangeResult> {
  const claims = decodePart(idToken.split('.')[1]) ?? {};
  const issuer = typeof claims.iss === 'string' ? claims.iss : undefined;
  const candidates = candidatePolicies(gateway, ctx, issuer);
  const exp = typeof claims.exp === 'number' ? claims.exp : 0;
  const ttlSeconds = Math.max(1, Math.min(MAX_TTL_SECONDS, Math.floor(exp - now / 1000)));
  const sink = await gateway.parts.audit();
  const accepted: OidcExchangeResult[] = [];
  let refusal: unknown;
  for (const policy of candidates) {
    try {
      accepted.push(
        await exchangeOidcToken({
          oidcToken: idToken,
          policy,
          // the deployment's audience, never the caller's; runs are namespaced oidc:<issuer>/
          deploymentAudience: gateway.oidcAudience,
          keysDir: gateway.config.keysDir,
          state: gateway.state(),
          ttlSeconds,
          keyCache: gateway.oidcKeys,
          now: gateway.parts.now(),
          runIdOf: runOfIdToken,
        }),
      );
    } catch (err) {
      if (!isHoopqError(err) || !(err instanceof AuthError)) throw err;
      refusal ??= err;
    }
    if (accepted.length > 1) break;
  }
  const record = newAuditBody('token.exchange', gateway.parts.now(), { via: 'bigquery-api', src_endpoint: ctx.remote, issuer: issuer ?? null });
  let error: AuthError | undefined;
  if (accepted.length === 0) {
    error =
      (refusal as AuthError | undefined) ??
      new AuthError('oidc.issuer_not_allowed', `OIDC token refused: issuer ${JSON.stringify(issuer ?? null)} is not named by any policy's identity rules`, {
        rule: 'identity',
        hint: 'use a hoopq run token, or ask the operator to add an identity rule for this issuer to a policy',
      });
  } else if (accepted.length > 1) {
    error = new AuthError('oidc.policy_ambiguous', 'OIDC token refused: the identity rules of more than one policy accept it', {
      rule: 'identity',
      hint: `name the policy with the ${POLICY_HEADER} header`,
    });
  }
  if (error) {
    // recorded by the error handler, rate-limited per address (the caller is not authenticated)
    ctx.recordFields = { event: 'token.exchange', via: 'bigquery-api', issuer: issuer ?? null } as Partial<typeof record>;
    throw error;
  }
  const minted = accepted[0]!;
  Object.assign(record, { run: minted.identity.run, subject: minted.identity.subject, token_id: minted.identity.tokenId });
  record.policy = { name: minted.identity.policy, sha256: minted.identity.policySha256, token_sha256: minted.identity.policySha256 };
  await sink.append(record);
  return minted;
}

function candidatePolicies(gateway: Gateway, ctx: RequestContext, issuer: string | undefined): Policy[] {
  const named = ctx.req.headers[POLICY_HEADER];
  const names = typeof named === 'string' && named !== '' ? [named] : gateway.parts.policies.names();
  return names.map((n) => gateway.parts.policies.get(n)).filter((p): p is Policy => p !== undefined && p.identity.some((rule) => rule.issuer === issuer));
}

/** A CI provider's run id when the token has one; else one run per ID token. */
function runOfIdToken(claims: Record<string, unknown>): string {
  try {
    return runIdFromClaims(claims);
  } catch {
    const digest = createHash('sha256').update(`${String(claims.iss)}\n${String(claims.sub)}\n${String(claims.iat)}`).digest('hex');
    return `oidc-${digest.slice(0, 24)}`;
  }
}

function decodePart(part: string | undefined): Record<string, unknown> | undefined {
  if (!part || !/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
