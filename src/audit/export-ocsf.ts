/**
 * `audit export --format ocsf`: one audit record as an OCSF Datastore Activity event
 * (class_uid 6005, category 6 Application Activity, schema 1.4.0, security_control profile
 * for action/disposition/policy). The field mapping is documented in docs/audit.md
 * "OCSF export"; whatever OCSF has no place for goes to `unmapped` — including seq, prev and
 * hash, so a SIEM holding the export can re-check the chain.
 */
import type { AuditRecord } from './audit-record.js';
import { RECOVERED_EVENT } from './audit-record.js';

export const OCSF_SCHEMA_VERSION = '1.4.0';

const CLASS_UID = 6005;
const CATEGORY_UID = 6;

const ACTIVITY = { query: [4, 'Query'], read: [1, 'Read'], update: [2, 'Update'], write: [5, 'Write'], create: [6, 'Create'], delete: [7, 'Delete'], other: [99, 'Other'] } as const;

export interface OcsfDatastoreActivity {
  class_uid: 6005;
  class_name: 'Datastore Activity';
  category_uid: 6;
  category_name: 'Application Activity';
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  time: number;
  severity_id: number;
  severity: string;
  status_id: number;
  status: string;
  [field: string]: unknown;
}

/** Fields of the record that have a place in OCSF; everything else goes to `unmapped`. */
const MAPPED = new Set(['id', 'time', 'run', 'subject', 'token_id', 'sql', 'decision', 'reason', 'code', 'duration_ms', 'src_endpoint', 'intent']);

export function toOcsf(record: AuditRecord): OcsfDatastoreActivity {
  const [activityId, activityName] = activityOf(record);
  const [severityId, severity] = severityOf(record);
  const outcome = outcomeOf(record.decision);
  const table = primaryTable(record);
  const event: OcsfDatastoreActivity = {
    class_uid: CLASS_UID,
    class_name: 'Datastore Activity',
    category_uid: CATEGORY_UID,
    category_name: 'Application Activity',
    activity_id: activityId,
    activity_name: activityName,
    type_uid: CLASS_UID * 100 + activityId,
    type_name: `Datastore Activity: ${activityName}`,
    time: Date.parse(record.time),
    severity_id: severityId,
    severity,
    status_id: outcome.statusId,
    status: outcome.status,
    action_id: outcome.actionId,
    action: outcome.action,
    disposition_id: outcome.dispositionId,
    disposition: outcome.disposition,
    message: messageOf(record),
    metadata: {
      version: OCSF_SCHEMA_VERSION,
      uid: record.id,
      sequence: record.seq,
      log_name: 'hoopq audit',
      profiles: ['security_control'],
      product: { name: 'hoopq', vendor_name: 'hoopq' },
      ...(record.intent ? { correlation_uid: record.intent } : {}),
    },
    actor: {
      user: { name: record.subject ?? undefined, uid: record.token_id ?? undefined },
      session: { uid: record.run ?? undefined },
    },
    type_id: table ? 3 : 1,
    type: table ? 'Table' : 'Database',
    database: { name: table ? table.split('.').slice(0, 2).join('.') : (record.warehouse?.kind ?? 'unknown'), type_id: 1, type: 'Relational' },
  };
  if (table) event.table = { name: table, uid: table };
  if (record.sql !== null && record.sql !== undefined) event.query_info = { query_string: record.sql, uid: record.id };
  if (record.policy?.name) event.policy = { name: record.policy.name, uid: record.policy.sha256 ?? undefined, is_applied: true };
  if (isObject(record.src_endpoint)) event.src_endpoint = record.src_endpoint;
  if (record.reason) event.status_detail = record.reason;
  if (record.code) event.status_code = record.code;
  if (typeof record.duration_ms === 'number') event.duration = record.duration_ms;
  event.unmapped = unmappedOf(record);
  return dropUndefined(event);
}

function activityOf(record: AuditRecord): readonly [number, string] {
  if (record.event !== 'query' && record.event !== 'query.intent') return [ACTIVITY.other[0], record.event];
  const kinds = new Set(record.statements ?? []);
  // the strongest effect names the activity: destroying > creating > changing > writing > reading
  if (kinds.has('delete') || kinds.has('drop') || kinds.has('truncate')) return ACTIVITY.delete;
  if (kinds.has('create')) return ACTIVITY.create;
  if (kinds.has('update') || kinds.has('merge') || kinds.has('alter')) return ACTIVITY.update;
  if (kinds.has('insert') || kinds.has('load') || kinds.has('export')) return ACTIVITY.write;
  return ACTIVITY.query;
}

function severityOf(record: AuditRecord): [number, string] {
  if (record.event === RECOVERED_EVENT) return [3, 'Medium'];
  if (record.decision === 'deny') return [3, 'Medium'];
  if (record.decision === 'error') return [2, 'Low'];
  return [1, 'Informational'];
}

function outcomeOf(decision: AuditRecord['decision']) {
  switch (decision) {
    case 'allow':
      return { statusId: 1, status: 'Success', actionId: 1, action: 'Allowed', dispositionId: 1, disposition: 'Allowed' };
    case 'deny':
      return { statusId: 2, status: 'Failure', actionId: 2, action: 'Denied', dispositionId: 2, disposition: 'Blocked' };
    case 'pending':
      // held for an operator's approval: nothing ran yet
      return { statusId: 99, status: 'Pending', actionId: 99, action: 'Held for approval', dispositionId: 14, disposition: 'Delayed' };
    default:
      return { statusId: 2, status: 'Failure', actionId: 0, action: 'Unknown', dispositionId: 27, disposition: 'Error' };
  }
}

function messageOf(record: AuditRecord): string {
  const what = record.event === 'query' ? 'query' : record.event;
  const verdict = record.decision === 'allow' ? 'allowed' : record.decision === 'deny' ? 'denied' : record.decision === 'pending' ? 'held for approval' : 'failed';
  return record.reason ? `${what} ${verdict}: ${record.reason}` : `${what} ${verdict}`;
}

/** OCSF's Datastore Activity names one table: the first written, else the first read. The full lists are in unmapped.tables. */
function primaryTable(record: AuditRecord): string | null {
  return record.tables?.write?.[0] ?? record.tables?.read?.[0] ?? null;
}

function unmappedOf(record: AuditRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (!MAPPED.has(k)) out[k] = v;
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dropUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
