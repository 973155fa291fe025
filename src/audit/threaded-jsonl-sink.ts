/**
 * The JSONL audit sink of a long-lived process (the gateway, `hoopq mcp`): the same
 * JsonlFileSink, run on a thread of its own (jsonl-sink-thread.ts).
 *
 * Why: a group commit's write and fdatasync are synchronous (the cross-process lock is never
 * held across an await, see jsonl-file-sink.ts), so on the main thread every commit stopped
 * all other queries for the length of an fsync: under 16 clients the gateway's event loop spent
 * ~1.5 ms of every query there (measured, docs/benchmarks.md "warm"), and the groups stayed
 * small because nothing else could arrive while one was written. On its own thread the lock
 * is still held only for synchronous work, and the event loop goes on meanwhile.
 *
 * Input: the log path and the checkpoint options, as openJsonlFileSink. Output: an AuditSink.
 * Invariants:
 * - append() resolves only with the record the thread's sink made durable (after its
 *   fdatasync), and rejects with the sink's own error (AuditWriteError, exit 8) otherwise;
 * - a thread that stops (crashes, is killed) fails every append it had not answered with
 *   AuditWriteError, never a success; the next append starts a new thread, which opens the
 *   log again (reading its head, recovering a torn tail) as any new writer does;
 * - open fails as openJsonlFileSink does (exit 8, or exit 3 for a key with loose permissions);
 * - close() waits for the queued appends and the closing checkpoint, then ends the thread;
 * - the thread keeps the process alive only while a request is unanswered.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { findThreadEntry } from '../thread-entry.js';
import { AuditWriteError, ConfigError, type HoopqError } from '../errors.js';
import type { AuditRecord, AuditRecordBody, AuditSink } from './audit-record.js';
import { findOutcomeOfIntent, type IntentOutcomeState } from './find-outcome-of-intent.js';
import type { SinkThreadAnswer, SinkThreadData, SinkThreadRequest, ThreadError } from './jsonl-sink-thread.js';
import { auditWriteError, type SinkCheckpointOptions } from './sink-checkpointing.js';

export interface ThreadedJsonlFileSinkOptions {
  checkpoint?: SinkCheckpointOptions;
  lockTimeoutMs?: number;
  /** Records per group commit (gateway metrics). */
  onGroupCommit?: (records: number) => void;
}

function threadEntry(where: string): URL {
  const entry = findThreadEntry(import.meta.url, 'audit/jsonl-sink-thread.js');
  if (!entry) throw auditWriteError(where, 'the audit thread (dist/audit/jsonl-sink-thread.js) is missing: run `npm run build`', 'audit.write_failed');
  return entry;
}

function fromThreadError(error: ThreadError): HoopqError {
  const options = { hint: error.hint, rule: error.rule };
  return error.exit === 3 ? new ConfigError(error.code, error.message, options) : new AuditWriteError(error.code, error.message, options);
}

interface Waiter {
  resolve(record: AuditRecord): void;
  reject(err: unknown): void;
}

/** One running thread and what it still owes. */
interface SinkThread {
  worker: Worker;
  ready: Promise<void>;
  waiting: Map<number, Waiter>;
  closed?: () => void;
  /** Requests not answered yet: the thread is ref'd while there are any. */
  busy: number;
  /** Set once the thread has stopped: a request made after that fails with it at once. */
  stopped?: HoopqError;
}

export class ThreadedJsonlFileSink implements AuditSink {
  private thread: SinkThread | undefined;
  private nextId = 1;
  private closing = false;

  constructor(
    readonly path: string,
    private readonly options: ThreadedJsonlFileSinkOptions,
  ) {}

  /** Starts the thread and waits for its sink to open (or throws why it could not). */
  async open(): Promise<void> {
    await this.current().ready;
  }

