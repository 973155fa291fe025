/**
 * The thread behind pg-sync.ts: one PostgreSQL session (node-postgres) that runs the calling
 * thread's requests one at a time and wakes it when each answer is posted; and, when asked,
 * a second session that LISTENs on channels and posts each notification's channel on the
 * notification port (the calling thread reacts when its event loop next runs).
 *
 * A request is a list of statements, run in one transaction when `transaction` is set (any
 * failure rolls the whole list back). An answer is every statement's rows, or the error's
 * message and SQLSTATE. A session that broke is replaced at the next request.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import { isSqlState } from './sql-state.js';

export interface SyncRequest {
  id: number;
  steps: Array<{ sql: string; params?: unknown[] }>;
  transaction: boolean;
}

export type SyncAnswer =
  | { id: number; ok: true; results: Array<{ rows: Record<string, unknown>[]; rowCount: number }> }
  | { id: number; ok: false; message: string; code?: string };

export interface SyncThreadData {
  url: string;
  /** Int32 flag: set to 1 and notified when an answer is posted. */
  flag: SharedArrayBuffer;
  port: MessagePort;
  /** Where notifications go (channel names); absent: no LISTEN session. */
  notify?: MessagePort;
  listen?: string[];
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

const data = workerData as SyncThreadData;
const flag = new Int32Array(data.flag);
let client: pg.Client | undefined;

async function session(): Promise<pg.Client> {
  if (client) return client;
  const c = new pg.Client({
    connectionString: data.url,
    connectionTimeoutMillis: data.connectTimeoutMs,
    statement_timeout: data.statementTimeoutMs,
    query_timeout: data.statementTimeoutMs + 1_000,
    application_name: 'hoopq state',
  });
  c.on('error', () => {
    if (client === c) client = undefined;
  });
  await c.connect();
  // committed = durable before the answer: a revocation `token revoke` reported survives a crash
  await c.query('SET synchronous_commit = on');
  client = c;
  return c;
}

async function answer(request: SyncRequest): Promise<SyncAnswer> {
  let c: pg.Client | undefined;
  try {
    c = await session();
    const results: Array<{ rows: Record<string, unknown>[]; rowCount: number }> = [];
    if (request.transaction) await c.query('BEGIN');
    try {
      for (const step of request.steps) {
        const answered = (await c.query(step.sql, step.params)) as pg.QueryResult | pg.QueryResult[];
        // a text of several statements (no parameters) answers each: its last one counts
        const r = Array.isArray(answered) ? answered[answered.length - 1]! : answered;
        results.push({ rows: r.rows ?? [], rowCount: r.rowCount ?? 0 });
      }
      if (request.transaction) await c.query('COMMIT');
    } catch (err) {
      // also after a failed text that began its own transaction: the session must not stay in
      // an aborted one (a ROLLBACK outside a transaction only warns)
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return { id: request.id, ok: true, results };
  } catch (err) {
    // a session in an unknown state is not reused
    if (c && (!isSqlState((err as { code?: string }).code) || (err as Error).message.includes('timeout'))) {
      client = undefined;
      void c.end().catch(() => undefined);
    }
    return { id: request.id, ok: false, message: (err as Error).message, code: (err as { code?: string }).code };
  }
}

data.port.on('message', (request: SyncRequest) => {
  void answer(request).then((a) => {
    data.port.postMessage(a);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});

/** The LISTEN session: reconnects after a failure, and posts '*' then (anything may have been missed). */
async function listen(): Promise<void> {
  const notify = data.notify;
  if (!notify || !data.listen?.length) return;
  for (;;) {
    const c = new pg.Client({ connectionString: data.url, connectionTimeoutMillis: data.connectTimeoutMs, application_name: 'hoopq listen' });
    const lost = new Promise<void>((resolve) => {
      c.on('error', () => resolve());
      c.on('end', () => resolve());
    });
    try {
      await c.connect();
      c.on('notification', (n) => notify.postMessage(n.channel));
      for (const channel of data.listen) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      notify.postMessage('*');
      await lost;
    } catch {
      // retried below
    }
    void c.end().catch(() => undefined);
    notify.postMessage('*');
    await new Promise((r) => setTimeout(r, 500));
  }
}

void listen();
parentPort?.unref();
