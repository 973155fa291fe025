import { createHash } from 'node:crypto';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisError } from '../../errors.js';
import type { Catalog } from '../../analysis/catalog.js';
import type { MaskPlan } from '../../warehouse/warehouse.js';
import { openTestWarehouse, SECRET_EMAIL, SECRET_SSN } from '../../../test/fixtures/duckdb-test-warehouse.js';
import { analyzeDuckDbSql } from '../../analysis/duckdb/analyze-duckdb-sql.js';
import { rewriteDuckDbSqlForMasks } from './rewrite-duckdb-sql-for-masks.js';
import { TEST_HASH_KEY, testHash } from '../../../test/fixtures/test-hash-key.js';

const names = { defaultProject: 'demo', defaultDataset: 'crm' };
const plan: MaskPlan = { 'demo.crm.customers': { email: 'hash', ssn: 'redact', phone: 'partial', notes: 'null' } };
const SECRET_PHONE = '+1 555 0100';

let instance: DuckDBInstance;
let conn: DuckDBConnection;
let catalog: Catalog;
beforeAll(async () => {
  ({ instance, conn, catalog } = await openTestWarehouse());
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

/** Analysis first, as in the pipeline: the rewrite works on the analysed statement texts. */
async function rewrite(sql: string, p: MaskPlan = plan): Promise<string> {
  const analysis = await analyzeDuckDbSql(sql, { parser: conn, catalog, names });
  return (await rewriteDuckDbSqlForMasks(analysis, { parser: conn, catalog, names, plan: p, hashKey: TEST_HASH_KEY })).join(';\n');
}

async function run(sql: string): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql)).getRowsJson() as unknown[][];
}

/** Every form of a secret that must never reach the caller. */
function forbiddenForms(secret: string, { withHashes }: { withHashes: boolean }): string[] {
  const forms = [
    secret,
    secret.toUpperCase(),
    secret.toLowerCase(),
    [...secret].reverse().join(''),
    Buffer.from(secret).toString('hex'),
    Buffer.from(secret).toString('hex').toUpperCase(),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64').replace(/=+$/, ''),
  ];
  const digits = secret.replace(/\D/g, '');
  if (digits.length >= 6) forms.push(digits, [...digits].reverse().join(''));
  if (withHashes) forms.push(createHash('md5').update(secret).digest('hex'), createHash('sha256').update(secret).digest('hex'));
  return forms;
}

// ssn is redacted (so even its hashes must not appear); email is hashed with the deployment's
// key (its keyed hash is the mask; its plain SHA-256 would let a guess be checked, so it must not appear).
const FORBIDDEN = [
  ...forbiddenForms(SECRET_SSN, { withHashes: true }),
  ...forbiddenForms('987-65-4321', { withHashes: true }),
  ...forbiddenForms(SECRET_EMAIL, { withHashes: true }),
  ...forbiddenForms('alice@', { withHashes: false }),
  SECRET_PHONE,
  '5550100',
  'vip',
];

function expectNoSecret(rows: unknown[][], sql: string): void {
  const text = JSON.stringify(rows);
  for (const form of FORBIDDEN) expect(text, `${sql} leaked ${form}`).not.toContain(form);
}

