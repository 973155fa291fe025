import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createFrameResponse } from './frame-response.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** Writes 64 KiB chunks the way the result writer does: await 'drain' whenever write() says so. */
async function produce(out: NodeJS.WritableStream & { writableNeedDrain?: boolean }, stats: { written: number; error?: string }, max: number) {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  try {
    while (stats.written < max) {
      stats.written += chunk.length;
      if (!out.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => {
            out.off('close', onClose);
            resolve();
          };
          const onClose = () => {
            out.off('drain', onDrain);
            reject(new Error('closed'));
          };
          out.once('drain', onDrain);
          out.once('close', onClose);
        });
      }
    }
  } catch (err) {
    stats.error = (err as Error).message;
  }
}

/**
 * One batch of `bytes` written to a frame response, read by a raw client that pauses `pauseMs`
 * after each chunk it gets; `onRequest` runs in the server as the batch is written. Resolves
 * when the connection closes (or after `waitMs`) with how the write ended and what was read.
 */
async function sendToSteadyReader(options: { bytes: number; stallTimeoutMs: number; pauseMs: number; waitMs: number }, onRequest?: () => void) {
  const outcome: { error?: string; done?: boolean } = {};
  server = createServer((_req, res) => {
    const frames = createFrameResponse(res, { stallTimeoutMs: options.stallTimeoutMs });
    frames.out.write(Buffer.alloc(options.bytes, 0x61), (err) => {
      if (err) outcome.error = err.message;
      else outcome.done = true;
      void frames.finish({ ok: true });
    });
    onRequest?.();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('POST /v1/query HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n');
  let received = 0;
  socket.on('data', (d: Buffer) => {
    received += d.length;
    socket.pause();
    setTimeout(() => socket.resume(), options.pauseMs);
  });
  const ended = new Promise<void>((r) => socket.once('close', () => r()));
  await Promise.race([ended, sleep(options.waitMs)]);
  socket.destroy();
  return { outcome, received };
}

describe('frame response: a client that stops reading does not grow gateway memory', () => {
  it('holds production to about the socket buffers, then cuts the stalled client off', async () => {
    const stats: { written: number; error?: string } = { written: 0 };
    let closedAt = 0;
    server = createServer((_req, res) => {
      const frames = createFrameResponse(res, { stallTimeoutMs: 800 });
      res.once('close', () => (closedAt = Date.now()));
      void produce(frames.out, stats, 1 << 30);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('POST /v1/query HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n');
    socket.pause(); // never read
    await sleep(400);
    const early = stats.written;
    await sleep(300);
    // stalled: nothing more was produced while the client read nothing
    expect(stats.written).toBe(early);
    expect(early).toBeLessThan(64 * 1024 * 1024);
    await sleep(700);
    expect(closedAt).toBeGreaterThan(0); // cut off after the stall timeout
    expect(stats.error).toBe('closed');
    socket.destroy();
  });

  it('streams everything to a reading client and ends with notices and the end frame', async () => {
    server = createServer((_req, res) => {
      const frames = createFrameResponse(res, { stallTimeoutMs: 5_000 });
      void (async () => {
        const stats = { written: 0 };
        await produce(frames.out, stats, 4 * 64 * 1024);
        frames.notice('hoopq: a notice');
        await frames.finish({ ok: true, outcome: { rows: 4 } });
      })();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.headers.get('content-type')).toBe('application/vnd.hoopq.frames');
    const body = Buffer.from(await res.arrayBuffer());
    // 4 chunks of 64 KiB, in data frames of 16 KiB + 5-byte headers, one notice, one end
    const tail = body.subarray(16 * (5 + 16 * 1024));
    expect(tail[0]).toBe(0x4e);
    expect(tail.subarray(5, 5 + tail.readUInt32BE(1)).toString()).toBe('hoopq: a notice');
    const end = tail.subarray(5 + tail.readUInt32BE(1));
    expect(end[0]).toBe(0x45);
    expect(JSON.parse(end.subarray(5).toString())).toEqual({ ok: true, outcome: { rows: 4 } });
  });

  it('does not cut a reading client because this process itself stood still longer than the timeout', async () => {
    const { outcome, received } = await sendToSteadyReader({ bytes: 8 << 20, stallTimeoutMs: 1_500, pauseMs: 5, waitMs: 30_000 }, () =>
      // the whole process stalls (a loaded machine, a long synchronous task) mid-result
      setTimeout(() => {
        const until = Date.now() + 3_000;
        while (Date.now() < until);
      }, 100),
    );
    expect(outcome).toEqual({ done: true });
    expect(received).toBeGreaterThan(8 << 20);
  });

  it('never cuts a slow but steady reader, however long one batch takes to drain (issue 13)', async () => {
    // one 32 MiB batch, read at about 4 MiB/s: far longer to drain than the stall timeout,
    // but the socket takes bytes all the time (the timeout is 2 s, not less: the kernel wakes
    // a writer only once a third of the socket's send buffer is free, megabytes on loopback)
    // ~64 KiB per 15 ms
    const { outcome, received } = await sendToSteadyReader({ bytes: 32 << 20, stallTimeoutMs: 2_000, pauseMs: 15, waitMs: 50_000 });
    expect(outcome).toEqual({ done: true });
    expect(received).toBeGreaterThan(32 << 20);
  }, 60_000);
});
