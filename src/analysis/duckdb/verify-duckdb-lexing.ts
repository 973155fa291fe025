/**
 * Checks hoopq's lexing of a DuckDB script against DuckDB's own parser, so that no decision
 * rests on the hand-written lexer alone. Input: the SQL as received, hoopq's tokens and the
 * gaps between them, a parser connection. Output: the engine's value of every string
 * literal (for scrubbing messages), or an AnalysisError (exit 6) naming the first place the
 * two readings differ.
 *
 * How: one probe query `SELECT <token> AS "hoopq_0", <token> AS "hoopq_1" …` holds every
 * token whose extent could be misread (strings of every form, quoted names, numbers, names
 * with non-ASCII letters or `$`), each followed by the comments hoopq skipped after it and a
 * line break. DuckDB's parse tree of the probe (json_serialize_sql: parse only, nothing
 * runs) must show exactly those items, each a single constant / name at the byte offset
 * hoopq put it, under its own alias: a token DuckDB reads longer or shorter, or a comment
 * that is code to DuckDB (a `--` ended by a character hoopq did not treat as a line end),
 * shifts or breaks the list. Parameters are checked in probes of their own (DuckDB refuses
 * named and positional parameters in one query).
 */
import { AnalysisError } from '../../errors.js';
import type { DuckDbParseTrees } from './duckdb-parse-trees.js';
import type { DuckDbLexing, DuckDbToken } from './lex-duckdb-sql.js';

interface ProbeItem {
  alias: string;
  /** Byte offset of the item's text in the probe (DuckDB's query_location). */
  location: number;
  token?: DuckDbToken;
  /** Offset in the received SQL this item vouches for (for the error message). */
  at: number;
}

class ProbeBuilder {
  private parts: string[] = ['SELECT '];
  private bytes = Buffer.byteLength('SELECT ');
  readonly items: ProbeItem[] = [];

  /** `located`: DuckDB's offsets of the items are checked (parameters' probes cannot be). */
  constructor(readonly located: boolean) {}

  add(text: string, at: number, token?: DuckDbToken): void {
    if (this.items.length > 0) this.append(', ');
    const alias = `hoopq_${this.items.length}`;
    this.items.push({ alias, location: this.bytes, token, at });
    this.append(`${text} AS "${alias}"`);
  }

  /** Text hoopq reads as whitespace and comments, appended after the last item. */
  addGap(text: string, at: number): void {
    if (this.items.length === 0) this.add('0', at);
    this.append(`${text}\n`);
  }

  get sql(): string {
    return this.parts.join('');
  }

  private append(s: string): void {
    this.parts.push(s);
    this.bytes += Buffer.byteLength(s);
  }
}

/** Tokens whose extent the probe checks; ASCII words and punctuation cannot be misread. */
function needsCheck(t: DuckDbToken): boolean {
  if (t.kind === 'word') return /[^A-Za-z0-9_]/.test(t.text);
  return t.kind !== 'punct';
}

/** The probes: the main one, and one for each kind of parameter (DuckDB refuses both kinds in one query). */
function lexingProbes(sql: string, lexing: DuckDbLexing): ProbeBuilder[] {
  const main = new ProbeBuilder(true);
  const named = new ProbeBuilder(false);
  const positional = new ProbeBuilder(false);
  const { tokens, gaps } = lexing;
  const gapText = (k: number) => sql.slice(gaps[k]!.start, gaps[k]!.end);
  if (gaps[0]?.hasComment) main.addGap(gapText(0), gaps[0].start);
  tokens.forEach((t, k) => {
    if (needsCheck(t)) {
      if (t.kind === 'param') (t.text.startsWith('$') && !/^\$\d/.test(t.text) ? named : positional).add(t.text, t.start, t);
      else main.add(t.text, t.start, t);
    }
    const after = gaps[k + 1];
    if (after?.hasComment) main.addGap(gapText(k + 1), after.start);
  });
  return [main, named, positional].filter((probe) => probe.items.length > 0);
}

/**
 * `trees`: the analysis' parse trees; the probes' trees are fetched in one engine call with
 * whatever the caller loaded before (readDuckDbScript: the statements'), so the check costs no
 * engine call of its own.
 */
