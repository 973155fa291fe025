/**
 * The run token's lifecycle as pipeline functions: mint, exchange (OIDC ID token -> run
 * token), revoke, inspect, and key rotation. The CLI in direct mode and the gateway's routes
 * both call these, so a token minted, exchanged or revoked either way is checked the same
 * way and leaves the same audit record.
 *
 * Input: the deployment's parts and its state store, who acts (`actor`), and the request.
 * Output: the minted token (returned once, never logged or recorded), or what was revoked.
 * Invariants: every event is an audit record, refusals of an exchange included; a run token
 * revokes only its own run or itself; the SQL sealing key exists before any token goes out
 * (an agent's first parallel queries would otherwise race to create it).
 */
import type { AuditRecordBody } from '../audit/audit-record.js';
import { loadOrCreateSqlSealKey } from '../audit/seal-sql.js';
import { PolicyDeniedError, AuthError, UsageError } from '../errors.js';
import type { OidcKeyCache } from '../identity/oidc-key-cache.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { mintRunToken, type MintedRunToken } from '../identity/run-token.js';
import { rotateSigningKey, type KeyRotation } from '../identity/signing-keys.js';
import { HASH_KEY_FILE, rotateSecretKey, secretKeyBytes } from '../identity/secret-key-file.js';
import { hashKeyFromSecret } from '../masking/hash-key.js';
import { join } from 'node:path';
import type { IssuedToken, StateStore } from '../identity/state-store.js';
import { fillTokenFields, newAuditBody } from './audit-body.js';
import type { PipelineParts } from './pipeline-parts.js';
import { resolveRunPolicy } from './resolve-run-policy.js';

/** The parts the lifecycle needs beyond a query's: the state store, and a shared JWKS cache (the gateway's). */
export interface TokenParts {
  parts: PipelineParts;
  state(): StateStore;
  oidcKeys?: OidcKeyCache;
  /**
   * The `aud` exchanged ID tokens must carry when a rule names none. The gateway's is
   * `oidc.audience`, else its own URL; without it, hoopq.yaml's `oidc.audience`.
   */
  oidcAudience?: string;
}

/** Who acts, and where from: recorded in the audit body (`via`, `src_endpoint`). */
export interface Actor {
  /** The operator's label (`operator:NAME`), used as the subject when none is asked for. */
  operator: string;
  origin?: Record<string, unknown>;
}

export interface MintTokenInput {
  policy: string;
  run: string;
  ttlSeconds: number;
  /** Default: the actor's operator label. */
  subject?: string;
  maxQueries?: number;
}

export async function mintToken(t: TokenParts, actor: Actor, input: MintTokenInput): Promise<MintedRunToken> {
  const policy = t.parts.policies.get(input.policy);
  if (!policy) {
    // names no other policy (as issue 12 had it for the gateway; the CLI and the gateway now share this)
    throw new UsageError('usage.unknown_policy', `no policy named "${input.policy}" in this deployment`, {
      hint: 'ask the operator for the name of the policy',
    });
  }
  loadOrCreateSqlSealKey(t.parts.config.keysDir);
  const minted = await mintRunToken({
    keysDir: t.parts.config.keysDir,
    policy: { name: policy.name, sha256: policy.sha256, limits: { maxQueries: policy.limits.maxQueries } },
    run: input.run,
    subject: input.subject ?? actor.operator,
    ttlSeconds: input.ttlSeconds,
    maxQueries: input.maxQueries,
    state: t.state(),
  });
  const body = newAuditBody('token.mint', t.parts.now(), { policy: { name: policy.name, sha256: policy.sha256 }, ...actor.origin });
  fillTokenFields(body, minted.identity);
  await (await t.parts.audit()).append(body);
  return minted;
}

export interface ExchangeTokenInput {
  policy: string;
  oidcToken: string;
  /** An audience the caller named (old clients): refused unless it is the deployment's own; never the expected one. */
  audience?: string;
  ttlSeconds: number;
  /**
   * Set by the gateway, whose error handler records a refusal (compact, rate-limited per
   * source address, so an anonymous flood cannot fill the log): told the policy's fields for
   * that record, and then this function records no refusal itself.
   */
  refusalRecordedBy?: (fields: Partial<AuditRecordBody>) => void;
}