  async append(body: AuditRecordBody): Promise<AuditRecord> {
    if (this.closing) throw auditWriteError(this.path, 'the sink is closed', 'audit.sink_closed');
    const thread = this.current();
    await thread.ready;
    if (thread.stopped) throw thread.stopped; // it stopped while we waited: no answer would come
    const id = this.nextId++;
    return new Promise<AuditRecord>((resolve, reject) => {
      thread.waiting.set(id, { resolve, reject });
      this.busy(thread, +1);
      const request: SinkThreadRequest = { kind: 'append', id, body };
      try {
        thread.worker.postMessage(request);
      } catch (err) {
        // a body that cannot be cloned is a caller's bug: only this record fails
        thread.waiting.delete(id);
        this.busy(thread, -1);
        reject(auditWriteError(this.path, `the record cannot be sent to the audit thread: ${(err as Error).message}`, 'audit.invalid_record', 'this is a bug in the caller: report it', err));
      }
    });
  }

  /** The log is read back here (outcome recovery); only appends go through the thread. */
  findOutcomeOfIntent(intentId: string): IntentOutcomeState {
    return findOutcomeOfIntent(this.path, intentId);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const thread = this.thread;
    if (!thread) return;
    try {
      await thread.ready;
    } catch {
      return; // it never opened: nothing to close
    }
    if (thread.stopped) return;
    await new Promise<void>((resolve) => {
      thread.closed = resolve;
      this.busy(thread, +1);
      thread.worker.postMessage({ kind: 'close' } satisfies SinkThreadRequest);
    });
    await thread.worker.terminate();
  }

  /**
   * Stops the thread at once, as a crash would (what it had not confirmed fails with exit 8;
   * the next append starts a new thread). For fault-injection tests and a supervisor.
   */
  async terminateThread(): Promise<void> {
    await this.thread?.worker.terminate();
  }

  private current(): SinkThread {
    return (this.thread ??= this.start());
  }

  private start(): SinkThread {
    const data: SinkThreadData = { path: this.path, checkpoint: this.options.checkpoint, lockTimeoutMs: this.options.lockTimeoutMs };
    // no inherited flags: a parent's --input-type=module (node -e) or --import hooks are not the thread's
    const worker = new Worker(threadEntry(this.path), { execArgv: [], workerData: data });
    let settleReady!: { resolve: () => void; reject: (err: unknown) => void };
    const ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
    ready.catch(() => undefined); // observed by whoever awaits it
    const thread: SinkThread = { worker, ready, waiting: new Map(), busy: 1 };
    const stopped = (why: string) => {
      if (this.thread === thread) this.thread = undefined; // the next append starts a new one
      const error = auditWriteError(this.path, `the audit thread stopped (${why}); nothing it had not confirmed is known to be durable`, 'audit.write_failed', 'check the audit log location and the disk; nothing was run');
      thread.stopped ??= error;
      settleReady.reject(error);
      for (const waiter of thread.waiting.values()) waiter.reject(error);
      thread.waiting.clear();
      thread.closed?.();
    };
    worker.on('message', (answer: SinkThreadAnswer) => {
      switch (answer.kind) {
        case 'ready':
          settleReady.resolve();
          this.busy(thread, -1);
          return;
        case 'failed':
          if (this.thread === thread) this.thread = undefined;
          settleReady.reject(fromThreadError(answer.error));
          void worker.terminate();
          return;
        case 'appended': {
          const waiter = thread.waiting.get(answer.id);
          if (!waiter) return;
          thread.waiting.delete(answer.id);
          this.busy(thread, -1);
          if (answer.record) waiter.resolve(answer.record);
          else waiter.reject(fromThreadError(answer.error ?? { exit: 8, code: 'audit.write_failed', message: `cannot write the audit log ${this.path}: no answer from the audit thread` }));
          return;
        }
        case 'group':
          this.options.onGroupCommit?.(answer.records);
          return;
        case 'closed':
          this.busy(thread, -1);
          thread.closed?.();
          return;
      }
    });
    worker.on('error', (err) => stopped(err.message));
    worker.on('exit', (code) => stopped(`exit code ${code}`));
    return thread;
  }

  private busy(thread: SinkThread, delta: number): void {
    thread.busy += delta;
    if (thread.busy > 0) thread.worker.ref();
    else thread.worker.unref();
  }
}

/** Opens the log on its own thread; fails as openJsonlFileSink does when the log cannot be used. */
export async function openThreadedJsonlFileSink(logPath: string, options: ThreadedJsonlFileSinkOptions = {}): Promise<ThreadedJsonlFileSink> {
  const sink = new ThreadedJsonlFileSink(path.resolve(logPath), options);
  await sink.open();
  return sink;
}
