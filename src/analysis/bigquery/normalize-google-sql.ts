/**
 * Length-preserving rewrites of a few GoogleSQL forms sql-parser-cst does not parse, so the
 * parser sees an equivalent statement and every offset it reports is still an offset into
 * the original text (masking splices by those offsets).
 *
 * Each rewrite swaps a keyword for one of the same length (or blanks it) and never touches
 * a name, a literal or a comment:
 * - `MODEL m` as a function argument (ML.PREDICT(MODEL m, …)) -> `TABLE m`: the model is
 *   then a read through the TABLE-argument path, which is what it is.
 * - `CREATE [OR REPLACE] MODEL m` / `DROP MODEL m` -> `… TABLE m`: the model is the write
 *   target; the statement's native type says MODEL.
 * - `CREATE … AGGREGATE FUNCTION` -> `CREATE … FUNCTION` (the word is blanked).
 * - the type name `BOOLEAN` (an alias BigQuery accepts) -> `BOOL` plus spaces, only where a
 *   type can stand (after a parameter/field name, `<`, RETURNS or AS), never where a table
 *   name could.
 * - blanked (replaced by spaces), because they can name columns only, never a table:
 *   `.*` after a nested path or an expression (`a.b.*`, `(…).*`, `arr[0].*`), together with
 *   an `EXCEPT (col, …)` list after it; an `EXCEPT (col, …)` list directly followed by
 *   REPLACE (`* EXCEPT (a) REPLACE (…)`); an empty `OPTIONS()`; a trailing comma before `)`.
 *   A blanked column list must consist of names and commas only, or nothing is blanked.
 * More rewrites of the same kind, for syntax BigQuery added later, are in
 * bridge-google-sql-syntax.ts.
 */
import { scanGoogleSql, type GoogleSqlToken } from './scan-google-sql.js';
import { bridgeGoogleSqlSyntax, closeOfNames } from './bridge-google-sql-syntax.js';
import { findPipeQueries, type PipeQuery } from './find-pipe-queries.js';

const PIPE_PLACEHOLDER = 'SELECT 1';

export interface NormalizedGoogleSql {
  sql: string;
  /** Offsets of MODEL keywords rewritten to TABLE. */
  modelKeywords: number[];
  /** Offsets of UNDROP keywords rewritten to CREATE. */
  undropKeywords: number[];
  /** Offsets of the table names of `LOAD DATA INTO TEMP TABLE t` (session tables). */
  tempLoadTargets: number[];
  /** Pipe queries, each replaced by a `SELECT 1` placeholder starting at its `start`. */
  pipes: PipeQuery[];
  /** Connection names given as arguments, and DEFAULT connections (offsets). */
  connectionArguments: number[];
  defaultConnections: number[];
  /** Names the parser read with a character changed: read back from the source after parsing. */
  renamedNames: Array<[number, number]>;
  /** Character ranges that were changed; a name found inside one is refused. */
  changed: Array<[number, number]>;
}

const NOT_BEFORE_TYPE = new Set([
  'FROM', 'JOIN', 'INTO', 'TABLE', 'UPDATE', 'MERGE', 'USING', 'DELETE', 'INSERT', 'TRUNCATE', 'VIEW',
  'FUNCTION', 'PROCEDURE', 'CALL', 'SELECT', 'WHERE', 'AND', 'OR', 'NOT', 'ON', 'BY', 'THEN', 'ELSE', 'WHEN',
]);

/** Words that follow a column called `model`, never a model name. */
const NOT_A_NAME = new Set(['AS', 'IS', 'AND', 'OR', 'NOT', 'IN', 'LIKE', 'BETWEEN', 'ASC', 'DESC', 'FROM', 'IGNORE', 'RESPECT', 'OVER']);

