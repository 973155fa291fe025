/**
 * Table and dataset references as agents write them for `bq` and for hoopq: bq's colon form
 * (`project:dataset.table`, `project:dataset`), the dotted form (`project.dataset.table`,
 * `dataset.table`, `table`), optionally in backquotes or with quoted parts. The result is a
 * resolved `project.dataset.table` (or `project.dataset`), checked by the same
 * `resolveTableName` as SQL names, so a listing and a query agree on what a name means.
 */
import type { NameDefaults } from '../analysis/query-analysis.js';
import { resolveTableName } from '../analysis/table-name.js';
import { UsageError } from '../errors.js';

/** Throws UsageError for a malformed reference, AnalysisError (from resolveTableName) for an unsafe or unresolvable one. */
export function parseTableReference(text: string, names: NameDefaults, caseInsensitive: boolean): string {
  const parts = splitReference(text, 'table');
  return resolveTableName(parts, { ...names, caseInsensitive });
}

/** `project:dataset`, `project.dataset` or `dataset`, resolved to `project.dataset`. */
export function parseDatasetReference(text: string, names: NameDefaults, caseInsensitive: boolean): string {
  const parts = splitReference(text, 'dataset');
  if (parts.length > 2) {
    throw new UsageError('usage.dataset_reference', `"${text}" is not a dataset`, { hint: 'name a dataset as project:dataset, project.dataset or dataset' });
  }
  // resolve a placeholder table inside the dataset, then drop it: the same defaults and checks as tables
  const table = resolveTableName([...parts, 'x'], { ...names, caseInsensitive });
  return table.slice(0, table.lastIndexOf('.'));
}

function splitReference(text: string, what: 'table' | 'dataset'): string[] {
  let s = text.trim();
  if (s.length >= 2 && s.startsWith('`') && s.endsWith('`')) s = s.slice(1, -1);
  const colon = s.split(':');
  if (colon.length > 2) {
    throw new UsageError(`usage.${what}_reference`, `"${text}" has more than one ":"`, {
      hint: what === 'table' ? 'name a table as project:dataset.table, project.dataset.table, dataset.table or table' : 'name a dataset as project:dataset or dataset',
    });
  }
  const parts = colon.length === 2 ? [colon[0]!, ...colon[1]!.split('.')] : s.split('.');
  const unquoted = parts.map((p) => p.trim().replace(/^"(.*)"$/, '$1').replace(/^`(.*)`$/, '$1'));
  if (unquoted.length === 0 || unquoted.length > 3 || unquoted.some((p) => p === '')) {
    throw new UsageError(`usage.${what}_reference`, `"${text}" is not a ${what} name`, {
      hint: what === 'table' ? 'name a table as project:dataset.table, project.dataset.table, dataset.table or table' : 'name a dataset as project:dataset or dataset',
    });
  }
  return unquoted;
}
