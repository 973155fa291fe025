/**
 * The response side of a query: an `out` stream for runQuery that frames result bytes onto
 * the HTTP response, with the socket's backpressure passed through.
 *
 * Invariants:
 * - memory stays flat for a client that stops reading: `out`'s write() returns false and
 *   'drain' waits until the socket has taken the previous frame, and runQuery awaits 'drain';
 * - a client that stops reading for longer than `stallTimeoutMs` is cut off (the query is
 *   then cancelled and recorded), so a stalled reader cannot pin a warehouse slot forever;
 * - headers are sent with the first frame, so an error before any output can still get a
 *   plain HTTP error status (see send-error.ts); after that, errors travel in the end frame.
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { WarehouseError } from '../errors.js';
import { FRAME_DATA, FRAME_END, FRAME_NOTICE, FRAMES_CONTENT_TYPE, encodeFrame } from '../gateway-client/frame-protocol.js';

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
  const out = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (res.destroyed) return callback(clientGone());
      start();
      if (res.write(encodeFrame(FRAME_DATA, chunk))) return callback();
      waitForDrain(res, options.stallTimeoutMs, callback);
    },
  });
  // Failures surface to runQuery through its own write/drain calls; an unheard 'error' event
  // must not crash the gateway.
  out.on('error', () => {});
  // The client going away ends the stream for runQuery (its drain wait rejects on close).
  res.once('close', () => {
    if (!out.destroyed && !out.writableFinished) out.destroy(clientGone());
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

/** The client hung up before the end: the query is cancelled and recorded with this (exit 7), not as a bug. */
function clientGone(): WarehouseError {
  return new WarehouseError('gateway.client_gone', 'the client went away before the result was complete; the query was cancelled', {
    rule: 'gateway.client',
    hint: 'keep the connection open until the end frame',
  });
}

function waitForDrain(res: ServerResponse, stallTimeoutMs: number, callback: (err?: Error) => void): void {
  const cleanup = () => {
    clearTimeout(timer);
    res.off('drain', onDrain);
    res.off('close', onClose);
  };
  const onDrain = () => {
    cleanup();
    callback();
  };
  const onClose = () => {
    cleanup();
    callback(clientGone());
  };
  const timer = setTimeout(() => {
    cleanup();
    // Cut the connection: runQuery's output then fails, the query is cancelled and recorded.
    res.destroy();
    callback(
      new WarehouseError('gateway.client_stalled', `the client read none of the result for ${stallTimeoutMs} ms; the query was cancelled`, {
        rule: 'gateway.stall_timeout',
        hint: 'read the result as it arrives; the operator sets the limit with --stall-timeout',
      }),
    );
  }, stallTimeoutMs);
  res.on('drain', onDrain);
  res.on('close', onClose);
}
