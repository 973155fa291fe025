/**
 * The contract every Warehouse implementation passes (HOUSE_STYLE: one interface, one
 * contract suite, like hono's router `common.case.test.ts`). Each implementation's test file
 * calls `describeWarehouseContract(name, factory)`; the factory opens a warehouse that
 * already holds the contract's data set:
 *
 *   <project>.<dataset>.people        (id integer, name text, email text) = CONTRACT_PEOPLE
 *   <project>.<dataset>.people_names  view: SELECT id, name FROM people
 *
 * and supplies the few SQL texts that differ between dialects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarehouseError } from '../errors.js';
import type { QueryExecution, Warehouse } from './warehouse.js';

export const CONTRACT_PEOPLE: ReadonlyArray<readonly [number, string, string | null]> = [
  [1, 'Ada Lovelace', 'ada@example.com'],
  [2, 'Grace Hopper', 'grace@example.com'],
  [3, 'Linus Torvalds', null],
];

export interface WarehouseContractFixture {
  warehouse: Warehouse;
  /** The dataset holding `people` and `people_names`. */
  dataset: string;
  /** A table's resolved name as this dialect writes it in SQL (quoted where it must be). */
  sqlName(resolved: string): string;
  sql: {
    /** Exactly 100 000 rows of one integer column `n`, 0 … 99 999 in order. */
    hundredThousandRows: string;
    /** A query that runs far longer than a few seconds unless interrupted. */
    longRunning: string;
    /** A query the engine itself rejects (e.g. an unknown column). */
    invalid: string;
  };
  cleanup(): Promise<void>;
}

export type WarehouseContractFactory = () => Promise<WarehouseContractFixture>;

/** Drains an execution, returning every row and how many batches carried them. */
export async function drainExecution(execution: QueryExecution): Promise<{ rows: unknown[][]; batches: number }> {
  const rows: unknown[][] = [];
  let batches = 0;
  for await (const batch of execution.batches) {
    batches += 1;
    rows.push(...batch);
  }
  return { rows, batches };
}

