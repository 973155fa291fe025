/**
 * The decision half of the pipeline, shared by `query`, `query --dry-run` and `explain`:
 * analyse the SQL with the warehouse's own dialect analyser, evaluate the policy, plan the
 * column masks and rewrite the SQL so the warehouse computes on masked values.
 * Input: SQL, policy, justification, an open warehouse. Output: a CheckedQuery, or a
 * HoopqError (AnalysisError 6 / PolicyDeniedError 5) with the analysis so far for the audit.
 */
import { tablesOf, timeTravelOf, type QueryAnalysis } from '../analysis/query-analysis.js';
import type { NameDefaults, SqlLiterals } from '../analysis/query-analysis.js';
import { AnalysisError, PolicyDeniedError } from '../errors.js';
import { evaluatePolicy } from '../policy/evaluate-policy.js';
import type { Policy } from '../policy/policy.js';
import { flattenMaskPlan, planMasks, planMasksByName, type MaskCatalog } from '../policy/plan-masks.js';
import type { MaskPlan, Warehouse } from '../warehouse/warehouse.js';
import { isExternalQueryName, type WarehouseDialect } from '../warehouse/warehouse-dialect.js';
import { enrichRefusal } from './enrich-refusal.js';

export interface CheckedQuery {
  analysis: QueryAnalysis;
  plan: MaskPlan;
  masks: Record<string, string>;
  /**
   * What the warehouse will run: the analysis' own statement texts (`analysis.run`), or their
   * rewrite for masks (analysed again by the rewriter). Never the received string.
   */
  statementsToRun: string[];
}

/** Carries the partial analysis to whoever records the refusal. */
export class CheckProgress {
  analysis: QueryAnalysis | undefined;
  masks: Record<string, string> = {};
  /** The engine-checked literal spans of the SQL, known even when analysis refused it later. */
  literals: SqlLiterals | undefined;
}

export async function checkQuery(
  warehouse: Warehouse,
  sql: string,
  policy: Policy,
  justification: string | null,
  names: NameDefaults,
  progress: CheckProgress = new CheckProgress(),
): Promise<CheckedQuery> {
  const dialect = warehouse.dialect;
  // refusals leave here with hints an agent can act on (close tables, masks, justification)
  const refusal = { warehouse, policy, names, justification };
  let analysis: QueryAnalysis;
  try {
    analysis = await warehouse.analyze(sql, names);
    progress.analysis = analysis;
    progress.literals = analysis.literals;
    evaluatePolicy({ analysis, policy, justification, dialect });
  } catch (err) {
    if (err instanceof AnalysisError && err.sqlLiterals) progress.literals ??= err.sqlLiterals;
    throw await enrichRefusal(err, refusal);
  }
  const read = tablesOf(analysis).read;
  checkExternalQuery(read, policy, dialect);
  if (!warehouse.catalogAvailable) {
    // explain --offline on a remote engine: which masks would apply if the columns exist; nothing is rewritten
    progress.masks = planMasksByName(read, policy, dialect);
    return { analysis, plan: {}, masks: progress.masks, statementsToRun: analysis.run };
  }
  const plan = await planMasks(read, policy, maskCatalogOf(warehouse), dialect, timeTravelOf(analysis));
  progress.masks = flattenMaskPlan(plan);
  let statementsToRun = analysis.run;
  if (Object.keys(plan).length > 0) {
    try {
      statementsToRun = await warehouse.rewriteForMasks(analysis, plan, names);
    } catch (err) {
      throw await enrichRefusal(err, { ...refusal, masks: progress.masks });
    }
  }
  return { analysis, plan, masks: progress.masks, statementsToRun };
}

/** The warehouse as mask planning sees it: descriptions and listings. */
export function maskCatalogOf(warehouse: Warehouse): MaskCatalog {
  return { describeTable: (t) => warehouse.describeTable(t), listTables: (d) => warehouse.listTables(d) };
}

function checkExternalQuery(read: string[], policy: Policy, dialect: WarehouseDialect): void {
  const external = read.find((t) => isExternalQueryName(dialect, t));
  if (external && !policy.allowExternalQuery) {
    throw new PolicyDeniedError('policy.external_query', `refused: EXTERNAL_QUERY (${external.slice(dialect.externalQueryPrefix!.length)}) is not allowed by policy ${policy.name} (rule allow_external_query)`, {
      rule: 'allow_external_query',
      hint: 'query BigQuery tables instead; federated queries need allow_external_query: true in the policy',
    });
  }
}
