/**
 * POST /v1/query — the gateway's main job: one query through runQuery, exactly as the CLI
 * runs it in direct mode, with the run token from `Authorization: Bearer`. The result streams
 * in frames (frame-protocol.ts) as the warehouse produces it; the end frame carries the
 * outcome or the error, so the remote CLI can reproduce direct mode's stdout, stderr and
 * exit code. The audit records are written inside runQuery, by the gateway's own sink.
 */
import { z } from 'zod';
import { UsageError, isHoopqError } from '../errors.js';
import { BQ_OUTPUT_FORMATS, OUTPUT_FORMATS } from '../output/create-result-writer.js';
import { runQuery } from '../pipeline/run-query.js';
import { createFrameResponse } from './frame-response.js';
import { bearerOf, type Gateway, type RequestContext } from './gateway-context.js';
import { verifyCaller } from './identify-caller.js';
import type { QueryDecision } from './gateway-metrics.js';
import { readJsonBody } from './read-json-body.js';

const parameterSchema = z
  .object({
    name: z.string().max(128),
    type: z.string().min(1).max(64),
    value: z.string().max(1 << 20).nullable(),
  })
  .strict();

export const queryRequestSchema = z
  .object({
    sql: z.string(),
    justification: z.string().max(64 * 1024).nullable().optional(),
    format: z.enum([...OUTPUT_FORMATS, ...BQ_OUTPUT_FORMATS]).optional(),
    max_rows: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    dry_run: z.boolean().optional(),
    params: z.array(parameterSchema).max(256).optional(),
    unmask: z.array(z.string().min(1).max(300)).max(256).optional(),
    max_bytes_billed: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    labels: z.record(z.string().max(63), z.string().max(63)).optional(),
    default_project: z.string().min(1).max(300).optional(),
    default_dataset: z.string().min(1).max(300).optional(),
  })
  .strict();

export type QueryRequestBody = z.infer<typeof queryRequestSchema>;

export async function handleQuery(gateway: Gateway, ctx: RequestContext): Promise<void> {
  // size and shape first (nothing is recorded of a body over the limits but its size), then
  // the token: an unauthenticated caller's refusal is recorded by the error handler, compactly
  // (the body's size and digest) and rate-limited per address
  const body = await readJsonBody(ctx.req, queryRequestSchema, gateway.limits.maxBodyBytes);
  checkSql(body.sql, gateway.limits.maxSqlBytes);
  const identity = await verifyCaller(gateway, ctx);
  // from here runQuery records the attempt, whatever happens (waiting for the run's turn included)
  ctx.recorded = true;
  const frames = createFrameResponse(ctx.res, { stallTimeoutMs: gateway.limits.stallTimeoutMs });
  ctx.frames = frames;
  const started = performance.now();
  let decision: QueryDecision = 'error';
  try {
    const outcome = await runQuery(gateway.parts, {
      sql: body.sql,
      token: bearerOf(ctx),
      verified: { token: bearerOf(ctx), identity },
      justification: body.justification ?? null,
      format: body.format ?? 'pretty',
      maxRows: body.max_rows,
      dryRun: body.dry_run ?? false,
      params: body.params,
      unmask: body.unmask,
      maxBytesBilled: body.max_bytes_billed,
      labels: body.labels,
      names: { defaultProject: body.default_project, defaultDataset: body.default_dataset },
      out: frames.out,
      notice: frames.notice,
      signal: ctx.signal,
      origin: { via: 'gateway', src_endpoint: ctx.remote },
      slot: gateway.takeQuerySlot,
    });
    decision = 'allow';
    await frames.finish({
      ok: true,
      outcome: {
        record: outcome.recordId,
        rows: outcome.rows,
        truncated: outcome.truncated,
        result_sha256: outcome.resultSha256,
        ...(outcome.dryRun ? { dry_run: outcome.dryRun } : {}),
      },
    });
  } catch (err) {
    decision = isHoopqError(err) && err.exitCode >= 4 && err.exitCode <= 6 ? 'deny' : 'error';
    throw err;
  } finally {
    gateway.metrics.queryFinished(decision, (performance.now() - started) / 1000);
  }
}

/** The same checks readSql makes in the CLI, plus the gateway's size limit. */
export function checkSql(sql: string, maxBytes: number): void {
  if (Buffer.byteLength(sql, 'utf8') > maxBytes) {
    throw new UsageError('gateway.sql_too_large', `refused SQL of more than ${maxBytes} bytes`, {
      rule: 'gateway.max_sql',
      hint: `send at most ${maxBytes} bytes of SQL`,
    });
  }
  if (sql.trim() === '') throw new UsageError('usage.empty_sql', 'the SQL is empty');
}
