/**
 * Table names and globs. A resolved name is `project.dataset.table`; a glob is the same with
 * `*` matching any characters inside one dot-separated segment, never a dot (docs/reference.md "Globs").
 * A name part that itself contains a dot, a slash, a quote or a glob character cannot be
 * represented unambiguously, so it is refused rather than guessed.
 */
import { AnalysisError } from '../errors.js';
import type { NameDefaults } from './query-analysis.js';

const UNSAFE_PART = /[.\/\\"'`*\u0000-\u001f]/;

export interface ResolveOptions extends NameDefaults {
  /** Lower-case every part (DuckDB identifiers are case-insensitive). */
  caseInsensitive: boolean;
}

/**
 * Resolve 1–3 name parts (as written, quotes removed) to `project.dataset.table`.
 * Throws AnalysisError when a part is missing and no default exists, or a part is unsafe.
 */
export function resolveTableName(parts: readonly string[], options: ResolveOptions): string {
  if (parts.length === 0 || parts.length > 3) {
    throw new AnalysisError('analysis.unresolvable_name', `cannot resolve table name "${parts.join('.')}"`, {
      rule: 'names',
      hint: 'name tables as project.dataset.table, dataset.table or table',
    });
  }
  const [table, dataset, project] = [...parts].reverse();
  const full = [project ?? options.defaultProject, dataset ?? options.defaultDataset, table];
  const written = parts.join('.');
  if (full.some((p) => p === undefined || p === '')) {
    throw new AnalysisError(
      'analysis.unresolvable_name',
      `cannot resolve table "${written}": no ${full[0] ? 'default_dataset' : 'default_project'} is configured`,
      { rule: 'names', hint: `write the table as project.dataset.table` },
    );
  }
  for (const p of full as string[]) {
    if (UNSAFE_PART.test(p)) {
      throw new AnalysisError(
        'analysis.unsafe_name',
        `refused table name "${written}": the part "${p}" contains a character hoopq cannot match safely`,
        { rule: 'names', hint: 'use plain identifiers for project, dataset and table (no dots, slashes or quotes inside a name)' },
      );
    }
  }
  const out = full as string[];
  return (options.caseInsensitive ? out.map((p) => p.toLowerCase()) : out).join('.');
}

/** Compile a dotted glob (`demo.crm.*`, `*.*.*.phone`) to an anchored RegExp. */
export function globToRegExp(glob: string, caseInsensitive = false): RegExp {
  const body = glob
    .split('.')
    .map((seg) => seg.split('*').map(escapeRegExp).join('[^.]*'))
    .join('\\.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'i' : '');
}

export function matchesGlob(name: string, glob: string, caseInsensitive = false): boolean {
  return globToRegExp(glob, caseInsensitive).test(name);
}

export function matchesAnyGlob(name: string, globs: readonly string[], caseInsensitive = false): string | undefined {
  return globs.find((g) => matchesGlob(name, g, caseInsensitive));
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');
}
