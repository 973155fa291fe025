/**
 * Query slots, shared fairly between runs. Each running query holds a slot (it opens the
 * warehouse and a result stream): at most `size` run at once, and at most `perRun` of them
 * for any one run, so one run's queries — however many connections it opens, however slowly
 * it reads — leave the rest for the others. A query that finds no slot waits; when a slot
 * frees, the runs with waiting queries take turns (round robin), oldest first within a run.
 * Invariants:
 * - a run never holds more than `perRun` slots, nor queues more than `perRunWaiting` waiters
 *   (one more is refused at once: `gateway.busy`, rule `gateway.run_concurrency`);
 * - a waiter whose client leaves, or who waits longer than `maxWaitMs`, gives up with
 *   `gateway.busy` (503, exit 7: retry), and its turn passes on;
 * - a release grants at most one slot, to the next run in turn that may take one.
 */
import { WarehouseError } from '../errors.js';

export interface QuerySlotLimits {
  /** Queries running at once, all runs together. */
  size: number;
  /** Queries running at once for one run. */
  perRun: number;
  /** Queries of one run waiting at once; more are refused straight away. */
  perRunWaiting?: number;
  maxWaitMs?: number;
}

export interface QuerySlots {
  /** Waits for a slot for `run`; the returned function gives it back (once). */
  acquire(run: string, signal: AbortSignal): Promise<() => void>;
  /** Slots held by `run` now (all runs when omitted). */
  running(run?: string): number;
  /** Queries waiting now. */
  waiting(): number;
}

interface Waiter {
  grant(): void;
}

export function createQuerySlots(limits: QuerySlotLimits): QuerySlots {
  const { size, perRun } = limits;
  const perRunWaiting = limits.perRunWaiting ?? 64;
  const maxWaitMs = limits.maxWaitMs ?? 30_000;
  let total = 0;
  const held = new Map<string, number>();
  const queues = new Map<string, Waiter[]>();
  // runs with waiters, in the order they get their next turn
  const turns: string[] = [];

  const heldBy = (run: string) => held.get(run) ?? 0;
  const take = (run: string): (() => void) => {
    total += 1;
    held.set(run, heldBy(run) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      total -= 1;
      const n = heldBy(run) - 1;
      if (n === 0) held.delete(run);
      else held.set(run, n);
      dispatch();
    };
  };

  function dispatch(): void {
    while (total < size) {
      const index = turns.findIndex((run) => heldBy(run) < perRun);
      if (index === -1) return;
      const run = turns[index]!;
      const queue = queues.get(run)!;
      const waiter = queue.shift()!;
      turns.splice(index, 1);
      if (queue.length > 0) turns.push(run); // its next waiter goes to the back of the line
      else queues.delete(run);
      waiter.grant();
    }
  }

  function forget(run: string, waiter: Waiter): void {
    const queue = queues.get(run);
    const i = queue?.indexOf(waiter) ?? -1;
    if (!queue || i === -1) return;
    queue.splice(i, 1);
    if (queue.length === 0) {
      queues.delete(run);
      turns.splice(turns.indexOf(run), 1);
    }
  }

  return {
    running: (run) => (run === undefined ? total : heldBy(run)),
    waiting: () => [...queues.values()].reduce((n, q) => n + q.length, 0),
    async acquire(run, signal) {
      if (signal.aborted) throw busy('the request ended while waiting for a query slot');
      if (total < size && heldBy(run) < perRun && !queues.has(run)) return take(run);
      const queue = queues.get(run) ?? [];
      if (queue.length >= perRunWaiting) {
        throw busy(`run ${run} already has ${heldBy(run)} queries running and ${queue.length} waiting`, 'gateway.run_concurrency');
      }
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          grant: () => {
            cleanup();
            resolve(take(run));
          },
        };
        const fail = (why: string) => {
          cleanup();
          forget(run, waiter);
          reject(busy(why));
          dispatch();
        };
        const onAbort = () => fail('the request ended while waiting for a query slot');
        const timer = setTimeout(() => fail(`no query slot became free within ${maxWaitMs} ms`), maxWaitMs);
        const cleanup = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        if (!queues.has(run)) {
          queues.set(run, queue);
          turns.push(run);
        }
        queue.push(waiter);
      });
    },
  };
}

function busy(why: string, rule = 'gateway.max_concurrent_queries'): WarehouseError {
  return new WarehouseError('gateway.busy', `the gateway is busy: ${why}`, {
    rule,
    hint: rule === 'gateway.run_concurrency' ? 'wait for this run\'s running queries to finish (read their results), then retry' : 'retry in a moment',
  });
}
