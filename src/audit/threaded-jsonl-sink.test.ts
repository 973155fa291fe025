/**
 * The JSONL sink on its own thread (the gateway's and `hoopq mcp`'s): the same records, chain
 * and checkpoints as the in-thread sink, the same errors, and a thread that stops never turns
 * into an acknowledged record. The thread is real (a worker running dist/audit/jsonl-sink-thread.js).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditWriteError, ConfigError } from '../errors.js';
import { readLogLines as lines, sampleAuditBody as body } from './audit-record.case.js';
import { parseCheckpointLine } from './checkpoint.js';
import { openJsonlFileSink } from './jsonl-file-sink.js';
import { openThreadedJsonlFileSink } from './threaded-jsonl-sink.js';
import { verifyAuditLog } from './verify-audit-log.js';

let dir: string;
let log: string;
let keyDir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-threaded-'));
  log = path.join(dir, 'audit.jsonl');
  keyDir = path.join(dir, 'keys');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ThreadedJsonlFileSink', () => {
  it('200 concurrent appends: each caller gets its own stored record, seq 1..200 in one chain, shared commits, checkpoints to the end', async () => {
    const groups: number[] = [];
    const sink = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 50 }, onGroupCommit: (n) => groups.push(n) });
    const bodies = Array.from({ length: 200 }, (_, i) => body({ sql: `SELECT ${i}` }));
    const returned = await Promise.all(bodies.map((b) => sink.append(b)));
    await sink.close();
    const stored = lines(log);
    expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (let i = 0; i < 200; i++) {
      expect(returned[i]!.id).toBe(bodies[i]!.id);
      expect(stored[returned[i]!.seq - 1]).toEqual(returned[i]);
    }
    expect(groups.reduce((a, b) => a + b, 0)).toBe(200);
    expect(groups.length).toBeLessThan(200);
    const report = await verifyAuditLog(log, { keyDir });
    expect(report).toMatchObject({ ok: true, records: 200 });
    expect(report.checkpoints.lastSeq).toBe(200);
  });

  it('a line is in the file when its append resolves, and the thread shares the log with writers of other threads', async () => {
    const threaded = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
    const plain = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
    for (let i = 0; i < 20; i++) {
      const a = await threaded.append(body({ sql: `SELECT ${i}` }));
      expect(lines(log).at(-1)).toEqual(a);
      const b = await plain.append(body({ sql: `SELECT -${i}` }));
      expect(b.seq).toBe(a.seq + 1);
    }
    await Promise.all([threaded.close(), plain.close()]);
    expect(await verifyAuditLog(log, { keyDir })).toMatchObject({ ok: true, records: 40 });
  });

  describe('fails as the in-thread sink fails', () => {
    it('a log whose directory does not exist: exit 8 at open', async () => {
      const err = await openThreadedJsonlFileSink(path.join(dir, 'missing', 'audit.jsonl')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditWriteError);
      expect(err).toMatchObject({ exitCode: 8, message: expect.stringMatching(/directory does not exist/) });
    });

    it('a checkpoint key readable by others: exit 3 at open', async () => {
      const first = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 1 } });
      await first.append(body());
      await first.close();
      fs.chmodSync(path.join(keyDir, 'audit-checkpoint.key'), 0o644);
      const err = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 1 } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).toMatchObject({ code: 'audit.key_permissions', exitCode: 3 });
    });

    it('a full disk and a deleted log: each append refused with the sink\'s own code, nothing acknowledged', async () => {
      fs.symlinkSync('/dev/full', log);
      const full = await openThreadedJsonlFileSink(log);
      await expect(full.append(body())).rejects.toMatchObject({ exitCode: 8, message: expect.stringMatching(/disk is full/) });
      await full.close();
      fs.rmSync(log);

      const sink = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
      await sink.append(body());
      await sink.close();
      fs.rmSync(log);
      const again = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
      const err = await again.append(body()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditWriteError);
      expect(err).toMatchObject({ code: 'audit.log_replaced', exitCode: 8 });
      await again.close();
    });

    it('one record that cannot be written fails alone (exit 8)', async () => {
      const sink = await openThreadedJsonlFileSink(log);
      const results = await Promise.allSettled([sink.append(body()), sink.append(body({ rows: Number.NaN })), sink.append(body())]);
      await sink.close();
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ exitCode: 8, code: 'audit.invalid_record' });
      expect(lines(log)).toHaveLength(2);
    });
  });

  it('a thread that stops fails the appends it had not confirmed (exit 8); the next append starts a new thread on an intact chain', async () => {
    const sink = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
    await sink.append(body({ sql: 'SELECT before' }));
    const inFlight = Array.from({ length: 50 }, (_, i) => sink.append(body({ sql: `SELECT ${i}` })));
    await sink.terminateThread();
    const settled = await Promise.allSettled(inFlight);
    const confirmed = settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ id: string }>).value.id);
    for (const r of settled) if (r.status === 'rejected') expect(r.reason).toMatchObject({ exitCode: 8, code: 'audit.write_failed', message: expect.stringMatching(/audit thread stopped/) });
    expect(settled.some((r) => r.status === 'rejected')).toBe(true);
    // every confirmed record is in the log
    const ids = new Set(lines(log).map((r) => r.id));
    for (const id of confirmed) expect(ids.has(id)).toBe(true);
    const after = await sink.append(body({ sql: 'SELECT after' }));
    await sink.close();
    expect(lines(log).at(-1)).toEqual(after);
    expect(await verifyAuditLog(log, { keyDir })).toMatchObject({ ok: true });
  });

  it('a thread stopped in the middle of its commits: every confirmed record is in the log, the lock is free again, the chain verifies', async () => {
    const sink = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
    for (const delayMs of [1, 2, 4, 8]) {
      const inFlight = Array.from({ length: 1500 }, (_, i) => sink.append(body({ sql: `SELECT ${delayMs}, ${i}` })));
      await new Promise((r) => setTimeout(r, delayMs));
      await sink.terminateThread();
      const settled = await Promise.allSettled(inFlight);
      const ids = new Set(lines(log).map((r) => r.id));
      for (const r of settled) {
        if (r.status === 'fulfilled') expect(ids.has(r.value.id)).toBe(true);
        else expect(r.reason).toMatchObject({ exitCode: 8 });
      }
      // a new thread takes the cross-process lock again (a lost lock would time out) and goes on
      const after = await sink.append(body({ sql: 'SELECT after' }));
      expect(lines(log).at(-1)).toEqual(after);
    }
    await sink.close();
    expect(await verifyAuditLog(log, { keyDir })).toMatchObject({ ok: true });
  }, 60_000);

  it('close() waits for queued appends and signs the closing checkpoint; later appends are refused', async () => {
    const sink = await openThreadedJsonlFileSink(log, { checkpoint: { keyDir, every: 1000 } });
    const queued = Array.from({ length: 30 }, () => sink.append(body()));
    const closing = sink.close();
    await expect(Promise.all(queued)).resolves.toHaveLength(30);
    await closing;
    const cps = fs.readFileSync(`${log}.checkpoints`, 'utf8').trim().split('\n').map(parseCheckpointLine);
    expect(cps.at(-1)!.seq).toBe(30);
    await expect(sink.append(body())).rejects.toMatchObject({ code: 'audit.sink_closed', exitCode: 8 });
  });
});
