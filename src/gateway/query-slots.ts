/**
 * A counting semaphore for queries: at most `size` run at once (each opens the warehouse and
 * holds a result stream); the rest wait in arrival order. A waiter whose client leaves, or
 * who waits longer than `maxWaitMs`, gives up with `gateway.busy` (503, exit 7: retry).
 */
import { WarehouseError } from '../errors.js';

export function createQuerySlots(size: number, maxWaitMs = 30_000) {
  let free = size;
  const waiters: Array<() => void> = [];
  const release = () => {
    const next = waiters.shift();
    if (next) next();
    else free += 1;
  };
  return async function acquire(signal: AbortSignal): Promise<() => void> {
    if (free > 0) {
      free -= 1;
      return once(release);
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        cleanup();
        resolve(once(release));
      };
      const fail = (why: string) => {
        cleanup();
        const i = waiters.indexOf(grant);
        if (i >= 0) waiters.splice(i, 1);
        reject(new WarehouseError('gateway.busy', `the gateway is busy: ${why}`, { rule: 'gateway.max_concurrent_queries', hint: 'retry in a moment' }));
      };
      const onAbort = () => fail('the request ended while waiting for a query slot');
      const timer = setTimeout(() => fail(`no query slot became free within ${maxWaitMs} ms`), maxWaitMs);
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      waiters.push(grant);
    });
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
