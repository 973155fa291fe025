/**
 * Policy evaluation: a QueryAnalysis + a Policy (+ justification) -> allowed, or a
 * PolicyDeniedError (exit 5) naming what was refused, the rule, and what is allowed instead.
 * Pure: no I/O. Order of checks: engine-control statements, statement kinds, tables
 * (deny wins over read/write; a table no rule names is denied), then justification, so the
 * agent learns about the most fundamental problem first.
 */
import { kindsOf, tablesOf, type QueryAnalysis } from '../analysis/query-analysis.js';
import { matchesAnyGlob } from '../analysis/table-name.js';
import { isWildcardTable, wildcardTableCovered, wildcardTableMayMatch } from '../analysis/bigquery/wildcard-table.js';
import { PolicyDeniedError } from '../errors.js';
import type { Policy } from './policy.js';

export interface PolicyInput {
  analysis: QueryAnalysis;
  policy: Policy;
  justification: string | null;
  /** DuckDB names are case-insensitive; BigQuery's are not. */
  caseInsensitive: boolean;
}

export function evaluatePolicy({ analysis, policy, justification, caseInsensitive }: PolicyInput): void {
  const who = `policy ${policy.name}`;
  for (const s of analysis.statements) {
    if (s.engineControl) {
      throw new PolicyDeniedError('policy.engine_control', `refused: ${s.engineControl} statements are never run by hoopq (${who}, rule engine.control)`, {
        rule: 'engine.control',
        hint: 'hoopq runs queries only; settings, extensions, attached databases, files and transactions are managed by the operator',
      });
    }
  }
  const kinds = kindsOf(analysis);
  const refusedKind = kinds.find((k) => !policy.statements.includes(k));
  if (refusedKind) {
    throw new PolicyDeniedError('policy.statement_denied', `refused: ${refusedKind} statements are not allowed by ${who} (rule statements)`, {
      rule: 'statements',
      hint: `allowed statement kinds: ${policy.statements.join(', ') || 'none'}`,
      details: { kind: refusedKind },
    });
  }
  const tables = tablesOf(analysis);
  checkTables('read', tables.read, policy, caseInsensitive);
  checkTables('write', tables.write, policy, caseInsensitive);
  if (policy.requireJustification && !(justification && justification.trim())) {
    throw new PolicyDeniedError('policy.justification_required', `refused: ${who} requires a justification for every query (rule require_justification)`, {
      rule: 'require_justification',
      hint: 'say why you need this data: --justification "…" (or HOOPQ_JUSTIFICATION; over MCP, the query tool\'s justification argument)',
    });
  }
}

function checkTables(access: 'read' | 'write', names: string[], policy: Policy, ci: boolean): void {
  for (const name of names) {
    const refusal = tableAccessRefusal(access, name, policy, ci);
    if (refusal) throw refusal;
  }
}

/**
 * The refusal for one table and one kind of access, or undefined when the policy allows it
 * (deny wins; a table no pattern names is refused). Listings (`hoopq ls`, MCP list_tables)
 * show only tables for which this is undefined, so a listing never names what a query
 * could not read.
 */
export function tableAccessRefusal(access: 'read' | 'write', name: string, policy: Policy, ci: boolean): PolicyDeniedError | undefined {
  const allowed = access === 'read' ? policy.tables.read : policy.tables.write;
  const verb = access === 'read' ? 'reading' : 'writing';
  if (isWildcardTable(name)) return wildcardTableRefusal(access, name, policy, allowed);
  const deny = matchesAnyGlob(name, policy.tables.deny, ci);
  if (deny) {
    return new PolicyDeniedError('policy.table_denied', `refused: ${verb} ${name} is denied by policy ${policy.name} (rule tables.deny "${deny}")`, {
      rule: 'tables.deny',
      hint: allowedHint(access, allowed),
      details: { table: name, access },
    });
  }
  if (!matchesAnyGlob(name, allowed, ci)) {
    return new PolicyDeniedError('policy.table_not_allowed', `refused: ${verb} ${name} is not allowed by policy ${policy.name} (rule tables.${access}: no pattern matches)`, {
      rule: `tables.${access}`,
      hint: allowedHint(access, allowed),
      details: { table: name, access },
    });
  }
  return undefined;
}

/**
 * A wildcard table (`p.d.events_*`) reads every table its prefix matches, now or later, so it
 * is judged conservatively: allowed only when one allowed glob covers every expansion, and
 * refused when any deny glob could match any expansion.
 */
function wildcardTableRefusal(access: 'read' | 'write', name: string, policy: Policy, allowed: string[]): PolicyDeniedError | undefined {
  if (wildcardTableMayMatch(name, policy.tables.deny)) {
    return new PolicyDeniedError('policy.table_denied', `refused: the wildcard table ${name} could reach a table denied by policy ${policy.name} (rule tables.deny)`, {
      rule: 'tables.deny',
      hint: 'name the tables you need explicitly, or use a prefix that no deny pattern can match',
      details: { table: name, access },
    });
  }
  if (!wildcardTableCovered(name, allowed)) {
    return new PolicyDeniedError('policy.table_not_allowed', `refused: the wildcard table ${name} is not fully covered by the ${access} patterns of policy ${policy.name} (rule tables.${access})`, {
      rule: `tables.${access}`,
      hint: allowedHint(access, allowed),
      details: { table: name, access },
    });
  }
  return undefined;
}

function allowedHint(access: 'read' | 'write', allowed: string[]): string {
  if (allowed.length === 0) return `this policy allows ${access === 'read' ? 'reading' : 'writing'} no tables`;
  return `tables you may ${access}: ${allowed.join(', ')}`;
}
