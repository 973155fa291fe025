/**
 * The comment, string and number mutations of the DuckDB differential fuzzer, for GoogleSQL.
 * BigQuery (ZetaSQL) ends `--` and `#` comments at \r as well as \n, lets a backslash escape
 * the quote in raw strings, and reads triple-quoted, raw and byte strings; hoopq's parser must
 * either see the hidden statement or table, or refuse (exit 6) — never analyse the text
 * without it. The text BigQuery receives is the analysed text (the analysis' `run`), and the
 * dry run's referencedTables cross-check stays the second line.
 */
import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../errors.js';
import { analyzeGoogleSql } from './analyze-google-sql.js';

const names = { defaultProject: 'proj', defaultDataset: 'ds' };
const HIDDEN = 'proj.secret.cards';
const PAYLOAD = 'SELECT card FROM secret.cards';

/** [what, text, whether BigQuery itself reads the payload as code (ZetaSQL's tokenizer)] */
const HIDERS: Array<[string, (p: string) => string, boolean]> = [
  ['-- ended by \\r', (p) => `SELECT 1 AS a --x\r UNION ALL ${p}`, true],
  ['-- ended by \\r\\n', (p) => `SELECT 1 AS a --x\r\n UNION ALL ${p}`, true],
  ['# ended by \\r', (p) => `SELECT 1 AS a #x\r UNION ALL ${p}`, true],
  ['-- ended by \\r, next statement', (p) => `SELECT 1 AS a --x\r; ${p}`, true],
  ['block comment', (p) => `SELECT 1 AS a /* x */ UNION ALL ${p}`, true],
  ['triple-quoted string with a quote inside', (p) => `SELECT '''it's''' AS a UNION ALL ${p}`, true],
  ['raw string ending in a backslash-quote', (p) => `SELECT r'\\' AS a; ${p}; SELECT '`, false],
  ['byte string', (p) => `SELECT b'\\x00' AS a UNION ALL ${p}`, true],
  ['raw byte string', (p) => `SELECT rb'x' AS a UNION ALL ${p}`, true],
  ['double-quoted string holding a comment', (p) => `SELECT "--" AS a UNION ALL ${p}`, true],
  ['number 1e--x', (p) => `SELECT 1e--x\r UNION ALL ${p}`, true],
  ['number 1.e5', (p) => `SELECT 1.e5 AS a UNION ALL ${p}`, true],
  ['hex number', (p) => `SELECT 0x1F AS a UNION ALL ${p}`, true],
  ['backtick with a semicolon', (p) => `SELECT 1 AS \`a;b\` UNION ALL ${p}`, true],
  ['NBSP between words', (p) => `SELECT 1 AS a\u00a0UNION ALL ${p}`, true],
  ['vertical tab', (p) => `SELECT 1 AS a\u000b; ${p}`, true],
  ['U+2028 after a comment', (p) => `SELECT 1 AS a --x\u2028 UNION ALL ${p}`, false],
];

describe('GoogleSQL: hidden statements are seen or refused', () => {
  it.each(HIDERS)('%s', async (_what, build, bigQueryReadsPayload) => {
    const sql = build(PAYLOAD);
    let reads: string[] | undefined;
    let run: string[] | undefined;
    try {
      const analysis = await analyzeGoogleSql(sql, { names });
      reads = analysis.statements.flatMap((s) => s.reads);
      run = analysis.run;
    } catch (err) {
      expect(err).toBeInstanceOf(AnalysisError);
      expect((err as AnalysisError).exitCode).toBe(6);
      return;
    }
    // analysed: where BigQuery reads the payload, hoopq must too; what runs is what was analysed
    if (bigQueryReadsPayload) expect(reads).toContain(HIDDEN);
    else expect(reads).not.toContain(HIDDEN);
    expect(run).toEqual([sql]);
  });

  it('the run is the analysed text, byte for byte', async () => {
    const sql = 'SELECT id FROM ds.t -- note\nWHERE id > 1';
    const analysis = await analyzeGoogleSql(sql, { names });
    expect(analysis.run).toEqual([sql]);
  });
});
