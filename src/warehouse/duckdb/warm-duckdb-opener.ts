/**
 * The embedded warehouse for a long-lived process (the gateway, `hoopq mcp`): a read-only
 * instance per run, opened on the run's first query and lent to every query of the run after
 * it, instead of opening the file (~20 ms) and reading the engine's facts (~35 ms) per query.
 * Per run, because DuckDB's `memory_limit` (warehouse.max_query_memory) holds per instance:
 * one shared instance let one run's wide rows use up the limit and fail every other run's
 * `SELECT 1` with "Out of Memory" (the abuse suite caught it). A run runs at most a few
 * queries at once in a gateway (fair share), so the bound is per run and its queries share it.
 *
 * Input: the warehouse file. Output: `open({ writable })` -> a DuckDbWarehouse whose close()
 * gives its connections back. Invariants:
 * - reads run on the read-only instance (locked down as every instance is), each execution
 *   on a fresh connection of its own (DuckDbWarehouse.execute); a query that writes gets a
 *   writable instance of its own, exactly as a cold process does (openDuckDbWarehouse);
 * - analysis connections (parser + metadata, with their catalog and engine-fact caches)
 *   are pooled: each serves one query at a time, and they never run the caller's SQL (only
 *   parse and bind it), so no query leaves state on them for the next;
 * - the caches stay true while the instance is open: its read lock keeps every writer out,
 *   other processes by DuckDB's file lock and this one by in-process-file-lock.ts. A writer
 *   in this process retires the instance (new readers wait for the writer, up to
 *   `writerWaitMs`, then fail `warehouse.busy` as a cold reader would) and the next read
 *   opens a fresh one, so it sees the writer's changes and re-reads the catalog. A file
 *   replaced on disk (another inode, size or mtime) retires the instance the same way;
 * - after `idleMs` with no query the instance is closed, so another process that writes
 *   the file (a load job) gets its turn; while queries keep coming it waits, as it would
 *   for any reader;
 * - every engine call goes through the gate scope of the run that makes it
 *   (engine-call-gate.ts): each lending sees the instance through its borrower's scope, a
 *   pooled analysis pair runs under the scope of the run it is lent to, and opening the
 *   instance or a writer runs under the scope of the run that asked. Shared as it is, the
 *   instance never lets one run's long queries take the slots another run's short ones need.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { EngineCallScope } from '../engine-call-gate.js';
import { DuckDbCatalog } from './duckdb-catalog.js';
import { DuckDbWarehouse } from './duckdb-warehouse.js';
import { gateDuckDbCalls } from './gate-duckdb-calls.js';
import { closeDuckDbFile, connectAnalysisPair, connectDuckDbWarehouse, gateDuckDbFor, openDuckDbFile, openDuckDbWarehouse, UNGATED, warehouseBusy, type DuckDbFile } from './open-duckdb-warehouse.js';

export interface WarmDuckDbOptions {
  path: string;
  /** DuckDB's memory_limit and threads for each instance opened (shared by the queries lent one). */
  memoryLimitBytes?: number;
  threads?: number;
  /** Close the instance after this long without a query; default 2 000 ms. */
  idleMs?: number;
}

const DEFAULT_IDLE_MS = 2_000;
const DEFAULT_WRITER_WAIT_MS = 10_000;

interface AnalysisPair {
  /** Both gated through `scope`, whichever run that is now (the catalog too: it queries `metadata`). */
  parser: DuckDBConnection;
  metadata: DuckDBConnection;
  catalog: DuckDbCatalog;
  /** The gate scope of the run the pair is lent to; set at each lending. */
  scope: EngineCallScope;
}

