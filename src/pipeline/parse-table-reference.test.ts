import { describe, expect, it } from 'vitest';
import { AnalysisError, UsageError } from '../errors.js';
import { parseDatasetReference, parseTableReference } from './parse-table-reference.js';

const names = { defaultProject: 'demo', defaultDataset: 'crm' };

describe('parseTableReference', () => {
  it.each([
    ['demo:crm.customers', 'demo.crm.customers'],
    ['demo.crm.customers', 'demo.crm.customers'],
    ['crm.customers', 'demo.crm.customers'],
    ['customers', 'demo.crm.customers'],
    ['analytics.events', 'demo.analytics.events'],
    ['`demo.crm.customers`', 'demo.crm.customers'],
    ['"CRM"."Customers"', 'demo.crm.customers'],
    ['  Demo:CRM.Customers ', 'demo.crm.customers'],
  ])('%s -> %s', (text, expected) => {
    expect(parseTableReference(text, names, true)).toBe(expected);
  });

  it('keeps case where names are case-sensitive (BigQuery)', () => {
    expect(parseTableReference('Acme-Prod:Sales.Orders', {}, false)).toBe('Acme-Prod.Sales.Orders');
  });

  it.each([['a:b:c.d'], ['a.b.c.d'], ['crm..customers'], [''], ['demo:']])('refuses %j as malformed', (text) => {
    expect(() => parseTableReference(text, names, true)).toThrow(UsageError);
  });

  it.each([['crm.cust/omers'], ["crm.x'y"], ['crm.c*']])('refuses the unsafe name %j', (text) => {
    expect(() => parseTableReference(text, names, true)).toThrow(AnalysisError);
  });

  it('refuses a name it cannot resolve without defaults', () => {
    expect(() => parseTableReference('customers', {}, true)).toThrow(AnalysisError);
  });
});

describe('parseDatasetReference', () => {
  it.each([
    ['demo:crm', 'demo.crm'],
    ['demo.analytics', 'demo.analytics'],
    ['analytics', 'demo.analytics'],
  ])('%s -> %s', (text, expected) => {
    expect(parseDatasetReference(text, names, true)).toBe(expected);
  });

  it('refuses a table where a dataset is expected', () => {
    expect(() => parseDatasetReference('demo:crm.customers', names, true)).toThrow(UsageError);
  });
});
