/**
 * Runs one query job and streams its result. Input: the job resource (build-query-job.ts),
 * the caller's signal and timeout. Output: a QueryExecution whose batches are the pages of
 * jobs.getQueryResults (pageToken, maxResults), each converted per the result schema.
 * Invariants:
 * - the job is created with jobs.insert and waited for with getQueryResults long-polls;
 * - no job runs unobserved: an insert whose answer was lost is retried with the same job id,
 *   and a 409 `duplicate` for that id adopts the job the lost answer created (jobs.get);
 *   jobs.cancel goes through `cancelRest`, a credential that outlives the run token;
 * - when the signal aborts (caller gone, run revoked, row limit reached) or the timeout
 *   passes, the job is cancelled with jobs.cancel (after its insert has settled, so a cancel
 *   can never overtake the insert it is meant to stop) and execution ends with WarehouseError
 *   `warehouse.cancelled` / `warehouse.timeout`; never with a short result;
 * - a result whose rows do not add up to BigQuery's `totalRows` is an error, not a success.
 */
import { isHoopqError, WarehouseError, type HoopqError } from '../../errors.js';
import type { ExecuteOptions, QueryExecution } from '../warehouse.js';
import { fromJobError } from './bigquery-error.js';
import type { BigQueryRest } from './bigquery-rest.js';
import type { QueryJobResource } from './build-query-job.js';
import { bigQueryColumns, convertBigQueryRow, type BigQueryField, type BigQueryRow } from './convert-bigquery-rows.js';

/** Rows asked for per page; BigQuery also caps a page at about 10 MB. */
export const PAGE_ROWS = 10_000;
/** How long one getQueryResults call may wait for the job (BigQuery allows up to 10 s). */
const POLL_MS = 10_000;
/** How long to wait for a pending insert, and for jobs.cancel, before giving up on them. */
const CANCEL_WAIT_MS = 5_000;
/** jobs.insert attempts with the same job id before giving up. */
const INSERT_ATTEMPTS = 3;

interface JobResponse {
  jobReference?: { jobId?: string; location?: string };
  status?: { state?: string; errorResult?: { reason?: string; message?: string } };
}

interface QueryResultsResponse {
  jobComplete?: boolean;
  schema?: { fields?: BigQueryField[] };
  rows?: BigQueryRow[];
  totalRows?: string;
  pageToken?: string;
  totalBytesProcessed?: string;
  numDmlAffectedRows?: string;
}

export async function streamBigQueryQuery(rest: BigQueryRest, job: QueryJobResource, options: ExecuteOptions, cancelRest: BigQueryRest = rest): Promise<QueryExecution> {
  const jobId = job.jobReference.jobId!;
  if (options.signal.aborted) throw cancelledError(jobId, false);
  const local = new AbortController();
  const onAbort = () => local.abort(cancelledError(jobId, true));
  options.signal.addEventListener('abort', onAbort, { once: true });
  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => local.abort(timeoutError(jobId, options.timeoutMs!)), options.timeoutMs)
      : undefined;
  let location = job.jobReference.location;
  let done = false;
  const release = () => {
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onAbort);
  };

  const inserting = insertJob(rest, job);
  /** On abort or failure: let the insert settle, cancel the job unless it is known to be over (or surely never created), end with the error. */
  const stop = async (err: unknown): Promise<never> => {
    if (!done && !(await surelyNotCreated(inserting))) {
      await settled(cancelRest.call({ method: 'POST', uri: `/jobs/${encodeURIComponent(jobId)}/cancel`, qs: { location } }), CANCEL_WAIT_MS);
    }
    throw err;
  };
  const results = (pageToken?: string) =>
    rest.call<QueryResultsResponse>(
      {
        uri: `/queries/${encodeURIComponent(jobId)}`,
        qs: { maxResults: PAGE_ROWS, pageToken, timeoutMs: POLL_MS, location, 'formatOptions.useInt64Timestamp': true },
      },
      local.signal,
    );

  let first: QueryResultsResponse;
  try {
    const inserted = await raceAbort(inserting, local.signal);
    location = inserted.jobReference?.location ?? location;
    if (inserted.status?.state === 'DONE') done = true;
    if (inserted.status?.errorResult) throw fromJobError(inserted.status.errorResult, rest.errorContext);
    do first = await results();
    while (first.jobComplete !== true);
    done = true;
  } catch (err) {
    release();
    return stop(err);
  }

  const fields = first.schema?.fields ?? [];
  const totalRows = first.totalRows === undefined ? undefined : Number(first.totalRows);
  let bytesProcessed = first.totalBytesProcessed === undefined ? undefined : Number(first.totalBytesProcessed);
  const rowsAffected = first.numDmlAffectedRows === undefined ? undefined : Number(first.numDmlAffectedRows);

  async function* batches(): AsyncGenerator<unknown[][]> {
    try {
      let page = first;
      let received = 0;
      const tokens = new Set<string>();
      for (;;) {
        const rows = (page.rows ?? []).map((r) => convertBigQueryRow(r, fields));
        received += rows.length;
        if (rows.length > 0) yield rows;
        if (local.signal.aborted) throw local.signal.reason;
        if (!page.pageToken) break;
        if (tokens.has(page.pageToken)) throw incomplete(jobId, `BigQuery repeated page token after ${received} rows`);
        tokens.add(page.pageToken);
        page = await results(page.pageToken);
        if (page.totalBytesProcessed !== undefined) bytesProcessed = Number(page.totalBytesProcessed);
      }
      if (totalRows !== undefined && received !== totalRows) throw incomplete(jobId, `received ${received} rows of ${totalRows}`);
    } catch (err) {
      await stop(err);
    } finally {
      release();
    }
  }

  return {
    columns: bigQueryColumns(fields),
    batches: batches(),
    stats: () => ({ jobId, bytesProcessed, rowsAffected }),
  };
}

