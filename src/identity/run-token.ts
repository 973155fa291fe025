/**
 * Run tokens: mint and verify.
 *
 * Input (mint): a policy reference, a run, a subject, a TTL. Output: an EdDSA JWT and the
 * RunIdentity it carries. Input (verify): the token string as received. Output: the
 * RunIdentity, or an AuthError (exit 4) whose `code` names the one check that failed.
 * Invariants: nothing but our own Ed25519 keys, by `kid`, can produce an accepted token; the
 * algorithm is fixed before any key is chosen (no `none`, no HS256-with-the-public-key);
 * clock skew is at most 30 s each way; the token string never appears in an error or log.
 *
 * Token: header {alg: EdDSA, typ: JWT, kid}; claims iss (hoopq:<deployment>), sub, aud
 * (hoopq), jti (token id), iat, nbf, exp, run, pol, pol_sha256 and, when set, max_queries.
 */
import { createHash, randomBytes } from 'node:crypto';
import { compactVerify, SignJWT } from 'jose';
import { AuthError, UsageError } from '../errors.js';
import type { RunIdentity } from './run-identity.js';
import { CLOCK_SKEW_SECONDS, loadSigningKey, loadVerificationKeys, MAX_TOKEN_TTL_SECONDS, type PublicKeyCache } from './signing-keys.js';
import type { StateStore } from './state-store.js';

export { CLOCK_SKEW_SECONDS, MAX_TOKEN_TTL_SECONDS } from './signing-keys.js';

export const RUN_TOKEN_AUDIENCE = 'hoopq';
export const DEFAULT_TOKEN_TTL_SECONDS = 60 * 60;
/** Anything longer is not a token we minted; refuse before decoding. */
const MAX_TOKEN_LENGTH = 8_192;
const ALLOWED_HEADER_FIELDS = new Set(['alg', 'typ', 'kid']);
const SAFE_ID = /^[A-Za-z0-9._:@/+=-]{1,200}$/;

export interface TokenPolicyRef {
  name: string;
  sha256: string;
  /** When given (a loaded Policy), `maxQueries` may only tighten `limits.maxQueries`. */
  limits?: { maxQueries?: number };
}

export interface MintRunTokenInput {
  keysDir: string;
  policy: TokenPolicyRef;
  run: string;
  subject: string;
  /** Default 3600; must be > 0 and <= 43200 (12 h). */
  ttlSeconds?: number;
  maxQueries?: number;
  now?: Date;
  /** When given, the token's claims are recorded (for `token list`) and a revoked run is refused. */
  state?: StateStore;
}

export interface MintedRunToken {
  token: string;
  identity: RunIdentity;
}

export interface VerifyRunTokenOptions {
  keysDir: string;
  /** A long-lived process's imported public keys (re-imported when a key file changes). */
  keyCache?: PublicKeyCache;
  /** A long-lived process's signature results (with keyCache; see VerifiedTokenCache). */
  verified?: VerifiedTokenCache;
  state: Pick<StateStore, 'findRevocation'>;
  now?: Date;
  /** At most 30; larger values are clamped to 30. */
  clockSkewSeconds?: number;
}

