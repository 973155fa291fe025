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
 * Speed: lines in the sink's exact form are checked from their bytes (precheck-lines.ts);
 * others are parsed and re-canonicalised, with the same verdict. That per-line precheck needs
 * no chain state, so on logs of PARALLEL_VERIFY_MIN_BYTES or more a helper thread prechecks
 * some batches while this thread prechecks others and links them all in file order
 * (precheck-worker.ts); verdicts are the same either way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AuditVerifyError } from '../errors.js';
import { RECOVERED_EVENT } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';
import { checkpointsPathFor, parseCheckpointLine, verifyCheckpointSignature, type AuditCheckpoint } from './checkpoint.js';
import { loadCheckpointPublicKeys } from './checkpoint-key.js';
import { GENESIS_PREV, isSha256Hex, sha256Hex } from './hash-record.js';
import { FACT_HASH_AT, FACT_IS_RECOVERY, FACT_LINKS_PREVIOUS, FACT_PREV_AT, FACT_SEQ, LINE_FACTS, precheckLines } from './precheck-lines.js';
import { PrecheckWorkerFailed, startPrecheckWorker, type PrecheckWorker } from './precheck-worker.js';
import { readLogHead, TornTailTooLargeError } from './read-log-head.js';
import { readLogBatches, readLogLines, type LogLineBatch } from './read-log-lines.js';

export interface VerifyOptions {
  /** The keys directory holding audit-checkpoint-<kid>.pub; without it signatures are not checked (a warning). */
  keyDir?: string;
  /** Check every checkpoint's signature (default), or only those of the latest seq (faster on logs with many). */
  signatures?: 'all' | 'latest';
  /**
   * A second copy of the checkpoints kept away from the log (`audit_witness`, or the newest
   * checkpoint fetched from a gateway): compared with the log like its own checkpoints, so a
   * log cut together with its `.checkpoints` file is still detected.
   */
  witness?: CheckpointWitness;
  /** Accept a log with records and no checkpoint at all (a warning instead of a failure). */
  allowNoCheckpoint?: boolean;
  /** Logs of at least this many bytes are prechecked on a second thread (default PARALLEL_VERIFY_MIN_BYTES; Infinity: never). */
  parallelMinBytes?: number;
  /** Told the records linked so far, after each batch (drives `audit verify`'s progress line). */
  onRecords?: (records: number) => void;
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
  checkpoints: { file: string; count: number; lastSeq: number | null; verified: number; witness?: { name: string; count: number; lastSeq: number | null } };
  warnings: string[];
}

/** `file`: a checkpoints file (absent: a problem); `checkpoints`: checkpoints already read (e.g. from a gateway). */
export type CheckpointWitness = { name: string; file: string } | { name: string; checkpoints: AuditCheckpoint[] };

interface IndexedCheckpoint {
  cp: AuditCheckpoint;
  line: number;
  /** Where it was read: the checkpoints file's name or the witness (shown in messages). */
  file: string;
  /** The checkpoints file's path or the witness (problems' `file`). */
  source: string;
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
  const loaded = await loadCheckpoints(cpFile, options.witness, report);
  const { bySeq, latest, problems: cpProblems } = loaded;
  const signatureChecks = checkSignatures(bySeq, latest, options, report);

  if (!fs.existsSync(logPath)) {
    await signatureChecks;
    if (latest) return fail(report, { line: 1, problem: `the log does not exist, but signed checkpoints cover seq 1 to ${latest.cp.seq}: it was deleted or moved` });
    report.warnings.push(`there is no audit log at ${logPath} yet`);
    return report;
  }

  const chainBad = await checkChain(logPath, bySeq, report, options.parallelMinBytes ?? PARALLEL_VERIFY_MIN_BYTES, options.onRecords);
  const badSignatures = await signatureChecks;

