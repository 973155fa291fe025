/**
 * The HTTP side of the gateway API as a client speaks it: requests answered in frames (a
 * query, the audit log's records), JSON requests (explain, the catalog, the token lifecycle,
 * operator calls), and the plain JSON POST the gateway audit sink uses.
 *
 * Invariants: result bytes reach `stdout` as they arrive, with stdout's backpressure passed
 * back to the socket (a slow terminal does not make us buffer the result); the outcome is
 * known only from the end frame — a stream without one is a failure (exit 7), never success;
 * a reader of stdout that goes away (`| head`) fails the query with `output.closed`, as in
 * direct mode (the CLI then ends quietly, exit 0), and the request is dropped so the gateway
 * cancels the query; gateway errors are re-created
 * as the same HoopqError (error-from-json.ts).
 */
import { request as httpRequest, type Agent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { AuthError, WarehouseError, type HoopqError } from '../errors.js';
import type { TableListing } from '../pipeline/list-tables.js';
import type { TableDescription } from '../pipeline/describe-table.js';
import { drained } from '../output/drained.js';
import { badResponse, errorFromJson } from './error-from-json.js';
import { FRAMES_CONTENT_TYPE, FrameDecoder, FrameProtocolError } from './frame-protocol.js';

export interface RemoteQueryBody {
  sql: string;
  justification: string | null;
  format: string;
  max_rows?: number;
  dry_run?: boolean;
  params?: Array<{ name: string; type: string; value: string | null }>;
  unmask?: string[];
  max_bytes_billed?: number;
  labels?: Record<string, string>;
  default_project?: string;
  default_dataset?: string;
}

export interface RemoteOutcome {
  record: string;
  rows: number;
  truncated: boolean;
  result_sha256: string | null;
  dry_run?: Record<string, unknown>;
}

export interface RemoteQueryInput {
  gateway: URL;
  token: string | undefined;
  body: RemoteQueryBody;
  stdout: NodeJS.WritableStream;
  notice(line: string): void;
}

const MAX_JSON_RESPONSE = 16 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 15_000;

export async function remoteQuery(input: RemoteQueryInput): Promise<RemoteOutcome> {
  const end = await requestFrames(gatewayEndpoint(input.gateway, '/v1/query'), input.token, input.body, input.stdout, input.notice);
  if (!end || typeof end !== 'object') throw badResponse(input.gateway.origin, 'an end frame without an outcome');
  return end as RemoteOutcome;
}

/**
 * One request answered in frames: data bytes go to `out` as they arrive (its backpressure
 * pauses the socket), notices to `notice`; resolves with the end frame's outcome, rejects with
 * its error, and fails closed (exit 7) on a stream without one.
 */
export async function requestFrames(url: URL, bearer: string | undefined, body: unknown, out: NodeJS.WritableStream, notice: (line: string) => void): Promise<unknown> {
  const origin = url.origin;
  const res = await send(url, bearer, body);
  const type = String(res.headers['content-type'] ?? '');
  if (res.statusCode !== 200 || !type.startsWith(FRAMES_CONTENT_TYPE)) throw await errorResponse(res, origin);
  return new Promise<unknown>((resolve, reject) => {
    let result: { outcome?: unknown; error?: HoopqError } | undefined;
    let waiting = false;
    const decoder = new FrameDecoder({
      data(chunk) {
        if ((out as { destroyed?: boolean }).destroyed) return fail(readerGone());
        // one socket chunk may hold several frames: wait for one drain, not one per frame
        if (!out.write(chunk) && !waiting) {
          waiting = true;
          res.pause();
          // a reader that goes away (`| head -1`) never drains: stop at once rather than wait
          // on a paused response until the gateway closes the idle connection (65 s)
          drained(out).then(
            () => {
              waiting = false;
              res.resume();
            },
            (err: NodeJS.ErrnoException) => fail(readerGone(err)),
          );
        }
      },
      notice,
      end(json) {
        const end = json as { ok?: unknown; outcome?: unknown; error?: unknown };
        if (end?.ok === true && end.outcome && typeof end.outcome === 'object') result = { outcome: end.outcome };
        else if (end?.ok === false) result = { error: errorFromJson(end.error, origin) };
        else result = { error: badResponse(origin, 'an end frame without an outcome') };
      },
    });
    let failed = false;
    const fail = (err: HoopqError) => {
      if (failed) return;
      failed = true;
      res.destroy();
      reject(err);
    };
    // EPIPE and the like arrive as 'error' on stdout, possibly after the outcome (writes to a
    // pipe complete later): the listener stays, so a late one cannot crash the process
    out.on('error', (err: Error) => fail(readerGone(err)));
    res.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        fail(err instanceof FrameProtocolError ? badResponse(origin, `a malformed stream (${err.message})`) : (err as HoopqError));
      }
    });
    res.on('error', () => fail(streamCut(origin)));
    res.on('end', () => {
      if (failed) return;
      if (!result) return fail(streamCut(origin));
      if (result.error) return reject(result.error);
      resolve(result.outcome);
    });
  });
}

