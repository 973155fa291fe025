/**
 * DuckDB analysis stage. Input: a SQL script as received, a parser connection (DuckDB's own
 * parser: it parses and reads catalog metadata, never runs the SQL), the Catalog and the
 * name defaults. Output: a QueryAnalysis naming, per statement, its kind, the tables it
 * reads (views and the tables behind them) and writes, and whether it is an
 * engine-control statement hoopq never runs.
 * Invariant: either every statement and every table DuckDB will touch is named, or an
 * AnalysisError (exit 6) is thrown. The engine is the oracle at every step: hoopq's lexing
 * is checked against DuckDB's parser and the statements are split where DuckDB splits
 * (read-duckdb-script.ts); a query's tables come from DuckDB's own parse tree of exactly the
 * text that will run; the statement type DuckDB binds must be the kind hoopq classified;
 * and DuckDB's binder (getTableNames) may name no table hoopq missed.
 */
import { StatementType, type DuckDBConnection } from '@duckdb/node-api';
import { AnalysisError } from '../../errors.js';
import type { Catalog } from '../catalog.js';
import type { NameDefaults, QueryAnalysis, SqlLiterals, StatementAnalysis, ViewExpansion } from '../query-analysis.js';
import { resolveTableName } from '../table-name.js';
import { analyzeDuckDbSelect, type DuckDbSelectEnv } from './analyze-duckdb-select.js';
import { classifyDuckDbStatement } from './classify-duckdb-statement.js';
import { DuckDbNameResolver } from './duckdb-name-resolver.js';
import { readDuckDbEngineFacts } from './read-duckdb-engine-facts.js';
import { readDuckDbScript, type DuckDbStatementText } from './read-duckdb-script.js';
import { DuckDbParseTrees } from './duckdb-parse-trees.js';

export interface DuckDbAnalysisContext {
  parser: DuckDBConnection;
  catalog: Catalog;
  names: NameDefaults;
}

export async function analyzeDuckDbSql(sql: string, ctx: DuckDbAnalysisContext): Promise<QueryAnalysis> {
  const trees = new DuckDbParseTrees(ctx.parser);
  const script = await readDuckDbScript(sql, trees);
  const literals = { spans: script.literalSpans, comments: script.commentSpans, values: script.literalValues };
  try {
    return await analyzeStatements(script.statements, ctx, literals, trees);
  } catch (err) {
    // the lexing was checked: a refusal from here on may still show the SQL, redacted
    if (err instanceof AnalysisError && !err.sqlLiterals) err.sqlLiterals = literals;
    throw err;
  }
}

async function analyzeStatements(pieces: DuckDbStatementText[], ctx: DuckDbAnalysisContext, literals: SqlLiterals, trees: DuckDbParseTrees): Promise<QueryAnalysis> {
  const resolver = new DuckDbNameResolver(ctx.catalog, await readDuckDbEngineFacts(ctx.parser));
  const env: DuckDbSelectEnv = { parser: ctx.parser, trees, resolver, session: ctx.names };
  const statements: StatementAnalysis[] = [];
  for (const piece of pieces) {
    const plan = classifyDuckDbStatement(piece.tokens, piece.text);
    const statement: StatementAnalysis = { kind: plan.kind, nativeType: plan.nativeType, text: piece.text, reads: [], writes: [], views: [] };
    if (plan.engineControl) {
      // Never decomposed: policy refuses it whatever the tables would be.
      statement.engineControl = plan.engineControl;
      statements.push(statement);
      continue;
    }
    const reads = new Set<string>();
    const views: ViewExpansion[] = [];
    const writes = plan.writes.map((w) => resolver.resolveWrite(w, ctx.names));
    for (const target of plan.targetReads) {
      const name = await resolver.resolveRead(target, ctx.names);
      if (await resolver.viewDefinition(name)) {
        throw new AnalysisError('analysis.unsupported_shape', `refused: ${name} is a view; hoopq does not analyse writes through views`, {
          rule: 'views',
          hint: 'write to base tables',
        });
      }
      reads.add(name);
    }
    const selects = plan.isQuery ? [piece.text] : plan.selects;
    for (const text of selects) {
      const analysis = await analyzeDuckDbSelect(text, ctx.names, env);
      for (const r of analysis.reads) reads.add(r);
      views.push(...analysis.views);
      crossCheckWithBinder(text, ctx.parser, analysis.contexts, new Set([...analysis.reads, ...writes]));
    }
    if (!plan.isQuery) {
      crossCheckWithBinder(piece.text, ctx.parser, [ctx.names], new Set([...reads, ...writes, ...resolver.created]));
      await crossCheckStatementType(piece.text, plan.nativeType, ctx.parser);
    }
    for (const w of plan.creates) resolver.created.add(resolver.resolveWrite(w, ctx.names));
    statement.reads = [...reads].sort();
    statement.writes = [...new Set(writes)].sort();
    statement.views = dedupeViews(views);
    statements.push(statement);
  }
  return {
    dialect: 'duckdb',
    statements,
    run: statements.map((s) => s.text),
    literals,
  };
}

