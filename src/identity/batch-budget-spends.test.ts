/**
 * Budget spends batched into one transaction: as exact as one spend at a time, all or nothing
 * per transaction, and a store that cannot batch is asked one spend at a time. The store is
 * the real SQLite one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BudgetSpendBatcher } from './batch-budget-spends.js';
import { openStateStore, type SqliteStateStore, type StateStore } from './state-store.js';

let dir: string;
let store: SqliteStateStore;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hoopq-spends-'));
  store = openStateStore(path.join(dir, 'state.db'));
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const unit = (i: number) => ({ intent: `intent-${i}`, host: 'test', pid: process.pid });

describe('BudgetSpendBatcher', () => {
  it('32 concurrent spends against a budget of 10 in two runs: exactly 10 each, in the order asked, every unit tied to its intent', async () => {
    const batcher = new BudgetSpendBatcher(() => store);
    const asked = Array.from({ length: 64 }, (_, i) => batcher.spend({ run: i % 2 ? 'run-b' : 'run-a', limit: 10, unit: unit(i) }));
    const budgets = await Promise.all(asked);
    for (const run of ['run-a', 'run-b']) {
      const mine = budgets.filter((_, i) => (i % 2 ? 'run-b' : 'run-a') === run);
      expect(mine.filter((b) => b.ok)).toHaveLength(10);
      // the first ten asked got the units, counting 1..10
      expect(mine.slice(0, 10).map((b) => b.used)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect(mine.slice(10).every((b) => !b.ok && b.used === 10)).toBe(true);
      expect(store.queriesStarted(run)).toBe(10);
    }
    const pending = store.pendingOutcomes().map((p) => p.intent).sort();
    const spent = budgets.flatMap((b, i) => (b.ok ? [`intent-${i}`] : [])).sort();
    expect(pending).toEqual(spent);
  });

  it('shares one commit among the spends of one turn of the event loop', async () => {
    let transactions = 0;
    const counting = {
      consumeQueryBudgets: (spends: Parameters<NonNullable<StateStore['consumeQueryBudgets']>>[0]) => {
        transactions += 1;
        return store.consumeQueryBudgets(spends);
      },
    } as unknown as StateStore;
    const batcher = new BudgetSpendBatcher(() => counting);
    await Promise.all(Array.from({ length: 20 }, (_, i) => batcher.spend({ run: 'r', limit: Infinity, unit: unit(i) })));
    expect(transactions).toBe(1);
    expect(store.queriesStarted('r')).toBe(20);
  });

  it('a transaction that fails fails every spend in it and commits none; the next batch works', async () => {
    const batcher = new BudgetSpendBatcher(() => store);
    await batcher.spend({ run: 'r', limit: 5, unit: unit(0) });
    // the same intent twice in one batch breaks the pending_outcomes key: the whole transaction rolls back
    const results = await Promise.allSettled([batcher.spend({ run: 'r', limit: 5, unit: unit(1) }), batcher.spend({ run: 'r', limit: 5, unit: unit(1) })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ exitCode: 3 });
    expect(store.queriesStarted('r')).toBe(1);
    expect(store.pendingOutcomes().map((p) => p.intent)).toEqual(['intent-0']);
    expect(await batcher.spend({ run: 'r', limit: 5, unit: unit(2) })).toMatchObject({ ok: true, used: 2 });
  });

  it('a bad limit fails its batch before anything is written', async () => {
    const batcher = new BudgetSpendBatcher(() => store);
    const results = await Promise.allSettled([batcher.spend({ run: 'r', limit: 3, unit: unit(1) }), batcher.spend({ run: 'r', limit: 1.5, unit: unit(2) })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(store.queriesStarted('r')).toBe(0);
  });

  it('a store without consumeQueryBudgets is asked one spend at a time, each answered on its own', async () => {
    // a store as the batcher sees it, with no batch call (what a store may leave out)
    const single = { consumeQueryBudget: (run: string, limit: number, u?: ReturnType<typeof unit>) => store.consumeQueryBudget(run, limit, u) } as unknown as StateStore;
    const batcher = new BudgetSpendBatcher(() => single);
    const results = await Promise.allSettled([batcher.spend({ run: 'r', limit: 1, unit: unit(1) }), batcher.spend({ run: 'r', limit: 1.5, unit: unit(2) }), batcher.spend({ run: 'r', limit: 1, unit: unit(3) })]);
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: { ok: true, used: 1 } });
    expect(results[1]!.status).toBe('rejected');
    expect(results[2]).toMatchObject({ status: 'fulfilled', value: { ok: false, used: 1 } });
  });

  it('a store that cannot be opened fails the spends waiting for it', async () => {
    const batcher = new BudgetSpendBatcher(() => {
      throw new Error('no store');
    });
    await expect(batcher.spend({ run: 'r', limit: 1 })).rejects.toThrow('no store');
  });
});