/** Runs SQL to the end; resolves to the error it failed with, or undefined. */
export async function failureOf(warehouse: Warehouse, sql: string | readonly string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<unknown> {
  try {
    const execution = await warehouse.execute(typeof sql === 'string' ? [sql] : sql, { signal: options.signal ?? new AbortController().signal, timeoutMs: options.timeoutMs });
    await drainExecution(execution);
    return undefined;
  } catch (err) {
    return err;
  }
}

export function describeWarehouseContract(name: string, factory: WarehouseContractFactory): void {
  describe(`Warehouse contract: ${name}`, () => {
    let fx: WarehouseContractFixture;
    let people: string;
    let peopleNames: string;
    const run = async (sql: string, timeoutMs?: number) =>
      drainExecution(await fx.warehouse.execute([sql], { signal: new AbortController().signal, timeoutMs }));

    beforeAll(async () => {
      fx = await factory();
      people = `${fx.warehouse.project}.${fx.dataset}.people`;
      peopleNames = `${fx.warehouse.project}.${fx.dataset}.people_names`;
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    it('lists the tables and views of a dataset, by resolved name', async () => {
      const all = await fx.warehouse.listTables();
      expect(all).toEqual(expect.arrayContaining([people, peopleNames]));
      expect(await fx.warehouse.listTables(fx.dataset)).toEqual([people, peopleNames].sort());
      expect(await fx.warehouse.listTables('no_such_dataset_hoopq')).toEqual([]);
    });

    it('describes a table and a view with their columns, and nothing for a missing table', async () => {
      const table = await fx.warehouse.describeTable(people);
      expect(table).toMatchObject({ name: people, kind: 'table' });
      expect(table!.columns.map((c) => c.name)).toEqual(['id', 'name', 'email']);
      for (const column of table!.columns) expect(column.type).toMatch(/\S/);
      const view = await fx.warehouse.describeTable(peopleNames);
      expect(view).toMatchObject({ name: peopleNames, kind: 'view' });
      expect(view!.columns.map((c) => c.name)).toEqual(['id', 'name']);
      expect(await fx.warehouse.describeTable(`${fx.warehouse.project}.${fx.dataset}.no_such_table`)).toBeNull();
    });

    it('returns exactly the rows and columns the engine computes', async () => {
      const execution = await fx.warehouse.execute([`SELECT id, name, email FROM ${fx.sqlName(people)} ORDER BY id`], {
        signal: new AbortController().signal,
      });
      expect(execution.columns.map((c) => c.name)).toEqual(['id', 'name', 'email']);
      const { rows } = await drainExecution(execution);
      expect(rows).toEqual(CONTRACT_PEOPLE.map((r) => [...r]));
    });

    it('reads through a view', async () => {
      const { rows } = await run(`SELECT name FROM ${fx.sqlName(peopleNames)} WHERE id = 2`);
      expect(rows).toEqual([['Grace Hopper']]);
    });

    it('streams a large result in several batches without losing or reordering rows', async () => {
      const { rows, batches } = await run(fx.sql.hundredThousandRows);
      expect(batches).toBeGreaterThan(1);
      expect(rows.length).toBe(100_000);
      expect(rows[0]).toEqual([0]);
      expect(rows[99_999]).toEqual([99_999]);
      expect(rows.every((r, i) => r[0] === i)).toBe(true);
    });

    it('stops a query at its timeout with warehouse.timeout (exit 7), within seconds', async () => {
      const started = Date.now();
      const err = await failureOf(fx.warehouse, fx.sql.longRunning, { timeoutMs: 400 });
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(WarehouseError);
      expect(err).toMatchObject({ code: 'warehouse.timeout', exitCode: 7 });
      expect(elapsed).toBeGreaterThanOrEqual(380);
      // the query would run for hours: stopping within seconds is the timeout's doing (the slack
      // is for a loaded CI machine)
      expect(elapsed).toBeLessThan(400 + 4_000);
    });

    it('stops a query when its signal aborts, with warehouse.cancelled (exit 7)', async () => {
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 300);
      const err = await failureOf(fx.warehouse, fx.sql.longRunning, { signal: controller.signal });
      expect(err).toMatchObject({ code: 'warehouse.cancelled', exitCode: 7 });
      expect(Date.now() - started).toBeLessThan(300 + 4_000);
    });

    it('never starts a query whose signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort();
      const err = await failureOf(fx.warehouse, `SELECT id FROM ${fx.sqlName(people)}`, { signal: controller.signal });
      expect(err).toMatchObject({ code: 'warehouse.cancelled', exitCode: 7 });
    });

    it('fails with the cancellation error, not a short result, when aborted between batches', async () => {
      const controller = new AbortController();
      const execution = await fx.warehouse.execute([fx.sql.hundredThousandRows], { signal: controller.signal });
      let rows = 0;
      let err: unknown;
      try {
        for await (const batch of execution.batches) {
          rows += batch.length;
          controller.abort();
        }
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'warehouse.cancelled', exitCode: 7 });
      expect(rows).toBeLessThan(100_000);
    });

    it('turns an engine SQL error into a WarehouseError (exit 7) carrying the engine message', async () => {
      const err = await failureOf(fx.warehouse, fx.sql.invalid);
      expect(err).toBeInstanceOf(WarehouseError);
      expect((err as WarehouseError).exitCode).toBe(7);
      expect((err as WarehouseError).message.length).toBeGreaterThan(10);
    });

    it('keeps working after a consumer stops reading early', async () => {
      const controller = new AbortController();
      const execution = await fx.warehouse.execute([fx.sql.hundredThousandRows], { signal: controller.signal });
      for await (const batch of execution.batches) {
        expect(batch.length).toBeGreaterThan(0);
        controller.abort();
        break;
      }
      const { rows } = await run(`SELECT count(*) AS n FROM ${fx.sqlName(people)}`);
      // a 64-bit count is a string in DuckDB's JSON and a number (when safe) from BigQuery
      expect(rows.map((r) => r.map(String))).toEqual([[String(CONTRACT_PEOPLE.length)]]);
    });

    it('folds table names exactly as its dialect declares', async () => {
      const dialect = fx.warehouse.dialect;
      const upper = `${fx.warehouse.project}.${fx.dataset}.PEOPLE`;
      const names = { defaultProject: fx.warehouse.project, defaultDataset: fx.dataset };
      const analysis = await fx.warehouse.analyze(`SELECT id FROM ${fx.sqlName(upper)}`, names);
      const read = analysis.statements[0]!.reads;
      const err = await failureOf(fx.warehouse, analysis.run);
      if (dialect.tableCase === 'insensitive') {
        // resolved lower-cased, and the engine reads the same table
        expect(read).toEqual([people]);
        expect(err).toBeUndefined();
      } else {
        // kept as written, and the engine finds no such table: the two agree that case matters
        expect(read).toEqual([upper]);
        expect(err).toBeInstanceOf(WarehouseError);
      }
    });

    it('folds column names exactly as its dialect declares', async () => {
      const sql = `SELECT EMAIL FROM ${fx.sqlName(people)} WHERE id = 1`;
      if (fx.warehouse.dialect.columnCase === 'insensitive') expect((await run(sql)).rows).toEqual([[CONTRACT_PEOPLE[0]![2]]]);
      else expect(await failureOf(fx.warehouse, sql)).toBeInstanceOf(WarehouseError);
    });

    it('quotes a resolved table name so that the engine reads that table', async () => {
      const { rows } = await run(`SELECT name FROM ${fx.warehouse.dialect.quoteTableName(people)} WHERE id = 1`);
      expect(rows).toEqual([[CONTRACT_PEOPLE[0]![1]]]);
    });

    it('runs two queries at once without mixing their rows', async () => {
      const [a, b] = await Promise.all([
        run(`SELECT id FROM ${fx.sqlName(people)} WHERE id = 1`),
        run(`SELECT id FROM ${fx.sqlName(people)} WHERE id = 3`),
      ]);
      expect(a.rows).toEqual([[1]]);
      expect(b.rows).toEqual([[3]]);
    });
  });
}

/** A test script's statements, split at `;` (test scripts hold no `;` inside literals). */
export function statementsOf(script: string): string[] {
  return script.split(';').map((s) => s.trim()).filter((s) => s !== '');
}
