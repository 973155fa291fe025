/**
 * Detector corpora: for each detector, true positives (each must be replaced exactly, with
 * the surrounding words intact) and true negatives (nothing replaced). Every list has 8+
 * entries; the choices behind the borderline ones are documented in docs/detectors.md.
 */
import { describe, expect, test } from 'vitest';
import type { DetectorName } from '../../policy/policy.js';
import { DETECTOR_BY_NAME, DETECTOR_ORDER, measureText } from './index.js';
import { isLuhnValid } from './credit-card.js';
import { isIbanChecksumValid } from './iban.js';
import { isIpv6 } from './ipv6.js';

interface Corpus {
  /** A value alone, or [text, expected] when the value sits in context that must survive. */
  positives: Array<string | [string, string]>;
  negatives: string[];
}

const PEM_RSA = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF0qKkS8R2Bv9EXAMPLE', 'AoGBAKrqbBqTkmtEXAMPLEKEYMATERIAL==', '-----END RSA PRIVATE KEY-----'].join('\n');
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

const CORPORA: Record<DetectorName, Corpus> = {
  email: {
    positives: [
      'john.doe@example.com',
      'JOHN_DOE+tag@sub.example.co.uk',
      'a@b.io',
      'first.last@example-mail.org',
      'user%relay@example.net',
      '12345@numbers.example.com',
      'josé.garcía@correo.es',
      'info@bücher.de',
      'x@mail.museum',
    ],
    negatives: [
      'user@localhost',
      '@handle on social media',
      'john at example dot com',
      'a@b',
      'foo@bar.c',
      'name@domain.123',
      'meet me @ noon',
      'user@-example.com',
      'user@.com',
      'user@example..com',
    ],
  },
  phone: {
    positives: [
      '(555) 123-4567',
      '555-123-4567',
      '555.123.4567',
      '555 123 4567',
      '1-800-555-0199',
      '+1 555 123 4567',
      '+1 (555) 123-4567',
      '+44 20 7946 0958',
      '+442079460958',
      '+44 (0)20 7946 0958',
      '+33 1 23 45 67 89',
      '+49 30 12345678',
      '+91-98765-43210',
      '020 7946 0958',
      '01 23 45 67 89',
      '(030) 1234567',
    ],
    negatives: [
      '2023-01-15',
      '15/01/2023',
      '15.01.2023 at 12:30:45',
      '192.168.100.200',
      'version 10.2.3',
      'release 1.2.3.4',
      'order 12345678901',
      '5551234567',
      'zip 02139-1234',
      'prices +12.50 13.75',
      'ISBN 978-3-16-148410-0',
      'pi 3.14159265358979',
      'uuid 123e4567-e89b-12d3-a456-426614174000',
      'count 1234 5678',
      'ref 2024-555-123-4567',
      '+1234567',
    ],
  },
  credit_card: {
    positives: [
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '4111111111111111',
      '5555 5555 5555 4444',
      '2223 0031 2200 3222',
      '3782 822463 10005',
      '6011 1111 1111 1117',
      '3530 1113 3330 0000',
      '3056 930902 5904',
      '4222222222222',
      '6200 0000 0000 0005',
    ],
    negatives: [
      '4111 1111 1111 1112',
      '1234 5678 9012 3456',
      '0000 0000 0000 0000',
      '2023-01-15 2023-01-16',
      '4111 1111-1111 1111',
      '41111 1111 1111 111 1',
      'id 4111111111111111111111',
      '1 2 3 4 5 6 7 8 9 0 1 2 3',
      'x4111111111111111',
      '5555 5555 5555 4445',
      '3782 822463 10006',
    ],
  },
  us_ssn: {
    positives: [
      '123-45-6789',
      '078-05-1120',
      '219-09-9999',
      '001-01-0001',
      '665-12-3456',
      '899-99-9999',
      '123 45 6789',
      ['SSN:457-55-5462', 'SSN:[US_SSN]'],
      ['ssn=457-55-5462.', 'ssn=[US_SSN].'],
    ],
    negatives: [
      '000-12-3456',
      '666-12-3456',
      '900-12-3456',
      '999-99-9999',
      '123-00-4567',
      '123-45-0000',
      '123456789',
      '123-45 6789',
      '1234-56-7890',
      '123-45-67890',
      'part 123-45-6789-01',
    ],
  },
  iban: {
    positives: [
      'GB82 WEST 1234 5698 7654 32',
      'GB82WEST12345698765432',
      'DE89 3704 0044 0532 0130 00',
      'DE89370400440532013000',
      'FR14 2004 1010 0505 0001 3M02 606',
      'NL91 ABNA 0417 1643 00',
      'BE68 5390 0754 7034',
      'CH93 0076 2011 6238 5295 7',
      'NO93 8601 1117 947',
      'de89 3704 0044 0532 0130 00',
      'IT60 X054 2811 1010 0000 0123 456',
    ],
    negatives: [
      'GB83 WEST 1234 5698 7654 32',
      'GB82 WEST 1234 5698 7654 33',
      'XX82 WEST 1234 5698 7654 32',
      'GB82 WEST 1234 5698 7654',
      'DE89370400440532013001',
      'AB12 ordinary words follow here',
      'ISO8601 timestamps everywhere',
      'GB82WEST12345698765432X',
      'NL91 ABNA 0417 1643 0',
    ],
  },
  ipv4: {
    positives: ['192.168.1.1', '10.0.0.1', '255.255.255.255', '0.0.0.0', ['8.8.8.8:53', '[IPV4]:53'], ['10.0.0.1/24', '[IPV4]/24'], ['ip=172.16.254.1', 'ip=[IPV4]'], ['(127.0.0.1)', '([IPV4])'], '1.2.3.4', '010.001.002.003'],
    negatives: ['256.1.1.1', '1.2.3.4.5', '1.2.3', '192.168.1.999', 'v1.2.3.4', '10.0.0.1.2', '1234.1.1.1', '3.14', '2023.01.15', 'lib.1.2.3.4'],
  },
  ipv6: {
    positives: [
      '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
      '2001:db8:85a3::8a2e:370:7334',
      '2001:db8::1',
      '2001:db8::',
      '::ffff:192.0.2.128',
      'FE80::0202:B3FF:FE1E:8329',
      '1:2:3:4:5:6:7:8',
      'fe80::1:2',
      '64:ff9b::192.0.2.33',
    ],
    negatives: [
      '12:30:45',
      '2023-01-15T12:30:45Z',
      '00:1A:2B:3C:4D:5E',
      '::',
      '::1',
      'std::vector',
      '1:2:3:4:5:6:7:8:9',
      '2001:db8:::1',
      '12345::1',
      'ratio 3:2',
      'Note: fine',
      'gggg::1',
      '1::2::3',
    ],
  },
  secret: {
    positives: [
      PEM_RSA,
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQEXAMPLE\n-----END OPENSSH PRIVATE KEY-----',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApEXAMPLE\\n-----END ENCRYPTED PRIVATE KEY-----',
      'AKIAIOSFODNN7EXAMPLE',
      'ASIAY34FZKBOKMUTVV7A',
      ['aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key = [SECRET]'],
      ['{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}', '{"SecretAccessKey": "[SECRET]"}'],
      'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe',
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
      'ghs_abcdefghijklmnopqrstuvwxyz0123456789',
      'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      JWT,
    ],
    negatives: [
      '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEXAMPLE\n-----END PUBLIC KEY-----',
      '-----BEGIN CERTIFICATE-----',
      'AKIAIOSFODNN7EXAMP',
      'AKIAIOSFODNN7EXAMPLEX',
      'akiaiosfodnn7example',
      'ghp_short',
      'eyJhbGciOiJIUzI1NiJ9',
      'xoxb-123',
      'The AKIA prefix marks AWS access keys',
      'AIzaSy too short',
      'aws_secret_access_key = tooShortToBeAKey',
    ],
  },
};

