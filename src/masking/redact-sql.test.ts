import { describe, expect, it } from 'vitest';
import { lexDuckDbScript } from '../analysis/duckdb/lex-duckdb-sql.js';
import type { SqlLiterals } from '../analysis/query-analysis.js';
import { redactSql } from './redact-sql.js';

/** Spans as the analysis reports them once DuckDB has confirmed the lexing. */
function checked(sql: string): SqlLiterals {
  const l = lexDuckDbScript(sql);
  return {
    spans: l.tokens.filter((t) => t.kind === 'string' || t.kind === 'number' || t.kind === 'ident').map((t) => ({ start: t.start, end: t.end, kind: t.kind === 'ident' ? 'name' : t.kind === 'string' ? 'string' : 'number' })),
    comments: l.gaps.filter((g) => g.hasComment).map((g) => ({ start: g.start, end: g.end })),
    values: [],
  };
}

describe('redactSql', () => {
  it('DuckDB, checked: redacts literals and comments along DuckDB\'s reading, code stays code', () => {
    const sql = "SELECT 1 AS a --x\r UNION ALL SELECT card FROM t WHERE card = '4111111111111111' AND n = 123456";
    const r = redactSql(sql, 'duckdb', { verified: checked(sql) });
    expect(r.text).toBe("SELECT 1 AS a /* [REDACTED] */\nUNION ALL SELECT card FROM t WHERE card = '[REDACTED]' AND n = [NUMBER]");
    expect(r.literals).toContain('123456');
  });

  it('DuckDB, a dollar quote with a non-ASCII tag is one literal', () => {
    const sql = "SELECT $é$ ; x = '123-45-6789' ; $é$";
    expect(redactSql(sql, 'duckdb', { verified: checked(sql) }).text).toBe("SELECT '[REDACTED]'");
  });

  it('DuckDB, unchecked: shows nothing of the text (it is sealed), scrubs every guessed literal from messages', () => {
    const sql = "SELECT\u00a0x FROM t WHERE ssn = '123-45-6789'";
    const r = redactSql(sql, 'duckdb');
    expect(r.text).toMatch(/^\[not shown: hoopq could not confirm how the engine reads this SQL \(\d+ characters\)/);
    expect(r.text).not.toContain('123-45-6789');
    expect(r.literals).toContain('123-45-6789');
  });

  it('DuckDB, a text hoopq rebuilt from checked tokens is read again', () => {
    expect(redactSql("SELECT a FROM t WHERE b = 'secret value'", 'duckdb', { trusted: true }).text).toBe("SELECT a FROM t WHERE b = '[REDACTED]'");
  });

  it('GoogleSQL: -- and # comments end at \\r, as in BigQuery', () => {
    expect(redactSql("SELECT 1 #x\rUNION ALL SELECT '123-45-6789'", 'googlesql').text).toBe("SELECT 1 /* [REDACTED] */\rUNION ALL SELECT '[REDACTED]'");
  });

  it.each(['duckdb', 'googlesql'] as const)('%s: keepStrings shows only whole plain literals of that content; every other literal is still redacted', (dialect) => {
    const sql = "SELECT repeat('*', 3), 'a''*''b', E'*', '**', '*' || 'secret value'";
    const keepStrings = new Set(['*']);
    const text = redactSql(sql, dialect, { trusted: true, keepStrings }).text;
    expect(text).toBe("SELECT repeat('*', 3), '[REDACTED]', '[REDACTED]', '[REDACTED]', '*' || '[REDACTED]'");
    expect(redactSql(sql, dialect, { trusted: true }).text).not.toContain("'*'");
  });
});
