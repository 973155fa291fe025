/**
 * DuckDB errors converted at the adapter boundary. @duckdb/node-api throws plain `Error`s
 * whose message starts with DuckDB's error class ("Binder Error: …", "Permission Error: …");
 * there is no error code, so this is the one place that reads message text (HOUSE_STYLE:
 * vendor errors are converted inside the adapter; nobody outside matches on text).
 */
import { WarehouseError } from '../../errors.js';

/**
 * The lock conflict DuckDB reports when another process holds the file (measured, 1.5):
 * `IO Error: Could not set lock on file "…": Conflicting lock is held in … (PID n)`.
 * Both a writer and a read-only opener get it while a writer holds the file.
 */
export function isDuckDbLockConflict(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return message.includes('Could not set lock on file') || message.includes('Conflicting lock is held');
}

/** True for DuckDB's own "that was interrupted" error (after connection.interrupt()). */
export function isDuckDbInterrupt(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('INTERRUPT Error');
}

/**
 * A SQL error from DuckDB as a WarehouseError (exit 7) carrying DuckDB's own message; the
 * part of it that quotes the SQL is marked (`details.sql_excerpt`) for hideRewriteExcerpt.
 * Refusals by the engine lockdown get rule `warehouse.lockdown`, so the audit and the caller
 * see that the engine (not the SQL's author) refused.
 */
export function toWarehouseError(err: unknown): WarehouseError {
  if (err instanceof WarehouseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isLockdownRefusal(message)) {
    return new WarehouseError('warehouse.refused', `DuckDB refused: ${message}`, {
      rule: 'warehouse.lockdown',
      hint: 'hoopq runs DuckDB read-only unless the policy allows writes, and always without file, network, extension or settings access; query the warehouse tables only',
      cause: err,
    });
  }
  const excerpt = SQL_EXCERPT.exec(message)?.[0];
  return new WarehouseError('warehouse.sql_error', message, {
    rule: 'warehouse.sql',
    hint: 'the message is DuckDB\'s own; correct the SQL and try again',
    cause: err,
    ...(excerpt ? { details: { sql_excerpt: excerpt } } : {}),
  });
}

/** DuckDB's quote of the SQL it ran, at the end of a parser or binder message: `\n\nLINE 1: SELECT nme FROM …\n        ^`. */
const SQL_EXCERPT = /\n+LINE \d+: [^\n]*\n *\^\s*$/;

function isLockdownRefusal(message: string): boolean {
  return (
    message.startsWith('Permission Error') ||
    message.includes('the configuration has been locked') ||
    message.includes('disabled through configuration') ||
    message.includes('attached in read-only mode')
  );
}
