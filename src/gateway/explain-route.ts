/**
 * POST /v1/explain — what `query` would decide and why; runs nothing, writes no audit.
 *
 * With a run token (Bearer) and no `policy`: explained under the token's policy, as the CLI
 * does. With `policy`: a what-if under that policy, which in direct mode anyone holding the
 * config may ask; through the gateway it needs a credential of this deployment — the
 * operator key or any valid run token — because an explanation names tables, views and
 * masks, and nobody unauthenticated may probe the catalog.
 */
import { z } from 'zod';
import { AuthError } from '../errors.js';
import { explainQuery } from '../pipeline/explain-query.js';
import { bearerOf, sendJson, type Gateway, type RequestContext } from './gateway-context.js';
import { checkSql } from './query-route.js';
import { readJsonBody } from './read-json-body.js';
import { isSameSecret } from '../identity/secret-key-file.js';

export const explainRequestSchema = z
  .object({
    sql: z.string(),
    justification: z.string().max(64 * 1024).nullable().optional(),
    policy: z.string().min(1).max(128).optional(),
    offline: z.boolean().optional(),
  })
  .strict();

export async function handleExplain(gateway: Gateway, ctx: RequestContext): Promise<void> {
  const body = await readJsonBody(ctx.req, explainRequestSchema, gateway.limits.maxBodyBytes);
  checkSql(body.sql, gateway.limits.maxSqlBytes);
  const bearer = bearerOf(ctx);
  let token = bearer;
  if (body.policy !== undefined) {
    if (!isSameSecret(bearer, gateway.operatorKey)) {
      if (bearer === undefined) {
        throw new AuthError('gateway.explain_needs_credential', `refused to explain under policy "${body.policy}" without a credential`, {
          rule: 'gateway.explain',
          hint: 'set HOOPQ_TOKEN to a run token of this deployment (or send the operator key)',
        });
      }
      await gateway.parts.identity.verify(bearer); // throws AuthError for a bad token
    }
    token = undefined; // a what-if: the named policy applies, as in direct mode
  }
  const explanation = await explainQuery(gateway.parts, {
    sql: body.sql,
    token,
    policyName: body.policy,
    justification: body.justification ?? null,
    offline: body.offline ?? false,
  });
  sendJson(ctx.res, 200, explanation);
}
