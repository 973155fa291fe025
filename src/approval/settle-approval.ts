/**
 * The approval step of runQuery, after the query is checked and estimated and before it runs.
 * Input: the checked query, its audit body so far, the run's identity and policy. Output:
 * nothing to do (no approval rule matches), a grant used (the body then names the approval,
 * and the query runs), or an ApprovalPendingError for the caller to throw once this step has
 * recorded the attempt (`approval.requested` or `approval.pending`) and told people.
 *
 * Invariants:
 * - an approval is used only by the token it was requested with, for the same SQL, parameters
 *   and unmask request (request digest), under the same policy file (policy digest), and only
 *   while what would run is what was approved (plan digest: statement texts, tables, masks);
 * - each use takes one run of the grant atomically (approval.executed) before the intent
 *   record, so a grant of one run runs once however many processes race for it; the run's
 *   budget is checked first, so a query the budget refuses leaves its grant unused (its unit
 *   is spent after the intent record, run-query.ts);
 * - a denied request stays denied for that token and request; an expired one is asked again;
 * - a run may have at most `approval.max_pending` requests waiting (no flooding the on-call).
 */
import { createHash } from 'node:crypto';
import type { AuditRecordBody, AuditSink } from '../audit/audit-record.js';
import { canonicalJson } from '../audit/canonical-json.js';
import { kindsOf, tablesOf } from '../analysis/query-analysis.js';
import { ApprovalPendingError, ConfigError, PolicyDeniedError } from '../errors.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { redactSql } from '../masking/redact-sql.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import type { CheckedQuery } from '../pipeline/check-query.js';
import type { PipelineParts } from '../pipeline/pipeline-parts.js';
import type { Policy } from '../policy/policy.js';
import type { QueryParameter } from '../warehouse/warehouse.js';
import { warehouseDialectOf } from '../warehouse/open-warehouse.js';
import type { ApprovalRequest, ApprovalStore } from './approval-store.js';
import { evaluateApproval, type MatchedApprovalRule } from './evaluate-approval.js';

export interface ApprovalContext {
  sink: AuditSink;
  /** The query's audit body so far; its id becomes the record of a held attempt. */
  body: AuditRecordBody;
  identity: RunIdentity;
  policy: Policy;
  checked: CheckedQuery;
  sql: string;
  params: QueryParameter[] | undefined;
  unmask: readonly string[] | undefined;
  /** The warehouse's estimate; null when it gives none. */
  bytesEstimate: number | null;
  startedMs: number;
  /**
   * Refuses when the run has no query of its budget (limits.max_queries) left; spends nothing
   * (the unit is spent once the intent is durable). Called before a grant's run is taken, so a
   * query the budget refuses leaves its approval unused — except when two queries of one run
   * race for its last unit: both pass this check, and the one that then loses the unit is
   * refused after taking a run of its grant (the approval has one run fewer, never one more).
   */
  checkBudgetLeft(): Promise<void>;
}

