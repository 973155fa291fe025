/**
 * Signed checkpoints: a signature over the log's head, kept in `<log>.checkpoints` (one JSON
 * object a line), apart from the log. Like a CloudTrail digest file or a C2SP signed note, a
 * checkpoint commits to everything before it, because the head hash commits to the whole
 * chain: {seq, hash (of record seq), time, key_id, log_size_bytes (bytes up to and including
 * that record's newline), signature}.
 *
 * The signed message is the line `hoopq-audit-checkpoint/v1`, a newline, then the canonical
 * JSON of the checkpoint without `signature`; the signature is Ed25519, base64.
 * Appending happens under the log's lock (jsonl-file-sink.ts), with one write and an fsync.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { canonicalJson } from './canonical-json.js';
import type { CheckpointSigningKey } from './checkpoint-key.js';
import { isSha256Hex } from './hash-record.js';
import { lineStartBefore } from './read-log-head.js';

export interface AuditCheckpoint {
  seq: number;
  hash: string;
  time: string;
  key_id: string;
  log_size_bytes: number;
  signature: string;
}

export interface LogHeadState {
  seq: number;
  hash: string;
  logSizeBytes: number;
}

const SIGNED_PREFIX = 'hoopq-audit-checkpoint/v1\n';

export function checkpointsPathFor(logPath: string): string {
  return `${logPath}.checkpoints`;
}

export function checkpointSignedMessage(cp: Omit<AuditCheckpoint, 'signature'>): Buffer {
  const { seq, hash, time, key_id, log_size_bytes } = cp;
  return Buffer.from(SIGNED_PREFIX + canonicalJson({ seq, hash, time, key_id, log_size_bytes }), 'utf8');
}

export function signCheckpoint(key: CheckpointSigningKey, head: LogHeadState, now: Date): AuditCheckpoint {
  const unsigned = { seq: head.seq, hash: head.hash, time: now.toISOString(), key_id: key.keyId, log_size_bytes: head.logSizeBytes };
  const signature = sign(null, checkpointSignedMessage(unsigned), key.privateKey).toString('base64');
  return { ...unsigned, signature };
}

/** Verifies on libuv's thread pool, so many checkpoints verify while the log streams. */
export function verifyCheckpointSignature(cp: AuditCheckpoint, publicKey: KeyObject): Promise<boolean> {
  return new Promise((resolve) => {
    verify(null, checkpointSignedMessage(cp), publicKey, Buffer.from(cp.signature, 'base64'), (err, ok) => resolve(!err && ok));
  });
}

/** Parses one checkpoint line; throws TypeError naming what is wrong. */
export function parseCheckpointLine(text: string): AuditCheckpoint {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new TypeError('not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('not a JSON object');
  const o = v as Record<string, unknown>;
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1) throw new TypeError('seq is not a positive integer');
  if (!isSha256Hex(o.hash)) throw new TypeError('hash is not 64 lower-case hex digits');
  if (typeof o.time !== 'string') throw new TypeError('time is missing');
  if (typeof o.key_id !== 'string') throw new TypeError('key_id is missing');
  if (!Number.isSafeInteger(o.log_size_bytes) || (o.log_size_bytes as number) < 1) throw new TypeError('log_size_bytes is not a positive integer');
  if (typeof o.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(o.signature)) throw new TypeError('signature is not a base64 Ed25519 signature');
  return { seq: o.seq as number, hash: o.hash, time: o.time, key_id: o.key_id, log_size_bytes: o.log_size_bytes as number, signature: o.signature };
}

/**
 * Appends a checkpoint durably (caller holds the log's lock). A torn last line left by a
 * writer killed mid-write is cut off first: it carries no valid signature and would only
 * hide the line after it. Throws the underlying I/O error.
 */
export function appendCheckpoint(path: string, cp: AuditCheckpoint): void {
  const fd = fs.openSync(path, 'a+', 0o600);
  try {
    const size = fs.fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) fs.ftruncateSync(fd, lineStartBefore(fd, size));
    }
    const line = Buffer.from(canonicalJson(cp) + '\n', 'utf8');
    const written = fs.writeSync(fd, line);
    if (written !== line.length) throw Object.assign(new Error(`short write (${written} of ${line.length} bytes)`), { code: 'EIO' });
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The seq of the last complete checkpoint line, or 0 when there is none (or it is unreadable). */
export function readLastCheckpointSeq(path: string): number {
  return readLastCheckpoint(path)?.seq ?? 0;
}

/** The last complete checkpoint line, or null when there is none (or it is unreadable). */
export function readLastCheckpoint(path: string): AuditCheckpoint | null {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const end = lineStartBefore(fd, size);
    if (end === 0) return null;
    const start = lineStartBefore(fd, end - 1);
    const buf = Buffer.alloc(end - 1 - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    try {
      return parseCheckpointLine(buf.toString('utf8'));
    } catch {
      return null;
    }
  } finally {
    fs.closeSync(fd);
  }
}