/** Mints a run token. Throws UsageError (exit 2) for bad arguments, ConfigError (exit 3) for key problems. */
export async function mintRunToken(input: MintRunTokenInput): Promise<MintedRunToken> {
  const ttl = input.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_TOKEN_TTL_SECONDS) {
    throw new UsageError('token.ttl_invalid', `refused token TTL ${String(ttl)} s: it must be a whole number of seconds above 0 and at most ${MAX_TOKEN_TTL_SECONDS} (12h)`, {
      rule: 'token.ttl',
      hint: 'use --ttl between 1s and 12h (default 1h)',
    });
  }
  requireText(input.run, 'run', SAFE_ID);
  requireText(input.subject, 'subject');
  requireText(input.policy?.name, 'policy name', /^[A-Za-z0-9._-]{1,128}$/);
  if (typeof input.policy.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(input.policy.sha256)) {
    throw new UsageError('token.policy_digest_invalid', 'refused to mint: the policy digest is not a hex SHA-256', { rule: 'token.pol_sha256' });
  }
  if (input.maxQueries !== undefined) {
    if (!Number.isInteger(input.maxQueries) || input.maxQueries <= 0) {
      throw new UsageError('token.max_queries_invalid', `refused --max-queries ${String(input.maxQueries)}: it must be a positive whole number`, {
        rule: 'token.max_queries',
        hint: 'use --max-queries N with N >= 1, or leave it out to use the policy limit',
      });
    }
    const policyLimit = input.policy.limits?.maxQueries;
    if (policyLimit !== undefined && input.maxQueries > policyLimit) {
      throw new UsageError('token.max_queries_looser', `refused --max-queries ${input.maxQueries}: policy ${input.policy.name} allows at most ${policyLimit} queries per run, and a token may only tighten it`, {
        rule: 'limits.max_queries',
        hint: `use --max-queries ${policyLimit} or less`,
      });
    }
  }
  if (input.state?.isRunRevoked(input.run)) {
    throw new AuthError('token.revoked', `refused to mint a token for run ${input.run}: the run has been revoked, and a revoked run stays revoked`, {
      rule: 'token.revoked',
      hint: 'start a new run with a new run id',
    });
  }

  const key = await loadSigningKey(input.keysDir, { now: input.now });
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const identity: RunIdentity = {
    run: input.run,
    subject: input.subject,
    tokenId: randomBytes(16).toString('base64url'),
    policy: input.policy.name,
    policySha256: input.policy.sha256,
    issuedAt: iat,
    expiresAt: iat + ttl,
    ...(input.maxQueries !== undefined ? { maxQueries: input.maxQueries } : {}),
    kid: key.kid,
  };
  const claims: Record<string, unknown> = { run: identity.run, pol: identity.policy, pol_sha256: identity.policySha256 };
  if (identity.maxQueries !== undefined) claims.max_queries = identity.maxQueries;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid })
    .setIssuer(issuerFor(key.deployment))
    .setSubject(identity.subject)
    .setAudience(RUN_TOKEN_AUDIENCE)
    .setJti(identity.tokenId)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(identity.expiresAt)
    .sign(key.privateKey);
  input.state?.recordIssuedToken(identity);
  return { token, identity };
}

/**
 * Verifies a run token. Each refusal is an AuthError (exit 4) with one of the codes
 * token.missing, token.malformed, token.alg_none, token.alg_not_allowed, token.unknown_kid,
 * token.other_deployment, token.signature_invalid, token.issuer, token.audience,
 * token.claims_missing, token.expired, token.not_yet_valid, token.ttl_too_long, token.revoked.
 * A key-permission problem is a ConfigError (exit 3).
 */
