/**
 * Black-box: statement and comment smuggling (issue 11). An agent hides a denied read, a raw
 * masked value or an engine-control statement where a hand-written lexer and DuckDB could
 * disagree: a `--` comment ended by \r, numbers like 1e--x, dollar quotes with non-ASCII
 * tags, Unicode spaces, string continuations. Through the CLI (direct and gateway mode) and
 * MCP: no card number and no raw e-mail or SSN may reach stdout, stderr or the audit log; the
 * writer's smuggled statements change nothing outside scratch; every record's tables are
 * what DuckDB itself reads in the text; and the log verifies.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, type Demo, type Mode } from './cli-harness.js';

export interface Secrets {
  cards: string[];
  emails: string[];
  ssns: string[];
}

export async function readSecrets(dir: string): Promise<Secrets> {
  const instance = await DuckDBInstance.create(join(dir, 'demo.duckdb'), { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  try {
    const cards = (await conn.runAndReadAll('SELECT card_number FROM demo.crm.payment_cards')).getRowsJS().map((r) => String(r[0]));
    const people = (await conn.runAndReadAll('SELECT email, ssn FROM demo.crm.customers')).getRowsJS();
    return { cards, emails: people.map((r) => String(r[0])), ssns: people.map((r) => String(r[1])) };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

export function leakIn(text: string, s: Secrets): string | undefined {
  const rev = (x: string) => [...x].reverse().join('');
  for (const v of [...s.cards, ...s.emails, ...s.ssns]) {
    if (text.includes(v)) return v.slice(0, 4);
    if (text.includes(rev(v))) return `${rev(v).slice(0, 4)} (reversed)`;
  }
  return undefined;
}

/** Attacks under the analyst-agent token: [what, sql, exit codes allowed]. 0 only where the payload reads allowed data. */
export const READER_ATTACKS: Array<[string, string, number[]]> = [
  ['the issue repro: -- ended by \\r', 'SELECT NULL AS id, NULL AS card, NULL AS expiry --\r UNION ALL SELECT id, reverse(card_number), expiry FROM crm.payment_cards\n', [5]],
  ['-- ended by \\r, masked column', 'SELECT NULL AS e --\r UNION ALL SELECT email FROM crm.customers\n', [0]],
  ['-- ended by \\r\\n', 'SELECT 1 AS x --c\r\n; SELECT card_number FROM crm.payment_cards', [5]],
  ['1e--x balancing a statement count', "SELECT 1e--x\r; SET VARIABLE leak = (SELECT string_agg(card_number, ',') FROM crm.payment_cards)", [5]],
  ['non-ASCII dollar tag', "SELECT $é$ ; SELECT card_number FROM crm.payment_cards ; $é$ AS s", [0]],
  ['non-ASCII dollar tag hiding a split', "SELECT $é$; SELECT card_number FROM crm.payment_cards; $x$ AS s", [5, 6]],
  ['temp table copy', 'SELECT 1 --\r; CREATE TEMP TABLE t AS SELECT * FROM crm.payment_cards\n', [5, 6]],
  ['query() table function', "SELECT 1 AS a --\r UNION ALL SELECT * FROM query('SELECT 1')", [6]],
  ['catalog listing', 'SELECT 1 AS a --\r; SELECT * FROM duckdb_tables()', [6]],
  ['view over a denied table', 'SELECT 1 AS a --\r UNION ALL SELECT spent FROM analytics.card_spend', [5]],
  ['NBSP between words', 'SELECT\u00a0card_number\u00a0FROM crm.payment_cards', [5, 6]],
  ['U+2028 inside a comment line', 'SELECT 1 AS a -- x\u2028 UNION ALL SELECT card_number FROM crm.payment_cards', [0]],
  ['vertical tab', 'SELECT 1 AS a\u000b; SELECT card_number FROM crm.payment_cards', [5, 6]],
  ['string continuation', "SELECT 'a'\n'; SELECT card_number FROM crm.payment_cards' AS s", [0]],
  ['E-string escape', "SELECT E'\\'; SELECT card_number FROM crm.payment_cards; ' AS s", [0]],
  ['bit string without doubling', "SELECT B'01''; SELECT card_number FROM crm.payment_cards; ' AS s", [5, 6]],
  ['quoted identifier doubling', 'SELECT 1 AS "a""; SELECT card_number FROM crm.payment_cards; "', [0]],
  ['keyword look-alike', 'ſelect card_number FROM crm.payment_cards', [6]],
  ['a macro shadowing the mask', 'CREATE MACRO main.sha256(x) AS x', [5]],
  ['a DEFAULT reading settings', "CREATE TABLE scratch.d (a VARCHAR DEFAULT current_setting('threads'))", [5, 6]],
];

