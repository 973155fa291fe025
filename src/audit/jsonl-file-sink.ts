/**
 * The audit sink for a local file: one canonical JSON record a line, hash-chained, appended
 * by any number of processes at once.
 *
 * Input: record bodies. Output: the stored records (with seq, prev, hash), durable on disk
 * before append() resolves.
 * Invariants:
 * - under the cross-process lock (audit-lock.ts), the head is read from the file itself,
 *   the line(s) go out in one write() and are fsync'd before the lock is released, so seq
 *   is contiguous and lines never interleave, whatever other processes do;
 * - a torn tail (a writer killed mid-write) is moved to `<log>.torn-<time>-<n>` (fsync'd)
 *   before the log is truncated to its last complete record, and a `log.recovered` record
 *   naming it goes in before the caller's record: no byte is destroyed, no complete record lost;
 * - every failure is an AuditWriteError (exit 8) and the caller must run nothing;
 * - a signed checkpoint is written when `every` records have passed since the last one, and
 *   on close() when this sink appended anything, so a cut tail is detected (checkpoint.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AuditWriteError, ConfigError, isHoopqError } from '../errors.js';
import { RECOVERED_EVENT, type AuditRecord, type AuditRecordBody, type AuditSink } from './audit-record.js';
import { openAuditLock, LockTimeoutError, type AuditLock } from './audit-lock.js';
import { appendCheckpoint, checkpointsPathFor, readLastCheckpointSeq, signCheckpoint } from './checkpoint.js';
import { loadOrCreateCheckpointKey, type CheckpointSigningKey } from './checkpoint-key.js';
import { serializeAuditRecord } from './hash-record.js';
import { readLogHead, TornTailTooLargeError, type LogHead } from './read-log-head.js';
import { sqliteFailureOf } from '../sqlite/open-sqlite.js';
import { syncDir } from './sync-directory.js';

export interface JsonlFileSinkOptions {
  /**
   * Sign a checkpoint every `every` records (and on close) with the key kept in keyDir. With
   * `witness`, each checkpoint is also appended to that file (another file system or host), so
   * cutting the log and its `.checkpoints` file together is still detected.
   */
  checkpoint?: { keyDir: string; every: number; witness?: string };
  /** How long to wait for other writers before failing (default 30 s). */
  lockTimeoutMs?: number;
  now?: () => Date;
}

const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

interface SinkCheckpointing {
  key: CheckpointSigningKey;
  every: number;
  path: string;
  witness?: string;
}

export class JsonlFileSink implements AuditSink {
  private closed = false;
  private appended = 0;

  constructor(
    readonly path: string,
    private readonly lock: AuditLock,
    private readonly checkpoint: SinkCheckpointing | null,
    private readonly now: () => Date,
  ) {}

