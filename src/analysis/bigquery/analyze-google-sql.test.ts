import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../../errors.js';
import type { Catalog } from '../catalog.js';
import { analyzeGoogleSql } from './analyze-google-sql.js';

const names = { defaultProject: 'proj', defaultDataset: 'ds' };

async function tables(sql: string, n = names) {
  const a = await analyzeGoogleSql(sql, { names: n });
  const read = new Set<string>();
  const write = new Set<string>();
  for (const s of a.statements) {
    s.reads.forEach((t) => read.add(t));
    s.writes.forEach((t) => write.add(t));
  }
  return { read: [...read].sort(), write: [...write].sort(), kinds: a.statements.map((s) => s.kind), types: a.statements.map((s) => s.nativeType) };
}

async function refusal(sql: string, n = names): Promise<AnalysisError> {
  const err = await analyzeGoogleSql(sql, { names: n }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AnalysisError);
  expect((err as AnalysisError).exitCode).toBe(6);
  return err as AnalysisError;
}

describe('name forms', () => {
  it.each([
    ['SELECT * FROM p.d.t', 'p.d.t'],
    ['SELECT * FROM `p.d.t`', 'p.d.t'],
    ['SELECT * FROM `p`.`d`.`t`', 'p.d.t'],
    ['SELECT * FROM `p.d`.t', 'p.d.t'],
    ['SELECT * FROM `my-proj.d.t`', 'my-proj.d.t'],
    ['SELECT * FROM my-proj.d.t', 'my-proj.d.t'],
    ['SELECT * FROM d.t', 'proj.d.t'],
    ['SELECT * FROM t', 'proj.ds.t'],
    ['SELECT * FROM `t`', 'proj.ds.t'],
    ['SELECT * FROM Ds.Tbl', 'proj.Ds.Tbl'],
    ['SELECT * FROM `p.d.events_*` WHERE _TABLE_SUFFIX > "2024"', 'p.d.events_*'],
    ['SELECT * FROM `d.*`', 'proj.d.*'],
    ['SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS', 'proj.region-us.INFORMATION_SCHEMA.JOBS'],
    ['SELECT * FROM region-eu.INFORMATION_SCHEMA.jobs_by_project', 'proj.region-eu.INFORMATION_SCHEMA.JOBS_BY_PROJECT'],
    ['SELECT * FROM `p`.`region-us`.INFORMATION_SCHEMA.JOBS', 'p.region-us.INFORMATION_SCHEMA.JOBS'],
    ['SELECT * FROM `p.d.INFORMATION_SCHEMA.TABLES`', 'p.d.INFORMATION_SCHEMA.TABLES'],
  ])('%s reads %s', async (sql, expected) => {
    expect((await tables(sql)).read).toEqual([expected]);
  });

  it('reports both meanings of x.INFORMATION_SCHEMA.V (project-level or dataset-level)', async () => {
    expect((await tables('SELECT * FROM x.INFORMATION_SCHEMA.SCHEMATA')).read).toEqual(['proj.x.INFORMATION_SCHEMA.SCHEMATA', 'x.INFORMATION_SCHEMA.SCHEMATA']);
  });

  it.each([
    ['SELECT * FROM a.b.c.d', 'four parts'],
    ['SELECT * FROM `p.d.ev*nts`', 'star inside a name'],
    ['SELECT * FROM `a..b`', 'empty part'],
    ['SELECT * FROM `a/b`', 'slash'],
    ["SELECT * FROM `a'b`", 'quote'],
  ])('refuses %s (%s)', async (sql) => {
    await refusal(sql);
  });

  it('refuses unqualified names without defaults', async () => {
    const err = await refusal('SELECT * FROM t', {});
    expect(err.code).toBe('analysis.unresolvable_name');
  });
});

