/**
 * The cross-process mutex around every append to one log: `BEGIN IMMEDIATE` on a side
 * SQLite database `<log>.lock.db`. SQLite's RESERVED lock is an fcntl byte-range lock, which
 * the kernel drops when its holder exits for any reason (SIGKILL, OOM kill, power to the
 * process), so a crashed writer can never leave the log locked. Nothing is written to the
 * database but one empty table, once (each lock's transaction is rolled back), so taking the
 * lock costs no fsync. The table is there because SQLite starts every transaction on an empty
 * database file more slowly (measured on this machine: 60 µs against 11 µs a lock, taken twice
 * per governed query). See docs/audit.md "Concurrency".
 *
 * Waiting: SQLite's own busy handler sleeps longer and longer (up to 100 ms a try), so under
 * heavy contention a writer that has waited long loses to every newcomer and can starve
 * (measured: one of 32 processes timed out after 10 s). Instead each try is immediate and
 * the wait between tries is a jittered backoff capped at 16 ms, the same for
 * every waiter, so each has a fair chance at every hand-over; the wait is an await, so a
 * gateway's event loop keeps running meanwhile.
 * Once taken, the lock is held only for `fn`, which is synchronous: no await can happen while
 * it is held, so appends within one process are serialised too.
 */
import { isSqliteBusy, openSqlite, type SqliteDatabase } from '../sqlite/open-sqlite.js';

export interface AuditLock {
  /** Runs fn while holding the lock. Rejects with LockTimeoutError if it cannot be taken in time. */
  run<T>(fn: () => T): Promise<T>;
  close(): void;
}

export class LockTimeoutError extends Error {}

const FIRST_WAIT_MS = 0.5;
const MAX_WAIT_MS = 16;

export function openAuditLock(lockPath: string, timeoutMs: number): AuditLock {
  const db = openSqlite(lockPath, 0);
  giveSchema(db);
  const begin = db.prepare('BEGIN IMMEDIATE');
  // released with ROLLBACK, never COMMIT: the transaction changes nothing, and COMMIT can
  // still fail with SQLITE_BUSY (on an empty database file the first transaction would write
  // its header and need an exclusive lock), which would leave the lock held
  const release = db.prepare('ROLLBACK');
  const tryBegin = (): boolean => {
    try {
      begin.run();
      return true;
    } catch (err) {
      if (isSqliteBusy(err)) return false;
      throw err;
    }
  };
  return {
    async run<T>(fn: () => T): Promise<T> {
      const started = Date.now();
      let wait = FIRST_WAIT_MS;
      while (!tryBegin()) {
        if (Date.now() - started > timeoutMs) throw new LockTimeoutError(`another writer held ${lockPath} for more than ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, wait * (0.5 + Math.random())));
        wait = Math.min(MAX_WAIT_MS, wait * 2);
      }
      try {
        return fn();
      } finally {
        release.run();
      }
    },
    close() {
      db.close();
    },
  };
}

/**
 * Best effort, once per file: a writer that holds the lock meanwhile (BUSY), or a file that
 * cannot be written, leaves the file as it is; the lock works either way, only slower.
 */
function giveSchema(db: SqliteDatabase): void {
  try {
    const row = db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n?: number } | undefined;
    if (Number(row?.n ?? 0) === 0) db.exec('CREATE TABLE IF NOT EXISTS hoopq_audit_lock (unused INTEGER)');
  } catch {
    // not needed for correctness: the next process that opens the lock tries again
  }
}
