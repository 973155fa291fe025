/**
 * Makes a refusal something an agent can act on: to the hint of a refused or unknown table
 * it adds readable tables with close names (and what is masked in them), to a refused mask
 * rewrite the masked columns involved, and, when the policy wants a justification and none
 * was given, that one is needed. The message, code, rule and class stay as they were (the
 * audit and exit code do not change); only the hint grows.
 * Suggestions are best effort: if listing fails, the original refusal is returned unchanged.
 */
import type { NameDefaults } from '../analysis/query-analysis.js';
import { AnalysisError, HoopqError, type HoopqErrorOptions, PolicyDeniedError, isHoopqError } from '../errors.js';
import { tableAccessRefusal } from '../policy/evaluate-policy.js';
import type { Policy } from '../policy/policy.js';
import { suggestTables } from '../policy/suggest-tables.js';
import type { Warehouse } from '../warehouse/warehouse.js';
import { checkTableRead } from './check-table-read.js';

export interface RefusalContext {
  warehouse: Warehouse;
  policy: Policy;
  names: NameDefaults;
  /** The query's justification; undefined for requests that need none (listings). */
  justification?: string | null;
  /** The masks planned for the query so far (`project.dataset.table.column` -> method). */
  masks?: Record<string, string>;
}

const TABLE_CODES = new Set(['policy.table_denied', 'policy.table_not_allowed', 'analysis.unknown_table']);
/** Candidates checked through views before giving up on more suggestions. */
const MAX_CHECKED = 8;
const MAX_SUGGESTED = 3;

export async function enrichRefusal(err: unknown, ctx: RefusalContext): Promise<unknown> {
  if (!isHoopqError(err) || !(err instanceof PolicyDeniedError || err instanceof AnalysisError)) return err;
  const clauses: string[] = [];
  const table = typeof err.details?.table === 'string' ? err.details.table : undefined;
  if (table && TABLE_CODES.has(err.code)) {
    const access = err.details?.access === 'write' ? 'write' : 'read';
    const suggestion = await suggestionClause(table, access, ctx).catch(() => undefined);
    if (suggestion) clauses.push(suggestion);
  }
  if (err.code.startsWith('masking.') && ctx.masks && Object.keys(ctx.masks).length > 0) {
    clauses.push(`masked columns in this query: ${describeMasks(ctx.masks)}`);
  }
  if (err.code !== 'policy.justification_required' && ctx.justification !== undefined && ctx.policy.requireJustification && !ctx.justification?.trim()) {
    clauses.push(`policy ${ctx.policy.name} also needs a justification with every query`);
  }
  if (clauses.length === 0) return err;
  return withHint(err, [...clauses, ...(err.hint ? [err.hint] : [])].join('; '));
}

async function suggestionClause(table: string, access: 'read' | 'write', ctx: RefusalContext): Promise<string | undefined> {
  const all = await ctx.warehouse.listTables();
  const allowed = all.filter((t) => !tableAccessRefusal(access, t, ctx.policy, ctx.warehouse.dialect));
  const ranked = suggestTables(table, allowed, MAX_CHECKED);
  const picked: string[] = [];
  for (const candidate of ranked) {
    if (picked.length === MAX_SUGGESTED) break;
    if (access === 'write') {
      picked.push(candidate);
      continue;
    }
    // a view in an allowed dataset may read a denied table: suggest only what a query could read
    const read = await checkTableRead(ctx.warehouse, candidate, ctx.policy, ctx.names).catch(() => undefined);
    if (!read) continue;
    picked.push(Object.keys(read.masks).length > 0 ? `${candidate} (masked: ${describeMasks(read.masks, candidate)})` : candidate);
  }
  if (picked.length === 0) return undefined;
  return `you may ${access} instead: ${picked.join(', ')}`;
}

/** `email=hash, ssn=redact` for the table's own columns; `demo.crm.customers.email=hash` for columns of other tables (a view's sources). */
export function describeMasks(masks: Record<string, string>, ownTable?: string): string {
  return Object.entries(masks)
    .map(([column, method]) => `${ownTable && column.startsWith(ownTable + '.') ? column.slice(ownTable.length + 1) : column}=${method}`)
    .join(', ');
}

function withHint(err: HoopqError, hint: string): HoopqError {
  const Same = err.constructor as new (code: string, message: string, options: HoopqErrorOptions) => HoopqError;
  return new Same(err.code, err.message, { hint, rule: err.rule, details: err.details, cause: err.cause });
}
