import { describe, expect, it } from 'vitest';
import type { QueryAnalysis, StatementAnalysis } from '../analysis/query-analysis.js';
import { PolicyDeniedError } from '../errors.js';
import { evaluatePolicy } from './evaluate-policy.js';
import type { Policy } from './policy.js';

const policy: Policy = {
  name: 'analyst',
  sha256: 'x'.repeat(64),
  file: '/p/analyst.yaml',
  statements: ['select', 'insert'],
  tables: { read: ['demo.analytics.*', 'demo.crm.customers', 'demo.scratch.*'], write: ['demo.scratch.*'], deny: ['demo.crm.payment_cards', 'demo.scratch.secret'] },
  columns: {},
  detect: [],
  limits: {},
  requireJustification: true,
  identity: [],
  allowExternalQuery: false,
};

function stmt(partial: Partial<StatementAnalysis>): StatementAnalysis {
  return { kind: 'select', nativeType: 'SELECT', text: '', reads: [], writes: [], views: [], ...partial };
}

function q(...statements: StatementAnalysis[]): QueryAnalysis {
  return { dialect: 'duckdb', statements };
}

function refusal(analysis: QueryAnalysis, justification: string | null = 'why'): PolicyDeniedError | undefined {
  try {
    evaluatePolicy({ analysis, policy, justification, caseInsensitive: true });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyDeniedError);
    return err as PolicyDeniedError;
  }
}

describe('evaluatePolicy', () => {
  it('allows reads of allowed tables with a justification', () => {
    expect(refusal(q(stmt({ reads: ['demo.analytics.events', 'demo.crm.customers'] })))).toBeUndefined();
  });

  it('allows writes to allowed targets', () => {
    expect(refusal(q(stmt({ kind: 'insert', reads: ['demo.analytics.events'], writes: ['demo.scratch.t'] })))).toBeUndefined();
  });

  it.each<[string, QueryAnalysis, string | null, string]>([
    ['a denied table', q(stmt({ reads: ['demo.crm.payment_cards'] })), 'why', 'tables.deny'],
    ['deny wins over a read glob', q(stmt({ reads: ['demo.scratch.secret'] })), 'why', 'tables.deny'],
    ['deny wins over a write glob', q(stmt({ kind: 'insert', writes: ['demo.scratch.secret'] })), 'why', 'tables.deny'],
    ['a table no rule names', q(stmt({ reads: ['demo.hr.salaries'] })), 'why', 'tables.read'],
    ['a write outside write globs', q(stmt({ kind: 'insert', writes: ['demo.analytics.events'] })), 'why', 'tables.write'],
    ['a statement kind not listed', q(stmt({ kind: 'delete', writes: ['demo.scratch.t'] })), 'why', 'statements'],
    ['one bad statement among good ones', q(stmt({ reads: ['demo.analytics.events'] }), stmt({ kind: 'drop', writes: ['demo.scratch.t'] })), 'why', 'statements'],
    ['engine control even when the kind is allowed', q(stmt({ kind: 'select', engineControl: 'ATTACH' })), 'why', 'engine.control'],
    ['no justification', q(stmt({ reads: ['demo.analytics.events'] })), null, 'require_justification'],
    ['a blank justification', q(stmt({ reads: ['demo.analytics.events'] })), '   ', 'require_justification'],
    ['a denied base table behind a view', q(stmt({ reads: ['demo.analytics.card_view', 'demo.crm.payment_cards'], views: [{ view: 'demo.analytics.card_view', reads: ['demo.crm.payment_cards'] }] })), 'why', 'tables.deny'],
  ])('refuses %s', (_what, analysis, justification, rule) => {
    const err = refusal(analysis, justification);
    expect(err?.rule).toBe(rule);
    expect(err?.exitCode).toBe(5);
    expect(err?.hint).toBeTruthy();
  });

  it('names the table and what is allowed instead', () => {
    const err = refusal(q(stmt({ reads: ['demo.crm.payment_cards'] })))!;
    expect(err.message).toContain('demo.crm.payment_cards');
    expect(err.message).toContain('analyst');
    expect(err.hint).toContain('demo.analytics.*');
  });

  it.each<[string, string[], string[], string | undefined]>([
    ['covered by a dataset glob', ['p.d.*'], [], undefined],
    ['covered by a matching prefix glob', ['p.d.events_*'], [], undefined],
    ['only one expansion allowed', ['p.d.events_2024'], [], 'tables.read'],
    ['a narrower prefix glob does not cover', ['p.d.events_2024*'], [], 'tables.read'],
    ['a deny glob inside the expansion', ['p.d.*'], ['p.d.events_secret'], 'tables.deny'],
    ['a deny glob on another prefix', ['p.d.*'], ['p.d.users_*'], undefined],
  ])('wildcard table p.d.events_*: %s', (_what, read, deny, rule) => {
    const wild: Policy = { ...policy, requireJustification: false, tables: { read, write: [], deny } };
    const a = q(stmt({ reads: ['p.d.events_*'] }));
    let got: string | undefined;
    try {
      evaluatePolicy({ analysis: a, policy: wild, justification: null, caseInsensitive: false });
    } catch (err) {
      got = (err as PolicyDeniedError).rule;
    }
    expect(got).toBe(rule);
  });

  it('matches case-insensitively for DuckDB only', () => {
    const a = q(stmt({ reads: ['DEMO.CRM.PAYMENT_CARDS'] }));
    expect(() => evaluatePolicy({ analysis: a, policy, justification: 'x', caseInsensitive: true })).toThrow(/tables.deny/);
    expect(() => evaluatePolicy({ analysis: a, policy, justification: 'x', caseInsensitive: false })).toThrow(/tables.read/);
  });
});
