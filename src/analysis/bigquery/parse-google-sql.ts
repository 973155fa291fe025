/**
 * GoogleSQL text -> sql-parser-cst tree (BigQuery dialect) with source ranges, after the
 * length-preserving normalisation. A syntax error becomes an AnalysisError (exit 6): what
 * the parser cannot read is never guessed at.
 */
import { parse, type Program } from 'sql-parser-cst';
import { AnalysisError } from '../../errors.js';
import { normalizeGoogleSql, type NormalizedGoogleSql } from './normalize-google-sql.js';

export interface ParsedGoogleSql {
  program: Program;
  normalized: NormalizedGoogleSql;
}

export function parseGoogleSql(sql: string): ParsedGoogleSql {
  const normalized = normalizeGoogleSql(sql);
  try {
    const program = parse(normalized.sql, {
      dialect: 'bigquery',
      includeRange: true,
      paramTypes: ['@name', '?'],
    });
    return { program, normalized };
  } catch (err) {
    const first = err instanceof Error ? err.message.split('\n')[0] : String(err);
    const where = err instanceof Error ? /--> [^:]*:(\d+):(\d+)/.exec(err.message) : null;
    throw new AnalysisError(
      'analysis.parse_error',
      `refused: the SQL could not be parsed as GoogleSQL${where ? ` (line ${where[1]}, column ${where[2]})` : ''}: ${first}`,
      {
        rule: 'analysis.parse',
        hint: 'write standard GoogleSQL that hoopq can analyse; unsupported syntax is refused rather than guessed',
        cause: err,
      },
    );
  }
}
