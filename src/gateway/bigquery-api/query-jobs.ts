/**
 * The BigQuery API's query jobs, held by the gateway: each job is ONE runQuery call (token,
 * analysis, policy, masks, intent-before-execute audit, budget, detectors) run in the
 * background, its masked result kept for paging (`jobs.getQueryResults`, `tabledata.list`).
 *
 * Input: a QueryJobSpec from a route. Output: a QueryJob whose `started` settles once the
 * warehouse runs the query or the pipeline refused it, and whose `done` settles when it ends.
 * Invariants:
 * - a job belongs to the run whose token started it: lookups and listings are by run, and a
 *   job of another run is "not found" (its existence is not revealed);
 * - cancelling a job (jobs.cancel, the run's revocation, gateway shutdown) aborts its
 *   runQuery, which interrupts the warehouse and records the outcome;
 * - memory stays bounded: a job keeps at most `maxRows` rows (the result is then cut and the
 *   audit record says so), finished jobs are forgotten after `retainMs`, and at most
 *   `maxJobs` jobs and `maxRetainedRows` rows are held (the oldest finished jobs go first;
 *   when all are running, a new job is refused as busy).
 */
import { Writable } from 'node:stream';
import type { NameDefaults } from '../../analysis/query-analysis.js';
import { UsageError, WarehouseError, type HoopqError } from '../../errors.js';
import type { PipelineParts } from '../../pipeline/pipeline-parts.js';
import { runQuery, type QueryOutcome } from '../../pipeline/run-query.js';
import type { QueryParameter, ResultColumn, Warehouse } from '../../warehouse/warehouse.js';
import type { GatewayMetrics } from '../gateway-metrics.js';
import { asHoopqError } from './bigquery-api-error.js';
import { bigQuerySchemaField } from '../../warehouse/bigquery-schema-field.js';
import type { BigQueryField } from './bigquery-result-schema.js';

export interface JobReference {
  projectId: string;
  jobId: string;
  location: string | null;
}

export interface QueryJobSpec {
  reference: JobReference;
  run: string;
  subject: string | null;
  sql: string;
  token: string;
  justification: string | null;
  params?: QueryParameter[];
  /** The caller's labels, as kept (hoopq's own are added by the pipeline). */
  labels: Record<string, string>;
  names?: NameDefaults;
  maxBytesBilled?: number;
  /** The API call that started it (jobs.insert, jobs.query, tabledata.list), for the audit record. */
  method: string;
  /** The query as the job resource shows it back (`configuration.query`). */
  configuration: Record<string, unknown>;
  origin: Record<string, unknown>;
  /** Whether jobs.list shows it (tabledata.list's reads are not jobs the caller made). */
  listed: boolean;
}

export interface QueryJobLimits {
  /** Rows one job keeps; beyond, its result is cut (and its audit record says so). */
  maxRows: number;
  /** Rows all finished jobs keep together; beyond, the oldest finished jobs are forgotten. */
  maxRetainedRows: number;
  maxJobs: number;
  retainMs: number;
}

/** How long jobs.insert waits for the engine to start a query before answering RUNNING. */
const STARTING_MS = 500;

export const DEFAULT_QUERY_JOB_LIMITS: QueryJobLimits = { maxRows: 200_000, maxRetainedRows: 2_000_000, maxJobs: 1_000, retainMs: 60 * 60_000 };

export class QueryJob {
  state: 'RUNNING' | 'DONE' = 'RUNNING';
  readonly creationTime = Date.now();
  startTime: number | undefined;
  endTime: number | undefined;
  columns: ResultColumn[] | undefined;
  fields: BigQueryField[] | undefined;
  readonly rows: unknown[][] = [];
  outcome: QueryOutcome | undefined;
  error: HoopqError | undefined;
  notices: string[] = [];
  /** Settles once the warehouse is asked to run the query, or the job ended before that. */
  readonly started: Promise<void>;
  done: Promise<void> = Promise.resolve();
  readonly controller = new AbortController();
  cancelReason: string | undefined;
  private markStarted!: () => void;

  constructor(readonly spec: QueryJobSpec) {
    this.started = new Promise((resolve) => (this.markStarted = resolve));
  }

  /** True when the job failed before the warehouse was asked to run it (a refusal, SQL it cannot analyse). */
  failedBeforeExecution(): boolean {
    return this.error !== undefined && this.startTime === undefined;
  }

  onExecuting(): void {
    this.startTime = Date.now();
    // Reported as running once the engine has its columns, or after a moment: an interrupt
    // that reaches DuckDB while the statement is still being prepared is lost, so a
    // jobs.cancel or revocation right after jobs.insert returned would not stop it.
    const timer = setTimeout(() => this.markStarted(), STARTING_MS);
    void this.started.then(() => clearTimeout(timer));
  }

  onColumns(columns: readonly ResultColumn[], kind: Warehouse['kind']): void {
    this.columns = [...columns];
    this.fields = columns.map((c) => bigQuerySchemaField(kind, c.name, c.type));
    this.markStarted();
  }

  settle(): void {
    this.state = 'DONE';
    this.endTime = Date.now();
    this.markStarted();
  }
}