describe.each(DETECTOR_ORDER)('%s detector', (name) => {
  const detector = DETECTOR_BY_NAME[name];
  const corpus = CORPORA[name];

  test('corpora are large enough to mean something', () => {
    expect(corpus.positives.length).toBeGreaterThanOrEqual(8);
    expect(corpus.negatives.length).toBeGreaterThanOrEqual(8);
  });

  test.each(corpus.positives.map((p) => (typeof p === 'string' ? [p, detector.replacement] : p)))('catches %j', (value, expected) => {
    const r = detector.redact(`before ${value} after`);
    expect(r).toEqual({ text: `before ${expected} after`, count: 1 });
  });

  test.each(corpus.negatives)('leaves %j alone', (value) => {
    const r = detector.redact(value);
    expect(r).toEqual({ text: value, count: 0 });
  });

  test('admits every positive (the scanner skips cells it does not admit)', () => {
    for (const p of corpus.positives) expect(detector.admits(measureText(typeof p === 'string' ? p : p[0]))).toBe(true);
  });

  test('the replacement is not itself matched by any detector', () => {
    for (const other of DETECTOR_ORDER) {
      expect(DETECTOR_BY_NAME[other].redact(`a ${detector.replacement} b`).count).toBe(0);
    }
  });
});

describe('detector specifics', () => {
  test('counts every match in one text and keeps the rest', () => {
    const r = DETECTOR_BY_NAME.email.redact('a@x.io, b@y.io; c@z.io.');
    expect(r).toEqual({ text: '[EMAIL], [EMAIL]; [EMAIL].', count: 3 });
  });

  test('an IBAN followed by words is cut at its registered length', () => {
    expect(DETECTOR_BY_NAME.iban.redact('pay GB82 WEST 1234 5698 7654 32 IS MINE NOW').text).toBe('pay [IBAN] IS MINE NOW');
  });

  test('a private key with no END line is redacted to the end of the text', () => {
    const r = DETECTOR_BY_NAME.secret.redact('key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
    expect(r.text).toBe('key: [SECRET]');
  });

  test('a zone id and port around an IPv6 address survive', () => {
    expect(DETECTOR_BY_NAME.ipv6.redact('fe80::1:2%eth0 and [2001:db8::1]:8080').text).toBe('[IPV6]%eth0 and [[IPV6]]:8080');
    expect(DETECTOR_BY_NAME.ipv6.redact('reach 2001:db8::1: up').text).toBe('reach [IPV6]: up');
  });

  test('validators agree with published examples', () => {
    expect(isLuhnValid('79927398713')).toBe(true);
    expect(isLuhnValid('79927398710')).toBe(false);
    expect(isIbanChecksumValid('GB82WEST12345698765432')).toBe(true);
    expect(isIbanChecksumValid('GB82WEST12345698765431')).toBe(false);
    expect(isIpv6('::ffff:1.2.3.4')).toBe(true);
    expect(isIpv6('::ffff:1.2.3.256')).toBe(false);
    expect(isIpv6('1:2:3:4:5:6:7::')).toBe(true);
    expect(isIpv6('1:2:3:4:5:6:7:8::')).toBe(false);
  });

  test('JSON text keeps its quoting around a replaced value', () => {
    const json = JSON.stringify({ email: 'ann@example.org', note: `token ${JWT}` });
    const out = DETECTOR_BY_NAME.secret.redact(DETECTOR_BY_NAME.email.redact(json).text).text;
    expect(JSON.parse(out)).toEqual({ email: '[EMAIL]', note: 'token [SECRET]' });
  });

  test('pathological inputs stay linear (no catastrophic backtracking)', () => {
    const inputs = [
      'a'.repeat(200_000) + '@',
      '1 '.repeat(100_000),
      '1-'.repeat(100_000),
      '+1'.repeat(100_000),
      '1.'.repeat(100_000),
      'a:'.repeat(100_000),
      'GB82 '.repeat(50_000),
      '-----BEGIN PRIVATE KEY-----'.repeat(2_000) + 'x'.repeat(20_000),
      'eyJ' + 'a'.repeat(100_000) + '.',
    ];
    const started = Date.now();
    for (const text of inputs) for (const name of DETECTOR_ORDER) DETECTOR_BY_NAME[name].redact(text);
    // linear work takes well under a second; catastrophic backtracking on these would take hours
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('admits is a necessary condition', () => {
  test('on random texts, a detector that finds a match always admitted the text', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pieces = ['0', '1', '4', '5', '9', ' ', '-', '.', ':', '::', '@', '+', '(', ')', 'a', 'x.io', 'GB', 'AKIA', 'eyJ', '_', 'Z', '/'];
    let matches = 0;
    for (let n = 0; n < 20_000; n++) {
      let text = '';
      const len = 1 + Math.floor(rand() * 40);
      for (let i = 0; i < len; i++) text += pieces[Math.floor(rand() * pieces.length)];
      const traits = measureText(text);
      for (const name of DETECTOR_ORDER) {
        const d = DETECTOR_BY_NAME[name];
        const found = d.redact(text).count > 0;
        if (found) {
          matches++;
          expect(d.admits(traits), `${name} on ${JSON.stringify(text)}`).toBe(true);
        }
      }
    }
    expect(matches).toBeGreaterThan(100); // the generator does produce matches
  });
});
