/**
 * A lexer for DuckDB SQL that follows the rules of DuckDB's own scanner (the PostgreSQL flex
 * scanner it embeds, plus the Unicode-space pass DuckDB runs before it). It is never trusted
 * on its own: every text hoopq analyses and runs is first checked against DuckDB's parser
 * (verify-duckdb-lexing.ts), and a differential fuzzer compares the two on generated input.
 *
 * Rules kept (measured on DuckDB 1.5, see lex-duckdb-sql.test.ts and the fuzzer):
 * - whitespace is exactly [ \t\n\r\f]; `--` comments end at \n OR \r (or the end);
 *   `/* *\/` comments nest;
 * - '…' strings double their quotes; E'…' strings also take backslash escapes; B'…' and
 *   X'…' strings end at the first quote; a string followed by whitespace that holds a
 *   newline (and `--` comments) and another quote continues as one token;
 * - $tag$…$tag$ dollar quotes, where a tag is [A-Za-z_ or any non-ASCII][… or 0-9]*;
 * - numbers: digits with single `_` separators, one `.`, an exponent only when digits follow
 *   it (`1e--x` is the number 1, the word e and a comment; `0x1F` is 0 and the word x1F);
 * - words are [A-Za-z_ non-ASCII][A-Za-z_ non-ASCII 0-9 $]*; keywords are matched on ASCII
 *   upper-casing only (`ſelect` is a name, not SELECT);
 * - "…" identifiers double their quotes.
 * Refused (AnalysisError, exit 6) rather than guessed: NUL and other control characters
 * outside literals, the Unicode spaces DuckDB rewrites before scanning (and their
 * look-alikes) anywhere but inside string literals and comments, U&'…' / U&"…" forms,
 * empty "" identifiers, and anything unterminated.
 */
import { AnalysisError } from '../../errors.js';

export type DuckDbTokenKind = 'word' | 'ident' | 'string' | 'number' | 'param' | 'punct';

export interface DuckDbToken {
  kind: DuckDbTokenKind;
  /** The token exactly as written. */
  text: string;
  /** word: ASCII upper-cased; ident: unquoted; string: the content as hoopq reads it; others: as written. */
  value: string;
  /** UTF-16 offsets into the lexed string. */
  start: number;
  end: number;
}

/** Text between two tokens (or before the first / after the last): whitespace and comments. */
export interface DuckDbGap {
  start: number;
  end: number;
  /** True when the gap holds a comment, not only whitespace. */
  hasComment: boolean;
  /** True when the gap holds a line break (\n or \r). */
  hasNewline: boolean;
}

export interface DuckDbLexing {
  tokens: DuckDbToken[];
  gaps: DuckDbGap[];
}

const SPACE = new Set([' ', '\t', '\n', '\r', '\f']);
const HORIZ_SPACE = new Set([' ', '\t', '\f']);
/**
 * Code points DuckDB replaces by a space before scanning (Parser::StripUnicodeSpaces), but
 * only where its own quick quote tracker believes it is outside quotes, and code points
 * that look like spaces but scan as name characters. Their meaning depends on a second,
 * simpler tokenizer inside DuckDB, so hoopq accepts them only inside string literals and
 * comments.
 */
const AMBIGUOUS_SPACE = /[\u0085\u00a0\u1680\u180e\u2000-\u200b\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]/;

function isWordStart(c: string): boolean {
  const code = c.charCodeAt(0);
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code >= 0x80;
}
function isWordPart(c: string): boolean {
  const code = c.charCodeAt(0);
  return isWordStart(c) || (code >= 48 && code <= 57) || code === 36;
}
function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}
function isDollarTagStart(c: string | undefined): boolean {
  return c !== undefined && isWordStart(c);
}
function isDollarTagPart(c: string | undefined): boolean {
  return c !== undefined && (isWordStart(c) || isDigit(c));
}

/** ASCII-only upper-casing, as DuckDB's keyword lookup does. */
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

export function lexDuckDbSql(sql: string): DuckDbToken[] {
  return lexDuckDbScript(sql).tokens;
}

