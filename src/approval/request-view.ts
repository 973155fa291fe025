/**
 * The JSON shapes of a request for approval: the operator's view (everything a reviewer
 * needs, nothing that carries a literal or a masked value) and the agent's view (its own
 * request's status). One shape for `hoopq review --format json`, the gateway API and the
 * remote CLI, so the two modes print the same.
 */
import type { ApprovalRequest } from './approval-store.js';

export function operatorView(r: ApprovalRequest): Record<string, unknown> {
  return {
    id: r.id,
    status: r.status,
    created_at: r.createdAt,
    expires_at: r.expiresAt,
    run: r.run,
    subject: r.subject,
    token_id: r.tokenId,
    policy: { name: r.policy, sha256: r.policySha256 },
    sql_sha256: r.sqlSha256,
    record: r.recordId,
    sql: r.summary.sql,
    statements: r.summary.statements,
    tables: r.summary.tables,
    masks: r.summary.masks,
    unmask: r.summary.lifted,
    rules: r.summary.rules,
    justification: r.summary.justification,
    bytes_estimate: r.summary.bytesEstimate,
    params: r.summary.params,
    notified: r.notified,
    decided_at: r.decidedAt,
    decided_by: r.decidedBy,
    reason: r.decisionReason,
    grant: r.grant ? { runs: r.grant.runs, used: r.runsUsed, expires_at: r.grant.expiresAt } : null,
  };
}

export function agentView(r: ApprovalRequest): Record<string, unknown> {
  return {
    id: r.id,
    status: r.status,
    expires_at: r.expiresAt,
    decided_at: r.decidedAt,
    reason: r.decisionReason,
    grant: r.grant ? { runs: r.grant.runs, used: r.runsUsed, expires_at: r.grant.expiresAt } : null,
  };
}

/** One line per request for `hoopq review list`. */
export function listLine(v: Record<string, any>): string {
  const tables = [...new Set([...(v.tables?.read ?? []), ...(v.tables?.write ?? [])])].join(',') || '-';
  const rules = (v.rules ?? []).map((m: { rule: string }) => m.rule).join(',');
  return `${v.id}\t${v.status}\trun ${v.run}\t${v.subject}\tpolicy ${v.policy?.name}\t${(v.statements ?? []).join(',')}\t${tables}\trules ${rules}\texpires ${v.expires_at}`;
}

/** What `hoopq review show` prints for a person. */
export function showText(v: Record<string, any>): string {
  const lines = [
    `request     ${v.id}`,
    `status      ${v.status}${v.decided_by ? ` by ${v.decided_by} at ${v.decided_at}` : ''}`,
    `run         ${v.run} (token ${v.token_id}, requested by ${v.subject})`,
    `policy      ${v.policy?.name} (sha256 ${v.policy?.sha256})`,
    `created     ${v.created_at}; expires ${v.expires_at}`,
    `why         ${(v.rules ?? []).map((m: { rule: string; why: string }) => `${m.rule}: ${m.why}`).join('; ')}`,
    `statements  ${(v.statements ?? []).join(', ')}`,
    `reads       ${(v.tables?.read ?? []).join(', ') || '-'}`,
    `writes      ${(v.tables?.write ?? []).join(', ') || '-'}`,
    `masks       ${Object.entries(v.masks ?? {}).map(([c, m]) => `${c}=${m}`).join(', ') || '-'}`,
    ...(Object.keys(v.unmask ?? {}).length ? [`unmask      ${Object.keys(v.unmask).join(', ')}`] : []),
    ...(v.bytes_estimate !== null && v.bytes_estimate !== undefined ? [`bytes       ${v.bytes_estimate} (estimate)`] : []),
    `justified   ${v.justification ?? '-'}`,
    `notified    ${(v.notified ?? []).join(', ') || '-'}`,
    ...(v.reason ? [`reason      ${v.reason}`] : []),
    ...(v.grant ? [`grant       ${v.grant.used}/${v.grant.runs} runs used, until ${v.grant.expires_at}`] : []),
    `sql (literals redacted, sha256 ${v.sql_sha256}):`,
    ...String(v.sql).split('\n').map((l) => `  ${l}`),
  ];
  return lines.join('\n') + '\n';
}
