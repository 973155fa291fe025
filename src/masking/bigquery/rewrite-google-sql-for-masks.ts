/**
 * Column masks for BigQuery. Input: the SQL as received, the name defaults, the MaskPlan
 * (resolved table or wildcard name -> column path -> method), the tables' schemas (nested
 * fields) and optionally the Catalog (to look through views).
 * Output: SQL in which every read of a masked table goes through
 * `(SELECT * REPLACE (<mask>(col) AS col, …) FROM \`p.d.t\`) AS alias`, so BigQuery itself
 * computes only on masked values wherever the column is used (select list, predicates,
 * joins, grouping, `t.*`, TO_JSON_STRING(t), CTEs, subqueries, set operations), and fields
 * inside RECORD columns are replaced inside the record (google-sql-mask-expression.ts).
 * Invariant: the output contains no reference to a masked table except as the FROM of such
 * a mask subquery — checked by parsing the output again; otherwise an AnalysisError.
 *
 * How: the reference collector gives the source range of every FROM item; that range (the
 * name and its alias) is replaced by the mask subquery under the same alias (the table
 * name's last part when there was none), the rest of the text is kept byte for byte:
 * - `FOR SYSTEM_TIME AS OF x` stays with the table inside the subquery;
 * - a wildcard table (`p.d.cust*`) that reaches masked tables is masked with the union of
 *   their masks, and its `_TABLE_SUFFIX` pseudo-column is passed through;
 * - a view whose definition reaches a masked table is inlined as a subquery of its rewritten
 *   definition, with every name inside fully qualified.
 * - `TABLESAMPLE …` stays with the table inside the subquery too; PIVOT/UNPIVOT apply to the
 *   mask subquery; a `TABLE t` argument (ML.PREDICT(MODEL m, TABLE t)) becomes the bare
 *   subquery `(SELECT * REPLACE (…) FROM \`t\`)`.
 * Refused: a masked table read by a statement other than SELECT (DML, DDL, EXPORT, EXECUTE
 * IMMEDIATE strings).
 */
import { AnalysisError } from '../../errors.js';
import type { Catalog } from '../../analysis/catalog.js';
import type { NameDefaults } from '../../analysis/query-analysis.js';
import { resolveReference } from '../../analysis/bigquery/analyze-google-sql.js';
import { collectGoogleSqlReferences, type CollectedStatement, type TableReference } from '../../analysis/bigquery/collect-google-sql-references.js';
import { wildcardPrefix, wildcardTableMayMatch } from '../../policy/wildcard-table.js';
import type { ColumnInfo, MaskPlan } from '../../warehouse/warehouse.js';
import { googleSqlReplaceItems, quoteGoogleSqlIdentifier } from './google-sql-mask-expression.js';

export interface GoogleSqlMaskContext {
  names: NameDefaults;
  plan: MaskPlan;
  /** The columns (with nested fields) of a masked table; null when unknown. */
  columnsOf(table: string): Promise<ColumnInfo[] | null>;
  catalog?: Catalog;
}

const MAX_VIEW_DEPTH = 8;

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Per masked table (or wildcard), the mask subquery up to the table name. */
type Heads = Map<string, string>;

export async function rewriteGoogleSqlForMasks(sql: string, ctx: GoogleSqlMaskContext): Promise<string> {
  if (Object.keys(ctx.plan).length === 0) return sql;
  const heads = await maskSubqueryHeads(ctx.plan, ctx.columnsOf);
  const out = await rewriteSource(sql, ctx.names, ctx, heads, [], false);
  if (out.text !== sql) verifyMasked(out.text, ctx, heads);
  return out.text;
}

/** The mask subquery's text up to the table name, for every table of the plan (the verification looks for it). */
export async function maskSubqueryHeads(plan: MaskPlan, columnsOf: (table: string) => Promise<ColumnInfo[] | null>): Promise<Heads> {
  const heads: Heads = new Map();
  for (const [table, masks] of Object.entries(plan)) {
    const wildcard = table.endsWith('*');
    const columns = wildcard ? await wildcardColumns(table, plan, columnsOf) : await columnsOf(table);
    if (!columns) throw refusal(`cannot read the schema of ${table} to apply its masks`);
    const extra = wildcard ? ', _TABLE_SUFFIX' : '';
    heads.set(table, `(SELECT * REPLACE (${googleSqlReplaceItems(masks, columns).join(', ')})${extra} FROM `);
  }
  return heads;
}

/** The columns of the masked tables a wildcard reaches (the first spelling of each name wins). */
async function wildcardColumns(wildcard: string, plan: MaskPlan, columnsOf: (table: string) => Promise<ColumnInfo[] | null>): Promise<ColumnInfo[]> {
  const w = wildcardPrefix(wildcard);
  const out: ColumnInfo[] = [];
  for (const table of Object.keys(plan)) {
    if (!w || table.endsWith('*') || !table.toLowerCase().startsWith(`${w.dataset}.${w.prefix}`.toLowerCase())) continue;
    for (const c of (await columnsOf(table)) ?? []) if (!out.some((o) => o.name.toLowerCase() === c.name.toLowerCase())) out.push(c);
  }
  return out;
}

