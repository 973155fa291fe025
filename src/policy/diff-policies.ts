/**
 * What a policy change grants and what it takes away, rule by rule: statement kinds, table
 * globs (read, write, deny), column masks (a stronger mask takes away, a weaker one grants),
 * routines, destinations, detectors, limits, justification, identity rules and the BigQuery
 * settings.
 * Input: two normalised policies. Output: a PolicyDiff. Pure: no I/O, no warehouse (the
 * concrete tables a change opens or closes are pipeline/compare-table-access.ts).
 */
import type { Policy } from './policy.js';

export type DiffArea =
  | 'name'
  | 'statements'
  | 'tables.read'
  | 'tables.write'
  | 'tables.deny'
  | 'columns'
  | 'routines.allow'
  | 'routines.deny'
  | 'destinations'
  | 'detect'
  | 'limits'
  | 'require_justification'
  | 'identity'
  | 'impersonate'
  | 'allow_external_query';

export interface DiffItem {
  area: DiffArea;
  /** One line saying what changes, for a person reviewing it. */
  text: string;
}

export interface PolicyDiff {
  old: { name: string; file: string; sha256: string };
  new: { name: string; file: string; sha256: string };
  /** The change lets queries do or see more. */
  grants: DiffItem[];
  /** The change lets queries do or see less (or asks more of them). */
  takes_away: DiffItem[];
  /** Changes that neither grant nor take away by themselves (a name, another service account). */
  other: DiffItem[];
}

/** Mask methods from most to least revealing: a move to the right takes away. */
const MASK_STRENGTH: Record<string, number> = { partial: 1, hash: 2, redact: 3, null: 4 };

const LIMITS: Array<{ key: keyof Policy['limits']; name: string; show: (v: number) => string }> = [
  { key: 'maxRows', name: 'max_rows', show: (v) => `${v.toLocaleString('en-US')} rows` },
  { key: 'maxQueries', name: 'max_queries', show: (v) => `${v.toLocaleString('en-US')} queries per run` },
  { key: 'maxBytesBilled', name: 'max_bytes_billed', show: (v) => `${v.toLocaleString('en-US')} bytes` },
  { key: 'timeoutMs', name: 'timeout', show: (v) => (v % 1000 === 0 ? `${v / 1000}s` : `${v}ms`) },
];

export function diffPolicies(before: Policy, after: Policy): PolicyDiff {
  const diff: PolicyDiff = { old: refOf(before), new: refOf(after), grants: [], takes_away: [], other: [] };
  const grant = (area: DiffArea, text: string) => diff.grants.push({ area, text });
  const take = (area: DiffArea, text: string) => diff.takes_away.push({ area, text });
  const other = (area: DiffArea, text: string) => diff.other.push({ area, text });

  if (before.name !== after.name) other('name', `renamed from ${before.name} to ${after.name} (run tokens name the policy: tokens for ${before.name} no longer reach it)`);

  const kinds = setDiff(before.statements, after.statements);
  for (const k of kinds.added) grant('statements', `may run ${k} statements`);
  for (const k of kinds.removed) take('statements', `may no longer run ${k} statements`);

  const read = setDiff(before.tables.read, after.tables.read);
  for (const g of read.added) grant('tables.read', `may read ${g}`);
  for (const g of read.removed) take('tables.read', `may no longer read ${g} (unless another read glob covers it)`);
  const write = setDiff(before.tables.write, after.tables.write);
  for (const g of write.added) grant('tables.write', `may write ${g}`);
  for (const g of write.removed) take('tables.write', `may no longer write ${g} (unless another write glob covers it)`);
  const deny = setDiff(before.tables.deny, after.tables.deny);
  for (const g of deny.removed) grant('tables.deny', `no longer denies ${g}`);
  for (const g of deny.added) take('tables.deny', `denies ${g}, for reading and writing`);

  for (const column of [...new Set([...Object.keys(before.columns), ...Object.keys(after.columns)])].sort()) {
    const was = before.columns[column];
    const now = after.columns[column];
    if (was === now) continue;
    if (was === undefined) take('columns', `masks ${column} (${now})`);
    else if (now === undefined) grant('columns', `no longer masks ${column} (was ${was}): values are returned in clear`);
    else if (MASK_STRENGTH[now]! > MASK_STRENGTH[was]!) take('columns', `masks ${column} more strongly: ${was} -> ${now}`);
    else grant('columns', `masks ${column} more weakly: ${was} -> ${now}`);
  }

  const routines = setDiff(before.routines.allow, after.routines.allow);
  for (const g of routines.added) grant('routines.allow', `may call routines ${g}`);
  for (const g of routines.removed) take('routines.allow', `may no longer call routines ${g} (unless another allow glob covers them)`);
  const routinesDenied = setDiff(before.routines.deny, after.routines.deny);
  for (const g of routinesDenied.removed) grant('routines.deny', `no longer denies routines ${g}`);
  for (const g of routinesDenied.added) take('routines.deny', `denies routines ${g}`);
  const destinations = setDiff(before.destinations, after.destinations);
  for (const d of destinations.added) grant('destinations', `data may be exported to or loaded from ${d}`);
  for (const d of destinations.removed) take('destinations', `data may no longer be exported to or loaded from ${d}`);

  const detect = setDiff(before.detect, after.detect);
  for (const d of detect.added) take('detect', `scans returned text for ${d}`);
  for (const d of detect.removed) grant('detect', `no longer scans returned text for ${d}`);

  for (const { key, name, show } of LIMITS) {
    const was = before.limits[key];
    const now = after.limits[key];
    if (was === now) continue;
    if (was === undefined) take('limits', `${name}: limited to ${show(now!)} (was unlimited)`);
    else if (now === undefined) grant('limits', `${name}: no limit (was ${show(was)})`);
    else if (now > was) grant('limits', `${name}: raised from ${show(was)} to ${show(now)}`);
    else take('limits', `${name}: lowered from ${show(was)} to ${show(now)}`);
  }

  if (before.requireJustification !== after.requireJustification) {
    if (after.requireJustification) take('require_justification', 'every query now needs a justification');
    else grant('require_justification', 'queries no longer need a justification');
  }

  const rule = (r: Policy['identity'][number]) => `issuer ${r.issuer}${Object.keys(r.claims).length > 0 ? ` with ${Object.entries(r.claims).sort().map(([k, v]) => `${k}=${v}`).join(', ')}` : ''}${r.audience ? ` (audience ${r.audience.join(', ')})` : ''}`;
  const identity = setDiff(before.identity.map(rule), after.identity.map(rule));
  for (const r of identity.added) grant('identity', `OIDC tokens may be exchanged for this policy from ${r}`);
  for (const r of identity.removed) take('identity', `OIDC tokens may no longer be exchanged from ${r}`);

  if (before.impersonate !== after.impersonate) {
    other('impersonate', `BigQuery queries run as ${after.impersonate ?? '(nobody: BigQuery queries are refused)'} instead of ${before.impersonate ?? '(nobody)'}; what that account may read decides`);
  }
  if (before.allowExternalQuery !== after.allowExternalQuery) {
    if (after.allowExternalQuery) grant('allow_external_query', 'EXTERNAL_QUERY federated reads are allowed');
    else take('allow_external_query', 'EXTERNAL_QUERY federated reads are refused');
  }
  return diff;
}

function refOf(p: Policy): PolicyDiff['old'] {
  return { name: p.name, file: p.file, sha256: p.sha256 };
}

function setDiff(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  const a = new Set(before);
  const b = new Set(after);
  return { added: [...b].filter((x) => !a.has(x)).sort(), removed: [...a].filter((x) => !b.has(x)).sort() };
}
