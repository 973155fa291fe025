/**
 * The decision `hoopq query` would reach for one SQL text under one policy, offline: the same
 * checkQuery (analysis, policy evaluation, mask planning, mask rewrite) on a warehouse used
 * only for its parser and catalog — no dry run, no execution, no audit. For `policy test`
 * and `policy backtest`, so that neither has an evaluator of its own.
 * Output: an OfflineDecision. A refusal (exit 5 or 6) is a decision; any other failure (the
 * warehouse, the configuration, a bug) is thrown.
 */
import { kindsOf, tablesOf, type NameDefaults } from '../analysis/query-analysis.js';
import type { HoopqConfig } from '../config/config.js';
import { isHoopqError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { redactSql } from '../masking/redact-sql.js';
import { CheckProgress, checkQuery } from './check-query.js';

export interface OfflineDecision {
  decision: 'allow' | 'deny';
  /** What `hoopq query` would exit with at this stage: 0, 5 or 6. */
  exit_code: number;
  rule: string | null;
  code: string | null;
  reason: string | null;
  hint: string | null;
  /** The table a table refusal names, when it names one. */
  table: string | null;
  statements: string[];
  tables: { read: string[]; write: string[] };
  /** `project.dataset.table.column` -> method: the masks that apply (planned so far, when refused). */
  masks: Record<string, string>;
  /**
   * The literal values the SQL carries (as redaction finds them): to scrub from `reason`
   * wherever the SQL itself is kept sealed. Empty when allowed.
   */
  sqlLiterals: string[];
}

export async function decideOffline(warehouse: Warehouse, sql: string, policy: Policy, justification: string | null, names: NameDefaults): Promise<OfflineDecision> {
  const progress = new CheckProgress();
  const out: OfflineDecision = {
    decision: 'allow',
    exit_code: 0,
    rule: null,
    code: null,
    reason: null,
    hint: null,
    table: null,
    statements: [],
    tables: { read: [], write: [] },
    masks: {},
    sqlLiterals: [],
  };
  try {
    await checkQuery(warehouse, sql, policy, justification, names, progress);
  } catch (err) {
    if (!isHoopqError(err) || (err.exitCode !== 5 && err.exitCode !== 6)) throw err;
    out.decision = 'deny';
    out.exit_code = err.exitCode;
    out.rule = err.rule ?? null;
    out.code = err.code;
    out.reason = err.message;
    out.hint = err.hint ?? null;
    out.table = typeof err.details?.table === 'string' ? err.details.table : null;
    out.sqlLiterals = redactSql(sql, warehouse.dialect.sql, { verified: progress.literals }).literals;
  }
  if (progress.analysis) {
    out.statements = kindsOf(progress.analysis);
    out.tables = tablesOf(progress.analysis);
  }
  out.masks = progress.masks;
  return out;
}

/** Where unqualified names resolve: the configured defaults, else the warehouse's own project (as `query` does). */
export function nameDefaultsFor(config: HoopqConfig, warehouse: Warehouse): NameDefaults {
  return { defaultProject: config.warehouse.defaultProject ?? warehouse.project, defaultDataset: config.warehouse.defaultDataset };
}