describe('queries', () => {
  it.each([
    ['WITH c AS (SELECT * FROM d.a) SELECT * FROM c JOIN d.b USING (x)', ['proj.d.a', 'proj.d.b']],
    ['WITH c AS (SELECT 1) SELECT * FROM C', []],
    ['WITH a AS (SELECT * FROM a) SELECT * FROM a', ['proj.ds.a']],
    ['WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r', []],
    ['WITH c AS (SELECT 1) SELECT * FROM c UNION ALL SELECT * FROM c', []],
    ['SELECT * FROM (SELECT * FROM d.inner_t) AS s', ['proj.d.inner_t']],
    ['SELECT (SELECT MAX(x) FROM d.s) FROM d.t', ['proj.d.s', 'proj.d.t']],
    ['SELECT * FROM d.t WHERE x IN (SELECT x FROM d.u) AND EXISTS (SELECT 1 FROM d.v)', ['proj.d.t', 'proj.d.u', 'proj.d.v']],
    ['SELECT * FROM d.t AS t, t.items AS i', ['proj.d.t']],
    ['SELECT * FROM d.t, UNNEST(t.arr) AS x WITH OFFSET', ['proj.d.t']],
    ['SELECT * FROM d.t AS a, b.items', ['proj.b.items', 'proj.d.t']],
    ['SELECT * FROM d.t AS t, (SELECT * FROM t.items)', ['proj.d.t', 'proj.t.items']],
    ['SELECT (SELECT COUNT(*) FROM (SELECT * FROM t.arr)) FROM d.t AS t', ['proj.d.t']],
    ['SELECT * FROM d.t AS t LEFT JOIN t.arr AS e ON TRUE', ['proj.d.t']],
    ['SELECT * FROM UNNEST((SELECT ARRAY_AGG(x) FROM d.secret))', ['proj.d.secret']],
    ['SELECT 1 FROM d.t t1 JOIN (d.u u JOIN d.v v ON true) ON true', ['proj.d.t', 'proj.d.u', 'proj.d.v']],
    ['SELECT * FROM d.a UNION ALL SELECT * FROM d.b EXCEPT DISTINCT SELECT * FROM d.c', ['proj.d.a', 'proj.d.b', 'proj.d.c']],
    ['SELECT * FROM ML.PREDICT(MODEL `p.d.m`, (SELECT * FROM d.t))', ['p.d.m', 'proj.d.t']],
    ['SELECT * FROM ML.PREDICT(MODEL d.m, TABLE d.t)', ['proj.d.m', 'proj.d.t']],
    ['SELECT * FROM `p.d.tvf`(1) AS x', []],
    ['SELECT TO_JSON_STRING(t) FROM d.t AS t', ['proj.d.t']],
    ['SELECT * FROM d.t FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()', ['proj.d.t']],
    ['SELECT * FROM d.t TABLESAMPLE SYSTEM (10 PERCENT)', ['proj.d.t']],
    ['SELECT (x).UPPER() FROM d.t', ['proj.d.t']],
    ['SELECT s.a.b.* EXCEPT (c) FROM d.t AS s', ['proj.d.t']],
    ['SELECT * EXCEPT (a) REPLACE (b AS c) FROM d.t', ['proj.d.t']],
    ['SELECT ARRAY(SELECT AS STRUCT * FROM d.u) FROM d.t', ['proj.d.t', 'proj.d.u']],
  ])('%s', async (sql, read) => {
    const t = await tables(sql);
    expect(t.read).toEqual(read);
    expect(t.write).toEqual([]);
    expect(t.kinds).toEqual(['select']);
  });

  it('treats a CTE name as a table in another statement of the script', async () => {
    expect((await tables('WITH c AS (SELECT 1) SELECT * FROM c; SELECT * FROM c')).read).toEqual(['proj.ds.c']);
  });

  it('a CTE does not shadow a qualified name', async () => {
    expect((await tables('WITH t AS (SELECT 1) SELECT * FROM d.t')).read).toEqual(['proj.d.t']);
  });

  it('marks EXTERNAL_QUERY with its connection', async () => {
    const t = await tables(`SELECT * FROM EXTERNAL_QUERY("p.us.conn", "SELECT * FROM secrets")`);
    expect(t.read).toEqual(['external_query:p.us.conn']);
  });

  it('refuses EXTERNAL_QUERY with a computed connection', async () => {
    const err = await refusal(`SELECT * FROM EXTERNAL_QUERY(CONCAT("p.us", ".conn"), "SELECT 1")`);
    expect(err.code).toBe('analysis.external_query');
  });
});

