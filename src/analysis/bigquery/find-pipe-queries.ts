/**
 * GoogleSQL pipe syntax (`FROM t |> WHERE … |> SELECT …`, or a query followed by `|>`
 * operators), which sql-parser-cst does not parse. The normaliser finds each pipe query here
 * and hands the parser a placeholder of the same length (`SELECT 1` and spaces); the reference
 * collector then analyses the pipe query itself, part by part (collect-pipe-query.ts), at the
 * placeholder's place, with the same scope. Every character of the pipe query is thus read by
 * the collector, and none of it by the main parse.
 *
 * A pipe query is recognised only where a query can start: at the start of a statement or
 * right after `(` (a subquery, a CTE body), after an optional WITH clause, and its first
 * word must be FROM (a FROM clause alone is a query too) or SELECT followed by `|>`. Anything
 * else holding `|>` is left alone — and fails to parse (exit 6).
 */
import type { GoogleSqlToken } from './scan-google-sql.js';

export interface PipeOperator {
  /** Offset of the operator's first word (after `|>`). */
  start: number;
  /** End of the operator's text (before the next `|>`, or the end of the query). */
  end: number;
}

export interface PipeQuery {
  /** Where the placeholder `SELECT` starts: the pipe query's first word (FROM / SELECT). */
  start: number;
  /** End of the pipe query (exclusive). */
  end: number;
  /** The part before the first `|>`: a FROM clause, or a whole query. */
  head: { start: number; end: number; fromFirst: boolean };
  operators: PipeOperator[];
}

/** The pipe queries of the text, outermost only (a pipe query inside another is found when the outer one's parts are parsed). */
export function findPipeQueries(tokens: GoogleSqlToken[]): PipeQuery[] {
  const out: PipeQuery[] = [];
  const starts: number[] = [0]; // token index where each open level's segment starts
  const pipes: number[][] = [[]]; // indexes of `|` of `|>` per level
  const close = (endIndex: number) => {
    const level = pipes.pop()!;
    const start = starts.pop()!;
    if (endIndex > start) {
      const q = pipeQuery(tokens, start, endIndex, level);
      if (q) out.push(q);
    }
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.text === '(') {
      starts.push(i + 1);
      pipes.push([]);
    } else if (t.text === ')') {
      if (starts.length > 1) close(i);
    } else if (t.text === ';' && starts.length === 1) {
      close(i);
      starts.push(i + 1);
      pipes.push([]);
    } else if (t.text === '|' && tokens[i + 1]?.text === '>' && tokens[i + 1]!.start === t.end) {
      pipes[pipes.length - 1]!.push(i);
      i++;
    }
  }
  while (starts.length > 0) close(tokens.length);
  const outer = out.filter((q) => !out.some((o) => o !== q && o.start <= q.start && q.end <= o.end));
  return outer.sort((a, b) => a.start - b.start);
}

/** The pipe query of the segment [from, to) with `|>` at `bars`, or undefined when it does not start as a query. */
function pipeQuery(tokens: GoogleSqlToken[], from: number, to: number, bars: number[]): PipeQuery | undefined {
  const word = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  let q = from;
  if (word(q) === 'WITH') q = afterWithClause(tokens, q, to);
  if (q === -1 || q >= to) return undefined;
  // a query may be a FROM clause alone (`FROM t`); a standard query is a pipe query only with `|>`
  if (!(word(q) === 'FROM' || (word(q) === 'SELECT' && bars.length > 0)) || q >= (bars[0] ?? to)) return undefined;
  const end = tokens[to - 1]!.end;
  const operators = bars.map((bar, k) => ({
    start: tokens[bar + 2]?.start ?? tokens[bar + 1]!.end,
    end: k + 1 < bars.length ? tokens[bars[k + 1]! - 1]!.end : end,
  }));
  const headEnd = bars.length > 0 ? tokens[bars[0]! - 1]!.end : end;
  return { start: tokens[q]!.start, end, head: { start: tokens[q]!.start, end: headEnd, fromFirst: word(q) === 'FROM' }, operators };
}

/** Index of the first token after `WITH [RECURSIVE] name [(cols)] AS (…) [, …]`, or -1. */
function afterWithClause(tokens: GoogleSqlToken[], at: number, to: number): number {
  const word = (k: number) => (tokens[k]?.kind === 'word' ? tokens[k]!.text.toUpperCase() : '');
  let k = at + 1;
  if (word(k) === 'RECURSIVE') k++;
  for (;;) {
    k++; // the CTE name
    if (tokens[k]?.text === '(') k = matching(tokens, k, to) + 1;
    if (word(k) !== 'AS' || tokens[k + 1]?.text !== '(') return -1;
    k = matching(tokens, k + 1, to) + 1;
    if (k <= 0) return -1;
    if (tokens[k]?.text !== ',') return k;
    k++;
  }
}

function matching(tokens: GoogleSqlToken[], open: number, to: number): number {
  let depth = 0;
  for (let j = open; j < to; j++) {
    if (tokens[j]!.text === '(') depth++;
    else if (tokens[j]!.text === ')' && --depth === 0) return j;
  }
  return -2;
}
