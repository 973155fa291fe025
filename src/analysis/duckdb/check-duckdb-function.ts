/**
 * Which functions a query may call on the DuckDB warehouse. Table functions are allowed
 * from a short list of pure generators only: every other one (read_csv, read_text, glob,
 * query, query_table, duckdb_*(), pragma_*(), …) reads files, settings, the catalog or
 * runs SQL hoopq never analysed. Scalar functions are denied by name where they read the
 * environment or settings, run SQL, or change state. Functions the operator created
 * (macros can hide a subquery) are refused separately, by the analyser, from the catalog.
 * The engine lockdown of the warehouse is the backstop behind these lists.
 */
import { AnalysisError } from '../../errors.js';

const ALLOWED_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);

const DENIED_SCALAR_FUNCTIONS = new Set([
  'getenv',
  'current_setting',
  'nextval',
  'currval',
  'setval',
  'set_config',
  'json_serialize_plan',
  'json_execute_serialized_sql',
  'query',
  'query_table',
  'glob',
  'sql_auto_complete',
  'which_secret',
  'checkpoint',
  'force_checkpoint',
]);
const DENIED_PREFIXES = ['duckdb_', 'pragma_', 'read_', 'parquet_', 'iceberg_', 'delta_'];

export function checkDuckDbTableFunction(name: string, qualified: boolean): void {
  const lower = name.toLowerCase();
  if (!qualified && ALLOWED_TABLE_FUNCTIONS.has(lower)) return;
  throw new AnalysisError('analysis.table_function', `refused: the table function ${name}() is not allowed (it can read files, settings or the catalog outside the policy)`, {
    rule: 'functions',
    hint: `read tables by name; the only table functions allowed are ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')}`,
    details: { function: lower },
  });
}

export function checkDuckDbScalarFunction(name: string): void {
  const lower = name.toLowerCase();
  if (DENIED_SCALAR_FUNCTIONS.has(lower) || DENIED_PREFIXES.some((p) => lower.startsWith(p))) {
    throw new AnalysisError('analysis.denied_function', `refused: the function ${name}() is not allowed (it reads settings, the environment or the catalog, or changes state)`, {
      rule: 'functions',
      hint: 'compute with ordinary scalar and aggregate functions over the tables your policy allows',
      details: { function: lower },
    });
  }
}
