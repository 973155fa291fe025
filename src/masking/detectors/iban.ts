/**
 * iban: country code + 2 check digits + BBAN, compact or in groups separated by single
 * spaces, upper or lower case. Accepted only with the registered length for its country
 * and a mod-97 remainder of 1 (ISO 13616).
 */
import { redactMatches, type Detector } from './detector.js';

/** IBAN length per country (SWIFT IBAN registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

// Greedy up to 34 characters ending at a word boundary; the callback then cuts the
// candidate at the country's length, so words after the IBAN ("… 32 is mine") survive.
const IBAN = /(?<![A-Za-z0-9])[A-Za-z]{2}\d\d(?: ?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])/g;

export function isIbanChecksumValid(compact: string): boolean {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      remainder = (remainder * 10 + (c - 48)) % 97;
    } else {
      // letters count as two digits: A=10 … Z=35
      remainder = (remainder * 100 + (c - 55)) % 97;
    }
  }
  return remainder === 1;
}

function redactIban(candidate: string): string | undefined {
  const country = candidate.slice(0, 2).toUpperCase();
  const length = IBAN_LENGTHS[country];
  if (length === undefined) return undefined;
  // walk the candidate until `length` alphanumerics are consumed
  let seen = 0;
  let end = 0;
  while (end < candidate.length && seen < length) {
    if (candidate[end] !== ' ') seen++;
    end++;
  }
  if (seen < length) return undefined;
  if (end < candidate.length && candidate[end] !== ' ') return undefined; // cut inside a group
  const compact = candidate.slice(0, end).replace(/ /g, '').toUpperCase();
  if (!isIbanChecksumValid(compact)) return undefined;
  return '[IBAN]' + candidate.slice(end);
}

export const ibanDetector: Detector = {
  name: 'iban',
  replacement: '[IBAN]',
  // country letters directly followed by check digits; the shortest IBAN (Norway) has 15 characters
  admits: (t) => t.letterDigits > 0 && t.length >= 15,
  redact: (text) => redactMatches(text, IBAN, (m) => redactIban(m)),
};
