/**
 * More length-preserving rewrites for GoogleSQL that BigQuery accepts and sql-parser-cst does
 * not parse (called by the normaliser, same rules: keywords and punctuation only, never a
 * name, a literal or a comment, and every changed span recorded so that a name found inside
 * one is refused). Each rewrite gives the parser an equivalent form *for finding tables*:
 * - `FOR SYSTEM TIME AS OF` -> `FOR SYSTEM_TIME AS OF`;
 * - `x AT TIME ZONE tz` -> `x ||           tz` (an expression of the same operands);
 * - set operations `… BY NAME [ON (cols)]` / `CORRESPONDING [BY (cols)]` -> the plain operation;
 * - `expr.* [EXCEPT (cols)] REPLACE (items)` -> `expr, STRUCT (items)` (the items stay expressions);
 * - `NOT AGGREGATE` on a function parameter, `STORING (cols)` of an index, `AS alias` after
 *   PIVOT/UNPIVOT and after an UNPIVOT column label, a named window defined as another window's
 *   bare name (`w2 AS w1`): blanked;
 * - frame bounds that are constant arithmetic (`5+5 PRECEDING`) -> `1   PRECEDING`;
 * - `UNDROP SCHEMA` -> `CREATE SCHEMA` (the native type still says UNDROP_SCHEMA);
 * - `ALTER SCHEMA s ADD REPLICA r` / `DROP REPLICA r` -> `ALTER SCHEMA s SET …` (a dataset write);
 * - ZetaSQL integer type names in a type position (`INT32`, `UINT32`, `UINT64`) -> `INT64`,
 *   `RANGE<T>` -> `ARRAY<T>`, and a RANGE literal's type prefix blanked (the literal stays);
 * - lambdas `x -> body` -> `x ,  body` (the body stays an expression);
 * - adjacent string literals (`'a' 'b'`, which BigQuery concatenates) -> `'a'+'b'`, so that a
 *   location option built that way is an expression (refused) rather than a literal;
 * - `SET @@query_label = …` -> `SET   query_label = …` (the name-changing system variables
 *   @@dataset_id, @@dataset_project_id and @@project_id are left as they are, and refused);
 * - `LOAD DATA INTO TEMP TABLE t` -> `LOAD DATA INTO            t` (the target is then a
 *   session table; `tempLoadTargets` records where);
 * - a connection given as an argument, `f(CONNECTION c)` -> `f(           c)`, and the default
 *   connection `DEFAULT` -> `DEFAUL_` (both recorded: the connection is checked against
 *   `destinations` like one named by WITH CONNECTION);
 * - several arrays in one UNNEST, `UNNEST(a AS x, b AS y)` -> `UNNEST(a     ||b     )`;
 * - the RANGE constructor `RANGE(a, b)` -> `RANG_(a, b)` (a built-in, not a table);
 * - a project name whose dash is followed by a digit (`a-1b.d.t`): the digit is read as a
 *   letter by the parser, and the name is read back from the source (`renamedNames`).
 */
import type { GoogleSqlToken } from './scan-google-sql.js';

export interface SyntaxEditor {
  /** Overwrite characters starting at `at` (same length). */
  write(at: number, text: string): void;
  /** Overwrite characters of a name the parser reads back from the source (not a changed span). */
  rename(at: number, text: string): void;
  /** Replace every non-space character in [from, to) by a space. */
  blank(from: number, to: number): void;
}

export interface BridgeFindings {
  undropKeywords: number[];
  tempLoadTargets: number[];
  /** Offsets of connection names given as arguments (`f(CONNECTION c)`): each is a connection used. */
  connectionArguments: number[];
  /** Offsets where `DEFAULT` (the default connection) was turned into the name DEFAUL_. */
  defaultConnections: number[];
  /**
   * Characters of names changed only so that the parser reads them (a digit after a dash in a
   * project name, `a-1b`); the collector reads those names back from the source.
   */
  renamedNames: Array<[number, number]>;
}

const NAME_CONTEXT_VARIABLES = new Set(['DATASET_ID', 'DATASET_PROJECT_ID', 'PROJECT_ID']);
const TYPE_CONTEXT_BEFORE = new Set(['(', ',', '<', 'RETURNS', 'AS']);
const ZETA_INTEGERS: Record<string, string> = { INT32: 'INT64', UINT32: 'INT64', UINT64: 'INT64' };

