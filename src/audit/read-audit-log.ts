/**
 * `audit list|show|export` and `replay`: read records back, streaming, oldest first.
 *
 * Input: the log's path and a filter. Output: parsed records as stored.
 * Reading does not verify (that is `audit verify`); it refuses, with AuditVerifyError, a
 * complete line that is not a JSON object rather than skip it silently. A torn final line
 * (a writer interrupted mid-write, not yet recovered) is not a record and is skipped.
 * A missing log reads as empty.
 */
import fs from 'node:fs';
import { AuditVerifyError, UsageError } from '../errors.js';
import type { AuditRecord } from './audit-record.js';
import { readLogLines } from './read-log-lines.js';

export interface AuditFilter {
  run?: string;
  decision?: 'allow' | 'deny' | 'error';
  /** Policy name. */
  policy?: string;
  event?: string;
  /** Records at or after this instant. */
  since?: Date;
  /** Records before this instant. */
  until?: Date;
}

export async function* listAuditRecords(logPath: string, filter: AuditFilter = {}): AsyncGenerator<AuditRecord> {
  const since = filter.since?.getTime();
  const until = filter.until?.getTime();
  for await (const record of readRecords(logPath, null)) {
    if (filter.run !== undefined && record.run !== filter.run) continue;
    if (filter.decision !== undefined && record.decision !== filter.decision) continue;
    if (filter.policy !== undefined && record.policy?.name !== filter.policy) continue;
    if (filter.event !== undefined && record.event !== filter.event) continue;
    if (since !== undefined || until !== undefined) {
      const t = Date.parse(record.time);
      if (since !== undefined && !(t >= since)) continue;
      if (until !== undefined && !(t < until)) continue;
    }
    yield record;
  }
}

/**
 * Whether any record of the log was made under the policy `name`: a scan for the record's own
 * bytes (`"policy":{"name":"…"` — records are stored in canonical JSON, keys sorted, no
 * spaces), without parsing. A missing log holds none.
 */
export async function logHasPolicy(logPath: string, name: string): Promise<boolean> {
  if (!fs.existsSync(logPath)) return false;
  const needle = Buffer.from(`"policy":{"name":${JSON.stringify(name)}`, 'utf8');
  for await (const { buffer, starts, ends } of readLogLines(logPath)) {
    if (starts.length > 0 && buffer.subarray(starts[0], ends[ends.length - 1]).indexOf(needle) !== -1) return true;
  }
  return false;
}

/** The record with this id (the first, should a copy exist), or undefined. */
export async function findAuditRecord(logPath: string, id: string): Promise<AuditRecord | undefined> {
  for await (const record of readRecords(logPath, id)) {
    if (record.id === id) return record;
  }
  return undefined;
}

/** The record with this id; none is a usage error (exit 2) naming the log. */
export async function requireAuditRecord(logPath: string, id: string): Promise<AuditRecord> {
  const record = await findAuditRecord(logPath, id);
  if (!record) throw new UsageError('usage.record_not_found', `no audit record with id ${id} in ${logPath}`, { hint: 'hoopq audit list shows the ids' });
  return record;
}

/**
 * Parses every complete line, or with `id` only the lines that can hold it: a line whose
 * JSON carries that id either contains its JSON text verbatim or uses a backslash escape.
 */
async function* readRecords(logPath: string, id: string | null): AsyncGenerator<AuditRecord> {
  if (!fs.existsSync(logPath)) return;
  const needle = id === null ? null : Buffer.from(JSON.stringify(id), 'utf8');
  for await (const batch of readLogLines(logPath)) {
    const { buffer, starts, ends } = batch;
    for (let i = 0; i < starts.length; i++) {
      const s = starts[i];
      const e = ends[i];
      if (needle) {
        const line = buffer.subarray(s, e);
        if (line.indexOf(needle) === -1 && line.indexOf(0x5c) === -1) continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(buffer.toString('utf8', s, e));
      } catch {
        value = undefined;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        const line = batch.firstLine + i;
        throw new AuditVerifyError('audit.unreadable_line', `line ${line} of the audit log ${logPath} is not a JSON object`, {
          rule: 'audit.chain',
          hint: 'run hoopq audit verify to see what is wrong with the log',
          details: { line },
        });
      }
      yield value as AuditRecord;
    }
  }
}
