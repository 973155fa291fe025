/**
 * The gateway's HTTP API as one explicit table: path -> method -> handler. Nothing registers
 * itself; adding an endpoint is one line here and a section in docs/gateway.md and
 * docs/openapi.yaml.
 */
import { handleAuditAppend } from './audit-append-route.js';
import { handleDescribeTable, handleListTables } from './catalog-routes.js';
import { handleExplain } from './explain-route.js';
import type { RouteHandler } from './gateway-context.js';
import { handleMcp } from './mcp-route.js';
import { handleCloseMcpSessions, handleListMcpSessions } from './mcp-sessions-routes.js';
import { handleQuery } from './query-route.js';
import { createReadinessRoute, handleHealth, handleJwks, handleMetrics } from './status-routes.js';
import { handleExchange, handleMint, handleRevoke } from './token-routes.js';

export type RouteTable = Readonly<Record<string, Readonly<Record<string, RouteHandler>>>>;

export function createRouteTable(): RouteTable {
  return {
    '/v1/query': { POST: handleQuery },
    '/v1/explain': { POST: handleExplain },
    '/v1/tables': { GET: handleListTables },
    '/v1/table': { GET: handleDescribeTable },
    '/v1/mcp': { POST: handleMcp, DELETE: handleMcp },
    '/v1/mcp/sessions': { GET: handleListMcpSessions, DELETE: handleCloseMcpSessions },
    '/v1/tokens': { POST: handleMint },
    '/v1/tokens/exchange': { POST: handleExchange },
    '/v1/revoke': { POST: handleRevoke },
    '/v1/audit/records': { POST: handleAuditAppend },
    '/v1/jwks': { GET: handleJwks },
    '/.well-known/jwks.json': { GET: handleJwks },
    '/healthz': { GET: handleHealth },
    '/readyz': { GET: createReadinessRoute() },
    '/metrics': { GET: handleMetrics },
  };
}

/** Probes keep answering while the gateway drains, so orchestrators see it go. */
export const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
