/**
 * Opens the embedded warehouse file. Input: the file path, whether writes may be needed,
 * how long to wait for another writer. Output: a locked-down DuckDbWarehouse (or, for a
 * long-lived process, the DuckDbFile that warm-duckdb-opener.ts keeps open and lends out).
 * Invariants:
 * - read-only unless `writable` (and a missing file is never created read-only);
 * - the engine is locked down (duckdb-lockdown.ts) before any connection exists;
 * - DuckDB admits one writing process per file and refuses readers while it writes; a
 *   second opener waits, retrying with backoff, up to `writerWaitMs` (default 10 s), then
 *   fails with WarehouseError `warehouse.busy` (exit 7) instead of hanging or failing at once;
 * - with `engineCalls`, every asynchronous engine call of this warehouse (opening it
 *   included) goes through that gate scope (gate-duckdb-calls.ts), so long queries cannot
 *   take all of libuv's pool from other runs and from the process's own file and crypto work.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ConfigError, WarehouseError } from '../../errors.js';
import type { EngineCallScope } from '../engine-call-gate.js';
import { isDuckDbLockConflict } from './duckdb-error.js';
import { duckDbLockdownOptions } from './duckdb-lockdown.js';
import type { HashKey } from '../../masking/hash-key.js';
import { DuckDbWarehouse } from './duckdb-warehouse.js';
import { gateDuckDbCalls } from './gate-duckdb-calls.js';
import { tryLockInProcess } from './in-process-file-lock.js';

export interface OpenDuckDbWarehouseOptions {
  path: string;
  writable: boolean;
  /** How long to wait for a process that holds the file; default 10 000 ms. */
  writerWaitMs?: number;
  /** DuckDB's memory_limit for this query's instance; default DEFAULT_QUERY_MEMORY_BYTES. */
  memoryLimitBytes?: number;
  /** DuckDB's threads for this query's instance; default DEFAULT_QUERY_THREADS. */
  threads?: number;
  /** The `hash` mask's key. */
  hashKey?: HashKey;
  /** The engine-call gate scope of the run this warehouse serves; ungated when absent. */
  engineCalls?: EngineCallScope;
}

/** The scope of a warehouse no gate limits. */
export const UNGATED: EngineCallScope = { run: (call) => call() };

const DEFAULT_WRITER_WAIT_MS = 10_000;
const FIRST_RETRY_MS = 20;
const MAX_RETRY_MS = 250;

export async function openDuckDbWarehouse(options: OpenDuckDbWarehouseOptions): Promise<DuckDbWarehouse> {
  const file = await openDuckDbFile(options);
  try {
    return await connectDuckDbWarehouse(file, () => closeDuckDbFile(file), options.hashKey, options.engineCalls);
  } catch (err) {
    closeDuckDbFile(file);
    throw err;
  }
}

/** A locked-down instance on the warehouse file, holding hoopq's in-process lock on it. */
export interface DuckDbFile {
  instance: DuckDBInstance;
  /** Absolute path. */
  path: string;
  /** The catalog name (see catalogName), lower-case. */
  project: string;
  writable: boolean;
  /** Releases the in-process lock; closeDuckDbFile calls it. */
  releaseLock: () => void;
}

/**
 * Opens the instance (waiting for a writer as described above); the caller closes it with
 * closeDuckDbFile. Throws ConfigError for a missing or unreadable file, WarehouseError
 * `warehouse.busy` when the wait is over.
 */
export async function openDuckDbFile(options: OpenDuckDbWarehouseOptions): Promise<DuckDbFile> {
  const path = resolve(options.path);
  if (!options.writable && !existsSync(path)) {
    throw new ConfigError('warehouse.not_found', `the warehouse file ${path} does not exist`, {
      rule: 'config.warehouse.path',
      hint: 'check warehouse.path in hoopq.yaml, or create a demo warehouse with `hoopq quickstart`',
    });
  }
  const lockKey = realPath(path);
  const waitMs = options.writerWaitMs ?? DEFAULT_WRITER_WAIT_MS;
  const deadline = Date.now() + waitMs;
  let delay = FIRST_RETRY_MS;
  for (;;) {
    const opened = await tryOpen(path, lockKey, options);
    if (opened) return opened;
    const left = deadline - Date.now();
    if (left <= 0) throw warehouseBusy(path, options.writable, waitMs);
    // Jitter so that several waiting processes do not retry in lock-step.
    await sleep(Math.min(left, delay * (0.75 + Math.random() * 0.5)));
    delay = Math.min(MAX_RETRY_MS, delay * 2);
  }
}

