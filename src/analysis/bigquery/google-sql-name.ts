/**
 * GoogleSQL object names: from a parser name node to its parts as written, and from parts to
 * a resolved name. BigQuery names are case-sensitive (datasets, tables) so nothing is
 * lower-cased; a backtick path (`p.d.t`, `p.d`.t, `p`.`d`.`t`) is split into its parts
 * first. Special forms:
 * - wildcard tables (`d.events_*`): the last part ends with one `*`; the resolved name keeps
 *   it, and policy matching treats it conservatively (wildcard-table.ts);
 * - INFORMATION_SCHEMA views keep their region or dataset qualifier:
 *   `region-us.INFORMATION_SCHEMA.JOBS` -> `<default project>.region-us.INFORMATION_SCHEMA.JOBS`
 *   (four segments, so only a policy glob written for metadata can match it).
 */
import { AnalysisError } from '../../errors.js';
import { resolveTableName } from '../table-name.js';
import type { NameDefaults } from '../query-analysis.js';

interface NameNode {
  type: string;
  name?: string;
  object?: NameNode;
  property?: NameNode;
  expr?: NameNode;
}

const INFORMATION_SCHEMA = 'INFORMATION_SCHEMA';

/** Parts of a (possibly quoted, possibly dotted) name node; throws for anything that is not a plain name. */
export function namePartsOf(node: NameNode): string[] {
  switch (node.type) {
    case 'identifier':
      return node.name!.split('.');
    case 'member_expr':
      return [...namePartsOf(node.object!), ...namePartsOf(node.property!)];
    case 'bigquery_quoted_member_expr':
      return namePartsOf(node.expr!);
    default:
      throw new AnalysisError('analysis.unsupported_name', `refused: a table name written as ${node.type} cannot be analysed`, {
        rule: 'names',
        hint: 'name tables as project.dataset.table, dataset.table or table',
      });
  }
}

export function isInformationSchema(parts: readonly string[]): boolean {
  return parts.some((p) => p.toUpperCase() === INFORMATION_SCHEMA);
}

/**
 * Resolve written parts to every name the reference may denote (usually one; an ambiguous
 * `x.INFORMATION_SCHEMA.V` may mean project x or dataset x, so both are returned and both
 * must be allowed).
 */
export function resolveGoogleSqlName(parts: readonly string[], names: NameDefaults): string[] {
  if (parts.some((p) => p === '')) throw unsafe(parts, 'an empty part');
  if (isInformationSchema(parts)) return resolveInformationSchema(parts, names);
  const last = parts[parts.length - 1]!;
  const star = last.indexOf('*');
  if (star !== -1) {
    if (star !== last.length - 1 || parts.slice(0, -1).some((p) => p.includes('*'))) throw unsafe(parts, 'a `*` that is not at the end of the table name');
    const prefix = last.slice(0, -1);
    // resolveTableName refuses `*`; resolve with a stand-in, then put the marker back.
    const resolved = resolveTableName([...parts.slice(0, -1), prefix === '' ? 'x' : prefix], { ...names, caseInsensitive: false });
    return [`${resolved.slice(0, resolved.lastIndexOf('.') + 1)}${prefix}*`];
  }
  return [resolveTableName(parts, { ...names, caseInsensitive: false })];
}

function resolveInformationSchema(parts: readonly string[], names: NameDefaults): string[] {
  const at = parts.findIndex((p) => p.toUpperCase() === INFORMATION_SCHEMA);
  if (at !== parts.length - 2) throw unsafe(parts, 'INFORMATION_SCHEMA not followed by exactly one view name');
  const view = parts[at + 1]!.toUpperCase();
  const qualifiers = parts.slice(0, at);
  for (const p of [...qualifiers, view]) if (/[.\/\\"'`*\u0000-\u001f]/.test(p)) throw unsafe(parts, `the part "${p}"`);
  const project = names.defaultProject;
  const tail = `${INFORMATION_SCHEMA}.${view}`;
  const needProject = (): string => {
    if (!project) throw unresolved(parts, 'default_project');
    return project;
  };
  if (qualifiers.length === 2) return [`${qualifiers[0]}.${qualifiers[1]}.${tail}`];
  if (qualifiers.length === 0) {
    if (!names.defaultDataset) throw unresolved(parts, 'default_dataset');
    return [`${needProject()}.${names.defaultDataset}.${tail}`];
  }
  const q = qualifiers[0]!;
  if (/^region-/i.test(q)) return [`${needProject()}.${q}.${tail}`];
  // `x.INFORMATION_SCHEMA.V`: x is a project (project-level view) or a dataset; report both.
  return [`${q}.${tail}`, `${needProject()}.${q}.${tail}`];
}

function unsafe(parts: readonly string[], what: string): AnalysisError {
  return new AnalysisError('analysis.unsafe_name', `refused table name "${parts.join('.')}": ${what}`, {
    rule: 'names',
    hint: 'use plain identifiers for project, dataset and table',
  });
}

function unresolved(parts: readonly string[], missing: string): AnalysisError {
  return new AnalysisError('analysis.unresolvable_name', `cannot resolve "${parts.join('.')}": no ${missing} is configured`, {
    rule: 'names',
    hint: 'qualify INFORMATION_SCHEMA with a project and a region or dataset',
  });
}
