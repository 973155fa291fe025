/**
 * Split a script into statements at top-level `;` tokens, and make DuckDB agree: its own
 * parser must count the same number of statements, and see exactly one in each piece, or
 * the script is refused. A split that disagrees with the engine is exactly the gap a
 * smuggled statement would use. Callers that execute should run the pieces' texts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { AnalysisError } from '../../errors.js';
import { lexDuckDbSql, isKeyword, isPunct, type DuckDbToken } from './lex-duckdb-sql.js';

export interface DuckDbStatementText {
  /** The statement's text, from its first to its last token (no trailing `;`). */
  text: string;
  /** Tokens re-lexed from `text`, so offsets are relative to it. */
  tokens: DuckDbToken[];
}

export async function splitDuckDbScript(sql: string, parser: DuckDBConnection): Promise<DuckDbStatementText[]> {
  const tokens = lexDuckDbSql(sql);
  const pieces: DuckDbStatementText[] = [];
  let current: DuckDbToken[] = [];
  const flush = () => {
    if (current.length === 0) return;
    const text = sql.slice(current[0]!.start, current[current.length - 1]!.end);
    pieces.push({ text, tokens: lexDuckDbSql(text) });
    current = [];
  };
  for (const t of tokens) {
    if (isPunct(t, ';')) flush();
    else current.push(t);
  }
  flush();
  if (pieces.length === 0) {
    throw new AnalysisError('analysis.empty', 'refused: the SQL contains no statement', {
      rule: 'parse',
      hint: 'send one or more SQL statements',
    });
  }
  // DuckDB's parser reads the dump's schema.sql from disk while parsing IMPORT DATABASE.
  // Such a script is never run (IMPORT is engine control, refused by policy), so it is not
  // handed to the parser at all.
  if (pieces.some((p) => isKeyword(p.tokens[0], 'IMPORT'))) return pieces;
  const engineCount = await countDuckDbStatements(sql, parser);
  // Equal totals could still hide two compensating disagreements: each piece on its own
  // must also be exactly one statement to DuckDB.
  const perPiece = engineCount === pieces.length ? await Promise.all(pieces.map((p) => countDuckDbStatements(p.text, parser))) : [];
  if (engineCount !== pieces.length || perPiece.some((n) => n !== 1)) {
    throw new AnalysisError(
      'analysis.split_mismatch',
      `refused: hoopq found ${pieces.length} statement(s) but DuckDB's parser found ${engineCount}`,
      { rule: 'parse', hint: 'separate statements with ";" and avoid unusual quoting around them' },
    );
  }
  return pieces;
}

/** DuckDB's own statement count; a parse error becomes an AnalysisError (exit 6). */
export async function countDuckDbStatements(sql: string, parser: DuckDBConnection): Promise<number> {
  try {
    const extracted = await parser.extractStatements(sql);
    return extracted.count;
  } catch (err) {
    throw parseError(err);
  }
}

export function parseError(err: unknown): AnalysisError {
  const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new AnalysisError('analysis.parse_error', `refused: DuckDB cannot parse the SQL: ${detail}`, {
    rule: 'parse',
    hint: 'fix the SQL syntax (DuckDB dialect)',
    cause: err,
  });
}
