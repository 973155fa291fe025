/**
 * `audit verify`: checks a whole log and its checkpoints, streaming.
 *
 * Input: the log's path and the keys directory (for checkpoint signatures). Output: a
 * VerifyReport; `firstBad` names the first line that fails and what is wrong with it.
 * Checks: every line is a JSON object; seq runs 1, 2, 3 … with no gap; each hash recomputes
 * from the record's canonical form; each prev is the previous line's hash (64 zeros for the
 * first); every checkpoint parses, its signature holds under a trusted key, and it matches
 * the record at its seq (hash and byte size); the log reaches the last checkpoint's seq.
 * `log.recovered` records (a writer was killed mid-write and the next one moved the torn
 * bytes aside) are reported as recoveries, not failures. Records after the last checkpoint
 * are reported as a warning: no signature covers them (docs/audit.md "What verify proves").
 *
 * Speed: lines in the sink's exact form are checked from their bytes (scan-audit-line.ts);
 * others are parsed and re-canonicalised, with the same verdict.
 */
import * as crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AuditVerifyError } from '../errors.js';
import { RECOVERED_EVENT } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';
import { checkpointsPathFor, parseCheckpointLine, verifyCheckpointSignature, type AuditCheckpoint } from './checkpoint.js';
import { loadCheckpointPublicKeys } from './checkpoint-key.js';
import { GENESIS_PREV, isSha256Hex, sha256Hex } from './hash-record.js';
import { readLogLines } from './read-log-lines.js';
import { scanAuditLine } from './scan-audit-line.js';

export interface VerifyOptions {
  /** The keys directory holding audit-checkpoint-<kid>.pub; without it signatures are not checked (a warning). */
  keyDir?: string;
  /** Check every checkpoint's signature (default), or only those of the latest seq (faster on logs with many). */
  signatures?: 'all' | 'latest';
}

export interface VerifyProblem {
  /** 1-based line number in `file` (the log unless said otherwise). */
  line: number;
  seq?: number;
  problem: string;
  /** Set when the problem is in the checkpoints file rather than the log. */
  file?: string;
}

export interface AuditRecovery {
  line: number;
  seq: number;
  id: string;
  time: string;
  tornBytes: number;
  tornFile: string;
  tornSha256: string;
  /** Whether the side file still holds exactly the bytes the record describes. */
  tornFileStatus: 'intact' | 'missing' | 'changed';
}

export interface VerifyReport {
  ok: boolean;
  file: string;
  /** Records checked and found good (all of them when ok). */
  records: number;
  head: { seq: number; hash: string };
  firstBad?: VerifyProblem;
  recoveries: AuditRecovery[];
  checkpoints: { file: string; count: number; lastSeq: number | null; verified: number };
  warnings: string[];
}

interface IndexedCheckpoint {
  cp: AuditCheckpoint;
  line: number;
}

export async function verifyAuditLog(logPath: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const cpFile = checkpointsPathFor(logPath);
  const report: VerifyReport = {
    ok: true,
    file: logPath,
    records: 0,
    head: { seq: 0, hash: GENESIS_PREV },
    recoveries: [],
    checkpoints: { file: cpFile, count: 0, lastSeq: null, verified: 0 },
    warnings: [],
  };
  const { bySeq, latest, problems: cpProblems } = await loadCheckpoints(cpFile, report);
  const signatureChecks = checkSignatures(bySeq, latest, cpFile, options, report);

  if (!fs.existsSync(logPath)) {
    await signatureChecks;
    if (latest) return fail(report, { line: 1, problem: `the log does not exist, but signed checkpoints cover seq 1 to ${latest.cp.seq}: it was deleted or moved` });
    report.warnings.push(`there is no audit log at ${logPath} yet`);
    return report;
  }

  const chainBad = await checkChain(logPath, bySeq, report);
  const badSignatures = await signatureChecks;

  if (!chainBad && latest && latest.cp.seq > report.records) {
    const cut = latest.cp.seq - report.records;
    return fail(report, {
      line: report.records + 1,
      seq: report.records + 1,
      problem: `the log ends at seq ${report.records}, but a signed checkpoint (line ${latest.line} of ${path.basename(cpFile)}, ${latest.cp.time}) covers seq ${latest.cp.seq}: the last ${cut} record${cut === 1 ? ' was' : 's were'} cut off`,
    });
  }
  const firstBad = chainBad ?? [...cpProblems, ...badSignatures].sort((a, b) => a.line - b.line)[0];
  if (firstBad) return fail(report, firstBad);

  for (const r of report.recoveries) {
    if (r.tornFileStatus !== 'intact') report.warnings.push(`the torn bytes recovered at line ${r.line} (seq ${r.seq}) are ${r.tornFileStatus === 'missing' ? 'no longer in' : 'different from what was recorded in'} ${r.tornFile || 'their side file'}`);
  }
  const lastSeq = report.checkpoints.lastSeq ?? 0;
  if (report.records > lastSeq) {
    const n = report.records - lastSeq;
    report.warnings.push(
      lastSeq === 0
        ? `no signed checkpoint covers this log: its ${n} record${n === 1 ? ' is' : 's are'} not covered by any signature (cutting or rewriting them would not be detected)`
        : `${n} record${n === 1 ? '' : 's'} after the last checkpoint (seq ${lastSeq}) ${n === 1 ? 'is' : 'are'} not covered by any signature (cutting them would not be detected)`,
    );
  }
  return report;
}

