import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditVerifyError } from '../errors.js';
import type { AuditRecord, AuditRecordBody } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';
import { checkpointKeyId } from './checkpoint-key.js';
import { parseCheckpointLine, signCheckpoint } from './checkpoint.js';
import { serializeAuditRecord } from './hash-record.js';
import { openJsonlFileSink } from './jsonl-file-sink.js';
import { verifyAuditLog, verifyReportToError } from './verify-audit-log.js';

const RECORDS = 25;
const EVERY = 10;

function body(i: number): AuditRecordBody {
  return {
    id: `rec-${i}`, time: new Date(Date.UTC(2026, 10, 28, 10, 0, i)).toISOString(), event: 'query', run: 'nightly', subject: 'ci', token_id: 'tok',
    policy: { name: 'analyst', sha256: 'a'.repeat(64) }, justification: 'eval', sql: `SELECT name FROM demo.crm.customers WHERE id = ${i}`,
    statements: ['select'], tables: { read: ['demo.crm.customers'], write: [] }, decision: i % 5 ? 'allow' : 'deny', reason: i % 5 ? null : 'denied',
    masked: { columns: { 'demo.crm.customers.email': 'hash' }, detected: {} }, warehouse: { kind: 'duckdb', job_id: null, bytes_processed: 100 + i },
    rows: 1, result_sha256: 'b'.repeat(64), duration_ms: 4,
  };
}

let dir: string;
let log: string;
let keyDir: string;
let pristine: string;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-verify-'));
  log = path.join(dir, 'audit.jsonl');
  keyDir = path.join(dir, 'keys');
  const sink = await openJsonlFileSink(log, { checkpoint: { keyDir, every: EVERY } });
  for (let i = 1; i <= RECORDS; i++) await sink.append(body(i));
  await sink.close(); // checkpoints at 1 (the first record), 10, 20 and (on close) 25
  pristine = fs.readFileSync(log, 'utf8');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function logLines(): string[] {
  return pristine.split('\n').slice(0, -1);
}
function writeLines(ls: string[]): void {
  fs.writeFileSync(log, ls.map((l) => l + '\n').join(''));
}
/** Re-hash line i (0-based) after an edit, as someone without the signing key can. */
function rehash(ls: string[], i: number): void {
  const { hash: _h, ...rest } = JSON.parse(ls[i]) as AuditRecord;
  if (i > 0) rest.prev = (JSON.parse(ls[i - 1]) as AuditRecord).hash;
  ls[i] = serializeAuditRecord(rest).line;
}
async function verify() {
  return verifyAuditLog(log, { keyDir });
}