export function bridgeGoogleSqlSyntax(sql: string, tokens: GoogleSqlToken[], edit: SyntaxEditor): BridgeFindings {
  const found: BridgeFindings = { undropKeywords: [], tempLoadTargets: [], connectionArguments: [], defaultConnections: [], renamedNames: [] };
  const word = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  const text = (k: number) => tokens[k]?.text;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const w = word(i);
    if (w === 'SYSTEM' && word(i - 1) === 'FOR' && word(i + 1) === 'TIME' && word(i + 2) === 'AS' && tokens[i + 1]!.start === t.end + 1) {
      edit.write(t.end, '_');
    } else if (w === 'AT' && word(i + 1) === 'TIME' && word(i + 2) === 'ZONE') {
      edit.write(t.start, '||');
      edit.blank(tokens[i + 1]!.start, tokens[i + 2]!.end);
    } else if ((w === 'ALL' || w === 'DISTINCT') && ['UNION', 'INTERSECT', 'EXCEPT'].includes(word(i - 1))) {
      blankCorresponding(tokens, i + 1, edit);
    } else if (t.text === '.' && text(i + 1) === '*' && tokens[i + 1]!.start === t.end) {
      structForStarReplace(tokens, i, edit);
    } else if (w === 'NOT' && word(i + 1) === 'AGGREGATE' && (text(i + 2) === ',' || text(i + 2) === ')')) {
      edit.blank(t.start, tokens[i + 1]!.end);
    } else if (w === 'STORING' && text(i + 1) === '(') {
      const close = closeOfNames(tokens, i + 1);
      if (close !== -1) edit.blank(t.start, tokens[close]!.end);
    } else if ((w === 'PIVOT' || w === 'UNPIVOT') && text(i + 1) === '(') {
      pivotAliases(tokens, i + 1, edit);
    } else if (w === 'WINDOW') {
      windowReferences(tokens, i + 1, edit);
    } else if (w === 'PRECEDING' || w === 'FOLLOWING') {
      constantFrameBound(tokens, i, edit);
    } else if (w === 'UNDROP' && word(i + 1) === 'SCHEMA') {
      edit.write(t.start, 'CREATE');
      found.undropKeywords.push(t.start);
    } else if ((w === 'ADD' || w === 'DROP') && word(i + 1) === 'REPLICA' && isAlterSchema(tokens, i)) {
      replica(tokens, i, edit);
    } else if (t.kind === 'word' && ZETA_INTEGERS[w] && isTypePosition(tokens, i)) {
      edit.write(t.start, ZETA_INTEGERS[w]!.padEnd(t.text.length, ' '));
    } else if (w === 'RANGE' && text(i + 1) === '<') {
      rangeType(tokens, i, edit);
    } else if (t.text === '-' && text(i + 1) === '>' && tokens[i + 1]!.start === t.end && isLambdaHead(tokens, i)) {
      edit.write(t.start, ', ');
    } else if (t.kind === 'string' && tokens[i + 1]?.kind === 'string' && tokens[i + 1]!.start > t.end && /\s/.test(sql[t.end]!)) {
      edit.write(t.end, '+');
    } else if (w === 'SET' && text(i + 1) === '@' && text(i + 2) === '@' && tokens[i + 3]?.kind === 'word' && tokens[i + 3]!.start === tokens[i + 2]!.end) {
      if (!NAME_CONTEXT_VARIABLES.has(word(i + 3))) edit.blank(tokens[i + 1]!.start, tokens[i + 2]!.end);
    } else if (w === 'CONNECTION' && (word(i - 1) === 'WITH' || text(i - 1) === '(' || text(i - 1) === ',') && tokens[i + 1] && (tokens[i + 1]!.kind === 'word' || tokens[i + 1]!.kind === 'quoted')) {
      connection(tokens, i, edit, found);
    } else if (w === 'UNNEST' && text(i + 1) === '(') {
      multiwayUnnest(sql, tokens, i + 1, edit);
    } else if (w === 'RANGE' && text(i + 1) === '(' && tokens[i + 1]!.start === t.end && !['ROWS', 'BETWEEN', 'OVER'].includes(word(i - 1))) {
      edit.write(t.start, 'RANG_');
    } else if (t.text === '-' && tokens[i + 1]?.kind === 'number' && tokens[i + 1]!.start === t.end && tokens[i - 1]?.kind === 'word' && tokens[i - 1]!.end === t.start) {
      // `my-proj-1b.d.t`: a project name (after FROM, JOIN …) with a dash followed by a digit
      const head = dashedNameStart(tokens, i - 1);
      if (head !== -1 && isTableNamePosition(tokens, head) && /^\d[A-Za-z0-9_]*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_]\w*)*$/.test(tokens[i + 1]!.text)) {
        edit.rename(tokens[i + 1]!.start, 'x');
        found.renamedNames.push([tokens[head]!.start, tokens[i + 1]!.start + tokens[i + 1]!.text.split('.')[0]!.length]);
      }
    } else if (w === 'LOAD' && word(i + 1) === 'DATA' && ['INTO', 'OVERWRITE'].includes(word(i + 2)) && ['TEMP', 'TEMPORARY'].includes(word(i + 3)) && word(i + 4) === 'TABLE' && tokens[i + 5]) {
      edit.blank(tokens[i + 3]!.start, tokens[i + 4]!.end);
      found.tempLoadTargets.push(tokens[i + 5]!.start);
    }
  }
  return found;
}

