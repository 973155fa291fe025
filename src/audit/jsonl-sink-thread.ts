/**
 * The thread a long-lived process (the gateway, `hoopq mcp`) appends its JSONL audit log
 * from (threaded-jsonl-sink.ts starts it). It runs the same JsonlFileSink as every other
 * process, with its group commit, lock, torn-tail recovery and checkpoints; only the thread
 * differs, so the process's event loop keeps serving queries while a group's write and
 * fdatasync are in progress, and appends that arrive meanwhile join the next group.
 *
 * Messages in: `append` (id, record body), `close`. Out: `ready` / `failed` once the sink is
 * open or could not be, `appended` (id, the stored record or the error), `group` (records a
 * commit made durable), `closed`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isHoopqError } from '../errors.js';
import type { AuditRecord, AuditRecordBody } from './audit-record.js';
import { openJsonlFileSink, type JsonlFileSink } from './jsonl-file-sink.js';
import type { SinkCheckpointOptions } from './sink-checkpointing.js';

export interface SinkThreadData {
  path: string;
  checkpoint?: SinkCheckpointOptions;
  lockTimeoutMs?: number;
}

/** An error as it crosses the thread: what the caller's message, exit code and hint need. */
export interface ThreadError {
  exit: number;
  code: string;
  message: string;
  hint?: string;
  rule?: string;
}

export type SinkThreadRequest = { kind: 'append'; id: number; body: AuditRecordBody } | { kind: 'close' };

export type SinkThreadAnswer =
  | { kind: 'ready' }
  | { kind: 'failed'; error: ThreadError }
  | { kind: 'appended'; id: number; record?: AuditRecord; error?: ThreadError }
  | { kind: 'group'; records: number }
  | { kind: 'closed' };

export function toThreadError(err: unknown): ThreadError {
  if (isHoopqError(err)) return { exit: err.exitCode, code: err.code, message: err.message, hint: err.hint, rule: err.rule };
  return { exit: 8, code: 'audit.write_failed', message: `the audit record could not be written: ${err instanceof Error ? err.message : String(err)}` };
}

const port = parentPort;
if (port) {
  const data = workerData as SinkThreadData;
  const send = (answer: SinkThreadAnswer) => port.postMessage(answer);
  let sink: JsonlFileSink | undefined;
  const early: SinkThreadRequest[] = [];
  const handle = (request: SinkThreadRequest) => {
    if (!sink) {
      early.push(request);
      return;
    }
    if (request.kind === 'append') {
      sink.append(request.body).then(
        (record) => send({ kind: 'appended', id: request.id, record }),
        (err: unknown) => send({ kind: 'appended', id: request.id, error: toThreadError(err) }),
      );
    } else {
      sink.close().then(
        () => send({ kind: 'closed' }),
        () => send({ kind: 'closed' }),
      );
    }
  };
  port.on('message', handle);
  openJsonlFileSink(data.path, { checkpoint: data.checkpoint, lockTimeoutMs: data.lockTimeoutMs, onGroupCommit: (records) => send({ kind: 'group', records }) }).then(
    (opened) => {
      sink = opened;
      send({ kind: 'ready' });
      for (const request of early.splice(0)) handle(request);
    },
    (err: unknown) => send({ kind: 'failed', error: toThreadError(err) }),
  );
}
