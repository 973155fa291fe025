/**
 * The policy a run token is bound to. An unknown policy is an authentication failure
 * (exit 4): the token names something this deployment does not have.
 */
import { AuthError } from '../errors.js';
import type { RunIdentity } from '../identity/run-identity.js';
import type { Policy } from '../policy/policy.js';
import type { QueryAnalysis } from '../analysis/query-analysis.js';
import type { PipelineParts } from './pipeline-parts.js';

export function resolveRunPolicy(parts: Pick<PipelineParts, 'policies'>, identity: RunIdentity): Policy {
  const policy = parts.policies.get(identity.policy);
  if (!policy) {
    throw new AuthError('token.unknown_policy', `refused: the token's policy "${identity.policy}" does not exist in this deployment`, {
      rule: 'token.policy',
      hint: `ask the operator for a token for one of: ${parts.policies.names().join(', ') || '(no policies)'}`,
    });
  }
  return policy;
}

const WRITE_KINDS = new Set(['insert', 'update', 'delete', 'merge', 'truncate', 'create', 'drop', 'alter', 'load']);

/** Whether any statement of the query writes (and so needs a writable warehouse). */
export function analysisWrites(analysis: QueryAnalysis): boolean {
  return analysis.statements.some((s) => s.writes.length > 0 || WRITE_KINDS.has(s.kind));
}

/** Open the warehouse writable only when the policy could allow a write at all. */
export function policyAllowsWrites(policy: Policy): boolean {
  return policy.tables.write.length > 0 && policy.statements.some((k) => WRITE_KINDS.has(k));
}