/** `WITH CONNECTION c` / `f(CONNECTION c)`: an argument loses its keyword (the name stays, recorded); DEFAULT becomes a name. */
function connection(tokens: GoogleSqlToken[], i: number, edit: SyntaxEditor, found: BridgeFindings): void {
  const name = tokens[i + 1]!;
  const isArgument = tokens[i - 1]!.text === '(' || tokens[i - 1]!.text === ',';
  if (isArgument) {
    edit.blank(tokens[i]!.start, tokens[i]!.end);
    found.connectionArguments.push(name.start);
  }
  if (name.kind === 'word' && name.text.toUpperCase() === 'DEFAULT') {
    edit.write(name.start, 'DEFAUL_');
    found.defaultConnections.push(name.start);
  }
}

/** `UNNEST(a AS x, b AS y)` (several arrays at once): the aliases are blanked and the arrays joined by `||`, so each stays an expression. */
function multiwayUnnest(sql: string, tokens: GoogleSqlToken[], open: number, edit: SyntaxEditor): void {
  const close = closeOfParen(tokens, open);
  if (close === -1) return;
  let depth = 0;
  const commas: number[] = [];
  const aliases: number[] = [];
  for (let j = open; j < close; j++) {
    const t = tokens[j]!;
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (depth === 1 && t.text === ',') commas.push(j);
    else if (depth === 1 && t.kind === 'word' && t.text.toUpperCase() === 'AS' && (tokens[j + 1]?.kind === 'word' || tokens[j + 1]?.kind === 'quoted')) aliases.push(j);
    if (t.text === '=' && tokens[j + 1]?.text === '>') return; // a named argument (mode => …): left alone
  }
  if (commas.length === 0 || commas.some((c) => !/\s/.test(sql[tokens[c]!.end] ?? ''))) return;
  for (const a of aliases) edit.blank(tokens[a]!.start, tokens[a + 1]!.end);
  for (const c of commas) edit.write(tokens[c]!.start, '||');
}

/** The first word of `w1-w2-…-wi` ending at the word `i` (adjacent words and dashes), or -1. */
function dashedNameStart(tokens: GoogleSqlToken[], i: number): number {
  let j = i;
  while (tokens[j - 1]?.text === '-' && tokens[j - 1]!.end === tokens[j]!.start && tokens[j - 2]?.kind === 'word' && tokens[j - 2]!.end === tokens[j - 1]!.start) j -= 2;
  return tokens[j]?.kind === 'word' ? j : -1;
}

/** The word at `i` starts a table name: after FROM, JOIN, INTO, UPDATE or TABLE. */
function isTableNamePosition(tokens: GoogleSqlToken[], i: number): boolean {
  const prev = tokens[i - 1];
  return prev !== undefined && prev.kind === 'word' && ['FROM', 'JOIN', 'INTO', 'UPDATE', 'TABLE'].includes(prev.text.toUpperCase());
}

