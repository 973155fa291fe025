import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisError } from '../../errors.js';
import { openTestWarehouse } from '../../../test/fixtures/duckdb-test-warehouse.js';
import type { Catalog } from '../catalog.js';
import { analyzeDuckDbSql, splitQualifiedName } from './analyze-duckdb-sql.js';

const names = { defaultProject: 'demo', defaultDataset: 'crm' };
const C = 'demo.crm.customers';
const P = 'demo.crm.payment_cards';
const E = 'demo.analytics.events';
const CV = 'demo.analytics.customer_view';

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

interface Expected {
  kind?: string;
  reads?: string[];
  writes?: string[];
  engineControl?: string;
}

async function analyse(sql: string) {
  return analyzeDuckDbSql(sql, { parser: conn, catalog, names });
}

async function expectRefusal(sql: string, code?: string): Promise<AnalysisError> {
  const err = await analyse(sql).then(
    (a) => new Error(`expected a refusal, got ${JSON.stringify(a.statements.map((s) => [s.kind, s.reads, s.writes]))}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AnalysisError);
  const refusal = err as AnalysisError;
  expect(refusal.exitCode).toBe(6);
  expect(refusal.rule).toBeTruthy();
  expect(refusal.hint).toBeTruthy();
  if (code) expect(refusal.code).toBe(code);
  return refusal;
}

// One statement each: exactly these reads / writes / kind.
const single: Array<[string, Expected]> = [
  ['SELECT * FROM customers', { kind: 'select', reads: [C] }],
  ['select * from CRM.CUSTOMERS', { reads: [C] }],
  ['SELECT * FROM "crm"."Customers"', { reads: [C] }],
  ['SELECT * FROM DEMO.crm.customers', { reads: [C] }],
  ['SELECT * FROM crm./* a comment */payment_cards', { reads: [P] }],
  ['SELECT * FROM crm . -- line comment\n payment_cards', { reads: [P] }],
  // CTE shadowing: a CTE body does not see itself, so this reads the real table
  ['WITH payment_cards AS (SELECT * FROM payment_cards) SELECT * FROM payment_cards', { reads: [P] }],
  ['WITH Payment_Cards AS (SELECT 1 AS x) SELECT * FROM PAYMENT_CARDS', { reads: [] }],
  ['WITH payment_cards AS (SELECT 1 AS x) SELECT * FROM crm.payment_cards', { reads: [P] }],
  ['SELECT * FROM (WITH payment_cards AS (SELECT 1 AS x) SELECT * FROM payment_cards) s, payment_cards', { reads: [P] }],
  ['WITH a AS (SELECT * FROM payment_cards), payment_cards AS (SELECT 1 AS x) SELECT * FROM a', { reads: [P] }],
  ['WITH x AS (SELECT 1 AS c) SELECT * FROM x UNION ALL SELECT customer_id FROM payment_cards', { reads: [P] }],
  ['WITH RECURSIVE payment_cards(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM payment_cards WHERE n < 3) SELECT * FROM payment_cards', { reads: [] }],
  ['WITH RECURSIVE payment_cards AS (SELECT customer_id FROM payment_cards UNION ALL SELECT customer_id + 1 FROM payment_cards WHERE customer_id < 3) SELECT * FROM payment_cards', { reads: [P] }],
  ['WITH events AS (SELECT * FROM customers) SELECT * FROM events, (WITH customers AS (SELECT 1) SELECT * FROM customers) q', { reads: [C] }],
  // subqueries of every kind
  ['SELECT (SELECT max(card) FROM payment_cards) AS m', { reads: [P] }],
  ['SELECT * FROM customers c WHERE EXISTS (SELECT 1 FROM payment_cards p WHERE p.customer_id = c.id)', { reads: [C, P] }],
  ['SELECT * FROM customers WHERE id IN (SELECT customer_id FROM payment_cards)', { reads: [C, P] }],
  ['SELECT * FROM customers c, LATERAL (SELECT * FROM payment_cards p WHERE p.customer_id = c.id) l', { reads: [C, P] }],
  ['SELECT id FROM customers ORDER BY (SELECT count(*) FROM payment_cards)', { reads: [C, P] }],
  ['SELECT count(*) FILTER (WHERE id > (SELECT min(customer_id) FROM payment_cards)) FROM customers', { reads: [C, P] }],
  ['SELECT id FROM customers UNION SELECT customer_id FROM payment_cards', { reads: [C, P] }],
  ['SELECT id FROM customers EXCEPT SELECT customer_id FROM payment_cards INTERSECT SELECT id FROM analytics.events', { reads: [E, C, P] }],
  ['SELECT list_transform([1], x -> (SELECT max(customer_id) FROM payment_cards)) AS l', { reads: [P] }],
  ['FROM payment_cards', { reads: [P] }],
  ['TABLE payment_cards', { reads: [P] }],
  ['VALUES (1), (2)', { reads: [] }],
  ['(SELECT * FROM payment_cards)', { reads: [P] }],
  ['SELECT * FROM range(3) r, unnest([1, 2]) u, generate_series(1, 2) g', { reads: [] }],
  ['SELECT * FROM customers PIVOT (count(*) FOR name IN (\'Alice\'))', { reads: [C] }],
  ["PIVOT customers ON name IN ('Alice') USING count(*)", { kind: 'select', reads: [C] }],
  ['SELECT id, kind FROM analytics.events QUALIFY row_number() OVER (PARTITION BY kind ORDER BY id) = 1', { reads: [E] }],
  ['DESCRIBE payment_cards', { kind: 'select', reads: [P] }],
  ['SUMMARIZE payment_cards', { kind: 'select', reads: [P] }],
  // views are checked through: the view and what it reads
  ['SELECT * FROM analytics.customer_view', { reads: [CV, C] }],
  ['SELECT * FROM analytics.cards_view', { reads: ['demo.analytics.cards_view', P] }],
  ['SELECT * FROM analytics.nested_view', { reads: [CV, 'demo.analytics.nested_view', C] }],
  ['SELECT * FROM local_view', { reads: [C, 'demo.crm.local_view'] }],
  // writes
  ['INSERT INTO scratch.x SELECT * FROM customers', { kind: 'insert', reads: [C], writes: ['demo.scratch.x'] }],
  ['INSERT INTO scratch.x (a, b) VALUES (1, (SELECT max(card) FROM payment_cards))', { kind: 'insert', reads: [P], writes: ['demo.scratch.x'] }],
  ['INSERT INTO scratch.x (SELECT id FROM customers)', { reads: [C], writes: ['demo.scratch.x'] }],
  ['INSERT INTO scratch.x BY NAME SELECT id FROM customers ON CONFLICT DO NOTHING', { reads: [C], writes: ['demo.scratch.x'] }],
  ['INSERT OR IGNORE INTO scratch.x AS x (a) SELECT id FROM customers', { reads: [C], writes: ['demo.scratch.x'] }],
  ['INSERT INTO scratch.x DEFAULT VALUES', { reads: [], writes: ['demo.scratch.x'] }],
  ['INSERT INTO analytics.events SELECT 1, 2, \'x\', 3 RETURNING *', { reads: [E], writes: [E] }],
  ['WITH src AS (SELECT * FROM payment_cards) INSERT INTO scratch.x SELECT * FROM src', { kind: 'insert', reads: [P], writes: ['demo.scratch.x'] }],
  ['UPDATE customers SET name = (SELECT max(card) FROM payment_cards) WHERE id = 1', { kind: 'update', reads: [C, P], writes: [C] }],
  ['UPDATE customers AS c SET name = e.kind FROM analytics.events e WHERE e.customer_id = c.id', { kind: 'update', reads: [E, C], writes: [C] }],
  ['DELETE FROM customers WHERE id IN (SELECT customer_id FROM analytics.cards_view)', { kind: 'delete', reads: ['demo.analytics.cards_view', C, P], writes: [C] }],
  ['DELETE FROM customers USING payment_cards p WHERE p.customer_id = customers.id', { kind: 'delete', reads: [C, P], writes: [C] }],
  ['DELETE FROM main.t', { kind: 'delete', reads: ['demo.main.t'], writes: ['demo.main.t'] }],
  ['TRUNCATE analytics.events', { kind: 'truncate', reads: [], writes: [E] }],
  ['CREATE TABLE scratch.t2 AS SELECT * FROM payment_cards', { kind: 'create', reads: [P], writes: ['demo.scratch.t2'] }],
  ['CREATE OR REPLACE TABLE scratch.t3 (a INTEGER, b VARCHAR DEFAULT \'x\')', { kind: 'create', reads: [], writes: ['demo.scratch.t3'] }],
  ['CREATE VIEW scratch.v2 AS SELECT * FROM payment_cards', { kind: 'create', reads: [P], writes: ['demo.scratch.v2'] }],
  ['CREATE SCHEMA IF NOT EXISTS sandbox', { kind: 'define', writes: ['demo.sandbox.*'] }],
  ['DROP TABLE IF EXISTS scratch.a CASCADE', { kind: 'drop', writes: ['demo.scratch.a'] }],
  ['DROP VIEW analytics.customer_view', { kind: 'drop', writes: [CV] }],
  ['DROP SCHEMA scratch CASCADE', { kind: 'define', writes: ['demo.scratch.*'] }],
  ['ALTER TABLE analytics.events RENAME TO events2', { kind: 'alter', writes: [E, 'demo.analytics.events2'] }],
  ['ALTER TABLE analytics.events ADD COLUMN note VARCHAR', { kind: 'alter', writes: [E] }],
  ['COMMENT ON TABLE analytics.events IS \'x\'', { kind: 'alter', writes: [E] }],
  // engine-control statements: marked, never decomposed
  ["COPY customers TO '/tmp/x.csv'", { kind: 'export', engineControl: 'COPY' }],
  ["COPY (SELECT * FROM payment_cards) TO '/tmp/x.parquet' (FORMAT parquet)", { kind: 'export', engineControl: 'COPY' }],
  ["COPY customers FROM '/tmp/x.csv'", { kind: 'load', engineControl: 'COPY' }],
  ["EXPORT DATABASE '/tmp/dump'", { kind: 'export', engineControl: 'EXPORT DATABASE' }],
  ["IMPORT DATABASE '/tmp/dump'", { kind: 'load', engineControl: 'IMPORT DATABASE' }],
  ["ATTACH '/tmp/other.duckdb' AS other", { engineControl: 'ATTACH' }],
  ['DETACH demo', { engineControl: 'DETACH' }],
  ['USE memory', { engineControl: 'USE' }],
  ['INSTALL httpfs', { engineControl: 'INSTALL' }],
  ['LOAD httpfs', { engineControl: 'LOAD' }],
  ['FORCE INSTALL httpfs', { engineControl: 'FORCE INSTALL' }],
  ['UPDATE EXTENSIONS', { engineControl: 'UPDATE EXTENSIONS' }],
  ["SET enable_external_access = true", { kind: 'script', engineControl: 'SET' }],
  ["SET VARIABLE x = (SELECT max(card) FROM payment_cards)", { kind: 'script', engineControl: 'SET' }],
  ['RESET threads', { kind: 'script', engineControl: 'RESET' }],
  ['PRAGMA table_info(\'customers\')', { engineControl: 'PRAGMA' }],
  ['CALL pragma_version()', { kind: 'call', engineControl: 'CALL' }],
  ['CHECKPOINT', { engineControl: 'CHECKPOINT' }],
  ['FORCE CHECKPOINT', { engineControl: 'FORCE CHECKPOINT' }],
  ['BEGIN TRANSACTION', { kind: 'script', engineControl: 'BEGIN' }],
  ['START TRANSACTION', { engineControl: 'START TRANSACTION' }],
  ['COMMIT', { engineControl: 'COMMIT' }],
  ['ROLLBACK', { engineControl: 'ROLLBACK' }],
  ['ABORT', { engineControl: 'ABORT' }],
  // macros and functions are their own kind, and their bodies are analysed like views
  ['CREATE MACRO scratch.leak() AS TABLE SELECT * FROM payment_cards', { kind: 'define', reads: [P], writes: ['demo.scratch.leak'] }],
  ['CREATE OR REPLACE FUNCTION scratch.f(x) AS x + 1', { kind: 'define', reads: [], writes: ['demo.scratch.f'] }],
  ['CREATE MACRO scratch.g(x, y := (SELECT max(card) FROM payment_cards)) AS x', { kind: 'define', reads: [P], writes: ['demo.scratch.g'] }],
  ['DROP MACRO card_of', { kind: 'define', writes: ['demo.crm.card_of'] }],
  ['DROP MACRO TABLE scratch.leak', { kind: 'define', writes: ['demo.scratch.leak'] }],
  ['CREATE SEQUENCE scratch.s START 1', { kind: 'define', writes: ['demo.scratch.s'] }],
  ["CREATE TYPE scratch.mood AS ENUM ('sad', 'ok')", { kind: 'define', writes: ['demo.scratch.mood'] }],
  // a FOREIGN KEY reads the table it references (inserts tell whether a value exists there)
  ['CREATE TABLE scratch.fk (c VARCHAR REFERENCES payment_cards (card))', { kind: 'create', reads: [P], writes: ['demo.scratch.fk'] }],
  ['CREATE TABLE scratch.fk2 (c VARCHAR, FOREIGN KEY (c) REFERENCES payment_cards (card))', { kind: 'create', reads: [P], writes: ['demo.scratch.fk2'] }],
  ["CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')", { engineControl: 'CREATE SECRET' }],
  ['DROP SECRET s', { engineControl: 'DROP SECRET' }],
  ['PREPARE p AS SELECT * FROM payment_cards', { engineControl: 'PREPARE' }],
  ['EXECUTE p', { engineControl: 'EXECUTE' }],
  ['DEALLOCATE p', { engineControl: 'DEALLOCATE' }],
  ['VACUUM', { engineControl: 'VACUUM' }],
  ['ANALYZE', { engineControl: 'ANALYZE' }],
  ['EXPLAIN SELECT * FROM payment_cards', { engineControl: 'EXPLAIN' }],
  ['EXPLAIN ANALYZE SELECT * FROM payment_cards', { engineControl: 'EXPLAIN ANALYZE' }],
];

describe('analyzeDuckDbSql: one statement', () => {
  it.each(single)('%s', async (sql, expected) => {
    const analysis = await analyse(sql);
    expect(analysis.dialect).toBe('duckdb');
    expect(analysis.statements).toHaveLength(1);
    const s = analysis.statements[0]!;
    if (expected.kind) expect(s.kind).toBe(expected.kind);
    if (expected.reads) expect(s.reads).toEqual([...expected.reads].sort());
    if (expected.writes) expect(s.writes).toEqual([...expected.writes].sort());
    expect(s.engineControl).toBe(expected.engineControl);
    if (expected.engineControl) expect([s.reads, s.writes]).toEqual([[], []]);
    expect(s.text.length).toBeGreaterThan(0);
  });
});

// Refused outright (exit 6), with the refusal's code where it is specific.
const refused: Array<[string, string | undefined]> = [
  // file-reading table functions and replacement scans
  ["SELECT * FROM read_csv('/etc/passwd')", 'analysis.table_function'],
  ["SELECT * FROM read_text('/etc/passwd')", 'analysis.table_function'],
  ["SELECT * FROM glob('/*')", 'analysis.table_function'],
  ["SELECT * FROM read_parquet('x.parquet')", 'analysis.table_function'],
  ["SELECT * FROM query('SELECT * FROM payment_cards')", 'analysis.table_function'],
  ["SELECT * FROM query_table('payment_cards')", 'analysis.table_function'],
  ['SELECT * FROM duckdb_tables()', 'analysis.table_function'],
  ["SELECT * FROM pragma_table_info('customers')", 'analysis.table_function'],
  ['SELECT * FROM main.range(3)', 'analysis.table_function'],
  ['SELECT * FROM customers c JOIN LATERAL read_csv(c.notes) x ON true', 'analysis.table_function'],
  ["FROM '/etc/passwd'", 'analysis.unsafe_name'],
  ["SELECT * FROM 'data.csv'", 'analysis.unsafe_name'],
  ['SELECT * FROM "https://example.com/x.parquet"', 'analysis.unsafe_name'],
  ['SELECT * FROM "x.parquet" AS x', 'analysis.unsafe_name'],
  // names DuckDB could bind elsewhere
  ['SELECT * FROM duckdb_tables', 'analysis.unknown_table'],
  ['SELECT * FROM information_schema.tables', 'analysis.unknown_table'],
  ['SELECT * FROM demo.customers', 'analysis.ambiguous_name'],
  ['SELECT * FROM system.duckdb_settings', 'analysis.ambiguous_name'],
  ['SELECT * FROM temp.customers', 'analysis.ambiguous_name'],
  ['SELECT * FROM pay/* split */ment_cards', 'analysis.unknown_table'],
  ['SELECT * FROM customers, nonexistent', 'analysis.unknown_table'],
  // scalar functions that read settings, the environment or the catalog, or run SQL
  ["SELECT getenv('HOME')", 'analysis.denied_function'],
  ["SELECT current_setting('search_path')", 'analysis.denied_function'],
  ["SELECT nextval('seq')", 'analysis.denied_function'],
  ["SELECT json_serialize_plan('SELECT * FROM payment_cards')", 'analysis.denied_function'],
  // not a built-in: refused by the allow-list
  ['SELECT card_of(1)', 'analysis.denied_function'],
  ['SELECT main.card_of(id) FROM customers', 'analysis.denied_function'],
  // expressions in definitions go through the same function rules as a SELECT
  ["CREATE TABLE scratch.d (a VARCHAR DEFAULT current_setting('threads'))", 'analysis.denied_function'],
  ["CREATE TABLE scratch.d (a VARCHAR CHECK (a <> getvariable('x')))", 'analysis.denied_function'],
  ["CREATE TABLE scratch.d (a VARCHAR, b VARCHAR GENERATED ALWAYS AS (pg_get_viewdef('x')))", 'analysis.denied_function'],
  ["ALTER TABLE analytics.events ALTER COLUMN kind SET DEFAULT current_setting('threads')", 'analysis.denied_function'],
  ["ALTER TABLE analytics.events ALTER kind TYPE VARCHAR USING duckdb_settings()", 'analysis.denied_function'],
  // DuckDB runs ADD COLUMN … DEFAULT <expression> as five statements of its own: refused, not re-split
  ["ALTER TABLE analytics.events ADD COLUMN k VARCHAR DEFAULT lower('x')", 'analysis.split_mismatch'],
  ["CREATE MACRO scratch.m(x) AS current_setting('threads')", 'analysis.denied_function'],
  ['SELECT pg_catalog.pg_get_viewdef(1)', 'analysis.denied_function'],
  ["SELECT format_type(1, 1)", 'analysis.denied_function'],
  ['SELECT getvariable(\'x\')', 'analysis.denied_function'],
  // catalog listings and shapes hoopq cannot decompose
  ['SHOW TABLES', 'analysis.catalog_listing'],
  ['SHOW ALL TABLES', 'analysis.catalog_listing'],
  ['PIVOT customers ON name USING count(*)', undefined],
  ['MERGE INTO customers USING payment_cards p ON p.customer_id = customers.id WHEN MATCHED THEN DELETE', undefined],
  ['CREATE TEMP TABLE t AS SELECT 1', 'analysis.temporary_object'],
  ['INSERT INTO scratch.x SELECT 1 ON CONFLICT DO UPDATE SET a = (SELECT max(card) FROM payment_cards)', 'analysis.unsupported_shape'],
  ['UPDATE analytics.customer_view SET name = 1', 'analysis.unsupported_shape'],
  ['GRANT SELECT ON customers TO bob', undefined],
  // unparseable
  ['SELEC 1', 'analysis.parse_error'],
  ['SELECT * FROM', 'analysis.parse_error'],
  ["SELECT 'unterminated", 'analysis.parse_error'],
  ['SELECT 1 /* unterminated', 'analysis.parse_error'],
  ['SELECT "unterminated', 'analysis.parse_error'],
  ['', 'analysis.empty'],
  [' ; -- nothing', 'analysis.empty'],
];

describe('analyzeDuckDbSql: refusals', () => {
  it.each(refused)('%s', async (sql, code) => {
    await expectRefusal(sql, code);
  });

  it('names the refused table function in the message, not in free text only', async () => {
    const err = await expectRefusal("SELECT * FROM read_text('/etc/passwd')");
    expect(err.details).toEqual({ function: 'read_text' });
  });
});

describe('analyzeDuckDbSql: scripts', () => {
  it('analyses every statement of a script separately', async () => {
    const a = await analyse('SELECT 1; SELECT * FROM crm.payment_cards;\n INSERT INTO scratch.x SELECT * FROM customers');
    expect(a.statements.map((s) => [s.kind, s.reads, s.writes])).toEqual([
      ['select', [], []],
      ['select', [P], []],
      ['insert', [C], ['demo.scratch.x']],
    ]);
    expect(a.statements[1]!.text).toBe('SELECT * FROM crm.payment_cards');
  });

  it('does not split inside strings, quoted names, comments or dollar quotes', async () => {
    for (const sql of [
      "SELECT '; SELECT * FROM payment_cards' AS s",
      "SELECT 'it''s; fine' AS s",
      "SELECT E'\\'; SELECT * FROM payment_cards' AS s",
      'SELECT $$; SELECT * FROM payment_cards$$ AS s',
      'SELECT $x$ ; $y$ ; $x$ AS s',
      'SELECT 1 AS "a;b"',
      'SELECT 1 -- ; SELECT * FROM payment_cards',
      'SELECT 1 /* ; SELECT * FROM payment_cards */',
    ]) {
      const a = await analyse(sql);
      expect(a.statements, sql).toHaveLength(1);
      expect(a.statements[0]!.reads, sql).toEqual([]);
    }
  });

  it('counts a smuggled statement after a comment as a statement', async () => {
    const a = await analyse('SELECT 1 /* x */; SELECT * FROM payment_cards');
    expect(a.statements.map((s) => s.reads)).toEqual([[], [P]]);
  });

  it('lets a script read a table it created earlier, and only then', async () => {
    const a = await analyse('CREATE TABLE scratch.fresh AS SELECT 1 AS x; SELECT * FROM scratch.fresh');
    expect(a.statements[1]!.reads).toEqual(['demo.scratch.fresh']);
    await expectRefusal('SELECT * FROM scratch.fresh', 'analysis.unknown_table');
  });

  it('refuses the whole script when one statement is refused', async () => {
    await expectRefusal("SELECT 1; SELECT * FROM read_csv('x.csv')", 'analysis.table_function');
    await expectRefusal('SELECT 1; SELEC 2', 'analysis.parse_error');
  });

  it('refuses engine-control statements only through policy, but marks each one in a script', async () => {
    const a = await analyse("SELECT 1; ATTACH 'x.db' AS x; SELECT * FROM customers");
    expect(a.statements.map((s) => s.engineControl)).toEqual([undefined, 'ATTACH', undefined]);
  });
});

describe('analyzeDuckDbSql: name defaults', () => {
  it('resolves one-part names with the default dataset and project', async () => {
    const a = await analyzeDuckDbSql('SELECT * FROM events', { parser: conn, catalog, names: { defaultProject: 'demo', defaultDataset: 'analytics' } });
    expect(a.statements[0]!.reads).toEqual([E]);
  });

  it('refuses one-part names when no default dataset is configured', async () => {
    const err = await analyzeDuckDbSql('SELECT * FROM customers', { parser: conn, catalog, names: { defaultProject: 'demo' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AnalysisError);
    expect((err as AnalysisError).code).toBe('analysis.unresolvable_name');
  });

  it('resolves names inside a view in the view\'s own schema', async () => {
    // crm.local_view reads `customers`: crm.customers, whatever the session default is
    const a = await analyzeDuckDbSql('SELECT * FROM crm.local_view', { parser: conn, catalog, names: { defaultProject: 'demo', defaultDataset: 'analytics' } });
    expect(a.statements[0]!.reads).toEqual([C, 'demo.crm.local_view']);
    expect(a.statements[0]!.views).toEqual([{ view: 'demo.crm.local_view', reads: [C] }]);
  });
});

describe('splitQualifiedName (names as DuckDB reports them)', () => {
  it.each([
    ['crm.customers', ['crm', 'customers']],
    ['main."rows"', ['main', 'rows']],
    ['"a.b"."c""d"', ['a.b', 'c"d']],
    ['"unterminated', []],
    ['a.', []],
    ['"a"b', []],
  ])('%s', (name, parts) => {
    expect(splitQualifiedName(name)).toEqual(parts);
  });
});
