import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditVerifyError } from '../errors.js';
import type { AuditRecord, AuditRecordBody } from './audit-record.js';
import { openJsonlFileSink } from './jsonl-file-sink.js';
import { findAuditRecord, listAuditRecords, type AuditFilter } from './read-audit-log.js';

function body(id: string, minute: number, fields: Partial<AuditRecordBody>): AuditRecordBody {
  return {
    id, time: new Date(Date.UTC(2026, 10, 28, 10, minute)).toISOString(), event: 'query', run: 'r1', subject: 's', token_id: 't',
    policy: { name: 'analyst', sha256: 'a'.repeat(64) }, justification: null, sql: 'SELECT 1', statements: ['select'],
    tables: { read: [], write: [] }, decision: 'allow', reason: null, masked: { columns: {}, detected: {} },
    warehouse: { kind: 'duckdb', job_id: null, bytes_processed: null }, rows: 1, result_sha256: null, duration_ms: 1, ...fields,
  };
}

let dir: string;
let log: string;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-read-'));
  log = path.join(dir, 'audit.jsonl');
  const sink = await openJsonlFileSink(log);
  await sink.append(body('a', 0, {}));
  await sink.append(body('b', 1, { run: 'r2', decision: 'deny', reason: 'no' }));
  await sink.append(body('c', 2, { policy: { name: 'writer', sha256: null }, decision: 'error' }));
  await sink.append(body('d', 3, { event: 'token.mint', sql: null }));
  await sink.append(body('quo"te\\id', 4, { run: 'r2' }));
  await sink.close();
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function ids(filter: AuditFilter): Promise<string[]> {
  const out: string[] = [];
  for await (const r of listAuditRecords(log, filter)) out.push(r.id);
  return out;
}

describe('listAuditRecords', () => {
  it.each<[string, AuditFilter, string[]]>([
    ['no filter: every record, oldest first', {}, ['a', 'b', 'c', 'd', 'quo"te\\id']],
    ['run', { run: 'r2' }, ['b', 'quo"te\\id']],
    ['decision', { decision: 'deny' }, ['b']],
    ['policy name', { policy: 'writer' }, ['c']],
    ['event', { event: 'token.mint' }, ['d']],
    ['since (inclusive)', { since: new Date(Date.UTC(2026, 10, 28, 10, 3)) }, ['d', 'quo"te\\id']],
    ['until (exclusive)', { until: new Date(Date.UTC(2026, 10, 28, 10, 1)) }, ['a']],
    ['combined', { run: 'r2', since: new Date(Date.UTC(2026, 10, 28, 10, 2)) }, ['quo"te\\id']],
    ['nothing matches', { run: 'nope' }, []],
  ])('%s', async (_name, filter, expected) => {
    expect(await ids(filter)).toEqual(expected);
  });

  it('yields records as stored (seq, prev, hash included)', async () => {
    const all: AuditRecord[] = [];
    for await (const r of listAuditRecords(log)) all.push(r);
    expect(all[1]).toMatchObject({ seq: 2, prev: all[0].hash, id: 'b' });
  });

  it('skips a torn final line, refuses a broken line in the middle', async () => {
    fs.appendFileSync(log, '{"id":"torn');
    expect(await ids({})).toHaveLength(5);
    const lines = fs.readFileSync(log, 'utf8').split('\n');
    lines[1] = '[1,2]';
    fs.writeFileSync(log, lines.join('\n'));
    await expect(ids({})).rejects.toBeInstanceOf(AuditVerifyError);
    await expect(ids({})).rejects.toMatchObject({ message: expect.stringMatching(/line 2 .* not a JSON object/) });
  });

  it('reads a missing log as empty', async () => {
    fs.rmSync(log);
    expect(await ids({})).toEqual([]);
  });
});

describe('findAuditRecord', () => {
  it('finds by id, including ids that need escaping, and returns undefined for unknown ids', async () => {
    expect((await findAuditRecord(log, 'c'))?.seq).toBe(3);
    expect((await findAuditRecord(log, 'quo"te\\id'))?.seq).toBe(5);
    expect(await findAuditRecord(log, 'zzz')).toBeUndefined();
    expect(await findAuditRecord(log, '')).toBeUndefined();
  });

  it('finds a record whose id was written with \\u escapes (its line is parsed, not skipped)', async () => {
    const text = fs.readFileSync(log, 'utf8').replace('"id":"c"', '"id":"\\u0063"');
    fs.writeFileSync(log, text);
    expect((await findAuditRecord(log, 'c'))?.seq).toBe(3);
  });
});
