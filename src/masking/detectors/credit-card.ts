/**
 * credit_card: 13–19 digits, optionally grouped by single spaces or dashes (one kind of
 * separator, groups of 3+ digits), with a known issuer prefix for that length and a valid
 * Luhn check digit.
 */
import { redactMatches, type Detector } from './detector.js';

// Not glued to a word or to a longer separated digit sequence on either side.
const CARD = /(?<!\w|\d[ \-])\d(?:[ \-]?\d){12,18}(?![\w]|[ \-]\d)/g;

export function isLuhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Issuer identification numbers (IIN) and the lengths each network issues. */
function hasKnownIssuer(d: string): boolean {
  const len = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  if (d[0] === '4') return len === 13 || len === 16 || len === 19; // Visa
  if (p2 >= 51 && p2 <= 55) return len === 16; // Mastercard
  if (p4 >= 2221 && p4 <= 2720) return len === 16; // Mastercard 2-series
  if (p4 >= 2200 && p4 <= 2204) return len >= 16; // Mir
  if (p2 === 34 || p2 === 37) return len === 15; // American Express
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14; // Diners Club
  if (p4 >= 3528 && p4 <= 3589) return len >= 16; // JCB
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return len >= 13; // Maestro, Discover, UnionPay, RuPay
  return false;
}

function isCardNumber(candidate: string): boolean {
  const groups = candidate.split(/[ \-]/);
  if (groups.length > 1) {
    // "2023-01-15 …" dates and "1 2 3 …" lists are not card groupings
    if (groups.some((g) => g.length < 3)) return false;
    if (candidate.includes(' ') && candidate.includes('-')) return false;
  }
  const digits = groups.join('');
  return hasKnownIssuer(digits) && isLuhnValid(digits);
}

export const creditCardDetector: Detector = {
  name: 'credit_card',
  replacement: '[CREDIT_CARD]',
  admits: (t) => t.digits >= 13,
  redact: (text) => redactMatches(text, CARD, (m) => (isCardNumber(m) ? '[CREDIT_CARD]' : undefined)),
};
