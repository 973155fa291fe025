import { describe, expect, test } from 'vitest';
import { ConfigError } from '../errors.js';
import { DETECTORS, type DetectorName } from '../policy/policy.js';
import { createCellScanner } from './scan-cells.js';

const ALL = [...DETECTORS];

describe('createCellScanner', () => {
  test('replaces matches in text cells and counts them per detector', () => {
    const scanner = createCellScanner(['email', 'phone']);
    const out = scanner.scanRow(['Ann', 'mail ann@example.org or call (555) 123-4567', 42, null, true]);
    expect(out).toEqual(['Ann', 'mail [EMAIL] or call [PHONE]', 42, null, true]);
    scanner.scanRow(['b@example.org', 'c@example.org d@example.org']);
    expect(scanner.counts()).toEqual({ email: 4, phone: 1 });
  });

  test('counts list every enabled detector, zeros included, and nothing else', () => {
    const scanner = createCellScanner(['us_ssn', 'iban']);
    scanner.scanRow(['nothing here']);
    expect(scanner.counts()).toEqual({ us_ssn: 0, iban: 0 });
  });

  test('counts never carry matched values', () => {
    const scanner = createCellScanner(ALL);
    scanner.scanRow(['ssn 123-45-6789, card 4111 1111 1111 1111, ann@example.org']);
    const serialized = JSON.stringify(scanner.counts());
    for (const raw of ['123-45-6789', '4111', 'ann@example.org']) expect(serialized).not.toContain(raw);
  });

  test('only enabled detectors run', () => {
    const scanner = createCellScanner(['email']);
    expect(scanner.scanRow(['123-45-6789 ann@example.org'])).toEqual(['123-45-6789 [EMAIL]']);
  });

  test('policy order does not matter: specific shapes claim their digits first', () => {
    const text = 'card 4111-1111-1111-1111 ip ::ffff:10.0.0.1';
    const a = createCellScanner(['phone', 'ipv4', 'credit_card', 'ipv6']).scanRow([text]);
    const b = createCellScanner(['ipv6', 'credit_card', 'ipv4', 'phone']).scanRow([text]);
    expect(a).toEqual(['card [CREDIT_CARD] ip [IPV6]']);
    expect(b).toEqual(a);
  });

  test('no detectors: rows pass through untouched (the same array)', () => {
    const row = ['ann@example.org'];
    const scanner = createCellScanner([]);
    expect(scanner.scanRow(row)).toBe(row);
    expect(scanner.counts()).toEqual({});
  });

  test('an unknown detector name is refused, not ignored', () => {
    expect(() => createCellScanner(['email', 'passport' as DetectorName])).toThrow(ConfigError);
    try {
      createCellScanner(['passport' as DetectorName]);
    } catch (err) {
      expect((err as ConfigError).rule).toBe('detect');
      expect((err as ConfigError).hint).toContain('credit_card');
    }
  });
});

describe('nested values', () => {
  test('structs, lists and lists of structs at any depth', () => {
    const scanner = createCellScanner(ALL);
    const row = [
      { name: 'Ann', contact: { email: 'ann@example.org', phones: ['+44 20 7946 0958', 'none'] } },
      [['deep', ['deeper', { ip: '10.0.0.1' }]]],
      [{ card: '4111 1111 1111 1111' }, { card: null }],
    ];
    expect(scanner.scanRow(row)).toEqual([
      { name: 'Ann', contact: { email: '[EMAIL]', phones: ['[PHONE]', 'none'] } },
      [['deep', ['deeper', { ip: '[IPV4]' }]]],
      [{ card: '[CREDIT_CARD]' }, { card: null }],
    ]);
    expect(scanner.counts()).toMatchObject({ email: 1, phone: 1, ipv4: 1, credit_card: 1 });
  });

  test('object keys are text too: a map keyed by email is masked', () => {
    const scanner = createCellScanner(['email']);
    const out = scanner.scanRow([{ 'ann@example.org': 3, 'bob@example.org': 4, plain: 5 }]);
    // two keys collapse to the same text; neither entry is lost
    expect(out).toEqual([{ '[EMAIL]': 3, '[EMAIL]_2': 4, plain: 5 }]);
    expect(scanner.counts()).toEqual({ email: 2 });
  });

  test('Map values (keys and values) are scanned', () => {
    const scanner = createCellScanner(['email']);
    const [out] = scanner.scanRow([new Map([['ann@example.org', 'bob@example.org']])]);
    expect(out).toEqual(new Map([['[EMAIL]', '[EMAIL]']]));
  });

  test('JSON text in a string cell is scanned as text and stays valid JSON', () => {
    const scanner = createCellScanner(ALL);
    const cell = JSON.stringify({ user: { mail: 'ann@example.org', ssn: '123-45-6789' }, tags: ['ok', '4111111111111111'] });
    const [out] = scanner.scanRow([cell]);
    expect(JSON.parse(out as string)).toEqual({ user: { mail: '[EMAIL]', ssn: '[US_SSN]' }, tags: ['ok', '[CREDIT_CARD]'] });
  });

  test('a "__proto__" key stays data after its object is rewritten', () => {
    const scanner = createCellScanner(['email']);
    const input = JSON.parse('{"__proto__": {"x": "ann@example.org"}, "y": "bob@example.org"}');
    const [out] = scanner.scanRow([input]) as [Record<string, unknown>];
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'y']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"x":"[EMAIL]"},"y":"[EMAIL]"}');
  });

  test('input rows are never mutated; unchanged containers are reused', () => {
    const scanner = createCellScanner(ALL);
    const untouched = { a: ['x', 'y'] };
    const row = [{ mail: 'ann@example.org', keep: untouched }, ['z']];
    const snapshot = structuredClone(row);
    const out = scanner.scanRow(row);
    expect(row).toEqual(snapshot);
    expect(out).not.toBe(row);
    expect((out[0] as { keep: unknown }).keep).toBe(untouched);
    expect(out[1]).toBe(row[1]);
  });

  test('large integers in numeric cells are checked as card numbers', () => {
    const scanner = createCellScanner(['credit_card']);
    expect(scanner.scanRow([4111111111111111n, 4222222222222, 12345, 4111111111111112n])).toEqual([
      '[CREDIT_CARD]',
      '[CREDIT_CARD]',
      12345,
      4111111111111112n,
    ]);
  });

  test('Dates and byte arrays are left as they are', () => {
    const scanner = createCellScanner(ALL);
    const d = new Date(0);
    const bytes = new Uint8Array([1, 2, 3]);
    const out = scanner.scanRow([d, bytes]);
    expect(out[0]).toBe(d);
    expect(out[1]).toBe(bytes);
  });
});