/** The error `audit verify` exits with (9), naming the first bad line and what is wrong. */
export function verifyReportToError(report: VerifyReport, logPath: string = report.file): AuditVerifyError {
  const bad = report.firstBad;
  if (!bad) {
    return new AuditVerifyError('audit.verify_failed', `audit log ${logPath} failed verification`, { hint: 'run hoopq audit verify --format json for details' });
  }
  const where = bad.file ? `${bad.file} line ${bad.line}` : `${logPath} line ${bad.line}`;
  return new AuditVerifyError('audit.verify_failed', `audit log verification failed at ${where}${bad.seq !== undefined ? ` (seq ${bad.seq})` : ''}: ${bad.problem}`, {
    rule: bad.file ? 'audit.checkpoint' : 'audit.chain',
    hint: 'the log was changed after it was written; compare it with a backup or the copy exported to your SIEM, and keep the file as evidence',
    details: { line: bad.line, seq: bad.seq ?? null, file: bad.file ?? logPath, problem: bad.problem },
  });
}

function fail(report: VerifyReport, problem: VerifyProblem): VerifyReport {
  report.ok = false;
  report.firstBad = problem;
  return report;
}

async function loadCheckpoints(cpFile: string, report: VerifyReport): Promise<{ bySeq: Map<number, IndexedCheckpoint[]>; latest: IndexedCheckpoint | null; problems: VerifyProblem[] }> {
  const bySeq = new Map<number, IndexedCheckpoint[]>();
  const problems: VerifyProblem[] = [];
  let latest: IndexedCheckpoint | null = null;
  if (!fs.existsSync(cpFile)) return { bySeq, latest, problems };
  for await (const batch of readLogLines(cpFile)) {
    for (let i = 0; i < batch.starts.length; i++) {
      const line = batch.firstLine + i;
      let cp: AuditCheckpoint;
      try {
        cp = parseCheckpointLine(batch.buffer.toString('utf8', batch.starts[i], batch.ends[i]));
      } catch (err) {
        problems.push({ file: cpFile, line, problem: `checkpoint line ${line} is not a valid checkpoint: ${(err as Error).message}` });
        continue;
      }
      report.checkpoints.count++;
      const at = bySeq.get(cp.seq);
      if (at) at.push({ cp, line });
      else bySeq.set(cp.seq, [{ cp, line }]);
      if (!latest || cp.seq >= latest.cp.seq) latest = { cp, line };
    }
    if (batch.torn) {
      report.warnings.push(`the last line of ${path.basename(cpFile)} is incomplete (a writer was interrupted) and was ignored`);
    }
  }
  report.checkpoints.lastSeq = latest ? latest.cp.seq : null;
  return { bySeq, latest, problems };
}

