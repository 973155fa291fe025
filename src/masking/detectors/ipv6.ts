/**
 * ipv6: the full form (8 groups), `::`-compressed forms and an embedded IPv4 tail
 * (::ffff:10.0.0.1), validated group by group. At least two explicit groups are required,
 * so `::`, `::1` and C++-style `a::b`-like scopes of one name do not count, and times
 * (12:30:45) or MAC addresses (6 groups, no `::`) never validate.
 */
import { redactMatches, type Detector } from './detector.js';
import { isDottedQuad } from './ipv4.js';

const IPV6 = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?!\w|[.:]\w)/g;

const GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function isIpv6(s: string): boolean {
  let body = s;
  let slots = 8;
  let explicit = 0;
  if (s.includes('.')) {
    const lastColon = s.lastIndexOf(':');
    if (!isDottedQuad(s.slice(lastColon + 1))) return false;
    body = s.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
    slots = 6; // the IPv4 tail fills the last two groups
    explicit = 2;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const left = halves[0] === '' ? [] : halves[0]!.split(':');
  const right = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const groups = [...left, ...right];
  if (!groups.every((g) => GROUP.test(g))) return false;
  if (halves.length === 2 ? groups.length > slots - 1 : groups.length !== slots) return false;
  return groups.length + explicit >= 2;
}

function redactIpv6(candidate: string): string | undefined {
  if (isIpv6(candidate)) return '[IPV6]';
  // "reach 2001:db8::1: it is up": a colon ending the sentence, not the address
  if (candidate.endsWith(':') && !candidate.endsWith('::') && isIpv6(candidate.slice(0, -1))) return '[IPV6]:';
  return undefined;
}

export const ipv6Detector: Detector = {
  name: 'ipv6',
  replacement: '[IPV6]',
  admits: (t) => t.colons >= 2,
  redact: (text) => redactMatches(text, IPV6, (m) => redactIpv6(m)),
};
