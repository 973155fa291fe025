/**
 * Keyless CI exchange: an OIDC ID token from a CI provider in, a run token out.
 *
 * Input: the ID token as received, the policy asked for, the deployment's keys and state.
 * Output: a run token for that policy, whose run comes from the claims (GitHub Actions
 * `run_id`-`run_attempt`, GitLab `pipeline_id`, else `jti`), namespaced by the issuer
 * (`oidc:<issuer host and path>/<run>`, a prefix operators cannot mint), and whose subject is
 * `<iss>#<sub>`; the token's claims are recorded in the state store.
 * Invariants, in order: an issuer the policy's `identity` rules do not name is refused before
 * any network call; only RS256/ES256; the signature is checked against the issuer's
 * discovered JWKS; `aud` must include the expected audience, which comes from the deployment
 * (the rule's `audience`, else hoopq.yaml's `oidc.audience`, else the gateway's own URL) and
 * never from the request; exp/nbf/iat hold within 30 s; every claim a rule lists must match.
 * Every refusal is an AuthError (exit 4) naming the check, and names no policy or issuer the
 * caller did not send; a deployment with no audience to expect is a ConfigError (exit 3).
 */
import { compactVerify } from 'jose';
import { createHash } from 'node:crypto';
import { AuthError, ConfigError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { matchIdentityRule } from './identity-rule-match.js';
import { isFetchableUrl, OidcKeyCache } from './oidc-key-cache.js';
import type { FetchLike } from './oidc-key-cache.js';
import { mintRunToken } from './run-token.js';
import type { MintedRunToken } from './run-token.js';
import { CLOCK_SKEW_SECONDS } from './signing-keys.js';
import type { StateStore } from './state-store.js';

/** Runs from an exchange start with this; `token mint` refuses it, so the two never share a run. */
export const EXCHANGED_RUN_PREFIX = 'oidc:';
const OIDC_ALGORITHMS = ['RS256', 'ES256'] as const;
type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];
const MAX_OIDC_TOKEN_LENGTH = 16_384;
const RUN_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ExchangeOidcTokenInput {
  oidcToken: string | undefined;
  policy: Policy;
  /**
   * The deployment's expected `aud` when the matching rule names none: hoopq.yaml's
   * `oidc.audience`, else (in a gateway) the gateway's own URL. Never the caller's choice.
   */
  deploymentAudience: string | undefined;
  /** An audience the caller named (old clients): refused unless it is the deployment's own. */
  requestedAudience?: string;
  keysDir: string;
  state: StateStore;
  ttlSeconds?: number;
  /** Used when no `keyCache` is given. */
  fetchImpl?: FetchLike;
  /** Share one across exchanges (the gateway) so JWKS are cached; default: a fresh one. */
  keyCache?: OidcKeyCache;
  now?: Date;
  /** The run id from the verified claims; default runIdFromClaims (CI providers' run ids). */
  runIdOf?: (claims: Record<string, unknown>) => string;
}

export interface OidcExchangeResult extends MintedRunToken {
  issuer: string;
  /** The `sub` claim of the ID token. */
  oidcSubject: string;
  /** Index of the policy's `identity` rule that matched. */
  ruleIndex: number;
}