export function defineSmugglingSuite(mode: Mode): void {
  describe(`statement smuggling (${mode} mode)`, () => {
    let demo: Demo;
    let reader: string;
    let writer: string;
    let secrets: Secrets;

    beforeAll(async () => {
      demo = await createDemoInMode(mode);
      reader = demo.mint('analyst-agent', `smuggle-reader-${mode}`);
      writer = demo.mint('scratch-writer', `smuggle-writer-${mode}`);
      secrets = await readSecrets(demo.dir);
    });
    afterAll(async () => {
      await demo.close();
      rmSync(demo.dir, { recursive: true, force: true });
    });

    it.each(READER_ATTACKS)('%s', async (_what, sql, codes) => {
      const r = await demo.runAsync(['query', '--format', 'csv', '-'], { input: sql, env: { HOOPQ_TOKEN: reader, HOOPQ_JUSTIFICATION: 'smuggling test' } });
      expect(codes, r.stderr).toContain(r.code);
      expect(leakIn(r.stdout + r.stderr, secrets)).toBeUndefined();
    });

    it('the writer\'s smuggled statements change nothing outside scratch, and plant nothing', async () => {
      const env = { HOOPQ_TOKEN: writer };
      expect(demo.run(['query', 'CREATE TABLE scratch.t (id INTEGER)'], { env }).code).toBe(0);
      const smuggles = [
        'INSERT INTO scratch.t VALUES (1) --\r; CREATE TABLE scratch.copy AS SELECT * FROM crm.payment_cards\n',
        "INSERT INTO scratch.t SELECT 1e--x\r; UPDATE crm.customers SET name = 'pwned'",
        'INSERT INTO scratch.t VALUES (2); CREATE MACRO main.sha256(x) AS x',
        'INSERT INTO scratch.t VALUES ($é$); DELETE FROM crm.customers; $é$)',
        "INSERT INTO scratch.t VALUES (3) --\r; CREATE OR REPLACE MACRO crm.lower(x) AS 'shadow'",
      ];
      for (const sql of smuggles) {
        const r = await demo.runAsync(['query', '-'], { input: sql, env });
        expect([5, 6, 7], `${JSON.stringify(sql)}: ${r.stderr}`).toContain(r.code);
      }
      // nothing planted: a masked query of the other policy still works and masks
      const masked = await demo.runAsync(['query', '--format', 'json', 'SELECT email, ssn FROM crm.customers LIMIT 3'], {
        env: { HOOPQ_TOKEN: reader, HOOPQ_JUSTIFICATION: 'after the writer' },
      });
      expect(masked.code, masked.stderr).toBe(0);
      const rows = JSON.parse(masked.stdout) as Array<{ email: string; ssn: string }>;
      expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.email) && row.ssn === '[REDACTED]')).toBe(true);
      const names = await demo.runAsync(['query', '--format', 'json', "SELECT count(*) AS n FROM crm.customers WHERE name = 'pwned'"], {
        env: { HOOPQ_TOKEN: reader, HOOPQ_JUSTIFICATION: 'after the writer' },
      });
      expect(JSON.parse(names.stdout)).toEqual([{ n: 0 }]); // count(*) is BIGINT: a number in JSON, as every integer type
      const listed = await demo.runAsync(['query', '--format', 'json', 'SELECT count(*) AS n FROM scratch.t'], { env });
      expect(listed.code, listed.stderr).toBe(0);
    });

    it('every record names the tables DuckDB reads, nothing in the log leaks, and the log verifies', () => {
      const records = demo.auditRecords().filter((r) => r.event === 'query' && r.sql !== undefined);
      const repro = records.find((r) => r.decision === 'deny' && r.run === `smuggle-reader-${mode}` && (r.tables?.read ?? []).includes('demo.crm.payment_cards'));
      expect(repro, 'the repro\'s refusal names demo.crm.payment_cards').toBeDefined();
      // the redacted sql shows the smuggled UNION as code, never inside a comment
      const shown = records.find((r) => r.decision === 'deny' && typeof r.sql === 'string' && r.sql.startsWith('SELECT NULL AS id, NULL AS card'));
      expect(shown?.sql).toContain('NULL AS expiry /* [REDACTED] */\nUNION ALL SELECT id, reverse(card_number), expiry FROM crm.payment_cards');
      expect(shown?.sql_sealed).toMatch(/^v1:/);
      // text DuckDB and hoopq could read differently is not shown at all, only sealed
      const unsure = records.find((r) => r.decision === 'deny' && r.code === 'analysis.ambiguous_character');
      expect(unsure?.sql).toMatch(/^\[not shown: /);
      expect(unsure?.sql_sealed).toMatch(/^v1:/);
      const log = demo.auditRecords().map((r) => JSON.stringify(r)).join('\n');
      expect(leakIn(log, secrets)).toBeUndefined();
      expect(demo.admin(['audit', 'verify']).code).toBe(0);
    });
  });
}
