/**
 * Synchronous PostgreSQL for hoopq's state store, whose API is synchronous (the SQLite store
 * it stands beside answers at once, and the token, budget and revocation checks are written
 * against that). node-postgres is asynchronous, so its session lives on a worker thread
 * (pg-sync-thread.ts) and each call blocks this thread on an Atomics.wait until the answer is
 * posted: the same blocking a SQLite transaction does, for a round trip to the server.
 *
 * Input: a postgres:// URL. Output: `run(steps)` returns each statement's rows, or throws
 * PgSyncError (with the SQLSTATE when the server gave one). A call that gets no answer within
 * `callTimeoutMs` throws, and the thread is replaced (its late answer is never read as
 * another call's). A server that could not be reached is not asked again for a second:
 * calls in between fail at once with the same error (the caller refuses either way). `onNotify(channels, fn)` calls fn on this thread's event loop whenever
 * one of the channels is notified (LISTEN on a second session), or when the listening
 * session reconnected and something may have been missed.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { findThreadEntry } from '../thread-entry.js';
import { isSqlState } from './sql-state.js';
import type { SyncAnswer, SyncRequest, SyncThreadData } from './pg-sync-thread.js';

/** How long a server that could not be reached is not asked again. */
const BACKOFF_MS = 1_000;

export class PgSyncError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface PgStep {
  sql: string;
  params?: unknown[];
}

export interface PgSyncOptions {
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** How long a call may block this thread; default: connect + statement timeouts + 2 s. */
  callTimeoutMs?: number;
  /** Channels to LISTEN on; notifications reach `onNotification`. */
  listen?: string[];
  onNotification?: (channel: string) => void;
}

function threadEntry(): URL {
  const entry = findThreadEntry(import.meta.url, 'postgres/pg-sync-thread.js');
  if (!entry) throw new PgSyncError('the PostgreSQL thread (dist/postgres/pg-sync-thread.js) is missing: run `npm run build`');
  return entry;
}

export class PgSync {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private notifyPort: MessagePort | undefined;
  private flag: Int32Array | undefined;
  private nextId = 1;
  private closed = false;
  /** The last failure to reach the server, and when: calls within BACKOFF_MS fail at once with it. */
  private unreachable: { error: PgSyncError; at: number } | undefined;
  private readonly connectTimeoutMs: number;
  private readonly statementTimeoutMs: number;
  private readonly callTimeoutMs: number;

  constructor(
    readonly url: string,
    private readonly options: PgSyncOptions = {},
  ) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
    this.statementTimeoutMs = options.statementTimeoutMs ?? 5_000;
    this.callTimeoutMs = options.callTimeoutMs ?? this.connectTimeoutMs + this.statementTimeoutMs + 2_000;
  }

  /** Runs the statements (in one transaction when `transaction`), blocking until answered. */
  run(steps: PgStep[], transaction = steps.length > 1): Array<{ rows: Record<string, unknown>[]; rowCount: number }> {
    if (this.closed) throw new PgSyncError('the PostgreSQL connection is closed');
    // A server that could not be reached is not asked again for BACKOFF_MS: every call would
    // block this thread (the gateway's event loop) for the connect timeout, and the answer is
    // the same refusal anyway.
    if (this.unreachable && Date.now() - this.unreachable.at < BACKOFF_MS) throw this.unreachable.error;
    try {
      const results = this.call(steps, transaction);
      this.unreachable = undefined;
      return results;
    } catch (err) {
      const error = err as PgSyncError;
      // no SQLSTATE (five characters; ECONNREFUSED and friends are not): the server was not reached
      if (!isSqlState(error.code)) this.unreachable = { error, at: Date.now() };
      throw err;
    }
  }

  private call(steps: PgStep[], transaction: boolean): Array<{ rows: Record<string, unknown>[]; rowCount: number }> {
    const { port, flag } = this.start();
    const id = this.nextId++;
    const request: SyncRequest = { id, steps, transaction };
    Atomics.store(flag, 0, 0);
    port.postMessage(request);
    const deadline = Date.now() + this.callTimeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.stop();
        throw new PgSyncError(`no answer from PostgreSQL within ${this.callTimeoutMs} ms`, 'hoopq_timeout');
      }
      Atomics.wait(flag, 0, 0, left);
      const got = receiveMessageOnPort(port);
      if (!got) continue;
      const answer = got.message as SyncAnswer;
      if (answer.id !== id) continue; // a late answer to a call that timed out
      if (!answer.ok) throw new PgSyncError(answer.message, answer.code);
      return answer.results;
    }
  }

  /** One statement's rows. */
  query(sql: string, params?: unknown[]): Record<string, unknown>[] {
    return this.run([{ sql, params }], false)[0]!.rows;
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  private start(): { port: MessagePort; flag: Int32Array } {
    if (this.worker && this.port && this.flag) return { port: this.port, flag: this.flag };
    const shared = new SharedArrayBuffer(4);
    const calls = new MessageChannel();
    const notes = this.options.listen?.length ? new MessageChannel() : undefined;
    const data: SyncThreadData = {
      url: this.url,
      flag: shared,
      port: calls.port2,
      notify: notes?.port2,
      listen: this.options.listen,
      connectTimeoutMs: this.connectTimeoutMs,
      statementTimeoutMs: this.statementTimeoutMs,
    };
    // no inherited flags: a parent's --input-type=module (node -e) or --import hooks are not the thread's
    const worker = new Worker(threadEntry(), { execArgv: [], workerData: data, transferList: notes ? [calls.port2, notes.port2] : [calls.port2] });
    // neither the thread nor its ports keep a finished CLI process alive
    worker.unref();
    worker.on('error', () => {
      if (this.worker === worker) this.stop();
    });
    if (notes) {
      notes.port1.on('message', (channel: string) => this.options.onNotification?.(channel));
      notes.port1.unref();
    }
    this.worker = worker;
    this.port = calls.port1;
    this.notifyPort = notes?.port1;
    this.flag = new Int32Array(shared);
    return { port: this.port, flag: this.flag };
  }

  private stop(): void {
    const worker = this.worker;
    this.port?.close();
    this.notifyPort?.close();
    this.worker = undefined;
    this.port = undefined;
    this.notifyPort = undefined;
    this.flag = undefined;
    void worker?.terminate();
  }
}
