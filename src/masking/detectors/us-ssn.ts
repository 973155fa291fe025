/**
 * us_ssn: AAA-GG-SSSS with dashes or spaces (the same separator twice). Numbers the SSA
 * never issues are excluded: area 000, 666 and 900–999, group 00, serial 0000.
 * Undashed 9-digit runs are not matched: they are indistinguishable from other ids.
 */
import { redactMatches, type Detector } from './detector.js';

const SSN = /(?<!\w|\d[ \-])(\d{3})([ \-])(\d{2})\2(\d{4})(?!\w|\2\d)/g;

export function isIssuableSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== '00' && serial !== '0000';
}

export const usSsnDetector: Detector = {
  name: 'us_ssn',
  replacement: '[US_SSN]',
  admits: (t) => t.digits >= 9,
  redact: (text) =>
    redactMatches(text, SSN, (_m, [area, , group, serial]) => (isIssuableSsn(area!, group!, serial!) ? '[US_SSN]' : undefined)),
};