  async append(body: AuditRecordBody): Promise<AuditRecord> {
    if (this.closed) throw writeError(this.path, 'the sink is closed', 'audit.sink_closed');
    const content = recordContent(body, this.path);
    return await this.underLock('append', () => this.appendLocked(content));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.checkpoint && this.appended > 0) {
        const cp = this.checkpoint;
        // Best effort: the records are durable; without this checkpoint they are only not yet
        // covered by a signature (verify says so), and the next writer's checkpoint covers them.
        await this.underLock('checkpoint', () =>
          tryQuietly(() => {
            const fd = fs.openSync(this.path, 'r');
            try {
              const head = readLogHead(fd);
              if (head.seq > 0 && head.seq > readLastCheckpointSeq(cp.path)) this.writeCheckpoint(head.seq, head.hash, head.validEnd);
            } finally {
              fs.closeSync(fd);
            }
          }),
        ).catch(() => undefined);
      }
    } finally {
      this.lock.close();
    }
  }

  private appendLocked(content: Record<string, unknown>): AuditRecord {
    const fd = fs.openSync(this.path, 'a+', 0o600);
    try {
      const head = readLogHead(fd);
      if (head.size === 0) this.refuseIfLogWasReplaced();
      let seq = head.seq;
      let prev = head.hash;
      const lines: string[] = [];
      if (head.torn) {
        const recovered = this.moveTornTail(fd, head);
        const r = serializeAuditRecord({ ...recovered, seq: ++seq, prev });
        lines.push(r.line);
        prev = r.record.hash;
      }
      const { record, line } = serializeAuditRecord({ ...(content as AuditRecordBody), seq: ++seq, prev });
      lines.push(line);
      const bytes = Buffer.from(lines.join('\n') + '\n', 'utf8');
      writeOnce(fd, bytes, head.validEnd);
      this.appended++;
      if (head.validEnd === 0) syncDir(path.dirname(this.path));
      const cp = this.checkpoint;
      // The first record of a log is signed at once (a log never has records and no checkpoint
      // for long: `audit verify` refuses that), then each multiple of `every` that is passed.
      // The record is durable now: a checkpoint file that cannot be read or written must not make
      // the caller think it is not (an outcome would be reported lost); the next append, or
      // close, retries. A witness that cannot be written still refuses (audit.witness).
      if (cp) {
        const last = readQuietly(() => readLastCheckpointSeq(cp.path));
        if (last !== undefined && (last === 0 || Math.floor(seq / cp.every) > Math.floor(last / cp.every))) this.writeCheckpoint(seq, record.hash, head.validEnd + bytes.length);
      }
      return record;
    } finally {
      fs.closeSync(fd);
    }
  }

  private writeCheckpoint(seq: number, hash: string, logSizeBytes: number): void {
    const cp = this.checkpoint!;
    const signed = signCheckpoint(cp.key, { seq, hash, logSizeBytes }, this.now());
    tryQuietly(() => appendCheckpoint(cp.path, signed));
    if (cp.witness) {
      try {
        appendCheckpoint(cp.witness, signed);
      } catch (err) {
        throw writeError(cp.witness, `the checkpoint witness cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'audit.witness', 'make the witness file writable (audit_witness in hoopq.yaml); queries are refused until it is', err);
      }
    }
  }

  /**
   * An empty log next to checkpoints that cover records means the log was deleted or
   * replaced; starting a fresh chain would bury that, so refuse.
   */
  private refuseIfLogWasReplaced(): void {
    if (!this.checkpoint) return;
    const { path: own, witness } = this.checkpoint;
    const [covered, where] = [[readLastCheckpointSeq(own), own] as const, ...(witness ? [[readLastCheckpointSeq(witness), witness] as const] : [])].reduce((a, b) => (b[0] > a[0] ? b : a));
    if (covered > 0) {
      throw writeError(this.path, `the log is empty but ${where} has signed checkpoints up to seq ${covered}: it was deleted or replaced`, 'audit.log_replaced', 'restore the log from backup (hoopq audit verify checks it), or move the old log, its .checkpoints and .torn-* files away to start a new one');
    }
  }

  /** Copies the torn bytes to a side file (fsync'd, with its directory entry), then truncates. */
  private moveTornTail(fd: number, head: LogHead): AuditRecordBody {
    const torn = head.torn!;
    const stamp = this.now().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    let sideFile = '';
    for (let n = 1; ; n++) {
      sideFile = `${this.path}.torn-${stamp}-${n}`;
      let side: number;
      try {
        side = fs.openSync(sideFile, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      try {
        writeAll(side, torn);
        fs.fsyncSync(side);
      } finally {
        fs.closeSync(side);
      }
      break;
    }
    syncDir(path.dirname(this.path));
    fs.ftruncateSync(fd, head.validEnd);
    const now = this.now();
    return {
      id: randomUUID(),
      time: now.toISOString(),
      event: RECOVERED_EVENT,
      run: null,
      subject: null,
      token_id: null,
      policy: { name: null, sha256: null },
      justification: null,
      sql: null,
      statements: [],
      tables: { read: [], write: [] },
      decision: 'error',
      reason: `a writer was interrupted mid-write: ${torn.length} bytes after seq ${head.seq} were moved to ${path.basename(sideFile)}`,
      masked: { columns: {}, detected: {} },
      warehouse: { kind: null, job_id: null, bytes_processed: null },
      rows: null,
      result_sha256: null,
      duration_ms: null,
      torn_bytes: torn.length,
      torn_file: path.basename(sideFile),
      torn_sha256: createHash('sha256').update(torn).digest('hex'),
    };
  }

  private async underLock<T>(what: string, fn: () => T): Promise<T> {
    try {
      return await this.lock.run(fn);
    } catch (err) {
      if (isHoopqError(err)) throw err;
      if (err instanceof LockTimeoutError) {
        throw writeError(this.path, err.message, 'audit.lock_timeout', 'another hoopq process is stuck while appending; find it (fuser/lsof on the .lock.db file) or retry', err);
      }
      if (err instanceof TornTailTooLargeError) {
        throw writeError(this.path, err.message, 'audit.log_corrupt', 'run hoopq audit verify to see where the log breaks; restore it from backup', err);
      }
      throw ioError(this.path, what, err);
    }
  }
}

/**
 * Opens (creating when absent) the log, its lock database and, with `checkpoint`, the
 * signing key, so that a sink that cannot work fails here, before any query runs.
 * Throws AuditWriteError (exit 8), or ConfigError (exit 3) for a key with loose permissions.
 */
export async function openJsonlFileSink(logPath: string, options: JsonlFileSinkOptions = {}): Promise<JsonlFileSink> {
  const file = path.resolve(logPath);
  try {
    fs.closeSync(fs.openSync(file, 'a+', 0o600));
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    throw ioError(file, 'open', err);
  }
  let checkpoint: SinkCheckpointing | null = null;
  if (options.checkpoint) {
    const every = options.checkpoint.every;
    if (!Number.isSafeInteger(every) || every < 1) throw writeError(file, `checkpoint every ${every} records is not a positive integer`, 'audit.checkpoint_every');
    const witness = options.checkpoint.witness ? path.resolve(options.checkpoint.witness) : undefined;
    if (witness === file || witness === checkpointsPathFor(file)) throw writeError(file, `the checkpoint witness ${witness} is the log or its checkpoints file`, 'audit.witness', 'give audit_witness a file on another file system or host');
    if (witness) {
      try {
        fs.closeSync(fs.openSync(witness, 'a', 0o600));
      } catch (err) {
        throw writeError(witness, `the checkpoint witness cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'audit.witness', 'point audit_witness in hoopq.yaml at a writable file on another file system or host');
      }
    }
    checkpoint = { key: loadCheckpointKey(options.checkpoint.keyDir, file), every, path: checkpointsPathFor(file), witness };
  }
  let lock: AuditLock;
  try {
    lock = openAuditLock(`${file}.lock.db`, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  } catch (err) {
    throw ioError(`${file}.lock.db`, 'open the lock database', err);
  }
  return new JsonlFileSink(file, lock, checkpoint, options.now ?? (() => new Date()));
}

