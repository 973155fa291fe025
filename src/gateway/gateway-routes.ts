/**
 * The gateway's HTTP API as one explicit table: path -> method -> handler. Nothing registers
 * itself; adding an endpoint is one line here and a section in docs/gateway.md and
 * docs/openapi.yaml.
 */
import { handleAuditAppend } from './audit-append-route.js';
import { handleAuditCheckpoint } from './audit-checkpoint-route.js';
import { handleBigQueryApi } from './bigquery-api/bigquery-api-route.js';
import { handleDescribeTable, handleListTables } from './catalog-routes.js';
import { handleExplain } from './explain-route.js';
import type { RouteHandler } from './gateway-context.js';
import { handleMcp } from './mcp-route.js';
import { handleQuery } from './query-route.js';
import { createReadinessRoute, handleHealth, handleJwks, handleMetrics } from './status-routes.js';
import { handleAuditList, handleAuditRecord, handleAuditVerify, handleReplay, handleRotateKeys } from './operator-routes.js';
import { handleExchange, handleInspect, handleListTokens, handleMint, handleRevoke } from './token-routes.js';

export type RouteTable = Readonly<Record<string, Readonly<Record<string, RouteHandler>>>>;

export function createRouteTable(): RouteTable {
  return {
    '/v1/query': { POST: handleQuery },
    '/v1/explain': { POST: handleExplain },
    '/v1/tables': { GET: handleListTables },
    '/v1/table': { GET: handleDescribeTable },
    '/v1/mcp': { POST: handleMcp, DELETE: handleMcp },
    '/v1/token': { GET: handleInspect },
    '/v1/tokens': { POST: handleMint, GET: handleListTokens },
    '/v1/tokens/exchange': { POST: handleExchange },
    '/v1/revoke': { POST: handleRevoke },
    '/v1/audit/records': { POST: handleAuditAppend },
    '/v1/audit/checkpoint': { GET: handleAuditCheckpoint },
    '/v1/audit/list': { POST: handleAuditList },
    '/v1/audit/record': { GET: handleAuditRecord },
    '/v1/audit/verify': { POST: handleAuditVerify },
    '/v1/keys/rotate': { POST: handleRotateKeys },
    '/v1/replay': { POST: handleReplay },
    '/v1/jwks': { GET: handleJwks },
    '/.well-known/jwks.json': { GET: handleJwks },
    '/healthz': { GET: handleHealth },
    '/readyz': { GET: createReadinessRoute() },
    '/metrics': { GET: handleMetrics },
  };
}

/**
 * Whole APIs served under a path prefix, any method: the handler routes within it (the
 * BigQuery v2 REST surface that Google's client libraries call, docs/bigquery-api.md).
 */
export const PREFIX_ROUTES: ReadonlyArray<{ prefix: string; methods: Readonly<Record<string, RouteHandler>> }> = [
  { prefix: '/bigquery/v2/', methods: { GET: handleBigQueryApi, POST: handleBigQueryApi, PUT: handleBigQueryApi, PATCH: handleBigQueryApi, DELETE: handleBigQueryApi } },
];

/** Probes keep answering while the gateway drains, so orchestrators see it go. */
export const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