export async function settleApproval(parts: PipelineParts, ctx: ApprovalContext): Promise<{ pending?: ApprovalPendingError }> {
  const { policy, checked, identity } = ctx;
  const matched = evaluateApproval({
    analysis: checked.analysis,
    policy,
    lifted: checked.lifted,
    bytesEstimate: ctx.bytesEstimate,
    caseInsensitive: parts.config.warehouse.kind === 'duckdb',
  });
  if (matched.length === 0) return {};
  if (!parts.approvals) {
    throw new ConfigError('approval.unavailable', `refused: policy ${policy.name} holds this query for approval, and this hoopq has no approval store`, {
      rule: 'approval',
      hint: 'run it through the gateway or the CLI of the deployment, which keep approvals in the state store',
    });
  }
  const approvals = parts.approvals;
  const store = approvals.store();
  const now = parts.now();
  await recordExpiries(parts, ctx.sink, store.expireDue(now));
  const requestSha256 = digest({ sql: ctx.sql, params: ctx.params ?? [], unmask: [...(ctx.unmask ?? [])].sort() });
  const planSha256 = digest({ run: checked.statementsToRun, statements: kindsOf(checked.analysis), tables: tablesOf(checked.analysis), masks: checked.masks, lifted: checked.lifted });

  const last = store.latestFor(identity.tokenId, requestSha256);
  let supersedes: string | undefined;
  if (last && last.policySha256 === policy.sha256) {
    if (last.status === 'pending' && last.planSha256 === planSha256) {
      await append(ctx.sink, heldRecord(ctx, last, matched, 'approval.pending'));
      return { pending: pendingError(last, policy, matched, false) };
    }
    if (last.status === 'denied') {
      throw new PolicyDeniedError('approval.denied', `refused: request ${last.id} for this query was denied by ${last.decidedBy} (${last.decisionReason ?? 'no reason given'})`, {
        rule: 'approval',
        hint: 'change the query, or ask the operator; the same query under this token stays denied',
        details: { request: last.id },
      });
    }
    if (last.status === 'approved' && last.planSha256 === planSha256 && hasRunLeft(last, now)) {
      await ctx.checkBudgetLeft();
      const use = store.useGrant(last.id, now);
      if (use.ok) {
        ctx.body.approval = { id: last.id, use: use.use, of: use.of, approved_by: last.decidedBy };
        if (Object.keys(checked.lifted).length > 0) ctx.body.unmasked = checked.lifted;
        await append(ctx.sink, newAuditBody('approval.executed', now, {
          ...who(ctx),
          approval: { id: last.id, use: use.use, of: use.of, approved_by: last.decidedBy },
          query: ctx.body.id,
        }));
        return {};
      }
    }
    // approved for something that no longer runs the same way, used up, or its grant ended: ask again
    if (last.status !== 'expired') supersedes = last.id;
  }

  const settings = policy.approval!;
  if (store.countPending(identity.run, now) >= settings.maxPending) {
    throw new PolicyDeniedError('approval.too_many_pending', `refused: run ${identity.run} already has ${settings.maxPending} requests waiting for approval (rule approval.max_pending of policy ${policy.name})`, {
      rule: 'approval.max_pending',
      hint: 'wait for the requests already made to be decided (hoopq query --wait), or ask the operator',
    });
  }
  const expiresAt = new Date(Math.min(now.getTime() + settings.expiresMs, identity.expiresAt * 1000));
  const s = tablesOf(checked.analysis);
  const request = store.create(
    {
      run: identity.run,
      tokenId: identity.tokenId,
      subject: identity.subject,
      policy: policy.name,
      policySha256: policy.sha256,
      sqlSha256: createHash('sha256').update(ctx.sql).digest('hex'),
      requestSha256,
      planSha256,
      recordId: ctx.body.id,
      expiresAt,
      tokenExpiresAt: new Date(identity.expiresAt * 1000),
      summary: {
        sql: redactSql(ctx.sql, warehouseDialectOf(parts.config.warehouse.kind).sql, { verified: checked.analysis.literals }).text,
        statements: kindsOf(checked.analysis),
        tables: s,
        masks: checked.masks,
        lifted: checked.lifted,
        rules: matched,
        justification: ctx.body.justification,
        bytesEstimate: ctx.bytesEstimate,
        params: (ctx.params ?? []).map((p) => ({ name: p.name, type: p.type })),
        warehouse: parts.config.warehouse.kind,
      },
    },
    now,
  );
  await append(ctx.sink, heldRecord(ctx, request, matched, 'approval.requested', supersedes));
  const results = await approvals.notify(request, policy);
  for (const r of results) {
    await append(ctx.sink, newAuditBody('approval.notified', parts.now(), {
      ...who(ctx),
      decision: r.ok ? 'allow' : 'error',
      reason: r.ok ? null : `webhook ${r.name} was not told: ${r.error ?? 'failed'}`,
      approval: { id: request.id },
      notifier: { kind: 'webhook', name: r.name, ok: r.ok, status: r.status ?? null },
    }));
  }
  const notified = [...results.filter((r) => r.ok).map((r) => `webhook:${r.name}`), ...(parts.config.console ? ['console'] : [])];
  store.setNotified(request.id, notified);
  return { pending: pendingError({ ...request, notified }, policy, matched, true, results.filter((r) => !r.ok).map((r) => `webhook:${r.name}`)) };
}