export function warehouseBusy(path: string, writable: boolean, waitMs: number): WarehouseError {
  return new WarehouseError(
    'warehouse.busy',
    `the warehouse ${path} is busy: another process ${writable ? 'has it open' : 'is writing to it'} (waited ${waitMs} ms)`,
    { rule: 'warehouse.busy', hint: 'retry when the other job has finished; DuckDB lets one process at a time write a file, and none read it meanwhile' },
  );
}

export function closeDuckDbFile(file: DuckDbFile): void {
  try {
    file.instance.closeSync();
  } finally {
    file.releaseLock();
  }
}

/**
 * A warehouse with its own parser and metadata connections on `file`; its close() closes
 * them and then calls `release` (which closes the file, or keeps it open for the next query).
 */
export async function connectDuckDbWarehouse(file: DuckDbFile, release: () => void, hashKey?: HashKey, engineCalls?: EngineCallScope): Promise<DuckDbWarehouse> {
  const instance = gateDuckDbFor(file, engineCalls);
  const { parser, metadata } = await connectAnalysisPair(instance);
  return new DuckDbWarehouse({
    ...file,
    instance,
    parser,
    metadata,
    hashKey,
    release: () => {
      try {
        parser.closeSync();
        metadata.closeSync();
      } finally {
        release();
      }
    },
  });
}

/**
 * The file's instance as one run may use it: every asynchronous engine call through that
 * run's gate scope (ungated when absent; the wrapper still keeps an interrupt that arrives
 * between two calls, gate-duckdb-calls.ts).
 */
export function gateDuckDbFor(file: DuckDbFile, engineCalls: EngineCallScope | undefined): DuckDBInstance {
  return gateDuckDbCalls(file.instance, engineCalls ?? UNGATED);
}

/** The two connections analysis needs: one for the parser, one for catalog lookups. */
export async function connectAnalysisPair(instance: DuckDBInstance): Promise<{ parser: DuckDBConnection; metadata: DuckDBConnection }> {
  const parser = await instance.connect();
  try {
    return { parser, metadata: await instance.connect() };
  } catch (err) {
    parser.closeSync();
    throw err;
  }
}

/** The instance, or null when the file is held by someone else (in or out of this process). */
async function tryOpen(path: string, lockKey: string, options: OpenDuckDbWarehouseOptions): Promise<DuckDbFile | null> {
  const { writable } = options;
  const engineCalls = options.engineCalls ?? UNGATED;
  const releaseLock = tryLockInProcess(lockKey, writable ? 'write' : 'read');
  if (!releaseLock) return null;
  let instance: DuckDBInstance;
  try {
    instance = await engineCalls.run(() => DuckDBInstance.create(path, duckDbLockdownOptions(writable ? 'READ_WRITE' : 'READ_ONLY', options.memoryLimitBytes, options.threads)));
  } catch (err) {
    releaseLock();
    if (isDuckDbLockConflict(err)) return null;
    throw new ConfigError('warehouse.open_failed', `cannot open the warehouse ${path}: ${(err as Error).message}`, {
      rule: 'config.warehouse.path',
      hint: 'warehouse.path in hoopq.yaml must name a DuckDB database file this user can read',
      cause: err,
    });
  }
  try {
    // the file keeps the bare instance: each warehouse on it is gated for the run it serves
    const connection = await gateDuckDbCalls(instance, engineCalls).connect();
    try {
      return { instance, path, project: await catalogName(connection), writable, releaseLock };
    } finally {
      connection.closeSync();
    }
  } catch (err) {
    instance.closeSync();
    releaseLock();
    throw err;
  }
}

/**
 * The project name is DuckDB's catalog name for the file: the file name up to its first dot
 * (`./warehouse.duckdb` -> `warehouse`; measured: `a.b.duckdb` -> `a`). Taken from DuckDB
 * itself so it is exactly what SQL sees, lower-cased like every resolved DuckDB name.
 */
async function catalogName(connection: DuckDBConnection): Promise<string> {
  const reader = await connection.runAndReadAll('SELECT current_database()');
  const name = String(reader.getRowsJS()[0]?.[0] ?? '').toLowerCase();
  if (name === '' || /[."'`*\\/]/.test(name)) {
    throw new ConfigError('warehouse.bad_name', `the warehouse file's catalog name "${name}" cannot be used as a project name`, {
      rule: 'config.warehouse.path',
      hint: 'name the database file with letters, digits, "_" or "-" and a .duckdb extension, e.g. warehouse.duckdb',
    });
  }
  return name;
}

/** One key per file however it is spelt; a file not created yet is keyed by its real folder. */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}
