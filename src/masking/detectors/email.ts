/**
 * email: `local@domain.tld` with a dotted domain and an alphabetic TLD of 2+ letters.
 * Unicode letters are accepted in both parts (internationalised addresses).
 */
import { redactMatches, type Detector } from './detector.js';

// The lookbehind pins each attempt to the start of a run of address characters, so the
// regex is linear in the text length even on long runs without a domain.
const EMAIL =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,63}(?![\p{L}\p{N}-])/gu;

export const emailDetector: Detector = {
  name: 'email',
  replacement: '[EMAIL]',
  admits: (t) => t.at > 0,
  redact: (text) => redactMatches(text, EMAIL, () => '[EMAIL]'),
};
