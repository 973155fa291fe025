/**
 * Puts every asynchronous call into a DuckDB object through an engine-call gate
 * (engine-call-gate.ts): the instance, and everything obtained from it (connections,
 * extracted and prepared statements, pending results, results, readers), as they come.
 *
 * Input: a DuckDBInstance and the gate scope of the run it serves. Output: the same
 * instance, seen through a Proxy. Invariants:
 * - an async method (each one is one engine call on libuv's pool, or a sequence of them one
 *   after the other) waits for a slot before it starts and gives it back when it settles;
 * - synchronous methods (`interrupt`, `closeSync`, `columnNames`, …) run at once, never
 *   behind the gate: a cancellation must not wait for a slot;
 * - an interrupt is never lost: DuckDB forgets `interrupt()` when no call of the connection
 *   is executing (measured on 1.5: between `stream()` and the first `fetchChunk()`, the
 *   fetch then runs the whole query), and a call waiting at the gate is exactly such a
 *   moment. So an interrupt with nothing executing is kept, and the connection's next call
 *   fails with DuckDB's own interrupt error instead of starting; one that arrives while a
 *   call executes is repeated until that call settles (DuckDB may not have reached the
 *   point where it looks yet);
 * - methods run on the real object, so DuckDB's own internal calls are not gated a second
 *   time (a gated call never waits for another one, so the gate cannot deadlock);
 * - `instanceof` and every property read behave as on the real object.
 * This wraps objects rather than editing the warehouse, so whatever the DuckDB warehouse
 * calls (analysis, catalog, execution) is gated without it knowing.
 */
import {
  DuckDBConnection,
  DuckDBExtractedStatements,
  DuckDBInstance,
  DuckDBPendingResult,
  DuckDBPreparedStatement,
  DuckDBResult,
  DuckDBResultReader,
} from '@duckdb/node-api';
import type { EngineCallScope } from '../engine-call-gate.js';

/** The classes whose methods call the engine asynchronously. */
const GATED_CLASSES = [DuckDBInstance, DuckDBConnection, DuckDBExtractedStatements, DuckDBPreparedStatement, DuckDBPendingResult, DuckDBResult, DuckDBResultReader];

const AsyncFunction = (async () => {}).constructor;
const AsyncGeneratorFunction = async function* () {}.constructor;

/** How often an interrupt is repeated while the interrupted call has not settled. */
const REPEAT_INTERRUPT_MS = 50;

/** What one connection and everything obtained from it share: calls executing, an interrupt kept for the next. */
interface ConnectionState {
  connection: DuckDBConnection;
  executing: number;
  pendingInterrupt: boolean;
  repeating: NodeJS.Timeout | undefined;
}

export function gateDuckDbCalls<T extends object>(target: T, scope: EngineCallScope): T {
  return wrap(target, scope, undefined) as T;
}

function wrap(value: unknown, scope: EngineCallScope, state: ConnectionState | undefined): unknown {
  if (value === null || typeof value !== 'object' || !GATED_CLASSES.some((cls) => value instanceof cls)) return value;
  const own = value instanceof DuckDBConnection ? { connection: value, executing: 0, pendingInterrupt: false, repeating: undefined } : state;
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(value, {
    get(target, key) {
      const member = Reflect.get(target, key, target) as unknown;
      if (typeof member !== 'function') return member;
      let method = methods.get(key);
      if (!method) {
        method =
          own && target === own.connection && key === 'interrupt'
            ? () => interrupt(own)
            : gatedMethod(target, member as (...args: unknown[]) => unknown, scope, own);
        methods.set(key, method);
      }
      return method;
    },
  });
}

function interrupt(state: ConnectionState): void {
  state.connection.interrupt();
  if (state.executing === 0) {
    state.pendingInterrupt = true;
    return;
  }
  state.repeating ??= setInterval(() => {
    if (state.executing === 0) {
      clearInterval(state.repeating);
      state.repeating = undefined;
      return;
    }
    state.connection.interrupt();
  }, REPEAT_INTERRUPT_MS);
  state.repeating.unref();
}

/** Runs one engine call through the gate, unless an interrupt is waiting for it. */
function engineCall<T>(scope: EngineCallScope, state: ConnectionState | undefined, call: () => Promise<T>): Promise<T> {
  return scope.run(async () => {
    if (state?.pendingInterrupt) {
      state.pendingInterrupt = false;
      throw new Error('INTERRUPT Error: Interrupted! (the query was interrupted before this call started)');
    }
    if (state) state.executing += 1;
    try {
      return await call();
    } finally {
      if (state) state.executing -= 1;
    }
  });
}

function gatedMethod(target: object, member: (...args: unknown[]) => unknown, scope: EngineCallScope, state: ConnectionState | undefined): (...args: unknown[]) => unknown {
  if (member instanceof AsyncFunction) {
    return (...args: unknown[]) => engineCall(scope, state, () => member.apply(target, args) as Promise<unknown>).then((result) => wrap(result, scope, state));
  }
  if (member instanceof AsyncGeneratorFunction) {
    // each step of the generator is one engine call (a chunk)
    return (...args: unknown[]) => {
      const generator = member.apply(target, args) as AsyncGenerator<unknown>;
      return {
        next: (...a: [] | [unknown]) => engineCall(scope, state, () => generator.next(...a)),
        return: (v: unknown) => engineCall(scope, state, () => generator.return(v)),
        throw: (e: unknown) => engineCall(scope, state, () => generator.throw(e)),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    };
  }
  return (...args: unknown[]) => wrap(member.apply(target, args), scope, state);
}
