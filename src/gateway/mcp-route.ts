/**
 * POST/DELETE /v1/mcp — the MCP tools of `hoopq mcp` over the SDK's streamable HTTP transport,
 * stateful: an `initialize` with a valid run token (Bearer) opens a session (createMcpServer,
 * the same factory as stdio) whose id comes back in `Mcp-Session-Id`; later requests send
 * that id and the SAME token. Responses are plain JSON (no SSE): the tools send nothing
 * unprompted, so the gateway holds no idle streams and GET is not offered (405, which the
 * spec allows and the SDK client accepts).
 * Invariants:
 * - every request is authenticated first: a missing, forged, revoked or expired token is 401
 *   (a revoked run's session is closed), so nobody without a valid token learns whether a
 *   session id exists; then an unknown session id is 404 (the spec's signal to initialise
 *   again) and a token other than the one that opened the session is 403 (the session stays
 *   its owner's); a request without a session id that is not `initialize` is 400 — no
 *   session is ever opened implicitly;
 * - each tool call still goes through runQuery / explainQuery / the catalog, so the checks
 *   and audit records are those of the CLI, with `via: "mcp"` and `transport: "http"`;
 * - a client that disconnects before its answer cancels the calls of that request (a running
 *   query is interrupted and recorded as cancelled), as `notifications/cancelled` would;
 * - the SDK answers no call cancelled before it returned, so a POST of one tool call that a
 *   later notifications/cancelled cancels ends with an empty 202 instead of staying open; it
 *   is ended only when the call has not returned (createMcpServer's isCallRunning), so the
 *   SDK never writes to it afterwards.
 */
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { AuthError, UsageError, WarehouseError } from '../errors.js';
import { createMcpServer, openMcpSession } from '../mcp/create-mcp-server.js';
import type { RunIdentity } from '../identity/run-identity.js';
import { bearerOf, type Gateway, type RequestContext } from './gateway-context.js';
import { verifyCaller } from './identify-caller.js';
import { digestToken, isSameTokenDigest } from './mcp-sessions.js';
import { readJsonBody } from './read-json-body.js';

const anyJson = z.unknown();

export async function handleMcp(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const header = ctx.req.headers['mcp-session-id'];
  const sessionId = typeof header === 'string' && header !== '' ? header : undefined;
  if (sessionId === undefined) return openSession(gateway, ctx);

  const token = bearerOf(ctx);
  const sessions = gateway.mcpSessions;
  const entry = sessions.find(sessionId);
  try {
    // first the token alone: nobody without a valid one learns whether a session id exists
    await verifyCaller(gateway, ctx);
  } catch (err) {
    // revoked or expired mid-session: the session ends with its run
    if (err instanceof AuthError && entry && isSameTokenDigest(entry.tokenDigest, token)) await sessions.close(sessionId);
    throw err;
  }
  if (!entry) {
    throw new UsageError('gateway.mcp_unknown_session', 'refused an MCP request for a session this gateway does not have (closed, idled out, or never opened)', {
      rule: 'gateway.mcp_session',
      hint: 'send initialize again (without Mcp-Session-Id) to open a new session',
    });
  }
  if (!isSameTokenDigest(entry.tokenDigest, token)) {
    throw new AuthError('gateway.mcp_session_token', 'refused an MCP request: the session was opened with another run token', {
      rule: 'gateway.mcp_session',
      hint: 'use the run token that opened the session, or initialize a session of your own',
    });
  }
  const body = ctx.req.method === 'POST' ? await readJsonBody(ctx.req, anyJson, gateway.limits.maxBodyBytes) : undefined;
  const transport = entry.transport;
  const done = sessions.begin(sessionId);
  // a client that hangs up before its answer has cancelled the calls it sent in this request:
  // they stop as an MCP cancellation would stop them (their audit records say so). The request
  // ends here too: the SDK answers no cancelled call, so its JSON response would never settle.
  const hungUp = new Promise<void>((resolve) =>
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) cancelRequestsOf(transport, body);
      resolve();
    }),
  );
  // a POST of one request whose call is cancelled by a later notifications/cancelled gets no
  // answer from the SDK either: that later POST ends this one, empty (202)
  const waitingHere = waitingFor(transport);
  const single = singleRequestId(body);
  let unanswered: () => void = () => undefined;
  const endedUnanswered = new Promise<void>((resolve) => (unanswered = resolve));
  const endEmpty = () => {
    if (!ctx.res.headersSent) ctx.res.writeHead(202).end();
    unanswered();
  };
  if (single !== undefined) waitingHere.set(single, endEmpty);
  try {
    // a session closed under a request (revoked, closed by the operator, gateway shutdown):
    // the SDK answers no call it cancelled, so the request is answered here
    const closedUnder = (entry.whenClosed ?? new Promise<never>(() => {})).then(() => {
      if (!ctx.res.headersSent) throw sessionClosed();
    });
    await Promise.race([transport.handleRequest(ctx.req, ctx.res, body), hungUp, endedUnanswered, closedUnder]);
    // the cancellations in this request have reached the calls (the SDK delivers them before
    // it answers); a call that has not returned by now will return unanswered
    for (const requestId of cancelledIdsOf(body)) {
      if (entry.isCallRunning(requestId)) waitingHere.get(requestId)?.();
    }
  } finally {
    if (single !== undefined && waitingHere.get(single) === endEmpty) waitingHere.delete(single);
    done();
  }
}

/** Per session transport: request id -> ends the POST that carried it, without an answer. */
const waitingPosts = new WeakMap<object, Map<string | number, () => void>>();

