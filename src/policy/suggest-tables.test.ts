import { describe, expect, it } from 'vitest';
import { editDistance, suggestTables } from './suggest-tables.js';

const readable = [
  'demo.analytics.card_spend',
  'demo.analytics.daily_events',
  'demo.analytics.events',
  'demo.crm.customer_directory',
  'demo.crm.customers',
];

describe('suggestTables', () => {
  it.each<[string, string, string[]]>([
    ['a typo in the table name', 'demo.crm.customer', ['demo.crm.customers', 'demo.crm.customer_directory']],
    ['a re-cased typo', 'DEMO.CRM.Custmers', ['demo.crm.customers', 'demo.crm.customer_directory']],
    ['a denied table: same dataset first, then a shared word', 'demo.crm.payment_cards', ['demo.crm.customers', 'demo.crm.customer_directory', 'demo.analytics.card_spend']],
    ['the right table in the wrong dataset', 'demo.crm.events', ['demo.analytics.events', 'demo.analytics.daily_events', 'demo.crm.customer_directory']],
    ['a word of a longer name', 'demo.scratch.daily', ['demo.analytics.daily_events']],
  ])('%s', (_what, asked, expected) => {
    expect(suggestTables(asked, readable)).toEqual(expected);
  });

  it('suggests nothing far off, and never the table asked for itself', () => {
    expect(suggestTables('demo.hr.salaries', readable)).toEqual([]);
    expect(suggestTables('demo.crm.customers', ['demo.crm.customers'])).toEqual([]);
  });

  it('suggests only from the candidates it is given', () => {
    expect(suggestTables('demo.crm.payment_cards', [])).toEqual([]);
    expect(suggestTables('demo.crm.payment_card', ['demo.crm.payment_cards', 'demo.crm.customers'], 1)).toEqual(['demo.crm.payment_cards']);
  });

  it('honours the limit and de-duplicates', () => {
    expect(suggestTables('demo.crm.customer', [...readable, ...readable], 1)).toEqual(['demo.crm.customers']);
  });
});

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['kitten', 'sitting', 3],
    ['customers', 'customer', 1],
  ])('%s ~ %s = %d', (a, b, d) => {
    expect(editDistance(a as string, b as string)).toBe(d);
  });
});
