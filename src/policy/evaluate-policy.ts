/**
 * Policy evaluation: a QueryAnalysis + a Policy (+ justification) -> allowed, or a
 * PolicyDeniedError (exit 5) naming what was refused, the rule, and what is allowed instead.
 * Pure: no I/O. Order of checks: engine-control statements, statement kinds, tables
 * (deny wins over read/write; a table no rule names is denied), routines called, data
 * leaving or entering the warehouse (destinations), then justification, so the agent learns
 * about the most fundamental problem first.
 * Names compare as the engine's dialect says: deny globs may match more (case folded where
 * the engine might fold), allow globs never match more than the engine would.
 */
import { externalOf, kindsOf, routinesOf, tablesOf, type ExternalResource, type QueryAnalysis } from '../analysis/query-analysis.js';
import { PolicyDeniedError } from '../errors.js';
import { findTableGlob, isWildcardName, matchesTableGlob, tableCaseInsensitive, type WarehouseDialect } from '../warehouse/warehouse-dialect.js';
import { findDestination } from './destination-glob.js';
import type { Policy } from './policy.js';
import { wildcardTableCovered, wildcardTableMayMatch } from './wildcard-table.js';

export interface PolicyInput {
  analysis: QueryAnalysis;
  policy: Policy;
  justification: string | null;
  /** The engine's name rules (case folding, wildcard tables). */
  dialect: WarehouseDialect;
}

export function evaluatePolicy({ analysis, policy, justification, dialect }: PolicyInput): void {
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
  checkTables('read', tables.read, policy, dialect);
  checkTables('write', tables.write, policy, dialect);
  for (const routine of routinesOf(analysis)) {
    const refusal = routineRefusal(routine, policy, dialect);
    if (refusal) throw refusal;
  }
  for (const resource of externalOf(analysis)) {
    const refusal = destinationRefusal(resource, policy);
    if (refusal) throw refusal;
  }
  if (policy.requireJustification && !(justification && justification.trim())) {
    throw new PolicyDeniedError('policy.justification_required', `refused: ${who} requires a justification for every query (rule require_justification)`, {
      rule: 'require_justification',
      hint: 'say why you need this data: --justification "…" (or HOOPQ_JUSTIFICATION; over MCP, the query tool\'s justification argument)',
    });
  }
}

function checkTables(access: 'read' | 'write', names: string[], policy: Policy, dialect: WarehouseDialect): void {
  for (const name of names) {
    const refusal = tableAccessRefusal(access, name, policy, dialect);
    if (refusal) throw refusal;
  }
}

/**
 * The refusal for one table and one kind of access, or undefined when the policy allows it
 * (deny wins; a table no pattern names is refused). Listings (`hoopq ls`, MCP list_tables)
 * show only tables for which this is undefined, so a listing never names what a query
 * could not read.
 */
export function tableAccessRefusal(access: 'read' | 'write', name: string, policy: Policy, dialect: WarehouseDialect): PolicyDeniedError | undefined {
  const allowed = access === 'read' ? policy.tables.read : policy.tables.write;
  const verb = access === 'read' ? 'reading' : 'writing';
  if (isWildcardName(dialect, name)) return wildcardTableRefusal(access, name, policy, allowed, dialect);
  const deny = findTableGlob(dialect, name, policy.tables.deny, 'protect') ?? metadataDatasetDeny(name, policy.tables.deny, dialect);
  if (deny) {
    return new PolicyDeniedError('policy.table_denied', `refused: ${verb} ${name} is denied by policy ${policy.name} (rule tables.deny "${deny}")`, {
      rule: 'tables.deny',
      hint: allowedHint(access, allowed),
      details: { table: name, access },
    });
  }
  if (!findTableGlob(dialect, name, allowed, 'allow')) {
    return new PolicyDeniedError('policy.table_not_allowed', `refused: ${verb} ${name} is not allowed by policy ${policy.name} (rule tables.${access}: no pattern matches)`, {
      rule: `tables.${access}`,
      hint: allowedHint(access, allowed),
      details: { table: name, access },
    });
  }
  return undefined;
}

