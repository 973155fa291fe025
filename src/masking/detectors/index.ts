/**
 * The detectors by policy name (`detect:` in a policy), as an explicit map, and the order
 * they run in. Order matters: a more specific shape must claim its digits before a looser
 * one sees them (a card number is not a phone number, an IPv4 tail belongs to an IPv6
 * address, an email's digits are not a phone). Replacements contain no digit runs, `@` or
 * `:`, so a later detector never re-matches an earlier replacement.
 */
import type { DetectorName } from '../../policy/policy.js';
import { creditCardDetector } from './credit-card.js';
import type { Detector } from './detector.js';
import { emailDetector } from './email.js';
import { ibanDetector } from './iban.js';
import { ipv4Detector } from './ipv4.js';
import { ipv6Detector } from './ipv6.js';
import { phoneDetector } from './phone.js';
import { secretDetector } from './secret.js';
import { usSsnDetector } from './us-ssn.js';

export type { Detector, Redaction } from './detector.js';
export { measureText, type TextTraits } from './text-traits.js';

export const DETECTOR_BY_NAME: Readonly<Record<DetectorName, Detector>> = {
  email: emailDetector,
  phone: phoneDetector,
  credit_card: creditCardDetector,
  us_ssn: usSsnDetector,
  iban: ibanDetector,
  ipv4: ipv4Detector,
  ipv6: ipv6Detector,
  secret: secretDetector,
};

/** The order detectors run in, whatever order the policy lists them in. */
export const DETECTOR_ORDER: readonly DetectorName[] = [
  'secret',
  'email',
  'iban',
  'credit_card',
  'us_ssn',
  'ipv6',
  'ipv4',
  'phone',
];
