/**
 * The synchronous bridge against a server that never answers (a TCP listener that accepts
 * and stays silent, like a host behind a black hole): a call gives up at its connect timeout
 * instead of blocking forever, and for the next second the bridge does not try again — every
 * call in between fails at once, so a gateway whose database is gone keeps answering (with
 * refusals) instead of freezing for a connect timeout per call.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PgSync } from './pg-sync.js';
import { isSqlState } from './sql-state.js';

let server: Server;
let port: number;
let connections = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = createServer((socket) => {
    connections += 1;
    sockets.push(socket); // never answers the startup message
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

it('a silent server: the call ends at the connect timeout, and calls within the next second fail at once without connecting', async () => {
  const db = new PgSync(`postgres://hoopq@127.0.0.1:${port}/hoopq`, { connectTimeoutMs: 400 });
  try {
    let t = Date.now();
    expect(() => db.query('SELECT 1')).toThrow();
    const first = Date.now() - t;
    expect(first).toBeGreaterThanOrEqual(350);
    t = Date.now();
    for (let i = 0; i < 10; i++) expect(() => db.query('SELECT 1')).toThrow();
    expect(Date.now() - t).toBeLessThan(300);
    // this thread was blocked in the calls: the listener counts its connections now
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connections).toBe(1);
  } finally {
    db.close();
  }
});

it('tells SQLSTATEs (the server answered) from socket errors (it did not)', () => {
  expect(isSqlState('42P01')).toBe(true);
  expect(isSqlState('25006')).toBe(true);
  expect(isSqlState('ECONNREFUSED')).toBe(false);
  expect(isSqlState('hoopq_timeout')).toBe(false);
  expect(isSqlState(undefined)).toBe(false);
});
