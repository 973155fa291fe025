/**
 * Whether a policy lets a run read one table, looking through views: the same analysis a
 * `SELECT * FROM table` gets, so a view in an allowed dataset over a denied table is refused
 * here exactly as a query of it would be. Listings and descriptions use it so they never
 * show what a query could not read.
 * Output: the tables read (the table itself and, for a view, every table it reads), and
 * whether it is a view, and the masks a query of it would get.
 * Throws the query's own refusal (PolicyDeniedError 5 / AnalysisError 6).
 */
import { tablesOf, type NameDefaults } from '../analysis/query-analysis.js';
import { AnalysisError } from '../errors.js';
import { tableAccessRefusal } from '../policy/evaluate-policy.js';
import { flattenMaskPlan, planMasks } from '../policy/plan-masks.js';
import type { Policy } from '../policy/policy.js';
import type { Warehouse } from '../warehouse/warehouse.js';

export interface TableRead {
  /** The table and, for a view, every table its definition reads (recursively). */
  reads: string[];
  isView: boolean;
  /** Masks a query of it gets: `project.dataset.table.column` -> method, for every table read. */
  masks: Record<string, string>;
}

export async function checkTableRead(warehouse: Warehouse, table: string, policy: Policy, names: NameDefaults): Promise<TableRead> {
  const ci = warehouse.kind === 'duckdb';
  const direct = tableAccessRefusal('read', table, policy, ci);
  if (direct) throw direct;
  const analysis = await warehouse.analyze(`SELECT * FROM ${quoteTableName(warehouse.kind, table)}`, names);
  const read = tablesOf(analysis).read;
  for (const t of read) {
    const refusal = tableAccessRefusal('read', t, policy, ci);
    if (refusal) throw refusal;
  }
  const key = ci ? table.toLowerCase() : table;
  const isView = analysis.statements.some((s) => s.views.some((v) => (ci ? v.view.toLowerCase() : v.view) === key));
  const plan = await planMasks(read, policy, async (t) => (await warehouse.describeTable(t))?.columns.map((c) => c.name) ?? null, ci);
  return { reads: read, isView, masks: flattenMaskPlan(plan) };
}

function quoteTableName(kind: Warehouse['kind'], table: string): string {
  if (kind === 'bigquery') {
    if (/[`\\]/.test(table)) throw unquotable(table);
    return '`' + table + '`';
  }
  return table
    .split('.')
    .map((p) => '"' + p.replace(/"/g, '""') + '"')
    .join('.');
}

function unquotable(table: string): AnalysisError {
  return new AnalysisError('analysis.unsafe_name', `refused table name "${table}": it cannot be quoted safely`, {
    rule: 'names',
    hint: 'use plain identifiers for project, dataset and table',
  });
}
