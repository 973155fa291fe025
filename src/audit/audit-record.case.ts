/**
 * Test data for the audit sink's suites: a complete record body, and the log's lines parsed.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { AuditRecordBody } from './audit-record.js';

export function sampleAuditBody(fields: Partial<AuditRecordBody> = {}): AuditRecordBody {
  return {
    id: randomUUID(), time: new Date().toISOString(), event: 'query', run: 'run-1', subject: 'ci', token_id: 't1',
    policy: { name: 'analyst', sha256: 'a'.repeat(64) }, justification: null, sql: 'SELECT 1', statements: ['select'],
    tables: { read: [], write: [] }, decision: 'allow', reason: null, masked: { columns: {}, detected: {} },
    warehouse: { kind: 'duckdb', job_id: null, bytes_processed: null }, rows: 1, result_sha256: null, duration_ms: 3, ...fields,
  };
}

export function readLogLines(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}
