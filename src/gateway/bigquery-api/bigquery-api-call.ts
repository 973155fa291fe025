/**
 * One call of the BigQuery-compatible API, as every handler sees it: the gateway, the
 * request, the verified run (from the Bearer credential), the project in the path, and the
 * few things handlers do (read the body, read query parameters, record the call, answer).
 * Calls that do not run a query or read the catalog (jobs.get, getQueryResults, jobs.cancel,
 * jobs.list, datasets) are recorded as `bigquery_api.call` audit records, tied to the run,
 * before they are answered.
 */
import { z } from 'zod';
import { AuditWriteError } from '../../errors.js';
import type { RunIdentity } from '../../identity/run-identity.js';
import { newAuditBody } from '../../pipeline/audit-body.js';
import { sendJson, type Gateway, type RequestContext } from '../gateway-context.js';
import { readJsonBody } from '../read-json-body.js';
import { invalid } from './parse-query-configuration.js';
import type { QueryJobs } from './query-jobs.js';

export const JUSTIFICATION_HEADER = 'x-hoopq-justification';
const anyObject = z.record(z.string(), z.unknown());

export interface BigQueryApiCall {
  gateway: Gateway;
  ctx: RequestContext;
  jobs: QueryJobs;
  /** The project named in the path. */
  project: string;
  /** The run token the call is made with (a Google ID token is exchanged for one first). */
  token: string;
  identity: RunIdentity;
  url: URL;
  signal: AbortSignal;
  readBody(): Promise<Record<string, unknown>>;
  /** The first value of each named query parameter. */
  query<K extends string>(names: readonly K[]): Partial<Record<K, string>>;
  /** `X-Hoopq-Justification`, when the client sends it. */
  justification(): string | null;
  /** Audit fields of a record the pipeline writes for this call. */
  origin(method: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Appends a `bigquery_api.call` record for this call; throws AuditWriteError when it cannot. */
  record(method: string, fields?: Record<string, unknown>): Promise<void>;
  sendJson(status: number, body: unknown): void;
}

export function createBigQueryApiCall(gateway: Gateway, ctx: RequestContext, jobs: QueryJobs, project: string, token: string, identity: RunIdentity): BigQueryApiCall {
  const call: BigQueryApiCall = {
    gateway,
    ctx,
    jobs,
    project,
    token,
    identity,
    url: ctx.url,
    signal: ctx.signal,
    async readBody() {
      if (ctx.req.headers['content-length'] === '0') throw invalid('the request needs a JSON body');
      return readJsonBody(ctx.req, anyObject, gateway.limits.maxBodyBytes);
    },
    query(names) {
      const out: Partial<Record<(typeof names)[number], string>> = {};
      for (const name of names) {
        const value = ctx.url.searchParams.get(name);
        if (value !== null) out[name] = value;
      }
      return out;
    },
    justification() {
      const header = ctx.req.headers[JUSTIFICATION_HEADER];
      const value = Array.isArray(header) ? header[0] : header;
      return value && value.trim() ? value.trim().slice(0, 64 * 1024) : null;
    },
    origin(method, extra = {}) {
      return { via: 'bigquery-api', bigquery_api: { method, ...extra }, src_endpoint: ctx.remote };
    },
    async record(method, fields = {}) {
      const { decision, ...rest } = fields as { decision?: 'allow' | 'deny' } & Record<string, unknown>;
      const body = newAuditBody('bigquery_api.call', gateway.parts.now(), {
        run: identity.run,
        subject: identity.subject,
        token_id: identity.tokenId,
        decision: decision ?? 'allow',
        ...call.origin(method, rest),
      });
      try {
        await (await gateway.parts.audit()).append(body);
      } catch (err) {
        if (err instanceof AuditWriteError) throw err;
        throw new AuditWriteError('audit.write_failed', `audit record could not be written: ${(err as Error).message}; nothing was returned`, { cause: err });
      }
    },
    sendJson(status, body) {
      sendJson(ctx.res, status, body);
    },
  };
  return call;
}
