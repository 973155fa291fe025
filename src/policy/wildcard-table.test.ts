import { describe, expect, it } from 'vitest';
import { wildcardTableCovered, wildcardTableMayMatch } from './wildcard-table.js';

describe('wildcardTableCovered', () => {
  it.each([
    ['p.d.events_*', ['p.d.*'], true],
    ['p.d.events_*', ['p.d.events_*'], true],
    ['p.d.events_*', ['p.d.ev*'], true],
    ['p.d.events_*', ['p.*.*'], true],
    ['p.d.events_2024*', ['p.d.events_*'], true],
    ['p.d.*', ['p.d.*'], true],
    // a glob that matches only some expansions does not cover the wildcard
    ['p.d.events_*', ['p.d.events_2024*'], false],
    ['p.d.events_*', ['p.d.events_x'], false],
    ['p.d.events_*', ['p.d.events_'], false],
    ['p.d.events_*', ['p.d.*_public'], false],
    ['p.d.*', ['p.d.a*'], false],
    ['p.d.events_*', ['p.other.*'], false],
    ['p.d.events_*', ['P.d.*'], false],
    ['p.d.events_*', [], false],
    ['not-a-wildcard', ['*.*.*'], false],
  ])('%s covered by %j: %s', (name, globs, expected) => {
    expect(wildcardTableCovered(name, globs)).toBe(expected);
  });
});

describe('wildcardTableMayMatch', () => {
  it.each([
    ['p.d.events_*', ['p.d.events_secret'], true],
    ['p.d.events_*', ['p.d.events_*'], true],
    ['p.d.events_*', ['p.d.*_secret'], true],
    ['p.d.events_*', ['p.d.ev'], false],
    ['p.d.events_*', ['p.d.e*'], true],
    ['p.d.events_*', ['p.d.other*'], false],
    ['p.d.events_*', ['p.d.x*events'], false],
    ['p.d.*', ['p.d.anything'], true],
    ['p.d.events_*', ['p.e.events_secret'], false],
    ['p.d.events_*', ['*.*.*'], true],
    ['p.d.events_*', ['p.d.events_secret.col'], false],
    // malformed names are treated as matching (fail closed)
    ['p.d.ev*nts*', ['x.y.z'], true],
  ])('%s may match %j: %s', (name, globs, expected) => {
    expect(wildcardTableMayMatch(name, globs)).toBe(expected);
  });
});
