/**
 * The remote side of /v1/approvals, /v1/approval and its decisions: what `hoopq review` and
 * `hoopq query --wait` call when HOOPQ_GATEWAY is set. Errors come back as the gateway's
 * HoopqError (error-from-json.ts), so exit codes match direct mode.
 */
import { errorFromJson, badResponse } from '../gateway-client/error-from-json.js';
import { gatewayEndpoint, postJson } from '../gateway-client/gateway-client.js';

export async function remoteListApprovals(gateway: URL, operatorKey: string | undefined, status: string): Promise<Array<Record<string, unknown>>> {
  const url = gatewayEndpoint(gateway, '/v1/approvals');
  url.searchParams.set('status', status);
  const json = (await call(url, operatorKey, undefined)) as { requests?: unknown };
  if (!Array.isArray(json.requests)) throw badResponse(gateway.origin, 'a list of requests of an unexpected shape');
  return json.requests as Array<Record<string, unknown>>;
}

/** One request: the full view for an operator key, the status for the run token that made it. */
export async function remoteGetApproval(gateway: URL, credential: string | undefined, id: string): Promise<Record<string, unknown>> {
  const url = gatewayEndpoint(gateway, '/v1/approval');
  url.searchParams.set('id', id);
  return requestOf(gateway, await call(url, credential, undefined));
}

export async function remoteDecide(gateway: URL, operatorKey: string | undefined, approve: boolean, body: { id: string; reason: string; runs?: number; for?: string }): Promise<Record<string, unknown>> {
  return requestOf(gateway, await call(gatewayEndpoint(gateway, approve ? '/v1/approval/approve' : '/v1/approval/deny'), operatorKey, body));
}

async function call(url: URL, bearer: string | undefined, body: unknown): Promise<unknown> {
  const res = await postJson(url, bearer, body, { timeoutMs: 30_000 });
  if (res.status === 200 && res.json && typeof res.json === 'object') return res.json;
  const error = (res.json as { error?: unknown } | undefined)?.error;
  if (error) throw errorFromJson(error, url.origin);
  throw badResponse(url.origin, `HTTP ${res.status} without an error body`);
}

function requestOf(gateway: URL, json: unknown): Record<string, unknown> {
  const request = (json as { request?: unknown }).request;
  if (!request || typeof request !== 'object') throw badResponse(gateway.origin, 'a request of an unexpected shape');
  return request as Record<string, unknown>;
}
