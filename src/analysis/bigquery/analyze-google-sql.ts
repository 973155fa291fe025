/**
 * GoogleSQL analysis stage.
 * Input: SQL text as received, the name defaults (default project/dataset), optionally a
 * catalog to look through views. Output: a QueryAnalysis (dialect 'googlesql') with every
 * statement — including each statement inside a script, a procedure body or a literal
 * EXECUTE IMMEDIATE string — its kind, BigQuery-style native type, and the resolved tables
 * it reads and writes.
 * Invariant: a result is returned only when every table is known; anything the parser or
 * the collector cannot account for is an AnalysisError (exit 6). Views are replaced in
 * `reads` by the tables their definitions read (recursively) and listed in `views`.
 */
import { AnalysisError } from '../../errors.js';
import type { Catalog } from '../catalog.js';
import type { ExternalResource, NameDefaults, QueryAnalysis, StatementAnalysis, ViewExpansion } from '../query-analysis.js';
import { collectGoogleSqlReferences, type CollectedStatement, type TableReference } from './collect-google-sql-references.js';
import { isInformationSchema, resolveGoogleSqlName } from './google-sql-name.js';

export interface GoogleSqlStatementAnalysis extends StatementAnalysis {
  /** Names as written (dotted, without backticks), for explain output and benchmarking. */
  written: {
    /** Tables read, not counting the row-observing reads of DML targets. */
    reads: string[];
    writes: string[];
    /** DML targets (DELETE/UPDATE/MERGE), which `reads` above includes resolved, since their predicates observe rows. */
    targetReads: string[];
  };
  /**
   * Persistent routines called, resolved: functions in expressions, table functions in FROM,
   * procedures in CALL (their bodies are not expanded; the dry run's referencedTables is the
   * backstop for the tables they read).
   */
  routines: string[];
}

export interface GoogleSqlAnalysis extends QueryAnalysis {
  dialect: 'googlesql';
  statements: GoogleSqlStatementAnalysis[];
}

export interface GoogleSqlAnalysisContext {
  names: NameDefaults;
  catalog?: Catalog;
  /** hoopq's own text (a mask rewrite), which may use hoopq's reserved names. Never a caller's SQL. */
  trusted?: boolean;
}

const MAX_VIEW_DEPTH = 8;

export async function analyzeGoogleSql(sql: string, ctx: GoogleSqlAnalysisContext): Promise<GoogleSqlAnalysis> {
  const collected = collectGoogleSqlReferences(sql, { trusted: ctx.trusted });
  if (collected.length === 0) {
    throw new AnalysisError('analysis.empty', 'refused: the SQL contains no statement', {
      rule: 'analysis.parse',
      hint: 'send one GoogleSQL statement or script',
    });
  }
  const statements: GoogleSqlStatementAnalysis[] = [];
  for (const c of collected) statements.push(await analyzeStatement(c, ctx, []));
  // BigQuery runs the script as one job: the text analysed is the text sent.
  return { dialect: 'googlesql', statements, run: [sql] };
}

async function analyzeStatement(c: CollectedStatement, ctx: GoogleSqlAnalysisContext, viewChain: string[]): Promise<GoogleSqlStatementAnalysis> {
  const reads = new Set<string>();
  const writes = new Set<string>();
  const views: ViewExpansion[] = [];
  const written = { reads: new Set<string>(), writes: new Set<string>(), targetReads: new Set<string>() };
  const routines = new Set(c.routines.map((parts) => resolveGoogleSqlName(parts, ctx.names)[0]!));
  const timeTravel = new Set<string>();
  for (const ref of c.references) {
    if (ref.timeTravel) for (const name of resolveReference(ref, ctx.names)) timeTravel.add(name);
    const as = writtenName(ref);
    (ref.targetRead ? written.targetReads : ref.access === 'read' ? written.reads : written.writes).add(as);
    for (const name of resolveReference(ref, ctx.names)) {
      if (ref.role === 'routine' && ref.access === 'read') {
        routines.add(name);
        continue;
      }
      if (ref.access === 'write') {
        writes.add(name);
        continue;
      }
      const expansion = ref.role === 'table' ? await expandView(name, ctx, viewChain) : null;
      if (expansion) {
        // the view itself stays a read (a read rule must allow it), with everything behind it
        views.push(...expansion.views);
        reads.add(name);
        for (const t of expansion.views[0]!.reads) reads.add(t);
        for (const r of expansion.routines) routines.add(r);
        for (const t of expansion.timeTravel) timeTravel.add(t);
      } else {
        reads.add(name);
      }
    }
  }
  return {
    kind: c.kind,
    nativeType: c.nativeType,
    text: c.source.slice(c.range[0], c.range[1]),
    reads: [...reads].sort(),
    writes: [...writes].sort(),
    views,
    written: { reads: [...written.reads].sort(), writes: [...written.writes].sort(), targetReads: [...written.targetReads].sort() },
    routines: [...routines].sort(),
    external: resolveExternal(c, ctx.names),
    ...(timeTravel.size > 0 ? { timeTravel: [...timeTravel].sort() } : {}),
  };
}

