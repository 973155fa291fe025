/**
 * What every durable audit sink (the JSONL file, the PostgreSQL log) shares around its
 * appends: the check of a record body before it is chained, the AuditWriteError it fails
 * with, and its checkpointing set-up (signing key, interval, witness file).
 *
 * Input: record bodies, the sink's checkpoint options. Output: the content to hash, or an
 * AuditWriteError (exit 8) naming the log (`where`: a path, or a postgres:// URL without a
 * password) and what to do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AuditWriteError, ConfigError } from '../errors.js';
import { RECOVERED_EVENT, type AuditRecordBody } from './audit-record.js';
import { appendCheckpoint, type AuditCheckpoint } from './checkpoint.js';
import { loadOrCreateCheckpointKey, type CheckpointSigningKey } from './checkpoint-key.js';

export interface SinkCheckpointOptions {
  keyDir: string;
  every: number;
  witness?: string;
}

export interface SinkCheckpointing {
  key: CheckpointSigningKey;
  every: number;
  /** Absolute path of the witness file, when one is configured. */
  witness?: string;
}

export function auditWriteError(where: string, message: string, code: string, hint = 'fix the audit log location (audit: in hoopq.yaml); nothing was run', cause?: unknown): AuditWriteError {
  return new AuditWriteError(code, `cannot write the audit log ${where}: ${message}`, { rule: 'audit.durable', hint, cause });
}

/** The body as it is hashed: seq/prev/hash are the sink's to assign; a few fields must be sound. */
export function recordContent(body: AuditRecordBody, where: string): Record<string, unknown> {
  const { seq: _seq, prev: _prev, hash: _hash, ...content } = body as AuditRecordBody & { seq?: unknown; prev?: unknown; hash?: unknown };
  if (typeof content.id !== 'string' || content.id === '') throw auditWriteError(where, 'the record has no id', 'audit.invalid_record');
  if (typeof content.event !== 'string' || content.event === '') throw auditWriteError(where, 'the record has no event', 'audit.invalid_record');
  if (typeof content.time !== 'string' || Number.isNaN(Date.parse(content.time))) throw auditWriteError(where, `the record's time ${JSON.stringify(content.time)} is not an RFC 3339 time`, 'audit.invalid_record');
  // log.recovered is the sink's own statement about the log; a caller may not make it
  if (content.event === RECOVERED_EVENT) throw auditWriteError(where, `the event ${RECOVERED_EVENT} is reserved for the sink`, 'audit.invalid_record');
  return content;
}

/**
 * Checks the interval, opens (creating) the witness file and loads (creating) the signing
 * key, so a sink that could not checkpoint fails when it opens. `ownFiles`: paths the witness
 * must not be (the log itself and its checkpoints file).
 */
export function openSinkCheckpointing(options: SinkCheckpointOptions, where: string, ownFiles: string[] = []): SinkCheckpointing {
  const { every } = options;
  if (!Number.isSafeInteger(every) || every < 1) throw auditWriteError(where, `checkpoint every ${every} records is not a positive integer`, 'audit.checkpoint_every');
  const witness = options.witness ? path.resolve(options.witness) : undefined;
  if (witness && ownFiles.includes(witness)) throw auditWriteError(where, `the checkpoint witness ${witness} is the log or its checkpoints file`, 'audit.witness', 'give audit_witness a file on another file system or host');
  if (witness) {
    try {
      fs.closeSync(fs.openSync(witness, 'a', 0o600));
    } catch (err) {
      throw auditWriteError(witness, `the checkpoint witness cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'audit.witness', 'point audit_witness in hoopq.yaml at a writable file on another file system or host');
    }
  }
  return { key: loadCheckpointKey(options.keyDir, where), every, witness };
}

/** Whether a checkpoint is due at `seq`: the first record of a log, then each multiple of `every` passed. */
export function isCheckpointDue(lastCheckpointSeq: number, seq: number, every: number): boolean {
  return lastCheckpointSeq === 0 || Math.floor(seq / every) > Math.floor(lastCheckpointSeq / every);
}

/** Appends a signed checkpoint to the witness file; one that cannot be written refuses (audit.witness). */
export function appendToWitness(witness: string, signed: AuditCheckpoint): void {
  try {
    appendCheckpoint(witness, signed);
  } catch (err) {
    throw auditWriteError(witness, `the checkpoint witness cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'audit.witness', 'make the witness file writable (audit_witness in hoopq.yaml); queries are refused until it is', err);
  }
}

/** Key files that cannot be created or written are an audit failure; loose permissions stay a ConfigError. */
function loadCheckpointKey(keyDir: string, where: string): CheckpointSigningKey {
  try {
    return loadOrCreateCheckpointKey(keyDir);
  } catch (err) {
    if (err instanceof ConfigError && (err.code === 'audit.key_dir' || err.code === 'audit.key_write')) {
      throw auditWriteError(where, `its checkpoint key cannot be stored: ${err.message}`, 'audit.key_write', err.hint, err);
    }
    throw err;
  }
}
