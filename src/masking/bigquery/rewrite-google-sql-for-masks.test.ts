import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../errors.js';
import type { Catalog } from '../../analysis/catalog.js';
import { analyzeGoogleSql } from '../../analysis/bigquery/analyze-google-sql.js';
import { collectGoogleSqlReferences } from '../../analysis/bigquery/collect-google-sql-references.js';
import type { ColumnInfo, MaskPlan } from '../../warehouse/warehouse.js';
import { maskSubqueryHeads, rewriteGoogleSqlForMasks, type GoogleSqlMaskContext } from './rewrite-google-sql-for-masks.js';

const names = { defaultProject: 'proj', defaultDataset: 'crm' };
const plan: MaskPlan = { 'proj.crm.customers': { email: 'hash', ssn: 'redact', phone: 'partial', notes: 'null' } };
const text = (name: string): ColumnInfo => ({ name, type: 'STRING' });
const SCHEMAS: Record<string, ColumnInfo[]> = {
  'proj.crm.customers': ['id', 'name', 'email', 'ssn', 'phone', 'notes', 'tags'].map(text),
  'proj.crm.cust_2024': ['id', 'email', 'ssn'].map(text),
  'proj.crm.people': [
    { name: 'id', type: 'INT64' },
    { name: 'address', type: 'STRUCT', fields: [text('city'), text('email'), { name: 'geo', type: 'STRUCT', fields: [text('lat'), text('lon')] }] },
    { name: 'contacts', type: 'ARRAY<STRUCT>', repeated: true, fields: [text('kind'), text('value')] },
    { name: 'aliases', type: 'ARRAY<STRING>', repeated: true },
  ],
};
const columnsOf = async (t: string) => SCHEMAS[t] ?? null;
const ctxOf = (p: MaskPlan, extra: Partial<GoogleSqlMaskContext> = {}): GoogleSqlMaskContext => ({ names, plan: p, columnsOf, ...extra });
const head = (await maskSubqueryHeads(plan, columnsOf)).get('proj.crm.customers')!;

/** Every reference to the masked table in `out` must sit right after the mask subquery head. */
function expectOnlyMaskedReferences(out: string): number {
  let count = 0;
  for (const s of collectGoogleSqlReferences(out, { trusted: true })) {
    for (const r of s.references) {
      const text = out.slice(r.range[0], r.range[1]);
      if (!/customers/.test(text)) continue;
      count++;
      expect(out.slice(r.range[0] - head.length, r.range[0])).toBe(head);
      expect(text).toBe('`proj.crm.customers`');
    }
  }
  return count;
}