describe('verifyAuditLog on an untouched log', () => {
  it('passes, counts records, verifies every checkpoint signature', async () => {
    const report = await verify();
    expect(report).toMatchObject({ ok: true, records: RECORDS, head: { seq: RECORDS }, recoveries: [], warnings: [] });
    expect(report.checkpoints).toMatchObject({ count: 4, lastSeq: 25, verified: 4 });
  });

  it('with signatures: latest, checks only the newest checkpoint', async () => {
    expect((await verifyAuditLog(log, { keyDir, signatures: 'latest' })).checkpoints.verified).toBe(1);
  });

  it('without the keys directory still compares checkpoints with the log, and warns', async () => {
    const report = await verifyAuditLog(log);
    expect(report.ok).toBe(true);
    expect(report.checkpoints.verified).toBe(0);
    expect(report.warnings.join()).toMatch(/signatures were not checked/);
  });

  it('warns (does not fail) about records after the last checkpoint', async () => {
    const sink = await openJsonlFileSink(log, { checkpoint: { keyDir, every: EVERY } });
    await sink.append(body(26));
    await sink.append(body(27)); // no close: no checkpoint for 26..27 (a killed writer)
    const report = await verify();
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual(['2 records after the last checkpoint (seq 25) are not covered by any signature (cutting them would not be detected)']);
    await sink.close();
    expect((await verify()).warnings).toEqual([]);
  });

  it('accepts a line re-encoded without changing its content (the hash is over the canonical form) when no checkpoint pins its bytes', async () => {
    fs.rmSync(`${log}.checkpoints`);
    const ls = logLines();
    ls[2] = JSON.stringify(JSON.parse(ls[2]), null, 1).replace(/\n/g, ' ').replace('SELECT', '\\u0053ELECT');
    writeLines(ls);
    const report = await verifyAuditLog(log, { keyDir, allowNoCheckpoint: true });
    expect(report.ok).toBe(true);
    expect(report.warnings.join()).toMatch(/no signed checkpoint covers this log/);
  });

  it('fails a log with records and no checkpoint at all, unless allowed explicitly', async () => {
    fs.rmSync(`${log}.checkpoints`);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { line: 1, problem: expect.stringMatching(/no signed checkpoint covers this log's 25 records/) } });
    expect((await verifyAuditLog(log, { keyDir, allowNoCheckpoint: true })).ok).toBe(true);
  });

  it('reports a missing log as empty, unless checkpoints show there was one', async () => {
    const other = path.join(dir, 'none.jsonl');
    expect(await verifyAuditLog(other, { keyDir })).toMatchObject({ ok: true, records: 0 });
    fs.rmSync(log);
    expect(await verify()).toMatchObject({ ok: false, firstBad: { line: 1, problem: expect.stringMatching(/does not exist.*deleted/) } });
  });
});

describe('verifyAuditLog names the first bad line of a tampered log', () => {
  it.each<[string, (ls: string[]) => string[], number, RegExp]>([
    ['a field edited (decision)', (ls) => { ls[4] = ls[4].replace('"decision":"deny"', '"decision":"allow"'); return ls; }, 5, /changed after it was written/],
    ['the sql edited', (ls) => { ls[6] = ls[6].replace('WHERE id = 7', 'WHERE id = 7 OR 1=1'); return ls; }, 7, /changed after it was written/],
    ['a masked column dropped from the record', (ls) => { ls[11] = ls[11].replace('"demo.crm.customers.email":"hash"', ''); return ls; }, 12, /changed after it was written/],
    ['a line deleted', (ls) => { ls.splice(8, 1); return ls; }, 9, /record 9 is missing/],
    ['two lines swapped', (ls) => { [ls[11], ls[12]] = [ls[12], ls[11]]; return ls; }, 12, /seq 13 where 12 was expected/],
    ['a copy of an earlier line inserted', (ls) => { ls.splice(15, 0, ls[2]); return ls; }, 16, /seq 3 where 16 was expected/],
    ['a copy of the previous line inserted after it', (ls) => { ls.splice(15, 0, ls[14]); return ls; }, 16, /seq 15 where 16 was expected/],
    ['a line edited and its hash recomputed', (ls) => { ls[4] = ls[4].replace('"decision":"deny"', '"decision":"allow"'); rehash(ls, 4); return ls; }, 5, /line 5 was edited and its hash recomputed/],
    ['the first line edited and re-hashed', (ls) => { ls[0] = ls[0].replace('"rows":1', '"rows":2'); rehash(ls, 0); return ls; }, 1, /chain was rewritten: seq 1 .* signed checkpoint on line 1 .* seq 1 to 1/],
    ['garbage in the middle', (ls) => { ls[9] = 'not json'; return ls; }, 10, /not valid JSON/],
    ['an empty line in the middle', (ls) => { ls.splice(3, 0, ''); return ls; }, 4, /not valid JSON/],
    ['the log starting after its beginning', (ls) => ls.slice(3), 1, /seq 4 where 1 was expected: records 1 to 3 are missing/],
    ['the tail cut (whole lines)', (ls) => ls.slice(0, 22), 23, /ends at seq 22, but a signed checkpoint .* covers seq 25: the last 3 records were cut off/],
    ['the last line cut', (ls) => ls.slice(0, 24), 25, /the last 1 record was cut off/],
  ])('%s', async (_name, edit, line, problem) => {
    writeLines(edit(logLines()));
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ line });
    expect(report.firstBad!.problem).toMatch(problem);
    const err = verifyReportToError(report, log);
    expect(err).toBeInstanceOf(AuditVerifyError);
    expect(err.exitCode).toBe(9);
    expect(err.message).toContain(`line ${line}`);
  });

  it('a consistent forged line inserted (right seq, prev and hash): the duplicate seq after it names it', async () => {
    const ls = logLines();
    const forged = { ...(JSON.parse(ls[15]) as AuditRecord), id: 'forged', sql: 'SELECT 1' } as Partial<AuditRecord>;
    delete forged.hash;
    ls.splice(15, 0, serializeAuditRecord(forged as Omit<AuditRecord, 'hash'>).line);
    writeLines(ls);
    const report = await verify();
    expect(report.firstBad).toMatchObject({ line: 16, problem: expect.stringMatching(/lines 16 and 17 both carry seq 16.*inserted/) });
  });

  it('the tail cut in the middle of a line', async () => {
    fs.writeFileSync(log, pristine.slice(0, pristine.length - 40));
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ line: 25, problem: expect.stringMatching(/cut off/) });
  });

  it('the whole chain re-hashed from an edited line on: the signed checkpoint catches it', async () => {
    const ls = logLines();
    ls[4] = ls[4].replace('"decision":"deny"', '"decision":"allow"');
    for (let i = 4; i < ls.length; i++) rehash(ls, i);
    writeLines(ls);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ line: 2, seq: 2, problem: expect.stringMatching(/chain was rewritten: seq 10 .* signed checkpoint on line 2 .* seq 2 to 10/) });
  });

  it('the chain re-hashed after a checkpoint: the range starts after the last matching checkpoint', async () => {
    const ls = logLines();
    ls[14] = ls[14].replace('"rows":1', '"rows":0');
    for (let i = 14; i < ls.length; i++) rehash(ls, i);
    writeLines(ls);
    expect((await verify()).firstBad).toMatchObject({ line: 11, problem: expect.stringMatching(/seq 11 to 20/) });
  });

  it('re-hashed chain and checkpoints re-signed with another key: the key is not trusted', async () => {
    const ls = logLines();
    ls[4] = ls[4].replace('"decision":"deny"', '"decision":"allow"');
    for (let i = 4; i < ls.length; i++) rehash(ls, i);
    writeLines(ls);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const attacker = { keyId: checkpointKeyId(publicKey), privateKey, publicKey };
    const sizes = [1, 10, 20, 25].map((n) => ls.slice(0, n).join('\n').length + 1);
    const cps = [1, 10, 20, 25].map((seq, i) => signCheckpoint(attacker, { seq, hash: (JSON.parse(ls[seq - 1]) as AuditRecord).hash, logSizeBytes: sizes[i] }, new Date()));
    fs.writeFileSync(`${log}.checkpoints`, cps.map((c) => canonicalJson(c) + '\n').join(''));
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ file: `${log}.checkpoints`, line: 1, problem: expect.stringMatching(/signed by key .* not trusted/) });
    expect(verifyReportToError(report, log).rule).toBe('audit.checkpoint');
  });

  it('a checkpoint edited to match a rewritten chain: its signature fails', async () => {
    const ls = logLines();
    ls[24] = ls[24].replace('"rows":1', '"rows":9');
    rehash(ls, 24);
    writeLines(ls);
    const cpLines = fs.readFileSync(`${log}.checkpoints`, 'utf8').trim().split('\n');
    const last = parseCheckpointLine(cpLines[3]);
    cpLines[3] = canonicalJson({ ...last, hash: (JSON.parse(ls[24]) as AuditRecord).hash });
    fs.writeFileSync(`${log}.checkpoints`, cpLines.join('\n') + '\n');
    const report = await verify();
    expect(report.firstBad).toMatchObject({ line: 4, seq: 25, problem: expect.stringMatching(/invalid signature/) });
  });

  it('a checkpoint line that is not a checkpoint', async () => {
    fs.appendFileSync(`${log}.checkpoints`, '{"seq":"x"}\n');
    expect((await verify()).firstBad).toMatchObject({ line: 5, problem: expect.stringMatching(/not a valid checkpoint: seq/) });
  });

  it('bytes re-encoded under a checkpoint (same content, other bytes)', async () => {
    const ls = logLines();
    ls[2] = ls[2].replace('"run":"nightly"', '"run":"\\u006eightly"');
    writeLines(ls);
    expect((await verify()).firstBad).toMatchObject({ line: 2, problem: expect.stringMatching(/bytes changed: .* re-encoded/) });
  });
});