const USE_BY_TYPE: Record<string, ExternalResource['use']> = {
  EXPORT_DATA: 'export',
  LOAD_DATA: 'load',
  CREATE_EXTERNAL_TABLE: 'external_table',
  CREATE_FUNCTION: 'remote_function',
  CREATE_TABLE_FUNCTION: 'remote_function',
};

/** URIs as written; connection ids resolved to `project.location.connection` (a two-part id is in the default project). */
function resolveExternal(c: CollectedStatement, names: NameDefaults): ExternalResource[] {
  const use = USE_BY_TYPE[c.nativeType] ?? 'load';
  return c.external.map((e) => {
    if (e.kind === 'uri') return { kind: 'uri', value: e.value as string, use };
    const parts = e.value as string[];
    if (parts.length === 3) return { kind: 'connection', value: parts.join('.'), use: 'connection' };
    if (parts.length === 2 && names.defaultProject) return { kind: 'connection', value: `${names.defaultProject}.${parts.join('.')}`, use: 'connection' };
    // `DEFAULT` (the project's default connection) or a bare id: kept as written; no destination
    // glob (two or three parts) can match it, so a policy cannot allow it by accident
    if (parts.length === 1) return { kind: 'connection', value: parts[0]!, use: 'connection' };
    throw new AnalysisError('analysis.unresolvable_name', `refused: cannot resolve the connection "${parts.join('.')}"`, {
      rule: 'names',
      hint: 'name connections as project.location.connection',
    });
  });
}

export function writtenName(ref: TableReference): string {
  return ref.role === 'external' ? `external_query:${ref.connection}` : ref.parts.join('.');
}

export function resolveReference(ref: TableReference, names: NameDefaults): string[] {
  if (ref.role === 'external') return [`external_query:${ref.connection}`];
  return resolveGoogleSqlName(ref.parts, names);
}

/**
 * null when `name` is not a view; otherwise the view's expansion first, then the expansions
 * of the views it reads, the routines its definition calls and the tables it reads as an earlier version. The first entry's `reads` are what the definition reads: its base
 * tables and the views it names (themselves expanded in the later entries).
 */
async function expandView(name: string, ctx: GoogleSqlAnalysisContext, chain: string[]): Promise<{ views: ViewExpansion[]; routines: string[]; timeTravel: string[] } | null> {
  if (!ctx.catalog || name.endsWith('*') || isInformationSchema(name.split('.'))) return null;
  const def = await ctx.catalog.viewDefinition(name);
  if (!def) return null;
  if (chain.includes(name) || chain.length >= MAX_VIEW_DEPTH) {
    throw new AnalysisError('analysis.view_depth', `refused: the definition of view ${name} is circular or nested too deeply`, {
      rule: 'analysis.views',
      hint: 'query the underlying tables directly',
    });
  }
  const inner = collectGoogleSqlReferences(def.sql);
  if (inner.length !== 1 || inner[0]!.kind !== 'select') {
    throw new AnalysisError('analysis.view_definition', `refused: the definition of view ${name} is not a single query`, {
      rule: 'analysis.views',
      hint: 'query the underlying tables directly',
    });
  }
  const analysed = await analyzeStatement(inner[0]!, { names: { defaultProject: def.project, defaultDataset: def.dataset }, catalog: ctx.catalog }, [...chain, name]);
  return { views: [{ view: name, reads: analysed.reads }, ...analysed.views], routines: analysed.routines, timeTravel: analysed.timeTravel ?? [] };
}
