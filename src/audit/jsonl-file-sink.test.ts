import { createHash, randomUUID, verify } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditWriteError } from '../errors.js';
import { readLogLines as lines, sampleAuditBody as body } from './audit-record.case.js';
import { checkpointSignedMessage, parseCheckpointLine } from './checkpoint.js';
import { loadCheckpointPublicKeys } from './checkpoint-key.js';
import { GENESIS_PREV, hashRecordContent } from './hash-record.js';
import { openJsonlFileSink } from './jsonl-file-sink.js';
import { verifyAuditLog } from './verify-audit-log.js';



let dir: string;
let log: string;
let keyDir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-sink-'));
  log = path.join(dir, 'audit.jsonl');
  keyDir = path.join(dir, 'keys');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('JsonlFileSink', () => {
  it('appends a hash chain: seq 1,2,3…, prev = previous hash, hash = sha256 of the canonical record without hash', async () => {
    const sink = await openJsonlFileSink(log);
    const returned = [];
    for (let i = 0; i < 5; i++) returned.push(await sink.append(body({ sql: `SELECT ${i}` })));
    await sink.close();
    const stored = lines(log);
    expect(stored.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(stored[0].prev).toBe(GENESIS_PREV);
    for (let i = 0; i < stored.length; i++) {
      const { hash, ...content } = stored[i];
      expect(hash).toBe(hashRecordContent(content));
      if (i > 0) expect(stored[i].prev).toBe(stored[i - 1].hash);
      expect(returned[i]).toEqual(stored[i]);
    }
    expect(fs.readFileSync(log, 'utf8').endsWith('\n')).toBe(true);
    expect(fs.statSync(log).mode & 0o777).toBe(0o600);
  });

  it('reads the head from the file on every append, so two sinks on one log interleave without gaps', async () => {
    const a = await openJsonlFileSink(log);
    const b = await openJsonlFileSink(log);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append(body())));
    await a.close();
    await b.close();
    expect(lines(log).map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await verifyAuditLog(log, { allowNoCheckpoint: true })).ok).toBe(true);
  });

  it('ignores seq/prev/hash a caller puts in the body', async () => {
    const sink = await openJsonlFileSink(log);
    const r = await sink.append({ ...body(), seq: 99, prev: 'f'.repeat(64), hash: 'e'.repeat(64) } as AuditRecordBody);
    await sink.close();
    expect(r.seq).toBe(1);
    expect(r.prev).toBe(GENESIS_PREV);
    expect((await verifyAuditLog(log, { allowNoCheckpoint: true })).ok).toBe(true);
  });

  it('moves a torn final line (no newline) to a side file and records log.recovered before the caller’s record', async () => {
    const sink = await openJsonlFileSink(log);
    for (let i = 0; i < 3; i++) await sink.append(body());
    const torn = Buffer.from('{"decision":"allow","event":"query","id":"half-writ');
    fs.appendFileSync(log, torn);
    const r = await sink.append(body({ sql: 'SELECT after' }));
    await sink.close();
    const stored = lines(log);
    expect(stored.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    const rec = stored[3];
    expect(rec.event).toBe('log.recovered');
    expect(rec.torn_bytes).toBe(torn.length);
    expect(rec.torn_sha256).toBe(createHash('sha256').update(torn).digest('hex'));
    expect(fs.readFileSync(path.join(dir, rec.torn_file as string))).toEqual(torn);
    expect(rec.torn_file).toMatch(/^audit\.jsonl\.torn-\d{8}T\d{6}Z-1$/);
    expect(r.seq).toBe(5);
    expect(r.prev).toBe(rec.hash);
    const report = await verifyAuditLog(log, { allowNoCheckpoint: true });
    expect(report.ok).toBe(true);
    expect(report.recoveries).toEqual([expect.objectContaining({ line: 4, seq: 4, tornBytes: torn.length, tornFileStatus: 'intact' })]);
  });

  it('treats unparsable complete lines at the end (a crash that left zeroed blocks) as torn too', async () => {
    const sink = await openJsonlFileSink(log);
    await sink.append(body());
    fs.appendFileSync(log, Buffer.concat([Buffer.alloc(300), Buffer.from('\n'), Buffer.alloc(10)]));
    await sink.append(body());
    await sink.close();
    const stored = lines(log);
    expect(stored.map((x) => [x.seq, x.event])).toEqual([[1, 'query'], [2, 'log.recovered'], [3, 'query']]);
    expect(stored[1].torn_bytes).toBe(311);
    expect((await verifyAuditLog(log, { allowNoCheckpoint: true })).ok).toBe(true);
  });

  it('recovers a log that is nothing but a torn line', async () => {
    fs.writeFileSync(log, '{"seq":1,"ha');
    const sink = await openJsonlFileSink(log);
    const r = await sink.append(body());
    await sink.close();
    expect(r.seq).toBe(2);
    expect(lines(log)[0]).toMatchObject({ seq: 1, event: 'log.recovered', prev: GENESIS_PREV, torn_bytes: 12 });
    expect((await verifyAuditLog(log, { allowNoCheckpoint: true })).ok).toBe(true);
  });

  it('writes signed checkpoints at the first record, then every N records and on close, with a 0600 key in a 0700 directory', async () => {
    const sink = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 3 } });
    for (let i = 0; i < 7; i++) await sink.append(body());
    await sink.close();
    const cps = fs.readFileSync(`${log}.checkpoints`, 'utf8').trim().split('\n').map(parseCheckpointLine);
    expect(cps.map((c) => c.seq)).toEqual([1, 3, 6, 7]);
    const stored = lines(log);
    const keys = loadCheckpointPublicKeys(keyDir);
    for (const cp of cps) {
      expect(cp.hash).toBe(stored[cp.seq - 1].hash);
      const end = fs.readFileSync(log, 'utf8').split('\n').slice(0, cp.seq).join('\n').length + 1;
      expect(cp.log_size_bytes).toBe(end);
      expect(verify(null, checkpointSignedMessage(cp), keys.get(cp.key_id)!, Buffer.from(cp.signature, 'base64'))).toBe(true);
    }
    expect(fs.statSync(keyDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(keyDir, 'audit-checkpoint.key')).mode & 0o777).toBe(0o600);
    // the token keys are someone else's: nothing named token-* is created
    expect(fs.readdirSync(keyDir).filter((f) => f.startsWith('token-'))).toEqual([]);
  });

  it('does not checkpoint on close when it appended nothing, nor twice for the same head', async () => {
    const a = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 2 } });
    await a.append(body());
    await a.append(body());
    await a.close(); // seq 1 (the first record) and head 2 on close
    const b = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 2 } });
    await b.close();
    expect(fs.readFileSync(`${log}.checkpoints`, 'utf8').trim().split('\n').map((l) => parseCheckpointLine(l).seq)).toEqual([1, 2]);
  });

  it('reuses the key across sinks and refuses a key readable by others', async () => {
    const a = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 1 } });
    await a.append(body());
    await a.close();
    const before = fs.readFileSync(path.join(keyDir, 'audit-checkpoint.key'));
    const b = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 1 } });
    await b.append(body());
    await b.close();
    expect(fs.readFileSync(path.join(keyDir, 'audit-checkpoint.key'))).toEqual(before);
    fs.chmodSync(path.join(keyDir, 'audit-checkpoint.key'), 0o644);
    await expect(openJsonlFileSink(log, { checkpoint: { keyDir, every: 1 } })).rejects.toMatchObject({ code: 'audit.key_permissions', exitCode: 3 });
  });

  it('refuses to start a fresh chain where signed checkpoints show the log was deleted', async () => {
    const a = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
    await a.append(body());
    await a.close();
    fs.rmSync(log);
    const b = await openJsonlFileSink(log, { checkpoint: { keyDir, every: 100 } });
    await expect(b.append(body())).rejects.toMatchObject({ code: 'audit.log_replaced', exitCode: 8 });
    await b.close();
  });

  describe('fails with AuditWriteError (exit 8) and writes nothing when it cannot be durable', () => {
    it('the directory does not exist', async () => {
      const err = await openJsonlFileSink(path.join(dir, 'missing', 'audit.jsonl')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditWriteError);
      expect((err as AuditWriteError).exitCode).toBe(8);
      expect((err as AuditWriteError).message).toMatch(/directory does not exist/);
    });

    it('the directory disappears after opening', async () => {
      const sub = path.join(dir, 'sub');
      fs.mkdirSync(sub);
      const sink = await openJsonlFileSink(path.join(sub, 'audit.jsonl'));
      fs.rmSync(sub, { recursive: true });
      await expect(sink.append(body())).rejects.toBeInstanceOf(AuditWriteError);
      await sink.close();
    });

    it('the path is a directory', async () => {
      fs.mkdirSync(log);
      await expect(openJsonlFileSink(log)).rejects.toMatchObject({ exitCode: 8, message: expect.stringMatching(/is a directory|EISDIR/) });
    });

    it('the disk is full (/dev/full)', async () => {
      fs.symlinkSync('/dev/full', log);
      const sink = await openJsonlFileSink(log);
      const err = await sink.append(body()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditWriteError);
      expect((err as AuditWriteError).message).toMatch(/disk is full/);
      await sink.close();
    });

    it.skipIf(process.getuid?.() === 0)('the file is read-only', async () => {
      fs.writeFileSync(log, '');
      fs.chmodSync(log, 0o444);
      await expect(openJsonlFileSink(log)).rejects.toMatchObject({ exitCode: 8, message: expect.stringMatching(/permission denied/) });
    });

    it('a value JSON cannot carry exactly (NaN), before anything is written', async () => {
      const sink = await openJsonlFileSink(log);
      await expect(sink.append(body({ rows: Number.NaN }))).rejects.toMatchObject({ exitCode: 8, code: 'audit.invalid_record' });
      await sink.close();
      expect(fs.readFileSync(log, 'utf8')).toBe('');
    });

    it('a caller claiming the sink’s own log.recovered event, or a record without id', async () => {
      const sink = await openJsonlFileSink(log);
      await expect(sink.append(body({ event: 'log.recovered' }))).rejects.toMatchObject({ code: 'audit.invalid_record' });
      await expect(sink.append(body({ id: '' }))).rejects.toMatchObject({ code: 'audit.invalid_record' });
      await sink.close();
      await expect(sink.append(body())).rejects.toMatchObject({ code: 'audit.sink_closed' });
      expect(fs.readFileSync(log, 'utf8')).toBe('');
    });
  });
});
