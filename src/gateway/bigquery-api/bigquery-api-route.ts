/**
 * /bigquery/v2/… — the BigQuery v2 REST surface an analytics client uses, so that Google's
 * client libraries, pointed at the gateway (`apiEndpoint` in Node, `client_options` in
 * Python, `option.WithEndpoint` in Go) with a run token as their bearer credential, run
 * governed queries unchanged (docs/bigquery-api.md).
 *
 * Input: any request under the prefix. Output: BigQuery's JSON resources, or BigQuery's error
 * shape (bigquery-api-error.ts) with hoopq's reason as the message.
 * Invariants:
 * - one explicit table of the calls offered; every other path or method is 501 notImplemented;
 * - the Bearer credential is verified (a run token, or a Google ID token exchanged for one)
 *   before anything else, so a caller without one learns nothing, not even which calls exist;
 * - errors of this API never take hoopq's own `{error: {code, hint, exit}}` shape: a Google
 *   client would not read it. Only a bug (not a HoopqError) goes to the gateway's one error
 *   handler, which logs it and answers a generic 500.
 */
import { AuthError, isHoopqError, InternalError } from '../../errors.js';
import { bearerOf, sendJson, type Gateway, type RequestContext } from '../gateway-context.js';
import { bigQueryErrorBody, bigQueryErrorOf, notSupported } from './bigquery-api-error.js';
import { createBigQueryApiCall, type BigQueryApiCall } from './bigquery-api-call.js';
import { getDataset, getTable, listDatasets, listTableData, listTablesOf } from './bigquery-tables-routes.js';
import { cancelJob, getJob, getQueryResults, insertJob, listJobs, queryJob } from './bigquery-jobs-routes.js';
import { resolveBearer } from './resolve-bearer.js';
import { sanitizeError } from '../../pipeline/sanitize-error.js';
import { verifyCaller } from '../identify-caller.js';
import { recordRefusal } from '../record-refusal.js';

export const BIGQUERY_API_PREFIX = '/bigquery/v2/';

type Handler = (call: BigQueryApiCall, ...ids: string[]) => Promise<void>;

/** method, path pattern (`:x` captures one segment, passed to the handler after the project) */
const CALLS: ReadonlyArray<readonly [string, string, Handler]> = [
  ['POST', 'projects/:p/jobs', insertJob],
  ['GET', 'projects/:p/jobs', listJobs],
  ['GET', 'projects/:p/jobs/:j', getJob],
  ['POST', 'projects/:p/jobs/:j/cancel', cancelJob],
  ['POST', 'projects/:p/queries', queryJob],
  ['GET', 'projects/:p/queries/:j', getQueryResults],
  ['GET', 'projects/:p/datasets', listDatasets],
  ['GET', 'projects/:p/datasets/:d', getDataset],
  ['GET', 'projects/:p/datasets/:d/tables', listTablesOf],
  ['GET', 'projects/:p/datasets/:d/tables/:t', getTable],
  ['GET', 'projects/:p/datasets/:d/tables/:t/data', listTableData],
];

export async function handleBigQueryApi(gateway: Gateway, ctx: RequestContext): Promise<void> {
  try {
    const token = await resolveBearer(gateway, ctx, bearerOf(ctx));
    const identity = await verifyCaller(gateway, ctx, token);
    ctx.recorded = true; // the pipeline records the request from here
    const match = matchCall(ctx.req.method ?? '', ctx.url.pathname.slice(BIGQUERY_API_PREFIX.length));
    if (!match) throw notSupported(`${ctx.req.method} ${ctx.url.pathname}`);
    const [project, ...ids] = match.ids;
    const call = createBigQueryApiCall(gateway, ctx, gateway.bigQueryJobs, project!, token!, identity);
    await match.handler(call, ...ids);
  } catch (err) {
    if (!isHoopqError(err) || err instanceof InternalError) throw err;
    // as send-error.ts does: no data, literal or rewrite reaches the client, and every refusal
    // before the pipeline has its record (rate-limited per address for unauthenticated callers)
    const { error } = sanitizeError(err);
    await recordRefusal(gateway, ctx, error, ctx.res.headersSent ? 200 : bigQueryErrorOf(error).status, gateway.log ?? (() => {}));
    if (ctx.res.headersSent || ctx.res.destroyed) {
      ctx.res.destroy();
      return;
    }
    const shape = bigQueryErrorOf(error);
    const headers: Record<string, string> = {};
    if (shape.status === 401 || error instanceof AuthError) headers['www-authenticate'] = 'Bearer realm="hoopq"';
    if (!ctx.req.complete) headers.connection = 'close';
    sendJson(ctx.res, shape.status, bigQueryErrorBody(shape), headers);
  }
}

function matchCall(method: string, path: string): { handler: Handler; ids: string[] } | undefined {
  const segments = path.split('/');
  if (segments.at(-1) === '') segments.pop();
  for (const [m, pattern, handler] of CALLS) {
    const parts = pattern.split('/');
    if (m !== method || parts.length !== segments.length) continue;
    const ids: string[] = [];
    let ok = true;
    for (let i = 0; i < parts.length && ok; i += 1) {
      if (parts[i]!.startsWith(':')) {
        const id = decodeSegment(segments[i]!);
        if (id === undefined || id === '') ok = false;
        else ids.push(id);
      } else ok = parts[i] === segments[i];
    }
    if (ok) return { handler, ids };
  }
  return undefined;
}

function decodeSegment(segment: string): string | undefined {
  try {
    const id = decodeURIComponent(segment);
    return /^[^\u0000-\u001f/]{1,1024}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