  if (!chainBad && latest && latest.cp.seq > report.records) {
    const cut = latest.cp.seq - report.records;
    return fail(report, {
      line: report.records + 1,
      seq: report.records + 1,
      problem: `the log ends at seq ${report.records}, but a signed checkpoint (line ${latest.line} of ${latest.file}, ${latest.cp.time}) covers seq ${latest.cp.seq}: the last ${cut} record${cut === 1 ? ' was' : 's were'} cut off`,
    });
  }
  const firstBad = chainBad ?? [...cpProblems, ...badSignatures].sort((a, b) => a.line - b.line)[0];
  if (firstBad) return fail(report, firstBad);

  for (const r of report.recoveries) {
    if (r.tornFileStatus !== 'intact') report.warnings.push(`the torn bytes recovered at line ${r.line} (seq ${r.seq}) are ${r.tornFileStatus === 'missing' ? 'no longer in' : 'different from what was recorded in'} ${r.tornFile || 'their side file'}`);
  }
  const lastSeq = report.checkpoints.lastSeq ?? 0;
  if (report.records > 0 && lastSeq === 0 && !options.allowNoCheckpoint) {
    return fail(report, {
      line: 1,
      seq: 1,
      problem: `no signed checkpoint covers this log's ${report.records} record${report.records === 1 ? '' : 's'}${options.witness ? ` (nor does the witness ${options.witness.name})` : ''}: its checkpoints were deleted, or it was written without them; cutting or rewriting it would not be detected`,
    });
  }
  if (loaded.witnessMissing && report.records > 0) {
    return fail(report, { line: 1, file: options.witness!.name, problem: `the checkpoint witness ${options.witness!.name} does not exist: it was deleted or moved, so a cut of the log and its checkpoints file would go unseen` });
  }
  if (options.witness && report.checkpoints.witness?.count === 0 && report.records > 0) {
    report.warnings.push(`the witness ${options.witness.name} holds no checkpoint yet: it starts with the next checkpoint the sink signs`);
  }
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

async function loadCheckpoints(
  cpFile: string,
  witness: CheckpointWitness | undefined,
  report: VerifyReport,
): Promise<{ bySeq: Map<number, IndexedCheckpoint[]>; latest: IndexedCheckpoint | null; problems: VerifyProblem[]; witnessMissing: boolean }> {
  const bySeq = new Map<number, IndexedCheckpoint[]>();
  const problems: VerifyProblem[] = [];
  let latest: IndexedCheckpoint | null = null;
  const seen = new Set<string>();
  const add = (cp: AuditCheckpoint, line: number, file: string, source: string): void => {
    const same = `${cp.seq} ${cp.signature}`;
    if (seen.has(same)) return; // the witness's copy of a checkpoint the file also holds
    seen.add(same);
    const at = bySeq.get(cp.seq);
    if (at) at.push({ cp, line, file, source });
    else bySeq.set(cp.seq, [{ cp, line, file, source }]);
    if (!latest || cp.seq > latest.cp.seq) latest = { cp, line, file, source };
  };
  const readFile = async (file: string, name: string): Promise<{ count: number; last: number }> => {
    let count = 0;
    let last = 0;
    for await (const batch of readLogLines(file)) {
      for (let i = 0; i < batch.starts.length; i++) {
        const line = batch.firstLine + i;
        let cp: AuditCheckpoint;
        try {
          cp = parseCheckpointLine(batch.buffer.toString('utf8', batch.starts[i], batch.ends[i]));
        } catch (err) {
          problems.push({ file, line, problem: `checkpoint line ${line} of ${name} is not a valid checkpoint: ${(err as Error).message}` });
          continue;
        }
        count++;
        last = Math.max(last, cp.seq);
        add(cp, line, name, file);
      }
      if (batch.torn) report.warnings.push(`the last line of ${name} is incomplete (a writer was interrupted) and was ignored`);
    }
    return { count, last };
  };
  if (fs.existsSync(cpFile)) report.checkpoints.count = (await readFile(cpFile, path.basename(cpFile))).count;
  let witnessMissing = false;
  if (witness) {
    let read = { count: 0, last: 0 };
    if ('checkpoints' in witness) {
      witness.checkpoints.forEach((cp, i) => add(cp, i + 1, witness.name, witness.name));
      read = { count: witness.checkpoints.length, last: Math.max(0, ...witness.checkpoints.map((cp) => cp.seq)) };
    } else if (fs.existsSync(witness.file)) {
      read = await readFile(witness.file, witness.name);
    } else {
      witnessMissing = true;
    }
    report.checkpoints.witness = { name: witness.name, count: read.count, lastSeq: read.count > 0 ? read.last : null };
  }
  const newest = latest as IndexedCheckpoint | null; // assigned in add()
  report.checkpoints.lastSeq = newest ? newest.cp.seq : null;
  return { bySeq, latest: newest, problems, witnessMissing };
}

/** Starts every signature check on the thread pool; resolves to the failures. */
async function checkSignatures(bySeq: Map<number, IndexedCheckpoint[]>, latest: IndexedCheckpoint | null, options: VerifyOptions, report: VerifyReport): Promise<VerifyProblem[]> {
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
      const { cp, line, file: cpName, source: cpFile } = todo[next++];
      const key = keys.get(cp.key_id);
      if (!key) {
        problems.push({ file: cpFile, line, seq: cp.seq, problem: `checkpoint line ${line} of ${cpName} is signed by key ${cp.key_id}, which is not trusted (no audit-checkpoint-${cp.key_id}.pub in ${options.keyDir})` });
      } else if (await verifyCheckpointSignature(cp, key)) {
        report.checkpoints.verified++;
      } else {
        problems.push({ file: cpFile, line, seq: cp.seq, problem: `checkpoint line ${line} of ${cpName} (seq ${cp.seq}) has an invalid signature: the checkpoint was edited or forged` });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, todo.length) }, worker));
  return problems;
}