export async function verifyRunToken(token: string | undefined, options: VerifyRunTokenOptions): Promise<RunIdentity> {
  const skew = Math.min(Math.max(options.clockSkewSeconds ?? CLOCK_SKEW_SECONDS, 0), CLOCK_SKEW_SECONDS);
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const compact = typeof token === 'string' ? token.trim() : '';
  if (compact.length === 0) throw missingTokenError();
  if (compact.length > MAX_TOKEN_LENGTH) throw malformed(`it is longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = compact.split('.');
  if (parts.length !== 3) throw malformed(`it has ${parts.length} dot-separated parts instead of 3`);
  const header = decodeJsonPart(parts[0]!, 'header');

  // The algorithm is decided here, before any key is looked at: only EdDSA, only our keys.
  const alg = header.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
    throw refuse('token.alg_none', 'the token is unsigned (alg "none")', 'use a token minted by this deployment (alg EdDSA)');
  }
  if (alg !== 'EdDSA') {
    throw refuse('token.alg_not_allowed', `the token's algorithm ${JSON.stringify(alg)} is not allowed; only EdDSA is`, 'use a token minted by this deployment (alg EdDSA)');
  }
  for (const field of Object.keys(header)) {
    // jku/jwk/x5u/crit/b64 would let the token choose its own key or change how it is read.
    if (!ALLOWED_HEADER_FIELDS.has(field)) throw malformed(`unexpected header field "${field}"`);
  }
  if (header.typ !== undefined && header.typ !== 'JWT') throw malformed(`header typ is ${JSON.stringify(header.typ)}, not "JWT"`);
  const unverifiedClaims = decodeJsonPart(parts[1]!, 'payload');
  // Canonical base64url only: otherwise a flipped padding bit in the last character would
  // decode to the same signature and a "tampered" token would still verify.
  if (decodeBase64url(parts[2]!) === undefined) throw malformed('the signature is empty or not canonical base64url');
  const kid = header.kid;
  if (typeof kid !== 'string' || kid.length === 0) {
    throw refuse('token.unknown_kid', 'the token header names no key id (kid)', 'use a token minted by this deployment');
  }

  const keys = await loadVerificationKeys(options.keysDir, { now: options.now, cache: options.keyCache });
  const publicKey = keys?.keys.get(kid);
  if (!publicKey) {
    const claimedIssuer = unverifiedClaims.iss;
    if (keys && typeof claimedIssuer === 'string' && claimedIssuer.startsWith('hoopq:') && claimedIssuer !== issuerFor(keys.deployment)) {
      throw refuse('token.other_deployment', `the token claims to come from another hoopq deployment (${claimedIssuer}) and its key ${kid} is not one of this deployment's keys`, 'use a token minted by this deployment');
    }
    throw refuse('token.unknown_kid', `the token was signed by key ${kid}, which this deployment does not know (never issued, or retired longer than 12h ago)`, 'ask for a fresh token minted by this deployment');
  }
  const digest = options.verified ? createHash('sha256').update(compact).digest('base64url') : '';
  let payloadBytes = options.verified?.lookup(digest, publicKey);
  if (!payloadBytes) {
    try {
      ({ payload: payloadBytes } = await compactVerify(compact, publicKey, { algorithms: ['EdDSA'] }));
    } catch {
      throw refuse('token.signature_invalid', 'the token signature does not verify (the header, payload or signature was altered, or another key signed it)', 'use the token exactly as it was minted');
    }
    options.verified?.remember(digest, publicKey, payloadBytes);
  }
  const claims = JSON.parse(new TextDecoder().decode(payloadBytes)) as Record<string, unknown>;

  if (claims.iss !== issuerFor(keys!.deployment)) {
    throw refuse('token.issuer', `the token's issuer ${JSON.stringify(claims.iss)} is not this deployment (${issuerFor(keys!.deployment)})`, 'use a token minted by this deployment');
  }
  const aud = claims.aud;
  if (!(aud === RUN_TOKEN_AUDIENCE || (Array.isArray(aud) && aud.includes(RUN_TOKEN_AUDIENCE)))) {
    throw refuse('token.audience', `the token's audience is not "${RUN_TOKEN_AUDIENCE}"`, 'use a hoopq run token, not a token meant for another service');
  }
  const missing: string[] = [];
  const text = (name: string) => (typeof claims[name] === 'string' && (claims[name] as string).length > 0 ? (claims[name] as string) : (missing.push(name), ''));
  const seconds = (name: string) => (Number.isInteger(claims[name]) ? (claims[name] as number) : (missing.push(name), 0));
  const identity: RunIdentity = {
    run: text('run'),
    subject: text('sub'),
    tokenId: text('jti'),
    policy: text('pol'),
    policySha256: text('pol_sha256'),
    issuedAt: seconds('iat'),
    expiresAt: seconds('exp'),
    kid,
  };
  const nbf = claims.nbf === undefined ? identity.issuedAt : seconds('nbf');
  if (claims.max_queries !== undefined && claims.max_queries !== null) {
    if (Number.isInteger(claims.max_queries) && (claims.max_queries as number) > 0) identity.maxQueries = claims.max_queries as number;
    else missing.push('max_queries');
  }
  if (missing.length > 0) {
    throw refuse('token.claims_missing', `the token lacks valid required claims: ${missing.join(', ')}`, 'use a token minted by `hoopq token mint` or `hoopq token exchange`');
  }
  if (identity.expiresAt - identity.issuedAt > MAX_TOKEN_TTL_SECONDS) {
    throw refuse('token.ttl_too_long', 'the token is valid for longer than the 12h maximum', 'ask for a token with a TTL of at most 12h');
  }
  if (now - identity.expiresAt > skew) {
    throw refuse('token.expired', `the token expired at ${isoSeconds(identity.expiresAt)} (clock skew allowance ${skew}s)`, 'ask for a fresh token: `hoopq token mint` or `hoopq token exchange`');
  }
  if (nbf - now > skew || identity.issuedAt - now > skew) {
    throw refuse('token.not_yet_valid', `the token is not valid before ${isoSeconds(Math.max(nbf, identity.issuedAt))} (clock skew allowance ${skew}s)`, 'check this machine\'s clock, or wait until the token becomes valid');
  }
  const revocation = options.state.findRevocation(identity);
  if (revocation) {
    const what = revocation.kind === 'run' ? `its run ${identity.run} was revoked` : `token ${identity.tokenId} was revoked`;
    throw refuse('token.revoked', `${what} at ${revocation.revokedAt}${revocation.reason ? ` (${revocation.reason})` : ''}`, revocation.kind === 'run' ? 'a revoked run stays revoked; start a new run with a new run id' : 'ask for a new token');
  }
  return identity;
}