/** Index of the `)` closing a list of plain names (and commas) opened at `open`, or -1. */
export function closeOfNames(tokens: GoogleSqlToken[], open: number): number {
  if (tokens[open]?.text !== '(') return -1;
  for (let j = open + 1; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.text === ')') return j;
    if (!(t.kind === 'word' || t.kind === 'quoted' || t.text === ',')) return -1;
  }
  return -1;
}

/** Index of the `)` matching the `(` at `open` (any content), or -1. */
function closeOfParen(tokens: GoogleSqlToken[], open: number): number {
  let depth = 0;
  for (let j = open; j < tokens.length; j++) {
    if (tokens[j]!.text === '(') depth++;
    else if (tokens[j]!.text === ')' && --depth === 0) return j;
  }
  return -1;
}

function blankCorresponding(tokens: GoogleSqlToken[], i: number, edit: SyntaxEditor): void {
  const word = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  let end = -1;
  if (word(i) === 'BY' && word(i + 1) === 'NAME') {
    end = i + 1;
    if (word(i + 2) === 'ON' && tokens[i + 3]?.text === '(') end = closeOfNames(tokens, i + 3);
  } else if (word(i) === 'CORRESPONDING') {
    end = i;
    if (word(i + 1) === 'BY' && tokens[i + 2]?.text === '(') end = closeOfNames(tokens, i + 2);
  }
  if (end !== -1) edit.blank(tokens[i]!.start, tokens[end]!.end);
}

/** `expr.* [EXCEPT (names)] REPLACE (` -> `expr, STRUCT (` with the EXCEPT list blanked. */
function structForStarReplace(tokens: GoogleSqlToken[], dot: number, edit: SyntaxEditor): void {
  const word = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  const prev = tokens[dot - 1];
  // on a plain range variable `t.* REPLACE` parses already
  const nested = prev && (prev.text === ')' || prev.text === ']' || (tokens[dot - 2]?.text === '.' && (prev.kind === 'word' || prev.kind === 'quoted')));
  if (!nested) return;
  let k = dot + 2;
  if (word(k) === 'EXCEPT') {
    const close = closeOfNames(tokens, k + 1);
    if (close === -1) return;
    k = close + 1;
  }
  if (word(k) !== 'REPLACE' || tokens[k + 1]?.text !== '(') return;
  edit.write(tokens[dot]!.start, ',');
  edit.blank(tokens[dot + 1]!.start, tokens[k - 1]!.end);
  edit.write(tokens[k]!.start, 'STRUCT ');
}

/** `PIVOT(…) AS alias`, `UNPIVOT(… IN (col AS 'label', …)) AS alias`: the aliases and labels are blanked. */
function pivotAliases(tokens: GoogleSqlToken[], open: number, edit: SyntaxEditor): void {
  const close = closeOfParen(tokens, open);
  if (close === -1) return;
  for (let j = open; j < close; j++) {
    const t = tokens[j]!;
    if (t.kind === 'word' && t.text.toUpperCase() === 'AS' && (tokens[j + 1]?.kind === 'number' || tokens[j + 1]?.kind === 'string')) edit.blank(t.start, tokens[j + 1]!.end);
  }
  const after = tokens[close + 1];
  if (after?.kind === 'word' && after.text.toUpperCase() === 'AS' && tokens[close + 2] && (tokens[close + 2]!.kind === 'word' || tokens[close + 2]!.kind === 'quoted')) {
    edit.blank(after.start, tokens[close + 2]!.end);
  }
}

/** In `WINDOW a AS (…), b AS a`, the bare reference `, b AS a` is blanked. */
function windowReferences(tokens: GoogleSqlToken[], from: number, edit: SyntaxEditor): void {
  for (let j = from; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.text === '(') {
      j = closeOfParen(tokens, j);
      if (j === -1) return;
      continue;
    }
    if (t.text === ';' || t.text === ')' || (t.kind === 'word' && ['ORDER', 'LIMIT', 'QUALIFY', 'UNION', 'EXCEPT', 'INTERSECT'].includes(t.text.toUpperCase()))) return;
    const isRef = t.kind === 'word' && tokens[j + 1]?.kind === 'word' && tokens[j + 1]!.text.toUpperCase() === 'AS' && tokens[j + 2]?.kind === 'word' && tokens[j + 3]?.text !== '(' && tokens[j + 2]!.text !== '(';
    if (isRef && tokens[j - 1]?.text === ',') {
      edit.blank(tokens[j - 1]!.start, tokens[j + 2]!.end);
      j += 2;
    }
  }
}

