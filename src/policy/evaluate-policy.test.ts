import { describe, expect, it } from 'vitest';
import type { ExternalResource, QueryAnalysis, StatementAnalysis } from '../analysis/query-analysis.js';
import { BIGQUERY_DIALECT } from '../warehouse/bigquery/bigquery-dialect.js';
import { DUCKDB_DIALECT } from '../warehouse/duckdb/duckdb-dialect.js';
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
  routines: { allow: [], deny: [] },
  destinations: [],
};

function stmt(partial: Partial<StatementAnalysis>): StatementAnalysis {
  return { kind: 'select', nativeType: 'SELECT', text: '', reads: [], writes: [], views: [], ...partial };
}

function q(...statements: StatementAnalysis[]): QueryAnalysis {
  return { dialect: 'duckdb', statements, run: [] };
}

function refusal(analysis: QueryAnalysis, justification: string | null = 'why'): PolicyDeniedError | undefined {
  try {
    evaluatePolicy({ analysis, policy, justification, dialect: DUCKDB_DIALECT });
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
      evaluatePolicy({ analysis: a, policy: wild, justification: null, dialect: BIGQUERY_DIALECT });
    } catch (err) {
      got = (err as PolicyDeniedError).rule;
    }
    expect(got).toBe(rule);
  });

  it.each<[string, string, string[], string | undefined]>([
    ["a denied dataset's metadata", 'p.hr.INFORMATION_SCHEMA.COLUMNS', ['p.hr.*'], 'tables.deny'],
    ['the same in another case (a case-insensitive dataset)', 'p.HR.INFORMATION_SCHEMA.TABLES', ['p.hr.*'], 'tables.deny'],
    ['a dataset glob denying it', 'p.hr_eu.INFORMATION_SCHEMA.VIEWS', ['p.hr*.*'], 'tables.deny'],
    ['a deny of one table leaves the metadata to the read globs', 'p.hr.INFORMATION_SCHEMA.COLUMNS', ['p.hr.salaries'], undefined],
    ["another dataset's metadata", 'p.sales.INFORMATION_SCHEMA.COLUMNS', ['p.hr.*'], undefined],
    ['region metadata under a project-wide deny', 'p.region-us.INFORMATION_SCHEMA.TABLES', ['p.*.*'], 'tables.deny'],
  ])('metadata views: %s', (_what, name, deny, rule) => {
    const meta: Policy = { ...policy, requireJustification: false, tables: { read: ['p.*.INFORMATION_SCHEMA.*'], write: [], deny } };
    let got: string | undefined;
    try {
      evaluatePolicy({ analysis: q(stmt({ reads: [name] })), policy: meta, justification: null, dialect: BIGQUERY_DIALECT });
    } catch (err) {
      got = (err as PolicyDeniedError).rule;
    }
    expect(got).toBe(rule);
  });

  it('allow globs fold case only where the engine does; deny globs wherever it might', () => {
    const upper = q(stmt({ reads: ['DEMO.CRM.CUSTOMERS'] }));
    expect(() => evaluatePolicy({ analysis: upper, policy, justification: 'x', dialect: DUCKDB_DIALECT })).not.toThrow();
    expect(() => evaluatePolicy({ analysis: upper, policy, justification: 'x', dialect: BIGQUERY_DIALECT })).toThrow(/tables.read/);
    // a BigQuery dataset created case-insensitive reads payment_cards for PAYMENT_CARDS: deny holds
    const denied = q(stmt({ reads: ['DEMO.CRM.PAYMENT_CARDS'] }));
    expect(() => evaluatePolicy({ analysis: denied, policy, justification: 'x', dialect: DUCKDB_DIALECT })).toThrow(/tables.deny/);
    expect(() => evaluatePolicy({ analysis: denied, policy, justification: 'x', dialect: BIGQUERY_DIALECT })).toThrow(/tables.deny/);
  });

  describe('routines', () => {
    const withRoutines: Policy = { ...policy, requireJustification: false, routines: { allow: ['demo.udfs.*', 'demo.hr.public_*'], deny: ['demo.udfs.raw_*'] } };
    const call = (...routines: string[]) => q(stmt({ reads: ['demo.analytics.events'], routines }));
    it.each<[string, string[], string | undefined]>([
      ['an allowed function', ['demo.udfs.normalize'], undefined],
      ['no routine at all', [], undefined],
      ['a routine no allow glob names', ['demo.hr.lookup_salary'], 'routines.allow'],
      ['deny wins over allow', ['demo.udfs.raw_salary'], 'routines.deny'],
      ['one bad routine among good ones', ['demo.udfs.normalize', 'demo.hr.lookup_salary'], 'routines.allow'],
    ])('%s', (_what, routines, rule) => {
      let got: string | undefined;
      try {
        evaluatePolicy({ analysis: call(...routines), policy: withRoutines, justification: null, dialect: BIGQUERY_DIALECT });
      } catch (err) {
        got = (err as PolicyDeniedError).rule;
      }
      expect(got).toBe(rule);
    });

    it('refuses every routine when the policy names none (fail closed)', () => {
      expect(() => evaluatePolicy({ analysis: call('demo.udfs.normalize'), policy: { ...policy, requireJustification: false }, justification: null, dialect: BIGQUERY_DIALECT })).toThrow(/routines.allow/);
    });
  });

  describe('destinations', () => {
    const exporting: Policy = {
      ...policy,
      statements: ['select', 'export', 'load'],
      requireJustification: false,
      destinations: ['gs://acme-exports/agents/*', 'gs://acme-exports/deep/**', 'acme.us.exports-conn'],
    };
    const out = (...external: ExternalResource[]) => q(stmt({ kind: 'export', reads: ['demo.analytics.events'], external }));
    it.each<[string, ExternalResource[], boolean]>([
      ['a URI under an allowed prefix', [{ kind: 'uri', value: 'gs://acme-exports/agents/part-*.csv', use: 'export' }], true],
      ['a deeper path with **', [{ kind: 'uri', value: 'gs://acme-exports/deep/a/b/c-*.json', use: 'export' }], true],
      ['a listed connection, in any case', [{ kind: 'connection', value: 'ACME.US.exports-conn', use: 'connection' }], true],
      ['a bucket case-insensitively', [{ kind: 'uri', value: 'GS://ACME-EXPORTS/agents/x-*.csv', use: 'export' }], true],
      ['another bucket', [{ kind: 'uri', value: 'gs://attacker-bucket/agents/x-*.csv', use: 'export' }], false],
      ['a sub-folder where * stops at /', [{ kind: 'uri', value: 'gs://acme-exports/agents/sub/x-*.csv', use: 'export' }], false],
      ['a prefix trick on the bucket name', [{ kind: 'uri', value: 'gs://acme-exports-evil/agents/x-*.csv', use: 'export' }], false],
      ['another scheme', [{ kind: 'uri', value: 's3://acme-exports/agents/x-*.csv', use: 'export' }], false],
      ['an object path differing in case', [{ kind: 'uri', value: 'gs://acme-exports/AGENTS/x-*.csv', use: 'export' }], false],
      ['another connection', [{ kind: 'connection', value: 'acme.us.other', use: 'connection' }], false],
      ['a URI given where only a connection is listed', [{ kind: 'uri', value: 'acme.us.exports-conn', use: 'load' }], false],
      ['one bad destination among good ones', [{ kind: 'uri', value: 'gs://acme-exports/agents/a-*.csv', use: 'export' }, { kind: 'connection', value: 'acme.us.other', use: 'connection' }], false],
    ])('%s', (_what, external, allowed) => {
      const run = () => evaluatePolicy({ analysis: out(...external), policy: exporting, justification: null, dialect: BIGQUERY_DIALECT });
      if (allowed) expect(run).not.toThrow();
      else expect(run).toThrow(/rule destinations/);
    });

    it('refuses every destination when the policy lists none (fail closed), even with the kind allowed', () => {
      const none: Policy = { ...exporting, destinations: [] };
      let err: PolicyDeniedError | undefined;
      try {
        evaluatePolicy({ analysis: out({ kind: 'uri', value: 'gs://acme-exports/agents/a-*.csv', use: 'export' }), policy: none, justification: null, dialect: BIGQUERY_DIALECT });
      } catch (e) {
        err = e as PolicyDeniedError;
      }
      expect(err?.rule).toBe('destinations');
      expect(err?.hint).toMatch(/lists no destinations/);
    });
  });
});