export async function exchangeOidcToken(input: ExchangeOidcTokenInput): Promise<OidcExchangeResult> {
  const now = input.now ?? new Date();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const compact = typeof input.oidcToken === 'string' ? input.oidcToken.trim() : '';
  if (compact.length === 0) throw refuse('oidc.missing', 'no OIDC token was given', 'pass the CI provider\'s ID token with --oidc-token or --oidc-token-file');
  if (compact.length > MAX_OIDC_TOKEN_LENGTH) throw malformed(`it is longer than ${MAX_OIDC_TOKEN_LENGTH} characters`);
  const parts = compact.split('.');
  if (parts.length !== 3) throw malformed(`it has ${parts.length} dot-separated parts instead of 3`);
  const header = decodeJsonPart(parts[0]!, 'header');
  const unverified = decodeJsonPart(parts[1]!, 'payload');

  const alg = header.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') throw refuse('oidc.alg_none', 'the ID token is unsigned (alg "none")', 'use the ID token exactly as the CI provider issued it');
  if (!OIDC_ALGORITHMS.includes(alg as OidcAlgorithm)) {
    throw refuse('oidc.alg_not_allowed', `the ID token's algorithm ${JSON.stringify(alg)} is not allowed; only ${OIDC_ALGORITHMS.join(', ')} are`, 'use the ID token exactly as the CI provider issued it');
  }
  for (const field of ['jku', 'jwk', 'x5u', 'x5c', 'crit']) {
    // Keys come from the issuer's discovery only, never from the token itself.
    if (field in header) throw malformed(`unexpected header field "${field}"`);
  }
  if (header.kid !== undefined && typeof header.kid !== 'string') throw malformed('header kid is not a string');

  // The issuer gate comes before any network call: hoopq never fetches from a URL an
  // unauthenticated token chose unless a policy already names that issuer.
  const issuer = unverified.iss;
  const rules = input.policy.identity.map((rule, index) => ({ rule, index })).filter(({ rule }) => typeof issuer === 'string' && rule.issuer === issuer);
  if (typeof issuer !== 'string' || rules.length === 0) {
    throw refuse('oidc.issuer_not_allowed', `policy ${input.policy.name} accepts no ID token from issuer ${JSON.stringify(issuer ?? null)}`, 'ask the operator which CI provider may exchange tokens for this policy');
  }
  if (!isFetchableUrl(issuer)) {
    throw refuse('oidc.issuer_insecure', `issuer ${issuer} is not an https URL`, 'OIDC issuers must use https');
  }

  const keyCache = input.keyCache ?? new OidcKeyCache({ fetchImpl: input.fetchImpl });
  const key = await keyCache.getKey(issuer, header.kid as string | undefined, alg as OidcAlgorithm, now.getTime());
  let claims: Record<string, unknown>;
  try {
    const { payload } = await compactVerify(compact, key, { algorithms: [alg as string] });
    claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  } catch {
    throw refuse('oidc.signature_invalid', `the ID token's signature does not verify against ${issuer}'s key ${JSON.stringify(header.kid ?? null)}`, 'use the ID token exactly as the CI provider issued it');
  }
  if (claims.iss !== issuer) throw refuse('oidc.issuer_not_allowed', 'the verified issuer differs from the decoded one', 'use the ID token exactly as the CI provider issued it');

  if (!Number.isInteger(claims.exp)) throw refuse('oidc.claims_missing', 'the ID token has no exp claim', 'use an ID token from the CI provider');
  if (!Number.isInteger(claims.iat)) throw refuse('oidc.claims_missing', 'the ID token has no iat claim', 'use an ID token from the CI provider');
  if (nowSeconds - (claims.exp as number) > CLOCK_SKEW_SECONDS) {
    throw refuse('oidc.expired', `the ID token expired at ${iso(claims.exp as number)} (clock skew allowance ${CLOCK_SKEW_SECONDS}s)`, 'request a fresh ID token right before the exchange');
  }
  if (claims.nbf !== undefined && (!Number.isInteger(claims.nbf) || (claims.nbf as number) - nowSeconds > CLOCK_SKEW_SECONDS)) {
    throw refuse('oidc.not_yet_valid', 'the ID token is not valid yet (nbf)', 'check this machine\'s clock');
  }
  if ((claims.iat as number) - nowSeconds > CLOCK_SKEW_SECONDS) {
    throw refuse('oidc.not_yet_valid', 'the ID token was issued in the future (iat)', 'check this machine\'s clock');
  }

  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const expectedOf = (rule: (typeof rules)[number]['rule']): string[] => rule.audience ?? [requireDeploymentAudience(input.deploymentAudience)];
  const audienceRules = rules.filter(({ rule }) => expectedOf(rule).some((expected) => audiences.includes(expected)));
  const expected = [...new Set(rules.flatMap(({ rule }) => expectedOf(rule)))];
  if (input.requestedAudience !== undefined && !expected.includes(input.requestedAudience)) {
    throw refuse('oidc.audience', `the audience is this deployment's, not the caller's: ${JSON.stringify(input.requestedAudience)} is not ${expected.map((a) => JSON.stringify(a)).join(' or ')}`, `leave out the audience; request the ID token with audience ${JSON.stringify(expected[0])}`);
  }
  if (audienceRules.length === 0) {
    throw refuse('oidc.audience', `the ID token's audience ${JSON.stringify(claims.aud ?? null)} is not this deployment's (${expected.map((a) => JSON.stringify(a)).join(' or ')}); a token minted for another service is never accepted`, `request the ID token with audience ${JSON.stringify(expected[0])} (GitHub: core.getIDToken('${expected[0]}'); GitLab: id_tokens aud)`);
  }

  const failures: string[] = [];
  const matched = audienceRules.find(({ rule, index }) => {
    const result = matchIdentityRule(rule, claims);
    if (!result.matched) failures.push(`rule ${index + 1}: ${result.why}`);
    return result.matched;
  });
  if (!matched) {
    throw refuse('oidc.claims_mismatch', `the ID token's claims match none of policy ${input.policy.name}'s identity rules for ${issuer} (${failures.join('; ')})`, `ask the operator to add an identity rule for this repository/pipeline to policy ${input.policy.name}`);
  }

  if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 400 || /[\u0000-\u001f\u007f-\u009f]/.test(claims.sub)) throw refuse('oidc.claims_missing', 'the ID token has no usable sub claim', 'use an ID token from the CI provider');
  const run = exchangedRunId(issuer, (input.runIdOf ?? runIdFromClaims)(claims));
  const minted = await mintRunToken({
    keysDir: input.keysDir,
    policy: input.policy,
    run,
    subject: `${issuer}#${claims.sub}`,
    ttlSeconds: input.ttlSeconds,
    now,
    state: input.state,
    exchanged: true,
  });
  return { ...minted, issuer, oidcSubject: claims.sub, ruleIndex: matched.index };
}