/** Starts every signature check on the thread pool; resolves to the failures. */
async function checkSignatures(bySeq: Map<number, IndexedCheckpoint[]>, latest: IndexedCheckpoint | null, cpFile: string, options: VerifyOptions, report: VerifyReport): Promise<VerifyProblem[]> {
  if (!latest) return [];
  if (!options.keyDir) {
    report.warnings.push('checkpoint signatures were not checked: no keys directory given (checkpoints were still compared with the log)');
    return [];
  }
  const keys = loadCheckpointPublicKeys(options.keyDir);
  const todo: IndexedCheckpoint[] = options.signatures === 'latest' ? bySeq.get(latest.cp.seq)! : [...bySeq.values()].flat();
  const problems: VerifyProblem[] = [];
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const { cp, line } = todo[next++];
      const key = keys.get(cp.key_id);
      if (!key) {
        problems.push({ file: cpFile, line, seq: cp.seq, problem: `checkpoint line ${line} is signed by key ${cp.key_id}, which is not trusted (no audit-checkpoint-${cp.key_id}.pub in ${options.keyDir})` });
      } else if (await verifyCheckpointSignature(cp, key)) {
        report.checkpoints.verified++;
      } else {
        problems.push({ file: cpFile, line, seq: cp.seq, problem: `checkpoint line ${line} (seq ${cp.seq}) has an invalid signature: the checkpoint was edited or forged` });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, todo.length) }, worker));
  return problems;
}

const oneShotSha256: (data: Uint8Array) => string =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'hex') : (data) => crypto.createHash('sha256').update(data).digest('hex');

interface LineFacts {
  seq: number;
  prev: string;
  hash: string;
  computed: string;
  isRecovery: boolean;
}

/** Streams the log; fills report.records/head/recoveries; returns the first problem, if any. */
async function checkChain(logPath: string, bySeq: Map<number, IndexedCheckpoint[]>, report: VerifyReport): Promise<VerifyProblem | undefined> {
  // the last good line's hash and prev, as 64 hex bytes: compared in place, no strings per line
  let prevBytes = Buffer.from(GENESIS_PREV, 'latin1');
  let prevPrevBytes = Buffer.alloc(64);
  let hasPrevPrev = false;
  const digest = Buffer.alloc(64);
  let lastMatchedCheckpointSeq = 0;
  const cpName = path.basename(checkpointsPathFor(logPath));
  for await (const batch of readLogLines(logPath)) {
    const { buffer, starts, ends, firstLine, offset } = batch;
    for (let i = 0; i < starts.length; i++) {
      const line = firstLine + i;
      const start = starts[i];
      const expected = report.records + 1;
      let hashAt = -1;
      let isRecovery = false;
      let slowHash = '';

      // fast path: the sink's exact form, the expected seq, linked, hash recomputes from the bytes
      const fast = scanAuditLine(buffer, start, ends[i]);
      if (fast && fast.seq === expected && buffer.compare(prevBytes, 0, 64, fast.prevAt, fast.prevAt + 64) === 0) {
        const saved = buffer[fast.hashMemberAt];
        buffer[fast.hashMemberAt] = 0x7d; // the canonical text without the hash member ends here
        digest.write(oneShotSha256(buffer.subarray(start, fast.hashMemberAt + 1)), 'latin1');
        buffer[fast.hashMemberAt] = saved;
        if (buffer.compare(digest, 0, 64, fast.hashAt, fast.hashAt + 64) === 0) {
          hashAt = fast.hashAt;
          isRecovery = fast.isRecovery;
        }
      }

      // slow path: parse and re-canonicalise; it decides, and names what is wrong
      if (hashAt < 0) {
        const facts = readLineFacts(buffer, start, ends[i]);
        if (typeof facts === 'string') return { line, problem: facts };
        const { seq, prev, hash } = facts;
        const prevHash = prevBytes.toString('latin1');
        if (facts.computed !== hash) {
          return { line, seq, problem: `the record was changed after it was written: its content no longer matches its hash` };
        }
        if (seq !== expected) {
          if (seq === expected - 1 && hash !== prevHash && hasPrevPrev && prev === prevPrevBytes.toString('latin1')) {
            return { line: line - 1, seq, problem: `lines ${line - 1} and ${line} both carry seq ${seq} and both follow seq ${seq - 1}: one of them was inserted` };
          }
          return { line, seq, problem: describeSeqGap(seq, expected) };
        }
        if (prev !== prevHash) {
          if (line === 1) return { line, seq, problem: `the first record's prev is not 64 zeros: the log does not start at its beginning, or this line was edited` };
          return { line: line - 1, seq: seq - 1, problem: `line ${line} links (prev) to a different hash than line ${line - 1} has: line ${line - 1} was edited and its hash recomputed, or line ${line}'s link was changed` };
        }
        slowHash = hash;
        isRecovery = facts.isRecovery;
      }

      const seq = expected;
      const cps = bySeq.get(seq);
      if (cps) {
        const hash = hashAt >= 0 ? buffer.toString('latin1', hashAt, hashAt + 64) : slowHash;
        const end = offset + ends[i] + 1;
        for (const { cp, line: cpLine } of cps) {
          const range = `seq ${lastMatchedCheckpointSeq + 1} to ${seq}`;
          const first = { line: lastMatchedCheckpointSeq + 1, seq: lastMatchedCheckpointSeq + 1 };
          if (cp.hash !== hash) {
            return { ...first, problem: `the chain was rewritten: seq ${seq} (line ${line}) has a different hash than the signed checkpoint on line ${cpLine} of ${cpName} (${cp.time}); a record in ${range} was changed and the hashes after it recomputed` };
          }
          if (cp.log_size_bytes !== end) {
            return { ...first, problem: `the log's bytes changed: it ends seq ${seq} at byte ${end}, the signed checkpoint on line ${cpLine} of ${cpName} says ${cp.log_size_bytes}; a line in ${range} was re-encoded` };
          }
        }
        lastMatchedCheckpointSeq = seq;
      }
      if (isRecovery) report.recoveries.push(describeRecovery(logPath, buffer.toString('utf8', start, ends[i]), line, seq));
      report.records = seq;
      const older = prevPrevBytes;
      prevPrevBytes = prevBytes;
      prevBytes = older;
      hasPrevPrev = true;
      if (hashAt >= 0) buffer.copy(prevBytes, 0, hashAt, hashAt + 64);
      else prevBytes.write(slowHash, 'latin1');
    }
    if (batch.torn) {
      const n = batch.torn.end - batch.torn.start;
      report.warnings.push(`the log ends with an incomplete line ${batch.torn.line} (${n} bytes): a writer was interrupted mid-write; the next append moves it to a side file and records log.recovered`);
    }
  }
  report.head = { seq: report.records, hash: prevBytes.toString('latin1') };
  return undefined;
}

