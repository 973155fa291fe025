/**
 * A small lexer for DuckDB SQL: just enough to split a script at `;`, to classify a
 * statement by its leading keywords and to find the names and clause boundaries of
 * non-SELECT statements. It knows every construct that can hide a `;` or a keyword:
 * '…' strings ('' escapes), E'…' strings (backslash escapes), "quoted identifiers",
 * -- and (nested) /* *\/ comments, $$…$$ / $tag$…$tag$ dollar quotes. Anything unterminated
 * is refused: DuckDB would reject it too, and guessing where it ends is how splits go wrong.
 */
import { AnalysisError } from '../../errors.js';

export type DuckDbTokenKind = 'word' | 'ident' | 'string' | 'number' | 'param' | 'punct';

export interface DuckDbToken {
  kind: DuckDbTokenKind;
  /** The token exactly as written. */
  text: string;
  /** word: upper-cased; ident: unquoted; others: as written. */
  value: string;
  /** UTF-16 offsets into the lexed string. */
  start: number;
  end: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;

export function lexDuckDbSql(sql: string): DuckDbToken[] {
  const tokens: DuckDbToken[] = [];
  let i = 0;
  const n = sql.length;
  const unterminated = (what: string, at: number): never => {
    throw new AnalysisError('analysis.parse_error', `refused: unterminated ${what} starting at offset ${at}`, {
      rule: 'parse',
      hint: 'send complete, well-formed SQL',
    });
  };
  const push = (kind: DuckDbTokenKind, start: number, end: number, value?: string) => {
    const text = sql.slice(start, end);
    tokens.push({ kind, text, value: value ?? text, start, end });
  };
  while (i < n) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(ch)) { i++; continue; }
    if (ch === '-' && next === '-') {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (ch === '/' && next === '*') {
      const start = i;
      let depth = 0;
      while (i < n) {
        if (sql[i] === '/' && sql[i + 1] === '*') { depth++; i += 2; continue; }
        if (sql[i] === '*' && sql[i + 1] === '/') { depth--; i += 2; if (depth === 0) break; continue; }
        i++;
      }
      if (depth !== 0) unterminated('comment', start);
      continue;
    }
    if (ch === "'") { i = lexString(sql, i, false, push, unterminated); continue; }
    if ((ch === 'E' || ch === 'e') && next === "'" && !isWordContinuation(tokens, i)) {
      i = lexString(sql, i + 1, true, push, unterminated, i);
      continue;
    }
    if (ch === '"') {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= n) unterminated('quoted identifier', start);
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') { value += '"'; i += 2; continue; }
          i++;
          break;
        }
        value += sql[i++];
      }
      push('ident', start, i, value);
      continue;
    }
    if (ch === '$') {
      const start = i;
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close < 0) unterminated('dollar-quoted string', start);
        i = close + tag[0].length;
        push('string', start, i, sql.slice(start + tag[0].length, close));
        continue;
      }
      i++;
      while (i < n && WORD_PART.test(sql[i]!) && sql[i] !== '$') i++;
      push('param', start, i);
      continue;
    }
    if (ch === '?') { push('param', i, i + 1); i++; continue; }
    if (DIGIT.test(ch) || (ch === '.' && next !== undefined && DIGIT.test(next))) {
      const start = i;
      while (i < n && /[0-9A-Za-z_.]/.test(sql[i]!)) {
        // `1.e5` and `1e-5`: a sign right after an exponent belongs to the number
        if ((sql[i] === 'e' || sql[i] === 'E') && (sql[i + 1] === '+' || sql[i + 1] === '-')) i++;
        i++;
      }
      push('number', start, i);
      continue;
    }
    if (WORD_START.test(ch)) {
      const start = i;
      while (i < n && WORD_PART.test(sql[i]!)) i++;
      push('word', start, i, sql.slice(start, i).toUpperCase());
      continue;
    }
    push('punct', i, i + 1);
    i++;
  }
  return tokens;
}

function isWordContinuation(tokens: DuckDbToken[], at: number): boolean {
  const last = tokens[tokens.length - 1];
  return last !== undefined && last.end === at && (last.kind === 'word' || last.kind === 'number');
}

function lexString(
  sql: string,
  quoteAt: number,
  backslashEscapes: boolean,
  push: (kind: DuckDbTokenKind, start: number, end: number, value?: string) => void,
  unterminated: (what: string, at: number) => never,
  tokenStart = quoteAt,
): number {
  let i = quoteAt + 1;
  let value = '';
  for (;;) {
    if (i >= sql.length) unterminated('string', tokenStart);
    const c = sql[i]!;
    if (backslashEscapes && c === '\\') { value += sql[i + 1] ?? ''; i += 2; continue; }
    if (c === "'") {
      if (sql[i + 1] === "'") { value += "'"; i += 2; continue; }
      i++;
      break;
    }
    value += c;
    i++;
  }
  push('string', tokenStart, i, value);
  return i;
}

/** True when `t` is the unquoted keyword `kw` (quoted identifiers are never keywords). */
export function isKeyword(t: DuckDbToken | undefined, ...kws: string[]): boolean {
  return t !== undefined && t.kind === 'word' && kws.includes(t.value);
}

export function isPunct(t: DuckDbToken | undefined, p: string): boolean {
  return t !== undefined && t.kind === 'punct' && t.text === p;
}
