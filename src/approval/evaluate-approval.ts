/**
 * Approval evaluation: does a query the policy allows need a person's approval first?
 * Input: the analysis, the policy, the masks an `--unmask` request would lift, the
 * warehouse's byte estimate (or that there is none). Output: the approval rules that match
 * (empty: run as usual), or a PolicyDeniedError when the query asks to lift masks and no
 * approval rule lets a person allow that.
 * Pure: no I/O. Runs after evaluatePolicy, so approval only ever adds a hold: what the policy
 * refuses stays refused whatever an approver says.
 * Fail closed: a `bytes_billed_over` rule on a warehouse that gives no estimate matches.
 */
import { kindsOf, tablesOf, type QueryAnalysis } from '../analysis/query-analysis.js';
import { matchesAnyGlob } from '../analysis/table-name.js';
import { PolicyDeniedError } from '../errors.js';
import type { ApprovalRule, Policy } from '../policy/policy.js';

export interface ApprovalInput {
  analysis: QueryAnalysis;
  policy: Policy;
  /** `project.dataset.table.column` -> method: the masks the caller asked to lift that would apply. */
  lifted: Record<string, string>;
  /** The warehouse's byte estimate; null: it gave none; undefined: not asked (offline). */
  bytesEstimate: number | null | undefined;
  caseInsensitive: boolean;
}

export interface MatchedApprovalRule {
  rule: string;
  /** Why it matched, for the agent, the approver and the audit log. */
  why: string;
}

export function evaluateApproval(input: ApprovalInput): MatchedApprovalRule[] {
  const { policy, lifted } = input;
  const rules = policy.approval?.rules ?? [];
  const lifts = Object.keys(lifted).length > 0;
  assertUnmaskAllowed(policy, lifted);
  const matched: MatchedApprovalRule[] = [];
  for (const rule of rules) {
    const why = matchRule(rule, input, lifts);
    if (why !== undefined) matched.push({ rule: rule.name, why });
  }
  return matched;
}

/**
 * Lifting masks (`--unmask`) is possible only through an approval rule with `unmask: true`;
 * without one the request is refused (exit 5), for a dry run too (its answer must be the
 * real query's).
 */
export function assertUnmaskAllowed(policy: ApprovalInput['policy'], lifted: Record<string, string>): void {
  if (Object.keys(lifted).length === 0 || (policy.approval?.rules ?? []).some((r) => r.unmask)) return;
  throw new PolicyDeniedError('policy.unmask_not_allowed', `refused: lifting the masks of ${Object.keys(lifted).sort().join(', ')} is not allowed by policy ${policy.name} (rule columns: no approval rule with unmask: true)`, {
    rule: 'columns',
    hint: 'run the query without --unmask to get the masked values; the operator can add an approval rule with unmask: true',
  });
}

/** Every condition the rule states must hold; returns why, or undefined when the rule does not match. */
function matchRule(rule: ApprovalRule, input: ApprovalInput, lifts: boolean): string | undefined {
  const reasons: string[] = [];
  if (rule.statements) {
    const kinds = kindsOf(input.analysis).filter((k) => rule.statements!.includes(k));
    if (kinds.length === 0) return undefined;
    reasons.push(`${kinds.join(', ')} statement${kinds.length > 1 ? 's' : ''}`);
  }
  if (rule.tables) {
    const { read, write } = tablesOf(input.analysis);
    const hit = [...new Set([...read, ...write])].filter((t) => matchesAnyGlob(t, rule.tables!, input.caseInsensitive));
    if (hit.length === 0) return undefined;
    reasons.push(`table${hit.length > 1 ? 's' : ''} ${hit.join(', ')}`);
  }
  if (rule.bytesBilledOver !== undefined) {
    if (input.bytesEstimate === undefined) return undefined; // offline: not decided here (see policy test's bytes_billed)
    if (input.bytesEstimate === null) reasons.push(`no byte estimate from the warehouse (limit ${rule.bytesBilledOver} bytes)`);
    else if (input.bytesEstimate > rule.bytesBilledOver) reasons.push(`an estimated ${input.bytesEstimate} bytes, over ${rule.bytesBilledOver}`);
    else return undefined;
  }
  if (rule.unmask) {
    if (!lifts) return undefined;
    reasons.push(`unmasking ${Object.keys(input.lifted).sort().join(', ')}`);
  }
  return reasons.join('; ');
}
