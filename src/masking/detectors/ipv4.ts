/**
 * ipv4: dotted quad, each octet 0–255 (leading zeros tolerated), not part of a longer
 * dotted number. Four-part version numbers (1.2.3.4) cannot be told apart and are masked:
 * failing closed costs a version string, failing open would leak an address.
 */
import { redactMatches, type Detector } from './detector.js';

const IPV4 = /(?<!\w|\w\.)(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)/g;

export function isDottedQuad(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

export const ipv4Detector: Detector = {
  name: 'ipv4',
  replacement: '[IPV4]',
  admits: (t) => t.dots >= 3 && t.digits >= 4,
  redact: (text) => redactMatches(text, IPV4, (m) => (isDottedQuad(m) ? '[IPV4]' : undefined)),
};
