import { describe, expect, it } from 'vitest';
import { diffPolicies } from './diff-policies.js';
import type { Policy } from './policy.js';

const base: Policy = {
  name: 'analyst',
  sha256: 'a'.repeat(64),
  file: '/p/analyst.yaml',
  statements: ['select'],
  tables: { read: ['demo.analytics.*'], write: [], deny: ['demo.crm.payment_cards'] },
  columns: { 'demo.crm.customers.email': 'hash', 'demo.crm.customers.phone': 'partial' },
  detect: ['email'],
  limits: { maxRows: 1000, timeoutMs: 60_000 },
  requireJustification: true,
  identity: [{ issuer: 'https://issuer.example', claims: { repository: 'acme/ml' } }],
  allowExternalQuery: false,
  routines: { allow: ['acme.udfs.*'], deny: [] },
  destinations: ['gs://acme-exports/agents/*'],
};

const change = (edit: (p: Policy) => void): Policy => {
  const p = structuredClone(base);
  p.sha256 = 'b'.repeat(64);
  edit(p);
  return p;
};

describe('diffPolicies', () => {
  it.each<[string, (p: Policy) => void, 'grants' | 'takes_away' | 'other', string]>([
    ['a statement kind added', (p) => p.statements.push('insert'), 'grants', 'statements: may run insert statements'],
    ['a statement kind removed', (p) => (p.statements = []), 'takes_away', 'statements: may no longer run select statements'],
    ['a read glob added', (p) => p.tables.read.push('demo.crm.customers'), 'grants', 'tables.read: may read demo.crm.customers'],
    ['a read glob removed', (p) => (p.tables.read = []), 'takes_away', 'tables.read: may no longer read demo.analytics.* (unless another read glob covers it)'],
    ['a write glob added', (p) => p.tables.write.push('demo.scratch.*'), 'grants', 'tables.write: may write demo.scratch.*'],
    ['a deny glob removed', (p) => (p.tables.deny = []), 'grants', 'tables.deny: no longer denies demo.crm.payment_cards'],
    ['a deny glob added', (p) => p.tables.deny.push('demo.analytics.raw'), 'takes_away', 'tables.deny: denies demo.analytics.raw, for reading and writing'],
    ['a mask removed', (p) => delete p.columns['demo.crm.customers.email'], 'grants', 'columns: no longer masks demo.crm.customers.email (was hash): values are returned in clear'],
    ['a mask added', (p) => (p.columns['demo.crm.customers.ssn'] = 'redact'), 'takes_away', 'columns: masks demo.crm.customers.ssn (redact)'],
    ['partial -> hash is stronger', (p) => (p.columns['demo.crm.customers.phone'] = 'hash'), 'takes_away', 'columns: masks demo.crm.customers.phone more strongly: partial -> hash'],
    ['hash -> partial is weaker', (p) => (p.columns['demo.crm.customers.email'] = 'partial'), 'grants', 'columns: masks demo.crm.customers.email more weakly: hash -> partial'],
    ['redact -> null is stronger', (p) => { p.columns['demo.crm.customers.email'] = 'redact'; p.columns['demo.crm.customers.phone'] = 'null'; }, 'takes_away', 'columns: masks demo.crm.customers.phone more strongly: partial -> null'],
    ['a detector removed', (p) => (p.detect = []), 'grants', 'detect: no longer scans returned text for email'],
    ['max_rows raised', (p) => (p.limits.maxRows = 5000), 'grants', 'limits: max_rows: raised from 1,000 rows to 5,000 rows'],
    ['timeout lowered', (p) => (p.limits.timeoutMs = 1500), 'takes_away', 'limits: timeout: lowered from 60s to 1500ms'],
    ['a limit added', (p) => (p.limits.maxQueries = 10), 'takes_away', 'limits: max_queries: limited to 10 queries per run (was unlimited)'],
    ['a limit dropped', (p) => delete p.limits.maxRows, 'grants', 'limits: max_rows: no limit (was 1,000 rows)'],
    ['justification no longer needed', (p) => (p.requireJustification = false), 'grants', 'require_justification: queries no longer need a justification'],
    ['an identity rule added', (p) => p.identity.push({ issuer: 'https://gitlab.example', claims: { project_path: 'acme/ml' } }), 'grants', 'identity: OIDC tokens may be exchanged for this policy from issuer https://gitlab.example with project_path=acme/ml'],
    ['an identity rule removed', (p) => (p.identity = []), 'takes_away', 'identity: OIDC tokens may no longer be exchanged from issuer https://issuer.example with repository=acme/ml'],
    ['external queries allowed', (p) => (p.allowExternalQuery = true), 'grants', 'allow_external_query: EXTERNAL_QUERY federated reads are allowed'],
    ['a routine glob added', (p) => p.routines.allow.push('acme.hr.*'), 'grants', 'routines.allow: may call routines acme.hr.*'],
    ['a routine glob removed', (p) => (p.routines.allow = []), 'takes_away', 'routines.allow: may no longer call routines acme.udfs.* (unless another allow glob covers them)'],
    ['a routine deny added', (p) => p.routines.deny.push('acme.udfs.raw_*'), 'takes_away', 'routines.deny: denies routines acme.udfs.raw_*'],
    ['a destination added', (p) => p.destinations.push('gs://elsewhere/**'), 'grants', 'destinations: data may be exported to or loaded from gs://elsewhere/**'],
    ['a destination removed', (p) => (p.destinations = []), 'takes_away', 'destinations: data may no longer be exported to or loaded from gs://acme-exports/agents/*'],
    ['another service account', (p) => (p.impersonate = 'b@x.iam.gserviceaccount.com'), 'other', 'impersonate: BigQuery queries run as b@x.iam.gserviceaccount.com instead of (nobody); what that account may read decides'],
  ])('%s', (_what, edit, side, line) => {
    const diff = diffPolicies(base, change(edit));
    const all = { grants: diff.grants, takes_away: diff.takes_away, other: diff.other };
    expect(all[side].map((i) => `${i.area}: ${i.text}`)).toContain(line);
    // nothing is reported on the other side for a one-sided change
    for (const other of (['grants', 'takes_away', 'other'] as const).filter((s) => s !== side)) {
      expect(all[other].filter((i) => i.area === all[side].find((x) => `${x.area}: ${x.text}` === line)!.area)).toEqual([]);
    }
  });

  it('an unchanged policy has nothing to report', () => {
    const diff = diffPolicies(base, structuredClone(base));
    expect([diff.grants, diff.takes_away, diff.other]).toEqual([[], [], []]);
  });
});
