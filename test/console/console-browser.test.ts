/**
 * The console in a real browser (Debian's Chromium, headless, driven by playwright-core)
 * against a real `hoopq gateway`: an operator signs in with a personal key, another through
 * the OIDC provider; a query held for approval waits while the agent runs `hoopq query
 * --wait`; the requester's own approval is refused (four-eyes); the second operator's approval
 * lets the agent's query run and return its rows; the audit trail names every step; a query
 * is watched arriving in the live feed; a long-running query is revoked with one click and
 * ends within 2 s. With HOOPQ_CONSOLE_SCREENSHOTS=DIR the main pages are saved as PNGs there
 * (docs/console.md uses them).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hoopqAsync } from '../cli/cli-harness.js';
import { CHROMIUM, CHROMIUM_ARGS, HAS_CHROMIUM, HELD_POLICY, startConsoleFixture, type ConsoleFixture } from './console-harness.js';

const SHOTS = process.env.HOOPQ_CONSOLE_SCREENSHOTS;
let fx: ConsoleFixture;
let browser: Browser;

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(fx.url + '/metrics')).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function agent(args: string[], token: string, env: Record<string, string> = {}) {
  return hoopqAsync(args, { env: { HOOPQ_GATEWAY: fx.url, HOOPQ_TOKEN: token, ...env } });
}

async function signInWithKey(key: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  await page.goto(fx.url + '/console');
  expect(new URL(page.url()).pathname).toBe('/console/login');
  await page.getByLabel('Your personal operator key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(fx.url + '/console');
  return page;
}

async function signInWithSso(login: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  await page.goto(fx.url + '/console/login');
  await shot(page, 'console-login');
  await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
  await page.getByLabel('Login').fill(login);
  await page.getByRole('button', { name: 'Sign in to the fake IdP' }).click();
  await page.waitForURL(fx.url + '/console');
  return page;
}

describe.skipIf(!HAS_CHROMIUM)('the console in headless Chromium', () => {
  beforeAll(async () => {
    fx = await startConsoleFixture();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fx?.stop();
  });

  it('a held query waits; the requester may not approve it; a second operator approves it from the console and the agent gets its rows', async () => {
    const token = fx.demo.mint(HELD_POLICY, 'browser-approval', ['--subject', 'alice@example.com']);
    const waiting = agent(['query', '--wait', '--format', 'json', 'SELECT count(*) AS n FROM analytics.events'], token);
    const requested = await until('the request', () => fx.demo.auditRecords().find((r) => r.event === 'approval.requested' && r.run === 'browser-approval'));
    const id = requested.approval.id as string;

    const alice = await signInWithKey(fx.aliceKey);
    await expect(alice.locator('[data-operator]').textContent()).resolves.toBe('alice@example.com');
    const row = alice.locator(`tr[data-request="${id}"]`);
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('event-reads');
    await expect(row.textContent()).resolves.toContain('You made this request');
    await shot(alice, 'console-overview');
    await row.getByLabel('Reason').fill('I asked for it myself');
    await row.getByRole('button', { name: 'Approve' }).click();
    await alice.waitForURL(fx.url + '/console');
    await expect(alice.getByRole('alert').textContent()).resolves.toMatch(/may not approve it \(four-eyes/);
    expect(fx.demo.auditRecords().some((r) => r.event === 'approval.review_refused' && r.code === 'approval.self_approval' && r.approval.id === id)).toBe(true);
    expect(fx.demo.auditRecords().some((r) => r.event === 'approval.approved' && r.approval.id === id)).toBe(false);

    const bob = await signInWithSso('bob');
    await expect(bob.locator('[data-operator]').textContent()).resolves.toBe('bob@example.com');
    const bobRow = bob.locator(`tr[data-request="${id}"]`);
    await bobRow.getByLabel('Reason').fill('event counts are fine');
    await bobRow.getByRole('button', { name: 'Approve' }).click();
    await bob.waitForURL(fx.url + '/console');
    await expect(bob.getByRole('status').first().textContent()).resolves.toContain(`${id} approved by bob@example.com`);

    const result = await waiting;
    expect(result.stderr).toContain(`waiting for an operator to approve ${id}`);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{ n: string }>;
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);

    const trail = fx.demo.auditRecords().filter((r) => r.approval?.id === id);
    expect(trail.map((r) => r.event)).toEqual(['approval.requested', 'approval.review_refused', 'approval.approved', 'approval.executed', 'query.intent', 'query']);
    const approved = trail.find((r) => r.event === 'approval.approved')!;
    expect(approved).toMatchObject({ decision: 'allow', reason: 'event counts are fine', operator: { name: 'bob@example.com', auth: 'oidc', via: 'console' }, approval: { requested_by: 'alice@example.com', requested_in: requested.id } });
    const outcome = trail.at(-1)!;
    expect(outcome).toMatchObject({ event: 'query', decision: 'allow', rows: 1, token_id: requested.token_id, policy: { sha256: requested.policy.sha256 }, approval: { id, use: 1, of: 1, approved_by: 'bob@example.com' } });
    expect(outcome.sql).toBe(requested.sql);
    const verify = await hoopqAsync(['audit', 'verify'], { cwd: fx.demo.dir, env: { HOOPQ_CONFIG: fx.demo.config } });
    expect(verify.code).toBe(0);

    // the same query again is a new request: the approval was for one run
    const again = await agent(['query', '--format', 'json', 'SELECT count(*) AS n FROM analytics.events'], token);
    expect(again.code).toBe(11);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'pending', new: true });
  }, 120_000);

  it('shows a query arriving in the live feed, and its detail without literals', async () => {
    const page = await signInWithKey(fx.aliceKey);
    await page.waitForTimeout(300); // the feed's stream is open
    const token = fx.demo.mint('analyst-agent', 'browser-feed');
    const done = await agent(['query', '--format', 'json', "SELECT count(*) AS n FROM crm.customers WHERE city = 'Zzyzx-literal'"], token, { HOOPQ_JUSTIFICATION: 'feed test' });
    expect(done.code).toBe(0);
    const record = fx.demo.auditRecords().filter((r) => r.event === 'query' && r.run === 'browser-feed').at(-1)!;
    const live = page.locator(`#feed-rows tr[data-record="${record.id}"]`);
    await live.waitFor({ timeout: 10_000 });
    await expect(live.textContent()).resolves.toContain('browser-feed');
    await live.getByRole('link').click();
    await page.waitForURL(/\/console\/record\?id=/);
    const text = (await page.locator('main').textContent())!;
    expect(text).toContain(`seq ${record.seq}`);
    expect(text).toContain(record.hash);
    expect(text).toMatch(/Log verifies\s*yes/);
    expect(text).toContain('demo.crm.customers');
    expect(await page.content()).not.toContain('Zzyzx-literal');
    await shot(page, 'console-record');
  }, 90_000);

  it('revokes a running query with one click; it ends within 2 s', async () => {
    const page = await signInWithKey(fx.aliceKey);
    const token = fx.demo.mint('analyst-agent', 'browser-slow');
    const running = agent(['query', '--format', 'json', 'SELECT count(*) AS n FROM range(200000) a, range(200000) b WHERE a.range + b.range = -1'], token, { HOOPQ_JUSTIFICATION: 'slow' });
    await until('the query to run', async () => (await metric('hoopq_gateway_queries_in_flight')) >= 1);
    const row = page.locator('tr[data-run="browser-slow"]');
    await until('the run to show in flight', async () => {
      if ((await row.locator('[data-in-flight]').count()) > 0) return true;
      await page.reload();
      return undefined;
    });
    await shot(page, 'console-runs-in-flight');
    await row.getByRole('button', { name: 'Revoke run browser-slow' }).click();
    const revokedAt = Date.now();
    await page.waitForURL(fx.url + '/console');
    // measured at the gateway (its in-flight gauge), as the CLI's own test of revocation is
    await until('the query to end', async () => (await metric('hoopq_gateway_queries_in_flight')) === 0, 20_000);
    const tookMs = Date.now() - revokedAt;
    const r = await running;
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/revoked while its query was running/);
    expect(tookMs).toBeLessThan(2_000);
    await expect(page.getByRole('status').first().textContent()).resolves.toContain('run browser-slow revoked');
    const revoke = fx.demo.auditRecords().find((x) => x.event === 'token.revoke' && x.run === 'browser-slow')!;
    expect(revoke).toMatchObject({ via: 'console', revoked_by: { name: 'alice@example.com', via: 'console' } });
    expect(fx.demo.auditRecords().filter((x) => x.event === 'query' && x.run === 'browser-slow').at(-1)).toMatchObject({ decision: 'deny', code: 'token.revoked' });
  }, 90_000);
});