/** One open read-only instance and the analysis connections lent out on it. */
class WarmInstance {
  private readonly idle: AnalysisPair[] = [];
  /** Every pair's bare connections, closed with the instance. */
  private readonly all = new Set<{ parser: DuckDBConnection; metadata: DuckDBConnection }>();
  private leases = 0;
  private retired = false;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly file: DuckDbFile,
    readonly fingerprint: string,
    private readonly idleMs: number,
    private readonly onClosed: (instance: WarmInstance) => void,
  ) {}

  get isRetired(): boolean {
    return this.retired;
  }

  /**
   * A warehouse on this instance, or null once it is retired (the caller opens another).
   * The lease is counted before any await, so a writer retiring it meanwhile waits for it.
   */
  tryLend(engineCalls: EngineCallScope): Promise<DuckDbWarehouse> | null {
    if (this.retired) return null;
    this.leases += 1;
    return this.lend(engineCalls);
  }

  private async lend(engineCalls: EngineCallScope): Promise<DuckDbWarehouse> {
    clearTimeout(this.idleTimer);
    let pair: AnalysisPair;
    try {
      pair = this.idle.pop() ?? (await this.connectPair(engineCalls));
    } catch (err) {
      this.giveBack(undefined);
      throw err;
    }
    pair.scope = engineCalls;
    const { parser, metadata, catalog } = pair;
    return new DuckDbWarehouse({ ...this.file, instance: gateDuckDbFor(this.file, engineCalls), parser, metadata, catalog, release: () => this.giveBack(pair) });
  }

  /** No new leases; closes once the last one is given back. */
  retire(): void {
    this.retired = true;
    if (this.leases === 0) this.close();
  }

  private async connectPair(engineCalls: EngineCallScope): Promise<AnalysisPair> {
    const bare = await engineCalls.run(() => connectAnalysisPair(this.file.instance));
    this.all.add(bare);
    // the pair outlives its borrower: its calls go through the scope of whichever run has it now
    const lent = { scope: engineCalls };
    const current: EngineCallScope = { run: (call) => lent.scope.run(call) };
    const metadata = gateDuckDbCalls(bare.metadata, current);
    return Object.assign(lent, { parser: gateDuckDbCalls(bare.parser, current), metadata, catalog: new DuckDbCatalog(metadata, this.file.project) });
  }

  private giveBack(pair: AnalysisPair | undefined): void {
    this.leases -= 1;
    if (pair) this.idle.push(pair);
    if (this.leases > 0) return;
    if (this.retired) return this.close();
    this.idleTimer = setTimeout(() => this.retire(), this.idleMs);
    this.idleTimer.unref(); // a warm instance never keeps a CLI process alive
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.onClosed(this);
    try {
      for (const pair of this.all) {
        pair.parser.closeSync();
        pair.metadata.closeSync();
      }
    } finally {
      closeDuckDbFile(this.file);
    }
  }
}

export class WarmDuckDbOpener {
  private readonly path: string;
  private readonly idleMs: number;
  /** The warm instance of each run ('' for callers that name none). */
  private readonly instances = new Map<string, WarmInstance>();
  private readonly openings = new Map<string, Promise<WarmInstance>>();
  private writers = 0;
  private writersDone: { promise: Promise<void>; resolve: () => void } | undefined;
  private closed = false;
  private opened = 0;

