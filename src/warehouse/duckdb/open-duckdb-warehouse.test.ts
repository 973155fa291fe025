/**
 * Opening the warehouse file: read-only vs writable, the bounded wait for another process
 * (a real second process holding the file through @duckdb/node-api, not a fake), and the
 * same rule inside one process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, WarehouseError } from '../../errors.js';
import { openDuckDbWarehouse } from './open-duckdb-warehouse.js';

const root = mkdtempSync(join(tmpdir(), 'hoopq-open-'));
const dbPath = join(root, 'warehouse.duckdb');
const holderScript = join(root, 'hold-warehouse.mjs');
const children: ChildProcess[] = [];

beforeAll(async () => {
  const duckdbUrl = pathToFileURL(createRequire(import.meta.url).resolve('@duckdb/node-api')).href;
  // Opens the file for writing (DuckDB's default), says so, holds it for argv[3] ms, exits.
  writeFileSync(
    holderScript,
    `import { DuckDBInstance } from ${JSON.stringify(duckdbUrl)};
const [path, holdMs] = process.argv.slice(2);
const instance = await DuckDBInstance.create(path);
process.stdout.write('holding\\n');
setTimeout(() => { instance.closeSync(); process.exit(0); }, Number(holdMs));
`,
  );
  const instance = await DuckDBInstance.create(dbPath);
  const connection = await instance.connect();
  await connection.run('CREATE TABLE t AS SELECT 1 AS a');
  connection.closeSync();
  instance.closeSync();
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Starts a process holding the file for writing; resolves once it holds it. */
async function holdInAnotherProcess(holdMs: number): Promise<{ exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [holderScript, dbPath, String(holdMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('holding')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`holder exited ${code} before holding the file: ${stderr}`)));
  });
  return { exited };
}

describe('openDuckDbWarehouse', () => {
  it('waits for a writer in another process to finish, then opens (writable)', async () => {
    const { exited } = await holdInAnotherProcess(1_500);
    const started = Date.now();
    const warehouse = await openDuckDbWarehouse({ path: dbPath, writable: true, writerWaitMs: 10_000 });
    const waited = Date.now() - started;
    await warehouse.close();
    expect(await exited).toBe(0);
    expect(waited).toBeGreaterThan(1_000);
    // well below writerWaitMs (10 s): it opened when the writer let go, not at the deadline
    expect(waited).toBeLessThan(8_000);
  });

  it('makes a read-only opener wait for the writer as well', async () => {
    await holdInAnotherProcess(1_500);
    const started = Date.now();
    const warehouse = await openDuckDbWarehouse({ path: dbPath, writable: false, writerWaitMs: 10_000 });
    expect(Date.now() - started).toBeGreaterThan(1_000);
    await warehouse.close();
  });

  it('gives up after writerWaitMs with warehouse.busy (exit 7)', async () => {
    await holdInAnotherProcess(1_500);
    const started = Date.now();
    const err = await openDuckDbWarehouse({ path: dbPath, writable: true, writerWaitMs: 300 }).catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(err).toBeInstanceOf(WarehouseError);
    expect(err).toMatchObject({ code: 'warehouse.busy', exitCode: 7, rule: 'warehouse.busy' });
    expect((err as Error).message).toContain('busy');
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(1_400);
  });

  it('releases the file on close, so another process can open it for writing at once', async () => {
    const warehouse = await openDuckDbWarehouse({ path: dbPath, writable: true });
    await warehouse.close();
    const { exited } = await holdInAnotherProcess(0);
    expect(await exited).toBe(0);
  });

  it('keeps one writer per file inside one process too (DuckDB does not, its lock is per process)', async () => {
    const first = await openDuckDbWarehouse({ path: dbPath, writable: true });
    const busy = await openDuckDbWarehouse({ path: join(root, '.', 'warehouse.duckdb'), writable: false, writerWaitMs: 200 }).catch((e: unknown) => e);
    expect(busy).toMatchObject({ code: 'warehouse.busy', exitCode: 7 });
    const started = Date.now();
    setTimeout(() => void first.close(), 400);
    const second = await openDuckDbWarehouse({ path: dbPath, writable: true, writerWaitMs: 5_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    await second.close();
  });

  it('lets several readers in one process open the file at once', async () => {
    const a = await openDuckDbWarehouse({ path: dbPath, writable: false, writerWaitMs: 0 });
    const b = await openDuckDbWarehouse({ path: dbPath, writable: false, writerWaitMs: 0 });
    expect(await a.listTables()).toEqual(['warehouse.main.t']);
    expect(await b.listTables()).toEqual(['warehouse.main.t']);
    await a.close();
    await b.close();
    // the writer gets in once both readers are gone
    await (await openDuckDbWarehouse({ path: dbPath, writable: true, writerWaitMs: 0 })).close();
  });

  it('refuses a missing file read-only (ConfigError, exit 3) and does not create it', async () => {
    const missing = join(root, 'missing.duckdb');
    const err = await openDuckDbWarehouse({ path: missing, writable: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ code: 'warehouse.not_found', exitCode: 3 });
    expect(existsSync(missing)).toBe(false);
  });

  it('refuses a file that is not a DuckDB database (ConfigError) and leaves it alone', async () => {
    const notDb = join(root, 'notes.duckdb');
    writeFileSync(notDb, 'just some text, not a database\n');
    const err = await openDuckDbWarehouse({ path: notDb, writable: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'warehouse.open_failed', exitCode: 3 });
    expect(readFileSync(notDb, 'utf8')).toBe('just some text, not a database\n');
  });
});
