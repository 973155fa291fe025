/**
 * Two facts about the engine that name resolution needs and the Catalog interface does not
 * carry: the attached database names (a 2-part name whose first part is one of them is
 * ambiguous in DuckDB: catalog.table or schema.table), and the functions the operator
 * created (a macro can hide a subquery over any table, so calling one is refused).
 * Read-only metadata queries on the parser connection.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { AnalysisError } from '../../errors.js';

export interface DuckDbEngineFacts {
  /** Lower-cased names of every attached database, including `system` and `temp`. */
  catalogs: Set<string>;
  /** Lower-cased names of functions and macros that are not built in. */
  userFunctions: Set<string>;
}

export async function readDuckDbEngineFacts(parser: DuckDBConnection): Promise<DuckDbEngineFacts> {
  try {
    const dbs = await parser.runAndReadAll('SELECT DISTINCT lower(database_name) FROM duckdb_databases()');
    const fns = await parser.runAndReadAll('SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE NOT internal');
    return {
      catalogs: new Set(['system', 'temp', ...dbs.getRows().map((r) => String(r[0]))]),
      userFunctions: new Set(fns.getRows().map((r) => String(r[0]))),
    };
  } catch (err) {
    throw new AnalysisError('analysis.catalog_unavailable', 'refused: hoopq could not read the DuckDB catalog it needs to resolve names', {
      rule: 'analysis',
      hint: 'this is a warehouse problem; try again or ask the operator',
      cause: err,
    });
  }
}
