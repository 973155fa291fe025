/**
 * Runs SQL that analysis and policy already allowed on one DuckDB connection and streams
 * the result. Input: a connection of its own, the SQL, the abort signal and timeout.
 * Output: a QueryExecution whose batches are DuckDB's chunks (2048 rows) converted to
 * JSON-compatible rows; the result is never materialised in full.
 * Invariants:
 * - it runs exactly the statement texts it is given (the analysed ones), each of which must
 *   be one statement to DuckDB (its prepare refuses any other), in order, and returns the
 *   LAST one's rows; earlier statements' results are discarded (materialised one at a time
 *   by DuckDB);
 * - timeout and abort call `connection.interrupt()` and the batches end with a
 *   WarehouseError (`warehouse.timeout` / `warehouse.cancelled`), never with a silently short
 *   result: measured on 1.5, an interrupt between two chunks makes DuckDB end the stream as
 *   if it were complete, so the stop reason is checked after every chunk;
 * - every other DuckDB error becomes a WarehouseError with DuckDB's message.
 */
import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBResult } from '@duckdb/node-api';
import { StatementType } from '@duckdb/node-api';
import { AnalysisError, WarehouseError } from '../../errors.js';
import type { ExecuteOptions, QueryExecution, QueryParameter } from '../warehouse.js';
import { isDuckDbInterrupt, toWarehouseError } from './duckdb-error.js';
import { jsonValueConverter } from './json-value-converter.js';
import { bindDuckDbParameters } from './duckdb-parameters.js';

/**
 * `onFinished` runs exactly once, when the batches end for any reason (or execute fails).
 * `ahead`: the first statement, already being prepared on this connection (prepareAhead); it
 * is used instead of preparing the text again, and destroyed if execution ends before it.
 */
export async function streamDuckDbQuery(
  connection: DuckDBConnection,
  statements: readonly string[],
  options: ExecuteOptions,
  onFinished: () => void,
  ahead?: Promise<DuckDBPreparedStatement>,
): Promise<QueryExecution> {
  const stop = startStopWatch(connection, options);
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    stop.dispose();
    onFinished();
  };

  let result: DuckDBResult;
  const first = { ahead };
  try {
    stop.throwIfStopped();
    result = await runUntilLastStreaming(connection, statements, options.params ?? [], stop, first);
  } catch (err) {
    // a statement prepared ahead and never taken is destroyed before its connection is released
    await first.ahead?.then((statement) => statement.destroySync(), () => undefined);
    finish();
    if (err instanceof AnalysisError) throw err;
    throw stop.reason ? stop.error() : isDuckDbInterrupt(err) ? cancelledError() : toWarehouseError(err);
  }

  const columns = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
  const isCount = [StatementType.INSERT, StatementType.UPDATE, StatementType.DELETE].includes(result.statementType);
  let rowsAffected: number | undefined;

  async function* batches(): AsyncGenerator<unknown[][]> {
    try {
      for (;;) {
        stop.throwIfStopped();
        let chunk;
        try {
          chunk = await result.fetchChunk();
        } catch (err) {
          throw stop.reason ? stop.error() : isDuckDbInterrupt(err) ? cancelledError() : toWarehouseError(err);
        }
        stop.throwIfStopped();
        if (!chunk || chunk.rowCount === 0) break;
        const rows = chunk.convertRows(jsonValueConverter) as unknown[][];
        // DML returns one row with the count of rows changed (DuckDB's "Count" column).
        if (isCount && rows.length === 1 && /^\d+$/.test(String(rows[0]![0]))) rowsAffected = Number(rows[0]![0]);
        yield rows;
      }
    } finally {
      // Also reached when the consumer stops early (break/return): stop DuckDB producing
      // rows nobody will read before the connection is released.
      finish();
    }
  }

  return {
    columns,
    batches: batches(),
    stats: () => (rowsAffected === undefined ? {} : { rowsAffected }),
  };
}

