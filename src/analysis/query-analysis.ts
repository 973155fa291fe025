/**
 * The output of SQL analysis, shared by every dialect's analyser.
 * Invariant: a QueryAnalysis is only ever produced when the analyser is certain it names
 * every statement and every table the SQL reads or writes; anything else is an AnalysisError
 * (exit 6). Table names are always resolved `project.dataset.table` strings, lower-cased
 * where the engine folds table names (its WarehouseDialect says so) and as written otherwise.
 */
export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'merge', 'truncate', 'create', 'drop', 'alter',
  'export', 'load', 'call', 'script', 'grant', 'other',
  // CREATE/DROP of functions, macros, procedures, types, sequences and schemas: objects that
  // change how other SQL resolves, so a policy that allows tables does not allow them.
  'define',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

export interface StatementAnalysis {
  kind: StatementKind;
  /** The dialect's own name for the statement (DuckDB statement type, GoogleSQL node type). */
  nativeType: string;
  /** The statement's text exactly as analysed and as it will run (DuckDB: comments removed). */
  text: string;
  /**
   * Tables read, resolved. A view read appears here together with every table its definition
   * reads (recursively, see `views`): a `read` rule must allow the view, and `deny` rules and
   * masks on the tables behind it still apply.
   */
  reads: string[];
  /** Tables written (DML/DDL targets), resolved. */
  writes: string[];
  /** Views reached, with the tables their definitions read (recursively). */
  views: ViewExpansion[];
  /**
   * Persistent routines called, resolved `project.dataset.routine`: user functions in
   * expressions, table functions in FROM, procedures in CALL (checked against `routines`).
   * Routines a statement creates or drops are `writes`.
   */
  routines?: string[];
  /** Data leaving or entering the warehouse (checked against `destinations`). */
  external?: ExternalResource[];
  /**
   * Tables read as an earlier version (`FOR SYSTEM_TIME AS OF`), resolved: that version's
   * columns may differ from the catalog's (mask planning checks them).
   */
  timeTravel?: string[];
  /**
   * Engine-control statements (ATTACH, INSTALL, SET, PRAGMA, COPY …) that hoopq never runs
   * whatever the policy says; the rule that refuses them lives in policy evaluation.
   */
  engineControl?: string;
}

export interface ExternalResource {
  /** `uri`: a storage URI (gs://…); `connection`: a connection id `project.location.connection`. */
  kind: 'uri' | 'connection';
  value: string;
  /** What the statement does with it. */
  use: 'export' | 'load' | 'external_table' | 'remote_function' | 'connection';
}

export interface ViewExpansion {
  view: string;
  reads: string[];
}

export interface QueryAnalysis {
  dialect: 'duckdb' | 'googlesql';
  statements: StatementAnalysis[];
  /**
   * The texts the engine will run, in order, exactly as analysed: never the received string
   * re-split by the engine. DuckDB: one text per statement; GoogleSQL: the whole script,
   * which BigQuery runs as one job.
   */
  run: string[];
  /** Where the received SQL holds literals and comments, as the engine reads it (redaction). */
  literals?: SqlLiterals;
}

export interface SqlSpan {
  start: number;
  end: number;
  /** For literal spans: what the engine reads there. */
  kind?: 'string' | 'number' | 'name';
}

export interface SqlLiterals {
  /** Literal spans (strings, numbers, quoted names) of the received SQL, checked against the engine. */
  spans: SqlSpan[];
  /** Comment spans of the received SQL. */
  comments: SqlSpan[];
  /** The engine's values of the string literals. */
  values: string[];
}

export interface NameDefaults {
  defaultProject?: string;
  defaultDataset?: string;
}

export function kindsOf(analysis: QueryAnalysis): StatementKind[] {
  return [...new Set(analysis.statements.map((s) => s.kind))];
}

/** Every routine called, sorted. */
export function routinesOf(analysis: QueryAnalysis): string[] {
  return [...new Set(analysis.statements.flatMap((s) => s.routines ?? []))].sort();
}

/** Every external resource named, as `uri:…` / `connection:…`, sorted. */
export function externalOf(analysis: QueryAnalysis): ExternalResource[] {
  const seen = new Map<string, ExternalResource>();
  for (const s of analysis.statements) for (const e of s.external ?? []) seen.set(`${e.use} ${e.kind} ${e.value}`, e);
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

/** Tables read as an earlier version (`FOR SYSTEM_TIME AS OF`) by any statement, sorted. */
export function timeTravelOf(analysis: QueryAnalysis): string[] {
  return [...new Set(analysis.statements.flatMap((s) => s.timeTravel ?? []))].sort();
}

export function tablesOf(analysis: QueryAnalysis): { read: string[]; write: string[] } {
  const read = new Set<string>();
  const write = new Set<string>();
  for (const s of analysis.statements) {
    for (const t of s.reads) read.add(t);
    for (const t of s.writes) write.add(t);
  }
  return { read: [...read].sort(), write: [...write].sort() };
}
