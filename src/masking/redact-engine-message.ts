/**
 * An engine's error message, made safe to show: a whitelist, not a blacklist.
 *
 * Input: the text DuckDB or BigQuery gave (`Conversion Error: Could not convert string
 * 'alice@…, bob@…' to INT32 when casting from source column notes\n\nLINE 1: SELECT … (the
 * SQL as hoopq rewrote it)`) and the SQL as the caller sent it.
 * Output: one line in which every word is one the engine's own message templates use
 * (`could`, `convert`, `casting` …), a type name (`INT32`, `DECIMAL`), or a name the caller
 * wrote in the SQL outside its literals (`notes`, `string_agg`); numbers of at most two
 * digits; punctuation. Everything else — quoted values, longer numbers, free text the engine
 * echoed (`error(name)` gives `Invalid Input Error: Alice Smith`), the SQL context the engine
 * appends (hoopq's rewrite) — becomes `…`.
 * Invariant: no character sequence of the output comes from data or from a literal; it can
 * only lose information, never gain it, so it is safe for clients, logs and the audit log.
 */
import { redactSqlLiterals } from './redact-sql-literals.js';

const MAX_LENGTH = 400;
const REDACTED = '\u0000';

/** Words of the engines' message templates (lower case). A word not here and not in the caller's SQL is dropped. */
const ENGINE_WORDS = new Set(
  `a an the of to in on at by for from with without as is are was were be been being can can't cannot could couldn't not no
  and or but if then than this that these those it its must should might may need needs only all any one more less too many
  few has have had does doesn't do did didn't when where while which what into per same other after before between either
  both each there here you your we our use used using
  error errors invalid input conversion convert converted converting cast casting casts type types typed value values range
  out overflow underflow destination source column columns string strings field fields format formats formatted expected
  expecting unexpected malformed json byte bytes character characters char end data parse parsed parsing according
  specifier specifiers decode decoded decoding encode encoded encoding base64 hex digit digits length lengths multiple
  referenced reference references found clause candidate candidates binding bindings bound function functions match
  matches matching matched given name names named argument arguments explicit implicit implicitly add added key keys
  constant constants enum extract recognized unrecognized substring offset outside supported unsupported support supports
  multiplication addition subtraction division divide divided zero negative positive integer integers number numbers
  numeric decimal precision scale date dates time times timestamp timestamps interval intervals timezone zone year years
  month months day days hour hours minute minutes second seconds microsecond microseconds millisecond milliseconds
  nanosecond nanoseconds week weeks epoch list lists array arrays struct structs map maps entry entries element elements
  index indexes indices size sizes table tables schema schemas catalog catalogs database databases view views exist exists
  existing ambiguous aggregate aggregates aggregation group grouping window order ordering query queries subquery
  subqueries statement statements select where having limit binder parser syntax near unterminated quoted identifier
  identifiers operator operators nested large small maximum minimum max min exceeds exceeded exceed allowed allow permission
  disabled configuration locked read only mode attached unknown missing parameter parameters prepared null nulls constraint
  constraints violates violated duplicate primary unique foreign check failed fail fails memory interrupted interrupt
  because target result results row rows returns return returned pattern patterns regex regular expression expressions
  option options setting settings valid utf utf8 unicode trailing leading whitespace separator delimiter quote position
  line lines left right side operand operands comparison compare compared equal escape sequence mean did bad literal
  literals got keyword keywords expected got division job jobs failed location dataset datasets project projects resources
  exceeded resource billing billed limit limits timed timeout cancelled canceled stopped internal execution executing
  execute storage scan scanning table_name correlated recursive cte ctes lateral join joins union intersect except
  distinct filter qualify unnest pivot unpivot sample default defaults collation collate precision truncated truncate
  insert update delete merge create drop alter copy export import attach detach set reset pragma call install load
  mismatch implemented dependency serialization transaction optimizer planner executor fatal io http extension
  extensions autoloading object stat connection network sequence planning binding
  bigquery duckdb yyyy mm dd hh ss us ms tz
  typeerror rangeerror referenceerror syntaxerror aborterror property properties undefined reading
  file files system operation operations access accessed external path paths directory directories enable enabled write
  writes written writing lock change changes changed`
    .split(/\s+/)
    .filter(Boolean),
);

/** Type names of both engines (compared in lower case). */
const TYPE_WORDS = new Set(
  `boolean bool tinyint smallint integer int bigint hugeint uhugeint utinyint usmallint uinteger ubigint int1 int2 int4 int8
  int16 int32 int64 int128 uint8 uint16 uint32 uint64 uint128 float double real decimal numeric bignumeric varchar text
  string char blob bytea bytes bit bitstring date time timestamp timestamptz timestamp_s timestamp_ms timestamp_ns time_tz
  timetz interval uuid json list array struct map union enum null any varint float32 float64 geography datetime record
  range`
    .split(/\s+/)
    .filter(Boolean),
);

