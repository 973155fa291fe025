import { describe, expect, it } from 'vitest';
import type { PolicyTestExpectation } from '../policy/policy-test-schema.js';
import type { OfflineDecision } from './decide-offline.js';
import { compareWithExpectation } from './run-policy-tests.js';

const allowed: OfflineDecision = {
  decision: 'allow',
  exit_code: 0,
  rule: null,
  code: null,
  reason: null,
  hint: null,
  table: null,
  statements: ['select'],
  tables: { read: ['demo.crm.customers', 'demo.crm.directory'], write: [] },
  masks: { 'demo.crm.customers.email': 'hash' },
};
const denied: OfflineDecision = {
  ...allowed,
  decision: 'deny',
  exit_code: 5,
  rule: 'tables.deny',
  code: 'policy.table_denied',
  reason: 'refused: reading demo.crm.payment_cards is denied',
  table: 'demo.crm.payment_cards',
  masks: {},
};

describe('compareWithExpectation', () => {
  it.each<[string, PolicyTestExpectation, OfflineDecision, string[]]>([
    ['decision only, met', { decision: 'allow' }, allowed, []],
    ['decision only, missed', { decision: 'deny' }, allowed, ['decision']],
    ['keys left out are not checked', { decision: 'deny' }, denied, []],
    ['rule, code and exit code met', { decision: 'deny', rule: 'tables.deny', code: 'policy.table_denied', exit_code: 5 }, denied, []],
    ['rule null when allowed', { decision: 'allow', rule: null, code: null, exit_code: 0 }, allowed, []],
    ['wrong rule and exit code', { decision: 'deny', rule: 'statements', exit_code: 6 }, denied, ['exit_code', 'rule']],
    ['reason_includes met', { decision: 'deny', reason_includes: 'payment_cards' }, denied, []],
    ['reason_includes on an allowed query', { decision: 'allow', reason_includes: 'x' }, allowed, ['reason_includes']],
    ['tables in any order', { decision: 'allow', tables: { read: ['demo.crm.directory', 'demo.crm.customers'], write: [] } }, allowed, []],
    ['a table missing', { decision: 'allow', tables: { read: ['demo.crm.customers'] } }, allowed, ['tables.read']],
    ['masks exact', { decision: 'allow', masks: { 'demo.crm.customers.email': 'hash' } }, allowed, []],
    ['masks: {} means none', { decision: 'allow', masks: {} }, allowed, ['masks']],
    ['a mask with another method', { decision: 'allow', masks: { 'demo.crm.customers.email': 'redact' } }, allowed, ['masks']],
    ['statements as a set', { decision: 'allow', statements: ['select', 'select'] }, allowed, []],
  ])('%s', (_what, expectation, actual, fields) => {
    expect(compareWithExpectation(expectation, actual).map((m) => m.field)).toEqual(fields);
  });
});
