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

interface NameNode {
  type: string;
  range?: [number, number];
  name?: string;
  text?: string;
  [key: string]: unknown;
}

/** An identifier the parser read with a character changed gets its name back from the source. */
function restoreNames(node: NameNode, sql: string, renamed: Array<[number, number]>): void {
  if (node.type === 'identifier' && node.range && renamed.some(([a, b]) => a < node.range![1] && node.range![0] < b)) {
    const original = sql.slice(node.range[0], node.range[1]);
    node.name = original;
    node.text = original;
  }
  for (const [k, v] of Object.entries(node)) {
    if (k === 'range') continue;
    for (const x of Array.isArray(v) ? v : [v]) if (x && typeof x === 'object' && typeof (x as NameNode).type === 'string') restoreNames(x as NameNode, sql, renamed);
  }
}

export function parseGoogleSql(sql: string): ParsedGoogleSql {
  const normalized = normalizeGoogleSql(sql);
  try {
    const program = parse(normalized.sql, {
      dialect: 'bigquery',
      includeRange: true,
      paramTypes: ['@name', '?'],
    });
    if (normalized.renamedNames.length > 0) restoreNames(program as unknown as NameNode, sql, normalized.renamedNames);
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
