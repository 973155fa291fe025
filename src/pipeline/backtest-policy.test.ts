/**
 * backtestPolicy on a real DuckDB warehouse (the quickstart's) and a hand-written log: which
 * records are replayed (outcomes; an intent only when its outcome is missing), which are
 * skipped and why, how a recorded decision reads (exit 7 = the policy allowed it), and that a
 * decision is shared only between records that would get the same one (the justification
 * counts).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSqlSealKey, sealSql } from '../audit/seal-sql.js';
import type { Policy } from '../policy/policy.js';
import { createDemoWarehouse } from '../quickstart/create-demo-warehouse.js';
import { openWarehouse } from '../warehouse/open-warehouse.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { backtestPolicy, type BacktestReport } from './backtest-policy.js';
import { MemoizingWarehouse } from './memoizing-warehouse.js';

const dir = mkdtempSync(join(tmpdir(), 'hoopq-backtest-'));
const names = { defaultProject: 'demo', defaultDataset: 'crm' };
let inner: Warehouse;
const key = loadOrCreateSqlSealKey(join(dir, 'keys'));

const recorded: Policy = {
  name: 'analyst',
  sha256: 'a'.repeat(64),
  file: '/p/analyst.yaml',
  statements: ['select'],
  tables: { read: ['demo.analytics.*', 'demo.crm.customers'], write: [], deny: ['demo.crm.payment_cards'] },
  columns: { 'demo.crm.customers.email': 'hash' },
  detect: [],
  limits: {},
  requireJustification: true,
  identity: [],
  allowExternalQuery: false,
  routines: { allow: [], deny: [] },
  destinations: [],
};
/** The proposal: no justification needed, email in clear, events denied. */
const proposed: Policy = {
  ...recorded,
  sha256: 'b'.repeat(64),
  tables: { ...recorded.tables, deny: ['demo.crm.payment_cards', 'demo.analytics.events'] },
  columns: {},
  requireJustification: false,
};

beforeAll(async () => {
  await createDemoWarehouse(join(dir, 'demo.duckdb'));
  inner = await openWarehouse({ kind: 'duckdb', path: join(dir, 'demo.duckdb') }, { writable: false });
});

