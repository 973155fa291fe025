/**
 * The health verdict of a state store (SQLite or PostgreSQL), shared by both: each store
 * says how to check itself; this keeps the last verdict, re-checks it when it is older than
 * HEALTH_CHECK_MS (on use) or on a background monitor (a gateway), and runs operations only on
 * a healthy store.
 *
 * Input: the store's check (which calls checked() as it starts) and its last verdict.
 * Invariants: an operation on a store whose last verdict is not ok throws that verdict's
 * problem; any other failure of the operation becomes the store's own ConfigError (exit 3),
 * never "a bug".
 */
import { isHoopqError, type ConfigError } from '../errors.js';
import type { StateHealth } from './state-store.js';

/** How often operations re-check that the store is still the anchored one. */
export const HEALTH_CHECK_MS = 250;

export class StoreHealth {
  private checkedAt = Date.now();
  private monitor: NodeJS.Timeout | undefined;

  /**
   * `check` re-checks the store now (and calls checked() as it starts); `last` gives the
   * verdict of the last check without checking.
   */
  constructor(
    private readonly check: () => StateHealth,
    private readonly last: () => StateHealth,
  ) {}

  /** A check starts now: until HEALTH_CHECK_MS have passed, its verdict stands. */
  checked(): void {
    this.checkedAt = Date.now();
  }

  /** The last verdict, re-checked if older than HEALTH_CHECK_MS. */
  current(): StateHealth {
    return Date.now() - this.checkedAt >= HEALTH_CHECK_MS ? this.check() : this.last();
  }

  /** Re-checks every `intervalMs` in the background, so readiness and watchers learn of a lost store without a request. */
  startMonitor(intervalMs: number): () => void {
    clearInterval(this.monitor);
    this.monitor = setInterval(() => this.check(), intervalMs);
    this.monitor.unref();
    return () => clearInterval(this.monitor);
  }

  stopMonitor(): void {
    clearInterval(this.monitor);
  }

  /** Runs one operation on a healthy store; a failure that is not already hoopq's becomes `failure(err)`. */
  use<T>(fn: () => T, failure: (err: unknown) => ConfigError): T {
    const health = this.current();
    if (!health.ok) throw health.problem!;
    try {
      return fn();
    } catch (err) {
      if (isHoopqError(err)) throw err;
      throw failure(err);
    }
  }
}
