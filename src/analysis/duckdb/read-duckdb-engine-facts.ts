/**
 * Two facts about the engine that name resolution needs and the Catalog interface does not
 * carry: the attached database names (a 2-part name whose first part is one of them is
 * ambiguous in DuckDB: catalog.table or schema.table), and the functions the operator
 * created (a macro can hide a subquery over any table, so calling one is refused).
 * Read-only metadata queries on the parser connection.
 *
 * Listing functions costs ~35 ms (DuckDB materialises every overload), so the user
 * function set is read once per connection: hoopq itself never lets a statement create
 * one (CREATE MACRO/FUNCTION, ATTACH, IMPORT are engine control), so it only changes if
 * the operator's own setup code runs on that connection, which must then open a new one.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { AnalysisError } from '../../errors.js';

export interface DuckDbEngineFacts {
  /** Lower-cased names of every attached database, including `system` and `temp`. */
  catalogs: Set<string>;
  /** Lower-cased names of functions and macros that are not built in. */
  userFunctions: Set<string>;
}

const userFunctionsByConnection = new WeakMap<DuckDBConnection, Promise<Set<string>>>();
// Databases change only by ATTACH/DETACH, which hoopq never runs: read once per connection too.
const catalogsByConnection = new WeakMap<DuckDBConnection, Promise<Set<string>>>();

export async function readDuckDbEngineFacts(parser: DuckDBConnection): Promise<DuckDbEngineFacts> {
  try {
    let userFunctions = userFunctionsByConnection.get(parser);
    if (!userFunctions) {
      userFunctions = parser
        .runAndReadAll('SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE NOT internal')
        .then((r) => new Set(r.getRows().map((row) => String(row[0]))));
      userFunctionsByConnection.set(parser, userFunctions);
      userFunctions.catch(() => userFunctionsByConnection.delete(parser));
    }
    let catalogs = catalogsByConnection.get(parser);
    if (!catalogs) {
      catalogs = parser
        .runAndReadAll('SELECT DISTINCT lower(database_name) FROM duckdb_databases()')
        .then((r) => new Set(['system', 'temp', ...r.getRows().map((row) => String(row[0]))]));
      catalogsByConnection.set(parser, catalogs);
      catalogs.catch(() => catalogsByConnection.delete(parser));
    }
    return { catalogs: await catalogs, userFunctions: await userFunctions };
  } catch (err) {
    throw new AnalysisError('analysis.catalog_unavailable', 'refused: hoopq could not read the DuckDB catalog it needs to resolve names', {
      rule: 'analysis',
      hint: 'this is a warehouse problem; try again or ask the operator',
      cause: err,
    });
  }
}
