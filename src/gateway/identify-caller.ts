/**
 * Who is asking: the request's credential, read once and kept on the context, so every record
 * of the request — the pipeline's, or the one error handler's refusal record — names the run
 * and token whenever the token could be read, even when it was refused (expired, revoked).
 * Input: the request's `Authorization: Bearer`. Output: `ctx.caller`, and for verifyCaller the
 * verified RunIdentity or the AuthError (exit 4) that refused it.
 */
import { isHoopqError } from '../errors.js';
import type { RunIdentity } from '../identity/run-identity.js';
import type { RefusedCaller } from '../identity/run-token.js';
import { bearerOf, type Gateway, type RequestCaller, type RequestContext } from './gateway-context.js';
import { isSameSecret } from '../identity/secret-key-file.js';

/** Verifies the run token; on refusal keeps what the refusal learned of it in `ctx.caller`. */
export async function verifyCaller(gateway: Gateway, ctx: RequestContext, token: string | undefined = bearerOf(ctx)): Promise<RunIdentity> {
  try {
    const identity = await gateway.parts.identity.verify(token);
    ctx.caller = { kind: 'run', verified: true, run: identity.run, token_id: identity.tokenId, subject: identity.subject, policy: identity.policy };
    return identity;
  } catch (err) {
    ctx.caller = callerOfRefusal(err);
    throw err;
  }
}

/** What the credential says, without refusing anything (for the record of a refusal). */
export async function readCaller(gateway: Gateway, ctx: RequestContext): Promise<RequestCaller> {
  if (ctx.caller) return ctx.caller;
  const bearer = bearerOf(ctx);
  if (bearer === undefined) return (ctx.caller = { kind: 'none' });
  if (isSameSecret(bearer, gateway.operatorKey) || isSameSecret(bearer, gateway.auditWriterKey)) return (ctx.caller = { kind: 'operator' });
  await verifyCaller(gateway, ctx).catch(() => undefined);
  return ctx.caller ?? { kind: 'none' };
}

/** True when the request carried a credential that verified (the operator's, or a valid run token). */
export function isAuthenticated(caller: RequestCaller | undefined): boolean {
  return caller?.kind === 'operator' || (caller?.kind === 'run' && caller.verified);
}

function callerOfRefusal(err: unknown): RequestCaller {
  const details = isHoopqError(err) ? err.details : undefined;
  const caller = details?.caller as RefusedCaller | undefined;
  if (caller) return { kind: 'run', verified: false, run: caller.run, token_id: caller.token_id, subject: caller.subject, policy: caller.policy };
  const claimed = details?.claimed as RefusedCaller | undefined;
  if (claimed) return { kind: 'claimed', run: claimed.run, token_id: claimed.token_id, kid: claimed.kid };
  return { kind: 'none' };
}
