/**
 * explain: what `query` would decide and why, without running anything or writing audit.
 * Output uses the audit record's names where they overlap (statements, tables, decision,
 * reason, masks). A refusal is a decision, not a failure: explain itself succeeds; only an
 * invalid token, unknown policy or broken config make explain fail.
 */
import { kindsOf, tablesOf } from '../analysis/query-analysis.js';
import { AuthError, isHoopqError, UsageError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import { scrubLiterals } from '../masking/redact-sql-literals.js';
import { redactSql } from '../masking/redact-sql.js';
import { warehouseDialectOf } from '../warehouse/open-warehouse.js';
import { CheckProgress, checkQuery } from './check-query.js';
import { crossCheckDryRun } from './cross-check-dry-run.js';
import { hideRewriteExcerpt } from './hide-rewrite-excerpt.js';
import type { PipelineParts } from './pipeline-parts.js';
import { resolveRunPolicy } from './resolve-run-policy.js';
import { isExternalQueryName, isWildcardName } from '../warehouse/warehouse-dialect.js';

export interface ExplainRequest {
  sql: string;
  token: string | undefined;
  policyName?: string;
  justification: string | null;
  offline: boolean;
}

export interface Explanation {
  policy: { name: string; sha256: string };
  run: string | null;
  statements: string[];
  statement_details: Array<{ kind: string; native_type: string; reads: string[]; writes: string[]; views: string[] }>;
  tables: { read: string[]; write: string[] };
  views: Array<{ view: string; reads: string[] }>;
  masks: Record<string, string>;
  detect: string[];
  limits: Policy['limits'];
  decision: 'allow' | 'deny';
  reason: string | null;
  rule: string | null;
  hint: string | null;
  code: string | null;
  exit_code: number;
  /** The statements that would run, as they would run (literals redacted under a masking policy). */
  run_sql?: string[];
  rewritten_sql?: string;
  /**
   * Offline on a warehouse whose catalog is remote: what could not be resolved without it —
   * tables that may be views (not looked through) and tables whose columns are unknown (masks
   * are listed by name, as they would apply if those columns exist).
   */
  unresolved?: { views: string[]; columns: string[] };
  dry_run?: { bytes_processed: number | null; statement_type: string | null; referenced_tables: string[] };
}

/**
 * The string constants the masks write (docs/reference.md "Mask methods": partial's '*',
 * redact's '[REDACTED]'): explain shows them as they run. A caller's own '*' is shown too; a
 * one-character text is no value worth hiding.
 */
const MASK_STRINGS: ReadonlySet<string> = new Set(['*', '[REDACTED]']);

export async function explainQuery(parts: PipelineParts, req: ExplainRequest): Promise<Explanation> {
  let policy: Policy;
  let run: string | null = null;
  if (req.token !== undefined || req.policyName === undefined) {
    if (req.token === undefined && req.policyName === undefined) {
      throw new UsageError('usage.explain_needs_policy', 'explain needs a run token (--token / HOOPQ_TOKEN) or --policy NAME', {
        hint: 'hoopq explain --policy analyst "SELECT …"',
      });
    }
    const identity = await parts.identity.verify(req.token);
    run = identity.run;
    policy = resolveRunPolicy(parts, identity);
  } else {
    const p = parts.policies.get(req.policyName);
    if (!p) {
      throw new AuthError('token.unknown_policy', `no policy named "${req.policyName}"`, {
        rule: 'policy',
        hint: `policies: ${parts.policies.names().join(', ') || '(none)'}`,
      });
    }
    policy = p;
  }
  // under a masking policy nothing hoopq prints echoes a literal the caller typed
  const mayCarryMaskedValues = Object.keys(policy.columns).length > 0;
  const dialect = warehouseDialectOf(parts.config.warehouse.kind).sql;
  let literals = mayCarryMaskedValues ? redactSql(req.sql, dialect).literals : [];
  const warehouse = await parts.openWarehouse({ writable: false, policy, offline: req.offline });
  const progress = new CheckProgress();
  const out: Explanation = {
    policy: { name: policy.name, sha256: policy.sha256 },
    run,
    statements: [],
    statement_details: [],
    tables: { read: [], write: [] },
    views: [],
    masks: {},
    detect: policy.detect,
    limits: policy.limits,
    decision: 'allow',
    reason: null,
    rule: null,
    hint: null,
    code: null,
    exit_code: 0,
  };
  try {
    const names = { defaultProject: parts.config.warehouse.defaultProject ?? warehouse.project, defaultDataset: parts.config.warehouse.defaultDataset };
    const checked = await checkQuery(warehouse, req.sql, policy, req.justification, names, progress);
    // what would really run, statement by statement (literal-redacted under a masking policy)
    const shown = (text: string) => (mayCarryMaskedValues ? redactSql(text, dialect, { trusted: true, keepStrings: MASK_STRINGS }).text : text);
    out.run_sql = checked.statementsToRun.map(shown);
    const rewritten = checked.statementsToRun.some((text, i) => text !== checked.analysis.run[i]);
    if (rewritten) out.rewritten_sql = out.run_sql.join(';\n');
    if (!req.offline && warehouse.dryRun) {
      const d = await warehouse.dryRun(checked.statementsToRun, { signal: new AbortController().signal, maxBytesBilled: policy.limits.maxBytesBilled, names });
      out.dry_run = { bytes_processed: d.bytesProcessed ?? null, statement_type: d.statementType ?? null, referenced_tables: d.referencedTables };
      await crossCheckDryRun(d, checked, policy, warehouse);
    }
  } catch (caught) {
    if (!isHoopqError(caught) || caught.exitCode < 5 || caught.exitCode > 7) throw caught;
    const err = Object.keys(progress.masks).length > 0 ? hideRewriteExcerpt(caught) : caught;
    if (mayCarryMaskedValues && progress.literals) literals = [...literals, ...redactSql(req.sql, dialect, { verified: progress.literals }).literals];
    out.decision = 'deny';
    out.reason = scrubLiterals(err.message, literals);
    out.rule = err.rule ?? null;
    out.hint = err.hint ?? null;
    out.code = err.code;
    out.exit_code = err.exitCode;
  } finally {
    await warehouse.close();
  }
  if (progress.analysis) {
    out.statements = kindsOf(progress.analysis);
    out.tables = tablesOf(progress.analysis);
    out.statement_details = progress.analysis.statements.map((s) => ({
      kind: s.kind,
      native_type: s.nativeType,
      reads: s.reads,
      writes: s.writes,
      views: s.views.map((v) => v.view),
    }));
    out.views = progress.analysis.statements.flatMap((s) => s.views);
    if (!warehouse.catalogAvailable) {
      const dialect = warehouse.dialect;
      const tables = out.tables.read.filter((t) => !isWildcardName(dialect, t) && !isExternalQueryName(dialect, t) && !/\.INFORMATION_SCHEMA\./i.test(t));
      out.unresolved = { views: tables, columns: tables.filter((t) => Object.keys(progress.masks).some((m) => m.startsWith(`${t}.`))) };
    }
  }
  out.masks = progress.masks;
  return out;
}
