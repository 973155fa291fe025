/**
 * Reads a DuckDB script into the statements hoopq will analyse and run.
 * Input: the SQL as received, a parser connection (DuckDB's own parser; nothing runs).
 * Output: per statement, the exact text that analysis sees and that the engine will run,
 * plus the literal spans of the received SQL (for redaction) and the engine's values of its
 * string literals (for scrubbing messages).
 *
 * Invariants (the engine is the oracle):
 * - hoopq's lexing is checked against DuckDB's parser first (verify-duckdb-lexing.ts); any
 *   difference is a refusal (exit 6);
 * - the statement count DuckDB finds in the received SQL equals the number of statements
 *   hoopq split at `;`, and each statement text is exactly one statement to DuckDB;
 * - a statement's text is rebuilt from its tokens, with every comment dropped and every run
 *   of whitespace made one space (a line break where there was one). That text, and only
 *   that text, is analysed and executed — never the received string, never a re-split.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { AnalysisError } from '../../errors.js';
import { isKeyword, isPunct, lexDuckDbScript, lexDuckDbSql, type DuckDbGap, type DuckDbLexing, type DuckDbToken } from './lex-duckdb-sql.js';
import type { SqlSpan } from '../query-analysis.js';
import { verifyDuckDbLexing } from './verify-duckdb-lexing.js';
import type { DuckDbParseTrees } from './duckdb-parse-trees.js';

export interface DuckDbStatementText {
  /** What is analysed and what runs: the statement's tokens, comments dropped. */
  text: string;
  /** Tokens lexed from `text`, so offsets are relative to it. */
  tokens: DuckDbToken[];
}

export interface DuckDbScript {
  statements: DuckDbStatementText[];
  /** Spans of the received SQL that DuckDB reads as literals (strings, numbers, quoted names). */
  literalSpans: SqlSpan[];
  /** Spans of the received SQL that are comments. */
  commentSpans: SqlSpan[];
  /** DuckDB's own values of the string literals. */
  literalValues: string[];
}

/** `trees`: the analysis' parse trees (on its parser connection); the statements' trees are fetched with the lexing probes'. */
export async function readDuckDbScript(sql: string, trees: DuckDbParseTrees): Promise<DuckDbScript> {
  const { parser } = trees;
  const lexing = lexDuckDbScript(sql);
  const groups = splitAtSemicolons(lexing.tokens);
  if (groups.length === 0) {
    throw new AnalysisError('analysis.empty', 'refused: the SQL contains no statement', {
      rule: 'parse',
      hint: 'send one or more SQL statements',
    });
  }
  const statements = groups.map(([from, to]) => statementText(lexing, from, to));
  const literalSpans: SqlSpan[] = [];
  for (const t of lexing.tokens) {
    if (t.kind === 'string' || t.kind === 'number') literalSpans.push({ start: t.start, end: t.end, kind: t.kind });
    else if (t.kind === 'ident') literalSpans.push({ start: t.start, end: t.end, kind: 'name' });
  }
  const commentSpans = lexing.gaps.filter((g) => g.hasComment).map((g) => ({ start: g.start, end: g.end }));
  // DuckDB's parser reads the dump's schema.sql from disk while parsing IMPORT DATABASE.
  // Such a script is never run (IMPORT is engine control, refused by policy), so it is not
  // handed to the parser at all.
  if (statements.some((s) => isKeyword(s.tokens[0], 'IMPORT'))) return { statements, literalSpans, commentSpans, literalValues: [] };

  // the statements' trees (analysis reads them next) come in the lexing check's engine call
  trees.load(statements.map((s) => s.text));
  // DuckDB's count of the statements is asked for at the same time (two engine calls at
  // once, not one after the other); the lexing check's refusal still comes first
  const counting = countDuckDbStatements(sql, parser);
  counting.catch(() => undefined); // read below; a refusal meanwhile is not an unhandled rejection
  let literalValues: Awaited<ReturnType<typeof verifyDuckDbLexing>>;
  try {
    literalValues = await verifyDuckDbLexing(sql, lexing, trees);
  } catch (err) {
    await counting.catch(() => undefined); // no engine call is left running on the parser's connection
    throw err;
  }
  const engineCount = await counting;
  if (engineCount !== statements.length) {
    throw new AnalysisError('analysis.split_mismatch', `refused: hoopq found ${statements.length} statement(s) but DuckDB's parser found ${engineCount}`, {
      rule: 'parse',
      hint: 'separate statements with ";" and avoid unusual quoting around them',
    });
  }
  for (const s of statements) {
    // the received SQL was just counted: the same text is the same count
    const n = s.text === sql ? engineCount : await countDuckDbStatements(s.text, parser);
    if (n !== 1) {
      throw new AnalysisError('analysis.split_mismatch', `refused: DuckDB reads ${n} statements in what hoopq reads as one`, {
        rule: 'parse',
        hint: 'separate statements with ";" and avoid unusual quoting around them',
      });
    }
  }
  return { statements, literalSpans, commentSpans, literalValues };
}

/** [from, to) token ranges between top-level `;` tokens, empty ranges dropped. */
function splitAtSemicolons(tokens: DuckDbToken[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let from = 0;
  for (let k = 0; k <= tokens.length; k++) {
    if (k === tokens.length || isPunct(tokens[k], ';')) {
      if (k > from) out.push([from, k]);
      from = k + 1;
    }
  }
  return out;
}

function statementText(lexing: DuckDbLexing, from: number, to: number): DuckDbStatementText {
  const { tokens, gaps } = lexing;
  let text = '';
  for (let k = from; k < to; k++) {
    if (k > from) text += separator(gaps[k]!);
    text += tokens[k]!.text;
  }
  const relexed = lexDuckDbSql(text);
  const expected = tokens.slice(from, to);
  if (relexed.length !== expected.length || relexed.some((t, i) => t.text !== expected[i]!.text)) {
    // Dropping comments must not change how the tokens read; if it does, refuse.
    throw new AnalysisError('analysis.engine_disagrees', 'refused: the statement reads differently once its comments are removed', {
      rule: 'parse',
      hint: 'put comments on lines of their own',
    });
  }
  return { text, tokens: relexed };
}

function separator(gap: DuckDbGap): string {
  if (gap.start === gap.end) return '';
  return gap.hasNewline ? '\n' : ' ';
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
