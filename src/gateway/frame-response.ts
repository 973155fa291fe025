/**
 * The response side of a query: an `out` stream for runQuery that frames result bytes onto
 * the HTTP response, with the socket's backpressure passed through.
 *
 * Invariants:
 * - memory stays flat for a client that stops reading: `out`'s write() returns false and
 *   'drain' waits until the socket has taken the previous frame, and runQuery awaits 'drain';
 * - a client that reads nothing for longer than `stallTimeoutMs` is cut off (the query is
 *   then cancelled and recorded as `output.stalled`), so a stalled reader cannot pin a
 *   warehouse slot forever; a slow but steady one is never cut: result bytes go out in
 *   frames of at most PIECE_BYTES, and every piece the socket takes counts as progress
 *   (a whole batch could take longer than the timeout to drain at 10 KB/s);
 * - headers are sent with the first frame, so an error before any output can still get a
 *   plain HTTP error status (see send-error.ts); after that, errors travel in the end frame.
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { WarehouseError } from '../errors.js';
import { FRAME_DATA, FRAME_END, FRAME_NOTICE, FRAMES_CONTENT_TYPE, encodeFrame } from '../gateway-client/frame-protocol.js';

/** Result bytes go out in data frames of at most this size, so progress is seen piece by piece. */
const PIECE_BYTES = 16 * 1024;

export interface FrameResponse {
  /** Pass as runQuery's `out`. */
  out: Writable;
  /** Notices are sent after the result bytes, before the end frame (stderr order is free). */
  notice(message: string): void;
  /** True once the 200 header and at least one frame went out. */
  isStarted(): boolean;
  /** Flushes the data frames, writes the notices and the end frame, ends the response. */
  finish(end: unknown): Promise<void>;
}

export interface FrameResponseOptions {
  stallTimeoutMs: number;
}

export function createFrameResponse(res: ServerResponse, options: FrameResponseOptions): FrameResponse {
  let started = false;
  const notices: string[] = [];
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'content-type': FRAMES_CONTENT_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  };
  // when the socket last took bytes of ours (a piece flushed, or drained)
  let progressAt = Date.now();
  const onProgress = () => void (progressAt = Date.now());
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      start();
      writePieces(chunk).then(() => callback(), callback);
    },
  });
  async function writePieces(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length; at += PIECE_BYTES) {
      if (res.destroyed) throw clientGone();
      if (!res.write(encodeFrame(FRAME_DATA, chunk.subarray(at, at + PIECE_BYTES)), onProgress)) {
        await waitForDrain(res, options.stallTimeoutMs, () => progressAt);
      }
    }
  }
  // Failures surface to runQuery through its own write/drain calls; an unheard 'error' event
  // must not crash the gateway.
  out.on('error', () => {});
  // The client going away ends the stream for runQuery (its drain wait rejects on close).
  res.once('close', () => {
    if (!out.destroyed && !out.writableFinished) out.destroy();
  });
  return {
    out,
    notice: (message) => void notices.push(message),
    isStarted: () => started,
    async finish(end) {
      if (!out.destroyed && !out.writableEnded) {
        await new Promise<void>((resolve) => {
          out.end(() => resolve());
          out.once('close', () => resolve());
        });
      }
      if (res.destroyed || res.writableEnded) return;
      start();
      for (const n of notices) res.write(encodeFrame(FRAME_NOTICE, n));
      res.end(encodeFrame(FRAME_END, JSON.stringify(end)));
    },
  };
}

/**
 * Resolves on 'drain'; rejects when the client goes away, or when the socket has taken none
 * of our bytes for `stallTimeoutMs` (the connection is then cut: the query is cancelled).
 */
function waitForDrain(res: ServerResponse, stallTimeoutMs: number, lastProgress: () => number): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearInterval(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(clientGone());
    };
    // A tick that comes late means this process itself was not running (a loaded machine, a
    // long synchronous task), so it could not see the client read: the client's silence is
    // counted again from then, and the socket callbacks that were waiting get to run.
    const period = Math.max(10, Math.min(1_000, Math.floor(stallTimeoutMs / 4)));
    let lastTick = Date.now();
    let resumedAt = 0;
    const timer = setInterval(() => {
      const now = Date.now();
      if (now - lastTick > 2 * period) resumedAt = now;
      lastTick = now;
      if (now - Math.max(lastProgress(), resumedAt) < stallTimeoutMs) return;
      cleanup();
      // Cut the connection: runQuery's output then fails, the query is cancelled and recorded.
      res.destroy();
      reject(
        new WarehouseError('output.stalled', `the client read nothing of the result for ${stallTimeoutMs} ms; the gateway cut the connection and cancelled the query`, {
          rule: 'gateway.stall_timeout',
          hint: 'read the result as it arrives (a slow reader is fine, one that stops is not), or ask for fewer rows',
        }),
      );
    }, period);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

function clientGone(): WarehouseError {
  return new WarehouseError('output.closed', 'the client went away before the result was complete; the query was cancelled', {
    rule: 'output',
    hint: 'read the whole result, or ask for fewer rows (max_rows, LIMIT)',
  });
}