/** GitHub Actions: `run_id-run_attempt`; GitLab: `pipeline_id`; otherwise the token's `jti`. */
export function runIdFromClaims(claims: Record<string, unknown>): string {
  const text = (value: unknown) => (typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)) ? String(value) : undefined);
  const runId = text(claims.run_id);
  const attempt = text(claims.run_attempt);
  const pipeline = text(claims.pipeline_id);
  const jti = text(claims.jti);
  const run = runId !== undefined && attempt !== undefined ? `${runId}-${attempt}` : pipeline ?? jti;
  if (run === undefined) {
    throw refuse('oidc.run_unknown', 'the ID token carries no run id (run_id and run_attempt, pipeline_id, or jti)', 'use an ID token from GitHub Actions or GitLab CI, or one with a jti');
  }
  if (!RUN_ID.test(run)) throw refuse('oidc.run_unknown', 'the run id in the ID token has characters that are not allowed', 'use an ID token from the CI provider');
  return run;
}

/**
 * The issuer's namespace for a run from its claims: `oidc:` + host and path + `/` + run. A run
 * from claims has no `/`, so the last `/` separates the two and two issuers never share a
 * run; an issuer whose host or path has characters a run id cannot hold is named by a digest.
 */
export function exchangedRunId(issuer: string, run: string): string {
  const url = new URL(issuer);
  const place = url.host + url.pathname.replace(/\/+$/, '');
  const tag = /^[A-Za-z0-9._:@/+=-]{1,120}$/.test(place) ? place : `sha256-${createHash('sha256').update(issuer).digest('hex').slice(0, 24)}`;
  return `${EXCHANGED_RUN_PREFIX}${tag}/${run}`;
}

function requireDeploymentAudience(audience: string | undefined): string {
  if (audience) return audience;
  throw new ConfigError('config.oidc_audience', 'no OIDC audience is configured for this deployment, and the audience is never taken from the request', {
    rule: 'config.oidc.audience',
    hint: 'add `oidc: {audience: <the URL agents use for the gateway>}` to hoopq.yaml, or `audience:` to the policy\'s identity rule (a gateway uses its own URL when neither is set)',
  });
}

function decodeJsonPart(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw malformed(`the ${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(part, 'base64url')));
  } catch {
    throw malformed(`the ${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function malformed(why: string): AuthError {
  return refuse('oidc.malformed', `the ID token is malformed: ${why}`, 'pass the ID token exactly as the CI provider issued it');
}

function refuse(code: string, why: string, hint: string): AuthError {
  return new AuthError(code, `OIDC token refused: ${why}`, { rule: code, hint });
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
