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
 * - group commit: appends from concurrent queries of one process share one write and one
 *   fsync; each resolves only after the fsync that covers it, and a failed write or fsync
 *   fails every append of its group (and cuts their bytes off again); the lock is never
 *   held across an await;
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
import { isHoopqError, type AuditWriteError } from '../errors.js';
import { RECOVERED_EVENT, type AuditRecord, type AuditRecordBody, type AuditSink } from './audit-record.js';
import { openAuditLock, LockTimeoutError, type AuditLock } from './audit-lock.js';
import { appendCheckpoint, checkpointsPathFor, readLastCheckpointSeq, signCheckpoint } from './checkpoint.js';
import { serializeAuditRecord } from './hash-record.js';
import { readLogHead, TornTailTooLargeError, type LogHead } from './read-log-head.js';
import { sqliteFailureOf } from '../sqlite/open-sqlite.js';
import { GroupCommitQueue, type PendingAppend } from './group-commit.js';
import { appendToWitness, auditWriteError, isCheckpointDue, openSinkCheckpointing, type SinkCheckpointOptions, type SinkCheckpointing as SharedCheckpointing } from './sink-checkpointing.js';
import { syncDir } from './sync-directory.js';
import { findOutcomeOfIntent, type IntentOutcomeState } from './find-outcome-of-intent.js';

export interface JsonlFileSinkOptions {
  /**
   * Sign a checkpoint every `every` records (and on close) with the key kept in keyDir. With
   * `witness`, each checkpoint is also appended to that file (another file system or host), so
   * cutting the log and its `.checkpoints` file together is still detected.
   */
  checkpoint?: SinkCheckpointOptions;
  /** How long to wait for other writers before failing (default 30 s). */
  lockTimeoutMs?: number;
  now?: () => Date;
  /** Where fdatasync goes; tests give a failing disk. */
  disk?: AuditDisk;
  /** Called with the number of records each group commit made durable (gateway metrics). */
  onGroupCommit?: (records: number) => void;
}

const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

interface SinkCheckpointing extends SharedCheckpointing {
  /** `<log>.checkpoints` */
  path: string;
}

export class JsonlFileSink implements AuditSink {
  private appended = 0;
  private readonly queue: GroupCommitQueue;
  /** What the file looked like right after this sink's last successful commit. */
  private ownHead: { stat: fs.Stats; seq: number; hash: string } | undefined;
  /** The checkpoints file as last read: its identity and size, and its last seq. */
  private checkpointSeen: { key: string; seq: number } | undefined;

  constructor(
    readonly path: string,
    private readonly lock: AuditLock,
    private readonly checkpoint: SinkCheckpointing | null,
    private readonly now: () => Date,
    private readonly disk: AuditDisk = NODE_DISK,
    private readonly onGroupCommit: (records: number) => void = () => {},
  ) {
    this.queue = new GroupCommitQueue(path, (take) =>
      this.underLock('append', () => {
        // taken once the lock is ours: appends that came while we waited for it join too
        this.commitLocked(take());
      }),
    );
  }

  /**
   * Group commit: the appends of one turn of the event loop (concurrent queries) wait for
   * one write+fsync and share it; those that arrive while a group waits for the lock join
   * the next. Each resolves only after the fsync that covers its line; when that write or
   * fsync fails, every append of the group fails (AuditWriteError) and the bytes are cut off
   * again, so no caller runs on a record that may not be durable.
   */
  append(body: AuditRecordBody): Promise<AuditRecord> {
    return this.queue.append(body);
  }


  /** Whether the log holds an outcome for an intent: read back from the file's end. */
  findOutcomeOfIntent(intentId: string): IntentOutcomeState {
    return findOutcomeOfIntent(this.path, intentId);
  }

