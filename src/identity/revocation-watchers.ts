/**
 * The revocation watchers of one state store (SQLite or PostgreSQL): each running query
 * watches its token and run, and is interrupted when a revocation appears in any process or
 * replica.
 *
 * Input: a store that can look a revocation up, say whether it has failed closed, and turn a
 * failure into the operator's error. Output: watch() returns a stop function; onRevoked is
 * called at most once.
 * Invariants: a watcher polls every `intervalMs` (one primary-key lookup) and also checks at
 * once when checkAll() is called (a PostgreSQL notification); a store that fails closed
 * (lost(), or currentProblem() while a check fails) fires every watcher with that reason; a
 * store that cannot be read for WATCH_ERROR_GRACE_MS fires them too: fail closed.
 */
import { ConfigError, isHoopqError } from '../errors.js';
import type { RunIdentity } from './run-identity.js';
import type { Revocation } from './state-store.js';

/** How long a watcher tolerates an unreadable store before failing closed. */
export const WATCH_ERROR_GRACE_MS = 2_000;

export interface WatchedStore {
  findRevocation(identity: Pick<RunIdentity, 'tokenId' | 'run'>): Revocation | undefined;
  /** Set while the store has failed closed (lost, replaced), with its reason. */
  currentProblem(): ConfigError | undefined;
  /** A failed check, as the operator needs to hear it. */
  failureOf(err: unknown): ConfigError;
}

interface Watcher {
  stop(): void;
  check(): void;
  lost(problem: ConfigError): void;
}

export class RevocationWatchers {
  private readonly watchers = new Set<Watcher>();

  constructor(private readonly store: WatchedStore) {}

  get size(): number {
    return this.watchers.size;
  }

  watch(identity: Pick<RunIdentity, 'tokenId' | 'run'>, onRevoked: (revocation: Revocation) => void, intervalMs = 250): () => void {
    let stopped = false;
    let failingSince: number | undefined;
    const failClosed = (reason: string, problem?: ConfigError): Revocation => ({ kind: 'run', value: identity.run, revokedAt: new Date().toISOString(), reason, problem });
    const fire = (revocation: Revocation) => {
      if (stopped) return;
      watcher.stop();
      onRevoked(revocation);
    };
    const check = () => {
      if (stopped) return;
      try {
        const found = this.store.findRevocation(identity);
        failingSince = undefined;
        if (found) fire(found);
      } catch (err) {
        const problem = this.store.currentProblem();
        if (problem) return fire(failClosed(`${problem.message}; failing closed`, problem));
        failingSince ??= Date.now();
        if (Date.now() - failingSince >= WATCH_ERROR_GRACE_MS) {
          const failure = isHoopqError(err) && err instanceof ConfigError ? err : this.store.failureOf(err);
          fire(failClosed(`revocation state unreadable for ${WATCH_ERROR_GRACE_MS} ms (${(err as Error).message}); failing closed`, failure));
        }
      }
    };
    const watcher: Watcher = {
      stop: () => {
        stopped = true;
        clearInterval(timer);
        this.watchers.delete(watcher);
      },
      check,
      lost: (problem: ConfigError) => fire(failClosed(`${problem.message}; failing closed`, problem)),
    };
    const timer = setInterval(check, intervalMs);
    // A forgotten watcher must not keep a CLI process alive; the running query does that.
    timer.unref();
    this.watchers.add(watcher);
    setImmediate(check);
    return watcher.stop;
  }

  /** Every watcher checks now (a revocation may have been recorded elsewhere). */
  checkAll(): void {
    for (const watcher of [...this.watchers]) watcher.check();
  }

  /** The store failed closed: every watcher fires with this reason. */
  lost(problem: ConfigError): void {
    for (const watcher of [...this.watchers]) watcher.lost(problem);
  }

  stopAll(): void {
    for (const watcher of [...this.watchers]) watcher.stop();
  }
}
