/**
 * One SQLite connection for hoopq's two cross-process stores (identity state, audit lock),
 * on whichever driver is safe on the running Node:
 * - `node:sqlite` (built in, Node >= 22.13 without a flag) where Node has it;
 * - `better-sqlite3` 12 otherwise (Node 20).
 * Why not better-sqlite3 everywhere: version 12 wraps its objects in the raw `node::ObjectWrap`,
 * whose destructor on Node 24 asserts a live environment; a statement or database collected
 * late (a GC during a query, or process/worker teardown) aborts the whole process
 * (`RemoveEnvironmentCleanupHook … Assertion failed: (env) != nullptr`, seen in our CI and
 * reported upstream as WiseLibs/better-sqlite3#1515, closed without a fix). Version 13 fixes
 * it but needs Node >= 22 and crashes on 20. Both drivers run the same SQLite semantics
 * (BEGIN IMMEDIATE, WAL, busy_timeout), which is all the stores rely on.
 * Input: a file path. Output: a connection with busy_timeout set. Invariant: only the
 * surface below is used by callers, so both drivers behave the same to them.
 */
import { createRequire } from 'node:module';

export type SqliteValue = string | number | bigint | null | Uint8Array;
export type SqliteRow = Record<string, unknown>;

export interface SqliteStatement {
  run(...params: SqliteValue[]): { changes: number | bigint };
  get(...params: SqliteValue[]): SqliteRow | undefined;
  all(...params: SqliteValue[]): SqliteRow[];
}

export interface SqliteDatabase {
  /** Which driver this connection runs on (for `hoopq --version`-style diagnostics and tests). */
  readonly driver: 'node:sqlite' | 'better-sqlite3';
  readonly isOpen: boolean;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

interface NodeSqliteModule {
  DatabaseSync: new (file: string) => {
    readonly isOpen: boolean;
    exec(sql: string): void;
    prepare(sql: string): SqliteStatement;
    close(): void;
  };
}

interface BetterSqliteDatabase {
  readonly open: boolean;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

let nodeSqlite: NodeSqliteModule | null | undefined;

/** `node:sqlite` if this Node has it without a flag, else null. Loaded once. */
function loadNodeSqlite(): NodeSqliteModule | null {
  if (nodeSqlite !== undefined) return nodeSqlite;
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return (nodeSqlite = null);
  // Node 22 prints an ExperimentalWarning for node:sqlite on first load; on a CLI whose stderr
  // an agent reads, that line is noise, so it alone is swallowed.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/sqlite/i.test(text)) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const mod = getBuiltin.call(process, 'node:sqlite') as NodeSqliteModule | undefined;
    nodeSqlite = mod && typeof mod.DatabaseSync === 'function' ? mod : null;
  } catch {
    nodeSqlite = null;
  } finally {
    process.emitWarning = emitWarning;
  }
  return nodeSqlite;
}

/** Opens `file` (created if missing) with SQLite's busy handler set to `busyTimeoutMs`. */
export function openSqlite(file: string, busyTimeoutMs: number): SqliteDatabase {
  const builtin = loadNodeSqlite();
  let db: SqliteDatabase;
  if (builtin) {
    const raw = new builtin.DatabaseSync(file);
    db = {
      driver: 'node:sqlite',
      get isOpen() {
        return raw.isOpen;
      },
      exec: (sql) => raw.exec(sql),
      prepare: (sql) => raw.prepare(sql),
      close: () => raw.close(),
    };
  } else {
    // Loaded only here, so Node versions with node:sqlite never load the native addon.
    const BetterSqlite = createRequire(import.meta.url)('better-sqlite3') as new (f: string) => BetterSqliteDatabase;
    const raw = new BetterSqlite(file);
    db = {
      driver: 'better-sqlite3',
      get isOpen() {
        return raw.open;
      },
      exec: (sql) => {
        raw.exec(sql);
      },
      prepare: (sql) => raw.prepare(sql),
      close: () => raw.close(),
    };
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Runs fn inside BEGIN IMMEDIATE … COMMIT (ROLLBACK if fn throws). IMMEDIATE takes the write
 * lock before the first read, so a read-modify-write inside fn is atomic across processes.
 */
export function immediateTransaction<T>(db: SqliteDatabase, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  let result: T;
  try {
    result = fn();
  } catch (err) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // SQLite may already have rolled back (e.g. after SQLITE_FULL); the original error matters
    }
    throw err;
  }
  try {
    db.exec('COMMIT');
  } catch (err) {
    // a failed COMMIT leaves the transaction open, holding the write lock: end it
    try {
      db.exec('ROLLBACK');
    } catch {
      // already ended
    }
    throw err;
  }
  return result;
}

/**
 * What kind of failure a SQLite error from either driver is, by SQLite's primary result code
 * (node:sqlite gives it as `errcode`, better-sqlite3 as a `SQLITE_…` code): callers turn
 * these into errors that tell the operator the truth (a full disk, a read-only file, a lock
 * held by another process, a damaged file) instead of "internal error".
 */
export type SqliteFailure = 'busy' | 'read_only' | 'full' | 'io' | 'corrupt' | 'cannot_open' | 'permission' | 'other';

const FAILURE_BY_PRIMARY_CODE: Readonly<Record<number, SqliteFailure>> = {
  3: 'permission', // SQLITE_PERM
  5: 'busy', // SQLITE_BUSY
  6: 'busy', // SQLITE_LOCKED
  8: 'read_only', // SQLITE_READONLY
  10: 'io', // SQLITE_IOERR
  11: 'corrupt', // SQLITE_CORRUPT
  13: 'full', // SQLITE_FULL
  14: 'cannot_open', // SQLITE_CANTOPEN
  23: 'permission', // SQLITE_AUTH
  26: 'corrupt', // SQLITE_NOTADB
};

const FAILURE_BY_NAME: Readonly<Record<string, SqliteFailure>> = {
  SQLITE_PERM: 'permission',
  SQLITE_BUSY: 'busy',
  SQLITE_LOCKED: 'busy',
  SQLITE_READONLY: 'read_only',
  SQLITE_IOERR: 'io',
  SQLITE_CORRUPT: 'corrupt',
  SQLITE_FULL: 'full',
  SQLITE_CANTOPEN: 'cannot_open',
  SQLITE_AUTH: 'permission',
  SQLITE_NOTADB: 'corrupt',
};

/** The kind of a SQLite error, or undefined when `err` is not one. */
export function sqliteFailureOf(err: unknown): SqliteFailure | undefined {
  const e = err as { code?: unknown; errcode?: unknown };
  if (typeof e?.errcode === 'number') return FAILURE_BY_PRIMARY_CODE[e.errcode & 0xff] ?? 'other';
  if (typeof e?.code === 'string' && e.code.startsWith('SQLITE_')) {
    const primary = /^SQLITE_[A-Z]+/.exec(e.code)![0];
    return Object.hasOwn(FAILURE_BY_NAME, primary) ? FAILURE_BY_NAME[primary] : 'other';
  }
  return undefined;
}

/** True for SQLITE_BUSY / SQLITE_LOCKED (any extended code) from either driver. */
export function isSqliteBusy(err: unknown): boolean {
  return sqliteFailureOf(err) === 'busy';
}