describe('verifyAuditLog with crashes', () => {
  it('a torn final line not yet recovered is a warning, not a failure', async () => {
    fs.appendFileSync(log, '{"decision":"al');
    const report = await verify();
    expect(report.ok).toBe(true);
    expect(report.warnings.join()).toMatch(/incomplete line 26 \(15 bytes\)/);
  });

  it('a newline-terminated unreadable tail is what the writer recovers: verify warns, the next append moves it aside, verify passes', async () => {
    // the writer's rule (read-log-head.ts) and verify's are one: what follows the last
    // complete record is a torn tail, newline or not
    fs.appendFileSync(log, '{"decision":"al\u0000\u0000\n\u0000\u0000garbage\n');
    const before = await verify();
    expect(before.ok).toBe(true);
    expect(before.warnings.join()).toMatch(/incomplete line 26 \(28 bytes\) after its last complete record/);
    const sink = await openJsonlFileSink(log, { checkpoint: { keyDir, every: EVERY } });
    await sink.append({ ...body(26), id: randomUUID() });
    await sink.close();
    const after = await verify();
    expect(after.ok).toBe(true);
    expect(after.recoveries).toEqual([expect.objectContaining({ seq: 26, tornBytes: 28, tornFileStatus: 'intact' })]);
    expect(after.records).toBe(27);
  });

  it('an unreadable line before the last complete record is still tampering', async () => {
    const ls = logLines();
    ls.splice(24, 0, '{"decision":"al');
    writeLines(ls);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ line: 25 });
  });

  it('reports recoveries, and warns when the side file has gone', async () => {
    fs.appendFileSync(log, '{"decision":"al');
    const sink = await openJsonlFileSink(log, { checkpoint: { keyDir, every: EVERY } });
    await sink.append({ ...body(26), id: randomUUID() });
    await sink.close();
    const report = await verify();
    expect(report.ok).toBe(true);
    expect(report.recoveries).toHaveLength(1);
    expect(report.recoveries[0]).toMatchObject({ seq: 26, tornBytes: 15, tornFileStatus: 'intact' });
    fs.rmSync(path.join(dir, report.recoveries[0].tornFile));
    const again = await verify();
    expect(again.ok).toBe(true);
    expect(again.warnings.join()).toMatch(/no longer in/);
  });

  it('a torn last checkpoint line is ignored with a warning, and the next checkpoint replaces it', async () => {
    fs.appendFileSync(`${log}.checkpoints`, '{"hash":"ab');
    const report = await verify();
    expect(report.ok).toBe(true);
    expect(report.warnings.join()).toMatch(/incomplete/);
    const sink = await openJsonlFileSink(log, { checkpoint: { keyDir, every: EVERY } });
    await sink.append({ ...body(26), id: randomUUID() });
    await sink.close();
    const after = await verify();
    expect(after).toMatchObject({ ok: true, warnings: [], checkpoints: { count: 5, verified: 5 } });
  });
});

