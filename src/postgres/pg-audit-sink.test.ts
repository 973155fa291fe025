/**
 * The PostgreSQL audit sink against a real server (test/fakes/postgres-server.ts): one server
 * for the file, a fresh database per test.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_POSTGRES } from '../../test/fakes/postgres-server.mjs';
import { usePgTestDatabase } from '../../test/fakes/pg-test-database.mjs';
import type { AuditRecordBody } from '../audit/audit-record.js';
import { sampleAuditBody } from '../audit/audit-record.case.js';
import { verifyAuditLogOf, listAuditRecordsOf } from '../audit/audit-log-source.js';
import { readLastCheckpoint } from '../audit/checkpoint.js';
import { AuditWriteError } from '../errors.js';
import { ADVISORY_NAMESPACE, AUDIT_APPEND_LOCK } from './pg-audit-schema.js';
import { openPgAuditSink, type PgAuditSinkOptions } from './pg-audit-sink.js';

const db = usePgTestDatabase('hoopq-pgkeys-');

/** A complete record body with a recognisable id (and non-ASCII SQL: the stored line is UTF-8). */
function body(tag: string, extra: Partial<AuditRecordBody> = {}): AuditRecordBody {
  return sampleAuditBody({ id: `${tag}-${randomUUID()}`, sql: `SELECT '${tag}' /* é ☃ */`, ...extra });
}

const open = (options: PgAuditSinkOptions = {}) => openPgAuditSink(db.url, { checkpoint: { keyDir: db.keyDir, every: 100 }, ...options });
const rows = async (sql: string) => (await db.server.sql(db.url, sql)).rows;

