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
import { tableAccessRefusal } from '../policy/evaluate-policy.js';
import { flattenMaskPlan, planMasks } from '../policy/plan-masks.js';
import type { Policy } from '../policy/policy.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { tableKey } from '../warehouse/warehouse-dialect.js';
import { maskCatalogOf } from './check-query.js';

export interface TableRead {
  /** The table and, for a view, every table its definition reads (recursively). */
  reads: string[];
  isView: boolean;
  /** Masks a query of it gets: `project.dataset.table.column` -> method, for every table read. */
  masks: Record<string, string>;
}

export async function checkTableRead(warehouse: Warehouse, table: string, policy: Policy, names: NameDefaults): Promise<TableRead> {
  const dialect = warehouse.dialect;
  const direct = tableAccessRefusal('read', table, policy, dialect);
  if (direct) throw direct;
  const analysis = await warehouse.analyze(`SELECT * FROM ${dialect.quoteTableName(table)}`, names);
  const read = tablesOf(analysis).read;
  for (const t of read) {
    const refusal = tableAccessRefusal('read', t, policy, dialect);
    if (refusal) throw refusal;
  }
  const key = tableKey(dialect, table);
  const isView = analysis.statements.some((s) => s.views.some((v) => tableKey(dialect, v.view) === key));
  const plan = await planMasks(read, policy, maskCatalogOf(warehouse), dialect);
  return { reads: read, isView, masks: flattenMaskPlan(plan) };
}
