import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisError, WarehouseError } from '../../errors.js';
import { jsonText } from '../../output/json-text.js';
import { CONTRACT_PEOPLE, describeWarehouseContract, drainExecution, failureOf, statementsOf } from '../warehouse-contract.case.js';
import type { DuckDbWarehouse } from './duckdb-warehouse.js';
import { openDuckDbWarehouse } from './open-duckdb-warehouse.js';

/** A fresh database file with the contract's data set and a few extra shapes. */
async function createWarehouseFile(dir: string, file = 'warehouse.duckdb'): Promise<string> {
  const path = join(dir, file);
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  const values = CONTRACT_PEOPLE.map(([id, name, email]) => `(${id}, '${name}', ${email === null ? 'NULL' : `'${email}'`})`).join(', ');
  await connection.run(`
    CREATE SCHEMA crm;
    CREATE TABLE crm.people (id INTEGER, name VARCHAR, email VARCHAR);
    INSERT INTO crm.people VALUES ${values};
    CREATE VIEW crm.people_names AS SELECT id, name FROM people;
    CREATE SCHEMA "Sales";
    CREATE TABLE "Sales"."Orders" ("Id" BIGINT, amount DECIMAL(10, 2));
    INSERT INTO "Sales"."Orders" VALUES (1, 9.99);
    CREATE VIEW "Sales"."Big AS View" ("AS", total) AS SELECT "Id", amount FROM "Sales"."Orders" WHERE amount > 0 OR 'a AS b' = '';
  `);
  connection.closeSync();
  instance.closeSync();
  return path;
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoopq-duckdb-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeWarehouseContract('duckdb', async () => {
  const path = await createWarehouseFile(tempDir());
  const warehouse = await openDuckDbWarehouse({ path, writable: false });
  return {
    warehouse,
    dataset: 'crm',
    sqlName: (resolved) => resolved,
    sql: {
      hundredThousandRows: 'SELECT range::INTEGER AS n FROM range(100000) ORDER BY n',
      longRunning: 'SELECT count(*) FROM range(100000000) a CROSS JOIN range(100000000) b WHERE a.range + b.range = -1',
      invalid: 'SELECT no_such_column FROM crm.people',
    },
    cleanup: () => warehouse.close(),
  };
});

describe('DuckDbWarehouse', () => {
  let dir: string;
  let warehouse: DuckDbWarehouse;
  const rows = async (sql: string) =>
    (await drainExecution(await warehouse.execute(statementsOf(sql), { signal: new AbortController().signal }))).rows;

  beforeAll(async () => {
    dir = tempDir();
    warehouse = await openDuckDbWarehouse({ path: await createWarehouseFile(dir), writable: false });
  });
  afterAll(async () => {
    await warehouse?.close();
  });

  it('names the project after the file: warehouse.duckdb -> warehouse', () => {
    expect(warehouse.project).toBe('warehouse');
    expect(warehouse.kind).toBe('duckdb');
    expect(warehouse.writable).toBe(false);
  });

  it('lists tables lower-case, including quoted mixed-case names', async () => {
    expect(await warehouse.listTables()).toEqual([
      'warehouse.crm.people',
      'warehouse.crm.people_names',
      'warehouse.sales.big as view',
      'warehouse.sales.orders',
    ]);
    expect(await warehouse.listTables('warehouse.sales')).toEqual(['warehouse.sales.big as view', 'warehouse.sales.orders']);
    expect(await warehouse.listTables('other.sales')).toEqual([]);
  });

  it('describes tables case-insensitively with DuckDB type names', async () => {
    expect(await warehouse.describeTable('WAREHOUSE.Sales.ORDERS')).toEqual({
      name: 'warehouse.sales.orders',
      kind: 'table',
      columns: [
        { name: 'Id', type: 'BIGINT' },
        { name: 'amount', type: 'DECIMAL(10,2)' },
      ],
    });
    expect(await warehouse.describeTable('crm.people')).toBeNull(); // not a resolved name
    expect(await warehouse.describeTable("warehouse.crm.people' OR 1=1 --")).toBeNull();
  });

  describe('getReady: the execution\'s connection opened while the query is checked', () => {
    const signal = () => new AbortController().signal;
    const crm = { defaultProject: 'warehouse', defaultDataset: 'crm' };
    const sales = { defaultProject: 'warehouse', defaultDataset: 'Sales' };

    it('runs under the name defaults execute() is given, whatever the ready session was opened for', async () => {
      const w = await openDuckDbWarehouse({ path: join(dir, 'warehouse.duckdb'), writable: false });
      try {
        w.getReady(crm);
        const counted = (await drainExecution(await w.execute(['SELECT count(*) FROM people'], { signal: signal(), names: crm }))).rows;
        expect(Number(counted[0]![0])).toBe(CONTRACT_PEOPLE.length);
        // ready for crm, asked for Sales: an unqualified name resolves in Sales, never in crm
        w.getReady(crm);
        expect(Number((await drainExecution(await w.execute(['SELECT count(*) FROM "Orders"'], { signal: signal(), names: sales }))).rows[0]![0])).toBe(1);
        w.getReady(sales);
        const err = await w.execute(['SELECT count(*) FROM people'], { signal: signal(), names: sales }).then(drainExecution).then(() => undefined, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'warehouse.sql_error', exitCode: 7 });
      } finally {
        await w.close();
      }
    });

    it('prepareAhead: execute() runs the texts it is given, never a different statement prepared ahead', async () => {
      const w = await openDuckDbWarehouse({ path: join(dir, 'warehouse.duckdb'), writable: false });
      try {
        // same text: the statement prepared ahead is the one that runs
        w.getReady(crm);
        w.prepareAhead('SELECT count(*) AS n FROM people');
        expect(await drainExecution(await w.execute(['SELECT count(*) AS n FROM people'], { signal: signal(), names: crm }))).toMatchObject({ rows: [[CONTRACT_PEOPLE.length]] });
        // another text: the one prepared ahead is discarded and the given one runs
        w.getReady(crm);
        w.prepareAhead('SELECT name AS leaked FROM people');
        const execution = await w.execute(['SELECT 2 AS b'], { signal: signal(), names: crm });
        expect(execution.columns.map((c) => c.name)).toEqual(['b']);
        expect((await drainExecution(execution)).rows).toEqual([[2]]);
        // prepared ahead for crm, executed under Sales: the name resolves in Sales
        w.getReady(crm);
        w.prepareAhead('SELECT count(*) FROM people');
        const err = await w.execute(['SELECT count(*) FROM people'], { signal: signal(), names: sales }).then(drainExecution).then(() => undefined, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'warehouse.sql_error', exitCode: 7 });
      } finally {
        await w.close();
      }
    });

    it('prepareAhead: a text that does not prepare fails in execute() exactly as without it', async () => {
      const w = await openDuckDbWarehouse({ path: join(dir, 'warehouse.duckdb'), writable: false });
      try {
        for (const text of ['SELECT nope FROM people', 'SELECT 1; SELECT 2']) {
          const plain = await w.execute([text], { signal: signal(), names: crm }).then(drainExecution).then(() => undefined, (e: unknown) => e);
          w.getReady(crm);
          w.prepareAhead(text);
          const ahead = await w.execute([text], { signal: signal(), names: crm }).then(drainExecution).then(() => undefined, (e: unknown) => e);
          expect(plain).toBeDefined();
          expect(ahead).toMatchObject({ code: (plain as WarehouseError).code, exitCode: (plain as WarehouseError).exitCode, message: (plain as WarehouseError).message });
        }
      } finally {
        await w.close();
      }
    });

    it('prepareAhead runs nothing: an INSERT prepared and never executed writes no row, and close() frees the file', async () => {
      const path = await createWarehouseFile(tempDir(), 'ahead.duckdb');
      const here = { defaultProject: 'ahead', defaultDataset: 'crm' };
      const writer = await openDuckDbWarehouse({ path, writable: true, writerWaitMs: 0 });
      writer.getReady(here);
      writer.prepareAhead("INSERT INTO people VALUES (99, 'ahead', NULL)");
      await new Promise((r) => setTimeout(r, 50)); // the statement is prepared
      await writer.close();
      const again = await openDuckDbWarehouse({ path, writable: true, writerWaitMs: 0 });
      try {
        // a cancelled execution discards the statement prepared ahead without running it
        again.getReady(here);
        again.prepareAhead("INSERT INTO people VALUES (98, 'cancelled', NULL)");
        const aborted = new AbortController();
        aborted.abort();
        const err = await again.execute(["INSERT INTO people VALUES (98, 'cancelled', NULL)"], { signal: aborted.signal, names: here }).then(drainExecution).then(() => undefined, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'warehouse.cancelled' });
        const rows = (await drainExecution(await again.execute(['SELECT count(*) FROM people WHERE id IN (98, 99)'], { signal: signal(), names: here }))).rows;
        expect(Number(rows[0]![0])).toBe(0);
        // the same INSERT does prepare and run on this session: the statements above were valid
        again.getReady(here);
        again.prepareAhead("INSERT INTO people VALUES (97, 'ran', NULL)");
        await drainExecution(await again.execute(["INSERT INTO people VALUES (97, 'ran', NULL)"], { signal: signal(), names: here }));
        const ran = (await drainExecution(await again.execute(['SELECT count(*) FROM people WHERE id IN (97, 98, 99)'], { signal: signal(), names: here }))).rows;
        expect(Number(ran[0]![0])).toBe(1);
      } finally {
        await again.close();
      }
    });

    it('close() with a ready session that was never used frees the file: it can be opened for writing at once', async () => {
      const path = await createWarehouseFile(tempDir(), 'ready.duckdb');
      const reader = await openDuckDbWarehouse({ path, writable: false });
      reader.getReady(crm);
      await new Promise((r) => setTimeout(r, 50)); // the session is open
      await reader.close();
      const writer = await openDuckDbWarehouse({ path, writable: true, writerWaitMs: 0 });
      await writer.close();
    });
  });

  describe('catalog for the analysers', () => {
    it('gives a view its SELECT, and where its unqualified names resolve', async () => {
      expect(await warehouse.catalog.viewDefinition('warehouse.crm.people_names')).toEqual({
        sql: 'SELECT id, "name" FROM people',
        project: 'warehouse',
        dataset: 'crm',
      });
    });

    it('reads a view whose quoted name and aliases contain "AS"', async () => {
      const def = await warehouse.catalog.viewDefinition('warehouse.sales.big as view');
      expect(def).toMatchObject({ project: 'warehouse', dataset: 'sales' });
      // DuckDB regenerates the text and drops quotes it does not need (names are case-insensitive).
      expect(def!.sql).toBe("SELECT Id, amount FROM Sales.Orders WHERE ((amount > 0) OR ('a AS b' = ''))");
    });

    it('says null for base tables and missing names, and lists columns in order', async () => {
      expect(await warehouse.catalog.viewDefinition('warehouse.crm.people')).toBeNull();
      expect(await warehouse.catalog.viewDefinition('warehouse.crm.nope')).toBeNull();
      expect(await warehouse.catalog.columns('warehouse.crm.people')).toEqual(['id', 'name', 'email']);
      expect(await warehouse.catalog.columns('warehouse.sales.big as view')).toEqual(['AS', 'total']);
      expect(await warehouse.catalog.columns('warehouse.crm.nope')).toBeNull();
    });

    it('sees DuckDB\'s internal views too, so they are checked through rather than taken for tables', async () => {
      const def = await warehouse.catalog.viewDefinition('system.information_schema.tables');
      expect(def?.sql).toMatch(/^\(?SELECT .* FROM duckdb_tables\(\)/i);
    });
  });

  it('converts values to JSON-compatible ones', async () => {
    const execution = await warehouse.execute([
      `SELECT 42::BIGINT AS small, 9007199254740993::BIGINT AS big, 1.50::DECIMAL(10,2) AS dec,
              DATE '2024-02-29' AS d, TIMESTAMP '2024-01-01 10:00:00' AS ts, '\\x00\\xFFhi'::BLOB AS bl,
              {'x': 1::BIGINT, 'y': [1, 2]} AS st, MAP {'k': 2} AS m, INTERVAL 1 DAY AS iv,
              'NaN'::DOUBLE AS nan, 2.5::DOUBLE AS dbl, [1::HUGEINT, 170141183460469231731687303715884105727::HUGEINT] AS li,
              true AS b, NULL::VARCHAR AS n`,
      ], { signal: new AbortController().signal },
    );
    expect(execution.columns.map((c) => c.type)).toEqual([
      'BIGINT', 'BIGINT', 'DECIMAL(10,2)', 'DATE', 'TIMESTAMP', 'BLOB', 'STRUCT("x" BIGINT, "y" INTEGER[])',
      'MAP(VARCHAR, INTEGER)', 'INTERVAL', 'DOUBLE', 'DOUBLE', 'HUGEINT[]', 'BOOLEAN', 'VARCHAR',
    ]);
    const { rows } = await drainExecution(execution);
    expect(rows).toEqual([[
      42, 9007199254740993n, '1.50', '2024-02-29', '2024-01-01 10:00:00', Buffer.from([0, 255, 104, 105]).toString('base64'),
      { x: 1, y: [1, 2] }, [{ key: 'k', value: 2 }], '1 day', 'NaN', 2.5, [1, 170141183460469231731687303715884105727n],
      true, null,
    ]]);
    // every value is writable as JSON text, integers past 2^53 with all their digits
    expect(jsonText(rows)).toContain('9007199254740993,');
    expect(jsonText(rows)).toContain('170141183460469231731687303715884105727]');
  });

  it('runs a script statement by statement and returns the last statement\'s rows', async () => {
    expect(await rows('SELECT 1; SELECT 2 AS two; SELECT id FROM crm.people WHERE id = 3')).toEqual([[3]]);
  });

  it('binds named parameters with their types', async () => {
    const execution = await warehouse.execute(['SELECT $a + 1 AS a, $b AS b, $c AS c, name FROM crm.people WHERE id = $id'], {
      signal: new AbortController().signal,
      params: [
        { name: 'a', type: 'INT64', value: '41' },
        { name: 'b', type: 'STRING', value: "x'); DROP TABLE crm.people; --" },
        { name: 'c', type: 'BOOL', value: 'true' },
        { name: 'id', type: 'INT64', value: '2' },
      ],
    });
    expect((await drainExecution(execution)).rows).toEqual([[42, "x'); DROP TABLE crm.people; --", true, 'Grace Hopper']]);
    const missing = await failureOf(warehouse, 'SELECT $nope');
    expect(missing).toMatchObject({ code: 'warehouse.missing_parameter', exitCode: 7 });
  });

  it('reports an empty script as a warehouse error, not as an empty result', async () => {
    expect(await failureOf(warehouse, [])).toMatchObject({ exitCode: 7 });
    // a text that is more than one statement is never split and run: nothing of it runs
    expect(await failureOf(warehouse, ['SELECT 1; SELECT 2'])).toMatchObject({ exitCode: 6, code: 'analysis.split_mismatch' });
  });

  it('a cancel that arrives while DuckDB prepares the statement still stops it (the interrupt is repeated)', async () => {
    // an aggregate over a cross join returns nothing until it is done: only the interrupt ends it early
    const heavy = 'SELECT count(*) FROM range(200000) a, range(200000) b WHERE (a.range * 7 + b.range) % 1000003 = 5';
    for (const delayMs of [0, 1, 2, 3, 5, 8, 12, 20]) {
      const controller = new AbortController();
      const started = performance.now();
      const running = warehouse.execute([heavy], { signal: controller.signal }).then(drainExecution);
      setTimeout(() => controller.abort(), delayMs); // lands before, during or after prepare
      await expect(running).rejects.toMatchObject({ code: 'warehouse.cancelled' });
      // unstopped it runs for minutes; generous bound for a loaded machine
      expect(performance.now() - started).toBeLessThan(20_000);
    }
  }, 150_000);

  it('refuses work after close, and close is idempotent', async () => {
    const path = await createWarehouseFile(tempDir());
    const w = await openDuckDbWarehouse({ path, writable: false });
    const execution = await w.execute(['SELECT * FROM range(100000)'], { signal: new AbortController().signal });
    await w.close();
    await w.close();
    await expect(w.execute(['SELECT 1'], { signal: new AbortController().signal })).rejects.toMatchObject({ code: 'warehouse.closed' });
    await expect(w.listTables()).rejects.toBeInstanceOf(WarehouseError);
    // A stream whose warehouse was closed ends with an error, never as a complete result.
    await expect(drainExecution(execution)).rejects.toBeInstanceOf(WarehouseError);
  });

  describe('writable', () => {
    it('creates a missing file, runs DML/DDL scripts and reports rows affected', async () => {
      const w = await openDuckDbWarehouse({ path: join(tempDir(), 'scratch.duckdb'), writable: true });
      try {
        expect(w.project).toBe('scratch');
        expect(await drainExecution(await w.execute(statementsOf('CREATE SCHEMA s; CREATE TABLE s.t (a INTEGER); INSERT INTO s.t SELECT * FROM range(5); SELECT sum(a) FROM s.t'), { signal: new AbortController().signal }))).toMatchObject({ rows: [[10]] });
        const update = await w.execute(['UPDATE s.t SET a = a + 1 WHERE a < 3'], { signal: new AbortController().signal });
        await drainExecution(update);
        expect(update.stats().rowsAffected).toBe(3);
        expect(await w.listTables('s')).toEqual(['scratch.s.t']);
      } finally {
        await w.close();
      }
    });

    it('applies a failing script up to the statement that failed (no implicit transaction)', async () => {
      const w = await openDuckDbWarehouse({ path: join(tempDir(), 'scratch.duckdb'), writable: true });
      try {
        const err = await failureOf(w, statementsOf('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1); SELECT nope FROM t'));
        expect(err).toMatchObject({ code: 'warehouse.sql_error', exitCode: 7 });
        expect((await drainExecution(await w.execute(['SELECT a FROM t'], { signal: new AbortController().signal }))).rows).toEqual([[1]]);
      } finally {
        await w.close();
      }
    });
  });

  describe('delegation to the DuckDB analyser and mask rewriter', () => {
    const names = { defaultProject: 'warehouse', defaultDataset: 'crm' };

    it('hands the analyser a parser and a catalog that expands views, quoted ones too', async () => {
      const analysis = await warehouse.analyze('SELECT * FROM people_names; SELECT * FROM sales."BIG as VIEW"', names);
      expect(analysis.dialect).toBe('duckdb');
      expect(analysis.statements.map((s) => s.views)).toEqual([
        [{ view: 'warehouse.crm.people_names', reads: ['warehouse.crm.people'] }],
        [{ view: 'warehouse.sales.big as view', reads: ['warehouse.sales.orders'] }],
      ]);
      expect(analysis.statements[0]!.reads).toContain('warehouse.crm.people');
    });

    it('rewrites for masks so that executing the result returns masked values only', async () => {
      const sql = 'SELECT id, email FROM people WHERE id <= 2 ORDER BY id';
      const analysis = await warehouse.analyze(sql, names);
      const rewritten = await warehouse.rewriteForMasks(analysis, { 'warehouse.crm.people': { email: 'redact' } }, names);
      expect(rewritten).toHaveLength(1);
      expect(rewritten[0]).not.toBe(sql);
      const { rows } = await drainExecution(await warehouse.execute(rewritten, { signal: new AbortController().signal }));
      expect(rows).toEqual([[1, '[REDACTED]'], [2, '[REDACTED]']]);
    });

    it('fails closed: unparseable SQL is an AnalysisError (exit 6), never a plain Error', async () => {
      await expect(warehouse.analyze('SELEC nonsense FROM', names)).rejects.toBeInstanceOf(AnalysisError);
    });
  });
});