interface LineFacts {
  seq: number;
  prev: string;
  hash: string;
  computed: string;
  isRecovery: boolean;
}

/** Logs at least this large are prechecked on two threads (smaller ones do not pay the thread's start-up). */
export const PARALLEL_VERIFY_MIN_BYTES = 32 << 20;

/** A batch of lines with its prechecked facts (or the promise of them, from the helper thread). */
interface PrecheckedBatch extends LogLineBatch {
  facts: Float64Array | null;
  failure?: unknown;
  answered?: Promise<void>;
}

/** Streams the log; fills report.records/head/recoveries; returns the first problem, if any. */
async function checkChain(
  logPath: string,
  bySeq: Map<number, IndexedCheckpoint[]>,
  report: VerifyReport,
  parallelMinBytes: number,
  onRecords: ((records: number) => void) | undefined,
): Promise<VerifyProblem | undefined> {
  const worker = fs.statSync(logPath).size >= parallelMinBytes ? startPrecheckWorker() : null;
  if (!worker) return linkChain(logPath, bySeq, report, null, onRecords);
  try {
    return await linkChain(logPath, bySeq, report, worker, onRecords);
  } catch (err) {
    if (!(err instanceof PrecheckWorkerFailed)) throw err;
    // start over on this thread alone: same verdict, only slower
    report.records = 0;
    report.recoveries = [];
    return linkChain(logPath, bySeq, report, null, onRecords);
  } finally {
    await worker.close();
  }
}

