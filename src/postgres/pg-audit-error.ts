/**
 * node-postgres failures of the audit log, converted at the boundary: every one is an
 * AuditWriteError (exit 8) naming the database by describePostgresUrl (never a password) and
 * saying what to do; the caller then runs nothing.
 */
import type { AuditWriteError } from '../errors.js';
import { auditWriteError } from '../audit/sink-checkpointing.js';
import { isSqlState } from './sql-state.js';

/** SQLSTATE or Node error code of a node-postgres failure (an AggregateError's first cause for a refused connection). */
export function pgErrorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: Array<{ code?: unknown }> };
  if (typeof e?.code === 'string') return e.code;
  const first = e?.errors?.[0]?.code;
  return typeof first === 'string' ? first : undefined;
}

function reasonOf(err: unknown): string {
  const e = err as { message?: unknown; errors?: Array<{ message?: unknown }> };
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(e?.errors?.[0]?.message ?? err);
  return message.replace(/\s+/g, ' ').trim();
}

export function pgAuditError(database: string, action: string, err: unknown): AuditWriteError {
  const code = pgErrorCode(err);
  const reason = reasonOf(err);
  const user = (() => {
    try {
      return decodeURIComponent(new URL(database).username) || 'the connecting user';
    } catch {
      return 'the connecting user';
    }
  })();
  const unreachable = 'check that PostgreSQL is up and reachable at the host and port of audit: in hoopq.yaml; nothing was run';
  let what: string;
  let hint: string;
  let errorCode = 'audit.write_failed';
  const sqlState = isSqlState(code);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET' || (!sqlState && /timeout|terminated|Connection ended/i.test(reason))) {
    what = `the database cannot be reached (${code ?? reason})`;
    hint = unreachable;
    errorCode = 'audit.unreachable';
  } else if (code === '28P01' || code === '28000' || (!sqlState && /password|SASL|SCRAM/i.test(reason))) {
    what = `authentication failed (${reason})`;
    hint = `give the password of ${user} in PGPASSWORD or ~/.pgpass (mode 0600), never in hoopq.yaml, and check pg_hba.conf allows this host; nothing was run`;
    errorCode = 'audit.auth_failed';
  } else if (code === '3D000') {
    what = `the database does not exist (${reason})`;
    hint = 'create it (createdb), or fix the database name in audit: in hoopq.yaml; nothing was run';
  } else if (code === '42501') {
    what = `permission denied (${reason})`;
    hint = `grant ${user} SELECT and INSERT on hoopq_audit_log and hoopq_audit_checkpoints (and CREATE on the schema for the first open): see docs/audit.md; nothing was run`;
    errorCode = 'audit.permission_denied';
  } else if (code === '55P03') {
    what = `another writer held the audit log's lock too long (${reason})`;
    hint = 'another hoopq replica is stuck while appending: look for it in pg_stat_activity (application_name hoopq audit), or retry';
    errorCode = 'audit.lock_timeout';
  } else if (code === '57P01' || code === '57P02' || code === '57P03' || code === '08006' || code === '08003' || code === '08001') {
    what = `the server is shutting down or the connection broke (${reason})`;
    hint = unreachable;
    errorCode = 'audit.unreachable';
  } else if (code === '53100' || code === '53200' || code === '53300') {
    what = `the server is out of resources (${reason})`;
    hint = 'free disk space or connections on the database server; nothing was run';
  } else {
    what = reason;
    hint = 'check the database server and its log; nothing was run';
  }
  return auditWriteError(database, `${action} failed: ${what}`, errorCode, hint, err);
}
