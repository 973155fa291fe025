/**
 * Where a deployment's own audit log is read: a JSONL file, or the log shared by replicas in
 * PostgreSQL. The readers (list, show, export, verify, replay, state init) work on files, so a
 * PostgreSQL log is first copied, byte for byte, into a private temporary directory (0700,
 * files 0600: records may hold personal data), read there, and removed afterwards.
 *
 * Input: the configured log. Output: a path for the time of the caller's work, or the
 * verification report with the database named instead of the temporary copy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describePostgresUrl } from '../config/postgres-url.js';
import { copyPgAuditLog } from '../postgres/copy-pg-audit-log.js';
import { AUDIT_CHECKPOINTS_TABLE } from '../postgres/pg-audit-schema.js';
import type { AuditRecord } from './audit-record.js';
import { checkpointsPathFor } from './checkpoint.js';
import { listAuditRecords, requireAuditRecord, type AuditFilter } from './read-audit-log.js';
import { verifyAuditLog, type VerifyOptions, type VerifyReport } from './verify-audit-log.js';

export type AuditLogSource = { kind: 'file'; path: string } | { kind: 'postgres'; url: string };

/** How messages name the log: its path, or its database (without a password). */
export function describeAuditLog(source: AuditLogSource): string {
  return source.kind === 'file' ? source.path : describePostgresUrl(source.url);
}

/** Runs fn with a path holding the log (and its `.checkpoints` beside it); a copy is removed afterwards. */
export async function withAuditLogFile<T>(source: AuditLogSource, fn: (logPath: string) => Promise<T>): Promise<T> {
  if (source.kind === 'file') return fn(source.path);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-audit-'));
  try {
    fs.chmodSync(dir, 0o700);
    const { log } = await copyPgAuditLog(source.url, dir);
    return await fn(log);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Records, oldest first, filtered (listAuditRecords over the log or its copy). */
export async function* listAuditRecordsOf(source: AuditLogSource, filter: AuditFilter = {}): AsyncGenerator<AuditRecord> {
  if (source.kind === 'file') {
    yield* listAuditRecords(source.path, filter);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-audit-'));
  try {
    fs.chmodSync(dir, 0o700);
    const { log } = await copyPgAuditLog(source.url, dir);
    yield* listAuditRecords(log, filter);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function requireAuditRecordOf(source: AuditLogSource, id: string): Promise<AuditRecord> {
  return withAuditLogFile(source, (log) => requireAuditRecord(log, id));
}

/** verifyAuditLog over the log or its copy; a copy's report names the database, not the temporary files. */
export function verifyAuditLogOf(source: AuditLogSource, options: VerifyOptions = {}): Promise<VerifyReport> {
  return withAuditLogFile(source, (log) => verifyAuditLogAt(source, log, options));
}

/** verifyAuditLog over `log`, the path withAuditLogFile gave for `source`; the report names the source. */
export async function verifyAuditLogAt(source: AuditLogSource, log: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const report = await verifyAuditLog(log, options);
  if (source.kind === 'file') return report;
  const name = describeAuditLog(source);
  return relabel(report, [
    [checkpointsPathFor(log), `${name} ${AUDIT_CHECKPOINTS_TABLE}`],
    [log, name],
    [path.basename(checkpointsPathFor(log)), AUDIT_CHECKPOINTS_TABLE],
  ]);
}

function relabel<T>(value: T, renames: Array<[string, string]>): T {
  if (typeof value === 'string') return renames.reduce<string>((s, [from, to]) => s.split(from).join(to), value) as T;
  if (Array.isArray(value)) return value.map((v) => relabel(v, renames)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, relabel(v, renames)])) as T;
  return value;
}