/**
 * The ID token is the credential: a refusal is recorded (decision deny) and rethrown (exit 4).
 * The expected audience is the deployment's (never the caller's), and the run is namespaced
 * by the issuer (`oidc:<issuer>/...`), so two issuers cannot share a run.
 */
export async function exchangeToken(t: TokenParts, actor: Pick<Actor, 'origin'>, input: ExchangeTokenInput): Promise<MintedRunToken> {
  const policy = t.parts.policies.get(input.policy);
  if (!policy) {
    // says what failed, not which policies exist (the caller is not authenticated)
    throw new AuthError('token.unknown_policy', `refused: no policy named "${input.policy}"`, {
      rule: 'token.policy',
      hint: 'ask the operator for the name of the policy your CI job may exchange its ID token for',
    });
  }
  input.refusalRecordedBy?.({ policy: { name: policy.name, sha256: policy.sha256 } });
  const { exchangeOidcToken } = await import('../identity/oidc-exchange.js');
  const sink = await t.parts.audit();
  loadOrCreateSqlSealKey(t.parts.config.keysDir);
  const body = newAuditBody('token.exchange', t.parts.now(), { policy: { name: policy.name, sha256: policy.sha256 }, ...actor.origin });
  let minted: Awaited<ReturnType<typeof exchangeOidcToken>>;
  try {
    minted = await exchangeOidcToken({
      oidcToken: input.oidcToken,
      policy,
      deploymentAudience: t.oidcAudience ?? t.parts.config.oidcAudience,
      requestedAudience: input.audience,
      keysDir: t.parts.config.keysDir,
      state: t.state(),
      ttlSeconds: input.ttlSeconds,
      keyCache: t.oidcKeys,
    });
  } catch (err) {
    if (input.refusalRecordedBy) throw err;
    body.decision = 'deny';
    body.reason = (err as Error).message;
    body.code = (err as { code?: string }).code ?? null;
    await sink.append(body);
    throw err;
  }
  fillTokenFields(body, minted.identity);
  body.oidc = { issuer: minted.issuer, rule: minted.ruleIndex + 1 };
  await sink.append(body);
  return minted;
}

export interface RevokeInput {
  run?: string;
  tokenId?: string;
  reason?: string;
  /** The gateway's: ends the target's MCP sessions now (not at their next request); returns how many. */
  closeSessions?: (target: { run?: string; tokenId?: string }) => Promise<number>;
}

export interface RevokedTarget {
  kind: 'run' | 'token';
  value: string;
  matched_tokens: number;
  new: boolean;
  revoked_at: string;
  /** Only where MCP sessions can be open (the gateway). */
  mcp_sessions_closed?: number;
}

/**
 * Revokes a run (every token of it) or one token. `by` is the operator, or the run token
 * that asks (which may revoke only its own run or itself). Running queries of the run are
 * interrupted by the pipeline's revocation watchers, which poll the shared state store.
 */
