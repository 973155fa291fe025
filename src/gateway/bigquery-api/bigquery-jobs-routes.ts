/**
 * BigQuery's jobs API on the gateway: jobs.insert (query jobs and dry runs), jobs.query,
 * jobs.get, jobs.getQueryResults (paging), jobs.cancel and jobs.list — each a thin
 * translation between BigQuery's REST shapes and hoopq's pipeline.
 * Invariants:
 * - a query runs only through runQuery (query-jobs.ts), so token, analysis, policy, masks,
 *   intent-before-execute audit, budget and detectors are those of `hoopq query`;
 * - a query the pipeline refuses before execution answers jobs.insert / jobs.query with
 *   BigQuery's error (403 accessDenied for a policy refusal, 400 invalidQuery when the SQL
 *   cannot be analysed), as BigQuery answers an invalid query; a job that fails later
 *   carries the error in `status.errorResult`, and getQueryResults answers it;
 * - a run sees and cancels only its own jobs; another run's job is "not found".
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { runQuery } from '../../pipeline/run-query.js';
import { checkSql } from '../query-route.js';
import { notFound, notSupported } from './bigquery-api-error.js';
import type { BigQueryApiCall } from './bigquery-api-call.js';
import { etagOf, jobResource, resultPage, type PageRequest } from './bigquery-job-resource.js';
import type { TimestampFormat } from './bigquery-result-schema.js';
import { invalid, parseLabels, parseQueryConfiguration, type QueryConfiguration } from './parse-query-configuration.js';
import type { JobReference, QueryJob } from './query-jobs.js';

/** BigQuery's own default wait for jobs.query and getQueryResults. */
const DEFAULT_WAIT_MS = 10_000;
const MAX_WAIT_MS = 60_000;
const JOB_ID = /^[A-Za-z0-9_-]{1,1024}$/;

export async function insertJob(call: BigQueryApiCall): Promise<void> {
  const body = await call.readBody();
  const configuration = objectAt(body, 'configuration');
  const query = configuration.query;
  if (query === undefined || query === null || typeof query !== 'object') throw notSupported('jobs other than query jobs (load, extract and copy jobs)');
  const parsed = parseQueryConfiguration(query as Record<string, unknown>, call.project);
  const { labels, justification } = parseLabels(configuration.labels);
  const given = (body.jobReference ?? {}) as Partial<Record<keyof JobReference, unknown>>;
  const reference = jobReferenceOf(call, given.jobId, given.location);
  if (configuration.dryRun === true) {
    const dry = await dryRun(call, parsed, labels, justification, reference);
    call.sendJson(200, {
      kind: 'bigquery#job',
      etag: etagOf(`dry:${reference.jobId}`),
      jobReference: { projectId: reference.projectId, location: reference.location ?? 'US' },
      configuration: { jobType: 'QUERY', dryRun: true, query },
      status: { state: 'DONE' },
      statistics: dry,
    });
    return;
  }
  const job = await startJob(call, parsed, labels, justification, reference, query as Record<string, unknown>, 'jobs.insert');
  call.sendJson(200, jobResource(job));
}

export async function queryJob(call: BigQueryApiCall): Promise<void> {
  const body = await call.readBody();
  const parsed = parseQueryConfiguration(body, call.project);
  const { labels, justification } = parseLabels(body.labels);
  const reference = jobReferenceOf(call, undefined, body.location);
  if (body.dryRun === true) {
    const dry = await dryRun(call, parsed, labels, justification, reference);
    call.sendJson(200, { kind: 'bigquery#queryResponse', jobReference: { projectId: reference.projectId, location: reference.location ?? 'US' }, totalBytesProcessed: dry.totalBytesProcessed, jobComplete: true, cacheHit: false });
    return;
  }
  const shown = { query: parsed.sql, useLegacySql: false, ...(body.queryParameters ? { queryParameters: body.queryParameters, parameterMode: body.parameterMode } : {}) };
  const job = await startJob(call, parsed, labels, justification, reference, shown, 'jobs.query');
  await waitFor(job, waitMs(body.timeoutMs), call.signal);
  const jobReference = { projectId: reference.projectId, jobId: reference.jobId, location: reference.location ?? 'US' };
  if (job.state !== 'DONE') {
    call.sendJson(200, { kind: 'bigquery#queryResponse', jobReference, jobComplete: false });
    return;
  }
  if (job.error) throw job.error;
  const format = (body.formatOptions ?? {}) as Record<string, unknown>;
  call.sendJson(200, {
    kind: 'bigquery#queryResponse',
    jobReference,
    ...resultPage(job, { maxResults: body.maxResults == null ? undefined : nonNegative(body.maxResults, 'maxResults'), timestamps: timestampFormat(format.useInt64Timestamp, format.timestampOutputFormat) }),
  });
}