async function linkChain(
  logPath: string,
  bySeq: Map<number, IndexedCheckpoint[]>,
  report: VerifyReport,
  worker: PrecheckWorker | null,
  onRecords: ((records: number) => void) | undefined,
): Promise<VerifyProblem | undefined> {
  const tail = readTail(logPath);
  const linkBatch = startChainLink(logPath, bySeq, report, tail.validEnd);
  const link = Object.assign(
    (batch: LogLineBatch, facts: Parameters<typeof linkBatch>[1]) => {
      const bad = linkBatch(batch, facts);
      onRecords?.(report.records);
      return bad;
    },
    { head: linkBatch.head, tailLine: linkBatch.tailLine },
  );
  let torn: LogLineBatch['torn'];
  if (!worker) {
    for await (const batch of readLogLines(logPath)) {
      const bad = link(batch, precheckLines(batch.buffer, batch.starts, batch.ends));
      if (bad) return bad;
      torn = batch.torn;
    }
  } else {
    // batches go to the helper thread while it has fewer than two; the others are prechecked
    // here; linking stays in file order. Each batch has bytes of its own (readLogBatches), moved
    // to the thread and back without a copy, and reused once linked.
    const queue: PrecheckedBatch[] = [];
    const spare: ArrayBuffer[] = [];
    const take = (minBytes: number): ArrayBuffer => {
      const bytes = spare.pop();
      return bytes && bytes.byteLength >= minBytes ? bytes : new ArrayBuffer(minBytes);
    };
    const linkReady = (): VerifyProblem | undefined => {
      while (queue.length > 0 && (queue[0].facts || queue[0].failure)) {
        const batch = queue.shift()!;
        if (batch.failure) throw batch.failure;
        const bad = link(batch, batch.facts!);
        if (bad) return bad;
        torn = batch.torn;
        spare.push(batch.buffer.buffer as ArrayBuffer);
      }
      return undefined;
    };
    for await (const read of readLogBatches(logPath, take)) {
      const bytes = read.buffer.buffer as ArrayBuffer;
      const batch: PrecheckedBatch = { ...read, facts: null };
      if (worker.inFlight < 2) {
        batch.answered = worker.precheck(bytes, batch.starts, batch.ends).then(
          (answer) => {
            batch.buffer = Buffer.from(answer.bytes);
            batch.facts = answer.facts;
          },
          (err: unknown) => void (batch.failure = err),
        );
      } else {
        batch.facts = precheckLines(batch.buffer, batch.starts, batch.ends);
      }
      queue.push(batch);
      let bad = linkReady();
      if (bad) return bad;
      while (queue.length > 8) {
        await queue[0].answered;
        if ((bad = linkReady())) return bad;
      }
    }
    while (queue.length > 0) {
      await queue[0].answered;
      const bad = linkReady();
      if (bad) return bad;
    }
  }
  if (tail.bytes > 0) {
    const line = link.tailLine() ?? torn?.line ?? report.records + 1;
    report.warnings.push(`the log ends with an incomplete line ${line} (${tail.bytes} bytes) after its last complete record: a writer was interrupted mid-write; the next append moves it to a side file and records log.recovered`);
  }
  report.head = { seq: report.records, hash: link.head() };
  return undefined;
}

/**
 * The sequential part of verification: returns a function that checks one batch's lines, in
 * file order, against the chain so far (seq, prev, checkpoints), using their prechecked facts
 * and the slow path for any line the precheck did not vouch for.
 */
