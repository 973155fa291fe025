import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';

describe('canonicalJson', () => {
  it.each([
    ['sorted keys, recursively, no whitespace', { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}'],
    ['keys in UTF-16 code unit order (JCS), not by locale', { b: 1, B: 2, é: 3, '\u{1F600}': 4, '\uFB01': 5 }, '{"B":2,"b":1,"é":3,"\u{1F600}":4,"\uFB01":5}'],
    ['integer-like keys are sorted as strings', { 10: 'a', 9: 'b', 1: 'c' }, '{"1":"c","10":"a","9":"b"}'],
    ['undefined members are left out', { a: undefined, b: 2 }, '{"b":2}'],
    ['strings escaped as JSON.stringify does', { s: 'a"b\\c\n\t\u0001\u2028é' }, '{"s":"a\\"b\\\\c\\n\\t\\u0001\u2028é"}'],
    ['lone surrogates escaped', { s: 'x\uD800y' }, '{"s":"x\\ud800y"}'],
    ['-0 written as 0, fractions in shortest form', { a: -0, b: 0.1, c: 123.456, d: 5e-7 }, '{"a":0,"b":0.1,"c":123.456,"d":5e-7}'],
    ['booleans, empty containers', { t: true, f: false, o: {}, l: [] }, '{"f":false,"l":[],"o":{},"t":true}'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
    // canonical text round-trips to a value with the same canonical text
    expect(canonicalJson(JSON.parse(expected))).toBe(expected);
  });

  it('is independent of member insertion order', () => {
    expect(canonicalJson({ x: 1, y: { b: 2, a: 1 } })).toBe(canonicalJson({ y: { a: 1, b: 2 }, x: 1 }));
  });

  it.each([
    ['NaN', { n: Number.NaN }, /\$\.n is NaN/],
    ['Infinity', { n: Number.POSITIVE_INFINITY }, /not a finite number/],
    ['unsafe integer', { n: 2 ** 53 }, /safe integer/],
    ['bigint', { n: BigInt(1) }, /bigint/],
    ['function', { f: () => 1 }, /function/],
    ['symbol', { s: Symbol('x') }, /symbol/],
    ['Date', { d: new Date(0) }, /Date, not a plain object/],
    ['Map', { m: new Map() }, /Map/],
    ['undefined in an array', { a: [1, undefined] }, /\$\.a\[1\] is undefined/],
    ['top-level undefined', undefined, /undefined/],
  ])('refuses %s instead of coercing it', (_name, value, message) => {
    expect(() => canonicalJson(value)).toThrow(message);
  });

  it('refuses absurd nesting instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/nested deeper/);
  });

  it('accepts null-prototype objects', () => {
    const o = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });
});
