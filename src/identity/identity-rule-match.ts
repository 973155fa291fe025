/**
 * Does a verified OIDC token's claim set satisfy one of a policy's `identity` rules?
 *
 * Input: an IdentityRule (issuer, claims) and the token's verified claims. Output: a match,
 * or the first claim that failed (named, without echoing the rule's expected value).
 * Invariants: every listed claim must match; a claim pattern is an exact string or a glob
 * where `*` matches any run of characters (including `/` and `:`), anchored at both ends;
 * a rule that lists no claims matches nothing, because an issuer like GitHub Actions signs
 * tokens for every repository in the world.
 */
import type { IdentityRule } from '../policy/policy.js';

export type RuleMatch = { matched: true } | { matched: false; claim: string | null; why: string };

export function matchIdentityRule(rule: IdentityRule, claims: Record<string, unknown>): RuleMatch {
  const entries = Object.entries(rule.claims ?? {});
  if (entries.length === 0) {
    return { matched: false, claim: null, why: 'the rule lists no claims, and a rule must pin at least one (e.g. repository or project_path)' };
  }
  for (const [name, pattern] of entries) {
    const value = claimText(claims[name]);
    if (value === undefined) return { matched: false, claim: name, why: `claim ${name} is absent or not a string` };
    if (!matchClaimGlob(pattern, value)) return { matched: false, claim: name, why: `claim ${name} does not match the rule` };
  }
  return { matched: true };
}

/** `*` = any characters; everything else literal; whole-value match. */
export function matchClaimGlob(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const source = pattern
    .split('*')
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${source}$`).test(value);
}

/** Strings as they are; numbers and booleans as JSON writes them; anything else never matches. */
function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}