/**
 * jobs.insert with a caller-chosen job id is idempotent: a retry either creates the job or is
 * told 409 `duplicate` because an earlier attempt (whose answer was lost) created it — then
 * that job is ours, and is adopted with jobs.get instead of being left to run unobserved.
 */
async function insertJob(rest: BigQueryRest, job: QueryJobResource): Promise<JobResponse> {
  const jobId = job.jobReference.jobId!;
  const location = job.jobReference.location;
  for (let attempt = 1; ; attempt++) {
    try {
      return await rest.call<JobResponse>({ method: 'POST', uri: '/jobs', json: job });
    } catch (err) {
      if (isHoopqError(err) && err.details?.reason === 'duplicate') {
        return rest.call<JobResponse>({ uri: `/jobs/${encodeURIComponent(jobId)}`, qs: { location } });
      }
      if (attempt < INSERT_ATTEMPTS && isTransient(err)) continue;
      throw err;
    }
  }
}

/** The insert failed with BigQuery's definite refusal (a 4xx other than a duplicate): no job exists to cancel. */
async function surelyNotCreated(inserting: Promise<JobResponse>): Promise<boolean> {
  if ((await settled(inserting, CANCEL_WAIT_MS)) !== 'rejected') return false;
  const err = await inserting.catch((e: unknown) => e);
  const status = isHoopqError(err) ? Number(err.details?.http_status) : NaN;
  return status >= 400 && status < 500;
}

/** The answer may have been lost after the job was created: the network, or Google's 5xx. */
function isTransient(err: unknown): boolean {
  if (!isHoopqError(err)) return false;
  if (err.code === 'warehouse.unreachable') return true;
  const status = Number(err.details?.http_status);
  return status >= 500 || ['backendError', 'internalError'].includes(String(err.details?.reason));
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** 'fulfilled', 'rejected', or 'timeout' once `ms` passed; never throws. */
async function settled(promise: Promise<unknown>, ms: number): Promise<'fulfilled' | 'rejected' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    promise.then(
      () => 'fulfilled' as const,
      () => 'rejected' as const,
    ),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms))),
  ]);
  clearTimeout(timer);
  return outcome;
}

function cancelledError(jobId: string, started: boolean): HoopqError {
  return new WarehouseError('warehouse.cancelled', started ? `the query was cancelled; BigQuery job ${jobId} was cancelled` : 'the query was cancelled before it started', {
    rule: 'warehouse.cancelled',
    hint: 'the caller went away, the run was revoked or the result was cut; run the query again if it is still needed',
    details: { job_id: jobId },
  });
}

function timeoutError(jobId: string, timeoutMs: number): HoopqError {
  return new WarehouseError('warehouse.timeout', `the query ran longer than its timeout of ${timeoutMs} ms; BigQuery job ${jobId} was cancelled`, {
    rule: 'limits.timeout',
    hint: 'make the query cheaper (filter on partition or clustering columns, read fewer columns), or ask for a policy with a longer timeout',
    details: { job_id: jobId },
  });
}

function incomplete(jobId: string, why: string): HoopqError {
  return new WarehouseError('warehouse.incomplete_result', `the result of BigQuery job ${jobId} is incomplete: ${why}`, {
    rule: 'warehouse',
    hint: 'run the query again',
    details: { job_id: jobId },
  });
}
