/**
 * The gateway's one error handler: any failure of any route becomes a response here.
 *
 * Status: the error's `httpStatus` (errors.ts), except for the few protocol-level codes
 * below that HTTP has a more precise word for. Body: `{"error": {code, message, hint, rule?,
 * exit}}` — the same object the CLI prints with --format json — so the remote CLI can
 * reproduce direct mode's exit code and stderr line exactly. Once a query's frames have
 * started (status 200 already sent) the error goes into the end frame instead.
 * Every error passes sanitizeError first (no data, no literal, no rewrite reaches the client
 * or the log), and every refusal the pipeline did not record gets its record here
 * (record-refusal.ts). Anything that is not a HoopqError is a bug: logged for the operator
 * with its stack (never its text), and answered as an internal error.
 */
import { InternalError, isHoopqError, type HoopqError } from '../errors.js';
import { describeForLog, sanitizeError } from '../pipeline/sanitize-error.js';
import { sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { recordRefusal } from './record-refusal.js';

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  'gateway.request_too_large': 413,
  'gateway.unsupported_media_type': 415,
  'gateway.not_found': 404,
  'gateway.method_not_allowed': 405,
  'gateway.draining': 503,
  'gateway.busy': 503,
  'gateway.mcp_unknown_session': 404,
  'gateway.mcp_session_closed': 404,
  'gateway.mcp_session_token': 403,
  'gateway.mcp_sessions_full': 503,
  'gateway.headers_too_many': 431,
  'gateway.foreign_host': 403,
  'gateway.foreign_origin': 403,
};

export function statusOf(error: HoopqError): number {
  return Object.hasOwn(STATUS_BY_CODE, error.code) ? STATUS_BY_CODE[error.code]! : error.httpStatus;
}

export async function sendError(gateway: Gateway, ctx: RequestContext, err: unknown, log: (line: string) => void): Promise<void> {
  // a bug is logged where it happened, never with its text (it may quote data)
  if (!isHoopqError(err) || err instanceof InternalError) log(`hoopq gateway: ${ctx.route}: ${describeForLog(err)}`);
  const { error } = sanitizeError(err);
  // every refusal has its record: the pipeline's, or this one
  await recordRefusal(gateway, ctx, error, ctx.frames?.isStarted() ? 200 : statusOf(error), log);
  const { res } = ctx;
  if (ctx.frames?.isStarted()) {
    await ctx.frames.finish({ ok: false, error: error.toJSON() });
    return;
  }
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const status = statusOf(error);
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="hoopq"';
  if (error.code === 'gateway.method_not_allowed' && typeof error.details?.allow === 'string') headers.allow = error.details.allow;
  // An unread or oversized body must not be parsed as the next request on this connection.
  if (!ctx.req.complete) headers.connection = 'close';
  sendJson(res, status, { error: error.toJSON() }, headers);
}
