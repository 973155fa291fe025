import { describe, expect, it } from 'vitest';
import { UsageError } from '../../errors.js';
import { bqTableName, parseBqReference } from './bq-names.js';

describe('bq names', () => {
  it.each([
    ['demo:crm.customers', {}, false, { project: 'demo', dataset: 'crm', table: 'customers' }],
    ['crm.customers', {}, false, { dataset: 'crm', table: 'customers' }],
    ['demo.crm.customers', {}, false, { project: 'demo', dataset: 'crm', table: 'customers' }],
    ['demo:crm', {}, false, { project: 'demo', dataset: 'crm' }],
    ['crm', {}, false, { dataset: 'crm' }],
    ['customers', { datasetId: 'crm' }, false, { dataset: 'crm', table: 'customers' }],
    ['crm.customers', { projectId: 'demo' }, false, { project: 'demo', dataset: 'crm', table: 'customers' }],
    ['demo.crm', {}, true, { project: 'demo', dataset: 'crm' }],
    ['crm', { projectId: 'p' }, true, { project: 'p', dataset: 'crm' }],
  ])('%s %j dataset=%s', (text, defaults, forceDataset, expected) => {
    const ref = parseBqReference(text, defaults, forceDataset);
    expect(Object.fromEntries(Object.entries(ref).filter(([, v]) => v !== undefined))).toEqual(expected);
  });

  it('head names are plain, so no dialect needs quoting', () => {
    expect(bqTableName('acme-prod:crm.customers', {})).toBe('acme-prod.crm.customers');
    expect(() => bqTableName('crm', {})).toThrow(UsageError);
    expect(() => bqTableName('crm.t; DROP TABLE x', {})).toThrow(UsageError);
    expect(() => bqTableName('crm."t"', {})).toThrow(UsageError);
    expect(() => bqTableName('a:b:c.d', {})).toThrow(UsageError);
  });
});