/** From what was read: a run of the grant is left (useGrant decides atomically; this only keeps a used-up grant from spending budget). */
function hasRunLeft(request: ApprovalRequest, now: Date): boolean {
  return request.grant !== null && request.runsUsed < request.grant.runs && Date.parse(request.grant.expiresAt) > now.getTime();
}

function who(ctx: ApprovalContext): Partial<AuditRecordBody> {
  return {
    run: ctx.identity.run,
    subject: ctx.identity.subject,
    token_id: ctx.identity.tokenId,
    policy: { name: ctx.policy.name, sha256: ctx.policy.sha256, token_sha256: ctx.identity.policySha256 },
  };
}

/** The attempt's own record: the query's fields, decision `pending`, tied to the request. */
function heldRecord(ctx: ApprovalContext, request: ApprovalRequest, matched: MatchedApprovalRule[], event: string, supersedes?: string): AuditRecordBody {
  return {
    ...ctx.body,
    event,
    decision: 'pending',
    reason: heldMessage(request, ctx.policy, matched),
    code: 'approval.pending',
    rule: `approval.rules ${matched[0]!.rule}`,
    exit_code: 11,
    warehouse: { ...ctx.body.warehouse, bytes_processed: ctx.bytesEstimate },
    approval: { id: request.id, rules: matched, expires_at: request.expiresAt, ...(supersedes ? { supersedes } : {}) },
    ...(Object.keys(ctx.checked.lifted).length > 0 ? { unmask_requested: ctx.checked.lifted } : {}),
    duration_ms: Date.now() - ctx.startedMs,
  };
}

function heldMessage(request: ApprovalRequest, policy: Policy, matched: MatchedApprovalRule[]): string {
  const rules = matched.map((m) => `"${m.rule}" (${m.why})`).join(', ');
  return `held for approval: rule approval.rules ${rules} of policy ${policy.name}; request ${request.id} waits for an operator until ${request.expiresAt}; nothing ran`;
}

function pendingError(request: ApprovalRequest, policy: Policy, matched: MatchedApprovalRule[], isNew: boolean, failed: string[] = []): ApprovalPendingError {
  return new ApprovalPendingError('approval.pending', heldMessage(request, policy, matched), {
    rule: 'approval',
    hint: `wait with hoopq query --wait, or run the same query with the same token again once it is approved; an operator decides with hoopq review approve|deny ${request.id} or in the console`,
    details: {
      pending: {
        status: 'pending',
        request: request.id,
        new: isNew,
        policy: policy.name,
        rules: matched,
        notified: request.notified,
        ...(failed.length ? { not_notified: failed } : {}),
        expires_at: request.expiresAt,
        record: request.recordId,
      },
    },
  });
}

/** One `approval.expired` record per request that expired (each recorded once, by whoever saw it first). */
export async function recordExpiries(parts: Pick<PipelineParts, 'now'>, sink: AuditSink, expired: ApprovalRequest[]): Promise<void> {
  for (const r of expired) {
    await append(sink, newAuditBody('approval.expired', parts.now(), {
      run: r.run,
      subject: r.subject,
      token_id: r.tokenId,
      policy: { name: r.policy, sha256: r.policySha256 },
      decision: 'deny',
      reason: `request ${r.id} was not decided before ${r.expiresAt}`,
      code: 'approval.expired',
      approval: { id: r.id, requested_in: r.recordId },
    }));
  }
}

async function append(sink: AuditSink, body: AuditRecordBody): Promise<void> {
  await sink.append(body);
}

function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export type { ApprovalStore };
