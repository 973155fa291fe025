/**
 * `hoopq mcp` in gateway mode: relays MCP between this process's stdio (the agent's client)
 * and the gateway's streamable HTTP endpoint (POST/DELETE /v1/mcp) under the run token, so
 * the agent holds only HOOPQ_GATEWAY and HOOPQ_TOKEN and every tool call is checked and
 * recorded by the gateway. Input: endpoint URL, token, stdio. Resolves when the client goes
 * away or the process is asked to stop; the gateway session is then deleted.
 * Invariants:
 * - messages pass through unchanged; this process makes no decision of its own;
 * - a gateway refusal of `initialize` for the run token (exit 4) ends the relay and hands the
 *   `initialize` back (RelayEnd.refused), so `hoopq mcp` serves the refusal to every call as
 *   direct mode does; any other refusal of `initialize` (gateway full) ends the proxy with
 *   that error — exit code and stderr line as direct mode's, nothing on stdout;
 * - a refused tools/call (e.g. the run was revoked mid-session) is answered as an `isError`
 *   result with the CLI's line, exactly as direct mode answers it; any other refused request
 *   gets a JSON-RPC error with that line;
 * - the token travels only in the Authorization header.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isJSONRPCRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { HoopqError, WarehouseError, formatRefusal, isHoopqError } from '../errors.js';
import { errorFromJson } from '../gateway-client/error-from-json.js';
import { refusalResult } from './tool-results.js';

export interface RelayEnd {
  /** The gateway refused the run token at `initialize`: that error, and the message to answer locally. */
  refused?: { error: HoopqError; initialize: JSONRPCMessage };
}

export async function proxyMcpStdio(endpoint: URL, token: string | undefined, stdin: NodeJS.ReadableStream = process.stdin, stdout: NodeJS.WritableStream = process.stdout): Promise<RelayEnd> {
  const origin = endpoint.origin;
  const local = new StdioServerTransport(stdin as typeof process.stdin, stdout as typeof process.stdout);
  const remote = new StreamableHTTPClientTransport(endpoint, {
    requestInit: token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
    fetch: gatewayFetch(origin),
  });

  let stop!: (err?: unknown) => void;
  let end: RelayEnd = {};
  const stopped = new Promise<void>((resolve, reject) => {
    stop = (err?: unknown) => (err === undefined ? resolve() : reject(err));
  });
  // requests relayed but not yet answered: a client that writes and closes stdin still gets its answers
  const pending = new Set<Promise<void>>();
  const onSignal = () => stop();
  const onInputEnd = () => void Promise.allSettled([...pending]).then(() => stop());
  stdin.once('end', onInputEnd);
  stdin.once('close', onInputEnd);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  local.onclose = onInputEnd;
  remote.onerror = () => {}; // failures of a request are answered to that request below

  remote.onmessage = (message) => {
    // later requests carry the negotiated version in their header, as the SDK's Client does
    const result = (message as { result?: { protocolVersion?: unknown; serverInfo?: unknown } }).result;
    if (typeof result?.protocolVersion === 'string' && result.serverInfo) remote.setProtocolVersion(result.protocolVersion);
    void local.send(message).catch(onSignal);
  };
  local.onmessage = (message: JSONRPCMessage) => {
    const relayed = remote.send(message).catch(async (err: unknown) => {
      const error = asHoopqError(err, origin);
      if (!isJSONRPCRequest(message)) return; // a notification has nobody to answer
      if (message.method === 'initialize') {
        if (error.exitCode !== 4) return stop(error);
        // hand stdin over without ending: `hoopq mcp` answers this initialize and every call itself
        stdin.off('end', onInputEnd);
        stdin.off('close', onInputEnd);
        local.onclose = undefined;
        end = { refused: { error, initialize: message } };
        return stop();
      }
      const answer: JSONRPCMessage =
        message.method === 'tools/call'
          ? { jsonrpc: '2.0', id: message.id, result: refusalResult(error) }
          : { jsonrpc: '2.0', id: message.id, error: { code: -32000, message: formatRefusal(error), data: error.toJSON() } };
      await local.send(answer).catch(onSignal);
    });
    pending.add(relayed);
    void relayed.finally(() => pending.delete(relayed));
  };

  await remote.start();
  await local.start();
  try {
    await stopped;
    return end;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (remote.sessionId !== undefined) await remote.terminateSession().catch(() => undefined);
    await remote.close().catch(() => undefined);
    await local.close().catch(() => undefined);
  }
}

/**
 * fetch that turns the gateway's JSON refusal (send-error.ts) into the HoopqError it stands
 * for, so the caller can report it as direct mode would. GET is left alone: the gateway
 * answers it 405, which the SDK takes as "no server stream", as the spec allows.
 */
function gatewayFetch(origin: string) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (err) {
      throw new WarehouseError('gateway.unreachable', `cannot reach the gateway at ${origin} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`, {
        rule: 'gateway.connect',
        hint: 'check HOOPQ_GATEWAY and that the gateway is running; nothing was run',
        cause: err,
      });
    }
    const method = (init?.method ?? 'GET').toUpperCase();
    if (res.ok || method === 'GET' || !(res.headers.get('content-type') ?? '').startsWith('application/json')) return res;
    const json = (await res.clone().json().catch(() => undefined)) as { error?: { exit?: unknown } } | undefined;
    // only our own error shape; a JSON-RPC error from the transport goes through unchanged
    if (json?.error && typeof json.error.exit === 'number') throw errorFromJson(json.error, origin);
    return res;
  };
}

function asHoopqError(err: unknown, origin: string): HoopqError {
  if (isHoopqError(err)) return err;
  return new WarehouseError('gateway.mcp_failed', `the gateway at ${origin} did not answer an MCP request (${(err as Error)?.message ?? String(err)})`, {
    rule: 'gateway.protocol',
    hint: 'check that HOOPQ_GATEWAY points at a hoopq gateway of the same version; retry',
  });
}
