/**
 * Entry of the verifier's helper thread (started by precheck-worker.ts, never imported).
 *
 * Input: messages { id, bytes, starts, ends }, the batch's bytes transferred (not copied).
 * Output: for each, { id, bytes, facts } with precheckLines' answer, the bytes transferred back
 * unchanged. (Not a SharedArrayBuffer: copying a batch into one was measured 10x slower than
 * into an ordinary ArrayBuffer.)
 */
import { parentPort } from 'node:worker_threads';
import { precheckLines } from './precheck-lines.js';

export interface PrecheckRequest {
  id: number;
  bytes: ArrayBuffer;
  starts: Int32Array;
  ends: Int32Array;
}

export interface PrecheckAnswer {
  id: number;
  bytes: ArrayBuffer;
  facts: Float64Array;
}

const port = parentPort;
if (port) {
  port.on('message', (req: PrecheckRequest) => {
    const facts = precheckLines(Buffer.from(req.bytes), req.starts, req.ends);
    const answer: PrecheckAnswer = { id: req.id, bytes: req.bytes, facts };
    port.postMessage(answer, [req.bytes, facts.buffer as ArrayBuffer]);
  });
}
