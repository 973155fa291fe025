/**
 * The warehouse's own view of a query (a dry run) must agree with hoopq's analysis before
 * anything runs. Input: the dry run, the checked query (analysis and mask plan), the policy,
 * the warehouse (its dialect and catalog). Output: nothing, or a refusal.
 * Invariants:
 * - a table or routine the warehouse names that the policy does not allow is refused (exit 5);
 * - a list the engine may have cut is refused (we cannot check what we cannot see);
 * - a table, routine or statement type the analysis did not see means the analysis was
 *   wrong: exit 6;
 * - masks are planned again from the tables the warehouse names: a table read whose masked
 *   columns the plan does not cover (a wildcard expansion the catalog did not list, a name
 *   the engine folded) is refused (exit 6), so no mask is lost between analysis and run;
 * - the byte estimate must fit `max_bytes_billed`.
 */
import { routinesOf, tablesOf, type QueryAnalysis } from '../analysis/query-analysis.js';
import { AnalysisError, PolicyDeniedError } from '../errors.js';
import { routineRefusal, tableAccessRefusal } from '../policy/evaluate-policy.js';
import { planMasks } from '../policy/plan-masks.js';
import type { Policy } from '../policy/policy.js';
import type { DryRunResult, MaskPlan, Warehouse } from '../warehouse/warehouse.js';
import { columnKey, isWildcardName, tableCaseInsensitive, tableKey, type WarehouseDialect } from '../warehouse/warehouse-dialect.js';
import { maskCatalogOf } from './check-query.js';

export interface DryRunSubject {
  analysis: QueryAnalysis;
  /** The masks the query will run under. */
  plan: MaskPlan;
}

export async function crossCheckDryRun(dry: DryRunResult, checked: DryRunSubject, policy: Policy, warehouse: Warehouse): Promise<void> {
  const dialect = warehouse.dialect;
  const analysis = checked.analysis;
  const limit = dialect.referencedTableLimit;
  if (dry.referencedTablesIncomplete || (limit !== undefined && dry.referencedTables.length >= limit)) {
    throw new PolicyDeniedError('policy.too_many_tables', `refused: the warehouse reports ${limit ?? 'too many'} or more referenced tables, so the list may be incomplete and cannot be checked (rule limits.referenced_tables)`, {
      rule: 'limits.referenced_tables',
      hint: `split the query so that each part reads fewer than ${limit ?? 'that many'} tables`,
    });
  }
  const local = tablesOf(analysis);
  const fold = (t: string) => (tableCaseInsensitive(dialect, 'protect') ? t.toLowerCase() : tableKey(dialect, t));
  const seen = new Set([...local.read, ...local.write].map(fold));
  const wildcards = local.read.filter((t) => isWildcardName(dialect, t)).map((w) => fold(w.slice(0, -1)));
  for (const table of dry.referencedTables) {
    const refusal = tableAccessRefusal(local.write.includes(table) && !local.read.includes(table) ? 'write' : 'read', table, policy, dialect);
    if (refusal) throw fromDryRun(refusal, table);
    const key = fold(table);
    if (!seen.has(key) && !wildcards.some((prefix) => key.startsWith(prefix))) {
      throw new AnalysisError('analysis.dry_run_mismatch', `refused: the warehouse reports that the query reads ${table}, which hoopq's analysis did not find; the analysis cannot be trusted for this query`, {
        rule: 'analysis.dry_run',
        hint: 'name every table explicitly (no dynamic SQL, routines or views that hide reads)',
        details: { table },
      });
    }
  }
  checkRoutines(dry.referencedRoutines ?? [], analysis, policy, dialect);
  checkStatementType(dry, analysis);
  const cap = policy.limits.maxBytesBilled;
  if (cap !== undefined && dry.bytesProcessed !== undefined && dry.bytesProcessed > cap) {
    throw new PolicyDeniedError('policy.bytes_exceeded', `refused: the query would process ${dry.bytesProcessed} bytes, more than max_bytes_billed ${cap} of policy ${policy.name} (rule limits.max_bytes_billed)`, {
      rule: 'limits.max_bytes_billed',
      hint: 'filter on partition or clustering columns, select fewer columns, or read a smaller table',
    });
  }
  // only tables the query reads carry masks that matter; a pure write target is not read
  const read = dry.referencedTables.filter((t) => !(local.write.some((w) => fold(w) === fold(t)) && !local.read.some((r) => fold(r) === fold(t))));
  await checkMasksCover(read, checked.plan, policy, warehouse);
}

