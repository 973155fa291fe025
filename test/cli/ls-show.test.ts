/**
 * Black-box: `hoopq ls` and `hoopq show` (bq's colon and dotted forms) on the quickstart
 * demo: filtered by the token's policy (denied tables, tables no read pattern names and
 * views over denied tables are never shown), masked columns marked, refusals as for query.
 * Also: `--parameter name:type:value` reaches DuckDB as a bound parameter.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo, type Demo } from './cli-harness.js';

let demo: Demo;
let analyst: string;
let writer: string;

beforeAll(() => {
  demo = createDemo();
  analyst = demo.mint('analyst-agent', 'bb-ls');
  writer = demo.mint('scratch-writer', 'bb-ls-writer');
});

afterAll(() => {
  rmSync(demo.dir, { recursive: true, force: true });
});

function run(args: string[], token: string | null = analyst) {
  return demo.run(args, { env: token ? { HOOPQ_TOKEN: token } : {} });
}

function tableIds(stdout: string): string[] {
  return (JSON.parse(stdout) as Array<{ tableReference: { tableId: string } }>).map((t) => t.tableReference.tableId).sort();
}

describe('hoopq ls', () => {
  it('without a dataset lists the datasets holding a readable table', () => {
    const r = run(['ls', '--format=json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { kind: 'bigquery#dataset', id: 'demo:analytics', datasetReference: { projectId: 'demo', datasetId: 'analytics' } },
      { kind: 'bigquery#dataset', id: 'demo:crm', datasetReference: { projectId: 'demo', datasetId: 'crm' } },
    ]);
    // a dataset no read rule of the policy reaches is refused, never listed as empty
    const none = run(['ls', 'crm', '--format=json'], writer);
    expect(none.code).toBe(5);
    expect(JSON.parse(none.stderr)).toMatchObject({ code: 'policy.dataset_not_allowed', rule: 'tables.read' });
    expect(JSON.parse(run(['ls', '--format=json'], writer).stdout).map((d: { id: string }) => d.id)).toEqual(['demo:analytics']);
  });

  it.each([['demo:crm'], ['DEMO.CRM']])('%s: the readable tables, never payment_cards, masks marked', (ref) => {
    const r = run(['ls', ref, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const tables = JSON.parse(r.stdout);
    expect(tableIds(r.stdout)).toEqual(['customer_directory', 'customers']);
    const customers = tables.find((t: { id: string }) => t.id === 'demo:crm.customers');
    expect(customers).toMatchObject({ type: 'TABLE', tableReference: { projectId: 'demo', datasetId: 'crm', tableId: 'customers' } });
    expect(customers.masked_columns).toEqual({ email: 'hash', phone: 'partial', ssn: 'redact' });
    expect(tables.find((t: { id: string }) => t.id === 'demo:crm.customer_directory').type).toBe('VIEW');
    expect(r.stdout).not.toContain('payment_cards');
  });

  it('hides a view in an allowed dataset that reads a denied table', () => {
    const r = run(['ls', 'analytics']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('events');
    expect(r.stdout).toContain('daily_events');
    expect(r.stdout).not.toContain('card_spend');
    expect(r.stdout).toMatch(/tableId.*Type.*Masked columns/);
  });

  it('--max_results / -n cut the listing (bq spelling)', () => {
    expect(tableIds(run(['ls', 'crm', '--format=json', '--max_results=1']).stdout)).toHaveLength(1);
    expect(tableIds(run(['ls', 'crm', '--format=json', '-n', '1']).stdout)).toHaveLength(1);
  });

  it('needs a token (exit 4) and refuses a malformed dataset (exit 2)', () => {
    const none = run(['ls', 'crm'], null);
    expect(none.code).toBe(4);
    expect(none.stdout).toBe('');
    expect(run(['ls', 'a:b:c']).code).toBe(2);
  });

  it('is recorded in the audit log', () => {
    run(['ls', 'demo:analytics']);
    const rec = demo.auditRecords().filter((r) => r.event === 'catalog.list' && r.dataset === 'demo.analytics').pop();
    expect(rec).toMatchObject({ decision: 'allow', run: 'bb-ls', command: 'ls', via: 'cli', rows: 2 });
  });
});

describe('hoopq show', () => {
  it.each([['demo:crm.customers'], ['crm.customers'], ['`customers`']])('%s: columns, types and masks (bq json shape)', (ref) => {
    const r = run(['show', ref, '--format=json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = JSON.parse(r.stdout);
    expect(t.id).toBe('demo:crm.customers');
    expect(t.type).toBe('TABLE');
    expect(t.schema.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'name', 'email', 'phone', 'ssn', 'city', 'notes', 'created_at']);
    expect(t.schema.fields.find((f: { name: string }) => f.name === 'email')).toEqual({ name: 'email', type: 'STRING', mode: 'NULLABLE', mask: 'hash' });
    expect(t.schema.fields.find((f: { name: string }) => f.name === 'id')).toEqual({ name: 'id', type: 'INTEGER', mode: 'NULLABLE' });
    expect(t.schema.fields.find((f: { name: string }) => f.name === 'name').mask).toBeUndefined();
    expect(t.hoopq.masked_columns).toEqual({ email: 'hash', phone: 'partial', ssn: 'redact' });
  });

  it('pretty: a table with a mask column', () => {
    const r = run(['show', 'demo:crm.customers']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Table demo:crm.customers (policy analyst-agent)');
    expect(r.stdout).toMatch(/\| email +\| VARCHAR +\| hash +\|/);
    expect(r.stdout).toContain('returned text is scanned for: email, phone, credit_card, us_ssn');
  });

  it('a view: masks at its source tables', () => {
    const r = run(['show', 'crm.customer_directory', '--format=json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).hoopq.masked_at_source).toMatchObject({ 'demo.crm.customers.email': 'hash' });
  });

  it.each([
    ['a denied table', 'demo:crm.payment_cards', 5, 'rule tables.deny "demo.crm.payment_cards"'],
    ['a denied table, dotted and re-cased', 'CRM.Payment_Cards', 5, 'rule tables.deny'],
    ['a view over a denied table', 'analytics.card_spend', 5, 'demo.crm.payment_cards'],
    ['a table no read pattern names', 'scratch.anything', 5, 'rule tables.read'],
    ['a missing table in an allowed dataset', 'analytics.evnts', 6, 'You may read instead: demo.analytics.events'],
  ])('%s (%s): refused like a query, with what to do instead', (_what, ref, code, text) => {
    const r = run(['show', ref]);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(text);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toContain('card_number');
  });

  it('json errors with --format json', () => {
    const r = run(['show', 'crm.payment_cards', '--format', 'json']);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stderr)).toMatchObject({ code: 'policy.table_denied', rule: 'tables.deny', exit: 5 });
  });
});

describe('query --parameter', () => {
  it('binds name:type:value as a DuckDB parameter', () => {
    const r = demo.run(['query', '--format=json', '--parameter', 'max_id:INT64:3', '--parameter', 'kind::signup', 'SELECT id FROM analytics.events WHERE id <= $max_id AND event_type <> $kind ORDER BY id'], {
      env: { HOOPQ_TOKEN: analyst, HOOPQ_JUSTIFICATION: 'test' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ids = (JSON.parse(r.stdout) as Array<{ id: number }>).map((x) => x.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id <= 3)).toBe(true);
  });
});