export async function revokeTokens(t: TokenParts, by: { operator: Actor } | { identity: RunIdentity; origin?: Record<string, unknown> }, input: RevokeInput): Promise<RevokedTarget> {
  if (Boolean(input.run) === Boolean(input.tokenId)) {
    throw new UsageError('usage.revoke_target', 'give exactly one of --run RUN or --id TOKEN_ID');
  }
  const identity = 'identity' in by ? by.identity : undefined;
  if (identity && input.run !== identity.run && input.tokenId !== identity.tokenId) {
    throw new PolicyDeniedError('gateway.revoke_forbidden', `refused to revoke ${input.run ? `run ${input.run}` : `token ${input.tokenId}`}: a run token may revoke only its own run or itself`, {
      rule: 'gateway.revoke',
      hint: `revoke run ${identity.run}, or ask the operator`,
    });
  }
  const store = t.state();
  const result = input.run ? store.revokeRun(input.run, input.reason ?? null) : store.revokeToken(input.tokenId!, input.reason ?? null);
  const closed = input.closeSessions ? await input.closeSessions({ run: input.run, tokenId: input.tokenId }) : undefined;
  const origin = 'identity' in by ? by.origin : by.operator.origin;
  const revoked = { kind: result.kind, value: result.value, matched_tokens: result.matchedTokens, new: result.isNew, ...(closed === undefined ? {} : { mcp_sessions_closed: closed }) };
  await (await t.parts.audit()).append(
    newAuditBody('token.revoke', t.parts.now(), {
      run: input.run ?? null,
      token_id: input.tokenId ?? null,
      subject: identity ? identity.subject : (by as { operator: Actor }).operator.operator,
      reason: input.reason ?? null,
      revoked,
      revoked_by: identity ? { run: identity.run, token_id: identity.tokenId } : 'operator',
      ...origin,
    }),
  );
  return { kind: result.kind, value: result.value, matched_tokens: result.matchedTokens, new: result.isNew, revoked_at: result.revokedAt, ...(closed === undefined ? {} : { mcp_sessions_closed: closed }) };
}

/** What `token inspect` prints: the verified claims, never the token. */
export interface TokenInspection {
  run: string;
  subject: string;
  token_id: string;
  policy: string;
  policy_sha256: string;
  policy_current_sha256: string;
  issued_at: string;
  expires_at: string;
  max_queries: number | null;
  queries_started: number;
  kid: string;
}

/** Verified as a query verifies it: a token whose policy is gone is refused here too (exit 4). */
export async function inspectToken(t: TokenParts, token: string | undefined): Promise<TokenInspection> {
  const identity = await t.parts.identity.verify(token);
  const policy = resolveRunPolicy(t.parts, identity);
  return {
    run: identity.run,
    subject: identity.subject,
    token_id: identity.tokenId,
    policy: identity.policy,
    policy_sha256: identity.policySha256,
    policy_current_sha256: policy.sha256,
    issued_at: new Date(identity.issuedAt * 1000).toISOString(),
    expires_at: new Date(identity.expiresAt * 1000).toISOString(),
    max_queries: identity.maxQueries ?? null,
    queries_started: t.state().queriesStarted(identity.run),
    kid: identity.kid,
  };
}

export function listTokens(t: TokenParts): IssuedToken[] {
  return t.state().listActiveTokens(t.parts.now());
}

/** A new current signing key; old public keys verify until their tokens expire. */
export async function rotateKeys(t: TokenParts, actor: Actor): Promise<KeyRotation> {
  const rotation = await rotateSigningKey(t.parts.config.keysDir);
  const body = newAuditBody('keys.rotate', t.parts.now(), { rotation: JSON.parse(JSON.stringify(rotation)), subject: actor.operator, ...actor.origin });
  await (await t.parts.audit()).append(body);
  return rotation;
}

/** The ids (never the keys) of the `hash` mask's key before and after a rotation. */
export interface HashKeyRotation {
  hash_key: { previous: string | null; current: string };
}

/**
 * A new key for the `hash` mask (`hoopq keys rotate --hash-key`): every hashed value differs
 * from then on; the old key is kept aside (mode 0600). Recorded as `keys.rotate` with the ids.
 */
export async function rotateHashKey(t: TokenParts, actor: Actor): Promise<HashKeyRotation> {
  const rotated = rotateSecretKey(join(t.parts.config.keysDir, HASH_KEY_FILE), 'hqhk', t.parts.now());
  const idOf = (text: string) => hashKeyFromSecret(secretKeyBytes(text)).id;
  const rotation: HashKeyRotation = { hash_key: { previous: rotated.previous === null ? null : idOf(rotated.previous), current: idOf(rotated.current) } };
  await (await t.parts.audit()).append(newAuditBody('keys.rotate', t.parts.now(), { rotation: { ...rotation }, subject: actor.operator, ...actor.origin }));
  return rotation;
}