afterAll(async () => {
  await inner?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function record(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    seq: ++seq,
    id: randomUUID(),
    time: new Date(Date.UTC(2026, 10, 1) + seq * 60_000).toISOString(),
    event: 'query',
    run: 'r1',
    policy: { name: 'analyst', sha256: recorded.sha256 },
    justification: 'why',
    sql: null,
    decision: 'allow',
    reason: null,
    code: null,
    rule: null,
    masked: { columns: {}, detected: {} },
    ...fields,
  };
}

async function backtest(records: Array<Record<string, unknown>>, policy = proposed, sealKey: Buffer | null = key, warehouses: Warehouse[] = [new MemoizingWarehouse(inner)]): Promise<BacktestReport> {
  const log = join(dir, `log-${randomUUID()}.jsonl`);
  writeFileSync(log, records.map((r) => JSON.stringify(r) + '\n').join(''));
  return backtestPolicy({ logPath: log, policy, warehouses, names, sealKey, recordedPolicy: 'analyst' });
}

const EMAIL = 'SELECT email FROM crm.customers LIMIT 1';
const EVENTS = 'SELECT count(*) FROM analytics.events';
const masked = { columns: { 'demo.crm.customers.email': 'hash' }, detected: {} };

describe('backtestPolicy', () => {
  it('replays an outcome once (not its intent), names the intent, and replays an intent whose outcome is missing', async () => {
    const intent = record({ event: 'query.intent', sql: EMAIL, masked });
    const outcome = record({ sql: EMAIL, masked, intent: intent.id, rows: 1 });
    const orphan = record({ event: 'query.intent', sql: EMAIL, masked });
    const r = await backtest([intent, outcome, orphan]);
    expect(r.replayed).toBe(2);
    const [group] = r.changes.masks_removed.groups;
    expect(group).toMatchObject({ column: 'demo.crm.customers.email', from: 'hash', to: null, count: 2, records: [outcome.id, orphan.id], intents: [intent.id] });
  });

  it('a warehouse failure (exit 7) was allowed by the policy: a new refusal of it is allowed -> denied', async () => {
    const failed = record({ sql: EVENTS, decision: 'error', code: 'warehouse.timeout', exit_code: 7, reason: 'timeout' });
    const r = await backtest([failed]);
    expect(r.changes.allow_to_deny.groups).toMatchObject([{ rule: 'tables.deny', table: 'demo.analytics.events', records: [failed.id] }]);
  });

  it('skips what the policy did not decide or cannot be replayed offline, and says why', async () => {
    const r = await backtest([
      record({ sql: EVENTS, decision: 'deny', code: 'token.expired', rule: 'token.expired', exit_code: 4 }),
      record({ sql: EVENTS, decision: 'deny', code: 'policy.budget_spent', rule: 'limits.max_queries', exit_code: 5 }),
      record({ sql: EVENTS, decision: 'deny', code: 'policy.bytes_exceeded', rule: 'limits.max_bytes_billed', exit_code: 5 }),
      record({ sql: EVENTS, decision: 'error', code: 'internal', exit_code: 1 }),
      record({ sql: null, decision: 'deny', code: 'usage.bad', exit_code: 2 }),
      record({ sql: 'SELECT email FROM crm.customers WHERE email = \'[REDACTED]\'', sql_sealed: 'v1:AAAA:BBBB:CCCC', masked }),
      record({ event: 'token.mint', sql: null }),
    ]);
    expect(r.skipped).toEqual({ not_a_policy_decision: 2, budget: 1, dry_run: 1, sealed_sql_unreadable: 1, no_sql: 1 });
    expect(r.replayed).toBe(0);
  });

  it('a decision is shared only by records that would get the same one: a missing justification counts', async () => {
    const withWhy = record({ sql: EVENTS });
    const without = record({ sql: EVENTS, justification: '  ', decision: 'deny', code: 'policy.justification_required', rule: 'require_justification', exit_code: 5 });
    const stillRequired = { ...proposed, tables: recorded.tables, requireJustification: true };
    const r = await backtest([withWhy, without], stillRequired);
    expect(r.changed).toBe(0);
    expect(r.unchanged).toBe(2);
    const relaxed = await backtest([withWhy, without], { ...stillRequired, requireJustification: false });
    expect(relaxed.changes.deny_to_allow.groups).toMatchObject([{ rule: 'require_justification', records: [without.id] }]);
    expect(relaxed.unchanged).toBe(1);
  });

  it('replays the exact sealed SQL, and without the key skips it rather than guess from the redacted text', async () => {
    const exact = "SELECT count(*) FROM analytics.events WHERE event_type = 'signup'";
    const sealed = record({ sql: "SELECT count(*) FROM analytics.events WHERE event_type = '[REDACTED]'", sql_sealed: sealSql(exact, key) });
    const r = await backtest([sealed]);
    expect(r.changes.allow_to_deny.groups[0]!.records).toEqual([sealed.id]);
    expect(r.changes.allow_to_deny.groups[0]!.example.sql).toContain('[REDACTED]');
    expect(JSON.stringify(r)).not.toContain('signup');
    const keyless = await backtest([sealed], proposed, null);
    expect(keyless.skipped.sealed_sql_unreadable).toBe(1);
  });

  it('a refusal by another rule is not a change of decision, but is listed apart', async () => {
    const denied = record({ sql: 'SELECT * FROM crm.payment_cards', decision: 'deny', code: 'policy.table_denied', rule: 'tables.deny', exit_code: 5 });
    const r = await backtest([denied], { ...proposed, statements: [] });
    expect(r.changed).toBe(0);
    expect(r.denied_by_another_rule.groups).toMatchObject([{ from: 'tables.deny', to: 'statements', records: [denied.id] }]);
  });

  it('on several warehouses at once, records are still reported in log order, each text decided once', async () => {
    const second = await openWarehouse({ kind: 'duckdb', path: join(dir, 'demo.duckdb') }, { writable: false });
    try {
      const records = Array.from({ length: 60 }, (_, i) => record({ sql: `SELECT count(*) FROM analytics.events WHERE id > ${i % 20}` }));
      const r = await backtest(records, proposed, key, [new MemoizingWarehouse(inner), new MemoizingWarehouse(second)]);
      expect(r.distinct_sql).toBe(20);
      expect(r.changes.allow_to_deny.groups).toHaveLength(1);
      expect(r.changes.allow_to_deny.groups[0]!.records).toEqual(records.map((x) => x.id));
    } finally {
      await second.close();
    }
  });

  it('a failure that is not a decision stops the backtest instead of passing for one', async () => {
    const closed = await openWarehouse({ kind: 'duckdb', path: join(dir, 'demo.duckdb') }, { writable: false });
    await closed.close();
    await expect(backtest([record({ sql: EVENTS })], proposed, key, [closed])).rejects.toMatchObject({ code: 'warehouse.closed', exitCode: 7 });
  });

  it('a record with two masks removed is one record in two groups; changed counts records', async () => {
    const twoMasks = { columns: { 'demo.crm.customers.email': 'hash', 'demo.crm.customers.phone': 'partial' }, detected: {} };
    const both = record({ sql: 'SELECT email, phone FROM crm.customers LIMIT 1', masked: twoMasks });
    const r = await backtest([both], { ...proposed, columns: { 'demo.crm.customers.name': 'redact' } });
    expect(r.changes.masks_removed.groups.map((g) => g.column).sort()).toEqual(['demo.crm.customers.email', 'demo.crm.customers.phone']);
    expect(r.changes.masks_removed.records).toBe(1);
    expect(r.changes.masks_added.groups.map((g) => [g.column, g.to])).toEqual([['demo.crm.customers.name', 'redact']]);
    expect(r.changes.masks_added.records).toBe(1);
    expect(r.changed).toBe(1);
  });

  it('a new policy, of which the log holds no query, is backtested against every recorded query, and says so', async () => {
    const log = join(dir, 'new-policy.jsonl');
    const cards = record({ sql: 'SELECT * FROM crm.payment_cards', decision: 'deny', code: 'policy.table_denied', rule: 'tables.deny', exit_code: 5 });
    // stored as the sink stores records: canonical JSON, keys sorted
    const canonical = (v: unknown): string => (v === null || typeof v !== 'object' ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(canonical).join(',')}]` : `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`);
    writeFileSync(log, canonical(cards) + '\n');
    const fresh: Policy = { ...proposed, name: 'analyst-v2', tables: { read: ['demo.crm.*'], write: [], deny: [] } };
    const run = (allWhenNoRecords: boolean) => backtestPolicy({ logPath: log, policy: fresh, warehouses: [new MemoizingWarehouse(inner)], names, sealKey: key, recordedPolicy: 'analyst-v2', allWhenNoRecords });
    const strict = await run(false);
    expect(strict.replayed).toBe(0);
    expect(strict.other_policies).toEqual({ analyst: 1 });
    const all = await run(true);
    expect(all.scope.recorded_policy).toBeNull();
    expect(all.scope.note).toMatch(/no query of policy analyst-v2/);
    expect(all.changes.deny_to_allow.groups[0]!.records).toEqual([cards.id]);
    // a policy that has records keeps its own scope
    const own = await backtestPolicy({ logPath: log, policy: proposed, warehouses: [new MemoizingWarehouse(inner)], names, sealKey: key, recordedPolicy: 'analyst', allWhenNoRecords: true });
    expect(own.scope).toMatchObject({ recorded_policy: 'analyst' });
    expect(own.scope.note).toBeUndefined();
  });
});
