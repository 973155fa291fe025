/**
 * `hoopq explain --format pretty`: the decision as a short report for the people who review
 * agent behaviour — the verdict and the rule behind it first, then what is read (views with
 * the tables behind them), written and masked (and how), what is scanned, and the limits.
 * Input: the Explanation (local or from a gateway). Output: text; nothing here re-decides.
 */
import type { Explanation } from '../pipeline/explain-query.js';

const MASK_HOW: Record<string, string> = {
  hash: 'hex SHA-256 of the value',
  redact: 'replaced by [REDACTED]',
  null: 'replaced by NULL',
  partial: 'all but the last four characters replaced',
};

export function formatExplanationPretty(e: Explanation): string {
  const out: string[] = [];
  const policy = `policy ${e.policy.name} (sha256 ${e.policy.sha256.slice(0, 12)}…)${e.run ? `, run ${e.run}` : ''}`;
  if (e.decision === 'allow') {
    out.push(`ALLOWED under ${policy}`);
    out.push(`  every statement kind and every table read${e.tables.write.length > 0 ? ' and written' : ''} is allowed by the policy; ${Object.keys(e.masks).length > 0 ? 'the masks below apply at the source' : 'no column mask applies'}`);
  } else {
    out.push(`DENIED (exit ${e.exit_code}) by rule ${e.rule ?? e.code ?? 'unnamed'} of ${policy}`);
    if (e.reason) out.push(`  ${e.reason}`);
    if (e.hint) out.push(`  hint: ${e.hint}`);
  }
  out.push('');
  const rows: Array<[string, string[]]> = [
    ['statements', e.statements.length > 0 ? [e.statements.join(', ')] : ['(not analysed)']],
    ['reads', readLines(e)],
    ['writes', e.tables.write.length > 0 ? e.tables.write : ['nothing']],
    ['masked', maskLines(e.masks)],
    ['scanned', e.detect.length > 0 ? [`returned text for ${e.detect.join(', ')}`] : ['no detectors']],
    ['limits', [limitsLine(e.limits)]],
  ];
  if (e.dry_run) rows.push(['dry run', [`${e.dry_run.bytes_processed === null ? 'unknown' : e.dry_run.bytes_processed.toLocaleString('en-US')} bytes processed${e.dry_run.statement_type ? `, ${e.dry_run.statement_type}` : ''}`]]);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [label, lines] of rows) lines.forEach((line, i) => out.push(`${i === 0 ? label.padEnd(width) : ' '.repeat(width)}  ${line}`));
  return out.join('\n') + '\n';
}

function readLines(e: Explanation): string[] {
  if (e.tables.read.length === 0) return ['nothing'];
  const views = new Map(e.views.map((v) => [v.view, v.reads]));
  return e.tables.read.map((t) => {
    const behind = views.get(t);
    return behind ? `${t} (view over ${behind.join(', ') || 'no table'})` : t;
  });
}

function maskLines(masks: Record<string, string>): string[] {
  const entries = Object.entries(masks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return ['nothing'];
  const width = Math.max(...entries.map(([c]) => c.length));
  const methodWidth = Math.max(...entries.map(([, m]) => m.length));
  return entries.map(([column, method]) => `${column.padEnd(width)}  ${method.padEnd(methodWidth)}  ${MASK_HOW[method] ?? ''}`.trimEnd());
}

function limitsLine(l: Explanation['limits']): string {
  const parts: string[] = [];
  if (l.maxRows !== undefined) parts.push(`at most ${l.maxRows.toLocaleString('en-US')} rows`);
  if (l.maxQueries !== undefined) parts.push(`${l.maxQueries.toLocaleString('en-US')} queries per run`);
  if (l.maxBytesBilled !== undefined) parts.push(`${l.maxBytesBilled.toLocaleString('en-US')} bytes billed`);
  if (l.timeoutMs !== undefined) parts.push(`timeout ${l.timeoutMs % 1000 === 0 ? `${l.timeoutMs / 1000}s` : `${l.timeoutMs}ms`}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}
