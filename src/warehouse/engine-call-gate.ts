/**
 * The engine-call gate: how many calls into an embedded engine may be in flight at once, in
 * the whole process and per run.
 *
 * Why: @duckdb/node-api runs every engine call (open, connect, prepare, each fetched chunk)
 * on libuv's thread pool, which is shared with everything else asynchronous in the process
 * (file reads, WebCrypto for token signatures, DNS). A chunk of a long query holds its pool
 * thread for as long as DuckDB computes it: with the pool's default 4 threads, four long
 * queries of one run stalled every other run's `SELECT 1` and `/readyz` for a minute
 * (issue 13). The gate keeps engine calls below the pool's size (`maxInFlight`), so file
 * and crypto work always finds a thread, and below `maxPerRun` per run, so one run's long
 * queries leave room for every other run's calls.
 *
 * Input: the limits. Output: scopes, one per run, whose `run(fn)` starts `fn` when a slot is
 * free. Invariants: at most `maxInFlight` calls run at once, at most `maxPerRun` of one run;
 * a waiting call starts as soon as a slot it may take is free, in arrival order among the
 * calls that may take it (a call of a run at its own limit does not hold up other runs).
 * A gated call never waits for another gated call (the caller passes whole engine calls,
 * not calls that make further gated calls), so the gate cannot deadlock.
 */

export interface EngineCallGate {
  /** The calls of one run (or, for `''`, of work that belongs to no run: readiness checks). */
  scope(run: string): EngineCallScope;
  /** Calls running and waiting now (for tests and metrics). */
  load(): { inFlight: number; waiting: number };
  readonly limits: EngineCallLimits;
}

export interface EngineCallScope {
  run<T>(call: () => Promise<T>): Promise<T>;
}

export interface EngineCallLimits {
  maxInFlight: number;
  maxPerRun: number;
}

/** libuv's own default when UV_THREADPOOL_SIZE is unset. */
export const LIBUV_DEFAULT_POOL_SIZE = 4;

/**
 * The limits for a pool of `poolSize` threads on `cores` CPU cores: a quarter of the pool (at
 * least 2 threads) is kept for file, crypto and DNS work; a run may have at most a quarter of
 * the engine slots in flight, and no more than half the cores' worth (at least 2): each
 * engine call of a long query also keeps DuckDB's own threads busy, so one run's parallel
 * long queries would otherwise slow every other run's short ones by taking the CPU.
 */
export function engineCallLimitsFor(poolSize: number, cores: number): EngineCallLimits {
  const size = Number.isSafeInteger(poolSize) && poolSize > 0 ? Math.min(poolSize, 1024) : LIBUV_DEFAULT_POOL_SIZE;
  const maxInFlight = Math.max(1, size - Math.max(2, Math.ceil(size / 4)));
  const cpuShare = Math.max(2, Math.ceil((Number.isFinite(cores) && cores > 0 ? cores : 1) / 2));
  return { maxInFlight, maxPerRun: Math.max(1, Math.min(Math.floor(maxInFlight / 4), cpuShare)) };
}

/** The pool size libuv uses for a value of UV_THREADPOOL_SIZE (unset or invalid: 4; clamped to 1..1024 as libuv does). */
export function libuvPoolSize(value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isInteger(n)) return LIBUV_DEFAULT_POOL_SIZE;
  return Math.min(1024, Math.max(1, n));
}

interface Waiter {
  run: string;
  start: () => void;
}

export function createEngineCallGate(limits: EngineCallLimits): EngineCallGate {
  if (!(limits.maxInFlight >= 1 && limits.maxPerRun >= 1)) throw new RangeError(`engine call limits must be at least 1, got ${JSON.stringify(limits)}`);
  let inFlight = 0;
  const perRun = new Map<string, number>();
  const waiting: Waiter[] = [];

  const mayStart = (run: string) => inFlight < limits.maxInFlight && (perRun.get(run) ?? 0) < limits.maxPerRun;
  const take = (run: string) => {
    inFlight += 1;
    perRun.set(run, (perRun.get(run) ?? 0) + 1);
  };
  const give = (run: string) => {
    inFlight -= 1;
    const left = (perRun.get(run) ?? 1) - 1;
    if (left === 0) perRun.delete(run);
    else perRun.set(run, left);
    for (let i = 0; i < waiting.length && inFlight < limits.maxInFlight; ) {
      const next = waiting[i]!;
      if (!mayStart(next.run)) {
        i += 1;
        continue;
      }
      waiting.splice(i, 1);
      take(next.run);
      next.start();
    }
  };

  return {
    limits,
    load: () => ({ inFlight, waiting: waiting.length }),
    scope(run) {
      return {
        async run<T>(call: () => Promise<T>): Promise<T> {
          if (mayStart(run)) take(run);
          else await new Promise<void>((start) => waiting.push({ run, start }));
          try {
            return await call();
          } finally {
            give(run);
          }
        },
      };
    },
  };
}
