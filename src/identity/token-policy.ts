/**
 * Binding a verified run token to the policy the pipeline is about to apply.
 *
 * Input: a RunIdentity and the policy found under the token's policy name (or undefined).
 * Output: the digests to record in the audit (`policy.sha256` applied, `policy.token_sha256`
 * minted against) and the run's effective query budget.
 * Invariant: a token whose policy no longer exists is refused (exit 4); a changed policy is
 * not a refusal — today's policy applies and the audit shows both digests.
 */
import { AuthError } from '../errors.js';
import type { RunIdentity } from './run-identity.js';

export interface PolicyDigestCheck {
  /** The digest in the token (the policy as it was at mint time). */
  tokenSha256: string;
  /** The digest of the policy being applied now. */
  appliedSha256: string;
  matches: boolean;
}

/** Throws AuthError `token.unknown_policy` when the token's policy is not loaded. */
export function checkTokenPolicy(
  identity: Pick<RunIdentity, 'policy' | 'policySha256'>,
  policy: { name: string; sha256: string } | undefined,
): PolicyDigestCheck {
  if (!policy || policy.name !== identity.policy) {
    throw new AuthError('token.unknown_policy', `run token refused: its policy ${JSON.stringify(identity.policy)} does not exist in this deployment`, {
      rule: 'token.unknown_policy',
      hint: 'ask for a token minted for one of the policies in the configured policies folder',
    });
  }
  return { tokenSha256: identity.policySha256, appliedSha256: policy.sha256, matches: identity.policySha256 === policy.sha256 };
}

/** The tighter of the policy's `limits.max_queries` and the token's `max_queries`; Infinity when neither is set. */
export function effectiveQueryLimit(
  identity: Pick<RunIdentity, 'maxQueries'>,
  policy: { limits: { maxQueries?: number } },
): number {
  return Math.min(policy.limits.maxQueries ?? Infinity, identity.maxQueries ?? Infinity);
}