/**
 * DuckDB's binder names the statement type; it must be the one hoopq classified. Binding
 * reads the catalog and runs nothing. A statement that does not bind yet (it uses an
 * object an earlier statement of the script creates, or it is simply wrong) is left to
 * fail at execution: the type check cannot be made, and nothing else rests on it.
 */
async function crossCheckStatementType(text: string, nativeType: string, parser: DuckDBConnection): Promise<void> {
  let engineType: string;
  try {
    const extracted = await parser.extractStatements(text);
    const prepared = await extracted.prepare(0);
    try {
      engineType = StatementType[prepared.statementType] ?? String(prepared.statementType);
    } finally {
      prepared.destroySync();
    }
  } catch {
    return;
  }
  if (engineType !== nativeType) {
    throw new AnalysisError('analysis.engine_disagrees', `refused: hoopq reads a ${nativeType} statement where DuckDB binds a ${engineType} statement`, {
      rule: 'parse',
      hint: 'send plain SQL statements, one kind per statement',
      details: { hoopq: nativeType, engine: engineType },
    });
  }
}

/**
 * `a."b.c"."d""e"` -> ['a', 'b.c', 'd"e']: DuckDB quotes reserved words and odd names in what
 * getTableNames reports. Returns [] for anything malformed, which then matches nothing.
 */
export function splitQualifiedName(name: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < name.length) {
    let part = '';
    if (name[i] === '"') {
      i++;
      for (;;) {
        if (i >= name.length) return [];
        if (name[i] === '"') {
          if (name[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += name[i++];
      }
    } else {
      while (i < name.length && name[i] !== '.') part += name[i++];
    }
    parts.push(part);
    if (i < name.length) {
      if (name[i] !== '.') return [];
      i++;
      if (i === name.length) return [];
    }
  }
  return parts;
}

/**
 * DuckDB's binder names the tables it binds (as written, view bodies included). Each must
 * be one hoopq found, under one of the name defaults in force; binding errors make it
 * return less, never more, so this only ever catches what the tree walk missed.
 */
function crossCheckWithBinder(text: string, parser: DuckDBConnection, contexts: NameDefaults[], known: Set<string>): void {
  let reported: readonly string[];
  try {
    reported = parser.getTableNames(text, true);
  } catch {
    return;
  }
  for (const entry of reported) {
    const written = entry.replace(/ AS .*$/s, '');
    const parts = splitQualifiedName(written);
    const matched = contexts.some((names) => {
      try {
        return known.has(resolveTableName(parts, { caseInsensitive: true, ...names }));
      } catch {
        return false;
      }
    });
    if (!matched) {
      throw new AnalysisError('analysis.engine_disagrees', `refused: DuckDB binds the table "${written}", which hoopq's analysis did not find`, {
        rule: 'analysis',
        hint: 'write table names in full (project.dataset.table) and avoid unusual constructs',
        details: { table: written },
      });
    }
  }
}

function dedupeViews(views: ViewExpansion[]): ViewExpansion[] {
  const seen = new Map<string, ViewExpansion>();
  for (const v of views) if (!seen.has(v.view)) seen.set(v.view, v);
  return [...seen.values()].sort((a, b) => a.view.localeCompare(b.view));
}