describe('DML and DDL', () => {
  it.each([
    ['INSERT INTO d.t (a) SELECT a FROM d.s', 'insert', 'INSERT', ['proj.d.s'], ['proj.d.t']],
    ['INSERT d.t VALUES (1)', 'insert', 'INSERT', [], ['proj.d.t']],
    ['DELETE FROM d.t WHERE a IN (SELECT a FROM d.s)', 'delete', 'DELETE', ['proj.d.s', 'proj.d.t'], ['proj.d.t']],
    ['DELETE d.t WHERE true', 'delete', 'DELETE', ['proj.d.t'], ['proj.d.t']],
    ['UPDATE d.t x SET a = 1 FROM d.s WHERE x.id = s.id', 'update', 'UPDATE', ['proj.d.s', 'proj.d.t'], ['proj.d.t']],
    ['MERGE d.t T USING d.s S ON T.a = S.a WHEN MATCHED AND S.x > 1 THEN DELETE WHEN NOT MATCHED THEN INSERT ROW', 'merge', 'MERGE', ['proj.d.s', 'proj.d.t'], ['proj.d.t']],
    ['MERGE d.t USING (SELECT * FROM d.u) S ON false WHEN NOT MATCHED BY SOURCE THEN DELETE', 'merge', 'MERGE', ['proj.d.t', 'proj.d.u'], ['proj.d.t']],
    ['TRUNCATE TABLE d.t', 'truncate', 'TRUNCATE_TABLE', [], ['proj.d.t']],
    ['CREATE TABLE d.t AS SELECT * FROM d.s', 'create', 'CREATE_TABLE_AS_SELECT', ['proj.d.s'], ['proj.d.t']],
    ['CREATE TABLE d.t LIKE d.s', 'create', 'CREATE_TABLE', ['proj.d.s'], ['proj.d.t']],
    ['CREATE TABLE d.t COPY d.s', 'create', 'CREATE_TABLE', ['proj.d.s'], ['proj.d.t']],
    ['CREATE SNAPSHOT TABLE d.t CLONE d.s', 'create', 'CREATE_SNAPSHOT_TABLE', ['proj.d.s'], ['proj.d.t']],
    ['CREATE OR REPLACE VIEW d.v AS SELECT * FROM d.s', 'create', 'CREATE_VIEW', ['proj.d.s'], ['proj.d.v']],
    ['CREATE MATERIALIZED VIEW d.v AS SELECT * FROM d.s', 'create', 'CREATE_MATERIALIZED_VIEW', ['proj.d.s'], ['proj.d.v']],
    ['CREATE MODEL d.m OPTIONS (model_type = "linear_reg") AS SELECT * FROM d.s', 'create', 'CREATE_MODEL', ['proj.d.s'], ['proj.d.m']],
    ['CREATE FUNCTION d.f(x INT64) AS ((SELECT MAX(a) FROM d.s))', 'define', 'CREATE_FUNCTION', ['proj.d.s'], ['proj.d.f']],
    ['CREATE TEMP FUNCTION f(x INT64) AS (x + 1)', 'define', 'CREATE_FUNCTION', [], []],
    ['CREATE TABLE FUNCTION d.tf(x INT64) AS SELECT * FROM d.s', 'define', 'CREATE_TABLE_FUNCTION', ['proj.d.s'], ['proj.d.tf']],
    ['CREATE PROCEDURE d.p() BEGIN INSERT d.t SELECT * FROM d.s; END', 'define', 'CREATE_PROCEDURE', ['proj.d.s'], ['proj.d.p', 'proj.d.t']],
    ['DROP TABLE d.t', 'drop', 'DROP_TABLE', [], ['proj.d.t']],
    ['DROP VIEW d.v', 'drop', 'DROP_VIEW', [], ['proj.d.v']],
    ['DROP FUNCTION p.d.f', 'define', 'DROP_FUNCTION', [], ['p.d.f']],
    ['DROP SCHEMA d CASCADE', 'define', 'DROP_SCHEMA', [], ['proj.d.*']],
    ['CREATE SCHEMA p.d', 'define', 'CREATE_SCHEMA', [], ['p.d.*']],
    ['ALTER TABLE d.t ADD COLUMN a INT64', 'alter', 'ALTER_TABLE', [], ['proj.d.t']],
    ['ALTER TABLE d.t RENAME TO u', 'alter', 'ALTER_TABLE', [], ['proj.d.t', 'proj.d.u']],
    ['ALTER TABLE d.t ADD CONSTRAINT fk FOREIGN KEY (x) REFERENCES d.u(x) NOT ENFORCED', 'alter', 'ALTER_TABLE', ['proj.d.u'], ['proj.d.t']],
    ["EXPORT DATA OPTIONS (uri = 'gs://b/*', format = 'CSV') AS SELECT * FROM d.s", 'export', 'EXPORT_DATA', ['proj.d.s'], []],
    ["LOAD DATA INTO d.t FROM FILES (format = 'CSV', uris = ['gs://b/x.csv'])", 'load', 'LOAD_DATA', [], ['proj.d.t']],
    ['CALL d.proc(1)', 'call', 'CALL', [], []],
    ["GRANT `roles/bigquery.dataViewer` ON TABLE d.t TO 'user:a@example.com'", 'grant', 'GRANT', [], ['proj.d.t']],
    ["CREATE ROW ACCESS POLICY f ON d.t GRANT TO ('user:a@example.com') FILTER USING (a = 1)", 'create', 'CREATE_ROW_ACCESS_POLICY', [], ['proj.d.t']],
  ])('%s', async (sql, kind, nativeType, read, write) => {
    const t = await tables(sql);
    expect(t.kinds[0]).toBe(kind);
    expect(t.types[0]).toBe(nativeType);
    expect(t.read).toEqual(read);
    expect(t.write).toEqual(write);
  });
});

