/**
 * The warehouse's own view of a query (a dry run) must agree with hoopq's analysis before
 * anything runs. Input: the dry run, the local analysis, the policy. Output: nothing, or a
 * refusal. Invariants: a table the warehouse names that the policy does not allow is refused
 * (exit 5); an incomplete list is refused (we cannot check what we cannot see); a table or
 * statement type the analysis did not see means the analysis was wrong, so exit 6; the
 * byte estimate must fit `max_bytes_billed`.
 */
import { tablesOf, type QueryAnalysis } from '../analysis/query-analysis.js';
import { isWildcardTable } from '../analysis/bigquery/wildcard-table.js';
import { matchesAnyGlob } from '../analysis/table-name.js';
import { AnalysisError, PolicyDeniedError } from '../errors.js';
import type { Policy } from '../policy/policy.js';
import type { DryRunResult } from '../warehouse/warehouse.js';

/** BigQuery returns at most this many referenced tables. */
export const MAX_REFERENCED_TABLES = 50;

export function crossCheckDryRun(dry: DryRunResult, analysis: QueryAnalysis, policy: Policy, caseInsensitive: boolean): void {
  if (dry.referencedTablesIncomplete || dry.referencedTables.length > MAX_REFERENCED_TABLES) {
    throw new PolicyDeniedError('policy.too_many_tables', `refused: the warehouse reports more than ${MAX_REFERENCED_TABLES} referenced tables, so the list is incomplete and cannot be checked (rule limits.referenced_tables)`, {
      rule: 'limits.referenced_tables',
      hint: `split the query so that each part reads at most ${MAX_REFERENCED_TABLES} tables`,
    });
  }
  const local = tablesOf(analysis);
  const seen = new Set([...local.read, ...local.write].map((t) => (caseInsensitive ? t.toLowerCase() : t)));
  const wildcards = local.read.filter(isWildcardTable).map((w) => w.slice(0, -1));
  for (const table of dry.referencedTables) {
    const deny = matchesAnyGlob(table, policy.tables.deny, caseInsensitive);
    if (deny) {
      throw new PolicyDeniedError('policy.table_denied', `refused: the warehouse reports that the query reads ${table}, which policy ${policy.name} denies (rule tables.deny "${deny}")`, {
        rule: 'tables.deny',
        hint: `tables you may read: ${policy.tables.read.join(', ') || 'none'}`,
        details: { table, source: 'dry_run' },
      });
    }
    if (!matchesAnyGlob(table, [...policy.tables.read, ...policy.tables.write], caseInsensitive)) {
      throw new PolicyDeniedError('policy.table_not_allowed', `refused: the warehouse reports that the query reads ${table}, which policy ${policy.name} does not allow (rule tables.read)`, {
        rule: 'tables.read',
        hint: `tables you may read: ${policy.tables.read.join(', ') || 'none'}`,
        details: { table, source: 'dry_run' },
      });
    }
    const key = caseInsensitive ? table.toLowerCase() : table;
    if (!seen.has(key) && !wildcards.some((prefix) => key.startsWith(prefix))) {
      throw new AnalysisError('analysis.dry_run_mismatch', `refused: the warehouse reports that the query reads ${table}, which hoopq's analysis did not find; the analysis cannot be trusted for this query`, {
        rule: 'analysis.dry_run',
        hint: 'name every table explicitly (no dynamic SQL, routines or views that hide reads)',
        details: { table },
      });
    }
  }
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
  const cap = policy.limits.maxBytesBilled;
  if (cap !== undefined && dry.bytesProcessed !== undefined && dry.bytesProcessed > cap) {
    throw new PolicyDeniedError('policy.bytes_exceeded', `refused: the query would process ${dry.bytesProcessed} bytes, more than max_bytes_billed ${cap} of policy ${policy.name} (rule limits.max_bytes_billed)`, {
      rule: 'limits.max_bytes_billed',
      hint: 'filter on partition or clustering columns, select fewer columns, or read a smaller table',
    });
  }
}