export function lexDuckDbScript(sql: string): DuckDbLexing {
  const tokens: DuckDbToken[] = [];
  const gaps: DuckDbGap[] = [];
  const n = sql.length;
  let i = 0;
  let gapStart = 0;
  let gapComment = false;
  let gapNewline = false;

  const closeGap = () => {
    gaps.push({ start: gapStart, end: i, hasComment: gapComment, hasNewline: gapNewline });
    gapComment = false;
    gapNewline = false;
  };
  const push = (kind: DuckDbTokenKind, start: number, end: number, value?: string) => {
    const text = sql.slice(start, end);
    tokens.push({ kind, text, value: value ?? text, start, end });
    i = end;
    gapStart = end;
  };

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (SPACE.has(c)) {
      if (c === '\n' || c === '\r') gapNewline = true;
      i++;
      continue;
    }
    if (c === '-' && next === '-') {
      i = endOfDashComment(sql, i);
      gapComment = true;
      continue;
    }
    if (c === '/' && next === '*') {
      i = endOfBlockComment(sql, i);
      gapComment = true;
      continue;
    }
    // from here on a token starts
    closeGap();
    const start = i;
    if (c === "'") {
      const s = lexQuoted(sql, i, 'plain');
      push('string', start, s.end, s.value);
      continue;
    }
    if ((c === 'E' || c === 'e') && next === "'") {
      const s = lexQuoted(sql, i + 1, 'escape');
      push('string', start, s.end, s.value);
      continue;
    }
    if ((c === 'B' || c === 'b' || c === 'X' || c === 'x') && next === "'") {
      const s = lexQuoted(sql, i + 1, 'bits');
      push('string', start, s.end, s.value);
      continue;
    }
    if ((c === 'U' || c === 'u') && next === '&' && (sql[i + 2] === "'" || sql[i + 2] === '"')) {
      throw refuse('analysis.unsupported_literal', `refused: Unicode-escape literals (U&'…', U&"…") are not supported (offset ${i})`, 'write the characters themselves inside an ordinary string or quoted identifier');
    }
    if (c === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= n) throw unterminated('quoted identifier', start);
        const d = sql[j]!;
        if (d === '"') {
          if (sql[j + 1] === '"') {
            value += '"';
            j += 2;
            continue;
          }
          j++;
          break;
        }
        value += d;
        j++;
      }
      if (value === '') throw refuse('analysis.parse_error', `refused: an empty quoted identifier "" at offset ${start}`, 'name the object');
      const bad = firstRefusedCharacter(value);
      if (bad !== undefined) throw refusedCharacter(sql, start + 1 + value.indexOf(bad), bad);
      push('ident', start, j, value);
      continue;
    }
    if (c === '$') {
      if (isDollarTagStart(next) || next === '$') {
        let j = i + 1;
        while (isDollarTagPart(sql[j])) j++;
        if (sql[j] === '$') {
          const tag = sql.slice(i, j + 1);
          const close = sql.indexOf(tag, j + 1);
          if (close < 0) throw unterminated('dollar-quoted string', start);
          push('string', start, close + tag.length, sql.slice(j + 1, close));
          continue;
        }
        // `$name`: DuckDB reads the `$` and then the name (a named parameter)
        const word = readWordEnd(sql, i + 1);
        push('param', start, word);
        continue;
      }
      if (isDigit(next)) {
        push('param', start, endOfInteger(sql, i + 1));
        continue;
      }
      push('punct', start, i + 1);
      continue;
    }
    if (c === '?') {
      push('param', start, isDigit(next) ? endOfInteger(sql, i + 1) : i + 1);
      continue;
    }
    if (c === '.' && next === '.') {
      // the scanner's `..` (DOT_DOT): `1..2` is 1, `..`, 2 — never 1, `.`, `.2`
      push('punct', start, i + 1);
      closeGap();
      push('punct', i, i + 1);
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(next))) {
      push('number', start, endOfNumber(sql, i));
      continue;
    }
    if (isWordStart(c)) {
      const end = readWordEnd(sql, i);
      const text = sql.slice(i, end);
      const bad = firstRefusedCharacter(text);
      if (bad !== undefined) throw refusedCharacter(sql, i + text.indexOf(bad), bad);
      push('word', start, end, asciiUpper(text));
      continue;
    }
    const bad = firstRefusedCharacter(c);
    if (bad !== undefined) throw refusedCharacter(sql, i, bad);
    push('punct', start, i + 1);
  }
  closeGap();
  return { tokens, gaps };
}

function readWordEnd(sql: string, from: number): number {
  let j = from;
  while (j < sql.length) {
    const d = sql[j]!;
    if (!isWordPart(d)) break;
    if (AMBIGUOUS_SPACE.test(d)) throw refusedCharacter(sql, j, d);
    j++;
  }
  return j;
}

function endOfDashComment(sql: string, at: number): number {
  let j = at + 2;
  while (j < sql.length && sql[j] !== '\n' && sql[j] !== '\r') {
    if (sql[j] === '\0') throw refusedCharacter(sql, j, '\0');
    j++;
  }
  return j;
}

