/**
 * A GoogleSQL lexer just precise enough to tell code from text: comments, string and bytes
 * literals (quoted, triple-quoted, raw), backtick identifiers, words, numbers, punctuation.
 * Used by the length-preserving normaliser, which must never touch a character inside a
 * literal, a comment or a quoted identifier.
 */
import { AnalysisError } from '../../errors.js';

export type GoogleSqlTokenKind = 'word' | 'quoted' | 'string' | 'number' | 'punct' | 'space' | 'comment';

export interface GoogleSqlToken {
  kind: GoogleSqlTokenKind;
  start: number;
  end: number;
  text: string;
}

const WORD_START = /[A-Za-z_]/;
const WORD_PART = /[A-Za-z0-9_]/;
const STRING_PREFIX = /^(?:r|b|rb|br)$/i;

export function scanGoogleSql(sql: string): GoogleSqlToken[] {
  const tokens: GoogleSqlToken[] = [];
  let i = 0;
  const push = (kind: GoogleSqlTokenKind, start: number, end: number) => {
    tokens.push({ kind, start, end, text: sql.slice(start, end) });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /\s/.test(sql[j]!)) j++;
      push('space', i, j);
    } else if ((c === '-' && next === '-') || c === '#') {
      const nl = sql.indexOf('\n', i);
      push('comment', i, nl === -1 ? sql.length : nl);
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      if (close === -1) throw unterminated('comment', i);
      push('comment', i, close + 2);
    } else if (c === '`') {
      push('quoted', i, closeQuote(sql, i, '`', false));
    } else if (c === "'" || c === '"') {
      push('string', i, closeString(sql, i));
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && WORD_PART.test(sql[j]!)) j++;
      const word = sql.slice(i, j);
      if (STRING_PREFIX.test(word) && (sql[j] === "'" || sql[j] === '"')) {
        push('string', i, closeString(sql, j));
      } else {
        push('word', i, j);
      }
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[0-9A-Za-z_.]/.test(sql[j]!)) j++;
      push('number', i, j);
    } else {
      push('punct', i, i + 1);
    }
  }
  return tokens;
}

function closeString(sql: string, start: number): number {
  const q = sql[start]!;
  const triple = sql.startsWith(q.repeat(3), start);
  return closeQuote(sql, start, triple ? q.repeat(3) : q, true);
}

/** Index just past the closing quote; a backslash always escapes the next character (also in raw literals, as in ZetaSQL). */
function closeQuote(sql: string, start: number, quote: string, isString: boolean): number {
  let j = start + quote.length;
  while (j < sql.length) {
    if (sql[j] === '\\') {
      j += 2;
      continue;
    }
    if (sql.startsWith(quote, j)) return j + quote.length;
    if (quote.length === 1 && sql[j] === '\n' && isString) throw unterminated('string', start);
    j++;
  }
  throw unterminated(isString ? 'string' : 'quoted identifier', start);
}

function unterminated(what: string, at: number): AnalysisError {
  return new AnalysisError('analysis.parse_error', `refused: unterminated ${what} at offset ${at}`, {
    rule: 'analysis.parse',
    hint: 'close every string, comment and backtick identifier',
  });
}
