/**
 * The operator's view of the MCP sessions the gateway holds (operator key only):
 *   GET    /v1/mcp/sessions[?run=R]        -> {sessions: [{id, run, token_id, policy, subject, opened_at, last_used_at, requests_running, src_endpoint}]}
 *   DELETE /v1/mcp/sessions?id=ID | ?run=R -> {closed: [ids]}: running calls are cancelled (and recorded), then the sessions close
 * A close is recorded (`mcp.session_close`); the tokens themselves are never shown.
 */
import { UsageError } from '../errors.js';
import { newAuditBody } from '../pipeline/audit-body.js';
import { sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { requireOperator } from './token-routes.js';

export async function handleListMcpSessions(gateway: Gateway, ctx: RequestContext): Promise<void> {
  requireOperator(gateway, ctx);
  const { run } = sessionFilter(ctx, false);
  const sessions = gateway.mcpSessions.list().filter((s) => run === undefined || s.run === run);
  sendJson(ctx.res, 200, { sessions, limits: { max_sessions: gateway.mcpSessions.maxSessions, max_sessions_per_run: gateway.mcpSessions.maxPerRun } });
}

export async function handleCloseMcpSessions(gateway: Gateway, ctx: RequestContext): Promise<void> {
  requireOperator(gateway, ctx);
  const { id, run } = sessionFilter(ctx, true);
  const closed = await gateway.mcpSessions.closeWhere((s) => (id !== undefined ? s.id === id : s.run === run));
  await (await gateway.parts.audit()).append(
    newAuditBody('mcp.session_close', gateway.parts.now(), {
      run: run ?? null,
      subject: 'operator:gateway',
      reason: id !== undefined ? `operator closed MCP session ${id}` : `operator closed the MCP sessions of run ${run}`,
      closed_sessions: closed,
      via: 'gateway',
      src_endpoint: ctx.remote,
    }),
  );
  ctx.recorded = true;
  sendJson(ctx.res, 200, { closed });
}

/** `?id=` or `?run=` (exactly one when closing), each at most once; nothing else. */
function sessionFilter(ctx: RequestContext, closing: boolean): { id?: string; run?: string } {
  const params = ctx.url.searchParams;
  const allowed = closing ? ['id', 'run'] : ['run'];
  for (const key of new Set(params.keys())) {
    if (!allowed.includes(key) || params.getAll(key).length > 1 || (params.get(key) ?? '').length > 200 || params.get(key) === '') {
      throw new UsageError('gateway.bad_request', `refused the request: query parameter "${key.slice(0, 40)}" is unknown, empty, too long or repeated`, {
        rule: 'gateway.query_parameters',
        hint: closing ? 'give ?id=SESSION or ?run=RUN' : 'give at most ?run=RUN',
      });
    }
  }
  const id = params.get('id') ?? undefined;
  const run = params.get('run') ?? undefined;
  if (closing && (id === undefined) === (run === undefined)) {
    throw new UsageError('gateway.bad_request', 'refused the request: give exactly one of ?id=SESSION or ?run=RUN', { rule: 'gateway.query_parameters', hint: 'GET /v1/mcp/sessions lists the ids' });
  }
  return { id, run };
}