/**
 * A dataset's metadata views (`p.d.INFORMATION_SCHEMA.V`: its tables, columns, view bodies)
 * are denied with the dataset: by a deny glob that denies every table of it (`p.d.*`). A deny
 * of single tables leaves the dataset's metadata to the read globs.
 */
function metadataDatasetDeny(name: string, deny: readonly string[], dialect: WarehouseDialect): string | undefined {
  const parts = name.split('.');
  if (parts.length !== 4 || parts[2]!.toUpperCase() !== 'INFORMATION_SCHEMA') return undefined;
  const anyTable = `${parts[0]}.${parts[1]}.*`;
  return deny.find((g) => g.split('.').length === 3 && g.endsWith('.*') && matchesTableGlob(dialect, anyTable, g, 'protect'));
}

/**
 * A wildcard table (`p.d.events_*`) reads every table its prefix matches, now or later, so it
 * is judged conservatively: allowed only when one allowed glob covers every expansion, and
 * refused when any deny glob could match any expansion.
 */
function wildcardTableRefusal(access: 'read' | 'write', name: string, policy: Policy, allowed: string[], dialect: WarehouseDialect): PolicyDeniedError | undefined {
  if (wildcardTableMayMatch(name, policy.tables.deny, tableCaseInsensitive(dialect, 'protect'))) {
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

/** A persistent routine (UDF, table function, procedure) may be called only when `routines.allow` names it and `routines.deny` does not. */
export function routineRefusal(routine: string, policy: Policy, dialect: WarehouseDialect): PolicyDeniedError | undefined {
  const hint = policy.routines.allow.length > 0 ? `routines you may call: ${policy.routines.allow.join(', ')}` : 'this policy allows calling no persistent routines; use built-in functions or temporary functions';
  const deny = findTableGlob(dialect, routine, policy.routines.deny, 'protect');
  if (deny) {
    return new PolicyDeniedError('policy.routine_denied', `refused: calling ${routine} is denied by policy ${policy.name} (rule routines.deny "${deny}")`, {
      rule: 'routines.deny',
      hint,
      details: { routine },
    });
  }
  if (!findTableGlob(dialect, routine, policy.routines.allow, 'allow')) {
    return new PolicyDeniedError('policy.routine_not_allowed', `refused: calling ${routine} is not allowed by policy ${policy.name} (rule routines.allow: no pattern matches)`, {
      rule: 'routines.allow',
      hint,
      details: { routine },
    });
  }
  return undefined;
}

const USE_WORDS: Record<ExternalResource['use'], string> = {
  export: 'exporting data to',
  load: 'loading data from',
  external_table: 'an external table over',
  remote_function: 'a remote function through',
  connection: 'using the connection',
};

/** Every URI and connection a statement sends data to or reads data from must be listed in `destinations`. */
export function destinationRefusal(resource: ExternalResource, policy: Policy): PolicyDeniedError | undefined {
  if (resource.value !== '' && findDestination(resource, policy.destinations)) return undefined;
  const listed = policy.destinations.length > 0 ? `destinations you may use: ${policy.destinations.join(', ')}` : 'this policy lists no destinations, so no data may leave or enter the warehouse';
  const what = resource.value === '' ? 'a destination the statement does not name (no uri option)' : resource.value;
  return new PolicyDeniedError('policy.destination_not_allowed', `refused: ${USE_WORDS[resource.use]} ${what} is not allowed by policy ${policy.name} (rule destinations: no pattern matches)`, {
    rule: 'destinations',
    hint: listed,
    details: { destination: resource.value, use: resource.use },
  });
}

function allowedHint(access: 'read' | 'write', allowed: string[]): string {
  if (allowed.length === 0) return `this policy allows ${access === 'read' ? 'reading' : 'writing'} no tables`;
  return `tables you may ${access}: ${allowed.join(', ')}`;
}
