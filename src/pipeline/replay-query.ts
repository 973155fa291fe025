/**
 * replay: re-check a recorded query against today's policy, and optionally run it again
 * under a fresh token for the same policy, comparing the result digest with the recorded one.
 * Input: an audit record (a `query` outcome or refusal). Output: a ReplayReport. Never
 * changes the recorded log except by appending the new attempt's own records (--execute).
 */
import { Writable } from 'node:stream';
import type { AuditRecord } from '../audit/audit-record.js';
import { listAuditRecords, requireAuditRecord } from '../audit/read-audit-log.js';
import { isHoopqError, UsageError } from '../errors.js';
import { loadOrCreateSqlSealKey, unsealSql } from '../audit/seal-sql.js';
import { CheckProgress, checkQuery } from './check-query.js';
import type { PipelineParts } from './pipeline-parts.js';
import { runQuery } from './run-query.js';
import type { OutputFormat } from '../output/create-result-writer.js';

export interface ReplayReport {
  id: string;
  policy: { name: string | null; recorded_sha256: string | null; current_sha256: string | null; changed: boolean };
  recorded: { decision: string; reason: string | null; rows: number | null; result_sha256: string | null };
  now: { decision: 'allow' | 'deny'; reason: string | null; rule: string | null };
  same_decision: boolean;
  why: string;
  execution?: { verdict: 'same' | 'differs' | 'now refused'; rows: number | null; result_sha256: string | null; record: string | null; reason?: string };
}

export async function replayQuery(
  parts: PipelineParts,
  record: AuditRecord,
  options: { execute: boolean; mintToken?: (policy: string, run: string) => Promise<string> },
): Promise<ReplayReport> {
  if (!record.event.startsWith('query') || record.sql === null) {
    throw new UsageError('usage.replay_not_query', `record ${record.id} is a ${record.event} record, not a query`, { hint: 'replay the id of a query record (see hoopq audit list)' });
  }
  // the exact SQL: sealed in the record when the log shows it with literals redacted
  const sql = typeof record.sql_sealed === 'string' ? unsealSql(record.sql_sealed, loadOrCreateSqlSealKey(parts.config.keysDir)) : record.sql;
  const policyName = record.policy?.name ?? null;
  const policy = policyName ? parts.policies.get(policyName) : undefined;
  const report: ReplayReport = {
    id: record.id,
    policy: { name: policyName, recorded_sha256: record.policy?.sha256 ?? null, current_sha256: policy?.sha256 ?? null, changed: policy?.sha256 !== record.policy?.sha256 },
    recorded: { decision: record.decision, reason: record.reason, rows: record.rows, result_sha256: record.result_sha256 },
    now: { decision: 'allow', reason: null, rule: null },
    same_decision: false,
    why: '',
  };
  if (!policy) {
    report.now = { decision: 'deny', reason: policyName ? `policy ${policyName} no longer exists` : 'the record names no policy (refused before a policy was known)', rule: 'policy' };
  } else {
    const warehouse = await parts.openWarehouse({ writable: false, policy });
    try {
      const names = { defaultProject: parts.config.warehouse.defaultProject ?? warehouse.project, defaultDataset: parts.config.warehouse.defaultDataset };
      await checkQuery(warehouse, sql, policy, record.justification, names, new CheckProgress());
    } catch (err) {
      if (!isHoopqError(err)) throw err;
      report.now = { decision: 'deny', reason: err.message, rule: err.rule ?? null };
    } finally {
      await warehouse.close();
    }
  }
  const recordedDecision = record.decision === 'allow' ? 'allow' : record.decision === 'deny' ? 'deny' : 'error';
  report.same_decision = recordedDecision === report.now.decision;
  report.why = report.same_decision
    ? `same decision (${report.now.decision})${report.policy.changed ? ', although the policy file changed since' : ''}`
    : recordedDecision === 'error'
      ? `the recorded attempt failed (${record.reason}); today the policy would ${report.now.decision === 'allow' ? 'allow it' : 'deny it: ' + report.now.reason}`
      : report.now.decision === 'allow'
        ? `recorded ${recordedDecision} (${record.reason}); today's policy allows it`
        : `recorded allow; today's policy denies it: ${report.now.reason}`;

  if (options.execute) {
    if (!policy || report.now.decision === 'deny' || !options.mintToken) {
      report.execution = { verdict: 'now refused', rows: null, result_sha256: null, record: null, reason: report.now.reason ?? 'no policy' };
    } else {
      const token = await options.mintToken(policy.name, `replay-${record.id.slice(0, 8)}-${Date.now().toString(36)}`);
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      try {
        const outcome = await runQuery(parts, {
          sql,
          token,
          justification: record.justification ?? `replay of ${record.id}`,
          format: ((record as { format?: string }).format as OutputFormat | undefined) ?? 'json',
          out: sink,
          notice: () => {},
          origin: { replay_of: record.id },
        });
        report.execution = {
          verdict: outcome.resultSha256 === record.result_sha256 ? 'same' : 'differs',
          rows: outcome.rows,
          result_sha256: outcome.resultSha256,
          record: outcome.recordId,
        };
      } catch (err) {
        if (!isHoopqError(err) || err.exitCode < 4 || err.exitCode > 6) throw err;
        report.execution = { verdict: 'now refused', rows: null, result_sha256: null, record: null, reason: err.message };
      }
    }
  }
  return report;
}

/**
 * The record `replay ID` works on: the query's outcome when ID is its intent (the outcome
 * carries rows and digest); an intent without an outcome (a crash) replays as it is.
 */
export async function findReplayRecord(logPath: string, id: string): Promise<AuditRecord> {
  let record = await requireAuditRecord(logPath, id);
  if (record.event === 'query.intent') {
    const intent = record.id;
    for await (const r of listAuditRecords(logPath, {})) if (r.intent === intent) record = r;
  }
  return record;
}