describe.skipIf(!HAS_POSTGRES)('the PostgreSQL audit sink', () => {
  it('stores each record as its exact line with seq, hash and the running byte size; the copy verifies', async () => {
    const sink = await open();
    const a = await sink.append(body('a'));
    const b = await sink.append(body('b', { sql: 'x'.repeat(3000) }));
    await sink.close();
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(b.prev).toBe(a.hash);
    const stored = await rows('SELECT seq, hash, line, end_bytes, id FROM hoopq_audit_log ORDER BY seq');
    let size = 0;
    for (const [i, r] of stored.entries()) {
      const rec = [a, b][i];
      expect(JSON.parse(r.line)).toEqual(rec);
      expect(r.hash).toBe(rec.hash);
      expect(r.id).toBe(rec.id);
      size += Buffer.byteLength(r.line) + 1;
      expect(Number(r.end_bytes)).toBe(size);
      // the line as the JSONL file holds it: hash last, canonical otherwise
      expect(r.line.endsWith(`,"hash":"${rec.hash}"}`)).toBe(true);
    }
    const report = await verifyAuditLogOf({ kind: 'postgres', url: db.url }, { keyDir: db.keyDir });
    expect(report.ok).toBe(true);
    expect(report.records).toBe(2);
    expect(report.checkpoints.verified).toBeGreaterThanOrEqual(1);
    expect(report.file).toMatch(/^postgres:\/\//);
    const listed = [];
    for await (const r of listAuditRecordsOf({ kind: 'postgres', url: db.url })) listed.push(r);
    expect(listed).toEqual([a, b]);
  });

  it('group commit: appends of one turn share one transaction, and each resolves after COMMIT', async () => {
    const groups: number[] = [];
    const sink = await open({ onGroupCommit: (n) => groups.push(n) });
    const records = await Promise.all(Array.from({ length: 20 }, (_, i) => sink.append(body(`g${i}`))));
    await sink.close();
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(groups).toEqual([20]);
    // one transaction id for all twenty rows (and the checkpoint of seq 20's group)
    expect(await rows('SELECT count(DISTINCT xmin::text)::int AS n FROM hoopq_audit_log')).toEqual([{ n: 1 }]);
    const cp = await rows('SELECT c.xmin::text AS x, (SELECT min(xmin::text) FROM hoopq_audit_log) AS l FROM hoopq_audit_checkpoints c WHERE seq = 20');
    expect(cp.length).toBe(1);
    expect(cp[0].x).toBe(cp[0].l);
  });

  it('a commit that fails fails every append of its group, and none of them is in the log', async () => {
    const sink = await open();
    await sink.append(body('before'));
    // a deferred constraint trigger: the rows insert fine, COMMIT itself fails
    await db.server.sql(db.url, `
      CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.line LIKE '%poison%' THEN RAISE EXCEPTION 'poisoned commit'; END IF; RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON hoopq_audit_log DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION poison();`);
    const results = await Promise.allSettled([sink.append(body('ok1')), sink.append(body('poison')), sink.append(body('ok2'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AuditWriteError);
    expect(((results[0] as PromiseRejectedResult).reason as Error).message).toMatch(/poisoned commit/);
    expect(await rows('SELECT count(*)::int AS n FROM hoopq_audit_log')).toEqual([{ n: 1 }]);
    // the next append continues the chain from what was committed
    expect((await sink.append(body('after'))).seq).toBe(2);
    await sink.close();
  });

  it('a record that cannot be canonicalised fails alone; the rest of its group is committed', async () => {
    const sink = await open();
    const [bad, good] = await Promise.allSettled([sink.append(body('nan', { duration_ms: Number.NaN })), sink.append(body('good'))]);
    await sink.close();
    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason).toMatchObject({ code: 'audit.invalid_record', exitCode: 8 });
    expect(good.status === 'fulfilled' && good.value.seq).toBe(1);
    expect(await rows('SELECT count(*)::int AS n FROM hoopq_audit_log')).toEqual([{ n: 1 }]);
  });

  it('runs every transaction with synchronous_commit on, whatever the database default', async () => {
    await db.server.sql(db.url, `ALTER DATABASE "${new URL(db.url).pathname.slice(1)}" SET synchronous_commit = off`);
    const sink = await open();
    await sink.append(body('first')); // creates the tables
    await db.server.sql(db.url, `
      CREATE TABLE probe (v text);
      CREATE FUNCTION probe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO probe VALUES (current_setting('synchronous_commit')); RETURN NULL; END $$;
      CREATE TRIGGER probe AFTER INSERT ON hoopq_audit_log FOR EACH STATEMENT EXECUTE FUNCTION probe();`);
    await sink.append(body('probed'));
    await sink.close();
    expect(await rows('SELECT v FROM probe')).toEqual([{ v: 'on' }]);
  });

  it('waits for another writer\'s lock, and fails with audit.lock_timeout (exit 8) when it is held too long', async () => {
    const sink = await open({ lockTimeoutMs: 400 });
    await sink.append(body('first'));
    const pg = (await import('pg')).default;
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [ADVISORY_NAMESPACE, AUDIT_APPEND_LOCK]);
      const err = await sink.append(body('blocked')).catch((e) => e);
      expect(err).toBeInstanceOf(AuditWriteError);
      expect(err.code).toBe('audit.lock_timeout');
      expect(err.exitCode).toBe(8);
      expect(err.message).toContain(new URL(db.url).host);
      // released: a waiting append goes through
      const waiting = sink.append(body('waits'));
      await new Promise((r) => setTimeout(r, 100));
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [ADVISORY_NAMESPACE, AUDIT_APPEND_LOCK]);
      expect((await waiting).seq).toBe(2);
    } finally {
      await holder.end();
    }
    await sink.close();
  });

  it('signs checkpoints every N records in the same transaction and on close, with a copy in the witness', async () => {
    const witness = path.join(db.keyDir, '..', `witness-${randomUUID()}.checkpoints`);
    const sink = await open({ checkpoint: { keyDir: db.keyDir, every: 3, witness } });
    for (let i = 0; i < 7; i++) await sink.append(body(`c${i}`));
    await sink.close();
    const cps = await rows('SELECT c.seq::int AS seq, c.line, l.end_bytes::int AS end_bytes, l.hash FROM hoopq_audit_checkpoints c JOIN hoopq_audit_log l USING (seq) ORDER BY n');
    expect(cps.map((c) => c.seq)).toEqual([1, 3, 6, 7]);
    for (const c of cps) {
      const cp = JSON.parse(c.line);
      expect(cp.log_size_bytes).toBe(c.end_bytes);
      expect(cp.hash).toBe(c.hash);
    }
    expect(fs.readFileSync(witness, 'utf8')).toBe(cps.map((c) => `${c.line}\n`).join(''));
    expect(readLastCheckpoint(witness)?.seq).toBe(7);
    fs.rmSync(witness);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of records and checkpoints (the trigger), even to the superuser', async () => {
    const sink = await open();
    await sink.append(body('x'));
    await sink.close();
    for (const sql of ["UPDATE hoopq_audit_log SET line = 'x'", 'DELETE FROM hoopq_audit_log', 'TRUNCATE hoopq_audit_log', 'DELETE FROM hoopq_audit_checkpoints', 'TRUNCATE hoopq_audit_checkpoints']) {
      await expect(db.server.sql(db.url, sql)).rejects.toThrow(/append-only/);
    }
    expect(await rows('SELECT count(*)::int AS n FROM hoopq_audit_log')).toEqual([{ n: 1 }]);
  });

  it('refuses to start a new chain where the records were deleted but checkpoints remain', async () => {
    const sink = await open();
    await sink.append(body('x'));
    await sink.close();
    await db.server.sql(db.url, 'ALTER TABLE hoopq_audit_log DISABLE TRIGGER USER; DELETE FROM hoopq_audit_log; ALTER TABLE hoopq_audit_log ENABLE TRIGGER USER');
    const again = await open();
    const err = await again.append(body('y')).catch((e) => e);
    await again.close();
    expect(err).toBeInstanceOf(AuditWriteError);
    expect(err.code).toBe('audit.log_replaced');
  });

  it('several replicas opening a new database at once all get the tables', async () => {
    const sinks = await Promise.all(Array.from({ length: 6 }, () => open()));
    const records = await Promise.all(sinks.map((s, i) => s.append(body(`r${i}`))));
    await Promise.all(sinks.map((s) => s.close()));
    expect(records.map((r) => r.seq).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await verifyAuditLogOf({ kind: 'postgres', url: db.url }, { keyDir: db.keyDir })).ok).toBe(true);
  });

  it('a role granted only SELECT and INSERT appends to tables the owner created, and can neither delete nor drop the trigger', async () => {
    const owner = await open();
    await owner.append(body('by-owner'));
    await owner.close();
    const role = `hoopq_writer_${process.pid}_${Date.now()}`;
    await db.server.sql(db.url, `CREATE ROLE ${role} LOGIN; GRANT SELECT, INSERT ON hoopq_audit_log, hoopq_audit_checkpoints TO ${role}`);
    const asRole = new URL(db.url);
    asRole.username = role;
    const sink = await openPgAuditSink(asRole.toString(), { checkpoint: { keyDir: db.keyDir, every: 100 } });
    expect((await sink.append(body('by-role'))).seq).toBe(2);
    await sink.close();
    for (const sql of ['DELETE FROM hoopq_audit_log', 'DROP TRIGGER hoopq_audit_append_only ON hoopq_audit_log']) {
      await expect(db.server.sql(asRole.toString(), sql)).rejects.toThrow(/permission denied|must be owner|append-only/);
    }
    expect((await verifyAuditLogOf({ kind: 'postgres', url: asRole.toString() }, { keyDir: db.keyDir })).ok).toBe(true);
    // and one with INSERT withheld is refused with what to grant
    await db.server.sql(db.url, `REVOKE INSERT ON hoopq_audit_log FROM ${role}`);
    const refused = await openPgAuditSink(asRole.toString(), { checkpoint: { keyDir: db.keyDir, every: 100 } });
    const err = await refused.append(body('refused')).catch((e) => e);
    await refused.close();
    expect(err).toBeInstanceOf(AuditWriteError);
    expect(err.code).toBe('audit.permission_denied');
    expect(err.hint).toMatch(/grant .* SELECT and INSERT/i);
  });

  it('an unreachable server is an AuditWriteError (exit 8) naming the database, never a password', async () => {
    const dead = `postgres://hoopq@127.0.0.1:1/audit`;
    const err = await openPgAuditSink(dead, { checkpoint: { keyDir: db.keyDir, every: 100 }, connectTimeoutMs: 2000 }).catch((e) => e);
    expect(err).toBeInstanceOf(AuditWriteError);
    expect(err.exitCode).toBe(8);
    expect(err.code).toBe('audit.unreachable');
    expect(err.message).toContain('postgres://hoopq@127.0.0.1:1/audit');
    expect(err.hint).toMatch(/nothing was run/);
  });
});