// Query shapes that try to get a raw masked value out. Each is rewritten, run for real,
// and its whole result searched for every forbidden form.
const shapes: string[] = [
  'SELECT * FROM customers',
  'SELECT ssn, email, phone, notes FROM customers',
  'SELECT upper(ssn), lower(email), reverse(ssn), reverse(email) FROM customers',
  "SELECT concat(ssn, '|', email), ssn || email FROM customers",
  "SELECT substr(ssn, 1, 11), replace(ssn, '-', ''), left(email, 6) FROM customers",
  "SELECT regexp_replace(ssn, '[^0-9]', '', 'g'), regexp_extract(email, '(.*)@', 1) FROM customers",
  'SELECT hex(ssn), to_base64(encode(email)), hex(email) FROM customers',
  'SELECT CAST(ssn AS BLOB), ssn::VARCHAR, CAST(email AS VARCHAR(100)) FROM customers',
  'SELECT md5(ssn), sha256(ssn), hash(ssn) FROM customers',
  'SELECT c FROM customers c',
  'SELECT to_json(c), c::VARCHAR FROM customers c',
  'SELECT customers FROM customers',
  'SELECT struct_pack(s := ssn, e := email) FROM customers',
  "SELECT {'s': ssn} AS x, [ssn, email] AS l FROM customers",
  "SELECT json_object('s', ssn), to_json(ssn) FROM customers",
  'SELECT * EXCLUDE (id) FROM customers',
  'SELECT * REPLACE (upper(name) AS name) FROM customers',
  'SELECT COLUMNS(*) FROM customers',
  "SELECT COLUMNS('ss.*|em.*') FROM customers",
  'SELECT COLUMNS(c -> c LIKE \'%s%\') FROM customers',
  'SELECT c.* FROM customers c',
  'SELECT a, b, c, d, e, f FROM customers AS t(a, b, c, d, e, f)',
  'SELECT x.d FROM crm.customers x(a, b, c, d)',
  'WITH x AS (SELECT * FROM customers) SELECT ssn, email FROM x',
  'WITH x(q) AS (SELECT ssn FROM customers) SELECT q FROM x',
  'WITH customers AS (SELECT * FROM customers) SELECT ssn FROM customers',
  'WITH RECURSIVE r(s, n) AS (SELECT ssn, 1 FROM customers UNION ALL SELECT s, n + 1 FROM r WHERE n < 2) SELECT s FROM r',
  'SELECT (SELECT max(ssn) FROM customers) AS m, (SELECT min(email) FROM customers) AS e',
  'SELECT * FROM (SELECT ssn AS s, email AS e FROM customers) sub',
  'SELECT ssn FROM customers UNION ALL SELECT email FROM crm.customers UNION SELECT phone FROM demo.crm.customers',
  'SELECT email FROM demo.crm.customers INTERSECT SELECT email FROM customers',
  "SELECT string_agg(ssn, ','), list(email), array_agg(ssn ORDER BY ssn) FROM customers",
  'SELECT first(ssn), max(email), min(ssn), any_value(ssn), arg_max(ssn, id), mode(email) FROM customers',
  'SELECT ssn, row_number() OVER (PARTITION BY ssn ORDER BY email) FROM customers',
  'SELECT lag(ssn) OVER (ORDER BY id), lead(email) OVER (ORDER BY id), first_value(ssn) OVER () FROM customers',
  'SELECT ssn, count(*) FROM customers GROUP BY ssn HAVING count(*) > 0 ORDER BY ssn',
  'SELECT email FROM customers GROUP BY ALL ORDER BY ALL',
  'SELECT ssn FROM customers QUALIFY row_number() OVER (PARTITION BY ssn) = 1',
  'SELECT * FROM analytics.customer_view',
  'SELECT ssn, email FROM analytics.nested_view',
  'SELECT v.* FROM analytics.customer_view v JOIN local_view l ON l.ident = v.id',
  'SELECT * FROM customers, LATERAL (SELECT ssn AS s2, upper(email) AS e2) l',
  'SELECT e.*, c.ssn, c.email FROM analytics.events e JOIN customers c ON c.id = e.customer_id',
  'SELECT c1.ssn, c2.email FROM customers c1 JOIN customers c2 ON c1.ssn = c2.ssn',
  'SELECT ssn FROM customers WHERE EXISTS (SELECT 1 FROM customers c2 WHERE c2.ssn = customers.ssn)',
  'SELECT unnest([ssn, email]) FROM customers',
  'SELECT list_transform([ssn, email], x -> upper(x)) FROM customers',
  "SELECT CASE WHEN ssn LIKE '123%' THEN 'yes' ELSE ssn END FROM customers",
  "SELECT printf('%s', ssn), format('{}', email) FROM customers",
  'FROM customers SELECT ssn, email',
  'SELECT ssn FROM (FROM customers)',
  'SELECT ssn FROM customers ORDER BY ssn LIMIT 5 OFFSET 0',
  'SELECT DISTINCT ON (ssn) ssn, email FROM customers',
  'SELECT * FROM customers USING SAMPLE 100%',
  'SELECT * FROM (VALUES (1)) v(x), customers WHERE x = id',
  'SELECT t.ssn, customers.email FROM crm.customers t, customers',
  'SELECT * FROM customers PIVOT (max(ssn) FOR name IN (\'Alice\', \'Bob\'))',
  'SELECT * FROM customers UNPIVOT (v FOR k IN (ssn, email))',
  'SELECT 1; SELECT ssn, email FROM customers',
  'SELECT ascii(ssn), length(ssn), strlen(email), ord(email) FROM customers',
  'SELECT string_split(email, \'@\'), split_part(ssn, \'-\', 1) FROM customers',
  'SELECT translate(ssn, \'0123456789\', \'abcdefghij\') FROM customers',
  'SELECT ssn, email FROM "CRM"."Customers"',
  'SELECT ssn FROM DEMO.CRM.CUSTOMERS',
  'SELECT ssn FROM crm./* comment */customers',
  "SELECT 'ééé ✓' AS x, ssn, email FROM customers",
  'SELECT "ssn", "EMAIL" FROM customers',
  'SELECT (SELECT list(ssn) FROM customers WHERE id = e.customer_id) FROM analytics.events e',
  'SELECT * FROM analytics.events e WHERE e.customer_id IN (SELECT id FROM customers) ORDER BY (SELECT max(ssn) FROM customers)',
];

