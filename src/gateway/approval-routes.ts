/**
 * Requests for approval over HTTP:
 *   GET  /v1/approvals[?status=S]   list (operator: the shared operator key or a personal key)
 *   GET  /v1/approval?id=ID         one request: an operator sees it all; the run token that
 *                                   made it sees its status (what `hoopq query --wait` polls)
 *   POST /v1/approval/approve       {id, reason, runs?, for?} — a personal operator key only
 *   POST /v1/approval/deny          {id, reason}              — a personal operator key only
 * Deciding needs a named person (four-eyes is about people), so the shared operator key may
 * look but not decide. Every decision and every refused decision is an audit record.
 */
import { z } from 'zod';
import type { ApprovalPort } from '../approval/approval-port.js';
import type { ApprovalStatus } from '../approval/approval-store.js';
import { agentView, operatorView } from '../approval/request-view.js';
import { reviewApproval } from '../approval/review-approval.js';
import { parseDuration } from '../config/units.js';
import { AuthError, ConfigError, PolicyDeniedError, UsageError } from '../errors.js';
import type { Operator } from '../operator/operator.js';
import { bearerOf, sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { readJsonBody } from './read-json-body.js';
import { isSameSecret } from '../identity/secret-key-file.js';

const STATUSES = ['pending', 'approved', 'denied', 'expired'] as const;

const decideSchema = z
  .object({
    id: z.string().min(1).max(100),
    reason: z.string().min(1).max(4096),
    runs: z.number().int().positive().max(1000).optional(),
    for: z.union([z.string().max(32), z.number().positive()]).optional(),
  })
  .strict();

export async function handleListApprovals(gateway: Gateway, ctx: RequestContext): Promise<void> {
  requireAnyOperator(gateway, ctx);
  const status = ctx.url.searchParams.get('status') ?? 'pending';
  if (status !== 'all' && !(STATUSES as readonly string[]).includes(status)) {
    throw new UsageError('gateway.bad_request', `refused the request: status "${status}" is not one of ${[...STATUSES, 'all'].join(', ')}`);
  }
  const requests = approvalsOf(gateway).store().list({ status: status === 'all' ? undefined : (status as ApprovalStatus) }, gateway.parts.now());
  sendJson(ctx.res, 200, { requests: requests.map(operatorView) });
}

export async function handleGetApproval(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const id = ctx.url.searchParams.get('id') ?? '';
  const bearer = bearerOf(ctx);
  const operator = isSameSecret(bearer, gateway.operatorKey) || gateway.operators().authenticate(bearer) !== undefined;
  const identity = operator ? undefined : await gateway.parts.identity.verify(bearer);
  const request = id.length <= 100 ? approvalsOf(gateway).store().get(id) : undefined;
  // a run token learns nothing about requests that are not its own, not even whether they exist
  if (!request || (identity && request.tokenId !== identity.tokenId)) {
    throw new UsageError('gateway.not_found', `no request for approval ${id.slice(0, 100)}${identity ? ' made with this token' : ''}`, { hint: 'use the request id hoopq query printed' });
  }
  const now = gateway.parts.now().getTime();
  const current = request.status === 'pending' && Date.parse(request.expiresAt) <= now ? { ...request, status: 'expired' as const } : request;
  sendJson(ctx.res, 200, { request: operator ? operatorView(current) : agentView(current) });
}

export const handleApprove = (gateway: Gateway, ctx: RequestContext) => decide(gateway, ctx, true);
export const handleDeny = (gateway: Gateway, ctx: RequestContext) => decide(gateway, ctx, false);

async function decide(gateway: Gateway, ctx: RequestContext, approve: boolean): Promise<void> {
  const operator = requireNamedOperator(gateway, ctx);
  const body = await readJsonBody(ctx.req, decideSchema, 64 * 1024);
  let windowMs: number | undefined;
  if (body.for !== undefined) {
    if (!approve) throw new UsageError('usage.review_window', '"for" applies to approvals only');
    windowMs = parseDuration(body.for);
    if (windowMs === undefined) throw new UsageError('usage.review_window', `"${body.for}" is not a duration`, { hint: 'write e.g. 15m, 1h or 8h' });
  }
  const request = await reviewApproval(
    { approvals: approvalsOf(gateway), sink: await gateway.parts.audit(), now: gateway.parts.now },
    operator,
    { id: body.id, approve, reason: body.reason, runs: body.runs, windowMs },
    'api',
  );
  sendJson(ctx.res, 200, { request: operatorView(request) });
}

export function approvalsOf(gateway: Gateway): ApprovalPort {
  if (!gateway.parts.approvals) throw new ConfigError('approval.unavailable', 'this gateway keeps no requests for approval');
  return gateway.parts.approvals;
}

function requireAnyOperator(gateway: Gateway, ctx: RequestContext): void {
  const bearer = bearerOf(ctx);
  if (isSameSecret(bearer, gateway.operatorKey) || gateway.operators().authenticate(bearer)) return;
  throw new AuthError('gateway.operator_required', `refused ${ctx.route}: it needs an operator key`, {
    rule: 'gateway.operator',
    hint: 'send Authorization: Bearer <your personal operator key (hoopq operator add NAME)>',
  });
}

/** A person: a personal operator key. The shared operator key is refused here, by design. */
function requireNamedOperator(gateway: Gateway, ctx: RequestContext): Operator {
  const bearer = bearerOf(ctx);
  const operator = gateway.operators().authenticate(bearer);
  if (operator) return operator;
  if (isSameSecret(bearer, gateway.operatorKey)) {
    throw new PolicyDeniedError('approval.named_operator_required', `refused ${ctx.route}: the shared operator key cannot decide; a decision names the person who made it`, {
      rule: 'approval.review',
      hint: 'use your personal operator key (hoopq operator add NAME on the gateway host) or the console',
    });
  }
  throw new AuthError('gateway.operator_required', `refused ${ctx.route}: it needs a personal operator key`, {
    rule: 'gateway.operator',
    hint: 'send Authorization: Bearer <your personal operator key (hoopq operator add NAME)>',
  });
}
