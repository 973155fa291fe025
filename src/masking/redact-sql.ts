/**
 * What the audit log's `sql` and explain's output show of a query under a masking policy.
 * A literal the caller typed may be a raw value of a masked column (`WHERE ssn = '…'`), so
 * every literal is redacted; and a reader must never be shown code as if it were a comment or
 * a string, so the redaction follows the engine's own reading of the text, never a guess:
 * - DuckDB: the literal and comment spans that the analysis checked against DuckDB's parser
 *   (read-duckdb-script.ts), or a text hoopq built itself from such tokens. When no checked
 *   reading exists (the query was refused before or during analysis), nothing of the text is
 *   shown: the record carries a placeholder and the exact text stays sealed for the operator.
 * - GoogleSQL: the analysis parser's reading (redact-sql-literals.ts), the same reading the
 *   policy decision used; BigQuery's dry run is the engine's check of it.
 * Output: the text to show, and the raw literal contents to scrub from messages.
 */
import type { SqlLiterals, SqlSpan } from '../analysis/query-analysis.js';
import { lexDuckDbScript } from '../analysis/duckdb/lex-duckdb-sql.js';
import { REDACTED_NUMBER, REDACTED_STRING, redactSqlLiterals, type RedactedSql } from './redact-sql-literals.js';

export type SqlDialect = 'duckdb' | 'googlesql';

const NAME_LIKE = /^[A-Za-z_][A-Za-z_$ ]*[0-9]{0,2}$/;

export function unverifiedSqlPlaceholder(sql: string): string {
  return `[not shown: hoopq could not confirm how the engine reads this SQL (${sql.length} characters); the exact text is sealed]`;
}

/**
 * `verified`: the engine-checked literal spans of `sql` (from the analysis). `trusted`: `sql`
 * is a text hoopq rebuilt from checked tokens (a statement as it will run), so lexing it again
 * reads it as the engine does. `keepStrings`: contents of '…' string literals shown as they
 * are (explain keeps the masks' own constants, so the SQL shown is the SQL that runs).
 */
export function redactSql(
  sql: string,
  dialect: SqlDialect,
  options: { verified?: SqlLiterals; trusted?: boolean; keepStrings?: ReadonlySet<string> } = {},
): RedactedSql {
  if (dialect === 'googlesql') return redactSqlLiterals(sql, { keepStrings: options.keepStrings });
  let literals = options.verified;
  if (!literals && options.trusted) {
    try {
      const lexing = lexDuckDbScript(sql);
      literals = {
        spans: lexing.tokens.filter((t) => t.kind === 'string' || t.kind === 'number' || t.kind === 'ident').map((t) => ({ start: t.start, end: t.end, kind: t.kind === 'ident' ? ('name' as const) : t.kind === 'string' ? ('string' as const) : ('number' as const) })),
        comments: lexing.gaps.filter((g) => g.hasComment).map((g) => ({ start: g.start, end: g.end })),
        values: [],
      };
    } catch {
      literals = undefined;
    }
  }
  // Messages that quote the SQL (parser errors) are scrubbed with every literal any reading finds.
  const guessed = redactSqlLiterals(sql).literals;
  if (!literals) return { text: unverifiedSqlPlaceholder(sql), literals: guessed };
  const keep = options.keepStrings;
  if (keep) {
    // only a plain '…' token whose whole content is a kept string (no escapes, no prefix)
    const isKept = (s: SqlSpan) => s.kind === 'string' && /^'[^'\\]*'$/.test(sql.slice(s.start, s.end)) && keep.has(sql.slice(s.start + 1, s.end - 1));
    literals = { ...literals, spans: literals.spans.filter((s) => !isKept(s)) };
  }
  return redactSpans(sql, literals, guessed);
}

function redactSpans(sql: string, literals: SqlLiterals, extra: readonly string[]): RedactedSql {
  const edits = [
    ...literals.spans.map((s) => ({ ...s, comment: false })),
    ...literals.comments.map((s) => ({ ...s, comment: true })),
  ].sort((a, b) => a.start - b.start);
  const found: string[] = [...literals.values, ...extra];
  let out = '';
  let at = 0;
  for (const e of edits) {
    if (e.start < at) continue;
    out += sql.slice(at, e.start);
    const text = sql.slice(e.start, e.end);
    if (e.comment) {
      // a comment span is a whole gap between tokens: keep its spacing and line break
      found.push(text);
      out += `${/^\s/.test(text) ? ' ' : ''}/* [REDACTED] */${/[\r\n]/.test(text) ? '\n' : /\s$/.test(text) ? ' ' : ''}`;
    } else if (e.kind === 'number') {
      if (text.length >= 5) {
        found.push(text);
        out += REDACTED_NUMBER;
      } else {
        out += text;
      }
    } else if (e.kind === 'name') {
      const name = text.slice(1, -1).replace(/""/g, '"');
      if (NAME_LIKE.test(name)) out += text;
      else {
        found.push(name);
        out += '"[REDACTED]"';
      }
    } else {
      out += REDACTED_STRING;
    }
    at = e.end;
  }
  out += sql.slice(at);
  const unique = [...new Set(found.map((f) => f.trim()).filter((f) => f.length >= 3))].sort((a, b) => b.length - a.length);
  return { text: out, literals: unique };
}
