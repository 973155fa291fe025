/**
 * The operator's commands over HTTP, each needing the operator key (token-routes.ts,
 * authenticateOperator) and each calling the pipeline function direct mode calls:
 *   POST /v1/keys/rotate     a new token signing key                      (hoopq keys rotate)
 *   POST /v1/audit/list      records of the gateway's log, filtered, in frames of one
 *                            JSON record per line; the end frame says whether the whole
 *                            log was read                                 (hoopq audit list|export)
 *   GET  /v1/audit/record    ?id=ID: one record                           (hoopq audit show)
 *   POST /v1/audit/verify    the verification report, ok or not          (hoopq audit verify)
 *   POST /v1/replay          a recorded query against today's policy     (hoopq replay)
 * The log read is always the gateway's own (a copy elsewhere is verified where it lies).
 */
import { z } from 'zod';
import { listAuditRecordsOf, requireAuditRecordOf, verifyAuditLogOf, withAuditLogFile, type AuditLogSource } from '../audit/audit-log-source.js';
import { readCheckpointWitness } from '../audit/read-checkpoint-witness.js';
import { ConfigError, UsageError } from '../errors.js';
import { findReplayRecord, replayQuery } from '../pipeline/replay-query.js';
import { mintToken, rotateHashKey, rotateKeys } from '../pipeline/token-lifecycle.js';
import { createFrameResponse } from './frame-response.js';
import { sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { readJsonBody } from './read-json-body.js';
import { authenticateOperator } from './token-routes.js';

const SMALL = 64 * 1024;
const time = z.string().datetime({ offset: true });

const listSchema = z
  .object({
    run: z.string().min(1).max(200).optional(),
    decision: z.enum(['allow', 'deny', 'error']).optional(),
    policy: z.string().min(1).max(128).optional(),
    event: z.string().min(1).max(64).optional(),
    since: time.optional(),
    until: time.optional(),
  })
  .strict();

const verifySchema = z.object({ signatures: z.enum(['all', 'latest']).optional(), allow_no_checkpoint: z.boolean().optional() }).strict();
const replaySchema = z.object({ id: z.string().min(1).max(200), execute: z.boolean().optional() }).strict();

export async function handleRotateKeys(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const actor = authenticateOperator(gateway, ctx);
  const body = await readJsonBody(ctx.req, z.object({ hash_key: z.boolean().optional() }).strict(), SMALL);
  sendJson(ctx.res, 200, { rotation: body.hash_key ? await rotateHashKey(gateway, actor) : await rotateKeys(gateway, actor) });
}

export async function handleAuditList(gateway: Gateway, ctx: RequestContext): Promise<void> {
  authenticateOperator(gateway, ctx);
  const body = await readJsonBody(ctx.req, listSchema, SMALL);
  const source = logSource(gateway);
  const frames = createFrameResponse(ctx.res, { stallTimeoutMs: gateway.limits.stallTimeoutMs });
  ctx.frames = frames;
  let records = 0;
  const filter = { ...body, since: body.since ? new Date(body.since) : undefined, until: body.until ? new Date(body.until) : undefined };
  for await (const record of listAuditRecordsOf(source, filter)) {
    records++;
    // one record per line, as `audit list --format jsonl` prints it
    if (!frames.out.write(JSON.stringify(record) + '\n')) await drained(frames.out, ctx.signal);
  }
  await frames.finish({ ok: true, outcome: { records } });
}

export async function handleAuditRecord(gateway: Gateway, ctx: RequestContext): Promise<void> {
  authenticateOperator(gateway, ctx);
  const id = ctx.url.searchParams.get('id') ?? '';
  if (id === '' || id.length > 200 || [...ctx.url.searchParams.keys()].some((k) => k !== 'id')) {
    throw new UsageError('gateway.bad_request', 'refused the request: give exactly ?id=RECORD_ID', { rule: 'gateway.query_parameters', hint: 'see docs/gateway.md' });
  }
  sendJson(ctx.res, 200, { record: await requireAuditRecordOf(logSource(gateway), id) });
}

/** 200 with the report whether or not the log verifies: the CLI turns a failed report into exit 9, as in direct mode. */
export async function handleAuditVerify(gateway: Gateway, ctx: RequestContext): Promise<void> {
  authenticateOperator(gateway, ctx);
  const body = await readJsonBody(ctx.req, verifySchema, SMALL);
  const witness = gateway.config.auditWitness === undefined ? undefined : await readCheckpointWitness(gateway.config.auditWitness);
  const report = await verifyAuditLogOf(logSource(gateway), { keyDir: gateway.config.keysDir, signatures: body.signatures ?? 'all', witness, allowNoCheckpoint: body.allow_no_checkpoint ?? false });
  sendJson(ctx.res, 200, { report });
}

export async function handleReplay(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const actor = authenticateOperator(gateway, ctx);
  const body = await readJsonBody(ctx.req, replaySchema, SMALL);
  const record = await withAuditLogFile(logSource(gateway), (log) => findReplayRecord(log, body.id));
  const report = await replayQuery(gateway.parts, record, {
    execute: body.execute ?? false,
    mintToken: async (policy, run) => (await mintToken(gateway, actor, { policy, run, subject: `replay:${record.id}`, ttlSeconds: 600 })).token,
  });
  sendJson(ctx.res, 200, { report });
}

function logSource(gateway: Gateway): AuditLogSource {
  const audit = gateway.config.audit;
  if (audit.kind === 'gateway') throw new ConfigError('config.audit_remote', `this gateway's audit log is kept by ${audit.url}`, { hint: 'ask the gateway that keeps the log' });
  return audit;
}

function drained(out: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', closed);
      signal.removeEventListener('abort', closed);
      resolve();
    };
    const closed = () => {
      out.off('drain', done);
      out.off('close', closed);
      signal.removeEventListener('abort', closed);
      reject(new UsageError('gateway.client_gone', 'the client went away'));
    };
    out.once('drain', done);
    out.once('close', closed);
    signal.addEventListener('abort', closed, { once: true });
  });
}
