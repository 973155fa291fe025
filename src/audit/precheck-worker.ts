/**
 * A second thread for `audit verify` on large logs: it runs precheckLines (scan + hash, the
 * bulk of the work) on the batches it is given while the main thread reads, links the chain
 * and prechecks other batches itself.
 *
 * startPrecheckWorker() returns null when the compiled thread entry is not next to this module
 * (e.g. when running from the TypeScript sources under vitest): the verifier then does all the
 * work on its own thread, with the same verdicts. If the thread fails, every pending and later
 * precheck rejects with PrecheckWorkerFailed and the verifier starts over without it.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PrecheckAnswer, PrecheckRequest } from './precheck-worker-thread.js';

export class PrecheckWorkerFailed extends Error {}

export interface PrecheckWorker {
  /** Batches sent and not yet answered. */
  readonly inFlight: number;
  /**
   * Moves `bytes` to the thread (the caller's view of it becomes empty) and resolves to the
   * same bytes, moved back, with precheckLines' facts for the lines [starts[i], ends[i]).
   */
  precheck(bytes: ArrayBuffer, starts: number[], ends: number[]): Promise<{ bytes: ArrayBuffer; facts: Float64Array }>;
  close(): Promise<void>;
}

// `../audit/` rather than `./`: the same file from dist/audit/ and from the CLI bundle's chunks in
// dist/bin/ (scripts/bundle-cli.mjs), which do not contain the thread's entry
const ENTRY = new URL('../audit/precheck-worker-thread.js', import.meta.url);

export function startPrecheckWorker(): PrecheckWorker | null {
  if (!fs.existsSync(fileURLToPath(ENTRY))) return null;
  const worker = new Worker(ENTRY);
  const pending = new Map<number, { resolve: (a: { bytes: ArrayBuffer; facts: Float64Array }) => void; reject: (e: Error) => void }>();
  let failure: PrecheckWorkerFailed | null = null;
  let nextId = 0;
  const failAll = (why: string) => {
    failure ??= new PrecheckWorkerFailed(`the verifier's helper thread failed: ${why}`);
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  worker.on('message', (answer: PrecheckAnswer) => {
    const p = pending.get(answer.id);
    pending.delete(answer.id);
    p?.resolve(answer);
  });
  worker.on('error', (err) => failAll(err.message));
  worker.on('exit', (code) => failAll(`it exited with code ${code}`));
  return {
    get inFlight() {
      return pending.size;
    },
    precheck(bytes, starts, ends) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      const request: PrecheckRequest = { id, bytes, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage(request, [bytes, request.starts.buffer as ArrayBuffer, request.ends.buffer as ArrayBuffer]);
      });
    },
    async close() {
      failure ??= new PrecheckWorkerFailed('the helper thread was closed');
      await worker.terminate();
    },
  };
}
