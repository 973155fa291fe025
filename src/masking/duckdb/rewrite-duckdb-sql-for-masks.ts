/**
 * Column masks for the DuckDB warehouse. Input: the analysis (its statement texts are what
 * runs), the parser connection, the Catalog, the name defaults and the MaskPlan (resolved
 * table -> column -> method). Output: the statement texts to run, in which every read of a
 * masked table goes through
 * `(SELECT * REPLACE (mask(col) AS col, …) FROM project.dataset.table)`, so the query itself
 * computes only on masked values, wherever the column is used (expressions, predicates,
 * joins, grouping, windows, whole-row references, SELECT * variants, alias lists).
 * Invariant: the output holds no reference that reaches a masked table except through such
 * a mask subquery; otherwise an AnalysisError (exit 6) is thrown, never the raw SQL.
 *
 * How: DuckDB's parse tree locates every table reference (byte offsets); the name at that
 * offset is replaced in the text by the mask subquery under the same alias (the table name
 * when there was none), leaving the rest of the query exactly as written. A view whose
 * definition reaches a masked table is inlined as a subquery of its rewritten definition
 * (names inside fully qualified, since they would otherwise resolve in the session's
 * schema). Non-SELECT statements that read a masked table are refused. The result is then
 * parsed again and checked: by hoopq's tree walk (mask subqueries recognised by their exact
 * parse tree), which must find a query reading no table the original statement did not
 * read and no masked table outside a mask subquery, and by DuckDB's binder (no short name
 * may still bind a masked table). The splice points come from DuckDB's parse tree of the
 * statement (query_location), never from a search of the text.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { AnalysisError } from '../../errors.js';
import type { Catalog } from '../../analysis/catalog.js';
import type { NameDefaults, QueryAnalysis, StatementAnalysis } from '../../analysis/query-analysis.js';
import { resolveTableName } from '../../analysis/table-name.js';
import { analyzeDuckDbSelect, MAX_VIEW_DEPTH, type DuckDbSelectEnv, type ResolvedTableReference } from '../../analysis/duckdb/analyze-duckdb-select.js';
import { classifyDuckDbStatement, readName } from '../../analysis/duckdb/classify-duckdb-statement.js';
import { DuckDbNameResolver } from '../../analysis/duckdb/duckdb-name-resolver.js';
import { extractDuckDbViewBody } from '../../analysis/duckdb/extract-duckdb-view-body.js';
import { lexDuckDbSql } from '../../analysis/duckdb/lex-duckdb-sql.js';
import { readDuckDbEngineFacts } from '../../analysis/duckdb/read-duckdb-engine-facts.js';
import { serializeDuckDbSelect } from '../../analysis/duckdb/serialize-duckdb-select.js';
import { DuckDbParseTrees } from '../../analysis/duckdb/duckdb-parse-trees.js';
import type { MaskMethod } from '../../policy/policy.js';
import type { MaskPlan } from '../../warehouse/warehouse.js';
import { maskColumnExpression, quoteDuckDbIdentifier } from './mask-column-expression.js';
import type { HashKey } from '../hash-key.js';

export interface DuckDbMaskContext {
  parser: DuckDBConnection;
  catalog: Catalog;
  names: NameDefaults;
  plan: MaskPlan;
  /** The `hash` mask's key (needed only when the plan hashes). */
  hashKey?: HashKey;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

export async function rewriteDuckDbSqlForMasks(analysis: QueryAnalysis, ctx: DuckDbMaskContext): Promise<string[]> {
  const plan = normalisePlan(ctx.plan);
  if (plan.size === 0) return analysis.run;
  const resolver = new DuckDbNameResolver(ctx.catalog, await readDuckDbEngineFacts(ctx.parser));
  const env: DuckDbSelectEnv = { parser: ctx.parser, trees: new DuckDbParseTrees(ctx.parser), resolver, session: ctx.names };
  const rewriter = new MaskRewriter(env, plan, ctx.catalog, ctx.hashKey);
  const out: string[] = [];
  for (const analysed of analysis.statements) {
    const statement = classifyDuckDbStatement(lexDuckDbSql(analysed.text), analysed.text);
    if (statement.engineControl) throw refuse(`${statement.engineControl} statements cannot run under column masks`);
    if (!statement.isQuery) {
      const masked = analysed.reads.find((r) => plan.has(r));
      if (masked) throw refuse(`a ${statement.kind} statement reads ${masked}, which has masked columns; only SELECT queries can be rewritten for masks`);
      out.push(analysed.text);
    } else {
      const rewritten = await rewriter.rewriteSelect(analysed.text, ctx.names, false, []);
      await rewriter.verify(rewritten, ctx.names, analysed);
      out.push(rewritten);
    }
    for (const w of statement.creates) resolver.created.add(resolver.resolveWrite(w, ctx.names));
  }
  return out;
}

