/**
 * The BigQuery warehouse: GoogleSQL analysis and mask rewrite (src/analysis/bigquery,
 * src/masking/bigquery) over a Catalog backed by tables.get, a dry run that reports what
 * BigQuery itself will read and call, and query jobs streamed page by page. Every REST call
 * runs with the impersonated credential of the policy's service account
 * (open-bigquery-warehouse.ts); the gateway's own credential is never handed to the BigQuery
 * client. jobs.cancel alone uses a second impersonated credential that is not bound to the
 * run token's life, so a job can always be stopped.
 * Offline (`explain --offline`): analysis without the catalog; nothing is called.
 * The `hash` mask's key travels only as the BYTES parameters of the texts this warehouse's
 * own mask rewrite produced, and is scrubbed from every error.
 */
import { analyzeGoogleSql } from '../../analysis/bigquery/analyze-google-sql.js';
import type { NameDefaults, QueryAnalysis } from '../../analysis/query-analysis.js';
import { AnalysisError, WarehouseError } from '../../errors.js';
import { HASH_INNER_PARAMETER, HASH_OUTER_PARAMETER } from '../../masking/bigquery/google-sql-mask-expression.js';
import { rewriteGoogleSqlForMasks } from '../../masking/bigquery/rewrite-google-sql-for-masks.js';
import { scrubHashKey, type HashKey } from '../../masking/hash-key.js';
import { isHoopqError } from '../../errors.js';
import type { DryRunResult, ExecuteOptions, MaskPlan, QueryExecution, TableInfo, Warehouse } from '../warehouse.js';
import { BigQueryCatalog } from './bigquery-catalog.js';
import { BIGQUERY_DIALECT } from './bigquery-dialect.js';
import { fromJobError } from './bigquery-error.js';
import { bytesParameter, type RestQueryParameter } from './bigquery-query-parameters.js';
import type { BigQueryRest } from './bigquery-rest.js';
import { buildQueryJob, newJobId, type QueryJobTarget } from './build-query-job.js';
import { streamBigQueryQuery } from './stream-bigquery-query.js';
import { toAnalysisError } from '../to-analysis-error.js';
import { mapExecutionErrors } from '../map-execution-errors.js';

/** BigQuery lists at most this many referenced tables; a list this long may have been cut. */
export const REFERENCED_TABLES_LIMIT = BIGQUERY_DIALECT.referencedTableLimit!;

export interface BigQueryWarehouseOptions {
  /** REST as a credential that outlives the run token, used for jobs.cancel only. */
  cancelRest?: BigQueryRest;
  /** The `hash` mask's key. */
  hashKey?: HashKey;
}

interface DryRunResponse {
  status?: { errorResult?: { reason?: string; message?: string } };
  statistics?: {
    totalBytesProcessed?: string;
    query?: {
      statementType?: string;
      totalBytesProcessed?: string;
      referencedTables?: Array<{ projectId?: string; datasetId?: string; tableId?: string }>;
      referencedRoutines?: Array<{ projectId?: string; datasetId?: string; routineId?: string }>;
    };
  };
}

export class BigQueryWarehouse implements Warehouse {
  readonly kind = 'bigquery' as const;
  readonly dialect = BIGQUERY_DIALECT;
  readonly project: string;
  readonly catalog: BigQueryCatalog | undefined;
  readonly catalogAvailable: boolean;
  readonly hashKeyId: string | undefined;
  private closed = false;
  /** Aborted by close(): running jobs are cancelled. */
  private readonly closing = new AbortController();
  /** Texts this warehouse's mask rewrite produced that compute the keyed hash. */
  private readonly keyedTexts = new Set<string>();

  /** `rest` null: offline, no call is ever made (analysis without the catalog). */
  constructor(
    private readonly rest: BigQueryRest | null,
    private readonly target: QueryJobTarget,
    private readonly options: BigQueryWarehouseOptions = {},
  ) {
    this.project = target.project;
    this.catalog = rest ? new BigQueryCatalog(rest, target.project) : undefined;
    this.catalogAvailable = rest !== null;
    this.hashKeyId = options.hashKey?.id;
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
    const catalog = this.online().catalog!;
    try {
      const text = await rewriteGoogleSqlForMasks(scriptOf(analysis.run), {
        names,
        plan,
        catalog,
        columnsOf: async (t) => (await catalog.describeTable(t))?.columns ?? null,
      });
      if (Object.values(plan).some((columns) => Object.values(columns).includes('hash'))) {
        if (!this.options.hashKey) {
          throw new AnalysisError('masking.no_hash_key', 'refused: the hash mask needs the deployment\'s hash key, which this process does not hold', {
            rule: 'columns',
            hint: 'run the query through the gateway (or with the keys folder of the deployment)',
          });
        }
        this.keyedTexts.add(text);
      }
      return [text];
    } catch (err) {
      throw asAnalysisError(err);
    }
  }

