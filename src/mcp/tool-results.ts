/**
 * The MCP tool results hoopq sends: rows with a note of what was masked or cut, JSON answers,
 * and refusals. A refusal is `isError: true` with exactly the line the CLI prints on stderr
 * (formatRefusal), so an agent reads the same words whichever way it asked.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuditRecordBody } from '../audit/audit-record.js';
import { ApprovalPendingError, formatRefusal } from '../errors.js';
import { sanitizeError } from '../pipeline/sanitize-error.js';
import type { QueryOutcome } from '../pipeline/run-query.js';
import type { Policy } from '../policy/policy.js';
import type { CappedResultBuffer } from './capped-result-buffer.js';
import { MCP_MAX_ROWS } from './describe-policy-for-model.js';

export function refusalResult(err: unknown): CallToolResult {
  if (err instanceof ApprovalPendingError) return pendingResult(err);
  // the pipeline has sanitised what it threw; this also covers what came from elsewhere
  const { error } = sanitizeError(err);
  return { isError: true, content: [{ type: 'text', text: formatRefusal(error) }] };
}

/**
 * A query held for approval is not a failure the agent should work around: the result says it
 * is pending (text and structured content: request id, who was notified, expiry) and that the
 * same call, made again after approval, returns the rows.
 */
export function pendingResult(err: ApprovalPendingError): CallToolResult {
  const pending = (err.details?.pending ?? {}) as Record<string, unknown>;
  const text = `${formatRefusal(err)} To get the rows, call query again with exactly the same sql once an operator has approved request ${String(pending.request)} (before ${String(pending.expires_at)}).`;
  return { content: [{ type: 'text', text }, { type: 'text', text: JSON.stringify(pending) }] };
}

export function jsonResult(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }] };
}

export interface QueryResultInput {
  buffer: CappedResultBuffer;
  outcome: QueryOutcome;
  /** The outcome's audit record, as appended (masks and detector counts come from it). */
  record: AuditRecordBody | undefined;
  policy: Policy;
  notices: string[];
  /** The SQL as the agent sent it: the note names only the masks of columns it can have read. */
  sql: string;
}

/** content[0]: the rows, a JSON array of row objects (as `hoopq query --format json`); content[1]: the note. */
export function queryResult({ buffer, outcome, record, policy, notices, sql }: QueryResultInput): CallToolResult {
  const { text, rowsShown } = buffer.fittingJson();
  const note: string[] = [`${outcome.rows} row${outcome.rows === 1 ? '' : 's'}.`];
  if (rowsShown < outcome.rows) {
    note.push(`Only the first ${rowsShown} are shown: a tool result is capped at ${Math.round(buffer.capBytes / 1024)} KiB (the result was ${buffer.totalBytes} bytes); select fewer columns or rows.`);
  }
  if (outcome.truncated) {
    const byPolicy = policy.limits.maxRows !== undefined && policy.limits.maxRows <= MCP_MAX_ROWS;
    note.push(
      byPolicy
        ? `Result cut at ${outcome.rows} rows by limits.max_rows of policy ${policy.name}; aggregate or filter to see the rest.`
        : `Result cut at ${outcome.rows} rows: a tool result carries at most ${MCP_MAX_ROWS}; aggregate, filter or page with LIMIT/OFFSET.`,
    );
  }
  const masked = masksInPlay(record?.masked.columns ?? {}, sql);
  if (masked.length > 0) note.push(`Masked by policy ${policy.name}: ${masked.map(([c, m]) => `${c}=${m}`).join(', ')}.`);
  const detected = Object.entries(record?.masked.detected ?? {}).filter(([, n]) => n > 0);
  if (detected.length > 0) note.push(`Personal data found in text and replaced: ${detected.map(([d, n]) => `${d} ${n}`).join(', ')}.`);
  // the pipeline's own cut notice speaks of --max-rows; the sentence above replaces it here
  for (const n of notices) if (!(outcome.truncated && /^hoopq: result cut/.test(n))) note.push(n.replace(/^hoopq: /, ''));
  note.push(`Audit record ${outcome.recordId}.`);
  return {
    content: [
      { type: 'text', text },
      { type: 'text', text: note.join(' ') },
    ],
  };
}

/**
 * The masks of the tables read that can have touched this result: those of columns the SQL
 * names, and every one of a table it selects `*` from. The audit record keeps them all; the
 * note is for the agent, which would otherwise read "email=hash" after selecting only `city`.
 * A name matched in a comment or a string only adds a mask to the note, never hides one.
 */
export function masksInPlay(masks: Record<string, string>, sql: string): Array<[string, string]> {
  const star = /(?:\bselect|,)\s*(?:distinct\s+)?(?:[\w"`]+\.)*\*/i.test(sql);
  const words = new Set((sql.match(/[\p{L}_][\p{L}\p{N}_$]*/gu) ?? []).map((w) => w.toLowerCase()));
  for (const quoted of sql.matchAll(/"((?:[^"]|"")+)"|`([^`]+)`/g)) words.add((quoted[1] ?? quoted[2]!).replace(/""/g, '"').toLowerCase());
  return Object.entries(masks).filter(([column]) => star || words.has(column.slice(column.lastIndexOf('.') + 1).toLowerCase()));
}
