/**
 * phone: international numbers written with `+` and a country code, North American
 * numbers in their usual shapes, and national numbers with a leading trunk `0`.
 * Validated by digit count. Bare digit runs without `+` or separators are not phones
 * (they are indistinguishable from ids), and dates, IPs and versions do not fit the shapes.
 */
import { redactMatches, type Detector } from './detector.js';

const PHONE = new RegExp(
  // not glued to a word, and not continuing a dotted/dashed number (1.555.123.4567, 2024-555-…)
  String.raw`(?<![\w+]|\d[.\-/:])` +
    '(?:' +
    // 1: +CC then digits, spaces, dots, dashes, parentheses
    String.raw`(\+\d[\d .\-()]{5,22}\d)` +
    // 2: NANP: (555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-0199
    String.raw`|((?:1[ .\-])?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4})` +
    // 3: national with trunk 0: (030) 1234567, 020 7946 0958, 01 23 45 67 89, 06-1234-5678
    String.raw`|(\(0\d{1,4}\) ?\d{2,8}(?:[ \-]\d{2,8}){0,3}|0\d{1,4}(?:[ \-]\d{2,8}){1,4})` +
    ')' +
    String.raw`(?!\w|[.\-/:]\d)`,
  'g',
);

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

function isInternational(s: string): boolean {
  const digits = countDigits(s);
  // E.164 allows at most 15 digits; 8 is the shortest country code + subscriber we accept
  if (digits < 8 || digits > 15) return false;
  if (/[ .\-]{2}/.test(s.replace(/[()]/g, ''))) return false; // "+1 (555) 1" fine, "+1 - 5" not
  if (!/^[^()]*(?:\(\d{1,4}\)[^()]*)?$/.test(s)) return false; // at most one (area) group
  // dots as separators must be the only separator: "+12.50 13.75" is money, not a phone
  if (s.includes('.') && /[ \-()]/.test(s)) return false;
  return true;
}

export const phoneDetector: Detector = {
  name: 'phone',
  replacement: '[PHONE]',
  // the shortest accepted shape (international) has 8 digits
  admits: (t) => t.digits >= 8,
  redact: (text) =>
    redactMatches(text, PHONE, (_m, [intl, nanp, national]) => {
      if (intl !== undefined) return isInternational(intl) ? '[PHONE]' : undefined;
      if (nanp !== undefined) return '[PHONE]';
      const digits = countDigits(national!);
      // 10–12 digits with the trunk 0: UK, FR, DE, IT numbers; 9 would catch ZIP+4 like 02139-1234
      return digits >= 10 && digits <= 12 ? '[PHONE]' : undefined;
    }),
};