  newJobId(): string {
    return newJobId();
  }

  async describeTable(name: string): Promise<TableInfo | null> {
    return this.online().catalog!.describeTable(name);
  }

  async listTables(dataset?: string): Promise<string[]> {
    return this.online().catalog!.listTables(dataset);
  }

  /**
   * jobs.insert with `dryRun: true`: BigQuery's statement type, the tables it resolved
   * (`projectId.datasetId.tableId`) and its byte estimate. Nothing runs and nothing is billed.
   */
  async dryRun(statements: readonly string[], options: ExecuteOptions): Promise<DryRunResult> {
    const sql = scriptOf(statements);
    const rest = this.online().rest!;
    const job = buildQueryJob(sql, options, this.target, true, this.hiddenParameters(sql));
    const response = await this.scrubbed(() => rest.call<DryRunResponse>({ method: 'POST', uri: '/jobs', json: job }, AbortSignal.any([options.signal, this.closing.signal])));
    if (response.status?.errorResult) throw this.scrub(fromJobError(response.status.errorResult, rest.errorContext));
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
    const routines = (query.referencedRoutines ?? []).map((r) => {
      if (!r.projectId || !r.datasetId || !r.routineId) {
        throw new WarehouseError('warehouse.dry_run_incomplete', 'BigQuery reported a referenced routine without project, dataset and routine id', { rule: 'analysis.dry_run' });
      }
      return `${r.projectId}.${r.datasetId}.${r.routineId}`;
    });
    this.refuseOpaqueTables();
    const bytes = response.statistics?.totalBytesProcessed ?? query.totalBytesProcessed;
    return {
      statementType: query.statementType,
      referencedTables: [...new Set(referenced)],
      referencedRoutines: [...new Set(routines)],
      // the API documents the list as incomplete beyond 50 tables and does not flag the cut itself
      referencedTablesIncomplete: referenced.length >= REFERENCED_TABLES_LIMIT,
      ...(bytes !== undefined ? { bytesProcessed: Number(bytes) } : {}),
    };
  }

  async execute(statements: readonly string[], options: ExecuteOptions): Promise<QueryExecution> {
    const sql = scriptOf(statements);
    const rest = this.online().rest!;
    const job = buildQueryJob(sql, options, this.target, false, this.hiddenParameters(sql));
    return mapExecutionErrors(
      () => streamBigQueryQuery(rest, job, { ...options, signal: AbortSignal.any([options.signal, this.closing.signal]) }, this.options.cancelRest ?? rest),
      (err) => this.scrub(err),
    );
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
    const opaque = [...(this.catalog?.opaqueTables ?? [])];
    if (opaque.length === 0) return;
    throw new AnalysisError('analysis.opaque_table', `refused: hoopq may not read the metadata of ${opaque.join(', ')}, so it cannot tell what the query reads through it`, {
      rule: 'views',
      hint: `grant the policy's service account roles/bigquery.metadataViewer (or dataViewer) on the dataset of ${opaque[0]}, or query tables it can read`,
      details: { tables: opaque },
    });
  }

  /** The hash key's parameters, for a text this warehouse's mask rewrite produced. */
  private hiddenParameters(sql: string): RestQueryParameter[] {
    const key = this.options.hashKey;
    if (!key || !this.keyedTexts.has(sql)) return [];
    return [bytesParameter(HASH_INNER_PARAMETER, key.inner), bytesParameter(HASH_OUTER_PARAMETER, key.outer)];
  }

  private async scrubbed<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw this.scrub(err);
    }
  }

  /** An error never carries the hash key, in whatever form BigQuery might echo it. */
  private scrub<E>(err: E): E {
    if (this.options.hashKey && isHoopqError(err)) err.message = scrubHashKey(err.message, this.options.hashKey);
    return err;
  }

  private online(): this {
    this.assertOpen();
    if (!this.rest) {
      throw new WarehouseError('warehouse.offline', 'the warehouse was opened offline: no BigQuery call may be made', {
        rule: 'warehouse.offline',
        hint: 'run without --offline to reach BigQuery',
      });
    }
    return this;
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
