/**
 * The shape every content detector has. A detector is pure: text in, redacted text and a
 * match count out. It never sees which column or row the text came from, and never keeps it.
 */
import type { DetectorName } from '../../policy/policy.js';
import type { TextTraits } from './text-traits.js';

export interface Redaction {
  text: string;
  /** How many matches were replaced. */
  count: number;
}

export interface Detector {
  readonly name: DetectorName;
  /** What each match becomes, e.g. `[EMAIL]`. Contains no digit run, `@` or `:` so later detectors do not re-match it. */
  readonly replacement: string;
  /**
   * A cheap necessary condition over the text's character counts: when false, `redact`
   * would find nothing, so the scanner skips it. Must never be false for a matching text.
   */
  admits(traits: TextTraits): boolean;
  redact(text: string): Redaction;
}

/**
 * Replaces each match of `pattern` (a /g regex) that `accept` confirms. `accept` returns
 * the replacement text for the whole match, or undefined to keep the match as it is;
 * validation lives here (Luhn, mod-97, octet ranges) because regexes alone over-match.
 */
export function redactMatches(
  text: string,
  pattern: RegExp,
  accept: (match: string, groups: string[]) => string | undefined,
): Redaction {
  let count = 0;
  const out = text.replace(pattern, (match: string, ...rest: unknown[]) => {
    // rest = capture groups..., offset, whole string (named groups never used here)
    const groups = rest.slice(0, -2) as string[];
    const replaced = accept(match, groups);
    if (replaced === undefined) return match;
    count++;
    return replaced;
  });
  return { text: count === 0 ? text : out, count };
}