function describeSeqGap(seq: number, expected: number): string {
  if (seq > expected) {
    const n = seq - expected;
    return `seq ${seq} where ${expected} was expected: ${n === 1 ? `record ${expected} is` : `records ${expected} to ${seq - 1} are`} missing (deleted), or lines were reordered`;
  }
  return `seq ${seq} where ${expected} was expected: this line is out of order (lines swapped or moved) or was inserted`;
}

/** A line's chain facts, parsed and re-canonicalised (the slow path). A string is the problem. */
function readLineFacts(buffer: Buffer, start: number, end: number): LineFacts | string {
  let value: unknown;
  try {
    value = JSON.parse(buffer.toString('utf8', start, end));
  } catch (err) {
    return `the line is not valid JSON (${(err as Error).message}): it was edited or damaged`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the line is not a JSON object';
  const { hash, ...content } = value as Record<string, unknown>;
  if (!isSha256Hex(hash)) return 'the line has no valid hash (64 lower-case hex digits)';
  if (!Number.isSafeInteger(content.seq) || (content.seq as number) < 1) return 'the line has no valid seq (a positive integer)';
  if (!isSha256Hex(content.prev)) return 'the line has no valid prev (64 lower-case hex digits)';
  let computed: string;
  try {
    computed = sha256Hex(canonicalJson(content));
  } catch (err) {
    return `the line cannot be put in canonical form: ${(err as Error).message}`;
  }
  return { seq: content.seq as number, prev: content.prev, hash, computed, isRecovery: content.event === RECOVERED_EVENT };
}

function describeRecovery(logPath: string, text: string, line: number, seq: number): AuditRecovery {
  const r = JSON.parse(text) as Record<string, unknown>;
  const tornFile = typeof r.torn_file === 'string' ? r.torn_file : '';
  const tornSha256 = typeof r.torn_sha256 === 'string' ? r.torn_sha256 : '';
  let status: AuditRecovery['tornFileStatus'] = 'missing';
  // only a plain file name next to the log is looked up
  if (tornFile && tornFile === path.basename(tornFile)) {
    try {
      status = sha256Hex(fs.readFileSync(path.join(path.dirname(logPath), tornFile))) === tornSha256 ? 'intact' : 'changed';
    } catch {
      status = 'missing';
    }
  }
  return {
    line,
    seq,
    id: String(r.id ?? ''),
    time: String(r.time ?? ''),
    tornBytes: typeof r.torn_bytes === 'number' ? r.torn_bytes : 0,
    tornFile,
    tornSha256,
    tornFileStatus: status,
  };
}