export interface RemoteExplainBody {
  sql: string;
  justification: string | null;
  policy?: string;
  offline: boolean;
}

export async function remoteExplain(gateway: URL, credential: string | undefined, body: RemoteExplainBody): Promise<unknown> {
  return requestJson(gatewayEndpoint(gateway, '/v1/explain'), credential, body);
}

/** A POST of `body` (a GET when undefined) whose 2xx answer is JSON; any other answer is the gateway's error, re-created. */
export async function requestJson(url: URL, bearer: string | undefined, body: unknown): Promise<unknown> {
  const res = await send(url, bearer, body);
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) throw await errorResponse(res, url.origin);
  return readJson(res, url.origin);
}

const maskMethod = z.enum(['hash', 'redact', 'null', 'partial']);
const listingSchema = z.object({
  policy: z.string(),
  dataset: z.string().nullable(),
  tables: z.array(z.object({ name: z.string(), kind: z.enum(['table', 'view']), masked: z.record(z.string(), z.string()) })),
});
interface SchemaFieldJson {
  name: string;
  type: string;
  mode: 'NULLABLE' | 'REPEATED' | 'REQUIRED';
  fields?: SchemaFieldJson[];
}
const schemaField: z.ZodType<SchemaFieldJson> = z.lazy(() =>
  z.object({ name: z.string(), type: z.string(), mode: z.enum(['NULLABLE', 'REPEATED', 'REQUIRED']), fields: z.array(schemaField).optional() }),
);
const descriptionSchema = z.object({
  policy: z.string(),
  table: z.string(),
  kind: z.enum(['table', 'view']),
  columns: z.array(z.object({ name: z.string(), type: z.string(), mask: maskMethod.nullable() })),
  fields: z.array(schemaField),
  maskedSources: z.record(z.string(), z.string()),
  detect: z.array(z.string()),
});

/** GET /v1/tables: what `hoopq ls` prints, as the gateway's listTables returned it. */
export async function remoteListTables(gateway: URL, token: string | undefined, dataset: string | undefined): Promise<TableListing> {
  const url = gatewayEndpoint(gateway, '/v1/tables');
  if (dataset !== undefined) url.searchParams.set('dataset', dataset);
  return getJson(url, token, listingSchema);
}

/** GET /v1/table: what `hoopq show` prints, as the gateway's describeTable returned it. */
export async function remoteDescribeTable(gateway: URL, token: string | undefined, table: string): Promise<TableDescription> {
  const url = gatewayEndpoint(gateway, '/v1/table');
  url.searchParams.set('name', table);
  return getJson(url, token, descriptionSchema) as Promise<TableDescription>;
}

const sessionInfo = z.object({
  id: z.string(),
  run: z.string(),
  token_id: z.string().nullable(),
  policy: z.string().nullable(),
  subject: z.string().nullable(),
  opened_at: z.string(),
  last_used_at: z.string(),
  requests_running: z.number(),
  src_endpoint: z.object({ ip: z.string().nullable(), port: z.number().nullable() }).nullable(),
});
export type RemoteMcpSession = z.infer<typeof sessionInfo>;

/** GET /v1/mcp/sessions (operator key): the MCP sessions the gateway holds. */
export async function remoteListMcpSessions(gateway: URL, operatorKey: string, run: string | undefined): Promise<RemoteMcpSession[]> {
  const url = gatewayEndpoint(gateway, '/v1/mcp/sessions');
  if (run !== undefined) url.searchParams.set('run', run);
  return (await getJson(url, operatorKey, z.object({ sessions: z.array(sessionInfo) }))).sessions;
}

/** DELETE /v1/mcp/sessions (operator key): closes one session, or every session of a run; resolves with the ids closed. */
export async function remoteCloseMcpSessions(gateway: URL, operatorKey: string, which: { id: string } | { run: string }): Promise<string[]> {
  const url = gatewayEndpoint(gateway, '/v1/mcp/sessions');
  if ('id' in which) url.searchParams.set('id', which.id);
  else url.searchParams.set('run', which.run);
  return (await getJson(url, operatorKey, z.object({ closed: z.array(z.string()) }), 'DELETE')).closed;
}

