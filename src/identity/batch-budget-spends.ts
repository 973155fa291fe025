/**
 * Budget spends of concurrent queries in one state-store transaction. A spend is a durable
 * commit (the SQLite store fsyncs its WAL), and it runs on the process's main thread: under 16
 * clients a gateway spent ~0.5 ms of every query's event-loop time on its own commit
 * (measured, docs/benchmarks.md "warm"). Spends asked for in one turn of the event loop wait
 * for one transaction and share its commit, like the audit log's group commit.
 *
 * Input: spends (run, limit, the unit's intent). Output: each spend's QueryBudget, once the
 * transaction that made it is committed. Invariants: spends are made in the order they were
 * asked for, each exactly as consumeQueryBudget makes it (the budget stays exact); a
 * transaction that fails fails every spend in it and commits none of them, so no caller runs a
 * query on a unit that was not spent; a store that cannot batch (consumeQueryBudgets absent)
 * gets one consumeQueryBudget per spend, each answered on its own.
 */
import type { BudgetSpend, QueryBudget, StateStore } from './state-store.js';

/** Spends per transaction at most: bounds the time the store's write lock is held. */
const MAX_BATCH = 256;

interface Waiting {
  spend: BudgetSpend;
  resolve(budget: QueryBudget): void;
  reject(err: unknown): void;
}

export class BudgetSpendBatcher {
  private readonly waiting: Waiting[] = [];
  private scheduled = false;

  constructor(private readonly store: () => StateStore) {}

  spend(spend: BudgetSpend): Promise<QueryBudget> {
    return new Promise<QueryBudget>((resolve, reject) => {
      this.waiting.push({ spend, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // the spends of this turn of the event loop (queries whose intents one group commit made durable) go together
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.waiting.splice(0, MAX_BATCH);
      if (this.waiting.length > 0) this.schedule();
      this.commit(batch);
    });
  }

  private commit(batch: Waiting[]): void {
    let store: StateStore;
    try {
      store = this.store();
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    if (!store.consumeQueryBudgets) {
      for (const w of batch) {
        try {
          w.resolve(store.consumeQueryBudget(w.spend.run, w.spend.limit, w.spend.unit));
        } catch (err) {
          w.reject(err);
        }
      }
      return;
    }
    let budgets: QueryBudget[];
    try {
      budgets = store.consumeQueryBudgets(batch.map((w) => w.spend));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => w.resolve(budgets[i]!));
  }
}