async function rewriteSource(
  source: string,
  names: NameDefaults,
  ctx: GoogleSqlMaskContext,
  heads: Heads,
  viewChain: string[],
  qualifyAll: boolean,
): Promise<{ text: string; changed: boolean }> {
  const statements = collectGoogleSqlReferences(source);
  const edits: Edit[] = [];
  for (const s of statements) {
    for (const ref of s.references) {
      if (ref.role === 'external') continue;
      const resolved = resolveReference(ref, names);
      refuseUnplannedWildcard(resolved, ctx.plan);
      const masked = resolved.find((n) => ctx.plan[n] !== undefined);
      if (masked) {
        edits.push(replaceRelation(source, s, ref, masked, (suffix) => `${heads.get(masked)!}\`${masked}\`${suffix})`));
        continue;
      }
      const inlined = ref.access === 'read' && ref.role === 'table' && resolved.length === 1 ? await inlineView(resolved[0]!, ctx, heads, viewChain) : null;
      if (inlined) {
        edits.push(replaceRelation(source, s, ref, resolved[0]!, () => `(${inlined})`));
      } else if (qualifyAll) {
        if (resolved.length !== 1) throw refusal(`the view ${viewChain.at(-1)} names ${ref.parts.join('.')} ambiguously`);
        edits.push({ start: ref.range[0], end: ref.range[1], text: `\`${resolved[0]}\`` });
      }
    }
  }
  return { text: applyEdits(source, edits), changed: edits.some((e) => e.text.startsWith('(')) };
}

/** The rewritten definition of `name` when it is a view that reaches a masked table, else null. */
async function inlineView(name: string, ctx: GoogleSqlMaskContext, heads: Heads, chain: string[]): Promise<string | null> {
  if (!ctx.catalog || name.endsWith('*')) return null;
  const def = await ctx.catalog.viewDefinition(name);
  if (!def) return null;
  if (chain.includes(name) || chain.length >= MAX_VIEW_DEPTH) throw refusal(`the definition of view ${name} is circular or nested too deeply`);
  const body = collectGoogleSqlReferences(def.sql);
  if (body.length !== 1 || body[0]!.kind !== 'select') throw refusal(`the definition of view ${name} is not a single query`);
  const out = await rewriteSource(def.sql, { defaultProject: def.project, defaultDataset: def.dataset }, ctx, heads, [...chain, name], true);
  // Newlines keep a trailing line comment of the definition from swallowing the closing paren.
  return out.changed ? `\n${out.text.trim().replace(/;$/, '')}\n` : null;
}

function replaceRelation(source: string, s: CollectedStatement, ref: TableReference, table: string, subquery: (suffix: string) => string): Edit {
  if (s.kind !== 'select' || s.dynamic) {
    throw refusal(`${s.nativeType} statements may not read ${table}, which has masked columns`, 'only SELECT statements may read tables with masked columns');
  }
  if (ref.access !== 'read' || !ref.relation) {
    throw refusal(`${table} has masked columns and is read in a form that cannot be masked`);
  }
  const suffix = ref.relation.suffix ? source.slice(ref.relation.suffix[0], ref.relation.suffix[1]) : '';
  if (ref.relation.bare) return { start: ref.relation.range[0], end: ref.relation.range[1], text: subquery(suffix) };
  const alias = ref.relation.alias ?? ref.parts[ref.parts.length - 1]!;
  return { start: ref.relation.range[0], end: ref.relation.range[1], text: `${subquery(suffix)} AS ${quoteGoogleSqlIdentifier(alias)}` };
}

/** A wildcard that could reach a masked table must have been planned (the plan then has an entry for it). */
function refuseUnplannedWildcard(resolved: string[], plan: MaskPlan): void {
  for (const name of resolved) {
    if (!name.endsWith('*') || plan[name] !== undefined) continue;
    const hit = Object.keys(plan).find((t) => !t.endsWith('*') && wildcardTableMayMatch(name, [t], true));
    if (hit) throw refusal(`the wildcard table ${name} may include ${hit}, which has masked columns, but its masks were not planned`, 'query the tables by their full names');
  }
}

function applyEdits(source: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const e of sorted) {
    if (e.start < at) throw refusal('overlapping table references');
    out += source.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + source.slice(at);
}

/** Parse the output again: every reference to a masked table must be the FROM of its mask subquery. */
function verifyMasked(text: string, ctx: GoogleSqlMaskContext, heads: Heads): void {
  for (const s of collectGoogleSqlReferences(text, { trusted: true })) {
    for (const ref of s.references) {
      if (ref.role === 'external') continue;
      for (const name of resolveReference(ref, ctx.names)) {
        if (ctx.plan[name] === undefined) continue;
        const head = heads.get(name)!;
        const ok = s.kind === 'select' && ref.relation !== undefined && text.slice(ref.range[0] - head.length, ref.range[0]) === head && text.slice(ref.range[0], ref.range[1]) === `\`${name}\``;
        if (!ok) throw refusal(`a reference to ${name} escaped its column masks`);
      }
    }
  }
}

function refusal(what: string, hint = 'query the masked table directly with a plain SELECT'): AnalysisError {
  return new AnalysisError('masking.unsupported', `refused: ${what}`, { rule: 'columns', hint });
}
