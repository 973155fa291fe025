/**
 * DuckDB's own parse tree of one SELECT statement, through `json_serialize_sql`. It only
 * parses (no binding), so it needs no tables to exist and runs nothing. The trees of one
 * analysis are fetched in batches (duckdb-parse-trees.ts). Non-SELECT input,
 * several statements, or a parse error is an AnalysisError.
 */
import { AnalysisError } from '../../errors.js';
import type { DuckDbParseTrees } from './duckdb-parse-trees.js';
import { parseError } from './read-duckdb-script.js';

/** The `{node, named_param_map}` object of the one statement. */
export type DuckDbSelectTree = Record<string, unknown>;

export async function serializeDuckDbSelect(sql: string, trees: DuckDbParseTrees): Promise<DuckDbSelectTree> {
  let raw: unknown;
  try {
    raw = await trees.raw(sql);
  } catch (err) {
    throw parseError(err);
  }
  if (typeof raw !== 'string') throw parseError(new Error('json_serialize_sql returned nothing'));
  const parsed = JSON.parse(raw) as { error?: boolean; error_type?: string; error_message?: string; statements?: unknown[] };
  if (parsed.error) {
    if (parsed.error_type === 'not implemented') {
      throw new AnalysisError('analysis.not_a_query', 'refused: DuckDB does not parse this statement as a query (for example a standalone PIVOT statement)', {
        rule: 'parse',
        hint: 'write it as a SELECT, e.g. SELECT * FROM t PIVOT (… FOR c IN (…))',
      });
    }
    throw parseError(new Error(parsed.error_message ?? 'unknown parse error'));
  }
  const statements = parsed.statements ?? [];
  if (statements.length !== 1 || typeof statements[0] !== 'object' || statements[0] === null) {
    throw new AnalysisError('analysis.split_mismatch', `refused: expected one query, DuckDB parsed ${statements.length}`, {
      rule: 'parse',
      hint: 'separate statements with ";"',
    });
  }
  return statements[0] as DuckDbSelectTree;
}
