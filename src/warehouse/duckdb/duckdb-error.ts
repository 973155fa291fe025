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
 * A SQL error from DuckDB as a WarehouseError (exit 7). DuckDB's text can quote data (the
 * value a cast failed on, the SQL as hoopq rewrote it), so it travels only as the error's
 * `engineMessage`: the pipeline's sanitizeError shows it redacted and seals the original. The
 * message itself names DuckDB's error class only, so it is safe wherever it goes.
 * The part of it that quotes the SQL is marked (`details.sql_excerpt`) for hideRewriteExcerpt.
 * Refusals by the engine lockdown get rule `warehouse.lockdown`, so the audit and the caller
 * see that the engine (not the SQL's author) refused.
 */
export function toWarehouseError(err: unknown): WarehouseError {
  if (err instanceof WarehouseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const engineMessage = { prefix: '', text: message };
  if (message.startsWith('Out of Memory Error')) {
    return new WarehouseError('warehouse.memory_exceeded', 'refused: the query needs more memory than one query may use (warehouse.max_query_memory); it was stopped', {
      rule: 'warehouse.max_query_memory',
      hint: 'select fewer or narrower columns, aggregate, or LIMIT; the operator sets the bound with warehouse.max_query_memory in hoopq.yaml',
      cause: err,
    });
  }
  if (isLockdownRefusal(message)) {
    return new WarehouseError('warehouse.refused', `DuckDB refused: ${errorClass(message)}`, {
      rule: 'warehouse.lockdown',
      hint: 'hoopq runs DuckDB read-only unless the policy allows writes, and always without file, network, extension or settings access; query the warehouse tables only',
      cause: err,
      engineMessage: { prefix: 'DuckDB refused: ', text: message },
    });
  }
  const excerpt = SQL_EXCERPT.exec(message)?.[0];
  return new WarehouseError('warehouse.sql_error', errorClass(message), {
    rule: 'warehouse.sql',
    hint: "the message is DuckDB's own, without the values it quoted; correct the SQL and try again",
    cause: err,
    engineMessage,
    ...(excerpt ? { details: { sql_excerpt: excerpt } } : {}),
  });
}

/** DuckDB's quote of the SQL it ran, at the end of a parser or binder message: `\n\nLINE 1: SELECT nme FROM …\n        ^`. */
const SQL_EXCERPT = /\n+LINE \d+: [^\n]*\n *\^\s*$/;

/** `Conversion Error` of `Conversion Error: Could not convert …`: DuckDB's class, never data. */
function errorClass(message: string): string {
  const m = /^([A-Za-z][A-Za-z ]{0,40} Error):/.exec(message);
  return m ? `${m[1]} (DuckDB's message is withheld: it may quote data)` : "DuckDB error (its message is withheld: it may quote data)";
}

function isLockdownRefusal(message: string): boolean {
  return (
    message.startsWith('Permission Error') ||
    message.includes('the configuration has been locked') ||
    message.includes('disabled through configuration') ||
    message.includes('attached in read-only mode')
  );
}