  constructor(private readonly options: WarmDuckDbOptions) {
    this.path = resolve(options.path);
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** `engineCalls`: the gate scope of the run that borrows (ungated when absent). */
  async open(options: { writable: boolean; writerWaitMs?: number; engineCalls?: EngineCallScope; run?: string }): Promise<DuckDbWarehouse> {
    const waitMs = options.writerWaitMs ?? DEFAULT_WRITER_WAIT_MS;
    const engineCalls = options.engineCalls ?? UNGATED;
    if (this.closed) return this.openCold(options.writable, waitMs, engineCalls);
    if (options.writable) return this.openWriter(waitMs, engineCalls);
    const deadline = Date.now() + waitMs;
    for (;;) {
      // Readers queue behind a writer of this process instead of racing it for the file.
      while (this.writersDone) {
        const left = deadline - Date.now();
        if (left <= 0) throw warehouseBusy(this.path, false, waitMs);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.writersDone.promise, new Promise((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
      }
      if (this.closed) return this.openCold(false, Math.max(0, deadline - Date.now()), engineCalls);
      const lease = (await this.warmInstance(options.run ?? '', Math.max(0, deadline - Date.now()), engineCalls)).tryLend(engineCalls);
      if (lease) return lease;
      // retired between being found and being asked (a writer came): go round again
    }
  }

  /** Once closed: an instance for this one query, bounded like every instance this opener opens. */
  private openCold(writable: boolean, writerWaitMs: number, engineCalls: EngineCallScope): Promise<DuckDbWarehouse> {
    const { memoryLimitBytes, threads } = this.options;
    return openDuckDbWarehouse({ path: this.path, writable, writerWaitMs, memoryLimitBytes, threads, engineCalls });
  }

  /** How many read-only instances this opener has opened so far (1 per run while it stays warm). */
  get instancesOpened(): number {
    return this.opened;
  }

  /** Retires every instance; each closes once the queries still using it have finished. */
  close(): void {
    this.closed = true;
    this.retireAll();
  }

  private retireAll(): void {
    for (const instance of this.instances.values()) instance.retire();
    this.instances.clear();
  }

  private retire(run: string): void {
    this.instances.get(run)?.retire();
    this.instances.delete(run);
  }

  private async warmInstance(run: string, waitMs: number, engineCalls: EngineCallScope): Promise<WarmInstance> {
    for (;;) {
      const current = this.instances.get(run);
      if (current && !current.isRetired && current.fingerprint === fingerprintOf(this.path)) return current;
      if (current) this.retire(run);
      const pending = this.openings.get(run);
      if (!pending) {
        const opening = (async () => {
          const fingerprint = fingerprintOf(this.path);
          const file = await openDuckDbFile({ path: this.path, writable: false, writerWaitMs: waitMs, memoryLimitBytes: this.options.memoryLimitBytes, threads: this.options.threads, engineCalls });
          this.opened += 1;
          return new WarmInstance(file, fingerprint, this.idleMs, (closed) => {
            if (this.instances.get(run) === closed) this.instances.delete(run);
          });
        })();
        this.openings.set(run, opening);
        let opened: WarmInstance;
        try {
          opened = await opening;
        } finally {
          this.openings.delete(run);
        }
        this.instances.set(run, opened);
        if (this.closed || this.writersDone) opened.retire(); // closed, or a writer came, while it opened: the caller goes round again
        return opened;
      }
      // another query of the run is opening it: share that instance (or, if it failed, try ourselves)
      await pending.catch(() => undefined);
    }
  }

  private async openWriter(waitMs: number, engineCalls: EngineCallScope): Promise<DuckDbWarehouse> {
    if (this.writers++ === 0) {
      let resolveDone!: () => void;
      const promise = new Promise<void>((r) => (resolveDone = r));
      this.writersDone = { promise, resolve: resolveDone };
    }
    const done = () => {
      if (--this.writers === 0) {
        const gate = this.writersDone;
        this.writersDone = undefined;
        gate?.resolve();
      }
    };
    try {
      // the read locks of our own instances would keep the writer out: hand them back first
      this.retireAll();
      await Promise.all([...this.openings.values()].map((o) => o.catch(() => undefined)));
      this.retireAll(); // those readers were opening meanwhile

      const file = await openDuckDbFile({ path: this.path, writable: true, writerWaitMs: waitMs, memoryLimitBytes: this.options.memoryLimitBytes, threads: this.options.threads, engineCalls });
      let released = false;
      return await connectDuckDbWarehouse(file, () => {
        if (released) return;
        released = true;
        try {
          closeDuckDbFile(file);
        } finally {
          done();
        }
      }, undefined, engineCalls).catch((err) => {
        closeDuckDbFile(file);
        throw err;
      });
    } catch (err) {
      done();
      throw err;
    }
  }
}

/** Identity and state of the file: another inode, size or mtime means it changed under us. */
function fingerprintOf(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