describe('verifyAuditLog with a witness', () => {
  it('a witness copy of the checkpoints catches a cut of the log and its checkpoints file together', async () => {
    const witness = path.join(dir, 'witness.checkpoints');
    fs.copyFileSync(`${log}.checkpoints`, witness);
    expect(await verifyAuditLog(log, { keyDir, witness: { name: witness, file: witness } })).toMatchObject({ ok: true, checkpoints: { count: 4, witness: { count: 4, lastSeq: 25 } } });
    writeLines(logLines().slice(0, 22));
    const cps = fs.readFileSync(`${log}.checkpoints`, 'utf8').trim().split('\n').filter((l) => parseCheckpointLine(l).seq <= 20);
    fs.writeFileSync(`${log}.checkpoints`, cps.join('\n') + '\n');
    expect((await verify()).ok).toBe(true); // alone, the cut is invisible
    const report = await verifyAuditLog(log, { keyDir, witness: { name: witness, file: witness } });
    expect(report.firstBad).toMatchObject({ line: 23, problem: expect.stringMatching(/line 4 of .*witness.checkpoints.*covers seq 25: the last 3 records were cut off/) });
  });

  it('a checkpoint fetched from elsewhere is checked like the others: forged, it fails on its signature', async () => {
    const newest = parseCheckpointLine(fs.readFileSync(`${log}.checkpoints`, 'utf8').trim().split('\n').at(-1)!);
    expect((await verifyAuditLog(log, { keyDir, witness: { name: 'https://gw', checkpoints: [newest] } })).ok).toBe(true);
    const forged = { ...newest, seq: 30 };
    expect((await verifyAuditLog(log, { keyDir, witness: { name: 'https://gw', checkpoints: [forged] } })).firstBad).toMatchObject({ problem: expect.stringMatching(/https:\/\/gw .*invalid signature|cut off/) });
  });

  it('a deleted witness file fails; an empty one is a warning', async () => {
    const witness = path.join(dir, 'gone.checkpoints');
    expect((await verifyAuditLog(log, { keyDir, witness: { name: witness, file: witness } })).firstBad).toMatchObject({ problem: expect.stringMatching(/does not exist/) });
    fs.writeFileSync(witness, '');
    const report = await verifyAuditLog(log, { keyDir, witness: { name: witness, file: witness } });
    expect(report.ok).toBe(true);
    expect(report.warnings.join()).toMatch(/holds no checkpoint yet/);
  });
});
