/**
 * The BigQuery warehouse: GoogleSQL analysis and mask rewrite (src/analysis/bigquery,
 * src/masking/bigquery) over a Catalog backed by tables.get, a dry run that reports what
 * BigQuery itself will read, and query jobs streamed page by page. Every REST call runs with
 * the impersonated credential of the policy's service account (open-bigquery-warehouse.ts);
 * the gateway's own credential is never handed to the BigQuery client.
 */
import { analyzeGoogleSql } from '../../analysis/bigquery/analyze-google-sql.js';
import type { NameDefaults, QueryAnalysis } from '../../analysis/query-analysis.js';
import { AnalysisError, WarehouseError } from '../../errors.js';
import { rewriteGoogleSqlForMasks } from '../../masking/bigquery/rewrite-google-sql-for-masks.js';
import type { DryRunResult, ExecuteOptions, MaskPlan, QueryExecution, TableInfo, Warehouse } from '../warehouse.js';
import { BigQueryCatalog } from './bigquery-catalog.js';
import { fromJobError } from './bigquery-error.js';
import type { BigQueryRest } from './bigquery-rest.js';
import { buildQueryJob, type QueryJobTarget } from './build-query-job.js';
import { streamBigQueryQuery } from './stream-bigquery-query.js';
import { toAnalysisError } from '../to-analysis-error.js';

/** BigQuery lists at most this many referenced tables; a list this long may have been cut. */
export const REFERENCED_TABLES_LIMIT = 50;

interface DryRunResponse {
  status?: { errorResult?: { reason?: string; message?: string } };
  statistics?: {
    totalBytesProcessed?: string;
    query?: {
      statementType?: string;
      totalBytesProcessed?: string;
      referencedTables?: Array<{ projectId?: string; datasetId?: string; tableId?: string }>;
    };
  };
}

export class BigQueryWarehouse implements Warehouse {
  readonly kind = 'bigquery' as const;
  readonly project: string;
  readonly catalog: BigQueryCatalog;
  private closed = false;
  /** Aborted by close(): running jobs are cancelled. */
  private readonly closing = new AbortController();

  constructor(
    private readonly rest: BigQueryRest,
    private readonly target: QueryJobTarget,
  ) {
    this.project = target.project;
    this.catalog = new BigQueryCatalog(rest, target.project);
  }

  async analyze(sql: string, names: NameDefaults): Promise<QueryAnalysis> {
    this.assertOpen();
    try {
      return await analyzeGoogleSql(sql, { names, catalog: this.catalog });
    } catch (err) {
      throw asAnalysisError(err);
    }
  }

  async rewriteForMasks(analysis: QueryAnalysis, plan: MaskPlan, names: NameDefaults): Promise<string[]> {
    this.assertOpen();
    try {
      return [await rewriteGoogleSqlForMasks(scriptOf(analysis.run), { names, plan, catalog: this.catalog })];
    } catch (err) {
      throw asAnalysisError(err);
    }
  }

  async describeTable(name: string): Promise<TableInfo | null> {
    this.assertOpen();
    return this.catalog.describeTable(name);
  }

  async listTables(dataset?: string): Promise<string[]> {
    this.assertOpen();
    return this.catalog.listTables(dataset);
  }

  /**
   * jobs.insert with `dryRun: true`: BigQuery's statement type, the tables it resolved
   * (`projectId.datasetId.tableId`) and its byte estimate. Nothing runs and nothing is billed.
   */
  async dryRun(statements: readonly string[], options: ExecuteOptions): Promise<DryRunResult> {
    const sql = scriptOf(statements);
    this.assertOpen();
    const job = buildQueryJob(sql, options, this.target, true);
    const response = await this.rest.call<DryRunResponse>({ method: 'POST', uri: '/jobs', json: job }, AbortSignal.any([options.signal, this.closing.signal]));
    if (response.status?.errorResult) throw fromJobError(response.status.errorResult, this.rest.errorContext);
    const query = response.statistics?.query;
    if (!query) {
      throw new WarehouseError('warehouse.dry_run_incomplete', 'BigQuery answered the dry run without query statistics, so what the query reads cannot be checked', {
        rule: 'analysis.dry_run',
        hint: 'retry; if it persists, check api_endpoint in hoopq.yaml',
      });
    }
    const referenced = (query.referencedTables ?? []).map((t) => {
      if (!t.projectId || !t.datasetId || !t.tableId) {
        throw new WarehouseError('warehouse.dry_run_incomplete', 'BigQuery reported a referenced table without project, dataset and table id', { rule: 'analysis.dry_run' });
      }
      return `${t.projectId}.${t.datasetId}.${t.tableId}`;
    });
    this.refuseOpaqueTables();
    const bytes = response.statistics?.totalBytesProcessed ?? query.totalBytesProcessed;
    return {
      statementType: query.statementType,
      referencedTables: [...new Set(referenced)],
      // the API documents the list as incomplete beyond 50 tables and does not flag the cut itself
      referencedTablesIncomplete: referenced.length >= REFERENCED_TABLES_LIMIT,
      ...(bytes !== undefined ? { bytesProcessed: Number(bytes) } : {}),
    };
  }

  async execute(statements: readonly string[], options: ExecuteOptions): Promise<QueryExecution> {
    const sql = scriptOf(statements);
    this.assertOpen();
    const job = buildQueryJob(sql, options, this.target, false);
    return streamBigQueryQuery(this.rest, job, { ...options, signal: AbortSignal.any([options.signal, this.closing.signal]) });
  }

  /** Cancels whatever still runs (their streams end with `warehouse.cancelled`). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
  }

  /**
   * A table whose metadata the account could not read while hoopq looked for views, in a
   * query BigQuery nevertheless accepts, is reached through an authorization hoopq cannot see
   * through (e.g. an authorized view): its reads are unknown, so the query is refused.
   */
  private refuseOpaqueTables(): void {
    const opaque = [...this.catalog.opaqueTables];
    if (opaque.length === 0) return;
    throw new AnalysisError('analysis.opaque_table', `refused: hoopq may not read the metadata of ${opaque.join(', ')}, so it cannot tell what the query reads through it`, {
      rule: 'views',
      hint: `grant the policy's service account roles/bigquery.metadataViewer (or dataViewer) on the dataset of ${opaque[0]}, or query tables it can read`,
      details: { tables: opaque },
    });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new WarehouseError('warehouse.closed', 'the warehouse connection is already closed', { rule: 'warehouse', hint: 'open the warehouse again' });
    }
  }
}

function asAnalysisError(err: unknown): Error {
  return toAnalysisError(err, 'send one plain GoogleSQL statement or script');
}

/**
 * BigQuery runs a whole script as one job, and hoopq analyses the whole script as one text:
 * the run is exactly one text, sent as it was analysed.
 */
function scriptOf(statements: readonly string[]): string {
  if (statements.length !== 1) {
    throw new WarehouseError('warehouse.bad_run', `a BigQuery run is one script text, not ${statements.length}`, {
      rule: 'warehouse.sql',
      hint: 'this is a bug in hoopq',
    });
  }
  return statements[0]!;
}
