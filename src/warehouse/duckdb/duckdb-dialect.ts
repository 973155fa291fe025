/**
 * DuckDB's SQL traits (warehouse-dialect.ts): identifiers of every kind are case-insensitive
 * (hoopq resolves table names lower-cased), names are quoted with double quotes, no wildcard
 * tables, no federated reads, no nested-field masks (a STRUCT column is masked whole), and the
 * catalog is the local database file.
 */
import type { WarehouseDialect } from '../warehouse-dialect.js';

export const DUCKDB_DIALECT: WarehouseDialect = {
  sql: 'duckdb',
  label: 'DuckDB SQL',
  tableCase: 'insensitive',
  columnCase: 'insensitive',
  quoteTableName: (name) =>
    name
      .split('.')
      .map((p) => '"' + p.replace(/"/g, '""') + '"')
      .join('.'),
  wildcardTables: false,
  nestedFields: false,
  remoteCatalog: false,
};
