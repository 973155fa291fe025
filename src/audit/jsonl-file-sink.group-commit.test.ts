/**
 * Group commit: appends from concurrent callers of one sink share a write and an fsync, and
 * none is acknowledged before the fsync that covers it. The disk is the process boundary:
 * tests that need a failing or slow fsync give the sink a disk whose fdatasync they control.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditWriteError } from '../errors.js';
import type { AuditRecordBody } from './audit-record.js';
import { openJsonlFileSink, type AuditDisk } from './jsonl-file-sink.js';
import { verifyAuditLog } from './verify-audit-log.js';

function body(fields: Partial<AuditRecordBody> = {}): AuditRecordBody {
  return {
    id: randomUUID(), time: new Date().toISOString(), event: 'query', run: 'run-1', subject: 'ci', token_id: 't1',
    policy: { name: 'analyst', sha256: 'a'.repeat(64) }, justification: null, sql: 'SELECT 1', statements: ['select'],
    tables: { read: [], write: [] }, decision: 'allow', reason: null, masked: { columns: {}, detected: {} },
    warehouse: { kind: 'duckdb', job_id: null, bytes_processed: null }, rows: 1, result_sha256: null, duration_ms: 3, ...fields,
  };
}

function lines(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A real disk whose next fdatasync calls wait for the test to let them go, or fail. */
function controlledDisk() {
  const held: Array<{ go: () => void; fail: (err: Error) => void }> = [];
  let failNext: Error | undefined;
  const disk: AuditDisk = {
    fdatasync: (fd) =>
      new Promise<void>((resolve, reject) => {
        const real = () => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()));
        if (failNext) {
          const err = failNext;
          failNext = undefined;
          return reject(err);
        }
        held.push({ go: real, fail: reject });
      }),
  };
  return {
    disk,
    held,
    failNextSync(err: Error) {
      failNext = err;
    },
    async releaseAll() {
      while (held.length > 0) held.shift()!.go();
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 2));
  }
}

let dir: string;
let log: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-group-'));
  log = path.join(dir, 'audit.jsonl');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('JsonlFileSink group commit', () => {
  it('200 concurrent appends share fsyncs: fewer commits than records, seq 1..200 in one chain, each caller gets its own stored record', async () => {
    const groups: number[] = [];
    const sink = await openJsonlFileSink(log, { checkpoint: { keyDir: path.join(dir, 'keys'), every: 50 }, onGroupCommit: (n) => groups.push(n) });
    const bodies = Array.from({ length: 200 }, (_, i) => body({ sql: `SELECT ${i}` }));
    const returned = await Promise.all(bodies.map((b) => sink.append(b)));
    await sink.close();
    const stored = lines(log);
    expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(groups.reduce((a, b) => a + b, 0)).toBe(200);
    expect(groups.length).toBeLessThan(200);
    expect(Math.max(...groups)).toBeGreaterThan(1);
    for (let i = 0; i < 200; i++) {
      expect(returned[i]!.id).toBe(bodies[i]!.id);
      expect(stored[returned[i]!.seq - 1]).toEqual(returned[i]);
    }
    const report = await verifyAuditLog(log, { keyDir: path.join(dir, 'keys') });
    expect(report).toMatchObject({ ok: true, records: 200 });
    expect(report.checkpoints.lastSeq).toBe(200);
  });

  it('acknowledges no append before the fsync that covers it; appends arriving meanwhile wait for the next group', async () => {
    const d = controlledDisk();
    const sink = await openJsonlFileSink(log, { disk: d.disk });
    const acked: string[] = [];
    const first = Array.from({ length: 5 }, () => body());
    const firstDone = first.map((b) => sink.append(b).then(() => acked.push(b.id)));
    await until(() => d.held.length === 1);
    // the first group is written but not yet synced: no caller may go on
    expect(lines(log)).toHaveLength(5);
    const second = Array.from({ length: 3 }, () => body());
    const secondDone = second.map((b) => sink.append(b).then(() => acked.push(b.id)));
    for (let i = 0; i < 5; i++) await tick();
    expect(acked).toEqual([]);
    expect(lines(log)).toHaveLength(5); // the second group waits for the first fsync
    d.held.shift()!.go();
    await Promise.all(firstDone);
    expect(acked.sort()).toEqual(first.map((b) => b.id).sort());
    await until(() => d.held.length === 1);
    expect(acked).toHaveLength(5);
    await d.releaseAll();
    await Promise.all(secondDone);
    expect(acked).toHaveLength(8);
    await sink.close();
    expect((await verifyAuditLog(log)).ok).toBe(true);
  });

  it('a failing fsync fails every append of its group (exit 8), cuts their lines off, and the next group writes on an intact chain', async () => {
    const d = controlledDisk();
    const sink = await openJsonlFileSink(log, { disk: d.disk });
    const before = body();
    const ok = sink.append(before);
    await until(() => d.held.length === 1);
    await d.releaseAll();
    await ok;
    d.failNextSync(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const failing = Array.from({ length: 12 }, () => body());
    const results = await Promise.allSettled(failing.map((b) => sink.append(b)));
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(AuditWriteError);
      expect(err).toMatchObject({ exitCode: 8, code: 'audit.write_failed' });
    }
    // none of the failed group's lines stayed behind
    expect(lines(log).map((r) => r.id)).toEqual([before.id]);
    const after = sink.append(body());
    await until(() => d.held.length === 1);
    await d.releaseAll();
    expect((await after).seq).toBe(2);
    await sink.close();
    expect(await verifyAuditLog(log)).toMatchObject({ ok: true, records: 2 });
  });

  it('a failing write (disk full) fails every append waiting in the group', async () => {
    fs.symlinkSync('/dev/full', log);
    const sink = await openJsonlFileSink(log);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => sink.append(body())));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof AuditWriteError && /disk is full/.test(r.reason.message))).toBe(true);
    await sink.close();
  });

  it('one record that cannot be canonicalised fails alone; the rest of its group is written', async () => {
    const sink = await openJsonlFileSink(log);
    const good = [body(), body()];
    const [a, bad, c] = await Promise.allSettled([sink.append(good[0]!), sink.append(body({ rows: Number.NaN })), sink.append(good[1]!)]);
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'audit.invalid_record' } });
    await sink.close();
    expect(lines(log).map((r) => r.id)).toEqual(good.map((b) => b.id));
    expect((await verifyAuditLog(log)).ok).toBe(true);
  });

  it('close() waits for the group in flight and then refuses new appends', async () => {
    const d = controlledDisk();
    const sink = await openJsonlFileSink(log, { disk: d.disk });
    const pending = sink.append(body());
    await until(() => d.held.length === 1);
    const closing = sink.close();
    await expect(sink.append(body())).rejects.toMatchObject({ code: 'audit.sink_closed' });
    await d.releaseAll();
    await expect(pending).resolves.toMatchObject({ seq: 1 });
    await closing;
  });
});
