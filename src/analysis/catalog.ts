/**
 * What an analyser may ask the warehouse while analysing: view definitions (so views are
 * checked through) and column lists (so masks can be planned). Read-only metadata lookups;
 * names are resolved `project.dataset.table`.
 */
export interface ViewDefinition {
  /** The view's SQL (its SELECT), as stored by the engine. */
  sql: string;
  /** Where unqualified names inside the definition resolve. */
  project: string;
  dataset: string;
}

export interface Catalog {
  /** null when `name` is not a view (a base table, or absent). */
  viewDefinition(name: string): Promise<ViewDefinition | null>;
  /** Column names of a table or view, in order; null when it does not exist. */
  columns(name: string): Promise<string[] | null>;
}
