import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisError } from '../../errors.js';
import { lexDuckDbScript, lexDuckDbSql, type DuckDbLexing } from './lex-duckdb-sql.js';
import { readDuckDbScript } from './read-duckdb-script.js';
import { verifyDuckDbLexing } from './verify-duckdb-lexing.js';
import { DuckDbParseTrees } from './duckdb-parse-trees.js';

const texts = (sql: string) => lexDuckDbSql(sql).map((t) => `${t.kind}:${t.text}`);

/** A lexing as another lexer would give it: tokens [kind, start, end], whitespace between. */
function lexingOf(sql: string, spans: Array<[DuckDbLexing['tokens'][number]['kind'], number, number]>): DuckDbLexing {
  const tokens = spans.map(([kind, start, end]) => ({ kind, text: sql.slice(start, end), value: sql.slice(start, end), start, end }));
  const bounds = [0, ...tokens.flatMap((t) => [t.start, t.end]), sql.length];
  const gaps = [];
  for (let k = 0; k < bounds.length; k += 2) gaps.push({ start: bounds[k]!, end: bounds[k + 1]!, hasComment: false, hasNewline: false });
  return { tokens, gaps };
}

describe('lexDuckDbSql follows DuckDB\'s scanner', () => {
  it.each<[string, string, string[]]>([
    ['-- ends at \\r', 'SELECT 1 --x\r UNION', ['word:SELECT', 'number:1', 'word:UNION']],
    ['-- ends at \\n', 'SELECT 1 --x\n+ 2', ['word:SELECT', 'number:1', 'punct:+', 'number:2']],
    ['-- at the end', 'SELECT 1 -- x; SELECT 2', ['word:SELECT', 'number:1']],
    ['nested block comments', 'SELECT /* a /* b */ c */ 1', ['word:SELECT', 'number:1']],
    ['1e--x is 1, e and a comment', 'SELECT 1e--x\r; SELECT 2', ['word:SELECT', 'number:1', 'word:e', 'punct:;', 'word:SELECT', 'number:2']],
    ['0x1F is 0 and a name', 'SELECT 0x1F', ['word:SELECT', 'number:0', 'word:x1F']],
    ['1.e5 is one number', 'SELECT 1.e5', ['word:SELECT', 'number:1.e5']],
    ['1_000 is one number, 1__0 is not', 'SELECT 1_000, 1__0', ['word:SELECT', 'number:1_000', 'punct:,', 'number:1', 'word:__0']],
    ['1..2 is a range', 'SELECT 1..2', ['word:SELECT', 'number:1', 'punct:.', 'punct:.', 'number:2']],
    ['non-ASCII dollar tag', 'SELECT $é$ ; x $é$', ['word:SELECT', 'string:$é$ ; x $é$']],
    ['mismatched dollar tags', 'SELECT $a$ $b$ $a$', ['word:SELECT', 'string:$a$ $b$ $a$']],
    ['named parameter', 'SELECT $name, $1, ?, ?2', ['word:SELECT', 'param:$name', 'punct:,', 'param:$1', 'punct:,', 'param:?', 'punct:,', 'param:?2']],
    ['string continuation over a line break', "SELECT 'a'\n'; b'", ['word:SELECT', "string:'a'\n'; b'"]],
    ['string continuation over a comment line', "SELECT 'a' --c\n'b'", ['word:SELECT', "string:'a' --c\n'b'"]],
    ['no continuation over a block comment', "SELECT 'a' /* c */\n'b'", ['word:SELECT', "string:'a'", "string:'b'"]],
    ['E string escapes', "SELECT E'\\'; x'", ['word:SELECT', "string:E'\\'; x'"]],
    ['B string ends at the first quote', "SELECT B'01''x'", ['word:SELECT', "string:B'01'", "string:'x'"]],
    ['doubled quotes', `SELECT 'it''s', "a""b"`, ['word:SELECT', "string:'it''s'", 'punct:,', 'ident:"a""b"']],
    ['keywords are ASCII only', 'ſelect x', ['word:ſelect', 'word:x']],
  ])('%s', (_what, sql, expected) => {
    expect(texts(sql)).toEqual(expected);
  });

  it('upper-cases keywords on ASCII only', () => {
    expect(lexDuckDbSql('ſelect Select')[0]!.value).toBe('ſELECT');
    expect(lexDuckDbSql('ſelect Select')[1]!.value).toBe('SELECT');
  });

  it.each([
    ['NUL', 'SELECT 1\0; DROP TABLE t'],
    ['vertical tab', 'SELECT 1\u000bAS x'],
    ['NBSP', 'SELECT\u00a0x'],
    ['U+2028', 'SELECT x\u2028FROM t'],
    ['U+0085', 'SELECT x\u0085FROM t'],
    ['BOM', '\ufeffSELECT 1'],
    ['U& string', "SELECT U&'d\\0061t'"],
    ['U& name', 'SELECT U&"d\\0061t"'],
    ['empty quoted name', 'SELECT ""'],
    ['unterminated string', "SELECT 'x"],
    ['unterminated comment', 'SELECT /* x'],
    ['unterminated dollar quote', 'SELECT $a$ x'],
  ])('refuses %s', (_what, sql) => {
    expect(() => lexDuckDbSql(sql)).toThrow(AnalysisError);
  });

  it('allows unusual spaces inside strings and comments', () => {
    expect(texts("SELECT 'a\u00a0b' -- c\u2028d")).toEqual(['word:SELECT', "string:'a\u00a0b'"]);
  });
});