function checkRoutines(referenced: readonly string[], analysis: QueryAnalysis, policy: Policy, dialect: WarehouseDialect): void {
  const known = new Set(routinesOf(analysis).map((r) => tableKey(dialect, r)));
  for (const routine of referenced) {
    const refusal = routineRefusal(routine, policy, dialect);
    if (refusal) throw fromDryRun(refusal, routine);
    if (!known.has(tableKey(dialect, routine))) {
      throw new AnalysisError('analysis.dry_run_mismatch', `refused: the warehouse reports that the query calls ${routine}, which hoopq's analysis did not find; the analysis cannot be trusted for this query`, {
        rule: 'analysis.dry_run',
        hint: 'call routines by their full name (project.dataset.routine)',
        details: { routine },
      });
    }
  }
}

function checkStatementType(dry: DryRunResult, analysis: QueryAnalysis): void {
  if (dry.statementType && analysis.statements.length === 1) {
    const native = analysis.statements[0]!.nativeType.toUpperCase();
    if (native !== dry.statementType.toUpperCase() && !(analysis.statements[0]!.kind === 'select' && dry.statementType.toUpperCase() === 'SELECT')) {
      throw new AnalysisError('analysis.dry_run_statement_type', `refused: the warehouse sees a ${dry.statementType} statement where hoopq's analysis found ${native}`, {
        rule: 'analysis.dry_run',
        hint: 'send one plain statement whose kind is unambiguous',
      });
    }
  }
  if (dry.statementType && analysis.statements.length > 1 && dry.statementType.toUpperCase() !== 'SCRIPT') {
    throw new AnalysisError('analysis.dry_run_statement_type', `refused: hoopq found ${analysis.statements.length} statements where the warehouse sees one ${dry.statementType}`, {
      rule: 'analysis.dry_run',
      hint: 'send one statement at a time',
    });
  }
}

/** Every masked column of every table the warehouse says is read must be in the plan, with the same method. */
async function checkMasksCover(read: readonly string[], plan: MaskPlan, policy: Policy, warehouse: Warehouse): Promise<void> {
  if (Object.keys(policy.columns).length === 0 || read.length === 0) return;
  const dialect = warehouse.dialect;
  const needed = await planMasks(read, policy, maskCatalogOf(warehouse), dialect);
  const fold = (t: string) => (tableCaseInsensitive(dialect, 'protect') ? t.toLowerCase() : t);
  for (const [table, columns] of Object.entries(needed)) {
    const plannedTable = Object.keys(plan).find((t) => fold(t) === fold(table));
    const planned = plannedTable === undefined ? {} : plan[plannedTable]!;
    for (const [column, method] of Object.entries(columns)) {
      const same = Object.keys(planned).find((c) => columnKey(dialect, c) === columnKey(dialect, column));
      if (same === undefined || planned[same] !== method) {
        throw new AnalysisError('masking.dry_run_mismatch', `refused: the warehouse reports that the query reads ${table}, whose column ${column} is masked (${method}) by policy ${policy.name}, but hoopq's mask plan does not cover it`, {
          rule: 'columns',
          hint: 'name masked tables explicitly (no wildcard or differently-cased names that reach them)',
          details: { table, column },
        });
      }
    }
  }
}

function fromDryRun(refusal: PolicyDeniedError, name: string): PolicyDeniedError {
  return new PolicyDeniedError(refusal.code, refusal.message.replace(/^refused: /, `refused (the warehouse's dry run names ${name}): `), {
    rule: refusal.rule,
    hint: refusal.hint,
    details: { ...refusal.details, source: 'dry_run' },
  });
}
