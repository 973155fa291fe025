/**
 * The cross-process mutex around every append to one log: `BEGIN IMMEDIATE` on a side
 * SQLite database `<log>.lock.db`. SQLite's RESERVED lock is an fcntl byte-range lock, which
 * the kernel drops when its holder exits for any reason (SIGKILL, OOM kill, power to the
 * process), so a crashed writer can never leave the log locked; a waiting writer retries
 * with SQLite's busy handler up to `timeoutMs`. Nothing is ever written to the database, so
 * taking the lock costs no fsync. See docs/audit.md "Concurrency" for the alternatives.
 *
 * The lock is taken and released within one synchronous call (better-sqlite3 is
 * synchronous), so appends of one process are also serialised, and an await can never
 * happen while the lock is held.
 */
import Database from 'better-sqlite3';

export interface AuditLock {
  /** Runs fn while holding the lock. Throws LockTimeoutError if it cannot be taken in time. */
  run<T>(fn: () => T): T;
  close(): void;
}

export class LockTimeoutError extends Error {}

export function openAuditLock(lockPath: string, timeoutMs: number): AuditLock {
  const db = new Database(lockPath, { timeout: timeoutMs });
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  return {
    run<T>(fn: () => T): T {
      try {
        begin.run();
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_BUSY') {
          throw new LockTimeoutError(`another writer held ${lockPath} for more than ${timeoutMs} ms`, { cause: err });
        }
        throw err;
      }
      try {
        return fn();
      } finally {
        commit.run();
      }
    },
    close() {
      db.close();
    },
  };
}