class MaskRewriter {
  /** Canonical parse trees (locations removed) of the mask subquery of each masked table. */
  private readonly canonical = new Map<string, Promise<string>>();

  constructor(
    private readonly env: DuckDbSelectEnv,
    private readonly plan: Map<string, Map<string, MaskMethod>>,
    private readonly catalog: Catalog,
    private readonly hashKey: HashKey | undefined,
  ) {}

  /**
   * Rewrite one SELECT. In a view body (`qualifyAll`), every other table reference is also
   * written in full, because the inlined body no longer binds in the view's own schema.
   */
  async rewriteSelect(text: string, names: NameDefaults, qualifyAll: boolean, stack: readonly string[]): Promise<string> {
    // inside a view body (stack not empty) names bind as DuckDB binds them there
    const analysis = await analyzeDuckDbSelect(text, names, this.env, {}, stack);
    const reachesMask = (name: string) =>
      this.plan.has(name) || analysis.views.some((v) => v.view === name && v.reads.some((r) => this.plan.has(r)));
    const splices: Splice[] = [];
    for (const ref of analysis.references) {
      const masked = reachesMask(ref.name);
      if (!masked && !qualifyAll) continue;
      if (masked && ref.inShowRef) throw refuse(`DESCRIBE/SUMMARIZE of ${ref.name}, which has masked columns`);
      if (ref.hasAtClause) throw refuse(`a time-travel (AT) reference to ${ref.name}`);
      let replacement: string;
      if (this.plan.has(ref.name)) replacement = `(${this.maskSubquerySql(ref.name)})`;
      else if (masked) replacement = await this.inlineView(ref.name, stack);
      else replacement = qualifiedName(ref.name);
      const needsAlias = (this.plan.has(ref.name) || masked) && ref.alias === '';
      splices.push({ ...locate(text, ref), text: needsAlias ? `${replacement} AS ${quoteDuckDbIdentifier(ref.parts[ref.parts.length - 1]!)}` : replacement });
    }
    return applySplices(text, splices);
  }

  /**
   * Parse the rewritten text again: it must be a query, read no table the original statement
   * did not read, and reach no masked table outside a mask subquery.
   */
  async verify(text: string, names: NameDefaults, original: StatementAnalysis): Promise<void> {
    const masks = new Map<string, string>();
    for (const table of this.plan.keys()) masks.set(await this.canonicalTree(table), table);
    const analysis = await analyzeDuckDbSelect(text, names, this.env, {
      isOpaqueSubquery: (ref) => masks.has(canonicalJson(ref.subquery)),
    });
    const leak = analysis.reads.find((r) => this.plan.has(r));
    if (leak) throw refuse(`after rewriting, ${leak} would still be read without its masks`);
    const before = new Set(original.reads);
    const masked = analysis.findings.opaqueSubqueries.map((ref) => masks.get(canonicalJson(ref.subquery))!);
    const added = [...analysis.reads, ...masked].find((r) => !before.has(r));
    if (added) throw refuse(`after rewriting, the query would read ${added}, which the original did not`);
    let reported: readonly string[] = [];
    try {
      reported = this.env.parser.getTableNames(text, true);
    } catch {
      reported = [];
    }
    for (const entry of reported) {
      const parts = entry.replace(/ AS .*$/s, '').split('.');
      if (parts.length === 3) continue; // mask subqueries and inlined view bodies are written in full
      let name: string;
      try {
        name = resolveTableName(parts, { caseInsensitive: true, ...names });
      } catch {
        throw refuse(`DuckDB binds "${entry}", which hoopq cannot resolve`);
      }
      if (this.plan.has(name)) throw refuse(`DuckDB would still bind ${name} by its short name "${parts.join('.')}"`);
    }
  }