describe('routines and external resources', () => {
  it.each([
    ['SELECT * FROM `p.d.tvf`(1) AS x', ['p.d.tvf']],
    ['CALL d.proc(1)', ['proj.d.proc']],
    ['SELECT `acme.hr.lookup_salary`(1)', ['acme.hr.lookup_salary']],
    ['SELECT d.f(x), NET.HOST(u), SAFE.d2.g(1) FROM d.t', ['proj.d.f']],
    ['CREATE TEMP FUNCTION f(x INT64) AS (x); SELECT f(1)', []],
  ])('%s calls %j', async (sql, routines) => {
    const a = await analyzeGoogleSql(sql, { names });
    expect([...new Set(a.statements.flatMap((s) => s.routines ?? []))].sort()).toEqual(routines);
  });

  it.each([
    ["EXPORT DATA OPTIONS (uri = 'gs://b/x-*.csv', format = 'CSV') AS SELECT 1", [{ kind: 'uri', value: 'gs://b/x-*.csv', use: 'export' }]],
    [
      "EXPORT DATA WITH CONNECTION `p.us.c` OPTIONS (URI = 's3://b/x-*', format = 'JSON') AS SELECT 1",
      [{ kind: 'connection', value: 'p.us.c', use: 'connection' }, { kind: 'uri', value: 's3://b/x-*', use: 'export' }],
    ],
    ["LOAD DATA INTO d.t FROM FILES (format = 'CSV', uris = ['gs://b/1.csv', 'gs://c/2.csv']) WITH CONNECTION us.c", [
      { kind: 'uri', value: 'gs://b/1.csv', use: 'load' },
      { kind: 'uri', value: 'gs://c/2.csv', use: 'load' },
      { kind: 'connection', value: 'proj.us.c', use: 'connection' },
    ]],
    ["CREATE EXTERNAL TABLE d.x OPTIONS (format = 'CSV', uris = ['gs://b/*'])", [{ kind: 'uri', value: 'gs://b/*', use: 'external_table' }]],
    ["CREATE FUNCTION d.f(x INT64) RETURNS INT64 REMOTE WITH CONNECTION p.us.c OPTIONS (endpoint = 'https://example.com/f')", [
      { kind: 'connection', value: 'p.us.c', use: 'connection' },
      { kind: 'uri', value: 'https://example.com/f', use: 'remote_function' },
    ]],
    ["CREATE TABLE d.t OPTIONS (description = 'copied from gs://b/x')", []],
  ])('%s names its destinations', async (sql, external) => {
    const a = await analyzeGoogleSql(sql, { names });
    expect(a.statements.flatMap((s) => s.external ?? [])).toEqual(external);
  });

  it.each([
    ["EXPORT DATA OPTIONS (uri = CONCAT('gs://b/', 'x-*.csv'), format = 'CSV') AS SELECT 1"],
    ["LOAD DATA INTO d.t FROM FILES (format = 'CSV', uris = [@where])"],
    ["EXECUTE IMMEDIATE \"EXPORT DATA OPTIONS (uri = @u, format = 'CSV') AS SELECT 1\""],
  ])('refuses a computed destination: %s', async (sql) => {
    const err = await refusal(sql);
    expect(err.code).toBe('analysis.dynamic_destination');
  });

  it.each([
    ['SELECT @__hoopq_hash_inner'],
    ['SELECT @__HOOPQ_HASH_OUTER'],
    ['SELECT * FROM `__hoopq_pipe_input`'],
    ['SELECT * FROM `p.d.__hoopq_x`'],
    ['DECLARE __hoopq_x INT64'],
    ['EXECUTE IMMEDIATE "SELECT @__hoopq_hash_inner"'],
  ])('refuses hoopq\'s reserved names: %s', async (sql) => {
    const err = await refusal(sql);
    expect(err.code).toBe('analysis.reserved_name');
  });
});