function waitingFor(transport: object): Map<string | number, () => void> {
  let map = waitingPosts.get(transport);
  if (!map) waitingPosts.set(transport, (map = new Map()));
  return map;
}

function messagesOf(body: unknown): Array<{ id?: unknown; method?: unknown; params?: unknown }> {
  return (Array.isArray(body) ? body : [body]).filter((m): m is { id?: unknown; method?: unknown; params?: unknown } => typeof m === 'object' && m !== null);
}

function isRequestId(id: unknown): id is string | number {
  return typeof id === 'string' || typeof id === 'number';
}

/** The JSON-RPC id of each request in the body (notifications and responses have none). */
function requestIdsOf(body: unknown): Array<string | number> {
  return messagesOf(body).flatMap(({ id, method }) => (typeof method === 'string' && isRequestId(id) ? [id] : []));
}

/** The id when the body is exactly one request (not a batch, not a notification). */
function singleRequestId(body: unknown): string | number | undefined {
  return Array.isArray(body) ? undefined : requestIdsOf(body)[0];
}

/** The request ids named by the notifications/cancelled in the body. */
function cancelledIdsOf(body: unknown): Array<string | number> {
  return messagesOf(body)
    .filter((m) => m.method === 'notifications/cancelled' && m.id === undefined)
    .map((m) => (m.params as { requestId?: unknown } | undefined)?.requestId)
    .filter(isRequestId);
}

async function openSession(gateway: Gateway, ctx: RequestContext): Promise<void> {
  if (ctx.req.method !== 'POST') throw noSession();
  const body = await readJsonBody(ctx.req, anyJson, gateway.limits.maxBodyBytes);
  if (!isInitializeRequest(body)) throw noSession();
  const token = bearerOf(ctx);
  await verifyCaller(gateway, ctx); // AuthError (401) for a bad token, recorded with its run when it could be read
  const session = await openMcpSession(gateway.parts, token);
  const { identity } = session;
  const sessions = gateway.mcpSessions;
  const release = sessions.reserve(identity.run);
  if (!release) throw sessionsFull(sessions, identity.run);
  try {
    // its queries take their run's turn with the HTTP queries: one run, one fair share
    const mcp = createMcpServer(gateway.parts, session, { version: gateway.version, origin: { transport: 'http', src_endpoint: ctx.remote }, slot: gateway.takeQuerySlot });
    let stopWatching = () => {};
    let markClosed = () => {};
    const whenClosed = new Promise<void>((resolve) => (markClosed = resolve));
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        sessions.add({
          id,
          run: identity.run,
          tokenId: identity.tokenId,
          policy: identity.policy,
          subject: identity.subject,
          src: ctx.remote,
          tokenDigest: digestToken(token!),
          transport,
          close: async () => {
            markClosed();
            stopWatching();
            await mcp.shutdown();
          },
          whenClosed,
          isCallRunning: mcp.isCallRunning,
        });
        // the session ends with its token: revoked from anywhere (the state store is shared), or expired
        stopWatching = watchToken(gateway, identity, () => void sessions.close(id));
      },
      onsessionclosed: (id) => {
        void sessions.close(id);
      },
    });
    await mcp.server.connect(transport);
    await transport.handleRequest(ctx.req, ctx.res, body);
    // an initialize the transport refused (e.g. a bad protocol header) opened nothing
    if (transport.sessionId === undefined || !sessions.find(transport.sessionId)) await mcp.shutdown();
  } finally {
    release();
  }
}

/** Delivers notifications/cancelled for every request in `body`, as if its client had sent them (the SDK ignores ids already answered). */
function cancelRequestsOf(transport: Pick<StreamableHTTPServerTransport, 'onmessage'>, body: unknown): void {
  for (const requestId of requestIdsOf(body)) {
    transport.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'the HTTP client disconnected before the answer' } });
  }
}

/** Calls `end` once the token is revoked (any process) or expires; returns a stop function. */
function watchToken(gateway: Gateway, identity: RunIdentity, end: () => void): () => void {
  const stopRevocation = gateway.parts.identity.watchRevocation(identity, end);
  const timer = setTimeout(end, Math.max(0, identity.expiresAt * 1000 - Date.now()));
  timer.unref();
  return () => {
    stopRevocation();
    clearTimeout(timer);
  };
}

function sessionsFull(sessions: Gateway['mcpSessions'], run: string): WarehouseError {
  const mine = sessions.whyFull(run) === 'run';
  return new WarehouseError(
    'gateway.mcp_sessions_full',
    mine ? `refused to open an MCP session: run ${run} already holds ${sessions.maxPerRun}, the most one run may` : `refused to open an MCP session: the gateway already holds ${sessions.maxSessions}`,
    {
      rule: mine ? 'gateway.mcp_sessions_per_run' : 'gateway.mcp_sessions',
      hint: 'close sessions you no longer use (DELETE /v1/mcp) or retry later; idle sessions close by themselves',
    },
  );
}

function sessionClosed(): WarehouseError {
  return new WarehouseError('gateway.mcp_session_closed', 'the MCP session was closed while this request was running (its run was revoked or its token expired, the operator closed it, or the gateway is stopping); its calls were cancelled', {
    rule: 'gateway.mcp_session',
    hint: 'initialize a new session if the run may still query',
  });
}

function noSession(): UsageError {
  return new UsageError('gateway.mcp_no_session', 'refused an MCP request without an Mcp-Session-Id header that is not initialize', {
    rule: 'gateway.mcp_session',
    hint: 'POST initialize first; send the Mcp-Session-Id it returns with every later request',
  });
}
