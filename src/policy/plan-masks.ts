/**
 * Which columns of which tables are masked for a query: the policy's column globs
 * (`project.dataset.table.column`) matched against the columns of every table read
 * (including the base tables reached through views). Needs the column lists, so it takes a
 * lookup; a table whose columns cannot be listed while a column glob could match it is
 * refused (a mask that cannot be planned is not silently skipped).
 */
import { AnalysisError } from '../errors.js';
import { matchesAnyGlob, globToRegExp } from '../analysis/table-name.js';
import type { MaskPlan } from '../warehouse/warehouse.js';
import type { Policy } from './policy.js';

export async function planMasks(
  tablesRead: string[],
  policy: Policy,
  columnsOf: (table: string) => Promise<string[] | null>,
  caseInsensitive: boolean,
): Promise<MaskPlan> {
  const globs = Object.keys(policy.columns);
  const plan: MaskPlan = {};
  if (globs.length === 0) return plan;
  const tableGlobs = globs.map((g) => globToRegExp(g.split('.').slice(0, 3).join('.'), caseInsensitive));
  for (const table of tablesRead) {
    if (!tableGlobs.some((re) => re.test(table))) continue;
    const columns = await columnsOf(table);
    if (columns === null) {
      throw new AnalysisError('masking.unknown_columns', `refused: cannot list the columns of ${table} to apply the masks of policy ${policy.name}`, {
        rule: 'columns',
        hint: 'check the table name; masked tables must exist in the warehouse',
      });
    }
    for (const column of columns) {
      const glob = matchesAnyGlob(`${table}.${column}`, globs, caseInsensitive);
      if (glob) (plan[table] ??= {})[column] = policy.columns[glob]!;
    }
  }
  return plan;
}

/** The audit/explain view of a plan: `project.dataset.table.column` -> method. */
export function flattenMaskPlan(plan: MaskPlan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [table, cols] of Object.entries(plan)) for (const [c, m] of Object.entries(cols)) out[`${table}.${c}`] = m;
  return out;
}