/** `5+5 PRECEDING` (numbers, operators and parentheses only) -> `1   PRECEDING`. */
function constantFrameBound(tokens: GoogleSqlToken[], at: number, edit: SyntaxEditor): void {
  let j = at - 1;
  while (j >= 0 && (tokens[j]!.kind === 'number' || ['+', '-', '*', '/', '(', ')'].includes(tokens[j]!.text))) j--;
  const start = j + 1;
  if (at - start < 2) return; // a single number (or nothing) parses already
  const head = tokens[j];
  if (!head || !(head.kind === 'word' && ['BETWEEN', 'AND', 'ROWS', 'RANGE'].includes(head.text.toUpperCase()))) return;
  edit.blank(tokens[start]!.start, tokens[at - 1]!.end);
  edit.write(tokens[start]!.start, '1');
}

function isAlterSchema(tokens: GoogleSqlToken[], i: number): boolean {
  const word = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  for (let j = i - 1; j >= 0 && j >= i - 8; j--) {
    if (word(j) === 'SCHEMA' && word(j - 1) === 'ALTER') return true;
    if (tokens[j]!.text === ';') return false;
  }
  return false;
}

/** `ADD REPLICA r [OPTIONS (…)]` -> `SET …OPTIONS (…)`; `DROP REPLICA r` -> `SET OPTIONS(x=1)` when it fits. */
function replica(tokens: GoogleSqlToken[], i: number, edit: SyntaxEditor): void {
  const name = tokens[i + 2];
  if (!name || (name.kind !== 'word' && name.kind !== 'quoted')) return;
  const isAdd = tokens[i]!.text.toUpperCase() === 'ADD';
  const hasOptions = tokens[i + 3]?.kind === 'word' && tokens[i + 3]!.text.toUpperCase() === 'OPTIONS';
  if (isAdd && hasOptions) {
    edit.blank(tokens[i]!.start, name.end);
    edit.write(tokens[i]!.start, 'SET');
    return;
  }
  const stand = 'SET OPTIONS(x=1)';
  if (name.end - tokens[i]!.start < stand.length) return;
  edit.blank(tokens[i]!.start, name.end);
  edit.write(tokens[i]!.start, stand);
}

/** After a parameter or field name, `<`, `,` in a type list, RETURNS or AS (CAST): a type can stand here. */
function isTypePosition(tokens: GoogleSqlToken[], i: number): boolean {
  const prev = tokens[i - 1];
  if (!prev) return false;
  if (prev.kind === 'word' && !TYPE_CONTEXT_BEFORE.has(prev.text.toUpperCase())) {
    // `name TYPE`: the word before is a name, and what comes before it starts a parameter/field/declaration
    const before = tokens[i - 2];
    return before !== undefined && (['(', ',', '<'].includes(before.text) || (before.kind === 'word' && before.text.toUpperCase() === 'DECLARE'));
  }
  return TYPE_CONTEXT_BEFORE.has(prev.kind === 'word' ? prev.text.toUpperCase() : prev.text);
}

/** `RANGE<T> '…'` (a literal) loses its type prefix; `RANGE<T>` elsewhere (a type) becomes `ARRAY<T>`. */
function rangeType(tokens: GoogleSqlToken[], i: number, edit: SyntaxEditor): void {
  if (tokens[i + 2]?.kind !== 'word' || tokens[i + 3]?.text !== '>') return;
  if (tokens[i + 4]?.kind === 'string') edit.blank(tokens[i]!.start, tokens[i + 3]!.end);
  else edit.write(tokens[i]!.start, 'ARRAY');
}

/** `x ->` or `(x, y) ->` right after `(` or `,` (a function argument). */
function isLambdaHead(tokens: GoogleSqlToken[], arrow: number): boolean {
  const prev = tokens[arrow - 1];
  if (!prev) return false;
  if (prev.kind === 'word') return ['(', ','].includes(tokens[arrow - 2]?.text ?? '');
  if (prev.text !== ')') return false;
  let j = arrow - 2;
  while (j >= 0 && tokens[j]!.text !== '(') {
    if (!(tokens[j]!.kind === 'word' || tokens[j]!.text === ',')) return false;
    j--;
  }
  return j >= 1 && ['(', ','].includes(tokens[j - 1]!.text);
}
