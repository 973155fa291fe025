/**
 * The analysers' Catalog (view definitions, column lists) and the warehouse's table
 * listing, read from DuckDB's metadata functions `duckdb_views()`, `duckdb_tables()` and
 * `duckdb_columns()`. Names are resolved `project.dataset.table`, compared lower-case
 * because DuckDB identifiers are case-insensitive (even quoted ones). Read-only lookups on
 * a connection of their own, so they never disturb the parser or a running query.
 * Answers are kept for the catalog's lifetime (each lookup costs a few milliseconds of
 * metadata scanning), which never outlives a change it could have missed: a cold warehouse
 * serves one query; a warm read-only instance (warm-duckdb-opener.ts) keeps its catalogs
 * only while its read lock keeps every writer out, and a writer's re-check opens a
 * writable instance of its own.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Catalog, ViewDefinition } from '../../analysis/catalog.js';
import { AnalysisError } from '../../errors.js';
import type { TableInfo } from '../warehouse.js';
import { toWarehouseError } from './duckdb-error.js';
import { extractViewQuery } from './extract-view-query.js';

const MATCH_NAME = 'lower(database_name) = ? AND lower(schema_name) = ? AND lower(%NAME%) = ?';

export class DuckDbCatalog implements Catalog {
  private readonly views = new Map<string, Promise<ViewDefinition | null>>();
  private readonly tables = new Map<string, Promise<TableInfo | null>>();

  constructor(
    private readonly connection: DuckDBConnection,
    /** The warehouse's own catalog name, lower-case: listTables lists only it. */
    private readonly project: string,
  ) {}

  viewDefinition(name: string): Promise<ViewDefinition | null> {
    return remember(this.views, name, () => this.readViewDefinition(name));
  }

  describeTable(name: string): Promise<TableInfo | null> {
    return remember(this.tables, name, () => this.readTable(name));
  }

  private async readViewDefinition(name: string): Promise<ViewDefinition | null> {
    const parts = splitName(name);
    if (!parts) return null;
    const rows = await this.rows(
      `SELECT database_name, schema_name, view_name, sql FROM duckdb_views() WHERE ${MATCH_NAME.replace('%NAME%', 'view_name')}`,
      parts,
    );
    if (rows.length === 0) return null;
    if (rows.length > 1) {
      // Cannot happen with case-insensitive identifiers; if it does, do not guess which.
      throw new AnalysisError('analysis.ambiguous_view', `view "${name}" matches ${rows.length} catalog entries`, {
        rule: 'views',
        hint: 'query the underlying tables directly',
      });
    }
    const [database, schema, view, sql] = rows[0] as [string, string, string, string | null];
    if (typeof sql !== 'string') {
      throw new AnalysisError('analysis.view_unreadable', `cannot read the definition of view "${name}"`, {
        rule: 'views',
        hint: 'query the underlying tables directly',
      });
    }
    const { query } = extractViewQuery(sql, view);
    return { sql: query, project: database.toLowerCase(), dataset: schema.toLowerCase() };
  }

  async columns(name: string): Promise<string[] | null> {
    const described = await this.describeTable(name);
    return described ? described.columns.map((c) => c.name) : null;
  }

  private async readTable(name: string): Promise<TableInfo | null> {
    const parts = splitName(name);
    if (!parts) return null;
    const isView = await this.rows(
      `SELECT 1 FROM duckdb_views() WHERE ${MATCH_NAME.replace('%NAME%', 'view_name')}`,
      parts,
    );
    const columns = await this.rows(
      `SELECT column_name, data_type FROM duckdb_columns() WHERE ${MATCH_NAME.replace('%NAME%', 'table_name')} ORDER BY column_index`,
      parts,
    );
    if (columns.length === 0) return null;
    return {
      name: parts.join('.'),
      kind: isView.length > 0 ? 'view' : 'table',
      columns: columns.map(([column, type]) => ({ name: String(column), type: String(type) })),
    };
  }

  /**
   * Tables and views of the warehouse's own catalog (not DuckDB's internal or temporary
   * ones), sorted. `dataset` is a schema name, optionally prefixed with the project.
   */
  async listTables(dataset?: string): Promise<string[]> {
    let schema: string | undefined;
    if (dataset !== undefined) {
      const parts = dataset.toLowerCase().split('.');
      if (parts.length === 2 && parts[0] === this.project) schema = parts[1];
      else if (parts.length === 1) schema = parts[0];
      else return [];
    }
    const rows = await this.rows(
      `SELECT schema_name, table_name FROM duckdb_tables() WHERE lower(database_name) = ? AND NOT internal AND NOT temporary
       UNION ALL
       SELECT schema_name, view_name FROM duckdb_views() WHERE lower(database_name) = ? AND NOT internal AND NOT temporary`,
      [this.project, this.project],
    );
    return rows
      .map(([s, t]) => `${this.project}.${String(s).toLowerCase()}.${String(t).toLowerCase()}`)
      .filter((n) => schema === undefined || n.split('.')[1] === schema)
      .sort();
  }

  private async rows(sql: string, params: string[]): Promise<unknown[][]> {
    try {
      const reader = await this.connection.runAndReadAll(sql, params);
      return reader.getRowsJS() as unknown[][];
    } catch (err) {
      throw toWarehouseError(err);
    }
  }
}

/** The cached answer for `key`, computing it once; a failed lookup is not kept. */
function remember<T>(cache: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> {
  const k = key.toLowerCase();
  let found = cache.get(k);
  if (!found) {
    found = read();
    cache.set(k, found);
    found.catch(() => cache.delete(k));
  }
  return found;
}

/** `project.dataset.table` -> its three parts lower-case; anything else names nothing. */
function splitName(name: string): [string, string, string] | null {
  const parts = name.toLowerCase().split('.');
  return parts.length === 3 && parts.every((p) => p !== '') ? (parts as [string, string, string]) : null;
}
