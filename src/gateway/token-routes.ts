/**
 * The run-token lifecycle over HTTP, each event recorded in the audit log as the CLI does:
 *   POST /v1/tokens           mint (operator key)
 *   POST /v1/tokens/exchange  OIDC ID token -> run token (the ID token is the credential)
 *   POST /v1/revoke           operator key, or a run token revoking its own run or itself;
 *                             running queries of the run are interrupted (the pipeline's
 *                             revocation watcher polls the shared state store).
 * A minted token appears once, in the response body; it is never logged or recorded.
 */
import { z } from 'zod';
import type { AuditRecordBody } from '../audit/audit-record.js';
import { parseDuration } from '../config/units.js';
import { AuthError, PolicyDeniedError, UsageError } from '../errors.js';
import { exchangeOidcToken } from '../identity/oidc-exchange.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { mintRunToken, type MintedRunToken } from '../identity/run-token.js';
import { fillTokenFields, newAuditBody } from '../pipeline/audit-body.js';
import { bearerOf, sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { readJsonBody } from './read-json-body.js';
import { isSameSecret } from './secret-key-file.js';

const SMALL = 64 * 1024;

const mintSchema = z
  .object({
    policy: z.string().min(1).max(128),
    run: z.string().min(1).max(200),
    ttl: z.union([z.string().max(32), z.number().int().positive()]).optional(),
    subject: z.string().min(1).max(512).optional(),
    max_queries: z.number().int().positive().optional(),
  })
  .strict();

const exchangeSchema = z
  .object({
    oidc_token: z.string().min(1).max(16_384),
    policy: z.string().min(1).max(128),
    audience: z.string().min(1).max(512).optional(),
    ttl: z.union([z.string().max(32), z.number().int().positive()]).optional(),
  })
  .strict();

const revokeSchema = z
  .object({
    run: z.string().min(1).max(200).optional(),
    token_id: z.string().min(1).max(200).optional(),
    reason: z.string().max(4096).optional(),
  })
  .strict();

export async function handleMint(gateway: Gateway, ctx: RequestContext): Promise<void> {
  requireOperator(gateway, ctx);
  const body = await readJsonBody(ctx.req, mintSchema, SMALL);
  const policy = gateway.parts.policies.get(body.policy);
  if (!policy) {
    throw new UsageError('usage.unknown_policy', `no policy named "${body.policy}" in this deployment`, {
      hint: `policies: ${gateway.parts.policies.names().join(', ') || '(none)'}`,
    });
  }
  const minted = await mintRunToken({
    keysDir: gateway.config.keysDir,
    policy: { name: policy.name, sha256: policy.sha256, limits: { maxQueries: policy.limits.maxQueries } },
    run: body.run,
    subject: body.subject ?? 'operator:gateway',
    ttlSeconds: ttlSeconds(body.ttl),
    maxQueries: body.max_queries,
    state: gateway.state(),
  });
  const record = newAuditBody('token.mint', gateway.parts.now(), { policy: { name: policy.name, sha256: policy.sha256 }, via: 'gateway', src_endpoint: ctx.remote });
  fillTokenFields(record, minted.identity);
  await (await gateway.parts.audit()).append(record);
  sendJson(ctx.res, 201, tokenResponse(minted));
}

export async function handleExchange(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const body = await readJsonBody(ctx.req, exchangeSchema, SMALL);
  const policy = gateway.parts.policies.get(body.policy);
  if (!policy) {
    throw new AuthError('token.unknown_policy', `refused: no policy named "${body.policy}"`, {
      rule: 'token.policy',
      hint: `policies: ${gateway.parts.policies.names().join(', ')}`,
    });
  }
  const sink = await gateway.parts.audit();
  const record = newAuditBody('token.exchange', gateway.parts.now(), { policy: { name: policy.name, sha256: policy.sha256 }, via: 'gateway', src_endpoint: ctx.remote });
  let minted: MintedRunToken;
  try {
    minted = await exchangeOidcToken({
      oidcToken: body.oidc_token,
      policy,
      audience: body.audience,
      keysDir: gateway.config.keysDir,
      state: gateway.state(),
      ttlSeconds: ttlSeconds(body.ttl),
      keyCache: gateway.oidcKeys,
    });
  } catch (err) {
    record.decision = 'deny';
    record.reason = (err as Error).message;
    record.code = (err as { code?: string }).code ?? null;
    await sink.append(record);
    throw err;
  }
  fillTokenFields(record, minted.identity);
  await sink.append(record);
  sendJson(ctx.res, 201, tokenResponse(minted));
}

export async function handleRevoke(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const bearer = bearerOf(ctx);
  const isOperator = isSameSecret(bearer, gateway.operatorKey);
  // Authenticate before reading the body: an anonymous caller learns nothing about it.
  const identity = isOperator ? undefined : await gateway.parts.identity.verify(bearer);
  const body = await readJsonBody(ctx.req, revokeSchema, SMALL);
  if (Boolean(body.run) === Boolean(body.token_id)) {
    throw new UsageError('usage.revoke_target', 'give exactly one of "run" or "token_id"');
  }
  if (identity && body.run !== identity.run && body.token_id !== identity.tokenId) {
    throw new PolicyDeniedError('gateway.revoke_forbidden', `refused to revoke ${body.run ? `run ${body.run}` : `token ${body.token_id}`}: a run token may revoke only its own run or itself`, {
      rule: 'gateway.revoke',
      hint: `revoke run ${identity.run}, or ask the operator`,
    });
  }
  const store = gateway.state();
  const result = body.run ? store.revokeRun(body.run, body.reason ?? null) : store.revokeToken(body.token_id!, body.reason ?? null);
  await (await gateway.parts.audit()).append(
    newAuditBody('token.revoke', gateway.parts.now(), {
      run: body.run ?? null,
      token_id: body.token_id ?? null,
      subject: identity ? identity.subject : 'operator:gateway',
      reason: body.reason ?? null,
      revoked: { kind: result.kind, value: result.value, matched_tokens: result.matchedTokens, new: result.isNew },
      revoked_by: identity ? { run: identity.run, token_id: identity.tokenId } : 'operator',
      via: 'gateway',
      src_endpoint: ctx.remote,
    }),
  );
  sendJson(ctx.res, 200, { revoked: { kind: result.kind, value: result.value, matched_tokens: result.matchedTokens, new: result.isNew, revoked_at: result.revokedAt } });
}

export function requireOperator(gateway: Gateway, ctx: RequestContext): void {
  if (!isSameSecret(bearerOf(ctx), gateway.operatorKey)) {
    throw new AuthError('gateway.operator_required', `refused ${ctx.route}: it needs the operator key`, {
      rule: 'gateway.operator',
      hint: 'send Authorization: Bearer <the contents of operator.key in the gateway\'s keys folder>',
    });
  }
}

function tokenResponse(minted: MintedRunToken): Record<string, unknown> {
  const id = minted.identity;
  return {
    token: minted.token,
    token_id: id.tokenId,
    run: id.run,
    policy: id.policy,
    subject: id.subject,
    expires_at: new Date(id.expiresAt * 1000).toISOString(),
  };
}


function ttlSeconds(v: string | number | undefined): number {
  if (v === undefined) return 3600;
  if (typeof v === 'number') return v;
  const ms = parseDuration(/^\d+$/.test(v) ? `${v}s` : v);
  if (ms === undefined) throw new UsageError('usage.ttl', `"${v}" is not a duration`, { hint: 'write e.g. 30m, 1h or 12h (maximum 12h)' });
  return Math.ceil(ms / 1000);
}