  async close(): Promise<void> {
    if (!(await this.queue.close())) return;
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

  private commitLocked(group: PendingAppend[]): void {
    const fd = fs.openSync(this.path, 'a+', 0o600);
    try {
      const head = this.headAfterOwnCommit(fd) ?? readLogHead(fd);
      this.ownHead = undefined;
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
      const done: Array<[PendingAppend, AuditRecord]> = [];
      for (const waiter of group) {
        let serialized: { record: AuditRecord; line: string };
        try {
          serialized = serializeAuditRecord({ ...(waiter.content as AuditRecordBody), seq: seq + 1, prev });
        } catch (err) {
          waiter.reject(ioError(this.path, 'append', err)); // only this record cannot be written
          continue;
        }
        seq += 1;
        prev = serialized.record.hash;
        lines.push(serialized.line);
        done.push([waiter, serialized.record]);
      }
      if (done.length === 0 && !head.torn) return;
      const bytes = Buffer.from(lines.join('\n') + '\n', 'utf8');
      writeDurably(fd, bytes, head.validEnd, this.disk);
      this.ownHead = { stat: fs.fstatSync(fd), seq, hash: prev };
      this.appended += done.length;
      if (head.validEnd === 0) syncDir(path.dirname(this.path));
      const cp = this.checkpoint;
      // The first record of a log is signed at once (a log never has records and no checkpoint
      // for long: `audit verify` refuses that), then each multiple of `every` that is passed.
      // The record is durable now: a checkpoint file that cannot be read or written must not make
      // the caller think it is not (an outcome would be reported lost); the next append, or
      // close, retries. A witness that cannot be written still refuses (audit.witness).
      if (cp) {
        const last = readQuietly(() => this.lastCheckpointSeq(cp.path));
        if (last !== undefined && isCheckpointDue(last, seq, cp.every)) this.writeCheckpoint(seq, prev, head.validEnd + bytes.length);
      }
      this.onGroupCommit(done.length);
      for (const [waiter, record] of done) waiter.resolve(record);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * The head this sink wrote last, when the file is provably untouched since: same inode,
   * size, mtime and ctime (another writer's append, a recovery or an edit changes at least
   * the size or ctime). Saves reading the tail back on every group; anything else reads it.
   */
  private headAfterOwnCommit(fd: number): LogHead | undefined {
    const own = this.ownHead;
    if (!own) return undefined;
    const now = fs.fstatSync(fd);
    const same = now.ino === own.stat.ino && now.dev === own.stat.dev && now.size === own.stat.size && now.mtimeMs === own.stat.mtimeMs && now.ctimeMs === own.stat.ctimeMs;
    return same && now.size > 0 ? { seq: own.seq, hash: own.hash, validEnd: now.size, size: now.size, torn: null } : undefined;
  }

  /**
   * readLastCheckpointSeq, read again only when the file changed since (another inode, size,
   * mtime or ctime: any writer's checkpoint, an edit, a replacement): one stat per commit
   * instead of reading the file's tail.
   */
  private lastCheckpointSeq(file: string): number {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
    if (this.checkpointSeen?.key !== key) this.checkpointSeen = { key, seq: readLastCheckpointSeq(file) };
    return this.checkpointSeen.seq;
  }

  private writeCheckpoint(seq: number, hash: string, logSizeBytes: number): void {
    const cp = this.checkpoint!;
    const signed = signCheckpoint(cp.key, { seq, hash, logSizeBytes }, this.now());
    tryQuietly(() => appendCheckpoint(cp.path, signed));
    if (cp.witness) appendToWitness(cp.witness, signed);
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
      throw auditWriteError(this.path, `the log is empty but ${where} has signed checkpoints up to seq ${covered}: it was deleted or replaced`, 'audit.log_replaced', 'restore the log from backup (hoopq audit verify checks it), or move the old log, its .checkpoints and .torn-* files away to start a new one');
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
        throw auditWriteError(this.path, err.message, 'audit.lock_timeout', 'another hoopq process is stuck while appending; find it (fuser/lsof on the .lock.db file) or retry', err);
      }
      if (err instanceof TornTailTooLargeError) {
        throw auditWriteError(this.path, err.message, 'audit.log_corrupt', 'run hoopq audit verify to see where the log breaks; restore it from backup', err);
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
  const checkpoint: SinkCheckpointing | null = options.checkpoint
    ? { ...openSinkCheckpointing(options.checkpoint, file, [file, checkpointsPathFor(file)]), path: checkpointsPathFor(file) }
    : null;
  let lock: AuditLock;
  try {
    lock = openAuditLock(`${file}.lock.db`, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  } catch (err) {
    throw ioError(`${file}.lock.db`, 'open the lock database', err);
  }
  return new JsonlFileSink(file, lock, checkpoint, options.now ?? (() => new Date()), options.disk, options.onGroupCommit);
}

/**
 * The disk as the sink uses it for durability: the one call a test replaces with a failing
 * disk (a fake at the process boundary, like the fake Google servers).
 */
export interface AuditDisk {
  fdatasync(fd: number): void;
}

// Synchronous on purpose: the cross-process lock is held for the write+fsync only, never
// across an await (holding it while the event loop gets round to an fsync's completion
// starves other processes' writers under load: measured, 32 writers then time out).
const NODE_DISK: AuditDisk = { fdatasync: (fd) => fs.fdatasyncSync(fd) };

/**
 * One write(), then fdatasync. A short write or a failed sync is undone (truncated back), so
 * the log never keeps a torn line we made nor lines whose durability is unknown (after a
 * failed fsync the kernel may have dropped them while the page cache still shows them).
 */
function writeDurably(fd: number, bytes: Buffer, truncateTo: number, disk: AuditDisk): void {
  let written = 0;
  try {
    written = fs.writeSync(fd, bytes);
    if (written !== bytes.length) throw Object.assign(new Error(`short write: ${written} of ${bytes.length} bytes (disk full?)`), { code: 'ENOSPC' });
    disk.fdatasync(fd);
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

function ioError(file: string, action: string, err: unknown): AuditWriteError {
  if (err instanceof TypeError) {
    return auditWriteError(file, `the record cannot be written as canonical JSON: ${err.message}`, 'audit.invalid_record', 'this is a bug in the caller: report it', err);
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
  return auditWriteError(file, `${action} failed: ${what}${code && known[code] ? ` (${code})` : ''}`, 'audit.write_failed', hint, err);
}
