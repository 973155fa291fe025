/**
 * The frame around a catalog request (listing tables, describing one) for every entry point:
 * token -> policy -> warehouse (read-only) -> the request -> audit record. Catalog requests
 * read metadata, not rows, so they spend no query budget and need no justification; but
 * they are checked against the same token and policy, and recorded like queries: an allowed
 * answer is returned only once its record is durable, and a refusal is recorded too.
 */
import type { NameDefaults } from '../analysis/query-analysis.js';
import type { AuditRecordBody, AuditSink } from '../audit/audit-record.js';
import { sealerFor } from '../audit/seal-sql.js';
import { AuditWriteError } from '../errors.js';
import type { RunIdentity } from '../identity/run-identity.js';
import type { Policy } from '../policy/policy.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { fillRefusedCaller, newAuditBody } from './audit-body.js';
import type { PipelineParts } from './pipeline-parts.js';
import { resolveRunPolicy } from './resolve-run-policy.js';
import { sanitizeError } from './sanitize-error.js';

export interface CatalogRequest {
  token: string | undefined;
  /** Extra audit fields from the entry point (e.g. `via: "mcp"`). */
  origin?: Record<string, unknown>;
}

export interface CatalogScope {
  identity: RunIdentity;
  policy: Policy;
  warehouse: Warehouse;
  names: NameDefaults;
  /** The record being built; the request fills `tables`, `rows` and its own fields. */
  body: AuditRecordBody;
}

export async function runCatalogRequest<T>(
  parts: PipelineParts,
  event: 'catalog.list' | 'catalog.describe',
  req: CatalogRequest,
  work: (scope: CatalogScope) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const body = newAuditBody(event, parts.now(), { ...req.origin });
  let sink: AuditSink | undefined;
  let warehouse: Warehouse | undefined;
  try {
    sink = await parts.audit();
    const identity = await parts.identity.verify(req.token);
    body.run = identity.run;
    body.subject = identity.subject;
    body.token_id = identity.tokenId;
    const policy = resolveRunPolicy(parts, identity);
    body.policy = { name: policy.name, sha256: policy.sha256, token_sha256: identity.policySha256 };
    warehouse = await parts.openWarehouse({ writable: false, policy, identity });
    body.warehouse.kind = warehouse.kind;
    const names = { defaultProject: parts.config.warehouse.defaultProject ?? warehouse.project, defaultDataset: parts.config.warehouse.defaultDataset };
    const result = await work({ identity, policy, warehouse, names, body });
    body.duration_ms = Date.now() - started;
    await append(sink, body);
    return result;
  } catch (err) {
    const { error, sealed } = sanitizeError(err, { seal: sealerFor(parts.config.keysDir) });
    if (sink && !(error instanceof AuditWriteError)) {
      fillRefusedCaller(body, error);
      body.decision = error.exitCode >= 4 && error.exitCode <= 6 ? 'deny' : 'error';
      body.reason = error.message;
      if (sealed) body.reason_sealed = sealed;
      body.code = error.code;
      body.rule = error.rule ?? null;
      body.exit_code = error.exitCode;
      body.duration_ms = Date.now() - started;
      await append(sink, body);
    }
    throw error;
  } finally {
    await warehouse?.close();
  }
}

async function append(sink: AuditSink, body: AuditRecordBody): Promise<void> {
  try {
    await sink.append(body);
  } catch (err) {
    if (err instanceof AuditWriteError) throw err;
    throw new AuditWriteError('audit.write_failed', `audit record could not be written: ${(err as Error).message}; nothing was returned`, { cause: err });
  }
}
