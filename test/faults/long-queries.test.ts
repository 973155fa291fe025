/**
 * Black-box: long queries never block short ones (issue 13). One run holds N long DuckDB
 * queries in a running gateway — each keeps an engine call busy for up to its 60 s timeout,
 * which used to take every thread of libuv's pool — while another run's `SELECT 1` and
 * `/readyz` are timed from the moment they are sent. Bounds are generous (the machine may
 * be loaded); without the engine-call gate and the sized pool both took the full minute.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDemoInMode, type Demo } from '../cli/cli-harness.js';

// each case spawns several hoopq processes one after another: slow on a loaded machine
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const LONG_SQL = 'SELECT count(*) AS n FROM analytics.events a, analytics.events b, analytics.events c WHERE a.id + b.id + c.id < 0';
const LONG_QUERIES = 6;
/** Generous: a warm SELECT 1 takes well under a second; the stall it guards against took 60 s. */
const BOUND_MS = 8_000;

let demo: Demo;

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
});

afterAll(async () => {
  await demo.close();
  rmSync(demo.dir, { recursive: true, force: true });
});

/**
 * POST /v1/query; `data` is the result bytes (the data frames' payloads), `error` the error
 * code from the end frame, or from the JSON body of a refusal made before any frame.
 */
async function post(token: string, sql: string, timeoutMs = 120_000): Promise<{ status: number; data: string; error?: string }> {
  const res = await fetch(`${demo.gateway!.url}/v1/query`, {
    signal: AbortSignal.timeout(timeoutMs),
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql, justification: 'long and short', format: 'json' }),
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (!String(res.headers.get('content-type')).startsWith('application/vnd.hoopq.frames')) {
    return { status: res.status, data: '', error: (JSON.parse(body.toString('utf8')) as { error: { code: string } }).error.code };
  }
  let data = '';
  let end = '';
  // frames: 1 byte type ('D' data, 'N' notice, 'E' end), 4 bytes length, the payload
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    const payload = body.toString('utf8', at + 5, at + 5 + length);
    if (body[at] === 0x44) data += payload;
    if (body[at] === 0x45) end = payload;
    at += 5 + length;
  }
  return { status: res.status, data, error: end ? (JSON.parse(end) as { error?: { code: string } }).error?.code : undefined };
}

/** Milliseconds for `fn`, measured from the moment it starts. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

describe('long queries of one run cannot block another run', () => {
  it(`${LONG_QUERIES} long queries from one run: another run's SELECT 1 and /readyz still answer`, async () => {
    const longToken = demo.mint('analyst-agent', 'hog');
    const shortToken = demo.mint('analyst-agent', 'short');
    // warm the gateway: the first query of a process loads code the others do not
    expect((await post(shortToken, 'SELECT 1 AS one')).status).toBe(200);

    let finished = 0;
    const longs = Array.from({ length: LONG_QUERIES }, () =>
      post(longToken, LONG_SQL)
        .catch(() => ({ status: 0, data: '', error: 'connection failed' }))
        .finally(() => (finished += 1)),
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // they are all running now

    for (let i = 0; i < 3; i++) {
      const short = await timed(() => post(shortToken, 'SELECT 1 AS one', BOUND_MS * 2));
      expect(short.value.status).toBe(200);
      expect(JSON.parse(short.value.data)).toEqual([{ one: 1 }]);
      expect(short.ms).toBeLessThan(BOUND_MS);
      const ready = await timed(() => fetch(`${demo.gateway!.url}/readyz`, { signal: AbortSignal.timeout(BOUND_MS * 2) }).then((r) => r.status));
      expect(ready.value).toBe(200);
      expect(ready.ms).toBeLessThan(BOUND_MS);
      console.info(`with ${LONG_QUERIES} long queries running: SELECT 1 ${Math.round(short.ms)} ms, /readyz ${Math.round(ready.ms)} ms`);
    }
    expect(finished).toBe(0); // the long queries were still holding on the whole time

    // revoking the run stops them all (and frees the gateway for the next test file)
    expect(demo.admin(['token', 'revoke', '--run', 'hog']).code).toBe(0);
    const ended = await Promise.all(longs);
    expect(ended.map((r) => r.error)).toEqual(Array(LONG_QUERIES).fill('token.revoked'));
  });
});
