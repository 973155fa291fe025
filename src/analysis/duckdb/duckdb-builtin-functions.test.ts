import { DuckDBInstance, version } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { DENIED_FUNCTIONS, isAllowedDuckDbFunction } from './check-duckdb-function.js';
import { DUCKDB_BUILTIN_FUNCTIONS, DUCKDB_VERSION } from './duckdb-builtin-functions.js';

describe('the function allow-list is the engine\'s own list', () => {
  it('matches the functions this DuckDB ships (run scripts/list-duckdb-functions.mjs and review the new names after an upgrade)', async () => {
    const instance = await DuckDBInstance.create(':memory:', { enable_external_access: 'false', autoload_known_extensions: 'false', autoinstall_known_extensions: 'false' });
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT function_type, schema_name, list(DISTINCT function_name ORDER BY function_name)
         FROM duckdb_functions() WHERE internal GROUP BY ALL ORDER BY ALL`,
      );
      const engine: Record<string, string[]> = {};
      for (const [type, schema, names] of reader.getRowsJS()) engine[`${String(schema)}.${String(type)}`] = names as string[];
      expect(version()).toBe(DUCKDB_VERSION);
      expect(engine).toEqual(DUCKDB_BUILTIN_FUNCTIONS);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('allows computing functions and denies every reader of settings, state, SQL and the catalog', () => {
    for (const ok of ['lower', 'sha256', 'sum', 'row_number', 'list_transform', 'regexp_replace', 'date_trunc', '+', '||', 'nullif']) expect(isAllowedDuckDbFunction(ok), ok).toBe(true);
    for (const denied of [...DENIED_FUNCTIONS, 'duckdb_tables', 'pragma_version', 'read_csv', 'pg_get_viewdef', 'format_type', 'has_table_privilege', '__internal_compress_string_ubigint', 'made_up_function']) {
      expect(isAllowedDuckDbFunction(denied), denied).toBe(false);
    }
  });
});