export function normalizeGoogleSql(sql: string): NormalizedGoogleSql {
  const tokens = scanGoogleSql(sql).filter((t) => t.kind !== 'space' && t.kind !== 'comment');
  const chars = sql.split('');
  const modelKeywords: number[] = [];
  const changed: Array<[number, number]> = [];
  const upper = (t: GoogleSqlToken | undefined) => (t?.kind === 'word' ? t.text.toUpperCase() : t?.text);
  const replace = (t: GoogleSqlToken, text: string) => {
    for (let k = 0; k < t.text.length; k++) chars[t.start + k] = text[k] ?? ' ';
    changed.push([t.start, t.end]);
  };
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (!/\s/.test(chars[k]!)) chars[k] = ' ';
    changed.push([from, to]);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct') {
      blankColumnOnlySyntax(tokens, i, blank);
      continue;
    }
    if (t.kind === 'word' && t.text.toUpperCase() === 'OPTIONS' && tokens[i + 1]?.text === '(' && tokens[i + 2]?.text === ')') {
      blank(t.start, tokens[i + 2]!.end);
      continue;
    }
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    const prev = upper(tokens[i - 1]);
    const next = tokens[i + 1];
    if (word === 'MODEL' && next && (next.kind === 'quoted' || (next.kind === 'word' && !NOT_A_NAME.has(upper(next)!)))) {
      if (prev === '(' || prev === ',' || isCreateOrDropHead(tokens, i)) {
        replace(t, 'TABLE');
        modelKeywords.push(t.start);
      }
    } else if (word === 'AGGREGATE' && upper(next) === 'FUNCTION' && isCreateHead(tokens, i)) {
      replace(t, '');
    } else if (word === 'BOOLEAN' && upper(next) !== '(' && prev !== undefined && prev !== '.') {
      const prevTok = tokens[i - 1]!;
      const typeSlot = prev === '<' || (prevTok.kind === 'word' && !NOT_BEFORE_TYPE.has(prev)) || prevTok.kind === 'quoted';
      if (typeSlot) replace(t, 'BOOL');
    }
  }
  const write = (at: number, text: string) => {
    for (let k = 0; k < text.length; k++) chars[at + k] = text[k]!;
    changed.push([at, at + text.length]);
  };
  const rename = (at: number, text: string) => {
    for (let k = 0; k < text.length; k++) chars[at + k] = text[k]!;
  };
  const bridged = bridgeGoogleSqlSyntax(sql, tokens, { write, blank, rename });
  // a pipe query is analysed part by part from the source (the collector parses its parts):
  // the main parse sees a placeholder, and nothing changed inside it counts here
  const pipes = findPipeQueries(tokens).filter((q) => q.end - q.start >= PIPE_PLACEHOLDER.length);
  for (const q of pipes) {
    for (let k = q.start; k < q.end; k++) if (!/\s/.test(chars[k]!)) chars[k] = ' ';
    for (let k = 0; k < PIPE_PLACEHOLDER.length; k++) chars[q.start + k] = PIPE_PLACEHOLDER[k]!;
  }
  const outside = changed.filter(([a, b]) => !pipes.some((q) => q.start <= a && b <= q.end));
  return { sql: chars.join(''), modelKeywords, changed: outside, ...bridged, pipes };
}

/** True when the words before index i are `CREATE [OR REPLACE] [TEMP|TEMPORARY]`. */
function isCreateHead(tokens: GoogleSqlToken[], i: number): boolean {
  let j = i - 1;
  const w = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  if (w(j) === 'TEMP' || w(j) === 'TEMPORARY') j--;
  if (w(j) === 'REPLACE' && w(j - 1) === 'OR') j -= 2;
  return w(j) === 'CREATE';
}

function isCreateOrDropHead(tokens: GoogleSqlToken[], i: number): boolean {
  const prev = tokens[i - 1];
  return isCreateHead(tokens, i) || (prev?.kind === 'word' && prev.text.toUpperCase() === 'DROP');
}

function blankColumnOnlySyntax(tokens: GoogleSqlToken[], i: number, blank: (from: number, to: number) => void): void {
  const t = tokens[i]!;
  const word = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  if (t.text === ',' && tokens[i + 1]?.text === ')') {
    blank(t.start, t.end);
    return;
  }
  if (t.text === '.' && tokens[i + 1]?.text === '*' && tokens[i + 1]!.start === t.end) {
    // `t.*` on a plain range variable parses already; blank only nested paths and expressions.
    const prev = tokens[i - 1];
    const nested = prev && (prev.text === ')' || prev.text === ']' || (tokens[i - 2]?.text === '.' && (prev.kind === 'word' || prev.kind === 'quoted')));
    if (!nested) return;
    let end = tokens[i + 1]!.end;
    if (word(i + 2) === 'EXCEPT') {
      const close = closeOfNames(tokens, i + 3);
      if (close === -1) return;
      end = tokens[close]!.end;
      if (word(close + 1) === 'REPLACE') return;
    } else if (word(i + 2) === 'REPLACE') {
      return;
    }
    blank(t.start, end);
    return;
  }
  if (t.text === '*' && word(i + 1) === 'EXCEPT') {
    const close = closeOfNames(tokens, i + 2);
    if (close !== -1 && word(close + 1) === 'REPLACE') blank(tokens[i + 1]!.start, tokens[close]!.end);
  }
}
