/**
 * GET /v1/audit/checkpoint: the newest signed checkpoint of the gateway's audit log, as the
 * canonical JSON line it was written as. Public like a transparency log's signed tree head: it
 * holds a seq, a hash, a size and an Ed25519 signature, nothing a caller could misuse. A
 * verifier elsewhere keeps what it fetches (`hoopq audit verify --witness URL`), so a log cut
 * on the gateway's host together with its `.checkpoints` file no longer verifies.
 * The gateway remembers the newest checkpoint it has served: if the file later shows an older
 * one (the file was cut on disk), it keeps serving the newer, so a verifier asking it then
 * still sees the cut. 404 `audit.no_checkpoint` when the log has none yet. A log in PostgreSQL
 * (shared by replicas) is asked through this replica's sink: the newest checkpoint any replica signed.
 */
import { checkpointsPathFor, readLastCheckpoint } from '../audit/checkpoint.js';
import { canonicalJson } from '../audit/canonical-json.js';
import { AuditWriteError, ConfigError } from '../errors.js';
import { PgAuditSink } from '../postgres/pg-audit-sink.js';
import type { AuditCheckpoint } from '../audit/checkpoint.js';
import { sendJson, type Gateway, type RequestContext } from './gateway-context.js';

const newestServed = new WeakMap<Gateway, AuditCheckpoint>();

export async function handleAuditCheckpoint(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const audit = gateway.config.audit;
  if (audit.kind === 'gateway') {
    throw new ConfigError('config.audit_remote', `this gateway forwards its audit records to ${audit.url}`, { hint: 'ask that gateway for its checkpoint' });
  }
  const onDisk = audit.kind === 'file' ? readLastCheckpoint(checkpointsPathFor(audit.path)) : await newestInDatabase(gateway);
  const remembered = newestServed.get(gateway);
  const cp = remembered && (!onDisk || remembered.seq > onDisk.seq) ? remembered : onDisk;
  if (cp) newestServed.set(gateway, cp);
  if (!cp) {
    sendJson(ctx.res, 404, { error: { code: 'audit.no_checkpoint', message: 'the audit log has no signed checkpoint yet', hint: 'one is signed with the first record', exit: 9 } });
    return;
  }
  const body = canonicalJson(cp) + '\n';
  ctx.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  ctx.res.end(body);
}

async function newestInDatabase(gateway: Gateway): Promise<AuditCheckpoint | null> {
  const sink = await gateway.parts.audit();
  if (!(sink instanceof PgAuditSink)) throw new AuditWriteError('audit.sink_kind', 'the audit sink is not the configured PostgreSQL log', { hint: 'restart the gateway' });
  return sink.newestCheckpoint();
}
