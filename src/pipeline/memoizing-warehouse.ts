/**
 * A Warehouse that remembers the answers of another one for read-only, offline work over many
 * queries (`policy backtest`, `policy test`): an analysis per exact SQL and name defaults, a
 * table description, a listing, a mask rewrite per SQL and mask plan. The answers are the
 * wrapped warehouse's own (same parser, same catalog), each asked once; refusals are
 * remembered too. Valid only while the catalog cannot change underneath, i.e. for one
 * short-lived read-only session. It executes nothing.
 */
import type { NameDefaults, QueryAnalysis } from '../analysis/query-analysis.js';
import { InternalError } from '../errors.js';
import type { MaskPlan, QueryExecution, TableInfo, Warehouse } from '../warehouse/warehouse.js';

export class MemoizingWarehouse implements Warehouse {
  readonly kind: Warehouse['kind'];
  readonly dialect: Warehouse['dialect'];
  readonly catalogAvailable: boolean;
  readonly hashKeyId: string | undefined;
  readonly project: string;
  private readonly analyses = new Map<string, Promise<QueryAnalysis>>();
  private readonly tables = new Map<string, Promise<TableInfo | null>>();
  private readonly listings = new Map<string, Promise<string[]>>();
  /** Per analysis (itself remembered per SQL, so the same object for the same text): per plan and names. */
  private readonly rewrites = new WeakMap<QueryAnalysis, Map<string, Promise<string[]>>>();

  constructor(private readonly inner: Warehouse) {
    this.kind = inner.kind;
    this.dialect = inner.dialect;
    this.catalogAvailable = inner.catalogAvailable;
    this.hashKeyId = inner.hashKeyId;
    this.project = inner.project;
  }

  /** How many distinct SQL texts were analysed. */
  get analysedCount(): number {
    return this.analyses.size;
  }

  analyze(sql: string, names: NameDefaults): Promise<QueryAnalysis> {
    return remember(this.analyses, `${namesKey(names)}\0${sql}`, () => this.inner.analyze(sql, names));
  }

  describeTable(name: string): Promise<TableInfo | null> {
    return remember(this.tables, name, () => this.inner.describeTable(name));
  }

  listTables(dataset?: string): Promise<string[]> {
    return remember(this.listings, dataset ?? '\0all', () => this.inner.listTables(dataset));
  }

  rewriteForMasks(analysis: QueryAnalysis, plan: MaskPlan, names: NameDefaults): Promise<string[]> {
    let byPlan = this.rewrites.get(analysis);
    if (!byPlan) {
      byPlan = new Map();
      this.rewrites.set(analysis, byPlan);
    }
    return remember(byPlan, `${namesKey(names)}\0${JSON.stringify(plan)}`, () => this.inner.rewriteForMasks(analysis, plan, names));
  }

  execute(): Promise<QueryExecution> {
    throw new InternalError('internal.offline_execute', 'an offline check tried to execute a query');
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function namesKey(names: NameDefaults): string {
  return `${names.defaultProject ?? ''}\0${names.defaultDataset ?? ''}`;
}

function remember<T>(cache: Map<string, Promise<T>>, key: string, ask: () => Promise<T>): Promise<T> {
  let hit = cache.get(key);
  if (!hit) {
    hit = ask();
    cache.set(key, hit);
    // a rejection is remembered as the answer; never leave it unhandled while it waits in the cache
    hit.catch(() => undefined);
  }
  return hit;
}
