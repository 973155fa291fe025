/**
 * The warm instance of a long-lived process: reused across queries, never stale (a writer of
 * this process, a file replaced on disk), never in a writer's way for long, and locked down
 * exactly like a cold one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EngineCallScope } from '../engine-call-gate.js';
import type { Warehouse } from '../warehouse.js';
import { drainExecution, statementsOf } from '../warehouse-contract.case.js';
import { WarmDuckDbOpener } from './warm-duckdb-opener.js';

const root = mkdtempSync(join(tmpdir(), 'hoopq-warm-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const openers: WarmDuckDbOpener[] = [];
afterEach(() => {
  for (const o of openers.splice(0)) o.close();
});

let files = 0;
async function createFile(sql = 'CREATE TABLE t AS SELECT 1 AS a'): Promise<string> {
  const path = join(root, `w${++files}.duckdb`);
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  await connection.run(sql);
  connection.closeSync();
  instance.closeSync();
  return path;
}

function opener(path: string, idleMs?: number): WarmDuckDbOpener {
  const o = new WarmDuckDbOpener({ path, idleMs });
  openers.push(o);
  return o;
}

async function rows(w: Warehouse, sql: string): Promise<unknown[][]> {
  return (await drainExecution(await w.execute(statementsOf(sql), { signal: new AbortController().signal }))).rows;
}

/** Whether another process can open the file for writing right now. */
function otherProcessCanWrite(path: string): boolean {
  const duckdbUrl = pathToFileURL(createRequire(import.meta.url).resolve('@duckdb/node-api')).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { DuckDBInstance } from ${JSON.stringify(duckdbUrl)};
try { (await DuckDBInstance.create(${JSON.stringify(path)})).closeSync(); process.stdout.write('opened'); } catch (e) { process.stdout.write('refused: ' + e.message); }`], { encoding: 'utf8' });
  return r.stdout === 'opened';
}

describe('WarmDuckDbOpener', () => {
  it('opens one read-only instance and lends it to every query, concurrent ones included', async () => {
    const o = opener(await createFile());
    for (let i = 0; i < 5; i++) {
      const w = await o.open({ writable: false });
      expect(await rows(w, 'SELECT a FROM t')).toEqual([[1]]);
      await w.close();
    }
    const many = await Promise.all(Array.from({ length: 8 }, () => o.open({ writable: false })));
    const results = await Promise.all(many.map((w) => rows(w, 'SELECT count(*)::INTEGER FROM range(1000)')));
    expect(results).toEqual(many.map(() => [[1000]]));
    await Promise.all(many.map((w) => w.close()));
    expect(o.instancesOpened).toBe(1);
  });

  it("gives each run an instance of its own, so one run's memory use cannot fail another run's query", async () => {
    const path = await createFile();
    const o = new WarmDuckDbOpener({ path, memoryLimitBytes: 32 * 2 ** 20 });
    openers.push(o);
    // DuckDB's memory_limit holds per instance: separate instances keep runs' budgets apart
    // (the gateway's abuse suite shows one run's wide rows no longer fail another's SELECT 1)
    const hostile = await o.open({ writable: false, run: 'hostile' });
    expect(await rows(hostile, 'SELECT a FROM t')).toEqual([[1]]);
    const again = await o.open({ writable: false, run: 'hostile' }); // the same run: the same instance
    expect(o.instancesOpened).toBe(1);
    const other = await o.open({ writable: false, run: 'innocent' });
    expect(o.instancesOpened).toBe(2);
    expect(await rows(other, 'SELECT a FROM t')).toEqual([[1]]);
    await Promise.all([hostile.close(), again.close(), other.close()]);
  });

  it('once closed, opens an instance per query with the same memory limit and threads', async () => {
    const o = new WarmDuckDbOpener({ path: await createFile(), memoryLimitBytes: 32 * 2 ** 20, threads: 1 });
    openers.push(o);
    const settings = "SELECT current_setting('memory_limit'), current_setting('threads')::INTEGER";
    const warm = await o.open({ writable: false });
    const expected = await rows(warm, settings);
    expect(expected[0]![1]).toBe(1);
    await warm.close();
    o.close();
    const cold = await o.open({ writable: false });
    expect(await rows(cold, settings)).toEqual(expected);
    await cold.close();
  });

  it('is locked down like any instance: file access, ATTACH, settings all fail on a lent warehouse', async () => {
    const o = opener(await createFile());
    const w = await o.open({ writable: false });
    for (const sql of ["SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/hoopq-warm-other.duckdb' AS x", "SET enable_external_access = true", 'CREATE TABLE u (a INT)']) {
      await expect(rows(w, sql), sql).rejects.toMatchObject({ exitCode: 7 });
    }
    await w.close();
    // and the refusals left nothing behind for the next query on the same instance
    const next = await o.open({ writable: false });
    expect(await rows(next, "SELECT current_setting('enable_external_access')")).toEqual([[false]]);
    await next.close();
    expect(o.instancesOpened).toBe(1);
  });

  it('a writer of this process retires the warm instance: the next read sees its change, in data and in the catalog the analysis reads', async () => {
    const o = opener(await createFile());
    const r1 = await o.open({ writable: false });
    expect(await r1.describeTable(`${r1.project}.main.u`)).toBeNull();
    await r1.close();
    const w = await o.open({ writable: true });
    await rows(w, 'CREATE TABLE u AS SELECT 42 AS b');
    await w.close();
    const r2 = await o.open({ writable: false });
    expect(await r2.describeTable(`${r2.project}.main.u`)).toMatchObject({ columns: [{ name: 'b' }] });
    expect(await rows(r2, 'SELECT b FROM u')).toEqual([[42]]);
    await r2.close();
    expect(o.instancesOpened).toBe(2);
  });

  it('readers that arrive while a writer waits queue behind it: the writer is not starved and every reader succeeds', async () => {
    const o = opener(await createFile('CREATE TABLE n (i INTEGER); INSERT INTO n VALUES (0)'));
    const holding = await o.open({ writable: false }); // a long read in progress
    const writer = o.open({ writable: true, writerWaitMs: 10_000 });
    const readers = Array.from({ length: 6 }, () => o.open({ writable: false, writerWaitMs: 10_000 }).then(async (r) => {
      const got = await rows(r, 'SELECT max(i) FROM n');
      await r.close();
      return got;
    }));
    await new Promise((r) => setTimeout(r, 100));
    await holding.close(); // now the writer gets the file
    const w = await writer;
    await rows(w, 'INSERT INTO n VALUES (1)');
    await w.close();
    // every reader that queued behind the writer sees its row
    expect(await Promise.all(readers)).toEqual(readers.map(() => [[1]]));
  });

  it('a reader waiting behind a writer of this process for longer than its wait fails warehouse.busy (exit 7)', async () => {
    const o = opener(await createFile());
    const w = await o.open({ writable: true });
    await expect(o.open({ writable: false, writerWaitMs: 200 })).rejects.toMatchObject({ code: 'warehouse.busy', exitCode: 7 });
    await w.close();
    const r = await o.open({ writable: false });
    await r.close();
  });

  it('a file replaced on disk (a new inode) is noticed on the next query', async () => {
    const path = await createFile('CREATE TABLE t AS SELECT 1 AS a');
    const o = opener(path);
    const r1 = await o.open({ writable: false });
    expect(await rows(r1, 'SELECT a FROM t')).toEqual([[1]]);
    await r1.close();
    const replacement = await createFile('CREATE TABLE t AS SELECT 2 AS a');
    renameSync(replacement, path);
    const r2 = await o.open({ writable: false });
    expect(await rows(r2, 'SELECT a FROM t')).toEqual([[2]]);
    await r2.close();
    expect(o.instancesOpened).toBe(2);
  });

  it('keeps other processes from writing while warm, and lets them in once idle or closed', async () => {
    const path = await createFile();
    const o = opener(path, 300);
    const r = await o.open({ writable: false });
    await r.close();
    expect(otherProcessCanWrite(path)).toBe(false); // the warm read lock: no writer may change what it cached
    await new Promise((res) => setTimeout(res, 600));
    expect(otherProcessCanWrite(path)).toBe(true); // idle: closed, the file is free
    const again = await o.open({ writable: false });
    await again.close();
    o.close();
    expect(otherProcessCanWrite(path)).toBe(true);
  });
  it("puts every engine call of a lending through its borrower's gate scope, the pooled analysis pair included", async () => {
    const path = await createFile('CREATE TABLE t AS SELECT 1 AS a; CREATE TABLE u AS SELECT 2 AS b; CREATE TABLE v AS SELECT 3 AS c');
    const o = opener(path);
    const calls = { a: 0, b: 0, writer: 0 };
    const counting = (run: keyof typeof calls): EngineCallScope => ({
      run: (call) => {
        calls[run] += 1;
        return call();
      },
    });

    const first = await o.open({ writable: false, engineCalls: counting('a') });
    expect(await first.describeTable(`${first.project}.main.t`)).toMatchObject({ columns: [{ name: 'a' }] });
    expect(await rows(first, 'SELECT a FROM t')).toEqual([[1]]);
    await first.close();
    const byA = calls.a;
    expect(byA).toBeGreaterThan(0);
    expect(calls.b).toBe(0);

    // the same warm instance and the same pooled parser/metadata pair, lent to another run
    const second = await o.open({ writable: false, engineCalls: counting('b') });
    expect(o.instancesOpened).toBe(1);
    expect(await second.describeTable(`${second.project}.main.u`)).toMatchObject({ columns: [{ name: 'b' }] }); // a catalog lookup on the pooled metadata connection
    const afterLookup = calls.b;
    expect(afterLookup).toBeGreaterThan(0);
    expect(await rows(second, 'SELECT b FROM u')).toEqual([[2]]);
    expect(calls.b).toBeGreaterThan(afterLookup);
    await second.close();
    expect(calls.a).toBe(byA); // nothing of the second run's was counted against the first

    const writer = await o.open({ writable: true, engineCalls: counting('writer') });
    expect(await rows(writer, 'SELECT c FROM v')).toEqual([[3]]);
    await writer.close();
    expect(calls.writer).toBeGreaterThan(0);
    expect(calls.a).toBe(byA);
  });
});
