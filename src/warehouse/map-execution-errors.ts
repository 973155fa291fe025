/**
 * An execution whose errors — while it starts and while its batches stream — pass through
 * `map` first. Engines use it to keep secrets (the hash key) out of every error message.
 */
import type { QueryExecution } from './warehouse.js';

export async function mapExecutionErrors(start: () => Promise<QueryExecution>, map: (err: unknown) => unknown): Promise<QueryExecution> {
  let execution: QueryExecution;
  try {
    execution = await start();
  } catch (err) {
    throw map(err);
  }
  const batches = execution.batches;
  return {
    ...execution,
    batches: (async function* () {
      const it = batches[Symbol.asyncIterator]();
      try {
        for (;;) {
          let next: IteratorResult<unknown[][]>;
          try {
            next = await it.next();
          } catch (err) {
            throw map(err);
          }
          if (next.done) return;
          yield next.value;
        }
      } finally {
        // a consumer that stops early (row limit) ends the engine's stream too
        await it.return?.();
      }
    })(),
  };
}
