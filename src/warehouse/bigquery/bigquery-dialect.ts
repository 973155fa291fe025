/**
 * GoogleSQL's traits as BigQuery applies them (warehouse-dialect.ts):
 * - dataset and table names are case-sensitive, unless a dataset was created with
 *   `is_case_insensitive` (hoopq cannot see that at analysis time, so deny globs and masks
 *   match case-insensitively; allow globs exactly); column and field names are
 *   case-insensitive;
 * - a table name is quoted whole in backticks;
 * - wildcard tables (`p.d.prefix*`), EXTERNAL_QUERY federated reads, RECORD fields;
 * - the dry run lists at most 50 referenced tables;
 * - the catalog is Google's API (remote).
 */
import { AnalysisError } from '../../errors.js';
import type { WarehouseDialect } from '../warehouse-dialect.js';

export const BIGQUERY_DIALECT: WarehouseDialect = {
  sql: 'googlesql',
  label: 'GoogleSQL (BigQuery)',
  tableCase: 'sensitive-by-default',
  columnCase: 'insensitive',
  quoteTableName: (name) => {
    if (/[`\\\u0000-\u001f]/.test(name)) {
      throw new AnalysisError('analysis.unsafe_name', `refused table name "${name}": it cannot be quoted safely`, {
        rule: 'names',
        hint: 'use plain identifiers for project, dataset and table',
      });
    }
    return '`' + name + '`';
  },
  referencedTableLimit: 50,
  wildcardTables: true,
  externalQueryPrefix: 'external_query:',
  nestedFields: true,
  remoteCatalog: true,
};
