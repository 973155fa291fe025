/**
 * Which functions SQL may call on the DuckDB warehouse: an allow-list. A function is allowed
 * only when it is one of DuckDB's own scalar, aggregate or window functions or built-in
 * `main` macros (duckdb-builtin-functions.ts, generated from the engine and checked against
 * it by a test) and is not denied below; table functions are allowed from a short list of
 * pure generators only. Everything else is refused: functions a newer DuckDB adds are
 * refused until reviewed, and every catalog helper, settings reader, file reader, SQL runner
 * and state changer is named in DENIED_FUNCTIONS. Functions the operator or a writer created
 * (a macro can hide a subquery, or shadow a built-in by name) are refused by the analyser,
 * from the catalog. The engine lockdown of the warehouse is the backstop behind this list.
 * The same rules apply wherever SQL can hold an expression: queries, views, DML, column
 * DEFAULT / CHECK / GENERATED expressions and macro bodies.
 */
import { AnalysisError } from '../../errors.js';
import { DUCKDB_BUILTIN_FUNCTIONS } from './duckdb-builtin-functions.js';

const ALLOWED_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);

/** Built-ins that read settings, the session, the catalog, files or logs, run SQL, or change state. */
export const DENIED_FUNCTIONS = new Set([
  // settings, variables and the session
  'current_setting', 'getvariable', 'current_query', 'current_query_id', 'current_connection_id',
  'current_transaction_id', 'txid_current', 'in_search_path', 'get_block_size', 'getenv',
  // sequences and other state
  'nextval', 'currval', 'setval', 'setseed', 'write_log', 'sleep_ms', 'pg_sleep',
  // SQL text and plans
  'json_serialize_plan', 'json_serialize_sql', 'json_deserialize_sql', 'json_execute_serialized_sql',
  'query', 'query_table', 'sql_auto_complete',
  // statistics the optimiser keeps about stored columns
  'stats',
  // files, secrets and logs
  'glob', 'which_secret', 'parse_duckdb_log_message', 'checkpoint', 'force_checkpoint',
]);

/** Prefixes of families that are never allowed (catalog listings, pragmas, readers, internals). */
const DENIED_PREFIXES = ['duckdb_', 'pragma_', 'read_', 'parquet_', 'iceberg_', 'delta_', '__internal_', 'pg_', 'has_'];

/** Names the binder resolves itself (they are not rows of duckdb_functions()). */
const BINDER_FUNCTIONS = ['unnest', 'unlist', 'grouping', 'grouping_id', 'columns', 'try', 'lambda'];

const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set(
  [
    ...(DUCKDB_BUILTIN_FUNCTIONS['main.scalar'] ?? []),
    ...(DUCKDB_BUILTIN_FUNCTIONS['main.aggregate'] ?? []),
    ...(DUCKDB_BUILTIN_FUNCTIONS['main.macro'] ?? []),
    ...BINDER_FUNCTIONS,
  ]
    .map((n) => n.toLowerCase())
    .filter((n) => !isDenied(n)),
);

function isDenied(lower: string): boolean {
  return DENIED_FUNCTIONS.has(lower) || DENIED_PREFIXES.some((p) => lower.startsWith(p));
}

export function isAllowedDuckDbFunction(name: string): boolean {
  return ALLOWED_FUNCTIONS.has(name.toLowerCase());
}

export function checkDuckDbTableFunction(name: string, qualified: boolean): void {
  const lower = name.toLowerCase();
  if (!qualified && ALLOWED_TABLE_FUNCTIONS.has(lower)) return;
  throw new AnalysisError('analysis.table_function', `refused: the table function ${name}() is not allowed (it can read files, settings or the catalog outside the policy)`, {
    rule: 'functions',
    hint: `read tables by name; the only table functions allowed are ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')}`,
    details: { function: lower },
  });
}

/**
 * A scalar, aggregate or window function call. `schema`/`catalog` are the qualifiers as
 * written: only DuckDB's own `system.main` / `main` may qualify a built-in (hoopq's masks
 * call them that way so that no user macro can shadow them).
 */
export function checkDuckDbScalarFunction(name: string, qualifier: { catalog?: string; schema?: string } = {}): void {
  const lower = name.toLowerCase();
  const catalog = (qualifier.catalog ?? '').toLowerCase();
  const schema = (qualifier.schema ?? '').toLowerCase();
  const qualifiedAsBuiltin = (catalog === '' || catalog === 'system') && (schema === '' || schema === 'main');
  if (isAllowedDuckDbFunction(lower) && qualifiedAsBuiltin) return;
  const written = [catalog, schema, lower].filter((p) => p !== '').join('.');
  throw new AnalysisError('analysis.denied_function', `refused: the function ${written}() is not allowed (only DuckDB's built-in functions that compute on their arguments may be called; not ones that read settings, the environment, files or the catalog, or change state)`, {
    rule: 'functions',
    hint: 'compute with ordinary scalar and aggregate functions over the tables your policy allows',
    details: { function: written },
  });
}
