/**
 * The routes for operators and their tooling: liveness, readiness, Prometheus metrics, and
 * the JWKS of the run-token public keys (so other services can verify run tokens offline).
 */
import { readFileSync } from 'node:fs';
import { exportJWK, importSPKI } from 'jose';
import { isHoopqError } from '../errors.js';
import { issuerFor } from '../identity/run-token.js';
import { isTrusted, publicKeyPath, readKeyset } from '../identity/signing-keys.js';
import { sendJson, type Gateway, type RequestContext } from './gateway-context.js';

/** GET /healthz: the process is up and serving. */
export async function handleHealth(gateway: Gateway, ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, { status: gateway.isDraining() ? 'draining' : 'ok' });
}

/**
 * GET /readyz: 200 when a query could be served now — policies readable, signing keys and
 * state store usable, audit sink open, warehouse openable — else 503 naming what is not.
 * The costly checks are cached briefly so a busy probe does not open the warehouse in a
 * loop; the state store's is not (its monitor keeps it current, so a lost store turns the
 * probe red at once: every query is refused from then on).
 */
export function createReadinessRoute(cacheMs = 2_000) {
  let cached: { at: number; checks: Record<string, string> } | undefined;
  return async function handleReady(gateway: Gateway, ctx: RequestContext): Promise<void> {
    if (gateway.isDraining()) {
      sendJson(ctx.res, 503, { status: 'draining', checks: {} });
      return;
    }
    if (!cached || Date.now() - cached.at > cacheMs) cached = { at: Date.now(), checks: await runChecks(gateway) };
    const checks = { ...cached.checks, state: stateCheck(gateway) };
    const ready = Object.values(checks).every((v) => v === 'ok');
    sendJson(ctx.res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
  };
}

/** `ok`, or the code of what is wrong with the state store (`state.missing`, `state.replaced`, …). */
function stateCheck(gateway: Gateway): string {
  try {
    const health = gateway.state().health();
    return health.ok ? 'ok' : health.problem!.code;
  } catch (err) {
    return isHoopqError(err) ? err.code : 'failed';
  }
}

async function runChecks(gateway: Gateway): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  const check = async (name: string, fn: () => unknown) => {
    try {
      await fn();
      checks[name] = 'ok';
    } catch (err) {
      // codes only: this endpoint is unauthenticated, and messages name files and hosts
      checks[name] = isHoopqError(err) ? err.code : 'failed';
    }
  };
  await check('policies', () => {
    for (const name of gateway.parts.policies.names()) gateway.parts.policies.get(name);
  });
  await check('keys', () => readKeyset(gateway.config.keysDir));
  await check('audit', async () => {
    const sink = await gateway.parts.audit();
    // a sink behind a server is asked: a database that went away makes the replica not ready
    await sink.ping?.();
  });
  await check('warehouse', async () => (await gateway.parts.openWarehouse({ writable: false })).close());
  return checks;
}

/** GET /metrics: Prometheus text format. */
export async function handleMetrics(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const body = gateway.metrics.render();
  ctx.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
  ctx.res.end(body);
}

/** GET /v1/jwks and /.well-known/jwks.json: the public keys that verify run tokens (current and still-valid retired ones). */
export async function handleJwks(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const keyset = readKeyset(gateway.config.keysDir);
  const keys: Record<string, unknown>[] = [];
  const now = new Date();
  for (const entry of keyset?.keys ?? []) {
    if (!isTrusted(entry, now)) continue;
    let pem: string;
    try {
      pem = readFileSync(publicKeyPath(gateway.config.keysDir, entry.kid), 'utf8');
    } catch {
      continue; // verification skips it too
    }
    const jwk = await exportJWK(await importSPKI(pem, 'EdDSA', { extractable: true }));
    keys.push({ ...jwk, kid: entry.kid, alg: 'EdDSA', use: 'sig' });
  }
  sendJson(ctx.res, 200, { keys, ...(keyset ? { issuer: issuerFor(keyset.deployment) } : {}) }, { 'cache-control': 'max-age=60' });
}