describe('rewriteDuckDbSqlForMasks: no raw value in any form', () => {
  it('has at least 40 shapes', () => {
    expect(shapes.length).toBeGreaterThanOrEqual(40);
  });

  it.each(shapes)('%s', async (sql) => {
    const rewritten = await rewrite(sql);
    const rows = await run(rewritten);
    expect(rows.length).toBeGreaterThan(0);
    expectNoSecret(rows, sql);
    // the raw text of the rewritten SQL carries no secret either (it is audited)
    for (const form of FORBIDDEN.slice(0, 2)) expect(rewritten).not.toContain(form);
  });
});

// Predicates over a masked column see the masked value: nothing matches the raw one.
const predicates: string[] = [
  `SELECT count(*) FROM customers WHERE ssn = '${SECRET_SSN}'`,
  `SELECT count(*) FROM customers WHERE email = '${SECRET_EMAIL}'`,
  `SELECT count(*) FROM customers WHERE phone = '${SECRET_PHONE}'`,
  "SELECT count(*) FROM customers WHERE notes = 'vip'",
  "SELECT count(*) FROM customers WHERE ssn LIKE '123%'",
  "SELECT count(*) FROM customers WHERE starts_with(email, 'alice')",
  "SELECT count(*) FROM customers WHERE contains(ssn, '45')",
  "SELECT count(*) FROM customers WHERE regexp_matches(email, '^alice')",
  "SELECT count(*) FROM customers WHERE substr(ssn, 1, 3) = '123'",
  `SELECT count(*) FROM customers WHERE ssn IN (SELECT '${SECRET_SSN}')`,
  `SELECT count(*) FROM customers JOIN (VALUES ('${SECRET_SSN}')) v(s) ON v.s = customers.ssn`,
  `SELECT count(*) FROM analytics.customer_view WHERE ssn = '${SECRET_SSN}'`,
  `SELECT count(*) FROM analytics.nested_view WHERE email = '${SECRET_EMAIL}'`,
  `SELECT count(*) FROM customers c WHERE EXISTS (SELECT 1 FROM customers d WHERE d.ssn = '${SECRET_SSN}')`,
  `SELECT count(*) FROM (SELECT ssn FROM customers) s WHERE s.ssn = '${SECRET_SSN}'`,
  `WITH x AS (SELECT * FROM customers) SELECT count(*) FROM x WHERE ssn = '${SECRET_SSN}'`,
  `SELECT count(*) FILTER (WHERE ssn = '${SECRET_SSN}') FROM customers`,
  `SELECT count(*) FROM customers GROUP BY ssn = '${SECRET_SSN}' HAVING bool_or(ssn = '${SECRET_SSN}')`,
];

describe('rewriteDuckDbSqlForMasks: predicates see masked values', () => {
  it.each(predicates)('%s', async (sql) => {
    const rows = await run(await rewrite(sql));
    expect(rows.flat().map(Number).filter((n) => n > 0)).toEqual([]);
  });

  it('the same predicates do match on raw data (the test data is what it claims)', async () => {
    expect(await run(`SELECT count(*) FROM customers WHERE ssn = '${SECRET_SSN}'`)).toEqual([['1']]);
  });
});

describe('rewriteDuckDbSqlForMasks: masks have the contract values', () => {
  it('hash, redact, partial and null', async () => {
    const rows = await run(await rewrite('SELECT id, email, ssn, phone, notes FROM customers ORDER BY id'));
    expect(rows).toEqual([
      [1, testHash(SECRET_EMAIL), '[REDACTED]', '*******0100', null],
      [2, testHash('bob@example.org'), '[REDACTED]', '*******0199', null],
      [3, null, null, '**', null],
    ]);
  });
});