describe('scripts', () => {
  it('analyses every statement of a script, with its own kind', async () => {
    const t = await tables(`
      DECLARE n INT64 DEFAULT (SELECT COUNT(*) FROM d.a);
      SET n = (SELECT MAX(x) FROM d.b);
      BEGIN
        IF n > 0 THEN
          INSERT d.out SELECT * FROM d.c;
        ELSE
          DELETE FROM d.out WHERE true;
        END IF;
      EXCEPTION WHEN ERROR THEN
        SELECT @@error.message;
      END;
      LOOP LEAVE; END LOOP;
      WHILE n > 0 DO SET n = n - 1; END WHILE;
      FOR r IN (SELECT x FROM d.e) DO SELECT r.x; END FOR;`);
    expect(t.read).toEqual(['proj.d.a', 'proj.d.b', 'proj.d.c', 'proj.d.e', 'proj.d.out']);
    expect(t.write).toEqual(['proj.d.out']);
    expect(t.types).toEqual(['DECLARE', 'SET', 'BLOCK', 'IF', 'INSERT', 'DELETE', 'SELECT', 'LOOP', 'BREAK', 'WHILE', 'SET', 'FOR', 'SELECT']);
    expect(t.kinds).toEqual(['script', 'script', 'script', 'script', 'insert', 'delete', 'select', 'script', 'script', 'script', 'script', 'script', 'select']);
  });

  it('temporary tables are session objects, but only after their creation', async () => {
    const t = await tables('SELECT * FROM tmp; CREATE TEMP TABLE tmp AS SELECT * FROM d.src; SELECT * FROM tmp; DROP TABLE tmp');
    expect(t.read).toEqual(['proj.d.src', 'proj.ds.tmp']);
    expect(t.write).toEqual([]);
  });

  it('a temporary table does not shadow a qualified name', async () => {
    expect((await tables('CREATE TEMP TABLE t AS SELECT 1 AS x; SELECT * FROM d.t')).read).toEqual(['proj.d.t']);
  });

  it('refuses scripts that change the default dataset', async () => {
    await refusal("SET @@dataset_id = 'other'; SELECT * FROM t");
  });
});

