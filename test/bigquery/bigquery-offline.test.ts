/**
 * Black-box: `hoopq explain --offline` on a BigQuery deployment with no Google endpoint
 * reachable and no credential file: analysis and policy alone, as the contract says ("skips
 * every call to the warehouse"). Endpoints point at a closed local port, so any call would fail.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hoopqAsync } from '../cli/cli-harness.js';

/** A local port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('explain --offline on BigQuery, with no Google reachable', () => {
  let dir: string;
  const explain = (sql: string, extra: string[] = []) => hoopqAsync(['explain', '--offline', '--policy', 'agent', ...extra, sql], { env: { HOOPQ_CONFIG: join(dir, 'hoopq.yaml') }, cwd: dir });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hoopq-offline-'));
    const down = `http://127.0.0.1:${await closedPort()}`;
    mkdirSync(join(dir, 'policies'));
    writeFileSync(
      join(dir, 'hoopq.yaml'),
      ['warehouse:', '  kind: bigquery', '  project: acme', '  credentials: ./missing-key.json', `  api_endpoint: ${down}`, `  iam_endpoint: ${down}`, '  default_project: acme', '  default_dataset: sales', 'policies: ./policies', 'audit: ./audit.jsonl', 'keys: ./.hoopq/keys', ''].join('\n'),
    );
    writeFileSync(
      join(dir, 'policies', 'agent.yaml'),
      [
        'name: agent',
        'statements: [select]',
        'tables:',
        '  read: ["acme.sales.*", "acme.region-us.INFORMATION_SCHEMA.JOBS_BY_USER"]',
        '  deny: ["acme.hr.*", "acme.sales.INFORMATION_SCHEMA.*"]',
        'columns:',
        '  "acme.sales.*.email": hash',
        '  "acme.sales.customers.address.email": redact',
        'impersonate: agent@ops.iam.gserviceaccount.com',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decides from analysis and policy alone, and says what it could not resolve', async () => {
    const r = await explain('SELECT c.email, o.total FROM customers c JOIN sales.orders o ON o.cid = c.id');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e).toMatchObject({ decision: 'allow', statements: ['select'], tables: { read: ['acme.sales.customers', 'acme.sales.orders'], write: [] } });
    // masks by name: what would apply if those columns exist
    expect(e.masks).toEqual({
      'acme.sales.customers.email': 'hash',
      'acme.sales.customers.address.email': 'redact',
      'acme.sales.orders.email': 'hash',
    });
    expect(e.unresolved).toEqual({ views: ['acme.sales.customers', 'acme.sales.orders'], columns: ['acme.sales.customers', 'acme.sales.orders'] });
    expect(e.dry_run).toBeUndefined();
  });

  it.each([
    ['a denied table', 'SELECT * FROM acme.hr.salaries', 'tables.deny'],
    ['a table no rule names', 'SELECT * FROM acme.finance.ledger', 'tables.read'],
    ['a routine the policy does not allow', 'SELECT acme.hr.lookup(1)', 'routines.allow'],
    ['metadata the policy denies', 'SELECT * FROM `acme.sales.INFORMATION_SCHEMA.TABLES`', 'tables.deny'],
  ])('refuses %s offline with the rule', async (_what, sql, rule) => {
    const r = await explain(sql);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision: 'deny', rule });
  });

  it('allows region-qualified INFORMATION_SCHEMA views by a four-part glob', async () => {
    const r = await explain('SELECT job_id FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_USER');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ decision: 'allow', tables: { read: ['acme.region-us.INFORMATION_SCHEMA.JOBS_BY_USER'] } });
  });

  it('without --offline the same command needs Google, and says so (exit 3: the credential file is missing)', async () => {
    const r = await hoopqAsync(['explain', '--policy', 'agent', 'SELECT id FROM customers'], { env: { HOOPQ_CONFIG: join(dir, 'hoopq.yaml') }, cwd: dir });
    expect(r.code).toBe(3);
  });
});
