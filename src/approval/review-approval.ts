/**
 * An operator's decision on a request for approval, the same for every face (`hoopq review`,
 * the gateway API, the console).
 * Input: the request id, a named operator, approve or deny, a reason, and for an approval how
 * many runs and for how long. Output: the decided request, or a refusal — itself recorded
 * (`approval.review_refused`) — when the operator is the requester (four-eyes), the request is
 * unknown, already decided or expired.
 * Invariants: only a named operator decides (never the shared operator key); a reason is
 * required; the decision is compare-and-set in the store, so of two operators deciding at
 * once exactly one wins; a grant never outlives the run token it is bound to.
 */
import type { AuditSink } from '../audit/audit-record.js';
import { AuthError, PolicyDeniedError, UsageError } from '../errors.js';
import { operatorRef, type Operator } from '../operator/operator.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import type { ApprovalPort } from './approval-port.js';
import type { ApprovalRequest } from './approval-store.js';
import { recordExpiries } from './settle-approval.js';

export interface ReviewDecision {
  id: string;
  approve: boolean;
  reason: string;
  /** Approvals only: runs the grant allows (default 1) and how long it lasts (default until the request would have expired). */
  runs?: number;
  windowMs?: number;
}

export interface ReviewDeps {
  approvals: ApprovalPort;
  sink: AuditSink;
  now(): Date;
}

export const MAX_GRANT_RUNS = 1000;

export async function reviewApproval(deps: ReviewDeps, operator: Operator, decision: ReviewDecision, via: 'cli' | 'api' | 'console'): Promise<ApprovalRequest> {
  const reason = decision.reason.trim();
  if (reason === '' || reason.length > 4096) {
    throw new UsageError('usage.review_reason', 'a decision needs a reason (at most 4096 characters)', { hint: 'say why: --reason "…"' });
  }
  const runs = decision.runs ?? 1;
  if (!Number.isInteger(runs) || runs < 1 || runs > MAX_GRANT_RUNS) {
    throw new UsageError('usage.review_runs', `runs must be a whole number from 1 to ${MAX_GRANT_RUNS}`);
  }
  const store = deps.approvals.store();
  const now = deps.now();
  await recordExpiries(deps, deps.sink, store.expireDue(now));
  const request = store.get(decision.id);
  const by = operatorRef(operator, via);
  const refuse = async (code: string, message: string, hint: string, Err: typeof PolicyDeniedError | typeof AuthError = PolicyDeniedError): Promise<never> => {
    await deps.sink.append(newAuditBody('approval.review_refused', deps.now(), {
      ...(request ? { run: request.run, token_id: request.tokenId, policy: { name: request.policy, sha256: request.policySha256 } } : {}),
      subject: `operator:${operator.name}`,
      decision: 'deny',
      reason: message,
      code,
      operator: by,
      approval: { id: decision.id, review: decision.approve ? 'approve' : 'deny' },
    }));
    throw new Err(code, message, { rule: 'approval.review', hint });
  };
  if (!request) return refuse('approval.unknown_request', `refused: there is no request for approval ${decision.id}`, 'list the requests with hoopq review list');
  if (decision.approve && deps.approvals.fourEyes && isSamePerson(operator.name, request.subject)) {
    return refuse('approval.self_approval', `refused: ${operator.name} made request ${request.id} (as ${request.subject}) and may not approve it (four-eyes, operators.four_eyes)`, 'another operator must approve it; you may still deny it');
  }
  const windowMs = decision.windowMs ?? Date.parse(request.expiresAt) - now.getTime();
  const grantExpiresAt = new Date(Math.min(now.getTime() + Math.max(windowMs, 0), Date.parse(request.tokenExpiresAt)));
  const result = store.decide(request.id, { approve: decision.approve, by: operator.name, reason, runs, grantExpiresAt }, now);
  if (!result.ok) {
    const what = result.why === 'decided' ? `was already ${result.request!.status}${result.request!.decidedBy ? ` by ${result.request!.decidedBy}` : ''}` : result.why === 'expired' ? `expired at ${request.expiresAt}` : 'does not exist';
    return refuse(`approval.${result.why === 'decided' ? 'already_decided' : result.why === 'expired' ? 'expired' : 'unknown_request'}`, `refused: request ${request.id} ${what}`, 'hoopq review list shows the requests still waiting');
  }
  const decided = result.request;
  await deps.sink.append(newAuditBody(decision.approve ? 'approval.approved' : 'approval.denied', deps.now(), {
    run: decided.run,
    subject: `operator:${operator.name}`,
    token_id: decided.tokenId,
    policy: { name: decided.policy, sha256: decided.policySha256 },
    decision: decision.approve ? 'allow' : 'deny',
    reason,
    operator: by,
    approval: {
      id: decided.id,
      requested_in: decided.recordId,
      requested_by: decided.subject,
      sql_sha256: decided.sqlSha256,
      ...(decided.grant ? { grant: { runs: decided.grant.runs, expires_at: decided.grant.expiresAt } } : {}),
      // only possible with operators.four_eyes: false; the log says so
      ...(decision.approve && isSamePerson(operator.name, decided.subject) ? { self_approved: true } : {}),
    },
  }));
  return decided;
}

/**
 * Whether an operator is the person behind a request. Tokens minted by `hoopq token mint`
 * carry `operator:USER` unless given `--subject`; the comparison ignores that prefix and case,
 * and when only one side is an email address it compares its local part (alice@example.com
 * and operator:alice are taken for one person: four-eyes errs towards refusing).
 */
export function isSamePerson(operatorName: string, subject: string): boolean {
  const norm = (s: string) => s.trim().replace(/^operator:/i, '').toLowerCase();
  const a = norm(operatorName);
  const b = norm(subject);
  if (a === b) return true;
  const local = (s: string) => s.split('@')[0]!;
  return a.includes('@') !== b.includes('@') && local(a) === local(b);
}