describe('EXECUTE IMMEDIATE', () => {
  it('analyses a plain string literal recursively', async () => {
    const a = await analyzeGoogleSql(`EXECUTE IMMEDIATE "DELETE FROM d.t WHERE x = (SELECT 1 FROM d.s)"`, { names });
    expect(a.statements.map((s) => [s.kind, s.nativeType])).toEqual([['script', 'EXECUTE_IMMEDIATE'], ['delete', 'DELETE']]);
    expect(a.statements[1]!.writes).toEqual(['proj.d.t']);
    expect(a.statements[1]!.reads).toEqual(['proj.d.s', 'proj.d.t']);
  });

  it.each([
    `EXECUTE IMMEDIATE CONCAT("SELECT * FROM ", "d.t")`,
    `DECLARE q STRING DEFAULT "SELECT 1"; EXECUTE IMMEDIATE q`,
    `EXECUTE IMMEDIATE "SELECT * FROM " || "d.secret"`,
    `BEGIN EXECUTE IMMEDIATE FORMAT("DROP TABLE %s", "d.t"); END`,
  ])('refuses computed SQL: %s', async (sql) => {
    const err = await refusal(sql);
    expect(err.code).toBe('analysis.dynamic_sql');
  });

  it('refuses an unparseable literal', async () => {
    await refusal(`EXECUTE IMMEDIATE "SELEC * FROM d.t"`);
  });
});

describe('syntax BigQuery accepts that the parser does not', () => {
  it.each<[string, string[], string[]?]>([
    ['FROM d.t', ['proj.d.t']],
    ['FROM d.t |> WHERE x > 1 |> SELECT a', ['proj.d.t']],
    ['SELECT * FROM d.t |> WHERE x > 1', ['proj.d.t']],
    ['FROM d.t AS t |> JOIN d.u USING (id) |> WHERE t.x IN (SELECT y FROM d.v) |> AGGREGATE COUNT(*) AS n GROUP AND ORDER BY t.k DESC', ['proj.d.t', 'proj.d.u', 'proj.d.v']],
    ['WITH c AS (SELECT 1 AS x) FROM c |> JOIN d.w ON TRUE |> EXTEND 1 AS y |> SET y = 2 |> DROP y |> RENAME x AS z |> ORDER BY z |> LIMIT 3', ['proj.d.w']],
    ['FROM d.t |> UNION ALL (SELECT * FROM d.u), (FROM d.v |> WHERE a)', ['proj.d.t', 'proj.d.u', 'proj.d.v']],
    ['SELECT * FROM (FROM d.t |> WHERE x = 1) AS s', ['proj.d.t']],
    ['FROM d.t AS a |> SELECT a.x |> JOIN a.items ON TRUE', ['proj.a.items', 'proj.d.t']],
    ['FROM d.t AS a, a.items |> WHERE 1 = 1', ['proj.d.t']],
    ['SELECT ARRAY_FILTER(arr, e -> e > 0), ARRAY_TRANSFORM(arr, (e, i) -> e + i) FROM d.t', ['proj.d.t']],
    ["SELECT RANGE<DATE> '[2020-01-01, 2020-12-31)', RANGE(DATE '2020-01-01', NULL) FROM d.t", ['proj.d.t']],
    ['SELECT EXTRACT(HOUR FROM ts AT TIME ZONE "UTC") FROM d.t FOR SYSTEM TIME AS OF CURRENT_TIMESTAMP()', ['proj.d.t']],
    ['SELECT * FROM d.a UNION ALL BY NAME SELECT * FROM d.b', ['proj.d.a', 'proj.d.b']],
    ['SELECT IF(a IS NULL, b, a).* REPLACE (1 AS x) FROM d.t', ['proj.d.t']],
    ['SELECT * FROM my-project-1a.d.t', ['my-project-1a.d.t']],
    ["SELECT 'a' 'b' FROM d.t", ['proj.d.t']],
    ['SELECT * FROM UNNEST([1, 2] AS x, [3, 4] AS y)', []],
    ['SELECT f() OVER (ROWS BETWEEN 5+5 PRECEDING AND 5+5 FOLLOWING) FROM d.t', ['proj.d.t']],
    ["LOAD DATA INTO TEMP TABLE tmp FROM FILES (uris = ['gs://b/x.csv'], format = 'CSV'); SELECT * FROM tmp", []],
  ])('%s', async (sql, read) => {
    expect((await tables(sql)).read).toEqual(read);
  });

  it('UNDROP SCHEMA is a define of the dataset', async () => {
    const t = await tables('UNDROP SCHEMA d');
    expect(t).toMatchObject({ kinds: ['define'], types: ['UNDROP_SCHEMA'], write: ['proj.d.*'] });
  });

  it('a system variable that changes name resolution stays refused', async () => {
    await refusal("SET @@dataset_id = 'other'");
    expect((await tables("SET @@query_label = 'x'")).kinds).toEqual(['script']);
  });
});

