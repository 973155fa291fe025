/**
 * An engine's SQL traits, declared by the engine itself (each warehouse folder exports one):
 * how it folds the case of table and column names, how it quotes a table name, which special
 * name forms it has (wildcard tables, federated reads), how many referenced tables its dry run
 * lists, and whether reading its catalog is a network call. Code outside the engine folders
 * asks the descriptor; it never tests a warehouse kind.
 *
 * Matching follows the engine, and where the engine may fold case that hoopq cannot see (a
 * BigQuery dataset created case-insensitive), every rule that protects data — deny globs,
 * column masks — matches case-insensitively, while allow globs match exactly: a name that
 * could mean a denied or masked object is treated as that object, never the other way round.
 */
import { globToRegExp } from '../analysis/table-name.js';
import type { SqlDialect } from '../masking/redact-sql.js';

export interface WarehouseDialect {
  /** The engine's SQL, to read a text for redaction before it is analysed. */
  sql: SqlDialect;
  /** How the SQL is named to people and models. */
  label: string;
  /**
   * Project, dataset and table names: `insensitive` (the engine folds them; hoopq resolves
   * them lower-cased), `sensitive`, or `sensitive-by-default` (sensitive unless the operator
   * configured a dataset otherwise, which hoopq cannot see at analysis time).
   */
  tableCase: 'insensitive' | 'sensitive' | 'sensitive-by-default';
  /** Column and nested field names. */
  columnCase: 'insensitive' | 'sensitive';
  /** A resolved `project.dataset.table` as a table name in this engine's SQL. */
  quoteTableName(name: string): string;
  /** The dry run lists at most this many referenced tables (a list this long may be cut). */
  referencedTableLimit?: number;
  /** Wildcard tables (`project.dataset.prefix*`) read every table whose name starts with the prefix. */
  wildcardTables: boolean;
  /** Resolved names with this prefix are federated reads (EXTERNAL_QUERY), not tables. */
  externalQueryPrefix?: string;
  /** Columns can be STRUCT/RECORD with named fields that a mask may address (`table.column.field`). */
  nestedFields: boolean;
  /** Reading the catalog (views, columns) is a call to a remote service (`explain --offline` skips it). */
  remoteCatalog: boolean;
}

/** Who a glob comparison protects: `allow` may only ever match less, `protect` (deny, masks) only more. */
export type MatchPurpose = 'allow' | 'protect';

/** Whether table names compare case-insensitively for this purpose. */
export function tableCaseInsensitive(dialect: WarehouseDialect, purpose: MatchPurpose): boolean {
  if (dialect.tableCase === 'insensitive') return true;
  if (dialect.tableCase === 'sensitive') return false;
  return purpose === 'protect';
}

/** A resolved table name as the catalog keys it (folded where the engine folds). */
export function tableKey(dialect: WarehouseDialect, name: string): string {
  return dialect.tableCase === 'insensitive' ? name.toLowerCase() : name;
}

export function columnKey(dialect: WarehouseDialect, column: string): string {
  return dialect.columnCase === 'insensitive' ? column.toLowerCase() : column;
}

export function matchesTableGlob(dialect: WarehouseDialect, name: string, glob: string, purpose: MatchPurpose): boolean {
  return globToRegExp(glob, tableCaseInsensitive(dialect, purpose)).test(name);
}

export function findTableGlob(dialect: WarehouseDialect, name: string, globs: readonly string[], purpose: MatchPurpose): string | undefined {
  return globs.find((g) => matchesTableGlob(dialect, name, g, purpose));
}

/** True when `name` is a wildcard table of an engine that has them. */
export function isWildcardName(dialect: WarehouseDialect, name: string): boolean {
  return dialect.wildcardTables && name.endsWith('*');
}

/** True when `name` is a federated read (`external_query:connection`) of an engine that has them. */
export function isExternalQueryName(dialect: WarehouseDialect, name: string): boolean {
  return dialect.externalQueryPrefix !== undefined && name.startsWith(dialect.externalQueryPrefix);
}
