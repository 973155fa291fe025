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

export function gateDuckDbCalls<T extends object>(target: T, scope: EngineCallScope): T {
  return wrap(target, scope) as T;
}

function wrap(value: unknown, scope: EngineCallScope): unknown {
  if (value === null || typeof value !== 'object' || !GATED_CLASSES.some((cls) => value instanceof cls)) return value;
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(value, {
    get(target, key) {
      const member = Reflect.get(target, key, target) as unknown;
      if (typeof member !== 'function') return member;
      let method = methods.get(key);
      if (!method) {
        method = gatedMethod(target, member as (...args: unknown[]) => unknown, scope);
        methods.set(key, method);
      }
      return method;
    },
  });
}

function gatedMethod(target: object, member: (...args: unknown[]) => unknown, scope: EngineCallScope): (...args: unknown[]) => unknown {
  if (member instanceof AsyncFunction) {
    return (...args: unknown[]) => scope.run(() => member.apply(target, args) as Promise<unknown>).then((result) => wrap(result, scope));
  }
  if (member instanceof AsyncGeneratorFunction) {
    // each step of the generator is one engine call (a chunk)
    return (...args: unknown[]) => {
      const generator = member.apply(target, args) as AsyncGenerator<unknown>;
      return {
        next: (...a: [] | [unknown]) => scope.run(() => generator.next(...a)),
        return: (v: unknown) => scope.run(() => generator.return(v)),
        throw: (e: unknown) => scope.run(() => generator.throw(e)),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    };
  }
  return (...args: unknown[]) => wrap(member.apply(target, args), scope);
}