  private maskSubquerySql(table: string): string {
    const columns = this.plan.get(table)!;
    const replaces = [...columns].map(([col, method]) => `${maskColumnExpression(col, method, this.hashKey)} AS ${quoteDuckDbIdentifier(col)}`);
    return `SELECT * REPLACE (${replaces.join(', ')}) FROM ${qualifiedName(table)}`;
  }

  private canonicalTree(table: string): Promise<string> {
    let found = this.canonical.get(table);
    if (!found) {
      found = serializeDuckDbSelect(this.maskSubquerySql(table), this.env.trees).then(canonicalJson);
      this.canonical.set(table, found);
    }
    return found;
  }

  private async inlineView(view: string, stack: readonly string[]): Promise<string> {
    if (stack.includes(view) || stack.length >= MAX_VIEW_DEPTH) throw refuse(`view ${view} nests too deeply`);
    const definition = await this.env.resolver.viewDefinition(view);
    const columns = await this.catalog.columns(view);
    if (!definition || !columns) throw refuse(`the definition of view ${view} could not be read`);
    const body = await this.rewriteSelect(
      extractDuckDbViewBody(definition.sql),
      { defaultProject: definition.project, defaultDataset: definition.dataset },
      true,
      [...stack, view],
    );
    const names = columns.map(quoteDuckDbIdentifier).join(', ');
    return `(SELECT * FROM (${body}) AS hoopq_view(${names}))`;
  }
}

/** Character span of the reference's name in `text`, checked against the parse tree. */
function locate(text: string, ref: ResolvedTableReference): { start: number; end: number } {
  const start = Buffer.from(text, 'utf8').subarray(0, ref.location).toString('utf8').length;
  const tokens = lexDuckDbSql(text);
  const at = tokens.findIndex((t) => t.start === start);
  if (at >= 0) {
    try {
      const name = readName(tokens, at);
      if (name.parts.length === ref.parts.length && name.parts.every((p, i) => p.toLowerCase() === ref.parts[i]!.toLowerCase())) {
        return { start, end: tokens[name.next - 1]!.end };
      }
    } catch {
      // fall through to the refusal below
    }
  }
  throw refuse(`the reference to ${ref.name} could not be located in the SQL text`);
}

function applySplices(text: string, splices: Splice[]): string {
  const sorted = [...splices].sort((a, b) => b.start - a.start);
  let out = text;
  let limit = Infinity;
  const seen = new Set<number>();
  for (const s of sorted) {
    if (seen.has(s.start)) continue; // the parser may repeat a node (e.g. inside PIVOT); same text, same splice
    if (s.end > limit) throw refuse('overlapping table references');
    out = out.slice(0, s.start) + s.text + out.slice(s.end);
    limit = s.start;
    seen.add(s.start);
  }
  return out;
}

function qualifiedName(name: string): string {
  return name.split('.').map(quoteDuckDbIdentifier).join('.');
}

/**
 * A parse tree as JSON without source positions, for structural comparison. DuckDB
 * serialises some maps (the REPLACE list) in hash order, so key/value lists are sorted.
 */
function canonicalJson(tree: unknown): string {
  return JSON.stringify(tree, (key, value: unknown) => {
    if (key === 'query_location') return undefined;
    if (Array.isArray(value) && value.length > 1 && value.every(isKeyValue)) {
      return [...value].sort((a, b) => (String(a.key) < String(b.key) ? -1 : String(a.key) > String(b.key) ? 1 : 0));
    }
    return value;
  });
}

function isKeyValue(v: unknown): v is { key: unknown; value: unknown } {
  return v !== null && typeof v === 'object' && Object.keys(v).length === 2 && 'key' in v && 'value' in v;
}

function normalisePlan(plan: MaskPlan): Map<string, Map<string, MaskMethod>> {
  const out = new Map<string, Map<string, MaskMethod>>();
  for (const [table, columns] of Object.entries(plan)) {
    const entries = Object.entries(columns);
    if (entries.length === 0) continue;
    out.set(table.toLowerCase(), new Map(entries));
  }
  return out;
}

function refuse(what: string): AnalysisError {
  return new AnalysisError('masking.cannot_rewrite', `refused: hoopq cannot apply the column masks with certainty: ${what}`, {
    rule: 'columns',
    hint: 'query the masked tables with plain SELECTs (joins, CTEs and subqueries are fine); masked tables cannot be written, copied or described',
  });
}