export async function getJob(call: BigQueryApiCall, jobId: string): Promise<void> {
  const job = await ownJob(call, jobId);
  await call.record('jobs.get', { job_id: jobId, state: job.state, record: job.outcome?.recordId ?? null });
  call.sendJson(200, jobResource(job));
}

export async function getQueryResults(call: BigQueryApiCall, jobId: string): Promise<void> {
  const job = await ownJob(call, jobId);
  const qs = call.query(['maxResults', 'pageToken', 'startIndex', 'timeoutMs', 'location', 'formatOptions.useInt64Timestamp', 'formatOptions.timestampOutputFormat', 'prettyPrint', 'alt', 'fields']);
  await waitFor(job, waitMs(qs.timeoutMs), call.signal);
  const jobReference = { projectId: job.spec.reference.projectId, jobId, location: job.spec.reference.location ?? 'US' };
  if (job.state !== 'DONE') {
    call.sendJson(200, { kind: 'bigquery#getQueryResultsResponse', etag: etagOf(`${jobId}:RUNNING`), jobReference, jobComplete: false });
    return;
  }
  if (job.error) {
    await call.record('jobs.getQueryResults', { job_id: jobId, record: null, failed: job.error.code });
    throw job.error;
  }
  const page: PageRequest = {
    maxResults: qs.maxResults === undefined ? undefined : nonNegative(qs.maxResults, 'maxResults'),
    startIndex: qs.startIndex === undefined ? undefined : nonNegative(qs.startIndex, 'startIndex'),
    pageToken: qs.pageToken,
    timestamps: timestampFormat(qs['formatOptions.useInt64Timestamp'], qs['formatOptions.timestampOutputFormat']),
  };
  const answer = resultPage(job, page);
  await call.record('jobs.getQueryResults', { job_id: jobId, record: job.outcome?.recordId ?? null, rows: Array.isArray(answer.rows) ? answer.rows.length : 0 });
  call.sendJson(200, { kind: 'bigquery#getQueryResultsResponse', etag: etagOf(`${jobId}:${page.pageToken ?? page.startIndex ?? 0}`), jobReference, ...answer });
}

export async function cancelJob(call: BigQueryApiCall, jobId: string): Promise<void> {
  const job = await ownJob(call, jobId);
  const wasRunning = job.state !== 'DONE';
  call.jobs.cancel(job, `jobs.cancel by run ${call.identity.run}`);
  await call.record('jobs.cancel', { job_id: jobId, was_running: wasRunning });
  // the job's own record (written by the pipeline) says it was cancelled; wait briefly for it
  await waitFor(job, 5_000, call.signal);
  call.sendJson(200, { kind: 'bigquery#jobCancelResponse', job: jobResource(job) });
}

export async function listJobs(call: BigQueryApiCall): Promise<void> {
  const qs = call.query(['maxResults', 'pageToken', 'stateFilter', 'projection', 'allUsers', 'minCreationTime', 'maxCreationTime', 'parentJobId', 'prettyPrint', 'alt', 'fields']);
  const states = qs.stateFilter === undefined ? undefined : new Set(call.url.searchParams.getAll('stateFilter').map((s) => s.toUpperCase()));
  const min = qs.minCreationTime === undefined ? undefined : nonNegative(qs.minCreationTime, 'minCreationTime');
  const max = qs.maxCreationTime === undefined ? undefined : nonNegative(qs.maxCreationTime, 'maxCreationTime');
  const all = call.jobs
    .list(call.identity.run)
    .filter((j) => (!states || states.has(j.state)) && (min === undefined || j.creationTime >= min) && (max === undefined || j.creationTime <= max));
  const start = qs.pageToken === undefined ? 0 : nonNegative(qs.pageToken, 'pageToken');
  const size = Math.min(positive(qs.maxResults, 'maxResults') ?? 1000, 1000);
  const page = all.slice(start, start + size);
  await call.record('jobs.list', { rows: page.length });
  call.sendJson(200, {
    kind: 'bigquery#jobList',
    etag: etagOf(`${call.identity.run}:${all.length}:${start}`),
    jobs: page.map((j) => {
      const resource = jobResource(j);
      return { ...resource, state: j.state, ...((resource.status as { errorResult?: unknown }).errorResult ? { errorResult: (resource.status as { errorResult?: unknown }).errorResult } : {}) };
    }),
    ...(start + size < all.length ? { nextPageToken: String(start + size) } : {}),
  });
}