async function getJson<T extends z.ZodType>(url: URL, bearer: string | undefined, schema: T, method: 'GET' | 'DELETE' = 'GET'): Promise<z.infer<T>> {
  const res = await send(url, bearer, undefined, { method });
  if (res.statusCode !== 200) throw await errorResponse(res, url.origin);
  const parsed = schema.safeParse(await readJson(res, url.origin));
  if (!parsed.success) throw badResponse(url.origin, 'an answer of an unexpected shape');
  return parsed.data;
}

/** One JSON POST; resolves with the status and parsed body (for the audit sink). */
export async function postJson(url: URL, bearer: string | undefined, body: unknown, options: { agent?: Agent; timeoutMs?: number } = {}): Promise<{ status: number; json: unknown }> {
  const res = await send(url, bearer, body, options);
  return { status: res.statusCode ?? 0, json: await readJson(res, url.origin).catch(() => undefined) };
}

/** `path` under the gateway's URL, keeping any base path it was given (e.g. https://host/hoopq). */
export function gatewayEndpoint(gateway: URL, path: string): URL {
  return new URL(gateway.pathname.replace(/\/+$/, '') + path, gateway);
}

/**
 * A POST of `body` as JSON, or a GET (or `options.method`) when `body` is undefined.
 * Without `timeoutMs` only connecting is timed (a query may think for minutes before its
 * first byte); with it, the whole wait for the response head is.
 */
function send(url: URL, bearer: string | undefined, body: unknown, options: { agent?: Agent; timeoutMs?: number; method?: 'GET' | 'DELETE' } = {}): Promise<IncomingMessage> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
  const headers: Record<string, string> = { accept: `${FRAMES_CONTENT_TYPE}, application/json` };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: payload ? 'POST' : (options.method ?? 'GET'), headers, agent: options.agent }, resolve);
    const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    req.once('response', () => clearTimeout(timer));
    if (options.timeoutMs === undefined) {
      req.once('socket', (socket) => {
        if (!socket.connecting) return clearTimeout(timer); // a kept-alive socket
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      });
    }
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new WarehouseError('gateway.unreachable', `cannot reach the gateway at ${url.origin} (${err.code ?? err.message})`, {
          rule: 'gateway.connect',
          hint: 'check HOOPQ_GATEWAY and that the gateway is running; nothing was run',
          cause: err,
        }),
      );
    });
    req.end(payload);
  });
}

async function errorResponse(res: IncomingMessage, origin: string): Promise<HoopqError> {
  const json = (await readJson(res, origin).catch(() => undefined)) as { error?: unknown } | undefined;
  if (json && typeof json === 'object' && 'error' in json) return errorFromJson(json.error, origin);
  return badResponse(origin, `HTTP ${res.statusCode} without an error body`);
}

async function readJson(res: IncomingMessage, origin: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_RESPONSE) {
      res.destroy();
      throw badResponse(origin, `a response larger than ${MAX_JSON_RESPONSE} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badResponse(origin, 'a response that is not JSON');
  }
}

/**
 * The caller's stdout went away mid-result (an error on it, or closed while we waited for it
 * to drain); the CLI ends quietly (exit 0) as for any closed pipe, as in direct mode. Whether
 * the query finished is the gateway's to say (it cancels it when the request is dropped).
 */
function readerGone(err?: NodeJS.ErrnoException): WarehouseError {
  const why = err ? ` (${err.code ?? err.message})` : '';
  return new WarehouseError('output.closed', `the result's reader went away before the result was complete${why}; the request to the gateway was dropped, which cancels the query if it was still running`, {
    rule: 'output',
    hint: 'read the whole result, or ask for fewer rows (--max-rows N, LIMIT); the gateway\'s audit record says how many rows it sent',
    cause: err,
  });
}

function streamCut(origin: string): WarehouseError {
  return new WarehouseError('gateway.stream_cut', `the connection to the gateway at ${origin} ended before the query's outcome arrived`, {
    rule: 'gateway.protocol',
    hint: 'the gateway\'s audit log records what happened; retry the query',
  });
}

/** The token as the verifier would read it; one that cannot travel in an HTTP header is refused here, as malformed. */
export function remoteToken(token: string | undefined): string | undefined {
  const compact = token?.trim();
  if (!compact) return undefined;
  if (!/^[\x21-\x7e]+$/.test(compact)) {
    throw new AuthError('token.malformed', 'run token refused: the token is malformed: it contains characters a token never has', {
      rule: 'token.malformed',
      hint: 'pass the run token exactly as minted (three base64url parts separated by dots)',
    });
  }
  return compact;
}