describe('rewriteGoogleSqlForMasks', () => {
  it.each([
    ['select list', 'SELECT email, name FROM customers', 1],
    ['where', "SELECT name FROM crm.customers WHERE ssn = '123'", 1],
    ['join with alias', 'SELECT c.email, o.total FROM `proj.crm.customers` AS c JOIN crm.orders o ON o.cid = c.id', 1],
    ['CTE', 'WITH x AS (SELECT email FROM customers) SELECT * FROM x', 1],
    ['subquery', 'SELECT (SELECT MAX(phone) FROM customers) AS p FROM crm.orders', 1],
    ['IN subquery', 'SELECT * FROM crm.orders WHERE cid IN (SELECT id FROM customers WHERE email LIKE "%@x")', 1],
    ['TO_JSON_STRING(t)', 'SELECT TO_JSON_STRING(t) FROM customers AS t', 1],
    ['t.*', 'SELECT customers.* FROM customers', 1],
    ['UNNEST', 'SELECT c.email, tag FROM customers c, UNNEST(c.tags) AS tag', 1],
    ['set operations', 'SELECT email FROM customers UNION ALL SELECT email FROM crm.customers', 2],
    ['group by', 'SELECT email, COUNT(*) FROM customers GROUP BY email', 1],
    ['script', 'DECLARE n INT64 DEFAULT 1; SELECT email FROM customers', 1],
    ['TABLESAMPLE', 'SELECT email FROM customers TABLESAMPLE SYSTEM (10 PERCENT)', 1],
    ['PIVOT', "SELECT * FROM customers PIVOT (COUNT(*) FOR email IN ('a', 'b'))", 1],
    ['UNPIVOT', 'SELECT * FROM customers UNPIVOT (v FOR k IN (email, ssn))', 1],
    ['a TABLE argument', 'SELECT * FROM ML.PREDICT(MODEL crm.m, TABLE customers)', 1],
    ['pipe syntax', 'FROM customers AS c |> WHERE c.id > 1 |> SELECT c.email', 1],
    ['a pipe JOIN', 'FROM crm.orders |> JOIN customers USING (id) |> SELECT email', 1],
  ])('%s', async (_shape, sql, refs) => {
    const out = await rewriteGoogleSqlForMasks(sql, ctxOf(plan));
    expect(out).not.toBe(sql);
    expect(expectOnlyMaskedReferences(out)).toBe(refs);
    // the rewritten SQL analyses to the same tables
    const before = await analyzeGoogleSql(sql, { names });
    const after = await analyzeGoogleSql(out, { names, trusted: true });
    expect(after.statements.map((s) => s.reads)).toEqual(before.statements.map((s) => s.reads));
  });

  it('keeps the alias and the rest of the text byte for byte', async () => {
    const out = await rewriteGoogleSqlForMasks('SELECT c.email /* keep */ FROM crm.customers AS c WHERE c.id = 1', ctxOf(plan));
    expect(out.startsWith('SELECT c.email /* keep */ FROM (SELECT * REPLACE (')).toBe(true);
    expect(out.endsWith(') AS `c` WHERE c.id = 1')).toBe(true);
    expect(out).toContain('TO_HEX(SHA256(CONCAT(@__hoopq_hash_outer, SHA256(CONCAT(@__hoopq_hash_inner, CAST(CAST(`email` AS STRING) AS BYTES)))))) AS `email`');
    expect(out).toContain("IF(`ssn` IS NULL, NULL, '[REDACTED]') AS `ssn`");
    expect(out).toContain('CAST(NULL AS STRING) AS `notes`');
    expect(out).toContain("SUBSTR(CAST(`phone` AS STRING), -4)");
  });

  it('uses the last name part as the alias when none was written', async () => {
    const out = await rewriteGoogleSqlForMasks('SELECT customers.email FROM `proj.crm.customers`', ctxOf(plan));
    expect(out.endsWith('FROM `proj.crm.customers`) AS `customers`')).toBe(true);
  });

  it('leaves SQL without masked tables unchanged', async () => {
    const sql = 'SELECT * FROM crm.orders';
    expect(await rewriteGoogleSqlForMasks(sql, ctxOf(plan))).toBe(sql);
  });

  it('does not mask a CTE that shadows the masked name', async () => {
    const sql = 'WITH customers AS (SELECT 1 AS email) SELECT email FROM customers';
    expect(await rewriteGoogleSqlForMasks(sql, ctxOf(plan))).toBe(sql);
  });

  it.each([
    ['DELETE', 'DELETE FROM customers WHERE ssn = "1"'],
    ['UPDATE', 'UPDATE crm.orders o SET total = 0 FROM customers c WHERE c.id = o.cid'],
    ['INSERT … SELECT', 'INSERT crm.copy SELECT * FROM customers'],
    ['CTAS', 'CREATE TABLE crm.copy AS SELECT * FROM customers'],
    ['EXPORT', "EXPORT DATA OPTIONS (uri = 'gs://b/*', format = 'CSV') AS SELECT * FROM customers"],
    ['MERGE source', 'MERGE crm.t USING customers c ON t.id = c.id WHEN MATCHED THEN DELETE'],
    ['EXECUTE IMMEDIATE', 'EXECUTE IMMEDIATE "SELECT email FROM customers"'],
    ['an unplanned wildcard', 'SELECT email FROM `proj.crm.cust*`'],
    ['an unplanned wildcard over the dataset', 'SELECT email FROM `proj.crm.*`'],
    ['an unplanned wildcard differing in case', 'SELECT email FROM `proj.crm.CUST*`'],
  ])('refuses %s over a masked table', async (_what, sql) => {
    await expect(rewriteGoogleSqlForMasks(sql, ctxOf(plan))).rejects.toBeInstanceOf(AnalysisError);
  });

  it('inlines a view that reaches a masked table, with qualified names', async () => {
    const catalog: Catalog = {
      async viewDefinition(name) {
        return name === 'proj.reporting.v' ? { sql: 'SELECT c.email, o.total FROM customers c JOIN orders o ON o.cid = c.id -- trailing', project: 'proj', dataset: 'crm' } : null;
      },
      async columns() {
        return null;
      },
    };
    const out = await rewriteGoogleSqlForMasks('SELECT * FROM reporting.v', { ...ctxOf(plan), names: { defaultProject: 'proj', defaultDataset: 'other' }, catalog });
    expect(out).toContain('`proj.crm.orders` o');
    expect(out).not.toContain('reporting.v');
    expect(out.endsWith(') AS `v`')).toBe(true);
    expectOnlyMaskedReferences(out);
  });

  it('keeps FOR SYSTEM_TIME AS OF with the table inside the mask subquery, under the alias', async () => {
    const sql = 'SELECT c.email FROM crm.customers AS c FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR) WHERE c.id = 1';
    const out = await rewriteGoogleSqlForMasks(sql, ctxOf(plan));
    expect(out).toBe(`SELECT c.email FROM ${head}\`proj.crm.customers\` FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)) AS \`c\` WHERE c.id = 1`);
    expect(expectOnlyMaskedReferences(out)).toBe(1);
  });

  it('masks a planned wildcard table with the union of its tables\' masks and passes _TABLE_SUFFIX through', async () => {
    const wild: MaskPlan = { ...plan, 'proj.crm.cust_2024': { email: 'hash' }, 'proj.crm.cust*': { email: 'hash', ssn: 'redact', phone: 'partial', notes: 'null' } };
    const out = await rewriteGoogleSqlForMasks("SELECT email FROM `proj.crm.cust*` WHERE _TABLE_SUFFIX = 'omers'", ctxOf(wild));
    expect(out).toMatch(/^SELECT email FROM \(SELECT \* REPLACE \(.*\), _TABLE_SUFFIX FROM `proj\.crm\.cust\*`\) AS `cust\*` WHERE _TABLE_SUFFIX = 'omers'$/);
    expect(out).toContain('AS `ssn`');
  });

  it('masks fields inside STRUCT, ARRAY<STRUCT> and ARRAY columns, leaving the rest of the record', async () => {
    const nested: MaskPlan = { 'proj.crm.people': { 'address.email': 'hash', 'address.geo.lat': 'null', 'contacts.value': 'partial', aliases: 'redact' } };
    const out = await rewriteGoogleSqlForMasks('SELECT p.address.email, p.contacts, p.aliases FROM crm.people p', ctxOf(nested));
    expect(out).toContain(
      'IF(`address` IS NULL, NULL, (SELECT AS STRUCT `address`.* REPLACE (TO_HEX(SHA256(CONCAT(@__hoopq_hash_outer, SHA256(CONCAT(@__hoopq_hash_inner, CAST(CAST(`address`.`email` AS STRING) AS BYTES)))))) AS `email`, IF(`address`.`geo` IS NULL, NULL, (SELECT AS STRUCT __hoopq_s2.* REPLACE (CAST(NULL AS STRING) AS `lat`) FROM UNNEST([`address`.`geo`]) AS __hoopq_s2)) AS `geo`))) AS `address`',
    );
    expect(out).toContain('ARRAY(SELECT AS STRUCT __hoopq_e1.* REPLACE (IF(__hoopq_e1.`value` IS NULL');
    expect(out).toContain('FROM UNNEST(`contacts`) AS __hoopq_e1 WITH OFFSET AS __hoopq_o1 ORDER BY __hoopq_o1) AS `contacts`');
    expect(out).toContain("ARRAY(SELECT IF(__hoopq_e1 IS NULL, NULL, '[REDACTED]') FROM UNNEST(`aliases`) AS __hoopq_e1 WITH OFFSET AS __hoopq_o1 ORDER BY __hoopq_o1) AS `aliases`");
    // the rewrite (hoopq's own text) analyses; the same names in a caller's SQL are refused
    await expect(analyzeGoogleSql(out, { names })).rejects.toMatchObject({ code: 'analysis.reserved_name' });
  });
});
