/**
 * Opens a SQLite file shared by every hoopq process of a deployment in WAL mode with
 * synchronous=FULL and creates `schema` in one transaction: for the stores that live beside
 * the identity state (approvals, operators) in the same file, each with its own tables and
 * connection. The file is created 0600 (operator names, request summaries).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { immediateTransaction, isSqliteBusy, openSqlite, type SqliteDatabase } from './open-sqlite.js';

export function openWalDatabase(file: string, schema: string, what: string, busyTimeoutMs = 10_000): SqliteDatabase {
  const resolved = path.resolve(file);
  try {
    fs.mkdirSync(path.dirname(resolved), { recursive: true, mode: 0o700 });
    if (!fs.existsSync(resolved)) fs.closeSync(fs.openSync(resolved, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o600));
    const db = openSqlite(resolved, busyTimeoutMs);
    const deadline = Date.now() + busyTimeoutMs;
    for (;;) {
      try {
        db.exec('PRAGMA journal_mode = WAL');
        break;
      } catch (err) {
        // switching to WAL needs a moment alone; a fresh file opened by many processes can answer "locked"
        if (!isSqliteBusy(err) || Date.now() > deadline) throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.random() * 20);
      }
    }
    db.exec('PRAGMA synchronous = FULL');
    immediateTransaction(db, () => db.exec(schema));
    return db;
  } catch (err) {
    throw new ConfigError('state.unavailable', `cannot open the ${what} in ${resolved}: ${(err as Error).message}`, {
      rule: 'state.open',
      hint: `check that ${path.dirname(resolved)} is writable by this user and on a local file system`,
      cause: err,
    });
  }
}