/** DuckDB's refusal to prepare a text of several statements (measured on 1.5; any other wording still runs nothing, as exit 7). */
const MORE_THAN_ONE = /Cannot prepare multiple statements/i;

async function runUntilLastStreaming(
  connection: DuckDBConnection,
  statements: readonly string[],
  params: QueryParameter[],
  stop: StopWatch,
  first: { ahead?: Promise<DuckDBPreparedStatement> },
): Promise<DuckDBResult> {
  if (statements.length === 0) {
    throw new WarehouseError('warehouse.no_statement', 'there is no SQL statement to run', {
      rule: 'warehouse.sql',
      hint: 'send at least one SQL statement',
    });
  }
  for (let i = 0; i < statements.length; i += 1) {
    stop.throwIfStopped();
    // Never re-split: each text is one analysed statement, or nothing of it runs. DuckDB's
    // prepare parses the text and itself refuses anything but exactly one statement.
    let prepared: DuckDBPreparedStatement;
    const ahead = i === 0 ? first.ahead : undefined;
    first.ahead = undefined; // taken (or never to be): from here the loop destroys it
    try {
      prepared = await (ahead ?? connection.prepare(statements[i]!));
    } catch (err) {
      if (MORE_THAN_ONE.test(err instanceof Error ? err.message : '')) {
        throw new AnalysisError('analysis.split_mismatch', `refused: statement ${i + 1} is several statements to DuckDB; nothing of it was run`, {
          rule: 'parse',
          hint: 'separate statements with ";"',
          cause: err,
        });
      }
      throw err;
    }
    try {
      bindDuckDbParameters(prepared, params);
      if (i < statements.length - 1) await prepared.run();
      else return await prepared.stream();
    } finally {
      prepared.destroySync();
    }
  }
  throw new Error('unreachable: the last statement returns');
}

interface StopWatch {
  /** 'timeout' or 'cancelled' once the query has been told to stop. */
  readonly reason: 'timeout' | 'cancelled' | undefined;
  error(): WarehouseError;
  throwIfStopped(): void;
  dispose(): void;
}

function startStopWatch(connection: DuckDBConnection, options: ExecuteOptions): StopWatch {
  let reason: 'timeout' | 'cancelled' | undefined;
  let repeat: NodeJS.Timeout | undefined;
  const timeoutMs = options.timeoutMs;
  const stopWith = (why: 'timeout' | 'cancelled'): void => {
    if (reason) return;
    reason = why;
    connection.interrupt();
    // An interrupt that arrives while DuckDB is still preparing the statement is lost (the
    // query then runs to its end): repeat it until the statement has stopped (dispose).
    repeat = setInterval(() => connection.interrupt(), 50);
    repeat.unref();
  };
  const onAbort = (): void => stopWith('cancelled');
  const timer = timeoutMs !== undefined && timeoutMs > 0 ? setTimeout(() => stopWith('timeout'), timeoutMs) : undefined;
  if (options.signal.aborted) reason = 'cancelled';
  else options.signal.addEventListener('abort', onAbort, { once: true });
  const watch: StopWatch = {
    get reason() {
      return reason;
    },
    error() {
      return reason === 'timeout'
        ? new WarehouseError('warehouse.timeout', `the query was stopped after its time limit of ${timeoutMs} ms`, {
            rule: 'limits.timeout',
            hint: 'make the query cheaper (filter, aggregate, LIMIT) or ask for a policy with a longer timeout',
          })
        : cancelledError();
    },
    throwIfStopped() {
      if (reason) throw watch.error();
    },
    dispose() {
      if (timer) clearTimeout(timer);
      if (repeat) clearInterval(repeat);
      options.signal.removeEventListener('abort', onAbort);
    },
  };
  return watch;
}

function cancelledError(): WarehouseError {
  return new WarehouseError('warehouse.cancelled', 'the query was cancelled before it finished', {
    rule: 'warehouse.cancelled',
    hint: 'the run was revoked, the client went away or the result was cut; start a new query if it is still needed',
  });
}