/**
 * Signature results for a long-lived process, where an agent presents the same token for
 * every query: Ed25519 verification is most of a token check's cost. Keyed by the token's
 * SHA-256 (the token itself is not kept). An entry counts only for the very key object that
 * verified it — a key file that changed, or a key retired or pruned from the keyset, means
 * verifying again or refusing — and every other check (header, issuer, audience, claims,
 * expiry, revocation) runs on every call.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { key: CryptoKey; payload: Uint8Array }>();

  constructor(private readonly maxEntries = 4096) {}

  lookup(digest: string, key: CryptoKey): Uint8Array | undefined {
    const hit = this.entries.get(digest);
    return hit && hit.key === key ? hit.payload : undefined;
  }

  remember(digest: string, key: CryptoKey, payload: Uint8Array): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(digest, { key, payload });
  }
}

export function issuerFor(deployment: string): string {
  return `hoopq:${deployment}`;
}

function requireText(value: unknown, what: string, pattern?: RegExp): void {
  // Control characters would forge lines in logs and terminals.
  if (typeof value !== 'string' || value.length === 0 || value.length > 512 || /[\u0000-\u001f\u007f]/.test(value) || (pattern && !pattern.test(value))) {
    throw new UsageError('token.argument_invalid', `refused to mint: the ${what} is empty, too long or contains characters that are not allowed`, {
      rule: `token.${what.replace(/ /g, '_')}`,
      hint: pattern ? `the ${what} must match ${pattern.source}` : `give a non-empty ${what} of printable characters`,
    });
  }
}

function decodeJsonPart(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  const bytes = decodeBase64url(part);
  if (!bytes) throw malformed(`the ${what} is not canonical base64url`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed(`the ${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function decodeBase64url(part: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}

function malformed(why: string): AuthError {
  return refuse('token.malformed', `the token is malformed: ${why}`, 'pass the run token exactly as minted (three base64url parts separated by dots)');
}

/** The refusal of a request that carries no run token (also what a gateway-mode CLI says before asking). */
export function missingTokenError(): AuthError {
  return refuse('token.missing', 'no run token was given', 'pass a run token with --token or $HOOPQ_TOKEN; an operator mints one with `hoopq token mint --policy NAME --run RUN`');
}

function refuse(code: string, why: string, hint: string): AuthError {
  return new AuthError(code, `run token refused: ${why}`, { rule: code, hint });
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
