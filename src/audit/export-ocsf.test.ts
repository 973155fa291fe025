import { describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit-record.js';
import { OCSF_SCHEMA_VERSION, toOcsf } from './export-ocsf.js';

function record(fields: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: 'rec-1', time: '2026-11-28T10:00:00.123Z', event: 'query', run: 'nightly-7', subject: 'repo:acme/ml', token_id: 'tok-9',
    policy: { name: 'analyst', sha256: 'a'.repeat(64), token_sha256: 'a'.repeat(64) }, justification: 'eval', sql: 'SELECT email FROM demo.crm.customers',
    statements: ['select'], tables: { read: ['demo.crm.customers', 'demo.crm.orders'], write: [] }, decision: 'allow', reason: null, code: null, rule: null,
    masked: { columns: { 'demo.crm.customers.email': 'hash' }, detected: { email: 1 } }, warehouse: { kind: 'duckdb', job_id: 'j1', bytes_processed: 10 },
    rows: 3, result_sha256: 'b'.repeat(64), duration_ms: 12, intent: 'rec-0', seq: 2, prev: 'c'.repeat(64), hash: 'd'.repeat(64), ...fields,
  };
}

describe('toOcsf', () => {
  it('maps an allowed query to Datastore Activity: Query, with every hoopq-specific field kept in unmapped', () => {
    const e = toOcsf(record({ src_endpoint: { ip: '10.0.0.7', port: 51234 } }));
    expect(e).toMatchObject({
      class_uid: 6005, category_uid: 6, activity_id: 4, activity_name: 'Query', type_uid: 600504, time: Date.parse('2026-11-28T10:00:00.123Z'),
      severity_id: 1, status_id: 1, status: 'Success', action_id: 1, disposition_id: 1, disposition: 'Allowed', duration: 12,
      actor: { user: { name: 'repo:acme/ml', uid: 'tok-9' }, session: { uid: 'nightly-7' } },
      src_endpoint: { ip: '10.0.0.7', port: 51234 },
      database: { name: 'demo.crm', type_id: 1 }, table: { name: 'demo.crm.customers' }, type_id: 3,
      query_info: { query_string: 'SELECT email FROM demo.crm.customers', uid: 'rec-1' },
      policy: { name: 'analyst', uid: 'a'.repeat(64) },
      metadata: { version: OCSF_SCHEMA_VERSION, uid: 'rec-1', sequence: 2, correlation_uid: 'rec-0', product: { name: 'hoopq' } },
    });
    expect(e.unmapped).toMatchObject({
      seq: 2, prev: 'c'.repeat(64), hash: 'd'.repeat(64), tables: { read: ['demo.crm.customers', 'demo.crm.orders'], write: [] },
      masked: { columns: { 'demo.crm.customers.email': 'hash' } }, result_sha256: 'b'.repeat(64), justification: 'eval', statements: ['select'],
    });
    // nothing mapped is duplicated, nothing is lost
    expect(e.unmapped).not.toHaveProperty('sql');
    expect(Object.keys(record()).every((k) => k in (e.unmapped as object) || ['id', 'time', 'run', 'subject', 'token_id', 'sql', 'decision', 'reason', 'code', 'duration_ms', 'intent'].includes(k))).toBe(true);
  });

  it.each<[string, Partial<AuditRecord>, Record<string, unknown>]>([
    ['a denial is Blocked, Failure, Medium', { decision: 'deny', reason: 'table demo.crm.cards is denied', code: 'policy.table_denied' }, { action_id: 2, disposition_id: 2, disposition: 'Blocked', status_id: 2, severity_id: 3, status_detail: 'table demo.crm.cards is denied', status_code: 'policy.table_denied' }],
    ['an error is disposition Error', { decision: 'error', reason: 'timeout' }, { disposition_id: 27, status_id: 2, severity_id: 2 }],
    ['a DELETE is activity Delete', { statements: ['delete'], tables: { read: [], write: ['demo.scratch.t'] } }, { activity_id: 7, type_uid: 600507, table: { name: 'demo.scratch.t', uid: 'demo.scratch.t' } }],
    ['an INSERT … SELECT is Write, named by its target', { statements: ['insert'], tables: { read: ['demo.a.src'], write: ['demo.b.dst'] } }, { activity_id: 5, table: { name: 'demo.b.dst' }, database: { name: 'demo.b' } }],
    ['CREATE is Create', { statements: ['create'] }, { activity_id: 6 }],
    ['UPDATE is Update', { statements: ['update'] }, { activity_id: 2 }],
    ['a query without tables names the warehouse as database', { tables: { read: [], write: [] } }, { type_id: 1, database: { name: 'duckdb' } }],
    ['a token event is activity Other named after the event', { event: 'token.mint', sql: null, statements: [] }, { activity_id: 99, activity_name: 'token.mint', type_uid: 600599 }],
    ['log.recovered is Medium', { event: 'log.recovered', decision: 'error' }, { severity_id: 3, activity_id: 99 }],
  ])('%s', (_name, fields, expected) => {
    expect(toOcsf(record(fields))).toMatchObject(expected);
  });

  it('omits what the record does not have instead of inventing it', () => {
    const e = toOcsf(record({ sql: null, subject: null, policy: { name: null, sha256: null }, intent: null }));
    expect(e).not.toHaveProperty('query_info');
    expect(e).not.toHaveProperty('policy');
    expect(e).not.toHaveProperty('src_endpoint');
    expect(e.actor).toEqual({ user: { uid: 'tok-9' }, session: { uid: 'nightly-7' } });
    expect((e.metadata as Record<string, unknown>).correlation_uid).toBeUndefined();
  });
});