export async function verifyDuckDbLexing(sql: string, lexing: DuckDbLexing, trees: DuckDbParseTrees): Promise<string[]> {
  const values: string[] = [];
  const probes = lexingProbes(sql, lexing);
  trees.load(probes.map((probe) => probe.sql));
  for (const probe of probes) {
    const list = await selectList(probe.sql, trees);
    if (!list) throw disagreement(probe.items[0]!.at, 'DuckDB cannot parse the probe built from hoopq\'s reading');
    for (let k = 0; k < probe.items.length; k++) {
      const item = probe.items[k]!;
      const expr = list[k];
      const problem = checkItem(item, expr, probe.located);
      if (problem) throw disagreement(item.at, problem);
      const value = expr!.value as { type?: { id?: string }; value?: unknown } | undefined;
      if (item.token?.kind === 'string' && value?.type?.id === 'VARCHAR' && typeof value.value === 'string') values.push(value.value);
    }
    if (list.length !== probe.items.length) throw disagreement(probe.items[probe.items.length - 1]!.at, 'DuckDB reads more items than hoopq');
  }
  return values;
}

type Json = Record<string, unknown>;

/** The probe's select list, or null when DuckDB does not parse it as one plain SELECT. */
async function selectList(probe: string, trees: DuckDbParseTrees): Promise<Json[] | null> {
  let raw: unknown;
  try {
    raw = await trees.raw(probe);
  } catch {
    return null;
  }
  if (typeof raw !== 'string') return null;
  const parsed = JSON.parse(raw) as { error?: boolean; statements?: Array<{ node?: Json }> };
  if (parsed.error || parsed.statements?.length !== 1) return null;
  const node = parsed.statements[0]!.node;
  if (!node || node.type !== 'SELECT_NODE' || !Array.isArray(node.select_list)) return null;
  const from = node.from_table as Json | undefined;
  if (from?.type !== 'EMPTY' || node.where_clause != null || node.having != null || node.qualify != null) return null;
  if (Array.isArray(node.modifiers) && node.modifiers.length > 0) return null;
  if (Array.isArray(node.group_expressions) && node.group_expressions.length > 0) return null;
  return node.select_list as Json[];
}

function checkItem(item: ProbeItem, expr: Json | undefined, located: boolean): string | null {
  if (!expr) return 'DuckDB reads fewer items than hoopq';
  if (expr.alias !== item.alias) return 'DuckDB reads the token and what follows it differently';
  if (located && Number(expr.query_location) !== item.location) return 'DuckDB places the token elsewhere';
  const t = item.token;
  if (!t) return expr.class === 'CONSTANT' ? null : 'DuckDB reads a comment as code';
  switch (t.kind) {
    case 'string': {
      const type = (expr.value as { type?: { id?: string } } | undefined)?.type?.id;
      return expr.class === 'CONSTANT' && type === 'VARCHAR' ? null : 'DuckDB does not read a string literal here';
    }
    case 'number': {
      const type = (expr.value as { type?: { id?: string } } | undefined)?.type?.id;
      return expr.class === 'CONSTANT' && type !== 'VARCHAR' ? null : 'DuckDB does not read a number here';
    }
    case 'ident':
    case 'word': {
      const names = expr.column_names;
      const want = t.kind === 'ident' ? t.value : t.text;
      return expr.class === 'COLUMN_REF' && Array.isArray(names) && names.length === 1 && names[0] === want ? null : 'DuckDB reads this name differently';
    }
    case 'param': {
      if (expr.class !== 'PARAMETER') return 'DuckDB does not read a parameter here';
      if (t.text === '?') return null;
      const want = t.text.slice(1);
      return expr.identifier === want ? null : 'DuckDB reads this parameter differently';
    }
    default:
      return 'unexpected token';
  }
}

function disagreement(at: number, why: string): AnalysisError {
  return new AnalysisError('analysis.engine_disagrees', `refused: hoopq and DuckDB read the SQL differently at offset ${at} (${why})`, {
    rule: 'parse',
    hint: 'write plain SQL: ordinary quotes, line breaks between comment lines and code, no unusual characters outside string literals',
    details: { offset: at },
  });
}