export interface QueryJobsDeps {
  parts: PipelineParts;
  /** Waits for the run's turn (runs share the slots fairly; the gateway's counts running and waiting queries). */
  takeQuerySlot(run: string, signal: AbortSignal): Promise<() => void>;
  /** The gateway's query metrics, which count these queries as they count /v1/query's. */
  metrics?: Pick<GatewayMetrics, 'queryFinished'>;
  limits?: Partial<QueryJobLimits>;
}

export class QueryJobs {
  private readonly jobs = new Map<string, QueryJob>();
  private readonly limits: QueryJobLimits;

  constructor(private readonly deps: QueryJobsDeps) {
    this.limits = { ...DEFAULT_QUERY_JOB_LIMITS, ...deps.limits };
  }

  private static key(run: string, jobId: string): string {
    return `${run}\u0000${jobId}`;
  }

  find(run: string, jobId: string): QueryJob | undefined {
    this.expire();
    return this.jobs.get(QueryJobs.key(run, jobId));
  }

  /** The run's own jobs, newest first. */
  list(run: string): QueryJob[] {
    this.expire();
    return [...this.jobs.values()].filter((j) => j.spec.run === run && j.spec.listed).sort((a, b) => b.creationTime - a.creationTime);
  }

  /**
   * Starts a job (the caller's request `signal` only bounds the wait for a query slot; the
   * job itself runs until it ends or is cancelled). Throws for a duplicate job id or when
   * the gateway holds as many jobs as it may.
   */
  async start(spec: QueryJobSpec, signal: AbortSignal): Promise<QueryJob> {
    const key = QueryJobs.key(spec.run, spec.reference.jobId);
    this.expire();
    if (this.jobs.has(key)) {
      throw new UsageError('bigquery_api.duplicate_job', `Already Exists: Job ${spec.reference.projectId}:${spec.reference.location ?? 'US'}.${spec.reference.jobId}`, { rule: 'bigquery_api.jobs', hint: 'give each job its own jobId' });
    }
    this.makeRoom();
    const release = await this.deps.takeQuerySlot(spec.run, signal);
    const job = new QueryJob(spec);
    this.jobs.set(key, job);
    const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const started = performance.now();
    job.done = runQuery(this.deps.parts, {
      sql: spec.sql,
      token: spec.token,
      justification: spec.justification,
      format: 'json', // the audit's result_sha256 is the digest of the rows as `--format json` prints them
      maxRows: this.limits.maxRows,
      params: spec.params,
      labels: spec.labels,
      names: spec.names,
      maxBytesBilled: spec.maxBytesBilled,
      out: discard,
      notice: (message) => job.notices.push(message),
      signal: job.controller.signal,
      origin: spec.origin,
      rows: {
        executing: () => job.onExecuting(),
        columns: (columns) => job.onColumns(columns, this.deps.parts.config.warehouse.kind),
        batch: (rows) => {
          for (const row of rows) job.rows.push(row as unknown[]);
        },
      },
    })
      .then((outcome) => {
        job.outcome = outcome;
      })
      .catch((err: unknown) => {
        job.error = asHoopqError(err);
        if (job.cancelReason && job.error instanceof WarehouseError && job.error.code === 'warehouse.cancelled') {
          job.error = new WarehouseError('bigquery_api.job_cancelled', `Job execution was cancelled: ${job.cancelReason}`, { rule: 'bigquery_api.jobs', cause: job.error });
        }
      })
      .finally(() => {
        release();
        const error = job.error;
        this.deps.metrics?.queryFinished(!error ? 'allow' : error.exitCode >= 4 && error.exitCode <= 6 ? 'deny' : 'error', (performance.now() - started) / 1000);
        job.settle();
      });
    return job;
  }

  /** Cancels a running job; its runQuery records the outcome. */
  cancel(job: QueryJob, reason: string): void {
    if (job.state === 'DONE') return;
    job.cancelReason ??= reason;
    job.controller.abort();
  }

  /** Shutdown: cancels every running job and waits for their audit records. */
  async closeAll(): Promise<void> {
    const running = [...this.jobs.values()].filter((j) => j.state !== 'DONE');
    for (const job of running) this.cancel(job, 'the gateway is shutting down');
    await Promise.allSettled(running.map((j) => j.done));
  }

  private expire(): void {
    const now = Date.now();
    for (const [key, job] of this.jobs) {
      if (job.endTime !== undefined && now - job.endTime > this.limits.retainMs) this.jobs.delete(key);
    }
  }

  private makeRoom(): void {
    const finished = [...this.jobs.entries()].filter(([, j]) => j.state === 'DONE').sort(([, a], [, b]) => (a.endTime ?? 0) - (b.endTime ?? 0));
    let rows = 0;
    for (const job of this.jobs.values()) rows += job.rows.length;
    for (const [key, job] of finished) {
      if (this.jobs.size < this.limits.maxJobs && rows <= this.limits.maxRetainedRows) break;
      this.jobs.delete(key);
      rows -= job.rows.length;
    }
    if (this.jobs.size >= this.limits.maxJobs) {
      throw new WarehouseError('gateway.busy', `the gateway is busy: it holds ${this.limits.maxJobs} running jobs`, { rule: 'gateway.max_jobs', hint: 'retry when some jobs have finished' });
    }
  }
}
