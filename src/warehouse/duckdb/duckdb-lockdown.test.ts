/**
 * The engine lockdown on its own: SQL that analysis would refuse is sent straight to
 * execute(), as if analysis had got it wrong. Every statement must fail inside DuckDB,
 * write no file, and leave the warehouse file byte-for-byte unchanged.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarehouseError } from '../../errors.js';
import { sanitizeError } from '../../pipeline/sanitize-error.js';
import { drainExecution, failureOf, statementsOf } from '../warehouse-contract.case.js';
import type { DuckDbWarehouse } from './duckdb-warehouse.js';
import { openDuckDbWarehouse } from './open-duckdb-warehouse.js';

const root = mkdtempSync(join(tmpdir(), 'hoopq-lockdown-'));
const out = join(root, 'out'); // every path a refused statement names lives here: it must stay empty
const secret = join(root, 'secret.csv');
const dbPath = join(root, 'db', 'warehouse.duckdb');

/** The brief's literal paths too, checked only if they did not exist before the run. */
const LITERAL_PATHS = ['/tmp/x.csv', '/tmp/other.db', '/tmp/x'];
const preexisting = new Set(LITERAL_PATHS.filter((p) => existsSync(p)));

function escapes(): string[] {
  return [
    "SELECT * FROM read_csv('/etc/passwd')",
    "FROM '/etc/passwd'",
    `SELECT * FROM '${secret}'`,
    `SELECT * FROM read_text('${secret}')`,
    `SELECT * FROM read_blob('${secret}')`,
    `SELECT * FROM glob('${root}/*')`,
    `SELECT * FROM sniff_csv('${secret}')`,
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    `SELECT * FROM query('SELECT * FROM read_text(''${secret}'')')`,
    'COPY (SELECT 1) TO \'/tmp/x.csv\'',
    `COPY (SELECT 1) TO '${out}/x.csv'`,
    `COPY crm.people TO '${out}/people.parquet' (FORMAT parquet)`,
    "ATTACH '/tmp/other.db'",
    `ATTACH '${out}/other.db' AS other`,
    'INSTALL httpfs',
    'LOAD httpfs',
    `LOAD '${out}/evil.duckdb_extension'`,
    'SET enable_external_access=true',
    'RESET enable_external_access',
    'SET GLOBAL lock_configuration=false',
    "SET allowed_directories=['/']",
    `SET profiling_output='${out}/profile.json'`,
    "PRAGMA enable_profiling='json'",
    `SET temp_directory='${out}/tmp'`,
    "SET enable_external_access=true; SELECT * FROM read_csv('/etc/passwd')",
    "EXPORT DATABASE '/tmp/x'",
    `EXPORT DATABASE '${out}/export'`,
    `IMPORT DATABASE '${root}'`,
    "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')",
    `CREATE PERSISTENT SECRET (TYPE s3, KEY_ID 'k', SECRET 's')`,
  ];
}

const WRITES = [
  "INSERT INTO crm.people VALUES (9, 'Mallory', 'm@example.com')",
  'CREATE TABLE crm.stolen AS SELECT * FROM crm.people',
  'DROP TABLE crm.people',
  "UPDATE crm.people SET email = 'x'",
  'DELETE FROM crm.people',
  'ALTER TABLE crm.people ADD COLUMN x INTEGER',
  'CREATE MACRO crm.m(x) AS x + 1',
];

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

beforeAll(async () => {
  mkdirSync(out);
  mkdirSync(join(root, 'db'));
  writeFileSync(secret, 'card\n4111111111111111\n');
  const instance = await DuckDBInstance.create(dbPath);
  const connection = await instance.connect();
  await connection.run(`CREATE SCHEMA crm; CREATE TABLE crm.people (id INTEGER, name VARCHAR, email VARCHAR);
    INSERT INTO crm.people VALUES (1, 'Ada', 'ada@example.com');`);
  connection.closeSync();
  instance.closeSync();
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

it('control: an engine without the lockdown does read these files (so the refusals below are the lockdown\'s doing)', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT content FROM read_text('${secret}')`);
    expect(reader.getRowsJS()).toEqual([['card\n4111111111111111\n']]);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

describe('DuckDB lockdown, read-only warehouse', () => {
  let warehouse: DuckDbWarehouse;
  let before: string;

  beforeAll(async () => {
    before = sha256(dbPath);
    warehouse = await openDuckDbWarehouse({ path: dbPath, writable: false });
  });

  it.each(escapes())('refuses, inside DuckDB: %s', async (sql) => {
    const err = await failureOf(warehouse, statementsOf(sql));
    expect(err).toBeInstanceOf(WarehouseError);
    expect(err).toMatchObject({ exitCode: 7 });
  });

  it.each(WRITES)('refuses a write on a read-only open: %s', async (sql) => {
    const err = await failureOf(warehouse, statementsOf(sql));
    expect(err).toMatchObject({ exitCode: 7, rule: 'warehouse.lockdown' });
  });

  it('names the lockdown as the rule when DuckDB refuses a file or setting', async () => {
    expect(await failureOf(warehouse, "SELECT * FROM read_csv('/etc/passwd')")).toMatchObject({ code: 'warehouse.refused', rule: 'warehouse.lockdown' });
    expect(await failureOf(warehouse, 'SET threads=1')).toMatchObject({ code: 'warehouse.refused', rule: 'warehouse.lockdown' });
  });

  it('the refusal a client sees (sanitised) still says what the lockdown refused, without the path or database name', async () => {
    const shown = async (sql: string) => sanitizeError(await failureOf(warehouse, statementsOf(sql)), { sql }).error.message;
    const file = await shown("SELECT * FROM read_csv('/etc/passwd')");
    expect(file).toBe('DuckDB refused: Permission Error: Cannot access file "…" - file system operations are disabled by configuration');
    expect(await shown('SET threads=1')).toBe('DuckDB refused: Invalid Input Error: Cannot change configuration option "threads" - the configuration has been locked');
    const write = await shown('DELETE FROM crm.people');
    expect(write).toMatch(/^DuckDB refused: Invalid Input Error: Cannot execute statement of type "DELETE" on database "…" which is attached in read-only mode/);
  });

  it('still answers ordinary queries after all that, with the data unchanged', async () => {
    const { rows } = await drainExecution(await warehouse.execute(['SELECT id, name, email FROM crm.people'], { signal: new AbortController().signal }));
    expect(rows).toEqual([[1, 'Ada', 'ada@example.com']]);
  });

  it('wrote no file anywhere and left the warehouse byte-for-byte unchanged', async () => {
    await warehouse.close();
    expect(readdirSync(out)).toEqual([]);
    expect(readdirSync(join(root, 'db'))).toEqual(['warehouse.duckdb']);
    for (const p of LITERAL_PATHS) if (!preexisting.has(p)) expect(existsSync(p), p).toBe(false);
    expect(sha256(dbPath)).toBe(before);
  });
});

describe('DuckDB lockdown, writable warehouse', () => {
  let warehouse: DuckDbWarehouse;

  beforeAll(async () => {
    warehouse = await openDuckDbWarehouse({ path: dbPath, writable: true });
  });
  afterAll(async () => {
    await warehouse?.close();
  });

  it.each(escapes())('refuses, inside DuckDB, even when writes are allowed: %s', async (sql) => {
    const err = await failureOf(warehouse, statementsOf(sql));
    expect(err).toBeInstanceOf(WarehouseError);
  });

  it('wrote no file outside the database', () => {
    expect(readdirSync(out)).toEqual([]);
    for (const p of LITERAL_PATHS) if (!preexisting.has(p)) expect(existsSync(p), p).toBe(false);
  });
});