describe('rewriteDuckDbSqlForMasks: a view that reads a masked table by its short name', () => {
  beforeAll(async () => {
    // created on the session's search path demo.crm, in another schema: DuckDB binds the body's
    // `customers` in analytics first, then on the search path the query runs under
    await conn.run('CREATE VIEW analytics.contacts AS SELECT id, email, name FROM customers');
  });

  it('is resolved as DuckDB binds it, and masked there', async () => {
    const analysis = await analyzeDuckDbSql('SELECT name, email FROM analytics.contacts ORDER BY id', { parser: conn, catalog, names });
    expect(analysis.statements[0]!.reads).toEqual(['demo.analytics.contacts', 'demo.crm.customers']);
    const rows = await run(await rewrite('SELECT name, email FROM analytics.contacts ORDER BY id'));
    expect(rows).toEqual([
      ['Alice', testHash(SECRET_EMAIL)],
      ['Bob', testHash('bob@example.org')],
      ['Cy', null],
    ]);
  });

  it('reading only an unmasked column of it is not refused', async () => {
    expect(await run(await rewrite('SELECT name FROM analytics.contacts ORDER BY id'))).toEqual([['Alice'], ['Bob'], ['Cy']]);
  });

  it('is refused when the session\'s search path would not find the table either', async () => {
    const elsewhere = { defaultProject: 'demo', defaultDataset: 'analytics' };
    const err = await analyzeDuckDbSql('SELECT name FROM analytics.contacts', { parser: conn, catalog, names: elsewhere }).catch((e) => e);
    expect(err).toMatchObject({ code: 'analysis.unknown_table', exitCode: 6 });
  });
});

describe('rewriteDuckDbSqlForMasks: unmasked data is untouched', () => {
  const same = [
    'SELECT id, name FROM customers ORDER BY id',
    'SELECT e.kind, c.name, e.amount FROM analytics.events e JOIN customers c ON c.id = e.customer_id ORDER BY e.id',
    'SELECT name, count(*) OVER () FROM customers ORDER BY name',
    'SELECT ident, nm FROM local_view ORDER BY ident',
    "WITH customers AS (SELECT 'not a secret' AS ssn) SELECT ssn FROM customers",
  ];
  it.each(same)('%s returns exactly what DuckDB returns', async (sql) => {
    expect(await run(await rewrite(sql))).toEqual(await run(sql));
  });

  it('leaves SQL that reaches no masked table unchanged', async () => {
    for (const sql of ['SELECT kind, sum(amount) FROM analytics.events GROUP BY ALL ORDER BY 1', 'SELECT * FROM crm.payment_cards']) {
      expect(await rewrite(sql)).toBe(sql);
    }
  });

  it('returns the SQL unchanged for an empty plan', async () => {
    const sql = 'SELECT ssn FROM customers';
    expect(await rewrite(sql, {})).toBe(sql);
    expect(await rewrite(sql, { 'demo.crm.customers': {} })).toBe(sql);
  });

  it('leaves a CTE named like the masked table alone, and masks the table it hides', async () => {
    expect(await run(await rewrite("WITH customers AS (SELECT 'x' AS ssn) SELECT ssn FROM customers"))).toEqual([['x']]);
    const rows = await run(await rewrite('WITH customers AS (SELECT * FROM customers) SELECT ssn FROM customers ORDER BY id'));
    expect(rows).toEqual([['[REDACTED]'], ['[REDACTED]'], [null]]);
  });

  it('lets writes that read no masked table through as written', async () => {
    const sql = 'INSERT INTO scratch.x SELECT * FROM analytics.events';
    expect(await rewrite(sql)).toBe(sql);
  });
});

describe('rewriteDuckDbSqlForMasks: refusals', () => {
  const refused = [
    'INSERT INTO scratch.x SELECT ssn FROM customers',
    'CREATE TABLE scratch.y AS SELECT * FROM customers',
    'CREATE VIEW scratch.v AS SELECT * FROM analytics.customer_view',
    'UPDATE customers SET name = ssn',
    `DELETE FROM customers WHERE ssn = '${SECRET_SSN}'`,
    'INSERT INTO customers (id) VALUES (9) RETURNING *',
    "COPY customers TO '/tmp/x.csv'",
    'DESCRIBE customers',
    'SUMMARIZE customers',
    'SELECT * FROM customers AT (VERSION => 1)',
    "SELECT * FROM read_csv('x.csv')",
    'SELECT 1; UPDATE customers SET name = ssn',
  ];
  it.each(refused)('%s', async (sql) => {
    const err = await rewrite(sql).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect((err as AnalysisError).exitCode).toBe(6);
    expect((err as AnalysisError).message).not.toContain(SECRET_SSN);
  });
});
