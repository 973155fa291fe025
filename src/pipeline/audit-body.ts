/**
 * Builds audit record bodies with every contract field present (null where it does not
 * apply), so that denied and failed attempts carry the same shape as allowed ones.
 */
import { randomUUID } from 'node:crypto';
import type { AuditRecordBody } from '../audit/audit-record.js';
import type { RunIdentity } from '../identity/run-identity.js';

export function newAuditBody(event: string, now: Date, fields: Partial<AuditRecordBody> = {}): AuditRecordBody {
  return {
    id: randomUUID(),
    time: now.toISOString(),
    event,
    run: null,
    subject: null,
    token_id: null,
    policy: { name: null, sha256: null, token_sha256: null },
    justification: null,
    sql: null,
    statements: [],
    tables: { read: [], write: [] },
    decision: 'allow',
    reason: null,
    code: null,
    rule: null,
    masked: { columns: {}, detected: {} },
    warehouse: { kind: null, job_id: null, bytes_processed: null },
    rows: null,
    result_sha256: null,
    duration_ms: null,
    ...fields,
  };
}

/**
 * A refused run token's run, token id and subject, when its signature held (expired, revoked):
 * verifyRunToken puts them in the AuthError's `details.caller`. A forgery's claims are never used.
 */
export function fillRefusedCaller(body: AuditRecordBody, error: { details?: Record<string, unknown> }): void {
  const caller = error.details?.caller as { run: string | null; token_id: string | null; subject: string | null } | undefined;
  if (!caller || body.run) return;
  body.run = caller.run;
  body.token_id = caller.token_id;
  body.subject = caller.subject;
}

/**
 * The token fields of a `token.mint` / `token.exchange` record: who, and enough of the
 * claims (never the token) for `hoopq state init` to rebuild the token list from the log.
 */
export function fillTokenFields(body: AuditRecordBody, identity: RunIdentity): void {
  body.run = identity.run;
  body.subject = identity.subject;
  body.token_id = identity.tokenId;
  body.policy.token_sha256 = identity.policySha256;
  body.expires_at = new Date(identity.expiresAt * 1000).toISOString();
  body.max_queries = identity.maxQueries ?? null;
  body.kid = identity.kid;
}