// A word (with its `can't`/`table's` tail), a quoted span (closed, or running to the end),
// a number, whitespace, or any other single character.
const TOKEN = /([A-Za-z_][A-Za-z0-9_$]*(?:'[ts]\b)?)|('(?:[^'\\]|''|\\.)*'|'[^]*$)|("(?:[^"\\]|""|\\.)*"|"[^]*$)|(\d+(?:[.,]\d+)*)|(\s+)|([^])/g;

/** The words of `sql` outside its literals and comments: names the caller wrote. */
export function wordsOfSql(sql: string | undefined): Set<string> {
  const words = new Set<string>();
  if (!sql) return words;
  // a literal's content never counts as a name: redactSqlLiterals replaces it first
  for (const m of redactSqlLiterals(sql).text.matchAll(/[A-Za-z_][A-Za-z0-9_$]*/g)) words.add(m[0].toLowerCase());
  words.delete('redacted');
  words.delete('number');
  return words;
}

export function redactEngineMessage(text: string, sqlWords: ReadonlySet<string> = new Set()): string {
  const lines = relevantLines(text);
  let out = '';
  for (const line of lines) out += (out ? ' ' : '') + redactLine(line, sqlWords);
  // a run of dropped pieces (and the punctuation and spaces between them) reads as one `…`
  out = out.replace(/\u0000(?:[\s\p{P}\p{S}]*\u0000)*/gu, '…').replace(/\s+/g, ' ').trim();
  return out.length > MAX_LENGTH ? out.slice(0, MAX_LENGTH - 1) + '…' : out;
}

/**
 * The lines worth keeping: everything before the SQL context the engine appends (`LINE 1:`
 * with a caret — the SQL as run, i.e. hoopq's rewrite), at most six.
 */
function relevantLines(text: string): string[] {
  const kept: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && kept.length < 6; i++) {
    if (/^\s*LINE \d+:/.test(lines[i]!)) break;
    // a line with a caret under it is an echo of the input (strptime, JSON): context, not message
    if (i + 1 < lines.length && isCaretLine(lines[i + 1]!)) {
      i++;
      continue;
    }
    const line = lines[i]!.trim();
    if (line !== '' && !isCaretLine(line)) kept.push(line);
  }
  return kept;
}

function isCaretLine(line: string): boolean {
  return /^\s*\^\s*$/.test(line);
}

function redactLine(line: string, sqlWords: ReadonlySet<string>): string {
  let out = '';
  for (const m of line.matchAll(TOKEN)) {
    const [, word, single, double, number, space, other] = m;
    if (word !== undefined) out += isSafeWord(word, sqlWords) ? word : REDACTED;
    else if (single !== undefined) out += isSafeQuoted(single, sqlWords) ? single : "'…'";
    else if (double !== undefined) out += isSafeQuoted(double, sqlWords) ? double : '"…"';
    else if (number !== undefined) out += number.replace(/\D/g, '').length <= 2 ? number : REDACTED;
    else if (space !== undefined) out += ' ';
    else out += isSafePunctuation(other!) ? other : REDACTED;
  }
  return out;
}

function isSafeWord(word: string, sqlWords: ReadonlySet<string>): boolean {
  const lower = word.toLowerCase();
  const base = lower.replace(/'[ts]$/, '');
  return ENGINE_WORDS.has(lower) || ENGINE_WORDS.has(base) || TYPE_WORDS.has(base) || sqlWords.has(base) || /^(u?int|float)\d{1,3}$/.test(base);
}

/** A quoted span is kept only when everything inside it would be kept on its own (a name, a signature). */
function isSafeQuoted(span: string, sqlWords: ReadonlySet<string>): boolean {
  if (span.length < 2 || span.at(-1) !== span[0]) return false;
  const inner = span.slice(1, -1);
  if (inner === '' || inner.length > 200) return inner === '';
  if (!/^[A-Za-z0-9_$ .,()[\]<>:*\->]+$/.test(inner)) return false;
  for (const m of inner.matchAll(/[A-Za-z_][A-Za-z0-9_$]*|\d+/g)) {
    const piece = m[0];
    if (/^\d+$/.test(piece) ? piece.length > 2 : !isSafeWord(piece, sqlWords)) return false;
  }
  return true;
}

function isSafePunctuation(c: string): boolean {
  return /^[.,;:!?()[\]{}<>=+\-*/%^|&~#$`]$/.test(c);
}
