/**
 * recordRefusal: the audit record of a request the gateway refused before the pipeline could
 * record it — no or a bad credential, a malformed, oversized or non-UTF-8 body, a busy
 * gateway, a run token revoking another run, an MCP session that is not the caller's, an
 * unknown endpoint. Called by the one error handler (send-error.ts), so no refusal escapes.
 *
 * Input: the request context (its route, remote address, what was read of its credential and
 * body) and the sanitised error. Output: one record, event by route (`query`, `token.mint`,
 * `mcp.request`, … `gateway.request`), decision `deny` (exit 4–6) or `error`.
 * Invariants:
 * - it names the run and token whenever the token could be read, even when refused; a
 *   forgery's claims go under `claimed`, never as `run`;
 * - it holds the body's size and SHA-256, never the body (nor the SQL, nor a token);
 * - refusals of callers with no valid credential are rate-limited per source address
 *   (refusal-limiter.ts): a record each within the limit, a count beyond it;
 * - a record that cannot be written is logged for the operator; the refusal is still answered.
 */
import type { AuditRecordBody } from '../audit/audit-record.js';
import type { HoopqError } from '../errors.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import type { Gateway, RequestCaller, RequestContext } from './gateway-context.js';
import { isAuthenticated, readCaller } from './identify-caller.js';
import { bodySeenOf, digestUnreadBody } from './read-json-body.js';

/** The event of a refused request, by path: the event its success would have recorded. */
const EVENT_BY_PATH: Readonly<Record<string, string>> = {
  '/v1/query': 'query',
  '/v1/explain': 'explain',
  '/v1/tables': 'catalog.list',
  '/v1/table': 'catalog.describe',
  '/v1/mcp': 'mcp.request',
  '/v1/mcp/sessions': 'mcp.session_admin',
  '/v1/tokens': 'token.mint',
  '/v1/tokens/exchange': 'token.exchange',
  '/v1/revoke': 'token.revoke',
  '/v1/audit/records': 'audit.append',
};

export async function recordRefusal(gateway: Gateway, ctx: RequestContext, error: HoopqError, status: number, log: (line: string) => void): Promise<void> {
  if (ctx.recorded) return;
  ctx.recorded = true;
  const caller = await readCaller(gateway, ctx);
  const body = ctx.body ?? bodySeenOf(ctx.req) ?? (await digestUnreadBody(ctx.req, gateway.limits.maxBodyBytes));
  if (!isAuthenticated(caller) && !gateway.refusalLimiter.admit(ctx.remote.ip ?? 'unknown')) return;
  const event = Object.hasOwn(EVENT_BY_PATH, ctx.url.pathname) ? EVENT_BY_PATH[ctx.url.pathname]! : 'gateway.request';
  const record = newAuditBody(event, gateway.parts.now(), {
    decision: error.exitCode >= 4 && error.exitCode <= 6 ? 'deny' : 'error',
    reason: error.message,
    code: error.code,
    rule: error.rule ?? null,
    exit_code: error.exitCode,
    via: 'gateway',
    src_endpoint: ctx.remote,
    request: { route: ctx.route, method: ctx.req.method ?? null, path: ctx.url.pathname.slice(0, 200), status, bytes: body.bytes, sha256: body.sha256 },
    ...ctx.recordFields,
  });
  fillCaller(record, caller);
  // a query record's `sql` is always text: here it says why the SQL itself is not kept
  if (event === 'query') record.sql = `[not recorded: the request was refused before its SQL was accepted (${body.bytes} bytes of body${body.sha256 ? `, sha256 ${body.sha256}` : ''})]`;
  await appendOrLog(gateway, record, log);
}

/** The record of malformed HTTP, oversized headers or a slow request, answered by the server before any route (rate-limited like every unauthenticated refusal). */
export async function recordProtocolRefusal(gateway: Gateway, remote: { ip: string | null; port: number | null }, status: number, log: (line: string) => void): Promise<void> {
  if (!gateway.refusalLimiter.admit(remote.ip ?? 'unknown')) return;
  const [code, reason] =
    status === 408
      ? ['gateway.request_timeout', 'refused a request that did not arrive within the time limit (headers 10 s, whole request 30 s)']
      : status === 431
        ? ['gateway.headers_too_large', 'refused a request whose headers are too large']
        : ['gateway.bad_http', 'refused a request that is not well-formed HTTP/1.1'];
  const record = newAuditBody('gateway.request', gateway.parts.now(), {
    decision: 'error',
    reason,
    code,
    rule: 'gateway.http',
    exit_code: 2,
    via: 'gateway',
    src_endpoint: remote,
    request: { route: 'unmatched', method: null, path: null, status, bytes: null, sha256: null },
  });
  await appendOrLog(gateway, record, log);
}

/** One `gateway.refusals_suppressed` record per address whose refusals went over the limit since the last call. */
export async function recordSuppressedRefusals(gateway: Gateway, log: (line: string) => void): Promise<void> {
  for (const s of gateway.refusalLimiter.drain()) {
    const record = newAuditBody('gateway.refusals_suppressed', gateway.parts.now(), {
      decision: 'deny',
      reason: `${s.count} refused request(s) without a valid credential from ${s.address} between ${s.since} and ${s.until} were counted, not recorded one by one (rate limit)`,
      code: 'gateway.rate_limited',
      rule: 'gateway.unauthenticated_records',
      via: 'gateway',
      src_endpoint: { ip: s.address, port: null },
      suppressed: { count: s.count, since: s.since, until: s.until },
    });
    await appendOrLog(gateway, record, log);
  }
}

function fillCaller(record: AuditRecordBody, caller: RequestCaller): void {
  switch (caller.kind) {
    case 'operator':
      record.subject = 'operator:gateway';
      return;
    case 'run':
      record.run = caller.run;
      record.token_id = caller.token_id;
      record.subject = caller.subject;
      record.policy.name = caller.policy;
      return;
    case 'claimed':
      // a token that did not verify: what it claimed, kept apart from `run`
      record.claimed = { run: caller.run, token_id: caller.token_id, kid: caller.kid };
      return;
    default:
      return;
  }
}

async function appendOrLog(gateway: Gateway, record: AuditRecordBody, log: (line: string) => void): Promise<void> {
  try {
    await (await gateway.parts.audit()).append(record);
  } catch (err) {
    log(`hoopq gateway: could not record a refusal (${record.event}, ${String(record.code)}): ${(err as { code?: string }).code ?? 'audit write failed'}`);
  }
}