/** Key files that cannot be created or written are an audit failure; loose permissions stay a ConfigError. */
function loadCheckpointKey(keyDir: string, logPath: string): CheckpointSigningKey {
  try {
    return loadOrCreateCheckpointKey(keyDir);
  } catch (err) {
    if (err instanceof ConfigError && (err.code === 'audit.key_dir' || err.code === 'audit.key_write')) {
      throw writeError(logPath, `its checkpoint key cannot be stored: ${err.message}`, 'audit.key_write', err.hint, err);
    }
    throw err;
  }
}

/** The body as it is hashed: seq/prev/hash are the sink's to assign; a few fields must be sound. */
function recordContent(body: AuditRecordBody, logPath: string): Record<string, unknown> {
  const { seq: _seq, prev: _prev, hash: _hash, ...content } = body as AuditRecordBody & { seq?: unknown; prev?: unknown; hash?: unknown };
  if (typeof content.id !== 'string' || content.id === '') throw writeError(logPath, 'the record has no id', 'audit.invalid_record');
  if (typeof content.event !== 'string' || content.event === '') throw writeError(logPath, 'the record has no event', 'audit.invalid_record');
  if (typeof content.time !== 'string' || Number.isNaN(Date.parse(content.time))) throw writeError(logPath, `the record's time ${JSON.stringify(content.time)} is not an RFC 3339 time`, 'audit.invalid_record');
  // log.recovered is the sink's own statement about the file; a caller may not make it
  if (content.event === RECOVERED_EVENT) throw writeError(logPath, `the event ${RECOVERED_EVENT} is reserved for the sink`, 'audit.invalid_record');
  return content;
}

