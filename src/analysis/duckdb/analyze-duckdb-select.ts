/**
 * One SELECT text -> the tables it reads, resolved, with views checked through.
 * Views stay in `reads` next to the tables their definitions read (recursively): a `read`
 * rule must allow the view itself, and a `deny` rule on a base table still wins through it.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { AnalysisError } from '../../errors.js';
import type { NameDefaults, ViewExpansion } from '../query-analysis.js';
import { collectDuckDbTableReferences, type CollectOptions, type DuckDbSelectFindings, type DuckDbTableReference } from './collect-duckdb-table-references.js';
import type { DuckDbNameResolver } from './duckdb-name-resolver.js';
import type { DuckDbParseTrees } from './duckdb-parse-trees.js';
import { extractDuckDbViewBody } from './extract-duckdb-view-body.js';
import { serializeDuckDbSelect, type DuckDbSelectTree } from './serialize-duckdb-select.js';

export const MAX_VIEW_DEPTH = 16;

export interface ResolvedTableReference extends DuckDbTableReference {
  /** project.dataset.table */
  name: string;
}

export interface DuckDbSelectAnalysis {
  tree: DuckDbSelectTree;
  findings: DuckDbSelectFindings;
  references: ResolvedTableReference[];
  /** Every table and view read, directly or through views. */
  reads: string[];
  views: ViewExpansion[];
  /** The name defaults in force in this text and in every view body reached. */
  contexts: NameDefaults[];
}

export interface DuckDbSelectEnv {
  parser: DuckDBConnection;
  /** DuckDB's parse trees of the texts analysed (one batch per analysis where it can). */
  trees: DuckDbParseTrees;
  resolver: DuckDbNameResolver;
  /**
   * The session's name defaults (the search path the statement runs under). DuckDB binds a
   * one-part name in a view body in the view's own schema first, then on this search path.
   */
  session: NameDefaults;
}

export async function analyzeDuckDbSelect(
  text: string,
  names: NameDefaults,
  env: DuckDbSelectEnv,
  options: CollectOptions = {},
  stack: readonly string[] = [],
): Promise<DuckDbSelectAnalysis> {
  const tree = await serializeDuckDbSelect(text, env.trees);
  const findings = collectDuckDbTableReferences(tree, options);
  for (const fn of findings.functions) {
    if (env.resolver.facts.userFunctions.has(fn)) {
      throw new AnalysisError('analysis.user_function', `refused: ${fn}() is a function defined in the warehouse; hoopq cannot see what it reads`, {
        rule: 'functions',
        hint: 'use built-in functions, or ask the operator for a view instead of a macro',
        details: { function: fn },
      });
    }
  }
  const references: ResolvedTableReference[] = [];
  const fallback = stack.length > 0 ? env.session : undefined;
  for (const ref of findings.tables) references.push({ ...ref, name: await env.resolver.resolveRead(ref.parts, names, fallback) });
  const reads = new Set(references.map((r) => r.name));
  const views: ViewExpansion[] = [];
  const contexts: NameDefaults[] = [names];
  for (const name of [...reads]) {
    const definition = await env.resolver.viewDefinition(name);
    if (!definition) continue;
    if (stack.includes(name) || stack.length >= MAX_VIEW_DEPTH) {
      throw new AnalysisError('analysis.view_depth', `refused: view ${name} nests views too deeply or refers to itself`, {
        rule: 'views',
        hint: `views may nest at most ${MAX_VIEW_DEPTH} deep`,
      });
    }
    const inner = await analyzeDuckDbSelect(
      extractDuckDbViewBody(definition.sql),
      { defaultProject: definition.project, defaultDataset: definition.dataset },
      env,
      {},
      [...stack, name],
    );
    views.push({ view: name, reads: inner.reads }, ...inner.views);
    contexts.push(...inner.contexts);
    for (const r of inner.reads) reads.add(r);
  }
  return { tree, findings, references, reads: [...reads].sort(), views, contexts };
}
