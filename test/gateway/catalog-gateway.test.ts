/**
 * Black-box: `hoopq ls` and `hoopq show` through `hoopq gateway` (GET /v1/tables, GET
 * /v1/table) print byte for byte what direct mode prints for the same token — listings
 * filtered by policy, masks marked, refusals with the same line and exit code — and the
 * routes themselves refuse what they do not understand.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoInMode, hoopqAsync, type CliResult, type Demo } from '../cli/cli-harness.js';

let demo: Demo;
let url: string;
let analyst: string;

beforeAll(async () => {
  demo = await createDemoInMode('gateway');
  url = demo.gateway!.url;
  analyst = demo.mint('analyst-agent', 'catalog-gw');
});

afterAll(async () => {
  await demo?.close();
  if (demo) rmSync(demo.dir, { recursive: true, force: true });
});

describe('ls and show through the gateway = direct mode', () => {
  const cases: Array<[string, string[], 'analyst' | 'none']> = [
    ['ls datasets, json', ['ls', '--format=json'], 'analyst'],
    ['ls colon form, json', ['ls', 'demo:crm', '--format=json'], 'analyst'],
    ['ls a dataset with a view over a denied table', ['ls', 'analytics'], 'analyst'],
    ['ls without a token', ['ls', 'crm'], 'none'],
    ['show', ['show', 'crm.customers'], 'analyst'],
    ['show a view, colon form, json', ['show', 'demo:crm.customer_directory', '--format=json'], 'analyst'],
    ['show a denied table', ['show', 'demo:crm.payment_cards'], 'analyst'],
    ['show a denied table, machine errors', ['show', 'crm.payment_cards', '--format=json'], 'analyst'],
  ];
  const results = new Map<string, { remote: CliResult; direct: CliResult }>();

  it('stdout, stderr and exit code match for every case', async () => {
    // all at once: each case is two process spawns, which is what takes the time
    await Promise.all(
      cases.map(async ([name, args, who]) => {
        const env = who === 'analyst' ? { HOOPQ_TOKEN: analyst } : {};
        const [remote, direct] = await Promise.all([demo.runAsync(args, { env }), hoopqAsync(args, { cwd: demo.dir, env: { HOOPQ_CONFIG: demo.config, ...env } })]);
        results.set(name, { remote, direct });
      }),
    );
    for (const [name, { remote, direct }] of results) {
      expect(remote.stderr, name).toBe(direct.stderr);
      expect(remote.stdout, name).toBe(direct.stdout);
      expect(remote.code, name).toBe(direct.code);
    }
    expect(new Set([...results.values()].map((r) => r.direct.code))).toEqual(new Set([0, 4, 5]));
  });

  it('the listing never names a denied table, and masks are marked', () => {
    const ls = results.get('ls colon form, json')!.remote;
    expect(ls.code).toBe(0);
    expect(ls.stdout).not.toContain('payment_cards');
    const customers = JSON.parse(ls.stdout).find((t: { id: string }) => t.id === 'demo:crm.customers');
    expect(customers.masked_columns).toEqual({ email: 'hash', phone: 'partial', ssn: 'redact' });
    expect(results.get('ls a dataset with a view over a denied table')!.remote.stdout).not.toContain('card_spend');
    const denied = results.get('show a denied table')!.remote;
    expect(denied.code).toBe(5);
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toContain('rule tables.deny "demo.crm.payment_cards"');
    expect(denied.stderr).not.toContain('card_number');
  });

  it('requests are recorded by the gateway with via "gateway", and the log verifies', () => {
    const records = demo.auditRecords().filter((r) => r.via === 'gateway' && String(r.event).startsWith('catalog.'));
    expect(records.some((r) => r.event === 'catalog.list' && r.command === 'ls' && r.decision === 'allow' && r.run === 'catalog-gw')).toBe(true);
    expect(records.some((r) => r.event === 'catalog.describe' && r.command === 'show' && r.decision === 'deny' && r.rule === 'tables.deny')).toBe(true);
    expect(JSON.stringify(demo.auditRecords()).includes(analyst)).toBe(false);
    expect(demo.admin(['audit', 'verify']).code).toBe(0);
  });
});

describe('GET /v1/tables and /v1/table', () => {
  const get = (path: string, bearer?: string) => fetch(url + path, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });

  it('answer the pipeline\'s listing and description as JSON', async () => {
    const list = await get('/v1/tables?dataset=demo%3Acrm', analyst);
    expect(list.status).toBe(200);
    const listing = (await list.json()) as { policy: string; dataset: string; tables: Array<{ name: string }> };
    expect(listing.policy).toBe('analyst-agent');
    expect(listing.dataset).toBe('demo.crm');
    expect(listing.tables.map((t) => t.name).sort()).toEqual(['demo.crm.customer_directory', 'demo.crm.customers']);
    const one = await get('/v1/table?name=crm.customers', analyst);
    expect(one.status).toBe(200);
    expect(((await one.json()) as { table: string }).table).toBe('demo.crm.customers');
  });

  it.each([
    ['/v1/tables', undefined, 401, 4],
    ['/v1/table?name=crm.payment_cards', 'analyst', 403, 5],
    ['/v1/table', 'analyst', 400, 2],
    ['/v1/table?name=a&name=b', 'analyst', 400, 2],
    ['/v1/tables?dataset=crm&limit=5', 'analyst', 400, 2],
    ['/v1/table?name=' + 'x'.repeat(400), 'analyst', 400, 2],
  ])('%s -> %s', async (path, who, status, exit) => {
    const res = await get(path, who ? analyst : undefined);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { exit: number } };
    expect(body.error.exit).toBe(exit);
  });

  it('accept only GET', async () => {
    const res = await fetch(url + '/v1/tables', { method: 'POST', headers: { authorization: `Bearer ${analyst}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });
});