/** One write(); a short write is undone so the log never keeps a torn line we made. */
function writeOnce(fd: number, bytes: Buffer, truncateTo: number): void {
  let written = 0;
  try {
    written = fs.writeSync(fd, bytes);
    if (written !== bytes.length) throw Object.assign(new Error(`short write: ${written} of ${bytes.length} bytes (disk full?)`), { code: 'ENOSPC' });
    fs.fdatasyncSync(fd);
  } catch (err) {
    try {
      fs.ftruncateSync(fd, truncateTo);
    } catch {
      // the next writer moves whatever is left aside as a torn tail
    }
    throw err;
  }
}

function readQuietly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined; // see the callers
  }
}

function tryQuietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // see the callers: retried later, and verify reports what no checkpoint covers
  }
}

function writeAll(fd: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

function writeError(file: string, message: string, code: string, hint = 'fix the audit log location (audit: in hoopq.yaml); nothing was run', cause?: unknown): AuditWriteError {
  return new AuditWriteError(code, `cannot write the audit log ${file}: ${message}`, { rule: 'audit.durable', hint, cause });
}

function ioError(file: string, action: string, err: unknown): AuditWriteError {
  if (err instanceof TypeError) {
    return writeError(file, `the record cannot be written as canonical JSON: ${err.message}`, 'audit.invalid_record', 'this is a bug in the caller: report it', err);
  }
  // the append lock is a SQLite database: its "database or disk is full" is the same full disk
  const failure = sqliteFailureOf(err);
  const code = failure === 'full' ? 'ENOSPC' : failure === 'io' ? 'EIO' : failure === 'read_only' ? 'EROFS' : (err as NodeJS.ErrnoException).code;
  const reason = (err as Error).message;
  const known: Record<string, [string, string]> = {
    ENOENT: ['its directory does not exist', `create ${path.dirname(file)} or point audit: in hoopq.yaml at an existing directory`],
    ENOTDIR: ['a part of its path is not a directory', 'point audit: in hoopq.yaml at a file in a directory'],
    EISDIR: ['it is a directory', 'point audit: in hoopq.yaml at a file, not a directory'],
    EACCES: ['permission denied', `make ${file} and its directory writable by this user`],
    EPERM: ['operation not permitted', `make ${file} writable (is it immutable or append-only at the file-system level?)`],
    EROFS: ['the file system is read-only', 'put the audit log on a writable file system'],
    ENOSPC: ['the disk is full', 'free disk space; nothing was run'],
    EDQUOT: ['the disk quota is exhausted', 'free space or raise the quota; nothing was run'],
    EIO: ['an I/O error occurred', 'check the disk; nothing was run'],
  };
  const [what, hint] = (code && known[code]) || [reason, 'check the audit log location and the disk; nothing was run'];
  return writeError(file, `${action} failed: ${what}${code && known[code] ? ` (${code})` : ''}`, 'audit.write_failed', hint, err);
}