describe('verifyDuckDbLexing: DuckDB checks every reading', () => {
  let instance: DuckDBInstance;
  let parser: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    parser = await instance.connect();
  });
  afterAll(() => {
    parser.closeSync();
    instance.closeSync();
  });

  it('accepts hoopq\'s own reading of tricky text, and returns DuckDB\'s string values', async () => {
    const sql = "SELECT E'a\\tb', $é$x$é$, 'it''s' -- c\r, 1e--x\n";
    expect(await verifyDuckDbLexing(sql, lexDuckDbScript(sql), new DuckDbParseTrees(parser))).toEqual(['a\tb', 'x', "it's"]);
  });

  it('refuses a reading that takes code for a comment (the old \\r rule)', async () => {
    const sql = 'SELECT 1 AS a --x\r UNION ALL SELECT 2';
    const honest = lexDuckDbScript(sql);
    // what a lexer that ends -- comments only at \n would say: everything after `a` is a comment
    const wrong: DuckDbLexing = {
      tokens: honest.tokens.slice(0, 4),
      gaps: [...honest.gaps.slice(0, 4), { start: honest.tokens[3]!.end, end: sql.length, hasComment: true, hasNewline: true }],
    };
    await expect(verifyDuckDbLexing(sql, wrong, new DuckDbParseTrees(parser))).rejects.toMatchObject({ code: 'analysis.engine_disagrees', exitCode: 6 });
  });

  it('refuses a reading that takes a string for code (an ASCII-only dollar tag rule)', async () => {
    // the old lexer's reading of `SELECT $é$ ; SELECT 1 ; $é$`: parameters and three statements
    const sql = 'SELECT $é$ ; SELECT 1 ; $é$';
    const wrong = lexingOf(sql, [['word', 0, 6], ['param', 7, 9], ['param', 9, 10], ['punct', 11, 12], ['word', 13, 19], ['number', 20, 21], ['punct', 22, 23], ['param', 24, 26], ['param', 26, 27]]);
    await expect(verifyDuckDbLexing(sql, wrong, new DuckDbParseTrees(parser))).rejects.toMatchObject({ code: 'analysis.engine_disagrees' });
  });

  it('refuses a number read longer than DuckDB reads it', async () => {
    const sql = 'SELECT 1e--x';
    const wrong: DuckDbLexing = {
      tokens: [
        { kind: 'word', text: 'SELECT', value: 'SELECT', start: 0, end: 6 },
        { kind: 'number', text: '1e--x', value: '1e--x', start: 7, end: 12 },
      ],
      gaps: [
        { start: 0, end: 0, hasComment: false, hasNewline: false },
        { start: 6, end: 7, hasComment: false, hasNewline: false },
        { start: 12, end: 12, hasComment: false, hasNewline: false },
      ],
    };
    await expect(verifyDuckDbLexing(sql, wrong, new DuckDbParseTrees(parser))).rejects.toMatchObject({ code: 'analysis.engine_disagrees' });
  });

  it('rebuilds each statement from its tokens, comments dropped, and splits where DuckDB splits', async () => {
    const script = await readDuckDbScript("SELECT 1 -- one\r, 2; /* two */ SELECT 'a;b' AS s;;", new DuckDbParseTrees(parser));
    expect(script.statements.map((s) => s.text)).toEqual(['SELECT 1\n, 2', "SELECT 'a;b' AS s"]);
    expect(script.commentSpans).toHaveLength(2);
  });
});
