/**
 * The Warehouse interface: the only code that talks to a database engine.
 * Each engine (duckdb/, bigquery/) implements it; `open-warehouse.ts` holds the explicit
 * map from `warehouse.kind` to implementation. One contract suite
 * (`warehouse-contract.case.ts`) runs against every implementation.
 *
 * Invariants every implementation keeps:
 * - `analyze` never runs the SQL; it only parses (and may read catalog metadata such as
 *   view definitions). Uncertainty is an AnalysisError, never a partial answer.
 * - what runs is exactly what was analysed: `execute` and `dryRun` take the analysis' `run`
 *   texts (or their mask rewrite, analysed again), never the received string.
 * - `execute` streams: rows are yielded in batches as the engine produces them.
 * - Vendor errors are converted to HoopqError subclasses inside the adapter.
 */
import type { NameDefaults, QueryAnalysis } from '../analysis/query-analysis.js';
import type { MaskMethod } from '../policy/policy.js';

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface TableInfo {
  name: string; // project.dataset.table
  kind: 'table' | 'view';
  columns: ColumnInfo[];
}

/** table (resolved name) -> column name (as in the catalog) -> method */
export type MaskPlan = Record<string, Record<string, MaskMethod>>;

export interface ExecuteOptions {
  /** Aborting interrupts the running query (timeout, revocation, client gone). */
  signal: AbortSignal;
  timeoutMs?: number;
  maxBytesBilled?: number;
  /** Job labels (BigQuery); ignored by engines without labels. */
  labels?: Record<string, string>;
  /** Query parameters (`--parameter name:type:value`). */
  params?: QueryParameter[];
  /**
   * Where unqualified names resolve: must be the same defaults the analysis used, so the
   * engine reads exactly the tables hoopq checked.
   */
  names?: NameDefaults;
}

export interface QueryParameter {
  name: string;
  type: string;
  value: string | null;
}

export interface ResultColumn {
  name: string;
  type: string;
}

export interface QueryExecution {
  columns: ResultColumn[];
  /**
   * Batches of rows, each row an array of values in column order: JSON-compatible, except an
   * integer past 2^53, which is a bigint (src/output/json-text.ts writes it with every digit).
   */
  batches: AsyncIterable<unknown[][]>;
  /** Filled once the batches are drained. */
  stats(): { jobId?: string; bytesProcessed?: number; rowsAffected?: number };
}

export interface DryRunResult {
  /** The warehouse's own statement type (BigQuery `statementType`, e.g. SELECT, SCRIPT). */
  statementType?: string;
  /** Resolved `project.dataset.table` names the warehouse says the query reads or writes. */
  referencedTables: string[];
  /** True when the warehouse's list is cut (BigQuery lists at most 50 referenced tables). */
  referencedTablesIncomplete?: boolean;
  bytesProcessed?: number;
}

export interface Warehouse {
  readonly kind: 'duckdb' | 'bigquery';
  /** The project name unqualified names resolve to when no default_project is configured. */
  readonly project: string;
  analyze(sql: string, names: NameDefaults): Promise<QueryAnalysis>;
  describeTable(name: string): Promise<TableInfo | null>;
  listTables(dataset?: string): Promise<string[]>;
  /**
   * Rewrite the analysis' `run` texts so that every read of a masked column sees the masked
   * value; the rewrite is analysed again before it is returned. Throws AnalysisError when the
   * shape cannot be rewritten with certainty.
   */
  rewriteForMasks(analysis: QueryAnalysis, plan: MaskPlan, names: NameDefaults): Promise<string[]>;
  /** `statements`: the texts to run, as `analyze` returned them in `run` (or rewritten for masks). */
  dryRun?(statements: readonly string[], options: ExecuteOptions): Promise<DryRunResult>;
  /**
   * Runs `statements` in order and streams the last one's rows. DuckDB: each text must be
   * exactly one statement to the engine; BigQuery: exactly one text, the script.
   */
  execute(statements: readonly string[], options: ExecuteOptions): Promise<QueryExecution>;
  close(): Promise<void>;
}
