/**
 * The run-token lifecycle over HTTP, each event recorded in the audit log as the CLI does:
 *   POST /v1/tokens           mint (operator key)
 *   POST /v1/tokens/exchange  OIDC ID token -> run token (the ID token is the credential)
 *   POST /v1/revoke           operator key, or a run token revoking its own run or itself;
 *                             running queries of the run are interrupted (the pipeline's
 *                             revocation watcher polls the shared state store).
 *   GET  /v1/token            the presented run token's claims (token inspect)
 *   GET  /v1/tokens           active tokens (operator key)
 * The work is the pipeline's (src/pipeline/token-lifecycle.ts), as in direct mode.
 * A minted token appears once, in the response body; it is never logged or recorded.
 */
import { z } from 'zod';
import { parseDuration } from '../config/units.js';
import { AuthError, UsageError } from '../errors.js';
import type { MintedRunToken } from '../identity/run-token.js';
import { exchangeToken, inspectToken, listTokens, mintToken, revokeTokens, type Actor } from '../pipeline/token-lifecycle.js';
import { bearerOf, sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { readJsonBody } from './read-json-body.js';
import { isSameSecret } from '../identity/secret-key-file.js';

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
  const actor = authenticateOperator(gateway, ctx);
  const body = await readJsonBody(ctx.req, mintSchema, SMALL);
  const minted = await mintToken(gateway, actor, {
    policy: body.policy,
    run: body.run,
    subject: body.subject,
    ttlSeconds: ttlSeconds(body.ttl),
    maxQueries: body.max_queries,
  });
  sendJson(ctx.res, 201, tokenResponse(minted));
}

export async function handleExchange(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const body = await readJsonBody(ctx.req, exchangeSchema, SMALL);
  const minted = await exchangeToken(gateway, { origin: originOf(ctx) }, {
    policy: body.policy,
    oidcToken: body.oidc_token,
    audience: body.audience,
    ttlSeconds: ttlSeconds(body.ttl),
  });
  sendJson(ctx.res, 201, tokenResponse(minted));
}

export async function handleRevoke(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const bearer = bearerOf(ctx);
  // Authenticate before reading the body: an anonymous caller learns nothing about it.
  const by = isSameSecret(bearer, gateway.operatorKey)
    ? { operator: operatorActor(ctx) }
    : { identity: await gateway.parts.identity.verify(bearer), origin: originOf(ctx) };
  const body = await readJsonBody(ctx.req, revokeSchema, SMALL);
  const revoked = await revokeTokens(gateway, by, { run: body.run, tokenId: body.token_id, reason: body.reason });
  sendJson(ctx.res, 200, { revoked });
}

/** GET /v1/token: the presented run token's verified claims (what `hoopq token inspect` prints). */
export async function handleInspect(gateway: Gateway, ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, { token: await inspectToken(gateway, bearerOf(ctx)) });
}

/** GET /v1/tokens: the active tokens, never the tokens themselves (operator). */
export async function handleListTokens(gateway: Gateway, ctx: RequestContext): Promise<void> {
  authenticateOperator(gateway, ctx);
  sendJson(ctx.res, 200, { tokens: listTokens(gateway) });
}

/**
 * The operator, as the audit log names them. Today one credential: the gateway's operator key
 * (operator.key in its keys folder), sent as a Bearer credential; the CLI sends
 * $HOOPQ_OPERATOR_KEY. Refused with exit 4 without it.
 */
export function authenticateOperator(gateway: Gateway, ctx: RequestContext): Actor {
  if (!isSameSecret(bearerOf(ctx), gateway.operatorKey)) {
    throw new AuthError('gateway.operator_required', `refused ${ctx.route}: it needs the operator key`, {
      rule: 'gateway.operator',
      hint: 'set HOOPQ_OPERATOR_KEY to the contents of operator.key in the gateway\'s keys folder (or send it as Authorization: Bearer)',
    });
  }
  return operatorActor(ctx);
}

/** For routes that only check (they record no operator action). */
export function requireOperator(gateway: Gateway, ctx: RequestContext): void {
  authenticateOperator(gateway, ctx);
}

function operatorActor(ctx: RequestContext): Actor {
  return { operator: 'operator:gateway', origin: originOf(ctx) };
}

export function originOf(ctx: RequestContext): Record<string, unknown> {
  return { via: 'gateway', src_endpoint: ctx.remote };
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
