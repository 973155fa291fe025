import { describe, expect, it } from 'vitest';
import { AnalysisError } from '../errors.js';
import { matchesGlob, resolveTableName } from './table-name.js';

describe('resolveTableName', () => {
  const opts = { caseInsensitive: true, defaultProject: 'demo', defaultDataset: 'crm' };
  it.each([
    [['customers'], 'demo.crm.customers'],
    [['analytics', 'events'], 'demo.analytics.events'],
    [['Other', 'CRM', 'Customers'], 'other.crm.customers'],
  ])('%j -> %s', (parts, expected) => {
    expect(resolveTableName(parts, opts)).toBe(expected);
  });

  it('keeps case when the dialect is case-sensitive', () => {
    expect(resolveTableName(['p', 'DataSet', 'Table'], { caseInsensitive: false })).toBe('p.DataSet.Table');
  });

  it.each([
    [['customers'], { caseInsensitive: true }],
    [['customers'], { caseInsensitive: true, defaultProject: 'demo' }],
    [['a', 'b', 'c', 'd'], { caseInsensitive: true }],
    [['x.csv'], opts],
    [['crm', 'a"b'], opts],
    [['/etc/passwd'], opts],
    [['crm', 'c*'], opts],
  ])('refuses %j', (parts, o) => {
    expect(() => resolveTableName(parts, o)).toThrow(AnalysisError);
  });
});

describe('globs', () => {
  it.each([
    ['demo.analytics.events', 'demo.analytics.*', true],
    ['demo.analytics.events', 'demo.*.events', true],
    ['demo.analytics.events', '*.*.*', true],
    ['demo.analytics.events', 'demo.analytic*.ev*', true],
    ['demo.analytics.events', 'demo.*', false],
    ['demo.analytics.events', 'demo.analytics', false],
    ['demo.crm.customers', 'demo.analytics.*', false],
    ['demo.crm.customers.phone', '*.*.*.phone', true],
    ['demo.crm.customers.phone2', '*.*.*.phone', false],
    ['demoXcrm.customers', 'demo.crm.customers', false],
    ['demo-x.crm.customers', 'demo-x.crm.*', true],
  ])('%s ~ %s = %s', (name, glob, expected) => {
    expect(matchesGlob(name, glob)).toBe(expected);
  });

  it('a star never crosses a dot', () => {
    expect(matchesGlob('a.b.c.d', 'a.*.d')).toBe(false);
  });
});
