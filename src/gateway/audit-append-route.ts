/**
 * POST /v1/audit/records — the gateway as the audit sink of direct-mode writers (`audit:
 * https://…` in their config; src/audit/gateway-audit-sink.ts). The gateway chains the record
 * into its own log (seq, prev, hash are assigned here, never taken from the client) and
 * answers only after its sink has fsync'd it, so a 201 means durable.
 * Needs the audit-writer key (or the operator key). Only query and token events are accepted:
 * the log's own events (checkpoints, recovery) are the gateway's alone.
 */
import { z } from 'zod';
import type { AuditRecordBody } from '../audit/audit-record.js';
import { canonicalJson } from '../audit/canonical-json.js';
import { AuthError, UsageError } from '../errors.js';
import { bearerOf, sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { readJsonBody } from './read-json-body.js';
import { isSameSecret } from '../identity/secret-key-file.js';

const auditBodySchema = z
  .object({
    id: z.string().min(1).max(200),
    time: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, 'must be RFC 3339 UTC'),
    event: z.string().regex(/^(query(\.[a-z_]{1,32})?|token\.[a-z_]{1,32})$/, 'must be a query or token event'),
    decision: z.enum(['allow', 'deny', 'error']),
  })
  .passthrough();

export async function handleAuditAppend(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const bearer = bearerOf(ctx);
  if (!isSameSecret(bearer, gateway.auditWriterKey) && !isSameSecret(bearer, gateway.operatorKey)) {
    throw new AuthError('gateway.audit_writer_required', 'refused to append an audit record: it needs the audit-writer key', {
      rule: 'gateway.audit_writer',
      hint: 'put a copy of the gateway\'s audit-writer.key (mode 0600) in the writer\'s keys folder',
    });
  }
  const body = (await readJsonBody(ctx.req, auditBodySchema, gateway.limits.maxBodyBytes)) as Record<string, unknown>;
  delete body.seq;
  delete body.prev;
  delete body.hash;
  body.appended_via = { kind: 'gateway', src_endpoint: ctx.remote };
  // What the chain cannot hold exactly (an integer beyond 2^53, found by the fuzzer) is the
  // client's mistake: a 400 naming it, not a sink failure.
  try {
    canonicalJson(body);
  } catch (err) {
    throw new UsageError('gateway.bad_request', `refused the audit record: ${(err as Error).message}`, {
      rule: 'audit.canonical_json',
      hint: 'send integers between -(2^53-1) and 2^53-1, or larger numbers as strings',
    });
  }
  const record = await (await gateway.parts.audit()).append(body as AuditRecordBody);
  sendJson(ctx.res, 201, { seq: record.seq, id: record.id, hash: record.hash, prev: record.prev });
}