function endOfBlockComment(sql: string, at: number): number {
  let depth = 0;
  let j = at;
  while (j < sql.length) {
    if (sql[j] === '\0') throw refusedCharacter(sql, j, '\0');
    if (sql[j] === '/' && sql[j + 1] === '*') {
      depth++;
      j += 2;
      continue;
    }
    if (sql[j] === '*' && sql[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
      continue;
    }
    j++;
  }
  throw unterminated('comment', at);
}

function endOfInteger(sql: string, from: number): number {
  let j = from;
  if (!isDigit(sql[j])) return j;
  j++;
  for (;;) {
    if (isDigit(sql[j])) j++;
    else if (sql[j] === '_' && isDigit(sql[j + 1])) j += 2;
    else return j;
  }
}

/** integer | decimal | real, with the scanner's fall-backs (`1..2`, `1e`, `1e+`). */
function endOfNumber(sql: string, at: number): number {
  let j = at;
  if (sql[j] !== '.') j = endOfInteger(sql, j);
  if (sql[j] === '.') {
    if (sql[j + 1] === '.' && j > at) return j; // `1..2`: the integer, then `..`
    const afterDot = endOfInteger(sql, j + 1);
    if (afterDot === j + 1 && j === at) return at; // a lone dot (caller checked a digit follows)
    j = afterDot;
  }
  if (sql[j] === 'e' || sql[j] === 'E') {
    let k = j + 1;
    if (sql[k] === '+' || sql[k] === '-') k++;
    if (isDigit(sql[k])) return endOfInteger(sql, k);
  }
  return j;
}

type QuoteMode = 'plain' | 'escape' | 'bits';

/** A '…' literal starting at the quote at `quoteAt`, with the scanner's continuation rule. */
function lexQuoted(sql: string, quoteAt: number, mode: QuoteMode): { end: number; value: string } {
  let j = quoteAt + 1;
  let value = '';
  for (;;) {
    if (j >= sql.length) throw unterminated('string', quoteAt);
    const c = sql[j]!;
    if (c === '\0') throw refusedCharacter(sql, j, '\0');
    if (mode === 'escape' && c === '\\') {
      if (j + 1 >= sql.length) throw unterminated('string', quoteAt);
      value += sql[j + 1];
      j += 2;
      continue;
    }
    if (c === "'") {
      if (mode !== 'bits' && sql[j + 1] === "'") {
        value += "'";
        j += 2;
        continue;
      }
      const resume = continuationAfter(sql, j + 1);
      if (resume !== null) {
        j = resume + 1;
        continue;
      }
      return { end: j + 1, value };
    }
    value += c;
    j++;
  }
}

/**
 * The scanner's {quotecontinue}: after a closing quote, horizontal space and `--` comments,
 * a line break, then any whitespace (a `--` comment there must end in a line break), then a
 * quote continues the same literal. Returns the index of that quote, or null.
 */
function continuationAfter(sql: string, from: number): number | null {
  let j = from;
  for (;;) {
    if (HORIZ_SPACE.has(sql[j] ?? '')) j++;
    else if (sql[j] === '-' && sql[j + 1] === '-') j = endOfDashComment(sql, j);
    else break;
  }
  if (sql[j] !== '\n' && sql[j] !== '\r') return null;
  j++;
  for (;;) {
    if (SPACE.has(sql[j] ?? '')) j++;
    else if (sql[j] === '-' && sql[j + 1] === '-') {
      const end = endOfDashComment(sql, j);
      if (sql[end] !== '\n' && sql[end] !== '\r') return null;
      j = end + 1;
    } else break;
  }
  return sql[j] === "'" ? j : null;
}

/** The first character hoopq refuses outside literals and comments (or inside a quoted name). */
function firstRefusedCharacter(text: string): string | undefined {
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 && !SPACE.has(ch)) return ch;
    if (code === 0x7f) return ch;
    if (AMBIGUOUS_SPACE.test(ch)) return ch;
    if (code >= 0xd800 && code <= 0xdfff) return ch; // a lone surrogate: not valid UTF-8
  }
  return undefined;
}

function refusedCharacter(sql: string, at: number, ch: string): AnalysisError {
  const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return refuse('analysis.ambiguous_character', `refused: the character ${code} at offset ${at} is read differently by DuckDB's scanners (or ends the text early)`, 'use plain spaces, tabs and line breaks between words; other characters only inside string literals');
}

function unterminated(what: string, at: number): AnalysisError {
  return refuse('analysis.parse_error', `refused: unterminated ${what} starting at offset ${at}`, 'send complete, well-formed SQL');
}

function refuse(code: string, message: string, hint: string): AnalysisError {
  return new AnalysisError(code, message, { rule: 'parse', hint });
}

/** True when `t` is the unquoted keyword `kw` (quoted identifiers are never keywords). */
export function isKeyword(t: DuckDbToken | undefined, ...kws: string[]): boolean {
  return t !== undefined && t.kind === 'word' && kws.includes(t.value);
}

export function isPunct(t: DuckDbToken | undefined, p: string): boolean {
  return t !== undefined && t.kind === 'punct' && t.text === p;
}
