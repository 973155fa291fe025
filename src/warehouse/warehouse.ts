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
import type { WarehouseDialect } from './warehouse-dialect.js';

export interface ColumnInfo {
  name: string;
  type: string;
  /** STRUCT/RECORD columns: their fields (engines whose dialect has `nestedFields`). */
  fields?: ColumnInfo[];
  /** An ARRAY of the type (BigQuery mode REPEATED). */
  repeated?: boolean;
}

export interface TableInfo {
  name: string; // project.dataset.table
  kind: 'table' | 'view';
  columns: ColumnInfo[];
  /** A snapshot or clone: the table its data was copied from (its masks and denials hold here too). */
  baseTable?: string;
}

/**
 * table (resolved name, or a wildcard name) -> column path (as in the catalog; a dotted path
 * addresses a field of a STRUCT column, also inside ARRAY<STRUCT>) -> method
 */
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
   * The job id to create (engines with jobs): chosen before the intent record is written, so
   * every record about the job names it.
   */
  jobId?: string;
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
  /** Resolved `project.dataset.routine` names of the persistent routines the query calls. */
  referencedRoutines?: string[];
  bytesProcessed?: number;
}

export interface Warehouse {
  readonly kind: 'duckdb' | 'bigquery';
  /** The engine's SQL traits: case folding, quoting, wildcard tables, limits. */
  readonly dialect: WarehouseDialect;
  /** False when opened without its catalog (`explain --offline` on a remote engine): views and columns are unknown. */
  readonly catalogAvailable: boolean;
  /** The id (not the key) of the `hash` mask's key this warehouse masks with, when it holds one. */
  readonly hashKeyId?: string;
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
  /** A new job id for `execute` (engines with jobs), so records can name the job before it exists. */
  newJobId?(): string;
  /**
   * Gets a session ready for `execute` under these name defaults while the query is still being
   * checked (DuckDB: opens the execution's own connection and sets its search path). Nothing of
   * the query reaches the engine; `execute` uses the session or opens its own, and `close`
   * ends it if it was not used.
   */
  getReady?(names: NameDefaults): void;
  /**
   * Prepares the first of the allowed statements on the session getReady() opened, while the
   * intent record is being made durable: DuckDB parses, binds and plans it (what analysis
   * already asks of its binder); nothing of it runs before `execute`. `execute` uses it only
   * for the same text under the same name defaults; `close` discards it if it was not used.
   */
  prepareAhead?(statement: string): void;
  /** `statements`: the texts to run, as `analyze` returned them in `run` (or rewritten for masks). */
  dryRun?(statements: readonly string[], options: ExecuteOptions): Promise<DryRunResult>;
  /**
   * Runs `statements` in order and streams the last one's rows. DuckDB: each text must be
   * exactly one statement to the engine; BigQuery: exactly one text, the script.
   */
  execute(statements: readonly string[], options: ExecuteOptions): Promise<QueryExecution>;
  close(): Promise<void>;
}