function startChainLink(logPath: string, bySeq: Map<number, IndexedCheckpoint[]>, report: VerifyReport, validEnd: number) {
  // the first line of the torn tail, once reached: not a record (readTail), not checked
  let tailLine: number | undefined;
  // the last good line's hash and the one before it, as 64 hex bytes: while the line took the
  // fast path and is in the batch being linked, only its offset there (no copy per line); else
  // (-1) the bytes are in prevBytes / prevPrevBytes
  let prevBytes = Buffer.from(GENESIS_PREV, 'latin1');
  let prevPrevBytes = Buffer.alloc(64);
  let prevIn = -1;
  let prevPrevIn = -1;
  let hasPrevPrev = false;
  let lastMatchedCheckpointSeq = 0;
  const linkBatch = (batch: LogLineBatch, facts: Float64Array): VerifyProblem | undefined => {
    try {
      return linkLines(batch, facts);
    } finally {
      // the batch's bytes are reused once linked: keep what the next batch needs
      if (prevIn >= 0) batch.buffer.copy(prevBytes, 0, prevIn, prevIn + 64);
      if (prevPrevIn >= 0) batch.buffer.copy(prevPrevBytes, 0, prevPrevIn, prevPrevIn + 64);
      prevIn = prevPrevIn = -1;
    }
  };
  const linkLines = (batch: LogLineBatch, facts: Float64Array): VerifyProblem | undefined => {
    const { buffer, starts, ends, firstLine, offset } = batch;
    const hex = (at: number, bytes: Buffer) => (at >= 0 ? buffer.toString('latin1', at, at + 64) : bytes.toString('latin1'));
    for (let i = 0; i < starts.length; i++) {
      const line = firstLine + i;
      const start = starts[i];
      if (offset + start >= validEnd) {
        tailLine ??= line;
        return undefined;
      }
      const expected = report.records + 1;
      let hashAt = -1;
      let isRecovery = false;
      let slowHash = '';

      // fast path: the sink's exact form with a hash that recomputes from the bytes (prechecked),
      // the expected seq, linked to the previous line (prechecked within the batch: the line
      // before is the last good one, and it took the fast path too)
      const at = i * LINE_FACTS;
      if (facts[at + FACT_SEQ] === expected) {
        const prevAt = facts[at + FACT_PREV_AT];
        const linked =
          prevIn >= 0
            ? facts[at + FACT_LINKS_PREVIOUS] === 1
            : buffer.compare(prevBytes, 0, 64, prevAt, prevAt + 64) === 0;
        if (linked) {
          hashAt = facts[at + FACT_HASH_AT];
          isRecovery = facts[at + FACT_IS_RECOVERY] === 1;
        }
      }

      // slow path: parse and re-canonicalise; it decides, and names what is wrong
      if (hashAt < 0) {
        const lineFacts = readLineFacts(buffer, start, ends[i]);
        if (typeof lineFacts === 'string') return { line, problem: lineFacts };
        const { seq, prev, hash } = lineFacts;
        const prevHash = hex(prevIn, prevBytes);
        if (lineFacts.computed !== hash) {
          return { line, seq, problem: `the record was changed after it was written: its content no longer matches its hash` };
        }
        if (seq !== expected) {
          if (seq === expected - 1 && hash !== prevHash && hasPrevPrev && prev === hex(prevPrevIn, prevPrevBytes)) {
            return { line: line - 1, seq, problem: `lines ${line - 1} and ${line} both carry seq ${seq} and both follow seq ${seq - 1}: one of them was inserted` };
          }
          return { line, seq, problem: describeSeqGap(seq, expected) };
        }
        if (prev !== prevHash) {
          if (line === 1) return { line, seq, problem: `the first record's prev is not 64 zeros: the log does not start at its beginning, or this line was edited` };
          return { line: line - 1, seq: seq - 1, problem: `line ${line} links (prev) to a different hash than line ${line - 1} has: line ${line - 1} was edited and its hash recomputed, or line ${line}'s link was changed` };
        }
        slowHash = hash;
        isRecovery = lineFacts.isRecovery;
      }

      const seq = expected;
      const cps = bySeq.get(seq);
      if (cps) {
        const hash = hashAt >= 0 ? buffer.toString('latin1', hashAt, hashAt + 64) : slowHash;
        const end = offset + ends[i] + 1;
        for (const { cp, line: cpLine, file: cpName } of cps) {
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
      // this line becomes the last good one, the one before it the one before that
      if (prevIn >= 0) {
        prevPrevIn = prevIn;
      } else {
        const older = prevPrevBytes;
        prevPrevBytes = prevBytes;
        prevBytes = older;
        prevPrevIn = -1;
      }
      hasPrevPrev = true;
      if (hashAt >= 0) {
        prevIn = hashAt;
      } else {
        prevIn = -1;
        prevBytes.write(slowHash, 'latin1');
      }
    }
    return undefined;
  };
  return Object.assign(linkBatch, { head: () => prevBytes.toString('latin1'), tailLine: () => tailLine });
}

/**
 * Where the log's records end, by the writer's own rule (read-log-head.ts): after the last
 * newline-terminated line that parses as a record with seq and hash. What follows is a torn
 * tail a crash left: the next append moves it aside and records log.recovered, so verify
 * must call it a warning, not tampering; both sides use this one rule. A tail too large to
 * be a crash's is checked line by line like the rest (the writer refuses it too).
 */
function readTail(logPath: string): { validEnd: number; bytes: number } {
  const fd = fs.openSync(logPath, 'r');
  try {
    const head = readLogHead(fd);
    return { validEnd: head.validEnd, bytes: head.size - head.validEnd };
  } catch (err) {
    if (err instanceof TornTailTooLargeError) return { validEnd: Infinity, bytes: 0 };
    throw err;
  } finally {
    fs.closeSync(fd);
  }
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