async function startJob(
  call: BigQueryApiCall,
  parsed: QueryConfiguration,
  labels: Record<string, string>,
  labelJustification: string | null,
  reference: JobReference,
  shown: Record<string, unknown>,
  method: string,
): Promise<QueryJob> {
  checkSql(parsed.sql, call.gateway.limits.maxSqlBytes);
  const job = await call.jobs.start(
    {
      reference,
      run: call.identity.run,
      subject: call.identity.subject,
      sql: parsed.sql,
      token: call.token,
      justification: call.justification() ?? labelJustification,
      params: parsed.params,
      labels,
      names: parsed.names,
      maxBytesBilled: parsed.maxBytesBilled,
      method,
      configuration: shown,
      origin: call.origin(method, { job_id: reference.jobId, project: reference.projectId, location: reference.location, labels }),
      listed: true,
    },
    call.signal,
  );
  await job.started;
  if (job.failedBeforeExecution()) throw job.error;
  return job;
}

async function dryRun(call: BigQueryApiCall, parsed: QueryConfiguration, labels: Record<string, string>, labelJustification: string | null, reference: JobReference) {
  checkSql(parsed.sql, call.gateway.limits.maxSqlBytes);
  const outcome = await runQuery(call.gateway.parts, {
    sql: parsed.sql,
    token: call.token,
    justification: call.justification() ?? labelJustification,
    format: 'json',
    dryRun: true,
    params: parsed.params,
    labels,
    names: parsed.names,
    maxBytesBilled: parsed.maxBytesBilled,
    out: new Writable({ write: (_c, _e, cb) => cb() }),
    notice: () => undefined,
    signal: call.signal,
    origin: call.origin('jobs.insert', { job_id: reference.jobId, project: reference.projectId, dry_run: true, labels }),
  });
  const bytes = String(outcome.dryRun?.bytesProcessed ?? 0);
  return {
    creationTime: String(Date.now()),
    totalBytesProcessed: bytes,
    query: {
      totalBytesProcessed: bytes,
      ...(outcome.dryRun?.statementType ? { statementType: outcome.dryRun.statementType } : {}),
      referencedTables: (outcome.dryRun?.referencedTables ?? []).map(tableReferenceOf),
      cacheHit: false,
    },
    hoopq: { record: outcome.recordId },
  };
}

function tableReferenceOf(name: string): { projectId: string; datasetId: string; tableId: string } {
  const [projectId = '', datasetId = '', ...rest] = name.split('.');
  return { projectId, datasetId, tableId: rest.join('.') };
}

async function ownJob(call: BigQueryApiCall, jobId: string): Promise<QueryJob> {
  const job = call.jobs.find(call.identity.run, jobId);
  if (!job) {
    await call.record('jobs.lookup', { job_id: jobId, decision: 'deny' });
    throw notFound(`Job ${call.project}:${jobId}`);
  }
  return job;
}

function jobReferenceOf(call: BigQueryApiCall, jobId: unknown, location: unknown): JobReference {
  const id = jobId === undefined || jobId === null || jobId === '' ? `job_${randomUUID().replaceAll('-', '_')}` : jobId;
  if (typeof id !== 'string' || !JOB_ID.test(id)) throw invalid('jobReference.jobId may contain only letters, digits, "_" and "-" (at most 1024)');
  if (location !== undefined && location !== null && typeof location !== 'string') throw invalid('location must be a string');
  return { projectId: call.project, jobId: id, location: (location as string | null | undefined) || null };
}

function objectAt(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = body[key];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${key} must be an object`);
  return value as Record<string, unknown>;
}

/** Resolves when the job is done, `ms` have passed or the caller left. */
async function waitFor(job: QueryJob, ms: number, signal: AbortSignal): Promise<void> {
  if (job.state === 'DONE' || ms <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  await Promise.race([
    job.done,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (onAbort) signal.removeEventListener('abort', onAbort);
}

function waitMs(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_WAIT_MS;
  return Math.min(nonNegative(raw, 'timeoutMs'), MAX_WAIT_MS);
}

function positive(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = nonNegative(raw, name);
  return n === 0 ? undefined : n;
}

function nonNegative(raw: unknown, name: string): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${name} must be a whole number >= 0`);
  return n;
}

/** BigQuery's timestamp output: int64 microseconds when asked, ISO text when asked, float seconds by default. */
function timestampFormat(useInt64: unknown, output: unknown): TimestampFormat {
  if (output === 'ISO8601_STRING') return 'iso';
  if (output === 'INT64' || useInt64 === true || useInt64 === 'true') return 'int64';
  return 'float';
}
