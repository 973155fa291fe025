/**
 * Policy matching for BigQuery wildcard tables (`p.d.events_*`, which reads every table of
 * dataset d whose name starts with `events_`). A wildcard read stands for all its possible
 * expansions, so it is conservative both ways:
 * - covered: one glob matches EVERY expansion (its last segment ends with `*` and matches
 *   the prefix itself, e.g. `p.d.events_*` or `p.d.*` cover `p.d.events_2024*`);
 * - may match: some glob matches SOME expansion (a deny glob `p.d.events_secret` may match
 *   `p.d.events_*`, so the read is denied).
 * Globs follow docs/reference.md: `*` matches any characters inside one segment. `covered` is
 * an allow test and compares exactly; `may match` protects (deny, masks) and may fold case.
 */
import { matchesGlob } from '../analysis/table-name.js';

interface WildcardName {
  project: string;
  dataset: string;
  prefix: string;
}

export function isWildcardTable(name: string): boolean {
  return name.endsWith('*');
}

function splitWildcard(name: string): WildcardName | null {
  const parts = name.split('.');
  if (parts.length !== 3 || !parts[2]!.endsWith('*')) return null;
  const prefix = parts[2]!.slice(0, -1);
  if (prefix.includes('*') || parts[0]!.includes('*') || parts[1]!.includes('*')) return null;
  return { project: parts[0]!, dataset: parts[1]!, prefix };
}

/** True when some glob matches every table the wildcard name can expand to. */
export function wildcardTableCovered(nameWithStar: string, globs: readonly string[]): boolean {
  const w = splitWildcard(nameWithStar);
  if (!w) return false;
  return globs.some((g) => {
    const segs = g.split('.');
    return segs.length === 3 && segs[2]!.endsWith('*') && matchesGlob(`${w.project}.${w.dataset}.${w.prefix}`, g);
  });
}

/** True when some glob may match some table the wildcard name can expand to (also for malformed names). */
export function wildcardTableMayMatch(nameWithStar: string, globs: readonly string[], caseInsensitive = false): boolean {
  const w = splitWildcard(nameWithStar);
  if (!w) return true;
  const fold = (s: string) => (caseInsensitive ? s.toLowerCase() : s);
  return globs.some((g) => {
    const segs = g.split('.');
    if (segs.length !== 3) return false;
    if (!matchesGlob(w.project, segs[0]!, caseInsensitive) || !matchesGlob(w.dataset, segs[1]!, caseInsensitive)) return false;
    return segmentMayExtend(fold(segs[2]!), fold(w.prefix));
  });
}

/** The table-name prefix of a wildcard name (`p.d.events_*` -> `events_`), or null when malformed. */
export function wildcardPrefix(nameWithStar: string): { dataset: string; prefix: string } | null {
  const w = splitWildcard(nameWithStar);
  return w ? { dataset: `${w.project}.${w.dataset}`, prefix: w.prefix } : null;
}

/** Whether some string starting with `prefix` matches the glob segment. */
function segmentMayExtend(segment: string, prefix: string): boolean {
  const star = segment.indexOf('*');
  if (star === -1) return segment.startsWith(prefix);
  const lead = segment.slice(0, star);
  // Past the first `*`, any continuation can be absorbed by it and the rest appended.
  return prefix.startsWith(lead) || lead.startsWith(prefix);
}
