/**
 * The output of SQL analysis, shared by every dialect's analyser.
 * Invariant: a QueryAnalysis is only ever produced when the analyser is certain it names
 * every statement and every table the SQL reads or writes; anything else is an AnalysisError
 * (exit 6). Table names are always resolved `project.dataset.table` strings, lower-cased
 * where the dialect is case-insensitive (DuckDB) and as written where it is not (BigQuery).
 */
export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'merge', 'truncate', 'create', 'drop', 'alter',
  'export', 'load', 'call', 'script', 'grant', 'other',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

export interface StatementAnalysis {
  kind: StatementKind;
  /** The dialect's own name for the statement (DuckDB statement type, GoogleSQL node type). */
  nativeType: string;
  /** The statement's own text, sliced from the input. */
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
   * Engine-control statements (ATTACH, INSTALL, SET, PRAGMA, COPY …) that hoopq never runs
   * whatever the policy says; the rule that refuses them lives in policy evaluation.
   */
  engineControl?: string;
}

export interface ViewExpansion {
  view: string;
  reads: string[];
}

export interface QueryAnalysis {
  dialect: 'duckdb' | 'googlesql';
  statements: StatementAnalysis[];
}

export interface NameDefaults {
  defaultProject?: string;
  defaultDataset?: string;
}

export function kindsOf(analysis: QueryAnalysis): StatementKind[] {
  return [...new Set(analysis.statements.map((s) => s.kind))];
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
