/**
 * GET /v1/tables[?dataset=D] and GET /v1/table?name=T — the catalog as the run token's
 * policy lets it see it, for `hoopq ls` and `hoopq show` in gateway mode. Input: the run
 * token (Bearer) and the same reference the CLI takes (bq's colon or dotted form). Output:
 * listTables' TableListing / describeTable's TableDescription as JSON, which the remote CLI
 * prints exactly as direct mode does.
 * Invariant: the same pipeline calls as direct mode, so the same policy filtering (denied
 * tables never listed, a denied table refused before the catalog is asked) and the same
 * `catalog.list` / `catalog.describe` audit records, with `via: "gateway"`.
 */
import { UsageError } from '../errors.js';
import { describeTable } from '../pipeline/describe-table.js';
import { listTables } from '../pipeline/list-tables.js';
import { bearerOf, sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { verifyCaller } from './identify-caller.js';

const MAX_REFERENCE = 300;

export async function handleListTables(gateway: Gateway, ctx: RequestContext): Promise<void> {
  await verifyCaller(gateway, ctx);
  const dataset = queryParameter(ctx, 'dataset', false, ['dataset']);
  ctx.recorded = true; // the pipeline records the request from here
  const listing = await listTables(gateway.parts, {
    token: bearerOf(ctx),
    dataset,
    origin: { via: 'gateway', command: 'ls', src_endpoint: ctx.remote },
  });
  sendJson(ctx.res, 200, listing);
}

export async function handleDescribeTable(gateway: Gateway, ctx: RequestContext): Promise<void> {
  await verifyCaller(gateway, ctx);
  const name = queryParameter(ctx, 'name', true, ['name'])!;
  ctx.recorded = true; // the pipeline records the request from here
  const description = await describeTable(gateway.parts, {
    token: bearerOf(ctx),
    table: name,
    origin: { via: 'gateway', command: 'show', src_endpoint: ctx.remote },
  });
  sendJson(ctx.res, 200, description);
}

/** One query parameter, at most once; any parameter the route does not know is refused, not ignored. */
function queryParameter(ctx: RequestContext, name: string, required: boolean, known: string[]): string | undefined {
  const params = ctx.url.searchParams;
  for (const key of new Set(params.keys())) {
    if (!known.includes(key)) throw badParameter(`unknown query parameter "${key}"`, known);
  }
  const values = params.getAll(name);
  if (values.length > 1) throw badParameter(`"${name}" given ${values.length} times`, known);
  const value = values[0];
  if (value === undefined || value === '') {
    if (required) throw badParameter(`"${name}" is required`, known);
    return undefined;
  }
  if (value.length > MAX_REFERENCE) throw badParameter(`"${name}" is longer than ${MAX_REFERENCE} characters`, known);
  return value;
}

function badParameter(what: string, known: string[]): UsageError {
  return new UsageError('gateway.bad_request', `refused the request: ${what}`, {
    rule: 'gateway.query_parameters',
    hint: `this endpoint takes ${known.map((k) => `?${k}=`).join(', ')} (see docs/gateway.md)`,
  });
}
