/**
 * Group commit: appends from concurrent callers of one sink share a write and an fsync, and
 * none is acknowledged before the fsync that covers it. The disk is the process boundary:
 * tests that need to watch or fail the fsync give the sink a disk whose fdatasync they control.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditWriteError } from '../errors.js';
import { readLogLines as lines, sampleAuditBody as body } from './audit-record.case.js';
import { openJsonlFileSink, type AuditDisk } from './jsonl-file-sink.js';
import { verifyAuditLog } from './verify-audit-log.js';



/**
 * A real disk that tells the test what it synced (the file's size at each fdatasync), can
 * run the test's code in the middle of a commit, and can fail its next syncs.
 */
function observedDisk() {
  const events: Array<{ synced: number } | { acked: string }> = [];
  let failing = 0;
  let during: (() => void) | undefined;
  const disk: AuditDisk = {
    fdatasync(fd) {
      const hook = during;
      during = undefined;
      hook?.();
      if (failing > 0) {
        failing -= 1;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      }
      fs.fdatasyncSync(fd);
      events.push({ synced: fs.fstatSync(fd).size });
    },
  };
  return {
    disk,
    events,
    failNextSyncs(n: number) {
      failing = n;
    },
    /** Runs fn inside the next fdatasync, i.e. while a group is being committed. */
    duringNextSync(fn: () => void) {
      during = fn;
    },
  };
}

let dir: string;
let log: string;
let checkpoint: { keyDir: string; every: number };
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-group-'));
  log = path.join(dir, 'audit.jsonl');
  checkpoint = { keyDir: path.join(dir, 'keys'), every: 100 };
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

  it('acknowledges no append before the fsync that covers its line; an append made during a commit waits for the next group', async () => {
    const d = observedDisk();
    const sink = await openJsonlFileSink(log, { disk: d.disk, checkpoint });
    const ack = (p: Promise<{ id: string }>) => p.then((r) => d.events.push({ acked: r.id }));
    const first = Array.from({ length: 5 }, () => body());
    const late = body();
    let lateDone: Promise<unknown> | undefined;
    d.duringNextSync(() => (lateDone = ack(sink.append(late))));
    await Promise.all(first.map((b) => ack(sink.append(b))));
    await lateDone;
    await sink.close();
    // every acknowledgement comes after a sync that covered its line's last byte
    const ends = new Map<string, number>();
    let offset = 0;
    for (const line of fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      offset += Buffer.byteLength(line) + 1;
      ends.set((JSON.parse(line) as { id: string }).id, offset);
    }
    let synced = 0;
    for (const e of d.events) {
      if ('synced' in e) synced = e.synced;
      else expect(synced, `record ${e.acked} acknowledged before it was synced`).toBeGreaterThanOrEqual(ends.get(e.acked)!);
    }
    // two groups: the five, then the one that arrived while they were being synced
    expect(d.events.filter((e) => 'synced' in e)).toHaveLength(2);
    expect(ends.get(late.id)).toBe(offset);
    expect(d.events.findIndex((e) => 'acked' in e && e.acked === late.id)).toBe(d.events.length - 1);
    expect((await verifyAuditLog(log, { keyDir: checkpoint.keyDir })).ok).toBe(true);
  });

  it('a failing fsync fails every append of its group (exit 8), cuts their lines off, and the next group writes on an intact chain', async () => {
    const d = observedDisk();
    const sink = await openJsonlFileSink(log, { disk: d.disk, checkpoint });
    const before = body();
    await sink.append(before);
    d.failNextSyncs(1);
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
    expect((await sink.append(body())).seq).toBe(2);
    await sink.close();
    expect(await verifyAuditLog(log, { keyDir: checkpoint.keyDir })).toMatchObject({ ok: true, records: 2 });
  });

  it('a failing write (disk full) fails every append waiting in the group', async () => {
    fs.symlinkSync('/dev/full', log);
    const sink = await openJsonlFileSink(log, { checkpoint });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => sink.append(body())));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof AuditWriteError && /disk is full/.test(r.reason.message))).toBe(true);
    await sink.close();
  });

  it('one record that cannot be canonicalised fails alone; the rest of its group is written', async () => {
    const sink = await openJsonlFileSink(log, { checkpoint });
    const good = [body(), body()];
    const [a, bad, c] = await Promise.allSettled([sink.append(good[0]!), sink.append(body({ rows: Number.NaN })), sink.append(good[1]!)]);
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'audit.invalid_record' } });
    await sink.close();
    expect(lines(log).map((r) => r.id)).toEqual(good.map((b) => b.id));
    expect((await verifyAuditLog(log, { keyDir: checkpoint.keyDir })).ok).toBe(true);
  });

  it('close() waits for the group in flight and then refuses new appends', async () => {
    const sink = await openJsonlFileSink(log, { checkpoint });
    const pending = sink.append(body());
    const closing = sink.close();
    await expect(sink.append(body())).rejects.toMatchObject({ code: 'audit.sink_closed' });
    await expect(pending).resolves.toMatchObject({ seq: 1 });
    await closing;
    expect(lines(log)).toHaveLength(1);
  });
});
