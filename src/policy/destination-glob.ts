/**
 * Matching a policy's `destinations` against the URIs and connections a statement names.
 * - a URI glob (`scheme://…`): `*` matches any characters except `/`, `**` any characters;
 *   the scheme and bucket compare case-insensitively, the object path exactly. A URI the
 *   statement gives may itself hold BigQuery's `*` file-name wildcard; it is matched as a
 *   literal character, so `gs://b/exports/*` allows `gs://b/exports/part-*.csv` but not
 *   `gs://b/other/x.csv`.
 * - a connection glob (`project.location.connection`, dotted like table globs, `*` within a
 *   part): matched against connection ids, case-insensitively (BigQuery folds locations and
 *   connection ids).
 * A URI never matches a connection glob and the other way round.
 */
import type { ExternalResource } from '../analysis/query-analysis.js';
import { globToRegExp } from '../analysis/table-name.js';

const URI = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)(.*)$/is;

export function isUriGlob(glob: string): boolean {
  return URI.test(glob) && glob.includes('://');
}

export function findDestination(resource: ExternalResource, globs: readonly string[]): string | undefined {
  if (resource.kind === 'uri') return globs.find((g) => isUriGlob(g) && uriMatches(resource.value, g));
  return globs.find((g) => !isUriGlob(g) && globToRegExp(g, true).test(resource.value));
}

export function uriMatches(uri: string, glob: string): boolean {
  const u = URI.exec(uri);
  const g = URI.exec(glob);
  if (!u || !g) return false;
  const head = (scheme: string, host: string) => `${scheme}${host}`.toLowerCase();
  const pattern = `^${escape(head(g[1]!, g[2]!)).replace(/\\\*\\\*/g, '.*').replace(/\\\*/g, '[^/]*')}${escape(g[3]!).replace(/\\\*\\\*/g, '.*').replace(/\\\*/g, '[^/]*')}$`;
  return new RegExp(pattern, 's').test(`${head(u[1]!, u[2]!)}${u[3]!}`);
}

function escape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');
}