describe('refusals', () => {
  it.each([
    'SELEC * FROM t',
    'SELECT * FROM d.t WHERE',
    "SELECT 'unterminated FROM d.t",
    '',
    '-- only a comment',
    'INSERT INTO d.x FROM d.t |> WHERE x > 1',
    'FROM d.t |> FROBNICATE x',
    'FROM d.t |> DROP (SELECT 1)',
    'FROM d.t |> AS a, b',
  ])('refuses %j', async (sql) => {
    await refusal(sql);
  });

  it('a comment or a string never hides or invents a table', async () => {
    const t = await tables("SELECT 'FROM d.fake' AS s /* FROM d.hidden */ FROM d.real -- , d.other");
    expect(t.read).toEqual(['proj.d.real']);
  });

  it('normalisation does not touch strings that look like the rewritten syntax', async () => {
    const a = await analyzeGoogleSql("SELECT 'MODEL x', \"BOOLEAN\" FROM `d.t`", { names });
    expect(a.statements[0]!.text).toBe("SELECT 'MODEL x', \"BOOLEAN\" FROM `d.t`");
  });
});

describe('time travel', () => {
  it.each<[string, string[] | undefined]>([
    ['SELECT * FROM d.t FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()', ['proj.d.t']],
    ['SELECT * FROM d.t AS x FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR) JOIN d.u USING (id)', ['proj.d.t']],
    ['SELECT * FROM d.t FOR SYSTEM TIME AS OF @when', ['proj.d.t']],
    ['SELECT * FROM (SELECT * FROM `p.d.t` FOR SYSTEM_TIME AS OF @when) JOIN d.u USING (id)', ['p.d.t']],
    ['SELECT * FROM d.t TABLESAMPLE SYSTEM (10 PERCENT)', undefined],
    ['SELECT * FROM d.t', undefined],
  ])('%s', async (sql, expected) => {
    const a = await analyzeGoogleSql(sql, { names });
    expect(a.statements[0]!.timeTravel).toEqual(expected);
  });
});

describe('views', () => {
  const catalog: Catalog = {
    async viewDefinition(name) {
      if (name === 'proj.d.v') return { sql: 'SELECT * FROM base JOIN other.t2 USING (id)', project: 'proj', dataset: 'd' };
      if (name === 'proj.d.vv') return { sql: 'SELECT * FROM v', project: 'proj', dataset: 'd' };
      if (name === 'proj.d.loop') return { sql: 'SELECT * FROM loop', project: 'proj', dataset: 'd' };
      if (name === 'proj.d.past') return { sql: 'SELECT * FROM base FOR SYSTEM_TIME AS OF TIMESTAMP "2026-01-01"', project: 'proj', dataset: 'd' };
      return null;
    },
    async columns() {
      return null;
    },
  };

  it('reads a view and, recursively, the tables its definition reads', async () => {
    const a = await analyzeGoogleSql('SELECT * FROM d.vv', { names, catalog });
    expect(a.statements[0]!.reads).toEqual(['proj.d.base', 'proj.d.v', 'proj.d.vv', 'proj.other.t2']);
    expect(a.statements[0]!.views.map((v) => v.view)).toEqual(['proj.d.vv', 'proj.d.v']);
  });

  it('lists the tables a view definition reads as an earlier version', async () => {
    const a = await analyzeGoogleSql('SELECT * FROM d.past JOIN d.t USING (id)', { names, catalog });
    expect(a.statements[0]!.timeTravel).toEqual(['proj.d.base']);
  });

  it('refuses circular views', async () => {
    await expect(analyzeGoogleSql('SELECT * FROM d.loop', { names, catalog })).rejects.toBeInstanceOf(AnalysisError);
  });
});
