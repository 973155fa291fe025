/**
 * What every route handler gets: the gateway's parts (built once, at start) and one
 * context object for the request. Handlers read their input from `ctx`, answer on
 * `ctx.res`, and throw HoopqErrors; send-error.ts is the one place that turns a thrown
 * error into a status and a body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditRecordBody } from '../audit/audit-record.js';
import type { HoopqConfig } from '../config/config.js';
import type { OidcKeyCache } from '../identity/oidc-key-cache.js';
import type { StateStore } from '../identity/state-store.js';
import type { OperatorStore } from '../operator/operator-store.js';
import type { PipelineParts } from '../pipeline/pipeline-parts.js';
import type { QueryJobs } from './bigquery-api/query-jobs.js';
import type { FrameResponse } from './frame-response.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { McpSessions } from './mcp-sessions.js';
import type { QuerySlots } from './query-slots.js';
import type { RefusalLimiter } from './refusal-limiter.js';

export interface GatewayLimits {
  /** Request bodies above this are refused (413). */
  maxBodyBytes: number;
  /** SQL above this many UTF-8 bytes is refused. */
  maxSqlBytes: number;
  /** A client that reads nothing of a result for this long is cut off. */
  stallTimeoutMs: number;
  /** Queries running at once; more wait for a slot. */
  maxConcurrentQueries: number;
  /** Queries of one run running at once; its others wait their turn (runs take turns). */
  maxConcurrentQueriesPerRun: number;
  /** MCP sessions open at once (POST /v1/mcp); one more is refused (503). */
  maxMcpSessions: number;
  /** MCP sessions of one run open at once; one more is refused (503). */
  maxMcpSessionsPerRun: number;
  /** Refusals of callers with no valid credential recorded one by one per source address: a burst, then this many a minute. */
  unauthenticatedRecordsPerMinute: number;
  /** An MCP session with no request for this long is closed. */
  mcpIdleMs: number;
}

export interface Gateway {
  config: HoopqConfig;
  parts: PipelineParts;
  state(): StateStore;
  /** Personal operator keys (who approves, who uses the console). */
  operators(): OperatorStore;
  operatorKey: string;
  auditWriterKey: string;
  metrics: GatewayMetrics;
  oidcKeys: OidcKeyCache;
  /** The `aud` exchanged ID tokens must carry when a rule names none: `oidc.audience`, else the gateway's URL. */
  oidcAudience: string | undefined;
  limits: GatewayLimits;
  /** hoopq's version, as the MCP server reports it to clients. */
  version?: string;
  /** Open MCP sessions over streamable HTTP, each bound to its run token. */
  mcpSessions: McpSessions;
  /** Query slots, shared fairly between runs. */
  querySlots: QuerySlots;
  /** Waits for `run`'s turn to run a query (counted in the metrics); the returned function gives the slot back. Pass as runQuery's `slot`. */
  takeQuerySlot(run: string, signal: AbortSignal): Promise<() => void>;
  /** Which unauthenticated refusals get a record of their own (per source address). */
  refusalLimiter: RefusalLimiter;
  /** The BigQuery API's query jobs (bigquery-api/), each a runQuery in the background. */
  bigQueryJobs: QueryJobs;
  isDraining(): boolean;
  /** Operator-facing log lines (a record that could not be written, a bug). */
  log?: (line: string) => void;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The route's name in metrics, e.g. `POST /v1/query`, or `unmatched`. */
  route: string;
  remote: { ip: string | null; port: number | null };
  /** Aborted when the client goes away or the gateway stops waiting at shutdown. */
  signal: AbortSignal;
  /** Set by the query route once it streams frames: errors then go into the end frame. */
  frames?: FrameResponse;
  /** Who the request's credential says it is, once read (see identify-caller.ts). */
  caller?: RequestCaller;
  /** Size and digest of the request body, once read (the record of a refusal keeps these, never the body). */
  body?: { bytes: number; sha256: string | null };
  /** Set once the pipeline or the route has written the request's audit record itself. */
  recorded?: boolean;
  /** Fields the route knows for the record of a refusal (e.g. the policy an exchange asked for). */
  recordFields?: Partial<AuditRecordBody>;
}

/**
 * The credential of a request as far as it could be read: `operator` for the operator key; a
 * run token's run and id when its signature verified (`verified`: it was also valid — not
 * expired or revoked); or the claims of a token that did not verify (`claimed`, never trusted).
 */
export type RequestCaller =
  | { kind: 'operator' }
  | { kind: 'run'; verified: boolean; run: string | null; token_id: string | null; subject: string | null; policy: string | null }
  | { kind: 'claimed'; run: string | null; token_id: string | null; kid: string | null }
  | { kind: 'none' };

export type RouteHandler = (gateway: Gateway, ctx: RequestContext) => Promise<void>;

/** `Authorization: Bearer X` → X; undefined when absent or not a bearer credential. */
export function bearerOf(ctx: RequestContext): string | undefined {
  const header = ctx.req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}
